/*
 * tiles.h - the C2SP tlog-tiles layout of a log directory.
 *
 *   DIR/checkpoint                      latest signed checkpoint
 *   DIR/tile/<L>/<N>[.p/<W>]            hash tiles: W (<= 256) hashes of
 *                                       tree level 8L, nodes N*256 ...
 *   DIR/tile/entries/<N>[.p/<W>]        entry bundles: W entries, each a
 *                                       big-endian uint16 length + bytes
 *
 * N is written in groups of three digits, all but the last prefixed with
 * 'x' ("x001/x234/067"). A full tile has 256 members; a partial one, for
 * the right edge of a tree, has the .p/<W> suffix.
 *
 * The reader (struct tile_reader) serves perfect-subtree hashes to the
 * Merkle code for one tree size, caching the last tile it read per level.
 */
#ifndef BULWARK_AUDIT_TILES_H
#define BULWARK_AUDIT_TILES_H

#include <stddef.h>
#include <stdint.h>

#include "audit/merkle.h"
#include "common/err.h"

#define TILE_HEIGHT 8
#define TILE_WIDTH 256
#define TILE_MAX_LEVELS 8	/* 8 levels of 8 cover 2^64 leaves */
#define TILE_ENTRIES_LEVEL (-1)
/* A bundle holds at most 256 entries of at most 65535 bytes. */
#define TILE_MAX_BUNDLE (TILE_WIDTH * (2 + 65535))

/*
 * Relative path of tile (level, index) of width w under DIR ("tile/0/x001/
 * 234" or ".../234.p/17"); level TILE_ENTRIES_LEVEL names the entry bundle.
 * w == TILE_WIDTH names the full tile.
 */
int tile_path(char *buf, size_t len, int level, uint64_t index, unsigned w) WUR;

/*
 * Width of tile (level, index) in a tree of size leaves: TILE_WIDTH for a
 * full tile, less for the partial right edge, 0 when it does not exist.
 */
unsigned tile_width(int level, uint64_t index, uint64_t size);

/*
 * Splits bundle (len bytes) into *n entries: offs[i] and lens[i] (arrays of
 * TILE_WIDTH) locate entry i. ERR_FORMAT when lengths overrun the bundle or
 * trailing bytes remain; exactly `want` entries are required.
 */
int tile_bundle_split(const uint8_t *bundle, size_t len, unsigned want,
    size_t offs[TILE_WIDTH], size_t lens[TILE_WIDTH]) WUR;

struct tile_reader;

/* A reader of the tiles of DIR for a tree of `size` leaves. */
int tile_reader_new(const char *dir, uint64_t size, struct tile_reader **out) WUR;
void tile_reader_free(struct tile_reader *t);
/* merkle_node_fn over the reader's tiles (ctx is the reader). */
int tile_reader_node(void *ctx, unsigned level, uint64_t index,
    uint8_t out[MERKLE_HASH_LEN]);
/*
 * Reads tile (level, index) at the width the tree size implies into *hashes
 * (owned by the reader, valid until the next call) and *w. When a partial
 * tile is missing, the full tile stands in, as C2SP clients do.
 */
int tile_reader_tile(struct tile_reader *t, unsigned level, uint64_t index,
    const uint8_t **hashes, unsigned *w) WUR;
/* Reads entry bundle index: *data (owned by the reader) of *len bytes. */
int tile_reader_bundle(struct tile_reader *t, uint64_t index,
    const uint8_t **data, size_t *len, unsigned *w) WUR;
/*
 * For a walk of every bundle in order (bundle b, then the hash tiles the
 * entries through b complete, the right edge's partial tiles last): starts
 * a thread that has the kernel read the files of the next `ahead` bundles
 * while the caller works (POSIX_FADV_WILLNEED; no file data is held).
 * tile_reader_bundle tells it where the walk is; tile_reader_free stops it.
 * Only a hint: results are the same with or without it.
 */
int tile_reader_prefetch(struct tile_reader *t, unsigned ahead);
/* The path, relative to DIR, of the last file the reader failed on. */
const char *tile_reader_last_path(const struct tile_reader *t);

#endif
