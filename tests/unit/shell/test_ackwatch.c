/*
 * test_ackwatch.c - bulwark-shell's quick ACKs on the target connection
 * (src/shell/ackwatch.c), on a real loopback TCP connection: a segment
 * that arrives while the connection is in delayed-ACK ("pingpong") mode
 * wakes the watch, which takes the connection out of it; the watch does
 * not wake again for the same unread data; stopping closes only its own
 * copy of the socket.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "shell/shell.h"
#include "testutil.h"
#include "common/banned.h"

/* A connected pair on 127.0.0.1: *srv (accepted) and *cli (ours). */
static void
tcp_pair(int *srv, int *cli)
{
	struct sockaddr_in sin;
	uint32_t port;
	int l = tu_listener(1, &port);

	assert_true(l >= 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)port);
	*cli = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(*cli >= 0);
	assert_int_equal(connect(*cli, (struct sockaddr *)&sin, sizeof(sin)),
	    0);
	*srv = accept(l, NULL, NULL);
	assert_true(*srv >= 0);
	close(l);
}

static int
quickack(int fd)
{
	int v = -1;
	socklen_t len = sizeof(v);

	assert_int_equal(getsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &v, &len),
	    0);
	return v;
}

static void
xfer(int from, int to, char c)
{
	char got;

	assert_int_equal(write(from, &c, 1), 1);
	assert_int_equal(read(to, &got, 1), 1);
	assert_int_equal(got, c);
}

static int
ready(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, ms) == 1 && (p.revents & POLLIN);
}

static void
test_arrival_acks_at_once(void **state)
{
	struct ackwatch a;
	int srv, cli, i;
	char got;

	(void)state;
	tcp_pair(&srv, &cli);
	/* Request and answer, as ssh and sshd talk: Linux then delays our
	 * ACKs, hoping to send them with an answer. */
	for (i = 0; i < 8; i++) {
		xfer(srv, cli, 'q');
		xfer(cli, srv, 'a');
	}
	if (quickack(cli) != 0) {
		/* Without delayed ACKs to begin with there is nothing to
		 * show; this kernel's loopback never delays them. */
		close(srv);
		close(cli);
		skip();
	}
	ackwatch_start(&a, cli);
	assert_true(ackwatch_fd(&a) >= 0);
	assert_false(ready(ackwatch_fd(&a), 0));
	assert_int_equal(write(srv, "n", 1), 1);	/* the host-keys notice */
	assert_true(ready(ackwatch_fd(&a), 2000));
	ackwatch_event(&a);
	assert_int_equal(quickack(cli), 1);
	/* Edge-triggered: the notice is still unread (ssh's to read), and
	 * the watch does not wake for it again. */
	assert_false(ready(ackwatch_fd(&a), 50));
	assert_true(ready(cli, 0));
	/* The next segment wakes it again. */
	assert_int_equal(write(srv, "c", 1), 1);
	assert_true(ready(ackwatch_fd(&a), 2000));
	ackwatch_event(&a);
	/* Stopping closes the watch's copy, not the connection. */
	ackwatch_stop(&a);
	assert_int_equal(ackwatch_fd(&a), -1);
	ackwatch_stop(&a);
	assert_int_equal(read(cli, &got, 1), 1);
	assert_int_equal(got, 'n');
	assert_int_equal(read(cli, &got, 1), 1);
	assert_int_equal(got, 'c');
	xfer(srv, cli, 'x');
	close(srv);
	close(cli);
}

static void
test_nothing_to_watch(void **state)
{
	struct ackwatch a;
	int fd;

	(void)state;
	ackwatch_start(&a, -1);
	assert_int_equal(ackwatch_fd(&a), -1);
	ackwatch_event(&a);
	ackwatch_stop(&a);
	/* A descriptor epoll cannot watch: the watch stays off. */
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	ackwatch_start(&a, fd);
	assert_int_equal(ackwatch_fd(&a), -1);
	ackwatch_stop(&a);
	close(fd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_arrival_acks_at_once),
		cmocka_unit_test(test_nothing_to_watch),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
