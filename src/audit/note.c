/*
 * note.c - C2SP signed-note and tlog-cosignature (cosignature/v1).
 *
 * Parsing follows c2sp.org/signed-note and golang.org/x/mod/sumdb/note, but
 * stricter where the spec leaves room: base64 must be canonical (padded, no
 * stray bits), so a parsed note formats back to the same bytes, and key
 * hashes must be lowercase hex.
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "audit/note.h"
#include "common/encoding.h"
#include "common/sha256.h"
#include "common/banned.h"

#define ED25519_PK_LEN crypto_sign_PUBLICKEYBYTES	/* 32 */
#define ED25519_SK_LEN crypto_sign_SECRETKEYBYTES	/* 64 */
#define ED25519_SEED_LEN crypto_sign_SEEDBYTES	/* 32 */
#define ED25519_SIG_LEN crypto_sign_BYTES	/* 64 */

#define KEYHASH_LEN 4
#define TIMESTAMP_LEN 8
/* alg || 32-byte key, and its padded base64 (no '=' since 33 = 3 * 11). */
#define KEY_RAW_LEN (1 + ED25519_PK_LEN)
#define KEY_B64_LEN 44
#define KEYHASH_HEX_LEN 8
#define SKEY_PREFIX "PRIVATE+KEY+"
#define SKEY_PREFIX_LEN (sizeof(SKEY_PREFIX) - 1)

/* U+2014 EM DASH, then a space: the start of every signature line. */
#define SIG_PREFIX "\xe2\x80\x94 "
#define SIG_PREFIX_LEN (sizeof(SIG_PREFIX) - 1)

#define COSIG_MAX_PREFIX 64	/* "cosignature/v1\ntime " + 20 digits + "\n" */
#define COSIG_MAX_TIME ((uint64_t)INT64_MAX)
#define SIGNER_ALIGN _Alignof(max_align_t)

_Static_assert(sodium_base64_ENCODED_LEN(KEY_RAW_LEN,
    sodium_base64_VARIANT_ORIGINAL) == KEY_B64_LEN + 1, "vkey base64 length");

/*
 * One sodium_malloc block holds the secret key and the name, so that no
 * malloc'd pointer hides in memory that leak checkers do not scan.
 */
struct note_signer {
	uint32_t keyhash;
	int alg;
	uint8_t pk[ED25519_PK_LEN];
	uint8_t sk[ED25519_SK_LEN];	/* secret */
	char name[];
};

struct note_verifier {
	char *name;
	uint32_t keyhash;
	int alg;
	uint8_t pk[ED25519_PK_LEN];
};

static int
crypto_ready(void)
{
	/* 0 on first success, 1 when already done, -1 on failure. */
	return sodium_init() < 0 ? ERR_CRYPTO : ERR_OK;
}

static uint32_t
get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void
put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint64_t
get_be64(const uint8_t *p)
{
	return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

static void
put_be64(uint8_t *p, uint64_t v)
{
	put_be32(p, (uint32_t)(v >> 32));
	put_be32(p + 4, (uint32_t)v);
}

/*
 * Decodes one UTF-8 sequence from s[0..len), len > 0. Returns its length,
 * or 0 when it is not the shortest encoding of a Unicode scalar value
 * (overlong forms, surrogates, values past U+10FFFF, truncation).
 */
static size_t
utf8_decode(const unsigned char *s, size_t len, uint32_t *cp)
{
	uint32_t c, min;
	size_t n, i;

	c = s[0];
	if (c < 0x80) {
		*cp = c;
		return 1;
	} else if ((c & 0xe0) == 0xc0) {
		n = 2;
		c &= 0x1f;
		min = 0x80;
	} else if ((c & 0xf0) == 0xe0) {
		n = 3;
		c &= 0x0f;
		min = 0x800;
	} else if ((c & 0xf8) == 0xf0) {
		n = 4;
		c &= 0x07;
		min = 0x10000;
	} else
		return 0;
	if (len < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

/* Unicode White_Space, as Go's unicode.IsSpace (which x/mod/sumdb/note uses). */
static int
is_unicode_space(uint32_t c)
{
	return c == ' ' || (c >= 0x09 && c <= 0x0d) || c == 0x85 ||
	    c == 0xa0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200a) ||
	    c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f ||
	    c == 0x3000;
}

/* Valid UTF-8 with no control characters below U+0020 other than "\n". */
static int
utf8_text_ok(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, n;
	uint32_t c;

	while (i < len) {
		if (p[i] >= 0x20 && p[i] < 0x80) {
			i++;
			continue;
		}
		if ((n = utf8_decode(p + i, len - i, &c)) == 0)
			return 0;
		if (c < 0x20 && c != '\n')
			return 0;
		i += n;
	}
	return 1;
}

/* A key or signature name: non-empty UTF-8, no '+', space or control. */
static int
name_ok(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, n;
	uint32_t c;

	if (len == 0)
		return 0;
	while (i < len) {
		if ((n = utf8_decode(p + i, len - i, &c)) == 0)
			return 0;
		if (c < 0x20 || c == 0x7f || c == '+' || is_unicode_space(c))
			return 0;
		i += n;
	}
	return 1;
}

static uint32_t
key_hash(const char *name, size_t name_len, int alg,
    const uint8_t pk[ED25519_PK_LEN])
{
	struct sha256_ctx c;
	uint8_t a = (uint8_t)alg, md[SHA256_LEN];

	sha256_init(&c);
	sha256_update(&c, name, name_len);
	sha256_update(&c, "\n", 1);
	sha256_update(&c, &a, 1);
	sha256_update(&c, pk, ED25519_PK_LEN);
	sha256_final(&c, md);
	return get_be32(md);
}

static int
alg_ok(int alg)
{
	return alg == NOTE_ALG_ED25519 || alg == NOTE_ALG_COSIGNATURE_V1;
}

static int
parse_hex32(const char *s, uint32_t *out)
{
	uint32_t v = 0;
	size_t i;

	for (i = 0; i < KEYHASH_HEX_LEN; i++) {
		if (s[i] >= '0' && s[i] <= '9')
			v = v << 4 | (uint32_t)(s[i] - '0');
		else if (s[i] >= 'a' && s[i] <= 'f')
			v = v << 4 | (uint32_t)(s[i] - 'a' + 10);
		else
			return ERR_FORMAT;
	}
	*out = v;
	return ERR_OK;
}

/*
 * Splits "NAME+HASH+BASE64" into a malloc'd name, the key hash and the
 * decoded alg || key, written to raw (which may be secret memory). Checks
 * the syntax only; callers check alg and hash.
 */
static int
key_split(const char *s, char **namep, uint32_t *hashp,
    uint8_t raw[KEY_RAW_LEN])
{
	const char *plus, *hex, *b64;
	char *name = NULL;
	size_t name_len, bin_len = 0;
	uint32_t hash;
	int r = ERR_INTERNAL;

	*namep = NULL;
	if ((plus = strchr(s, '+')) == NULL) {
		r = ERR_FORMAT;
		goto out;
	}
	name_len = (size_t)(plus - s);
	if (!name_ok(s, name_len)) {
		r = ERR_FORMAT;
		goto out;
	}
	hex = plus + 1;
	if (strnlen(hex, KEYHASH_HEX_LEN + 1) < KEYHASH_HEX_LEN + 1 ||
	    hex[KEYHASH_HEX_LEN] != '+' ||
	    (r = parse_hex32(hex, &hash)) != ERR_OK) {
		r = ERR_FORMAT;
		goto out;
	}
	b64 = hex + KEYHASH_HEX_LEN + 1;
	if (strlen(b64) != KEY_B64_LEN ||
	    enc_base64_decode(b64, KEY_B64_LEN, raw, KEY_RAW_LEN,
	    &bin_len) != ERR_OK || bin_len != KEY_RAW_LEN) {
		r = ERR_FORMAT;
		goto out;
	}
	if ((name = strndup(s, name_len)) == NULL) {
		r = ERR_NOMEM;
		goto out;
	}
	*namep = name;
	name = NULL;
	*hashp = hash;
	r = ERR_OK;
 out:
	free(name);
	return r;
}

/* "NAME+HASH+BASE64(alg || pk)", malloc'd. */
static int
vkey_string(const char *name, uint32_t keyhash, int alg,
    const uint8_t pk[ED25519_PK_LEN], char **out)
{
	uint8_t raw[KEY_RAW_LEN];
	char *s = NULL;
	size_t name_len = strlen(name), len;
	int r = ERR_INTERNAL;

	*out = NULL;
	raw[0] = (uint8_t)alg;
	memcpy(raw + 1, pk, ED25519_PK_LEN);
	len = name_len + 1 + KEYHASH_HEX_LEN + 1 + KEY_B64_LEN;
	if ((s = malloc(len + 1)) == NULL) {
		r = ERR_NOMEM;
		goto out;
	}
	memcpy(s, name, name_len);
	if (snprintf(s + name_len, KEYHASH_HEX_LEN + 3, "+%08" PRIx32 "+",
	    keyhash) != KEYHASH_HEX_LEN + 2)
		goto out;
	sodium_bin2base64(s + name_len + KEYHASH_HEX_LEN + 2, KEY_B64_LEN + 1,
	    raw, sizeof(raw), sodium_base64_VARIANT_ORIGINAL);
	*out = s;
	s = NULL;
	r = ERR_OK;
 out:
	free(s);
	return r;
}

/* A signer (sodium_malloc'd) for name and alg from seed. */
static int
signer_make(const char *name, size_t name_len, int alg,
    const uint8_t seed[ED25519_SEED_LEN], struct note_signer **out)
{
	struct note_signer *s = NULL;
	size_t size;
	int r = ERR_INTERNAL;

	*out = NULL;
	if (name_len > NOTE_MAX_LEN) {
		r = ERR_TOOBIG;
		goto out;
	}
	/*
	 * sodium_malloc ends the block at a guard page, so it is aligned
	 * only when its size is a multiple of the alignment.
	 */
	size = (sizeof(*s) + name_len + 1 + SIGNER_ALIGN - 1) /
	    SIGNER_ALIGN * SIGNER_ALIGN;
	if ((s = sodium_malloc(size)) == NULL) {
		r = ERR_NOMEM;
		goto out;
	}
	memset(s, 0, size);
	memcpy(s->name, name, name_len);
	if (crypto_sign_seed_keypair(s->pk, s->sk, seed) != 0) {
		r = ERR_CRYPTO;
		goto out;
	}
	s->alg = alg;
	s->keyhash = key_hash(name, name_len, alg, s->pk);
	*out = s;
	s = NULL;
	r = ERR_OK;
 out:
	note_signer_free(s);
	return r;
}

int
note_keygen(const char *name, int alg, char **skey, char **vkey)
{
	uint8_t *raw = NULL;
	struct note_signer *s = NULL;
	char *sk = NULL, *vk = NULL;
	size_t name_len, len, off;
	int r = ERR_INTERNAL;

	if (skey != NULL)
		*skey = NULL;
	if (vkey != NULL)
		*vkey = NULL;
	if (name == NULL || skey == NULL || vkey == NULL)
		return ERR_INVAL;
	if ((r = crypto_ready()) != ERR_OK)
		return r;
	if ((raw = sodium_malloc(KEY_RAW_LEN)) == NULL)
		return ERR_NOMEM;
	raw[0] = (uint8_t)alg;
	randombytes_buf(raw + 1, ED25519_SEED_LEN);
	/* Checks the name and the algorithm too. */
	if ((r = note_signer_from_seed(name, alg, raw + 1, &s)) != ERR_OK)
		goto out;
	name_len = strlen(name);

	len = SKEY_PREFIX_LEN + name_len + 1 + KEYHASH_HEX_LEN + 1 +
	    KEY_B64_LEN;
	if ((sk = sodium_malloc(len + 1)) == NULL) {
		r = ERR_NOMEM;
		goto out;
	}
	memcpy(sk, SKEY_PREFIX, SKEY_PREFIX_LEN);
	off = SKEY_PREFIX_LEN;
	memcpy(sk + off, name, name_len);
	off += name_len;
	if (snprintf(sk + off, KEYHASH_HEX_LEN + 3, "+%08" PRIx32 "+",
	    s->keyhash) != KEYHASH_HEX_LEN + 2) {
		r = ERR_INTERNAL;
		goto out;
	}
	off += KEYHASH_HEX_LEN + 2;
	sodium_bin2base64(sk + off, KEY_B64_LEN + 1, raw, KEY_RAW_LEN,
	    sodium_base64_VARIANT_ORIGINAL);
	if ((r = vkey_string(name, s->keyhash, alg, s->pk, &vk)) != ERR_OK)
		goto out;

	*skey = sk;
	sk = NULL;
	*vkey = vk;
	vk = NULL;
	r = ERR_OK;
 out:
	sodium_free(raw);
	sodium_free(sk);
	free(vk);
	note_signer_free(s);
	return r;
}

void
note_key_free_secret(char *skey)
{
	sodium_free(skey);
}

int
note_signer_from_skey(const char *skey, struct note_signer **out)
{
	struct note_signer *s = NULL;
	uint8_t *raw = NULL;
	char *name = NULL;
	uint32_t hash;
	int r = ERR_INTERNAL;

	if (out != NULL)
		*out = NULL;
	if (skey == NULL || out == NULL) {
		r = ERR_INVAL;
		goto out;
	}
	if ((r = crypto_ready()) != ERR_OK)
		goto out;
	if (strncmp(skey, SKEY_PREFIX, SKEY_PREFIX_LEN) != 0) {
		r = ERR_FORMAT;
		goto out;
	}
	if ((raw = sodium_malloc(KEY_RAW_LEN)) == NULL) {
		r = ERR_NOMEM;
		goto out;
	}
	if ((r = key_split(skey + SKEY_PREFIX_LEN, &name, &hash, raw)) != ERR_OK)
		goto out;
	if (!alg_ok(raw[0])) {
		r = ERR_UNSUPPORTED;
		goto out;
	}
	if ((r = signer_make(name, strlen(name), raw[0], raw + 1, &s)) != ERR_OK)
		goto out;
	/* The hash is of the public key, so it can be checked only now. */
	if (s->keyhash != hash) {
		r = ERR_MISMATCH;
		goto out;
	}
	*out = s;
	s = NULL;
	r = ERR_OK;
 out:
	sodium_free(raw);
	free(name);
	note_signer_free(s);
	return r;
}

int
note_signer_from_seed(const char *name, int alg, const uint8_t seed[32],
    struct note_signer **out)
{
	size_t name_len;
	int r = ERR_INTERNAL;

	if (out != NULL)
		*out = NULL;
	if (name == NULL || seed == NULL || out == NULL) {
		r = ERR_INVAL;
		goto out;
	}
	name_len = strlen(name);
	if (!name_ok(name, name_len)) {
		r = ERR_INVAL;
		goto out;
	}
	if (!alg_ok(alg)) {
		r = ERR_UNSUPPORTED;
		goto out;
	}
	if ((r = crypto_ready()) != ERR_OK)
		goto out;
	r = signer_make(name, name_len, alg, seed, out);
 out:
	return r;
}

void
note_signer_free(struct note_signer *s)
{
	sodium_free(s);		/* wipes sk; NULL is a no-op */
}

const char *
note_signer_name(const struct note_signer *s)
{
	return s->name;
}

int
note_signer_alg(const struct note_signer *s)
{
	return s->alg;
}

int
note_signer_vkey(const struct note_signer *s, char **vkey)
{
	if (vkey == NULL)
		return ERR_INVAL;
	*vkey = NULL;
	if (s == NULL)
		return ERR_INVAL;
	return vkey_string(s->name, s->keyhash, s->alg, s->pk, vkey);
}

int
note_verifier_from_vkey(const char *vkey, struct note_verifier **out)
{
	struct note_verifier *v = NULL;
	uint8_t raw[KEY_RAW_LEN];
	char *name = NULL;
	uint32_t hash;
	int r = ERR_INTERNAL;

	if (out != NULL)
		*out = NULL;
	if (vkey == NULL || out == NULL) {
		r = ERR_INVAL;
		goto out;
	}
	if ((r = crypto_ready()) != ERR_OK)
		goto out;
	if ((r = key_split(vkey, &name, &hash, raw)) != ERR_OK)
		goto out;
	if (!alg_ok(raw[0])) {
		r = ERR_UNSUPPORTED;
		goto out;
	}
	if (key_hash(name, strlen(name), raw[0], raw + 1) != hash) {
		r = ERR_MISMATCH;
		goto out;
	}
	if ((v = calloc(1, sizeof(*v))) == NULL) {
		r = ERR_NOMEM;
		goto out;
	}
	v->name = name;
	name = NULL;
	v->keyhash = hash;
	v->alg = raw[0];
	memcpy(v->pk, raw + 1, ED25519_PK_LEN);
	*out = v;
	v = NULL;
	r = ERR_OK;
 out:
	free(name);
	note_verifier_free(v);
	return r;
}

void
note_verifier_free(struct note_verifier *v)
{
	if (v == NULL)
		return;
	free(v->name);
	free(v);
}

const char *
note_verifier_name(const struct note_verifier *v)
{
	return v->name;
}

uint32_t
note_verifier_keyhash(const struct note_verifier *v)
{
	return v->keyhash;
}

int
note_verifier_alg(const struct note_verifier *v)
{
	return v->alg;
}

int
note_text_check(const char *text, size_t len)
{
	if (text == NULL || len == 0)
		return ERR_FORMAT;
	if (len > NOTE_MAX_LEN)
		return ERR_TOOBIG;
	if (text[len - 1] != '\n' || !utf8_text_ok(text, len))
		return ERR_FORMAT;
	return ERR_OK;
}

/*
 * The cosignature/v1 signed message (c2sp.org/tlog-cosignature):
 * "cosignature/v1\ntime <decimal>\n" followed by the note text, malloc'd.
 */
static int
cosig_message(uint64_t timestamp, const char *text, size_t len,
    uint8_t **msgp, size_t *msg_len)
{
	char prefix[COSIG_MAX_PREFIX];
	uint8_t *msg;
	int n;

	*msgp = NULL;
	n = snprintf(prefix, sizeof(prefix), "cosignature/v1\ntime %" PRIu64
	    "\n", timestamp);
	if (n < 0 || (size_t)n >= sizeof(prefix))
		return ERR_INTERNAL;
	if ((msg = malloc((size_t)n + len)) == NULL)
		return ERR_NOMEM;
	memcpy(msg, prefix, (size_t)n);
	memcpy(msg + n, text, len);
	*msgp = msg;
	*msg_len = (size_t)n + len;
	return ERR_OK;
}

/* "— NAME BASE64(keyhash || sig)\n", malloc'd. */
static int
sig_line(const char *name, uint32_t keyhash, const uint8_t *sig,
    size_t sig_len, char **out, size_t *out_len)
{
	uint8_t *raw = NULL;
	char *line = NULL;
	size_t name_len = strlen(name), raw_len, b64_len, len, off;
	int r = ERR_INTERNAL;

	*out = NULL;
	raw_len = KEYHASH_LEN + sig_len;
	if (sig_len > NOTE_MAX_LEN) {
		r = ERR_TOOBIG;
		goto out;
	}
	if ((raw = malloc(raw_len)) == NULL) {
		r = ERR_NOMEM;
		goto out;
	}
	put_be32(raw, keyhash);
	if (sig_len > 0)
		memcpy(raw + KEYHASH_LEN, sig, sig_len);
	b64_len = sodium_base64_ENCODED_LEN(raw_len,
	    sodium_base64_VARIANT_ORIGINAL);	/* includes the NUL */
	len = SIG_PREFIX_LEN + name_len + 1 + (b64_len - 1) + 1;
	if ((line = malloc(len + 1)) == NULL) {
		r = ERR_NOMEM;
		goto out;
	}
	memcpy(line, SIG_PREFIX, SIG_PREFIX_LEN);
	off = SIG_PREFIX_LEN;
	memcpy(line + off, name, name_len);
	off += name_len;
	line[off++] = ' ';
	sodium_bin2base64(line + off, b64_len, raw, raw_len,
	    sodium_base64_VARIANT_ORIGINAL);
	off += b64_len - 1;
	line[off++] = '\n';
	line[off] = '\0';
	*out = line;
	line = NULL;
	if (out_len != NULL)
		*out_len = off;
	r = ERR_OK;
 out:
	free(raw);
	free(line);
	return r;
}

static int
signature_line(const struct note_signer *s, const char *text, size_t len,
    uint64_t timestamp, char **line, size_t *line_len)
{
	uint8_t sig[TIMESTAMP_LEN + ED25519_SIG_LEN];
	uint8_t *msg = NULL;
	size_t msg_len, sig_len;
	int r = ERR_INTERNAL;

	*line = NULL;
	if ((r = note_text_check(text, len)) != ERR_OK) {
		if (r == ERR_FORMAT)
			r = ERR_INVAL;
		goto out;
	}
	switch (s->alg) {
	case NOTE_ALG_ED25519:
		if (crypto_sign_detached(sig, NULL, (const uint8_t *)text, len,
		    s->sk) != 0) {
			r = ERR_CRYPTO;
			goto out;
		}
		sig_len = ED25519_SIG_LEN;
		break;
	case NOTE_ALG_COSIGNATURE_V1:
		if (timestamp > COSIG_MAX_TIME) {
			r = ERR_RANGE;
			goto out;
		}
		if ((r = cosig_message(timestamp, text, len, &msg,
		    &msg_len)) != ERR_OK)
			goto out;
		put_be64(sig, timestamp);
		if (crypto_sign_detached(sig + TIMESTAMP_LEN, NULL, msg,
		    msg_len, s->sk) != 0) {
			r = ERR_CRYPTO;
			goto out;
		}
		sig_len = TIMESTAMP_LEN + ED25519_SIG_LEN;
		break;
	default:
		r = ERR_INTERNAL;
		goto out;
	}
	r = sig_line(s->name, s->keyhash, sig, sig_len, line, line_len);
 out:
	free(msg);
	return r;
}

int
note_signature_line(const struct note_signer *s, const char *text,
    size_t len, uint64_t timestamp, char **line)
{
	if (line == NULL)
		return ERR_INVAL;
	*line = NULL;
	if (s == NULL || text == NULL)
		return ERR_INVAL;
	return signature_line(s, text, len, timestamp, line, NULL);
}

int
note_sign(const char *text, size_t len,
    const struct note_signer *const *signers, size_t nsigners,
    char **out, size_t *outlen)
{
	char **lines = NULL, *buf = NULL;
	size_t *line_lens = NULL, total, off, i;
	time_t now;
	int r = ERR_INTERNAL;

	if (out != NULL)
		*out = NULL;
	if (outlen != NULL)
		*outlen = 0;
	if (text == NULL || signers == NULL || out == NULL || outlen == NULL ||
	    nsigners == 0 || nsigners > NOTE_MAX_SIGS) {
		r = ERR_INVAL;
		goto out;
	}
	if ((now = time(NULL)) == (time_t)-1 || now < 0) {
		r = ERR_INTERNAL;
		goto out;
	}
	if ((lines = calloc(nsigners, sizeof(*lines))) == NULL ||
	    (line_lens = calloc(nsigners, sizeof(*line_lens))) == NULL) {
		r = ERR_NOMEM;
		goto out;
	}
	total = len + 1;
	for (i = 0; i < nsigners; i++) {
		if (signers[i] == NULL) {
			r = ERR_INVAL;
			goto out;
		}
		if ((r = signature_line(signers[i], text, len, (uint64_t)now,
		    &lines[i], &line_lens[i])) != ERR_OK)
			goto out;
		total += line_lens[i];
	}
	if (total > NOTE_MAX_LEN) {
		r = ERR_TOOBIG;
		goto out;
	}
	if ((buf = malloc(total + 1)) == NULL) {
		r = ERR_NOMEM;
		goto out;
	}
	memcpy(buf, text, len);
	buf[len] = '\n';
	off = len + 1;
	for (i = 0; i < nsigners; i++) {
		memcpy(buf + off, lines[i], line_lens[i]);
		off += line_lens[i];
	}
	buf[off] = '\0';
	*out = buf;
	buf = NULL;
	*outlen = off;
	r = ERR_OK;
 out:
	if (lines != NULL) {
		for (i = 0; i < nsigners; i++)
			free(lines[i]);
	}
	free(lines);
	free(line_lens);
	free(buf);
	return r;
}

/*
 * Parses one signature line, line[0..len) without its "\n", into sig.
 * On failure sig holds whatever was allocated; note_free releases it.
 */
static int
parse_sig_line(const char *line, size_t len, struct note_sig *sig)
{
	const char *name, *sp, *b64;
	uint8_t *raw = NULL;
	size_t name_len, b64_len, raw_max, raw_len = 0;
	int r = ERR_INTERNAL;

	if (len < SIG_PREFIX_LEN ||
	    memcmp(line, SIG_PREFIX, SIG_PREFIX_LEN) != 0) {
		r = ERR_FORMAT;
		goto out;
	}
	name = line + SIG_PREFIX_LEN;
	if ((sp = memchr(name, ' ', len - SIG_PREFIX_LEN)) == NULL) {
		r = ERR_FORMAT;
		goto out;
	}
	name_len = (size_t)(sp - name);
	b64 = sp + 1;
	b64_len = len - SIG_PREFIX_LEN - name_len - 1;
	/* A key hash needs at least 8 base64 characters ("AAAAAA=="). */
	if (!name_ok(name, name_len) || b64_len < 8 || b64_len % 4 != 0) {
		r = ERR_FORMAT;
		goto out;
	}
	raw_max = b64_len / 4 * 3;
	if ((raw = malloc(raw_max)) == NULL) {
		r = ERR_NOMEM;
		goto out;
	}
	if (enc_base64_decode(b64, b64_len, raw, raw_max, &raw_len) != ERR_OK ||
	    raw_len < KEYHASH_LEN) {
		r = ERR_FORMAT;
		goto out;
	}
	if ((sig->name = strndup(name, name_len)) == NULL) {
		r = ERR_NOMEM;
		goto out;
	}
	sig->keyhash = get_be32(raw);
	sig->sig_len = raw_len - KEYHASH_LEN;
	if (sig->sig_len > 0) {
		if ((sig->sig = malloc(sig->sig_len)) == NULL) {
			r = ERR_NOMEM;
			goto out;
		}
		memcpy(sig->sig, raw + KEYHASH_LEN, sig->sig_len);
	}
	r = ERR_OK;
 out:
	free(raw);
	return r;
}

int
note_parse(const char *msg, size_t len, struct note **out)
{
	struct note *n = NULL;
	const char *sigs, *end, *p, *eol;
	size_t split, text_len, nlines, i;
	int r = ERR_INTERNAL;

	if (out != NULL)
		*out = NULL;
	if (msg == NULL || out == NULL) {
		r = ERR_INVAL;
		goto out;
	}
	if (len > NOTE_MAX_LEN) {
		r = ERR_TOOBIG;
		goto out;
	}
	if (!utf8_text_ok(msg, len)) {
		r = ERR_FORMAT;
		goto out;
	}
	/* The text ends at the last blank line, keeping its own "\n". */
	for (split = len; split >= 2; split--) {
		if (msg[split - 2] == '\n' && msg[split - 1] == '\n')
			break;
	}
	if (split < 2) {
		r = ERR_FORMAT;
		goto out;
	}
	text_len = split - 1;
	sigs = msg + split;
	end = msg + len;
	if (sigs == end || end[-1] != '\n') {
		r = ERR_FORMAT;
		goto out;
	}
	nlines = 0;
	for (p = sigs; p < end; p = eol + 1) {
		eol = memchr(p, '\n', (size_t)(end - p));
		if (++nlines > NOTE_MAX_SIGS) {
			r = ERR_FORMAT;
			goto out;
		}
	}

	if ((n = calloc(1, sizeof(*n))) == NULL ||
	    (n->text = strndup(msg, text_len)) == NULL ||
	    (n->sigs = calloc(nlines, sizeof(*n->sigs))) == NULL) {
		r = ERR_NOMEM;
		goto out;
	}
	n->text_len = text_len;
	for (p = sigs, i = 0; p < end; p = eol + 1, i++) {
		eol = memchr(p, '\n', (size_t)(end - p));
		n->nsigs = i + 1;	/* so that note_free sees a partial sig */
		if ((r = parse_sig_line(p, (size_t)(eol - p), &n->sigs[i])) !=
		    ERR_OK)
			goto out;
	}
	*out = n;
	n = NULL;
	r = ERR_OK;
 out:
	note_free(n);
	return r;
}

void
note_free(struct note *n)
{
	size_t i;

	if (n == NULL)
		return;
	if (n->sigs != NULL) {
		for (i = 0; i < n->nsigs; i++) {
			free(n->sigs[i].name);
			free(n->sigs[i].sig);
		}
	}
	free(n->sigs);
	free(n->text);
	free(n);
}

int
note_format(const struct note *n, char **out, size_t *outlen)
{
	char **lines = NULL, *buf = NULL;
	size_t *line_lens = NULL, total, off, i;
	int r = ERR_INTERNAL;

	if (out != NULL)
		*out = NULL;
	if (outlen != NULL)
		*outlen = 0;
	if (n == NULL || out == NULL || outlen == NULL ||
	    note_text_check(n->text, n->text_len) != ERR_OK ||
	    n->nsigs == 0 || n->nsigs > NOTE_MAX_SIGS || n->sigs == NULL) {
		r = ERR_INVAL;
		goto out;
	}
	if ((lines = calloc(n->nsigs, sizeof(*lines))) == NULL ||
	    (line_lens = calloc(n->nsigs, sizeof(*line_lens))) == NULL) {
		r = ERR_NOMEM;
		goto out;
	}
	total = n->text_len + 1;
	for (i = 0; i < n->nsigs; i++) {
		const struct note_sig *sg = &n->sigs[i];

		if (sg->name == NULL || !name_ok(sg->name, strlen(sg->name)) ||
		    (sg->sig == NULL && sg->sig_len > 0)) {
			r = ERR_INVAL;
			goto out;
		}
		if ((r = sig_line(sg->name, sg->keyhash, sg->sig, sg->sig_len,
		    &lines[i], &line_lens[i])) != ERR_OK)
			goto out;
		total += line_lens[i];
		if (total > NOTE_MAX_LEN) {
			r = ERR_TOOBIG;
			goto out;
		}
	}
	if ((buf = malloc(total + 1)) == NULL) {
		r = ERR_NOMEM;
		goto out;
	}
	memcpy(buf, n->text, n->text_len);
	buf[n->text_len] = '\n';
	off = n->text_len + 1;
	for (i = 0; i < n->nsigs; i++) {
		memcpy(buf + off, lines[i], line_lens[i]);
		off += line_lens[i];
	}
	buf[off] = '\0';
	*out = buf;
	buf = NULL;
	*outlen = off;
	r = ERR_OK;
 out:
	if (lines != NULL) {
		for (i = 0; i < n->nsigs; i++)
			free(lines[i]);
	}
	free(lines);
	free(line_lens);
	free(buf);
	return r;
}

/* ERR_OK or ERR_SIGNATURE for one signature by v's key. */
static int
verify_one(const struct note *n, const struct note_verifier *v,
    const struct note_sig *sg, uint64_t *timestamp)
{
	uint8_t *msg = NULL;
	size_t msg_len;
	uint64_t t;
	int r = ERR_INTERNAL;

	switch (v->alg) {
	case NOTE_ALG_ED25519:
		if (sg->sig_len != ED25519_SIG_LEN ||
		    crypto_sign_verify_detached(sg->sig,
		    (const uint8_t *)n->text, n->text_len, v->pk) != 0) {
			r = ERR_SIGNATURE;
			goto out;
		}
		*timestamp = 0;
		break;
	case NOTE_ALG_COSIGNATURE_V1:
		if (sg->sig_len != TIMESTAMP_LEN + ED25519_SIG_LEN) {
			r = ERR_SIGNATURE;
			goto out;
		}
		t = get_be64(sg->sig);
		if (t > COSIG_MAX_TIME) {
			r = ERR_SIGNATURE;
			goto out;
		}
		if ((r = cosig_message(t, n->text, n->text_len, &msg,
		    &msg_len)) != ERR_OK)
			goto out;
		if (crypto_sign_verify_detached(sg->sig + TIMESTAMP_LEN, msg,
		    msg_len, v->pk) != 0) {
			r = ERR_SIGNATURE;
			goto out;
		}
		*timestamp = t;
		break;
	default:
		r = ERR_INTERNAL;
		goto out;
	}
	r = ERR_OK;
 out:
	free(msg);
	return r;
}

int
note_verify(const struct note *n, const struct note_verifier *v,
    uint64_t *timestamp)
{
	size_t i, found = 0;
	uint64_t t, first = 0;
	int r = ERR_INTERNAL;

	if (timestamp != NULL)
		*timestamp = 0;
	if (n == NULL || v == NULL || n->text == NULL ||
	    (n->sigs == NULL && n->nsigs > 0)) {
		r = ERR_INVAL;
		goto out;
	}
	if ((r = crypto_ready()) != ERR_OK)
		goto out;
	/*
	 * The spec says a signature whose name and key hash match a known
	 * key must verify; one that does not spoils the note, even next to
	 * a good one.
	 */
	for (i = 0; i < n->nsigs; i++) {
		const struct note_sig *sg = &n->sigs[i];

		if (sg->keyhash != v->keyhash || sg->name == NULL ||
		    strcmp(sg->name, v->name) != 0)
			continue;
		if ((r = verify_one(n, v, sg, &t)) != ERR_OK)
			goto out;
		if (found++ == 0)
			first = t;
	}
	if (found == 0) {
		r = ERR_NOTFOUND;
		goto out;
	}
	if (timestamp != NULL)
		*timestamp = first;
	r = ERR_OK;
 out:
	return r;
}
