/*
 * fuzz.c - libFuzzer harness for the Merkle proof verifiers.
 *
 * Input: three big-endian 64-bit numbers a, b, c, then 32-byte hashes
 * h[0], h[1], h[2], ... (a short tail is ignored; missing hashes are
 * zero). Every input goes to all four verifiers:
 *
 *   merkle_verify_inclusion(index a, size b, leaf h[0], root h[1])
 *   merkle_verify_consistency(size1 a, size2 b, root1 h[0], root2 h[1])
 *   merkle_verify_subtree_inclusion(index a, [b, c), leaf h[0], root h[1])
 *   merkle_verify_subtree_consistency([a, b), size c, h[0], h[1])
 *
 * each with proof h[2...]. They must return, never crash. The sizes also
 * drive the proof generators over a tree of equal leaves, where every
 * perfect subtree of a level has the same hash, so trees of up to 2^64 - 1
 * leaves cost O(log n): a generated proof that does not verify aborts.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audit/merkle.h"
#include "common/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HLEN MERKLE_HASH_LEN
#define HEADER_LEN 24

static uint8_t uniform[65][HLEN];
static int uniform_ready;

static int
uniform_node(void *ctx, unsigned level, uint64_t index, uint8_t out[HLEN])
{
	const uint64_t *tree_size = ctx;

	/* The generators must ask only for perfect subtrees in the tree. */
	if (level >= 64 || index >= (*tree_size >> level))
		abort();
	memcpy(out, uniform[level], HLEN);
	return ERR_OK;
}

static uint64_t
get_u64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

static void
check_generators(uint64_t a, uint64_t b)
{
	uint8_t proof[MERKLE_MAX_PROOF][HLEN], root1[HLEN], root2[HLEN];
	uint64_t tree_size;
	size_t n;

	if (!uniform_ready) {
		unsigned i;

		merkle_leaf_hash("", 0, uniform[0]);
		for (i = 1; i < 65; i++)
			merkle_node_hash(uniform[i - 1], uniform[i - 1],
			    uniform[i]);
		uniform_ready = 1;
	}

	tree_size = b;
	if (merkle_root(b, uniform_node, &tree_size, root2) != ERR_OK)
		abort();
	if (a < b) {
		if (merkle_prove_inclusion(a, b, uniform_node, &tree_size,
		    proof, &n) != ERR_OK ||
		    merkle_verify_inclusion(a, b, uniform[0], proof, n,
		    root2) != ERR_OK)
			abort();
	}
	if (a > 0 && a <= b) {
		tree_size = a;
		if (merkle_root(a, uniform_node, &tree_size, root1) != ERR_OK)
			abort();
		tree_size = b;
		if (merkle_prove_consistency(a, b, uniform_node, &tree_size,
		    proof, &n) != ERR_OK ||
		    merkle_verify_consistency(a, b, root1, root2, proof,
		    n) != ERR_OK ||
		    merkle_verify_subtree_consistency(0, a, b, root1, root2,
		    proof, n) != ERR_OK)
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t hdr[HEADER_LEN], h0[HLEN], h1[HLEN];
	const uint8_t (*proof)[HLEN] = NULL;
	size_t nhashes = 0, n = 0;
	uint64_t a, b, c;
	int r;

	memset(hdr, 0, sizeof(hdr));
	memset(h0, 0, sizeof(h0));
	memset(h1, 0, sizeof(h1));
	if (size > 0)
		memcpy(hdr, data, size < HEADER_LEN ? size : HEADER_LEN);
	a = get_u64(hdr);
	b = get_u64(hdr + 8);
	c = get_u64(hdr + 16);
	if (size > HEADER_LEN)
		nhashes = (size - HEADER_LEN) / HLEN;
	if (nhashes > 0)
		memcpy(h0, data + HEADER_LEN, HLEN);
	if (nhashes > 1)
		memcpy(h1, data + HEADER_LEN + HLEN, HLEN);
	if (nhashes > 2) {
		/* uint8_t arrays need no alignment. */
		proof = (const uint8_t (*)[HLEN])(data + HEADER_LEN + 2 * HLEN);
		n = nhashes - 2;
	}

	r = merkle_verify_inclusion(a, b, h0, proof, n, h1);
	r |= merkle_verify_consistency(a, b, h0, h1, proof, n);
	r |= merkle_verify_subtree_inclusion(a, b, c, h0, proof, n, h1);
	r |= merkle_verify_subtree_consistency(a, b, c, h0, h1, proof, n);
	(void)r;

	check_generators(a, b);
	return 0;
}
