/*
 * fuzz.c - libFuzzer harness for the SSH key and certificate parsers:
 * sshkey_pub_parse (pinned host keys, users' keys), sshcert_parse and
 * sshcert_parse_blob, and sshkey_private_parse_secret.
 *
 * Every input goes to all four. Errors must be the documented ones and
 * leave the outputs empty; what parses must format back to the same bytes
 * (public lines, certificate blobs) or to a key that parses to the same
 * key (private keys), and a certificate's signature check must answer
 * ERR_OK or ERR_SIGNATURE. Any other outcome aborts.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/sshcert.h"
#include "auth/sshkey.h"
#include "common/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
documented(int r)
{
	return r == ERR_FORMAT || r == ERR_TOOBIG || r == ERR_UNSUPPORTED;
}

static void
check_pub(const char *s, size_t size)
{
	struct sshkey_pub pk;
	char *comment = NULL, *line = NULL;
	size_t len = size, n;
	int r;

	memset(&pk, 0, sizeof(pk));
	r = sshkey_pub_parse(s, size, &pk, &comment);
	if (r != ERR_OK) {
		if (!documented(r) || comment != NULL)
			abort();
		return;
	}
	if (comment == NULL || sshkey_pub_format(&pk, comment, &line) != ERR_OK)
		abort();
	/* format ends with one "\n"; the input may or may not. */
	n = strlen(line);
	if (len > 0 && s[len - 1] == '\n')
		len--;
	if (n != len + 1 || memcmp(line, s, len) != 0)
		abort();
	free(line);
	free(comment);
}

static void
check_cert(const struct sshcert *c, const uint8_t *blob, size_t len)
{
	struct sshkey_pub other;
	struct sshcert *c2 = NULL;
	int r;

	if (c->blob_len != len || memcmp(c->blob, blob, len) != 0 ||
	    c->signed_len >= len || c->nonce_len < 16 ||
	    (c->type != SSHCERT_TYPE_USER && c->type != SSHCERT_TYPE_HOST))
		abort();
	r = sshcert_verify(c, &c->ca);
	if (r != ERR_OK && r != ERR_SIGNATURE)
		abort();
	memset(&other, 0x5a, sizeof(other));
	if (sshcert_verify(c, &other) != ERR_SIGNATURE)
		abort();
	/* The copy it kept parses to the same again. */
	if (sshcert_parse_blob(c->blob, c->blob_len, &c2) != ERR_OK ||
	    c2->serial != c->serial || c2->nprincipals != c->nprincipals ||
	    c2->ncritical != c->ncritical ||
	    c2->nextensions != c->nextensions)
		abort();
	sshcert_free(c2);
}

static void
check_private(const char *s, size_t size)
{
	struct sshkey *k = NULL, *k2 = NULL;
	struct sshkey_pub p1, p2;
	char *text = NULL;
	size_t len = 0;
	int r;

	r = sshkey_private_parse_secret(s, size, &k);
	if (r != ERR_OK) {
		if (!documented(r) || k != NULL)
			abort();
		return;
	}
	if (sshkey_private_format_secret(k, &text, &len) != ERR_OK ||
	    sshkey_private_parse_secret(text, len, &k2) != ERR_OK)
		abort();
	sshkey_public(k, &p1);
	sshkey_public(k2, &p2);
	if (memcmp(p1.pk, p2.pk, sizeof(p1.pk)) != 0 ||
	    strcmp(sshkey_comment(k), sshkey_comment(k2)) != 0)
		abort();
	sshkey_text_free_secret(text, len);
	sshkey_free(k2);
	sshkey_free(k);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sshcert *c = NULL;
	int r;

	check_pub((const char *)data, size);

	r = sshcert_parse((const char *)data, size, &c);
	if (r != ERR_OK && (!documented(r) || c != NULL))
		abort();
	if (r == ERR_OK) {
		if (c->comment == NULL)
			abort();
		check_cert(c, c->blob, c->blob_len);
		sshcert_free(c);
		c = NULL;
	}

	r = sshcert_parse_blob(data, size, &c);
	if (r != ERR_OK && (!documented(r) || c != NULL))
		abort();
	if (r == ERR_OK) {
		check_cert(c, data, size);
		sshcert_free(c);
	}

	check_private((const char *)data, size);
	return 0;
}
