/*
 * entry_ref.h - the naive reference for entry_canonicalize(): jansson.
 *
 * This is the jansson-based canonicalizer that src/audit/entry.c replaced
 * (git show HEAD~3:src/audit/entry.c), kept as the definition of what the
 * fast one must do: parse with json_loadb(JSON_REJECT_DUPLICATES), check
 * the entry schema on the tree, add the time, write with
 * json_dumps(JSON_COMPACT | JSON_SORT_KEYS). Only the refusal texts are
 * left out. Unit tests and the differential fuzz harness include it by a
 * relative path; it links against the jansson that bulwarkcore brings.
 *
 * One difference is deliberate and the callers treat it as don't-care:
 * this refuses only values nested more than 64 levels below "detail" (its
 * no_reals walk), where entry.c refuses any nesting deeper than 64 levels.
 *
 * One jansson bug is worked around: jansson 2.14 drops a NUL byte that
 * directly follows a number or a literal ({"n":1<NUL>} loads as {"n":1}):
 * when the lexer pushes the 0 back, stream_get() takes the 0 left in its
 * buffer for "buffer empty" and reads on. Every other raw NUL it refuses,
 * as RFC 8259 does, so the reference refuses all of them up front, which
 * is what the old implementation meant and what entry.c does.
 *
 * The time check is a private copy of the old entry_time_valid(), so a
 * change to the library's one shows up as a disagreement.
 */
#ifndef BULWARK_TESTS_ENTRY_REF_H
#define BULWARK_TESTS_ENTRY_REF_H

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "audit/entry.h"
#include "common/err.h"

static int
entry_ref_known_field(const char *k)
{
	static const char *const fields[] = {
		"action", "actor", "decision", "detail", "session", "source",
		"target", "time",
	};

	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (strcmp(fields[i], k) == 0)
			return 1;
	return 0;
}

/* Refuses reals anywhere below v, and values more than 64 levels down. */
static int
entry_ref_no_reals(const json_t *v, unsigned depth)
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
			if (!entry_ref_no_reals(m, depth + 1))
				return 0;
		return 1;
	case JSON_ARRAY:
		json_array_foreach(v, i, m)
			if (!entry_ref_no_reals(m, depth + 1))
				return 0;
		return 1;
	default:
		return 1;
	}
}

/* Days in month mon (0-11) of year: the Gregorian leap-year rule. */
static inline int
entry_ref_days_in_month(int year, int mon)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };

	if (mon == 1 && ((year % 4 == 0 && year % 100 != 0) || year % 400 == 0))
		return 29;
	return days[mon];
}

static int
entry_ref_time_valid(const char *s)
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
	if (end == NULL || tm.tm_mon > 11 || tm.tm_mday < 1 ||
	    tm.tm_mday > entry_ref_days_in_month(tm.tm_year + 1900, tm.tm_mon) ||
	    tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
		return ERR_FORMAT;
	return ERR_OK;
}

static int
entry_ref_check_members(json_t *root)
{
	const char *k;
	json_t *v;

	json_object_foreach(root, k, v) {
		if (!entry_ref_known_field(k))
			return ERR_FORMAT;
		if (strcmp(k, "detail") == 0) {
			if (!json_is_object(v) || !entry_ref_no_reals(v, 0))
				return ERR_FORMAT;
		} else if (!json_is_string(v) || json_string_length(v) == 0) {
			return ERR_FORMAT;
		}
	}
	if (json_object_get(root, "actor") == NULL ||
	    json_object_get(root, "action") == NULL)
		return ERR_FORMAT;
	v = json_object_get(root, "time");
	if (v != NULL && entry_ref_time_valid(json_string_value(v)) != ERR_OK)
		return ERR_FORMAT;
	return ERR_OK;
}

/*
 * The reference canonicalization of in (len bytes). Returns ERR_OK (0)
 * and hands over *out (malloc'd, NUL-terminated, *outlen bytes), or
 * ERR_FORMAT, ERR_TOOBIG or ERR_NOMEM with *out NULL.
 */
static inline int
entry_ref_canonicalize(const char *in, size_t len, const char *now,
    char **out, size_t *outlen)
{
	json_t *root = NULL;
	json_error_t jerr;
	char *s = NULL;
	size_t n;
	int r;

	*out = NULL;
	*outlen = 0;
	if (len > ENTRY_MAX_INPUT)
		return ERR_TOOBIG;
	if (memchr(in, '\0', len) != NULL)
		return ERR_FORMAT;
	root = json_loadb(in, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL)
		return ERR_FORMAT;
	if (!json_is_object(root)) {
		r = ERR_FORMAT;
		goto out;
	}
	if ((r = entry_ref_check_members(root)) != ERR_OK)
		goto out;
	if (now != NULL && json_object_get(root, "time") == NULL &&
	    json_object_set_new(root, "time", json_string(now)) != 0) {
		r = ERR_NOMEM;
		goto out;
	}
	if ((s = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS)) == NULL) {
		r = ERR_NOMEM;
		goto out;
	}
	n = strlen(s);
	if (n > ENTRY_MAX_LEN) {
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

/*
 * How deep brackets nest in in, outside strings: exact for valid JSON, a
 * guess for the rest.
 */
static inline int
entry_ref_nesting(const char *in, size_t len)
{
	int d = 0, max = 0, instr = 0;

	for (size_t i = 0; i < len; i++) {
		char ch = in[i];

		if (instr) {
			if (ch == '\\')
				i++;
			else if (ch == '"')
				instr = 0;
		} else if (ch == '"') {
			instr = 1;
		} else if (ch == '{' || ch == '[') {
			if (++d > max)
				max = d;
		} else if (ch == '}' || ch == ']') {
			d--;
		}
	}
	return max;
}

/*
 * Up to this nesting the two must agree exactly: entry.c refuses more
 * than 64 levels, the reference only values more than 64 levels below
 * "detail" (itself at level 2), which needs at least 66.
 */
#define ENTRY_REF_AGREE_DEPTH 64

/*
 * Whether why is a reason fit for one line of a terminal or a log: starts
 * lowercase, valid UTF-8, and free of C0 and C1 controls, DEL, U+2028 and
 * U+2029 and the bidi embedding, override and isolate controls.
 */
static inline int
entry_ref_why_ok(const char *why)
{
	const unsigned char *p = (const unsigned char *)why;

	if (p[0] < 'a' || p[0] > 'z')
		return 0;
	while (*p != '\0') {
		size_t n = 0;

		if (*p < 0x20 || *p == 0x7f)
			return 0;
		if (*p < 0x80)
			n = 1;
		else if (*p >= 0xc2 && *p <= 0xdf)
			n = 2;
		else if (*p >= 0xe0 && *p <= 0xef)
			n = 3;
		else if (*p >= 0xf0 && *p <= 0xf4)
			n = 4;
		else
			return 0;
		for (size_t i = 1; i < n; i++)
			if ((p[i] & 0xc0) != 0x80)
				return 0;
		if ((p[0] == 0xc2 && p[1] < 0xa0) || (p[0] == 0xe2 &&
		    ((p[1] == 0x80 && p[2] >= 0xa8 && p[2] <= 0xae) ||
		    (p[1] == 0x81 && p[2] >= 0xa6 && p[2] <= 0xa9))))
			return 0;
		p += n;
	}
	return 1;
}

/*
 * Runs entry_canonicalize() and the reference on in and checks that they
 * agree: the same result, the same bytes when both accept (and entry.c's
 * output canonicalizes to itself), a one-line reason when entry.c
 * refuses. Returns NULL, or a static description of the disagreement.
 * *accepted (may be NULL) says whether entry.c accepted.
 */
static inline const char *
entry_ref_differ(const char *in, size_t len, const char *now, int *accepted)
{
	char *out = NULL, *ref = NULL, *again = NULL, why[256];
	size_t outlen, reflen, againlen;
	const char *bad = NULL;
	int r, rr, ra, compare;

	r = entry_canonicalize(in, len, now, &out, &outlen, why, sizeof(why));
	compare = entry_ref_nesting(in, len) <= ENTRY_REF_AGREE_DEPTH;
	if (accepted != NULL)
		*accepted = r == ERR_OK;
	if (r != ERR_OK) {
		if (out != NULL)
			bad = "entry.c refused but left *out set";
		else if (r != ERR_FORMAT && r != ERR_TOOBIG)
			bad = "entry.c returned neither ERR_FORMAT nor ERR_TOOBIG";
		else if (!entry_ref_why_ok(why))
			bad = "entry.c's reason is empty or not one clean line";
	} else if (out == NULL || out[outlen] != '\0' ||
	    strlen(out) != outlen) {
		bad = "entry.c's output is not a NUL-terminated string";
	} else if (entry_canonicalize(out, outlen, now, &again, &againlen,
	    why, sizeof(why)) != ERR_OK || againlen != outlen ||
	    memcmp(again, out, outlen) != 0) {
		bad = "entry.c's output does not canonicalize to itself";
	}
	if (bad == NULL && compare) {
		rr = entry_ref_canonicalize(in, len, now, &ref, &reflen);
		ra = r == ERR_OK;
		if (ra != (rr == ERR_OK))
			bad = ra ? "entry.c accepts what jansson refuses" :
			    "entry.c refuses what jansson accepts";
		else if (r != rr)
			bad = "entry.c and jansson refuse with different codes";
		else if (ra && (outlen != reflen || memcmp(out, ref, outlen) != 0))
			bad = "entry.c and jansson canonicalize differently";
	}
	free(again);
	free(ref);
	free(out);
	return bad;
}

#endif
