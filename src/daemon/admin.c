/*
 * admin.c - the admin CLI's requests (root only): users and their keys
 * and second factors, targets and their pinned host keys, grants, and the
 * session history. Each change is an audit event naming the admin; an
 * audit failure is reported as the request's failure (the change itself
 * is committed by then, and the log gap is in bulwarkd's own log).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "auth/otpauth.h"
#include "auth/totp.h"
#include "daemon/bulwarkd.h"
#include "gateway/proto.h"
#include "common/banned.h"

#define S(var) char var[PROTO_STR_MAX + 1]

/* A growing text answer. */
struct text {
	char *buf;
	size_t len, cap;
};

static int
text_add(struct text *t, const char *line)
{
	size_t n = strlen(line);
	char *p;

	if (t->len + n + 1 > t->cap) {
		size_t cap = (t->cap + n + 1) * 2;

		if ((p = realloc(t->buf, cap)) == NULL)
			return ERR_NOMEM;
		t->buf = p;
		t->cap = cap;
	}
	memcpy(t->buf + t->len, line, n + 1);
	t->len += n;
	return ERR_OK;
}

/* Answers with the text when r is ERR_OK, else fails with r; frees it. */
static int
text_answer(struct text *t, int r, struct wire_builder *resp)
{
	if (r == ERR_OK)
		r = wire_put_str(resp, P_TEXT, t->buf != NULL ? t->buf : "");
	free(t->buf);
	t->buf = NULL;
	return r;
}

/* Logs the admin's change; its status is the request's. */
static int
admin_event(struct rpc_conn *conn, const char *target, const char *action,
    json_t *detail)
{
	char who[32];

	bd_peer_name(conn, who, sizeof(who));
	return bd_event(rpc_conn_arg(conn), who, "cli", target, action, "allow",
	    0, detail);
}

/* Unix-style user names only: they become accounts and key ids. */
static int
user_name_valid(const char *s)
{
	size_t i;

	if (!((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
		return 0;
	for (i = 1; s[i] != '\0'; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' &&
		    s[i] <= '9') || s[i] == '_' || s[i] == '-'))
			return 0;
	return i <= 32;
}

/* Target, group, role and login names: no spaces, tabs, '@' or ','. */
static int
name_valid(const char *s)
{
	size_t i;

	if (s[0] == '\0' || s[0] == '-')
		return 0;
	for (i = 0; s[i] != '\0'; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' &&
		    s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '_' || s[i] == '-' || s[i] == '.'))
			return 0;
	return 1;
}

static int
add_key(struct bulwarkd *d, const char *user, const char *line, char *fp)
{
	char type[SSHKEY_TYPE_MAX];
	size_t canon;
	int r;

	r = sshkey_line_any(line, strlen(line), type, fp, &canon);
	if (r != ERR_OK)
		return r;
	return db_key_add(d->db, user, line, fp);
}

int
bd_h_user_add(struct rpc_conn *conn, const struct wire_msg *req,
    struct wire_builder *resp)
{
	struct bulwarkd *d = rpc_conn_arg(conn);
	char key[PROTO_LINE_MAX + 1], fp[SSHKEY_FP_MAX] = "";
	S(user); S(role);
	uint32_t uid;
	int r;

	(void)resp;
	if (bd_str(req, P_USER, user, sizeof(user)) != ERR_OK ||
	    bd_str(req, P_ROLE, role, sizeof(role)) != ERR_OK ||
	    wire_get_u32(req, P_UID, &uid) != ERR_OK ||
	    !user_name_valid(user) || !name_valid(role) || uid == 0)
		return ERR_INVAL;
	if (bd_str(req, P_KEY, key, sizeof(key)) != ERR_OK)
		key[0] = '\0';
	if ((r = db_user_add(d->db, user, uid, role)) != ERR_OK)
		return r;
	if (key[0] != '\0' && (r = add_key(d, user, key, fp)) != ERR_OK) {
		if (db_user_del(d->db, user) != ERR_OK)
			bd_log("user %s added without its key: %s", user,
			    db_errmsg(d->db));
		return r;
	}
	return admin_event(conn, user, "user.add", json_pack("{s:i,s:s,s:s}",
	    "uid", (int)uid, "role", role, "fingerprint", fp));
}

int
bd_h_user_key_add(struct rpc_conn *conn, const struct wire_msg *req,
    struct wire_builder *resp)
{
	struct bulwarkd *d = rpc_conn_arg(conn);
	char key[PROTO_LINE_MAX + 1], fp[SSHKEY_FP_MAX];
	S(user);
	struct db_user u;
	int r;

	(void)resp;
	if (bd_str(req, P_USER, user, sizeof(user)) != ERR_OK ||
	    bd_str(req, P_KEY, key, sizeof(key)) != ERR_OK)
		return ERR_FORMAT;
	if ((r = db_user_get(d->db, user, &u)) != ERR_OK)
		return r;
	db_user_release(&u);
	if ((r = add_key(d, user, key, fp)) != ERR_OK)
		return r;
	return admin_event(conn, user, "user.key.add",
	    json_pack("{s:s}", "fingerprint", fp));
}

/* s[0..n) with tabs, line ends and other controls as '?', for TEXT. */
static void
text_safe(char *dst, size_t len, const char *s, size_t n)
{
	size_t i;

	if (len == 0)
		return;
	for (i = 0; i < n && i + 1 < len; i++)
		dst[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' :
		    s[i];
	dst[i] = '\0';
}

/* One line of USER_KEYS: the type and comment come from the key line. */
static int
key_text_line(const struct db_key *k, struct text *t)
{
	const char *line = k->key_line, *sp1, *sp2;
	char type[SSHKEY_TYPE_MAX], comment[256], out[1024];

	sp1 = strchr(line, ' ');
	sp2 = sp1 != NULL ? strchr(sp1 + 1, ' ') : NULL;
	text_safe(type, sizeof(type), line,
	    sp1 != NULL ? (size_t)(sp1 - line) : strlen(line));
	if (sp2 != NULL)
		text_safe(comment, sizeof(comment), sp2 + 1, strlen(sp2 + 1));
	else
		comment[0] = '\0';
	snprintf(out, sizeof(out), "%s\t%s\t%lld\t%s\n", k->fingerprint, type,
	    (long long)k->added, comment);
	return text_add(t, out);
}

int
bd_h_user_keys(struct rpc_conn *conn, const struct wire_msg *req,
    struct wire_builder *resp)
{
	struct bulwarkd *d = rpc_conn_arg(conn);
	struct text t = { NULL, 0, 0 };
	struct db_key *k = NULL;
	size_t nk = 0;
	S(user);
	int r;

	if (bd_str(req, P_USER, user, sizeof(user)) != ERR_OK)
		return ERR_FORMAT;
	if ((r = db_key_list(d->db, user, &k, &nk)) != ERR_OK)
		return r;
	r = text_add(&t, "");
	for (size_t i = 0; i < nk && r == ERR_OK; i++)
		r = key_text_line(&k[i], &t);
	db_key_array_free(k, nk);
	return text_answer(&t, r, resp);
}

/*
 * Deletes one key of a user. A fingerprint of another user's key is
 * ERR_NOTFOUND, as if it did not exist: the admin named the wrong user,
 * and deleting it anyway would lock out the wrong person.
 */
int
bd_h_user_key_del(struct rpc_conn *conn, const struct wire_msg *req,
    struct wire_builder *resp)
{
	struct bulwarkd *d = rpc_conn_arg(conn);
	struct db_key k;
	S(user);
	S(fp);
	int r, mine;

	(void)resp;
	if (bd_str(req, P_USER, user, sizeof(user)) != ERR_OK ||
	    bd_str(req, P_FP, fp, sizeof(fp)) != ERR_OK)
		return ERR_FORMAT;
	if ((r = db_key_find_by_fingerprint(d->db, fp, &k)) != ERR_OK)
		return r;
	mine = strcmp(k.user, user) == 0;
	db_key_release(&k);
	if (!mine)
		return ERR_NOTFOUND;
	if ((r = db_key_del(d->db, fp)) != ERR_OK)
		return r;
	return admin_event(conn, user, "user.key.del",
	    json_pack("{s:s}", "fingerprint", fp));
}

static const char *
state_name(int state)
{
	return state == DB_USER_ACTIVE ? "active" :
	    state == DB_USER_DISABLED ? "disabled" : "frozen";
}

/* "totp", "fido2", "totp+fido2" or "none", and ",locked" while locked. */
static void
mfa_summary(struct bulwarkd *d, const char *user, const struct db_key *k,
    size_t nk, char *buf, size_t len)
{
	struct db_totp_state st;
	uint8_t *seed = sodium_malloc(DB_TOTP_SEED_MAX);
	int totp = 0, sk = 0;
	size_t i, slen;

	memset(&st, 0, sizeof(st));
	if (seed != NULL && db_totp_get_secret(d->db, user, seed,
	    DB_TOTP_SEED_MAX, &slen, &st) == ERR_OK)
		totp = 1;
	sodium_free(seed);
	for (i = 0; i < nk; i++)
		if (strncmp(k[i].key_line, "sk-", 3) == 0)
			sk = 1;
	snprintf(buf, len, "%s%s", totp && sk ? "totp+fido2" : totp ? "totp" :
	    sk ? "fido2" : "none",
	    totp && st.locked_until > (int64_t)time(NULL) ? ",locked" : "");
}

static int
user_line(struct bulwarkd *d, const struct db_user *u, struct text *t)
{
	struct db_key *k = NULL;
	size_t nk = 0;
	char line[1024], mfa[32];
	int r;

	if ((r = db_key_list(d->db, u->name, &k, &nk)) != ERR_OK)
		return r;
	mfa_summary(d, u->name, k, nk, mfa, sizeof(mfa));
	snprintf(line, sizeof(line), "%s\t%u\t%s\t%s\t%zu\t%s\n", u->name,
	    (unsigned)u->uid, u->role, state_name(u->state), nk, mfa);
	r = text_add(t, line);
	db_key_array_free(k, nk);
	return r;
}

int
bd_h_user_list(struct rpc_conn *conn, const struct wire_msg *req,
    struct wire_builder *resp)
{
	struct bulwarkd *d = rpc_conn_arg(conn);
	struct db_user *u = NULL, one;
	struct text t = { NULL, 0, 0 };
	size_t n = 0, i;
	S(user);
	int r;

	if (bd_str(req, P_USER, user, sizeof(user)) == ERR_OK) {
		if ((r = db_user_get(d->db, user, &one)) != ERR_OK)
			return r;
		r = user_line(d, &one, &t);
		db_user_release(&one);
	} else {
		if ((r = db_user_list(d->db, &u, &n)) != ERR_OK)
			return r;
		r = text_add(&t, "");
		for (i = 0; i < n && r == ERR_OK; i++)
			r = user_line(d, &u[i], &t);
		db_user_array_free(u, n);
	}
	return text_answer(&t, r, resp);
}

int
bd_h_user_state(struct rpc_conn *conn, const struct wire_msg *req,
    struct wire_builder *resp)
{
	struct bulwarkd *d = rpc_conn_arg(conn);
	uint32_t state;
	S(user);
	int r;

	(void)resp;
	if (bd_str(req, P_USER, user, sizeof(user)) != ERR_OK ||
	    wire_get_u32(req, P_STATE, &state) != ERR_OK ||
	    state > DB_USER_FROZEN)
		return ERR_INVAL;
	if ((r = db_user_set_state(d->db, user, (int)state)) != ERR_OK)
		return r;
	return admin_event(conn, user, state == DB_USER_ACTIVE ?
	    "user.enable" : "user.disable", NULL);
}

/*
 * A fresh seed: stored, then shown once to the admin (base32 and URI) and
 * never again; the answer's buffers are wiped by the RPC layer's free.
 */
int
bd_h_mfa_enroll(struct rpc_conn *conn, const struct wire_msg *req,
    struct wire_builder *resp)
{
	struct bulwarkd *d = rpc_conn_arg(conn);
	uint8_t *raw = sodium_malloc(TOTP_SEED_LEN);
	struct totp_seed *seed = NULL;
	char *b32 = NULL, *uri = NULL;
	struct db_user u;
	S(user);
	int r;

	if (raw == NULL)
		return ERR_NOMEM;
	if ((r = bd_str(req, P_USER, user, sizeof(user))) != ERR_OK)
		goto out;
	if ((r = db_user_get(d->db, user, &u)) != ERR_OK)
		goto out;
	db_user_release(&u);
	randombytes_buf(raw, TOTP_SEED_LEN);
	if ((r = totp_seed_from_bytes_secret(raw, TOTP_SEED_LEN, &seed)) !=
	    ERR_OK ||
	    (r = totp_seed_base32_secret(seed, &b32)) != ERR_OK ||
	    (r = otpauth_uri_build_secret(seed, "Bulwark", user, &uri)) !=
	    ERR_OK ||
	    (r = db_totp_set_secret(d->db, user, raw, TOTP_SEED_LEN)) != ERR_OK)
		goto out;
	if ((r = admin_event(conn, user, "user.mfa.enroll",
	    json_pack("{s:s}", "factor", "totp"))) != ERR_OK)
		goto out;
	if ((r = wire_put_str(resp, P_SECRET, b32)) == ERR_OK)
		r = wire_put_str(resp, P_TEXT, uri);
out:
	totp_str_free_secret(b32);
	totp_str_free_secret(uri);
	totp_seed_free(seed);
	sodium_free(raw);
	return r;
}

static int
hostkey_fp(const char *line, char fp[SSHKEY_FP_MAX], size_t *canon)
{
	char type[SSHKEY_TYPE_MAX];

	return sshkey_line_any(line, strlen(line), type, fp, canon);
}

int
bd_h_target_add(struct rpc_conn *conn, const struct wire_msg *req,
    struct wire_builder *resp)
{
	struct bulwarkd *d = rpc_conn_arg(conn);
	char key[PROTO_LINE_MAX + 1], fp[SSHKEY_FP_MAX];
	S(name); S(host); S(group);
	uint32_t port, sens;
	size_t canon;
	int r;

	(void)resp;
	if (bd_str(req, P_TARGET, name, sizeof(name)) != ERR_OK ||
	    bd_str(req, P_HOST, host, sizeof(host)) != ERR_OK ||
	    bd_str(req, P_GROUP, group, sizeof(group)) != ERR_OK ||
	    bd_str(req, P_HOSTKEY, key, sizeof(key)) != ERR_OK ||
	    wire_get_u32(req, P_PORT, &port) != ERR_OK ||
	    wire_get_u32(req, P_SENS, &sens) != ERR_OK ||
	    !name_valid(name) || !name_valid(group) || !name_valid(host) ||
	    port == 0 || port > 65535 || sens > DB_SENSITIVITY_MAX)
		return ERR_INVAL;
	if ((r = hostkey_fp(key, fp, &canon)) != ERR_OK)
		return r;
	key[canon] = '\0';	/* the pin is the key, not its comment */
	if ((r = db_target_add(d->db, name, host, (uint16_t)port, group,
	    (int)sens)) != ERR_OK)
		return r;
	if ((r = db_hostkey_set(d->db, name, key, fp)) != ERR_OK) {
		if (db_target_del(d->db, name) != ERR_OK)
			bd_log("target %s added without its key: %s", name,
			    db_errmsg(d->db));
		return r;
	}
	return admin_event(conn, name, "target.add",
	    json_pack("{s:s,s:i,s:s,s:i,s:s}", "host", host, "port", (int)port,
	    "group", group, "sensitivity", (int)sens, "fingerprint", fp));
}

int
bd_h_target_list(struct rpc_conn *conn, const struct wire_msg *req,
    struct wire_builder *resp)
{
	struct bulwarkd *d = rpc_conn_arg(conn);
	struct db_target *t = NULL;
	struct text txt = { NULL, 0, 0 };
	struct db_hostkey hk;
	char line[2048];
	size_t n = 0, i;
	S(only);
	int r;

	if (bd_str(req, P_TARGET, only, sizeof(only)) != ERR_OK)
		only[0] = '\0';
	if ((r = db_target_list(d->db, &t, &n)) != ERR_OK)
		return r;
	r = text_add(&txt, "");
	for (i = 0; i < n && r == ERR_OK; i++) {
		if (only[0] != '\0' && strcmp(only, t[i].name) != 0)
			continue;
		if (db_hostkey_get(d->db, t[i].name, &hk) != ERR_OK)
			memset(&hk, 0, sizeof(hk));
		snprintf(line, sizeof(line), "%s\t%s\t%u\t%s\t%d\t%s\n",
		    t[i].name, t[i].host, (unsigned)t[i].port, t[i].group,
		    t[i].sensitivity, hk.fingerprint != NULL ?
		    hk.fingerprint : "-");
		db_hostkey_release(&hk);
		r = text_add(&txt, line);
	}
	db_target_array_free(t, n);
	if (r == ERR_OK && only[0] != '\0' && txt.len == 0)
		r = ERR_NOTFOUND;
	return text_answer(&txt, r, resp);
}

int
bd_h_target_rekey(struct rpc_conn *conn, const struct wire_msg *req,
    struct wire_builder *resp)
{
	struct bulwarkd *d = rpc_conn_arg(conn);
	char key[PROTO_LINE_MAX + 1], fp[SSHKEY_FP_MAX];
	struct db_hostkey old;
	size_t canon;
	S(name);
	int r;

	(void)resp;
	if (bd_str(req, P_TARGET, name, sizeof(name)) != ERR_OK ||
	    bd_str(req, P_HOSTKEY, key, sizeof(key)) != ERR_OK)
		return ERR_FORMAT;
	if ((r = hostkey_fp(key, fp, &canon)) != ERR_OK)
		return r;
	key[canon] = '\0';
	if (db_hostkey_get(d->db, name, &old) != ERR_OK)
		memset(&old, 0, sizeof(old));
	r = db_hostkey_set(d->db, name, key, fp);
	if (r == ERR_OK)
		r = admin_event(conn, name, "target.rekey",
		    json_pack("{s:s,s:s}", "old", old.fingerprint != NULL ?
		    old.fingerprint : "-", "new", fp));
	db_hostkey_release(&old);
	return r;
}

/*
 * Requests that name one thing and make one change to it, each an audit
 * event: USER_DEL, MFA_UNLOCK, TARGET_DEL.
 */
static const struct {
	uint16_t type;
	uint16_t tag;
	int (*op)(struct db *, const char *);
	const char *action;
} one_name_ops[] = {
	{ PROTO_USER_DEL, P_USER, db_user_del, "user.del" },
	{ PROTO_MFA_UNLOCK, P_USER, db_totp_clear, "user.mfa.unlock" },
	{ PROTO_TARGET_DEL, P_TARGET, db_target_del, "target.del" },
};

int
bd_h_one_name(struct rpc_conn *conn, const struct wire_msg *req,
    struct wire_builder *resp)
{
	struct bulwarkd *d = rpc_conn_arg(conn);
	size_t i;
	S(name);
	int r;

	(void)resp;
	for (i = 0; i < sizeof(one_name_ops) / sizeof(one_name_ops[0]); i++) {
		if (one_name_ops[i].type != req->type)
			continue;
		if (bd_str(req, one_name_ops[i].tag, name, sizeof(name)) !=
		    ERR_OK)
			return ERR_FORMAT;
		if ((r = one_name_ops[i].op(d->db, name)) != ERR_OK)
			return r;
		return admin_event(conn, name, one_name_ops[i].action, NULL);
	}
	return ERR_INTERNAL;	/* a table row without an entry here */
}

static int
grant_fields(const struct wire_msg *req, char *role, char *group, char *login,
    size_t len)
{
	if (bd_str(req, P_ROLE, role, len) != ERR_OK ||
	    bd_str(req, P_GROUP, group, len) != ERR_OK ||
	    bd_str(req, P_LOGIN, login, len) != ERR_OK ||
	    !name_valid(role) || !name_valid(group) || !name_valid(login))
		return ERR_INVAL;
	return ERR_OK;
}

/* GRANT_ADD and GRANT_DEL: the request's type says which. */
int
bd_h_grant_change(struct rpc_conn *conn, const struct wire_msg *req,
    struct wire_builder *resp)
{
	struct bulwarkd *d = rpc_conn_arg(conn);
	int add = req->type == PROTO_GRANT_ADD;
	S(role); S(group); S(login);
	int r;

	(void)resp;
	if ((r = grant_fields(req, role, group, login, sizeof(role))) != ERR_OK)
		return r;
	r = add ? db_grant_add(d->db, role, group, login) :
	    db_grant_del(d->db, role, group, login);
	if (r != ERR_OK)
		return r;
	return admin_event(conn, group, add ? "grant.add" : "grant.del",
	    json_pack("{s:s,s:s}", "role", role, "login", login));
}

int
bd_h_grant_list(struct rpc_conn *conn, const struct wire_msg *req,
    struct wire_builder *resp)
{
	struct bulwarkd *d = rpc_conn_arg(conn);
	struct db_grant *g = NULL;
	struct text t = { NULL, 0, 0 };
	char line[1024];
	size_t n = 0, i;
	int r;

	(void)req;
	if ((r = db_grant_list(d->db, NULL, &g, &n)) != ERR_OK)
		return r;
	r = text_add(&t, "");
	for (i = 0; i < n && r == ERR_OK; i++) {
		snprintf(line, sizeof(line), "%s\t%s\t%s\n", g[i].role,
		    g[i].target_group, g[i].login);
		r = text_add(&t, line);
	}
	db_grant_array_free(g, n);
	return text_answer(&t, r, resp);
}

static int
session_line(const struct db_session *s, struct text *t)
{
	char line[2048];

	snprintf(line, sizeof(line),
	    "%llu\t%s\t%s@%s\t%s\t%lld\t%lld\t%d\t%llu\t%llu\t%s\n",
	    (unsigned long long)s->id, s->user, s->login, s->target, s->kind,
	    (long long)s->started, (long long)s->ended, s->exit_status,
	    (unsigned long long)s->bytes_in, (unsigned long long)s->bytes_out,
	    s->recording_hash != NULL ? s->recording_hash : "-");
	return text_add(t, line);
}

int
bd_h_session_list(struct rpc_conn *conn, const struct wire_msg *req,
    struct wire_builder *resp)
{
	struct bulwarkd *d = rpc_conn_arg(conn);
	struct db_session *s = NULL;
	struct text t = { NULL, 0, 0 };
	uint32_t count = 0;
	size_t n = 0, i;
	S(user);
	int r;

	if (bd_str(req, P_USER, user, sizeof(user)) != ERR_OK)
		user[0] = '\0';
	if (wire_get_u32(req, P_COUNT, &count) != ERR_OK)
		count = 0;	/* all */
	if ((r = db_session_list(d->db, user[0] != '\0' ? user : NULL, count,
	    &s, &n)) != ERR_OK)
		return r;
	r = text_add(&t, "");
	for (i = 0; i < n && r == ERR_OK; i++)
		r = session_line(&s[i], &t);
	db_session_array_free(s, n);
	return text_answer(&t, r, resp);
}

int
bd_h_login_list(struct rpc_conn *conn, const struct wire_msg *req,
    struct wire_builder *resp)
{
	struct bulwarkd *d = rpc_conn_arg(conn);
	struct text t = { NULL, 0, 0 };
	struct db_login *l = NULL;
	char line[1024];
	size_t n = 0, i;
	int r;

	(void)req;
	bd_logins_sweep(d);	/* only the live ones are listed */
	if ((r = db_login_list(d->db, &l, &n)) != ERR_OK)
		return r;
	r = text_add(&t, "");
	for (i = 0; i < n && r == ERR_OK; i++) {
		snprintf(line, sizeof(line), "%llu\t%s\t%s\t%lld\t%lld\t%lld\n",
		    (unsigned long long)l[i].id, l[i].user,
		    l[i].rhost[0] != '\0' ? l[i].rhost : "-",
		    (long long)l[i].opened, (long long)l[i].pid,
		    (long long)l[i].pid_start);
		r = text_add(&t, line);
	}
	db_login_array_free(l, n);
	return text_answer(&t, r, resp);
}

int
bd_h_session_get(struct rpc_conn *conn, const struct wire_msg *req,
    struct wire_builder *resp)
{
	struct bulwarkd *d = rpc_conn_arg(conn);
	struct text t = { NULL, 0, 0 };
	struct db_session s;
	uint64_t id;
	int r;

	if (wire_get_u64(req, P_SESSION, &id) != ERR_OK)
		return ERR_FORMAT;
	if ((r = db_session_get(d->db, id, &s)) != ERR_OK)
		return r;
	r = session_line(&s, &t);
	db_session_release(&s);
	return text_answer(&t, r, resp);
}
