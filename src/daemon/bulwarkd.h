/*
 * bulwarkd.h - what the daemon's files share: its state and the request
 * handlers, one file per group of requests (auth.c: sshd's questions,
 * session.c: bulwark-shell's, admin.c: the admin CLI's).
 *
 * bulwarkd runs as the system user `bulwark` and is the only process that
 * holds the user CA key and reads the TOTP seeds (invariant I7): sshd, the
 * PAM module, bulwark-shell and the CLI ask it over the monitor socket and
 * it answers from SO_PEERCRED, the state database and the audit log.
 */
#ifndef BULWARK_DAEMON_BULWARKD_H
#define BULWARK_DAEMON_BULWARKD_H

#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "audit/log.h"
#include "common/proc.h"
#include "gateway/coalesce.h"
#include "auth/sshkey.h"
#include "gateway/ratelimit.h"
#include "gateway/rpc.h"
#include "store/db.h"

#define BD_DEFAULT_STATE	"/var/lib/bulwark"
#define BD_DEFAULT_REC_CAP	(64ULL * 1024 * 1024)
/*
 * Without a terminal: enough for the commands of a script or a shell fed
 * on stdin and what they print, while a bulk copy (rsync, scp, a pipe)
 * is not stored again as escaped text beside its target.
 */
#define BD_DEFAULT_REC_CAP_NOTTY	(8ULL * 1024 * 1024)
#define BD_MAX_CLIENTS		16384	/* connections: about one per session */
/*
 * Free space kept on the filesystems of the recordings and the audit log:
 * below it no session opens and recorded ones end, so that recordings
 * cannot fill the disk the audit log needs (a full log refuses every
 * login: I5).
 */
#define BD_DEFAULT_DISK_RESERVE	(256ULL * 1024 * 1024)
/*
 * The free space is read again after this much has been recorded, by all
 * sessions together: many sessions cannot overshoot the reserve by more.
 */
#define BD_DISK_CHECK_BYTES	(1024 * 1024)

struct bulwarkd {
	char *state_dir;
	char *log_dir;		/* state_dir/log: the audit log and blobs */
	char *rec_dir;		/* state_dir/rec: recordings in progress */
	char *source_address;	/* the certificates' source-address */
	unsigned cert_validity;	/* seconds */
	uint64_t rec_cap;	/* bytes per recording, with a terminal */
	uint64_t rec_cap_notty;	/* and without one */
	uint64_t disk_reserve;	/* bytes; 0: no reserve */
	uint64_t disk_unchecked;	/* recorded since free space was read */
	struct db *db;
	struct audit_log *log;
	struct sshkey *ca;
	char *ca_pub;		/* "ssh-ed25519 AAAA... bulwark-user-ca" */
	struct ratelimit rl;
	struct rpc_server *srv;
	char boot_id[PROC_BOOT_ID_LEN + 1];	/* of this boot, for logins */
	struct coalesce *refusals;	/* repeated refusals, counted */
	struct sess *sessions;	/* open ones (session.c), for SESSION_KILL */
};

/* state.c: the state directory. dirs and options are set by the caller. */
int bd_state_init(struct bulwarkd *d) WUR;	/* creates what is missing */
int bd_state_open(struct bulwarkd *d) WUR;	/* db, CA key, audit log */
void bd_state_close(struct bulwarkd *d);	/* and frees the strings */
/* mkdir -p, then the mode and (uid != -1) the owner of the last one. */
int bd_own_dir(const char *path, mode_t mode, uid_t uid, gid_t gid) WUR;
/* "a/b", malloc'd. */
char *bd_join(const char *a, const char *b);

/*
 * The request table (handlers in auth.c, session.c, admin.c); keys_uid
 * (may be NULL) may also ask KEYS.
 */
const struct rpc_request *bd_table(const uid_t *keys_uid, size_t *n);

/*
 * Appends one audit event and makes it durable. Strings may be NULL
 * (omitted); session 0 is omitted; detail (may be NULL) is consumed. A
 * failure is logged to stderr and returned: the caller refuses what it
 * was about to allow, since an unlogged decision must not take effect
 * (invariant I5).
 */
int bd_event(struct bulwarkd *d, const char *actor, const char *source,
    const char *target, const char *action, const char *decision,
    uint64_t session, json_t *detail) WUR;

/*
 * Events made durable together, with one fdatasync: those of one decision
 * (a session's start and its certificate; a login's key and second
 * factor). Nothing is logged until bd_batch_commit, and the decision must
 * not take effect before it returns ERR_OK. add consumes detail; commit
 * and clear empty the batch.
 */
#define BD_BATCH_MAX 4
struct bd_batch {
	char *canon[BD_BATCH_MAX];
	size_t len[BD_BATCH_MAX];
	size_t n;
};
int bd_batch_add(struct bd_batch *b, const char *actor, const char *source,
    const char *target, const char *action, const char *decision,
    uint64_t session, json_t *detail) WUR;
int bd_batch_commit(struct bulwarkd *d, struct bd_batch *b) WUR;
void bd_batch_clear(struct bd_batch *b);

/*
 * bd_event for a refusal: the refusal stands whether or not it could be
 * logged (bd_event already reports a failure on stderr).
 */
void bd_refusal(struct bulwarkd *d, const char *actor, const char *source,
    const char *target, const char *action, const char *decision,
    uint64_t session, json_t *detail);

/*
 * bd_refusal for refusals anyone on the network can repeat at will (an
 * unknown key offered to sshd): the first of a kind (actor, action,
 * reason) in a window is logged in full, the rest are counted and logged
 * as one entry when the window ends (gateway/coalesce.h). last (may be
 * NULL) goes into that entry as the latest detail.
 */
void bd_refusal_coalesced(struct bulwarkd *d, const char *actor,
    const char *action, const char *reason, const char *last,
    json_t *detail);
/*
 * The daemon's timers, for rpc_server_config.tick: logs the windows of
 * refusals that are over. Returns ms until it is due again, or -1. With
 * all, closes every window (at exit).
 */
int64_t bd_tick(struct bulwarkd *d, int all);

/* "bulwarkd: " + message on stderr (journald keeps it). */
void bd_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The caller's name for the audit log: "root" or "uid:N". */
void bd_peer_name(const struct rpc_conn *conn, char *buf, size_t len);

/* Puts a NUL-terminated copy of field tag (a checked WIRE_STR) in buf. */
int bd_str(const struct wire_msg *req, uint16_t tag, char *buf,
    size_t len) WUR;

/*
 * session.c: 1 when the recordings' or the audit log's filesystem has
 * less than d->disk_reserve free (logged at most once a minute).
 */
int bd_disk_low(struct bulwarkd *d);

/* Closes the sessions a previous run left open (it crashed or was
 * killed), storing their recordings; run before serving. */
int bd_sessions_recover(struct bulwarkd *d) WUR;

/*
 * login.c: ends the logins whose sshd is gone (run before serving, and
 * from LOGIN_OPEN).
 */
int bd_logins_sweep(struct bulwarkd *d);
/*
 * ERR_OK with *login_id when the caller is a shell that sshd started for
 * a live login of user (login.c says how that is known); ERR_DENIED with
 * *reason for the user and *why for the log (both static) when not.
 */
int bd_login_of_caller(struct bulwarkd *d, const struct rpc_conn *conn,
    const char *user, uint64_t *login_id, const char **reason,
    const char **why) WUR;

/* Finishes sessions whose shell vanished without SESSION_END. */
void bd_session_conn_free(void *data);

#endif
