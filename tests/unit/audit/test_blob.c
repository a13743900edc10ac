/*
 * test_blob.c - content-addressed blobs beside the log (audit/blob.h):
 * stored by copy or adopted by a link, read back only when their bytes
 * still hash to their name.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <setjmp.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "audit/blob.h"
#include "common/sha256.h"
#include "testutil.h"
#include "common/banned.h"

static char dir[64];

/* A draft at dir/name holding text, open for writing as a recorder has it. */
static int
draft(const char *name, const char *text, char *path, size_t len)
{
	int fd;

	snprintf(path, len, "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	return fd;
}

/* What blob hex holds, read back through audit_blob_get. */
static void
expect_blob(const char *hex, const char *text)
{
	char path[256], got[256];
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/out", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(audit_blob_get(dir, hex, fd), ERR_OK);
	n = pread(fd, got, sizeof(got) - 1, 0);
	assert_true(n >= 0);
	got[n] = '\0';
	assert_string_equal(got, text);
	close(fd);
}

static void
test_put_and_adopt(void **state)
{
	static const char text[] = "{\"version\": 2}\n[0.1, \"o\", \"hi\"]\n";
	char path[256], hex[BLOB_HEX_LEN + 1], hex2[BLOB_HEX_LEN + 1];
	uint8_t h[SHA256_LEN];
	int fd, rd;

	(void)state;
	/* By copy. */
	fd = draft("a", text, path, sizeof(path));
	rd = open(path, O_RDONLY | O_CLOEXEC);
	assert_int_equal(audit_blob_put_fd(dir, rd, hex), ERR_OK);
	close(rd);
	close(fd);
	unlink(path);
	expect_blob(hex, text);

	/* Adopted: the same bytes, the same name, the first copy kept. */
	fd = draft("b", text, path, sizeof(path));
	sha256(text, strlen(text), h);
	assert_int_equal(audit_blob_adopt(dir, fd, h, hex2), ERR_OK);
	assert_string_equal(hex, hex2);
	close(fd);
	unlink(path);
	expect_blob(hex2, text);

	/* New bytes: a new blob, by link (no second copy of the bytes). */
	fd = draft("c", "other", path, sizeof(path));
	sha256("other", 5, h);
	assert_int_equal(audit_blob_adopt(dir, fd, h, hex2), ERR_OK);
	close(fd);
	{
		char bpath[256];
		struct stat a, b;

		snprintf(bpath, sizeof(bpath), "%s/blob/sha256/%s", dir, hex2);
		assert_int_equal(stat(path, &a), 0);
		assert_int_equal(stat(bpath, &b), 0);
		assert_true(a.st_ino == b.st_ino);
		assert_int_equal(b.st_mode & 07777, 0644);	/* as copies */
	}
	unlink(path);
	expect_blob(hex2, "other");

	/* A caller whose hash is wrong gets a blob that never reads back. */
	fd = draft("d", "tampered", path, sizeof(path));
	sha256("something else", 14, h);
	assert_int_equal(audit_blob_adopt(dir, fd, h, hex2), ERR_OK);
	close(fd);
	assert_int_equal(audit_blob_get(dir, hex2, -1), ERR_MISMATCH);
}

/* On another filesystem (/dev/shm): refused, for the caller to copy. */
static void
test_adopt_other_fs(void **state)
{
	char shm[64], path[96], hex[BLOB_HEX_LEN + 1];
	struct stat a, b;
	uint8_t h[SHA256_LEN];
	int fd;

	(void)state;
	assert_non_null(tu_mkdtemp(shm, sizeof(shm), "/dev/shm/bwt-blob-"));
	snprintf(path, sizeof(path), "%s/draft", shm);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "x", 1), 1);
	sha256("x", 1, h);
	assert_int_equal(fstat(fd, &a), 0);
	assert_int_equal(stat(dir, &b), 0);
	if (a.st_dev != b.st_dev)
		assert_int_equal(audit_blob_adopt(dir, fd, h, hex),
		    ERR_UNSUPPORTED);
	else
		print_message("/dev/shm and %s share a filesystem: skipped\n",
		    dir);
	close(fd);
	assert_int_equal(tu_rm_tree(shm), 0);
}

static int
setup(void **state)
{
	(void)state;
	return tu_mkdtemp(dir, sizeof(dir), "/tmp/bwt-blob-") == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	(void)state;
	return tu_rm_tree(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_and_adopt),
		cmocka_unit_test(test_adopt_other_fs),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
