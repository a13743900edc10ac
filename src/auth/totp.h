/*
 * totp.h - the second factor: RFC 6238 time-based one-time passwords.
 *
 * HMAC-SHA-1, 6 digits, 30 s steps counted from the Unix epoch, codes of
 * the step before and after the current one accepted (clock skew), as every
 * authenticator app and 'oathtool --totp' produce them. The arithmetic is
 * liboath's; this module adds what liboath leaves to its caller: seeds in
 * locked memory, strict parsing of what the user typed, constant-time
 * comparison and replay refusal.
 *
 * Seeds are secrets. A struct totp_seed lives in one sodium_malloc block
 * (guard pages, mlock'd, wiped by totp_seed_free). Every function that
 * returns a seed or a spelling of it ends in _secret; strings it returns
 * must be released with totp_str_free_secret(), which wipes them first.
 *
 * Replay refusal needs one integer of state per user: the time step of the
 * last code accepted for that user (0 for a user who has never logged in).
 * The caller (bulwarkd) loads it, calls totp_verify, and on ERR_OK stores
 * the step it got back, in the same transaction that records the login.
 * Rate limits and lock-outs also belong to the caller; totp_verify gives
 * it a distinct answer for each kind of failure so that it can count and
 * audit them.
 *
 * All functions are thread-safe; they initialise liboath and libsodium
 * themselves on first use.
 */
#ifndef BULWARK_AUTH_TOTP_H
#define BULWARK_AUTH_TOTP_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/err.h"

/* Seed bytes from randombytes_buf (RFC 4226 R6 recommends 160 bits). */
#define TOTP_SEED_LEN		20
#define TOTP_SEED_MAX_LEN	64	/* longest seed taken from elsewhere */
#define TOTP_DIGITS		6
#define TOTP_PERIOD		30	/* seconds per time step */
#define TOTP_WINDOW		1	/* steps accepted either side of now */
/* Unpadded base32 of TOTP_SEED_LEN bytes, without the NUL. */
#define TOTP_SEED_BASE32_LEN	32
/* Room for a code of up to 8 digits and its NUL. */
#define TOTP_CODE_BUFSZ		9

struct totp_seed;

/*
 * A fresh random seed of TOTP_SEED_LEN bytes. *seedp gets it on ERR_OK
 * (free with totp_seed_free); NULL otherwise. ERR_NOMEM, ERR_CRYPTO.
 */
int totp_seed_generate_secret(struct totp_seed **seedp) WUR;

/*
 * A seed holding a copy of key[0..len), 1 <= len <= TOTP_SEED_MAX_LEN
 * (ERR_INVAL otherwise). The caller keeps, and wipes, key.
 */
int totp_seed_from_bytes_secret(const uint8_t *key, size_t len,
    struct totp_seed **seedp) WUR;

/*
 * A seed from its base32 spelling b32[0..len) as it is stored or was
 * typed in (RFC 4648 alphabet; liboath also takes lower case, spaces and
 * '=' padding). ERR_FORMAT if it is not base32, ERR_INVAL if it decodes to
 * nothing or more than TOTP_SEED_MAX_LEN bytes.
 */
int totp_seed_from_base32_secret(const char *b32, size_t len,
    struct totp_seed **seedp) WUR;

/*
 * The seed in unpadded upper-case base32, the spelling of the otpauth URI
 * and of 'oathtool -b'. *b32p is malloc'd and NUL-terminated on ERR_OK
 * (release with totp_str_free_secret), NULL otherwise.
 */
int totp_seed_base32_secret(const struct totp_seed *seed, char **b32p) WUR;

/* Wipes and frees seed. NULL is a no-op. */
void totp_seed_free(struct totp_seed *seed);

/* Wipes (up to its NUL) and frees s. NULL is a no-op. */
void totp_str_free_secret(char *s);

/*
 * The time step of time now: now / TOTP_PERIOD. ERR_RANGE for a time
 * before the epoch or so far ahead that the window would overflow.
 */
int totp_step_at(time_t now, uint64_t *stepp) WUR;

/*
 * Checks what a user typed, s[0..len): exactly TOTP_DIGITS ASCII digits,
 * nothing before or after (no spaces, sign or NUL). On ERR_OK the code is
 * copied into code[] with a NUL; on ERR_FORMAT code[] is empty. Untrusted
 * input: fuzzed by tests/fuzz/totp.
 */
int totp_code_parse(const char *s, size_t len,
    char code[TOTP_DIGITS + 1]) WUR;

/*
 * The code of the given digits (6, 7 or 8; ERR_INVAL otherwise) for seed
 * at time now, into out (outsz >= digits + 1, ERR_INVAL otherwise). For
 * tests, demos and known-answer checks; logins go through totp_verify.
 * ERR_RANGE as totp_step_at, ERR_CRYPTO if liboath fails.
 */
int totp_code_generate(const struct totp_seed *seed, time_t now,
    unsigned digits, char *out, size_t outsz) WUR;

/*
 * Verifies the code s[0..len) a user typed, at time now, against seed,
 * given last_step, the step of the last code accepted for this user (0 if
 * none). The code of each step in now's step +-TOTP_WINDOW is computed and
 * compared in constant time; all of them are compared, whatever matches.
 *
 *   ERR_OK        accepted. *stepp gets the step it matched (the latest
 *                 one, should it match several), always > last_step; the
 *                 caller must store it as the new last_step before it
 *                 lets the user in, so that the code is never taken again.
 *   ERR_DENIED    well-formed but wrong: no step in the window matches.
 *   ERR_CONFLICT  replay: the code matches, but only steps <= last_step,
 *                 i.e. it (or a later code) has already been used.
 *   ERR_FORMAT    malformed: not exactly TOTP_DIGITS digits (see
 *                 totp_code_parse). Nothing was computed.
 *   ERR_RANGE     now is before the epoch or absurdly far ahead.
 *   ERR_INVAL     NULL seed, s or stepp.
 *   ERR_CRYPTO    liboath failed.
 *
 * *stepp is 0 unless the answer is ERR_OK. Callers must treat every
 * answer but ERR_OK as a refusal; the distinctions are for counting and
 * the audit log, and must not be shown to the user.
 */
int totp_verify(const struct totp_seed *seed, const char *s, size_t len,
    time_t now, uint64_t last_step, uint64_t *stepp) WUR;

#endif
