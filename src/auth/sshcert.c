/*
 * sshcert.c - OpenSSH user certificates signed by the Bulwark user CA.
 *
 * Layout (PROTOCOL.certkeys, ssh-ed25519-cert-v01@openssh.com):
 *
 *	string	"ssh-ed25519-cert-v01@openssh.com"
 *	string	nonce
 *	string	pk
 *	uint64	serial
 *	uint32	type
 *	string	key id
 *	string	valid principals (a list of strings)
 *	uint64	valid after
 *	uint64	valid before
 *	string	critical options (name string, data string pairs)
 *	string	extensions (likewise)
 *	string	reserved
 *	string	signature key
 *	string	signature (over everything before it)
 *
 * A critical option's data is itself a string holding the value; a flag
 * extension's data is empty.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "auth/sshcert.h"
#include "common/encoding.h"
#include "common/banned.h"

#define NONCE_LEN 32
#define NONCE_MIN 16
#define NONCE_MAX 64
#define OPTION_NAME_MAX 256
#define KEY_ID_PARSE_MAX 4096
#define PRINCIPAL_PARSE_MAX 4096
#define COMMENT_MAX SSHKEY_COMMENT_MAX

/* Issuing. */

static int
printable(const char *s, size_t len, int allow_space)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c > 0x7e || (c == ' ' && !allow_space))
			return 0;
	}
	return 1;
}

static int
valid_principal(const char *s)
{
	size_t len = strlen(s);

	return len >= 1 && len <= SSHCERT_NAME_MAX && printable(s, len, 0) &&
	    strchr(s, ',') == NULL;
}

/*
 * Addresses and CIDR blocks, comma-separated, no empty element. sshd
 * parses the list itself and refuses the certificate if it is invalid;
 * this only keeps nonsense out of what the CA signs.
 */
static int
valid_source_address(const char *s)
{
	size_t len = strlen(s), i;

	if (len == 0 || len > SSHCERT_NAME_MAX || s[0] == ',' ||
	    s[len - 1] == ',')
		return 0;
	for (i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
		    (c >= 'A' && c <= 'F') || c == '.' || c == ':' ||
		    c == '/' || c == ','))
			return 0;
		if (c == ',' && s[i + 1] == ',')
			return 0;
	}
	return 1;
}

static int
check_request(const struct sshcert_request *req)
{
	size_t i, len;

	if (req->subject == NULL || req->key_id == NULL ||
	    req->principals == NULL)
		return ERR_INVAL;
	len = strlen(req->key_id);
	if (len == 0 || len > SSHCERT_NAME_MAX ||
	    !printable(req->key_id, len, 1))
		return ERR_INVAL;
	if (req->nprincipals == 0 ||
	    req->nprincipals > SSHCERT_ISSUE_MAX_PRINCIPALS)
		return ERR_INVAL;
	for (i = 0; i < req->nprincipals; i++) {
		if (req->principals[i] == NULL ||
		    !valid_principal(req->principals[i]))
			return ERR_INVAL;
	}
	if (req->valid_before <= req->valid_after ||
	    req->valid_before - req->valid_after > SSHCERT_MAX_VALIDITY)
		return ERR_INVAL;
	if (req->source_address != NULL &&
	    !valid_source_address(req->source_address))
		return ERR_INVAL;
	return ERR_OK;
}

int
sshcert_issue(const struct sshkey *ca, const struct sshcert_request *req,
    char **cert_line)
{
	uint8_t nonce[NONCE_LEN], sig[SSHKEY_ED25519_SIGLEN];
	uint8_t *blob = NULL, *sub = NULL, *val = NULL;
	struct sshwire_w w, sw, vw;
	struct sshkey_pub ca_pub;
	char *b64 = NULL, *line = NULL;
	size_t b64_max, n, i;
	int r = ERR_INTERNAL;

	*cert_line = NULL;
	if (ca == NULL || req == NULL)
		return ERR_INVAL;
	if ((r = check_request(req)) != ERR_OK)
		return r;
	if (sodium_init() < 0)
		return ERR_CRYPTO;
	if ((blob = malloc(SSHCERT_BLOB_MAX)) == NULL ||
	    (sub = malloc(SSHCERT_BLOB_MAX)) == NULL ||
	    (val = malloc(SSHCERT_BLOB_MAX)) == NULL) {
		r = ERR_NOMEM;
		goto out;
	}
	randombytes_buf(nonce, sizeof(nonce));
	sshkey_public(ca, &ca_pub);

	sshwire_w_init(&w, blob, SSHCERT_BLOB_MAX);
	sshwire_put_cstring(&w, SSHCERT_TYPE_NAME);
	sshwire_put_string(&w, nonce, sizeof(nonce));
	sshwire_put_string(&w, req->subject->pk, sizeof(req->subject->pk));
	sshwire_put_u64(&w, req->serial);
	sshwire_put_u32(&w, SSHCERT_TYPE_USER);
	sshwire_put_cstring(&w, req->key_id);

	sshwire_w_init(&sw, sub, SSHCERT_BLOB_MAX);
	for (i = 0; i < req->nprincipals; i++)
		sshwire_put_cstring(&sw, req->principals[i]);
	sshwire_put_string(&w, sub, sw.len);

	sshwire_put_u64(&w, req->valid_after);
	sshwire_put_u64(&w, req->valid_before);

	/* Critical options: source-address only. */
	sshwire_w_init(&sw, sub, SSHCERT_BLOB_MAX);
	if (req->source_address != NULL) {
		sshwire_w_init(&vw, val, SSHCERT_BLOB_MAX);
		sshwire_put_cstring(&vw, req->source_address);
		sshwire_put_cstring(&sw, "source-address");
		sshwire_put_string(&sw, val, vw.len);
	}
	sshwire_put_string(&w, sub, sw.len);

	/* Extensions: permit-pty only. */
	sshwire_w_init(&sw, sub, SSHCERT_BLOB_MAX);
	if (req->permit_pty) {
		sshwire_put_cstring(&sw, "permit-pty");
		sshwire_put_string(&sw, NULL, 0);
	}
	sshwire_put_string(&w, sub, sw.len);

	sshwire_put_string(&w, NULL, 0);		/* reserved */
	sshwire_w_init(&sw, sub, SSHCERT_BLOB_MAX);
	sshwire_put_pub(&sw, &ca_pub);
	sshwire_put_string(&w, sub, sw.len);		/* signature key */
	if (w.err != ERR_OK || sw.err != ERR_OK ||
	    (req->source_address != NULL && vw.err != ERR_OK)) {
		r = ERR_INTERNAL;
		goto out;
	}

	if ((r = sshkey_sign(ca, blob, w.len, sig)) != ERR_OK)
		goto out;
	sshwire_w_init(&sw, sub, SSHCERT_BLOB_MAX);
	sshwire_put_sig(&sw, sig);
	sshwire_put_string(&w, sub, sw.len);
	if (w.err != ERR_OK || sw.err != ERR_OK) {
		r = ERR_INTERNAL;
		goto out;
	}

	b64_max = sodium_base64_ENCODED_LEN(w.len,
	    sodium_base64_VARIANT_ORIGINAL);
	if ((b64 = malloc(b64_max)) == NULL) {
		r = ERR_NOMEM;
		goto out;
	}
	sodium_bin2base64(b64, b64_max, blob, w.len,
	    sodium_base64_VARIANT_ORIGINAL);
	n = strlen(SSHCERT_TYPE_NAME) + 1 + strlen(b64) + 1 +
	    strlen(req->key_id) + 2;
	if ((line = malloc(n)) == NULL) {
		r = ERR_NOMEM;
		goto out;
	}
	snprintf(line, n, "%s %s %s\n", SSHCERT_TYPE_NAME, b64, req->key_id);
	*cert_line = line;
	r = ERR_OK;
 out:
	free(b64);
	free(val);
	free(sub);
	free(blob);
	return r;
}

/* Parsing. */

void
sshcert_free(struct sshcert *c)
{
	size_t i;

	if (c == NULL)
		return;
	free(c->nonce);
	free(c->key_id);
	for (i = 0; i < c->nprincipals; i++)
		free(c->principals[i]);
	free(c->principals);
	for (i = 0; i < c->ncritical; i++) {
		free(c->critical[i].name);
		free(c->critical[i].data);
	}
	free(c->critical);
	for (i = 0; i < c->nextensions; i++) {
		free(c->extensions[i].name);
		free(c->extensions[i].data);
	}
	free(c->extensions);
	free(c->blob);
	free(c->comment);
	free(c);
}

/*
 * A list of strings (the principals). An empty list stays NULL. Only
 * a valid list is kept; on error the caller frees what was stored.
 */
static int
parse_principals(const uint8_t *p, size_t len, struct sshcert *c)
{
	struct sshwire_r r = { p, len };
	char **v;
	int ret;

	while (r.len > 0) {
		if (c->nprincipals >= SSHCERT_PARSE_MAX_PRINCIPALS)
			return ERR_TOOBIG;
		v = realloc(c->principals,
		    (c->nprincipals + 1) * sizeof(*c->principals));
		if (v == NULL)
			return ERR_NOMEM;
		c->principals = v;
		ret = sshwire_get_cstring(&r, PRINCIPAL_PARSE_MAX,
		    &c->principals[c->nprincipals]);
		if (ret != ERR_OK)
			return ret == ERR_NOMEM ? ret : ERR_FORMAT;
		c->nprincipals++;
	}
	return ERR_OK;
}

/* name/data pairs, names strictly increasing. */
static int
parse_options(const uint8_t *p, size_t len, struct sshcert_option **optsp,
    size_t *np)
{
	struct sshwire_r r = { p, len };
	struct sshcert_option *v, *o;
	const uint8_t *data;
	size_t data_len;
	int ret;

	while (r.len > 0) {
		if (*np >= SSHCERT_PARSE_MAX_OPTIONS)
			return ERR_TOOBIG;
		if ((v = realloc(*optsp, (*np + 1) * sizeof(**optsp))) == NULL)
			return ERR_NOMEM;
		*optsp = v;
		o = &v[*np];
		o->name = NULL;
		o->data = NULL;
		o->data_len = 0;
		(*np)++;
		ret = sshwire_get_cstring(&r, OPTION_NAME_MAX, &o->name);
		if (ret != ERR_OK)
			return ret == ERR_NOMEM ? ret : ERR_FORMAT;
		if (o->name[0] == '\0')
			return ERR_FORMAT;
		if (*np > 1 && strcmp(v[*np - 2].name, o->name) >= 0)
			return ERR_FORMAT;
		if (sshwire_get_string(&r, &data, &data_len) != ERR_OK)
			return ERR_FORMAT;
		if ((o->data = malloc(data_len > 0 ? data_len : 1)) == NULL)
			return ERR_NOMEM;
		if (data_len > 0)
			memcpy(o->data, data, data_len);
		o->data_len = data_len;
	}
	return ERR_OK;
}

int
sshcert_parse_blob(const uint8_t *blob, size_t len, struct sshcert **out)
{
	struct sshwire_r r, sr;
	struct sshcert *c = NULL;
	const uint8_t *p, *name;
	size_t plen, name_len;
	int ret = ERR_FORMAT;

	*out = NULL;
	if (len > SSHCERT_BLOB_MAX)
		return ERR_TOOBIG;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return ERR_NOMEM;
	r.p = blob;
	r.len = len;

	if (sshwire_get_string(&r, &name, &name_len) != ERR_OK)
		goto out;
	if (name_len != strlen(SSHCERT_TYPE_NAME) ||
	    memcmp(name, SSHCERT_TYPE_NAME, name_len) != 0) {
		/* A well-formed name of another type, or garbage. */
		ret = name_len > 0 && name_len <= 64 &&
		    memchr(name, '\0', name_len) == NULL ?
		    ERR_UNSUPPORTED : ERR_FORMAT;
		goto out;
	}
	if (sshwire_get_string(&r, &p, &plen) != ERR_OK ||
	    plen < NONCE_MIN || plen > NONCE_MAX)
		goto out;
	if ((c->nonce = malloc(plen)) == NULL) {
		ret = ERR_NOMEM;
		goto out;
	}
	memcpy(c->nonce, p, plen);
	c->nonce_len = plen;
	if (sshwire_get_string(&r, &p, &plen) != ERR_OK ||
	    plen != SSHKEY_ED25519_PUBLEN)
		goto out;
	memcpy(c->key.pk, p, plen);
	if (sshwire_get_u64(&r, &c->serial) != ERR_OK ||
	    sshwire_get_u32(&r, &c->type) != ERR_OK ||
	    (c->type != SSHCERT_TYPE_USER && c->type != SSHCERT_TYPE_HOST))
		goto out;
	if ((ret = sshwire_get_cstring(&r, KEY_ID_PARSE_MAX,
	    &c->key_id)) != ERR_OK) {
		if (ret != ERR_NOMEM)
			ret = ERR_FORMAT;
		goto out;
	}
	ret = ERR_FORMAT;
	if (sshwire_get_string(&r, &p, &plen) != ERR_OK)
		goto out;
	if ((ret = parse_principals(p, plen, c)) != ERR_OK)
		goto out;
	ret = ERR_FORMAT;
	if (sshwire_get_u64(&r, &c->valid_after) != ERR_OK ||
	    sshwire_get_u64(&r, &c->valid_before) != ERR_OK ||
	    sshwire_get_string(&r, &p, &plen) != ERR_OK)
		goto out;
	if ((ret = parse_options(p, plen, &c->critical,
	    &c->ncritical)) != ERR_OK)
		goto out;
	ret = ERR_FORMAT;
	if (sshwire_get_string(&r, &p, &plen) != ERR_OK)
		goto out;
	if ((ret = parse_options(p, plen, &c->extensions,
	    &c->nextensions)) != ERR_OK)
		goto out;
	ret = ERR_FORMAT;
	if (sshwire_get_string(&r, &p, &plen) != ERR_OK || plen != 0)
		goto out;					/* reserved */
	if (sshwire_get_string(&r, &p, &plen) != ERR_OK)
		goto out;
	if ((ret = sshwire_parse_pub(p, plen, &c->ca)) != ERR_OK)
		goto out;
	ret = ERR_FORMAT;
	c->signed_len = len - r.len;

	/* The signature: string "ssh-ed25519", string sig, nothing more. */
	if (sshwire_get_string(&r, &p, &plen) != ERR_OK || r.len != 0)
		goto out;
	sr.p = p;
	sr.len = plen;
	if (sshwire_expect_cstring(&sr, SSHKEY_ED25519_NAME) != ERR_OK ||
	    sshwire_get_string(&sr, &p, &plen) != ERR_OK ||
	    plen != SSHKEY_ED25519_SIGLEN || sr.len != 0)
		goto out;
	memcpy(c->signature, p, plen);

	if ((c->blob = malloc(len)) == NULL ||
	    (c->comment = calloc(1, 1)) == NULL) {
		ret = ERR_NOMEM;
		goto out;
	}
	memcpy(c->blob, blob, len);
	c->blob_len = len;
	*out = c;
	c = NULL;
	ret = ERR_OK;
 out:
	sshcert_free(c);
	return ret;
}

int
sshcert_parse(const char *line, size_t len, struct sshcert **out)
{
	const char *sp, *b64, *cm = NULL;
	size_t type_len, b64_len, clen = 0, blob_len;
	struct sshcert *c = NULL;
	uint8_t *blob = NULL;
	char *comment;
	int ret = ERR_FORMAT;

	*out = NULL;
	if (len > SSHCERT_LINE_MAX)
		return ERR_TOOBIG;
	if (len > 0 && line[len - 1] == '\n')
		len--;
	if ((sp = memchr(line, ' ', len)) == NULL)
		return ERR_FORMAT;
	type_len = (size_t)(sp - line);
	b64 = sp + 1;
	b64_len = len - type_len - 1;
	if ((sp = memchr(b64, ' ', b64_len)) != NULL) {
		cm = sp + 1;
		clen = b64_len - (size_t)(sp - b64) - 1;
		b64_len = (size_t)(sp - b64);
		if (clen == 0 || clen > COMMENT_MAX || !printable(cm, clen, 1))
			return ERR_FORMAT;
	}
	if (b64_len == 0)
		return ERR_FORMAT;
	if ((blob = malloc(b64_len)) == NULL)
		return ERR_NOMEM;
	if (enc_base64_decode(b64, b64_len, blob, b64_len,
	    &blob_len) != ERR_OK)
		goto out;
	if ((ret = sshcert_parse_blob(blob, blob_len, &c)) != ERR_OK)
		goto out;
	/* The line's type must be the blob's. */
	ret = ERR_FORMAT;
	if (type_len != strlen(SSHCERT_TYPE_NAME) ||
	    memcmp(line, SSHCERT_TYPE_NAME, type_len) != 0)
		goto out;
	if ((comment = malloc(clen + 1)) == NULL) {
		ret = ERR_NOMEM;
		goto out;
	}
	if (clen > 0)
		memcpy(comment, cm, clen);
	comment[clen] = '\0';
	free(c->comment);
	c->comment = comment;
	*out = c;
	c = NULL;
	ret = ERR_OK;
 out:
	sshcert_free(c);
	free(blob);
	return ret;
}

int
sshcert_verify(const struct sshcert *c, const struct sshkey_pub *ca)
{
	if (sodium_init() < 0)
		return ERR_CRYPTO;
	if (sodium_memcmp(c->ca.pk, ca->pk, sizeof(ca->pk)) != 0)
		return ERR_SIGNATURE;
	if (crypto_sign_verify_detached(c->signature, c->blob, c->signed_len,
	    ca->pk) != 0)
		return ERR_SIGNATURE;
	return ERR_OK;
}
