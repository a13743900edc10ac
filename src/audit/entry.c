#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "audit/entry.h"
#include "common/banned.h"

static const char *const entry_fields[] = {
	"action", "actor", "decision", "detail", "session", "source", "target",
	"time",
};

static int
known_field(const char *k)
{
	for (size_t i = 0; i < sizeof(entry_fields) / sizeof(entry_fields[0]); i++)
		if (strcmp(entry_fields[i], k) == 0)
			return 1;
	return 0;
}

static void
why_set(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
why_set(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (why == NULL || whylen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
}

/* Refuses reals anywhere below v: their spelling is not canonical. */
static int
no_reals(const json_t *v, unsigned depth)
{
	size_t i;
	const char *k;
	json_t *m;

	if (depth > 64)
		return 0;
	switch (json_typeof(v)) {
	case JSON_REAL:
		return 0;
	case JSON_OBJECT:
		json_object_foreach((json_t *)v, k, m)
			if (!no_reals(m, depth + 1))
				return 0;
		return 1;
	case JSON_ARRAY:
		json_array_foreach(v, i, m)
			if (!no_reals(m, depth + 1))
				return 0;
		return 1;
	default:
		return 1;
	}
}

int
entry_time_valid(const char *s)
{
	size_t n = strlen(s), i;
	const char *pat = "dddd-dd-ddTdd:dd:dd";
	struct tm tm;
	char *end;

	if (n < 20 || n > 30 || s[n - 1] != 'Z')
		return ERR_FORMAT;
	for (i = 0; pat[i] != '\0'; i++) {
		if (pat[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != pat[i])
			return ERR_FORMAT;
	}
	if (s[i] == '.') {
		size_t digits = 0;

		for (i++; s[i] >= '0' && s[i] <= '9'; i++)
			digits++;
		if (digits == 0 || digits > 9)
			return ERR_FORMAT;
	}
	if (i != n - 1)
		return ERR_FORMAT;
	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (end == NULL || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 ||
	    tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
		return ERR_FORMAT;
	return ERR_OK;
}

void
entry_time_now(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;
	char base[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%06ldZ", base, ts.tv_nsec / 1000);
}

static int
check_members(json_t *root, char *why, size_t whylen)
{
	const char *k;
	json_t *v;

	json_object_foreach(root, k, v) {
		if (!known_field(k)) {
			why_set(why, whylen, "unknown field '%s'; entries have "
			    "time, actor, source, target, action, decision, "
			    "session and detail", k);
			return ERR_FORMAT;
		}
		if (strcmp(k, "detail") == 0) {
			if (!json_is_object(v)) {
				why_set(why, whylen, "field '%s' must be an object", k);
				return ERR_FORMAT;
			}
			if (!no_reals(v, 0)) {
				why_set(why, whylen, "field '%s' holds a fractional "
				    "number or nests too deep; use integers or strings", k);
				return ERR_FORMAT;
			}
		} else if (!json_is_string(v) || json_string_length(v) == 0) {
			why_set(why, whylen, "field '%s' must be a non-empty string", k);
			return ERR_FORMAT;
		}
	}
	if (json_object_get(root, "actor") == NULL) {
		why_set(why, whylen, "missing field '%s'", "actor");
		return ERR_FORMAT;
	}
	if (json_object_get(root, "action") == NULL) {
		why_set(why, whylen, "missing field '%s'", "action");
		return ERR_FORMAT;
	}
	v = json_object_get(root, "time");
	if (v != NULL && entry_time_valid(json_string_value(v)) != ERR_OK) {
		why_set(why, whylen, "field 'time' is '%s', not RFC 3339 UTC "
		    "(YYYY-MM-DDTHH:MM:SS[.ffffff]Z)", json_string_value(v));
		return ERR_FORMAT;
	}
	return ERR_OK;
}

int
entry_canonicalize(const char *in, size_t len, const char *now_rfc3339,
    char **out, size_t *outlen, char *why, size_t whylen)
{
	json_t *root = NULL;
	json_error_t jerr;
	char *s = NULL;
	size_t n;
	int r = ERR_INTERNAL;

	*out = NULL;
	*outlen = 0;
	if (why != NULL && whylen > 0)
		why[0] = '\0';
	if (len > ENTRY_MAX_INPUT) {
		why_set(why, whylen, "%s", "entry longer than 64 KiB");
		return ERR_TOOBIG;
	}
	/* jansson refuses invalid UTF-8 and, without JSON_ALLOW_NUL, \u0000. */
	root = json_loadb(in, len, JSON_REJECT_DUPLICATES,
	    &jerr);
	if (root == NULL) {
		if (why != NULL && whylen > 0)
			snprintf(why, whylen, "not valid JSON at column %d: %s",
			    jerr.column, jerr.text);
		return ERR_FORMAT;
	}
	if (!json_is_object(root)) {
		why_set(why, whylen, "%s", "an entry must be a JSON object");
		r = ERR_FORMAT;
		goto out;
	}
	if ((r = check_members(root, why, whylen)) != ERR_OK)
		goto out;
	if (now_rfc3339 != NULL && json_object_get(root, "time") == NULL &&
	    json_object_set_new(root, "time", json_string(now_rfc3339)) != 0) {
		r = ERR_NOMEM;
		goto out;
	}
	s = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
	if (s == NULL) {
		r = ERR_NOMEM;
		goto out;
	}
	n = strlen(s);
	if (n > ENTRY_MAX_LEN) {
		why_set(why, whylen, "%s", "entry longer than 65535 bytes "
		    "after canonicalization; store large data as a blob");
		r = ERR_TOOBIG;
		goto out;
	}
	*out = s;
	*outlen = n;
	s = NULL;
	r = ERR_OK;
 out:
	free(s);
	json_decref(root);
	return r;
}
