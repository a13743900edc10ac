/*
 * test_chunker.c - FastCDC chunking and keyed chunk IDs.
 *
 * The property that matters most is that boundaries depend only on the key,
 * the parameters and the bytes: the streaming interface fed in pieces of
 * any size must agree with the one-shot one, and both with a naive
 * reference that hashes every byte one at a time from the chunk start
 * (no skip-to-min, no two-byte step). Then the statistics (bounds, mean),
 * shift resistance, keying, degenerate inputs, and a regression vector.
 *
 * Data comes from splitmix64, so every run sees the same bytes. Under
 * AddressSanitizer sizes and chunk parameters shrink by SCALE together, so
 * the same properties are checked in reasonable time.
 *
 * BULWARK_CHUNKER_BENCH=1 in the environment makes test_bench print the
 * one-shot and streaming throughput over 256 MiB.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <sodium.h>

#include "backup/chunker.h"
#include "common/banned.h"

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifdef SANITIZED
#define SCALE 16
#else
#define SCALE 1
#endif

#define MIB (1024u * 1024)

/* ------------------------------------------------------------------ */
/* Helpers. */

static uint64_t
splitmix64(uint64_t *s)
{
	uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static uint8_t *
random_data(size_t n, uint64_t seed)
{
	uint8_t *p = malloc(n > 0 ? n : 1);
	size_t i;

	assert_non_null(p);
	for (i = 0; i < n; i += 8) {
		uint64_t v = splitmix64(&seed);
		size_t k = n - i < 8 ? n - i : 8;

		memcpy(p + i, &v, k);
	}
	return p;
}

static void
test_key(uint8_t key[CHUNKER_KEY_LEN], uint8_t first)
{
	unsigned i;

	for (i = 0; i < CHUNKER_KEY_LEN; i++)
		key[i] = (uint8_t)(first + i);
}

static void
init_chunker(struct chunker *c, uint8_t keybyte,
    const struct chunker_params *p)
{
	uint8_t key[CHUNKER_KEY_LEN];

	test_key(key, keybyte);
	assert_int_equal(chunker_init(c, key, p), ERR_OK);
}

/* The default parameters divided by SCALE. */
static struct chunker_params
scaled_params(void)
{
	struct chunker_params p = {
		CHUNKER_MIN / SCALE, CHUNKER_AVG / SCALE, CHUNKER_MAX / SCALE
	};

	return p;
}

/* Chunk ends (offsets one past each chunk), as found by some method. */
struct cuts {
	size_t *end;
	size_t n;
	size_t cap;
};

static void
cuts_init(struct cuts *k, size_t datalen, size_t min)
{
	k->cap = datalen / min + 2;
	k->n = 0;
	k->end = calloc(k->cap, sizeof(*k->end));
	assert_non_null(k->end);
}

static void
cuts_push(struct cuts *k, size_t end)
{
	assert_true(k->n < k->cap);
	k->end[k->n++] = end;
}

static void
cuts_free(struct cuts *k)
{
	free(k->end);
	k->end = NULL;
}

static void
assert_cuts_equal(const struct cuts *a, const struct cuts *b)
{
	size_t i;

	assert_int_equal(a->n, b->n);
	for (i = 0; i < a->n; i++)
		assert_int_equal(a->end[i], b->end[i]);
}

static void
cuts_oneshot(const struct chunker *c, const uint8_t *p, size_t n,
    struct cuts *k)
{
	size_t off = 0;

	cuts_init(k, n, c->min);
	while (off < n) {
		size_t len = chunker_cut(c, p + off, n - off, 1);

		assert_true(len > 0);
		off += len;
		cuts_push(k, off);
	}
}

/*
 * Feeds p to the streaming interface in pieces whose sizes come from
 * next_piece(), checking each step's contract on the way.
 */
static void
cuts_stream(struct chunker *c, const uint8_t *p, size_t n,
    size_t (*next_piece)(uint64_t *), uint64_t seed, struct cuts *k)
{
	size_t off = 0, chunk = 0, last;

	cuts_init(k, n, c->min);
	chunker_reset(c);
	while (off < n) {
		size_t piece = next_piece(&seed);

		if (piece > n - off)
			piece = n - off;
		while (piece > 0) {
			int cut = -1;
			size_t used = chunker_next(c, p + off, piece, &cut);

			assert_true(cut == 0 || cut == 1);
			assert_true(used <= piece);
			if (!cut)
				assert_int_equal(used, piece);
			chunk += used;
			off += used;
			piece -= used;
			if (cut) {
				assert_true(chunk > 0);
				cuts_push(k, off);
				chunk = 0;
			}
		}
	}
	last = chunker_finish(c);
	assert_int_equal(last, chunk);
	if (last > 0)
		cuts_push(k, off);
	assert_int_equal(chunker_finish(c), 0);
}

/*
 * The definition, one byte at a time: the gear hash from the chunk start,
 * tested at every length from min on with the mask for that length, forced
 * at max. The chunker must agree although it skips to min - 64 and steps
 * two bytes at a time.
 */
static void
cuts_reference(const struct chunker *c, const uint8_t *p, size_t n,
    struct cuts *k)
{
	size_t start = 0;

	cuts_init(k, n, c->min);
	while (start < n) {
		uint64_t h = 0;
		size_t len;

		for (len = 1; start + len <= n; len++) {
			uint64_t mask = len < c->avg ? c->mask_s : c->mask_l;

			h = (h << 1) + c->gear[p[start + len - 1]];
			if (len == c->max ||
			    (len >= c->min && (h & mask) == 0))
				break;
		}
		if (start + len > n)
			len = n - start;
		start += len;
		cuts_push(k, start);
	}
}

static size_t
piece_whole(uint64_t *s)
{
	(void)s;
	return SIZE_MAX;
}

static size_t
piece_one(uint64_t *s)
{
	(void)s;
	return 1;
}

/* 1 byte to 6 MiB, with small pieces as likely as large ones. */
static size_t
piece_mixed(uint64_t *s)
{
	uint64_t r = splitmix64(s);
	static const size_t range[] = { 3, 64, 4096, MIB, 6 * MIB };

	return 1 + (size_t)((r >> 8) % range[r % 5]);
}

/* ------------------------------------------------------------------ */
/* Tests. */

static void
test_params(void **state)
{
	static const struct chunker_params bad[] = {
		{ 64, 96, 1024 },		/* avg not a power of two */
		{ 63, 256, 1024 },		/* min below the window */
		{ 512, 256, 1024 },		/* min above avg */
		{ 64, 256, 128 },		/* max below avg */
		{ 64, 32, 1024 },		/* avg too small */
		{ 64, 1u << 29, 1u << 30 },	/* avg too large */
		{ 64, 256, (1u << 30) + 1 },	/* max too large */
		{ 0, 0, 0 },
	};
	static const struct chunker_params good[] = {
		{ 64, 64, 64 },
		{ 64, 256, 1024 },
		{ 1u << 28, 1u << 28, 1u << 30 },
	};
	uint8_t key[CHUNKER_KEY_LEN], zero[sizeof(struct chunker)];
	struct chunker c;
	size_t i;

	(void)state;
	test_key(key, 1);
	memset(zero, 0, sizeof(zero));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&c, 0xa5, sizeof(c));
		assert_int_equal(chunker_init(&c, key, &bad[i]), ERR_INVAL);
		assert_memory_equal(&c, zero, sizeof(c));
	}
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_int_equal(chunker_init(&c, key, &good[i]), ERR_OK);

	assert_int_equal(chunker_init(&c, key, NULL), ERR_OK);
	assert_int_equal(c.min, CHUNKER_MIN);
	assert_int_equal(c.avg, CHUNKER_AVG);
	assert_int_equal(c.max, CHUNKER_MAX);
	/* Normalization level 2 around 2^20; bit 63 free for two-byte steps. */
	assert_int_equal(__builtin_popcountll(c.mask_s), 22);
	assert_int_equal(__builtin_popcountll(c.mask_l), 18);
	assert_true((c.mask_s >> 63) == 0 && (c.mask_l >> 63) == 0);
	chunker_release(&c);
	assert_memory_equal(&c, zero, sizeof(c));
}

/* Every chunk but the last within [min, max]; mean within 25% of avg. */
static void
test_bounds_and_mean(void **state)
{
	struct chunker_params p = scaled_params();
	size_t n = 64 * MIB / SCALE, i, prev = 0;
	uint8_t *data = random_data(n, 1);
	struct chunker c;
	struct cuts k;
	double mean;

	(void)state;
	init_chunker(&c, 7, &p);
	cuts_oneshot(&c, data, n, &k);
	assert_true(k.n > 2);
	for (i = 0; i < k.n; i++) {
		size_t len = k.end[i] - prev;

		assert_true(len <= p.max);
		if (i + 1 < k.n)
			assert_true(len >= p.min);
		prev = k.end[i];
	}
	assert_int_equal(prev, n);
	/* The last chunk is cut short by the end of the data: leave it out. */
	mean = (double)k.end[k.n - 2] / (double)(k.n - 1);
	assert_true(mean >= 0.75 * (double)p.avg);
	assert_true(mean <= 1.25 * (double)p.avg);
	cuts_free(&k);
	free(data);
}

/* Small parameters, many chunks: the chunker against the definition. */
static void
test_matches_reference(void **state)
{
	static const struct chunker_params params[] = {
		{ 64, 256, 1024 },
		{ 64, 64, 4096 },	/* min == avg: mask_l only */
		{ 100, 512, 512 },	/* avg == max: mask_s only */
		{ 300, 1024, 8000 },	/* odd min and max */
		{ 128, 128, 128 },	/* fixed-size chunks */
		{ 2048, 8192, 65536 },
	};
	size_t n = 4 * MIB / SCALE, i;
	uint8_t *data = random_data(n, 2);

	(void)state;
	for (i = 0; i < sizeof(params) / sizeof(params[0]); i++) {
		struct chunker c;
		struct cuts ref, one, stream;

		init_chunker(&c, (uint8_t)(10 + i), &params[i]);
		cuts_reference(&c, data, n, &ref);
		cuts_oneshot(&c, data, n, &one);
		cuts_stream(&c, data, n, piece_mixed, i, &stream);
		assert_cuts_equal(&ref, &one);
		assert_cuts_equal(&ref, &stream);
		cuts_free(&ref);
		cuts_free(&one);
		cuts_free(&stream);
	}
	free(data);
}

/*
 * The main property: the same cut points however the stream is split,
 * with the default parameters and pieces of 1 byte to 6 MiB, and with
 * small parameters fed one byte at a time.
 */
static void
test_split_invariance(void **state)
{
	static const struct chunker_params small = { 64, 256, 1024 };
	size_t n = 32 * MIB / SCALE, nsmall = 256 * 1024 / SCALE;
	uint8_t *data = random_data(n, 3);
	struct chunker c;
	struct cuts one, stream;
	uint64_t seed;

	(void)state;
	init_chunker(&c, 3, NULL);
	cuts_oneshot(&c, data, n, &one);
	for (seed = 0; seed < 4; seed++) {
		cuts_stream(&c, data, n, piece_mixed, seed, &stream);
		assert_cuts_equal(&one, &stream);
		cuts_free(&stream);
	}
	cuts_stream(&c, data, n, piece_whole, 0, &stream);
	assert_cuts_equal(&one, &stream);
	cuts_free(&stream);
	cuts_free(&one);

	init_chunker(&c, 4, &small);
	cuts_oneshot(&c, data, nsmall, &one);
	cuts_stream(&c, data, nsmall, piece_one, 0, &stream);
	assert_cuts_equal(&one, &stream);
	cuts_free(&stream);
	cuts_free(&one);
	free(data);
}

/*
 * 100 bytes inserted near the start: past the first boundary after the
 * insertion that both streams share, every boundary is the old one moved
 * by 100, and only a few chunks before it differ.
 */
static void
test_shift_resistance(void **state)
{
	const size_t n = 32 * MIB / SCALE, at = 1000, ins = 100;
	uint8_t *data = random_data(n, 5), *edited = random_data(n + ins, 6);
	struct chunker c;
	struct cuts a, b;
	size_t i, j, changed;

	(void)state;
	memcpy(edited, data, at);
	memcpy(edited + at + ins, data + at, n - at);
	init_chunker(&c, 5, NULL);
	cuts_oneshot(&c, data, n, &a);
	cuts_oneshot(&c, edited, n + ins, &b);
	/* Find the first shared boundary: b.end[j] == a.end[i] + ins. */
	for (i = 0, j = 0; i < a.n && j < b.n;) {
		if (b.end[j] == a.end[i] + ins)
			break;
		if (b.end[j] < a.end[i] + ins)
			j++;
		else
			i++;
	}
	assert_true(i < a.n && j < b.n);
	changed = j + 1;
	assert_true(changed <= 3);
	assert_int_equal(a.n - i, b.n - j);
	for (; i < a.n; i++, j++)
		assert_int_equal(b.end[j], a.end[i] + ins);
	cuts_free(&a);
	cuts_free(&b);
	free(data);
	free(edited);
}

static void
test_keys_differ(void **state)
{
	size_t n = 16 * MIB / SCALE, i, j, shared = 0;
	uint8_t *data = random_data(n, 7);
	struct chunker c1, c2;
	struct cuts a, b;

	(void)state;
	init_chunker(&c1, 1, NULL);
	init_chunker(&c2, 2, NULL);
	assert_memory_not_equal(c1.gear, c2.gear, sizeof(c1.gear));
	cuts_oneshot(&c1, data, n, &a);
	cuts_oneshot(&c2, data, n, &b);
	/* Boundaries other than the end of the data should all differ. */
	for (i = 0, j = 0; i + 1 < a.n && j + 1 < b.n;) {
		if (a.end[i] == b.end[j]) {
			shared++;
			i++;
			j++;
		} else if (a.end[i] < b.end[j]) {
			i++;
		} else {
			j++;
		}
	}
	assert_true(shared <= 1);
	cuts_free(&a);
	cuts_free(&b);
	free(data);
}

/*
 * Regression guard, not an external vector: this implementation's own
 * output for key 00 01 .. 1f and splitmix64 data from seed 42, recorded
 * when the module was written. A change here changes every boundary of
 * every repository (gear derivation, masks or cut rule): it needs a new
 * repository format version, not a new vector.
 */
static void
test_known_answer(void **state)
{
	static const uint64_t gear_first = UINT64_C(0x7f62ccfeb5a103e1);
	static const uint64_t gear_last = UINT64_C(0xbb503d386be7da72);
	static const size_t small_ends[] = {
		273, 559, 824, 994, 1272, 1530, 1803, 2069,
		2339, 2801, 3060, 3366, 3802, 4163, 4460, 4591,
	};
	static const size_t default_ends[] = {
		1269769, 2621096, 3902339, 5178283,
		6945524, 8163041, 9493203, 11056750,
	};
	static const struct chunker_params small = { 64, 256, 1024 };
	const size_t nsmall = sizeof(small_ends) / sizeof(small_ends[0]);
	const size_t ndefault = sizeof(default_ends) / sizeof(default_ends[0]);
	size_t n = 16 * MIB, i;
	uint8_t key[CHUNKER_KEY_LEN], *data = random_data(n, 42);
	struct chunker c;
	struct cuts k;

	(void)state;
	test_key(key, 0);
	assert_int_equal(chunker_init(&c, key, &small), ERR_OK);
	assert_true(c.gear[0] == gear_first);
	assert_true(c.gear[255] == gear_last);
	cuts_oneshot(&c, data, 16384, &k);
	assert_true(k.n >= nsmall);
	for (i = 0; i < nsmall; i++)
		assert_int_equal(k.end[i], small_ends[i]);
	cuts_free(&k);

	assert_int_equal(chunker_init(&c, key, NULL), ERR_OK);
	/* Only the first ndefault chunks: cheap enough under ASan too. */
	n = default_ends[ndefault - 1] + 1;
	cuts_oneshot(&c, data, n, &k);
	assert_true(k.n >= ndefault);
	for (i = 0; i < ndefault; i++)
		assert_int_equal(k.end[i], default_ends[i]);
	cuts_free(&k);
	free(data);
}

/* No content points in constant or short-period data: every cut at max. */
static void
test_degenerate_input(void **state)
{
	struct chunker_params p = scaled_params();
	size_t n = 4 * p.max + p.max / 2, i;
	uint8_t *data = malloc(n);
	static const char pattern[] = "abcdefg";
	int round;

	(void)state;
	assert_non_null(data);
	for (round = 0; round < 3; round++) {
		struct chunker c;
		struct cuts k;

		if (round == 0)
			memset(data, 0, n);
		else if (round == 1)
			memset(data, 0xff, n);
		else
			for (i = 0; i < n; i++)
				data[i] = (uint8_t)pattern[i % 7];
		init_chunker(&c, 9, &p);
		cuts_oneshot(&c, data, n, &k);
		assert_int_equal(k.n, 5);
		for (i = 0; i < 4; i++)
			assert_int_equal(k.end[i], (i + 1) * p.max);
		assert_int_equal(k.end[4], n);
		cuts_free(&k);
	}
	free(data);
}

static void
test_tiny_inputs(void **state)
{
	static const struct chunker_params small = { 64, 256, 1024 };
	uint8_t *data = random_data(2048, 8);
	struct chunker c;
	size_t n;
	int cut = -1;

	(void)state;
	init_chunker(&c, 8, NULL);
	/* Empty input: no chunk at all, and NULL is fine with length 0. */
	assert_int_equal(chunker_cut(&c, NULL, 0, 1), 0);
	assert_int_equal(chunker_cut(&c, NULL, 0, 0), 0);
	assert_int_equal(chunker_next(&c, NULL, 0, &cut), 0);
	assert_int_equal(cut, 0);
	assert_int_equal(chunker_finish(&c), 0);
	/* Below min there is no cut: one chunk at EOF, "need more" before. */
	for (n = 1; n <= 64; n++) {
		assert_int_equal(chunker_cut(&c, data, n, 1), n);
		assert_int_equal(chunker_cut(&c, data, n, 0), 0);
		assert_int_equal(chunker_next(&c, data, n, &cut), n);
		assert_int_equal(cut, 0);
		assert_int_equal(chunker_finish(&c), n);
	}

	/* With small parameters: a one-shot cut needs no EOF once found. */
	init_chunker(&c, 8, &small);
	n = chunker_cut(&c, data, 2048, 1);
	assert_true(n >= 64 && n <= 1024);
	assert_int_equal(chunker_cut(&c, data, n, 0), n);
	assert_int_equal(chunker_cut(&c, data, n - 1, 0), 0);
	assert_int_equal(chunker_cut(&c, data, n - 1, 1), n - 1);
	assert_int_equal(chunker_cut(&c, data, 2048, 0), n);
	/* The stream stops at the same byte, leaving the rest unread. */
	assert_int_equal(chunker_next(&c, data, 2048, &cut), n);
	assert_int_equal(cut, 1);
	assert_int_equal(chunker_finish(&c), 0);
	free(data);
}

static void
test_chunk_id(void **state)
{
	static const size_t sizes[] = { 0, 1, 63, 64, 65, 4096, 1234567 };
	uint8_t idkey[CHUNK_ID_KEY_LEN], other[CHUNK_ID_KEY_LEN];
	uint8_t id[CHUNK_ID_LEN], want[CHUNK_ID_LEN], id2[CHUNK_ID_LEN];
	uint8_t *data = random_data(1234567, 9);
	size_t i;

	(void)state;
	assert_true(sodium_init() >= 0);
	test_key(idkey, 0x40);
	test_key(other, 0x41);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		chunk_id(idkey, data, sizes[i], id);
		/* Without the key, the ID is not the plain hash... */
		crypto_hash_sha256(want, data, sizes[i]);
		assert_memory_not_equal(id, want, CHUNK_ID_LEN);
		/* ...and another key gives another ID. */
		chunk_id(other, data, sizes[i], id2);
		assert_memory_not_equal(id, id2, CHUNK_ID_LEN);
	}
	chunk_id(idkey, NULL, 0, id2);
	chunk_id(idkey, data, 0, id);
	assert_memory_equal(id, id2, CHUNK_ID_LEN);
	free(data);
}

/* Known answers: HMAC-SHA-256 with key 00 01 .. 1f (Python's hmac). */
static void
test_chunk_id_known(void **state)
{
	uint8_t key[CHUNK_ID_KEY_LEN], id[CHUNK_ID_LEN], want[CHUNK_ID_LEN];
	size_t got;

	(void)state;
	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)i;
	chunk_id(key, (const uint8_t *)"abc", 3, id);
	assert_int_equal(sodium_hex2bin(want, sizeof(want),
	    "f0133729c4163dede81e21cd47839256da58171238c8a0d874397c73b14e1e47",
	    64, NULL, &got, NULL), 0);
	assert_memory_equal(id, want, CHUNK_ID_LEN);
	chunk_id(key, NULL, 0, id);
	assert_int_equal(sodium_hex2bin(want, sizeof(want),
	    "d38b42096d80f45f826b44a9d5607de72496a415d3f4a1a8c88e3bb9da8dc1cb",
	    64, NULL, &got, NULL), 0);
	assert_memory_equal(id, want, CHUNK_ID_LEN);
}

static double
seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Throughput, only when asked for: BULWARK_CHUNKER_BENCH=1. */
static void
test_bench(void **state)
{
	const char *env = getenv("BULWARK_CHUNKER_BENCH");
	size_t n = 256 * MIB, off, chunks;
	uint8_t *data;
	struct chunker c;
	double t, best = 1e9, best_stream = 1e9;
	int rep;

	(void)state;
	if (env == NULL || strcmp(env, "1") != 0)
		skip();
	data = random_data(n, 10);
	init_chunker(&c, 10, NULL);
	for (rep = 0; rep < 5; rep++) {
		t = seconds();
		for (off = 0, chunks = 0; off < n; chunks++)
			off += chunker_cut(&c, data + off, n - off, 1);
		t = seconds() - t;
		best = t < best ? t : best;
	}
	for (rep = 0; rep < 5; rep++) {
		size_t stream_chunks = 0;

		t = seconds();
		/* 64 KiB reads, as from a file. */
		for (off = 0; off < n; off += 65536) {
			const uint8_t *p = data + off;
			size_t left = 65536;
			int cut;

			while (left > 0) {
				size_t k = chunker_next(&c, p, left, &cut);

				stream_chunks += (size_t)cut;
				p += k;
				left -= k;
			}
		}
		stream_chunks += chunker_finish(&c) > 0;
		t = seconds() - t;
		assert_int_equal(stream_chunks, chunks);
		best_stream = t < best_stream ? t : best_stream;
	}
	printf("chunker: one-shot %.2f GB/s, streaming (64 KiB reads) "
	    "%.2f GB/s, %zu chunks of mean %.0f bytes over %zu MiB\n",
	    (double)n / best / 1e9, (double)n / best_stream / 1e9, chunks,
	    (double)n / (double)chunks, n / MIB);
	free(data);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_params),
		cmocka_unit_test(test_bounds_and_mean),
		cmocka_unit_test(test_matches_reference),
		cmocka_unit_test(test_split_invariance),
		cmocka_unit_test(test_shift_resistance),
		cmocka_unit_test(test_keys_differ),
		cmocka_unit_test(test_known_answer),
		cmocka_unit_test(test_degenerate_input),
		cmocka_unit_test(test_tiny_inputs),
		cmocka_unit_test(test_chunk_id),
		cmocka_unit_test(test_chunk_id_known),
		cmocka_unit_test(test_bench),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
