/*
 * chunker.h - content-defined chunking (FastCDC) and keyed chunk IDs.
 *
 * A stream is cut into chunks whose boundaries depend only on the key, the
 * parameters and the bytes, so an edit moves only the boundaries near it
 * and the chunks elsewhere deduplicate. The cut test is FastCDC (Xia et al.,
 * USENIX ATC 2016; IEEE TPDS 2020): a gear hash over the last 64 bytes,
 *
 *	h = (h << 1) + gear[byte]
 *
 * cut after a byte when h & mask == 0, with normalized chunking (a mask of
 * log2(avg) + 2 bits while the chunk is shorter than avg, log2(avg) - 2
 * bits after), no cut test in the first min bytes and a forced cut at max.
 *
 * The gear table comes from a secret key, so that chunk lengths, which the
 * vault sees, depend on the secret as well as on the contents. Lengths still
 * leak a little about the table; the pack layer should not expose them one
 * by one where it can avoid it.
 *
 * Two ways in, which always agree:
 *   - chunker_next() / chunker_finish(): streaming, fed buffers of any
 *     size; the boundaries do not depend on how the stream is split.
 *   - chunker_cut(): one-shot, for a buffer that starts at a chunk start.
 *
 * struct chunker is caller-allocated (about 4 KiB), holds no pointers and
 * needs no freeing; chunker_release() wipes the key-derived table.
 */
#ifndef BULWARK_BACKUP_CHUNKER_H
#define BULWARK_BACKUP_CHUNKER_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define CHUNKER_KEY_LEN 32
#define CHUNK_ID_LEN 32
#define CHUNK_ID_KEY_LEN 32

/* Defaults: 256 KiB / 1 MiB / 4 MiB. The mean chunk is about 1.14 MiB. */
#define CHUNKER_MIN (256u * 1024)
#define CHUNKER_AVG (1024u * 1024)
#define CHUNKER_MAX (4u * 1024 * 1024)

/* Limits checked by chunker_init(). */
#define CHUNKER_MIN_LOWEST 64		/* the gear hash window */
#define CHUNKER_AVG_LOWEST 64		/* 2^6: masks of 8 and 4 bits */
#define CHUNKER_AVG_HIGHEST (1u << 28)
#define CHUNKER_MAX_HIGHEST (1u << 30)

/*
 * Chunk lengths: min <= avg <= max, avg a power of two, min at least 64.
 * Every chunk but the last of a stream is at least min and at most max
 * bytes long. avg is where the stricter mask gives way to the looser one;
 * the mean length comes out somewhat above it (about 1.14 avg when min is
 * avg / 4 and max is 4 avg).
 */
struct chunker_params {
	size_t min;
	size_t avg;
	size_t max;
};

/*
 * Callers touch no field; the tests and the fuzz harness read the table
 * and masks to check the cut rule against a naive reference.
 */
struct chunker {
	/* Key-derived; gear_ls[b] is gear[b] << 1 (two-byte stepping). */
	uint64_t gear[256];
	uint64_t gear_ls[256];
	uint64_t mask_s;		/* below avg: log2(avg) + 2 bits */
	uint64_t mask_l;		/* from avg on: log2(avg) - 2 bits */
	size_t min, avg, max;
	/* Streaming state: bytes of the current chunk seen, and its hash. */
	size_t pos;
	uint64_t hash;
};

/*
 * Derives the gear table from key and checks params (NULL for the
 * defaults). Returns ERR_OK, ERR_INVAL for parameters outside the limits
 * above, or ERR_CRYPTO if libsodium cannot start. On error *c is zeroed.
 * The key should be a subkey for chunking alone; the table is derived
 * through a keyed BLAKE2b step with a fixed context in any case.
 */
int chunker_init(struct chunker *c, const uint8_t key[CHUNKER_KEY_LEN],
    const struct chunker_params *p) WUR;

/* Forgets the current chunk; the next byte fed starts a new one. */
void chunker_reset(struct chunker *c);

/* Wipes *c, key-derived table included. chunker_init() makes it usable again. */
void chunker_release(struct chunker *c);

/*
 * Streaming: looks at p[0..n) as the continuation of the stream and returns
 * how many of those bytes belong to the current chunk. If the chunk ends
 * after them, *cut is set to 1 and the chunker starts a new chunk with the
 * next byte; otherwise *cut is 0 and the return value is n. The caller
 * loops until all of p is consumed:
 *
 *	while (n > 0) {
 *		size_t k = chunker_next(c, p, n, &cut);
 *		append p[0..k) to the chunk; if (cut) emit the chunk;
 *		p += k; n -= k;
 *	}
 *	at end of stream: if (chunker_finish(c) > 0) emit the last chunk.
 *
 * p may be NULL when n is 0.
 */
size_t chunker_next(struct chunker *c, const uint8_t *p, size_t n, int *cut)
    WUR;

/*
 * End of stream: returns the length of the unfinished last chunk (0 if the
 * stream ended at a boundary, or was empty) and resets the chunker. The last
 * chunk may be shorter than min.
 */
size_t chunker_finish(struct chunker *c) WUR;

/*
 * One-shot: p[0..n) starts at a chunk start; returns the length of that
 * chunk. The answer is final when it is less than n, or when n >= max
 * (then it is at most max), or when at_eof is set (then the rest, n, is
 * the last chunk). Otherwise the chunk may go on past n, and the function
 * returns 0: call again with more bytes. Returns 0 for n == 0. Does not
 * touch the streaming state.
 */
size_t chunker_cut(const struct chunker *c, const uint8_t *p, size_t n,
    int at_eof) WUR;

/*
 * Keyed chunk ID: HMAC-SHA-256 of the chunk under idkey. Without idkey
 * nobody can tell whether a chunk ID stands for some known contents. p
 * may be NULL when n is 0.
 */
void chunk_id(const uint8_t idkey[CHUNK_ID_KEY_LEN], const uint8_t *p,
    size_t n, uint8_t out[CHUNK_ID_LEN]);

#endif
