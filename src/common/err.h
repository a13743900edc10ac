/*
 * err.h - Bulwark's error codes.
 *
 * Every function that can fail returns int: ERR_OK (0) on success or one of
 * the negative codes below. err_str() gives a short lowercase description;
 * callers add the subject and what to do next.
 */
#ifndef BULWARK_ERR_H
#define BULWARK_ERR_H

#include <stddef.h>

#define WUR __attribute__((warn_unused_result))

enum {
	ERR_OK = 0,
	ERR_INTERNAL = -1,	/* a bug: an invariant did not hold */
	ERR_NOMEM = -2,		/* allocation failed */
	ERR_INVAL = -3,		/* bad argument from the caller */
	ERR_FORMAT = -4,	/* input is malformed */
	ERR_TOOBIG = -5,	/* input or buffer exceeds its limit */
	ERR_IO = -6,		/* read, write, fsync or rename failed (see errno) */
	ERR_NOTFOUND = -7,	/* no such file, key, origin or entry */
	ERR_EXISTS = -8,	/* already exists */
	ERR_SIGNATURE = -9,	/* a signature does not verify */
	ERR_PROOF = -10,	/* a Merkle proof does not verify */
	ERR_MISMATCH = -11,	/* data does not match its hash, root or name */
	ERR_CONFLICT = -12,	/* stale or inconsistent state (e.g. old size) */
	ERR_LOCKED = -13,	/* another process holds the lock */
	ERR_CRYPTO = -14,	/* the crypto library failed */
	ERR_NETWORK = -15,	/* a peer could not be reached or answered badly */
	ERR_UNSUPPORTED = -16,	/* valid but not supported (e.g. key type) */
	ERR_RANGE = -17,	/* index or size out of range */
	ERR_DENIED = -18,	/* permission denied */
};

/* A static description of code r; never NULL. */
const char *err_str(int r);

/*
 * Writes a formatted one-line reason to why (whylen bytes), the "why"
 * out-parameter many functions take; does nothing when why is NULL.
 */
void err_why(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
