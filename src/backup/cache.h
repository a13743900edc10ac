/*
 * cache.h - the backup agent's local cache: what it has sent to the
 * vault, so that the next backup sends only what is new, and which files
 * it read last time, so that unchanged files are not read again. It lets
 * a host back up incrementally without ever reading anything back from
 * the vault (it could not decrypt it anyway).
 *
 * One SQLite file per host and vault key. Packs and their chunk IDs go in
 * only after the vault acknowledged the pack as durable; the file table
 * is updated after the vault acknowledged the snapshot. Losing the cache
 * costs a full upload, never data: the vault refuses a snapshot that
 * names a pack this host did not send, and `bulwark backup --no-cache`
 * starts afresh.
 *
 * A file record: path (bytes), inode, size, mtime and ctime in
 * nanoseconds, the file's chunk list as tree.h encodes chunks (32-byte
 * ID, then u32 length for data or u64 length for a hole), and its
 * extended attributes as the engine encodes them: changing one changes
 * the ctime, so an unchanged file's are taken from here, unread.
 */
#ifndef BULWARK_BACKUP_CACHE_H
#define BULWARK_BACKUP_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "backup/chunker.h"
#include "backup/pack.h"
#include "common/err.h"

struct bcache;

struct bcache_file {
	const char *path;
	size_t path_len;
	uint64_t ino, size;
	int64_t mtime_ns, ctime_ns;
	const uint8_t *chunks;		/* encoded chunk list */
	size_t chunks_len;
	int xattrs_known;		/* 0: not recorded (read them) */
	const uint8_t *xattrs;		/* encoded as the engine chooses */
	size_t xattrs_len;
};

/* Opens or creates the cache file (mode 0600). why gets a reason. */
int bcache_open(const char *path, struct bcache **out, char *why,
    size_t whylen) WUR;
void bcache_close(struct bcache *c);

/* Calls fn for every chunk the vault holds, with its pack's name. */
int bcache_each_chunk(struct bcache *c,
    int (*fn)(void *arg, const uint8_t id[CHUNK_ID_LEN], const char *pack),
    void *arg) WUR;

/* Records an acknowledged pack and its chunks, in one transaction. */
int bcache_add_pack(struct bcache *c, const char *name,
    const uint8_t (*ids)[CHUNK_ID_LEN], size_t n) WUR;

/* Calls fn for every file record of the last backup. */
int bcache_each_file(struct bcache *c,
    int (*fn)(void *arg, const struct bcache_file *f), void *arg) WUR;

/*
 * Updates the file records in one transaction: begin, then put (insert or
 * replace, by path) or del each record that changed, then commit. Only
 * what changed is written, so a backup where 1% of the files changed
 * writes 1% of the table.
 */
int bcache_files_begin(struct bcache *c) WUR;
int bcache_files_put(struct bcache *c, const struct bcache_file *f) WUR;
int bcache_files_del(struct bcache *c, const char *path, size_t len) WUR;
int bcache_files_commit(struct bcache *c) WUR;

#endif
