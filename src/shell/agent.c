/*
 * agent.c - the session's private key, kept out of every file.
 *
 * A forked child of bulwark-shell holds the key and answers ssh's agent
 * requests on a socket in the session directory (IdentityAgent, see
 * sshrun.c) with src/auth/sshagent.c: one identity, the certificate; one
 * signature, for ssh's own login to the pinned target. The child inherits
 * bulwark-shell's non-dumpable state, so another process of the same user
 * can neither ptrace it nor open its /proc files; the parent wipes its
 * own copy of the key as soon as the child has one.
 *
 * Only ssh is answered. The socket is made after ssh was forked, and ssh's
 * pid cannot be reused while ssh lives, so a connection whose SO_PEERCRED
 * pid is ssh's, checked while a pidfd of ssh says it has not exited, came
 * from ssh: another process of the user that connects is refused and the
 * user is told. The child exits once it has signed (ssh needs one
 * signature to log in), when ssh exits, or when bulwark-shell dies
 * (PR_SET_PDEATHSIG); agent_stop reaps it.
 *
 * On a pipe to the parent it reports the pid of each process it refused
 * (for the audit log, SESSION_END) and, before its signature leaves, that
 * it signed (pid 0). The relay shows nothing from ssh until then: ssh that
 * logged in without this agent (its session directory is the user's, and
 * another process of the user could have swapped the sockets, the
 * certificate or known_hosts in it) did not log in with the session's
 * certificate to the pinned target, and is stopped.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "auth/sshagent.h"
#include "auth/sshcert.h"
#include "common/encoding.h"
#include "common/fsutil.h"
#include "shell/shell.h"
#include "common/banned.h"

/* ssh sends each request whole; a peer that stalls mid-frame is dropped. */
#define READ_TIMEOUT_MS	10000
#define BLOB_MAX	4096
/* The note that says "signed"; no process refused has pid 0. */
#define NOTE_SIGNED	0

/* The blob of "TYPE BASE64[ COMMENT]" into buf. */
static int
line_blob(const char *line, uint8_t *buf, size_t cap, size_t *len)
{
	const char *b64 = strchr(line, ' '), *end;

	if (b64 == NULL)
		return ERR_FORMAT;
	b64++;
	end = b64 + strcspn(b64, " \n");
	return enc_base64_decode(b64, (size_t)(end - b64), buf, cap, len);
}

/* All of buf from fd, waiting at most READ_TIMEOUT_MS for each part. */
static int
read_full(int fd, uint8_t *buf, size_t len)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t n;

	while (len > 0) {
		if (poll(&p, 1, READ_TIMEOUT_MS) != 1)
			return -1;
		n = read(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
exited(int pidfd)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };

	return poll(&p, 1, 0) != 0;
}

/* ssh itself, still running; anything else is told off on stderr and
 * reported to the parent on note (a 4-byte pid, dropped when full). */
static int
peer_is_ssh(int c, pid_t ssh_pid, int pidfd, int note)
{
	static int told;
	uint32_t who;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	char msg[256];
	int n;

	if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
		return 0;
	if (cred.pid == ssh_pid && cred.uid == getuid() && !exited(pidfd))
		return 1;
	/* Once: a process that keeps trying must not flood the terminal. */
	n = snprintf(msg, sizeof(msg), "bulwark: process %ld (uid %ld) tried "
	    "to use this session's key; it was refused. If that was not "
	    "you, tell an administrator.\r\n", (long)cred.pid, (long)cred.uid);
	if (n > 0 && !told++)
		(void)!write(STDERR_FILENO, msg, (size_t)n);
	who = (uint32_t)cred.pid;
	(void)!write(note, &who, sizeof(who));
	return 0;
}

/* Requests on c until EOF or an error (0) or the signature is sent (1). */
static int
serve(struct sshagent *a, int c, int note)
{
	static const uint32_t signed_note = NOTE_SIGNED;
	static uint8_t req[SSHAGENT_MSG_MAX], out[SSHAGENT_REPLY_MAX];
	uint8_t hdr[4];
	size_t out_len;
	long n;
	int signed_now;

	for (;;) {
		if (read_full(c, hdr, sizeof(hdr)) != 0 ||
		    (n = sshagent_frame_len(hdr)) < 0 ||
		    read_full(c, req, (size_t)n) != 0 ||
		    sshagent_handle(a, req, (size_t)n, out, &out_len,
		    &signed_now) != ERR_OK)
			return 0;
		/* The parent hears of it before ssh can log in with it. */
		if (signed_now && write(note, &signed_note,
		    sizeof(signed_note)) != (ssize_t)sizeof(signed_note))
			return 1;
		if (fs_write_all(c, out, out_len) != ERR_OK || signed_now)
			return signed_now;
	}
}

static int
cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* Leaves only stderr and the n descriptors in keep open. */
static void
close_others(int *keep, size_t n)
{
	unsigned lo = STDERR_FILENO + 1;
	size_t i;

	qsort(keep, n, sizeof(*keep), cmp_int);
	for (i = 0; i < n; i++) {
		if ((unsigned)keep[i] > lo)
			(void)close_range(lo, (unsigned)keep[i] - 1, 0);
		lo = (unsigned)keep[i] + 1;
	}
	(void)close_range(lo, ~0U, 0);
	(void)close(STDIN_FILENO);
	(void)close(STDOUT_FILENO);
}

__attribute__((noreturn))
static void
child(struct sshagent *a, struct sshkey *key, int lfd, pid_t ssh_pid,
    int pidfd, int note, pid_t parent)
{
	struct pollfd p[2] = {
		{ .fd = lfd, .events = POLLIN },
		{ .fd = pidfd, .events = POLLIN },
	};
	int keep[3] = { lfd, pidfd, note };
	int c, done = 0;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
		_exit(0);
	sig_child_reset();
	/* A peer gone mid-answer is an error from write(), not our end. */
	(void)signal(SIGPIPE, SIG_IGN);
	close_others(keep, 3);
	while (!done) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents != 0)
			break;
		if ((c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) < 0)
			continue;
		if (peer_is_ssh(c, ssh_pid, pidfd, note))
			done = serve(a, c, note);
		close(c);
	}
	sshkey_free(key);
	_exit(0);
}

void
agent_init(struct agent *ag, const char *dir)
{
	memset(ag, 0, sizeof(*ag));
	ag->pid = -1;
	ag->note_fd = -1;
	snprintf(ag->path, sizeof(ag->path), "%s/agent", dir);
}

int
agent_start(struct agent *ag, struct sshkey *key, const char *cert_line,
    const char *hostkey_line, const char *login, pid_t ssh_pid)
{
	static uint8_t cert[SSHCERT_BLOB_MAX], hostkey[BLOB_MAX];
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct sshagent a;
	pid_t parent = getpid(), pid;
	int lfd = -1, pidfd = -1, note[2] = { -1, -1 }, r;

	memset(&a, 0, sizeof(a));
	a.key = key;
	a.cert = cert;
	a.hostkey = hostkey;
	a.login = login;
	if ((r = line_blob(cert_line, cert, sizeof(cert), &a.cert_len)) !=
	    ERR_OK || (r = line_blob(hostkey_line, hostkey, sizeof(hostkey),
	    &a.hostkey_len)) != ERR_OK)
		return r;
	if (strlen(ag->path) >= sizeof(sun.sun_path))
		return ERR_TOOBIG;
	memcpy(sun.sun_path, ag->path, strlen(ag->path) + 1);
	r = ERR_IO;
	if ((pidfd = pidfd_open(ssh_pid, 0)) < 0 ||
	    pipe2(note, O_CLOEXEC | O_NONBLOCK) != 0 ||
	    (lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    bind(lfd, (struct sockaddr *)&sun, sizeof(sun)) != 0 ||
	    listen(lfd, 4) != 0 || (pid = fork()) < 0)
		goto out;
	if (pid == 0)
		child(&a, key, lfd, ssh_pid, pidfd, note[1], parent);
	ag->pid = pid;
	ag->note_fd = note[0];
	note[0] = -1;
	r = ERR_OK;
 out:
	if (note[0] >= 0)
		close(note[0]);
	if (note[1] >= 0)
		close(note[1]);
	if (lfd >= 0)
		close(lfd);
	if (pidfd >= 0)
		close(pidfd);
	if (r != ERR_OK)
		(void)unlink(ag->path);
	return r;
}

int
agent_fd(const struct agent *ag)
{
	return ag->signed_ok ? -1 : ag->note_fd;
}

int
agent_poll(struct agent *ag)
{
	uint32_t who[64];
	ssize_t n = -1;
	size_t i;

	while (ag->note_fd >= 0 &&
	    (n = read(ag->note_fd, who, sizeof(who))) > 0) {
		for (i = 0; i < (size_t)n / sizeof(who[0]); i++) {
			if (who[i] == NOTE_SIGNED)
				ag->signed_ok = 1;
			else if (ag->refused++ == 0)
				ag->first_pid = who[i];
		}
	}
	/* The agent is gone and has said all it will: nothing to poll. */
	if (ag->note_fd >= 0 && n == 0) {
		close(ag->note_fd);
		ag->note_fd = -1;
	}
	return ag->signed_ok;
}

void
agent_stop(struct agent *ag)
{
	int st;

	if (ag->pid > 0) {
		(void)kill(ag->pid, SIGKILL);
		while (waitpid(ag->pid, &st, 0) < 0 && errno == EINTR)
			;
		ag->pid = -1;
	}
	if (ag->note_fd >= 0) {
		(void)agent_poll(ag);
		close(ag->note_fd);
		ag->note_fd = -1;
	}
	if (ag->path[0] != '\0')
		(void)unlink(ag->path);
}
