#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fault.h"
#include "common/fsutil.h"
#include "common/banned.h"

int
fs_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t w;

		if (fault_hit("write")) {
			errno = EIO;
			return ERR_IO;
		}
		w = write(fd, p, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return ERR_IO;
		}
		p += w;
		len -= (size_t)w;
	}
	return ERR_OK;
}

int
fs_pwrite_all(int fd, const void *buf, size_t len, off_t off)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t w;

		if (fault_hit("write")) {
			errno = EIO;
			return ERR_IO;
		}
		w = pwrite(fd, p, len, off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return ERR_IO;
		}
		p += w;
		off += w;
		len -= (size_t)w;
	}
	return ERR_OK;
}

int
fs_sync(int fd, int full)
{
	if (fault_hit("fsync")) {
		errno = EIO;
		return ERR_IO;
	}
	if ((full ? fsync(fd) : fdatasync(fd)) != 0)
		return ERR_IO;
	return ERR_OK;
}

int
fs_syncfs(int fd)
{
	if (fault_hit("fsync")) {
		errno = EIO;
		return ERR_IO;
	}
	if (syncfs(fd) != 0)
		return ERR_IO;
	return ERR_OK;
}

int
fs_rename(const char *from, const char *to)
{
	if (fault_hit("rename")) {
		errno = EIO;
		return ERR_IO;
	}
	if (rename(from, to) != 0)
		return ERR_IO;
	return ERR_OK;
}

/*
 * Publishes from under the name to, which must not exist: link() fails at
 * the moment it is made if it does, so two writers racing for one name
 * cannot replace each other's file (rename would). The "rename" fault
 * stands for it too: it is the publishing step.
 */
static int
link_new(const char *from, const char *to)
{
	if (fault_hit("rename")) {
		errno = EIO;
		return ERR_IO;
	}
	if (link(from, to) != 0)
		return errno == EEXIST ? ERR_EXISTS : ERR_IO;
	return ERR_OK;
}

int
fs_sync_dir(const char *dir)
{
	int fd, r;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return ERR_IO;
	r = fs_sync(fd, 1);
	close(fd);
	return r;
}

int
fs_mkdirs(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(buf))
		return ERR_INVAL;
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; ; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;

			*p = '\0';
			if (mkdir(buf, mode) != 0 && errno != EEXIST)
				return ERR_IO;
			*p = c;
			if (c == '\0')
				break;
		}
	}
	return ERR_OK;
}

/* Splits path into its directory part (for fsync and the temp name). */
static int
dir_of(const char *path, char *dir, size_t dirsz)
{
	const char *slash = strrchr(path, '/');
	size_t n;

	if (slash == NULL) {
		if (dirsz < 2)
			return ERR_TOOBIG;
		memcpy(dir, ".", 2);
		return ERR_OK;
	}
	n = (size_t)(slash - path);
	if (n == 0)
		n = 1;
	if (n >= dirsz)
		return ERR_TOOBIG;
	memcpy(dir, path, n);
	dir[n] = '\0';
	return ERR_OK;
}

int
fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
    int flags)
{
	char tmp[PATH_MAX], dir[PATH_MAX];
	int fd = -1, r = ERR_INTERNAL, n;

	if ((flags & FS_EXCL) && access(path, F_OK) == 0)
		return ERR_EXISTS;
	if ((r = dir_of(path, dir, sizeof(dir))) != ERR_OK)
		return r;
	n = snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return ERR_TOOBIG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
	    mode);
	if (fd < 0)
		return ERR_IO;
	if ((r = fs_write_all(fd, data, len)) != ERR_OK)
		goto out;
	if (!(flags & FS_NOSYNC) && (r = fs_sync(fd, 0)) != ERR_OK)
		goto out;
	if (close(fd) != 0) {
		fd = -1;
		r = ERR_IO;
		goto out;
	}
	fd = -1;
	r = (flags & FS_EXCL) ? link_new(tmp, path) : fs_rename(tmp, path);
	if (r != ERR_OK)
		goto out;
	if (flags & FS_EXCL)
		unlink(tmp);	/* linked: path holds the file now */
	if (!(flags & FS_NOSYNC) && (r = fs_sync_dir(dir)) != ERR_OK)
		return r;	/* renamed: the temp name is gone */
	return ERR_OK;
 out:
	if (fd >= 0)
		close(fd);
	{
		int saved = errno;

		unlink(tmp);
		errno = saved;
	}
	return r;
}

int
fs_read_file(const char *path, size_t max, char **out, size_t *len)
{
	struct stat st;
	char *buf = NULL;
	size_t have = 0, cap;
	int fd, r = ERR_INTERNAL;

	*out = NULL;
	*len = 0;
	/* O_NONBLOCK: a FIFO put in the file's place must not hang us. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) < 0)
		return errno == ENOENT ? ERR_NOTFOUND : ERR_IO;
	if (fstat(fd, &st) != 0) {
		r = ERR_IO;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		errno = EINVAL;
		r = ERR_FORMAT;
		goto out;
	}
	if ((size_t)st.st_size > max) {
		r = ERR_TOOBIG;
		goto out;
	}
	cap = (size_t)st.st_size + 1;
	if ((buf = malloc(cap)) == NULL) {
		r = ERR_NOMEM;
		goto out;
	}
	for (;;) {
		ssize_t n;

		if (have + 1 == cap) {
			/* The file grew while we read it. */
			if (cap > max) {
				r = ERR_TOOBIG;
				goto out;
			}
			char *nb = realloc(buf, cap * 2);
			if (nb == NULL) {
				r = ERR_NOMEM;
				goto out;
			}
			buf = nb;
			cap *= 2;
		}
		n = read(fd, buf + have, cap - 1 - have);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = ERR_IO;
			goto out;
		}
		if (n == 0)
			break;
		have += (size_t)n;
	}
	if (have > max) {
		r = ERR_TOOBIG;
		goto out;
	}
	buf[have] = '\0';
	*out = buf;
	*len = have;
	buf = NULL;
	r = ERR_OK;
 out:
	free(buf);
	close(fd);
	return r;
}

void
fs_pipe_grow(int fd)
{
	struct stat st;

	if (fstat(fd, &st) != 0 || !S_ISFIFO(st.st_mode))
		return;
	/* Unprivileged callers may go up to /proc/sys/fs/pipe-max-size. */
	for (int sz = 1 << 20; sz >= 128 << 10; sz >>= 1)
		if (fcntl(fd, F_SETPIPE_SZ, sz) >= 0)
			return;
}
