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
 * published. Only then (audit_log_publish) are the stage files renamed
 * into place and the tiles, the partial bundle and, last, the checkpoint
 * published (temp file + rename, no fsync). Nothing is visible before it is durable: a bundle or tile of a
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
 *
 * Pipelining. The work of a batch splits into prepare (hash the leaves,
 * update the tree and its right edge, write the stage files, sign, build
 * the record: CPU and page-cache writes) and commit (syncfs, record write,
 * fdatasync: waiting on the disk), then acknowledge and publish. A caller
 * may prepare batch k+1 on one thread while another commits, acknowledges
 * and publishes batch k (audit_log_prepare, _commit, _publish), so that
 * the CPU work of one batch overlaps the syncs of the one before. So the
 * checkpoint of k+1 is signed before batch k is durable. That is safe
 * because a signature is released only through the disk, and the disk
 * keeps batches in order:
 *
 *  - Records are written by commit alone, in batch order, each only after
 *    the fdatasync of the one before returned. So no record of k+1 is on
 *    disk, even in the page cache, unless record k is durable; and replay
 *    applies records in order and refuses (does not skip) a damaged
 *    record that has records after it. Recovery can never keep batch k+1
 *    and drop batch k.
 *  - The checkpoint of a batch is published (and returned by
 *    audit_log_checkpoint, and handed to witnesses) only after its record
 *    is durable, and batches are published in order.
 *  - If batch k fails or the process dies before k is durable, the
 *    signature over k+1 has been in memory only (its stage files, named by
 *    bundle index past k's, hold no checkpoint and are removed on open):
 *    it is lost with the process, as the signature of a batch whose own
 *    sync fails always was. The log may later sign another tree of that
 *    size, but no one can hold both checkpoints. Every checkpoint anyone
 *    can see is one that replay restores or extends.
 *  - A journal rotation (a new header at the published size) happens only
 *    in publish, on the commit side, when every durable batch is published
 *    and no commit is under way; a batch prepared meanwhile starts at that
 *    size, so its record fits the new journal.
 *
 * Between prepare and publish a batch keeps its own copy of what commit
 * and publish need (record, full tiles, the partial tiles and bundle it
 * changed, its signed checkpoint), so the two sides share no mutable
 * state but the counters that hand batches over. At most
 * AUDIT_LOG_INFLIGHT batches are in flight, which bounds the memory. A
 * publish that covers several durable batches skips what the later ones
 * supersede (the earlier checkpoints and partial tiles).
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
/* Batches between audit_log_prepare and audit_log_publish, at most. */
#define AUDIT_LOG_INFLIGHT 4

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

/* The size of the tree as prepared (durable and published once every
 * batch prepared has been committed and published). */
uint64_t audit_log_size(const struct audit_log *log);
const char *audit_log_origin(const struct audit_log *log);
/* The latest published checkpoint note (without cosignatures). */
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

/*
 * The same in three steps, for a pipeline of two threads (see "Pipelining"
 * above): audit_log_prepare adds a batch to the tree in memory, stages its
 * full bundles, signs its checkpoint and builds its journal record, but
 * makes nothing durable; *first receives the index of its first entry.
 * audit_log_commit makes the oldest prepared batch durable; then it may be
 * acknowledged. audit_log_publish publishes every durable batch not yet
 * published (a no-op when there is none).
 *
 * One thread may call audit_log_prepare while another calls commit and
 * publish, with at most AUDIT_LOG_INFLIGHT batches between prepare and
 * publish: prepare fails with ERR_INTERNAL when that many are. Calls on
 * the same side must not
 * overlap. A failure of any of them leaves the log to be closed and
 * reopened; every later call fails with ERR_CONFLICT.
 */
int audit_log_prepare(struct audit_log *log, const char *const *entries,
    const size_t *lens, size_t n, uint64_t *first) WUR;
int audit_log_commit(struct audit_log *log) WUR;
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
