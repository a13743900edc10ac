/*
 * log.h - the audit log: an append-only, verifiable Merkle log on disk.
 *
 * Layout of a log directory DIR (see tiles.h for the public part):
 *
 *   DIR/checkpoint, DIR/tile/...   published: serve these with any static
 *                                  file server
 *   DIR/log.pub                    the log's verifier key (public)
 *   DIR/private/                   mode 0700, never published:
 *     log.key                      the checkpoint signing key (0600)
 *     journal                      write-ahead journal (see below)
 *     witnesses                    "URL VKEY" per line
 *     lock                         flock: one writer at a time
 *
 * Durability. An append batch is encoded as one journal record holding the
 * entries and the checkpoint signed over the new tree; the record is
 * written and fdatasync'ed once, and only then are the tiles and the
 * checkpoint published (renamed into place without their own fsync). So a
 * batch costs one fsync and one signature, the signed checkpoint is on disk
 * before anyone can see it, and a crash at any point loses only batches
 * never acknowledged: audit_log_open() replays the journal and republishes
 * whatever tiles a crash cut short. When the journal outgrows its limit,
 * syncfs() makes the published tiles durable and a fresh journal starts at
 * the current size.
 *
 * The log never signs a checkpoint that does not extend the last one it
 * signed: on open it recomputes the root at the last signed size from disk
 * and refuses to go on if it differs.
 */
#ifndef BULWARK_AUDIT_LOG_H
#define BULWARK_AUDIT_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "audit/merkle.h"
#include "common/err.h"

/* Bounds one batch, and so the memory an append run holds. */
#define AUDIT_LOG_MAX_BATCH 65536
#define AUDIT_LOG_MAX_BATCH_BYTES (32u * 1024 * 1024)

struct audit_log;

/*
 * Creates a log in DIR (made if missing; must hold no log yet) for origin,
 * with a new signing key, and publishes the checkpoint of the empty tree.
 * *vkey (malloc'd) is the verifier key to hand to verifiers and witnesses.
 */
int audit_log_create(const char *dir, const char *origin, char **vkey) WUR;

/*
 * Opens DIR for appending: takes the writer lock (ERR_LOCKED when another
 * process holds it), replays the journal and republishes. why (may be
 * NULL) receives a one-line reason on failure.
 */
int audit_log_open(const char *dir, struct audit_log **out, char *why,
    size_t whylen) WUR;
void audit_log_close(struct audit_log *log);

uint64_t audit_log_size(const struct audit_log *log);
const char *audit_log_origin(const struct audit_log *log);
/* The latest signed checkpoint note (without cosignatures). */
const char *audit_log_checkpoint(const struct audit_log *log, size_t *len);

/*
 * Appends n entries (already canonical, each at most ENTRY_MAX_LEN bytes)
 * as one batch and makes them durable before returning. *first receives
 * the index of the first. On failure nothing of the batch is acknowledged
 * and the log must be closed and reopened (which recovers it).
 */
int audit_log_append(struct audit_log *log, const char *const *entries,
    const size_t *lens, size_t n, uint64_t *first) WUR;

/*
 * Sends the latest checkpoint to every configured witness, with a
 * consistency proof from the size each last cosigned, and publishes the
 * checkpoint with the cosignatures that came back. *got counts them;
 * failures of single witnesses are reported through warn (may be NULL)
 * and do not fail the call.
 */
int audit_log_witness(struct audit_log *log, size_t *got,
    void (*warn)(const char *msg)) WUR;

/* Adds a witness (its add-checkpoint base URL and cosignature key). */
int audit_log_witness_add(const char *dir, const char *url,
    const char *vkey) WUR;

/* Reads DIR/log.pub (malloc'd). */
int audit_log_vkey(const char *dir, char **vkey) WUR;

#endif
