/*
 * entry.c - strict JSON validation and canonicalization of audit entries.
 *
 * This runs once per appended entry, so it is a single pass over the input
 * that writes the canonical form as it validates: no tree, no allocation
 * per value, members re-ordered only when an object's keys arrive out of
 * order. Its output is defined as, and tested (unit tests and a
 * differential fuzz harness) to be, byte for byte what jansson writes with
 * JSON_COMPACT | JSON_SORT_KEYS for every input jansson accepts with
 * JSON_REJECT_DUPLICATES and that the entry schema allows; jansson itself
 * (about 5 us per entry here) was the append path's bottleneck.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit/entry.h"
#include "common/banned.h"

#define MAX_DEPTH 64

/* A member of an object being canonicalized: spans of the output. */
struct member {
	size_t start;		/* '"' of the key in out */
	size_t end;		/* one past the value */
	size_t key;		/* decoded key in keys[] */
	size_t keylen;
};

struct canon {
	const unsigned char *p, *end;
	unsigned char *out;
	size_t len, cap;
	unsigned char *keys;	/* decoded keys of open objects */
	size_t klen, kcap;
	struct member *m;	/* members of open objects, a stack */
	size_t nm, mcap;
	char *why;
	size_t whylen;
	int depth;
};

static int
fail(struct canon *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
fail(struct canon *c, const char *fmt, ...)
{
	va_list ap;

	if (c->why != NULL && c->whylen > 0 && c->why[0] == '\0') {
		va_start(ap, fmt);
		vsnprintf(c->why, c->whylen, fmt, ap);
		va_end(ap);
	}
	return ERR_FORMAT;
}

static int
grow(unsigned char **buf, size_t *cap, size_t need, size_t limit)
{
	size_t ncap = *cap ? *cap : 512;
	unsigned char *p;

	if (need > limit)
		return ERR_TOOBIG;
	while (ncap < need)
		ncap *= 2;
	if ((p = realloc(*buf, ncap)) == NULL)
		return ERR_NOMEM;
	*buf = p;
	*cap = ncap;
	return ERR_OK;
}

/* The output may briefly exceed ENTRY_MAX_LEN before sorting; bound it. */
#define OUT_LIMIT (2 * ENTRY_MAX_INPUT + 256)

static int
put(struct canon *c, const void *s, size_t n)
{
	int r;

	if (c->len + n > c->cap &&
	    (r = grow(&c->out, &c->cap, c->len + n, OUT_LIMIT)) != ERR_OK) {
		if (r == ERR_TOOBIG)
			fail(c, "entry too long to canonicalize");
		return r;
	}
	memcpy(c->out + c->len, s, n);
	c->len += n;
	return ERR_OK;
}

static int
putc1(struct canon *c, unsigned char ch)
{
	if (c->len < c->cap) {
		c->out[c->len++] = ch;
		return ERR_OK;
	}
	return put(c, &ch, 1);
}

static void
skip_ws(struct canon *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' ||
	    *c->p == '\n' || *c->p == '\r'))
		c->p++;
}

/* Decodes one UTF-8 sequence; 0 when it is invalid (RFC 3629). */
static size_t
utf8_len(const unsigned char *p, const unsigned char *end, unsigned *cp)
{
	size_t n, i;
	unsigned v;

	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	} else if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		n = 2;
		v = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		v = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		v = p[0] & 0x07;
	} else {
		return 0;
	}
	if ((size_t)(end - p) < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		v = v << 6 | (p[i] & 0x3f);
	}
	if ((n == 3 && v < 0x800) || (n == 4 && (v < 0x10000 || v > 0x10ffff)) ||
	    (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return n;
}

static int
hex4(const unsigned char *p, unsigned *v)
{
	*v = 0;
	for (int i = 0; i < 4; i++) {
		unsigned char ch = p[i];

		*v <<= 4;
		if (ch >= '0' && ch <= '9')
			*v |= ch - '0';
		else if (ch >= 'a' && ch <= 'f')
			*v |= ch - 'a' + 10;
		else if (ch >= 'A' && ch <= 'F')
			*v |= ch - 'A' + 10;
		else
			return 0;
	}
	return 1;
}

/* Appends code point cp as canonical string content (jansson's escapes). */
static int
put_cp(struct canon *c, unsigned cp)
{
	static const char hexd[] = "0123456789ABCDEF";
	unsigned char b[6];

	if (cp == '"' || cp == '\\') {
		b[0] = '\\';
		b[1] = (unsigned char)cp;
		return put(c, b, 2);
	}
	if (cp < 0x20) {
		const char *s = cp == '\b' ? "\\b" : cp == '\f' ? "\\f" :
		    cp == '\n' ? "\\n" : cp == '\r' ? "\\r" : cp == '\t' ? "\\t" :
		    NULL;

		if (s != NULL)
			return put(c, s, 2);
		b[0] = '\\';
		b[1] = 'u';
		b[2] = '0';
		b[3] = '0';
		b[4] = (unsigned char)hexd[cp >> 4];
		b[5] = (unsigned char)hexd[cp & 15];
		return put(c, b, 6);
	}
	if (cp < 0x80)
		return putc1(c, (unsigned char)cp);
	if (cp < 0x800) {
		b[0] = (unsigned char)(0xc0 | cp >> 6);
		b[1] = (unsigned char)(0x80 | (cp & 0x3f));
		return put(c, b, 2);
	}
	if (cp < 0x10000) {
		b[0] = (unsigned char)(0xe0 | cp >> 12);
		b[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		b[2] = (unsigned char)(0x80 | (cp & 0x3f));
		return put(c, b, 3);
	}
	b[0] = (unsigned char)(0xf0 | cp >> 18);
	b[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
	b[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
	b[3] = (unsigned char)(0x80 | (cp & 0x3f));
	return put(c, b, 4);
}

static int
key_put(struct canon *c, unsigned cp)
{
	unsigned char b[4];
	size_t n;
	int r;

	if (cp < 0x80) {
		b[0] = (unsigned char)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (unsigned char)(0xc0 | cp >> 6);
		b[1] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (unsigned char)(0xe0 | cp >> 12);
		b[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		b[2] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		b[0] = (unsigned char)(0xf0 | cp >> 18);
		b[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
		b[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		b[3] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	if (c->klen + n > c->kcap &&
	    (r = grow(&c->keys, &c->kcap, c->klen + n, OUT_LIMIT)) != ERR_OK)
		return r;
	memcpy(c->keys + c->klen, b, n);
	c->klen += n;
	return ERR_OK;
}

/*
 * A string at c->p ('"'): writes its canonical form to out and, when
 * as_key, its decoded bytes to keys. *chars counts code points.
 */
static int
string(struct canon *c, int as_key, size_t *chars)
{
	int r;

	c->p++;
	*chars = 0;
	if ((r = putc1(c, '"')) != ERR_OK)
		return r;
	for (;;) {
		const unsigned char *run = c->p;
		unsigned cp;
		size_t n;

		/* Plain ASCII runs copy straight through. */
		while (c->p < c->end && *c->p >= 0x20 && *c->p < 0x80 &&
		    *c->p != '"' && *c->p != '\\')
			c->p++;
		if (c->p > run) {
			if ((r = put(c, run, (size_t)(c->p - run))) != ERR_OK)
				return r;
			if (as_key) {
				if (c->klen + (size_t)(c->p - run) > c->kcap &&
				    (r = grow(&c->keys, &c->kcap, c->klen +
				    (size_t)(c->p - run), OUT_LIMIT)) != ERR_OK)
					return r;
				memcpy(c->keys + c->klen, run, (size_t)(c->p - run));
				c->klen += (size_t)(c->p - run);
			}
			*chars += (size_t)(c->p - run);
		}
		if (c->p >= c->end)
			return fail(c, "not valid JSON: unterminated string");
		if (*c->p == '"') {
			c->p++;
			return putc1(c, '"');
		}
		if (*c->p < 0x20)
			return fail(c, "not valid JSON: control character in a "
			    "string");
		if (*c->p == '\\') {
			if (c->end - c->p < 2)
				return fail(c, "not valid JSON: unterminated string");
			switch (c->p[1]) {
			case '"': cp = '"'; break;
			case '\\': cp = '\\'; break;
			case '/': cp = '/'; break;
			case 'b': cp = '\b'; break;
			case 'f': cp = '\f'; break;
			case 'n': cp = '\n'; break;
			case 'r': cp = '\r'; break;
			case 't': cp = '\t'; break;
			case 'u':
				if (c->end - c->p < 6 || !hex4(c->p + 2, &cp))
					return fail(c, "not valid JSON: bad \\u escape");
				if (cp >= 0xdc00 && cp <= 0xdfff)
					return fail(c, "not valid JSON: lone surrogate");
				if (cp >= 0xd800 && cp <= 0xdbff) {
					unsigned lo;

					if (c->end - c->p < 12 || c->p[6] != '\\' ||
					    c->p[7] != 'u' || !hex4(c->p + 8, &lo) ||
					    lo < 0xdc00 || lo > 0xdfff)
						return fail(c, "not valid JSON: lone "
						    "surrogate");
					cp = 0x10000 + ((cp - 0xd800) << 10) +
					    (lo - 0xdc00);
					c->p += 6;
				}
				if (cp == 0)
					return fail(c, "not valid JSON: \\u0000 is "
					    "not allowed");
				c->p += 4;
				break;
			default:
				return fail(c, "not valid JSON: bad escape");
			}
			c->p += 2;
		} else {
			if ((n = utf8_len(c->p, c->end, &cp)) == 0)
				return fail(c, "not valid JSON: invalid UTF-8");
			c->p += n;
		}
		if ((r = put_cp(c, cp)) != ERR_OK)
			return r;
		if (as_key && (r = key_put(c, cp)) != ERR_OK)
			return r;
		(*chars)++;
	}
}

static int
number(struct canon *c)
{
	const unsigned char *s = c->p;
	int neg = 0;
	unsigned long long v = 0, lim;

	if (*c->p == '-') {
		neg = 1;
		c->p++;
	}
	if (c->p >= c->end || *c->p < '0' || *c->p > '9')
		return fail(c, "not valid JSON: bad number");
	if (*c->p == '0') {
		c->p++;
	} else {
		lim = neg ? 9223372036854775808ULL : 9223372036854775807ULL;
		while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
			unsigned d = (unsigned)(*c->p - '0');

			if (v > (lim - d) / 10)
				return fail(c, "not valid JSON: integer too big");
			v = v * 10 + d;
			c->p++;
		}
	}
	if (c->p < c->end && (*c->p == '.' || *c->p == 'e' || *c->p == 'E'))
		return fail(c, "a fractional number is not allowed; use "
		    "integers or strings");
	if (c->p < c->end && *c->p >= '0' && *c->p <= '9')
		return fail(c, "not valid JSON: leading zero");
	/* "-0" is the integer 0. */
	if (neg && v == 0)
		return putc1(c, '0');
	return put(c, s, (size_t)(c->p - s));
}

static int value(struct canon *c);

static int
literal(struct canon *c, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n) != 0)
		return fail(c, "not valid JSON: unexpected character");
	c->p += n;
	return put(c, word, n);
}

static int
array(struct canon *c)
{
	int r;

	c->p++;
	if ((r = putc1(c, '[')) != ERR_OK)
		return r;
	skip_ws(c);
	if (c->p < c->end && *c->p == ']') {
		c->p++;
		return putc1(c, ']');
	}
	for (;;) {
		if ((r = value(c)) != ERR_OK)
			return r;
		skip_ws(c);
		if (c->p >= c->end)
			return fail(c, "not valid JSON: unterminated array");
		if (*c->p == ']') {
			c->p++;
			return putc1(c, ']');
		}
		if (*c->p != ',')
			return fail(c, "not valid JSON: expected ',' or ']'");
		c->p++;
		if ((r = putc1(c, ',')) != ERR_OK)
			return r;
	}
}

static int
key_cmp(const struct canon *c, const struct member *a, const struct member *b)
{
	size_t n = a->keylen < b->keylen ? a->keylen : b->keylen;
	int d = memcmp(c->keys + a->key, c->keys + b->key, n);

	if (d != 0)
		return d;
	return a->keylen < b->keylen ? -1 : a->keylen > b->keylen;
}

static int
member_cmp(const void *a, const void *b, void *c)
{
	return key_cmp(c, a, b);
}

/*
 * Insertion sort: objects are small, and usually arrive sorted. Large
 * ones go to qsort_r, or 24,000 members in reverse order (a 256 KiB line)
 * would take a second.
 */
static void
sort_members(const struct canon *c, struct member *m, size_t n)
{
	if (n > 32) {
		qsort_r(m, n, sizeof(*m), member_cmp, (void *)c);
		return;
	}
	for (size_t i = 1; i < n; i++) {
		struct member t = m[i];
		size_t j = i;

		while (j > 0 && key_cmp(c, &m[j - 1], &t) > 0) {
			m[j] = m[j - 1];
			j--;
		}
		m[j] = t;
	}
}

/*
 * Keys and values quoted in a reason are shown in their canonical spelling,
 * which already escapes quotes, backslashes and C0 controls, with DEL, the
 * C1 controls, the Unicode line and paragraph separators and the bidi
 * embedding, override and isolate controls escaped too: a reason is one
 * line that displays as what it says. At most SHOWN_MAX bytes of it, cut
 * between characters and marked with "...".
 */
#define SHOWN_MAX 64

/* The code point of the k-byte character at s if shown() escapes it. */
static unsigned
shown_escape(const unsigned char *s, size_t k)
{
	if (k == 1 && s[0] == 0x7f)
		return 0x7f;
	if (k == 2 && s[0] == 0xc2 && s[1] < 0xa0)
		return s[1];
	if (k == 3 && s[0] == 0xe2 &&
	    ((s[1] == 0x80 && s[2] >= 0xa8 && s[2] <= 0xae) ||
	    (s[1] == 0x81 && s[2] >= 0xa6 && s[2] <= 0xa9)))
		return 0x2000 | (s[1] & 0x3fu) << 6 | (s[2] & 0x3fu);
	return 0;
}

static const char *
shown(char buf[SHOWN_MAX + 4], const unsigned char *s, size_t n)
{
	size_t i = 0, o = 0;

	while (i < n) {
		const unsigned char *piece = s + i;
		size_t k, pk;
		unsigned cp = 0;
		char esc[8];

		if (s[i] == '\\')
			k = s[i + 1] == 'u' ? 6 : 2;
		else if (s[i] < 0x80)
			k = 1;
		else
			k = s[i] < 0xe0 ? 2 : s[i] < 0xf0 ? 3 : 4;
		if (k > n - i)
			break;
		if (s[i] != '\\')
			cp = shown_escape(s + i, k);
		pk = k;
		if (cp != 0) {
			snprintf(esc, sizeof(esc), "\\u%04X", cp & 0xffffu);
			piece = (const unsigned char *)esc;
			pk = 6;
		}
		if (o + pk > SHOWN_MAX) {
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		memcpy(buf + o, piece, pk);
		o += pk;
		i += k;
	}
	buf[o] = '\0';
	return buf;
}

/* The key of member m as shown(): its canonical spelling runs to '"'. */
static const char *
key_shown(const struct canon *c, const struct member *m,
    char buf[SHOWN_MAX + 4])
{
	const unsigned char *k = c->out + m->start + 1;
	size_t i = 0;

	while (k[i] != '"')
		i += k[i] == '\\' ? 2 : 1;
	return shown(buf, k, i);
}

static int
fail_duplicate(struct canon *c, const struct member *m)
{
	char buf[SHOWN_MAX + 4];

	return fail(c, "not valid JSON: duplicate key '%s'",
	    key_shown(c, m, buf));
}

/*
 * Rewrites out[from..] as the members in sorted order, comma-separated,
 * then the closing brace. Refuses duplicate keys.
 */
static int
emit_sorted(struct canon *c, size_t from, struct member *m, size_t n)
{
	unsigned char *tmp;
	size_t len = c->len - from, pos = from;
	int sorted = 1;

	for (size_t i = 1; i < n; i++) {
		int d = key_cmp(c, &m[i - 1], &m[i]);

		if (d == 0)
			return fail_duplicate(c, &m[i]);
		if (d > 0)
			sorted = 0;
	}
	if (sorted) {
		/* Members were written with commas in input order: done. */
		return putc1(c, '}');
	}
	sort_members(c, m, n);
	for (size_t i = 1; i < n; i++)
		if (key_cmp(c, &m[i - 1], &m[i]) == 0)
			return fail_duplicate(c, &m[i]);
	if ((tmp = malloc(len)) == NULL)
		return ERR_NOMEM;
	memcpy(tmp, c->out + from, len);
	for (size_t i = 0; i < n; i++) {
		size_t ml = m[i].end - m[i].start;

		if (i > 0)
			c->out[pos++] = ',';
		memcpy(c->out + pos, tmp + (m[i].start - from), ml);
		/* Keep the spans true for the schema check that follows. */
		m[i].start = pos;
		m[i].end = pos + ml;
		pos += ml;
	}
	free(tmp);
	c->len = pos;
	return putc1(c, '}');
}

static int
push_member(struct canon *c, struct member *mm)
{
	if (c->nm == c->mcap) {
		size_t cap = c->mcap ? c->mcap * 2 : 32;
		struct member *p = reallocarray(c->m, cap, sizeof(*p));

		if (p == NULL)
			return ERR_NOMEM;
		c->m = p;
		c->mcap = cap;
	}
	c->m[c->nm++] = *mm;
	return ERR_OK;
}

/*
 * An object. Members are written in input order (with commas) and put in
 * key order afterwards only if they arrived out of order. *first and *n
 * give the caller the member records (c->m[*first ..]) before they are
 * popped by the caller; top-level schema checks read them.
 */
static int
object(struct canon *c, size_t *firstp, size_t *np)
{
	size_t first = c->nm, kmark = c->klen, from;
	int r;

	if (++c->depth > MAX_DEPTH)
		return fail(c, "entry nests deeper than %d levels", MAX_DEPTH);
	c->p++;
	if ((r = putc1(c, '{')) != ERR_OK)
		return r;
	from = c->len;
	skip_ws(c);
	if (c->p < c->end && *c->p == '}') {
		c->p++;
		r = putc1(c, '}');
		goto out;
	}
	for (;;) {
		struct member mm;
		size_t chars;

		skip_ws(c);
		if (c->p >= c->end || *c->p != '"') {
			r = fail(c, "not valid JSON: expected a string key");
			goto out;
		}
		mm.start = c->len;
		mm.key = c->klen;
		if ((r = string(c, 1, &chars)) != ERR_OK)
			goto out;
		mm.keylen = c->klen - mm.key;
		skip_ws(c);
		if (c->p >= c->end || *c->p != ':') {
			r = fail(c, "not valid JSON: expected ':'");
			goto out;
		}
		c->p++;
		if ((r = putc1(c, ':')) != ERR_OK || (r = value(c)) != ERR_OK)
			goto out;
		mm.end = c->len;
		if ((r = push_member(c, &mm)) != ERR_OK)
			goto out;
		skip_ws(c);
		if (c->p >= c->end) {
			r = fail(c, "not valid JSON: unterminated object");
			goto out;
		}
		if (*c->p == '}') {
			c->p++;
			break;
		}
		if (*c->p != ',') {
			r = fail(c, "not valid JSON: expected ',' or '}'");
			goto out;
		}
		c->p++;
		if ((r = putc1(c, ',')) != ERR_OK)
			goto out;
	}
	r = emit_sorted(c, from, c->m + first, c->nm - first);
 out:
	c->depth--;
	if (firstp != NULL && r == ERR_OK) {
		/* The caller pops the members and keys. */
		*firstp = first;
		*np = c->nm - first;
		return r;
	}
	c->nm = first;
	c->klen = kmark;
	return r;
}

static int
value(struct canon *c)
{
	size_t chars;

	skip_ws(c);
	if (c->p >= c->end)
		return fail(c, "not valid JSON: unexpected end of input");
	switch (*c->p) {
	case '{': return object(c, NULL, NULL);
	case '[':
		if (++c->depth > MAX_DEPTH)
			return fail(c, "entry nests deeper than %d levels",
			    MAX_DEPTH);
		{
			int r = array(c);

			c->depth--;
			return r;
		}
	case '"': return string(c, 0, &chars);
	case 't': return literal(c, "true");
	case 'f': return literal(c, "false");
	case 'n': return literal(c, "null");
	default:
		if (*c->p == '-' || (*c->p >= '0' && *c->p <= '9'))
			return number(c);
		return fail(c, "not valid JSON: unexpected character '%c'",
		    *c->p >= 0x20 && *c->p < 0x7f ? *c->p : '?');
	}
}

static const char *const entry_fields[] = {
	"action", "actor", "decision", "detail", "session", "source", "target",
	"time",
};

/* Checks the top-level members against the entry schema. */
static int
check_schema(struct canon *c, const struct member *m, size_t n, int *has_time)
{
	int seen_actor = 0, seen_action = 0;

	*has_time = 0;
	for (size_t i = 0; i < n; i++) {
		const char *k = (const char *)c->keys + m[i].key;
		size_t kl = m[i].keylen, f;
		const unsigned char *v = c->out + m[i].start + kl + 3;
		size_t vl = m[i].end - (m[i].start + kl + 3);

		for (f = 0; f < sizeof(entry_fields) / sizeof(entry_fields[0]); f++)
			if (strlen(entry_fields[f]) == kl &&
			    memcmp(entry_fields[f], k, kl) == 0)
				break;
		/* The key's canonical form may be longer (escapes). */
		if (f == sizeof(entry_fields) / sizeof(entry_fields[0]) ||
		    c->out[m[i].start + kl + 1] != '"') {
			char buf[SHOWN_MAX + 4];

			return fail(c, "unknown field '%s'; entries have time, "
			    "actor, source, target, action, decision, session "
			    "and detail", key_shown(c, &m[i], buf));
		}
		if (strcmp(entry_fields[f], "detail") == 0) {
			if (v[0] != '{')
				return fail(c, "field 'detail' must be an object");
			continue;
		}
		if (v[0] != '"' || vl < 3)
			return fail(c, "field '%s' must be a non-empty string",
			    entry_fields[f]);
		if (strcmp(entry_fields[f], "actor") == 0)
			seen_actor = 1;
		else if (strcmp(entry_fields[f], "action") == 0)
			seen_action = 1;
		else if (strcmp(entry_fields[f], "time") == 0) {
			char t[40];

			*has_time = 1;
			if (vl - 2 >= sizeof(t) || memchr(v + 1, '\\', vl - 2))
				return fail(c, "field 'time' is not RFC 3339 UTC "
				    "(YYYY-MM-DDTHH:MM:SS[.ffffff]Z)");
			memcpy(t, v + 1, vl - 2);
			t[vl - 2] = '\0';
			if (entry_time_valid(t) != ERR_OK) {
				char buf[SHOWN_MAX + 4];

				return fail(c, "field 'time' is '%s', not RFC "
				    "3339 UTC (YYYY-MM-DDTHH:MM:SS[.ffffff]Z)",
				    shown(buf, v + 1, vl - 2));
			}
		}
	}
	if (!seen_actor)
		return fail(c, "missing field 'actor'");
	if (!seen_action)
		return fail(c, "missing field 'action'");
	return ERR_OK;
}

/*
 * The shape of an RFC 3339 UTC time, "dddd-dd-ddTdd:dd:dd[.d{1,9}]Z",
 * without the calendar check: cheap enough for every append.
 */
static int
time_shape(const char *s)
{
	size_t n = strlen(s), i;
	const char *pat = "dddd-dd-ddTdd:dd:dd";

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
	return i == n - 1 ? ERR_OK : ERR_FORMAT;
}

/*
 * Adds "time":NOW to the top-level object in canonical position. NOW is
 * written as it is, so it must have the shape of a time (which needs no
 * escapes); anything else is the caller's bug.
 */
static int
add_time(struct canon *c, size_t first, size_t n, const char *now)
{
	size_t pos = 1, tl = strlen(now);
	unsigned char *tmp;
	int r;

	if (time_shape(now) != ERR_OK) {
		if (c->why != NULL && c->whylen > 0)
			snprintf(c->why, c->whylen, "internal error: the time to "
			    "add is not RFC 3339 UTC (YYYY-MM-DDTHH:MM:SS"
			    "[.ffffff]Z)");
		return ERR_INVAL;
	}

	/* "time" sorts after every other allowed field but before none: it
	 * is the last of the allowed keys, so it goes just before '}'. */
	(void)first;
	(void)n;
	if (c->len < 2 || c->out[c->len - 1] != '}')
		return ERR_INTERNAL;
	pos = c->len - 1;
	if ((tmp = malloc(tl + 12)) == NULL)
		return ERR_NOMEM;
	snprintf((char *)tmp, tl + 12, "%s\"time\":\"%s\"", pos > 1 ? "," : "",
	    now);
	c->len = pos;
	r = put(c, tmp, strlen((char *)tmp));
	free(tmp);
	if (r != ERR_OK)
		return r;
	return putc1(c, '}');
}

int
entry_canonicalize(const char *in, size_t len, const char *now_rfc3339,
    char **out, size_t *outlen, char *why, size_t whylen)
{
	struct canon c;
	size_t first = 0, n = 0;
	int r, has_time = 0;

	*out = NULL;
	*outlen = 0;
	if (why != NULL && whylen > 0)
		why[0] = '\0';
	memset(&c, 0, sizeof(c));
	c.why = why;
	c.whylen = whylen;
	if (len > ENTRY_MAX_INPUT) {
		fail(&c, "entry longer than %d bytes before canonicalization; "
		    "store large data as a blob", ENTRY_MAX_INPUT);
		return ERR_TOOBIG;
	}
	/*
	 * The key buffer from the start: every entry has keys, and an empty
	 * key must still be an offset into an object (no NULL + 0).
	 */
	if ((r = grow(&c.keys, &c.kcap, 64, OUT_LIMIT)) != ERR_OK)
		goto out;
	c.p = (const unsigned char *)in;
	c.end = c.p + len;
	skip_ws(&c);
	if (c.p >= c.end) {
		r = fail(&c, "not valid JSON: empty line");
		goto out;
	}
	if (*c.p != '{') {
		/* Parse anyway, so malformed input says so first. */
		if ((r = value(&c)) == ERR_OK)
			r = fail(&c, "an entry must be a JSON object");
		goto out;
	}
	if ((r = object(&c, &first, &n)) != ERR_OK)
		goto out;
	skip_ws(&c);
	if (c.p != c.end) {
		r = fail(&c, "not valid JSON: text after the object");
		goto out;
	}
	if ((r = check_schema(&c, n > 0 ? c.m + first : NULL, n,
	    &has_time)) != ERR_OK)
		goto out;
	if (!has_time && now_rfc3339 != NULL &&
	    (r = add_time(&c, first, n, now_rfc3339)) != ERR_OK)
		goto out;
	if (c.len > ENTRY_MAX_LEN) {
		r = fail(&c, "entry longer than 65535 bytes after "
		    "canonicalization; store large data as a blob");
		r = ERR_TOOBIG;
		goto out;
	}
	if ((r = putc1(&c, '\0')) != ERR_OK)
		goto out;
	*out = (char *)c.out;
	*outlen = c.len - 1;
	c.out = NULL;
	r = ERR_OK;
 out:
	if (r == ERR_TOOBIG && why != NULL && whylen > 0 && why[0] == '\0')
		snprintf(why, whylen, "entry too long to canonicalize");
	free(c.out);
	free(c.keys);
	free(c.m);
	return r;
}

/* Days in month mon (0-11) of year: the Gregorian leap-year rule. */
static int
days_in_month(int year, int mon)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };

	if (mon == 1 && ((year % 4 == 0 && year % 100 != 0) || year % 400 == 0))
		return 29;
	return days[mon];
}

int
entry_time_valid(const char *s)
{
	struct tm tm;
	char *end;

	if (time_shape(s) != ERR_OK)
		return ERR_FORMAT;
	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (end == NULL || tm.tm_mon > 11 || tm.tm_mday < 1 ||
	    tm.tm_mday > days_in_month(tm.tm_year + 1900, tm.tm_mon) ||
	    tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
		return ERR_FORMAT;
	return ERR_OK;
}

void
entry_time_now(char *buf, size_t len)
{
	static __thread time_t cached_sec = -1;
	static __thread char cached[24];
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	/* Formatting the date costs more than the rest of an append. */
	if (ts.tv_sec != cached_sec) {
		struct tm tm;

		gmtime_r(&ts.tv_sec, &tm);
		strftime(cached, sizeof(cached), "%Y-%m-%dT%H:%M:%S", &tm);
		cached_sec = ts.tv_sec;
	}
	snprintf(buf, len, "%s.%06ldZ", cached, ts.tv_nsec / 1000);
}
