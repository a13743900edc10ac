/*
 * shell.h - the parts of bulwark-shell, each gateway user's login shell
 * (docs/DESIGN.md, "A session, step by step"), and what they share.
 * Private to src/shell/; reusable pieces live in src/gateway/ (shellcmd,
 * asciicast).
 *
 *   main.c     arguments and environment, then the menu or a session
 *   menu.c     the numbered target list
 *   session.c  SESSION_OPEN / SESSION_CERT / SESSION_END and the session's
 *              private directory (certificate, known_hosts, sockets)
 *   agent.c    the child that holds the session key and answers ssh alone
 *   dial.c     the TCP connection to the target, handed to ssh
 *   ackwatch.c quick ACKs on that connection during ssh's handshake
 *   sshrun.c   the ssh command line and its environment; fork + execv
 *   relay.c    the poll() loop between the user, ssh and the recording
 *   record.c   the asciicast recording, sent as SESSION_DATA
 *   sig.c      signals: forwarded to ssh, never losing the cleanup
 */
#ifndef BULWARK_SHELL_SHELL_H
#define BULWARK_SHELL_SHELL_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <netdb.h>
#include <sys/types.h>

#include "common/err.h"
#include "gateway/rpc.h"
#include "gateway/shellcmd.h"

/* Each call to bulwarkd; the daemon answers from memory or SQLite. */
#define SHELL_RPC_TIMEOUT_MS	10000
/* The alias known_hosts and ssh agree on for the pinned host key. */
#define SHELL_HOSTKEY_ALIAS	"bulwark-target"
/* Exit status when bulwark-shell itself refuses or fails. */
#define SHELL_EXIT_FAIL		1
/* As ssh's: the target could not be reached. */
#define SHELL_EXIT_CONNECT	255
/* Per address of the target; ssh without ConnectTimeout waits minutes. */
#define SHELL_CONNECT_TIMEOUT_MS	15000
/* ssh's proxy dialer, installed beside bulwark-shell (src/dial/). */
#define SHELL_DIAL_NAME		"bulwark-dial"

/* What one run of bulwark-shell was started with. */
struct shell {
	const char *socket_path;	/* BULWARK_SOCKET or the default */
	const char *rhost;		/* from SSH_CONNECTION, or NULL */
	const char *term;		/* TERM if sane, or NULL */
	int stdin_tty;
	struct shellcmd cmd;
	struct rpc_client *rpc;		/* connected by main */
};

/* The child holding the session key (agent.c). */
struct agent {
	pid_t pid;			/* -1 when not running */
	int note_fd;			/* the refusals it reports, or -1 */
	char path[96];			/* its socket, "" before agent_init */
	uint32_t refused;		/* connections it refused, so far */
	uint32_t first_pid;		/* the first of them */
	int signed_ok;			/* it signed ssh's login */
};

/* What SESSION_OPEN and SESSION_CERT gave, and where it is on disk. */
struct session {
	uint64_t id;
	char *host;
	uint32_t port;
	char *hostkey;			/* "TYPE BASE64" */
	uint64_t record_cap;		/* bytes */
	char dir[64];			/* "" until created */
	char cert_path[96];
	char kh_path[96];
	int certified;			/* SESSION_CERT answered */
	struct agent agent;
};

/* The connection to the target while it is ours (dial.c). */
struct dial {
	char host[256];
	uint32_t port;
	struct addrinfo *ai, *cur;	/* addresses left to try */
	int fd;				/* connecting or connected, or -1 */
	int64_t started_ms;		/* of the current attempt */
	int listen_fd;			/* the hand-over socket, or -1 */
	char path[96];			/* its name in the session directory */
	char why[384];			/* what failed, for the user */
};

/* The ssh child and our ends of its pipes (-1 where not piped). */
struct sshrun {
	pid_t pid;
	int in_fd;	/* ssh's stdin; -1 when ssh reads our terminal */
	int out_fd;
	int err_fd;
};

/* A copy of the target connection, watched for arrivals (ackwatch.c). */
struct ackwatch {
	int sock;		/* or -1 */
	int ep;			/* epoll on sock, edge-triggered, or -1 */
	int64_t until_ms;	/* CLOCK_MONOTONIC */
};

/* What the relay saw. */
struct relay_result {
	int status;		/* ssh's exit code, or 128 + signal */
	uint64_t bytes_in;	/* user to target */
	uint64_t bytes_out;	/* target to user */
	int hostkey_mismatch;
	int ended_by_gateway;	/* bulwarkd refused the recording */
	int gateway_closed;	/* bulwarkd ended the session (or stopped) */
	int shell_error;	/* ssh could not be started */
	int not_authed;		/* ssh's output came before its login */
	int handover_failed;	/* ssh's dialer did not take the connection */
	uint32_t agent_refused;	/* other processes at the key agent */
	uint32_t agent_pid;	/* the first of them */
};

/* main.c */
void shell_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void shell_rpc_failed(const struct shell *sh, int r);

/* menu.c: lists targets; on a terminal, lets the user pick one. */
int menu_run(struct shell *sh, int *exit_status) WUR;

/* session.c: a whole session; returns the exit status. */
int session_run(struct shell *sh);
/*
 * session.c: ends the key's agent and removes the certificate once ssh
 * has authenticated (the directory stays until the end).
 */
void session_drop_key(struct session *s);

/*
 * agent.c: agent_init names the socket in the session directory dir
 * (ssh is told it before the agent runs); agent_start forks the agent
 * with a copy of key (the caller frees its own), for ssh_pid alone;
 * agent_stop kills and reaps it and removes the socket; safe to repeat.
 * refused and first_pid then say whom it turned away. agent_fd is the
 * descriptor to poll until it has signed (-1 after); agent_poll reads
 * what it reported and answers 1 once it signed ssh's login.
 */
struct sshkey;
void agent_init(struct agent *ag, const char *dir);
int agent_start(struct agent *ag, struct sshkey *key, const char *cert_line,
    const char *hostkey_line, const char *login, pid_t ssh_pid) WUR;
void agent_stop(struct agent *ag);
int agent_fd(const struct agent *ag);
int agent_poll(struct agent *ag);

/* dial.c: dial_start resolves and starts connecting; dial_finish waits
 * (timeout_ms per address) and leaves a connected socket with
 * TCP_NODELAY; dial_listen makes the hand-over socket in DIR;
 * dial_hand_over gives the socket to ssh's proxy dialer, then closes
 * everything. On failure, why says what happened. */
void dial_init(struct dial *d);
int dial_start(struct dial *d, const char *host, uint32_t port) WUR;
int dial_finish(struct dial *d, int timeout_ms) WUR;
int dial_listen(struct dial *d, const char *dir) WUR;
int dial_hand_over(struct dial *d, pid_t ssh_pid);
void dial_close(struct dial *d);
/* sshrun.c: ssh connecting through the hand-over socket at dial_path. */
int sshrun_spawn(const struct shell *sh, const struct session *s,
    const char *dial_path, struct sshrun *out) WUR;
/* Kills and reaps ssh and closes our ends of its pipes. */
void sshrun_abort(struct sshrun *run);
/* What ssh, gone before its session began, wrote to its stderr: copied to
 * ours (at most 4 KiB, without waiting). */
void sshrun_show_errors(const struct sshrun *run);

/* ackwatch.c: ackwatch_start copies sock (the target connection before
 * it is handed over) and watches it; ackwatch_fd is the descriptor to
 * poll for input (-1 once stopped), ackwatch_event what to call when it
 * has some. ackwatch_stop closes the copy; safe to repeat. */
void ackwatch_start(struct ackwatch *a, int sock);
int ackwatch_fd(const struct ackwatch *a);
void ackwatch_event(struct ackwatch *a);
void ackwatch_stop(struct ackwatch *a);

/* relay.c: until ssh exits; rpc carries the recording (pty sessions);
 * ack is stopped at the session's first output. */
void relay_run(const struct shell *sh, struct session *s,
    struct sshrun *run, struct ackwatch *ack, struct relay_result *res);

/* sig.c */
void sig_setup(void);
void sig_set_child(pid_t pid);
/* Signal number of a terminating signal received or pending, else 0. */
int sig_terminated(void);
/* 1 once per SIGWINCH received since the last call. */
int sig_take_winch(void);
/* The mask to wait with in ppoll: everything we handle unblocked. */
const sigset_t *sig_wait_mask(void);
/* In the child, before execv: default dispositions, nothing blocked. */
void sig_child_reset(void);

/* record.c: the asciicast of a session (all but sftp). */
struct record;
int record_start(struct record **out, struct rpc_client *rpc,
    uint64_t cap, const char *term) WUR;
/* Appends output shown to the user; sends nothing (record_flush does). */
int record_output(struct record *rec, const void *p, size_t len) WUR;
/* Appends what the user sent, in a session without a terminal. */
int record_input(struct record *rec, const void *p, size_t len) WUR;
/* 1 once the cap is reached: later events are dropped. */
int record_stopped(const struct record *rec);
int record_resize(struct record *rec) WUR;
/* Sends what is due (32 KiB buffered, 1 s old) or, with all, everything. */
int record_flush(struct record *rec, int all) WUR;
/* Milliseconds until a flush is due, -1 for none. */
int record_timeout_ms(const struct record *rec);
void record_free(struct record *rec);

#endif
