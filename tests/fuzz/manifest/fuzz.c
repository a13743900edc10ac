/*
 * fuzz.c - libFuzzer harness for snapshot manifests (backup/manifest.h).
 *
 * The harness holds a fixed host key pair (crypto_sign_seed_keypair of
 * FUZZ_SEED; gen_corpus.c signs the seed corpus with the same one). Every
 * input goes to both parsers:
 *
 *   - manifest_parse_unverified: mutated inputs almost never carry a good
 *     signature, so this is how the fuzzer reaches the body parser. When
 *     it accepts, re-encoding with the fixed key must give back exactly
 *     the input's body (one encoding per manifest), and the re-encoded
 *     bytes must parse and verify.
 *   - manifest_parse_verify with the fixed public key: when it accepts,
 *     the unverified parse must have accepted too, and re-encoding must
 *     give back the input byte for byte (Ed25519 is deterministic).
 *
 * Refusals are fine; only a broken invariant aborts.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "backup/manifest.h"
#include "common/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_SEED "bulwark manifest fuzz host seed!"	/* 32 bytes */
_Static_assert(sizeof(FUZZ_SEED) == 33, "seed length");

static uint8_t fuzz_pk[MANIFEST_PK_LEN], fuzz_sk[MANIFEST_SK_LEN];
static int ready;

static void
init_once(void)
{
	if (ready)
		return;
	if (sodium_init() < 0 || crypto_sign_seed_keypair(fuzz_pk, fuzz_sk,
	    (const uint8_t *)FUZZ_SEED) != 0)
		abort();
	ready = 1;
}

/* Re-encodes m with the fixed key; the result must parse and verify. */
static void
reencode(const struct manifest *m, uint8_t **out, size_t *len)
{
	struct manifest *again = NULL;

	if (manifest_encode_sign(m, fuzz_sk, out, len) != ERR_OK)
		abort();
	if (manifest_parse_verify(*out, *len, fuzz_pk, &again) != ERR_OK)
		abort();
	manifest_free(again);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct manifest *u = NULL, *v = NULL;
	uint8_t *enc = NULL;
	size_t len = 0;
	int ru, rv;

	init_once();
	ru = manifest_parse_unverified(data, size, &u);
	if ((ru == ERR_OK) != (u != NULL))
		abort();
	if (u != NULL) {
		reencode(u, &enc, &len);
		if (len != size || memcmp(enc, data, size - MANIFEST_SIG_LEN) != 0)
			abort();
		free(enc);
		enc = NULL;
	}
	rv = manifest_parse_verify(data, size, fuzz_pk, &v);
	if ((rv == ERR_OK) != (v != NULL))
		abort();
	if (v != NULL) {
		if (u == NULL)
			abort();
		reencode(v, &enc, &len);
		if (len != size || memcmp(enc, data, size) != 0)
			abort();
		free(enc);
	} else if (u != NULL && rv != ERR_SIGNATURE && rv != ERR_NOMEM) {
		/* A body the parser takes can only fail on its signature. */
		abort();
	}
	manifest_free(u);
	manifest_free(v);
	return 0;
}
