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
 *     stage/<N>                    full bundles of a direct batch, made
 *                                  durable before they are renamed to
 *                                  tile/entries/<N>
 *
 * Durability. Every append batch costs one signature and writes one
 * journal record holding the checkpoint signed over the new tree. What
 * else the record holds depends on the batch:
 *
 *  - A small batch (or one that fills no bundle) journals all its entries;
 *    the record is written and fdatasync'ed, and only the journal is
 *    synced, so the latency of one entry is one fdatasync.
 *  - A large batch that fills bundles goes direct: each full bundle is
 *    written to private/stage/<N> as it fills, syncfs() makes them
 *    durable, and only then is the record, holding just the entries past
 *    the last full bundle, written and fdatasync'ed (two syncs, the second
 *    of a few KiB). So the bulk of the bytes reaches the disk once, not
 *    once in the journal and again in the bundles, and a record on disk
 *    always has its bundles on disk.
 *
 * A batch may be acknowledged as soon as that sync returns
 * (audit_log_append_durable): an acknowledgement means durable, not yet
 * published. Only then (audit_log_publish) are the stage files renamed into place and the tiles, the partial
 * bundle and, last, the checkpoint published (temp file + rename, no
 * fsync). Nothing is visible before it is durable: a bundle or tile of a
 * batch never acknowledged is never published, and since the checkpoint is
 * published after the tiles it covers, a reader that fetches the
 * checkpoint finds every tile it needs. The signed checkpoint is on disk
 * before anyone can see it. A crash at any point loses only batches never
 * acknowledged: audit_log_open() replays the journal, reading the bundles
 * of direct batches back (from stage/ when a crash came before the
 * rename), checks every batch against its checkpoint, and republishes
 * whatever a crash cut short. When the journal outgrows its byte limit or
 * covers more than about a million entries, syncfs() makes the published
 * tiles durable and a fresh journal starts at the current size.
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
 * audit_log_append in two steps, so that a caller can acknowledge a batch
 * between them: _durable returns once the batch is durable (publishing
 * any batch still pending first), audit_log_publish then publishes its
 * tiles and checkpoint (a no-op when nothing is pending). A failure of
 * either leaves the log to be closed and reopened; a batch _durable
 * accepted stays acknowledged, and reopening publishes it.
 */
int audit_log_append_durable(struct audit_log *log, const char *const *entries,
    const size_t *lens, size_t n, uint64_t *first) WUR;
int audit_log_publish(struct audit_log *log) WUR;

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
