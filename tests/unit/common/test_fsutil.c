/*
 * test_fsutil.c - the parts of common/fsutil.h that the fault-injection
 * integration tests do not reach: fs_pipe_grow.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/fsutil.h"
#include "common/banned.h"

/* Either end of a pipe grows to at least 128 KiB (1 MiB when allowed). */
static void
test_pipe_grow(void **state)
{
	int p[2];

	(void)state;
	for (int end = 0; end < 2; end++) {
		assert_int_equal(pipe(p), 0);
		assert_int_equal(fcntl(p[0], F_GETPIPE_SZ), 65536);
		fs_pipe_grow(p[end]);
		assert_true(fcntl(p[0], F_GETPIPE_SZ) >= 128 * 1024);
		assert_true(fcntl(p[1], F_GETPIPE_SZ) <= 1 << 20);
		close(p[0]);
		close(p[1]);
	}
}

/* Anything else is left alone, without an error. */
static void
test_pipe_grow_not_a_pipe(void **state)
{
	char path[] = "/tmp/bulwark-test-fsutil.XXXXXX";
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	fs_pipe_grow(fd);
	fs_pipe_grow(-1);
	assert_int_equal(fcntl(fd, F_GETPIPE_SZ), -1);
	close(fd);
	unlink(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pipe_grow),
		cmocka_unit_test(test_pipe_grow_not_a_pipe),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
