/*
 * rpc.h - the monitor's request/response layer over a Unix socket.
 *
 * bulwarkd answers a fixed table of requests, as OpenSSH's monitor does.
 * Who is calling comes from the socket (SO_PEERCRED at accept), never
 * from what the caller sends. Each request names the callers it serves
 * and the connection states it is valid in; each connection starts in
 * state 0 and handlers move it on (e.g. 0 = new, 1 = authenticated).
 *
 * Requests and responses are wire.h messages. A response has the type of
 * its request with RPC_RESPONSE set, and a u32 field RPC_TAG_STATUS
 * holding ERR_OK or a negative err.h code (two's complement); fields from
 * the handler come with ERR_OK only.
 *
 * What the server does with each client:
 *  - a length prefix over WIRE_MAX_BODY, a body that does not decode, a
 *    frame not complete within io_timeout_ms, a response the client does
 *    not take within io_timeout_ms, an error on the socket: logs one line
 *    and closes the connection;
 *  - an unknown type, a caller the request does not serve, a request out
 *    of order for the connection's state, fields that do not match the
 *    request's spec: logs one line, answers with only a status
 *    (ERR_UNSUPPORTED, ERR_DENIED, ERR_CONFLICT, ERR_FORMAT) and closes
 *    the connection once that is sent;
 *  - a handler's error: answered with that status; the connection stays.
 * Nothing a client sends ends the server. Log lines name the caller's uid
 * and pid and the request type and name, never bytes the client chose.
 *
 * The server is one thread around poll(): handlers run one at a time and
 * need no locks, but must not block. Each connection holds at most one
 * request being read and one response being written (a client that
 * pipelines waits in its socket buffer), so memory is bounded by
 * max_clients * 2 * WIRE_MAX_FRAME.
 */
#ifndef BULWARK_GATEWAY_RPC_H
#define BULWARK_GATEWAY_RPC_H

#include <stdint.h>
#include <sys/types.h>

#include "common/err.h"
#include "common/wire.h"

#define RPC_RESPONSE		0x8000	/* set in a response's type */
#define RPC_TAG_STATUS		0	/* reserved in responses */

#define RPC_DEFAULT_MAX_CLIENTS	256
#define RPC_DEFAULT_IO_TIMEOUT_MS 5000

/* Callers a request serves (any of): */
#define RPC_CALLER_ROOT		0x01	/* uid 0 */
#define RPC_CALLER_SELF		0x02	/* the server's own effective uid */
#define RPC_CALLER_ANY		0x04	/* every uid that can connect */
/* ... or a uid in the request's uids list. */

/* Connection states a request is valid in: a mask of RPC_STATE(n). */
#define RPC_STATE(n)		(1u << (n))
#define RPC_STATE_ALL		0xffffffffu
#define RPC_MAX_STATE		31

/* The caller, as the kernel saw it when it connected. */
struct rpc_peer {
	pid_t pid;	/* the process may be gone, its pid reused */
	uid_t uid;
	gid_t gid;
	/*
	 * CLOCK_BOOTTIME at accept: a process at pid that started later is
	 * not the one that connected (proc.h).
	 */
	int64_t accepted_boot_ns;
	/*
	 * A pidfd of the process that connected (SO_PEERPIDFD, Linux 6.5 and
	 * later), or -1: while it says that process lives, pid is still its.
	 */
	int pidfd;
};

/*
 * Whether the process that connected still lives: 1 yes, 0 no, -1 the
 * kernel gave no pidfd to tell (then only the start time can).
 */
int rpc_peer_alive(const struct rpc_peer *peer);

struct rpc_conn;

/*
 * Answers req (already checked against the request's field specs) by
 * putting fields into resp, whose type and status the server sets. Returns
 * ERR_OK or an err.h code that becomes the response's status (and then
 * the fields put are discarded).
 */
typedef int (*rpc_handler_fn)(struct rpc_conn *conn,
    const struct wire_msg *req, struct wire_builder *resp);

/* One row of the request table. The table is borrowed by the server. */
struct rpc_request {
	uint16_t type;		/* 1 .. 0x7fff, unique in the table */
	const char *name;	/* for logs */
	unsigned callers;	/* RPC_CALLER_* */
	const uid_t *uids;	/* further allowed uids, or NULL */
	size_t nuids;
	uint32_t states;	/* RPC_STATE() mask */
	const struct wire_field_spec *fields;
	size_t nfields;
	rpc_handler_fn handler;
};

/* Server configuration; rpc_server_new copies it (not the table). */
struct rpc_server_config {
	const char *path;	/* socket path, at most 107 bytes */
	mode_t mode;		/* of the socket file, e.g. 0660 */
	const struct rpc_request *table;
	size_t ntable;
	void *arg;		/* for handlers: rpc_conn_arg() */
	unsigned max_clients;	/* 0: RPC_DEFAULT_MAX_CLIENTS */
	/*
	 * So that no local user can take every slot: a uid other than root
	 * and trusted_uid holds at most per_uid_max connections (0: no such
	 * limit), and the last reserved slots are for those two alone.
	 */
	unsigned per_uid_max;
	unsigned reserved;
	uid_t trusted_uid;	/* 0 or (uid_t)-1: root alone */
	int io_timeout_ms;	/* 0: RPC_DEFAULT_IO_TIMEOUT_MS */
	int idle_timeout_ms;	/* 0: idle connections stay */
	/*
	 * The owner's timers (may be NULL): called from the loop, between
	 * requests, as often as it asks. It returns the milliseconds until
	 * it wants to run again, or -1 for not until after the next request.
	 */
	int64_t (*tick)(void *arg);
	/* One line, no newline; NULL logs to stderr. */
	void (*log)(void *log_arg, const char *line);
	void *log_arg;
};

struct rpc_server;

/*
 * Checks the table (ERR_INVAL on a bad or repeated type, a missing name
 * or handler), ignores SIGPIPE for the process, and listens on cfg->path
 * with cfg->mode. A stale socket file left by a dead server is replaced;
 * ERR_LOCKED if a live server answers there, ERR_EXISTS if the path is
 * something other than a socket, ERR_TOOBIG if it is too long, ERR_IO on
 * other failures. *out is set only on success; rpc_server_free releases it,
 * closing every connection and removing the socket file.
 */
int rpc_server_new(const struct rpc_server_config *cfg,
    struct rpc_server **out) WUR;
void rpc_server_free(struct rpc_server *srv);

/*
 * Serves until rpc_server_stop. ERR_OK after a stop, ERR_IO if poll()
 * itself fails (never because of a client).
 */
int rpc_server_run(struct rpc_server *srv) WUR;

/* Makes rpc_server_run return; async-signal-safe. */
void rpc_server_stop(struct rpc_server *srv);

/* Connections open now. */
unsigned rpc_server_nclients(const struct rpc_server *srv);

/* For handlers: the connection they serve. */
const struct rpc_peer *rpc_conn_peer(const struct rpc_conn *conn);
void *rpc_conn_arg(const struct rpc_conn *conn);
unsigned rpc_conn_state(const struct rpc_conn *conn);
/* ERR_RANGE if state > RPC_MAX_STATE. */
int rpc_conn_set_state(struct rpc_conn *conn, unsigned state) WUR;
/* Closes the connection once the current response is sent. */
void rpc_conn_drop(struct rpc_conn *conn);
/*
 * Shuts another connection down now: its peer reads end of file at once,
 * and the server closes it (free_fn runs) on its next turn.
 */
void rpc_conn_shutdown(struct rpc_conn *conn);
/*
 * Per-connection data owned by the server from here on: free_fn(data) runs
 * when it is replaced or the connection closes.
 */
void rpc_conn_set_data(struct rpc_conn *conn, void *data,
    void (*free_fn)(void *));
void *rpc_conn_data(const struct rpc_conn *conn);

/*
 * The dispatch decision for msg from peer in connection state state,
 * exposed for the fuzz harness: the row for msg->type in *out, or
 * ERR_UNSUPPORTED (no such type), ERR_DENIED (caller not served),
 * ERR_CONFLICT (not valid in this state), ERR_FORMAT (fields do not match
 * the spec), with a static reason in *why.
 */
int rpc_table_check(const struct rpc_request *table, size_t ntable,
    const struct rpc_peer *peer, uid_t self_uid, unsigned state,
    const struct wire_msg *msg, const struct rpc_request **out,
    const char **why) WUR;

/*
 * For fuzz harnesses and tests that call a table's handlers directly: a
 * connection with no socket, for peer, whose handlers see arg. Its data
 * is freed (free_fn run) by rpc_conn_detached_free; rpc_conn_dropped
 * tells whether a handler asked to close it.
 */
struct rpc_conn *rpc_conn_detached_new(const struct rpc_peer *peer,
    void *arg);
void rpc_conn_detached_free(struct rpc_conn *conn);
int rpc_conn_dropped(const struct rpc_conn *conn);

/* Client side. A response owns its bytes; msg borrows them. */
struct rpc_response {
	struct wire_msg msg;
	uint8_t *buf;
	size_t len;	/* of buf; wiped when freed */
};

struct rpc_client;

/*
 * Connects to the server at path; timeout_ms (0: the default) bounds each
 * later call. ERR_NETWORK if nobody listens or the connection is refused.
 */
int rpc_client_connect(const char *path, int timeout_ms,
    struct rpc_client **out) WUR;
void rpc_client_free(struct rpc_client *c);
/*
 * The connection's descriptor, to poll between calls: the server sends
 * nothing unasked, so it is readable only once the server closed it.
 */
int rpc_client_fd(const struct rpc_client *c);

/*
 * Sends req and waits for its response. Returns ERR_OK with *resp set
 * (free with rpc_response_free), or the server's status, or ERR_NETWORK
 * (connection closed, timed out) or ERR_FORMAT (a response that does not
 * decode or does not answer req). After ERR_NETWORK or ERR_FORMAT the
 * client is unusable.
 */
int rpc_client_call(struct rpc_client *c, const struct wire_builder *req,
    struct rpc_response **resp) WUR;
void rpc_response_free(struct rpc_response *resp);

#endif
