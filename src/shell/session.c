/*
 * session.c - one session to a target, start to end:
 *
 *   private directory -> ssh started (sshrun.c), waiting for its
 *   connection -> SESSION_OPEN (policy decides; ssh killed on a refusal)
 *   -> TCP connect started (dial.c) -> ephemeral key -> SESSION_CERT ->
 *   certificate and pinned host key written, key handed to its agent
 *   (agent.c) -> the connection handed to ssh -> relayed and recorded
 *   (relay.c) -> directory removed
 *   -> SESSION_END (from a detached child) -> exit with ssh's status.
 *
 * ssh starts first because its start-up is the longest step before the
 * target's handshake, and everything else here can run beside it.
 *
 * The directory is made with mkdtemp under /dev/shm when it is there,
 * else /tmp, named "bulwark-", the
 * shell's pid, "-" and mkdtemp's six random characters; 0700, ours,
 * removed on every path out of session_run once it exists; signals cannot
 * skip that, see sig.c. Only SIGKILL can, and the next session of the
 * same uid sweeps such a directory (sweep_stale). Nothing in it is
 * synced: it lives for one session and is worthless after a crash (the
 * certificate is dead within a minute). The private key is in no file:
 * the agent's socket is the only way to it, for ssh alone.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/sshcert.h"
#include "auth/sshkey.h"
#include "common/fsutil.h"
#include "common/wire.h"
#include "gateway/proto.h"
#include "shell/shell.h"
#include "common/banned.h"

/* BASE/bulwark-PID-RANDOM: the pid tells a stale directory (sweep_stale). */
#define DIR_PREFIX	"bulwark-"
/* mkdtemp's template: it fills these in. */
#define DIR_RANDOM	"XXXXXX"
static const char *const dir_bases[] = { "/dev/shm", "/tmp" };
#define NBASES	(sizeof(dir_bases) / sizeof(dir_bases[0]))
/* Without COUNT, the largest cap the field could have said. */
#define DEFAULT_RECORD_CAP	UINT32_MAX

/* Printable ASCII only: these end up on ssh's command line and files. */
static int
ascii_line(const char *s, const char *extra_banned)
{
	for (; *s != '\0'; s++) {
		if (*s < 0x20 || *s >= 0x7f || strchr(extra_banned, *s) != NULL)
			return 0;
	}
	return 1;
}

/* A host ssh takes as such: no option, no user@, no spaces. */
static int
host_valid(const char *h)
{
	size_t i;

	if (h[0] == '\0' || h[0] == '-')
		return 0;
	for (i = 0; h[i] != '\0'; i++) {
		char c = h[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '-' ||
		    c == '_' || c == ':' || c == '%'))
			return 0;
	}
	return 1;
}

/* The user sees bulwarkd's reason; control bytes are dropped from it. */
static void
print_reason(const char *reason)
{
	char buf[PROTO_STR_MAX + 1];
	size_t i, n = 0;

	for (i = 0; reason[i] != '\0' && n < sizeof(buf) - 1; i++) {
		unsigned char c = (unsigned char)reason[i];

		if (c >= 0x20 && c != 0x7f)
			buf[n++] = (char)c;
	}
	buf[n] = '\0';
	shell_msg("%s", n > 0 ? buf : "access denied");
}

static int
open_request(const struct shell *sh, struct wire_builder **out)
{
	const struct shellcmd *c = &sh->cmd;
	struct wire_builder *b = NULL;
	const uint8_t *frame;
	size_t len;
	int r;

	*out = NULL;
	if ((r = wire_builder_new(PROTO_SESSION_OPEN, &b)) != ERR_OK)
		return r;
	if ((r = wire_put_str(b, P_TARGET, c->target)) != ERR_OK ||
	    (r = wire_put_str(b, P_LOGIN, c->login)) != ERR_OK ||
	    (r = wire_put_str(b, P_KIND, shellcmd_kind_name(c->kind))) !=
	    ERR_OK ||
	    (r = wire_put_u8(b, P_PTY, (uint8_t)(c->want_pty != 0))) !=
	    ERR_OK)
		goto fail;
	if (c->command != NULL &&
	    (r = wire_put_str(b, P_COMMAND, c->command)) != ERR_OK)
		goto fail;
	if (sh->rhost != NULL &&
	    (r = wire_put_str(b, P_RHOST, sh->rhost)) != ERR_OK)
		goto fail;
	if ((r = wire_builder_frame(b, &frame, &len)) != ERR_OK)
		goto fail;
	*out = b;
	return ERR_OK;
 fail:
	wire_builder_free(b);
	return r;
}

/* The "allow" half of the answer: where to connect and what to trust. */
static int
take_allow(const struct wire_msg *m, struct session *s)
{
	uint32_t cap;
	int r;

	if ((r = wire_get_u64(m, P_SESSION, &s->id)) != ERR_OK ||
	    (r = wire_get_strdup(m, P_HOST, &s->host)) != ERR_OK ||
	    (r = wire_get_u32(m, P_PORT, &s->port)) != ERR_OK ||
	    (r = wire_get_strdup(m, P_HOSTKEY, &s->hostkey)) != ERR_OK)
		return ERR_FORMAT;
	r = wire_get_u32(m, P_COUNT, &cap);
	s->record_cap = r == ERR_OK ? cap : DEFAULT_RECORD_CAP;
	if (!host_valid(s->host) || s->port == 0 || s->port > 65535 ||
	    s->hostkey[0] == '\0' || !ascii_line(s->hostkey, "") ||
	    strchr(s->hostkey, ' ') == NULL)
		return ERR_FORMAT;
	return ERR_OK;
}

static int
decide(const struct shell *sh, const struct wire_msg *m, struct session *s)
{
	char *decision = NULL, *reason = NULL;
	int r;

	if (wire_get_strdup(m, P_DECISION, &decision) != ERR_OK) {
		r = ERR_FORMAT;
	} else if (strcmp(decision, "allow") == 0) {
		r = take_allow(m, s);
	} else {
		if (wire_get_strdup(m, P_REASON, &reason) != ERR_OK)
			reason = NULL;
		print_reason(reason != NULL ? reason : "");
		r = ERR_DENIED;
	}
	if (r == ERR_FORMAT)
		shell_rpc_failed(sh, ERR_FORMAT);
	free(decision);
	free(reason);
	return r;
}

static int
session_open(const struct shell *sh, struct session *s)
{
	struct wire_builder *b = NULL;
	struct rpc_response *resp = NULL;
	int r;

	if ((r = open_request(sh, &b)) != ERR_OK) {
		shell_msg("cannot build the session request (%s)", err_str(r));
		goto out;
	}
	if ((r = rpc_client_call(sh->rpc, b, &resp)) == ERR_DENIED) {
		shell_msg("access to %s@%s is denied", sh->cmd.login,
		    sh->cmd.target);
		goto out;
	} else if (r != ERR_OK) {
		shell_rpc_failed(sh, r);
		goto out;
	}
	r = decide(sh, &resp->msg, s);
 out:
	rpc_response_free(resp);
	wire_builder_free(b);
	return r;
}

/* SESSION_CERT for key's public half; *cert is the checked line. */
static int
certify(const struct shell *sh, const struct sshkey *key, char **cert)
{
	struct wire_builder *b = NULL;
	struct rpc_response *resp = NULL;
	struct sshcert *c = NULL;
	struct sshkey_pub pub;
	char *line = NULL;
	int r;

	*cert = NULL;
	sshkey_public(key, &pub);
	if ((r = sshkey_pub_format(&pub, NULL, &line)) != ERR_OK ||
	    (r = wire_builder_new(PROTO_SESSION_CERT, &b)) != ERR_OK ||
	    (r = wire_put_strn(b, P_KEY, line, strcspn(line, "\n"))) != ERR_OK)
		goto out;
	if ((r = rpc_client_call(sh->rpc, b, &resp)) != ERR_OK) {
		shell_rpc_failed(sh, r);
		goto out;
	}
	if ((r = wire_get_strdup(&resp->msg, P_CERT, cert)) != ERR_OK ||
	    (r = sshcert_parse(*cert, strlen(*cert), &c)) != ERR_OK ||
	    memcmp(&c->key, &pub, sizeof(pub)) != 0) {
		/* A certificate for another key would fail later, obscurely. */
		shell_msg("the gateway daemon sent an unusable certificate; "
		    "ask an administrator to check bulwarkd");
		free(*cert);
		*cert = NULL;
		r = ERR_FORMAT;
	}
 out:
	sshcert_free(c);
	rpc_response_free(resp);
	wire_builder_free(b);
	free(line);
	return r;
}

static int
set_paths(struct session *s)
{
	size_t i;

	for (i = 0; i < NBASES; i++) {
		snprintf(s->dir, sizeof(s->dir),
		    "%s/" DIR_PREFIX "%ld-" DIR_RANDOM, dir_bases[i],
		    (long)getpid());
		if (mkdtemp(s->dir) != NULL)
			break;
	}
	if (i == NBASES) {
		s->dir[0] = '\0';
		return ERR_IO;
	}
	agent_init(&s->agent, s->dir);
	snprintf(s->cert_path, sizeof(s->cert_path), "%s/id-cert.pub", s->dir);
	snprintf(s->kh_path, sizeof(s->kh_path), "%s/known_hosts", s->dir);
	return ERR_OK;
}

/* A text file of one line, s1 s2 "\n"; only we read it back. */
static int
write_line(const char *path, const char *s1, const char *s2)
{
	size_t l1 = strlen(s1), l2 = strcspn(s2, "\n");
	char *text;
	int r;

	if ((text = malloc(l1 + l2 + 2)) == NULL)
		return ERR_NOMEM;
	memcpy(text, s1, l1);
	memcpy(text + l1, s2, l2);
	text[l1 + l2] = '\n';
	r = fs_write_atomic(path, text, l1 + l2 + 1, 0600,
	    FS_EXCL | FS_NOSYNC);
	free(text);
	return r;
}

/*
 * The certificate and the pinned host key written, and the key handed to
 * its agent, before ssh is given its connection: ssh reads them only after
 * connecting (OpenSSH loads identities after ssh_connect, and IdentityFile
 * given with -o is not checked at start, unlike -i). The key itself never
 * reaches a file: this process wipes it here, the agent once it has signed.
 */
static int
session_prepare(const struct shell *sh, struct session *s, pid_t ssh_pid)
{
	struct sshkey *key = NULL;
	char comment[64], *cert = NULL;
	int r;

	snprintf(comment, sizeof(comment), "bulwark-session-%llu",
	    (unsigned long long)s->id);
	if ((r = sshkey_generate_secret(comment, &key)) != ERR_OK) {
		shell_msg("cannot make a session key (%s)", err_str(r));
		goto out;
	}
	if ((r = certify(sh, key, &cert)) != ERR_OK)
		goto out;
	s->certified = 1;
	if ((r = write_line(s->cert_path, "", cert)) != ERR_OK ||
	    (r = write_line(s->kh_path, SHELL_HOSTKEY_ALIAS " ",
	    s->hostkey)) != ERR_OK)
		shell_msg("cannot write the session's files in %s (%s); "
		    "ask an administrator to check the gateway", s->dir,
		    err_str(r));
	else if ((r = agent_start(&s->agent, key, cert, s->hostkey,
	    sh->cmd.login, ssh_pid)) != ERR_OK)
		shell_msg("cannot start the session's key agent in %s (%s); "
		    "ask an administrator to check the gateway", s->dir,
		    err_str(r));
 out:
	sshkey_free(key);
	free(cert);
	return r;
}

void
session_drop_key(struct session *s)
{
	if (s->dir[0] == '\0')
		return;
	agent_stop(&s->agent);
	(void)unlink(s->cert_path);
}

/*
 * Removes base/name, a session directory, and everything in it, through
 * descriptors: never following a symlink, and only
 * when the directory is ours. 0, or -1 with errno set.
 */
static int
remove_session_dir(const char *base, const char *name)
{
	int bfd, dfd, r = -1, e;
	struct dirent *de;
	struct stat st;
	DIR *d;

	if ((bfd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -1;
	dfd = openat(bfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	if (dfd < 0 || fstat(dfd, &st) != 0 || st.st_uid != getuid()) {
		e = dfd < 0 ? errno : EPERM;
		if (dfd >= 0)
			close(dfd);
		close(bfd);
		errno = e;
		return -1;
	}
	if ((d = fdopendir(dfd)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") != 0 &&
			    strcmp(de->d_name, "..") != 0)
				(void)unlinkat(dirfd(d), de->d_name, 0);
		}
		closedir(d);
	} else {
		close(dfd);
	}
	r = unlinkat(bfd, name, AT_REMOVEDIR);
	e = errno;
	close(bfd);
	errno = e;
	return r;
}

/* Removes the directory and everything in it, temporary files too. */
static void
session_remove_dir(struct session *s)
{
	char *slash;

	if (s->dir[0] == '\0')
		return;
	agent_stop(&s->agent);
	slash = strrchr(s->dir, '/');
	*slash = '\0';
	if (remove_session_dir(s->dir, slash + 1) != 0)
		shell_msg("cannot remove %s/%s: %s", s->dir, slash + 1,
		    strerror(errno));
	s->dir[0] = '\0';
}

/* Whether pid is a live bulwark-shell of this uid. */
static int
shell_alive(long pid)
{
	char path[64], comm[32];
	struct stat st;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%ld", pid);
	if (stat(path, &st) != 0 || st.st_uid != getuid())
		return 0;
	snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	n = read(fd, comm, sizeof(comm) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	comm[n] = '\0';
	comm[strcspn(comm, "\n")] = '\0';
	return strcmp(comm, "bulwark-shell") == 0;
}

/* The pid in "bulwark-PID-RANDOM", else 0. */
static long
dir_pid(const char *name)
{
	const char *p = name + strlen(DIR_PREFIX);
	long pid = 0;

	if (strncmp(name, DIR_PREFIX, strlen(DIR_PREFIX)) != 0)
		return 0;
	for (; *p >= '0' && *p <= '9' && pid < 100000000; p++)
		pid = pid * 10 + (*p - '0');
	if (*p != '-' || strlen(p + 1) != sizeof(DIR_RANDOM) - 1)
		return 0;
	return pid;
}

/*
 * Session directories of this uid whose shell is gone: a shell killed
 * with SIGKILL cannot remove its own (its agent dies with it, see
 * agent.c). Run by the detached child of session_end, off
 * the user's path; a directory whose shell still runs is left alone.
 */
static void
sweep_stale(void)
{
	struct dirent *de;
	struct stat st;
	size_t i;
	long pid;
	DIR *d;

	for (i = 0; i < NBASES; i++) {
		if ((d = opendir(dir_bases[i])) == NULL)
			continue;
		while ((de = readdir(d)) != NULL) {
			if ((pid = dir_pid(de->d_name)) <= 0 ||
			    fstatat(dirfd(d), de->d_name, &st,
			    AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode) ||
			    st.st_uid != getuid() || shell_alive(pid))
				continue;
			(void)remove_session_dir(dir_bases[i], de->d_name);
		}
		closedir(d);
	}
}

static void
session_end(const struct shell *sh, const struct relay_result *res)
{
	struct wire_builder *b = NULL;
	struct rpc_response *resp = NULL;
	const char *reason = NULL;
	int r;

	if (res->hostkey_mismatch)
		reason = "hostkey-mismatch";
	else if (res->ended_by_gateway || res->gateway_closed)
		reason = "ended-by-gateway";
	else if (res->shell_error)
		reason = "shell-error";
	else if (res->not_authed)
		reason = "not-authenticated-by-agent";
	else if (res->handover_failed)
		reason = "handover-refused";
	if ((r = wire_builder_new(PROTO_SESSION_END, &b)) != ERR_OK)
		goto out;
	if ((r = wire_put_u32(b, P_EXIT, (uint32_t)res->status)) != ERR_OK ||
	    (r = wire_put_u64(b, P_BYTES_IN, res->bytes_in)) != ERR_OK ||
	    (r = wire_put_u64(b, P_BYTES_OUT, res->bytes_out)) != ERR_OK ||
	    (reason != NULL &&
	    (r = wire_put_str(b, P_REASON, reason)) != ERR_OK) ||
	    (res->agent_refused > 0 &&
	    ((r = wire_put_u32(b, P_COUNT, res->agent_refused)) != ERR_OK ||
	    (r = wire_put_u32(b, P_PROCESS, res->agent_pid)) != ERR_OK)))
		goto out;
	r = rpc_client_call(sh->rpc, b, &resp);
 out:
	if (r != ERR_OK && !res->ended_by_gateway && !res->gateway_closed)
		shell_msg("could not report the end of the session to the "
		    "gateway daemon (%s)", err_str(r));
	rpc_response_free(resp);
	wire_builder_free(b);
}

/*
 * SESSION_END from a detached child, so that the user gets ssh's exit
 * status without waiting for bulwarkd's two fsyncs (about 10 ms here,
 * the last step of every session). Nothing is lost: the child still waits
 * for bulwarkd's answer; a child that cannot finish leaves bulwarkd to end
 * the session when the connection drops ("the shell went away"), and a
 * bulwarkd that died closes it at its next start. The child holds no
 * secret: the key was wiped and its directory removed before this.
 * Anything it would say goes to /dev/null, since the user has gone.
 */
static void
session_end_detached(const struct shell *sh, const struct relay_result *res)
{
	pid_t pid;
	int fd;

	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) != 0) {
		if (pid < 0)
			session_end(sh, res);
		return;
	}
	/* Off the session's terminal and pipes: sshd closes the channel as
	 * soon as the parent exits, and a hangup cannot reach us (it would
	 * stay blocked anyway, see sig.c). */
	(void)setsid();
	if ((fd = open("/dev/null", O_RDWR | O_CLOEXEC)) >= 0) {
		(void)dup2(fd, STDIN_FILENO);
		(void)dup2(fd, STDOUT_FILENO);
		(void)dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
	session_end(sh, res);
	sweep_stale();
	_exit(0);
}

static void
session_release(struct session *s)
{
	session_remove_dir(s);
	free(s->host);
	free(s->hostkey);
	memset(s, 0, sizeof(*s));
}

static void
explain(const struct shell *sh, const struct relay_result *res)
{
	if (res->hostkey_mismatch)
		shell_msg("the host key of %s does not match the key pinned "
		    "when it was enrolled; the connection was refused and the "
		    "event logged. If the target was reinstalled, an "
		    "administrator checks its new key and runs: bulwark "
		    "target rekey %s", sh->cmd.target, sh->cmd.target);
	else if (res->gateway_closed)
		shell_msg("the session was ended by the gateway: an "
		    "administrator ended it, or the gateway daemon stopped");
	else if (res->ended_by_gateway)
		shell_msg("the session was ended: the gateway did not accept "
		    "its recording");
	else if (res->not_authed)
		shell_msg("the session to %s was stopped: ssh was answered "
		    "without logging in with this session's key, so it did not "
		    "reach the enrolled target. Another process of your account "
		    "may have tampered with it; tell an administrator.",
		    sh->cmd.target);
}

/*
 * The private directory and the hand-over socket in it: all ssh needs to
 * start. ssh (about 25 ms of start-up here) then runs while bulwarkd
 * decides and certifies; it can do nothing before dial_hand_over gives
 * it the connection, and is killed if the session does not go ahead.
 */
static int
session_start_ssh(const struct shell *sh, struct session *s,
    struct dial *dial, struct sshrun *run)
{
	int r;

	if (set_paths(s) != ERR_OK) {
		shell_msg("cannot make a private directory in /dev/shm or "
		    "/tmp: %s; ask an administrator to check the gateway",
		    strerror(errno));
		return ERR_IO;
	}
	if (dial_listen(dial, s->dir) != ERR_OK) {
		shell_msg("%s; ask an administrator to check the gateway",
		    dial->why);
		return ERR_IO;
	}
	if ((r = sshrun_spawn(sh, s, dial->path, run)) != ERR_OK)
		shell_msg("cannot start ssh (%s)", err_str(r));
	return r;
}

/*
 * With ssh started: the decision, the connection begun, the certificate,
 * the connection handed over, the relay to the end. *res says how it
 * ended; ssh is gone when this returns.
 */
static void
session_go(const struct shell *sh, struct session *s, struct dial *dial,
    struct sshrun *run, struct relay_result *res)
{
	struct ackwatch ack;

	res->status = SHELL_EXIT_FAIL;
	if (session_open(sh, s) != ERR_OK) {
		sshrun_abort(run);
		return;
	}
	/* The target's sshd starts up while we get the certificate. A
	 * failure here is reported by dial_finish below. */
	if (dial_start(dial, s->host, s->port) != ERR_OK)
		dial_close(dial);
	if (session_prepare(sh, s, run->pid) != ERR_OK) {
		res->shell_error = 1;
		sshrun_abort(run);
		return;
	}
	if (sig_terminated()) {
		sshrun_abort(run);
		return;
	}
	if (dial_finish(dial, SHELL_CONNECT_TIMEOUT_MS) != ERR_OK) {
		/* As ssh would have said it, and with its status. */
		shell_msg("%s (target %s)", dial->why, sh->cmd.target);
		res->status = SHELL_EXIT_CONNECT;
		sshrun_abort(run);
		return;
	}
	/* Only ssh's own dialer gets the connection (dial.c); without it
	 * there is no session: ssh is not left to find another. */
	ackwatch_start(&ack, dial->fd);
	if (dial_hand_over(dial, run->pid) != ERR_OK) {
		ackwatch_stop(&ack);
		sshrun_show_errors(run);
		shell_msg("ssh did not take its connection to %s; ask an "
		    "administrator to check the gateway", sh->cmd.target);
		res->status = SHELL_EXIT_CONNECT;
		res->handover_failed = 1;
		sshrun_abort(run);
		return;
	}
	relay_run(sh, s, run, &ack, res);
	ackwatch_stop(&ack);
}

int
session_run(struct shell *sh)
{
	struct relay_result res;
	struct session s;
	struct sshrun run;
	struct dial dial;

	memset(&s, 0, sizeof(s));
	memset(&res, 0, sizeof(res));
	dial_init(&dial);
	sig_setup();
	if (session_start_ssh(sh, &s, &dial, &run) == ERR_OK)
		session_go(sh, &s, &dial, &run, &res);
	dial_close(&dial);
	if (!s.certified) {
		/* SESSION_END is only taken after SESSION_CERT. */
		session_release(&s);
		return SHELL_EXIT_FAIL;
	}
	/* The key is of no use once ssh is gone; remove it first. */
	session_remove_dir(&s);
	res.agent_refused = s.agent.refused;
	res.agent_pid = s.agent.first_pid;
	explain(sh, &res);
	session_end_detached(sh, &res);
	session_release(&s);
	return res.status;
}
