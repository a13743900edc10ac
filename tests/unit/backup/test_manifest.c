/*
 * test_manifest.c - snapshot manifests: round trips, one encoding per
 * manifest, refusal of other keys, altered, truncated and extended bytes,
 * and of validly signed bodies that break the layout's rules.
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

#include "backup/manifest.h"
#include "common/banned.h"

#define HOST "web1.example.org"
#define NPACKS 3
/* Offsets in the full test manifest's body (host is 16 bytes). */
#define OFF_NPACKS (MANIFEST_FIXED_LEN + 16)
#define OFF_PACKS (OFF_NPACKS + 4)
#define OFF_NTAGS (OFF_PACKS + NPACKS * PACK_NAME_HEX_LEN)

static uint8_t host_pk[MANIFEST_PK_LEN], host_sk[MANIFEST_SK_LEN];
static uint8_t other_pk[MANIFEST_PK_LEN], other_sk[MANIFEST_SK_LEN];

/* A manifest with every field set, on the stack with borrowed strings. */
struct fixture {
	struct manifest m;
	char packs[NPACKS][PACK_NAME_HEX_LEN + 1];
	char *tags[3];
};

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void
fixture_init(struct fixture *f)
{
	static char t0[] = "daily", t1[] = "env=prod", t2[] = "env=prod x";
	uint8_t h[32];

	memset(f, 0, sizeof(*f));
	for (unsigned i = 0; i < NPACKS; i++) {
		uint8_t in = (uint8_t)i;

		crypto_hash_sha256(h, &in, 1);
		sodium_bin2hex(f->packs[i], sizeof(f->packs[i]), h, sizeof(h));
	}
	qsort(f->packs, NPACKS, sizeof(f->packs[0]), name_cmp);
	f->tags[0] = t0;
	f->tags[1] = t1;
	f->tags[2] = t2;
	f->m.host = (char *)HOST;
	memset(f->m.snapshot_id, 0x5a, sizeof(f->m.snapshot_id));
	f->m.snapshot_id[0] = 0x01;
	f->m.client_time = 0x0102030405060708ull;
	memset(f->m.key_id, 0x11, sizeof(f->m.key_id));
	memset(f->m.root_id, 0x22, sizeof(f->m.root_id));
	memcpy(f->m.root_pack, f->packs[1], sizeof(f->m.root_pack));
	f->m.packs = f->packs;
	f->m.npacks = NPACKS;
	f->m.files = 12345;
	f->m.bytes_read = UINT64_MAX;
	f->m.bytes_stored = 1ull << 40;
	f->m.has_parent = true;
	memset(f->m.parent_id, 0x33, sizeof(f->m.parent_id));
	f->m.tags = f->tags;
	f->m.ntags = 3;
}

/* The smallest kind: one pack, no parent, no tags. */
static void
fixture_minimal(struct fixture *f)
{
	fixture_init(f);
	memcpy(f->m.root_pack, f->packs[0], sizeof(f->m.root_pack));
	f->m.npacks = 1;
	f->m.has_parent = false;
	memset(f->m.parent_id, 0, sizeof(f->m.parent_id));
	f->m.tags = NULL;
	f->m.ntags = 0;
	f->m.host = (char *)"h";
}

static void
encode(const struct manifest *m, uint8_t **out, size_t *len)
{
	assert_int_equal(manifest_encode_sign(m, host_sk, out, len), ERR_OK);
	assert_non_null(*out);
}

static void
assert_manifest_equal(const struct manifest *a, const struct manifest *b)
{
	assert_string_equal(a->host, b->host);
	assert_memory_equal(a->snapshot_id, b->snapshot_id, MANIFEST_SNAPSHOT_ID_LEN);
	assert_true(a->client_time == b->client_time);
	assert_memory_equal(a->key_id, b->key_id, PACK_KEY_ID_LEN);
	assert_memory_equal(a->root_id, b->root_id, CHUNK_ID_LEN);
	assert_string_equal(a->root_pack, b->root_pack);
	assert_int_equal(a->npacks, b->npacks);
	for (size_t i = 0; i < a->npacks; i++)
		assert_string_equal(a->packs[i], b->packs[i]);
	assert_true(a->files == b->files);
	assert_true(a->bytes_read == b->bytes_read);
	assert_true(a->bytes_stored == b->bytes_stored);
	assert_int_equal(a->has_parent, b->has_parent);
	assert_memory_equal(a->parent_id, b->parent_id, MANIFEST_SNAPSHOT_ID_LEN);
	assert_int_equal(a->ntags, b->ntags);
	for (size_t i = 0; i < a->ntags; i++)
		assert_string_equal(a->tags[i], b->tags[i]);
}

/* body (signature stripped) signed afresh with sk: what a hostile host sends. */
static void
resign(const uint8_t *body, size_t blen, const uint8_t *sk, uint8_t **out,
    size_t *len)
{
	uint8_t *msg = malloc(MANIFEST_SIG_PREFIX_LEN + blen);
	uint8_t *buf = malloc(blen + MANIFEST_SIG_LEN);

	assert_non_null(msg);
	assert_non_null(buf);
	memcpy(msg, MANIFEST_SIG_PREFIX, MANIFEST_SIG_PREFIX_LEN);
	memcpy(msg + MANIFEST_SIG_PREFIX_LEN, body, blen);
	memcpy(buf, body, blen);
	assert_int_equal(crypto_sign_detached(buf + blen, NULL, msg,
	    MANIFEST_SIG_PREFIX_LEN + blen, sk), 0);
	free(msg);
	*out = buf;
	*len = blen + MANIFEST_SIG_LEN;
}

/* Both parsers refuse body, signed with the host key, with want. */
static void
assert_signed_body_refused(const uint8_t *body, size_t blen, int want)
{
	struct manifest *m = (struct manifest *)1;
	uint8_t *buf;
	size_t len;

	resign(body, blen, host_sk, &buf, &len);
	assert_int_equal(manifest_parse_verify(buf, len, host_pk, &m), want);
	assert_null(m);
	m = (struct manifest *)1;
	assert_int_equal(manifest_parse_unverified(buf, len, &m), want);
	assert_null(m);
	free(buf);
}

/* The full fixture's body, in a buffer with room for extra bytes. */
static uint8_t *
full_body(size_t *blen, size_t extra)
{
	struct fixture f;
	uint8_t *enc, *body;
	size_t len;

	fixture_init(&f);
	encode(&f.m, &enc, &len);
	*blen = len - MANIFEST_SIG_LEN;
	body = calloc(1, *blen + extra);
	assert_non_null(body);
	memcpy(body, enc, *blen);
	free(enc);
	return body;
}

static void
test_round_trip(void **state)
{
	struct fixture f;
	struct manifest *m = NULL, *u = NULL;
	char hex[MANIFEST_ID_HEX_LEN + 1];
	uint8_t *enc;
	size_t len;

	(void)state;
	fixture_init(&f);
	encode(&f.m, &enc, &len);
	assert_int_equal(len, OFF_NTAGS + 4 + 1 + 5 + 1 + 8 + 1 + 10 +
	    MANIFEST_SIG_LEN);
	assert_memory_equal(enc, "BWSM\x01\x01\x00\x00", 8);
	assert_int_equal(manifest_parse_verify(enc, len, host_pk, &m), ERR_OK);
	assert_manifest_equal(&f.m, m);
	assert_int_equal(manifest_parse_unverified(enc, len, &u), ERR_OK);
	assert_manifest_equal(&f.m, u);
	manifest_id_hex(m, hex);
	assert_string_equal(hex, "015a5a5a5a5a5a5a5a5a5a5a5a5a5a5a");
	manifest_free(m);
	manifest_free(u);
	manifest_free(NULL);
	free(enc);
}

/* Parsing and re-encoding gives the same bytes, for both fixtures. */
static void
test_canonical(void **state)
{
	struct fixture f;

	(void)state;
	for (int k = 0; k < 2; k++) {
		struct manifest *m = NULL;
		uint8_t *a, *b;
		size_t alen, blen;

		if (k == 0)
			fixture_init(&f);
		else
			fixture_minimal(&f);
		encode(&f.m, &a, &alen);
		if (k == 1)
			assert_int_equal(alen, MANIFEST_MIN_LEN);
		assert_int_equal(manifest_parse_verify(a, alen, host_pk, &m),
		    ERR_OK);
		assert_manifest_equal(&f.m, m);
		encode(m, &b, &blen);
		assert_int_equal(alen, blen);
		assert_memory_equal(a, b, alen);
		manifest_free(m);
		free(a);
		free(b);
	}
}

static void
test_other_key(void **state)
{
	struct fixture f;
	struct manifest *m = (struct manifest *)1;
	uint8_t *enc;
	size_t len;

	(void)state;
	fixture_init(&f);
	encode(&f.m, &enc, &len);
	assert_int_equal(manifest_parse_verify(enc, len, other_pk, &m),
	    ERR_SIGNATURE);
	assert_null(m);
	free(enc);
	assert_int_equal(manifest_encode_sign(&f.m, other_sk, &enc, &len),
	    ERR_OK);
	assert_int_equal(manifest_parse_verify(enc, len, host_pk, &m),
	    ERR_SIGNATURE);
	assert_null(m);
	free(enc);
}

static void
test_bit_flips(void **state)
{
	struct fixture f;
	uint8_t *enc;
	size_t len;

	(void)state;
	fixture_init(&f);
	encode(&f.m, &enc, &len);
	for (size_t i = 0; i < len * 8; i++) {
		struct manifest *m = NULL;

		enc[i / 8] ^= (uint8_t)(1u << (i % 8));
		assert_int_not_equal(manifest_parse_verify(enc, len, host_pk,
		    &m), ERR_OK);
		assert_null(m);
		enc[i / 8] ^= (uint8_t)(1u << (i % 8));
	}
	free(enc);
}

/* Every prefix is refused, read from an exact-size copy; so is one extra byte. */
static void
test_truncation(void **state)
{
	struct fixture f;
	struct manifest *m = NULL;
	uint8_t *enc, *longer;
	size_t len, blen;

	(void)state;
	fixture_init(&f);
	encode(&f.m, &enc, &len);
	for (size_t n = 0; n < len; n++) {
		uint8_t *cut = malloc(n > 0 ? n : 1);

		assert_non_null(cut);
		memcpy(cut, enc, n);
		assert_int_not_equal(manifest_parse_verify(cut, n, host_pk, &m),
		    ERR_OK);
		assert_int_not_equal(manifest_parse_unverified(cut, n, &m),
		    ERR_OK);
		assert_null(m);
		free(cut);
	}
	longer = malloc(len + 1);
	assert_non_null(longer);
	memcpy(longer, enc, len);
	longer[len] = 0;
	assert_int_equal(manifest_parse_verify(longer, len + 1, host_pk, &m),
	    ERR_SIGNATURE);
	free(longer);
	free(enc);
	/* A trailing byte in a validly signed body. */
	longer = full_body(&blen, 1);
	assert_signed_body_refused(longer, blen + 1, ERR_FORMAT);
	free(longer);
}

static void
test_unsorted_packs(void **state)
{
	struct fixture f;
	char tmp[PACK_NAME_HEX_LEN + 1];
	uint8_t *body, *enc = (uint8_t *)1;
	size_t blen, len = 1;

	(void)state;
	/* Encoder: swapped, then duplicated. */
	fixture_init(&f);
	memcpy(tmp, f.packs[0], sizeof(tmp));
	memcpy(f.packs[0], f.packs[2], sizeof(tmp));
	memcpy(f.packs[2], tmp, sizeof(tmp));
	assert_int_equal(manifest_encode_sign(&f.m, host_sk, &enc, &len),
	    ERR_INVAL);
	assert_null(enc);
	assert_int_equal(len, 0);
	fixture_init(&f);
	memcpy(f.packs[2], f.packs[1], sizeof(tmp));
	assert_int_equal(manifest_encode_sign(&f.m, host_sk, &enc, &len),
	    ERR_INVAL);

	/* Parser: the same in signed bodies. */
	body = full_body(&blen, 0);
	memcpy(tmp, body + OFF_PACKS, PACK_NAME_HEX_LEN);
	memcpy(body + OFF_PACKS, body + OFF_PACKS + 2 * PACK_NAME_HEX_LEN,
	    PACK_NAME_HEX_LEN);
	memcpy(body + OFF_PACKS + 2 * PACK_NAME_HEX_LEN, tmp, PACK_NAME_HEX_LEN);
	assert_signed_body_refused(body, blen, ERR_FORMAT);
	free(body);
	body = full_body(&blen, 0);
	memcpy(body + OFF_PACKS + 2 * PACK_NAME_HEX_LEN,
	    body + OFF_PACKS + PACK_NAME_HEX_LEN, PACK_NAME_HEX_LEN);
	assert_signed_body_refused(body, blen, ERR_FORMAT);
	free(body);
}

static void
test_bad_hex(void **state)
{
	static const char bad[] = { 'A', 'g', 'G', ' ', '\0', '/', ':', '`' };
	struct fixture f;
	uint8_t *body, *enc;
	size_t blen, len;

	(void)state;
	for (size_t k = 0; k < sizeof(bad); k++) {
		/* Last digit of the last pack, so order is kept. */
		fixture_init(&f);
		f.packs[2][PACK_NAME_HEX_LEN - 1] = bad[k];
		assert_int_equal(manifest_encode_sign(&f.m, host_sk, &enc,
		    &len), ERR_INVAL);
		fixture_init(&f);
		f.m.root_pack[5] = bad[k];
		assert_int_equal(manifest_encode_sign(&f.m, host_sk, &enc,
		    &len), ERR_INVAL);

		body = full_body(&blen, 0);
		body[OFF_PACKS + 3 * PACK_NAME_HEX_LEN - 1] = (uint8_t)bad[k];
		assert_signed_body_refused(body, blen, ERR_FORMAT);
		free(body);
		body = full_body(&blen, 0);
		body[80 + 5] = (uint8_t)bad[k];
		assert_signed_body_refused(body, blen, ERR_FORMAT);
		free(body);
	}
}

/* Over the limits: ERR_TOOBIG from both sides. */
static void
test_limits(void **state)
{
	static char tagbuf[MANIFEST_TAG_MAX + 2];
	char host[MANIFEST_HOST_MAX + 2];
	char *many[MANIFEST_MAX_TAGS + 1];
	struct fixture f;
	uint8_t *body, *enc;
	size_t blen, len;

	(void)state;
	memset(host, 'h', sizeof(host));
	host[MANIFEST_HOST_MAX + 1] = '\0';
	fixture_init(&f);
	f.m.host = host;
	assert_int_equal(manifest_encode_sign(&f.m, host_sk, &enc, &len),
	    ERR_TOOBIG);
	host[MANIFEST_HOST_MAX] = '\0';
	encode(&f.m, &enc, &len);		/* 255 is fine */
	free(enc);

	fixture_init(&f);
	memset(tagbuf, 't', sizeof(tagbuf) - 1);
	f.tags[2] = tagbuf;			/* 256 bytes, sorts last */
	assert_int_equal(manifest_encode_sign(&f.m, host_sk, &enc, &len),
	    ERR_TOOBIG);
	tagbuf[MANIFEST_TAG_MAX] = '\0';
	encode(&f.m, &enc, &len);
	free(enc);

	fixture_init(&f);
	for (size_t i = 0; i < MANIFEST_MAX_TAGS + 1; i++) {
		many[i] = malloc(4);
		assert_non_null(many[i]);
		many[i][0] = 't';
		many[i][1] = (char)('0' + i / 10);
		many[i][2] = (char)('0' + i % 10);
		many[i][3] = '\0';
	}
	f.m.tags = many;
	f.m.ntags = MANIFEST_MAX_TAGS + 1;
	assert_int_equal(manifest_encode_sign(&f.m, host_sk, &enc, &len),
	    ERR_TOOBIG);
	f.m.ntags = MANIFEST_MAX_TAGS;
	encode(&f.m, &enc, &len);
	free(enc);
	for (size_t i = 0; i < MANIFEST_MAX_TAGS + 1; i++)
		free(many[i]);

	/* Checked before any name is read. */
	fixture_init(&f);
	f.m.npacks = MANIFEST_MAX_PACKS + 1;
	assert_int_equal(manifest_encode_sign(&f.m, host_sk, &enc, &len),
	    ERR_TOOBIG);

	/* Counts over the limit in signed bodies. */
	body = full_body(&blen, 0);
	memcpy(body + OFF_NPACKS, "\x00\x98\x96\x81", 4);	/* 10000001 */
	assert_signed_body_refused(body, blen, ERR_TOOBIG);
	memcpy(body + OFF_NPACKS, "\x00\x98\x96\x80", 4);	/* runs past end */
	assert_signed_body_refused(body, blen, ERR_FORMAT);
	memcpy(body + OFF_NPACKS, "\xff\xff\xff\xff", 4);
	assert_signed_body_refused(body, blen, ERR_TOOBIG);
	free(body);
	body = full_body(&blen, 0);
	memcpy(body + OFF_NTAGS, "\x00\x00\x00\x41", 4);	/* 65 */
	assert_signed_body_refused(body, blen, ERR_TOOBIG);
	free(body);
}

/* Other rules of the layout, broken in signed bodies and in the encoder. */
static void
test_rules(void **state)
{
	struct fixture f;
	uint8_t *body, *enc;
	size_t blen, len;

	(void)state;
	body = full_body(&blen, 0);
	body[4] = 2;
	assert_signed_body_refused(body, blen, ERR_UNSUPPORTED);
	body[4] = 1;
	body[0] = 'X';
	assert_signed_body_refused(body, blen, ERR_FORMAT);
	body[0] = 'B';
	body[5] = 0x03;					/* unknown flag */
	assert_signed_body_refused(body, blen, ERR_FORMAT);
	body[5] = 0x00;					/* parent ID left */
	assert_signed_body_refused(body, blen, ERR_FORMAT);
	body[5] = 0x01;
	body[7] = 1;					/* reserved */
	assert_signed_body_refused(body, blen, ERR_FORMAT);
	body[7] = 0;
	body[MANIFEST_FIXED_LEN + 4] = ' ';		/* space in host */
	assert_signed_body_refused(body, blen, ERR_FORMAT);
	body[MANIFEST_FIXED_LEN + 4] = '.';
	body[80] = body[80] == '0' ? '1' : '0';		/* root not listed */
	assert_signed_body_refused(body, blen, ERR_FORMAT);
	free(body);

	/* Tags: "daily" "env=prod" "env=prod x"; make the second "env=prod x". */
	body = full_body(&blen, 0);
	assert_memory_equal(body + OFF_NTAGS, "\0\0\0\x03\x05" "daily", 10);
	memcpy(body + OFF_NTAGS + 10, "\x08" "daily\x7f\x7f\x7f", 9);
	assert_signed_body_refused(body, blen, ERR_FORMAT);	/* control */
	memcpy(body + OFF_NTAGS + 10, "\x08" "aaaaaaaa", 9);
	assert_signed_body_refused(body, blen, ERR_FORMAT);	/* unsorted */
	free(body);
	body = full_body(&blen, 0);
	body[OFF_NTAGS + 19] = 8;		/* "env=prod" twice */
	memcpy(body + OFF_NTAGS + 20, "env=prod", 8);
	assert_signed_body_refused(body, blen - 2, ERR_FORMAT);
	body[OFF_NTAGS + 4] = 0;		/* empty tag */
	assert_signed_body_refused(body, blen, ERR_FORMAT);
	free(body);

	fixture_init(&f);
	f.m.has_parent = false;			/* parent ID not zero */
	assert_int_equal(manifest_encode_sign(&f.m, host_sk, &enc, &len),
	    ERR_INVAL);
	fixture_init(&f);
	f.m.host = (char *)"";
	assert_int_equal(manifest_encode_sign(&f.m, host_sk, &enc, &len),
	    ERR_INVAL);
	f.m.host = (char *)"web 1";
	assert_int_equal(manifest_encode_sign(&f.m, host_sk, &enc, &len),
	    ERR_INVAL);
	fixture_init(&f);
	f.tags[1] = f.tags[0];			/* duplicate tag */
	assert_int_equal(manifest_encode_sign(&f.m, host_sk, &enc, &len),
	    ERR_INVAL);
	fixture_init(&f);
	f.tags[0] = (char *)"zzz";		/* unsorted tags */
	assert_int_equal(manifest_encode_sign(&f.m, host_sk, &enc, &len),
	    ERR_INVAL);
	fixture_init(&f);
	memset(f.m.root_pack, 'a', PACK_NAME_HEX_LEN);	/* not in the list */
	assert_int_equal(manifest_encode_sign(&f.m, host_sk, &enc, &len),
	    ERR_INVAL);
	fixture_init(&f);
	f.m.npacks = 0;
	assert_int_equal(manifest_encode_sign(&f.m, host_sk, &enc, &len),
	    ERR_INVAL);
}

/* Many packs round-trip and stay canonical. */
static void
test_many_packs(void **state)
{
	enum { N = 5000 };
	char (*packs)[PACK_NAME_HEX_LEN + 1] = malloc(N * sizeof(*packs));
	struct fixture f;
	struct manifest *m = NULL;
	uint8_t *a, *b, h[32];
	size_t alen, blen;

	(void)state;
	assert_non_null(packs);
	for (uint32_t i = 0; i < N; i++) {
		crypto_hash_sha256(h, (const uint8_t *)&i, sizeof(i));
		sodium_bin2hex(packs[i], sizeof(packs[i]), h, sizeof(h));
	}
	qsort(packs, N, sizeof(packs[0]), name_cmp);
	fixture_init(&f);
	f.m.packs = packs;
	f.m.npacks = N;
	memcpy(f.m.root_pack, packs[N / 2], sizeof(f.m.root_pack));
	encode(&f.m, &a, &alen);
	assert_int_equal(manifest_parse_verify(a, alen, host_pk, &m), ERR_OK);
	assert_manifest_equal(&f.m, m);
	encode(m, &b, &blen);
	assert_int_equal(alen, blen);
	assert_memory_equal(a, b, alen);
	manifest_free(m);
	free(a);
	free(b);
	free(packs);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_canonical),
		cmocka_unit_test(test_other_key),
		cmocka_unit_test(test_bit_flips),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_unsorted_packs),
		cmocka_unit_test(test_bad_hex),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_rules),
		cmocka_unit_test(test_many_packs),
	};
	uint8_t seed[32];

	if (sodium_init() < 0)
		return 1;
	memset(seed, 0x01, sizeof(seed));
	crypto_sign_seed_keypair(host_pk, host_sk, seed);
	memset(seed, 0x02, sizeof(seed));
	crypto_sign_seed_keypair(other_pk, other_sk, seed);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
