/*
 * fuzz.c - libFuzzer harness for the FastCDC chunker.
 *
 * Input: a 12-byte header, then split lengths, then the data.
 *
 *   byte 0	avg = 2^(6 + byte % 5): 64 to 1024
 *   byte 1	min = 64 + byte % (avg - 63), so 64 <= min <= avg
 *   byte 2	max = avg + 4 * byte
 *   bytes 3-10	first bytes of the key (the rest is zero)
 *   byte 11	number of split lengths, s = byte % 32
 *   then s big-endian 16-bit piece lengths, used in turn (0 means an
 *   empty feed followed by a one-byte one)
 *
 * The data is chunked three ways: one-shot with chunker_cut(), streaming
 * in the fuzzer's pieces, and by a naive byte-at-a-time reference of the
 * cut rule. All three must agree, every chunk but the last must be within
 * [min, max], and chunker_cut() without EOF must give the same answer or
 * ask for more. Any violation aborts.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backup/chunker.h"
#include "common/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HEADER_LEN 12
#define MAX_SPLITS 31
/* Every chunk but the last is at least 64 bytes. */
#define MAX_CUTS (65536 / 64 + 2)
#define MAX_INPUT 65536

struct cut_list {
	size_t end[MAX_CUTS];
	size_t n;
};

static void
push(struct cut_list *k, size_t end)
{
	if (k->n >= MAX_CUTS)
		abort();
	k->end[k->n++] = end;
}

/* The cut rule as the header states it, without any of its shortcuts. */
static void
chunk_reference(const struct chunker *c, const uint8_t *p, size_t n,
    struct cut_list *k)
{
	size_t start = 0;

	while (start < n) {
		uint64_t h = 0;
		size_t len;

		for (len = 1; start + len <= n; len++) {
			uint64_t mask = len < c->avg ? c->mask_s : c->mask_l;

			h = (h << 1) + c->gear[p[start + len - 1]];
			if (len == c->max || (len >= c->min && (h & mask) == 0))
				break;
		}
		if (start + len > n)
			len = n - start;
		start += len;
		push(k, start);
	}
}

static void
chunk_oneshot(const struct chunker *c, const uint8_t *p, size_t n,
    struct cut_list *k)
{
	size_t off = 0;

	while (off < n) {
		size_t rest = n - off, len, avail, partial;

		len = chunker_cut(c, p + off, rest, 1);
		if (len == 0 || len > rest || len > c->max)
			abort();
		/* Without EOF: the same answer, or "need more" for the tail. */
		avail = rest < c->max ? rest : c->max;
		partial = chunker_cut(c, p + off, avail, 0);
		if (partial != len && !(partial == 0 && len == rest &&
		    rest < c->max))
			abort();
		off += len;
		push(k, off);
	}
}

static void
chunk_stream(struct chunker *c, const uint8_t *p, size_t n,
    const uint8_t *splits, size_t nsplits, struct cut_list *k)
{
	size_t off = 0, chunk = 0, turn = 0, last;

	chunker_reset(c);
	while (off < n) {
		size_t piece = n - off;

		if (nsplits > 0) {
			const uint8_t *s = splits + 2 * (turn++ % nsplits);

			piece = ((size_t)s[0] << 8) | s[1];
			if (piece > n - off)
				piece = n - off;
		}
		if (piece == 0) {
			/* An empty feed changes nothing; then one byte. */
			int cut = -1;

			if (chunker_next(c, p + off, 0, &cut) != 0 || cut != 0)
				abort();
			piece = 1;
		}
		while (piece > 0) {
			int cut = -1;
			size_t used = chunker_next(c, p + off, piece, &cut);

			if (used > piece || (cut != 0 && cut != 1) ||
			    (!cut && used != piece))
				abort();
			off += used;
			chunk += used;
			piece -= used;
			if (cut) {
				push(k, off);
				chunk = 0;
			}
		}
	}
	last = chunker_finish(c);
	if (last != chunk)
		abort();
	if (last > 0)
		push(k, off);
}

static void
check_bounds(const struct chunker *c, const struct cut_list *k, size_t n)
{
	size_t i, prev = 0;

	for (i = 0; i < k->n; i++) {
		size_t len = k->end[i] - prev;

		if (len == 0 || len > c->max || (i + 1 < k->n && len < c->min))
			abort();
		prev = k->end[i];
	}
	if (prev != n)
		abort();
}

static void
check_equal(const struct cut_list *a, const struct cut_list *b)
{
	if (a->n != b->n ||
	    memcmp(a->end, b->end, a->n * sizeof(a->end[0])) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct cut_list ref, one, stream;
	uint8_t hdr[HEADER_LEN], key[CHUNKER_KEY_LEN];
	struct chunker_params params;
	struct chunker c;
	size_t nsplits, n;
	const uint8_t *splits, *p;

	if (size > MAX_INPUT)
		return 0;
	memset(hdr, 0, sizeof(hdr));
	memcpy(hdr, data, size < HEADER_LEN ? size : HEADER_LEN);
	params.avg = (size_t)1 << (6 + hdr[0] % 5);
	params.min = 64 + hdr[1] % (params.avg - 63);
	params.max = params.avg + 4 * (size_t)hdr[2];
	memset(key, 0, sizeof(key));
	memcpy(key, hdr + 3, 8);
	if (chunker_init(&c, key, &params) != ERR_OK)
		abort();

	splits = p = NULL;
	nsplits = n = 0;
	if (size > HEADER_LEN) {
		nsplits = hdr[11] % (MAX_SPLITS + 1);
		if (nsplits * 2 > size - HEADER_LEN)
			nsplits = (size - HEADER_LEN) / 2;
		splits = data + HEADER_LEN;
		p = splits + 2 * nsplits;
		n = size - HEADER_LEN - 2 * nsplits;
	}

	ref.n = one.n = stream.n = 0;
	chunk_reference(&c, p, n, &ref);
	chunk_oneshot(&c, p, n, &one);
	chunk_stream(&c, p, n, splits, nsplits, &stream);
	check_bounds(&c, &ref, n);
	check_equal(&ref, &one);
	check_equal(&ref, &stream);
	chunker_release(&c);
	return 0;
}
