/*
 * login.c - live gateway logins, and whether a caller is part of one.
 *
 * A certificate must come from a login that passed both factors, not
 * from any process that runs as a gateway user (a job left behind after
 * logout, cron, a process started outside sshd): that is what ties every
 * session to MFA (invariant I2).
 *
 * pam_bulwark's session step runs in sshd's monitor process, the root
 * process that lives exactly as long as the SSH connection, after the
 * auth and account steps passed. It sends LOGIN_OPEN, and bulwarkd
 * records that process by boot id, pid and start time, names that no
 * other process can ever have. sshd starts each of the login's shells
 * (one per channel, ControlMaster ones included) as a child of the
 * connection's unprivileged sshd process, itself the monitor's child. So
 * SESSION_OPEN is allowed only to a caller whose grandparent is a
 * recorded login of the same user, read from /proc; nothing the caller
 * sends goes into the decision.
 *
 * Why not a secret handed to the shell in its environment: a process of
 * the same user can read /proc/PID/environ of bulwark-shell between
 * execve and its prctl(PR_SET_DUMPABLE, 0), and that process is exactly
 * who this guards against. The process tree cannot be forged: a process
 * cannot choose its parent.
 *
 * A pid names the caller only while it lives. The caller's pid comes from
 * SO_PEERCRED when it connected. Where the kernel gives a pidfd of that
 * process (SO_PEERPIDFD, Linux 6.5), the process must still live after
 * /proc was read, so the pid read was its own. On older kernels, a
 * process that took the pid after the connection was accepted started
 * later, and its start time says so; one that took it between connect
 * and accept is not caught, which is why refusals here cost bulwarkd
 * next to nothing (coalesced, not each fsync'd) and so cannot be used to
 * hold its accept back. The three start times must also be in order:
 * grandparent, parent, caller. The caller must also be out of reach of
 * the user's other processes: not dumpable, not traced (proc_guarded).
 * The check runs again before a certificate is signed.
 *
 * A login ends with LOGIN_CLOSE (pam_close_session), or by itself when its
 * monitor is gone (sshd killed): such rows are swept at start, at each
 * LOGIN_OPEN and at each listing. A /proc that cannot be read for another
 * reason (descriptors exhausted) ends nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/proc.h"
#include "daemon/bulwarkd.h"
#include "gateway/proto.h"
#include "common/banned.h"

/* The user-facing reason; the audit log and bd_log say more. */
#define NO_LOGIN_REASON \
	"this process is not part of a gateway login: sessions are opened " \
	"by logging in to the gateway with ssh"

#define UNGUARDED_REASON \
	"this gateway's bulwark-shell can be traced by your other processes; " \
	"ask an administrator to run bulwark gateway setup, which installs " \
	"it root-owned and execute-only"

/*
 * The process at pid, if it is the one that connected: call again after
 * every other read of /proc, to know that what was read was its.
 */
static int
caller_info(const struct rpc_peer *peer, struct proc_info *pi)
{
	int r;

	if ((r = proc_info_get(peer->pid, pi)) != ERR_OK)
		return r;
	if (pi->start > proc_boot_ticks(peer->accepted_boot_ns))
		return ERR_NOTFOUND;	/* the pid was reused */
	if (rpc_peer_alive(peer) == 0)
		return ERR_NOTFOUND;	/* gone, whoever has its pid now */
	return ERR_OK;
}

/*
 * Whether login l's monitor process still runs: 1, 0, or -1 when /proc
 * could not say (the login is then left alone).
 */
static int
login_alive(const struct bulwarkd *d, const struct db_login *l)
{
	struct proc_info pi;
	int r;

	if (strcmp(l->boot, d->boot_id) != 0 || l->pid < 1 ||
	    l->pid > INT32_MAX)
		return 0;
	if ((r = proc_info_get((pid_t)l->pid, &pi)) == ERR_NOTFOUND)
		return 0;
	if (r != ERR_OK)
		return -1;
	return (int64_t)pi.start == l->pid_start;
}

/* Deletes login l and logs how it ended. */
static int
login_end(struct bulwarkd *d, const struct db_login *l, const char *how)
{
	int r;

	if ((r = db_login_del(d->db, l->id)) != ERR_OK && r != ERR_NOTFOUND) {
		bd_log("login %llu: cannot end it: %s",
		    (unsigned long long)l->id, db_errmsg(d->db));
		return r;
	}
	if (r == ERR_NOTFOUND)
		return ERR_OK;	/* ended already, and logged then */
	return bd_event(d, l->user, l->rhost[0] != '\0' ? l->rhost : NULL,
	    NULL, "login.close", NULL, 0, json_pack("{s:I,s:s}", "login",
	    (json_int_t)l->id, "how", how));
}

int
bd_logins_sweep(struct bulwarkd *d)
{
	struct db_login *all = NULL;
	size_t i, n = 0;
	int r;

	if ((r = db_login_list(d->db, &all, &n)) != ERR_OK) {
		bd_log("cannot list logins: %s", db_errmsg(d->db));
		return r;
	}
	for (i = 0; i < n && r == ERR_OK; i++) {
		if (login_alive(d, &all[i]) == 0)
			r = login_end(d, &all[i], "sshd gone");
	}
	db_login_array_free(all, n);
	return r;
}

int
bd_h_login_open(struct rpc_conn *conn, const struct wire_msg *req,
    struct wire_builder *resp)
{
	struct bulwarkd *d = rpc_conn_arg(conn);
	const struct rpc_peer *peer = rpc_conn_peer(conn);
	char user[PROTO_STR_MAX + 1], rhost[PROTO_STR_MAX + 1];
	struct proc_info pi;
	struct db_user u;
	uint64_t id = 0;
	int r;

	memset(&u, 0, sizeof(u));
	if (bd_str(req, P_USER, user, sizeof(user)) != ERR_OK)
		return ERR_FORMAT;
	if (bd_str(req, P_RHOST, rhost, sizeof(rhost)) != ERR_OK)
		rhost[0] = '\0';
	r = db_user_get(d->db, user, &u);
	if (r != ERR_OK || u.state != DB_USER_ACTIVE) {
		bd_refusal(d, user, rhost[0] != '\0' ? rhost : NULL, NULL,
		    "login.open", "deny", 0, json_pack("{s:s}", "reason",
		    r == ERR_OK ? "account disabled" : "unknown user"));
		db_user_release(&u);
		return r == ERR_OK || r == ERR_NOTFOUND ? ERR_DENIED : r;
	}
	db_user_release(&u);
	if ((r = caller_info(peer, &pi)) != ERR_OK)
		return r == ERR_NOTFOUND ? ERR_DENIED : r;
	(void)bd_logins_sweep(d);
	if ((r = db_login_add(d->db, user, d->boot_id, (int64_t)peer->pid,
	    (int64_t)pi.start, rhost, (int64_t)time(NULL), &id)) != ERR_OK) {
		bd_log("cannot record a login of %s: %s", user,
		    db_errmsg(d->db));
		return r;
	}
	/* Logged before it counts: an unlogged login opens nothing (I5). */
	if ((r = bd_event(d, user, rhost[0] != '\0' ? rhost : NULL, NULL,
	    "login.open", "allow", 0, json_pack("{s:I,s:I}", "login",
	    (json_int_t)id, "pid", (json_int_t)peer->pid))) != ERR_OK) {
		if (db_login_del(d->db, id) != ERR_OK)
			bd_log("login %llu: cannot undo it: %s",
			    (unsigned long long)id, db_errmsg(d->db));
		return r;
	}
	return wire_put_u64(resp, P_LOGIN_ID, id);
}

int
bd_h_login_close(struct rpc_conn *conn, const struct wire_msg *req,
    struct wire_builder *resp)
{
	struct bulwarkd *d = rpc_conn_arg(conn);
	struct db_login l;
	uint64_t id;
	int r;

	(void)resp;
	if (wire_get_u64(req, P_LOGIN_ID, &id) != ERR_OK)
		return ERR_FORMAT;
	if (id == 0)
		return ERR_NOTFOUND;
	if ((r = db_login_get(d->db, id, &l)) != ERR_OK)
		return r;
	r = login_end(d, &l, "logout");
	db_login_release(&l);
	return r;
}

int
bd_login_of_caller(struct bulwarkd *d, const struct rpc_conn *conn,
    const char *user, uint64_t *login_id, const char **reason,
    const char **why)
{
	const struct rpc_peer *peer = rpc_conn_peer(conn);
	struct proc_info self, parent, gp, again;
	struct db_login l;
	int r;

	*login_id = 0;
	*reason = NO_LOGIN_REASON;
	*why = "the caller is gone";
	if (caller_info(peer, &self) != ERR_OK)
		return ERR_DENIED;
	*why = "the caller's parent is gone";
	if (self.ppid <= 1 || proc_info_get(self.ppid, &parent) != ERR_OK)
		return ERR_DENIED;
	*why = "no live login started the caller";
	if (parent.ppid <= 1 || proc_info_get(parent.ppid, &gp) != ERR_OK)
		return ERR_DENIED;
	/*
	 * A parent starts before its child. And once the caller is known to
	 * be the same process with the same parent, the parent read was its
	 * parent (a process that exited would have left the caller to init).
	 */
	*why = "the process tree changed while it was read";
	if (gp.start > parent.start || parent.start > self.start ||
	    caller_info(peer, &again) != ERR_OK ||
	    again.ppid != self.ppid || again.start != self.start)
		return ERR_DENIED;
	*why = "no live login started the caller";
	r = db_login_find(d->db, d->boot_id, (int64_t)parent.ppid,
	    (int64_t)gp.start, &l);
	if (r == ERR_NOTFOUND)
		return ERR_DENIED;
	if (r != ERR_OK) {
		bd_log("cannot look up logins: %s", db_errmsg(d->db));
		return r;
	}
	*why = "the login is another user's";
	r = strcmp(l.user, user) == 0 ? ERR_OK : ERR_DENIED;
	/*
	 * A shell of the login, then; bulwark-shell is installed
	 * execute-only, so the kernel makes it non-dumpable at exec, and it
	 * says so again itself. One that another process of the user can
	 * trace, or that is being traced, may be driven by that process,
	 * and gets nothing.
	 */
	if (r == ERR_OK && (proc_guarded(peer->pid) != 1 ||
	    caller_info(peer, &again) != ERR_OK || again.start != self.start)) {
		*reason = UNGUARDED_REASON;
		*why = "the caller can be traced (dumpable, or a tracer "
		    "attached)";
		r = ERR_DENIED;
	}
	if (r == ERR_OK) {
		*login_id = l.id;
		*reason = NULL;
		*why = NULL;
	}
	db_login_release(&l);
	return r;
}
