/*
 * main.c - bulwark-dial: the proxy dialer of bulwark-shell's ssh.
 *
 * bulwark-shell connects to the target itself (src/shell/dial.c says
 * why) and starts ssh with ProxyUseFdpass=yes, ProxyCommand=SOCKET and
 * SHELL=this program, so ssh runs
 *
 *   bulwark-dial -c "exec SOCKET"
 *
 * with a socketpair to ssh on stdin and stdout. We take the connected
 * socket from bulwark-shell at SOCKET (a Unix socket in the session's
 * private directory) and pass it on to ssh over stdout: SCM_RIGHTS with
 * one byte, as ssh's mm_receive_fd expects.
 *
 * The socket must be bulwark-shell's own: its listener, by SO_PEERCRED,
 * is ssh's parent. The session's directory is the user's, and another
 * process of the user could put a socket of its own in its place and
 * hand ssh a connection to somewhere else.
 *
 * Nothing else: no network access of its own, libc only, so that it
 * starts in a millisecond. Anything unexpected is refused with exit 2,
 * a failure along the way exits 1; ssh then reports that the proxy
 * dialer did not pass back a connection.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/fdpass.h"

#define PREFIX	"exec "

static int
fail(const char *what)
{
	fprintf(stderr, "bulwark-dial: %s: %s\n", what, strerror(errno));
	return 1;
}

/* The parent of pid, from /proc/PID/stat (after the name's last ')'). */
static pid_t
parent_of(pid_t pid)
{
	char path[64], buf[1024], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* ") S PPID ..." */
	if ((p = strrchr(buf, ')')) == NULL || p[1] != ' ' || p[2] == '\0' ||
	    p[3] != ' ')
		return -1;
	return (pid_t)strtol(p + 4, NULL, 10);
}

/* Whether the listener at c is bulwark-shell: the parent of ssh, ours. */
static int
from_shell(int c)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	pid_t shell = parent_of(getppid());

	return shell > 1 &&
	    getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 &&
	    cred.pid == shell && cred.uid == getuid();
}

int
main(int argc, char **argv)
{
	struct sockaddr_un sun;
	struct stat st;
	const char *path;
	int c, fd;

	if (argc != 3 || strcmp(argv[1], "-c") != 0 ||
	    strncmp(argv[2], PREFIX, strlen(PREFIX)) != 0 ||
	    argv[2][strlen(PREFIX)] != '/') {
		fputs("bulwark-dial: run by bulwark-shell's ssh as its proxy "
		    "dialer (SHELL), not by hand\n", stderr);
		return 2;
	}
	path = argv[2] + strlen(PREFIX);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		fputs("bulwark-dial: socket path too long\n", stderr);
		return 2;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if ((c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    connect(c, (struct sockaddr *)&sun, sizeof(sun)) != 0)
		return fail(path);
	if (!from_shell(c)) {
		errno = EPERM;
		return fail("the socket is not bulwark-shell's");
	}
	if ((fd = fdpass_recv(c)) < 0)
		return fail("no connection from bulwark-shell");
	if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) {
		errno = ENOTSOCK;
		return fail("bulwark-shell sent something else");
	}
	if (fdpass_send(STDOUT_FILENO, fd) != 0)
		return fail("cannot pass the connection to ssh");
	return 0;
}
