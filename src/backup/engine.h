/*
 * engine.h - a backup run: walk the paths, cut files into chunks, send
 * what the vault does not have in encrypted packs, and end with a signed
 * snapshot manifest.
 *
 * The pipeline, on two cores:
 *   main thread     walks the trees, reads files (or takes unchanged
 *                   files' chunk lists from the cache), cuts chunks
 *                   (chunker.h), names them (keyed HMAC-SHA-256) and drops the
 *                   ones already sent; builds the tree nodes
 *   two workers     compress and encrypt new chunks into packs, one pack
 *                   writer each (pack.h)
 *   sender          sends finished packs to the vault and, on each
 *                   acknowledgement, records the pack in the cache
 * Queues between them are bounded, so memory stays at about two 16 MiB
 * packs in the making, one being sent, three 4 MiB chunk buffers and the
 * 8 MiB read buffer.
 *
 * The engine speaks the receive protocol (vault/proto.h) on two
 * descriptors that the caller connects: to a local `bulwark vault
 * receive` or to ssh. The run key exists only during backup_run().
 */
#ifndef BULWARK_BACKUP_ENGINE_H
#define BULWARK_BACKUP_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "backup/keys.h"
#include "backup/manifest.h"
#include "backup/tree.h"
#include "common/err.h"

struct backup_opts {
	const struct agent_config *cfg;
	const char *const *paths;	/* absolute or relative; resolved */
	size_t npaths;
	const char *stdin_name;		/* back stdin up as this file */
	const char *const *excludes;	/* fnmatch on the path and the name */
	size_t nexcludes;
	const char *const *tags;
	size_t ntags;
	int one_file_system;
	int zstd_level;			/* 0: PACK_ZSTD_DEFAULT */
	const char *cache_path;		/* NULL: no cache */
	int progress;			/* print progress to stderr */
	int to_vault;			/* descriptor the frames go to */
	int from_vault;			/* descriptor the replies come from */
};

struct backup_stats {
	uint64_t files, dirs, others;
	uint64_t files_unchanged;	/* taken from the cache unread */
	uint64_t bytes_read;		/* file bytes read this run */
	uint64_t bytes_total;		/* size of everything backed up */
	uint64_t chunks_new, bytes_new;	/* chunks sent, their plain size */
	uint64_t packs, bytes_sent;	/* packs sent, their size */
	uint64_t warnings;		/* files that could not be read */
	uint64_t received;		/* the vault's receive time */
	char snapshot[MANIFEST_ID_HEX_LEN + 1];
};

/*
 * Runs one backup. ERR_OK when the vault acknowledged the snapshot (some
 * files may still have been unreadable: st->warnings counts them, each
 * was reported on stderr). why gets a one-line reason on failure.
 */
int backup_run(const struct backup_opts *o, struct backup_stats *st,
    char *why, size_t whylen) WUR;

/*
 * Chunk lists as the cache stores them (tree.h's chunk encoding): encode
 * into a new buffer, decode into a new array.
 */
int backup_chunks_encode(const struct tree_chunk *c, size_t n,
    uint8_t **out, size_t *len) WUR;
int backup_chunks_decode(const uint8_t *p, size_t len,
    struct tree_chunk **out, size_t *n) WUR;

#endif
