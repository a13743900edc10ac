/*
 * test_sshcert_sshd.c - invariant I1 against the real thing: Debian's sshd,
 * trusting only a Bulwark CA, and Debian's ssh client on loopback.
 *
 * The group set-up makes a throw-away Unix user (bwt + digits), a CA, a
 * host key and an sshd on 127.0.0.1 at a free port with its own
 * configuration; teardown kills that sshd and removes the user, also when
 * a test failed. Needs root (useradd, sshd); skipped otherwise.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "auth/sshcert.h"
#include "auth/sshkey.h"
#include "common/fsutil.h"
#include "common/banned.h"

#define SSHD "/usr/sbin/sshd"
#define SSH "/usr/bin/ssh"

static struct {
	char dir[64];
	int dir_made;
	char user[32];
	int user_made;
	int port;
	pid_t sshd;
	struct sshkey *ca;
	struct sshkey *other_ca;
	struct sshkey *key;	/* the session's ephemeral key */
	struct sshkey_pub key_pub;
} S = { .dir = "/tmp/bwt-sshd.XXXXXX" };

static void
path_of(char *buf, size_t len, const char *name)
{
	int n = snprintf(buf, len, "%s/%s", S.dir, name);

	if (n < 0 || (size_t)n >= len)
		abort();
}

/*
 * Runs argv without a shell, stdin from /dev/null, stdout and stderr
 * appended to log (or discarded when NULL). The exit status, -1 if killed.
 */
static int
run(char *const argv[], const char *log)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		int in = open("/dev/null", O_RDONLY);
		int out = log != NULL ?
		    open(log, O_WRONLY | O_CREAT | O_APPEND, 0600) :
		    open("/dev/null", O_WRONLY);

		if (in < 0 || out < 0)
			_exit(126);
		dup2(in, 0);
		dup2(out, 1);
		dup2(out, 2);
		unsetenv("SSH_AUTH_SOCK");
		execv(argv[0], argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return -1;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void
show_file(const char *name)
{
	char path[256], *text = NULL;
	size_t len;

	path_of(path, sizeof(path), name);
	if (fs_read_file(path, 1 << 20, &text, &len) == ERR_OK)
		fprintf(stderr, "--- %s ---\n%s--- end ---\n", name, text);
	free(text);
}

static int
write_file(const char *name, const char *text, mode_t mode)
{
	char path[256];

	path_of(path, sizeof(path), name);
	unlink(path);
	return fs_write_atomic(path, text, strlen(text), mode, FS_NOSYNC);
}

static int
free_port(void)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = -1;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

static int
listening(int port)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), ok;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)port);
	ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

static int
start_sshd(void)
{
	char cfg[256], log[256], path[256], conf[2048];
	struct timespec ts = { 0, 50 * 1000 * 1000 };
	int i, status, n;

	n = snprintf(conf, sizeof(conf),
	    "ListenAddress 127.0.0.1:%d\n"
	    "HostKey %s/host_key\n"
	    "PidFile %s/sshd.pid\n"
	    "AuthorizedKeysFile none\n"
	    "TrustedUserCAKeys %s/ca.pub\n"
	    "PubkeyAuthentication yes\n"
	    "AuthenticationMethods publickey\n"
	    "PasswordAuthentication no\n"
	    "KbdInteractiveAuthentication no\n"
	    "UsePAM no\n"
	    "StrictModes no\n"
	    "PermitRootLogin no\n"
	    "LogLevel VERBOSE\n",
	    S.port, S.dir, S.dir, S.dir);
	if (n < 0 || (size_t)n >= sizeof(conf) ||
	    write_file("sshd_config", conf, 0644) != ERR_OK)
		return -1;
	path_of(cfg, sizeof(cfg), "sshd_config");
	path_of(log, sizeof(log), "sshd.log");

	/* Debian's sshd wants its privilege separation directory. */
	if (mkdir("/run/sshd", 0755) != 0 && errno != EEXIST)
		return -1;
	{
		char *const argv[] = { SSHD, "-t", "-f", cfg, NULL };

		if (run(argv, log) != 0) {
			show_file("sshd.log");
			return -1;
		}
	}
	if ((S.sshd = fork()) < 0)
		return -1;
	if (S.sshd == 0) {
		char *const argv[] = { SSHD, "-D", "-f", cfg, "-E", log, NULL };
		int in = open("/dev/null", O_RDWR);

		if (in < 0)
			_exit(126);
		dup2(in, 0);
		dup2(in, 1);
		execv(argv[0], argv);
		_exit(127);
	}
	for (i = 0; i < 200; i++) {
		if (listening(S.port))
			return 0;
		if (waitpid(S.sshd, &status, WNOHANG) == S.sshd) {
			S.sshd = 0;
			break;
		}
		nanosleep(&ts, NULL);
	}
	path_of(path, sizeof(path), "sshd.log");
	show_file("sshd.log");
	return -1;
}

static int teardown(void **state);

static int
setup_all(void)
{
	char path[256];
	struct sshkey *host = NULL;
	struct sshkey_pub pub;
	int r;

	if (mkdtemp(S.dir) == NULL)
		return -1;
	S.dir_made = 1;
	if (chmod(S.dir, 0755) != 0)
		return -1;
	snprintf(S.user, sizeof(S.user), "bwt%05ld", (long)getpid() % 100000);
	{
		/* "*": no password, yet not locked ("!"), so sshd lets the
		 * user in with UsePAM no. */
		char *const argv[] = { "/usr/sbin/useradd", "-M", "-s",
		    "/bin/sh", "-p", "*", S.user, NULL };

		if (run(argv, NULL) != 0)
			return -1;
		S.user_made = 1;
	}

	if (sshkey_generate_secret("bulwark test ca", &S.ca) != ERR_OK ||
	    sshkey_generate_secret("other ca", &S.other_ca) != ERR_OK ||
	    sshkey_generate_secret("session", &S.key) != ERR_OK ||
	    sshkey_generate_secret("host", &host) != ERR_OK)
		return -1;
	sshkey_public(S.key, &S.key_pub);
	path_of(path, sizeof(path), "host_key");
	r = sshkey_save_secret(host, path);
	sshkey_free(host);
	if (r != ERR_OK)
		return -1;
	path_of(path, sizeof(path), "id");
	if (sshkey_save_secret(S.key, path) != ERR_OK)
		return -1;
	sshkey_public(S.ca, &pub);
	path_of(path, sizeof(path), "ca.pub");
	if (sshkey_pub_save(&pub, "bulwark test ca", path) != ERR_OK)
		return -1;
	if ((S.port = free_port()) < 0)
		return -1;
	return start_sshd();
}

/* cmocka skips the group teardown when set-up fails: clean up here. */
static int
setup(void **state)
{
	if (geteuid() != 0) {
		fprintf(stderr, "test_sshcert_sshd: needs root, skipped\n");
		return 0;
	}
	if (setup_all() != 0) {
		(void)teardown(state);
		return -1;
	}
	return 0;
}

static int
teardown(void **state)
{
	int status, ret = 0;

	(void)state;
	if (S.sshd > 0) {
		kill(S.sshd, SIGTERM);
		waitpid(S.sshd, &status, 0);
		S.sshd = 0;
	}
	if (S.user_made) {
		char *const argv[] = { "/usr/sbin/userdel", S.user, NULL };

		if (run(argv, NULL) != 0)
			ret = -1;
		S.user_made = 0;
	}
	/* BULWARK_TEST_KEEP=1 keeps the directory and its logs. */
	if (S.dir_made && getenv("BULWARK_TEST_KEEP") == NULL) {
		char *const argv[] = { "/bin/rm", "-rf", S.dir, NULL };

		if (run(argv, NULL) != 0)
			ret = -1;
	}
	S.dir_made = 0;
	sshkey_free(S.key);
	sshkey_free(S.other_ca);
	sshkey_free(S.ca);
	S.key = S.other_ca = S.ca = NULL;
	return ret;
}

#define SKIP_UNLESS_ROOT() do {		\
	if (geteuid() != 0)		\
		skip();			\
} while (0)

/* What a certificate differs in from a good one. */
struct variant {
	const struct sshkey *ca;
	const char *principal;
	const char *source_address;
	int64_t after, before;		/* relative to now */
	int permit_pty;
};

static const struct variant good = {
	NULL, NULL, "127.0.0.1/32", -30, 60, 1,
};

static void
make_cert(const struct variant *v, const char *name)
{
	const char *principals[1];
	struct sshcert_request req;
	char *line = NULL;
	int64_t now = (int64_t)time(NULL);

	principals[0] = v->principal != NULL ? v->principal : S.user;
	memset(&req, 0, sizeof(req));
	req.subject = &S.key_pub;
	req.serial = 42;
	req.key_id = "alice/42";
	req.principals = principals;
	req.nprincipals = 1;
	req.valid_after = (uint64_t)(now + v->after);
	req.valid_before = (uint64_t)(now + v->before);
	req.source_address = v->source_address;
	req.permit_pty = v->permit_pty;
	assert_int_equal(sshcert_issue(v->ca != NULL ? v->ca : S.ca, &req,
	    &line), ERR_OK);
	assert_int_equal(write_file(name, line, 0644), ERR_OK);
	free(line);
}

/*
 * ssh -i id [-o CertificateFile=cert] user@127.0.0.1 COMMAND..., with
 * nothing from the invoking user's configuration or agent. Output goes
 * to ssh.out (replaced each time).
 */
static int
ssh_run(const char *cert, const char *const extra[], const char *const cmd[])
{
	char id[256], kh[256], port[16], certopt[300], out[256];
	char *argv[48];
	size_t n = 0, i;

	path_of(id, sizeof(id), "id");
	path_of(kh, sizeof(kh), "known_hosts");
	path_of(out, sizeof(out), "ssh.out");
	unlink(out);
	snprintf(port, sizeof(port), "%d", S.port);
	argv[n++] = SSH;
	argv[n++] = "-F";
	argv[n++] = "/dev/null";
	argv[n++] = "-o";
	argv[n++] = certopt;
	argv[n++] = "-o";
	argv[n++] = "StrictHostKeyChecking=no";
	argv[n++] = "-o";
	argv[n++] = "IdentitiesOnly=yes";
	argv[n++] = "-o";
	argv[n++] = "BatchMode=yes";
	argv[n++] = "-o";
	argv[n++] = "ConnectTimeout=10";
	argv[n++] = "-i";
	argv[n++] = id;
	argv[n++] = "-p";
	argv[n++] = port;
	snprintf(certopt, sizeof(certopt), "UserKnownHostsFile=%s", kh);
	if (cert != NULL) {
		static char cf[300];
		char path[256];

		path_of(path, sizeof(path), cert);
		snprintf(cf, sizeof(cf), "CertificateFile=%s", path);
		argv[n++] = "-o";
		argv[n++] = cf;
	}
	for (i = 0; extra != NULL && extra[i] != NULL; i++)
		argv[n++] = (char *)extra[i];
	{
		static char dest[64];

		snprintf(dest, sizeof(dest), "%s@127.0.0.1", S.user);
		argv[n++] = dest;
	}
	for (i = 0; cmd[i] != NULL; i++)
		argv[n++] = (char *)cmd[i];
	argv[n] = NULL;
	assert_true(n < sizeof(argv) / sizeof(argv[0]));
	return run(argv, out);
}

static const char *const cmd_true[] = { "true", NULL };

static void
expect_ok(const char *cert)
{
	int r = ssh_run(cert, NULL, cmd_true);

	if (r != 0) {
		show_file("ssh.out");
		show_file("sshd.log");
	}
	assert_int_equal(r, 0);
}

static size_t
log_size(void)
{
	char path[256];
	struct stat st;

	path_of(path, sizeof(path), "sshd.log");
	return stat(path, &st) == 0 ? (size_t)st.st_size : 0;
}

/*
 * ssh must fail to authenticate and, when reason is not NULL, sshd must
 * have logged reason since it was started, so that the refusal is known
 * to be the one the test is about.
 */
static void
expect_refused(const char *cert, const char *reason)
{
	char path[256], *text = NULL;
	size_t len, mark = log_size();
	int r = ssh_run(cert, NULL, cmd_true);

	if (r == 0)
		show_file("sshd.log");
	assert_int_equal(r, 255);
	path_of(path, sizeof(path), "ssh.out");
	assert_int_equal(fs_read_file(path, 1 << 16, &text, &len), ERR_OK);
	if (strstr(text, "Permission denied") == NULL)
		show_file("ssh.out");
	assert_non_null(strstr(text, "Permission denied"));
	free(text);
	text = NULL;
	if (reason != NULL) {
		/* sshd may log after the client has seen the refusal. */
		struct timespec ts = { 0, 20 * 1000 * 1000 };
		int i, found = 0;

		path_of(path, sizeof(path), "sshd.log");
		for (i = 0; i < 250 && !found; i++) {
			if (i > 0)
				nanosleep(&ts, NULL);
			assert_int_equal(fs_read_file(path, 1 << 24, &text,
			    &len), ERR_OK);
			assert_true(len >= mark);
			found = strstr(text + mark, reason) != NULL;
			free(text);
			text = NULL;
		}
		if (!found) {
			fprintf(stderr, "sshd did not log '%s'\n", reason);
			show_file("sshd.log");
		}
		assert_true(found);
	}
}

static void
test_valid_cert(void **state)
{
	(void)state;
	SKIP_UNLESS_ROOT();
	make_cert(&good, "good-cert.pub");
	expect_ok("good-cert.pub");
}

static void
test_expired_cert(void **state)
{
	struct variant v = good;

	(void)state;
	SKIP_UNLESS_ROOT();
	v.after = -200;
	v.before = -100;
	make_cert(&v, "expired-cert.pub");
	expect_refused("expired-cert.pub", "Certificate invalid: expired");
}

static void
test_not_yet_valid_cert(void **state)
{
	struct variant v = good;

	(void)state;
	SKIP_UNLESS_ROOT();
	v.after = 120;
	v.before = 180;
	make_cert(&v, "future-cert.pub");
	expect_refused("future-cert.pub",
	    "Certificate invalid: not yet valid");
}

static void
test_other_principal(void **state)
{
	struct variant v = good;

	(void)state;
	SKIP_UNLESS_ROOT();
	v.principal = "root";
	make_cert(&v, "root-cert.pub");
	expect_refused("root-cert.pub",
	    "Certificate invalid: name is not a listed principal");
}

static void
test_other_source_address(void **state)
{
	struct variant v = good;

	(void)state;
	SKIP_UNLESS_ROOT();
	v.source_address = "127.0.0.2/32";
	make_cert(&v, "addr-cert.pub");
	expect_refused("addr-cert.pub",
	    "not from a permitted source address (127.0.0.1)");
}

static void
test_bare_key(void **state)
{
	(void)state;
	SKIP_UNLESS_ROOT();
	expect_refused(NULL, NULL);
}

static void
test_other_ca(void **state)
{
	struct variant v = good;
	struct sshkey_pub pub;
	char fp[SSHKEY_FP_MAX], want[128];

	(void)state;
	SKIP_UNLESS_ROOT();
	v.ca = S.other_ca;
	make_cert(&v, "other-ca-cert.pub");
	sshkey_public(S.other_ca, &pub);
	sshkey_fingerprint(&pub, fp);
	snprintf(want, sizeof(want), "Failed publickey for %s from 127.0.0.1",
	    S.user);
	expect_refused("other-ca-cert.pub", want);
	snprintf(want, sizeof(want), "CA ED25519 %s", fp);
	expect_refused("other-ca-cert.pub", want);
}

/* A pty only when the certificate says permit-pty. */
static void
test_pty_only_when_permitted(void **state)
{
	static const char *const tt[] = { "-tt", NULL };
	static const char *const cmd[] = { "tty", NULL };
	struct variant v = good;
	char path[256], *text = NULL;
	size_t len;

	(void)state;
	SKIP_UNLESS_ROOT();
	path_of(path, sizeof(path), "ssh.out");

	make_cert(&good, "pty-cert.pub");
	assert_int_equal(ssh_run("pty-cert.pub", tt, cmd), 0);
	assert_int_equal(fs_read_file(path, 1 << 16, &text, &len), ERR_OK);
	assert_non_null(strstr(text, "/dev/pts/"));
	free(text);
	text = NULL;

	v.permit_pty = 0;
	make_cert(&v, "nopty-cert.pub");
	assert_int_not_equal(ssh_run("nopty-cert.pub", tt, cmd), 0);
	assert_int_equal(fs_read_file(path, 1 << 16, &text, &len), ERR_OK);
	if (strstr(text, "PTY allocation request failed") == NULL)
		show_file("ssh.out");
	assert_null(strstr(text, "/dev/pts/"));
	assert_non_null(strstr(text, "PTY allocation request failed"));
	free(text);
}

/* No extension permits forwarding: sshd refuses a remote forward. */
static void
test_no_forwarding(void **state)
{
	static const char *const fwd[] = { "-o", "ExitOnForwardFailure=yes",
	    "-R", "0:127.0.0.1:9", NULL };

	(void)state;
	SKIP_UNLESS_ROOT();
	make_cert(&good, "fwd-cert.pub");
	if (ssh_run("fwd-cert.pub", fwd, cmd_true) == 0) {
		show_file("ssh.out");
		fail_msg("remote forwarding was allowed");
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_cert),
		cmocka_unit_test(test_expired_cert),
		cmocka_unit_test(test_not_yet_valid_cert),
		cmocka_unit_test(test_other_principal),
		cmocka_unit_test(test_other_source_address),
		cmocka_unit_test(test_bare_key),
		cmocka_unit_test(test_other_ca),
		cmocka_unit_test(test_pty_only_when_permitted),
		cmocka_unit_test(test_no_forwarding),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
