/*
 * merkle.h - RFC 6962 / RFC 9162 Merkle trees over SHA-256.
 *
 * Leaf hash  = SHA-256(0x00 || data)
 * Node hash  = SHA-256(0x01 || left || right)
 * Empty tree = SHA-256("")
 *
 * Node addressing: (level, index) names the perfect subtree that covers
 * leaves [index << level, (index + 1) << level). Level 0 nodes are leaf
 * hashes. Storage layers (tiles) hand perfect-subtree hashes to this module
 * through merkle_node_fn; the module combines them into roots and proofs of
 * trees of any size.
 *
 * Verification functions return ERR_OK when the proof holds, ERR_PROOF when
 * it does not, and ERR_RANGE / ERR_INVAL for impossible arguments. None of
 * them allocate.
 */
#ifndef BULWARK_AUDIT_MERKLE_H
#define BULWARK_AUDIT_MERKLE_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define MERKLE_HASH_LEN 32
/* A proof for a tree of up to 2^64 leaves never holds more hashes. */
#define MERKLE_MAX_PROOF 128

/*
 * The hashing primitives: no allocation, no failure. out may be the same
 * buffer as left or right.
 */
void merkle_leaf_hash(const void *data, size_t len, uint8_t out[MERKLE_HASH_LEN]);
void merkle_node_hash(const uint8_t left[MERKLE_HASH_LEN],
    const uint8_t right[MERKLE_HASH_LEN], uint8_t out[MERKLE_HASH_LEN]);
void merkle_empty_root(uint8_t out[MERKLE_HASH_LEN]);

/*
 * The right edge of a growing tree: the roots of the perfect subtrees that
 * make up the first `size` leaves, at most 64 of them. Appending and taking
 * the root need no other state, so memory stays flat however large the log.
 */
struct merkle_frontier {
	uint64_t size;
	/* hashes[i] is valid when bit i of size is set. */
	uint8_t hashes[64][MERKLE_HASH_LEN];
};

void merkle_frontier_init(struct merkle_frontier *f);
/*
 * Adds one leaf: one node hash per append on average. A frontier of
 * 2^64 - 1 leaves is full and is left unchanged.
 */
void merkle_frontier_append(struct merkle_frontier *f,
    const uint8_t leaf_hash[MERKLE_HASH_LEN]);
/* Root of the first f->size leaves (the empty root when size is 0). */
void merkle_frontier_root(const struct merkle_frontier *f,
    uint8_t out[MERKLE_HASH_LEN]);

/*
 * Reads the hash of perfect subtree (level, index). Returns ERR_OK or an
 * error that the proof and root functions pass on unchanged.
 */
typedef int (*merkle_node_fn)(void *ctx, unsigned level, uint64_t index,
    uint8_t out[MERKLE_HASH_LEN]);

/*
 * Root hash of the tree of the first `size` leaves (the empty root for 0).
 * This function and the two proof functions below ask node() only for
 * perfect subtrees inside the tree, at most about 2 log2(size) of them, and
 * fold the ragged right edge themselves. On error out is zeroed, or *n is
 * set to 0.
 */
int merkle_root(uint64_t size, merkle_node_fn node, void *ctx,
    uint8_t out[MERKLE_HASH_LEN]) WUR;

/*
 * Inclusion proof of leaf `index` in the tree of `size` leaves (RFC 9162
 * 2.1.3.1). Writes *n hashes to proof, which must hold MERKLE_MAX_PROOF.
 */
int merkle_prove_inclusion(uint64_t index, uint64_t size, merkle_node_fn node,
    void *ctx, uint8_t proof[][MERKLE_HASH_LEN], size_t *n) WUR;

/*
 * Consistency proof between trees of size1 and size2 leaves, 0 < size1 <=
 * size2 (RFC 9162 2.1.4.1). Writes *n hashes to proof.
 */
int merkle_prove_consistency(uint64_t size1, uint64_t size2,
    merkle_node_fn node, void *ctx, uint8_t proof[][MERKLE_HASH_LEN],
    size_t *n) WUR;

/* RFC 9162 2.1.3.2. */
int merkle_verify_inclusion(uint64_t index, uint64_t size,
    const uint8_t leaf_hash[MERKLE_HASH_LEN],
    const uint8_t proof[][MERKLE_HASH_LEN], size_t n,
    const uint8_t root[MERKLE_HASH_LEN]) WUR;

/* RFC 9162 2.1.4.2. size1 == size2 needs an empty proof and equal roots. */
int merkle_verify_consistency(uint64_t size1, uint64_t size2,
    const uint8_t root1[MERKLE_HASH_LEN], const uint8_t root2[MERKLE_HASH_LEN],
    const uint8_t proof[][MERKLE_HASH_LEN], size_t n) WUR;

/*
 * Subtree proofs (draft-ietf-plants-merkle-tree-certs, as implemented by
 * transparency-dev/merkle): [start, end) must be a valid subtree, one that
 * some node covers with no leaf to its left: start is 0, or start == end,
 * or start is a multiple of the smallest power of two >= end - start (so
 * [4, 8) and [4, 7) are valid, [2, 5) is not). An invalid subtree gives
 * ERR_INVAL.
 *
 * Subtree inclusion: leaf `index` in [start, end) hashes up to
 * subtree_root; the proof is the audit path of index - start in a tree of
 * end - start leaves. index outside [start, end) gives ERR_RANGE.
 */
int merkle_verify_subtree_inclusion(uint64_t index, uint64_t start,
    uint64_t end, const uint8_t leaf_hash[MERKLE_HASH_LEN],
    const uint8_t proof[][MERKLE_HASH_LEN], size_t n,
    const uint8_t subtree_root[MERKLE_HASH_LEN]) WUR;

/*
 * Subtree consistency: subtree [start, end) with root subtree_root is part
 * of the tree of `size` leaves with root `root`. With start 0 this is an
 * ordinary consistency proof. An empty subtree (start == end <= size) needs
 * an empty proof and the empty root as subtree_root; root is not looked at.
 * end > size gives ERR_RANGE.
 */
int merkle_verify_subtree_consistency(uint64_t start, uint64_t end,
    uint64_t size, const uint8_t subtree_root[MERKLE_HASH_LEN],
    const uint8_t root[MERKLE_HASH_LEN],
    const uint8_t proof[][MERKLE_HASH_LEN], size_t n) WUR;

#endif
