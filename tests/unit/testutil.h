/*
 * testutil.h - what several unit tests need alike: a temporary directory
 * made from a prefix, its removal, and a listening socket on loopback.
 *
 * Header only, static inline, so that a test program that uses one helper
 * carries no warning for the others. No cmocka here: each returns an
 * error the caller asserts on.
 */
#ifndef BULWARK_TESTS_TESTUTIL_H
#define BULWARK_TESTS_TESTUTIL_H

#include <arpa/inet.h>
#include <ftw.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define TU_MKDTEMP_XS	6	/* the 'X's mkdtemp(3) replaces */

/* mkdtemp(3) on prefix and its six 'X's, made in buf: the path, or NULL. */
static inline char *
tu_mkdtemp(char *buf, size_t cap, const char *prefix)
{
	size_t n = strlen(prefix);

	if (n + TU_MKDTEMP_XS + 1 > cap)
		return NULL;
	memcpy(buf, prefix, n);
	memset(buf + n, 'X', TU_MKDTEMP_XS);
	buf[n + TU_MKDTEMP_XS] = '\0';
	return mkdtemp(buf);
}

static inline int
tu_rm_entry(const char *path, const struct stat *st, int flag,
    struct FTW *f)
{
	(void)st;
	(void)f;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

/* Removes dir and everything under it, following no symbolic link. */
static inline int
tu_rm_tree(const char *dir)
{
	return nftw(dir, tu_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A socket listening on 127.0.0.1 and its port, or -1. */
static inline int
tu_listener(int backlog, uint32_t *port)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    listen(fd, backlog) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) != 0) {
		close(fd);
		return -1;
	}
	*port = ntohs(sin.sin_port);
	return fd;
}

#endif
