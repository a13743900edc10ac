/*
 * test_inpipe.c - the agent's stream read ahead by a thread.
 *
 * What receive relies on: the bytes come out exactly as they went in,
 * whatever the sizes on either side; the pipe is drained while the
 * caller does something else (the reason inpipe exists: a writer of
 * three times the pipe's size finishes before the caller reads a byte);
 * the end of the stream and where it falls (before a read: ERR_NOTFOUND,
 * inside one: ERR_FORMAT); the idle timeout; and a free that does not
 * wait for input that never comes.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "vault/inpipe.h"

#define TOTAL	(9u << 20)

static uint8_t
byte_at(size_t i)
{
	return (uint8_t)(i * 131u + (i >> 12) * 7u);
}

static double
now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

struct writer {
	int fd;
	size_t total;
	int close_at_end;
	double done_at;
	atomic_int done;
};

/* Writes the pattern in uneven pieces, then notes when it was done. */
static void *
writer_main(void *arg)
{
	struct writer *w = arg;
	uint8_t buf[70000];
	size_t off = 0, piece = 1;

	while (off < w->total) {
		size_t n = piece % sizeof(buf) + 1;
		if (n > w->total - off)
			n = w->total - off;
		for (size_t i = 0; i < n; i++)
			buf[i] = byte_at(off + i);
		for (size_t done = 0; done < n;) {
			ssize_t r = write(w->fd, buf + done, n - done);
			if (r < 0 && errno == EINTR)
				continue;
			assert_true(r > 0);
			done += (size_t)r;
		}
		off += n;
		piece = piece * 7 + 13;
	}
	w->done_at = now_s();
	atomic_store(&w->done, 1);
	if (w->close_at_end)
		close(w->fd);
	return NULL;
}

static void
test_bytes_in_order(void **state)
{
	struct inpipe *in;
	struct writer w;
	pthread_t t;
	int p[2];
	uint8_t *buf = malloc(1 << 20);
	size_t off = 0, step = 1;

	(void)state;
	assert_non_null(buf);
	assert_int_equal(pipe(p), 0);
	/* A small ring, so that it wraps and fills many times. */
	assert_int_equal(inpipe_new(p[0], 300000, &in), ERR_OK);
	w = (struct writer){ .fd = p[1], .total = TOTAL, .close_at_end = 1 };
	assert_int_equal(pthread_create(&t, NULL, writer_main, &w), 0);
	while (off < TOTAL) {
		size_t n = step % (1 << 20) + 1;
		if (n > TOTAL - off)
			n = TOTAL - off;
		assert_int_equal(inpipe_read(in, buf, n, 10000), ERR_OK);
		for (size_t i = 0; i < n; i++)
			if (buf[i] != byte_at(off + i))
				fail_msg("byte %zu differs", off + i);
		off += n;
		step = step * 5 + 99991;
	}
	/* The end, after the last byte: nothing more. */
	assert_int_equal(inpipe_read(in, buf, 1, 10000), ERR_NOTFOUND);
	pthread_join(t, NULL);
	inpipe_free(in);
	close(p[0]);
	free(buf);
}

/* A writer of 3 MiB into a 64 KiB pipe is done before the caller reads. */
static void
test_drains_while_caller_busy(void **state)
{
	struct inpipe *in;
	struct writer w;
	pthread_t t;
	int p[2];
	uint8_t *buf = malloc(3 << 20);
	double started;

	(void)state;
	assert_non_null(buf);
	assert_int_equal(pipe(p), 0);
	(void)fcntl(p[1], F_SETPIPE_SZ, 65536);
	assert_int_equal(inpipe_new(p[0], 0, &in), ERR_OK);
	w = (struct writer){ .fd = p[1], .total = 3 << 20 };
	started = now_s();
	assert_int_equal(pthread_create(&t, NULL, writer_main, &w), 0);
	/* The caller reads nothing meanwhile. */
	while (!atomic_load(&w.done) && now_s() - started < 5.0)
		usleep(10000);
	int drained = atomic_load(&w.done);
	assert_int_equal(inpipe_read(in, buf, 3 << 20, 1000), ERR_OK);
	pthread_join(t, NULL);
	if (!drained)
		fail_msg("the writer was still blocked after 5 s");
	for (size_t i = 0; i < (3u << 20); i++)
		if (buf[i] != byte_at(i))
			fail_msg("byte %zu differs", i);
	inpipe_free(in);
	close(p[1]);
	close(p[0]);
	free(buf);
}

static void
test_end_inside_a_read(void **state)
{
	struct inpipe *in;
	int p[2];
	uint8_t buf[16];

	(void)state;
	assert_int_equal(pipe(p), 0);
	assert_int_equal(inpipe_new(p[0], 0, &in), ERR_OK);
	assert_int_equal(write(p[1], "abc", 3), 3);
	close(p[1]);
	assert_int_equal(inpipe_read(in, buf, 5, 1000), ERR_FORMAT);
	inpipe_free(in);
	close(p[0]);
}

static void
test_idle_timeout(void **state)
{
	struct inpipe *in;
	int p[2];
	uint8_t buf[4];
	double t0;

	(void)state;
	assert_int_equal(pipe(p), 0);
	assert_int_equal(inpipe_new(p[0], 0, &in), ERR_OK);
	t0 = now_s();
	assert_int_equal(inpipe_read(in, buf, 1, 200), ERR_NETWORK);
	assert_true(now_s() - t0 >= 0.19);
	/* Two bytes of four, then silence: the read gives up too. */
	assert_int_equal(write(p[1], "ab", 2), 2);
	t0 = now_s();
	assert_int_equal(inpipe_read(in, buf, 4, 200), ERR_NETWORK);
	assert_true(now_s() - t0 >= 0.19 && now_s() - t0 < 5.0);
	/* The caller is still waiting for input here: free stops the thread. */
	t0 = now_s();
	inpipe_free(in);
	assert_true(now_s() - t0 < 2.0);
	close(p[1]);
	close(p[0]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bytes_in_order),
		cmocka_unit_test(test_drains_while_caller_busy),
		cmocka_unit_test(test_end_inside_a_read),
		cmocka_unit_test(test_idle_timeout),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
