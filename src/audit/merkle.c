/*
 * merkle.c - RFC 6962 / RFC 9162 Merkle trees over SHA-256.
 *
 * Proof generation only ever asks the storage layer for perfect subtrees
 * and folds the ragged right edge of a tree itself, so a proof costs
 * O(log n) node reads. Verification follows the bit-twiddling algorithms of
 * RFC 9162 2.1.3.2 and 2.1.4.2 in the form transparency-dev/merkle gives
 * them (proof/verify.go), which also covers the subtree proofs of the Merkle
 * Tree Certificates draft.
 */
#include <stdint.h>
#include <string.h>

#include "audit/merkle.h"
#include "common/sha256.h"
#include "common/banned.h"

#define MERKLE_LEAF_PREFIX 0x00
#define MERKLE_NODE_PREFIX 0x01

/* SHA-256 of the empty string. */
static const uint8_t empty_root[MERKLE_HASH_LEN] = {
	0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14,
	0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
	0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c,
	0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
};

/*
 * Stands in for a NULL proof of length 0, since even NULL + 0 is undefined
 * and the verifiers index into the proof.
 */
static const uint8_t no_proof[1][MERKLE_HASH_LEN];

/* Number of bits needed to write x: 0 for 0, 64 for 1 << 63. */
static inline unsigned
bitlen64(uint64_t x)
{
	return x == 0 ? 0 : 64 - (unsigned)__builtin_clzll(x);
}

/* Trailing zero bits of x, which must not be 0. */
static inline unsigned
ctz64(uint64_t x)
{
	return (unsigned)__builtin_ctzll(x);
}

static inline unsigned
popcount64(uint64_t x)
{
	return (unsigned)__builtin_popcountll(x);
}

/* x >> s, with shifts of 64 or more giving 0 as they do in Go. */
static inline uint64_t
shr64(uint64_t x, unsigned s)
{
	return s >= 64 ? 0 : x >> s;
}

void
merkle_leaf_hash(const void *data, size_t len, uint8_t out[MERKLE_HASH_LEN])
{
	static const uint8_t prefix = MERKLE_LEAF_PREFIX;
	struct sha256_ctx c;

	sha256_init(&c);
	sha256_update(&c, &prefix, 1);
	if (len > 0)
		sha256_update(&c, data, len);
	sha256_final(&c, out);
}

/*
 * The one-shot sha256() goes through EVP in OpenSSL 3 and costs several
 * times as much as init/update/final for a 65-byte message.
 */
void
merkle_node_hash(const uint8_t left[MERKLE_HASH_LEN],
    const uint8_t right[MERKLE_HASH_LEN], uint8_t out[MERKLE_HASH_LEN])
{
	uint8_t buf[1 + 2 * MERKLE_HASH_LEN];
	struct sha256_ctx c;

	buf[0] = MERKLE_NODE_PREFIX;
	memcpy(buf + 1, left, MERKLE_HASH_LEN);
	memcpy(buf + 1 + MERKLE_HASH_LEN, right, MERKLE_HASH_LEN);
	sha256_init(&c);
	sha256_update(&c, buf, sizeof(buf));
	sha256_final(&c, out);
}

void
merkle_empty_root(uint8_t out[MERKLE_HASH_LEN])
{
	memcpy(out, empty_root, MERKLE_HASH_LEN);
}

void
merkle_frontier_init(struct merkle_frontier *f)
{
	memset(f, 0, sizeof(*f));
}

/*
 * Appending leaf number `size` merges it with one perfect subtree for each
 * trailing one bit of size, like incrementing a binary counter: one hash
 * per append on average.
 */
void
merkle_frontier_append(struct merkle_frontier *f,
    const uint8_t leaf_hash[MERKLE_HASH_LEN])
{
	uint8_t h[MERKLE_HASH_LEN];
	unsigned level;

	/* A tree of 2^64 - 1 leaves cannot grow; leave it as it is. */
	if (f->size == UINT64_MAX)
		return;
	memcpy(h, leaf_hash, MERKLE_HASH_LEN);
	for (level = 0; (f->size >> level) & 1; level++)
		merkle_node_hash(f->hashes[level], h, h);
	memcpy(f->hashes[level], h, MERKLE_HASH_LEN);
	f->size++;
}

void
merkle_frontier_root(const struct merkle_frontier *f,
    uint8_t out[MERKLE_HASH_LEN])
{
	uint64_t rest = f->size;
	unsigned level;

	if (rest == 0) {
		merkle_empty_root(out);
		return;
	}
	/* Fold from the smallest (rightmost) subtree up to the largest. */
	level = ctz64(rest);
	memcpy(out, f->hashes[level], MERKLE_HASH_LEN);
	for (rest &= rest - 1; rest != 0; rest &= rest - 1) {
		level = ctz64(rest);
		merkle_node_hash(f->hashes[level], out, out);
	}
}

/*
 * MTH of leaves [start, end), 0 < end - start, where start is a multiple of
 * the smallest power of two >= end - start: a subtree of some tree, perfect
 * or the ragged right edge. RFC 6962 splits a range at its largest power of
 * two below its size, so the range is its perfect subtrees, largest first,
 * folded from the right. Reads one node per one bit of end - start.
 */
static int
range_hash(merkle_node_fn node, void *ctx, uint64_t start, uint64_t end,
    uint8_t out[MERKLE_HASH_LEN])
{
	uint8_t h[MERKLE_HASH_LEN];
	uint64_t len = end - start;
	unsigned level;
	int first = 1, r;

	while (len != 0) {
		level = ctz64(len);
		r = node(ctx, level, (end >> level) - 1, first ? out : h);
		if (r != ERR_OK)
			return r;
		if (!first)
			merkle_node_hash(h, out, out);
		first = 0;
		end -= (uint64_t)1 << level;
		len &= len - 1;
	}
	return ERR_OK;
}

int
merkle_root(uint64_t size, merkle_node_fn node, void *ctx,
    uint8_t out[MERKLE_HASH_LEN])
{
	int r = ERR_INTERNAL;

	if (out == NULL)
		return ERR_INVAL;
	memset(out, 0, MERKLE_HASH_LEN);
	if (size == 0) {
		merkle_empty_root(out);
		return ERR_OK;
	}
	if (node == NULL)
		return ERR_INVAL;
	if ((r = range_hash(node, ctx, 0, size, out)) != ERR_OK) {
		memset(out, 0, MERKLE_HASH_LEN);
		return r;
	}
	return ERR_OK;
}

/*
 * The audit path of `index` has one sibling per level below the level where
 * the paths to `index` and `size - 1` part ("inner" levels), then one left
 * sibling per one bit of index above it ("border" levels). The inner
 * siblings all lie in the perfect left half below the parting node, except
 * the topmost, which is the right half: the ragged edge [sibling, size).
 */
int
merkle_prove_inclusion(uint64_t index, uint64_t size, merkle_node_fn node,
    void *ctx, uint8_t proof[][MERKLE_HASH_LEN], size_t *n)
{
	unsigned inner, level;
	size_t k = 0;
	uint64_t sib;
	int r = ERR_INTERNAL;

	if (n != NULL)
		*n = 0;
	if (node == NULL || proof == NULL || n == NULL)
		return ERR_INVAL;
	if (index >= size)
		return ERR_RANGE;

	inner = bitlen64(index ^ (size - 1));
	for (level = 0; level < inner; level++) {
		sib = (index >> level) ^ 1;
		if (level + 1 < inner)
			r = node(ctx, level, sib, proof[k]);
		else
			r = range_hash(node, ctx, sib << level, size, proof[k]);
		if (r != ERR_OK)
			goto out;
		k++;
	}
	for (level = inner; level < 64; level++) {
		if (((index >> level) & 1) == 0)
			continue;
		if ((r = node(ctx, level, (index >> level) ^ 1,
		    proof[k])) != ERR_OK)
			goto out;
		k++;
	}
	*n = k;
	r = ERR_OK;
 out:
	return r;
}

/*
 * RFC 6962 SUBPROOF(m, D[n], b) unrolled. Each step either descends into
 * the left half (the right half, D[k:n], goes into the proof) or into the
 * right half (the perfect left half, D[0:k], goes into the proof). The
 * recursion emits the deepest hash first, so the hashes are collected top
 * down and reversed at the end. Only the first left step can meet a ragged
 * right half; below it every range is perfect and costs one node read.
 */
int
merkle_prove_consistency(uint64_t size1, uint64_t size2,
    merkle_node_fn node, void *ctx, uint8_t proof[][MERKLE_HASH_LEN],
    size_t *n)
{
	uint8_t tmp[MERKLE_HASH_LEN];
	uint64_t off = 0, m = size1, len = size2, half;
	unsigned level;
	size_t k = 0, i;
	int whole = 1, r = ERR_INTERNAL;

	if (n != NULL)
		*n = 0;
	if (node == NULL || proof == NULL || n == NULL)
		return ERR_INVAL;
	if (size1 == 0 || size1 > size2)
		return ERR_RANGE;

	while (m != len) {
		/* Largest power of two below len (len >= 2 here). */
		level = bitlen64(len - 1) - 1;
		half = (uint64_t)1 << level;
		if (m <= half) {
			r = range_hash(node, ctx, off + half, off + len,
			    proof[k]);
			len = half;
		} else {
			r = node(ctx, level, off >> level, proof[k]);
			off += half;
			m -= half;
			len -= half;
			whole = 0;
		}
		if (r != ERR_OK)
			goto out;
		k++;
	}
	if (!whole) {
		if ((r = range_hash(node, ctx, off, off + m,
		    proof[k])) != ERR_OK)
			goto out;
		k++;
	}
	for (i = 0; i < k / 2; i++) {
		memcpy(tmp, proof[i], MERKLE_HASH_LEN);
		memcpy(proof[i], proof[k - 1 - i], MERKLE_HASH_LEN);
		memcpy(proof[k - 1 - i], tmp, MERKLE_HASH_LEN);
	}
	*n = k;
	r = ERR_OK;
 out:
	return r;
}

/*
 * Hashes seed up the path of node `index` at the proof's first level: a
 * proof hash is the right sibling where the path bit is 0 and the left
 * sibling where it is 1.
 */
static void
chain_inner(uint8_t seed[MERKLE_HASH_LEN],
    const uint8_t proof[][MERKLE_HASH_LEN], size_t n, uint64_t index)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (((index >> i) & 1) == 0)
			merkle_node_hash(seed, proof[i], seed);
		else
			merkle_node_hash(proof[i], seed, seed);
	}
}

/*
 * Like chain_inner, but skips right siblings: the result is the hash of the
 * same subtree as it was when its last leaf was the one under seed.
 */
static void
chain_inner_right(uint8_t seed[MERKLE_HASH_LEN],
    const uint8_t proof[][MERKLE_HASH_LEN], size_t n, uint64_t index)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (((index >> i) & 1) == 1)
			merkle_node_hash(proof[i], seed, seed);
	}
}

/* Hashes seed up the right border: every proof hash is a left sibling. */
static void
chain_border_right(uint8_t seed[MERKLE_HASH_LEN],
    const uint8_t proof[][MERKLE_HASH_LEN], size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		merkle_node_hash(proof[i], seed, seed);
}

static int
hash_equal(const uint8_t a[MERKLE_HASH_LEN], const uint8_t b[MERKLE_HASH_LEN])
{
	return memcmp(a, b, MERKLE_HASH_LEN) == 0;
}

/*
 * Root of the tree of `size` leaves from leaf `index`, its hash and its
 * audit path (RFC 9162 2.1.3.2). The path has `inner` hashes below the
 * level where the paths to index and size - 1 part, then one left sibling
 * per one bit of index above it.
 */
static int
root_from_inclusion(uint64_t index, uint64_t size,
    const uint8_t leaf_hash[MERKLE_HASH_LEN],
    const uint8_t proof[][MERKLE_HASH_LEN], size_t n,
    uint8_t out[MERKLE_HASH_LEN])
{
	unsigned inner, border;

	if (index >= size)
		return ERR_RANGE;
	inner = bitlen64(index ^ (size - 1));
	border = popcount64(shr64(index, inner));
	if (n != (size_t)inner + border)
		return ERR_PROOF;
	memcpy(out, leaf_hash, MERKLE_HASH_LEN);
	chain_inner(out, proof, inner, index);
	chain_border_right(out, proof + inner, border);
	return ERR_OK;
}

int
merkle_verify_inclusion(uint64_t index, uint64_t size,
    const uint8_t leaf_hash[MERKLE_HASH_LEN],
    const uint8_t proof[][MERKLE_HASH_LEN], size_t n,
    const uint8_t root[MERKLE_HASH_LEN])
{
	uint8_t calc[MERKLE_HASH_LEN];
	int r;

	if (leaf_hash == NULL || root == NULL || (proof == NULL && n > 0))
		return ERR_INVAL;
	if (proof == NULL)
		proof = no_proof;
	if ((r = root_from_inclusion(index, size, leaf_hash, proof, n,
	    calc)) != ERR_OK)
		return r;
	return hash_equal(calc, root) ? ERR_OK : ERR_PROOF;
}

/*
 * A subtree [start, end) names a node of some tree: either start is 0 (a
 * prefix, whose tree may be ragged), the range is empty, or start is a
 * multiple of the smallest power of two >= end - start.
 */
static int
subtree_valid(uint64_t start, uint64_t end)
{
	uint64_t len, ceil;

	if (start > end)
		return 0;
	if (start == 0 || start == end)
		return 1;
	len = end - start;
	if (len > (uint64_t)1 << 63)
		return 0;
	ceil = len == 1 ? 1 : (uint64_t)1 << bitlen64(len - 1);
	return (start & (ceil - 1)) == 0;
}

/*
 * Root of the tree of `size` leaves from the root of its subtree
 * [start, end) and a consistency proof, for a valid subtree with
 * start < end <= size, not the whole tree, and a non-empty proof. With
 * start = 0 this is RFC 9162 2.1.4.2. On a proof that is inconsistent with
 * sub_root it returns ERR_PROOF.
 */
static int
root_from_subtree_consistency(uint64_t start, uint64_t end, uint64_t size,
    const uint8_t proof[][MERKLE_HASH_LEN], size_t n,
    const uint8_t sub_root[MERKLE_HASH_LEN], uint8_t out[MERKLE_HASH_LEN])
{
	uint8_t hash1[MERKLE_HASH_LEN];
	unsigned level, fork, border, shift, inner, h, sub_inner, sub_border;
	unsigned end_border;
	uint64_t mask;
	size_t first;

	/*
	 * The subtree is on the right edge of the tree: chain its root up
	 * with one left sibling for each level where its ancestor is a right
	 * child.
	 */
	if (end == size) {
		level = bitlen64((end - 1) ^ start);
		if (n != popcount64(shr64(start, level)))
			return ERR_PROOF;
		memcpy(out, sub_root, MERKLE_HASH_LEN);
		chain_border_right(out, proof, n);
		return ERR_OK;
	}

	/*
	 * Otherwise the proof, after its optional first hash, is the tail of
	 * the audit path of leaf end - 1 in the tree of size leaves, from
	 * level `shift`: the height of the rightmost perfect subtree inside
	 * [start, end). fork is where the paths to end - 1 and size - 1 part;
	 * it lies above shift because end is a multiple of 2^shift.
	 */
	fork = bitlen64((end - 1) ^ (size - 1));
	border = popcount64(shr64(end - 1, fork));
	shift = ctz64(end - start);
	inner = fork - shift;

	/*
	 * The path starts at the rightmost perfect subtree inside [start,
	 * end). If that is the whole subtree, its root is sub_root, which the
	 * verifier already has; otherwise the proof starts with it.
	 */
	first = (end - start) == (uint64_t)1 << shift ? 0 : 1;
	if (n != first + inner + border)
		return ERR_PROOF;
	if (first)
		memcpy(out, proof[0], MERKLE_HASH_LEN);
	else
		memcpy(out, sub_root, MERKLE_HASH_LEN);
	proof += first;
	mask = (end - 1) >> shift;

	/*
	 * A ragged subtree: the left siblings among the path hashes inside
	 * the subtree must fold into sub_root. Below the subtree's own height
	 * h those are the inner hashes up to min(h, fork); above fork, the
	 * border hashes that sit below h.
	 */
	if (first) {
		h = bitlen64((end - 1) ^ start);
		sub_inner = (h < fork ? h : fork) - shift;
		end_border = popcount64(shr64(end - 1, h));
		sub_border = border > end_border ? border - end_border : 0;
		memcpy(hash1, out, MERKLE_HASH_LEN);
		chain_inner_right(hash1, proof, sub_inner, mask);
		chain_border_right(hash1, proof + inner, sub_border);
		if (!hash_equal(hash1, sub_root))
			return ERR_PROOF;
	}

	chain_inner(out, proof, inner, mask);
	chain_border_right(out, proof + inner, border);
	return ERR_OK;
}

int
merkle_verify_consistency(uint64_t size1, uint64_t size2,
    const uint8_t root1[MERKLE_HASH_LEN], const uint8_t root2[MERKLE_HASH_LEN],
    const uint8_t proof[][MERKLE_HASH_LEN], size_t n)
{
	uint8_t calc[MERKLE_HASH_LEN];
	int r;

	if (root1 == NULL || root2 == NULL || (proof == NULL && n > 0))
		return ERR_INVAL;
	if (proof == NULL)
		proof = no_proof;
	/* Nothing can be proved about the empty tree. */
	if (size1 == 0 || size1 > size2)
		return ERR_RANGE;
	if (size1 == size2) {
		if (n != 0)
			return ERR_PROOF;
		return hash_equal(root1, root2) ? ERR_OK : ERR_PROOF;
	}
	if (n == 0)
		return ERR_PROOF;
	if ((r = root_from_subtree_consistency(0, size1, size2, proof, n,
	    root1, calc)) != ERR_OK)
		return r;
	return hash_equal(calc, root2) ? ERR_OK : ERR_PROOF;
}

int
merkle_verify_subtree_inclusion(uint64_t index, uint64_t start,
    uint64_t end, const uint8_t leaf_hash[MERKLE_HASH_LEN],
    const uint8_t proof[][MERKLE_HASH_LEN], size_t n,
    const uint8_t subtree_root[MERKLE_HASH_LEN])
{
	uint8_t calc[MERKLE_HASH_LEN];
	int r;

	if (leaf_hash == NULL || subtree_root == NULL ||
	    (proof == NULL && n > 0))
		return ERR_INVAL;
	if (proof == NULL)
		proof = no_proof;
	if (!subtree_valid(start, end))
		return ERR_INVAL;
	if (index < start || index >= end)
		return ERR_RANGE;
	if ((r = root_from_inclusion(index - start, end - start, leaf_hash,
	    proof, n, calc)) != ERR_OK)
		return r;
	return hash_equal(calc, subtree_root) ? ERR_OK : ERR_PROOF;
}

int
merkle_verify_subtree_consistency(uint64_t start, uint64_t end,
    uint64_t size, const uint8_t subtree_root[MERKLE_HASH_LEN],
    const uint8_t root[MERKLE_HASH_LEN],
    const uint8_t proof[][MERKLE_HASH_LEN], size_t n)
{
	uint8_t calc[MERKLE_HASH_LEN];
	int r;

	if (subtree_root == NULL || root == NULL || (proof == NULL && n > 0))
		return ERR_INVAL;
	if (proof == NULL)
		proof = no_proof;
	/*
	 * The empty subtree is consistent with every tree that reaches its
	 * position; root is not looked at.
	 */
	if (start == end) {
		if (end > size)
			return ERR_RANGE;
		if (n != 0)
			return ERR_PROOF;
		return hash_equal(subtree_root, empty_root) ? ERR_OK :
		    ERR_PROOF;
	}
	if (!subtree_valid(start, end))
		return ERR_INVAL;
	if (end > size)
		return ERR_RANGE;
	if (start == 0 && end == size) {
		if (n != 0)
			return ERR_PROOF;
		return hash_equal(subtree_root, root) ? ERR_OK : ERR_PROOF;
	}
	if (n == 0)
		return ERR_PROOF;
	if ((r = root_from_subtree_consistency(start, end, size, proof, n,
	    subtree_root, calc)) != ERR_OK)
		return r;
	return hash_equal(calc, root) ? ERR_OK : ERR_PROOF;
}
