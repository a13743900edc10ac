/*
 * test_agent.c - bulwark-shell's key agent (src/shell/agent.c) as a
 * process: it answers ssh, its child that connects, and hangs up on any
 * other process of the same uid; it goes away once ssh has exited, and
 * agent_stop leaves no socket behind. What it answers is
 * tests/unit/auth/test_sshagent.c's subject.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "auth/sshcert.h"
#include "auth/sshkey.h"
#include "shell/shell.h"
#include "testutil.h"
#include "common/banned.h"

/* Connects to path; -1 when nothing listens there. */
static int
dial_unix(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -2;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * SSH_AGENTC_REQUEST_IDENTITIES on path: the answer's type, 0 for a
 * hang-up (which may come before the request is even written), -1 when
 * nothing listens, -2 when no answer came in 5 s. No cmocka assertion:
 * a forked child calls it too.
 */
static int
ask_identities(const char *path)
{
	static const uint8_t req[] = { 0, 0, 0, 1, 11 };
	uint8_t buf[8192];
	struct pollfd p;
	ssize_t n;
	int fd = dial_unix(path);

	if (fd < 0)
		return fd;
	if (send(fd, req, sizeof(req), MSG_NOSIGNAL) != (ssize_t)sizeof(req)) {
		close(fd);
		return 0;
	}
	p.fd = fd;
	p.events = POLLIN;
	if (poll(&p, 1, 5000) != 1) {
		close(fd);
		return -2;
	}
	n = read(fd, buf, sizeof(buf));
	close(fd);
	return n >= 5 ? buf[4] : 0;
}

/*
 * Plays ssh: waits for a byte on go, asks path for identities, writes
 * the answer's type to back and exits.
 */
static pid_t
fake_ssh(const char *path, int go, int back)
{
	pid_t pid = fork();
	uint8_t b;

	assert_true(pid >= 0);
	if (pid != 0)
		return pid;
	/* Never outlives the test, whatever happens to it. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || read(go, &b, 1) != 1)
		_exit(2);
	b = (uint8_t)ask_identities(path);
	_exit(write(back, &b, 1) == 1 ? 0 : 3);
}

struct fix {
	char dir[64];
	struct sshkey *key, *ca, *host;
	char *cert, *hostkey;
	struct agent ag;
};

static int
setup(void **state)
{
	static const char *const root_only[] = { "root" };
	struct sshcert_request req;
	struct sshkey_pub pub;
	struct fix *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_non_null(tu_mkdtemp(f->dir, sizeof(f->dir), "/tmp/bwt-agent-"));
	assert_int_equal(sshkey_generate_secret("bulwark-session-7", &f->key),
	    ERR_OK);
	assert_int_equal(sshkey_generate_secret(NULL, &f->ca), ERR_OK);
	assert_int_equal(sshkey_generate_secret(NULL, &f->host), ERR_OK);
	sshkey_public(f->key, &pub);
	memset(&req, 0, sizeof(req));
	req.subject = &pub;
	req.serial = 7;
	req.key_id = "alice/7";
	req.principals = root_only;
	req.nprincipals = 1;
	req.valid_after = (uint64_t)time(NULL) - 30;
	req.valid_before = (uint64_t)time(NULL) + 60;
	assert_int_equal(sshcert_issue(f->ca, &req, &f->cert), ERR_OK);
	sshkey_public(f->host, &pub);
	assert_int_equal(sshkey_pub_format(&pub, NULL, &f->hostkey), ERR_OK);
	agent_init(&f->ag, f->dir);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fix *f = *state;

	agent_stop(&f->ag);
	sshkey_free(f->key);
	sshkey_free(f->ca);
	sshkey_free(f->host);
	free(f->cert);
	free(f->hostkey);
	assert_int_equal(tu_rm_tree(f->dir), 0);
	free(f);
	return 0;
}

static int
exit_code(pid_t pid)
{
	int st;

	assert_int_equal(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void
test_answers_ssh_alone(void **state)
{
	struct fix *f = *state;
	int go[2], back[2];
	struct stat st;
	uint8_t b;
	pid_t ssh;

	assert_int_equal(pipe(go), 0);
	assert_int_equal(pipe(back), 0);
	ssh = fake_ssh(f->ag.path, go[0], back[1]);
	/* Only the child keeps these: a child that dies ends our read. */
	close(go[0]);
	close(back[1]);
	assert_int_equal(agent_start(&f->ag, f->key, f->cert, f->hostkey,
	    "root", ssh), ERR_OK);
	/* This process is of the same uid, but not ssh: hung up on. */
	assert_int_equal(ask_identities(f->ag.path), 0);
	/* ssh is answered. */
	assert_int_equal(write(go[1], "g", 1), 1);
	assert_int_equal(read(back[0], &b, 1), 1);
	assert_int_equal(b, 12);	/* SSH_AGENT_IDENTITIES_ANSWER */
	assert_int_equal(exit_code(ssh), 0);
	agent_stop(&f->ag);
	assert_int_equal(f->ag.pid, -1);
	/* The refusal is reported, with this process's pid, once. */
	assert_int_equal(f->ag.refused, 1);
	assert_int_equal(f->ag.first_pid, (uint32_t)getpid());
	errno = 0;
	assert_int_not_equal(stat(f->ag.path, &st), 0);
	assert_int_equal(errno, ENOENT);
	agent_stop(&f->ag);	/* safe to repeat */
	close(go[1]);
	close(back[0]);
}

/* ssh gone (a zombie, not yet reaped): the agent leaves on its own. */
static void
test_leaves_with_ssh(void **state)
{
	struct fix *f = *state;
	pid_t ssh = fork();
	int i, r = 0;

	assert_true(ssh >= 0);
	if (ssh == 0) {
		(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
		pause();
		_exit(0);
	}
	assert_int_equal(agent_start(&f->ag, f->key, f->cert, f->hostkey,
	    "root", ssh), ERR_OK);
	assert_int_equal(kill(ssh, SIGKILL), 0);
	for (i = 0; i < 200; i++) {
		if ((r = ask_identities(f->ag.path)) == -1)
			break;
		usleep(10000);
	}
	assert_int_equal(r, -1);
	assert_int_equal(exit_code(ssh), 128 + SIGKILL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_answers_ssh_alone, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_leaves_with_ssh, setup,
		    teardown),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
