/*
 * sshbin.c - the execute-only copy of ssh (sshbin.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gateway/sshbin.h"
#include "common/banned.h"

static int
same_file_data(const struct stat *a, const struct stat *b)
{
	return a->st_size == b->st_size &&
	    a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	    a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

enum sshbin_state
sshbin_copy_state(const char *copy)
{
	struct stat c, s;

	if (lstat(copy, &c) != 0 || !S_ISREG(c.st_mode) || c.st_uid != 0 ||
	    (c.st_mode & 07777) != SSHBIN_COPY_MODE)
		return SSHBIN_MISSING;
	return stat(SSHBIN_SYSTEM, &s) == 0 && same_file_data(&c, &s) ?
	    SSHBIN_FRESH : SSHBIN_STALE;
}

/* src (st) into the new file fd: contents, then owner, mode and times. */
static int
fill(int src, const struct stat *st, int fd)
{
	struct timespec times[2] = { st->st_atim, st->st_mtim };
	off_t off = 0;
	ssize_t n;

	while (off < st->st_size) {
		n = sendfile(fd, src, &off, (size_t)(st->st_size - off));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return ERR_IO;
	}
	if (fchown(fd, 0, 0) != 0 || fchmod(fd, SSHBIN_COPY_MODE) != 0 ||
	    futimens(fd, times) != 0 || fsync(fd) != 0)
		return ERR_IO;
	return ERR_OK;
}

int
sshbin_copy_make(const char *dir, int *kept)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	struct stat st;
	int src = -1, fd = -1, r = ERR_IO;

	*kept = 0;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir,
	    SSHBIN_COPY_NAME) >= sizeof(path) ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s/.%s.new", dir,
	    SSHBIN_COPY_NAME) >= sizeof(tmp))
		return ERR_TOOBIG;
	if (sshbin_copy_state(path) == SSHBIN_FRESH) {
		*kept = 1;
		return ERR_OK;
	}
	/* Left over from a copy that was cut short. */
	(void)unlink(tmp);
	if ((src = open(SSHBIN_SYSTEM, O_RDONLY | O_CLOEXEC)) < 0 ||
	    fstat(src, &st) != 0 || !S_ISREG(st.st_mode) ||
	    (fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0700)) < 0)
		goto out;
	if ((r = fill(src, &st, fd)) != ERR_OK)
		goto out;
	if (close(fd) != 0 || rename(tmp, path) != 0) {
		fd = -1;
		r = ERR_IO;
		goto out;
	}
	fd = -1;
	r = ERR_OK;
 out:
	if (src >= 0)
		close(src);
	if (fd >= 0)
		close(fd);
	if (r != ERR_OK)
		(void)unlink(tmp);
	return r;
}
