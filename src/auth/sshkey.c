/*
 * sshkey.c - Ed25519 key pairs in OpenSSH's formats (PROTOCOL.key, RFC 8709).
 *
 * The private key file is "openssh-key-v1\0", cipher and KDF "none", one
 * public key blob, then the private section: two equal check words, the key
 * in agent encoding (type, public key, 64-byte secret = seed || public
 * key), the comment and padding 1, 2, 3, ... to a multiple of 8, all in
 * base64 between PEM-style armour lines. Everything that holds the secret
 * lives in sodium_malloc memory, which sodium_free wipes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "auth/sshkey.h"
#include "common/encoding.h"
#include "common/fsutil.h"
#include "common/banned.h"

#define AUTH_MAGIC "openssh-key-v1"	/* followed by a NUL */
#define PEM_BEGIN "-----BEGIN OPENSSH PRIVATE KEY-----\n"
#define PEM_END "-----END OPENSSH PRIVATE KEY-----\n"
#define PEM_LINE 70			/* base64 characters a line, as ssh-keygen */
#define SK_LEN crypto_sign_SECRETKEYBYTES	/* seed || public key */
#define PRIV_BLOCK 8			/* cipher "none" block size */
/* Room for the binary private key file: a fixed part and the comment. */
#define PRIV_BIN_MAX (512 + SSHKEY_COMMENT_MAX)

struct sshkey {
	uint8_t sk[SK_LEN];
	uint8_t pk[SSHKEY_ED25519_PUBLEN];
	char comment[SSHKEY_COMMENT_MAX + 1];
};

/* Wire encoding. */

void
sshwire_w_init(struct sshwire_w *w, uint8_t *buf, size_t cap)
{
	w->p = buf;
	w->cap = cap;
	w->len = 0;
	w->err = ERR_OK;
}

void
sshwire_put_raw(struct sshwire_w *w, const void *p, size_t len)
{
	if (w->err != ERR_OK)
		return;
	if (len > w->cap - w->len) {
		w->err = ERR_TOOBIG;
		return;
	}
	if (len > 0)
		memcpy(w->p + w->len, p, len);
	w->len += len;
}

void
sshwire_put_u32(struct sshwire_w *w, uint32_t v)
{
	uint8_t b[4] = { v >> 24, v >> 16, v >> 8, v };

	sshwire_put_raw(w, b, sizeof(b));
}

void
sshwire_put_u64(struct sshwire_w *w, uint64_t v)
{
	sshwire_put_u32(w, (uint32_t)(v >> 32));
	sshwire_put_u32(w, (uint32_t)v);
}

void
sshwire_put_string(struct sshwire_w *w, const void *p, size_t len)
{
	if (len > UINT32_MAX) {
		w->err = ERR_TOOBIG;
		return;
	}
	sshwire_put_u32(w, (uint32_t)len);
	sshwire_put_raw(w, p, len);
}

void
sshwire_put_cstring(struct sshwire_w *w, const char *s)
{
	sshwire_put_string(w, s, strlen(s));
}

void
sshwire_put_pub(struct sshwire_w *w, const struct sshkey_pub *pk)
{
	sshwire_put_cstring(w, SSHKEY_ED25519_NAME);
	sshwire_put_string(w, pk->pk, sizeof(pk->pk));
}

void
sshwire_put_sig(struct sshwire_w *w, const uint8_t sig[SSHKEY_ED25519_SIGLEN])
{
	sshwire_put_cstring(w, SSHKEY_ED25519_NAME);
	sshwire_put_string(w, sig, SSHKEY_ED25519_SIGLEN);
}

int
sshwire_get_u32(struct sshwire_r *r, uint32_t *v)
{
	if (r->len < 4)
		return ERR_FORMAT;
	*v = (uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 |
	    (uint32_t)r->p[2] << 8 | r->p[3];
	r->p += 4;
	r->len -= 4;
	return ERR_OK;
}

int
sshwire_get_u64(struct sshwire_r *r, uint64_t *v)
{
	uint32_t hi, lo;

	if (r->len < 8)
		return ERR_FORMAT;
	if (sshwire_get_u32(r, &hi) != ERR_OK ||
	    sshwire_get_u32(r, &lo) != ERR_OK)
		return ERR_INTERNAL;
	*v = (uint64_t)hi << 32 | lo;
	return ERR_OK;
}

int
sshwire_get_string(struct sshwire_r *r, const uint8_t **p, size_t *len)
{
	struct sshwire_r save = *r;
	uint32_t n;

	if (sshwire_get_u32(r, &n) != ERR_OK || n > r->len) {
		*r = save;
		return ERR_FORMAT;
	}
	*p = r->p;
	*len = n;
	r->p += n;
	r->len -= n;
	return ERR_OK;
}

int
sshwire_get_cstring(struct sshwire_r *r, size_t max, char **out)
{
	const uint8_t *p;
	size_t len;
	char *s;

	*out = NULL;
	if (sshwire_get_string(r, &p, &len) != ERR_OK)
		return ERR_FORMAT;
	if (len > max)
		return ERR_TOOBIG;
	if (memchr(p, '\0', len) != NULL)
		return ERR_FORMAT;
	if ((s = malloc(len + 1)) == NULL)
		return ERR_NOMEM;
	memcpy(s, p, len);
	s[len] = '\0';
	*out = s;
	return ERR_OK;
}

int
sshwire_expect_cstring(struct sshwire_r *r, const char *s)
{
	const uint8_t *p;
	size_t len;

	if (sshwire_get_string(r, &p, &len) != ERR_OK ||
	    len != strlen(s) || memcmp(p, s, len) != 0)
		return ERR_FORMAT;
	return ERR_OK;
}

/* A key type name as OpenSSH spells them: "ssh-rsa", "sk-...@openssh.com". */
static int
valid_type_name(const uint8_t *p, size_t len)
{
	size_t i;

	if (len == 0 || len > 64)
		return 0;
	for (i = 0; i < len; i++) {
		if (!((p[i] >= 'a' && p[i] <= 'z') ||
		    (p[i] >= 'A' && p[i] <= 'Z') ||
		    (p[i] >= '0' && p[i] <= '9') ||
		    p[i] == '-' || p[i] == '@' || p[i] == '.' || p[i] == '_'))
			return 0;
	}
	return 1;
}

int
sshwire_parse_pub(const uint8_t *blob, size_t len, struct sshkey_pub *out)
{
	struct sshwire_r r = { blob, len };
	const uint8_t *name, *pk;
	size_t name_len, pk_len;

	if (sshwire_get_string(&r, &name, &name_len) != ERR_OK ||
	    !valid_type_name(name, name_len))
		return ERR_FORMAT;
	if (name_len != strlen(SSHKEY_ED25519_NAME) ||
	    memcmp(name, SSHKEY_ED25519_NAME, name_len) != 0)
		return ERR_UNSUPPORTED;
	if (sshwire_get_string(&r, &pk, &pk_len) != ERR_OK ||
	    pk_len != SSHKEY_ED25519_PUBLEN || r.len != 0)
		return ERR_FORMAT;
	memcpy(out->pk, pk, pk_len);
	return ERR_OK;
}

/* Keys. */

static int
valid_comment(const char *s, size_t len)
{
	size_t i;

	if (len > SSHKEY_COMMENT_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return 0;
	}
	return 1;
}

static struct sshkey *
key_new(void)
{
	struct sshkey *k;

	if (sodium_init() < 0)
		return NULL;
	if ((k = sodium_malloc(sizeof(*k))) != NULL)
		sodium_memzero(k, sizeof(*k));
	return k;
}

void
sshkey_free(struct sshkey *k)
{
	sodium_free(k);		/* wipes; NULL is fine */
}

int
sshkey_generate_secret(const char *comment, struct sshkey **out)
{
	struct sshkey *k;
	size_t clen = comment != NULL ? strlen(comment) : 0;

	*out = NULL;
	if (!valid_comment(comment, clen))
		return ERR_INVAL;
	if ((k = key_new()) == NULL)
		return ERR_NOMEM;
	if (crypto_sign_keypair(k->pk, k->sk) != 0) {
		sshkey_free(k);
		return ERR_CRYPTO;
	}
	if (clen > 0)
		memcpy(k->comment, comment, clen);
	*out = k;
	return ERR_OK;
}

void
sshkey_public(const struct sshkey *k, struct sshkey_pub *out)
{
	memcpy(out->pk, k->pk, sizeof(out->pk));
}

const char *
sshkey_comment(const struct sshkey *k)
{
	return k->comment;
}

int
sshkey_sign(const struct sshkey *k, const uint8_t *msg, size_t len,
    uint8_t sig[SSHKEY_ED25519_SIGLEN])
{
	if (crypto_sign_detached(sig, NULL, msg, len, k->sk) != 0)
		return ERR_CRYPTO;
	return ERR_OK;
}

void
sshkey_text_free_secret(char *text, size_t len)
{
	(void)len;
	sodium_free(text);
}

int
sshkey_private_format_secret(const struct sshkey *k, char **out, size_t *len)
{
	struct sshwire_w w, pw, pubblob;
	struct sshkey_pub pub;
	uint8_t pubbuf[64];
	uint8_t *bin = NULL, *priv = NULL;
	char *b64 = NULL, *text = NULL;
	size_t b64_max, b64_len, text_max, i, n, pad;
	uint32_t check;
	int r = ERR_INTERNAL;

	*out = NULL;
	*len = 0;
	if ((bin = sodium_malloc(PRIV_BIN_MAX)) == NULL ||
	    (priv = sodium_malloc(PRIV_BIN_MAX)) == NULL) {
		r = ERR_NOMEM;
		goto out;
	}
	sshkey_public(k, &pub);
	sshwire_w_init(&pubblob, pubbuf, sizeof(pubbuf));
	sshwire_put_pub(&pubblob, &pub);

	/* The private section, padded to the block size. */
	sshwire_w_init(&pw, priv, PRIV_BIN_MAX);
	randombytes_buf(&check, sizeof(check));
	sshwire_put_u32(&pw, check);
	sshwire_put_u32(&pw, check);
	sshwire_put_cstring(&pw, SSHKEY_ED25519_NAME);
	sshwire_put_string(&pw, k->pk, sizeof(k->pk));
	sshwire_put_string(&pw, k->sk, sizeof(k->sk));
	sshwire_put_cstring(&pw, k->comment);
	for (pad = 1; pw.len % PRIV_BLOCK != 0; pad++) {
		uint8_t b = (uint8_t)pad;

		sshwire_put_raw(&pw, &b, 1);
	}

	sshwire_w_init(&w, bin, PRIV_BIN_MAX);
	sshwire_put_raw(&w, AUTH_MAGIC, sizeof(AUTH_MAGIC));	/* with NUL */
	sshwire_put_cstring(&w, "none");
	sshwire_put_cstring(&w, "none");
	sshwire_put_string(&w, NULL, 0);
	sshwire_put_u32(&w, 1);
	sshwire_put_string(&w, pubblob.p, pubblob.len);
	sshwire_put_string(&w, priv, pw.len);
	if (pubblob.err != ERR_OK || pw.err != ERR_OK || w.err != ERR_OK) {
		r = ERR_INTERNAL;
		goto out;
	}

	b64_max = sodium_base64_ENCODED_LEN(w.len,
	    sodium_base64_VARIANT_ORIGINAL);
	text_max = strlen(PEM_BEGIN) + b64_max + b64_max / PEM_LINE + 1 +
	    strlen(PEM_END) + 1;
	if ((b64 = sodium_malloc(b64_max)) == NULL ||
	    (text = sodium_malloc(text_max)) == NULL) {
		r = ERR_NOMEM;
		goto out;
	}
	sodium_bin2base64(b64, b64_max, bin, w.len,
	    sodium_base64_VARIANT_ORIGINAL);
	b64_len = strlen(b64);

	n = strlen(PEM_BEGIN);
	memcpy(text, PEM_BEGIN, n);
	for (i = 0; i < b64_len; i += PEM_LINE) {
		size_t line = b64_len - i < PEM_LINE ? b64_len - i : PEM_LINE;

		memcpy(text + n, b64 + i, line);
		n += line;
		text[n++] = '\n';
	}
	memcpy(text + n, PEM_END, strlen(PEM_END));
	n += strlen(PEM_END);
	text[n] = '\0';

	*out = text;
	*len = n;
	text = NULL;
	r = ERR_OK;
 out:
	sodium_free(text);
	sodium_free(b64);
	sodium_free(priv);
	sodium_free(bin);
	return r;
}

/*
 * The private section: check words, one ssh-ed25519 key matching pub and
 * consistent in itself, a comment and exact padding.
 */
static int
parse_private_section(const uint8_t *p, size_t len,
    const struct sshkey_pub *pub, struct sshkey *k)
{
	struct sshwire_r r = { p, len };
	const uint8_t *name, *pk, *sk, *comment;
	size_t name_len, pk_len, sk_len, comment_len, i;
	uint8_t derived_pk[SSHKEY_ED25519_PUBLEN];
	uint8_t *derived_sk = NULL;
	uint32_t c1, c2;
	int ret = ERR_FORMAT;

	if (len % PRIV_BLOCK != 0 ||
	    sshwire_get_u32(&r, &c1) != ERR_OK ||
	    sshwire_get_u32(&r, &c2) != ERR_OK || c1 != c2)
		return ERR_FORMAT;
	if (sshwire_get_string(&r, &name, &name_len) != ERR_OK ||
	    !valid_type_name(name, name_len))
		return ERR_FORMAT;
	if (name_len != strlen(SSHKEY_ED25519_NAME) ||
	    memcmp(name, SSHKEY_ED25519_NAME, name_len) != 0)
		return ERR_UNSUPPORTED;
	if (sshwire_get_string(&r, &pk, &pk_len) != ERR_OK ||
	    pk_len != SSHKEY_ED25519_PUBLEN ||
	    sshwire_get_string(&r, &sk, &sk_len) != ERR_OK ||
	    sk_len != SK_LEN ||
	    sshwire_get_string(&r, &comment, &comment_len) != ERR_OK ||
	    !valid_comment((const char *)comment, comment_len))
		return ERR_FORMAT;
	/* Padding 1, 2, 3, ... shorter than a block. */
	if (r.len >= PRIV_BLOCK)
		return ERR_FORMAT;
	for (i = 0; i < r.len; i++) {
		if (r.p[i] != i + 1)
			return ERR_FORMAT;
	}
	if (memcmp(pk, pub->pk, pk_len) != 0 ||
	    memcmp(sk + 32, pk, pk_len) != 0)
		return ERR_FORMAT;
	/* The seed must give this public key. */
	if ((derived_sk = sodium_malloc(SK_LEN)) == NULL)
		return ERR_NOMEM;
	if (crypto_sign_seed_keypair(derived_pk, derived_sk, sk) != 0) {
		ret = ERR_CRYPTO;
		goto out;
	}
	if (sodium_memcmp(derived_pk, pk, pk_len) != 0)
		goto out;
	memcpy(k->sk, sk, SK_LEN);
	memcpy(k->pk, pk, pk_len);
	memcpy(k->comment, comment, comment_len);
	k->comment[comment_len] = '\0';
	ret = ERR_OK;
 out:
	sodium_free(derived_sk);
	return ret;
}

static int
is_b64_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '+' || c == '/' || c == '=';
}

int
sshkey_private_parse_secret(const char *text, size_t len, struct sshkey **out)
{
	struct sshwire_r r;
	struct sshkey_pub pub;
	struct sshkey *k = NULL;
	const uint8_t *s, *blob, *priv;
	size_t blen = strlen(PEM_BEGIN), elen = strlen(PEM_END), i, j, n;
	size_t s_len, blob_len, priv_len, bin_len, line;
	char *b64 = NULL;
	uint8_t *bin = NULL;
	uint32_t nkeys;
	int ret = ERR_FORMAT;

	*out = NULL;
	if (sodium_init() < 0)
		return ERR_CRYPTO;
	if (len > SSHKEY_PRIVATE_FILE_MAX)
		return ERR_TOOBIG;
	if (len < blen + elen || memcmp(text, PEM_BEGIN, blen) != 0)
		return ERR_FORMAT;
	/* The end line, its newline optional. */
	if (text[len - 1] != '\n')
		elen--;
	if (memcmp(text + len - elen, PEM_END, elen) != 0)
		return ERR_FORMAT;

	/* Base64 lines of at most 76 characters between the armour. */
	if ((b64 = sodium_malloc(len)) == NULL ||
	    (bin = sodium_malloc(len)) == NULL) {
		ret = ERR_NOMEM;
		goto out;
	}
	n = 0;
	line = 0;
	for (i = blen, j = len - elen; i < j; i++) {
		if (text[i] == '\n') {
			if (line == 0)
				goto out;
			line = 0;
			continue;
		}
		if (!is_b64_char(text[i]) || ++line > 76)
			goto out;
		b64[n++] = text[i];
	}
	if (line != 0)
		goto out;
	if (enc_base64_decode(b64, n, bin, len, &bin_len) != ERR_OK)
		goto out;

	if (bin_len < sizeof(AUTH_MAGIC) ||
	    memcmp(bin, AUTH_MAGIC, sizeof(AUTH_MAGIC)) != 0)
		goto out;
	r.p = bin + sizeof(AUTH_MAGIC);
	r.len = bin_len - sizeof(AUTH_MAGIC);
	if (sshwire_get_string(&r, &s, &s_len) != ERR_OK)
		goto out;
	if (s_len != 4 || memcmp(s, "none", 4) != 0) {
		ret = ERR_UNSUPPORTED;	/* an encrypted key */
		goto out;
	}
	if (sshwire_expect_cstring(&r, "none") != ERR_OK ||
	    sshwire_get_string(&r, &s, &s_len) != ERR_OK || s_len != 0 ||
	    sshwire_get_u32(&r, &nkeys) != ERR_OK || nkeys != 1 ||
	    sshwire_get_string(&r, &blob, &blob_len) != ERR_OK)
		goto out;
	if ((ret = sshwire_parse_pub(blob, blob_len, &pub)) != ERR_OK)
		goto out;
	ret = ERR_FORMAT;
	if (sshwire_get_string(&r, &priv, &priv_len) != ERR_OK || r.len != 0)
		goto out;
	if ((k = key_new()) == NULL) {
		ret = ERR_NOMEM;
		goto out;
	}
	if ((ret = parse_private_section(priv, priv_len, &pub, k)) != ERR_OK)
		goto out;
	*out = k;
	k = NULL;
	ret = ERR_OK;
 out:
	sshkey_free(k);
	sodium_free(bin);
	sodium_free(b64);
	return ret;
}

int
sshkey_save_secret(const struct sshkey *k, const char *path)
{
	char *text = NULL;
	size_t len = 0;
	int r;

	if ((r = sshkey_private_format_secret(k, &text, &len)) != ERR_OK)
		return r;
	r = fs_write_atomic(path, text, len, 0600, FS_EXCL);
	sshkey_text_free_secret(text, len);
	return r;
}

int
sshkey_load_secret(const char *path, struct sshkey **out)
{
	struct stat st;
	char *text = NULL;
	size_t len = 0;
	ssize_t n;
	int fd, r = ERR_INTERNAL;

	*out = NULL;
	if (sodium_init() < 0)
		return ERR_CRYPTO;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return errno == ENOENT ? ERR_NOTFOUND : ERR_IO;
	if (fstat(fd, &st) != 0) {
		r = ERR_IO;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = ERR_FORMAT;
		goto out;
	}
	if ((st.st_mode & 077) != 0 || st.st_uid != geteuid()) {
		r = ERR_DENIED;
		goto out;
	}
	if (st.st_size > SSHKEY_PRIVATE_FILE_MAX) {
		r = ERR_TOOBIG;
		goto out;
	}
	if ((text = sodium_malloc(SSHKEY_PRIVATE_FILE_MAX + 1)) == NULL) {
		r = ERR_NOMEM;
		goto out;
	}
	for (;;) {
		n = read(fd, text + len, SSHKEY_PRIVATE_FILE_MAX + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = ERR_IO;
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > SSHKEY_PRIVATE_FILE_MAX) {
			r = ERR_TOOBIG;
			goto out;
		}
	}
	r = sshkey_private_parse_secret(text, len, out);
 out:
	sodium_free(text);
	close(fd);
	return r;
}

/* Public keys. */

int
sshkey_pub_format(const struct sshkey_pub *pk, const char *comment,
    char **out)
{
	uint8_t blob[64];
	struct sshwire_w w;
	char b64[sodium_base64_ENCODED_LEN(sizeof(blob),
	    sodium_base64_VARIANT_ORIGINAL)];
	size_t clen = comment != NULL ? strlen(comment) : 0, n;
	char *s;

	*out = NULL;
	if (!valid_comment(comment, clen))
		return ERR_INVAL;
	sshwire_w_init(&w, blob, sizeof(blob));
	sshwire_put_pub(&w, pk);
	if (w.err != ERR_OK)
		return ERR_INTERNAL;
	sodium_bin2base64(b64, sizeof(b64), blob, w.len,
	    sodium_base64_VARIANT_ORIGINAL);
	n = strlen(SSHKEY_ED25519_NAME) + 1 + strlen(b64) + 1 + clen + 2;
	if ((s = malloc(n)) == NULL)
		return ERR_NOMEM;
	if (clen > 0)
		snprintf(s, n, "%s %s %s\n", SSHKEY_ED25519_NAME, b64, comment);
	else
		snprintf(s, n, "%s %s\n", SSHKEY_ED25519_NAME, b64);
	*out = s;
	return ERR_OK;
}

int
sshkey_pub_parse(const char *line, size_t len, struct sshkey_pub *out,
    char **comment)
{
	uint8_t blob[SSHKEY_LINE_MAX];
	struct sshwire_r r;
	const uint8_t *name;
	const char *sp, *b64, *c = NULL;
	size_t type_len, b64_len, blob_len, name_len, clen = 0;
	struct sshkey_pub pk;
	char *cs;
	int ret;

	if (comment != NULL)
		*comment = NULL;
	if (len > SSHKEY_LINE_MAX)
		return ERR_TOOBIG;
	if (len > 0 && line[len - 1] == '\n')
		len--;
	if ((sp = memchr(line, ' ', len)) == NULL)
		return ERR_FORMAT;
	type_len = (size_t)(sp - line);
	if (!valid_type_name((const uint8_t *)line, type_len))
		return ERR_FORMAT;
	b64 = sp + 1;
	b64_len = len - type_len - 1;
	if ((sp = memchr(b64, ' ', b64_len)) != NULL) {
		c = sp + 1;
		clen = b64_len - (size_t)(sp - b64) - 1;
		b64_len = (size_t)(sp - b64);
		if (clen == 0 || !valid_comment(c, clen))
			return ERR_FORMAT;
	}
	if (b64_len == 0 ||
	    enc_base64_decode(b64, b64_len, blob, sizeof(blob),
	    &blob_len) != ERR_OK)
		return ERR_FORMAT;

	/* The blob must name the type the line names. */
	r.p = blob;
	r.len = blob_len;
	if (sshwire_get_string(&r, &name, &name_len) != ERR_OK ||
	    name_len != type_len || memcmp(name, line, type_len) != 0)
		return ERR_FORMAT;
	if ((ret = sshwire_parse_pub(blob, blob_len, &pk)) != ERR_OK)
		return ret;
	if (comment != NULL) {
		if ((cs = malloc(clen + 1)) == NULL)
			return ERR_NOMEM;
		if (clen > 0)
			memcpy(cs, c, clen);
		cs[clen] = '\0';
		*comment = cs;
	}
	*out = pk;
	return ERR_OK;
}

int
sshkey_pub_save(const struct sshkey_pub *pk, const char *comment,
    const char *path)
{
	char *line = NULL;
	int r;

	if ((r = sshkey_pub_format(pk, comment, &line)) != ERR_OK)
		return r;
	r = fs_write_atomic(path, line, strlen(line), 0644, 0);
	free(line);
	return r;
}

int
sshkey_pub_load(const char *path, struct sshkey_pub *out, char **comment)
{
	char *text = NULL;
	size_t len = 0;
	int r;

	if (comment != NULL)
		*comment = NULL;
	if ((r = fs_read_file(path, SSHKEY_LINE_MAX, &text, &len)) != ERR_OK)
		return r;
	r = sshkey_pub_parse(text, len, out, comment);
	free(text);
	return r;
}

void
sshkey_fingerprint(const struct sshkey_pub *pk, char out[SSHKEY_FP_MAX])
{
	uint8_t blob[64], hash[crypto_hash_sha256_BYTES];
	struct sshwire_w w;

	sshwire_w_init(&w, blob, sizeof(blob));
	sshwire_put_pub(&w, pk);
	crypto_hash_sha256(hash, blob, w.len);
	memcpy(out, "SHA256:", 7);
	sodium_bin2base64(out + 7, SSHKEY_FP_MAX - 7, hash, sizeof(hash),
	    sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
}

static const char *const user_key_types[] = {
	"ssh-ed25519", "sk-ssh-ed25519@openssh.com",
	"ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
	"sk-ecdsa-sha2-nistp256@openssh.com", "ssh-rsa",
};

int
sshkey_type_is_sk(const char *type)
{
	return strncmp(type, "sk-", 3) == 0;
}

static int
known_user_key_type(const char *t, size_t len)
{
	size_t i;

	for (i = 0; i < sizeof(user_key_types) / sizeof(user_key_types[0]); i++)
		if (strlen(user_key_types[i]) == len &&
		    memcmp(user_key_types[i], t, len) == 0)
			return 1;
	return 0;
}

int
sshkey_line_any(const char *line, size_t len, char type[SSHKEY_TYPE_MAX],
    char fp[SSHKEY_FP_MAX], size_t *canon_len)
{
	const char *sp, *b64, *end;
	uint8_t blob[SSHKEY_ANY_BLOB_MAX], hash[crypto_hash_sha256_BYTES];
	size_t tlen, blen, i;
	uint32_t n;

	type[0] = '\0';
	fp[0] = '\0';
	*canon_len = 0;
	if (len > 0 && line[len - 1] == '\n')
		len--;
	for (i = 0; i < len; i++)
		if (line[i] < 0x20 || line[i] > 0x7e)
			return ERR_FORMAT;
	sp = memchr(line, ' ', len);
	if (sp == NULL || sp == line)
		return ERR_FORMAT;
	tlen = (size_t)(sp - line);
	if (tlen >= SSHKEY_TYPE_MAX)
		return ERR_FORMAT;
	if (!known_user_key_type(line, tlen))
		return ERR_UNSUPPORTED;
	b64 = sp + 1;
	end = memchr(b64, ' ', len - (size_t)(b64 - line));
	if (end == NULL)
		end = line + len;
	if (end == b64 || (end < line + len && end + 1 == line + len))
		return ERR_FORMAT;	/* no key, or a space and no comment */
	if (enc_base64_decode(b64, (size_t)(end - b64), blob, sizeof(blob),
	    &blen) != ERR_OK)
		return ERR_FORMAT;
	/* The blob's first string must name the same type. */
	if (blen < 4)
		return ERR_FORMAT;
	n = (uint32_t)blob[0] << 24 | (uint32_t)blob[1] << 16 |
	    (uint32_t)blob[2] << 8 | blob[3];
	if (n != tlen || blen - 4 < n || memcmp(blob + 4, line, tlen) != 0)
		return ERR_FORMAT;
	crypto_hash_sha256(hash, blob, blen);
	memcpy(type, line, tlen);
	type[tlen] = '\0';
	memcpy(fp, "SHA256:", 7);
	sodium_bin2base64(fp + 7, SSHKEY_FP_MAX - 7, hash, sizeof(hash),
	    sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
	*canon_len = (size_t)(end - line);
	return ERR_OK;
}
