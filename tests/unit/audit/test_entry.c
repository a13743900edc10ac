/*
 * test_entry.c - entry_canonicalize(): known answers, then a differential
 * property test against the jansson canonicalizer it replaced
 * (tests/common/entry_ref.h, the old src/audit/entry.c).
 *
 * Known answers follow RFC 8259 (JSON) and RFC 3629 (UTF-8, including its
 * section 10 list of invalid sequences) and jansson's documented output
 * (json_dumps with JSON_COMPACT | JSON_SORT_KEYS: keys in byte order,
 * only '"', '\\' and control characters escaped, \u escapes in upper-case
 * hex, everything else raw UTF-8). Every known answer is also checked
 * against the reference.
 *
 * The property test generates random entries from a seeded PRNG (random
 * schema members in random order, random detail trees, strings with every
 * kind of escape and UTF-8, numbers at and past the int64 limits), spoils
 * some of them on purpose and mutates others byte-wise, and requires both
 * implementations to accept exactly the same inputs with the same bytes.
 * Set BULWARK_ENTRY_SEED to run another sequence, BULWARK_ENTRY_ITERS to
 * run more, BULWARK_ENTRY_DUMP to a file to keep a failing input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "audit/entry.h"
#include "../../common/entry_ref.h"
#include "common/banned.h"

#define NOW "2024-05-06T07:08:09.123456Z"
/* The required members, sorted; most cases vary "detail" after them. */
#define AA "\"action\":\"a\",\"actor\":\"b\""
#define IN_D(d) "{" AA ",\"detail\":" d "}"
#define IN_S(s) IN_D("{\"s\":" s "}")

/* in, escaped for a failure message. */
static const char *
show(const char *in, size_t len)
{
	static char buf[2048];
	size_t o = 0;

	for (size_t i = 0; i < len && o + 8 < sizeof(buf); i++) {
		unsigned char ch = (unsigned char)in[i];

		if (ch >= 0x20 && ch < 0x7f && ch != '\\')
			buf[o++] = (char)ch;
		else
			o += (size_t)snprintf(buf + o, sizeof(buf) - o, "\\x%02x", ch);
	}
	if (o + 8 >= sizeof(buf))
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "...");
	buf[o] = '\0';
	return buf;
}

/* entry_canonicalize() must accept in and write want; so must jansson. */
static void
accept_(const char *in, size_t len, const char *now, const char *want,
    int line)
{
	char *out = NULL, why[256];
	size_t outlen;
	const char *bad;
	int r;

	r = entry_canonicalize(in, len, now, &out, &outlen, why, sizeof(why));
	if (r != ERR_OK)
		fail_msg("line %d: refused (%d: %s): %s", line, r, why,
		    show(in, len));
	if (outlen != strlen(want) || memcmp(out, want, outlen) != 0) {
		print_error("line %d: want %s\n", line, show(want, strlen(want)));
		fail_msg("line %d: got  %s", line, show(out, outlen));
	}
	free(out);
	if ((bad = entry_ref_differ(in, len, now, NULL)) != NULL)
		fail_msg("line %d: %s: %s", line, bad, show(in, len));
}

/*
 * entry_canonicalize() must refuse in with code and a reason containing
 * because; jansson must refuse it too unless nested too deep to compare.
 */
static void
refuse_(const char *in, size_t len, const char *now, int code,
    const char *because, int line)
{
	char *out = (char *)"x", why[256];
	size_t outlen = 1;
	const char *bad;
	int r;

	memset(why, 'x', sizeof(why));
	r = entry_canonicalize(in, len, now, &out, &outlen, why, sizeof(why));
	if (r != code)
		fail_msg("line %d: result %d, want %d (%s): %s", line, r, code,
		    r == ERR_OK ? out : why, show(in, len));
	if (out != NULL || outlen != 0)
		fail_msg("line %d: out not cleared", line);
	if (strstr(why, because) == NULL)
		fail_msg("line %d: reason '%s' lacks '%s'", line, why, because);
	if (!entry_ref_why_ok(why))
		fail_msg("line %d: reason is not one clean line: %s", line,
		    show(why, strlen(why)));
	if ((bad = entry_ref_differ(in, len, now, NULL)) != NULL)
		fail_msg("line %d: %s: %s", line, bad, show(in, len));
}

#define ACCEPT(in, want) accept_(in, strlen(in), NULL, want, __LINE__)
#define ACCEPT_NOW(in, want) accept_(in, strlen(in), NOW, want, __LINE__)
#define REFUSE(in, because) \
	refuse_(in, strlen(in), NULL, ERR_FORMAT, because, __LINE__)
/* For inputs with NUL bytes: a literal's size less its own NUL. */
#define REFUSE_LIT(in, because) \
	refuse_(in, sizeof(in) - 1, NULL, ERR_FORMAT, because, __LINE__)
#define BAD_JSON "not valid JSON"

static void
test_key_order(void **state)
{
	(void)state;
	ACCEPT("{\"action\":\"login\",\"actor\":\"alice\"}",
	    "{\"action\":\"login\",\"actor\":\"alice\"}");
	ACCEPT("{\"actor\":\"alice\",\"action\":\"login\"}",
	    "{\"action\":\"login\",\"actor\":\"alice\"}");
	ACCEPT("{\"time\":\"2024-01-02T03:04:05Z\",\"target\":\"root@web1\","
	    "\"source\":\"10.0.0.1\",\"session\":\"s1\",\"detail\":{},"
	    "\"decision\":\"allow\",\"actor\":\"alice\",\"action\":\"login\"}",
	    "{\"action\":\"login\",\"actor\":\"alice\",\"decision\":\"allow\","
	    "\"detail\":{},\"session\":\"s1\",\"source\":\"10.0.0.1\","
	    "\"target\":\"root@web1\",\"time\":\"2024-01-02T03:04:05Z\"}");
	/* Byte order: ' ' < 'A' < '_' < 'a', a prefix first, UTF-8 last. */
	ACCEPT(IN_D("{\"\xc3\xa9\":1,\"aa\":2,\"a\":3,\"_\":4,\"A\":5,"
	    "\"a \":6,\"\":7,\"~\":8}"),
	    IN_D("{\"\":7,\"A\":5,\"_\":4,\"a\":3,\"a \":6,\"aa\":2,\"~\":8,"
	    "\"\xc3\xa9\":1}"));
	/* Decoded bytes decide, not the escaped spelling: 0x0a < 'A'. */
	ACCEPT(IN_D("{\"A\":1,\"\\n\":2}"), IN_D("{\"\\n\":2,\"A\":1}"));
	ACCEPT(IN_D("{\"\\u001f\":1,\"\\t\":2,\"\\\\\":3,\"\\\"\":4}"),
	    IN_D("{\"\\t\":2,\"\\u001F\":1,\"\\\"\":4,\"\\\\\":3}"));
	/* UTF-8 order, not UTF-16: U+FFFD before U+1F600. */
	ACCEPT(IN_D("{\"\\ud83d\\ude00\":1,\"\\ufffd\":2}"),
	    IN_D("{\"\xef\xbf\xbd\":2,\"\xf0\x9f\x98\x80\":1}"));
	/* Escaped spellings of the schema's names are those names. */
	ACCEPT("{\"\\u0061ctor\":\"x\",\"act\\u0069on\":\"y\"}",
	    "{\"action\":\"y\",\"actor\":\"x\"}");
}

static void
test_nested_order(void **state)
{
	(void)state;
	ACCEPT(IN_D("{\"z\":{\"b\":1,\"a\":{\"d\":[{\"y\":2,\"x\":1}],"
	    "\"c\":true}},\"a\":null}"),
	    IN_D("{\"a\":null,\"z\":{\"a\":{\"c\":true,\"d\":[{\"x\":1,"
	    "\"y\":2}]},\"b\":1}}"));
	/* Sorted parents with unsorted children, and the reverse. */
	ACCEPT(IN_D("{\"a\":{\"c\":1,\"b\":2},\"b\":[{\"q\":1,\"p\":[{\"n\":1,"
	    "\"m\":2}]}]}"),
	    IN_D("{\"a\":{\"b\":2,\"c\":1},\"b\":[{\"p\":[{\"m\":2,\"n\":1}],"
	    "\"q\":1}]}"));
	ACCEPT(IN_D("{\"b\":{\"x\":1,\"y\":{\"k\":\"v\"}},\"a\":{}}"),
	    IN_D("{\"a\":{},\"b\":{\"x\":1,\"y\":{\"k\":\"v\"}}}"));
	/* Members whose values are long move as a whole. */
	ACCEPT("{\"detail\":{\"c\":[1,2,{\"z\":\"}\",\"y\":\"{\"}],\"b\":\"\\\"\","
	    "\"a\":[]},\"actor\":\"u\",\"action\":\"x\"}",
	    "{\"action\":\"x\",\"actor\":\"u\",\"detail\":{\"a\":[],\"b\":\"\\\"\","
	    "\"c\":[1,2,{\"y\":\"{\",\"z\":\"}\"}]}}");
	/* Arrays keep their order. */
	ACCEPT(IN_D("{\"a\":[3,1,2,\"b\",\"a\",[],{}]}"),
	    IN_D("{\"a\":[3,1,2,\"b\",\"a\",[],{}]}"));
}

/* Large objects, whatever order their members come in. */
static void
test_many_members(void **state)
{
	const size_t n = 3000;
	char *in = malloc(n * 16 + 128), *want = malloc(n * 16 + 128);
	size_t o = 0, w = 0;

	(void)state;
	assert_non_null(in);
	assert_non_null(want);
	o += (size_t)snprintf(in, 64, "{" AA ",\"detail\":{");
	w += (size_t)snprintf(want, 64, "{" AA ",\"detail\":{");
	for (size_t i = 0; i < n; i++) {
		/* Reversed, then every third one swapped with its neighbour. */
		size_t k = n - 1 - i;

		if (i % 3 == 0 && k > 0)
			k--;
		else if (i % 3 == 1)
			k++;
		o += (size_t)snprintf(in + o, 32, "%s\"k%05zu\":%zu", i ? "," : "",
		    k, k);
		w += (size_t)snprintf(want + w, 32, "%s\"k%05zu\":%zu",
		    i ? "," : "", i, i);
	}
	snprintf(in + o, 8, "}}");
	snprintf(want + w, 8, "}}");
	accept_(in, strlen(in), NULL, want, __LINE__);
	/* A duplicate far from its twin. */
	memcpy(in + strlen("{" AA ",\"detail\":{\"k"), "00000", 5);
	refuse_(in, strlen(in), NULL, ERR_FORMAT, "duplicate key 'k00000'",
	    __LINE__);
	free(want);
	free(in);
}

static void
test_white_space(void **state)
{
	(void)state;
	ACCEPT(" \t\r\n{ \"actor\" :\t\"a\" ,\n\"action\"\r\n:\"b\" ,\"detail\""
	    ":{ \"k\" : [ 1 , 2 ] , \"e\" : [ ] , \"o\" : { } } } \n\r\t ",
	    "{\"action\":\"b\",\"actor\":\"a\",\"detail\":{\"e\":[],\"k\":[1,2],"
	    "\"o\":{}}}");
	/* White space inside strings stays. */
	ACCEPT("{\"actor\":\" a b \",\"action\":\"x\"}",
	    "{\"action\":\"x\",\"actor\":\" a b \"}");
	/* Only the four JSON white space characters are white space. */
	REFUSE("\f{\"actor\":\"a\",\"action\":\"b\"}", BAD_JSON);
	REFUSE("{\"actor\":\"a\",\v\"action\":\"b\"}", BAD_JSON);
	REFUSE("{\"actor\":\"a\",\xc2\xa0\"action\":\"b\"}", BAD_JSON);
	REFUSE("\xef\xbb\xbf{\"actor\":\"a\",\"action\":\"b\"}", BAD_JSON);
	REFUSE("", "empty");
	REFUSE(" \t\r\n", "empty");
}

static void
test_escapes(void **state)
{
	(void)state;
	ACCEPT(IN_S("\"\\u0001\""), IN_S("\"\\u0001\""));
	ACCEPT(IN_S("\"\\u001f\\u001F\\u0010\\u000b\""),
	    IN_S("\"\\u001F\\u001F\\u0010\\u000B\""));
	ACCEPT(IN_S("\"\\b\\f\\n\\r\\t\\\"\\\\\""),
	    IN_S("\"\\b\\f\\n\\r\\t\\\"\\\\\""));
	ACCEPT(IN_S("\"\\u0008\\u000c\\u000A\\u000d\\u0009\\u0022\\u005C\""),
	    IN_S("\"\\b\\f\\n\\r\\t\\\"\\\\\""));
	ACCEPT(IN_S("\"a\\/b\\u002f\""), IN_S("\"a/b/\""));
	ACCEPT(IN_S("\"\\u0041\\u007e\""), IN_S("\"A~\""));
	ACCEPT(IN_S("\"\\u00e9\\u00E9\xc3\xa9\""),
	    IN_S("\"\xc3\xa9\xc3\xa9\xc3\xa9\""));
	ACCEPT(IN_S("\"\\u20ac\\u2028\\ufeff\\uffff\""),
	    IN_S("\"\xe2\x82\xac\xe2\x80\xa8\xef\xbb\xbf\xef\xbf\xbf\""));
	/* Surrogate pairs, either case, become one 4-byte character. */
	ACCEPT(IN_S("\"\\ud83d\\ude00\\uD834\\uDD1E\""),
	    IN_S("\"\xf0\x9f\x98\x80\xf0\x9d\x84\x9e\""));
	ACCEPT(IN_S("\"\\ud800\\udc00\\udbff\\udfff\""),
	    IN_S("\"\xf0\x90\x80\x80\xf4\x8f\xbf\xbf\""));
	/* DEL is not a control character to JSON: raw either way. */
	ACCEPT(IN_S("\"\\u007f\x7f\""), IN_S("\"\x7f\x7f\""));
	/* Escapes in keys decode the same way. */
	ACCEPT(IN_D("{\"\\u0001\\/\\u00e9\":1}"),
	    IN_D("{\"\\u0001/\xc3\xa9\":1}"));
	/* Bad escapes. */
	REFUSE(IN_S("\"\\x41\""), "bad escape");
	REFUSE(IN_S("\"\\U0041\""), "bad escape");
	REFUSE(IN_S("\"\\a\""), "bad escape");
	REFUSE(IN_S("\"\\'\""), "bad escape");
	REFUSE(IN_S("\"\\0\""), "bad escape");
	REFUSE(IN_S("\"\\ \""), "bad escape");
	REFUSE(IN_S("\"\\u00g0\""), "bad \\u escape");
	REFUSE(IN_S("\"\\u12\""), "bad \\u escape");
	REFUSE(IN_S("\"\\u-123\""), "bad \\u escape");
	REFUSE("{\"actor\":\"\\u004", BAD_JSON);
	REFUSE("{\"actor\":\"\\", BAD_JSON);
}

static void
test_surrogates(void **state)
{
	(void)state;
	REFUSE(IN_S("\"\\ud800\""), "lone surrogate");
	REFUSE(IN_S("\"\\udbff\""), "lone surrogate");
	REFUSE(IN_S("\"\\udc00\""), "lone surrogate");
	REFUSE(IN_S("\"\\udfff\""), "lone surrogate");
	REFUSE(IN_S("\"\\ud800x\""), "lone surrogate");
	REFUSE(IN_S("\"\\ud800\\u0041\""), "lone surrogate");
	REFUSE(IN_S("\"\\ud800\\ud800\""), "lone surrogate");
	REFUSE(IN_S("\"\\ude00\\ud83d\""), "lone surrogate");
	REFUSE(IN_S("\"\\ud800\\n\""), "lone surrogate");
	REFUSE(IN_S("\"\\ud83d\\ude0\""), BAD_JSON);
	REFUSE(IN_S("\"\\ud83d\\\\ude00\""), "lone surrogate");
	REFUSE(IN_D("{\"\\ud800\":1}"), "lone surrogate");
}

static void
test_utf8(void **state)
{
	static const char *const bad[] = {
		/* Overlong forms (RFC 3629 section 10). */
		"\xc0\xaf", "\xc1\xbf", "\xc0\x80", "\xe0\x80\xaf",
		"\xe0\x9f\xbf", "\xf0\x80\x80\xaf", "\xf0\x8f\xbf\xbf",
		/* Surrogates encoded in UTF-8 (CESU-8 style). */
		"\xed\xa0\x80", "\xed\xbf\xbf", "\xed\xa0\xbd\xed\xb8\x80",
		/* Beyond U+10FFFF, and the old 5- and 6-byte forms. */
		"\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xf7\xbf\xbf\xbf",
		"\xf8\x88\x80\x80\x80", "\xfc\x84\x80\x80\x80\x80",
		"\xfe", "\xff",
		/* Truncated sequences, and continuation bytes alone. */
		"\xc3", "\xe2\x82", "\xf0\x9f\x98", "\xe2\x82x", "\xf0\x9f\x98x",
		"\x80", "\xbf", "a\x80\x62",
	};
	static const char *const good[] = {
		"\xc2\x80", "\xdf\xbf", "\xe0\xa0\x80", "\xed\x9f\xbf",
		"\xee\x80\x80", "\xef\xbf\xbd", "\xf0\x90\x80\x80",
		"\xf4\x8f\xbf\xbf",
	};
	char in[256], want[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(in, sizeof(in), IN_S("\"x%sy\""), bad[i]);
		REFUSE(in, "invalid UTF-8");
		snprintf(in, sizeof(in), IN_D("{\"%s\":1}"), bad[i]);
		REFUSE(in, "invalid UTF-8");
	}
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(in, sizeof(in), IN_S("\"%s\""), good[i]);
		snprintf(want, sizeof(want), IN_S("\"%s\""), good[i]);
		ACCEPT(in, want);
	}
	/* Truncated at the very end of the input. */
	REFUSE("{\"actor\":\"\xe2\x82", BAD_JSON);
	/* Outside strings, any non-ASCII byte is an error. */
	REFUSE("{\"actor\":\"a\",\"action\":\"b\"}\xc3\xa9", BAD_JSON);
	REFUSE("{\"actor\":\"a\",\"action\":\"b\"}\xff", BAD_JSON);
}

static void
test_nul_and_controls(void **state)
{
	char in[128];

	(void)state;
	REFUSE(IN_S("\"a\\u0000b\""), "\\u0000 is not allowed");
	REFUSE(IN_D("{\"\\u0000\":1}"), "\\u0000 is not allowed");
	REFUSE_LIT("{\"actor\":\"a\0b\",\"action\":\"b\"}", "control character");
	REFUSE_LIT("{\"actor\":\"a\",\"action\":\"b\"}\0", "text after");
	REFUSE_LIT("\0{\"actor\":\"a\",\"action\":\"b\"}", BAD_JSON);
	REFUSE_LIT("{\"actor\":\"a\",\0\"action\":\"b\"}", BAD_JSON);
	/* jansson 2.14 would drop these NULs (see entry_ref.h). */
	REFUSE_LIT(IN_D("{\"n\":1\0}"), BAD_JSON);
	REFUSE_LIT(IN_D("{\"n\":[0\0,true\0,null\0]}"), BAD_JSON);
	for (int ch = 1; ch < 0x20; ch++) {
		snprintf(in, sizeof(in), IN_S("\"x%cy\""), ch);
		REFUSE(in, "control character");
		snprintf(in, sizeof(in), IN_D("{\"%c\":1}"), ch);
		REFUSE(in, "control character");
	}
}

static void
test_numbers(void **state)
{
	static const char *const real[] = {
		"1.0", "1.5", "-0.0", "0.0", "1e3", "1E3", "1e-3", "1e+3", "0e0",
		"-1E-0", "123.456e78", "9223372036854775807.0", "1e400",
	};
	static const char *const bad[] = {
		"01", "-01", "00", "-00", "+1", "-", "--1", "- 1", "1.", "1.e3",
		".5", "1e", "1e+", "0x10", "Infinity", "-Infinity", "NaN", "1_000",
	};
	char in[128];

	(void)state;
	ACCEPT(IN_D("{\"n\":[0,-0,1,-1,10,-10,123456789]}"),
	    IN_D("{\"n\":[0,0,1,-1,10,-10,123456789]}"));
	ACCEPT(IN_D("{\"max\":9223372036854775807,"
	    "\"min\":-9223372036854775808}"),
	    IN_D("{\"max\":9223372036854775807,"
	    "\"min\":-9223372036854775808}"));
	ACCEPT(IN_D("{\"z\":-0}"), IN_D("{\"z\":0}"));
	REFUSE(IN_D("{\"n\":9223372036854775808}"), "integer too big");
	REFUSE(IN_D("{\"n\":-9223372036854775809}"), "integer too big");
	REFUSE(IN_D("{\"n\":18446744073709551616}"), "integer too big");
	REFUSE(IN_D("{\"n\":99999999999999999999999}"), "integer too big");
	for (size_t i = 0; i < sizeof(real) / sizeof(real[0]); i++) {
		snprintf(in, sizeof(in), IN_D("{\"n\":%s}"), real[i]);
		REFUSE(in, "fractional number is not allowed");
		snprintf(in, sizeof(in), IN_D("{\"a\":[1,{\"n\":[%s]}]}"), real[i]);
		REFUSE(in, "fractional number is not allowed");
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(in, sizeof(in), IN_D("{\"n\":%s}"), bad[i]);
		REFUSE(in, "");
	}
	REFUSE("{\"actor\":1.5,\"action\":\"b\"}", "fractional");
}

static void
test_literals(void **state)
{
	(void)state;
	ACCEPT(IN_D("{\"t\":true,\"f\":false,\"n\":null}"),
	    IN_D("{\"f\":false,\"n\":null,\"t\":true}"));
	REFUSE(IN_D("{\"t\":True}"), BAD_JSON);
	REFUSE(IN_D("{\"t\":tru}"), BAD_JSON);
	REFUSE(IN_D("{\"t\":truex}"), BAD_JSON);
	REFUSE(IN_D("{\"t\":nul}"), BAD_JSON);
	REFUSE(IN_D("{\"t\":NULL}"), BAD_JSON);
	REFUSE(IN_D("{\"t\":undefined}"), BAD_JSON);
	REFUSE(IN_D("{\"t\":'s'}"), BAD_JSON);
}

static void
test_duplicates(void **state)
{
	(void)state;
	REFUSE("{\"actor\":\"a\",\"actor\":\"a\",\"action\":\"x\"}",
	    "duplicate key 'actor'");
	REFUSE("{\"action\":\"x\",\"actor\":\"a\",\"action\":\"x\"}",
	    "duplicate key 'action'");
	REFUSE(IN_D("{\"k\":1,\"k\":2}"), "duplicate key 'k'");
	REFUSE(IN_D("{\"a\":{\"b\":{\"c\":[{\"d\":1,\"d\":1}]}}}"),
	    "duplicate key 'd'");
	/* Only next to each other once sorted. */
	REFUSE(IN_D("{\"b\":1,\"a\":2,\"b\":3}"), "duplicate key 'b'");
	REFUSE(IN_D("{\"c\":1,\"a\":2,\"b\":3,\"a\":4}"), "duplicate key 'a'");
	REFUSE("{\"actor\":\"a\",\"action\":\"x\",\"detail\":{},\"actor\":\"z\"}",
	    "duplicate key 'actor'");
	/* The same key spelled differently. */
	REFUSE(IN_D("{\"a\":1,\"\\u0061\":2}"), "duplicate key 'a'");
	REFUSE(IN_D("{\"\xc3\xa9\":1,\"\\u00e9\":2}"), "duplicate key");
	REFUSE(IN_D("{\"\\/\":1,\"/\":2}"), "duplicate key '/'");
	REFUSE(IN_D("{\"\":1,\"\":2}"), "duplicate key ''");
	/* The reason shows the key escaped, on one line. */
	REFUSE(IN_D("{\"\\n\":1,\"\\u000a\":2}"), "duplicate key '\\n'");
	/* Same keys in different objects, or parent and child, are fine. */
	ACCEPT(IN_D("{\"x\":{\"a\":1},\"y\":{\"a\":1},\"a\":{\"a\":{\"a\":1}}}"),
	    IN_D("{\"a\":{\"a\":{\"a\":1}},\"x\":{\"a\":1},\"y\":{\"a\":1}}"));
	ACCEPT(IN_D("{\"a\":1,\"A\":2,\"a \":3,\"aa\":4}"),
	    IN_D("{\"A\":2,\"a\":1,\"a \":3,\"aa\":4}"));
}

static void
test_structure(void **state)
{
	static const char *const bad[] = {
		"{", "}", "{\"actor\"", "{\"actor\":", "{\"actor\":\"a\"",
		"{\"actor\":\"a\",", "{\"actor\":\"a\",}", "{,}", "{,\"a\":1}",
		"{\"actor\" \"a\"}", "{\"actor\":\"a\" \"action\":\"b\"}",
		"{\"actor\":\"a\";\"action\":\"b\"}", "{'actor':'a'}",
		"{actor:\"a\"}", "{\"actor\"=\"a\"}", "{\"actor\":\"a}",
		"{\"actor\"::\"a\"}", "{1:\"a\"}", "{null:1}",
		IN_D("{\"a\":[1,]}"), IN_D("{\"a\":[,1]}"), IN_D("{\"a\":[1 2]}"),
		IN_D("{\"a\":[1,,2]}"), IN_D("{\"a\":[}"), IN_D("{\"a\":]}"),
		IN_D("{\"a\":[1}"), IN_D("{\"a\":{]}"), IN_D("{\"a\"}"),
		IN_D("{\"a\":}"),
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		REFUSE(bad[i], BAD_JSON);
	/* Trailing garbage. */
	REFUSE("{\"actor\":\"a\",\"action\":\"b\"}x", "text after the object");
	REFUSE("{\"actor\":\"a\",\"action\":\"b\"}{}", "text after the object");
	REFUSE("{\"actor\":\"a\",\"action\":\"b\"},", "text after the object");
	REFUSE("{\"actor\":\"a\",\"action\":\"b\"}]", "text after the object");
	REFUSE("{\"actor\":\"a\",\"action\":\"b\"} }", "text after the object");
	REFUSE("{\"actor\":\"a\",\"action\":\"b\"}\n{\"actor\":\"a\","
	    "\"action\":\"b\"}", "text after the object");
	REFUSE("{\"actor\":\"a\",\"action\":\"b\"}\"", "text after the object");
}

static void
test_time(void **state)
{
	static const char *const good[] = {
		"2024-01-02T03:04:05Z", "2024-01-02T03:04:05.1Z",
		"2024-01-02T03:04:05.123456Z", "2024-01-02T03:04:05.123456789Z",
		"2024-02-29T23:59:60Z", "0000-01-01T00:00:00Z",
		"9999-12-31T23:59:59.999999Z", "2000-02-29T00:00:00Z",
		"2023-04-30T00:00:00Z",
	};
	static const char *const bad[] = {
		"2024-01-02T03:04:05", "2024-01-02T03:04:05z",
		"2024-01-02t03:04:05Z", "2024-01-02 03:04:05Z",
		"2024-01-02T03:04:05+00:00", "2024-01-02T03:04:05.Z",
		"2024-01-02T03:04:05.1234567890Z", "2024-1-02T03:04:05Z",
		"2024-13-02T03:04:05Z", "2024-00-02T03:04:05Z",
		"2024-01-00T03:04:05Z", "2024-01-32T03:04:05Z",
		"2024-01-02T24:04:05Z", "2024-01-02T03:60:05Z",
		"2024-01-02T03:04:61Z", " 2024-01-02T03:04:05Z",
		"2024-01-02T03:04:05Z ", "2024-01-02T03:04:05ZZ", "now",
		"2023-02-29T00:00:00Z", "1900-02-29T00:00:00Z",
		"2023-04-31T00:00:00Z", "2024-02-30T00:00:00Z",
		"\xef\xbc\x92\xef\xbc\x90\xef\xbc\x92\xef\xbc\x94-01-02T03:04:05Z",
	};
	char in[256], want[256];

	(void)state;
	/* Added as the last member, as "time" sorts after the other names. */
	ACCEPT_NOW("{\"actor\":\"a\",\"action\":\"b\"}",
	    "{\"action\":\"b\",\"actor\":\"a\",\"time\":\"" NOW "\"}");
	ACCEPT_NOW("{\"target\":\"t\",\"source\":\"s\",\"session\":\"x\","
	    "\"detail\":{\"z\":1},\"decision\":\"d\",\"actor\":\"a\","
	    "\"action\":\"b\"}",
	    "{\"action\":\"b\",\"actor\":\"a\",\"decision\":\"d\","
	    "\"detail\":{\"z\":1},\"session\":\"x\",\"source\":\"s\","
	    "\"target\":\"t\",\"time\":\"" NOW "\"}");
	/* A given time stays; without NOW none is added. */
	ACCEPT_NOW("{\"time\":\"2020-01-01T00:00:00Z\",\"actor\":\"a\","
	    "\"action\":\"b\"}",
	    "{\"action\":\"b\",\"actor\":\"a\",\"time\":\"2020-01-01T00:00:00Z\"}");
	ACCEPT("{\"actor\":\"a\",\"action\":\"b\"}",
	    "{\"action\":\"b\",\"actor\":\"a\"}");
	/* The time is checked decoded; escapes that decode to it are fine. */
	ACCEPT("{\"actor\":\"a\",\"action\":\"b\","
	    "\"time\":\"\\u0032024-01-02T03:04:05\\u005a\"}",
	    "{\"action\":\"b\",\"actor\":\"a\",\"time\":\"2024-01-02T03:04:05Z\"}");
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(entry_time_valid(good[i]), ERR_OK);
		snprintf(in, sizeof(in), "{\"time\":\"%s\",\"actor\":\"a\","
		    "\"action\":\"b\"}", good[i]);
		snprintf(want, sizeof(want), "{\"action\":\"b\",\"actor\":\"a\","
		    "\"time\":\"%s\"}", good[i]);
		ACCEPT(in, want);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char because[128];

		assert_int_equal(entry_time_valid(bad[i]), ERR_FORMAT);
		snprintf(in, sizeof(in), "{\"actor\":\"a\",\"action\":\"b\","
		    "\"time\":\"%s\"}", bad[i]);
		snprintf(because, sizeof(because), "field 'time' is '%s', not "
		    "RFC 3339 UTC (YYYY-MM-DDTHH:MM:SS[.ffffff]Z)", bad[i]);
		REFUSE(in, because);
	}
	/* Shown so that the reason stays one printable line. */
	REFUSE("{\"actor\":\"a\",\"action\":\"b\",\"time\":\"2024-01-02T03:04:05"
	    "\x7f\xc2\x85Z\"}", "field 'time' is '2024-01-02T03:04:05\\u007F"
	    "\\u0085Z', not RFC 3339 UTC");
	/* Too long, or needing escapes: no quote of the value. */
	REFUSE("{\"actor\":\"a\",\"action\":\"b\",\"time\":\"2024-01-02T03:04:05."
	    "1234567890123456789012345Z\"}",
	    "field 'time' is not RFC 3339 UTC (YYYY-MM-DDTHH:MM:SS[.ffffff]Z)");
	REFUSE("{\"actor\":\"a\",\"action\":\"b\",\"time\":\"2024-01-02\\n"
	    "T03:04:05Z\"}", "field 'time' is not RFC 3339 UTC");
	REFUSE("{\"actor\":\"a\",\"action\":\"b\",\"time\":\"\"}",
	    "field 'time' must be a non-empty string");
	REFUSE("{\"actor\":\"a\",\"action\":\"b\",\"time\":1704164645}",
	    "field 'time' must be a non-empty string");
	/* A NOW that is not a time is the caller's bug, not the entry's. */
	{
		char *out = NULL, why[256];
		size_t outlen;

		assert_int_equal(entry_canonicalize("{\"actor\":\"a\","
		    "\"action\":\"b\"}", 26, "x\",\"actor\":\"evil", &out,
		    &outlen, why, sizeof(why)), ERR_INVAL);
		assert_null(out);
		assert_true(entry_ref_why_ok(why));
	}
}

static void
test_time_now(void **state)
{
	char buf[40], *end;

	(void)state;
	for (int i = 0; i < 1000; i++) {
		entry_time_now(buf, sizeof(buf));
		assert_int_equal(strlen(buf), 27);
		assert_int_equal(entry_time_valid(buf), ERR_OK);
		assert_int_equal(buf[19], '.');
		assert_true(strtol(buf + 20, &end, 10) < 1000000 && *end == 'Z');
	}
}

static void
test_schema(void **state)
{
	static const char *const fields[] = {
		"actor", "action", "source", "target", "decision", "session",
	};
	static const char *const not_strings[] = {
		"\"\"", "1", "-0", "null", "true", "false", "[]", "[\"x\"]", "{}",
		"{\"a\":\"b\"}",
	};
	static const char *const not_objects[] = {
		"[]", "[{}]", "\"{}\"", "\"\"", "1", "null", "true",
	};
	static const char *const not_entries[] = {
		"[]", "[{\"actor\":\"a\",\"action\":\"b\"}]", "\"x\"", "1", "-1",
		"null", "true", "false", "\"{}\"",
	};
	char in[256], because[128];

	(void)state;
	for (size_t i = 0; i < sizeof(not_entries) / sizeof(not_entries[0]); i++)
		REFUSE(not_entries[i], "an entry must be a JSON object");
	REFUSE("{}", "missing field 'actor'");
	REFUSE("{\"action\":\"b\"}", "missing field 'actor'");
	REFUSE("{\"actor\":\"a\"}", "missing field 'action'");
	REFUSE("{\"actor\":\"a\",\"detail\":{},\"source\":\"s\"}",
	    "missing field 'action'");
	REFUSE("{\"actor\":\"a\",\"action\":\"b\",\"colour\":\"red\"}",
	    "unknown field 'colour'; entries have time, actor, source, target, "
	    "action, decision, session and detail");
	REFUSE("{\"Actor\":\"a\",\"action\":\"b\"}", "unknown field 'Actor'");
	REFUSE("{\"actor \":\"a\",\"action\":\"b\"}", "unknown field 'actor '");
	REFUSE("{\"\":\"a\",\"actor\":\"a\",\"action\":\"b\"}",
	    "unknown field ''");
	REFUSE("{\"details\":{},\"actor\":\"a\",\"action\":\"b\"}",
	    "unknown field 'details'");
	/* Unknown keys show escaped, so the reason stays one line. */
	REFUSE("{\"actor\":\"a\",\"action\":\"b\",\"x\\ny\\u001b[2J\":1}",
	    "unknown field 'x\\ny\\u001B[2J'");
	REFUSE("{\"actor\":\"a\",\"action\":\"b\",\"x\x7fy\xc2\x9bz\xe2\x80\xa8"
	    "\xe2\x80\xae\xe2\x81\xa6q\":1}",
	    "unknown field 'x\\u007Fy\\u009Bz\\u2028\\u202E\\u2066q'");
	REFUSE("{\"actor\":\"a\",\"action\":\"b\",\"\\u00e9\\\"\":1}",
	    "unknown field '\xc3\xa9\\\"'");
	/* Long ones are cut after 64 bytes, between characters. */
	{
		char digits[64];

		memset(digits, '7', sizeof(digits));
		snprintf(in, sizeof(in), "{\"actor\":\"a\",\"action\":\"b\","
		    "\"%.63s\\n\":1}", digits);
		snprintf(because, sizeof(because), "unknown field '%.63s...'",
		    digits);
		REFUSE(in, because);
		snprintf(in, sizeof(in), "{\"actor\":\"a\",\"action\":\"b\","
		    "\"%.62s\xc3\xa9\xc3\xa9\":1}", digits);
		snprintf(because, sizeof(because), "unknown field '%.62s\xc3\xa9...'",
		    digits);
		REFUSE(in, because);
		snprintf(in, sizeof(in), "{\"actor\":\"a\",\"action\":\"b\","
		    "\"%.62s\\t\":1}", digits);
		snprintf(because, sizeof(because), "unknown field '%.62s\\t'; ",
		    digits);
		REFUSE(in, because);
	}
	for (size_t f = 0; f < sizeof(fields) / sizeof(fields[0]); f++) {
		for (size_t i = 0; i < sizeof(not_strings) / sizeof(not_strings[0]);
		    i++) {
			if (f < 2)	/* not a duplicate */
				snprintf(in, sizeof(in), "{\"%s\":%s,\"%s\":\"x\"}",
				    fields[f], not_strings[i], fields[1 - f]);
			else
				snprintf(in, sizeof(in), "{\"actor\":\"a\","
				    "\"action\":\"b\",\"%s\":%s}", fields[f],
				    not_strings[i]);
			snprintf(because, sizeof(because), "field '%s' must be a "
			    "non-empty string", fields[f]);
			REFUSE(in, because);
		}
	}
	for (size_t i = 0; i < sizeof(not_objects) / sizeof(not_objects[0]); i++) {
		snprintf(in, sizeof(in), IN_D("%s"), not_objects[i]);
		REFUSE(in, "field 'detail' must be an object");
	}
	REFUSE(IN_D("{\"n\":0.5}"), "a fractional number is not allowed; use "
	    "integers or strings");
}

/*
 * An entry whose detail holds a chain of levels containers (arrays or
 * objects), so that it nests levels + 2 deep.
 */
static char *
deep(int levels, int arrays)
{
	size_t cap = (size_t)levels * 8 + 64, o = 0;
	char *s = malloc(cap);

	assert_non_null(s);
	o += (size_t)snprintf(s, cap, "{" AA ",\"detail\":{\"k\":");
	for (int i = 0; i < levels; i++)
		o += (size_t)snprintf(s + o, cap - o, "%s", arrays ? "[" :
		    i < levels - 1 ? "{\"k\":" : "{");
	o += (size_t)snprintf(s + o, cap - o, "%s", arrays ? "1" : "");
	for (int i = 0; i < levels; i++)
		o += (size_t)snprintf(s + o, cap - o, "%s", arrays ? "]" : "}");
	snprintf(s + o, cap - o, "}}");
	return s;
}

static void
test_depth(void **state)
{
	char *s;

	(void)state;
	/* The entry is level 1, detail level 2: 62 more make 64. */
	for (int arrays = 0; arrays < 2; arrays++) {
		s = deep(62, arrays);
		ACCEPT(s, s);
		free(s);
		/* Deeper is refused, here only: jansson stops at 66. */
		s = deep(63, arrays);
		{
			char *out = NULL, why[256];
			size_t outlen;

			assert_int_equal(entry_canonicalize(s, strlen(s), NULL, &out,
			    &outlen, why, sizeof(why)), ERR_FORMAT);
			assert_string_equal(why, "entry nests deeper than 64 levels");
			assert_null(entry_ref_differ(s, strlen(s), NULL, NULL));
		}
		free(s);
		s = deep(5000, arrays);
		refuse_(s, strlen(s), NULL, ERR_FORMAT, "nests deeper", __LINE__);
		free(s);
	}
	/* Outside detail too: "actor" at level 1 holding 64 arrays. */
	{
		char in[256];
		size_t o = 0;

		o += (size_t)snprintf(in, sizeof(in), "{\"actor\":");
		memset(in + o, '[', 64);
		memset(in + o + 64, ']', 64);
		snprintf(in + o + 128, sizeof(in) - o - 128, "}");
		REFUSE(in, "entry nests deeper than 64 levels");
	}
}

static void
test_sizes(void **state)
{
	static const char pfx[] = "{" AA ",\"detail\":{\"s\":\"";
	const size_t pl = sizeof(pfx) - 1, base = pl + 3;
	const size_t n = ENTRY_MAX_LEN - base, m = n / 2;
	char *in, *out = NULL, why[256];
	size_t outlen;

	(void)state;
	in = malloc(ENTRY_MAX_INPUT + 2);
	assert_non_null(in);
	/* Exactly ENTRY_MAX_LEN canonical bytes pass; one more does not. */
	memcpy(in, pfx, pl);
	memset(in + pl, 'x', n);
	memcpy(in + pl + n, "\"}}", 4);
	assert_int_equal(strlen(in), ENTRY_MAX_LEN);
	accept_(in, strlen(in), NULL, in, __LINE__);
	/* With the time added it is too long. */
	refuse_(in, strlen(in), NOW, ERR_TOOBIG, "entry longer than 65535 bytes "
	    "after canonicalization; store large data as a blob", __LINE__);
	memset(in + pl, 'x', n + 1);
	memcpy(in + pl + n + 1, "\"}}", 4);
	refuse_(in, strlen(in), NULL, ERR_TOOBIG, "after canonicalization",
	    __LINE__);
	/* Escapes that shrink bring a longer input under the limit. */
	for (size_t i = 0; i < m; i++)
		memcpy(in + pl + 6 * i, i & 1 ? "\\u00E9" : "\\u00e9", 6);
	memcpy(in + pl + 6 * m, "\"}}", 4);
	assert_true(strlen(in) > 2 * ENTRY_MAX_LEN);
	assert_int_equal(entry_canonicalize(in, strlen(in), NULL, &out, &outlen,
	    why, sizeof(why)), ERR_OK);
	assert_int_equal(outlen, base + 2 * m);
	assert_null(entry_ref_differ(in, strlen(in), NULL, NULL));
	free(out);
	/* White space counts only against the raw input limit. */
	memset(in, ' ', ENTRY_MAX_INPUT + 1);
	memcpy(in + ENTRY_MAX_INPUT - 26, "{\"actor\":\"a\",\"action\":\"b\"}",
	    26);
	accept_(in, ENTRY_MAX_INPUT, NULL, "{\"action\":\"b\",\"actor\":\"a\"}",
	    __LINE__);
	refuse_(in, ENTRY_MAX_INPUT + 1, NULL, ERR_TOOBIG, "entry longer than "
	    "262140 bytes before canonicalization; store large data as a blob",
	    __LINE__);
	free(in);
}

static void
test_why_buffer(void **state)
{
	const char *in = "{\"actor\":\"a\",\"action\":\"b\",\"colour\":1}";
	char *out = NULL, why[8];
	size_t outlen;

	(void)state;
	/* why may be NULL, or short: the reason is cut, still terminated. */
	assert_int_equal(entry_canonicalize(in, strlen(in), NULL, &out, &outlen,
	    NULL, 0), ERR_FORMAT);
	assert_int_equal(entry_canonicalize(in, strlen(in), NULL, &out, &outlen,
	    why, sizeof(why)), ERR_FORMAT);
	assert_string_equal(why, "unknown");
	assert_int_equal(entry_canonicalize(in, strlen(in), NULL, &out, &outlen,
	    why, 1), ERR_FORMAT);
	assert_string_equal(why, "");
	/* A non-terminated input is read only up to len. */
	assert_int_equal(entry_canonicalize("{\"actor\":\"a\",\"action\":\"b\"}xx",
	    26, NULL, &out, &outlen, why, sizeof(why)), ERR_OK);
	assert_string_equal(out, "{\"action\":\"b\",\"actor\":\"a\"}");
	free(out);
}

/*
 * The property test's generator. Inputs come in three kinds: clean
 * (valid by construction, up to the chance collision), spoiled (each
 * string, number, key or member may go wrong in one of the ways the known
 * answers list) and mutated (either, then bytes flipped, cut, deleted or
 * inserted).
 */
struct gen {
	uint64_t s;
	char *p;
	size_t len, cap;
	int bad;		/* spoil on purpose */
	int maxdepth;
};

static uint64_t
rnd(struct gen *g)
{
	uint64_t z = (g->s += 0x9e3779b97f4a7c15ULL);	/* splitmix64 */

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static unsigned
below(struct gen *g, unsigned n)
{
	return (unsigned)(rnd(g) % n);
}

static int
pct(struct gen *g, unsigned p)
{
	return below(g, 100) < p;
}

/* Whether to spoil this spot: only in spoiled inputs, and rarely. */
static int
spoil(struct gen *g, unsigned per_mille)
{
	return g->bad && below(g, 1000) < per_mille;
}

static void
g_put(struct gen *g, const void *s, size_t n)
{
	if (g->len + n > g->cap) {
		size_t cap = g->cap ? g->cap : 1024;

		while (cap < g->len + n)
			cap *= 2;
		if ((g->p = realloc(g->p, cap)) == NULL)
			abort();
		g->cap = cap;
	}
	memcpy(g->p + g->len, s, n);
	g->len += n;
}

static void
g_puts(struct gen *g, const char *s)
{
	g_put(g, s, strlen(s));
}

static void
g_putc(struct gen *g, int ch)
{
	char c = (char)ch;

	g_put(g, &c, 1);
}

static const char *
pick(struct gen *g, const char *const *list, size_t n)
{
	return list[below(g, (unsigned)n)];
}
#define PICK(g, list) pick(g, list, sizeof(list) / sizeof(list[0]))

static void
g_ws(struct gen *g)
{
	static const char *const ws[] = { " ", "\t", "\n", "\r", "  ", "\r\n" };
	static const char *const notws[] = { "\f", "\v", "\xc2\xa0", "\xef\xbb\xbf" };

	if (pct(g, 10))
		g_puts(g, PICK(g, ws));
	if (spoil(g, 3))
		g_puts(g, PICK(g, notws));
}

static void
g_utf8(struct gen *g, unsigned cp)
{
	unsigned char b[4];
	size_t n;

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
	g_put(g, b, n);
}

/* A random Unicode scalar value, often at an edge. */
static unsigned
g_cp(struct gen *g)
{
	static const unsigned edges[] = {
		0, 1, 0x1f, 0x20, '"', '/', '\\', 0x7e, 0x7f, 0x80, 0xe9, 0x7ff,
		0x800, 0x2028, 0xd7ff, 0xe000, 0xfeff, 0xfffd, 0xffff, 0x10000,
		0x1f600, 0x10ffff,
	};

	switch (below(g, 8)) {
	case 0: return 0x80 + below(g, 0x780);
	case 1: return 0x800 + below(g, 0xd800 - 0x800);
	case 2: return 0xe000 + below(g, 0x2000);
	case 3: return 0x10000 + below(g, 0x100000);
	case 4: return below(g, 0x20);
	case 5:
	case 6: return edges[below(g, sizeof(edges) / sizeof(edges[0]))];
	default: return 0x20 + below(g, 0x60);
	}
}

static void
g_escape_u(struct gen *g, unsigned v)
{
	char b[8];

	snprintf(b, sizeof(b), pct(g, 50) ? "\\u%04x" : "\\u%04X", v);
	g_puts(g, b);
}

/* One piece of string content. */
static void
g_piece(struct gen *g)
{
	static const char *const simple[] = {
		"\\\"", "\\\\", "\\/", "\\b", "\\f", "\\n", "\\r", "\\t",
	};
	static const char *const badutf8[] = {
		"\xc0\xaf", "\xc1\xbf", "\xe0\x80\xaf", "\xe0\x9f\xbf",
		"\xf0\x80\x80\xaf", "\xed\xa0\x80", "\xed\xbf\xbf",
		"\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xf8\x88\x80\x80\x80",
		"\xfe", "\xff", "\xc3", "\xe2\x82", "\xf0\x9f\x98", "\x80", "\xbf",
	};
	static const char *const badesc[] = {
		"\\x41", "\\U0041", "\\a", "\\'", "\\0", "\\u12", "\\uZZZZ",
		"\\u0000", "\\ud800", "\\udc00", "\\ude00\\ud83d", "\\ud800\\u0041",
		"\\ud800\\ud800", "\\",
	};
	unsigned cp, k;

	if (spoil(g, 60)) {
		switch (below(g, 3)) {
		case 0: g_puts(g, PICK(g, badutf8)); return;
		case 1: g_puts(g, PICK(g, badesc)); return;
		default: g_putc(g, (int)below(g, 0x20)); return;
		}
	}
	k = below(g, 100);
	if (k < 40) {
		for (unsigned n = 1 + below(g, 8); n > 0; n--) {
			char ch = (char)(0x20 + below(g, 0x5f));

			g_putc(g, ch == '"' || ch == '\\' ? '.' : ch);
		}
	} else if (k < 50) {
		g_puts(g, PICK(g, simple));
	} else if (k < 68) {
		cp = g_cp(g);
		if (cp == 0)
			cp = 1;
		if (cp >= 0x10000) {
			g_escape_u(g, 0xd800 + ((cp - 0x10000) >> 10));
			g_escape_u(g, 0xdc00 + ((cp - 0x10000) & 0x3ff));
		} else if (cp >= 0xd800 && cp < 0xe000) {
			g_escape_u(g, 0xfffd);
		} else {
			g_escape_u(g, cp);
		}
	} else if (k < 88) {
		cp = g_cp(g);
		if (cp < 0x20 || cp == '"' || cp == '\\')
			cp = 0xe9;
		g_utf8(g, cp);
	} else if (k < 92) {
		g_putc(g, 0x7f);
	} else {
		static const char *const look[] = {
			"{", "}", "[", "]", ":", ",", "\\\"}", "\\\",\\\"", "true",
			"1.5", "\xe2\x80\xa8",
		};

		g_puts(g, PICK(g, look));
	}
}

static void
g_string(struct gen *g, unsigned minpieces, unsigned maxpieces)
{
	unsigned n = minpieces + below(g, maxpieces - minpieces + 1);

	g_putc(g, '"');
	while (n-- > 0)
		g_piece(g);
	g_putc(g, '"');
}

static void
g_number(struct gen *g)
{
	static const char *const edge[] = {
		"0", "-0", "1", "-1", "10", "9223372036854775807",
		"-9223372036854775808", "9223372036854775806",
		"-9223372036854775807", "922337203685477580", "100000000000000000",
	};
	static const char *const bad[] = {
		"9223372036854775808", "-9223372036854775809",
		"18446744073709551616", "99999999999999999999", "1.0", "1.5",
		"-0.0", "1e3", "1E3", "1e-3", "0e0", "01", "-01", "00", "+1", "-",
		"1.", ".5", "1e", "0x10", "Infinity", "NaN", "--1", "1e400",
	};
	char b[32];

	if (spoil(g, 40)) {
		g_puts(g, PICK(g, bad));
		return;
	}
	switch (below(g, 4)) {
	case 0:
		g_puts(g, PICK(g, edge));
		return;
	case 1:
		snprintf(b, sizeof(b), "%lld", (long long)rnd(g));
		break;
	default:
		snprintf(b, sizeof(b), "%d", (int)below(g, 2000) - 1000);
		break;
	}
	g_puts(g, b);
}

/* Keys of detail objects: a small pool, so that sorting has work and
 * different spellings of one key meet; cls groups equal keys. */
static const struct {
	const char *k;
	int cls;
} dkeys[] = {
	{ "a", 0 }, { "\\u0061", 0 }, { "b", 1 }, { "\\u0062", 1 }, { "c", 2 },
	{ "aa", 3 }, { "ab", 4 }, { "a ", 5 }, { "A", 6 }, { "B", 7 },
	{ "_", 8 }, { "", 9 }, { "/", 10 }, { "\\/", 10 }, { "\\n", 11 },
	{ "\\u000a", 11 }, { "\\u000A", 11 }, { "\\u001f", 12 }, { "\\t", 13 },
	{ "\xc3\xa9", 14 }, { "\\u00e9", 14 }, { "\\u00E9", 14 },
	{ "\xef\xbf\xbd", 15 }, { "\\ufffd", 15 }, { "\\ud83d\\ude00", 16 },
	{ "\xf0\x9f\x98\x80", 16 }, { "\x7f", 17 }, { "~", 18 },
	{ "\\\"", 19 }, { "\\\\", 20 }, { "id", 21 }, { "sha256", 22 },
	{ "size", 23 }, { "user", 24 }, { "time", 25 }, { "actor", 26 },
};
#define NDKEYS (sizeof(dkeys) / sizeof(dkeys[0]))

static void g_value(struct gen *g, int depth);

static void
g_object(struct gen *g, int depth)
{
	unsigned roll = below(g, 1000);
	/* Now and then one large enough for sort_members() to use qsort. */
	unsigned n = roll < 150 ? 0 : roll < 985 ? 1 + below(g, 5) :
	    20 + below(g, 60);
	uint64_t used = 0;

	g_putc(g, '{');
	g_ws(g);
	for (unsigned i = 0; i < n; i++) {
		if (i > 0) {
			g_putc(g, ',');
			g_ws(g);
		}
		if (pct(g, 75)) {
			size_t k = below(g, NDKEYS);

			/* Clean inputs take each key once, unless spoiled. */
			if ((used >> dkeys[k].cls & 1) && !spoil(g, 300)) {
				g_string(g, 1, 3);
			} else {
				g_putc(g, '"');
				g_puts(g, dkeys[k].k);
				g_putc(g, '"');
				used |= (uint64_t)1 << dkeys[k].cls;
			}
		} else {
			g_string(g, 1, 3);
		}
		g_ws(g);
		g_putc(g, ':');
		g_ws(g);
		g_value(g, depth + 1);
		g_ws(g);
	}
	g_putc(g, '}');
}

static void
g_array(struct gen *g, int depth)
{
	unsigned n = below(g, 100) < 15 ? 0 : 1 + below(g, 5);

	g_putc(g, '[');
	g_ws(g);
	for (unsigned i = 0; i < n; i++) {
		if (i > 0) {
			g_putc(g, ',');
			g_ws(g);
		}
		g_value(g, depth + 1);
		g_ws(g);
	}
	g_putc(g, ']');
}

static void
g_value(struct gen *g, int depth)
{
	static const char *const lits[] = { "true", "false", "null" };
	static const char *const badlits[] = {
		"tru", "nul", "True", "nulll", "falsey", "undefined", "'x'",
	};
	unsigned k = below(g, 100);

	if (depth >= g->maxdepth && k < 30)
		k += 30;
	if (k < 18)
		g_object(g, depth);
	else if (k < 30)
		g_array(g, depth);
	else if (k < 62)
		g_string(g, 0, 6);
	else if (k < 88)
		g_number(g);
	else if (spoil(g, 100))
		g_puts(g, PICK(g, badlits));
	else
		g_puts(g, PICK(g, lits));
}

/* A chain of containers around the depth limits. */
static void
g_deep(struct gen *g)
{
	char close[80];
	int levels = 50 + (int)below(g, 20);

	for (int i = 0; i < levels; i++) {
		if (pct(g, 50)) {
			g_putc(g, '[');
			close[i] = ']';
		} else {
			g_puts(g, pct(g, 50) ? "{\"b\":1,\"a\":" : "{\"k\":");
			close[i] = '}';
		}
	}
	g_value(g, g->maxdepth);
	while (levels-- > 0)
		g_putc(g, close[levels]);
}

static void
g_time(struct gen *g)
{
	static const char *const bad[] = {
		"2024-01-02T03:04:05", "2024-01-02T03:04:05z", "2024-01-02 03:04:05Z",
		"2024-01-02T03:04:05+00:00", "2024-01-02T03:04:05.Z",
		"2024-01-02T03:04:05.1234567890Z", "2024-13-02T03:04:05Z",
		"2024-01-32T03:04:05Z", "2024-01-02T24:04:05Z",
		"2024-01-02T03:04:61Z", "", "now",
		"\\u0032024-01-02T03:04:05\\u005a", "2024-01-02T03:04:05\\u005A",
		"2024-01-02T03:04:05\\n",
	};
	unsigned f[6];
	char b[64];
	int n;

	if (spoil(g, 300)) {
		g_putc(g, '"');
		g_puts(g, PICK(g, bad));
		g_putc(g, '"');
		return;
	}
	/* One call each, in order: the same sequence whatever the compiler. */
	f[0] = below(g, 10000);
	f[1] = 1 + below(g, 12);
	f[2] = 1 + below(g, 31);
	f[3] = below(g, 24);
	f[4] = below(g, 60);
	f[5] = below(g, 61);
	n = snprintf(b, sizeof(b), "\"%04u-%02u-%02uT%02u:%02u:%02u", f[0], f[1],
	    f[2], f[3], f[4], f[5]);
	if (pct(g, 60)) {
		unsigned digits = 1 + below(g, 9);

		b[n++] = '.';
		while (digits-- > 0)
			b[n++] = (char)('0' + below(g, 10));
	}
	b[n++] = 'Z';
	b[n++] = '"';
	b[n] = '\0';
	g_puts(g, b);
}

static void
g_entry(struct gen *g)
{
	static const char *const names[] = {
		"action", "actor", "decision", "detail", "session", "source",
		"target", "time",
	};
	static const char *const spelled[] = {
		"\\u0061ction", "act\\u006for", "detai\\u006c", "ti\\u006De",
	};
	static const char *const unknown[] = {
		"colour", "Action", "actor ", "", "details", "tim", "timestamp",
		"\\n", "action\\u0000",
	};
	int order[12], n = 0, i;
	const int keep_sorted = pct(g, 30);

	for (i = 0; i < 8; i++) {
		int p = i < 2 ? 97 : i == 7 ? 40 : 50;

		if (pct(g, (unsigned)p))
			order[n++] = i;
	}
	if (spoil(g, 200))
		order[n++] = 8;		/* unknown */
	if (n > 0 && spoil(g, 150)) {
		int dup = order[below(g, (unsigned)n)];

		order[n++] = dup;	/* a duplicate */
	}
	if (!keep_sorted) {
		for (i = n - 1; i > 0; i--) {
			int j = (int)below(g, (unsigned)i + 1), t = order[i];

			order[i] = order[j];
			order[j] = t;
		}
	}
	g_ws(g);
	g_putc(g, '{');
	g_ws(g);
	for (i = 0; i < n; i++) {
		int f = order[i];

		if (i > 0) {
			g_putc(g, ',');
			g_ws(g);
		}
		g_putc(g, '"');
		if (f == 8)
			g_puts(g, PICK(g, unknown));
		else if (pct(g, 3) && (f == 0 || f == 1 || f == 3 || f == 7))
			g_puts(g, spelled[f == 0 ? 0 : f == 1 ? 1 : f == 3 ? 2 : 3]);
		else
			g_puts(g, names[f]);
		g_putc(g, '"');
		g_ws(g);
		g_putc(g, ':');
		g_ws(g);
		if (spoil(g, 50))
			g_value(g, 1);
		else if (f == 3 && below(g, 1000) < 4) {
			g_puts(g, "{\"deep\":");
			g_deep(g);
			g_putc(g, '}');
		} else if (f == 3)
			g_object(g, 1);
		else if (f == 7)
			g_time(g);
		else if (f == 8)
			g_value(g, 1);
		else
			g_string(g, g->bad ? 0 : 1, 6);
		g_ws(g);
	}
	g_putc(g, '}');
	g_ws(g);
}

static void
g_mutate(struct gen *g)
{
	static const char junk[] = "\"{}[],:\\ \t0-1eE.\x00\x80\xc3\xff\x7fuZ";

	for (unsigned n = 1 + below(g, 3); n > 0; n--) {
		size_t at = g->len ? below(g, (unsigned)g->len) : 0;

		switch (below(g, 6)) {
		case 0:
			if (g->len)
				g->p[at] ^= (char)(1u << below(g, 8));
			break;
		case 1:
			if (g->len)
				g->p[at] = junk[below(g, sizeof(junk) - 1)];
			break;
		case 2:
			g_putc(g, 0);
			memmove(g->p + at + 1, g->p + at, g->len - 1 - at);
			g->p[at] = junk[below(g, sizeof(junk) - 1)];
			break;
		case 3:
			if (g->len) {
				memmove(g->p + at, g->p + at + 1, g->len - at - 1);
				g->len--;
			}
			break;
		case 4:
			g->len = at;
			break;
		default: {
			size_t from = g->len ? below(g, (unsigned)g->len) : 0;
			size_t k = 1 + below(g, 16), old = g->len;

			if (from + k > old)
				k = old - from;
			for (size_t i = 0; i < k; i++)
				g_putc(g, 0);
			memmove(g->p + at + k, g->p + at, old - at);
			memmove(g->p + at, g->p + (from < at ? from : from + k), k);
			break;
		}
		}
	}
}

static uint64_t
env_u64(const char *name, uint64_t dflt)
{
	const char *s = getenv(name);
	char *end;
	unsigned long long v;

	if (s == NULL || *s == '\0')
		return dflt;
	v = strtoull(s, &end, 0);
	return *end == '\0' ? v : dflt;
}

/* Saves a failing input where BULWARK_ENTRY_DUMP says, for the corpus. */
static void
dump_input(const char *in, size_t len)
{
	const char *path = getenv("BULWARK_ENTRY_DUMP");
	FILE *f;

	if (path == NULL || (f = fopen(path, "wb")) == NULL)
		return;
	if (fwrite(in, 1, len, f) != len)
		print_error("cannot write %s\n", path);
	fclose(f);
}

static void
test_differential(void **state)
{
	uint64_t seed = env_u64("BULWARK_ENTRY_SEED", 0x62756c7761726bULL);
	uint64_t iters = env_u64("BULWARK_ENTRY_ITERS", 200000);
	uint64_t accepted = 0, spoiled = 0, mutated = 0, deep_skipped = 0;
	struct gen g;

	(void)state;
	memset(&g, 0, sizeof(g));
	g.s = seed;
	for (uint64_t it = 0; it < iters; it++) {
		const char *now = (it & 1) ? NOW : NULL, *bad;
		unsigned kind = below(&g, 100);
		int acc;

		g.len = 0;
		g.bad = kind >= 55;
		g.maxdepth = 1 + (int)below(&g, 6);
		if (below(&g, 100) < 3)
			g_value(&g, 0);
		else
			g_entry(&g);
		if (kind >= 75) {
			g_mutate(&g);
			mutated++;
		} else if (g.bad) {
			spoiled++;
		}
		if (entry_ref_nesting(g.p, g.len) > ENTRY_REF_AGREE_DEPTH)
			deep_skipped++;
		if ((bad = entry_ref_differ(g.p, g.len, now, &acc)) != NULL) {
			dump_input(g.p, g.len);
			fail_msg("input %llu (seed %#llx, now %s): %s: %s",
			    (unsigned long long)it, (unsigned long long)seed,
			    now ? now : "NULL", bad, show(g.p, g.len));
		}
		accepted += (uint64_t)acc;
	}
	free(g.p);
	print_message("[ stats    ] %llu inputs (%llu spoiled, %llu mutated): "
	    "%llu accepted, %llu refused, %llu too deep to compare\n",
	    (unsigned long long)iters, (unsigned long long)spoiled,
	    (unsigned long long)mutated, (unsigned long long)accepted,
	    (unsigned long long)(iters - accepted),
	    (unsigned long long)deep_skipped);
	/* The generator must exercise both sides. */
	assert_true(accepted > iters / 4);
	assert_true(iters - accepted > iters / 4);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_order),
		cmocka_unit_test(test_nested_order),
		cmocka_unit_test(test_many_members),
		cmocka_unit_test(test_white_space),
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_surrogates),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_nul_and_controls),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_literals),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_structure),
		cmocka_unit_test(test_time),
		cmocka_unit_test(test_time_now),
		cmocka_unit_test(test_schema),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_why_buffer),
		cmocka_unit_test(test_differential),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
