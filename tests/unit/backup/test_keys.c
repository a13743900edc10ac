/*
 * test_keys.c - the repository's keys and the two files that carry them
 * (backup/keys.h): key derivation against the documented construction,
 * the admin key export (round trip, wrong passphrase, every header line
 * altered), and the agent configuration (round trip, each refusal the
 * header promises, and a file others can read).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "backup/keys.h"
#include "common/banned.h"

#define PASS "correct horse battery staple"
#define OPS 1
#define MEM (32u << 10)		/* bytes: 8 KiB for each of the 4 lanes */
#define MKIB (MEM / 1024)

/* ---- Helpers ---------------------------------------------------------- */

/* A copy of text with the first occurrence of from replaced by to. */
static char *
replace(const char *text, const char *from, const char *to)
{
	const char *at = strstr(text, from);
	size_t n;
	char *out;

	assert_non_null(at);
	n = strlen(text) - strlen(from) + strlen(to) + 1;
	out = malloc(n);
	assert_non_null(out);
	snprintf(out, n, "%.*s%s%s", (int)(at - text), text, to,
	    at + strlen(from));
	return out;
}

/* The whole line of text that starts with prefix, newline included. */
static char *
line_of(const char *text, const char *prefix)
{
	const char *at = text;
	char *out;
	size_t n;

	while (strncmp(at, prefix, strlen(prefix)) != 0) {
		at = strchr(at, '\n');
		assert_non_null(at);
		at++;
	}
	n = strcspn(at, "\n") + 1;
	out = malloc(n + 1);
	assert_non_null(out);
	memcpy(out, at, n);
	out[n] = '\0';
	return out;
}

/* The value (after "key ") of the line that starts with "key ". */
static char *
value_of(const char *text, const char *key)
{
	char prefix[64], *line, *val;

	snprintf(prefix, sizeof(prefix), "%s ", key);
	line = line_of(text, prefix);
	val = strdup(line + strlen(prefix));
	assert_non_null(val);
	val[strcspn(val, "\n")] = '\0';
	free(line);
	return val;
}

static struct admin_key *
make_admin_key(void)
{
	struct admin_key *k;

	assert_int_equal(admin_key_new(&k), ERR_OK);
	assert_int_equal(pack_vault_keypair_secret(k->vault_pk, k->vault_sk),
	    ERR_OK);
	randombytes_buf(k->repo_secret, sizeof(k->repo_secret));
	return k;
}

static char *
export_min(const struct admin_key *k)
{
	char *text = NULL;

	assert_int_equal(admin_key_export(k, PASS, strlen(PASS), OPS, MEM,
	    &text), ERR_OK);
	assert_non_null(text);
	return text;
}

static int
import_text(const char *text, struct admin_key **out)
{
	return admin_key_import(text, strlen(text), PASS, strlen(PASS), out);
}

/* A complete configuration with fixed keys; optional fields set when
 * full is. */
static struct agent_config *
make_config(int full)
{
	struct agent_config *c;
	uint8_t seed[crypto_sign_SEEDBYTES], pk[crypto_sign_PUBLICKEYBYTES];

	assert_int_equal(agent_config_new(&c), ERR_OK);
	snprintf(c->host, sizeof(c->host), "web1.example.org");
	memset(c->vault_pk, 0x11, sizeof(c->vault_pk));
	memset(c->repo_secret, 0x22, sizeof(c->repo_secret));
	memset(seed, 0x33, sizeof(seed));
	assert_int_equal(crypto_sign_seed_keypair(pk, c->sign_sk, seed), 0);
	if (full) {
		snprintf(c->vault, sizeof(c->vault),
		    "backup@vault.example.org:/srv/vault");
		snprintf(c->ssh_identity, sizeof(c->ssh_identity),
		    "/etc/bulwark/id_ed25519 with space");
	}
	return c;
}

static char *
format_config(const struct agent_config *c)
{
	char *text = NULL;

	assert_int_equal(agent_config_format(c, &text), ERR_OK);
	assert_non_null(text);
	return text;
}

static int
parse_text(const char *text)
{
	struct agent_config *c = NULL;
	int rc = agent_config_parse(text, strlen(text), &c);

	if (rc != ERR_OK)
		assert_null(c);
	agent_config_free(c);
	return rc;
}

/* ---- Repository keys --------------------------------------------------- */

/*
 * Deterministic, the two keys distinct, different secrets give different
 * keys, and both are keyed BLAKE2b of their labels as keys.c documents
 * (a change would make every repository's chunk IDs change).
 */
static void
test_derive(void **state)
{
	static const char chunker_label[] = "bulwark backup chunker key v1";
	static const char id_label[] = "bulwark backup chunk id key v1";
	uint8_t s1[REPO_SECRET_LEN], s2[REPO_SECRET_LEN];
	uint8_t want[CHUNKER_KEY_LEN > CHUNK_ID_KEY_LEN ? CHUNKER_KEY_LEN :
	    CHUNK_ID_KEY_LEN];
	struct repo_keys a, b, c;

	(void)state;
	memset(s1, 0xa5, sizeof(s1));
	memset(s2, 0xa5, sizeof(s2));
	s2[31] ^= 1;
	assert_int_equal(repo_keys_derive(s1, &a), ERR_OK);
	assert_int_equal(repo_keys_derive(s1, &b), ERR_OK);
	assert_int_equal(repo_keys_derive(s2, &c), ERR_OK);
	assert_memory_equal(&a, &b, sizeof(a));
	assert_memory_not_equal(a.chunker, a.id, sizeof(a.chunker) <
	    sizeof(a.id) ? sizeof(a.chunker) : sizeof(a.id));
	assert_memory_not_equal(a.chunker, c.chunker, sizeof(a.chunker));
	assert_memory_not_equal(a.id, c.id, sizeof(a.id));

	crypto_generichash(want, CHUNKER_KEY_LEN,
	    (const uint8_t *)chunker_label, sizeof(chunker_label) - 1, s1,
	    sizeof(s1));
	assert_memory_equal(a.chunker, want, CHUNKER_KEY_LEN);
	crypto_generichash(want, CHUNK_ID_KEY_LEN, (const uint8_t *)id_label,
	    sizeof(id_label) - 1, s1, sizeof(s1));
	assert_memory_equal(a.id, want, CHUNK_ID_KEY_LEN);
}

/* ---- Admin key export ------------------------------------------------- */

static void
test_export_round_trip(void **state)
{
	struct admin_key *k = make_admin_key(), *back = NULL;
	uint8_t id[PACK_KEY_ID_LEN];
	char idhex[2 * PACK_KEY_ID_LEN + 1], head[256], *text, *again;

	(void)state;
	text = export_min(k);
	assert_int_equal(pack_vault_key_id(k->vault_pk, id), ERR_OK);
	sodium_bin2hex(idhex, sizeof(idhex), id, sizeof(id));
	snprintf(head, sizeof(head), "bulwark vault admin key v1\nkey-id %s\n"
	    "kdf argon2id v=19 m=%u t=%u p=4 ", idhex, MKIB, OPS);
	assert_int_equal(strncmp(text, head, strlen(head)), 0);
	assert_non_null(strstr(text, "\nsealed "));
	assert_int_equal(text[strlen(text) - 1], '\n');

	assert_int_equal(import_text(text, &back), ERR_OK);
	assert_non_null(back);
	assert_memory_equal(back, k, sizeof(*k));
	admin_key_free(back);

	/* A fresh salt and nonce each time: same keys, other bytes. */
	again = export_min(k);
	assert_string_not_equal(text, again);
	assert_int_equal(import_text(again, &back), ERR_OK);
	assert_memory_equal(back, k, sizeof(*k));
	admin_key_free(back);

	/* White space after the last line is allowed. */
	char *trail = malloc(strlen(text) + 4);
	assert_non_null(trail);
	snprintf(trail, strlen(text) + 4, "%s \n\n", text);
	assert_int_equal(import_text(trail, &back), ERR_OK);
	admin_key_free(back);
	free(trail);

	free(again);
	free(text);
	admin_key_free(k);
}

static void
test_export_wrong_passphrase(void **state)
{
	static const char wrong[] = "correct horse battery stapl";
	struct admin_key *k = make_admin_key(), *back = (void *)1;
	char *text = export_min(k);

	(void)state;
	assert_int_equal(admin_key_import(text, strlen(text), wrong,
	    strlen(wrong), &back), ERR_SIGNATURE);
	assert_null(back);
	assert_int_equal(admin_key_import(text, strlen(text), "", 0, &back),
	    ERR_SIGNATURE);
	assert_null(back);
	free(text);
	admin_key_free(k);
}

static void
test_export_limits(void **state)
{
	struct admin_key *k = make_admin_key();
	char *text = (char *)1;

	(void)state;
	/* (0 for either means the default.) Under 8 KiB for each of the 4
	 * lanes, over 64 passes, over 4 GiB: what import would refuse. */
	assert_int_equal(admin_key_export(k, PASS, strlen(PASS), OPS, MEM - 1,
	    &text), ERR_INVAL);
	assert_null(text);
	assert_int_equal(admin_key_export(k, PASS, strlen(PASS), 65, MEM,
	    &text), ERR_INVAL);
	assert_null(text);
	assert_int_equal(admin_key_export(k, PASS, strlen(PASS), OPS,
	    (4ull << 30) + 1024, &text), ERR_INVAL);
	assert_null(text);
	admin_key_free(k);
}

/* Alters one thing in a good export; import must refuse with want. */
#define expect_refused(text, from, to, want) \
	expect_refused_at(text, from, to, want, __FILE__, __LINE__)

static void
expect_refused_at(const char *text, const char *from, const char *to,
    int want, const char *file, int line)
{
	struct admin_key *back = (void *)1;
	char *bad = replace(text, from, to);

	_assert_int_equal(cast_to_largest_integral_type(import_text(bad,
	    &back)), cast_to_largest_integral_type(want), file, line);
	assert_null(back);
	free(bad);
}

/*
 * Every line of the header is bound into the tag, so changing the key ID,
 * either KDF number or the salt makes the tag fail; changes the parser
 * sees first are refused as malformed.
 */
static void
test_export_altered(void **state)
{
	struct admin_key *k = make_admin_key();
	char *text = export_min(k);
	char *idline = line_of(text, "key-id "), *kdf = line_of(text, "kdf ");
	char *salt, *sealed, *alt, from[512], to[512];

	(void)state;
	/* key-id: one hex digit changed. */
	alt = strdup(idline);
	assert_non_null(alt);
	alt[7] = alt[7] == '0' ? '1' : '0';
	expect_refused(text, idline, alt, ERR_SIGNATURE);
	free(alt);
	/* key-id: upper case is another spelling, not the key's ID. */
	alt = strdup(idline);
	assert_non_null(alt);
	for (char *p = alt + strlen("key-id "); *p != '\0'; p++)
		if (*p >= 'a' && *p <= 'f')
			*p = (char)(*p - 'a' + 'A');
	if (strcmp(alt, idline) != 0)
		expect_refused(text, idline, alt, ERR_SIGNATURE);
	free(alt);
	expect_refused(text, idline, "key-id 00\n", ERR_FORMAT);

	/* kdf: memory, passes and lanes changed (still valid values), and
	 * the same parameters in the one-lane legacy form. */
	snprintf(from, sizeof(from), "kdf argon2id v=19 m=%u t=%u p=4 ",
	    MKIB, OPS);
	/* (The lines below spell MKIB as 32.) */
	_Static_assert(MKIB == 32, "MKIB");
	static const char *const signed_[] = {
		"kdf argon2id v=19 m=32 t=2 p=4 ",
		"kdf argon2id v=19 m=64 t=1 p=4 ",
		"kdf argon2id v=19 m=32 t=1 p=2 ",
		"kdf argon2id v=19 m=32 t=1 p=1 ",
		"kdf argon2id13 1 32768 ",
	};
	for (size_t i = 0; i < sizeof(signed_) / sizeof(signed_[0]); i++) {
		snprintf(to, sizeof(to), "%s", signed_[i]);
		expect_refused(text, from, to, ERR_SIGNATURE);
	}
	/* kdf: values out of range or not canonical, fields missing,
	 * reordered or doubled, another algorithm or version. */
	static const char *const malformed[] = {
		"kdf argon2id v=19 m=32 t=0 p=4 ",
		"kdf argon2id v=19 m=32 t=65 p=4 ",
		"kdf argon2id v=19 m=32 t=01 p=4 ",
		"kdf argon2id v=19 m=32 t=1 p=0 ",
		"kdf argon2id v=19 m=32 t=1 p=65 ",
		"kdf argon2id v=19 m=31 t=1 p=4 ",
		"kdf argon2id v=19 m=4194305 t=1 p=4 ",
		"kdf argon2id v=19 m=99999999999 t=1 p=4 ",
		"kdf argon2id v=19 m=32 t= p=4 ",
		"kdf argon2id v=19 m=32 t=1 p=4 x=1 ",
		"kdf argon2id v=19 m=32 t=1 ",
		"kdf argon2id v=19 t=1 m=32 p=4 ",
		"kdf argon2id v=19 m=32 m=1 p=4 ",
		"kdf argon2id v=19  m=32 t=1 p=4 ",
		"kdf argon2id v=019 m=32 t=1 p=4 ",
		"kdf argon2id13 0 32768 ",
		"kdf argon2id13 1 8191 ",
		"kdf argon2id13 01 32768 ",
		"kdf argon2id13 1 99999999999 ",
	};
	for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]);
	    i++) {
		snprintf(to, sizeof(to), "%s", malformed[i]);
		expect_refused(text, from, to, ERR_FORMAT);
	}
	snprintf(to, sizeof(to), "kdf argon2id v=16 m=%u t=1 p=4 ", MKIB);
	expect_refused(text, from, to, ERR_UNSUPPORTED);
	snprintf(to, sizeof(to), "kdf argon2i v=19 m=%u t=1 p=4 ", MKIB);
	expect_refused(text, from, to, ERR_UNSUPPORTED);
	snprintf(to, sizeof(to), "kdf scrypt v=19 m=%u t=1 p=4 ", MKIB);
	expect_refused(text, from, to, ERR_UNSUPPORTED);

	/* salt: one base64 digit changed (not the last, whose low bits are
	 * padding). */
	salt = value_of(kdf, "kdf");
	char *sp = strrchr(salt, ' ');
	assert_non_null(sp);
	alt = strdup(salt);
	assert_non_null(alt);
	alt[sp - salt + 1] = alt[sp - salt + 1] == 'A' ? 'B' : 'A';
	expect_refused(text, salt, alt, ERR_SIGNATURE);
	free(alt);
	/* salt: not base64 at all. */
	alt = strdup(salt);
	assert_non_null(alt);
	alt[sp - salt + 1] = '!';
	expect_refused(text, salt, alt, ERR_FORMAT);
	free(alt);

	/* sealed: a ciphertext byte changed. */
	sealed = value_of(text, "sealed");
	alt = strdup(sealed);
	assert_non_null(alt);
	alt[40] = alt[40] == 'A' ? 'B' : 'A';
	expect_refused(text, sealed, alt, ERR_SIGNATURE);
	free(alt);

	/* magic, and anything after the last line. */
	expect_refused(text, "admin key v1", "admin key v2", ERR_FORMAT);
	snprintf(from, sizeof(from), "%s", sealed);
	snprintf(to, sizeof(to), "%s\nx", sealed);
	expect_refused(text, from, to, ERR_FORMAT);

	free(salt);
	free(sealed);
	free(idline);
	free(kdf);
	free(text);
	admin_key_free(k);
}

/*
 * An export in the form the first versions wrote ("kdf argon2id13 OPS
 * MEM SALT", one lane, memory in bytes), made here the way they made it,
 * with libsodium's crypto_pwhash: it imports, and admin_key_kdf reads its
 * parameters.
 */
static void
test_export_legacy(void **state)
{
	struct admin_key *k = make_admin_key(), *back = NULL;
	uint8_t id[PACK_KEY_ID_LEN], salt[crypto_pwhash_SALTBYTES];
	uint8_t wk[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
	uint8_t plain[PACK_SK_LEN + PACK_PK_LEN + REPO_SECRET_LEN];
	uint8_t sealed[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES +
	    sizeof(plain) + crypto_aead_xchacha20poly1305_ietf_ABYTES];
	char idhex[2 * PACK_KEY_ID_LEN + 1], salt64[64], head[512];
	char sealed64[256], text[1024];
	struct admin_kdf a;
	const size_t mem = 2u << 20;

	(void)state;
	assert_int_equal(pack_vault_key_id(k->vault_pk, id), ERR_OK);
	sodium_bin2hex(idhex, sizeof(idhex), id, sizeof(id));
	randombytes_buf(salt, sizeof(salt));
	sodium_bin2base64(salt64, sizeof(salt64), salt, sizeof(salt),
	    sodium_base64_VARIANT_ORIGINAL);
	snprintf(head, sizeof(head), "bulwark vault admin key v1\nkey-id %s\n"
	    "kdf argon2id13 2 %zu %s\n", idhex, mem, salt64);
	assert_int_equal(crypto_pwhash(wk, sizeof(wk), PASS, strlen(PASS),
	    salt, 2, mem, crypto_pwhash_ALG_ARGON2ID13), 0);
	memcpy(plain, k->vault_sk, PACK_SK_LEN);
	memcpy(plain + PACK_SK_LEN, k->vault_pk, PACK_PK_LEN);
	memcpy(plain + PACK_SK_LEN + PACK_PK_LEN, k->repo_secret,
	    REPO_SECRET_LEN);
	randombytes_buf(sealed, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
	crypto_aead_xchacha20poly1305_ietf_encrypt(
	    sealed + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, NULL,
	    plain, sizeof(plain), (const uint8_t *)head, strlen(head), NULL,
	    sealed, wk);
	sodium_bin2base64(sealed64, sizeof(sealed64), sealed, sizeof(sealed),
	    sodium_base64_VARIANT_ORIGINAL);
	snprintf(text, sizeof(text), "%ssealed %s\n", head, sealed64);

	assert_int_equal(admin_key_kdf(text, strlen(text), &a), ERR_OK);
	assert_int_equal(a.t, 2);
	assert_int_equal(a.m_kib, 2048);
	assert_int_equal(a.lanes, 1);
	assert_memory_equal(a.salt, salt, sizeof(salt));
	assert_int_equal(import_text(text, &back), ERR_OK);
	assert_memory_equal(back, k, sizeof(*k));
	admin_key_free(back);
	sodium_memzero(plain, sizeof(plain));
	sodium_memzero(wk, sizeof(wk));
	admin_key_free(k);
}

/* admin_key_kdf reads a new export's line, and refuses what import does. */
static void
test_export_kdf_line(void **state)
{
	struct admin_key *k = make_admin_key();
	char *text = export_min(k), *bad;
	struct admin_kdf a;

	(void)state;
	assert_int_equal(admin_key_kdf(text, strlen(text), &a), ERR_OK);
	assert_int_equal(a.t, OPS);
	assert_int_equal(a.m_kib, MKIB);
	assert_int_equal(a.lanes, 4);
	bad = replace(text, " p=4 ", " p=0 ");
	assert_int_equal(admin_key_kdf(bad, strlen(bad), &a), ERR_FORMAT);
	free(bad);
	assert_int_equal(admin_key_kdf("bulwark vault admin key v1\n", 27,
	    &a), ERR_FORMAT);
	free(text);
	admin_key_free(k);
}

/* A public key that is not the secret key's is refused after unwrapping. */
static void
test_export_mismatched_keys(void **state)
{
	struct admin_key *k = make_admin_key(), *back = (void *)1;
	uint8_t sk2[PACK_SK_LEN];
	char *text;

	(void)state;
	assert_int_equal(pack_vault_keypair_secret(k->vault_pk, sk2), ERR_OK);
	text = export_min(k);
	assert_int_equal(import_text(text, &back), ERR_FORMAT);
	assert_null(back);
	sodium_memzero(sk2, sizeof(sk2));
	free(text);
	admin_key_free(k);
}

/* ---- Agent configuration --------------------------------------------- */

static void
test_config_round_trip(void **state)
{
	(void)state;
	for (int full = 0; full < 2; full++) {
		struct agent_config *c = make_config(full), *back = NULL;
		char *text = format_config(c);

		assert_int_equal(agent_config_parse(text, strlen(text), &back),
		    ERR_OK);
		assert_non_null(back);
		assert_memory_equal(back, c, sizeof(*c));
		agent_config_free(back);

		/* Comments, blank lines and any order are fine; no final
		 * newline is fine too. */
		char *host = line_of(text, "host "), *rk = line_of(text,
		    "repo-key ");
		char *moved = replace(text, host, "");
		char *swapped = replace(moved, rk, "");
		size_t n = strlen(swapped) + strlen(host) + strlen(rk) + 32;
		char *reordered = malloc(n);
		assert_non_null(reordered);
		snprintf(reordered, n, "\n# moved\n%s%s\n%.*s", rk, swapped,
		    (int)strlen(host) - 1, host);
		assert_int_equal(agent_config_parse(reordered,
		    strlen(reordered), &back), ERR_OK);
		assert_memory_equal(back, c, sizeof(*c));
		agent_config_free(back);

		free(reordered);
		free(swapped);
		free(moved);
		free(host);
		free(rk);
		free(text);
		agent_config_free(c);
	}
}

static void
test_config_refusals(void **state)
{
	struct agent_config *c = make_config(1);
	char *text = format_config(c), *bad, *line, *val;
	size_t n;

	(void)state;
	assert_int_equal(parse_text(text), ERR_OK);

	/* Every key once. */
	static const char *const keys[] = { "host", "vault-key", "repo-key",
	    "sign-key", "vault", "ssh-identity" };
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		char prefix[64];

		snprintf(prefix, sizeof(prefix), "%s ", keys[i]);
		line = line_of(text, prefix);
		n = strlen(text) + strlen(line) + 1;
		bad = malloc(n);
		assert_non_null(bad);
		snprintf(bad, n, "%s%s", text, line);
		assert_int_equal(parse_text(bad), ERR_FORMAT);
		free(bad);
		/* The required four must be there; the others need not. */
		bad = replace(text, line, "");
		assert_int_equal(parse_text(bad), i < 4 ? ERR_FORMAT : ERR_OK);
		free(bad);
		free(line);
	}

	/* Nothing unknown, nor a known key in another case or spacing. */
	n = strlen(text) + 64;
	bad = malloc(n);
	assert_non_null(bad);
	snprintf(bad, n, "%scolour blue\n", text);
	assert_int_equal(parse_text(bad), ERR_FORMAT);
	snprintf(bad, n, "%sHost web2\n", text);
	assert_int_equal(parse_text(bad), ERR_FORMAT);
	snprintf(bad, n, " %s", text);
	assert_int_equal(parse_text(bad), ERR_FORMAT);
	free(bad);

	/* Base64: not base64, the wrong length, non-canonical padding. */
	val = value_of(text, "vault-key");
	bad = replace(text, val, "!!!!");
	assert_int_equal(parse_text(bad), ERR_FORMAT);
	free(bad);
	bad = replace(text, val, "AAAA");
	assert_int_equal(parse_text(bad), ERR_FORMAT);
	free(bad);
	char *nopad = strdup(val);
	assert_non_null(nopad);
	nopad[strcspn(nopad, "=")] = '\0';
	bad = replace(text, val, nopad);
	assert_int_equal(parse_text(bad), ERR_FORMAT);
	free(bad);
	free(nopad);
	free(val);
	val = value_of(text, "repo-key");
	char *stray = strdup(val);
	assert_non_null(stray);
	/* 32 bytes end in "X=": the digit before '=' carries 2 pad bits. */
	char *eq = strchr(stray, '=');
	assert_non_null(eq);
	eq[-1] = eq[-1] == 'B' ? 'C' : 'B';
	bad = replace(text, val, stray);
	assert_int_equal(parse_text(bad), ERR_FORMAT);
	free(bad);
	free(stray);
	free(val);

	/* A signing key whose public half is another key's. */
	struct agent_config *d = make_config(1);
	uint8_t other_pk[crypto_sign_PUBLICKEYBYTES];
	uint8_t other_sk[crypto_sign_SECRETKEYBYTES];
	crypto_sign_keypair(other_pk, other_sk);
	memcpy(d->sign_sk + 32, other_pk, 32);
	char *dtext = format_config(d);
	assert_int_equal(parse_text(dtext), ERR_FORMAT);
	free(dtext);
	sodium_memzero(other_sk, sizeof(other_sk));
	agent_config_free(d);

	/* Host names that would name other files, or split a line. */
	static const char *const hosts[] = { "host a/b\n", "host a b\n",
	    "host ..\n", "host .\n", "host \n", "host a\tb\n", "host\n" };
	line = line_of(text, "host ");
	for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
		bad = replace(text, line, hosts[i]);
		assert_int_equal(parse_text(bad), ERR_FORMAT);
		free(bad);
	}
	free(line);
	/* The formatter will not write them either. */
	struct agent_config *e = make_config(0);
	char *etext = (char *)1;
	snprintf(e->host, sizeof(e->host), "a/b");
	assert_int_equal(agent_config_format(e, &etext), ERR_INVAL);
	assert_null(etext);
	snprintf(e->host, sizeof(e->host), "web1");
	snprintf(e->vault, sizeof(e->vault), "a\nhost b");
	assert_int_equal(agent_config_format(e, &etext), ERR_INVAL);
	agent_config_free(e);

	/* An empty optional value; a NUL inside a value. */
	line = line_of(text, "vault ");
	bad = replace(text, line, "vault \n");
	assert_int_equal(parse_text(bad), ERR_FORMAT);
	free(bad);
	bad = replace(text, line, "vault a@b:Xc\n");
	*strchr(bad, 'X') = '\0';
	struct agent_config *f = (void *)1;
	assert_int_equal(agent_config_parse(bad, strlen(text) - strlen(line) +
	    strlen("vault a@b:Xc\n"), &f), ERR_FORMAT);
	assert_null(f);
	free(bad);
	free(line);

	free(text);
	agent_config_free(c);
}

static void
test_config_load_mode(void **state)
{
	struct agent_config *c = make_config(1), *back = NULL;
	char path[] = "/tmp/bwt-keys-XXXXXX", why[512];
	char *text = format_config(c);
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);

	assert_int_equal(chmod(path, 0644), 0);
	why[0] = '\0';
	assert_int_equal(agent_config_load(path, &back, why, sizeof(why)),
	    ERR_DENIED);
	assert_null(back);
	assert_non_null(strstr(why, "chmod 600"));
	assert_int_equal(chmod(path, 0640), 0);
	assert_int_equal(agent_config_load(path, &back, why, sizeof(why)),
	    ERR_DENIED);
	assert_int_equal(chmod(path, 0602), 0);
	assert_int_equal(agent_config_load(path, &back, why, sizeof(why)),
	    ERR_DENIED);

	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(agent_config_load(path, &back, why, sizeof(why)),
	    ERR_OK);
	assert_memory_equal(back, c, sizeof(*c));
	agent_config_free(back);

	unlink(path);
	assert_int_equal(agent_config_load(path, &back, why, sizeof(why)),
	    ERR_NOTFOUND);
	free(text);
	agent_config_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_derive),
		cmocka_unit_test(test_export_round_trip),
		cmocka_unit_test(test_export_wrong_passphrase),
		cmocka_unit_test(test_export_limits),
		cmocka_unit_test(test_export_altered),
		cmocka_unit_test(test_export_mismatched_keys),
		cmocka_unit_test(test_export_legacy),
		cmocka_unit_test(test_export_kdf_line),
		cmocka_unit_test(test_config_round_trip),
		cmocka_unit_test(test_config_refusals),
		cmocka_unit_test(test_config_load_mode),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
