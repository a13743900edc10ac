/*
 * fuzz.c - libFuzzer harness for entry_canonicalize(): a differential test
 * against the jansson canonicalizer it replaced (tests/common/entry_ref.h).
 *
 * Each input is canonicalized without a time to add and with one. Both
 * implementations must accept exactly the same inputs and write the same
 * bytes (except where nesting beyond 64 levels makes the old and the new
 * depth limits differ); entry.c's output must canonicalize to itself, and
 * its refusals must come with a one-line reason. Any other outcome aborts.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "audit/entry.h"
#include "../../common/entry_ref.h"
#include "common/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const nows[] = {
		NULL, "2024-05-06T07:08:09.123456Z",
	};

	for (size_t i = 0; i < sizeof(nows) / sizeof(nows[0]); i++) {
		const char *bad = entry_ref_differ((const char *)data, size,
		    nows[i], NULL);

		if (bad != NULL) {
			fprintf(stderr, "fuzz_entry: %s (now %s)\n", bad,
			    nows[i] != NULL ? nows[i] : "NULL");
			abort();
		}
	}
	return 0;
}
