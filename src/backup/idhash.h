/*
 * idhash.h - the chunk IDs of a batch of chunks, on two threads.
 *
 * The backup's walk reads a file, cuts it and names every chunk with
 * HMAC-SHA-256 (chunk_id()) before it can tell whether the chunk is new.
 * When little is new, as in a nightly backup where one large file
 * changed, the two workers have nothing to compress and the walk runs
 * on one core, hashing most of the time. An idhash is one helper thread
 * that takes chunks of a batch while the caller takes the others: the
 * batch's IDs are the same as chunk_id() gives one by one, in the same
 * order, only sooner.
 *
 * One caller at a time per idhash. The key stays the caller's: it must
 * outlive the idhash, which keeps a pointer to it.
 */
#ifndef BULWARK_BACKUP_IDHASH_H
#define BULWARK_BACKUP_IDHASH_H

#include <stddef.h>
#include <stdint.h>

#include "backup/chunker.h"
#include "common/err.h"

struct idhash;

/* Starts the helper thread. ERR_NOMEM if it cannot be made. */
int idhash_new(const uint8_t key[CHUNK_ID_KEY_LEN], struct idhash **out)
    WUR;

/*
 * ids[i] = chunk_id(key, p[i], n[i]) for i < count; returns when all are
 * done. A batch of one is hashed by the caller alone.
 */
void idhash_run(struct idhash *h, const uint8_t *const *p, const size_t *n,
    size_t count, uint8_t (*ids)[CHUNK_ID_LEN]);

/* Stops and joins the helper. NULL is fine. */
void idhash_free(struct idhash *h);

#endif
