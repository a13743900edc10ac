/*
 * sha256.h - SHA-256 through OpenSSL's low-level interface.
 *
 * The low-level SHA256_* calls reach the SHA-NI block function directly;
 * EVP's per-call set-up costs more than hashing a 65-byte Merkle node, and
 * the log hashes millions of those when it verifies.
 */
#ifndef BULWARK_COMMON_SHA256_H
#define BULWARK_COMMON_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN 32

/* Big enough for OpenSSL's SHA256_CTX; checked when sha256.c compiles. */
struct sha256_ctx {
	uint64_t opaque[16];
};

void sha256_init(struct sha256_ctx *c);
void sha256_update(struct sha256_ctx *c, const void *data, size_t len);
/* Writes the digest and wipes the context. */
void sha256_final(struct sha256_ctx *c, uint8_t out[SHA256_LEN]);
void sha256(const void *data, size_t len, uint8_t out[SHA256_LEN]);

#endif
