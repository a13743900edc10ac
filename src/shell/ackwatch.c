/*
 * ackwatch.c - acknowledges the target's segments at once while ssh's
 * handshake with it runs.
 *
 * Why: after ssh authenticates, the target's sshd writes its host-keys
 * notice and then, separately, the confirmation of ssh's session channel.
 * Until it sets TCP_NODELAY (later, and only for terminal sessions),
 * Nagle holds the confirmation until the notice is acknowledged, and
 * Linux delays that acknowledgement on our side, because ssh has nothing
 * to send while it waits for the confirmation: 40 ms in every session
 * (docs/benchmarks.md). The target's sshd is not ours to change, but the
 * connection's near end is: bulwark-shell made it (dial.c) and keeps a
 * copy of the descriptor. Each time a segment arrives (epoll, edge-
 * triggered, so never a busy loop while ssh has not read it yet) we set
 * TCP_QUICKACK, which sends an acknowledgement that is due now instead of
 * at the delayed-ACK timer. We never read from the socket: ssh owns the
 * stream. Linux forgets TCP_QUICKACK after a while, hence once per
 * arrival.
 *
 * The watch ends at the session's first output, when ssh ends, or after
 * ACKWATCH_MS, whichever comes first: by then the handshake is over, and
 * an interactive session's keystrokes should not wake us.
 */
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"
#include "shell/shell.h"
#include "common/banned.h"

#define ACKWATCH_MS	10000

static void
ackwatch_init(struct ackwatch *a)
{
	a->sock = a->ep = -1;
	a->until_ms = 0;
}

void
ackwatch_start(struct ackwatch *a, int sock)
{
	struct epoll_event ev;

	ackwatch_init(a);
	if (sock < 0)
		return;
	/* Best effort: without it, only the 40 ms come back. */
	if ((a->sock = fcntl(sock, F_DUPFD_CLOEXEC, 3)) < 0 ||
	    (a->ep = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		ackwatch_stop(a);
		return;
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN | EPOLLET;
	if (epoll_ctl(a->ep, EPOLL_CTL_ADD, a->sock, &ev) != 0) {
		ackwatch_stop(a);
		return;
	}
	a->until_ms = clock_mono_ms() + ACKWATCH_MS;
}

int
ackwatch_fd(const struct ackwatch *a)
{
	return a->ep;
}

void
ackwatch_event(struct ackwatch *a)
{
	struct epoll_event ev;
	int one = 1;

	if (a->ep < 0)
		return;
	/* One descriptor, one edge: one call takes it. */
	(void)epoll_wait(a->ep, &ev, 1, 0);
	(void)setsockopt(a->sock, IPPROTO_TCP, TCP_QUICKACK, &one,
	    sizeof(one));
	if (clock_mono_ms() >= a->until_ms)
		ackwatch_stop(a);
}

void
ackwatch_stop(struct ackwatch *a)
{
	if (a->ep >= 0)
		close(a->ep);
	if (a->sock >= 0)
		close(a->sock);
	a->sock = a->ep = -1;
}
