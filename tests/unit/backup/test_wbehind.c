/*
 * test_wbehind.c - write-behind of a restore's written ranges.
 *
 * On a real file system (a directory under /var/tmp; the test skips on
 * tmpfs, whose pages are memory and cannot be dropped): ranges written
 * and handed over leave the page cache once WBEHIND_BYTES more have
 * followed, those still held stay cached, ranges under WBEHIND_MIN are
 * not taken, no more than WBEHIND_SLOTS are held, the data reads back
 * intact, and wbehind_end leaves no descriptor open. Residency is read
 * with mincore(2) on a mapping of the file, which does not fault pages
 * in.
 */
#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <cmocka.h>

#include "backup/wbehind.h"
#include "testutil.h"

#define FILE_BYTES	(8u << 20)
#define NFILES		12	/* 96 MiB: three times WBEHIND_BYTES */

static char dir[64];
static uint8_t *buf;

static int
setup(void **state)
{
	(void)state;
	if (tu_mkdtemp(dir, sizeof(dir), "/var/tmp/bwt-wbehind.") == NULL ||
	    (buf = malloc(FILE_BYTES)) == NULL)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	free(buf);
	return tu_rm_tree(dir);
}

static int
open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	assert_non_null(d);
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	return n;
}

/* Pages of the file's first len bytes in the page cache. */
static size_t
resident(const char *path, size_t len)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE), n = (len + pg - 1) / pg;
	unsigned char *v = malloc(n);
	size_t in = 0;
	void *m;
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	assert_non_null(v);
	m = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	assert_true(m != MAP_FAILED);
	assert_int_equal(mincore(m, len, v), 0);
	for (size_t i = 0; i < n; i++)
		in += v[i] & 1;
	munmap(m, len);
	close(fd);
	free(v);
	return in;
}

static void
name(char *p, size_t cap, const char *what, int i)
{
	snprintf(p, cap, "%s/%s%d", dir, what, i);
}

/* Writes len bytes of pattern i, hands [0, len) over, closes the file. */
static void
write_one(struct wbehind *w, const char *what, int i, size_t len)
{
	char p[128];
	int fd;

	name(p, sizeof(p), what, i);
	fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	memset(buf, 'a' + i % 26, len);
	assert_int_equal(pwrite(fd, buf, len, 0), (ssize_t)len);
	wbehind_add(w, fd, 0, (off_t)len);
	close(fd);		/* as the restore may: the range keeps a dup */
}

static int
is_tmpfs(void)
{
	struct statfs s;

	return statfs(dir, &s) == 0 && (long)s.f_type == TMPFS_MAGIC;
}

/* A fresh wbehind; the descriptors open before it. Skips on tmpfs. */
static int
begin(struct wbehind *w)
{
	if (is_tmpfs())
		skip();
	wbehind_init(w);
	return open_fds();
}

static void
test_drops_what_is_behind(void **state)
{
	struct wbehind w;
	size_t pages = FILE_BYTES / (size_t)sysconf(_SC_PAGESIZE);
	char p[128];
	int fds = begin(&w);

	(void)state;
	for (int i = 0; i < NFILES; i++)
		write_one(&w, "big", i, FILE_BYTES);
	/* Held: at most WBEHIND_BYTES, the newest. */
	assert_true(w.n >= 1 && w.bytes <= WBEHIND_BYTES);
	assert_int_equal(w.n, WBEHIND_BYTES / FILE_BYTES);
	for (int i = 0; i < NFILES; i++) {
		name(p, sizeof(p), "big", i);
		if (i < NFILES - (int)w.n)
			assert_int_equal(resident(p, FILE_BYTES), 0);
		else
			assert_int_equal(resident(p, FILE_BYTES), pages);
	}
	assert_int_equal(open_fds(), fds + (int)w.n);
	wbehind_end(&w);
	assert_int_equal(w.n, 0);
	assert_int_equal(open_fds(), fds);
	/* The data itself is untouched, dropped or not. */
	for (int i = 0; i < NFILES; i++) {
		int fd;

		name(p, sizeof(p), "big", i);
		fd = open(p, O_RDONLY);
		assert_true(fd >= 0);
		assert_int_equal(pread(fd, buf, FILE_BYTES, 0), FILE_BYTES);
		close(fd);
		for (size_t k = 0; k < FILE_BYTES; k += 4093)
			assert_int_equal(buf[k], 'a' + i % 26);
	}
}

static void
test_small_and_many(void **state)
{
	struct wbehind w;
	char p[128];
	int fds = begin(&w);

	(void)state;
	/* Under WBEHIND_MIN: left to the kernel, nothing held. */
	write_one(&w, "small", 0, WBEHIND_MIN - 1);
	assert_int_equal(w.n, 0);
	assert_int_equal(open_fds(), fds);
	/* More ranges than slots, far under WBEHIND_BYTES: the slots bound. */
	for (int i = 0; i < WBEHIND_SLOTS + 8; i++)
		write_one(&w, "mid", i, WBEHIND_MIN);
	assert_int_equal(w.n, WBEHIND_SLOTS);
	assert_int_equal(open_fds(), fds + WBEHIND_SLOTS);
	for (int i = 0; i < 8; i++) {
		name(p, sizeof(p), "mid", i);
		assert_int_equal(resident(p, WBEHIND_MIN), 0);
	}
	wbehind_end(&w);
	assert_int_equal(open_fds(), fds);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_drops_what_is_behind),
		cmocka_unit_test(test_small_and_many),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
