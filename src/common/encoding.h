/*
 * encoding.h - strict parsers for the text encodings of signed notes,
 * checkpoints and witness requests, shared so that every parser of
 * untrusted input refuses the same non-canonical spellings.
 */
#ifndef BULWARK_COMMON_ENCODING_H
#define BULWARK_COMMON_ENCODING_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

/*
 * Decimal without sign or leading zeros ("0" alone is fine), fitting in
 * 64 bits. ERR_FORMAT otherwise.
 */
int enc_u64_parse(const char *s, size_t len, uint64_t *out) WUR;

/*
 * Standard padded base64 (RFC 4648 section 4) of s[0..len), decoded into
 * out (room for outmax bytes); *outlen gets the decoded length. Refuses
 * (ERR_FORMAT) a length not a multiple of 4, any byte outside the
 * alphabet, stray bits in the last digit and trailing data. libsodium
 * 1.0.18 alone would take any byte >= 0x80 for a digit.
 */
int enc_base64_decode(const char *s, size_t len, uint8_t *out, size_t outmax,
    size_t *outlen) WUR;

/*
 * Standard padded base64 of p[0..n) in a new NUL-terminated string
 * (malloc'd; NULL when out of memory). Callers wipe it when it holds a
 * secret.
 */
char *enc_base64_encode(const uint8_t *p, size_t n);

#endif
