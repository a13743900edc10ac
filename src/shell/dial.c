/*
 * dial.c - the TCP connection to the target, made here and handed to ssh.
 *
 * Why not let ssh connect: two reasons, both measured (docs/benchmarks.md).
 *
 *  - Debian 12's ssh (OpenSSH 9.2) sets TCP_NODELAY only when the session
 *    starts (ssh_packet_set_interactive), after the key exchange. Before
 *    that, the NEWKEYS and SERVICE_REQUEST messages that ssh writes back
 *    to back meet Nagle's algorithm: the second waits for the target's
 *    delayed ACK of the first, 40 ms on Linux, in every session. (ssh -J
 *    does not pay it: the jump host's sshd writes both in one segment.)
 *    Current OpenSSH sets it right after connecting.
 *  - Connecting as soon as bulwarkd names the target lets the target's
 *    sshd fork, re-exec and load its keys (about 40 ms here) while we get
 *    the certificate and start ssh, instead of after.
 *
 * The hand-over uses ssh's own ProxyUseFdpass: ssh runs the proxy
 * command with $SHELL -c "exec COMMAND"; bulwark-shell sets SHELL to
 * bulwark-dial (src/dial/) and COMMAND to the path of a Unix socket in
 * the session's private directory, where we pass the connected socket
 * to bulwark-dial, which passes it to ssh. Nothing the user types reaches
 * any of it, and the helper can only relay a socket this process made.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/fdpass.h"
#include "common/proc.h"
#include "shell/shell.h"
#include "common/banned.h"

/* ssh's own hand-over wait has no limit; ours ends a stuck start-up. */
#define HANDOVER_MS	30000

void
dial_init(struct dial *d)
{
	memset(d, 0, sizeof(*d));
	d->fd = -1;
	d->listen_fd = -1;
}

static void
set_why(struct dial *d, int err)
{
	snprintf(d->why, sizeof(d->why), "connect to host %s port %u: %s",
	    d->host, (unsigned)d->port, strerror(err));
}

/* Starts a non-blocking connect to the current address or a later one. */
static void
connect_next(struct dial *d)
{
	for (; d->cur != NULL; d->cur = d->cur->ai_next) {
		int fd = socket(d->cur->ai_family,
		    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

		if (fd < 0) {
			set_why(d, errno);
			continue;
		}
		if (connect(fd, d->cur->ai_addr, d->cur->ai_addrlen) == 0 ||
		    errno == EINPROGRESS) {
			d->fd = fd;
			d->started_ms = clock_mono_ms();
			return;
		}
		set_why(d, errno);
		close(fd);
	}
}

int
dial_start(struct dial *d, const char *host, uint32_t port)
{
	struct addrinfo hints;
	char portstr[12];
	int r;

	snprintf(d->host, sizeof(d->host), "%s", host);
	d->port = port;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG;
	snprintf(portstr, sizeof(portstr), "%u", (unsigned)port);
	if ((r = getaddrinfo(host, portstr, &hints, &d->ai)) != 0) {
		snprintf(d->why, sizeof(d->why), "cannot resolve %s: %s",
		    host, gai_strerror(r));
		d->ai = NULL;
		return ERR_NETWORK;
	}
	d->cur = d->ai;
	connect_next(d);
	return d->fd >= 0 ? ERR_OK : ERR_NETWORK;
}

/* 1: connected, 0: still waiting, -1: this address failed. */
static int
check_connected(struct dial *d)
{
	struct pollfd pfd = { .fd = d->fd, .events = POLLOUT };
	struct timespec ts = { 0, 50 * 1000000 };
	socklen_t len = sizeof(int);
	int err = 0;

	if (ppoll(&pfd, 1, &ts, sig_wait_mask()) <= 0)
		return 0;
	if (getsockopt(d->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
		err = errno;
	if (err == 0)
		return 1;
	set_why(d, err);
	return -1;
}

int
dial_finish(struct dial *d, int timeout_ms)
{
	int one = 1, c, fl;

	while (d->fd >= 0) {
		if (sig_terminated()) {
			snprintf(d->why, sizeof(d->why), "interrupted while "
			    "connecting to host %s port %u", d->host,
			    (unsigned)d->port);
			return ERR_NETWORK;
		}
		if ((c = check_connected(d)) == 0 &&
		    clock_mono_ms() - d->started_ms < timeout_ms)
			continue;
		if (c == 1)
			break;
		if (c == 0)
			set_why(d, ETIMEDOUT);
		close(d->fd);
		d->fd = -1;
		d->cur = d->cur->ai_next;
		connect_next(d);
	}
	if (d->fd < 0)
		return ERR_NETWORK;
	/* ssh takes the socket as if it had made it (blocking, SO_KEEPALIVE
	 * as its TCPKeepAlive default sets), and quick. */
	if ((fl = fcntl(d->fd, F_GETFL)) >= 0)
		(void)fcntl(d->fd, F_SETFL, fl & ~O_NONBLOCK);
	(void)setsockopt(d->fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	(void)setsockopt(d->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return ERR_OK;
}

int
dial_listen(struct dial *d, const char *dir)
{
	struct sockaddr_un sun;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if ((size_t)snprintf(d->path, sizeof(d->path), "%s/dial", dir) >=
	    sizeof(d->path) || strlen(d->path) >= sizeof(sun.sun_path))
		return ERR_TOOBIG;
	memcpy(sun.sun_path, d->path, strlen(d->path) + 1);
	d->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (d->listen_fd < 0 ||
	    bind(d->listen_fd, (struct sockaddr *)&sun, sizeof(sun)) != 0 ||
	    listen(d->listen_fd, 1) != 0) {
		snprintf(d->why, sizeof(d->why), "cannot make %s: %s",
		    d->path, strerror(errno));
		return ERR_IO;
	}
	return ERR_OK;
}

/*
 * ssh's proxy dialer only: our uid, and a child of ssh. Another process
 * of the user that connected first would only have taken the connection
 * (ssh fails without it; the agent signs for ssh alone), but the session
 * is the user's, not a race's.
 */
static int
peer_is_dialer(int fd, pid_t ssh_pid)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct proc_info pi;

	return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 &&
	    cred.uid == getuid() && proc_info_get(cred.pid, &pi) == ERR_OK &&
	    pi.ppid == ssh_pid;
}

/* Whether ssh is gone, without reaping it (the relay does). */
static int
child_gone(pid_t pid)
{
	siginfo_t info;

	memset(&info, 0, sizeof(info));
	return waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT)
	    == 0 && info.si_pid == pid;
}

int
dial_hand_over(struct dial *d, pid_t ssh_pid)
{
	struct pollfd pfd = { .fd = d->listen_fd, .events = POLLIN };
	struct timespec ts = { 0, 100 * 1000000 };
	int64_t end = clock_mono_ms() + HANDOVER_MS;
	int c, r = ERR_NETWORK;

	while (clock_mono_ms() < end && !sig_terminated() && !child_gone(ssh_pid)) {
		if (ppoll(&pfd, 1, &ts, sig_wait_mask()) <= 0)
			continue;
		c = accept4(d->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0)
			continue;
		r = !peer_is_dialer(c, ssh_pid) ? ERR_DENIED :
		    fdpass_send(c, d->fd) == 0 ? ERR_OK : ERR_IO;
		close(c);
		if (r == ERR_OK)
			break;
	}
	/* ssh holds its own copy now; without one it fails and says so. */
	dial_close(d);
	return r;
}

void
dial_close(struct dial *d)
{
	if (d->fd >= 0)
		close(d->fd);
	if (d->listen_fd >= 0) {
		close(d->listen_fd);
		(void)unlink(d->path);
	}
	d->fd = d->listen_fd = -1;
	if (d->ai != NULL)
		freeaddrinfo(d->ai);
	d->ai = d->cur = NULL;
}
