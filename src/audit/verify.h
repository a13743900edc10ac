/*
 * verify.h - full verification of a published log directory.
 *
 * Reads DIR/checkpoint and every tile and entry bundle the checkpoint
 * covers, recomputes every hash from the entries, and says where the
 * published files disagree with each other or with the signatures.
 * It needs no private state: anyone with a copy of the directory and the
 * log's verifier key can run it.
 */
#ifndef BULWARK_AUDIT_VERIFY_H
#define BULWARK_AUDIT_VERIFY_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

struct audit_verify_opts {
	const char *log_vkey;			/* required */
	const char *const *witness_vkeys;	/* cosignatures required */
	size_t nwitness;
	/*
	 * Signed checkpoints seen earlier (by this verifier, or kept by a
	 * witness): the log must still contain each of them.
	 */
	const char *const *older;
	const size_t *older_lens;
	size_t nolder;
	/* Called every so often with entries checked so far. */
	void (*progress)(void *ctx, uint64_t done, uint64_t total);
	void *progress_ctx;
};

struct audit_verify_result {
	uint64_t size;		/* entries the checkpoint covers */
	size_t nproblems;
	/* One line per problem found (the first few), NUL-terminated. */
	char report[4096];
};

/*
 * ERR_OK when everything verifies; otherwise the first kind of failure
 * found (ERR_SIGNATURE, ERR_MISMATCH, ERR_CONFLICT for truncation or
 * rollback, ERR_NOTFOUND for missing files, ERR_FORMAT) with every problem
 * described in res->report.
 */
int audit_verify(const char *dir, const struct audit_verify_opts *o,
    struct audit_verify_result *res) WUR;

#endif
