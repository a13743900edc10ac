/*
 * test_merkle.c - Merkle tree hashing, proofs and verification.
 *
 * Three kinds of test: the transparency-dev/merkle verification vectors
 * (tests/testdata/merkle, every file), property tests against a naive
 * recursive implementation of the RFC 6962 definitions (MTH, PATH,
 * SUBPROOF) and of the subtree consistency reference from
 * transparency-dev/merkle (testonly/reference_test.go), and checks on huge
 * trees whose leaves are all equal, so that every perfect subtree of a level
 * has the same hash and trees of up to 2^64 - 1 leaves cost nothing.
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "audit/merkle.h"
#include "common/banned.h"

#define HLEN MERKLE_HASH_LEN
/* Largest tree of the property tests. */
#define NAIVE_MAX 512
/* The transparency-dev/merkle vectors shipped in tests/testdata/merkle. */
#define VECTORS_TOTAL 518
#define VECTORS_INCLUSION 98
#define VECTORS_CONSISTENCY 98
#define VECTORS_SUBTREE_INCLUSION 204
#define VECTORS_SUBTREE_CONSISTENCY 118
/*
 * Vectors that pass although a root is not 32 bytes long: the verifier
 * only compares two caller-supplied roots (size1 == size2), or does not
 * look at the tree root at all (empty subtree). See decode_hash().
 */
#define VECTORS_ODD_LENGTH_PASS 4

/* ------------------------------------------------------------------ */
/* Naive RFC 6962 reference. */

struct naive {
	uint64_t n;			/* number of leaves */
	uint8_t (*leaves)[HLEN];	/* leaf hashes */
	uint8_t (*cache)[HLEN];		/* MTH of (start, len) */
	uint8_t *have;
};

static uint64_t
split_point(uint64_t n)
{
	uint64_t k = 1;

	while (k * 2 < n)
		k *= 2;
	return k;
}

static void
naive_init(struct naive *t, uint64_t n)
{
	uint64_t i;
	uint8_t data[8];

	t->n = n;
	t->leaves = calloc(n, HLEN);
	t->cache = calloc(n * (n + 1), HLEN);
	t->have = calloc(n * (n + 1), 1);
	assert_non_null(t->leaves);
	assert_non_null(t->cache);
	assert_non_null(t->have);
	for (i = 0; i < n; i++) {
		/* Leaf data of 1 to 8 bytes: i in big-endian. */
		size_t len = 1 + i % 8;
		size_t j;

		for (j = 0; j < len; j++)
			data[j] = (uint8_t)(i >> (8 * (len - 1 - j)));
		merkle_leaf_hash(data, len, t->leaves[i]);
	}
}

static void
naive_free(struct naive *t)
{
	free(t->leaves);
	free(t->cache);
	free(t->have);
}

/* MTH(D[start:start+len]), memoised. */
static const uint8_t *
naive_mth(struct naive *t, uint64_t start, uint64_t len)
{
	static uint8_t empty[HLEN];
	uint64_t slot, k;

	assert_true(start + len <= t->n);
	if (len == 0) {
		merkle_empty_root(empty);
		return empty;
	}
	slot = start * (t->n + 1) + len;
	if (!t->have[slot]) {
		if (len == 1) {
			memcpy(t->cache[slot], t->leaves[start], HLEN);
		} else {
			uint8_t l[HLEN], r[HLEN];

			k = split_point(len);
			memcpy(l, naive_mth(t, start, k), HLEN);
			memcpy(r, naive_mth(t, start + k, len - k), HLEN);
			merkle_node_hash(l, r, t->cache[slot]);
		}
		t->have[slot] = 1;
	}
	return t->cache[slot];
}

static void
push(uint8_t out[][HLEN], size_t *k, const uint8_t h[HLEN])
{
	assert_true(*k < MERKLE_MAX_PROOF);
	memcpy(out[(*k)++], h, HLEN);
}

/* PATH(m, D[start:start+n]). */
static void
naive_path(struct naive *t, uint64_t m, uint64_t start, uint64_t n,
    uint8_t out[][HLEN], size_t *k)
{
	uint64_t s;

	if (n <= 1)
		return;
	s = split_point(n);
	if (m < s) {
		naive_path(t, m, start, s, out, k);
		push(out, k, naive_mth(t, start + s, n - s));
	} else {
		naive_path(t, m - s, start + s, n - s, out, k);
		push(out, k, naive_mth(t, start, s));
	}
}

/* SUBPROOF(m, D[start:start+n], b). */
static void
naive_subproof(struct naive *t, uint64_t m, uint64_t start, uint64_t n,
    int b, uint8_t out[][HLEN], size_t *k)
{
	uint64_t s;

	if (m == n) {
		if (!b)
			push(out, k, naive_mth(t, start, m));
		return;
	}
	s = split_point(n);
	if (m <= s) {
		naive_subproof(t, m, start, s, b, out, k);
		push(out, k, naive_mth(t, start + s, n - s));
	} else {
		naive_subproof(t, m - s, start + s, n - s, 0, out, k);
		push(out, k, naive_mth(t, start, s));
	}
}

/*
 * Subtree consistency proof of [start, end) in D[off:off+size], after
 * refSubtreeConsistencyProof in transparency-dev/merkle.
 */
static void
naive_subtree_consistency(struct naive *t, uint64_t start, uint64_t end,
    uint64_t off, uint64_t size, int known, uint8_t out[][HLEN], size_t *k)
{
	uint64_t s;

	if (start == end)
		return;
	if (start == 0 && end == size) {
		if (!known)
			push(out, k, naive_mth(t, off, size));
		return;
	}
	s = split_point(size);
	if (end <= s) {
		naive_subtree_consistency(t, start, end, off, s, known, out, k);
		push(out, k, naive_mth(t, off + s, size - s));
	} else if (s <= start) {
		naive_subtree_consistency(t, start - s, end - s, off + s,
		    size - s, known, out, k);
		push(out, k, naive_mth(t, off, s));
	} else {
		naive_subtree_consistency(t, 0, end - s, off + s, size - s, 0,
		    out, k);
		push(out, k, naive_mth(t, off, s));
	}
}

/*
 * A subtree is valid when some node covers it with nothing to its left:
 * start is 0, or the range is empty, or some 2^L >= end - start divides
 * start.
 */
static int
naive_subtree_valid(uint64_t start, uint64_t end)
{
	uint64_t w;

	if (start > end)
		return 0;
	if (start == 0 || start == end)
		return 1;
	for (w = 1; w != 0; w <<= 1) {
		if (start % w == 0 && end - start <= w)
			return 1;
	}
	return 0;
}

static unsigned
bitlen(uint64_t x)
{
	unsigned b = 0;

	for (; x != 0; x >>= 1)
		b++;
	return b;
}

/* ------------------------------------------------------------------ */
/* Node readers for the proof generators. */

struct tree_ctx {
	struct naive *t;
	uint64_t size;
	unsigned calls;
	unsigned fail_at;	/* fail the call with this number (1-based) */
};

/*
 * Checks that the caller asks only for a perfect subtree inside the tree:
 * leaves [index << level, (index + 1) << level) within [0, size).
 */
static void
check_perfect(uint64_t size, unsigned level, uint64_t index)
{
	assert_true(level < 64);
	assert_true(index < (size >> level));
}

static int
naive_node(void *vctx, unsigned level, uint64_t index, uint8_t out[HLEN])
{
	struct tree_ctx *c = vctx;

	c->calls++;
	check_perfect(c->size, level, index);
	if (c->fail_at != 0 && c->calls == c->fail_at)
		return ERR_IO;
	memcpy(out, naive_mth(c->t, index << level, (uint64_t)1 << level),
	    HLEN);
	return ERR_OK;
}

/*
 * A tree of equal leaves: every perfect subtree of a level has the hash
 * uniform[level].
 */
static uint8_t uniform[65][HLEN];

static void
uniform_init(void)
{
	unsigned i;

	merkle_leaf_hash("x", 1, uniform[0]);
	for (i = 1; i < 65; i++)
		merkle_node_hash(uniform[i - 1], uniform[i - 1], uniform[i]);
}

static int
uniform_node(void *vctx, unsigned level, uint64_t index, uint8_t out[HLEN])
{
	struct tree_ctx *c = vctx;

	c->calls++;
	check_perfect(c->size, level, index);
	memcpy(out, uniform[level], HLEN);
	return ERR_OK;
}

/* ------------------------------------------------------------------ */
/* Known answers. */

static int
hex_leaf(const char *hex, uint8_t out[HLEN])
{
	uint8_t data[64];
	size_t len;

	if (sodium_hex2bin(data, sizeof(data), hex, strlen(hex), NULL, &len,
	    NULL) != 0)
		return -1;
	merkle_leaf_hash(data, len, out);
	return 0;
}

static int
kat_node(void *vctx, unsigned level, uint64_t index, uint8_t out[HLEN])
{
	uint8_t (*leaves)[HLEN] = vctx;
	uint8_t l[HLEN], r[HLEN];

	assert_true(level <= 3);
	assert_true(index < (8u >> level));
	if (level == 0) {
		memcpy(out, leaves[index], HLEN);
		return ERR_OK;
	}
	if (kat_node(vctx, level - 1, 2 * index, l) != ERR_OK ||
	    kat_node(vctx, level - 1, 2 * index + 1, r) != ERR_OK)
		return ERR_INTERNAL;
	merkle_node_hash(l, r, out);
	return ERR_OK;
}

static void
test_known_answers(void **state)
{
	static const char *leaves_hex[8] = {
		"", "00", "10", "2021", "3031", "40414243",
		"5051525354555657", "606162636465666768696a6b6c6d6e6f",
	};
	static const char *root_b64 =
	    "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=";
	static const char *empty_hex =
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
	uint8_t leaves[8][HLEN], want[HLEN], got[HLEN], empty[HLEN];
	struct merkle_frontier f;
	size_t len, i;

	(void)state;
	for (i = 0; i < 8; i++)
		assert_int_equal(hex_leaf(leaves_hex[i], leaves[i]), 0);
	assert_int_equal(sodium_base642bin(want, sizeof(want), root_b64,
	    strlen(root_b64), NULL, &len, NULL,
	    sodium_base64_VARIANT_ORIGINAL), 0);
	assert_int_equal(len, HLEN);

	merkle_frontier_init(&f);
	for (i = 0; i < 8; i++)
		merkle_frontier_append(&f, leaves[i]);
	merkle_frontier_root(&f, got);
	assert_memory_equal(got, want, HLEN);

	assert_int_equal(merkle_root(8, kat_node, leaves, got), ERR_OK);
	assert_memory_equal(got, want, HLEN);

	assert_int_equal(sodium_hex2bin(empty, sizeof(empty), empty_hex,
	    strlen(empty_hex), NULL, &len, NULL), 0);
	merkle_empty_root(got);
	assert_memory_equal(got, empty, HLEN);
	assert_int_equal(merkle_root(0, NULL, NULL, got), ERR_OK);
	assert_memory_equal(got, empty, HLEN);
	merkle_frontier_init(&f);
	merkle_frontier_root(&f, got);
	assert_memory_equal(got, empty, HLEN);
}

/* ------------------------------------------------------------------ */
/* Property tests against the naive implementation. */

struct fixture {
	struct naive t;
};

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (fx == NULL)
		return -1;
	naive_init(&fx->t, NAIVE_MAX);
	uniform_init();
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	naive_free(&fx->t);
	free(fx);
	return 0;
}

/* Node reads a proof of a tree of `size` leaves may take. */
static unsigned
max_calls(uint64_t size)
{
	return 2 * bitlen(size) + 2;
}

static void
test_roots(void **state)
{
	struct fixture *fx = *state;
	struct merkle_frontier f;
	struct tree_ctx c = { .t = &fx->t };
	uint8_t got[HLEN];
	uint64_t size;

	merkle_frontier_init(&f);
	for (size = 1; size <= NAIVE_MAX; size++) {
		const uint8_t *want = naive_mth(&fx->t, 0, size);

		merkle_frontier_append(&f, fx->t.leaves[size - 1]);
		assert_int_equal(f.size, size);
		merkle_frontier_root(&f, got);
		assert_memory_equal(got, want, HLEN);

		c.size = size;
		c.calls = 0;
		assert_int_equal(merkle_root(size, naive_node, &c, got),
		    ERR_OK);
		assert_memory_equal(got, want, HLEN);
		assert_true(c.calls <= bitlen(size));
	}
}

static void
test_inclusion_proofs(void **state)
{
	struct fixture *fx = *state;
	struct tree_ctx c = { .t = &fx->t };
	uint8_t proof[MERKLE_MAX_PROOF][HLEN], want[MERKLE_MAX_PROOF][HLEN];
	uint8_t root[HLEN], leaf[HLEN];
	uint64_t size, index, pairs = 0;
	size_t n, wn, i;

	for (size = 1; size <= NAIVE_MAX; size++) {
		memcpy(root, naive_mth(&fx->t, 0, size), HLEN);
		for (index = 0; index < size; index++) {
			c.size = size;
			c.calls = 0;
			assert_int_equal(merkle_prove_inclusion(index, size,
			    naive_node, &c, proof, &n), ERR_OK);
			assert_true(c.calls <= max_calls(size));
			wn = 0;
			naive_path(&fx->t, index, 0, size, want, &wn);
			assert_int_equal(n, wn);
			if (n > 0)
				assert_memory_equal(proof, want, n * HLEN);
			memcpy(leaf, fx->t.leaves[index], HLEN);
			assert_int_equal(merkle_verify_inclusion(index, size,
			    leaf, proof, n, root), ERR_OK);
			/* The path also proves the leaf in subtree [0, size). */
			assert_int_equal(merkle_verify_subtree_inclusion(index,
			    0, size, leaf, proof, n, root), ERR_OK);

			if (pairs++ % 7 != 0)
				continue;
			for (i = 0; i < n; i++) {
				proof[i][i % HLEN] ^= 0x01;
				assert_int_equal(merkle_verify_inclusion(index,
				    size, leaf, proof, n, root), ERR_PROOF);
				proof[i][i % HLEN] ^= 0x01;
			}
			root[index % HLEN] ^= 0x80;
			assert_int_equal(merkle_verify_inclusion(index, size,
			    leaf, proof, n, root), ERR_PROOF);
			root[index % HLEN] ^= 0x80;
			leaf[0] ^= 0x40;
			assert_int_equal(merkle_verify_inclusion(index, size,
			    leaf, proof, n, root), ERR_PROOF);
			leaf[0] ^= 0x40;
			if (n > 0)
				assert_int_equal(merkle_verify_inclusion(index,
				    size, leaf, proof, n - 1, root), ERR_PROOF);
			assert_int_equal(merkle_verify_inclusion(index, size,
			    leaf, proof, n + 1, root), ERR_PROOF);
			assert_int_equal(merkle_verify_inclusion(size, size,
			    leaf, proof, n, root), ERR_RANGE);
		}
	}
	assert_int_equal(pairs, (uint64_t)NAIVE_MAX * (NAIVE_MAX + 1) / 2);
}

static void
test_consistency_proofs(void **state)
{
	struct fixture *fx = *state;
	struct tree_ctx c = { .t = &fx->t };
	uint8_t proof[MERKLE_MAX_PROOF][HLEN], want[MERKLE_MAX_PROOF][HLEN];
	uint8_t root1[HLEN], root2[HLEN];
	uint64_t m, size, pairs = 0;
	size_t n, wn, i;

	for (size = 1; size <= NAIVE_MAX; size++) {
		memcpy(root2, naive_mth(&fx->t, 0, size), HLEN);
		for (m = 1; m <= size; m++) {
			memcpy(root1, naive_mth(&fx->t, 0, m), HLEN);
			c.size = size;
			c.calls = 0;
			assert_int_equal(merkle_prove_consistency(m, size,
			    naive_node, &c, proof, &n), ERR_OK);
			assert_true(c.calls <= max_calls(size));
			wn = 0;
			naive_subproof(&fx->t, m, 0, size, 1, want, &wn);
			assert_int_equal(n, wn);
			if (n > 0)
				assert_memory_equal(proof, want, n * HLEN);
			assert_int_equal(merkle_verify_consistency(m, size,
			    root1, root2, proof, n), ERR_OK);
			/* A prefix is a subtree; the proofs are the same. */
			assert_int_equal(merkle_verify_subtree_consistency(0, m,
			    size, root1, root2, proof, n), ERR_OK);

			if (pairs++ % 7 != 0)
				continue;
			for (i = 0; i < n; i++) {
				proof[i][(i * 5) % HLEN] ^= 0x10;
				assert_int_equal(merkle_verify_consistency(m,
				    size, root1, root2, proof, n), ERR_PROOF);
				assert_int_equal(merkle_verify_subtree_consistency(
				    0, m, size, root1, root2, proof, n),
				    ERR_PROOF);
				proof[i][(i * 5) % HLEN] ^= 0x10;
			}
			root1[m % HLEN] ^= 0x02;
			assert_int_equal(merkle_verify_consistency(m, size,
			    root1, root2, proof, n), ERR_PROOF);
			root1[m % HLEN] ^= 0x02;
			root2[size % HLEN] ^= 0x04;
			assert_int_equal(merkle_verify_consistency(m, size,
			    root1, root2, proof, n), ERR_PROOF);
			root2[size % HLEN] ^= 0x04;
			if (n > 0)
				assert_int_equal(merkle_verify_consistency(m,
				    size, root1, root2, proof, n - 1), ERR_PROOF);
			assert_int_equal(merkle_verify_consistency(m, size,
			    root1, root2, proof, n + 1), ERR_PROOF);
		}
	}
	assert_int_equal(pairs, (uint64_t)NAIVE_MAX * (NAIVE_MAX + 1) / 2);
}

/* Largest tree of the subtree property tests. */
#define SUBTREE_MAX 256

static void
test_subtree_inclusion(void **state)
{
	struct fixture *fx = *state;
	uint8_t proof[MERKLE_MAX_PROOF][HLEN], root[HLEN], leaf[HLEN];
	uint64_t start, end, index, cases = 0;
	size_t n, i;

	for (end = 0; end <= SUBTREE_MAX; end++) {
		for (start = 0; start <= end + 1; start++) {
			int valid = naive_subtree_valid(start, end);

			merkle_empty_root(root);
			memcpy(leaf, fx->t.leaves[0], HLEN);
			if (!valid) {
				assert_int_equal(merkle_verify_subtree_inclusion(
				    start, start, end, leaf, NULL, 0, root),
				    ERR_INVAL);
				continue;
			}
			if (start >= end) {
				assert_int_equal(merkle_verify_subtree_inclusion(
				    start, start, end, leaf, NULL, 0, root),
				    ERR_RANGE);
				continue;
			}
			memcpy(root, naive_mth(&fx->t, start, end - start),
			    HLEN);
			if (start > 0)
				assert_int_equal(merkle_verify_subtree_inclusion(
				    start - 1, start, end, leaf, NULL, 0, root),
				    ERR_RANGE);
			assert_int_equal(merkle_verify_subtree_inclusion(end,
			    start, end, leaf, NULL, 0, root), ERR_RANGE);
			for (index = start; index < end; index++) {
				n = 0;
				naive_path(&fx->t, index - start, start,
				    end - start, proof, &n);
				memcpy(leaf, fx->t.leaves[index], HLEN);
				assert_int_equal(merkle_verify_subtree_inclusion(
				    index, start, end, leaf, proof, n, root),
				    ERR_OK);
				if (cases++ % 7 != 0)
					continue;
				for (i = 0; i < n; i++) {
					proof[i][3] ^= 0x20;
					assert_int_equal(
					    merkle_verify_subtree_inclusion(index,
					    start, end, leaf, proof, n, root),
					    ERR_PROOF);
					proof[i][3] ^= 0x20;
				}
				root[7] ^= 0x01;
				assert_int_equal(merkle_verify_subtree_inclusion(
				    index, start, end, leaf, proof, n, root),
				    ERR_PROOF);
				root[7] ^= 0x01;
			}
		}
	}
	print_message("subtree inclusion: %llu proofs checked\n",
	    (unsigned long long)cases);
}

static void
test_subtree_consistency(void **state)
{
	struct fixture *fx = *state;
	uint8_t proof[MERKLE_MAX_PROOF][HLEN], sub[HLEN], root[HLEN];
	uint8_t empty[HLEN];
	uint64_t size, start, end, cases = 0;
	size_t n, i;

	merkle_empty_root(empty);
	for (size = 1; size <= SUBTREE_MAX; size++) {
		memcpy(root, naive_mth(&fx->t, 0, size), HLEN);
		for (start = 0; start <= size; start++) {
			for (end = start; end <= size; end++) {
				if (!naive_subtree_valid(start, end)) {
					assert_int_equal(
					    merkle_verify_subtree_consistency(
					    start, end, size, empty, root, NULL,
					    0), ERR_INVAL);
					continue;
				}
				memcpy(sub, naive_mth(&fx->t, start,
				    end - start), HLEN);
				n = 0;
				naive_subtree_consistency(&fx->t, start, end,
				    0, size, 1, proof, &n);
				assert_int_equal(
				    merkle_verify_subtree_consistency(start,
				    end, size, sub, root, proof, n), ERR_OK);
				if (start == end || cases++ % 7 != 0)
					continue;
				for (i = 0; i < n; i++) {
					proof[i][i % HLEN] ^= 0x08;
					assert_int_equal(
					    merkle_verify_subtree_consistency(
					    start, end, size, sub, root, proof,
					    n), ERR_PROOF);
					proof[i][i % HLEN] ^= 0x08;
				}
				sub[1] ^= 0x01;
				assert_int_equal(
				    merkle_verify_subtree_consistency(start,
				    end, size, sub, root, proof, n), ERR_PROOF);
				sub[1] ^= 0x01;
				root[2] ^= 0x01;
				assert_int_equal(
				    merkle_verify_subtree_consistency(start,
				    end, size, sub, root, proof, n), ERR_PROOF);
				root[2] ^= 0x01;
				assert_int_equal(
				    merkle_verify_subtree_consistency(start,
				    end, size, sub, root, proof, n + 1),
				    ERR_PROOF);
			}
		}
		/* An empty subtree beyond the tree. */
		assert_int_equal(merkle_verify_subtree_consistency(size + 1,
		    size + 1, size, empty, root, NULL, 0), ERR_RANGE);
	}
	print_message("subtree consistency: %llu proofs checked\n",
	    (unsigned long long)cases);
}

/* ------------------------------------------------------------------ */
/* Huge trees, errors and argument checks. */

static uint64_t
xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* A random size with a random number of bits, so both ends get coverage. */
static uint64_t
random_size(uint64_t *s)
{
	uint64_t v = xorshift(s);
	unsigned bits = (unsigned)(xorshift(s) % 65);

	if (bits < 64)
		v &= ((uint64_t)1 << bits) - 1;
	return v == 0 ? 1 : v;
}

static void
uniform_root(uint64_t size, uint8_t out[HLEN])
{
	struct tree_ctx c = { .size = size };

	assert_int_equal(merkle_root(size, uniform_node, &c, out), ERR_OK);
	assert_true(c.calls <= 64);
}

static void
test_huge_trees(void **state)
{
	uint8_t proof[MERKLE_MAX_PROOF][HLEN], root1[HLEN], root2[HLEN];
	uint8_t got[HLEN];
	struct merkle_frontier f;
	struct tree_ctx c;
	uint64_t seed = 0x9e3779b97f4a7c15ULL, size, m, index;
	size_t n;
	unsigned i, level;

	(void)state;
	for (i = 0; i < 3000; i++) {
		size = random_size(&seed);
		m = random_size(&seed);
		if (i % 5 == 0)
			size = UINT64_MAX - (i % 3);
		if (m > size) {
			uint64_t tmp = m;

			m = size;
			size = tmp;
		}
		index = xorshift(&seed) % size;
		if (i % 11 == 0)
			index = size - 1;
		uniform_root(size, root2);
		uniform_root(m, root1);

		/* The frontier of a uniform tree can be written down. */
		memset(&f, 0, sizeof(f));
		f.size = size;
		for (level = 0; level < 64; level++) {
			if ((size >> level) & 1)
				memcpy(f.hashes[level], uniform[level], HLEN);
		}
		merkle_frontier_root(&f, got);
		assert_memory_equal(got, root2, HLEN);

		c = (struct tree_ctx){ .size = size };
		assert_int_equal(merkle_prove_inclusion(index, size,
		    uniform_node, &c, proof, &n), ERR_OK);
		assert_true(c.calls <= 2 * 64 + 2);
		assert_true(n <= 64);
		assert_int_equal(merkle_verify_inclusion(index, size,
		    uniform[0], proof, n, root2), ERR_OK);

		c = (struct tree_ctx){ .size = size };
		assert_int_equal(merkle_prove_consistency(m, size,
		    uniform_node, &c, proof, &n), ERR_OK);
		assert_true(c.calls <= 2 * 64 + 2);
		assert_true(n <= 65);
		assert_int_equal(merkle_verify_consistency(m, size, root1,
		    root2, proof, n), ERR_OK);
		assert_int_equal(merkle_verify_subtree_consistency(0, m, size,
		    root1, root2, proof, n), ERR_OK);
	}

	/* Appending to the largest trees. */
	memset(&f, 0, sizeof(f));
	f.size = UINT64_MAX - 1;
	for (level = 1; level < 64; level++)
		memcpy(f.hashes[level], uniform[level], HLEN);
	merkle_frontier_append(&f, uniform[0]);
	assert_true(f.size == UINT64_MAX);
	merkle_frontier_root(&f, got);
	uniform_root(UINT64_MAX, root2);
	assert_memory_equal(got, root2, HLEN);
	merkle_frontier_append(&f, uniform[0]);
	assert_true(f.size == UINT64_MAX);
	merkle_frontier_root(&f, got);
	assert_memory_equal(got, root2, HLEN);

	/* A subtree of 2^63 + 2 leaves can only start at 0. */
	assert_int_equal(merkle_verify_subtree_inclusion(1, 1,
	    ((uint64_t)1 << 63) + 2, uniform[0], NULL, 0, root2), ERR_INVAL);
	/* 2^62 + 1 leaves need a start aligned to 2^63. */
	assert_int_equal(merkle_verify_subtree_consistency((uint64_t)1 << 62,
	    ((uint64_t)1 << 63) + 1, UINT64_MAX, root1, root2, NULL, 0),
	    ERR_INVAL);
	/* But [2^63, 2^64 - 1) is the right half of the largest tree. */
	assert_int_equal(merkle_verify_subtree_consistency((uint64_t)1 << 63,
	    UINT64_MAX, UINT64_MAX, root1, root2, NULL, 0), ERR_PROOF);
}

static void
test_node_errors(void **state)
{
	struct fixture *fx = *state;
	uint8_t proof[MERKLE_MAX_PROOF][HLEN], root[HLEN], zero[HLEN] = { 0 };
	struct tree_ctx c = { .t = &fx->t, .size = 300 };
	unsigned calls, k;
	size_t n;

	/* Count the reads each call makes, then fail each of them in turn. */
	c.calls = 0;
	assert_int_equal(merkle_root(300, naive_node, &c, root), ERR_OK);
	calls = c.calls;
	for (k = 1; k <= calls; k++) {
		c.calls = 0;
		c.fail_at = k;
		assert_int_equal(merkle_root(300, naive_node, &c, root),
		    ERR_IO);
		assert_memory_equal(root, zero, HLEN);
	}

	c.fail_at = 0;
	c.calls = 0;
	assert_int_equal(merkle_prove_inclusion(37, 300, naive_node, &c,
	    proof, &n), ERR_OK);
	calls = c.calls;
	for (k = 1; k <= calls; k++) {
		c.calls = 0;
		c.fail_at = k;
		n = 99;
		assert_int_equal(merkle_prove_inclusion(37, 300, naive_node,
		    &c, proof, &n), ERR_IO);
		assert_int_equal(n, 0);
	}

	c.fail_at = 0;
	c.calls = 0;
	assert_int_equal(merkle_prove_consistency(37, 300, naive_node, &c,
	    proof, &n), ERR_OK);
	calls = c.calls;
	for (k = 1; k <= calls; k++) {
		c.calls = 0;
		c.fail_at = k;
		n = 99;
		assert_int_equal(merkle_prove_consistency(37, 300, naive_node,
		    &c, proof, &n), ERR_IO);
		assert_int_equal(n, 0);
	}

	c.fail_at = 0;
	assert_int_equal(merkle_prove_inclusion(300, 300, naive_node, &c,
	    proof, &n), ERR_RANGE);
	assert_int_equal(merkle_prove_inclusion(0, 0, naive_node, &c,
	    proof, &n), ERR_RANGE);
	assert_int_equal(merkle_prove_inclusion(0, 1, NULL, &c, proof, &n),
	    ERR_INVAL);
	assert_int_equal(merkle_prove_consistency(0, 300, naive_node, &c,
	    proof, &n), ERR_RANGE);
	assert_int_equal(merkle_prove_consistency(301, 300, naive_node, &c,
	    proof, &n), ERR_RANGE);
	assert_int_equal(merkle_prove_consistency(300, 300, naive_node, &c,
	    proof, &n), ERR_OK);
	assert_int_equal(n, 0);
	assert_int_equal(merkle_root(1, NULL, NULL, root), ERR_INVAL);

	/* Verifiers: a NULL proof with a non-zero length, empty trees. */
	assert_int_equal(merkle_verify_inclusion(0, 2, zero, NULL, 1, zero),
	    ERR_INVAL);
	assert_int_equal(merkle_verify_inclusion(0, 0, zero, NULL, 0, zero),
	    ERR_RANGE);
	assert_int_equal(merkle_verify_consistency(0, 0, zero, zero, NULL, 0),
	    ERR_RANGE);
	assert_int_equal(merkle_verify_consistency(2, 1, zero, zero, NULL, 0),
	    ERR_RANGE);
	assert_int_equal(merkle_verify_consistency(1, 2, zero, zero, NULL, 1),
	    ERR_INVAL);
	assert_int_equal(merkle_verify_consistency(1, 2, zero, zero, NULL, 0),
	    ERR_PROOF);
	assert_int_equal(merkle_verify_consistency(3, 3, zero, zero, NULL, 0),
	    ERR_OK);
}

/* ------------------------------------------------------------------ */
/* transparency-dev/merkle vectors. */

enum vector_kind {
	KIND_INCLUSION,
	KIND_CONSISTENCY,
	KIND_SUBTREE_INCLUSION,
	KIND_SUBTREE_CONSISTENCY,
};

struct vector_stats {
	unsigned files;
	unsigned want_err;
	unsigned odd_length_pass;
	unsigned failures;
};

/*
 * Jansson cannot hold integers above INT64_MAX, and the vectors have some
 * (2^64 - 1, 2^63 + 2). Quote every number outside a string so that it
 * parses as a string, then read it with strtoull().
 */
static char *
quote_numbers(const char *in, size_t len)
{
	char *out = malloc(3 * len + 1), *p = out;
	int in_string = 0, escaped = 0;
	size_t i = 0;

	assert_non_null(out);
	while (i < len) {
		char ch = in[i];

		if (in_string) {
			if (escaped)
				escaped = 0;
			else if (ch == '\\')
				escaped = 1;
			else if (ch == '"')
				in_string = 0;
			*p++ = in[i++];
		} else if (ch == '"') {
			in_string = 1;
			*p++ = in[i++];
		} else if (ch == '-' || (ch >= '0' && ch <= '9')) {
			*p++ = '"';
			while (i < len && (in[i] == '-' || in[i] == '+' ||
			    in[i] == '.' || in[i] == 'e' || in[i] == 'E' ||
			    (in[i] >= '0' && in[i] <= '9')))
				*p++ = in[i++];
			*p++ = '"';
		} else {
			*p++ = in[i++];
		}
	}
	*p = '\0';
	return out;
}

static char *
read_file(const char *path, size_t *lenp)
{
	FILE *fp = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, len = 0, got;

	assert_non_null(fp);
	for (;;) {
		if (len == cap) {
			cap = cap == 0 ? 4096 : 2 * cap;
			buf = realloc(buf, cap + 1);
			assert_non_null(buf);
		}
		got = fread(buf + len, 1, cap - len, fp);
		len += got;
		if (got == 0)
			break;
	}
	assert_int_equal(ferror(fp), 0);
	fclose(fp);
	buf[len] = '\0';
	*lenp = len;
	return buf;
}

static uint64_t
get_u64(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	const char *s;
	char *end;
	unsigned long long x;

	assert_non_null(v);
	assert_true(json_is_string(v));
	s = json_string_value(v);
	assert_true(s[0] >= '0' && s[0] <= '9');
	errno = 0;
	x = strtoull(s, &end, 10);
	assert_int_equal(errno, 0);
	assert_true(*end == '\0');
	return (uint64_t)x;
}

/*
 * Decodes a base64 hash for the fixed-size API. The Go verifier takes
 * byte slices: it rejects a leaf hash of the wrong length up front, hashes
 * proof entries of any length, and compares roots with bytes.Equal, so a
 * wrong-length root can still pass where the verifier only compares two
 * roots from the caller (sizes equal) or ignores the tree root (empty
 * subtree). To keep those semantics, a value shorter than 32 bytes becomes
 * the value, zero padding and a last byte of 0xe0 + length: equal inputs
 * stay equal, different ones different, and none equals a computed SHA-256
 * but by chance. Sets *exact to whether the value was 32 bytes long.
 * Returns -1 if it is not base64 or longer than 32 bytes.
 */
static int
decode_hash(json_t *v, uint8_t out[HLEN], int *exact)
{
	uint8_t buf[3 * HLEN];
	const char *s = "";
	size_t len = 0;

	*exact = 0;
	memset(out, 0, HLEN);
	if (v != NULL && !json_is_null(v)) {
		if (!json_is_string(v))
			return -1;
		s = json_string_value(v);
	}
	if (sodium_base642bin(buf, sizeof(buf), s, strlen(s), NULL, &len,
	    NULL, sodium_base64_VARIANT_ORIGINAL) != 0)
		return -1;
	if (len > HLEN)
		return -1;
	memcpy(out, buf, len);
	if (len == HLEN) {
		*exact = 1;
		return 0;
	}
	out[HLEN - 1] = (uint8_t)(0xe0 + len);
	return 0;
}

static int
verify_vector(enum vector_kind kind, json_t *obj, int *odd_length)
{
	uint8_t h1[HLEN], h2[HLEN], (*proof)[HLEN] = NULL;
	json_t *jproof = json_object_get(obj, "proof");
	size_t n = 0, i;
	int exact1, exact2, exact, r = ERR_INTERNAL;
	const char *k1, *k2;

	*odd_length = 0;
	k1 = kind == KIND_INCLUSION || kind == KIND_SUBTREE_INCLUSION ?
	    "leafHash" : "root1";
	k2 = kind == KIND_INCLUSION || kind == KIND_SUBTREE_INCLUSION ?
	    "root" : "root2";
	if (decode_hash(json_object_get(obj, k1), h1, &exact1) != 0 ||
	    decode_hash(json_object_get(obj, k2), h2, &exact2) != 0)
		return ERR_FORMAT;
	*odd_length = !exact1 || !exact2;
	if (jproof != NULL && !json_is_null(jproof)) {
		assert_true(json_is_array(jproof));
		n = json_array_size(jproof);
		if (n > 0) {
			proof = calloc(n, HLEN);
			assert_non_null(proof);
		}
		for (i = 0; i < n; i++) {
			if (decode_hash(json_array_get(jproof, i), proof[i],
			    &exact) != 0) {
				r = ERR_FORMAT;
				goto out;
			}
		}
	}

	switch (kind) {
	case KIND_INCLUSION:
		r = merkle_verify_inclusion(get_u64(obj, "leafIdx"),
		    get_u64(obj, "treeSize"), h1, proof, n, h2);
		break;
	case KIND_SUBTREE_INCLUSION:
		r = merkle_verify_subtree_inclusion(get_u64(obj, "leafIdx"),
		    get_u64(obj, "start"), get_u64(obj, "end"), h1, proof, n,
		    h2);
		break;
	case KIND_CONSISTENCY:
		r = merkle_verify_consistency(get_u64(obj, "size1"),
		    get_u64(obj, "size2"), h1, h2, proof, n);
		break;
	case KIND_SUBTREE_CONSISTENCY:
		r = merkle_verify_subtree_consistency(get_u64(obj, "start"),
		    get_u64(obj, "end"), get_u64(obj, "size"), h1, h2, proof,
		    n);
		break;
	}
	/* The Go verifier refuses a leaf hash of the wrong length. */
	if (r == ERR_OK && !exact1 &&
	    (kind == KIND_INCLUSION || kind == KIND_SUBTREE_INCLUSION))
		r = ERR_FORMAT;
 out:
	free(proof);
	return r;
}

static void
run_vector(const char *path, enum vector_kind kind, struct vector_stats *st)
{
	json_error_t jerr;
	json_t *obj, *want;
	char *text, *quoted;
	size_t len;
	int r, want_err, odd_length;

	text = read_file(path, &len);
	quoted = quote_numbers(text, len);
	obj = json_loads(quoted, 0, &jerr);
	if (obj == NULL)
		fail_msg("%s: %s", path, jerr.text);
	want = json_object_get(obj, "wantErr");
	assert_true(json_is_boolean(want));
	want_err = json_is_true(want);

	r = verify_vector(kind, obj, &odd_length);
	st->files++;
	st->want_err += want_err;
	if (!want_err && odd_length)
		st->odd_length_pass++;
	if ((r != ERR_OK) != want_err) {
		st->failures++;
		print_error("%s: got %s, want %s\n", path, err_str(r),
		    want_err ? "an error" : "success");
	}
	json_decref(obj);
	free(quoted);
	free(text);
}

static int
has_suffix(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && strcmp(s + a - b, suffix) == 0;
}

static void
walk(const char *dir, enum vector_kind kind, struct vector_stats *st)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	struct stat sb;
	char path[4096];

	if (d == NULL)
		fail_msg("cannot open '%s': %s", dir, strerror(errno));
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		assert_true((size_t)snprintf(path, sizeof(path), "%s/%s", dir,
		    de->d_name) < sizeof(path));
		assert_int_equal(stat(path, &sb), 0);
		if (S_ISDIR(sb.st_mode))
			walk(path, kind, st);
		else if (S_ISREG(sb.st_mode) && has_suffix(de->d_name, ".json"))
			run_vector(path, kind, st);
	}
	closedir(d);
}

static void
test_vectors(void **state)
{
	static const struct {
		const char *dir;
		enum vector_kind kind;
		unsigned count;
	} sets[] = {
		{ "inclusion", KIND_INCLUSION, VECTORS_INCLUSION },
		{ "consistency", KIND_CONSISTENCY, VECTORS_CONSISTENCY },
		{ "subtreeinclusion", KIND_SUBTREE_INCLUSION,
		    VECTORS_SUBTREE_INCLUSION },
		{ "subtreeconsistency", KIND_SUBTREE_CONSISTENCY,
		    VECTORS_SUBTREE_CONSISTENCY },
	};
	struct vector_stats total = { 0 };
	char dir[4096];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
		struct vector_stats st = { 0 };

		assert_true((size_t)snprintf(dir, sizeof(dir), "%s/merkle/%s",
		    TESTDATA_DIR, sets[i].dir) < sizeof(dir));
		walk(dir, sets[i].kind, &st);
		print_message("%s: %u vectors, %u want an error, %u failed\n",
		    sets[i].dir, st.files, st.want_err, st.failures);
		assert_int_equal(st.files, sets[i].count);
		total.files += st.files;
		total.want_err += st.want_err;
		total.odd_length_pass += st.odd_length_pass;
		total.failures += st.failures;
	}
	assert_int_equal(total.files, VECTORS_TOTAL);
	assert_int_equal(total.failures, 0);
	assert_int_equal(total.odd_length_pass, VECTORS_ODD_LENGTH_PASS);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_answers),
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_roots),
		cmocka_unit_test(test_inclusion_proofs),
		cmocka_unit_test(test_consistency_proofs),
		cmocka_unit_test(test_subtree_inclusion),
		cmocka_unit_test(test_subtree_consistency),
		cmocka_unit_test(test_huge_trees),
		cmocka_unit_test(test_node_errors),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, setup, teardown);
}
