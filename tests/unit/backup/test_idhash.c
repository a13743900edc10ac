/*
 * test_idhash.c - chunk IDs of a batch on two threads.
 *
 * Whatever the batch, the IDs must be exactly chunk_id()'s, each in its
 * slot: batches of 0, 1, 2 and 33 chunks, chunks of 0 bytes to 4 MiB,
 * and a thousand batches in a row of random sizes, so that the caller
 * sometimes finishes before the helper wakes and sometimes after (the
 * two orders of idhash_run()'s hand-back, which ASan/UBSan runs of the
 * suite also see). A slot the batch does not name stays untouched.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>

#include "backup/idhash.h"

#define MAXN	33
#define BIG	(4u << 20)

static uint8_t key[CHUNK_ID_KEY_LEN];
static uint8_t *data;		/* BIG random bytes the chunks point into */

static int
setup(void **state)
{
	(void)state;
	if (sodium_init() < 0 || (data = malloc(BIG)) == NULL)
		return -1;
	randombytes_buf(key, sizeof(key));
	randombytes_buf(data, BIG);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	free(data);
	return 0;
}

/* A batch of count chunks of the given lengths, checked against chunk_id(). */
static void
batch(struct idhash *h, const size_t *len, size_t count)
{
	const uint8_t *p[MAXN];
	uint8_t ids[MAXN + 1][CHUNK_ID_LEN], want[CHUNK_ID_LEN];
	static const uint8_t canary[CHUNK_ID_LEN] = { 0xa5, 0x5a, 0xa5 };

	assert_true(count <= MAXN);
	for (size_t i = 0; i < count; i++) {
		assert_true(len[i] <= BIG);
		p[i] = data + (BIG - len[i]) / (i + 1);
	}
	memcpy(ids[count], canary, sizeof(canary));
	idhash_run(h, p, len, count, ids);
	for (size_t i = 0; i < count; i++) {
		chunk_id(key, p[i], len[i], want);
		assert_memory_equal(ids[i], want, CHUNK_ID_LEN);
	}
	assert_memory_equal(ids[count], canary, CHUNK_ID_LEN);
}

static void
test_sizes(void **state)
{
	struct idhash *h;
	size_t len[MAXN];

	(void)state;
	assert_int_equal(idhash_new(key, &h), ERR_OK);
	batch(h, len, 0);
	len[0] = 12345;
	batch(h, len, 1);
	len[0] = 0;
	len[1] = BIG;
	batch(h, len, 2);
	for (size_t i = 0; i < MAXN; i++)
		len[i] = (i * 262144 + 17 * i) % BIG;
	batch(h, len, MAXN);
	idhash_free(h);
	idhash_free(NULL);
}

static void
test_many_batches(void **state)
{
	struct idhash *h;
	size_t len[MAXN];

	(void)state;
	assert_int_equal(idhash_new(key, &h), ERR_OK);
	for (int round = 0; round < 1000; round++) {
		size_t count = randombytes_uniform(MAXN + 1);
		/* Mostly small, so that rounds are quick and races frequent. */
		for (size_t i = 0; i < count; i++)
			len[i] = randombytes_uniform(round % 10 == 0 ?
			    BIG : 4096);
		batch(h, len, count);
	}
	idhash_free(h);
}

/* Freeing right after creation: the helper may not have run at all. */
static void
test_free_at_once(void **state)
{
	struct idhash *h;

	(void)state;
	for (int i = 0; i < 50; i++) {
		assert_int_equal(idhash_new(key, &h), ERR_OK);
		idhash_free(h);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_many_batches),
		cmocka_unit_test(test_free_at_once),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
