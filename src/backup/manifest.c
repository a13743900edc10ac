/*
 * manifest.c - the signed snapshot manifest (see manifest.h for the byte
 * layout). The encoder checks everything the parser checks, so anything
 * it writes parses back to the same manifest.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "backup/manifest.h"
#include "common/banned.h"

/* Offsets in the fixed part. */
#define M_MAGIC		0
#define M_VERSION	4
#define M_FLAGS		5
#define M_RESERVED	6
#define M_SNAPSHOT	8
#define M_TIME		24
#define M_KEY_ID	32
#define M_ROOT_ID	48
#define M_ROOT_PACK	80
#define M_PARENT	144
#define M_FILES		160
#define M_READ		168
#define M_STORED	176
#define M_HOST_LEN	184

#define NAME_LEN	PACK_NAME_HEX_LEN
#define NAME_SIZE	(PACK_NAME_HEX_LEN + 1)

_Static_assert(M_HOST_LEN + 1 == MANIFEST_FIXED_LEN, "fixed part");
_Static_assert(MANIFEST_SIG_PREFIX_LEN == 29, "prefix with its NUL");
_Static_assert(MANIFEST_SIG_LEN == crypto_sign_BYTES, "signature");
_Static_assert(MANIFEST_PK_LEN == crypto_sign_PUBLICKEYBYTES, "public key");
_Static_assert(MANIFEST_SK_LEN == crypto_sign_SECRETKEYBYTES, "secret key");

static const uint8_t magic[4] = { 'B', 'W', 'S', 'M' };
static const uint8_t zero16[MANIFEST_SNAPSHOT_ID_LEN];

/* ---- Byte helpers --------------------------------------------------- */

static void
put_be(uint8_t *p, uint64_t v, size_t n)
{
	for (size_t i = n; i > 0; i--, v >>= 8)
		p[i - 1] = (uint8_t)v;
}

static uint64_t
get_be(const uint8_t *p, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* A read cursor over the body; takes fail with ERR_FORMAT past the end. */
struct rcur {
	const uint8_t *p;
	size_t len;
	size_t off;
};

static int WUR
take(struct rcur *c, size_t n, const uint8_t **out)
{
	if (n > c->len - c->off)
		return ERR_FORMAT;
	*out = c->p + c->off;
	c->off += n;
	return ERR_OK;
}

static int WUR
take_u32(struct rcur *c, uint32_t *v)
{
	const uint8_t *p;
	int r;

	if ((r = take(c, 4, &p)) != ERR_OK)
		return r;
	*v = (uint32_t)get_be(p, 4);
	return ERR_OK;
}

/* ---- Checks shared by the encoder and the parser --------------------- */

static bool
host_chars_ok(const uint8_t *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x21 || s[i] > 0x7e)
			return false;
	return true;
}

static bool
tag_chars_ok(const uint8_t *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return false;
	return true;
}

/* 64 lowercase hex digits. */
static bool
hex_name_ok(const uint8_t *s)
{
	for (size_t i = 0; i < NAME_LEN; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* A NUL-terminated pack name as the struct holds it. */
static bool
name_str_ok(const char *s)
{
	return strnlen(s, NAME_SIZE) == NAME_LEN && hex_name_ok((const uint8_t *)s);
}

/* Byte order with a prefix first: the order of strcmp. */
static int
bytes_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	if (c != 0)
		return c;
	return (alen > blen) - (alen < blen);
}

static int
name_cmp(const void *a, const void *b)
{
	return memcmp(a, b, NAME_LEN);
}

static bool
has_root_pack(const struct manifest *m)
{
	return bsearch(m->root_pack, m->packs, m->npacks, NAME_SIZE,
	    name_cmp) != NULL;
}

/* ---- Encoding ------------------------------------------------------- */

static int WUR
check_packs(const struct manifest *m, size_t *len)
{
	if (m->npacks == 0 || m->packs == NULL)
		return ERR_INVAL;
	if (m->npacks > MANIFEST_MAX_PACKS)
		return ERR_TOOBIG;
	for (size_t i = 0; i < m->npacks; i++) {
		if (!name_str_ok(m->packs[i]))
			return ERR_INVAL;
		if (i > 0 && name_cmp(m->packs[i - 1], m->packs[i]) >= 0)
			return ERR_INVAL;
	}
	if (!name_str_ok(m->root_pack) || !has_root_pack(m))
		return ERR_INVAL;
	*len += 4 + m->npacks * NAME_LEN;
	return ERR_OK;
}

static int WUR
check_tags(const struct manifest *m, size_t *len)
{
	size_t prev = 0;

	if (m->ntags > MANIFEST_MAX_TAGS)
		return ERR_TOOBIG;
	if (m->ntags > 0 && m->tags == NULL)
		return ERR_INVAL;
	*len += 4;
	for (size_t i = 0; i < m->ntags; i++) {
		const uint8_t *t = (const uint8_t *)m->tags[i];
		size_t n;

		if (t == NULL)
			return ERR_INVAL;
		n = strnlen(m->tags[i], MANIFEST_TAG_MAX + 1);
		if (n > MANIFEST_TAG_MAX)
			return ERR_TOOBIG;
		if (n == 0 || !tag_chars_ok(t, n))
			return ERR_INVAL;
		if (i > 0 && bytes_cmp((const uint8_t *)m->tags[i - 1], prev,
		    t, n) >= 0)
			return ERR_INVAL;
		prev = n;
		*len += 1 + n;
	}
	return ERR_OK;
}

/* Checks m as the parser would and gives the body's length. */
static int WUR
check_manifest(const struct manifest *m, size_t *len)
{
	size_t n;
	int r;

	if (m->host == NULL)
		return ERR_INVAL;
	n = strnlen(m->host, MANIFEST_HOST_MAX + 1);
	if (n > MANIFEST_HOST_MAX)
		return ERR_TOOBIG;
	if (n == 0 || !host_chars_ok((const uint8_t *)m->host, n))
		return ERR_INVAL;
	if (!m->has_parent && sodium_memcmp(m->parent_id, zero16,
	    sizeof(zero16)) != 0)
		return ERR_INVAL;
	*len = MANIFEST_FIXED_LEN + n;
	if ((r = check_packs(m, len)) != ERR_OK ||
	    (r = check_tags(m, len)) != ERR_OK)
		return r;
	return ERR_OK;
}

static uint8_t *
write_fixed(const struct manifest *m, uint8_t *p)
{
	size_t hlen = strlen(m->host);

	memset(p, 0, MANIFEST_FIXED_LEN);
	memcpy(p + M_MAGIC, magic, sizeof(magic));
	p[M_VERSION] = MANIFEST_VERSION;
	p[M_FLAGS] = m->has_parent ? MANIFEST_F_PARENT : 0;
	memcpy(p + M_SNAPSHOT, m->snapshot_id, MANIFEST_SNAPSHOT_ID_LEN);
	put_be(p + M_TIME, m->client_time, 8);
	memcpy(p + M_KEY_ID, m->key_id, PACK_KEY_ID_LEN);
	memcpy(p + M_ROOT_ID, m->root_id, CHUNK_ID_LEN);
	memcpy(p + M_ROOT_PACK, m->root_pack, NAME_LEN);
	memcpy(p + M_PARENT, m->parent_id, MANIFEST_SNAPSHOT_ID_LEN);
	put_be(p + M_FILES, m->files, 8);
	put_be(p + M_READ, m->bytes_read, 8);
	put_be(p + M_STORED, m->bytes_stored, 8);
	p[M_HOST_LEN] = (uint8_t)hlen;
	memcpy(p + MANIFEST_FIXED_LEN, m->host, hlen);
	return p + MANIFEST_FIXED_LEN + hlen;
}

static uint8_t *
write_lists(const struct manifest *m, uint8_t *p)
{
	put_be(p, m->npacks, 4);
	p += 4;
	for (size_t i = 0; i < m->npacks; i++, p += NAME_LEN)
		memcpy(p, m->packs[i], NAME_LEN);
	put_be(p, m->ntags, 4);
	p += 4;
	for (size_t i = 0; i < m->ntags; i++) {
		size_t n = strlen(m->tags[i]);

		*p++ = (uint8_t)n;
		memcpy(p, m->tags[i], n);
		p += n;
	}
	return p;
}

int
manifest_encode_sign(const struct manifest *m,
    const uint8_t host_sk[MANIFEST_SK_LEN], uint8_t **out, size_t *len)
{
	uint8_t *buf = NULL, *end;
	size_t blen = 0;
	int r = ERR_INTERNAL;

	if (out != NULL)
		*out = NULL;
	if (len != NULL)
		*len = 0;
	if (m == NULL || host_sk == NULL || out == NULL || len == NULL)
		return ERR_INVAL;
	if (sodium_init() < 0)
		return ERR_CRYPTO;
	if ((r = check_manifest(m, &blen)) != ERR_OK)
		return r;
	/* Prefix, body and signature; the prefix is dropped once signed. */
	if ((buf = malloc(MANIFEST_SIG_PREFIX_LEN + blen + MANIFEST_SIG_LEN)) ==
	    NULL)
		return ERR_NOMEM;
	memcpy(buf, MANIFEST_SIG_PREFIX, MANIFEST_SIG_PREFIX_LEN);
	end = write_lists(m, write_fixed(m, buf + MANIFEST_SIG_PREFIX_LEN));
	if (end != buf + MANIFEST_SIG_PREFIX_LEN + blen) {
		r = ERR_INTERNAL;
		goto out;
	}
	if (crypto_sign_detached(end, NULL, buf, MANIFEST_SIG_PREFIX_LEN + blen,
	    host_sk) != 0) {
		r = ERR_CRYPTO;
		goto out;
	}
	memmove(buf, buf + MANIFEST_SIG_PREFIX_LEN, blen + MANIFEST_SIG_LEN);
	*out = buf;
	*len = blen + MANIFEST_SIG_LEN;
	buf = NULL;
	r = ERR_OK;
 out:
	free(buf);
	return r;
}

/* ---- Parsing -------------------------------------------------------- */

static int WUR
parse_fixed(struct rcur *c, struct manifest *m)
{
	const uint8_t *p, *h;
	int r;

	if ((r = take(c, MANIFEST_FIXED_LEN, &p)) != ERR_OK)
		return r;
	if (memcmp(p + M_MAGIC, magic, sizeof(magic)) != 0)
		return ERR_FORMAT;
	if (p[M_VERSION] != MANIFEST_VERSION)
		return ERR_UNSUPPORTED;
	if ((p[M_FLAGS] & ~MANIFEST_F_PARENT) != 0 || p[M_RESERVED] != 0 ||
	    p[M_RESERVED + 1] != 0)
		return ERR_FORMAT;
	m->has_parent = (p[M_FLAGS] & MANIFEST_F_PARENT) != 0;
	if (!m->has_parent && memcmp(p + M_PARENT, zero16, sizeof(zero16)) != 0)
		return ERR_FORMAT;
	if (!hex_name_ok(p + M_ROOT_PACK))
		return ERR_FORMAT;
	memcpy(m->snapshot_id, p + M_SNAPSHOT, MANIFEST_SNAPSHOT_ID_LEN);
	m->client_time = get_be(p + M_TIME, 8);
	memcpy(m->key_id, p + M_KEY_ID, PACK_KEY_ID_LEN);
	memcpy(m->root_id, p + M_ROOT_ID, CHUNK_ID_LEN);
	memcpy(m->root_pack, p + M_ROOT_PACK, NAME_LEN);
	m->root_pack[NAME_LEN] = '\0';
	memcpy(m->parent_id, p + M_PARENT, MANIFEST_SNAPSHOT_ID_LEN);
	m->files = get_be(p + M_FILES, 8);
	m->bytes_read = get_be(p + M_READ, 8);
	m->bytes_stored = get_be(p + M_STORED, 8);
	if (p[M_HOST_LEN] == 0)
		return ERR_FORMAT;
	if ((r = take(c, p[M_HOST_LEN], &h)) != ERR_OK)
		return r;
	if (!host_chars_ok(h, p[M_HOST_LEN]))
		return ERR_FORMAT;
	if ((m->host = malloc((size_t)p[M_HOST_LEN] + 1)) == NULL)
		return ERR_NOMEM;
	memcpy(m->host, h, p[M_HOST_LEN]);
	m->host[p[M_HOST_LEN]] = '\0';
	return ERR_OK;
}

static int WUR
parse_packs(struct rcur *c, struct manifest *m)
{
	const uint8_t *p;
	uint32_t n;
	int r;

	if ((r = take_u32(c, &n)) != ERR_OK)
		return r;
	if (n == 0)
		return ERR_FORMAT;
	if (n > MANIFEST_MAX_PACKS)
		return ERR_TOOBIG;
	if ((r = take(c, (size_t)n * NAME_LEN, &p)) != ERR_OK)
		return r;
	for (size_t i = 0; i < n; i++) {
		if (!hex_name_ok(p + i * NAME_LEN))
			return ERR_FORMAT;
		if (i > 0 && memcmp(p + (i - 1) * NAME_LEN, p + i * NAME_LEN,
		    NAME_LEN) >= 0)
			return ERR_FORMAT;
	}
	if ((m->packs = malloc((size_t)n * NAME_SIZE)) == NULL)
		return ERR_NOMEM;
	for (size_t i = 0; i < n; i++) {
		memcpy(m->packs[i], p + i * NAME_LEN, NAME_LEN);
		m->packs[i][NAME_LEN] = '\0';
	}
	m->npacks = n;
	return has_root_pack(m) ? ERR_OK : ERR_FORMAT;
}

static int WUR
parse_tag(struct rcur *c, struct manifest *m, size_t i)
{
	const uint8_t *lp, *t;
	size_t n;
	int r;

	if ((r = take(c, 1, &lp)) != ERR_OK)
		return r;
	n = *lp;
	if (n == 0)
		return ERR_FORMAT;
	if ((r = take(c, n, &t)) != ERR_OK)
		return r;
	if (!tag_chars_ok(t, n))
		return ERR_FORMAT;
	if (i > 0 && bytes_cmp((const uint8_t *)m->tags[i - 1],
	    strlen(m->tags[i - 1]), t, n) >= 0)
		return ERR_FORMAT;
	if ((m->tags[i] = malloc(n + 1)) == NULL)
		return ERR_NOMEM;
	memcpy(m->tags[i], t, n);
	m->tags[i][n] = '\0';
	return ERR_OK;
}

static int WUR
parse_tags(struct rcur *c, struct manifest *m)
{
	uint32_t n;
	int r;

	if ((r = take_u32(c, &n)) != ERR_OK)
		return r;
	if (n > MANIFEST_MAX_TAGS)
		return ERR_TOOBIG;
	if (n == 0)
		return ERR_OK;
	if ((m->tags = calloc(n, sizeof(*m->tags))) == NULL)
		return ERR_NOMEM;
	/* ntags counts the slots, so manifest_free frees what was filled. */
	m->ntags = n;
	for (size_t i = 0; i < n; i++)
		if ((r = parse_tag(c, m, i)) != ERR_OK)
			return r;
	return ERR_OK;
}

static int WUR
parse_body(const uint8_t *body, size_t len, struct manifest **out)
{
	struct rcur c = { body, len, 0 };
	struct manifest *m;
	int r = ERR_INTERNAL;

	if ((m = calloc(1, sizeof(*m))) == NULL)
		return ERR_NOMEM;
	if ((r = parse_fixed(&c, m)) != ERR_OK ||
	    (r = parse_packs(&c, m)) != ERR_OK ||
	    (r = parse_tags(&c, m)) != ERR_OK)
		goto out;
	if (c.off != c.len) {
		r = ERR_FORMAT;
		goto out;
	}
	*out = m;
	m = NULL;
	r = ERR_OK;
 out:
	manifest_free(m);
	return r;
}

static int WUR
verify_sig(const uint8_t *buf, size_t len, const uint8_t pk[MANIFEST_PK_LEN])
{
	size_t blen = len - MANIFEST_SIG_LEN;
	uint8_t *msg;
	int r;

	if ((msg = malloc(MANIFEST_SIG_PREFIX_LEN + blen)) == NULL)
		return ERR_NOMEM;
	memcpy(msg, MANIFEST_SIG_PREFIX, MANIFEST_SIG_PREFIX_LEN);
	memcpy(msg + MANIFEST_SIG_PREFIX_LEN, buf, blen);
	r = crypto_sign_verify_detached(buf + blen, msg,
	    MANIFEST_SIG_PREFIX_LEN + blen, pk) == 0 ? ERR_OK : ERR_SIGNATURE;
	free(msg);
	return r;
}

static int WUR
parse_common(const uint8_t *buf, size_t len, const uint8_t *pk,
    struct manifest **out)
{
	int r;

	if (out != NULL)
		*out = NULL;
	if (out == NULL || (buf == NULL && len > 0))
		return ERR_INVAL;
	if (sodium_init() < 0)
		return ERR_CRYPTO;
	if (len > MANIFEST_MAX_LEN)
		return ERR_TOOBIG;
	if (len < MANIFEST_MIN_LEN)
		return ERR_FORMAT;
	if (pk != NULL && (r = verify_sig(buf, len, pk)) != ERR_OK)
		return r;
	return parse_body(buf, len - MANIFEST_SIG_LEN, out);
}

int
manifest_parse_verify(const uint8_t *buf, size_t len,
    const uint8_t host_pk[MANIFEST_PK_LEN], struct manifest **out)
{
	if (host_pk == NULL) {
		if (out != NULL)
			*out = NULL;
		return ERR_INVAL;
	}
	return parse_common(buf, len, host_pk, out);
}

int
manifest_parse_unverified(const uint8_t *buf, size_t len,
    struct manifest **out)
{
	return parse_common(buf, len, NULL, out);
}

void
manifest_free(struct manifest *m)
{
	if (m == NULL)
		return;
	free(m->host);
	free(m->packs);
	for (size_t i = 0; i < m->ntags; i++)
		free(m->tags[i]);
	free(m->tags);
	free(m);
}

void
manifest_id_hex(const struct manifest *m, char out[MANIFEST_ID_HEX_LEN + 1])
{
	sodium_bin2hex(out, MANIFEST_ID_HEX_LEN + 1, m->snapshot_id,
	    MANIFEST_SNAPSHOT_ID_LEN);
}
