/*
 * rpc.c - the monitor's request/response layer over a Unix socket.
 *
 * One thread, one poll() loop. Each connection reads one frame at a time
 * (length prefix, then exactly that many bytes into a buffer of that
 * size), dispatches it through rpc_table_check and the handler, and does
 * not read again until the response is fully written: a client can hold
 * at most one request and one response in the server's memory, and a
 * client that sends faster than it reads only fills its own socket
 * buffer.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/clock.h"
#include "gateway/rpc.h"
#include "common/banned.h"

#define ACCEPT_PAUSE_MS	100	/* after accept() itself fails (EMFILE) */
#define MIN_STATUS	(-1000)	/* below: not an err.h code */

struct rpc_conn {
	struct rpc_server *srv;
	int fd;			/* -1: slot free */
	struct rpc_peer peer;
	unsigned state;
	uint8_t hdr[WIRE_HDR_LEN];
	size_t hdr_got;
	uint8_t *body;		/* body_len bytes once the header is in */
	size_t body_len, body_got;
	uint8_t *out;		/* the response being written */
	size_t out_len, out_off;
	int64_t frame_deadline;	/* 0: no frame started */
	int64_t out_deadline;	/* 0: nothing to write */
	int64_t idle_since;
	int closing;		/* close once out is written */
	void *data;
	void (*data_free)(void *);
};

struct rpc_server {
	struct rpc_server_config cfg;
	char *path;
	dev_t sock_dev;
	ino_t sock_ino;
	int lfd;
	int efd;		/* rpc_server_stop writes here */
	uid_t self;
	struct rpc_conn *conns;	/* cfg.max_clients slots */
	unsigned nconns;
	struct pollfd *pfds;	/* 2 + max_clients */
	unsigned *pconn;	/* pfds[2 + i] serves conns[pconn[i]] */
	struct wire_builder *resp;
	int64_t accept_paused_until;
	int64_t next_tick;	/* cfg.tick is due then (0: not due) */
	int64_t refused_logged;	/* ms of the last "refused" log line */
	unsigned refused;	/* refusals since then, not logged yet */
};

/*
 * Requests carry TOTP codes and responses TOTP seeds at enrolment: no
 * message buffer goes back to the allocator holding them.
 */
static void
wipe_free(void *p, size_t len)
{
	if (p != NULL)
		explicit_bzero(p, len);
	free(p);
}

__attribute__((format(printf, 2, 0)))
static void
srv_vlog(const struct rpc_server *srv, const char *fmt, va_list ap)
{
	char line[512];

	vsnprintf(line, sizeof(line), fmt, ap);
	if (srv->cfg.log != NULL)
		srv->cfg.log(srv->cfg.log_arg, line);
	else
		fprintf(stderr, "bulwarkd: %s\n", line);
}

__attribute__((format(printf, 2, 3)))
static void
srv_log(const struct rpc_server *srv, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	srv_vlog(srv, fmt, ap);
	va_end(ap);
}

/* One line about a client: who it is, then what happened. */
__attribute__((format(printf, 2, 3)))
static void
conn_log(const struct rpc_conn *c, const char *fmt, ...)
{
	char msg[384];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	srv_log(c->srv, "rpc: client uid %lu pid %ld: %s",
	    (unsigned long)c->peer.uid, (long)c->peer.pid, msg);
}

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77		/* Linux 6.5; older headers lack it */
#endif

/*
 * The connecting process's pidfd; -1 on kernels without SO_PEERPIDFD;
 * PEER_GONE when the kernel has it but the process is gone already (some
 * kernels refuse a pidfd of a reaped peer: that must not fall back to the
 * weaker start-time check, it is the very case the pidfd is for).
 */
#define PEER_GONE	(-2)

static int
peer_pidfd(int fd)
{
	socklen_t len = sizeof(int);
	int pidfd = -1;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) != 0)
		return errno == ENOPROTOOPT || errno == EINVAL ? -1 : PEER_GONE;
	if (len != sizeof(int) || pidfd < 0)
		return PEER_GONE;
	(void)fcntl(pidfd, F_SETFD, FD_CLOEXEC);
	return pidfd;
}

int
rpc_peer_alive(const struct rpc_peer *peer)
{
	if (peer->pidfd < 0)
		return -1;
	if (syscall(SYS_pidfd_send_signal, peer->pidfd, 0, NULL, 0) == 0)
		return 1;
	return errno == ESRCH ? 0 : -1;
}

static void
conn_close(struct rpc_conn *c)
{
	if (c->fd < 0)
		return;
	close(c->fd);
	c->fd = -1;
	if (c->peer.pidfd >= 0)
		close(c->peer.pidfd);
	c->peer.pidfd = -1;
	wipe_free(c->body, c->body_len);
	wipe_free(c->out, c->out_len);
	if (c->data_free != NULL)
		c->data_free(c->data);
	c->srv->nconns--;
}

/* Logs why and closes. */
__attribute__((format(printf, 2, 3)))
static void
conn_drop(struct rpc_conn *c, const char *fmt, ...)
{
	char msg[320];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	conn_log(c, "dropped: %s", msg);
	conn_close(c);
}

const struct rpc_peer *
rpc_conn_peer(const struct rpc_conn *conn)
{
	return &conn->peer;
}

void *
rpc_conn_arg(const struct rpc_conn *conn)
{
	return conn->srv->cfg.arg;
}

unsigned
rpc_conn_state(const struct rpc_conn *conn)
{
	return conn->state;
}

int
rpc_conn_set_state(struct rpc_conn *conn, unsigned state)
{
	if (state > RPC_MAX_STATE)
		return ERR_RANGE;
	conn->state = state;
	return ERR_OK;
}

void
rpc_conn_drop(struct rpc_conn *conn)
{
	conn->closing = 1;
}

void
rpc_conn_shutdown(struct rpc_conn *conn)
{
	if (conn->fd >= 0)
		(void)shutdown(conn->fd, SHUT_RDWR);
}

void
rpc_conn_set_data(struct rpc_conn *conn, void *data, void (*free_fn)(void *))
{
	if (conn->data_free != NULL && conn->data != data)
		conn->data_free(conn->data);
	conn->data = data;
	conn->data_free = free_fn;
}

void *
rpc_conn_data(const struct rpc_conn *conn)
{
	return conn->data;
}

static int
caller_served(const struct rpc_request *row, const struct rpc_peer *peer,
    uid_t self_uid)
{
	size_t i;

	if (row->callers & RPC_CALLER_ANY)
		return 1;
	if ((row->callers & RPC_CALLER_ROOT) && peer->uid == 0)
		return 1;
	if ((row->callers & RPC_CALLER_SELF) && peer->uid == self_uid)
		return 1;
	for (i = 0; i < row->nuids && row->uids != NULL; i++) {
		if (row->uids[i] == peer->uid)
			return 1;
	}
	return 0;
}

int
rpc_table_check(const struct rpc_request *table, size_t ntable,
    const struct rpc_peer *peer, uid_t self_uid, unsigned state,
    const struct wire_msg *msg, const struct rpc_request **out,
    const char **why)
{
	const struct rpc_request *row = NULL;
	const char *reason = NULL;
	size_t i;
	int r = ERR_INTERNAL;

	*out = NULL;
	for (i = 0; i < ntable; i++) {
		if (table[i].type == msg->type) {
			row = &table[i];
			break;
		}
	}
	if (row == NULL || (msg->type & RPC_RESPONSE) != 0) {
		reason = "unknown request type";
		r = ERR_UNSUPPORTED;
		goto out;
	}
	if (!caller_served(row, peer, self_uid)) {
		reason = "not served to this caller";
		r = ERR_DENIED;
		goto out;
	}
	if (state > RPC_MAX_STATE || (row->states & RPC_STATE(state)) == 0) {
		reason = "out of order for the connection's state";
		r = ERR_CONFLICT;
		goto out;
	}
	if ((r = wire_msg_check(msg, row->fields, row->nfields, &reason)) !=
	    ERR_OK)
		goto out;
	*out = row;
	r = ERR_OK;
 out:
	if (why != NULL)
		*why = reason;
	return r;
}

/* Writes what is pending; 0 if c is still open, -1 if it was closed. */
static int
conn_flush(struct rpc_conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off,
		    c->out_len - c->out_off, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (c->out_deadline == 0)
				c->out_deadline = clock_mono_ms() +
				    c->srv->cfg.io_timeout_ms;
			return 0;
		}
		if (n <= 0) {
			conn_drop(c, "went away mid-response (%s)",
			    n < 0 ? strerror(errno) : "no progress");
			return -1;
		}
		c->out_off += (size_t)n;
	}
	wipe_free(c->out, c->out_len);
	c->out = NULL;
	c->out_len = c->out_off = 0;
	c->out_deadline = 0;
	c->idle_since = clock_mono_ms();
	if (c->closing) {
		/* Why was logged when closing was decided. */
		conn_close(c);
		return -1;
	}
	return 0;
}

/* Queues the frame in the server's builder and starts writing it. */
static int
conn_respond(struct rpc_conn *c)
{
	const uint8_t *frame;
	size_t len;

	if (wire_builder_frame(c->srv->resp, &frame, &len) != ERR_OK ||
	    (c->out = malloc(len)) == NULL) {
		conn_drop(c, "cannot build a response");
		return -1;
	}
	memcpy(c->out, frame, len);
	c->out_len = len;
	c->out_off = 0;
	return conn_flush(c);
}

/* Puts a status-only response of type into the server's builder. */
static int
status_response(struct rpc_server *srv, uint16_t type, int status)
{
	wire_builder_reset(srv->resp, (uint16_t)(type | RPC_RESPONSE));
	return wire_put_u32(srv->resp, RPC_TAG_STATUS,
	    (uint32_t)(int32_t)status);
}

/* Handles the complete frame in c->body. */
static int
conn_dispatch(struct rpc_conn *c)
{
	struct rpc_server *srv = c->srv;
	const struct rpc_request *row = NULL;
	const char *why = NULL;
	struct wire_msg msg;
	int r;

	if ((r = wire_msg_parse(c->body, c->body_len, &msg)) != ERR_OK) {
		conn_drop(c, "malformed frame of %zu bytes: %s", c->body_len,
		    err_str(r));
		return -1;
	}
	r = rpc_table_check(srv->cfg.table, srv->cfg.ntable, &c->peer,
	    srv->self, c->state, &msg, &row, &why);
	if (r != ERR_OK) {
		const char *name = "?";
		size_t i;

		for (i = 0; i < srv->cfg.ntable; i++) {
			if (srv->cfg.table[i].type == msg.type)
				name = srv->cfg.table[i].name;
		}
		conn_log(c, "dropped: request type %u ('%s') in state %u: %s",
		    (unsigned)msg.type, name, c->state,
		    why != NULL ? why : err_str(r));
		c->closing = 1;
		if (status_response(srv, msg.type, r) != ERR_OK) {
			conn_close(c);
			return -1;
		}
		return conn_respond(c);
	}

	wire_builder_reset(srv->resp, (uint16_t)(msg.type | RPC_RESPONSE));
	r = row->handler(c, &msg, srv->resp);
	if (r == ERR_OK && wire_put_u32(srv->resp, RPC_TAG_STATUS, 0) !=
	    ERR_OK) {
		conn_log(c, "request '%s': the handler built a bad response",
		    row->name);
		r = ERR_INTERNAL;
	}
	if (r > 0 || r < MIN_STATUS)
		r = ERR_INTERNAL;
	if (r != ERR_OK && status_response(srv, msg.type, r) != ERR_OK) {
		conn_drop(c, "cannot build a response");
		return -1;
	}
	return conn_respond(c);
}

/*
 * Reads into buf[*got..want); 1 when it is full, 0 to wait for more, -1
 * when c was closed.
 */
static int
conn_fill(struct rpc_conn *c, uint8_t *buf, size_t *got, size_t want)
{
	while (*got < want) {
		ssize_t n = recv(c->fd, buf + *got, want - *got,
		    MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n < 0) {
			conn_drop(c, "read failed (%s)", strerror(errno));
			return -1;
		}
		if (n == 0) {
			if (c->frame_deadline != 0)
				conn_drop(c, "closed the connection "
				    "mid-frame");
			else
				conn_close(c);
			return -1;
		}
		if (c->frame_deadline == 0)
			c->frame_deadline = clock_mono_ms() +
			    c->srv->cfg.io_timeout_ms;
		*got += (size_t)n;
	}
	return 1;
}

/* Reads and serves frames until the socket is drained or c waits. */
static void
conn_read(struct rpc_conn *c)
{
	int r;

	while (c->fd >= 0 && c->out == NULL && !c->closing) {
		if (c->hdr_got < WIRE_HDR_LEN) {
			if (conn_fill(c, c->hdr, &c->hdr_got,
			    WIRE_HDR_LEN) != 1)
				return;
			r = wire_frame_len(c->hdr, &c->body_len);
			if (r != ERR_OK) {
				conn_drop(c, "frame length %lu %s",
				    (unsigned long)((uint32_t)c->hdr[0] << 24 |
				    (uint32_t)c->hdr[1] << 16 |
				    (uint32_t)c->hdr[2] << 8 | c->hdr[3]),
				    r == ERR_TOOBIG ? "over the limit" :
				    "too short");
				return;
			}
			if ((c->body = malloc(c->body_len)) == NULL) {
				conn_drop(c, "out of memory");
				return;
			}
			c->body_got = 0;
		}
		if (conn_fill(c, c->body, &c->body_got, c->body_len) != 1)
			return;
		c->frame_deadline = 0;
		r = conn_dispatch(c);
		if (r < 0)
			return;
		wipe_free(c->body, c->body_len);
		c->body = NULL;
		c->body_len = c->body_got = 0;
		c->hdr_got = 0;
	}
}

static void
conn_check_timeouts(struct rpc_conn *c, int64_t now)
{
	const struct rpc_server_config *cfg;

	if (c->fd < 0)
		return;
	cfg = &c->srv->cfg;
	if (c->frame_deadline != 0 && now >= c->frame_deadline)
		conn_drop(c, "request timed out: frame incomplete after %d ms",
		    cfg->io_timeout_ms);
	else if (c->out_deadline != 0 && now >= c->out_deadline)
		conn_drop(c, "response timed out: not taken within %d ms",
		    cfg->io_timeout_ms);
	else if (cfg->idle_timeout_ms > 0 && c->frame_deadline == 0 &&
	    c->out == NULL && now - c->idle_since >= cfg->idle_timeout_ms)
		conn_drop(c, "idle for %d ms", cfg->idle_timeout_ms);
}

/* The poll timeout until the nearest deadline, -1 for none. */
static int
poll_timeout(const struct rpc_server *srv, int64_t now)
{
	int64_t next = INT64_MAX;
	unsigned i;

	if (srv->accept_paused_until != 0)
		next = srv->accept_paused_until;
	if (srv->next_tick != 0 && srv->next_tick < next)
		next = srv->next_tick;
	for (i = 0; i < srv->cfg.max_clients; i++) {
		const struct rpc_conn *c = &srv->conns[i];

		if (c->fd < 0)
			continue;
		if (c->frame_deadline != 0 && c->frame_deadline < next)
			next = c->frame_deadline;
		if (c->out_deadline != 0 && c->out_deadline < next)
			next = c->out_deadline;
		if (srv->cfg.idle_timeout_ms > 0 && c->frame_deadline == 0 &&
		    c->out == NULL &&
		    c->idle_since + srv->cfg.idle_timeout_ms < next)
			next = c->idle_since + srv->cfg.idle_timeout_ms;
	}
	if (next == INT64_MAX)
		return -1;
	if (next <= now)
		return 0;
	return next - now > 60000 ? 60000 : (int)(next - now);
}

/* Connections held by uid now. */
static unsigned
uid_conns(const struct rpc_server *srv, uid_t uid)
{
	unsigned i, n = 0;

	for (i = 0; i < srv->cfg.max_clients; i++)
		n += srv->conns[i].fd >= 0 && srv->conns[i].peer.uid == uid;
	return n;
}

/*
 * Whether a new client of cred may take a slot. Refusals are logged at
 * most once a second, with their count: a client refused in a loop must
 * not fill the log either.
 */
static int
admit(struct rpc_server *srv, const struct ucred *cred)
{
	int trusted = cred->uid == 0 || cred->uid == srv->cfg.trusted_uid;
	unsigned cap = srv->cfg.max_clients;
	const char *why = NULL;
	int64_t now;

	if (!trusted)
		cap = srv->cfg.reserved < cap ? cap - srv->cfg.reserved : 0;
	if (srv->nconns >= cap)
		why = "too many clients";
	else if (!trusted && srv->cfg.per_uid_max != 0 &&
	    uid_conns(srv, cred->uid) >= srv->cfg.per_uid_max)
		why = "too many clients of this uid";
	if (why == NULL)
		return 1;
	srv->refused++;
	now = clock_mono_ms();
	if (srv->refused_logged == 0 || now - srv->refused_logged >= 1000) {
		srv_log(srv, "rpc: client uid %lu pid %ld: refused: %s (%u of "
		    "%u slots in use; %u refused in all since the last "
		    "line)", (unsigned long)cred->uid, (long)cred->pid, why,
		    srv->nconns, srv->cfg.max_clients, srv->refused);
		srv->refused_logged = now;
		srv->refused = 0;
	}
	return 0;
}

static void
srv_accept(struct rpc_server *srv)
{
	for (;;) {
		struct ucred cred;
		socklen_t clen = sizeof(cred);
		struct rpc_conn *c = NULL;
		unsigned i;
		int fd;

		fd = accept4(srv->lfd, NULL, NULL,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK) {
				srv_log(srv, "rpc: accept failed (%s); "
				    "pausing %d ms", strerror(errno),
				    ACCEPT_PAUSE_MS);
				srv->accept_paused_until = clock_mono_ms() +
				    ACCEPT_PAUSE_MS;
			}
			return;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) !=
		    0 || clen != sizeof(cred)) {
			srv_log(srv, "rpc: cannot learn a client's "
			    "credentials (%s); closed", strerror(errno));
			close(fd);
			continue;
		}
		if (!admit(srv, &cred)) {
			close(fd);
			continue;
		}
		for (i = 0; i < srv->cfg.max_clients; i++) {
			if (srv->conns[i].fd < 0) {
				c = &srv->conns[i];
				break;
			}
		}
		if (c == NULL) {
			/* NEVER: nconns counts the slots in use. */
			close(fd);
			continue;
		}
		memset(c, 0, sizeof(*c));
		c->srv = srv;
		c->fd = fd;
		c->peer.pid = cred.pid;
		c->peer.uid = cred.uid;
		c->peer.gid = cred.gid;
		c->peer.accepted_boot_ns = clock_boot_ns();
		if ((c->peer.pidfd = peer_pidfd(fd)) == PEER_GONE) {
			/* No client leaves before its answer: refused. */
			close(fd);
			c->fd = -1;
			continue;
		}
		c->idle_since = clock_mono_ms();
		srv->nconns++;
	}
}

/*
 * The owner's timers: after any event (a request may have armed one), or
 * when the time it asked for has come.
 */
static void
run_tick(struct rpc_server *srv, int events)
{
	int64_t now = clock_mono_ms(), wait;

	if (srv->cfg.tick == NULL ||
	    (!events && (srv->next_tick == 0 || now < srv->next_tick)))
		return;
	wait = srv->cfg.tick(srv->cfg.arg);
	srv->next_tick = wait < 0 ? 0 : now + wait;
}

int
rpc_server_run(struct rpc_server *srv)
{
	for (;;) {
		int64_t now = clock_mono_ms();
		unsigned i, n = 0;
		int timeout, pr;

		srv->pfds[0].fd = srv->efd;
		srv->pfds[0].events = POLLIN;
		srv->pfds[0].revents = 0;
		if (srv->accept_paused_until != 0 &&
		    now >= srv->accept_paused_until)
			srv->accept_paused_until = 0;
		srv->pfds[1].fd = srv->accept_paused_until != 0 ? -1 :
		    srv->lfd;
		srv->pfds[1].events = POLLIN;
		srv->pfds[1].revents = 0;
		for (i = 0; i < srv->cfg.max_clients; i++) {
			struct rpc_conn *c = &srv->conns[i];

			if (c->fd < 0)
				continue;
			srv->pfds[2 + n].fd = c->fd;
			srv->pfds[2 + n].events = c->out != NULL ? POLLOUT :
			    POLLIN;
			srv->pfds[2 + n].revents = 0;
			srv->pconn[n++] = i;
		}
		timeout = poll_timeout(srv, now);
		pr = poll(srv->pfds, 2 + n, timeout);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr < 0) {
			srv_log(srv, "rpc: poll failed (%s)", strerror(errno));
			return ERR_IO;
		}
		if (srv->pfds[0].revents != 0) {
			uint64_t v;
			ssize_t rn = read(srv->efd, &v, sizeof(v));

			(void)rn;
			return ERR_OK;
		}
		/* Clients first, so that those leaving free their slots. */
		for (i = 0; i < n; i++) {
			struct rpc_conn *c = &srv->conns[srv->pconn[i]];
			short rev = srv->pfds[2 + i].revents;

			if (rev == 0 || c->fd < 0)
				continue;
			if (c->out != NULL) {
				if (conn_flush(c) < 0)
					continue;
			}
			conn_read(c);
		}
		if (srv->pfds[1].revents != 0)
			srv_accept(srv);
		now = clock_mono_ms();
		for (i = 0; i < srv->cfg.max_clients; i++)
			conn_check_timeouts(&srv->conns[i], now);
		run_tick(srv, pr > 0);
	}
}

void
rpc_server_stop(struct rpc_server *srv)
{
	uint64_t one = 1;
	ssize_t n = write(srv->efd, &one, sizeof(one));

	(void)n;
}

unsigned
rpc_server_nclients(const struct rpc_server *srv)
{
	return srv->nconns;
}

static int
check_table(const struct rpc_request *table, size_t ntable)
{
	size_t i, j;

	if (table == NULL && ntable > 0)
		return ERR_INVAL;
	for (i = 0; i < ntable; i++) {
		if (table[i].type == 0 || (table[i].type & RPC_RESPONSE) ||
		    table[i].name == NULL || table[i].handler == NULL ||
		    (table[i].nuids > 0 && table[i].uids == NULL) ||
		    (table[i].nfields > 0 && table[i].fields == NULL))
			return ERR_INVAL;
		for (j = 0; j < i; j++) {
			if (table[j].type == table[i].type)
				return ERR_INVAL;
		}
	}
	return ERR_OK;
}

/*
 * Removes a socket left at path by a server that is gone. A path that is
 * not a socket is never removed, nor one where a server still answers.
 */
static int
clear_stale(const char *path, const struct sockaddr_un *sun)
{
	struct stat st;
	int fd = -1, r = ERR_INTERNAL;

	if (lstat(path, &st) != 0) {
		r = errno == ENOENT ? ERR_OK : ERR_IO;
		goto out;
	}
	if (!S_ISSOCK(st.st_mode)) {
		r = ERR_EXISTS;
		goto out;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		r = ERR_IO;
		goto out;
	}
	if (connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0) {
		r = ERR_LOCKED;
		goto out;
	}
	if (errno != ECONNREFUSED) {
		r = ERR_IO;
		goto out;
	}
	if (unlink(path) != 0 && errno != ENOENT) {
		r = ERR_IO;
		goto out;
	}
	r = ERR_OK;
 out:
	if (fd >= 0)
		close(fd);
	return r;
}

int
rpc_server_new(const struct rpc_server_config *cfg, struct rpc_server **out)
{
	struct rpc_server *srv = NULL;
	struct sockaddr_un sun;
	struct sigaction sa;
	struct stat st;
	unsigned i;
	int r = ERR_INTERNAL;

	*out = NULL;
	if (cfg->path == NULL || cfg->io_timeout_ms < 0 ||
	    cfg->idle_timeout_ms < 0 || (cfg->mode & ~(mode_t)0777) != 0) {
		r = ERR_INVAL;
		goto out;
	}
	if ((r = check_table(cfg->table, cfg->ntable)) != ERR_OK)
		goto out;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(cfg->path) >= sizeof(sun.sun_path) || cfg->path[0] == '\0') {
		r = ERR_TOOBIG;
		goto out;
	}
	memcpy(sun.sun_path, cfg->path, strlen(cfg->path) + 1);

	if ((srv = calloc(1, sizeof(*srv))) == NULL) {
		r = ERR_NOMEM;
		goto out;
	}
	srv->lfd = srv->efd = -1;
	srv->cfg = *cfg;
	if (srv->cfg.max_clients == 0)
		srv->cfg.max_clients = RPC_DEFAULT_MAX_CLIENTS;
	if (srv->cfg.io_timeout_ms == 0)
		srv->cfg.io_timeout_ms = RPC_DEFAULT_IO_TIMEOUT_MS;
	srv->self = geteuid();
	if ((srv->path = strdup(cfg->path)) == NULL ||
	    (srv->conns = calloc(srv->cfg.max_clients,
	    sizeof(*srv->conns))) == NULL ||
	    (srv->pfds = calloc(2 + (size_t)srv->cfg.max_clients,
	    sizeof(*srv->pfds))) == NULL ||
	    (srv->pconn = calloc(srv->cfg.max_clients,
	    sizeof(*srv->pconn))) == NULL) {
		r = ERR_NOMEM;
		goto out;
	}
	srv->cfg.path = srv->path;
	for (i = 0; i < srv->cfg.max_clients; i++)
		srv->conns[i].fd = -1;
	if ((r = wire_builder_new(RPC_RESPONSE, &srv->resp)) != ERR_OK)
		goto out;
	if ((srv->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
		r = ERR_IO;
		goto out;
	}

	/* A client that vanishes must cost an EPIPE, not the daemon. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL) != 0) {
		r = ERR_INTERNAL;
		goto out;
	}

	if ((r = clear_stale(srv->path, &sun)) != ERR_OK)
		goto out;
	if ((srv->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) < 0) {
		r = ERR_IO;
		goto out;
	}
	/*
	 * Linux gives the file the socket inode's mode less the umask at
	 * bind(): narrowing it first means the file is never wider than
	 * asked, even for an instant. The chmod then sets it exactly.
	 */
	if (fchmod(srv->lfd, cfg->mode) != 0 ||
	    bind(srv->lfd, (const struct sockaddr *)&sun, sizeof(sun)) != 0) {
		r = errno == EADDRINUSE ? ERR_LOCKED : ERR_IO;
		goto out;
	}
	if (lstat(srv->path, &st) != 0 || !S_ISSOCK(st.st_mode) ||
	    chmod(srv->path, cfg->mode) != 0 ||
	    listen(srv->lfd, SOMAXCONN) != 0) {
		r = ERR_IO;
		unlink(srv->path);
		goto out;
	}
	srv->sock_dev = st.st_dev;
	srv->sock_ino = st.st_ino;

	*out = srv;
	srv = NULL;
	r = ERR_OK;
 out:
	if (srv != NULL) {
		/* Not bound yet, or unlinked above: nothing to remove. */
		srv->sock_ino = 0;
		rpc_server_free(srv);
	}
	return r;
}

void
rpc_server_free(struct rpc_server *srv)
{
	struct stat st;
	unsigned i;

	if (srv == NULL)
		return;
	for (i = 0; srv->conns != NULL && i < srv->cfg.max_clients; i++)
		conn_close(&srv->conns[i]);
	if (srv->lfd >= 0) {
		/* Only the socket this server made, not a successor's. */
		if (srv->sock_ino != 0 && lstat(srv->path, &st) == 0 &&
		    st.st_dev == srv->sock_dev && st.st_ino == srv->sock_ino)
			unlink(srv->path);
		close(srv->lfd);
	}
	if (srv->efd >= 0)
		close(srv->efd);
	wire_builder_free(srv->resp);
	free(srv->pconn);
	free(srv->pfds);
	free(srv->conns);
	free(srv->path);
	free(srv);
}

/* ---- client ---- */

struct rpc_client {
	int fd;
	int timeout_ms;
	int broken;
};

int
rpc_client_fd(const struct rpc_client *c)
{
	return c->fd;
}

int
rpc_client_connect(const char *path, int timeout_ms, struct rpc_client **out)
{
	struct rpc_client *c = NULL;
	struct sockaddr_un sun;
	int r = ERR_INTERNAL;

	*out = NULL;
	if (timeout_ms < 0) {
		r = ERR_INVAL;
		goto out;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		r = ERR_TOOBIG;
		goto out;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		r = ERR_NOMEM;
		goto out;
	}
	c->timeout_ms = timeout_ms > 0 ? timeout_ms :
	    RPC_DEFAULT_IO_TIMEOUT_MS;
	if ((c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		r = ERR_IO;
		goto out;
	}
	if (connect(c->fd, (const struct sockaddr *)&sun, sizeof(sun)) != 0) {
		r = ERR_NETWORK;
		goto out;
	}
	*out = c;
	c = NULL;
	r = ERR_OK;
 out:
	rpc_client_free(c);
	return r;
}

void
rpc_client_free(struct rpc_client *c)
{
	if (c == NULL)
		return;
	if (c->fd >= 0)
		close(c->fd);
	free(c);
}

void
rpc_response_free(struct rpc_response *resp)
{
	if (resp == NULL)
		return;
	wipe_free(resp->buf, resp->len);
	free(resp);
}

/* Sends or receives exactly len bytes before deadline; ERR_NETWORK if not. */
static int
client_io(struct rpc_client *c, uint8_t *p, size_t len, int writing,
    int64_t deadline)
{
	size_t done = 0;

	while (done < len) {
		struct pollfd pfd = { .fd = c->fd,
		    .events = writing ? POLLOUT : POLLIN };
		int64_t left = deadline - clock_mono_ms();
		ssize_t n;

		if (left <= 0)
			return ERR_NETWORK;
		if (poll(&pfd, 1, (int)left) < 0) {
			if (errno == EINTR)
				continue;
			return ERR_NETWORK;
		}
		if (pfd.revents == 0)
			continue;
		n = writing ? send(c->fd, p + done, len - done,
		    MSG_NOSIGNAL | MSG_DONTWAIT) :
		    recv(c->fd, p + done, len - done, MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN ||
		    errno == EWOULDBLOCK))
			continue;
		if (n <= 0)
			return ERR_NETWORK;
		done += (size_t)n;
	}
	return ERR_OK;
}

int
rpc_client_call(struct rpc_client *c, const struct wire_builder *req,
    struct rpc_response **respp)
{
	struct rpc_response *resp = NULL;
	const uint8_t *frame;
	uint8_t hdr[WIRE_HDR_LEN];
	size_t len, body_len;
	int64_t deadline;
	uint32_t status;
	uint16_t type;
	int r = ERR_INTERNAL;

	*respp = NULL;
	if (c->broken) {
		r = ERR_NETWORK;
		goto out;
	}
	if ((r = wire_builder_frame(req, &frame, &len)) != ERR_OK)
		goto out;
	type = wire_builder_type(req);
	if (type == 0 || (type & RPC_RESPONSE) != 0) {
		r = ERR_INVAL;
		goto out;
	}
	deadline = clock_mono_ms() + c->timeout_ms;
	if ((r = client_io(c, (uint8_t *)frame, len, 1, deadline)) != ERR_OK ||
	    (r = client_io(c, hdr, sizeof(hdr), 0, deadline)) != ERR_OK)
		goto fail;
	if (wire_frame_len(hdr, &body_len) != ERR_OK) {
		r = ERR_FORMAT;
		goto fail;
	}
	if ((resp = calloc(1, sizeof(*resp))) == NULL ||
	    (resp->buf = malloc(body_len)) == NULL) {
		r = ERR_NOMEM;
		goto fail;
	}
	resp->len = body_len;
	if ((r = client_io(c, resp->buf, body_len, 0, deadline)) != ERR_OK)
		goto fail;
	if (wire_msg_parse(resp->buf, body_len, &resp->msg) != ERR_OK ||
	    resp->msg.type != (type | RPC_RESPONSE) ||
	    wire_get_u32(&resp->msg, RPC_TAG_STATUS, &status) != ERR_OK ||
	    (int32_t)status > 0 || (int32_t)status < MIN_STATUS) {
		r = ERR_FORMAT;
		goto fail;
	}
	if (status != 0) {
		r = (int32_t)status;
		goto out;
	}
	*respp = resp;
	resp = NULL;
	r = ERR_OK;
	goto out;
 fail:
	/* The stream is out of step: no later call can trust it. */
	c->broken = 1;
 out:
	rpc_response_free(resp);
	return r;
}

/* A connection without a socket, for harnesses that call handlers. */
struct detached {
	struct rpc_server srv;
	struct rpc_conn conn;
};

struct rpc_conn *
rpc_conn_detached_new(const struct rpc_peer *peer, void *arg)
{
	struct detached *d = calloc(1, sizeof(*d));

	if (d == NULL)
		return NULL;
	d->srv.cfg.arg = arg;
	d->srv.lfd = d->srv.efd = -1;
	d->conn.srv = &d->srv;
	d->conn.fd = -1;
	d->conn.peer = *peer;
	return &d->conn;
}

int
rpc_conn_dropped(const struct rpc_conn *conn)
{
	return conn->closing;
}

void
rpc_conn_detached_free(struct rpc_conn *conn)
{
	struct detached *d;

	if (conn == NULL)
		return;
	if (conn->data_free != NULL)
		conn->data_free(conn->data);
	d = (struct detached *)((char *)conn - offsetof(struct detached, conn));
	free(d);
}
