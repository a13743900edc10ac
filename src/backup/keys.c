/*
 * keys.c - repository key derivation, the admin key export and the agent
 * configuration file. Formats in keys.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "backup/keys.h"
#include "common/encoding.h"
#include "common/fsutil.h"
#include "common/kdf.h"
#include "common/banned.h"

#define EXPORT_MAGIC "bulwark vault admin key v1"
#define LABEL_CHUNKER "bulwark backup chunker key v1"
#define LABEL_ID "bulwark backup chunk id key v1"
#define SEALED_PLAIN_LEN (PACK_SK_LEN + PACK_PK_LEN + REPO_SECRET_LEN)
#define SEALED_LEN (crypto_aead_xchacha20poly1305_ietf_NPUBBYTES + \
	SEALED_PLAIN_LEN + crypto_aead_xchacha20poly1305_ietf_ABYTES)
#define CONFIG_MAX (64u * 1024)

int
repo_keys_derive(const uint8_t secret[REPO_SECRET_LEN], struct repo_keys *out)
{
	if (crypto_generichash(out->chunker, sizeof(out->chunker),
	    (const uint8_t *)LABEL_CHUNKER, sizeof(LABEL_CHUNKER) - 1,
	    secret, REPO_SECRET_LEN) != 0 ||
	    crypto_generichash(out->id, sizeof(out->id),
	    (const uint8_t *)LABEL_ID, sizeof(LABEL_ID) - 1,
	    secret, REPO_SECRET_LEN) != 0) {
		sodium_memzero(out, sizeof(*out));
		return ERR_CRYPTO;
	}
	return ERR_OK;
}

int
backup_host_name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > MANIFEST_HOST_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c < 0x21 || c > 0x7e || c == '/')
			return 0;
	}
	/* "." and ".." would name directories of the vault. */
	return strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

/* ---- Text helpers --------------------------------------------------- */

/* Decodes exactly n bytes of base64 from s[0..len). */
static int
unb64(const char *s, size_t len, uint8_t *out, size_t n)
{
	size_t got;

	if (enc_base64_decode(s, len, out, n, &got) != ERR_OK || got != n)
		return ERR_FORMAT;
	return ERR_OK;
}

/*
 * Splits the next line of text at *pos into key and value (at the first
 * space). Returns 1 with a line, 0 at the end. Lines without a space get
 * an empty value.
 */
struct kv {
	const char *key, *val;
	size_t klen, vlen;
	const char *line;
	size_t llen;
};

static int
next_line(const char *text, size_t len, size_t *pos, struct kv *kv)
{
	if (*pos >= len)
		return 0;
	const char *line = text + *pos;
	const char *nl = memchr(line, '\n', len - *pos);
	size_t llen = nl != NULL ? (size_t)(nl - line) : len - *pos;

	*pos += llen + (nl != NULL);
	kv->line = line;
	kv->llen = llen;
	const char *sp = memchr(line, ' ', llen);
	kv->key = line;
	kv->klen = sp != NULL ? (size_t)(sp - line) : llen;
	kv->val = sp != NULL ? sp + 1 : line + llen;
	kv->vlen = sp != NULL ? llen - kv->klen - 1 : 0;
	return 1;
}

static int
key_is(const struct kv *kv, const char *k)
{
	return kv->klen == strlen(k) && memcmp(kv->key, k, kv->klen) == 0;
}

/* Zeroed guarded memory for a struct holding secrets (sodium_free it). */
static void *
secret_zalloc(size_t n)
{
	void *p = sodium_malloc(n);

	if (p != NULL)
		sodium_memzero(p, n);
	return p;
}

/* ---- Admin key export ---------------------------------------------- */

int
admin_key_new(struct admin_key **out)
{
	return (*out = secret_zalloc(sizeof(**out))) != NULL ? ERR_OK :
	    ERR_NOMEM;
}

void
admin_key_free(struct admin_key *k)
{
	if (k != NULL)
		sodium_free(k);
}

static int
hex_key_id(const uint8_t pk[PACK_PK_LEN], char out[2 * PACK_KEY_ID_LEN + 1])
{
	uint8_t id[PACK_KEY_ID_LEN];

	if (pack_vault_key_id(pk, id) != ERR_OK)
		return ERR_CRYPTO;
	sodium_bin2hex(out, 2 * PACK_KEY_ID_LEN + 1, id, sizeof(id));
	return ERR_OK;
}

/*
 * The wrapping key from the passphrase; wk is the caller's to wipe.
 * A legacy line's memory is in bytes, rounded down to KiB as libsodium's
 * crypto_pwhash did when it made those exports (common/kdf.h says why it
 * does not compute them any more).
 */
static int
derive_wrap(uint8_t wk[crypto_aead_xchacha20poly1305_ietf_KEYBYTES],
    const char *pass, size_t passlen, const struct admin_kdf *a)
{
	struct kdf_params p = { .t = a->t, .m_kib = a->m_kib,
	    .lanes = a->lanes };

	return kdf_argon2id(wk, crypto_aead_xchacha20poly1305_ietf_KEYBYTES,
	    pass, passlen, a->salt, sizeof(a->salt), &p);
}

int
admin_key_export(const struct admin_key *k, const char *pass, size_t passlen,
    unsigned long long ops, size_t mem, char **text)
{
	uint8_t sealed[SEALED_LEN];
	uint8_t *wk = NULL, *plain = NULL;
	char idhex[2 * PACK_KEY_ID_LEN + 1], head[512];
	char *salt64 = NULL, *sealed64 = NULL;
	struct admin_kdf a;
	int rc = ERR_NOMEM, n;

	*text = NULL;
	if (ops == 0)
		ops = ADMIN_KDF_T;
	if (mem == 0)
		mem = (size_t)ADMIN_KDF_M_KIB * 1024;
	if (ops > ADMIN_KDF_T_MAX || mem / 1024 > ADMIN_KDF_M_MAX ||
	    mem / 1024 < 8 * ADMIN_KDF_LANES)
		return ERR_INVAL;
	a.t = (uint32_t)ops;
	a.m_kib = (uint32_t)(mem / 1024);
	a.lanes = ADMIN_KDF_LANES;
	if ((rc = hex_key_id(k->vault_pk, idhex)) != ERR_OK)
		return rc;
	rc = ERR_NOMEM;
	randombytes_buf(a.salt, sizeof(a.salt));
	if ((salt64 = enc_base64_encode(a.salt, sizeof(a.salt))) == NULL)
		goto out;
	n = snprintf(head, sizeof(head), "%s\nkey-id %s\nkdf argon2id v=19 "
	    "m=%" PRIu32 " t=%" PRIu32 " p=%" PRIu32 " %s\n", EXPORT_MAGIC,
	    idhex, a.m_kib, a.t, a.lanes, salt64);
	if (n < 0 || (size_t)n >= sizeof(head)) {
		rc = ERR_INTERNAL;
		goto out;
	}
	wk = sodium_malloc(crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
	plain = sodium_malloc(SEALED_PLAIN_LEN);
	if (wk == NULL || plain == NULL)
		goto out;
	if ((rc = derive_wrap(wk, pass, passlen, &a)) != ERR_OK)
		goto out;
	memcpy(plain, k->vault_sk, PACK_SK_LEN);
	memcpy(plain + PACK_SK_LEN, k->vault_pk, PACK_PK_LEN);
	memcpy(plain + PACK_SK_LEN + PACK_PK_LEN, k->repo_secret,
	    REPO_SECRET_LEN);
	randombytes_buf(sealed, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
	crypto_aead_xchacha20poly1305_ietf_encrypt(
	    sealed + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, NULL,
	    plain, SEALED_PLAIN_LEN, (const uint8_t *)head, (size_t)n, NULL,
	    sealed, wk);
	rc = ERR_NOMEM;
	if ((sealed64 = enc_base64_encode(sealed, sizeof(sealed))) == NULL)
		goto out;
	size_t tlen = (size_t)n + strlen("sealed \n") + strlen(sealed64) + 1;
	if ((*text = malloc(tlen)) == NULL)
		goto out;
	snprintf(*text, tlen, "%ssealed %s\n", head, sealed64);
	rc = ERR_OK;
out:
	if (wk != NULL)
		sodium_free(wk);
	if (plain != NULL)
		sodium_free(plain);
	free(salt64);
	free(sealed64);
	return rc;
}

/* Splits v[0..len) at single spaces into exactly n fields. */
static int
split_fields(const char *v, size_t len, size_t n, const char **f, size_t *fl)
{
	const char *p = v, *end = v + len;

	for (size_t i = 0; i < n; i++) {
		const char *sp = memchr(p, ' ', (size_t)(end - p));
		const char *e = i + 1 < n ? sp : end;

		if (e == NULL || (i + 1 == n && sp != NULL))
			return ERR_FORMAT;
		f[i] = p;
		fl[i] = (size_t)(e - p);
		p = e < end ? e + 1 : end;
	}
	return ERR_OK;
}

/* Parses "NAME=DECIMAL" into *out, lo <= *out <= hi. */
static int
named_u32(const char *f, size_t fl, const char *name, uint64_t lo,
    uint64_t hi, uint32_t *out)
{
	size_t nl = strlen(name);
	uint64_t v;

	if (fl <= nl + 1 || memcmp(f, name, nl) != 0 || f[nl] != '=' ||
	    enc_u64_parse(f + nl + 1, fl - nl - 1, &v) != ERR_OK ||
	    v < lo || v > hi)
		return ERR_FORMAT;
	*out = (uint32_t)v;
	return ERR_OK;
}

/*
 * The value of the KDF line, in either form keys.h lists. Bounded so that
 * a forged export cannot ask for all the memory or forever.
 */
static int
parse_kdf(const struct kv *kv, struct admin_kdf *a)
{
	const char *f[6];
	size_t fl[6];
	uint32_t v;
	uint64_t ops, mem;

	if (kv->vlen > strlen("argon2id13 ") &&
	    memcmp(kv->val, "argon2id13 ", strlen("argon2id13 ")) == 0) {
		if (split_fields(kv->val, kv->vlen, 4, f, fl) != ERR_OK ||
		    enc_u64_parse(f[1], fl[1], &ops) != ERR_OK ||
		    ops < 1 || ops > ADMIN_KDF_T_MAX ||
		    enc_u64_parse(f[2], fl[2], &mem) != ERR_OK ||
		    mem / 1024 < 8 || mem / 1024 > ADMIN_KDF_M_MAX)
			return ERR_FORMAT;
		a->t = (uint32_t)ops;
		a->m_kib = (uint32_t)(mem / 1024);
		a->lanes = 1;
		return unb64(f[3], fl[3], a->salt, sizeof(a->salt));
	}
	if (kv->vlen < strlen("argon2id ") ||
	    memcmp(kv->val, "argon2id ", strlen("argon2id ")) != 0)
		return ERR_UNSUPPORTED;
	if (split_fields(kv->val, kv->vlen, 6, f, fl) != ERR_OK)
		return ERR_FORMAT;
	if (named_u32(f[1], fl[1], "v", 0, UINT32_MAX, &v) != ERR_OK)
		return ERR_FORMAT;
	if (v != 19)
		return ERR_UNSUPPORTED;
	if (named_u32(f[4], fl[4], "p", 1, ADMIN_KDF_LANES_MAX,
	    &a->lanes) != ERR_OK ||
	    named_u32(f[2], fl[2], "m", 8 * (uint64_t)a->lanes,
	    ADMIN_KDF_M_MAX, &a->m_kib) != ERR_OK ||
	    named_u32(f[3], fl[3], "t", 1, ADMIN_KDF_T_MAX, &a->t) != ERR_OK)
		return ERR_FORMAT;
	return unb64(f[5], fl[5], a->salt, sizeof(a->salt));
}

/* The first three lines: magic, key ID (into idhex) and KDF. */
static int
parse_head(const char *text, size_t len, size_t *pos,
    char idhex[2 * PACK_KEY_ID_LEN + 1], struct admin_kdf *a)
{
	struct kv kv;

	if (!next_line(text, len, pos, &kv) ||
	    kv.llen != strlen(EXPORT_MAGIC) ||
	    memcmp(kv.line, EXPORT_MAGIC, kv.llen) != 0)
		return ERR_FORMAT;
	if (!next_line(text, len, pos, &kv) || !key_is(&kv, "key-id") ||
	    kv.vlen != 2 * PACK_KEY_ID_LEN)
		return ERR_FORMAT;
	memcpy(idhex, kv.val, kv.vlen);
	idhex[kv.vlen] = '\0';
	if (!next_line(text, len, pos, &kv) || !key_is(&kv, "kdf"))
		return ERR_FORMAT;
	return parse_kdf(&kv, a);
}

int
admin_key_kdf(const char *text, size_t len, struct admin_kdf *out)
{
	char idhex[2 * PACK_KEY_ID_LEN + 1];
	size_t pos = 0;

	return parse_head(text, len, &pos, idhex, out);
}

int
admin_key_import(const char *text, size_t len, const char *pass,
    size_t passlen, struct admin_key **out)
{
	struct kv kv;
	struct admin_kdf a;
	size_t pos = 0, headlen;
	uint8_t sealed[SEALED_LEN];
	uint8_t *wk = NULL, *plain = NULL;
	char idhex[2 * PACK_KEY_ID_LEN + 1];
	int rc;

	*out = NULL;
	if ((rc = parse_head(text, len, &pos, idhex, &a)) != ERR_OK)
		return rc;
	headlen = pos;
	if (!next_line(text, len, &pos, &kv) || !key_is(&kv, "sealed") ||
	    unb64(kv.val, kv.vlen, sealed, sizeof(sealed)) != ERR_OK)
		return ERR_FORMAT;
	/* Nothing but white space after the last line. */
	for (; pos < len; pos++)
		if (text[pos] != '\n' && text[pos] != ' ')
			return ERR_FORMAT;

	rc = ERR_NOMEM;
	wk = sodium_malloc(crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
	plain = sodium_malloc(SEALED_PLAIN_LEN);
	if (wk == NULL || plain == NULL)
		goto out;
	if ((rc = derive_wrap(wk, pass, passlen, &a)) != ERR_OK)
		goto out;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain, NULL, NULL,
	    sealed + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
	    sizeof(sealed) - crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
	    (const uint8_t *)text, headlen, sealed, wk) != 0) {
		rc = ERR_SIGNATURE;
		goto out;
	}
	if ((rc = admin_key_new(out)) != ERR_OK)
		goto out;
	memcpy((*out)->vault_sk, plain, PACK_SK_LEN);
	memcpy((*out)->vault_pk, plain + PACK_SK_LEN, PACK_PK_LEN);
	memcpy((*out)->repo_secret, plain + PACK_SK_LEN + PACK_PK_LEN,
	    REPO_SECRET_LEN);
	/* The public key must be the secret key's, and the ID the key's. */
	uint8_t pk[PACK_PK_LEN];
	char want[2 * PACK_KEY_ID_LEN + 1];
	crypto_scalarmult_base(pk, (*out)->vault_sk);
	if (sodium_memcmp(pk, (*out)->vault_pk, PACK_PK_LEN) != 0 ||
	    hex_key_id(pk, want) != ERR_OK || strcmp(want, idhex) != 0) {
		admin_key_free(*out);
		*out = NULL;
		rc = ERR_FORMAT;
		goto out;
	}
	rc = ERR_OK;
out:
	if (wk != NULL)
		sodium_free(wk);
	if (plain != NULL)
		sodium_free(plain);
	return rc;
}

/* ---- Agent configuration ------------------------------------------- */

int
agent_config_new(struct agent_config **out)
{
	return (*out = secret_zalloc(sizeof(**out))) != NULL ? ERR_OK :
	    ERR_NOMEM;
}

void
agent_config_free(struct agent_config *c)
{
	if (c != NULL)
		sodium_free(c);
}

int
agent_config_format(const struct agent_config *c, char **text)
{
	char *pk = enc_base64_encode(c->vault_pk, sizeof(c->vault_pk));
	char *rk = enc_base64_encode(c->repo_secret, sizeof(c->repo_secret));
	char *sk = enc_base64_encode(c->sign_sk, sizeof(c->sign_sk));
	int rc = ERR_NOMEM;

	*text = NULL;
	if (!backup_host_name_ok(c->host) || strchr(c->vault, '\n') != NULL ||
	    strchr(c->ssh_identity, '\n') != NULL) {
		rc = ERR_INVAL;
		goto out;
	}
	if (pk == NULL || rk == NULL || sk == NULL)
		goto out;
	size_t cap = 512 + strlen(c->host) + strlen(pk) + strlen(rk) +
	    strlen(sk) + strlen(c->vault) + strlen(c->ssh_identity);
	if ((*text = malloc(cap)) == NULL)
		goto out;
	int n = snprintf(*text, cap,
	    "# Bulwark backup agent configuration for %s (bulwark vault "
	    "enroll).\n# It holds this host's signing key and the repository "
	    "key: keep it mode 0600.\nhost %s\nvault-key %s\nrepo-key %s\n"
	    "sign-key %s\n", c->host, c->host, pk, rk, sk);
	if (c->vault[0] != '\0')
		n += snprintf(*text + n, cap - (size_t)n, "vault %s\n",
		    c->vault);
	if (c->ssh_identity[0] != '\0')
		snprintf(*text + n, cap - (size_t)n, "ssh-identity %s\n",
		    c->ssh_identity);
	rc = ERR_OK;
out:
	free(pk);
	if (rk != NULL)
		sodium_memzero(rk, strlen(rk));
	free(rk);
	if (sk != NULL)
		sodium_memzero(sk, strlen(sk));
	free(sk);
	return rc;
}

static int
copy_str(char *dst, size_t cap, const struct kv *kv)
{
	if (kv->vlen == 0 || kv->vlen >= cap || memchr(kv->val, '\0',
	    kv->vlen) != NULL)
		return ERR_FORMAT;
	memcpy(dst, kv->val, kv->vlen);
	dst[kv->vlen] = '\0';
	return ERR_OK;
}

int
agent_config_parse(const char *text, size_t len, struct agent_config **out)
{
	struct agent_config *c;
	struct kv kv;
	size_t pos = 0;
	unsigned seen = 0;
	int rc;

	*out = NULL;
	if ((rc = agent_config_new(&c)) != ERR_OK)
		return rc;
	while (next_line(text, len, &pos, &kv)) {
		unsigned bit;
		if (kv.llen == 0 || kv.line[0] == '#')
			continue;
		if (key_is(&kv, "host")) {
			bit = 1;
			rc = copy_str(c->host, sizeof(c->host), &kv);
			if (rc == ERR_OK && !backup_host_name_ok(c->host))
				rc = ERR_FORMAT;
		} else if (key_is(&kv, "vault-key")) {
			bit = 2;
			rc = unb64(kv.val, kv.vlen, c->vault_pk,
			    sizeof(c->vault_pk));
		} else if (key_is(&kv, "repo-key")) {
			bit = 4;
			rc = unb64(kv.val, kv.vlen, c->repo_secret,
			    sizeof(c->repo_secret));
		} else if (key_is(&kv, "sign-key")) {
			bit = 8;
			rc = unb64(kv.val, kv.vlen, c->sign_sk,
			    sizeof(c->sign_sk));
		} else if (key_is(&kv, "vault")) {
			bit = 16;
			rc = copy_str(c->vault, sizeof(c->vault), &kv);
		} else if (key_is(&kv, "ssh-identity")) {
			bit = 32;
			rc = copy_str(c->ssh_identity, sizeof(c->ssh_identity),
			    &kv);
		} else {
			rc = ERR_FORMAT;
			bit = 0;
		}
		if (rc != ERR_OK || (seen & bit) != 0) {
			agent_config_free(c);
			return ERR_FORMAT;
		}
		seen |= bit;
	}
	if ((seen & 15) != 15) {
		agent_config_free(c);
		return ERR_FORMAT;
	}
	/* The signing key's second half is its public key: check it. */
	uint8_t pk[crypto_sign_PUBLICKEYBYTES];
	crypto_sign_ed25519_sk_to_pk(pk, c->sign_sk);
	uint8_t seed[crypto_sign_SEEDBYTES], pk2[crypto_sign_PUBLICKEYBYTES];
	uint8_t *sk2 = sodium_malloc(crypto_sign_SECRETKEYBYTES);
	if (sk2 == NULL) {
		agent_config_free(c);
		return ERR_NOMEM;
	}
	crypto_sign_ed25519_sk_to_seed(seed, c->sign_sk);
	crypto_sign_seed_keypair(pk2, sk2, seed);
	sodium_memzero(seed, sizeof(seed));
	sodium_free(sk2);
	if (sodium_memcmp(pk, pk2, sizeof(pk)) != 0) {
		agent_config_free(c);
		return ERR_FORMAT;
	}
	*out = c;
	return ERR_OK;
}

int
agent_config_load(const char *path, struct agent_config **out, char *why,
    size_t whylen)
{
	struct stat st;
	char *text = NULL;
	size_t len;
	int fd, rc;

	*out = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
		snprintf(why, whylen, "cannot open %s: %s", path,
		    strerror(errno));
		return errno == ENOENT ? ERR_NOTFOUND : ERR_IO;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		snprintf(why, whylen, "%s is not a regular file", path);
		return ERR_FORMAT;
	}
	if ((st.st_mode & 077) != 0 || (st.st_uid != geteuid() &&
	    st.st_uid != 0)) {
		close(fd);
		snprintf(why, whylen, "%s is mode %04o owned by uid %u: it "
		    "holds secrets; chmod 600 it and make it yours", path,
		    (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid);
		return ERR_DENIED;
	}
	close(fd);
	if ((rc = fs_read_file(path, CONFIG_MAX, &text, &len)) != ERR_OK) {
		snprintf(why, whylen, "cannot read %s", path);
		return rc;
	}
	rc = agent_config_parse(text, len, out);
	sodium_memzero(text, len);
	free(text);
	if (rc != ERR_OK)
		snprintf(why, whylen, "%s is not a valid agent configuration "
		    "(bulwark vault enroll writes one)", path);
	return rc;
}
