/*
 * session.c - bulwark-shell's requests: the targets a user may reach, and
 * one session per connection: authorize, certify an ephemeral key, take
 * the recording, end.
 *
 * The user is the caller's uid (SO_PEERCRED), never a field: a shell
 * running as alice can only ever open alice's sessions. The connection's
 * state ties the certificate to the session the same connection opened,
 * and a shell that vanishes without SESSION_END still gets its session
 * closed and its recording kept (bd_session_conn_free).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "audit/blob.h"
#include "auth/sshcert.h"
#include "common/fsutil.h"
#include "common/sha256.h"
#include "daemon/bulwarkd.h"
#include "gateway/proto.h"
#include "policy/policy.h"
#include "common/banned.h"

/* Room for the marker event the shell adds when it hits the cap. */
#define REC_SLACK 4096

struct sess {
	struct bulwarkd *d;
	uint64_t id;
	uint64_t login_id;	/* the gateway login it belongs to */
	char user[PROTO_STR_MAX + 1];
	char target[PROTO_STR_MAX + 1];
	char login[PROTO_STR_MAX + 1];
	char rhost[PROTO_STR_MAX + 1];
	int pty;
	int rec_fd;		/* -1 when nothing is recorded */
	uint64_t rec_bytes;
	/*
	 * Of the bytes written so far, so that the recording becomes its
	 * blob by a link, not a copy inside the daemon's loop; rec_hashed is
	 * 0 after a failed write, whose bytes the hash may not match.
	 */
	struct sha256_ctx rec_hash;
	int rec_hashed;
	uint64_t rec_cap;	/* of this session: with a terminal or not */
	int ended;
	int capped;		/* session.recording capped is logged */
	const char *end_reason;	/* the gateway's, for session.end */
	struct rpc_conn *conn;	/* the shell's, once the session is open */
	struct sess *next;	/* in d->sessions */
	/*
	 * session.start, logged with cert.issue in one durable write: the
	 * decision takes effect only when a certificate exists. A session
	 * that ends without one logs it with session.end.
	 */
	struct bd_batch pending;
};

static void
rec_path(const struct sess *s, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%llu.cast", s->d->rec_dir,
	    (unsigned long long)s->id);
}

/* The gateway user calling: by uid, or (root only) the one named. */
static int
caller_user(struct rpc_conn *conn, const struct wire_msg *req,
    struct db_user *u)
{
	struct bulwarkd *d = rpc_conn_arg(conn);
	char name[PROTO_STR_MAX + 1];

	if (rpc_conn_peer(conn)->uid == 0 &&
	    bd_str(req, P_USER, name, sizeof(name)) == ERR_OK)
		return db_user_get(d->db, name, u);
	return db_user_get_by_uid(d->db, rpc_conn_peer(conn)->uid, u);
}

int
bd_h_targets(struct rpc_conn *conn, const struct wire_msg *req,
    struct wire_builder *resp)
{
	struct bulwarkd *d = rpc_conn_arg(conn);
	struct db_user u;
	char *text = NULL;
	int r;

	memset(&u, 0, sizeof(u));
	if ((r = caller_user(conn, req, &u)) != ERR_OK)
		return r == ERR_NOTFOUND ? ERR_DENIED : r;
	if ((r = policy_targets(d->db, &u, &text)) == ERR_OK)
		r = wire_put_str(resp, P_TEXT, text);
	free(text);
	db_user_release(&u);
	return r;
}

static int
answer_deny(struct bulwarkd *d, struct sess *s, const char *reason,
    const char *kind, struct wire_builder *resp)
{
	char tgt[2 * PROTO_STR_MAX + 2];

	snprintf(tgt, sizeof(tgt), "%s@%s", s->login, s->target);
	if (bd_event(d, s->user, s->rhost, tgt, "session.authorize", "deny", 0,
	    json_pack("{s:s,s:s}", "kind", kind, "reason", reason)) != ERR_OK)
		return ERR_IO;
	if (wire_put_str(resp, P_DECISION, "deny") != ERR_OK ||
	    wire_put_str(resp, P_REASON, reason) != ERR_OK)
		return ERR_NOMEM;
	return ERR_OK;
}

/* Free bytes for an unprivileged writer on path's filesystem. */
static int
disk_free(const char *path, uint64_t *avail)
{
	struct statvfs vfs;

	if (statvfs(path, &vfs) != 0)
		return ERR_IO;
	*avail = (uint64_t)vfs.f_bavail * (uint64_t)vfs.f_frsize;
	return ERR_OK;
}

int
bd_disk_low(struct bulwarkd *d)
{
	static time_t logged;
	const char *dirs[2] = { d->rec_dir, d->log_dir };
	uint64_t avail;
	size_t i;

	if (d->disk_reserve == 0)
		return 0;
	for (i = 0; i < 2; i++) {
		if (disk_free(dirs[i], &avail) != ERR_OK || avail >=
		    d->disk_reserve)
			continue;
		if (time(NULL) - logged >= 60) {
			logged = time(NULL);
			bd_log("%s has %llu MiB free, under the reserve of %llu "
			    "MiB (--disk-reserve): no recorded session opens "
			    "until space is freed", dirs[i],
			    (unsigned long long)(avail >> 20),
			    (unsigned long long)(d->disk_reserve >> 20));
		}
		return 1;
	}
	return 0;
}

/*
 * A refusal any local account can repeat at will (the socket is open to
 * all): coalesced, so that a flood of them neither grows the log nor
 * holds bulwarkd in fsyncs while it should accept others.
 */
static int
answer_deny_local(struct bulwarkd *d, struct sess *s, const char *reason,
    const char *kind, struct wire_builder *resp)
{
	bd_refusal_coalesced(d, s->user, "session.authorize", reason, kind,
	    json_pack("{s:s,s:s}", "kind", kind, "reason", reason));
	if (wire_put_str(resp, P_DECISION, "deny") != ERR_OK ||
	    wire_put_str(resp, P_REASON, reason) != ERR_OK)
		return ERR_NOMEM;
	return ERR_OK;
}

static int
start_recording(struct sess *s)
{
	char path[4096];

	rec_path(s, path, sizeof(path));
	s->rec_fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
	    O_NOFOLLOW, 0600);
	if (s->rec_fd < 0) {
		bd_log("cannot create recording %s: %s", path, strerror(errno));
		return ERR_IO;
	}
	sha256_init(&s->rec_hash);
	s->rec_hashed = 1;
	return ERR_OK;
}

static int
answer_allow(struct sess *s,
    const struct policy_decision *pd, const struct db_hostkey *hk,
    struct wire_builder *resp)
{
	int r = ERR_OK;

	r |= wire_put_str(resp, P_DECISION, "allow");
	r |= wire_put_str(resp, P_REASON, pd->reason);
	r |= wire_put_u64(resp, P_SESSION, s->id);
	r |= wire_put_str(resp, P_HOST, pd->target.host);
	r |= wire_put_u32(resp, P_PORT, pd->target.port);
	r |= wire_put_str(resp, P_HOSTKEY, hk->key_line);
	r |= wire_put_u32(resp, P_COUNT, s->rec_cap > UINT32_MAX ?
	    UINT32_MAX : (uint32_t)s->rec_cap);
	return r == ERR_OK ? ERR_OK : ERR_NOMEM;
}

int
bd_h_session_open(struct rpc_conn *conn, const struct wire_msg *req,
    struct wire_builder *resp)
{
	struct bulwarkd *d = rpc_conn_arg(conn);
	char kind[PROTO_STR_MAX + 1], tgt[2 * PROTO_STR_MAX + 2];
	const char *cmd = NULL, *reason, *why;
	size_t cmdlen = 0;
	struct policy_decision pd;
	struct db_hostkey hk;
	struct db_user u;
	struct sess *s = calloc(1, sizeof(*s));
	uint8_t pty = 0;
	int r;

	memset(&u, 0, sizeof(u));
	memset(&pd, 0, sizeof(pd));
	memset(&hk, 0, sizeof(hk));
	if (s == NULL)
		return ERR_NOMEM;
	s->d = d;
	s->rec_fd = -1;
	if (bd_str(req, P_TARGET, s->target, sizeof(s->target)) != ERR_OK ||
	    bd_str(req, P_LOGIN, s->login, sizeof(s->login)) != ERR_OK ||
	    bd_str(req, P_KIND, kind, sizeof(kind)) != ERR_OK) {
		free(s);
		return ERR_FORMAT;
	}
	if (bd_str(req, P_RHOST, s->rhost, sizeof(s->rhost)) != ERR_OK)
		s->rhost[0] = '\0';
	if (wire_get_u8(req, P_PTY, &pty) != ERR_OK)
		pty = 0;
	if (wire_get_str(req, P_COMMAND, &cmd, &cmdlen) != ERR_OK)
		cmd = NULL;
	s->pty = pty != 0;
	s->rec_cap = s->pty ? d->rec_cap : d->rec_cap_notty;
	r = db_user_get_by_uid(d->db, rpc_conn_peer(conn)->uid, &u);
	if (r == ERR_NOTFOUND) {
		snprintf(s->user, sizeof(s->user), "uid:%u",
		    (unsigned)rpc_conn_peer(conn)->uid);
		r = answer_deny_local(d, s, "this account is not a Bulwark user",
		    kind, resp);
		goto out;
	}
	if (r != ERR_OK)
		goto out;
	snprintf(s->user, sizeof(s->user), "%s", u.name);
	if ((r = bd_login_of_caller(d, conn, u.name, &s->login_id, &reason,
	    &why)) != ERR_OK) {
		if (r != ERR_DENIED)
			goto out;
		bd_log("uid %u pid %ld: no session: %s",
		    (unsigned)rpc_conn_peer(conn)->uid,
		    (long)rpc_conn_peer(conn)->pid, why);
		r = answer_deny_local(d, s, reason, kind, resp);
		goto out;
	}
	if (proto_kind_recorded(kind) && bd_disk_low(d)) {
		r = answer_deny(d, s, "the gateway is short of disk space for "
		    "recordings; ask an administrator", kind, resp);
		goto out;
	}
	if ((r = policy_session(d->db, &u, s->target, s->login, kind, &pd)) !=
	    ERR_OK)
		goto out;
	if (pd.verdict != POLICY_ALLOW) {
		r = answer_deny(d, s, pd.reason, kind, resp);
		goto out;
	}
	if ((r = db_hostkey_get(d->db, s->target, &hk)) == ERR_NOTFOUND) {
		r = answer_deny(d, s, "the target has no pinned host key; ask "
		    "an administrator to run 'bulwark target rekey'", kind, resp);
		goto out;
	}
	if (r != ERR_OK ||
	    (r = db_session_start(d->db, s->user, s->target, s->login, kind,
	    (int64_t)time(NULL), &s->id)) != ERR_OK)
		goto out;
	snprintf(tgt, sizeof(tgt), "%s@%s", s->login, s->target);
	if (bd_batch_add(&s->pending, s->user, s->rhost, tgt, "session.start",
	    "allow", s->id, json_pack("{s:s,s:s%,s:b,s:b,s:s,s:I}", "kind",
	    kind, "command", cmd != NULL ? cmd : "", cmd != NULL ? cmdlen : 0,
	    "pty", s->pty, "recorded", proto_kind_recorded(kind), "reason",
	    pd.reason, "login", (json_int_t)s->login_id)) != ERR_OK) {
		s->ended = 1;
		if (db_session_end(d->db, s->id, (int64_t)time(NULL), -1, 0,
		    0, NULL) != ERR_OK)
			bd_log("session %llu: cannot end it: %s",
			    (unsigned long long)s->id, db_errmsg(d->db));
		r = ERR_IO;
		goto out;
	}
	/*
	 * Every session that can run a typed command is recorded, with a
	 * terminal or without: `ssh -T gw root@web1` is a shell too.
	 */
	if (proto_kind_recorded(kind) && (r = start_recording(s)) != ERR_OK)
		goto out;
	if ((r = answer_allow(s, &pd, &hk, resp)) != ERR_OK ||
	    (r = rpc_conn_set_state(conn, PROTO_ST_OPENED)) != ERR_OK)
		goto out;
	rpc_conn_set_data(conn, s, bd_session_conn_free);
	s->conn = conn;
	s->next = d->sessions;
	d->sessions = s;
	s = NULL;
out:
	if (s != NULL && s->id != 0)
		bd_session_conn_free(s);	/* ends what was started */
	else
		free(s);
	db_user_release(&u);
	db_target_release(&pd.target);
	db_hostkey_release(&hk);
	return r;
}

int
bd_h_session_cert(struct rpc_conn *conn, const struct wire_msg *req,
    struct wire_builder *resp)
{
	struct bulwarkd *d = rpc_conn_arg(conn);
	struct sess *s = rpc_conn_data(conn);
	struct sshcert_request cr;
	struct sshkey_pub pub;
	const char *line, *principals[1];
	char keyid[2 * PROTO_STR_MAX + 24], fp[SSHKEY_FP_MAX];
	char tgt[2 * PROTO_STR_MAX + 2], *cert = NULL;
	const char *reason, *why;
	size_t len;
	uint64_t now = (uint64_t)time(NULL), lid;
	int r;

	if (s == NULL)
		return ERR_INTERNAL;
	/* Again, right before signing: still the shell of the same login. */
	if ((r = bd_login_of_caller(d, conn, s->user, &lid, &reason, &why)) !=
	    ERR_OK || lid != s->login_id) {
		bd_log("uid %u pid %ld: no certificate for session %llu: %s",
		    (unsigned)rpc_conn_peer(conn)->uid,
		    (long)rpc_conn_peer(conn)->pid, (unsigned long long)s->id,
		    why != NULL ? why : "another login");
		return r == ERR_OK ? ERR_DENIED : r;
	}
	if (wire_get_str(req, P_KEY, &line, &len) != ERR_OK ||
	    sshkey_pub_parse(line, len, &pub, NULL) != ERR_OK)
		return ERR_FORMAT;
	snprintf(keyid, sizeof(keyid), "%s/%llu", s->user,
	    (unsigned long long)s->id);
	principals[0] = s->login;
	memset(&cr, 0, sizeof(cr));
	cr.subject = &pub;
	cr.serial = s->id;
	cr.key_id = keyid;
	cr.principals = principals;
	cr.nprincipals = 1;
	cr.valid_after = now;
	cr.valid_before = now + d->cert_validity;
	cr.source_address = d->source_address;
	cr.permit_pty = s->pty;
	if ((r = sshcert_issue(d->ca, &cr, &cert)) != ERR_OK)
		return r;
	sshkey_fingerprint(&pub, fp);
	snprintf(tgt, sizeof(tgt), "%s@%s", s->login, s->target);
	if (bd_batch_add(&s->pending, s->user, s->rhost, tgt, "cert.issue",
	    "allow", s->id, json_pack("{s:s,s:s,s:I,s:I,s:s,s:b}", "key_id",
	    keyid, "fingerprint", fp, "valid_after",
	    (json_int_t)cr.valid_after, "valid_before",
	    (json_int_t)cr.valid_before, "source_address", d->source_address,
	    "permit_pty", s->pty)) != ERR_OK ||
	    bd_batch_commit(d, &s->pending) != ERR_OK) {
		free(cert);
		return ERR_IO;
	}
	cert[strcspn(cert, "\n")] = '\0';
	r = wire_put_str(resp, P_CERT, cert);
	free(cert);
	if (r == ERR_OK)
		r = rpc_conn_set_state(conn, PROTO_ST_CERTIFIED);
	return r;
}

/*
 * The recording reached its cap: the session goes on, unrecorded, as the
 * shell's marker says. Logged now, and on the alert feed (decision
 * "capped"), because a session padded past its cap on purpose is where
 * someone would do what they want unseen: an administrator can watch or
 * end it while it runs.
 */
static void
recording_capped(struct sess *s)
{
	char tgt[2 * PROTO_STR_MAX + 2];

	s->capped = 1;
	snprintf(tgt, sizeof(tgt), "%s@%s", s->login, s->target);
	bd_refusal(s->d, s->user, s->rhost, tgt, "session.recording",
	    "capped", s->id, json_pack("{s:s,s:I}", "reason", "the recording "
	    "reached its cap; the session goes on unrecorded", "cap",
	    (json_int_t)s->rec_cap));
}

int
bd_h_session_data(struct rpc_conn *conn, const struct wire_msg *req,
    struct wire_builder *resp)
{
	struct sess *s = rpc_conn_data(conn);
	const uint8_t *p;
	uint8_t stopped;
	size_t n;

	(void)resp;
	if (s == NULL || s->rec_fd < 0)
		return ERR_CONFLICT;	/* sftp sessions are not recorded */
	if (wire_get_bytes(req, P_DATA, &p, &n) != ERR_OK)
		return ERR_FORMAT;
	if (s->rec_bytes + n > s->rec_cap + REC_SLACK)
		return ERR_TOOBIG;
	/* The shell ends a session whose recording is refused. */
	s->d->disk_unchecked += n;
	if (s->d->disk_unchecked >= BD_DISK_CHECK_BYTES) {
		if (bd_disk_low(s->d)) {
			s->end_reason = "disk reserve reached";
			return ERR_IO;
		}
		s->d->disk_unchecked = 0;
	}
	if (fs_write_all(s->rec_fd, p, n) != ERR_OK) {
		bd_log("session %llu: cannot write its recording: %s",
		    (unsigned long long)s->id, strerror(errno));
		s->rec_hashed = 0;
		return ERR_IO;
	}
	if (s->rec_hashed)
		sha256_update(&s->rec_hash, p, n);
	s->rec_bytes += n;
	if (wire_get_u8(req, P_STOPPED, &stopped) == ERR_OK && stopped &&
	    !s->capped)
		recording_capped(s);
	return ERR_OK;
}

/*
 * Stores the recording as a blob of the audit log (content-addressed, so
 * its hash in the session.end event pins it) and removes the draft.
 */
static int
finish_recording(struct sess *s, char hex[BLOB_HEX_LEN + 1])
{
	char path[4096];
	int r;

	hex[0] = '\0';
	if (s->rec_fd < 0)
		return ERR_OK;
	rec_path(s, path, sizeof(path));
	if (s->rec_hashed) {
		uint8_t h[SHA256_LEN];

		sha256_final(&s->rec_hash, h);
		s->rec_hashed = 0;
		r = audit_blob_adopt(s->d->log_dir, s->rec_fd, h, hex);
		sodium_memzero(h, sizeof(h));
		if (r == ERR_OK) {
			close(s->rec_fd);
			s->rec_fd = -1;
			unlink(path);
			return ERR_OK;
		}
		/* Another filesystem, or trouble: the copy below. */
	}
	close(s->rec_fd);
	s->rec_fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (s->rec_fd < 0)
		return ERR_IO;
	r = audit_blob_put_fd(s->d->log_dir, s->rec_fd, hex);
	close(s->rec_fd);
	s->rec_fd = -1;
	if (r == ERR_OK)
		unlink(path);
	else
		bd_log("session %llu: recording kept in %s (%s)",
		    (unsigned long long)s->id, path, err_str(r));
	return r;
}

/*
 * Another process reached the session's key agent on the gateway and was
 * refused (src/shell/agent.c): the user's account runs something that
 * went for the key.
 */
static void
agent_refusals(struct sess *s, const char *tgt, uint32_t count, uint32_t pid)
{
	bd_refusal(s->d, s->user, s->rhost, tgt, "session.key", "deny", s->id,
	    json_pack("{s:s,s:I,s:I}", "reason", "another process asked the "
	    "session's key agent for the key", "attempts", (json_int_t)count,
	    "pid", (json_int_t)pid));
}

static int
finish(struct sess *s, int exit_status, uint64_t in, uint64_t out,
    const char *reason)
{
	struct bulwarkd *d = s->d;
	char hex[BLOB_HEX_LEN + 1], tgt[2 * PROTO_STR_MAX + 2];
	json_t *detail;
	int r;

	s->ended = 1;
	if (s->end_reason != NULL)
		reason = s->end_reason;
	(void)finish_recording(s, hex);
	r = db_session_end(d->db, s->id, (int64_t)time(NULL), exit_status, in,
	    out, hex[0] != '\0' ? hex : NULL);
	if (r != ERR_OK)
		bd_log("session %llu: cannot record its end: %s",
		    (unsigned long long)s->id, err_str(r));
	snprintf(tgt, sizeof(tgt), "%s@%s", s->login, s->target);
	if (reason != NULL && strcmp(reason, "hostkey-mismatch") == 0)
		bd_refusal(d, s->user, s->rhost, tgt, "session.hostkey",
		    "deny", s->id, json_pack("{s:s}", "reason", "the target's "
		    "host key is not the one pinned at enrolment"));
	/* The shell stopped what another process of the user redirected
	 * (src/shell/agent.c, src/shell/dial.c). */
	if (reason != NULL && strcmp(reason, "not-authenticated-by-agent") == 0)
		bd_refusal(d, s->user, s->rhost, tgt, "session.key", "deny",
		    s->id, json_pack("{s:s}", "reason", "ssh logged in without "
		    "the session's key agent, so not to the enrolled target; "
		    "the shell stopped it"));
	if (reason != NULL && strcmp(reason, "handover-refused") == 0)
		bd_refusal(d, s->user, s->rhost, tgt, "session.handover",
		    "deny", s->id, json_pack("{s:s}", "reason", "the connection "
		    "to the target did not reach ssh's own dialer; the shell "
		    "ended the session"));
	detail = json_pack("{s:i,s:I,s:I}", "exit", exit_status,
	    "bytes_in", (json_int_t)in, "bytes_out", (json_int_t)out);
	if (detail != NULL && hex[0] != '\0')
		json_object_set_new(detail, "recording",
		    json_string(hex));
	if (detail != NULL && reason != NULL && reason[0] != '\0')
		json_object_set_new(detail, "reason", json_string(reason));
	/* With session.start when no certificate was ever issued. */
	if ((r = bd_batch_add(&s->pending, s->user, s->rhost, tgt,
	    "session.end", NULL, s->id, detail)) != ERR_OK) {
		bd_batch_clear(&s->pending);
		return r;
	}
	return bd_batch_commit(d, &s->pending);
}

int
bd_h_session_end(struct rpc_conn *conn, const struct wire_msg *req,
    struct wire_builder *resp)
{
	struct sess *s = rpc_conn_data(conn);
	char reason[PROTO_STR_MAX + 1];
	uint32_t status, refused = 0, pid = 0;
	uint64_t in, out;
	int r;

	(void)resp;
	if (s == NULL)
		return ERR_INTERNAL;
	if (wire_get_u32(req, P_EXIT, &status) != ERR_OK ||
	    wire_get_u64(req, P_BYTES_IN, &in) != ERR_OK ||
	    wire_get_u64(req, P_BYTES_OUT, &out) != ERR_OK)
		return ERR_FORMAT;
	if (bd_str(req, P_REASON, reason, sizeof(reason)) != ERR_OK)
		reason[0] = '\0';
	/* SQLite and the audit log take signed 64-bit counts. */
	if (in > INT64_MAX || out > INT64_MAX)
		return ERR_RANGE;
	if (wire_get_u32(req, P_COUNT, &refused) == ERR_OK && refused > 0) {
		char tgt[2 * PROTO_STR_MAX + 2];

		if (wire_get_u32(req, P_PROCESS, &pid) != ERR_OK)
			pid = 0;
		snprintf(tgt, sizeof(tgt), "%s@%s", s->login, s->target);
		agent_refusals(s, tgt, refused, pid);
	}
	r = finish(s, status > 255 ? 255 : (int)status, in, out, reason);
	if (rpc_conn_set_state(conn, PROTO_ST_ENDED) != ERR_OK)
		return ERR_INTERNAL;
	return r;
}

void
bd_session_conn_free(void *data)
{
	struct sess *s = data, **pp;

	if (s == NULL)
		return;
	for (pp = &s->d->sessions; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	}
	if (!s->ended)
		(void)finish(s, -1, 0, 0, "the shell went away without "
		    "ending the session");
	if (s->rec_fd >= 0)
		close(s->rec_fd);
	bd_batch_clear(&s->pending);
	free(s);
}

/*
 * An administrator ends a live session: audited first (an unlogged
 * decision takes no effect), then the shell's connection is shut down.
 * The shell watches it (src/shell/relay.c) and stops ssh at once, idle
 * or not; the session ends with what was recorded, its reason saying who
 * ended it.
 */
int
bd_h_session_kill(struct rpc_conn *conn, const struct wire_msg *req,
    struct wire_builder *resp)
{
	struct bulwarkd *d = rpc_conn_arg(conn);
	char who[32], tgt[2 * PROTO_STR_MAX + 2];
	struct sess *s;
	uint64_t id;
	int r;

	(void)resp;
	if (wire_get_u64(req, P_SESSION, &id) != ERR_OK)
		return ERR_FORMAT;
	for (s = d->sessions; s != NULL && s->id != id; s = s->next)
		;
	if (s == NULL || s->ended)
		return ERR_NOTFOUND;
	bd_peer_name(conn, who, sizeof(who));
	snprintf(tgt, sizeof(tgt), "%s@%s", s->login, s->target);
	if ((r = bd_event(d, who, "cli", tgt, "session.kill", "allow", s->id,
	    json_pack("{s:s}", "user", s->user))) != ERR_OK)
		return r;
	s->end_reason = "ended by an administrator";
	rpc_conn_shutdown(s->conn);
	return ERR_OK;
}

int
bd_h_ca_key(struct rpc_conn *conn, const struct wire_msg *req,
    struct wire_builder *resp)
{
	struct bulwarkd *d = rpc_conn_arg(conn);

	(void)req;
	if (wire_put_str(resp, P_KEY, d->ca_pub) != ERR_OK ||
	    wire_put_str(resp, P_HOST, d->source_address) != ERR_OK)
		return ERR_NOMEM;
	return ERR_OK;
}

/*
 * Sessions still open in the store when bulwarkd starts were cut by its
 * own crash or kill: their shells lost the connection and have ended. Each
 * is closed now, its recording so far stored and hashed like any other, so
 * that what was acknowledged of it is kept and the log says what happened.
 */
int
bd_sessions_recover(struct bulwarkd *d)
{
	struct db_session *all = NULL;
	struct sess s;
	char path[4096];
	size_t n = 0, i;
	int r, failed = 0;

	if ((r = db_session_list(d->db, NULL, 0, &all, &n)) != ERR_OK)
		return r;
	for (i = 0; i < n; i++) {
		if (all[i].ended != 0)
			continue;
		memset(&s, 0, sizeof(s));
		s.d = d;
		s.id = all[i].id;
		snprintf(s.user, sizeof(s.user), "%s", all[i].user);
		snprintf(s.target, sizeof(s.target), "%s", all[i].target);
		snprintf(s.login, sizeof(s.login), "%s", all[i].login);
		rec_path(&s, path, sizeof(path));
		s.rec_fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC |
		    O_NOFOLLOW);
		bd_log("session %llu of %s was open when bulwarkd stopped; "
		    "closing it%s", (unsigned long long)s.id, s.user,
		    s.rec_fd >= 0 ? " and storing its recording" : "");
		if (finish(&s, -1, 0, 0, "bulwarkd restarted during the "
		    "session") != ERR_OK)
			failed = 1;
		if (s.rec_fd >= 0)
			close(s.rec_fd);
	}
	db_session_array_free(all, n);
	return failed ? ERR_IO : ERR_OK;
}
