/*
 * test_note.c - signed notes and cosignature/v1 against published vectors.
 *
 * Sources of the known answers:
 *  - c2sp.org/signed-note, "Example" (verifier key and signed note);
 *  - golang.org/x/mod sumdb/note/note_test.go (PeterNeumann and EnochRoot
 *    keys, TestSign and TestOpen messages, key mangling tests);
 *  - transparency-dev/formats note/note_cosigv1_test.go (vkeys of types
 *    0x01 and 0x04);
 *  - c2sp.org/tlog-cosignature, the example cosignature line;
 *  - a real checkpoint of arche2025h1.staging.ct.transparency.dev cosigned
 *    by the remora.n621.de witness, from florolf/tlog-scales
 *    tests/test_signing.py (checked independently with pyca/cryptography).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "audit/note.h"
#include "common/sha256.h"
#include "common/banned.h"

#define EM "\xe2\x80\x94"	/* U+2014 EM DASH */

/* c2sp.org/signed-note example. */
static const char spec_vkey[] =
    "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";
static const char spec_note[] =
    "This is an example message.\n"
    "\n"
    EM " example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";

/* golang.org/x/mod/sumdb/note tests. */
static const char peter_skey[] =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
static const char peter_vkey[] =
    "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
static const char enoch_vkey[] =
    "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
static const char go_text[] =
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n";
static const char peter_sig[] =
    EM " PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
static const char enoch_sig[] =
    EM " EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

/* c2sp.org/tlog-cosignature example. */
static const char cosig_spec_note[] =
    "example.com/behind-the-sofa\n"
    "20852163\n"
    "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    "\n"
    EM " example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
    EM " witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n";

/* A real cosigned checkpoint (florolf/tlog-scales tests/test_signing.py). */
static const char arche_vkey[] =
    "arche2025h1.staging.ct.transparency.dev+ba2f06c0+AU0vHmlGCS/PdN8b2OaGmKprLI8HKM+dJ472xgFYh15f";
static const char remora_vkey[] =
    "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2";
static const char arche_note[] =
    "arche2025h1.staging.ct.transparency.dev\n"
    "1432088532\n"
    "U7WM79jrzyhGZ5/GUBTpM7NzwdyfFx61t3RovgcC4Ro=\n"
    "\n"
    EM " arche2025h1.staging.ct.transparency.dev zTM8sQAAAZ5W0WdjBAMARjBEAiBjW5IQf9pvsYLfQFX6hoGREPMHbdQ3urbllzalApkptQIgIpwtEroeW2BXaHAI4kJXFbon5Ch9MNL5zRNZ55lvGt0=\n"
    EM " arche2025h1.staging.ct.transparency.dev ui8GwCF1+kWqZrxGdhj4aX3gcw7XUlXQQabg/27lefwhUkzbC3NygNI75MdhL1bfTW9g8Ei59RA23oHP7Ry1k3ZFWwQ=\n"
    EM " transparency.dev/DEV:witness-little-garden 2AQqhwAAAABqEiEgzgFIqqhbUoDwjMWE6UP8nd8/KYTzwZ2rhIgcqoXHAwVkjZr4AscylP3v7sEodkRAErumC2q44vdgJY096st5BQ==\n"
    EM " witness1.smartit.nu/witness1 pIyCDwAAAABqEiEghIp82KWebrw7/oHQwlTAm3g2RKS4+eebl8eO0WH+/iEcxZ75W3u5hNI7TOQtmJbqmNWVuE0tgh0XwzdZsDsUAQ==\n"
    EM " remora.n621.de 2net5wAAAABqEiEgPlfF3V06o0Y+fHM+J5J9s27wgxxcOVSpZ/2g/KSiXCg9DEZI+aVCIobWX9sXTynk5XeU/zZ0WBxtqB0DrAWfBw==\n"
    EM " witness.stagemole.eu Z/euoAAAAABqEiEgw0i+7g2ENfDAWHmtRzCfKTHSDwYDJA2NmKeGi9Y8FtEyOUvVr+AJmIY/2TUFucgKi7lI7cUiOvKFYe/TmN9DAg==\n";
#define ARCHE_REMORA_TIME UINT64_C(1779573024)

/* Concatenates NULL-terminated string arguments; the caller frees. */
static char *
cat(const char *first, ...)
{
	va_list ap;
	const char *s;
	char *buf;
	size_t len = 0, off = 0;

	va_start(ap, first);
	for (s = first; s != NULL; s = va_arg(ap, const char *))
		len += strlen(s);
	va_end(ap);
	buf = malloc(len + 1);
	assert_non_null(buf);
	va_start(ap, first);
	for (s = first; s != NULL; s = va_arg(ap, const char *)) {
		memcpy(buf + off, s, strlen(s));
		off += strlen(s);
	}
	va_end(ap);
	buf[off] = '\0';
	return buf;
}

static struct note_verifier *
verifier(const char *vkey)
{
	struct note_verifier *v = NULL;

	assert_int_equal(note_verifier_from_vkey(vkey, &v), ERR_OK);
	assert_non_null(v);
	return v;
}

static struct note *
parse_ok(const char *msg, size_t len)
{
	struct note *n = NULL;

	assert_int_equal(note_parse(msg, len, &n), ERR_OK);
	assert_non_null(n);
	return n;
}

static int
parse_err(const char *msg, size_t len)
{
	struct note *n = (struct note *)1;
	int r;

	r = note_parse(msg, len, &n);
	assert_int_not_equal(r, ERR_OK);
	assert_null(n);
	return r;
}

/* Verifies msg with vkey: the code of note_parse or note_verify. */
static int
open_note(const char *msg, size_t len, const char *vkey, uint64_t *ts)
{
	struct note_verifier *v = verifier(vkey);
	struct note *n = NULL;
	int r;

	if ((r = note_parse(msg, len, &n)) == ERR_OK)
		r = note_verify(n, v, ts);
	note_free(n);
	note_verifier_free(v);
	return r;
}

static void
assert_roundtrip(const char *msg, size_t len)
{
	struct note *n = parse_ok(msg, len);
	char *out = NULL;
	size_t out_len = 0;

	assert_int_equal(note_format(n, &out, &out_len), ERR_OK);
	assert_int_equal(out_len, len);
	assert_memory_equal(out, msg, len);
	assert_int_equal(out[out_len], '\0');
	free(out);
	note_free(n);
}

static void
test_spec_example(void **state)
{
	struct note_verifier *v;
	struct note *n;
	size_t len = strlen(spec_note), i;
	unsigned bit;
	char *m;
	uint64_t ts = 1;

	(void)state;
	v = verifier(spec_vkey);
	assert_string_equal(note_verifier_name(v), "example.com/foo");
	assert_int_equal(note_verifier_keyhash(v), 0x530d903a);
	assert_int_equal(note_verifier_alg(v), NOTE_ALG_ED25519);

	n = parse_ok(spec_note, len);
	assert_int_equal(n->text_len, strlen("This is an example message.\n"));
	assert_string_equal(n->text, "This is an example message.\n");
	assert_int_equal(n->nsigs, 1);
	assert_string_equal(n->sigs[0].name, "example.com/foo");
	assert_int_equal(n->sigs[0].keyhash, 0x530d903a);
	assert_int_equal(n->sigs[0].sig_len, 64);
	assert_int_equal(note_verify(n, v, &ts), ERR_OK);
	assert_int_equal(ts, 0);

	/* One bit flipped in a parsed signature or text. */
	n->sigs[0].sig[17] ^= 0x01;
	assert_int_equal(note_verify(n, v, NULL), ERR_SIGNATURE);
	n->sigs[0].sig[17] ^= 0x01;
	n->text[5] ^= 0x01;
	assert_int_equal(note_verify(n, v, NULL), ERR_SIGNATURE);
	n->text[5] ^= 0x01;
	n->sigs[0].keyhash ^= 0x01;
	assert_int_equal(note_verify(n, v, NULL), ERR_NOTFOUND);
	n->sigs[0].keyhash ^= 0x01;
	assert_int_equal(note_verify(n, v, NULL), ERR_OK);
	note_free(n);

	/* Every single-bit change of the whole message fails somewhere. */
	m = malloc(len);
	assert_non_null(m);
	for (i = 0; i < len; i++) {
		for (bit = 0; bit < 8; bit++) {
			memcpy(m, spec_note, len);
			m[i] ^= (char)(1u << bit);
			assert_int_not_equal(open_note(m, len, spec_vkey, NULL),
			    ERR_OK);
		}
	}
	free(m);
	assert_roundtrip(spec_note, len);
	note_verifier_free(v);
}

static void
test_go_keys(void **state)
{
	struct note_signer *s = NULL;
	struct note_verifier *v;
	char *vkey = NULL;

	(void)state;
	assert_int_equal(note_signer_from_skey(peter_skey, &s), ERR_OK);
	assert_string_equal(note_signer_name(s), "PeterNeumann");
	assert_int_equal(note_signer_alg(s), NOTE_ALG_ED25519);
	assert_int_equal(note_signer_vkey(s, &vkey), ERR_OK);
	assert_string_equal(vkey, peter_vkey);
	free(vkey);
	note_signer_free(s);

	v = verifier(peter_vkey);
	assert_string_equal(note_verifier_name(v), "PeterNeumann");
	assert_int_equal(note_verifier_keyhash(v), 0xc74f20a3);
	note_verifier_free(v);

	v = verifier(enoch_vkey);
	assert_int_equal(note_verifier_keyhash(v), 0xaf0cfe78);
	note_verifier_free(v);

	/* transparency-dev/formats: a '+' inside the base64, and type 0x04. */
	v = verifier("TEST+7997405c+AQcC+FTVKf0jlTdHDY3rbevmnKxxPjigCXlVtGe6RIr6");
	assert_string_equal(note_verifier_name(v), "TEST");
	assert_int_equal(note_verifier_alg(v), NOTE_ALG_ED25519);
	note_verifier_free(v);
	v = verifier(remora_vkey);
	assert_int_equal(note_verifier_alg(v), NOTE_ALG_COSIGNATURE_V1);
	assert_int_equal(note_verifier_keyhash(v), 0xda77ade7);
	note_verifier_free(v);
}

/* x/mod TestNewVerifier and TestNewSigner: every mangling is refused. */
static void
test_go_key_mangling(void **state)
{
	const char *keys[] = { peter_vkey, peter_skey };
	struct note_verifier *v;
	struct note_signer *s;
	size_t k, i, j, len;
	char *b;

	(void)state;
	for (k = 0; k < 2; k++) {
		len = strlen(keys[k]);
		b = malloc(len + 1);
		assert_non_null(b);
		for (i = 0; i <= len; i++) {
			for (j = i + 1; j <= len; j++) {
				if (i == 0 && j == len)
					continue;
				memcpy(b, keys[k] + i, j - i);
				b[j - i] = '\0';
				v = (struct note_verifier *)1;
				s = (struct note_signer *)1;
				assert_int_not_equal(
				    note_verifier_from_vkey(b, &v), ERR_OK);
				assert_null(v);
				assert_int_not_equal(
				    note_signer_from_skey(b, &s), ERR_OK);
				assert_null(s);
			}
		}
		for (i = 0; i < len; i++) {
			memcpy(b, keys[k], len + 1);
			b[i]++;
			v = NULL;
			s = NULL;
			if (k == 0)
				assert_int_not_equal(
				    note_verifier_from_vkey(b, &v), ERR_OK);
			else
				assert_int_not_equal(
				    note_signer_from_skey(b, &s), ERR_OK);
			assert_null(v);
			assert_null(s);
		}
		free(b);
	}

	/* Wrong length key and unknown algorithm, with adjusted key hashes. */
	v = NULL;
	assert_int_equal(note_verifier_from_vkey("PeterNeumann+cc469956+"
	    "ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==", &v),
	    ERR_FORMAT);
	assert_int_equal(note_verifier_from_vkey("PeterNeumann+173116ae+"
	    "ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", &v),
	    ERR_UNSUPPORTED);
	/* Key hash of another key; upper-case hex; stray whitespace. */
	assert_int_equal(note_verifier_from_vkey("PeterNeumann+c74f20a4+"
	    "ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", &v), ERR_MISMATCH);
	assert_int_equal(note_verifier_from_vkey("PeterNeumann+C74F20A3+"
	    "ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", &v), ERR_FORMAT);
	assert_int_equal(note_verifier_from_vkey("PeterNeumann+c74f20a3+"
	    "ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW\n", &v), ERR_FORMAT);
	assert_int_equal(note_verifier_from_vkey("Peter Neumann+c74f20a3+"
	    "ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", &v), ERR_FORMAT);
	assert_int_equal(note_verifier_from_vkey("PeterNeumann+c74f20a3+"
	    "ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10\xc3\xa9", &v),
	    ERR_FORMAT);
	assert_int_equal(note_verifier_from_vkey("", &v), ERR_FORMAT);
	assert_int_equal(note_verifier_from_vkey(NULL, &v), ERR_INVAL);
	assert_null(v);
	assert_int_equal(note_signer_from_skey("PRIVATE+KEY+PeterNeumann+"
	    "c74f20a4+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz", &s),
	    ERR_MISMATCH);
	assert_null(s);
}

/* x/mod TestSign: Ed25519 is deterministic, so the bytes are fixed. */
static void
test_go_sign(void **state)
{
	const struct note_signer *list[1];
	struct note_signer *s = NULL;
	char *out = NULL, *want, *line = NULL;
	size_t out_len = 7;

	(void)state;
	assert_int_equal(note_signer_from_skey(peter_skey, &s), ERR_OK);
	list[0] = s;
	assert_int_equal(note_sign(go_text, strlen(go_text), list, 1, &out,
	    &out_len), ERR_OK);
	want = cat(go_text, "\n", peter_sig, NULL);
	assert_int_equal(out_len, strlen(want));
	assert_string_equal(out, want);
	free(out);
	free(want);

	assert_int_equal(note_signature_line(s, go_text, strlen(go_text), 99,
	    &line), ERR_OK);
	assert_string_equal(line, peter_sig);
	free(line);

	/* Text that could not be a note is refused. */
	assert_int_equal(note_sign("abc", 3, list, 1, &out, &out_len),
	    ERR_INVAL);
	assert_null(out);
	assert_int_equal(out_len, 0);
	assert_int_equal(note_sign("a\rb\n", 4, list, 1, &out, &out_len),
	    ERR_INVAL);
	assert_int_equal(note_sign(go_text, strlen(go_text), list, 0, &out,
	    &out_len), ERR_INVAL);
	assert_int_equal(note_signature_line(s, "", 0, 0, &line), ERR_INVAL);
	assert_null(line);
	note_signer_free(s);
}

/* x/mod TestOpen. */
static void
test_go_open(void **state)
{
	struct note_verifier *peter, *enoch;
	struct note *n;
	char *msg, *many, *bad;
	size_t i, plen = strlen(peter_sig);

	(void)state;
	peter = verifier(peter_vkey);
	enoch = verifier(enoch_vkey);

	msg = cat(go_text, "\n", peter_sig, enoch_sig, NULL);
	n = parse_ok(msg, strlen(msg));
	assert_string_equal(n->text, go_text);
	assert_int_equal(n->nsigs, 2);
	assert_string_equal(n->sigs[1].name, "EnochRoot");
	assert_int_equal(n->sigs[1].keyhash, 0xaf0cfe78);
	assert_int_equal(note_verify(n, peter, NULL), ERR_OK);
	assert_int_equal(note_verify(n, enoch, NULL), ERR_OK);
	note_free(n);
	assert_roundtrip(msg, strlen(msg));
	free(msg);

	/* Only Enoch signed: Peter's key finds nothing. */
	msg = cat(go_text, "\n", enoch_sig, NULL);
	n = parse_ok(msg, strlen(msg));
	assert_int_equal(note_verify(n, peter, NULL), ERR_NOTFOUND);
	note_free(n);
	free(msg);

	/* NOTE_MAX_SIGS signatures parse, one more does not. */
	many = malloc(strlen(go_text) + 1 + (NOTE_MAX_SIGS + 1) * plen + 1);
	assert_non_null(many);
	memcpy(many, go_text, strlen(go_text));
	many[strlen(go_text)] = '\n';
	for (i = 0; i < NOTE_MAX_SIGS + 1; i++)
		memcpy(many + strlen(go_text) + 1 + i * plen, peter_sig, plen);
	n = parse_ok(many, strlen(go_text) + 1 + NOTE_MAX_SIGS * plen);
	assert_int_equal(n->nsigs, NOTE_MAX_SIGS);
	assert_int_equal(note_verify(n, peter, NULL), ERR_OK);
	note_free(n);
	assert_int_equal(parse_err(many, strlen(go_text) + 1 +
	    (NOTE_MAX_SIGS + 1) * plen), ERR_FORMAT);
	free(many);

	/* "ABCD" inside Peter's signature: well-formed, does not verify. */
	bad = malloc(plen + 5);
	assert_non_null(bad);
	memcpy(bad, peter_sig, 60);
	memcpy(bad + 60, "ABCD", 4);
	memcpy(bad + 64, peter_sig + 60, plen - 60 + 1);
	msg = cat(go_text, "\n", bad, NULL);
	assert_int_equal(open_note(msg, strlen(msg), peter_vkey, NULL),
	    ERR_SIGNATURE);
	free(msg);
	/* A bad signature by a known key spoils a good one by the same key. */
	msg = cat(go_text, "\n", peter_sig, bad, NULL);
	assert_int_equal(open_note(msg, strlen(msg), peter_vkey, NULL),
	    ERR_SIGNATURE);
	free(msg);
	/* ...but not one by another key, which verify ignores. */
	msg = cat(go_text, "\n", peter_sig, enoch_sig, NULL);
	msg[strlen(msg) - 10] ^= 0x01;
	n = parse_ok(msg, strlen(msg));
	assert_int_equal(note_verify(n, peter, NULL), ERR_OK);
	assert_int_equal(note_verify(n, enoch, NULL), ERR_SIGNATURE);
	note_free(n);
	free(msg);
	free(bad);

	note_verifier_free(peter);
	note_verifier_free(enoch);
}

static void
test_go_bad_messages(void **state)
{
	char *msgs[8];
	size_t i;

	(void)state;
	msgs[0] = cat(go_text, NULL);
	msgs[1] = cat(go_text, "\n", NULL);
	msgs[2] = cat(go_text, "\n", peter_sig, NULL);
	msgs[2][strlen(msgs[2]) - 1] = '\0';
	msgs[3] = cat("\x01", go_text, "\n", peter_sig, NULL);
	msgs[4] = cat("\xff", go_text, "\n", peter_sig, NULL);
	msgs[5] = cat(go_text, "\n", EM " Bad Name x08go/ZJkuBS9UG/SffcvIAQx"
	    "VBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJn"
	    "AM=", NULL);
	msgs[6] = cat(go_text, "\n", peter_sig, "Unexpected line.\n", NULL);
	msgs[7] = cat(go_text, "\n", EM " Bad Name x08go/ZJkuBS9UG/SffcvIAQx"
	    "VBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJn"
	    "AM=\n", NULL);
	for (i = 0; i < 8; i++) {
		assert_int_equal(parse_err(msgs[i], strlen(msgs[i])),
		    ERR_FORMAT);
		free(msgs[i]);
	}
}

/* Negative parsing cases of the signed-note rules. */
static void
test_parse_negative(void **state)
{
	static const char *bad[] = {
		/* missing blank line */
		"text\n" EM " PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n",
		/* no signatures */
		"text\n\n",
		"text\n\n\n",
		"\n\n",
		"",
		"\n",
		/* bad base64: invalid character, missing padding, stray bits,
		 * URL alphabet, embedded space, empty */
		"text\n\n" EM " a x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnA!=\n",
		"text\n\n" EM " a x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM\n",
		"text\n\n" EM " a x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAN=\n",
		"text\n\n" EM " a x08go_ZJkuBS9UG_SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n",
		"text\n\n" EM " a x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM= \n",
		"text\n\n" EM " a \n",
		"text\n\n" EM " a\n",
		"text\n\n" EM " a AAAAAA===\n",
		/* bytes >= 0x80, which libsodium 1.0.18 decodes as digits */
		"text\n\n" EM " a AAAA\xc3\xa9" "AA\n",
		"text\n\n" EM " a x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJn\xc3\xa9\n",
		"text\n\n" EM " a AAAAAA=A\n",
		/* short signature: three bytes, no full key hash */
		"text\n\n" EM " a AAAA\n",
		"text\n\n" EM " a AAAAAA=\n",
		/* wrong dash: en dash, hyphen, two hyphens, no space, tab */
		"text\n\n\xe2\x80\x93 a AAAAAAAA\n",
		"text\n\n- a AAAAAAAA\n",
		"text\n\n-- a AAAAAAAA\n",
		"text\n\n" EM "a AAAAAAAA\n",
		"text\n\n" EM "\ta AAAAAAAA\n",
		"text\n\n" EM "  a AAAAAAAA\n",
		/* bad names */
		"text\n\n" EM " a+b AAAAAAAA\n",
		"text\n\n" EM "  AAAAAAAA\n",
		"text\n\n" EM " a\xc2\xa0" "b AAAAAAAA\n",
		"text\n\n" EM " a\xe3\x80\x80" "b AAAAAAAA\n",
		"text\n\n" EM " \x7f AAAAAAAA\n",
		/* trailing garbage after the signatures */
		"text\n\n" EM " a AAAAAAAA\ngarbage\n",
		"text\n\n" EM " a AAAAAAAA\n" EM " b AAAAAAAA",
		"text\n\n" EM " a AAAAAAAA\n\n",
		"text\n\n" EM " a AAAAAAAA\n \n",
		/* invalid UTF-8: lone continuation, overlong, surrogate,
		 * beyond U+10FFFF, truncated */
		"te\x80xt\n\n" EM " a AAAAAAAA\n",
		"te\xc0\xafxt\n\n" EM " a AAAAAAAA\n",
		"te\xe0\x80\xafxt\n\n" EM " a AAAAAAAA\n",
		"te\xed\xa0\x80xt\n\n" EM " a AAAAAAAA\n",
		"te\xf4\x90\x80\x80xt\n\n" EM " a AAAAAAAA\n",
		"text\xe2\x80\n\n" EM " a AAAAAAAA\n",
		/* CRLF and other control characters */
		"text\r\n\r\n" EM " a AAAAAAAA\r\n",
		"text\n\n" EM " a AAAAAAAA\r\n",
		"text\r\n\n" EM " a AAAAAAAA\n",
		"te\txt\n\n" EM " a AAAAAAAA\n",
		"te\x1bxt\n\n" EM " a AAAAAAAA\n",
	};
	static const char nul[] = "te\0xt\n\n" EM " a AAAAAAAA\n";
	static const char nul2[] = "text\n\n" EM " a AAAAAAAA\n\0";
	size_t i;
	char *big;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		print_message("case %zu\n", i);
		assert_int_equal(parse_err(bad[i], strlen(bad[i])), ERR_FORMAT);
	}
	assert_int_equal(parse_err(nul, sizeof(nul) - 1), ERR_FORMAT);
	assert_int_equal(parse_err(nul2, sizeof(nul2) - 1), ERR_FORMAT);

	/* Overlong: NOTE_MAX_LEN bytes parse, one more is too big. */
	big = malloc(NOTE_MAX_LEN + 1);
	assert_non_null(big);
	memset(big, 'x', NOTE_MAX_LEN + 1);
	memcpy(big + NOTE_MAX_LEN - strlen("\n\n" EM " a AAAAAAAA\n"),
	    "\n\n" EM " a AAAAAAAA\n", strlen("\n\n" EM " a AAAAAAAA\n"));
	{
		struct note *n = parse_ok(big, NOTE_MAX_LEN);

		assert_int_equal(n->nsigs, 1);
		assert_int_equal(n->sigs[0].keyhash, 0);
		assert_int_equal(n->sigs[0].sig_len, 2);
		note_free(n);
	}
	memmove(big + 1, big, NOTE_MAX_LEN);
	assert_int_equal(parse_err(big, NOTE_MAX_LEN + 1), ERR_TOOBIG);
	free(big);

	assert_int_equal(note_parse(NULL, 0, &(struct note *){ NULL }),
	    ERR_INVAL);
	assert_int_equal(note_parse("x", 1, NULL), ERR_INVAL);
}

static void
test_parse_edge(void **state)
{
	struct note *n;
	const char *m;

	(void)state;
	/* The last blank line separates; the text may hold blank lines. */
	m = "a\n\nb\n\n\n" EM " x AAAAAA==\n" EM " y/z AAAAAAAAAAA=\n";
	n = parse_ok(m, strlen(m));
	assert_string_equal(n->text, "a\n\nb\n\n");
	assert_int_equal(n->nsigs, 2);
	assert_int_equal(n->sigs[0].sig_len, 0);
	assert_null(n->sigs[0].sig);
	assert_string_equal(n->sigs[1].name, "y/z");
	assert_int_equal(n->sigs[1].sig_len, 4);
	note_free(n);
	assert_roundtrip(m, strlen(m));

	/* A text of just "\n", and non-ASCII names and text. */
	m = "\n\n" EM " x AAAAAAAA\n";
	n = parse_ok(m, strlen(m));
	assert_string_equal(n->text, "\n");
	note_free(n);
	m = "Ognuno sta solo sul cuor della terra\n\xc3\xa8\x7f\n\n"
	    EM " quasimodo.example/salvatore\xe2\x80\x94 AAAAAAAA\n";
	n = parse_ok(m, strlen(m));
	assert_string_equal(n->sigs[0].name,
	    "quasimodo.example/salvatore\xe2\x80\x94");
	note_free(n);
	assert_roundtrip(m, strlen(m));
}

static void
test_keygen(void **state)
{
	static const int algs[] = { NOTE_ALG_ED25519, NOTE_ALG_COSIGNATURE_V1 };
	static const char *bad_names[] = {
		"", "a+b", "a b", "a\tb", "a\nb", "a\xc2\xa0" "b",
		"a\xe2\x80\xa8" "b", "\xff", "a\x01",
	};
	const struct note_signer *list[1];
	struct note_signer *s;
	struct note_verifier *v;
	struct note *n;
	char *skey, *vkey, *vkey2, *out;
	size_t i, out_len;
	uint64_t ts;

	(void)state;
	for (i = 0; i < 2; i++) {
		skey = vkey = NULL;
		assert_int_equal(note_keygen("bulwark.example/log\xc3\xa9",
		    algs[i], &skey, &vkey), ERR_OK);
		assert_int_equal(strncmp(skey, "PRIVATE+KEY+bulwark.example/"
		    "log\xc3\xa9+", 34), 0);
		assert_int_equal(strncmp(vkey, "bulwark.example/log\xc3\xa9+",
		    22), 0);
		s = NULL;
		assert_int_equal(note_signer_from_skey(skey, &s), ERR_OK);
		assert_int_equal(note_signer_alg(s), algs[i]);
		assert_int_equal(note_signer_vkey(s, &vkey2), ERR_OK);
		assert_string_equal(vkey, vkey2);
		v = verifier(vkey);
		assert_int_equal(note_verifier_alg(v), algs[i]);

		list[0] = s;
		assert_int_equal(note_sign("hello\n", 6, list, 1, &out,
		    &out_len), ERR_OK);
		n = parse_ok(out, out_len);
		ts = 0;
		assert_int_equal(note_verify(n, v, &ts), ERR_OK);
		if (algs[i] == NOTE_ALG_COSIGNATURE_V1)
			assert_true(ts > 1700000000);
		else
			assert_int_equal(ts, 0);
		note_free(n);
		free(out);
		note_verifier_free(v);
		free(vkey2);
		note_signer_free(s);
		note_key_free_secret(skey);
		free(vkey);
	}
	for (i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
		skey = vkey = (char *)1;
		assert_int_equal(note_keygen(bad_names[i], NOTE_ALG_ED25519,
		    &skey, &vkey), ERR_INVAL);
		assert_null(skey);
		assert_null(vkey);
	}
	assert_int_equal(note_keygen("a", 0x02, &skey, &vkey),
	    ERR_UNSUPPORTED);
	note_key_free_secret(NULL);
	note_signer_free(NULL);
	note_verifier_free(NULL);
	note_free(NULL);
}

/* The cosignature/v1 example of c2sp.org/tlog-cosignature. */
static void
test_cosig_spec_example(void **state)
{
	struct note *n;
	const struct note_sig *w;

	(void)state;
	n = parse_ok(cosig_spec_note, strlen(cosig_spec_note));
	assert_string_equal(n->text, "example.com/behind-the-sofa\n20852163\n"
	    "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n");
	assert_int_equal(n->nsigs, 2);
	w = &n->sigs[1];
	assert_string_equal(w->name, "witness.example.com/w1");
	assert_int_equal(w->keyhash, 0x8d66cf3f);
	/* timestamp (8, big-endian) || Ed25519 signature (64) */
	assert_int_equal(w->sig_len, 72);
	assert_memory_equal(w->sig, "\x00\x00\x00\x00\x64\x18\x50\xcb", 8);
	/* 0x641850cb is the "time 1679315147" of the spec's message. */
	assert_int_equal(0x641850cbu, 1679315147u);
	note_free(n);
	assert_roundtrip(cosig_spec_note, strlen(cosig_spec_note));
}

/* A real witness cosignature and log signature verify; tampering fails. */
static void
test_cosig_real(void **state)
{
	struct note_verifier *remora, *arche, *peter;
	struct note *n;
	uint64_t ts = 0;
	char *m;
	size_t len = strlen(arche_note);

	(void)state;
	remora = verifier(remora_vkey);
	arche = verifier(arche_vkey);
	peter = verifier(peter_vkey);
	n = parse_ok(arche_note, len);
	assert_int_equal(n->nsigs, 6);
	assert_int_equal(note_verify(n, remora, &ts), ERR_OK);
	assert_int_equal(ts, ARCHE_REMORA_TIME);
	ts = 1;
	assert_int_equal(note_verify(n, arche, &ts), ERR_OK);
	assert_int_equal(ts, 0);
	assert_int_equal(note_verify(n, peter, NULL), ERR_NOTFOUND);

	/* The timestamp is signed. */
	n->sigs[4].sig[7]++;
	ts = 1;
	assert_int_equal(note_verify(n, remora, &ts), ERR_SIGNATURE);
	assert_int_equal(ts, 0);
	n->sigs[4].sig[7]--;
	/* Past 2^63 - 1 is refused before any signature check. */
	n->sigs[4].sig[0] = 0x80;
	assert_int_equal(note_verify(n, remora, NULL), ERR_SIGNATURE);
	n->sigs[4].sig[0] = 0x00;
	assert_int_equal(note_verify(n, remora, NULL), ERR_OK);
	note_free(n);
	assert_roundtrip(arche_note, len);

	/* Another tree size. */
	m = malloc(len + 1);
	assert_non_null(m);
	memcpy(m, arche_note, len + 1);
	m[strlen("arche2025h1.staging.ct.transparency.dev\n")] = '2';
	assert_int_equal(open_note(m, len, remora_vkey, NULL), ERR_SIGNATURE);
	assert_int_equal(open_note(m, len, arche_vkey, NULL), ERR_SIGNATURE);
	free(m);

	note_verifier_free(remora);
	note_verifier_free(arche);
	note_verifier_free(peter);
}

static void
seed_of(uint8_t seed[32], uint8_t x)
{
	size_t i;

	for (i = 0; i < 32; i++)
		seed[i] = (uint8_t)(x + i);
}

/*
 * Round trip with a fixed key and time, checked against an independent
 * construction of the key hash, the message and the payload.
 */
static void
test_cosig_roundtrip(void **state)
{
	static const char body[] = "example.com/behind-the-sofa\n20852163\n"
	    "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
	static const char msg_prefix[] = "cosignature/v1\ntime 1679315147\n";
	const uint64_t t = UINT64_C(1679315147);
	struct note_signer *s = NULL, *s1 = NULL;
	struct note_verifier *v, *v1;
	struct note *n;
	uint8_t seed[32], pk[32], sk[64], md[32], payload[76], want_sig[64];
	uint8_t a = NOTE_ALG_COSIGNATURE_V1, *signed_msg;
	struct sha256_ctx c;
	char *line = NULL, *vkey = NULL, *vkey1 = NULL, *msg, *want_line;
	char b64[sodium_base64_ENCODED_LEN(76, sodium_base64_VARIANT_ORIGINAL)];
	uint64_t ts;
	size_t ml;

	(void)state;
	seed_of(seed, 0x40);
	assert_int_equal(note_signer_from_seed("witness.example.com/w1",
	    NOTE_ALG_COSIGNATURE_V1, seed, &s), ERR_OK);
	assert_int_equal(note_signer_vkey(s, &vkey), ERR_OK);
	v = verifier(vkey);

	/* Independent: key hash, signed message, payload layout. */
	assert_int_equal(crypto_sign_seed_keypair(pk, sk, seed), 0);
	sha256_init(&c);
	sha256_update(&c, "witness.example.com/w1\n", 23);
	sha256_update(&c, &a, 1);
	sha256_update(&c, pk, 32);
	sha256_final(&c, md);
	assert_int_equal(note_verifier_keyhash(v),
	    (uint32_t)md[0] << 24 | md[1] << 16 | md[2] << 8 | md[3]);
	ml = strlen(msg_prefix) + strlen(body);
	signed_msg = malloc(ml);
	assert_non_null(signed_msg);
	memcpy(signed_msg, msg_prefix, strlen(msg_prefix));
	memcpy(signed_msg + strlen(msg_prefix), body, strlen(body));
	assert_int_equal(crypto_sign_detached(want_sig, NULL, signed_msg, ml,
	    sk), 0);
	free(signed_msg);
	memcpy(payload, md, 4);
	memcpy(payload + 4, "\x00\x00\x00\x00\x64\x18\x50\xcb", 8);
	memcpy(payload + 12, want_sig, 64);
	sodium_bin2base64(b64, sizeof(b64), payload, sizeof(payload),
	    sodium_base64_VARIANT_ORIGINAL);
	want_line = cat(EM " witness.example.com/w1 ", b64, "\n", NULL);

	assert_int_equal(note_signature_line(s, body, strlen(body), t, &line),
	    ERR_OK);
	assert_string_equal(line, want_line);
	free(want_line);

	msg = cat(body, "\n", line, NULL);
	n = parse_ok(msg, strlen(msg));
	ts = 0;
	assert_int_equal(note_verify(n, v, &ts), ERR_OK);
	assert_int_equal(ts, t);

	/* Tampered timestamp, signature, text. */
	n->sigs[0].sig[7] ^= 0x01;
	assert_int_equal(note_verify(n, v, NULL), ERR_SIGNATURE);
	n->sigs[0].sig[7] ^= 0x01;
	n->sigs[0].sig[40] ^= 0x80;
	assert_int_equal(note_verify(n, v, NULL), ERR_SIGNATURE);
	n->sigs[0].sig[40] ^= 0x80;
	n->text[0] = 'E';
	assert_int_equal(note_verify(n, v, NULL), ERR_SIGNATURE);
	n->text[0] = 'e';
	/* A signature of the wrong length for the key. */
	n->sigs[0].sig_len--;
	assert_int_equal(note_verify(n, v, NULL), ERR_SIGNATURE);
	n->sigs[0].sig_len++;
	assert_int_equal(note_verify(n, v, NULL), ERR_OK);

	/* The Ed25519 (0x01) key of the same name and key does not match. */
	assert_int_equal(note_signer_from_seed("witness.example.com/w1",
	    NOTE_ALG_ED25519, seed, &s1), ERR_OK);
	assert_int_equal(note_signer_vkey(s1, &vkey1), ERR_OK);
	v1 = verifier(vkey1);
	assert_int_not_equal(note_verifier_keyhash(v1),
	    note_verifier_keyhash(v));
	assert_int_equal(note_verify(n, v1, NULL), ERR_NOTFOUND);
	/* Nor with the key hash forced: the payload is not an Ed25519 sig. */
	n->sigs[0].keyhash = note_verifier_keyhash(v1);
	assert_int_equal(note_verify(n, v1, NULL), ERR_SIGNATURE);
	note_free(n);
	free(msg);
	free(line);

	/* And a plain Ed25519 signature is no cosignature. */
	assert_int_equal(note_signature_line(s1, body, strlen(body), t, &line),
	    ERR_OK);
	msg = cat(body, "\n", line, NULL);
	assert_int_equal(open_note(msg, strlen(msg), vkey1, NULL), ERR_OK);
	n = parse_ok(msg, strlen(msg));
	n->sigs[0].keyhash = note_verifier_keyhash(v);
	assert_int_equal(note_verify(n, v, NULL), ERR_SIGNATURE);
	note_free(n);
	free(msg);
	free(line);

	/* Timestamps: 0 and 2^63 - 1 sign, 2^63 does not. */
	assert_int_equal(note_signature_line(s, body, strlen(body), 0, &line),
	    ERR_OK);
	msg = cat(body, "\n", line, NULL);
	ts = 1;
	assert_int_equal(open_note(msg, strlen(msg), vkey, &ts), ERR_OK);
	assert_int_equal(ts, 0);
	free(msg);
	free(line);
	assert_int_equal(note_signature_line(s, body, strlen(body),
	    (uint64_t)INT64_MAX, &line), ERR_OK);
	msg = cat(body, "\n", line, NULL);
	assert_int_equal(open_note(msg, strlen(msg), vkey, &ts), ERR_OK);
	assert_int_equal(ts, (uint64_t)INT64_MAX);
	free(msg);
	free(line);
	assert_int_equal(note_signature_line(s, body, strlen(body),
	    (uint64_t)INT64_MAX + 1, &line), ERR_RANGE);
	assert_null(line);

	note_verifier_free(v);
	note_verifier_free(v1);
	free(vkey);
	free(vkey1);
	note_signer_free(s);
	note_signer_free(s1);
}

/* A log key and a witness sign together; each verifies its own line. */
static void
test_sign_many(void **state)
{
	static const char body[] = "bulwark.example/log\n3\n"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
	const struct note_signer *list[2];
	struct note_signer *log = NULL, *wit = NULL, *bad = NULL;
	struct note_verifier *lv, *wv;
	struct note *n;
	uint8_t seed[32];
	char *lk, *wk, *out;
	size_t out_len;
	uint64_t ts;

	(void)state;
	seed_of(seed, 1);
	assert_int_equal(note_signer_from_seed("bulwark.example/log",
	    NOTE_ALG_ED25519, seed, &log), ERR_OK);
	seed_of(seed, 2);
	assert_int_equal(note_signer_from_seed("bulwark.example/witness",
	    NOTE_ALG_COSIGNATURE_V1, seed, &wit), ERR_OK);
	assert_int_equal(note_signer_vkey(log, &lk), ERR_OK);
	assert_int_equal(note_signer_vkey(wit, &wk), ERR_OK);
	lv = verifier(lk);
	wv = verifier(wk);
	list[0] = log;
	list[1] = wit;
	assert_int_equal(note_sign(body, strlen(body), list, 2, &out,
	    &out_len), ERR_OK);
	assert_int_equal(out_len, strlen(out));
	n = parse_ok(out, out_len);
	assert_int_equal(n->nsigs, 2);
	assert_int_equal(note_verify(n, lv, NULL), ERR_OK);
	assert_int_equal(note_verify(n, wv, &ts), ERR_OK);
	assert_true(ts > 1700000000);
	note_free(n);
	free(out);
	bad = wit;
	assert_int_equal(note_signer_from_seed("a b", NOTE_ALG_ED25519, seed,
	    &bad), ERR_INVAL);
	assert_null(bad);
	bad = wit;
	assert_int_equal(note_signer_from_seed("ab", 3, seed, &bad),
	    ERR_UNSUPPORTED);
	assert_null(bad);
	note_signer_free(log);
	note_signer_free(wit);
	note_verifier_free(lv);
	note_verifier_free(wv);
	free(lk);
	free(wk);
}

static void
test_format_invalid(void **state)
{
	struct note n;
	struct note_sig sg;
	char *out = (char *)1;
	size_t len = 1;

	(void)state;
	memset(&sg, 0, sizeof(sg));
	sg.name = "a b";
	n.text = "x\n";
	n.text_len = 2;
	n.sigs = &sg;
	n.nsigs = 1;
	assert_int_equal(note_format(&n, &out, &len), ERR_INVAL);
	assert_null(out);
	assert_int_equal(len, 0);
	sg.name = "ab";
	assert_int_equal(note_format(&n, &out, &len), ERR_OK);
	assert_string_equal(out, "x\n\n" EM " ab AAAAAA==\n");
	free(out);
	n.text = "x";
	n.text_len = 1;
	assert_int_equal(note_format(&n, &out, &len), ERR_INVAL);
	n.text = "x\n";
	n.text_len = 2;
	n.nsigs = 0;
	assert_int_equal(note_format(&n, &out, &len), ERR_INVAL);
	assert_int_equal(note_text_check("x\n", 2), ERR_OK);
	assert_int_equal(note_text_check("x", 1), ERR_FORMAT);
	assert_int_equal(note_text_check("", 0), ERR_FORMAT);
	assert_int_equal(note_text_check("x\r\n", 3), ERR_FORMAT);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spec_example),
		cmocka_unit_test(test_go_keys),
		cmocka_unit_test(test_go_key_mangling),
		cmocka_unit_test(test_go_sign),
		cmocka_unit_test(test_go_open),
		cmocka_unit_test(test_go_bad_messages),
		cmocka_unit_test(test_parse_negative),
		cmocka_unit_test(test_parse_edge),
		cmocka_unit_test(test_keygen),
		cmocka_unit_test(test_cosig_spec_example),
		cmocka_unit_test(test_cosig_real),
		cmocka_unit_test(test_cosig_roundtrip),
		cmocka_unit_test(test_sign_many),
		cmocka_unit_test(test_format_invalid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
