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

#define PREFIX	"exec "

static int
fail(const char *what)
{
	fprintf(stderr, "bulwark-dial: %s: %s\n", what, strerror(errno));
	return 1;
}

/* One byte and one descriptor, the layout of OpenSSH's fd passing. */
static int
recv_fd(int from)
{
	char byte, cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg;
	struct cmsghdr *cm;
	ssize_t n;
	int fd;

	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cbuf;
	msg.msg_controllen = sizeof(cbuf);
	do {
		n = recvmsg(from, &msg, MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n != 1 || (msg.msg_flags & MSG_CTRUNC) != 0 ||
	    (cm = CMSG_FIRSTHDR(&msg)) == NULL ||
	    cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS ||
	    cm->cmsg_len != CMSG_LEN(sizeof(int))) {
		errno = EPROTO;
		return -1;
	}
	memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	return fd;
}

static int
send_fd(int over, int fd)
{
	char byte = 0, cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg;
	struct cmsghdr *cm;
	ssize_t n;

	memset(&msg, 0, sizeof(msg));
	memset(cbuf, 0, sizeof(cbuf));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cbuf;
	msg.msg_controllen = sizeof(cbuf);
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	do {
		n = sendmsg(over, &msg, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	return n == 1 ? 0 : -1;
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
	if ((fd = recv_fd(c)) < 0)
		return fail("no connection from bulwark-shell");
	if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) {
		errno = ENOTSOCK;
		return fail("bulwark-shell sent something else");
	}
	if (send_fd(STDOUT_FILENO, fd) != 0)
		return fail("cannot pass the connection to ssh");
	return 0;
}
