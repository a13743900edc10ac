/*
 * test_dial.c - bulwark-shell's connection to the target (src/shell/dial.c)
 * and its hand-over to ssh through the real bulwark-dial program, on
 * loopback: the socket ssh receives is connected, blocking and has
 * TCP_NODELAY; failures say what failed; a dialer that never comes does
 * not hold the session.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/fdpass.h"
#include "shell/shell.h"
#include "testutil.h"
#include "common/banned.h"

/* A listening socket on 127.0.0.1 and its port. */
static int
listener(uint32_t *port)
{
	int fd = tu_listener(4, port);

	assert_true(fd >= 0);
	return fd;
}

/* A port nothing listens on: bound, never listened to, then closed. */
static uint32_t
closed_port(void)
{
	uint32_t port;
	int fd = listener(&port);

	close(fd);
	return port;
}

static void
test_connects_with_nodelay(void **state)
{
	struct dial d;
	uint32_t port;
	int lfd = listener(&port), one = 0, c;
	socklen_t len = sizeof(one);

	(void)state;
	dial_init(&d);
	assert_int_equal(dial_start(&d, "127.0.0.1", port), ERR_OK);
	assert_int_equal(dial_finish(&d, 5000), ERR_OK);
	assert_true(d.fd >= 0);
	assert_int_equal(getsockopt(d.fd, IPPROTO_TCP, TCP_NODELAY, &one,
	    &len), 0);
	assert_int_equal(one, 1);
	one = 0;
	assert_int_equal(getsockopt(d.fd, SOL_SOCKET, SO_KEEPALIVE, &one,
	    &len), 0);
	assert_int_equal(one, 1);
	assert_int_equal(fcntl(d.fd, F_GETFL) & O_NONBLOCK, 0);
	assert_int_equal(fcntl(d.fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	c = accept(lfd, NULL, NULL);
	assert_true(c >= 0);
	close(c);
	dial_close(&d);
	assert_int_equal(d.fd, -1);
	close(lfd);
}

static void
test_refused_says_so(void **state)
{
	struct dial d;
	uint32_t port = closed_port();
	char want[64];

	(void)state;
	dial_init(&d);
	/* Loopback may refuse at once (dial_start) or at the first poll. */
	if (dial_start(&d, "127.0.0.1", port) == ERR_OK)
		assert_int_not_equal(dial_finish(&d, 5000), ERR_OK);
	else
		assert_int_equal(d.fd, -1);
	snprintf(want, sizeof(want), "port %u: ", (unsigned)port);
	assert_non_null(strstr(d.why, "connect to host 127.0.0.1"));
	assert_non_null(strstr(d.why, want));
	assert_non_null(strstr(d.why, strerror(ECONNREFUSED)));
	dial_close(&d);
}

static void
test_unresolvable(void **state)
{
	struct dial d;

	(void)state;
	dial_init(&d);
	assert_int_equal(dial_start(&d, "no-such-host.invalid", 22),
	    ERR_NETWORK);
	assert_int_not_equal(dial_finish(&d, 1000), ERR_OK);
	assert_non_null(strstr(d.why, "cannot resolve no-such-host.invalid"));
	dial_close(&d);
}

/*
 * Plays ssh: a child that runs bulwark-dial "-c arg" (as ssh runs it:
 * $SHELL -c "exec PATH", stdout a socket) as its own child, as ssh runs
 * its ProxyCommand, and exits with its status. Its pid is what
 * dial_hand_over is given.
 */
static pid_t
run_dial(const char *arg, int out)
{
	pid_t pid = fork(), dialer;
	int st;

	assert_true(pid >= 0);
	if (pid != 0)
		return pid;
	if ((dialer = fork()) == 0) {
		if (dup2(out, STDOUT_FILENO) < 0)
			_exit(126);
		execl(BULWARK_DIAL_BIN, BULWARK_DIAL_BIN, "-c", arg,
		    (char *)NULL);
		_exit(127);
	}
	if (dialer < 0 || waitpid(dialer, &st, 0) != dialer)
		_exit(125);
	_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 124);
}

static int
exit_code(pid_t pid)
{
	int st;

	assert_int_equal(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* mkdtemp's template: the six last characters are replaced. */
#define DIR_TEMPLATE	"/tmp/bwt-dial-XXXXXX"

/* A dial connected to port, its hand-over socket in a new dir. */
static void
connected_and_listening(struct dial *d, char dir[sizeof(DIR_TEMPLATE)],
    uint32_t port)
{
	memcpy(dir, DIR_TEMPLATE, sizeof(DIR_TEMPLATE));
	assert_non_null(mkdtemp(dir));
	dial_init(d);
	assert_int_equal(dial_start(d, "127.0.0.1", port), ERR_OK);
	assert_int_equal(dial_finish(d, 5000), ERR_OK);
	assert_int_equal(dial_listen(d, dir), ERR_OK);
}

static void
test_hand_over_through_bulwark_dial(void **state)
{
	char dir[sizeof(DIR_TEMPLATE)], arg[128], buf[8];
	struct dial d;
	struct stat st;
	uint32_t port;
	int lfd = listener(&port), sp[2], fd, c;
	pid_t pid;

	(void)state;
	connected_and_listening(&d, dir, port);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	snprintf(arg, sizeof(arg), "exec %s", d.path);
	pid = run_dial(arg, sp[1]);
	close(sp[1]);
	assert_int_equal(dial_hand_over(&d, pid), ERR_OK);
	/* Everything of ours is closed and the socket file is gone. */
	assert_int_equal(d.fd, -1);
	assert_int_equal(d.listen_fd, -1);
	errno = 0;
	assert_int_not_equal(stat(d.path, &st), 0);
	assert_int_equal(errno, ENOENT);
	fd = fdpass_recv(sp[0]);	/* as ssh's mm_receive_fd */
	assert_true(fd >= 0);
	assert_int_equal(exit_code(pid), 0);
	/* What "ssh" writes reaches the target's side. */
	assert_int_equal(write(fd, "SSH-2.0", 7), 7);
	c = accept(lfd, NULL, NULL);
	assert_true(c >= 0);
	assert_int_equal(read(c, buf, sizeof(buf)), 7);
	assert_memory_equal(buf, "SSH-2.0", 7);
	close(c);
	close(fd);
	close(sp[0]);
	close(lfd);
	assert_int_equal(rmdir(dir), 0);
}

/*
 * Another process of the same uid that connects first gets nothing: the
 * connection waits for ssh's own dialer, a child of ssh.
 */
static void
test_hand_over_stranger_refused(void **state)
{
	char dir[sizeof(DIR_TEMPLATE)], arg[128], b;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct dial d;
	uint32_t port;
	int lfd = listener(&port), sp[2], stranger, fd;
	pid_t pid;

	(void)state;
	connected_and_listening(&d, dir, port);
	stranger = socket(AF_UNIX, SOCK_STREAM, 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", d.path);
	assert_int_equal(connect(stranger, (struct sockaddr *)&sun,
	    sizeof(sun)), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	snprintf(arg, sizeof(arg), "exec %s", d.path);
	pid = run_dial(arg, sp[1]);
	close(sp[1]);
	assert_int_equal(dial_hand_over(&d, pid), ERR_OK);
	/* The stranger was hung up on, without a descriptor. */
	assert_int_equal(read(stranger, &b, 1), 0);
	fd = fdpass_recv(sp[0]);
	assert_true(fd >= 0);
	assert_int_equal(exit_code(pid), 0);
	close(fd);
	close(stranger);
	close(sp[0]);
	close(lfd);
	assert_int_equal(rmdir(dir), 0);
}

/*
 * A socket of another process in the hand-over socket's place (the
 * session directory is the user's): bulwark-dial takes nothing from it.
 */
static void
test_dial_refuses_impostor(void **state)
{
	char dir[sizeof(DIR_TEMPLATE)], path[64], arg[96];
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int go[2], sp[2], decoy[2], l, c;
	pid_t imp, pid;
	char b;

	(void)state;
	memcpy(dir, DIR_TEMPLATE, sizeof(DIR_TEMPLATE));
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/dial", dir);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	assert_int_equal(pipe(go), 0);
	if ((imp = fork()) == 0) {
		/* The impostor: listens there and hands out a descriptor. */
		l = socket(AF_UNIX, SOCK_STREAM, 0);
		if (l < 0 || bind(l, (struct sockaddr *)&sun, sizeof(sun)) != 0 ||
		    listen(l, 1) != 0 || write(go[1], "l", 1) != 1 ||
		    socketpair(AF_UNIX, SOCK_STREAM, 0, decoy) != 0 ||
		    (c = accept(l, NULL, NULL)) < 0)
			_exit(1);
		_exit(fdpass_send(c, decoy[0]) == 0 ? 0 : 1);
	}
	assert_int_equal(read(go[0], &b, 1), 1);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	snprintf(arg, sizeof(arg), "exec %s", path);
	pid = run_dial(arg, sp[1]);
	close(sp[1]);
	assert_int_equal(exit_code(pid), 1);
	/* ssh's end: nothing came. */
	assert_true(fdpass_recv(sp[0]) < 0);
	(void)kill(imp, SIGKILL);
	(void)exit_code(imp);
	close(sp[0]);
	close(go[0]);
	close(go[1]);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
}

/* ssh gone before its dialer came: no 30 s wait, the socket is closed. */
static void
test_hand_over_ssh_gone(void **state)
{
	char dir[sizeof(DIR_TEMPLATE)];
	struct dial d;
	struct timespec t0, t1;
	uint32_t port;
	int lfd = listener(&port);
	pid_t pid;

	(void)state;
	connected_and_listening(&d, dir, port);
	if ((pid = fork()) == 0)
		_exit(255);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_not_equal(dial_hand_over(&d, pid), ERR_OK);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_true(t1.tv_sec - t0.tv_sec < 5);
	assert_int_equal(d.fd, -1);
	assert_int_equal(exit_code(pid), 255);
	close(lfd);
	assert_int_equal(rmdir(dir), 0);
}

/* Run by hand or with anything but "exec /PATH": refused, exit 2. */
static void
test_dial_refuses_other_use(void **state)
{
	static const char *const bad[] = {
		"", "exec", "exec relative/path", "/tmp/x", "exec  /tmp/x",
	};
	int sp[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(exit_code(run_dial(bad[i], sp[1])), 2);
	/* A path where nobody listens: a failure, exit 1. */
	assert_int_equal(exit_code(run_dial("exec /nonexistent/dial", sp[1])),
	    1);
	close(sp[0]);
	close(sp[1]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_connects_with_nodelay),
		cmocka_unit_test(test_refused_says_so),
		cmocka_unit_test(test_unresolvable),
		cmocka_unit_test(test_hand_over_through_bulwark_dial),
		cmocka_unit_test(test_hand_over_stranger_refused),
		cmocka_unit_test(test_dial_refuses_impostor),
		cmocka_unit_test(test_hand_over_ssh_gone),
		cmocka_unit_test(test_dial_refuses_other_use),
	};

	sig_setup();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
