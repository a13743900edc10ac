/*
 * test_checkpoint.c - C2SP tlog-checkpoint bodies.
 *
 * Known answers: the checkpoint of the 8-leaf RFC 6962 test tree signed
 * with the PeterNeumann key of golang.org/x/mod sumdb/note/note_test.go
 * (Ed25519 is deterministic, so the signed note is fixed to the byte), and
 * the example body of c2sp.org/tlog-checkpoint.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "audit/checkpoint.h"
#include "audit/note.h"
#include "common/banned.h"

#define EM "\xe2\x80\x94"	/* U+2014 EM DASH */

static const char peter_skey[] =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
static const char peter_vkey[] =
    "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
static const char rfc6962_root8_b64[] =
    "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=";
static const char peter_checkpoint8[] =
    "PeterNeumann\n"
    "8\n"
    "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n"
    "\n"
    EM " PeterNeumann x08gozdSgLMzAnw63LH1RGViJhUfW60EUGKY7Kmr004fQNOSqfrcd1hIk3BCtdcLWIqvGtX67sL24VN+44uTlxMnbAA=\n";

static const char spec_body[] =
    "example.com/behind-the-sofa\n"
    "20852163\n"
    "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";

static void
decode_root(const char *b64, uint8_t root[MERKLE_HASH_LEN])
{
	size_t len = 0;

	assert_int_equal(sodium_base642bin(root, MERKLE_HASH_LEN, b64,
	    strlen(b64), NULL, &len, NULL, sodium_base64_VARIANT_ORIGINAL), 0);
	assert_int_equal(len, MERKLE_HASH_LEN);
}

static void
parse_ok(const char *text, size_t len, struct checkpoint *c)
{
	assert_int_equal(checkpoint_parse(text, len, c), ERR_OK);
}

static int
parse_err(const char *text, size_t len)
{
	struct checkpoint c;
	int r;

	memset(&c, 0xa5, sizeof(c));
	r = checkpoint_parse(text, len, &c);
	assert_int_not_equal(r, ERR_OK);
	assert_null(c.origin);
	assert_null(c.extensions);
	assert_int_equal(c.size, 0);
	return r;
}

/* format(parse(text)) == text. */
static void
assert_roundtrip(const char *text)
{
	struct checkpoint c;
	char *out = NULL;
	size_t len = 0;

	parse_ok(text, strlen(text), &c);
	assert_int_equal(checkpoint_format(&c, &out, &len), ERR_OK);
	assert_int_equal(len, strlen(text));
	assert_string_equal(out, text);
	free(out);
	checkpoint_release(&c);
}

static void
test_peter_checkpoint8(void **state)
{
	struct checkpoint c, p;
	struct note_signer *s = NULL;
	struct note_verifier *v = NULL;
	const struct note_signer *list[1];
	struct note *n = NULL;
	char *body = NULL, *signed_note = NULL;
	size_t body_len = 0, len = 0;

	(void)state;
	memset(&c, 0, sizeof(c));
	c.origin = "PeterNeumann";
	c.size = 8;
	decode_root(rfc6962_root8_b64, c.root);
	assert_int_equal(checkpoint_format(&c, &body, &body_len), ERR_OK);
	assert_string_equal(body, "PeterNeumann\n8\n"
	    "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n");

	assert_int_equal(note_signer_from_skey(peter_skey, &s), ERR_OK);
	list[0] = s;
	assert_int_equal(note_sign(body, body_len, list, 1, &signed_note,
	    &len), ERR_OK);
	assert_int_equal(len, strlen(peter_checkpoint8));
	assert_memory_equal(signed_note, peter_checkpoint8, len);

	/* And back: the note verifies and its text is the same checkpoint. */
	assert_int_equal(note_verifier_from_vkey(peter_vkey, &v), ERR_OK);
	assert_int_equal(note_parse(signed_note, len, &n), ERR_OK);
	assert_int_equal(note_verify(n, v, NULL), ERR_OK);
	parse_ok(n->text, n->text_len, &p);
	assert_string_equal(p.origin, "PeterNeumann");
	assert_int_equal(p.size, 8);
	assert_memory_equal(p.root, c.root, MERKLE_HASH_LEN);
	assert_null(p.extensions);
	checkpoint_release(&p);
	checkpoint_release(&p);	/* twice is harmless */

	note_free(n);
	note_verifier_free(v);
	note_signer_free(s);
	free(signed_note);
	free(body);
}

static void
test_parse_good(void **state)
{
	struct checkpoint c;
	uint8_t root[MERKLE_HASH_LEN];
	const char *t;

	(void)state;
	parse_ok(spec_body, strlen(spec_body), &c);
	assert_string_equal(c.origin, "example.com/behind-the-sofa");
	assert_int_equal(c.size, 20852163);
	decode_root("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=", root);
	assert_memory_equal(c.root, root, MERKLE_HASH_LEN);
	assert_null(c.extensions);
	checkpoint_release(&c);
	assert_roundtrip(spec_body);

	t = "log with spaces+plus \xc3\xa9\n0\n"
	    "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"
	    "ext one\n\xe2\x80\x94 two\n";
	parse_ok(t, strlen(t), &c);
	assert_string_equal(c.origin, "log with spaces+plus \xc3\xa9");
	assert_int_equal(c.size, 0);
	assert_string_equal(c.extensions, "ext one\n\xe2\x80\x94 two\n");
	checkpoint_release(&c);
	assert_null(c.origin);
	assert_null(c.extensions);
	assert_roundtrip(t);

	t = "o\n18446744073709551615\n"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
	parse_ok(t, strlen(t), &c);
	assert_true(c.size == UINT64_MAX);
	checkpoint_release(&c);
	assert_roundtrip(t);
	assert_roundtrip("o\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n");
	assert_roundtrip("o\n10\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n");
	checkpoint_release(NULL);
}

static void
test_parse_negative(void **state)
{
#define R "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
	static const char *bad[] = {
		/* leading zeros, signs, spaces, non-digits */
		"o\n08\n" R "\n",
		"o\n00\n" R "\n",
		"o\n-1\n" R "\n",
		"o\n+1\n" R "\n",
		"o\n 8\n" R "\n",
		"o\n8 \n" R "\n",
		"o\n0x8\n" R "\n",
		"o\n8.0\n" R "\n",
		"o\n1e3\n" R "\n",
		"o\n\n" R "\n",
		"o\n\xd9\xa8\n" R "\n",		/* ARABIC-INDIC DIGIT EIGHT */
		/* over 2^64 - 1 */
		"o\n18446744073709551616\n" R "\n",
		"o\n18446744073709551620\n" R "\n",
		"o\n99999999999999999999\n" R "\n",
		"o\n100000000000000000000\n" R "\n",
		"o\n000000000000000000001\n" R "\n",
		/* root: 31 and 33 bytes, unpadded, stray bits, URL alphabet,
		 * hex, trailing space, missing */
		"o\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\n",
		"o\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n",
		"o\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n",
		"o\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n",
		"o\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=\n",
		"o\n1\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz-Nw7_RgQyg=\n",
		"o\n1\n5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328\n",
		"o\n1\n" R " \n",
		/* bytes >= 0x80, which libsodium 1.0.18 decodes as digits */
		"o\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAA\xc9\xbe" "AAAAAAAAAAAAAA=\n",
		"o\n1\n\n",
		"o\n1\n",
		"o\n",
		/* empty origin */
		"\n1\n" R "\n",
		/* empty extension lines */
		"o\n1\n" R "\n\n",
		"o\n1\n" R "\next\n\n",
		"o\n1\n" R "\n\next\n",
		/* missing trailing newline */
		"o\n1\n" R,
		"o\n1\n" R "\next",
		/* CRLF, controls, invalid UTF-8 */
		"o\r\n1\r\n" R "\r\n",
		"o\n1\r\n" R "\n",
		"o\n1\n" R "\r\n",
		"o\t\n1\n" R "\n",
		"o\xff\n1\n" R "\n",
		"o\n1\n" R "\n\xc0\x80\n",
		"",
		"\n",
	};
	static const char nul[] = "o\0\n1\n" R "\n";
	char *big;
	size_t i, len;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		print_message("case %zu\n", i);
		assert_int_equal(parse_err(bad[i], strlen(bad[i])), ERR_FORMAT);
	}
	assert_int_equal(parse_err(nul, sizeof(nul) - 1), ERR_FORMAT);

	/* CHECKPOINT_MAX_LEN bytes parse; one more is too big. */
	big = malloc(CHECKPOINT_MAX_LEN + 2);
	assert_non_null(big);
	memset(big, 'o', CHECKPOINT_MAX_LEN + 1);
	len = strlen("\n1\n" R "\n");
	memcpy(big + CHECKPOINT_MAX_LEN - len, "\n1\n" R "\n", len);
	big[CHECKPOINT_MAX_LEN] = '\0';
	assert_roundtrip(big);
	memmove(big + 1, big, CHECKPOINT_MAX_LEN + 1);
	assert_int_equal(parse_err(big, CHECKPOINT_MAX_LEN + 1), ERR_TOOBIG);
	free(big);

	assert_int_equal(checkpoint_parse(NULL, 0, &(struct checkpoint){ 0 }),
	    ERR_INVAL);
	assert_int_equal(checkpoint_parse("x", 1, NULL), ERR_INVAL);
#undef R
}

static void
test_format_invalid(void **state)
{
	static const char *bad_ext[] = {
		"ext", "\n", "ext\n\n", "\next\n", "a\nb", "a\r\n", "\xff\n",
	};
	struct checkpoint c;
	char *out = (char *)1, big[CHECKPOINT_MAX_LEN + 2];
	size_t len = 1, i;

	(void)state;
	memset(&c, 0, sizeof(c));
	c.origin = "";
	assert_int_equal(checkpoint_format(&c, &out, &len), ERR_INVAL);
	assert_null(out);
	assert_int_equal(len, 0);
	c.origin = NULL;
	assert_int_equal(checkpoint_format(&c, &out, &len), ERR_INVAL);
	c.origin = "a\nb";
	assert_int_equal(checkpoint_format(&c, &out, &len), ERR_INVAL);
	/* An origin that would forge the other lines. */
	c.origin = "o\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
	assert_int_equal(checkpoint_format(&c, &out, &len), ERR_INVAL);
	c.origin = "o\x01";
	assert_int_equal(checkpoint_format(&c, &out, &len), ERR_INVAL);
	c.origin = "o";
	for (i = 0; i < sizeof(bad_ext) / sizeof(bad_ext[0]); i++) {
		c.extensions = (char *)bad_ext[i];
		assert_int_equal(checkpoint_format(&c, &out, &len), ERR_INVAL);
		assert_null(out);
	}
	c.extensions = "";
	assert_int_equal(checkpoint_format(&c, &out, &len), ERR_OK);
	assert_string_equal(out, "o\n0\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n");
	free(out);
	c.extensions = NULL;

	memset(big, 'o', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	c.origin = big;
	assert_int_equal(checkpoint_format(&c, &out, &len), ERR_TOOBIG);
	assert_null(out);
	assert_int_equal(checkpoint_format(NULL, &out, &len), ERR_INVAL);
}

/* A witness cosigns a checkpoint with extension lines; they are signed. */
static void
test_cosigned_extensions(void **state)
{
	static const char body[] = "bulwark.example/log\n42\n"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\nExtendo\n";
	struct note_signer *s = NULL;
	struct note_verifier *v = NULL;
	const struct note_signer *list[1];
	struct note *n = NULL;
	struct checkpoint c;
	uint8_t seed[32];
	char *vkey = NULL, *out = NULL;
	size_t len;
	uint64_t ts = 0;

	(void)state;
	memset(seed, 7, sizeof(seed));
	assert_int_equal(note_signer_from_seed("witness.example/w",
	    NOTE_ALG_COSIGNATURE_V1, seed, &s), ERR_OK);
	assert_int_equal(note_signer_vkey(s, &vkey), ERR_OK);
	assert_int_equal(note_verifier_from_vkey(vkey, &v), ERR_OK);
	list[0] = s;
	assert_int_equal(note_sign(body, strlen(body), list, 1, &out, &len),
	    ERR_OK);
	assert_int_equal(note_parse(out, len, &n), ERR_OK);
	assert_int_equal(note_verify(n, v, &ts), ERR_OK);
	assert_true(ts > 0);
	parse_ok(n->text, n->text_len, &c);
	assert_int_equal(c.size, 42);
	assert_string_equal(c.extensions, "Extendo\n");
	checkpoint_release(&c);
	n->text[n->text_len - 2] = '@';
	assert_int_equal(note_verify(n, v, NULL), ERR_SIGNATURE);

	note_free(n);
	free(out);
	free(vkey);
	note_verifier_free(v);
	note_signer_free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_peter_checkpoint8),
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_negative),
		cmocka_unit_test(test_format_invalid),
		cmocka_unit_test(test_cosigned_extensions),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
