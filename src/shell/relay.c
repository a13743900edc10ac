/*
 * relay.c - moves bytes between the user (our stdin, stdout, stderr, as
 * sshd gave them) and the ssh child until ssh exits.
 *
 * Three channels: the user's stdin to ssh's stdin (not in a pty session,
 * where ssh reads the terminal itself so that it sets raw mode and
 * follows window changes), ssh's stdout to ours and ssh's stderr to ours.
 * A channel with a pipe on one side moves data with splice(2), no copy
 * through user space, and falls back to read/write where the other side
 * cannot splice (a terminal). What is recorded or scanned must pass
 * through our memory, so ssh's stderr always uses read/write, and so does
 * every channel of a recorded session until its recording reaches the
 * cap; after that, a session without a terminal goes back to splice.
 * Recorded are all sessions but sftp (proto_kind_recorded): in a pty
 * session ssh's output, without one also what the user sends.
 *
 * Nothing from ssh reaches the user before the session's key agent has
 * signed ssh's login (agent.c): ssh writes nothing before it has logged
 * in, so output first means ssh logged in some other way, to something
 * the session's directory was made to point at. Output on stdout then
 * stops ssh at once, unshown and unrecorded; on stderr, ssh has a moment
 * to exit (its own errors, such as a host key mismatch, end it) and what
 * it wrote is shown once it has.
 *
 * The loop also watches the connection to bulwarkd, which carries
 * nothing unasked: once bulwarkd closes it (an administrator ended the
 * session with SESSION_KILL, or bulwarkd stopped), ssh is stopped at
 * once, idle or not, since nothing more could be recorded or reported.
 *
 * The loop waits in ppoll() with the signals of sig.c unblocked and ends
 * once ssh has exited and its stdout and stderr have reached end of file.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "gateway/proto.h"
#include "shell/shell.h"
#include "common/banned.h"

#define SPLICE_LEN	(1024 * 1024)
#define RW_BUF		(256 * 1024)
#define KILL_GRACE_MS	5000	/* after a forwarded signal, then SIGKILL */
#define AUTH_GRACE_MS	1000	/* stderr before the login: ssh's exit */

enum { CH_IN, CH_OUT, CH_ERR, NCHAN };
enum { REC_NONE, REC_OUT, REC_IN };	/* what a channel's bytes are */

struct chan {
	int in, out;
	int active;
	int splice;		/* still trying splice(2) */
	int splice_later;	/* once the recording stops and buf is empty */
	int wait_out;		/* data in hand (or in the pipe): out is full */
	int discard;		/* the user is gone: read and drop */
	int to_user;		/* out is our stdout or stderr */
	int record;		/* REC_* */
	int scan;
	uint64_t *count;
	uint8_t *buf;
	size_t off, len;
};

struct relay {
	struct chan ch[NCHAN];
	struct sshrun *run;
	struct ackwatch *ack;
	struct record *rec;
	struct shellcmd_keyscan ks;
	struct relay_result *res;
	struct session *sess;
	int keys_gone;		/* the agent stopped, the certificate removed */
	int err_held;		/* stderr waits for ssh's exit */
	int64_t gate_until;	/* ms: SIGKILL unless signed by then; 0 */
	int reaped;
	int gw_fd;		/* the connection to bulwarkd; -1: not watched */
	int64_t kill_at;	/* ms, CLOCK_MONOTONIC; 0: none */
	int saved_fl[2];	/* of fds 0 and 1; -1: not changed */
};

static int
fd_writable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };

	return poll(&p, 1, 0) == 1 && (p.revents & POLLOUT) != 0;
}

/* Ends the session from our side: ssh goes, the loop drains. */
static void
relay_hangup(struct relay *r, int sig)
{
	if (r->reaped || r->run->pid <= 0)
		return;
	kill(r->run->pid, sig);
	if (r->kill_at == 0)
		r->kill_at = clock_mono_ms() + KILL_GRACE_MS;
}

static void
chan_eof(struct relay *r, struct chan *c)
{
	c->active = 0;
	c->len = c->off = 0;
	if (c == &r->ch[CH_IN] && r->run->in_fd >= 0) {
		/* EOF reaches the target as the end of ssh's stdin. */
		close(r->run->in_fd);
		r->run->in_fd = -1;
	}
}

/* A write to out failed for good. */
static void
chan_out_failed(struct relay *r, struct chan *c)
{
	if (!c->to_user) {
		chan_eof(r, c);		/* ssh no longer reads its stdin */
		return;
	}
	/* The client is gone; keep ssh's pipes drained until it ends. */
	c->discard = 1;
	c->splice = 0;
	c->wait_out = 0;
	c->len = c->off = 0;
	relay_hangup(r, SIGHUP);
}

/* From now on what comes on c is read and dropped: not shown, not
 * recorded. */
static void
chan_discard(struct chan *c)
{
	c->record = REC_NONE;
	c->splice = c->splice_later = 0;
	c->discard = 1;
	c->wait_out = 0;
	c->len = c->off = 0;
}

/*
 * Nothing more can be recorded: ssh is told to go, and until it has gone
 * nothing more of it is shown and nothing more of the user's reaches it.
 */
static void
stop_unrecorded(struct relay *r)
{
	int i;

	record_free(r->rec);
	r->rec = NULL;
	for (i = 0; i < NCHAN; i++) {
		if (!r->ch[i].active)
			continue;
		if (i == CH_IN)
			chan_eof(r, &r->ch[i]);
		else
			chan_discard(&r->ch[i]);
	}
	relay_hangup(r, SIGTERM);
}

/* bulwarkd closed the session's connection: see the top of the file. */
static void
gateway_closed(struct relay *r)
{
	r->gw_fd = -1;
	r->res->gateway_closed = 1;
	stop_unrecorded(r);
}

/* The recording failed or bulwarkd refused it: no unrecorded session. */
static void
record_failed(struct relay *r)
{
	struct pollfd p = { .fd = r->gw_fd, .events = POLLIN | POLLRDHUP };

	/* A flush that met the closed connection first: say why it closed. */
	if (r->gw_fd >= 0 && poll(&p, 1, 0) == 1) {
		gateway_closed(r);
		return;
	}
	r->res->ended_by_gateway = 1;
	stop_unrecorded(r);
}

static void
observe(struct relay *r, struct chan *c, const uint8_t *p, size_t n)
{
	int e = ERR_OK;

	if (c->scan)
		shellcmd_keyscan_feed(&r->ks, p, n);
	if (c->record == REC_NONE || r->rec == NULL)
		return;
	if (c->record == REC_IN)
		e = record_input(r->rec, p, n);
	else
		e = record_output(r->rec, p, n);
	if (e != ERR_OK)
		record_failed(r);
}

/*
 * Past the cap nothing more is recorded: the channels of a session
 * without a terminal go back to splice, each once its buffer is empty.
 */
static void
record_check_stopped(struct relay *r)
{
	int i;

	if (r->rec == NULL || !record_stopped(r->rec))
		return;
	for (i = 0; i < NCHAN; i++) {
		struct chan *c = &r->ch[i];

		c->record = REC_NONE;
		if (c->splice_later && c->off == c->len && !c->discard) {
			c->splice = 1;
			c->splice_later = 0;
		}
	}
}

static void
chan_write(struct relay *r, struct chan *c)
{
	ssize_t n;

	while (c->off < c->len) {
		n = write(c->out, c->buf + c->off, c->len - c->off);
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			c->wait_out = 1;
			return;
		}
		if (n <= 0) {
			chan_out_failed(r, c);
			return;
		}
		c->off += (size_t)n;
		*c->count += (uint64_t)n;
	}
	c->off = c->len = 0;
	c->wait_out = 0;
}

static void
chan_step_rw(struct relay *r, struct chan *c)
{
	ssize_t n;

	if (c->buf == NULL && (c->buf = malloc(RW_BUF)) == NULL) {
		chan_out_failed(r, c);
		return;
	}
	if (!c->wait_out) {
		n = read(c->in, c->buf, RW_BUF);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			chan_eof(r, c);
			return;
		}
		observe(r, c, c->buf, (size_t)n);
		if (c->discard)
			return;
		c->off = 0;
		c->len = (size_t)n;
	}
	chan_write(r, c);
}

static void
chan_step_splice(struct relay *r, struct chan *c)
{
	ssize_t n = splice(c->in, NULL, c->out, NULL, SPLICE_LEN,
	    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);

	if (n > 0) {
		*c->count += (uint64_t)n;
		c->wait_out = 0;
		return;
	}
	if (n == 0) {
		chan_eof(r, c);
		return;
	}
	if (errno == EINTR)
		return;
	if (errno == EAGAIN) {
		/* Either in is empty or out is full; poll the right one. */
		c->wait_out = !fd_writable(c->out);
		return;
	}
	if (errno == EINVAL || errno == ENOSYS) {
		c->splice = 0;		/* a terminal, or an old kernel */
		chan_step_rw(r, c);
		return;
	}
	if (c == &r->ch[CH_IN])
		chan_eof(r, c);
	else
		chan_out_failed(r, c);
}

static void
chan_step(struct relay *r, struct chan *c)
{
	if (c->splice)
		chan_step_splice(r, c);
	else
		chan_step_rw(r, c);
}

static void
chan_init(struct chan *c, int in, int out, uint64_t *count)
{
	memset(c, 0, sizeof(*c));
	c->in = in;
	c->out = out;
	c->count = count;
	c->active = in >= 0 && out >= 0;
}

/* Bulk channels must not block the loop on a full socket or pipe. */
static void
set_nonblock(struct relay *r, int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || isatty(fd) || (fl & O_NONBLOCK))
		return;
	if (fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0)
		r->saved_fl[fd] = fl;
}

static void
restore_flags(struct relay *r)
{
	int fd;

	for (fd = 0; fd < 2; fd++) {
		if (r->saved_fl[fd] >= 0)
			(void)fcntl(fd, F_SETFL, r->saved_fl[fd]);
	}
}

/* The channels, and the recording of every session but sftp. */
static void
relay_init(struct relay *r, const struct shell *sh, struct session *s,
    struct sshrun *run, struct relay_result *res)
{
	int pty = sh->cmd.want_pty;
	int rec = proto_kind_recorded(shellcmd_kind_name(sh->cmd.kind));

	memset(r, 0, sizeof(*r));
	memset(res, 0, sizeof(*res));
	r->run = run;
	r->res = res;
	r->sess = s;
	r->saved_fl[0] = r->saved_fl[1] = -1;
	r->gw_fd = sh->rpc != NULL ? rpc_client_fd(sh->rpc) : -1;
	shellcmd_keyscan_init(&r->ks);
	chan_init(&r->ch[CH_IN], pty ? -1 : STDIN_FILENO, run->in_fd,
	    &res->bytes_in);
	chan_init(&r->ch[CH_OUT], run->out_fd, STDOUT_FILENO,
	    &res->bytes_out);
	chan_init(&r->ch[CH_ERR], run->err_fd, STDERR_FILENO,
	    &res->bytes_out);
	r->ch[CH_OUT].to_user = r->ch[CH_ERR].to_user = 1;
	r->ch[CH_ERR].scan = 1;
	if (rec) {
		r->ch[CH_OUT].record = r->ch[CH_ERR].record = REC_OUT;
		r->ch[CH_IN].record = REC_IN;
		r->ch[CH_IN].splice_later = r->ch[CH_OUT].splice_later = !pty;
	} else {
		r->ch[CH_IN].splice = r->ch[CH_OUT].splice = !pty;
	}
	(void)fcntl(run->out_fd, F_SETFL, O_NONBLOCK);
	(void)fcntl(run->err_fd, F_SETFL, O_NONBLOCK);
	if (!pty) {
		(void)fcntl(run->in_fd, F_SETFL, O_NONBLOCK);
		set_nonblock(r, STDIN_FILENO);
		set_nonblock(r, STDOUT_FILENO);
	}
	if (rec && record_start(&r->rec, sh->rpc, s->record_cap, sh->term) !=
	    ERR_OK)
		record_failed(r);
}

/* Whether the session's agent has signed ssh's login (as last read). */
static int
signed_in(const struct relay *r)
{
	return r->sess == NULL || r->sess->agent.signed_ok;
}

static void
reap(struct relay *r)
{
	int st;
	pid_t p;

	if (r->reaped)
		return;
	do
		p = waitpid(r->run->pid, &st, WNOHANG);
	while (p < 0 && errno == EINTR);
	if (p == 0)
		return;
	r->reaped = 1;
	sig_set_child(0);
	if (p < 0)
		r->res->status = 255;
	else if (WIFEXITED(st))
		r->res->status = WEXITSTATUS(st);
	else if (WIFSIGNALED(st))
		r->res->status = 128 + WTERMSIG(st);
	/* ssh is gone: nothing reads what the user still sends. */
	if (r->ch[CH_IN].active)
		chan_eof(r, &r->ch[CH_IN]);
	/* Never logged in through the agent: its stderr (its own errors)
	 * is shown now; anything on stdout came from elsewhere. */
	if (!signed_in(r) && !agent_poll(&r->sess->agent))
		chan_discard(&r->ch[CH_OUT]);
}

static int
relay_done(const struct relay *r)
{
	return r->reaped && !r->ch[CH_OUT].active && !r->ch[CH_ERR].active;
}

static struct timespec *
relay_timeout(const struct relay *r, struct timespec *ts)
{
	int64_t ms = record_timeout_ms(r->rec), k, at;

	at = r->kill_at;
	if (r->gate_until != 0 && (at == 0 || r->gate_until < at))
		at = r->gate_until;
	if (at != 0 && !r->reaped) {
		k = at - clock_mono_ms();
		k = k > 0 ? k : 0;
		ms = ms < 0 || k < ms ? k : ms;
	}
	if (ms < 0)
		return NULL;
	ts->tv_sec = ms / 1000;
	ts->tv_nsec = (ms % 1000) * 1000000;
	return ts;
}

static void
relay_tick(struct relay *r)
{
	/* Output: the session is under way, its handshake done. */
	if (r->res->bytes_out > 0)
		ackwatch_stop(r->ack);
	/*
	 * ssh has authenticated: the agent, which exits once it has signed,
	 * is reaped, and the certificate goes (agent.c).
	 */
	if (r->res->bytes_out > 0 && !r->keys_gone && r->sess != NULL) {
		session_drop_key(r->sess);
		r->keys_gone = 1;
	}
	if (sig_terminated() && r->kill_at == 0)
		r->kill_at = clock_mono_ms() + KILL_GRACE_MS;
	if (r->kill_at != 0 && !r->reaped && clock_mono_ms() >= r->kill_at)
		kill(r->run->pid, SIGKILL);
	/* stderr before the login, and still no signature: not a login. */
	if (r->gate_until != 0 && !signed_in(r) && !r->reaped &&
	    clock_mono_ms() >= r->gate_until)
		kill(r->run->pid, SIGKILL);
	if (sig_take_winch() && r->rec != NULL &&
	    record_resize(r->rec) != ERR_OK)
		record_failed(r);
	record_check_stopped(r);
	/* After this round's writes: the user's output never waits on it. */
	if (r->rec != NULL && record_flush(r->rec, 0) != ERR_OK)
		record_failed(r);
	reap(r);
}

/* Output from ssh before its login was signed: see the top of the file. */
static void
gate(struct relay *r, struct chan *c)
{
	int64_t until;

	if (agent_poll(&r->sess->agent)) {
		r->gate_until = 0;
		chan_step(r, c);
		return;
	}
	if (c == &r->ch[CH_ERR]) {
		r->err_held = 1;
		until = clock_mono_ms() + AUTH_GRACE_MS;
		if (r->gate_until == 0 || r->gate_until > until)
			r->gate_until = until;
		return;
	}
	r->res->not_authed = 1;
	chan_discard(c);
	kill(r->run->pid, SIGKILL);
	r->kill_at = clock_mono_ms();
}

/* Whether output on c waits for the agent's signature. */
static int
gated(const struct relay *r, const struct chan *c)
{
	return !signed_in(r) && !r->reaped && c->to_user;
}

static void
relay_poll(struct relay *r)
{
	struct pollfd pfd[NCHAN + 3];
	struct chan *who[NCHAN + 3];
	struct chan agent_mark, gw_mark;
	struct timespec ts;
	nfds_t n = 0, i;

	for (i = 0; i < NCHAN; i++) {
		struct chan *c = &r->ch[i];

		if (!c->active || (gated(r, c) && c == &r->ch[CH_ERR] &&
		    r->err_held))
			continue;
		pfd[n].fd = c->wait_out ? c->out : c->in;
		pfd[n].events = c->wait_out ? POLLOUT : POLLIN;
		pfd[n].revents = 0;
		who[n++] = c;
	}
	if (ackwatch_fd(r->ack) >= 0) {
		pfd[n].fd = ackwatch_fd(r->ack);
		pfd[n].events = POLLIN;
		pfd[n].revents = 0;
		who[n++] = NULL;
	}
	if (r->sess != NULL && agent_fd(&r->sess->agent) >= 0) {
		pfd[n].fd = agent_fd(&r->sess->agent);
		pfd[n].events = POLLIN;
		pfd[n].revents = 0;
		who[n++] = &agent_mark;
	}
	if (r->gw_fd >= 0 && !r->reaped) {
		pfd[n].fd = r->gw_fd;
		pfd[n].events = POLLIN | POLLRDHUP;
		pfd[n].revents = 0;
		who[n++] = &gw_mark;
	}
	if (ppoll(pfd, n, relay_timeout(r, &ts), sig_wait_mask()) <= 0)
		return;
	for (i = 0; i < n; i++) {
		if (pfd[i].revents == 0)
			continue;
		if (who[i] == NULL)
			ackwatch_event(r->ack);
		else if (who[i] == &gw_mark)
			gateway_closed(r);
		else if (who[i] == &agent_mark) {
			if (agent_poll(&r->sess->agent))
				r->gate_until = 0;
		} else if (who[i]->active && gated(r, who[i]))
			gate(r, who[i]);
		else if (who[i]->active)
			chan_step(r, who[i]);
	}
}

void
relay_run(const struct shell *sh, struct session *s,
    struct sshrun *run, struct ackwatch *ack, struct relay_result *res)
{
	struct relay r;
	int i;

	relay_init(&r, sh, s, run, res);
	r.ack = ack;
	while (!relay_done(&r)) {
		relay_poll(&r);
		relay_tick(&r);
	}
	if (r.rec != NULL && record_flush(r.rec, 1) != ERR_OK)
		res->ended_by_gateway = 1;
	res->hostkey_mismatch = r.ks.mismatch;
	restore_flags(&r);
	record_free(r.rec);
	for (i = 0; i < NCHAN; i++)
		free(r.ch[i].buf);
	if (run->in_fd >= 0)
		close(run->in_fd);
	close(run->out_fd);
	close(run->err_fd);
	run->in_fd = run->out_fd = run->err_fd = -1;
}
