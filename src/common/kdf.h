/*
 * kdf.h - Argon2id (RFC 9106), the passphrase hash of the admin key
 * export.
 *
 * The reference implementation (libargon2, the library cryptsetup uses
 * for LUKS2) computes it, with its work area in memory we map ourselves:
 * 2 MiB aligned and marked for transparent huge pages, so that filling
 * 256 MiB takes 128 page faults instead of 65,536. On a virtual machine a
 * fault costs 20-25 microseconds, and the faults were most of the
 * second that libsodium's crypto_pwhash spent on the same parameters.
 * The result is the same function: with one lane and no secret it equals
 * crypto_pwhash(..., crypto_pwhash_ALG_ARGON2ID13) with opslimit t and
 * memlimit m_kib * 1024 (tests/unit/common/test_kdf.c checks both).
 *
 * The work area is wiped before it is unmapped and kept out of core
 * dumps.
 */
#ifndef BULWARK_COMMON_KDF_H
#define BULWARK_COMMON_KDF_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define KDF_SALT_MIN	8
#define KDF_OUT_MIN	4

struct kdf_params {
	uint32_t t;		/* passes, >= 1 */
	uint32_t m_kib;		/* memory in KiB, >= 8 per lane */
	uint32_t lanes;		/* >= 1; a thread each, up to the CPUs */
	const uint8_t *secret;	/* optional key (RFC 9106's K) */
	size_t secretlen;
	const uint8_t *ad;	/* optional associated data (X) */
	size_t adlen;
};

/*
 * Derives outlen bytes from pass and salt. ERR_INVAL for parameters
 * RFC 9106 does not allow (salt under 8 bytes, output under 4, ...),
 * ERR_NOMEM when the work area cannot be had, ERR_CRYPTO otherwise.
 */
int kdf_argon2id(uint8_t *out, size_t outlen, const void *pass,
    size_t passlen, const uint8_t *salt, size_t saltlen,
    const struct kdf_params *p) WUR;

#endif
