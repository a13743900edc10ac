#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "audit/blob.h"
#include "common/fsutil.h"
#include "common/sha256.h"
#include "common/banned.h"

#define CHUNK (256 * 1024)

static int
valid_hex(const char *hex)
{
	if (strlen(hex) != BLOB_HEX_LEN)
		return 0;
	for (size_t i = 0; i < BLOB_HEX_LEN; i++)
		if (!((hex[i] >= '0' && hex[i] <= '9') ||
		    (hex[i] >= 'a' && hex[i] <= 'f')))
			return 0;
	return 1;
}

int
audit_blob_put_fd(const char *dir, int fd, char hex[BLOB_HEX_LEN + 1])
{
	char bdir[PATH_MAX - 80], tmp[PATH_MAX], path[PATH_MAX];
	struct sha256_ctx c;
	uint8_t h[SHA256_LEN], *buf = NULL;
	uint64_t total = 0;
	int out = -1, r;

	hex[0] = '\0';
	if (snprintf(bdir, sizeof(bdir), "%s/blob/sha256", dir) >= (int)sizeof(bdir))
		return ERR_TOOBIG;
	if ((r = fs_mkdirs(bdir, 0755)) != ERR_OK)
		return r;
	if (snprintf(tmp, sizeof(tmp), "%s/.incoming.%ld", bdir,
	    (long)getpid()) >= (int)sizeof(tmp))
		return ERR_TOOBIG;
	if ((buf = malloc(CHUNK)) == NULL)
		return ERR_NOMEM;
	out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (out < 0) {
		r = ERR_IO;
		goto out;
	}
	sha256_init(&c);
	for (;;) {
		ssize_t n = read(fd, buf, CHUNK);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = ERR_IO;
			goto out;
		}
		if (n == 0)
			break;
		total += (uint64_t)n;
		if (total > BLOB_MAX_SIZE) {
			r = ERR_TOOBIG;
			goto out;
		}
		sha256_update(&c, buf, (size_t)n);
		if ((r = fs_write_all(out, buf, (size_t)n)) != ERR_OK)
			goto out;
	}
	sha256_final(&c, h);
	sodium_bin2hex(hex, BLOB_HEX_LEN + 1, h, sizeof(h));
	if (snprintf(path, sizeof(path), "%s/%s", bdir, hex) >= (int)sizeof(path)) {
		r = ERR_TOOBIG;
		goto out;
	}
	if (access(path, F_OK) == 0) {
		/* Already stored: keep the first copy, never overwrite. */
		r = ERR_OK;
		goto out;
	}
	if ((r = fs_sync(out, 1)) != ERR_OK)
		goto out;
	close(out);
	out = -1;
	/* link() fails rather than replace a blob that appeared meanwhile. */
	if (link(tmp, path) != 0 && errno != EEXIST) {
		r = ERR_IO;
		goto out;
	}
	r = fs_sync_dir(bdir);
 out:
	if (out >= 0)
		close(out);
	unlink(tmp);
	free(buf);
	if (r != ERR_OK)
		hex[0] = '\0';
	return r;
}

int
audit_blob_adopt(const char *dir, int fd, const uint8_t h[SHA256_LEN],
    char hex[BLOB_HEX_LEN + 1])
{
	char bdir[PATH_MAX - 80], dst[PATH_MAX], src[64];
	int r;

	hex[0] = '\0';
	if (snprintf(bdir, sizeof(bdir), "%s/blob/sha256", dir) >= (int)sizeof(bdir))
		return ERR_TOOBIG;
	if ((r = fs_mkdirs(bdir, 0755)) != ERR_OK)
		return r;
	sodium_bin2hex(hex, BLOB_HEX_LEN + 1, h, SHA256_LEN);
	if (snprintf(dst, sizeof(dst), "%s/%s", bdir, hex) >= (int)sizeof(dst)) {
		hex[0] = '\0';
		return ERR_TOOBIG;
	}
	if (fchmod(fd, 0644) != 0) {
		hex[0] = '\0';
		return ERR_IO;
	}
	if ((r = fs_sync(fd, 1)) != ERR_OK) {
		hex[0] = '\0';
		return r;
	}
	/* link keeps a blob that is already there: never overwritten. */
	snprintf(src, sizeof(src), "/proc/self/fd/%d", fd);
	if (linkat(AT_FDCWD, src, AT_FDCWD, dst, AT_SYMLINK_FOLLOW) != 0 &&
	    errno != EEXIST) {
		r = errno == EXDEV ? ERR_UNSUPPORTED : ERR_IO;
		hex[0] = '\0';
		return r;
	}
	if ((r = fs_sync_dir(bdir)) != ERR_OK)
		hex[0] = '\0';
	return r;
}

/* Hashes the open blob and compares with hex; optionally copies it. */
static int
hash_file(int fd, const char *hex, int out_fd)
{
	struct sha256_ctx c;
	uint8_t h[SHA256_LEN], *buf = malloc(CHUNK);
	char got[BLOB_HEX_LEN + 1];
	int r = ERR_OK;

	if (buf == NULL)
		return ERR_NOMEM;
	sha256_init(&c);
	for (;;) {
		ssize_t n = read(fd, buf, CHUNK);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = ERR_IO;
			break;
		}
		if (n == 0)
			break;
		sha256_update(&c, buf, (size_t)n);
		if (out_fd >= 0 && (r = fs_write_all(out_fd, buf, (size_t)n)) != ERR_OK)
			break;
	}
	free(buf);
	sha256_final(&c, h);
	if (r != ERR_OK)
		return r;
	sodium_bin2hex(got, sizeof(got), h, sizeof(h));
	return strcmp(got, hex) == 0 ? ERR_OK : ERR_MISMATCH;
}

int
audit_blob_get(const char *dir, const char *hex, int out_fd)
{
	char path[PATH_MAX];
	int fd, r;

	if (!valid_hex(hex))
		return ERR_FORMAT;
	if (snprintf(path, sizeof(path), "%s/blob/sha256/%s", dir, hex) >=
	    (int)sizeof(path))
		return ERR_TOOBIG;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return errno == ENOENT ? ERR_NOTFOUND : ERR_IO;
	/* Check first, copy second: nothing unverified reaches out_fd. */
	r = hash_file(fd, hex, -1);
	if (r == ERR_OK && out_fd >= 0) {
		if (lseek(fd, 0, SEEK_SET) != 0)
			r = ERR_IO;
		else
			r = hash_file(fd, hex, out_fd);
	}
	close(fd);
	return r;
}
