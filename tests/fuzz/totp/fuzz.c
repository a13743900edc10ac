/*
 * fuzz.c - libFuzzer harness for totp_code_parse and totp_verify, which
 * take what a user typed at the PAM prompt.
 *
 * The parser accepts exactly six ASCII digits and copies them; verify
 * answers ERR_FORMAT exactly when the parser refuses, and otherwise one of
 * ERR_OK / ERR_DENIED / ERR_CONFLICT consistent with the codes of the
 * window computed independently here. Any other outcome aborts.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/totp.h"
#include "common/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct totp_seed *seed;

/* RFC 6238's seed, at a time whose window codes the corpus holds. */
#define NOW	((time_t)1111111111)
#define STEP	((uint64_t)37037037)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char code[TOTP_DIGITS + 1], win[3][TOTP_DIGITS + 1];
	const char *s = (const char *)data;
	uint64_t step, last;
	size_t i;
	int r, pr, k, match;

	if (seed == NULL && totp_seed_from_bytes_secret(
	    (const uint8_t *)"12345678901234567890", 20, &seed) != ERR_OK)
		abort();

	pr = totp_code_parse(s, size, code);
	if (pr == ERR_OK) {
		if (size != TOTP_DIGITS || memcmp(code, s, size) != 0 ||
		    code[TOTP_DIGITS] != '\0')
			abort();
		for (i = 0; i < size; i++)
			if (s[i] < '0' || s[i] > '9')
				abort();
	} else if (pr != ERR_FORMAT || code[0] != '\0')
		abort();

	for (k = 0; k < 3; k++)
		if (totp_code_generate(seed, NOW + (k - 1) * TOTP_PERIOD,
		    TOTP_DIGITS, win[k], sizeof(win[k])) != ERR_OK)
			abort();

	/* last_step below, inside and above the window. */
	for (last = STEP - 2; last <= STEP + 1; last++) {
		r = totp_verify(seed, s, size, NOW, last, &step);
		if (pr != ERR_OK) {
			if (r != ERR_FORMAT || step != 0)
				abort();
			continue;
		}
		/* The latest window step with these digits, 1-based. */
		match = 0;
		for (k = 2; k >= 0 && match == 0; k--)
			if (strcmp(win[k], code) == 0)
				match = k + 1;
		if (match == 0) {
			if (r != ERR_DENIED || step != 0)
				abort();
		} else if (STEP - 2 + (uint64_t)match > last) {
			if (r != ERR_OK || step != STEP - 2 + (uint64_t)match)
				abort();
		} else if (r != ERR_CONFLICT || step != 0)
			abort();
	}
	return 0;
}
