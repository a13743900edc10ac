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
 * Nothing else: no network access of its own, libc only, so that it
 * starts in a millisecond. Anything unexpected is refused with exit 2,
 * a failure along the way exits 1; ssh then reports that the proxy
 * dialer did not pass back a connection.
 */
#include <errno.h>
#include <stdio.h>
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
