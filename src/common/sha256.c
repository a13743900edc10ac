#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <openssl/sha.h>
#include <openssl/crypto.h>

#include "common/sha256.h"
#include "common/banned.h"

_Static_assert(sizeof(struct sha256_ctx) >= sizeof(SHA256_CTX),
    "struct sha256_ctx too small for SHA256_CTX");

void
sha256_init(struct sha256_ctx *c)
{
	SHA256_Init((SHA256_CTX *)c);
}

void
sha256_update(struct sha256_ctx *c, const void *data, size_t len)
{
	SHA256_Update((SHA256_CTX *)c, data, len);
}

void
sha256_final(struct sha256_ctx *c, uint8_t out[SHA256_LEN])
{
	SHA256_Final(out, (SHA256_CTX *)c);
	OPENSSL_cleanse(c, sizeof(*c));
}

void
sha256(const void *data, size_t len, uint8_t out[SHA256_LEN])
{
	SHA256_CTX c;

	/* SHA256() goes through EVP in OpenSSL 3, several times slower. */
	SHA256_Init(&c);
	SHA256_Update(&c, data, len);
	SHA256_Final(out, &c);
}
