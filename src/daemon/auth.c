/*
 * auth.c - sshd's questions: is this key a user's (the
 * AuthorizedKeysCommand), which second factor does this login need, is
 * this TOTP code right (pam_bulwark), may this account log in.
 *
 * Every refusal is an audit event; so is every factor that passes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "auth/totp.h"
#include "daemon/bulwarkd.h"
#include "gateway/proto.h"
#include "common/banned.h"

/* What a PAM conversation has established so far. */
struct pam_conn {
	char user[PROTO_STR_MAX + 1];
	char rhost[PROTO_STR_MAX + 1];
};

static json_t *
why(const char *reason)
{
	return json_pack("{s:s}", "reason", reason);
}

/*
 * The authorized_keys line for a registered key: no forwarding of any
 * kind, a pty allowed; a FIDO2 key must also prove user verification,
 * which is what lets it stand for both factors.
 */
int
bd_h_keys(struct rpc_conn *conn, const struct wire_msg *req,
    struct wire_builder *resp)
{
	struct bulwarkd *d = rpc_conn_arg(conn);
	char user[PROTO_STR_MAX + 1], key[PROTO_LINE_MAX + 1];
	char type[SSHKEY_TYPE_MAX], fp[SSHKEY_FP_MAX], line[PROTO_LINE_MAX + 64];
	struct db_key k;
	struct db_user u;
	size_t canon;
	int r;

	memset(&k, 0, sizeof(k));
	memset(&u, 0, sizeof(u));
	if (bd_str(req, P_USER, user, sizeof(user)) != ERR_OK ||
	    bd_str(req, P_KEY, key, sizeof(key)) != ERR_OK)
		return ERR_FORMAT;
	/* Anyone who can reach sshd repeats these at will: coalesced. */
	if (sshkey_line_any(key, strlen(key), type, fp, &canon) != ERR_OK) {
		bd_refusal_coalesced(d, user, "auth.publickey",
		    "key type or encoding not accepted", NULL,
		    why("key type or encoding not accepted"));
		return ERR_NOTFOUND;
	}
	r = db_key_find_by_fingerprint(d->db, fp, &k);
	if (r == ERR_OK && strcmp(k.user, user) != 0) {
		/* Someone holds another user's key: never folded into a count. */
		bd_refusal(d, user, NULL, NULL, "auth.publickey", "deny", 0,
		    json_pack("{s:s,s:s,s:s}", "reason", "a key registered to "
		    "another user", "fingerprint", fp, "key_owner", k.user));
		r = ERR_NOTFOUND;
		goto out;
	}
	if (r == ERR_NOTFOUND) {
		bd_refusal_coalesced(d, user, "auth.publickey",
		    "key not registered for this user", fp,
		    json_pack("{s:s,s:s}", "reason", "key not registered for "
		    "this user", "fingerprint", fp));
		r = ERR_NOTFOUND;
		goto out;
	}
	if (r != ERR_OK)
		goto out;
	if ((r = db_user_get(d->db, user, &u)) != ERR_OK)
		goto out;
	if (u.state != DB_USER_ACTIVE) {
		bd_refusal_coalesced(d, user, "auth.publickey",
		    "account disabled", fp, why("account disabled"));
		r = ERR_NOTFOUND;
		goto out;
	}
	snprintf(line, sizeof(line), "restrict,pty%s %.*s",
	    sshkey_type_is_sk(type) ? ",verify-required" : "", (int)canon, key);
	r = wire_put_str(resp, P_TEXT, line);
out:
	db_key_release(&k);
	db_user_release(&u);
	return r;
}

/*
 * The key that passed the first factor, from sshd's SSH_AUTH_INFO_0
 * ("publickey TYPE BASE64 [info]" lines, one per method that passed).
 */
struct authinfo {
	int key;	/* a publickey line: type and fp hold its key */
	char type[SSHKEY_TYPE_MAX];
	char fp[SSHKEY_FP_MAX];
};

static void
authinfo_parse(const char *info, struct authinfo *ai)
{
	const char *p = info, *nl;
	size_t canon, len;

	memset(ai, 0, sizeof(*ai));
	while (*p != '\0' && !ai->key) {
		nl = strchr(p, '\n');
		if (nl == NULL)
			nl = p + strlen(p);
		len = (size_t)(nl - p);
		if (len > 10 && memcmp(p, "publickey ", 10) == 0 &&
		    sshkey_line_any(p + 10, len - 10, ai->type, ai->fp,
		    &canon) == ERR_OK)
			ai->key = 1;
		p = *nl == '\n' ? nl + 1 : nl;
	}
}

/* 1 when user has a TOTP seed enrolled. */
static int
has_totp(struct bulwarkd *d, const char *user)
{
	uint8_t *seed = sodium_malloc(DB_TOTP_SEED_MAX);
	size_t len;
	int r;

	if (seed == NULL)
		return 0;
	r = db_totp_get_secret(d->db, user, seed, DB_TOTP_SEED_MAX, &len, NULL);
	sodium_free(seed);
	return r == ERR_OK;
}

int
bd_h_pam_start(struct rpc_conn *conn, const struct wire_msg *req,
    struct wire_builder *resp)
{
	struct bulwarkd *d = rpc_conn_arg(conn);
	char info[PROTO_LINE_MAX + 1];
	struct pam_conn *pc = calloc(1, sizeof(*pc));
	struct authinfo ai;
	struct bd_batch ev;
	struct db_user u;
	struct db_key k;
	int r, need_totp = 1;

	memset(&ev, 0, sizeof(ev));
	memset(&u, 0, sizeof(u));
	memset(&k, 0, sizeof(k));
	if (pc == NULL)
		return ERR_NOMEM;
	if (bd_str(req, P_USER, pc->user, sizeof(pc->user)) != ERR_OK) {
		free(pc);
		return ERR_FORMAT;
	}
	if (bd_str(req, P_RHOST, pc->rhost, sizeof(pc->rhost)) != ERR_OK)
		pc->rhost[0] = '\0';
	if (bd_str(req, P_AUTHINFO, info, sizeof(info)) != ERR_OK)
		info[0] = '\0';
	r = db_user_get(d->db, pc->user, &u);
	if (r != ERR_OK || u.state != DB_USER_ACTIVE) {
		bd_refusal(d, pc->user, pc->rhost, NULL, "auth.pam", "deny",
		    0, why(r != ERR_OK ? "unknown user" : "account disabled"));
		r = r == ERR_OK || r == ERR_NOTFOUND ? ERR_DENIED : r;
		goto out;
	}
	authinfo_parse(info, &ai);
	if (ai.key) {
		/* sshd accepted this key; it must be this user's. */
		r = db_key_find_by_fingerprint(d->db, ai.fp, &k);
		if (r != ERR_OK || strcmp(k.user, pc->user) != 0) {
			bd_refusal(d, pc->user, pc->rhost, NULL, "auth.pam",
			    "deny", 0, why("first factor key is not the user's"));
			r = ERR_DENIED;
			goto out;
		}
		if ((r = bd_batch_add(&ev, pc->user, pc->rhost, NULL,
		    "auth.publickey", "allow", 0, json_pack("{s:s,s:s}",
		    "fingerprint", ai.fp, "type", ai.type))) != ERR_OK)
			goto out;
		/* verify-required made sshd check user verification. */
		if (sshkey_type_is_sk(ai.type))
			need_totp = 0;
	}
	if (need_totp && !has_totp(d, pc->user)) {
		/* The key did pass: say so, then why the login cannot. */
		if (bd_batch_commit(d, &ev) != ERR_OK)
			bd_log("the accepted key of %s was not logged", pc->user);
		bd_refusal(d, pc->user, pc->rhost, NULL, "auth.totp", "deny",
		    0, why("no second factor enrolled"));
		r = ERR_DENIED;
		goto out;
	}
	/* The key and, for FIDO2, the second factor: one durable write. */
	if ((!need_totp && (r = bd_batch_add(&ev, pc->user, pc->rhost, NULL,
	    "auth.fido2", "allow", 0, json_pack("{s:s}", "fingerprint",
	    ai.fp))) != ERR_OK) || (r = bd_batch_commit(d, &ev)) != ERR_OK)
		goto out;
	if ((r = wire_put_u8(resp, P_NEED_TOTP, (uint8_t)need_totp)) != ERR_OK ||
	    (r = rpc_conn_set_state(conn, need_totp ? PROTO_ST_PAM :
	    PROTO_ST_PAM_DONE)) != ERR_OK)
		goto out;
	rpc_conn_set_data(conn, pc, free);
	pc = NULL;
out:
	bd_batch_clear(&ev);	/* not logged: nothing was allowed */
	free(pc);
	db_user_release(&u);
	db_key_release(&k);
	return r;
}

/* Records a wrong code against the user and the source; locks both. */
static void
count_failure(struct bulwarkd *d, struct pam_conn *pc, time_t now,
    const char *reason)
{
	uint32_t fails = 0, src_fails;
	unsigned delay;

	if (db_totp_record_failure(d->db, pc->user, &fails) != ERR_OK)
		bd_log("cannot count a failure for %s: %s", pc->user,
		    db_errmsg(d->db));
	if ((delay = ratelimit_delay(fails)) > 0 &&
	    db_totp_lock(d->db, pc->user, (int64_t)now + delay) != ERR_OK)
		bd_log("cannot lock %s: %s", pc->user, db_errmsg(d->db));
	src_fails = ratelimit_fail(&d->rl, pc->rhost, now);
	bd_refusal(d, pc->user, pc->rhost, NULL, "auth.totp", "deny", 0,
	    json_pack("{s:s,s:i,s:i,s:i}", "reason", reason, "failures",
	    (int)fails, "source_failures", (int)src_fails, "locked_for",
	    (int)delay));
}

static int
locked(struct bulwarkd *d, struct pam_conn *pc, const char *scope,
    unsigned wait)
{
	bd_refusal(d, pc->user, pc->rhost, NULL, "auth.totp", "locked", 0,
	    json_pack("{s:s,s:i}", "scope", scope, "wait", (int)wait));
	return ERR_LOCKED;
}

int
bd_h_pam_totp(struct rpc_conn *conn, const struct wire_msg *req,
    struct wire_builder *resp)
{
	struct bulwarkd *d = rpc_conn_arg(conn);
	struct pam_conn *pc = rpc_conn_data(conn);
	struct db_totp_state st;
	struct totp_seed *ts = NULL;
	uint8_t *seed = NULL;
	const char *code;
	size_t len, clen;
	uint64_t step;
	time_t now = time(NULL);
	unsigned wait;
	int r;

	(void)resp;
	if (pc == NULL)
		return ERR_INTERNAL;
	/* One try per connection: the next comes through the limits again. */
	rpc_conn_drop(conn);
	if (ratelimit_check(&d->rl, pc->rhost, now, &wait) == ERR_LOCKED)
		return locked(d, pc, "source", wait);
	if ((seed = sodium_malloc(DB_TOTP_SEED_MAX)) == NULL)
		return ERR_NOMEM;
	r = db_totp_get_secret(d->db, pc->user, seed, DB_TOTP_SEED_MAX, &len,
	    &st);
	if (r == ERR_OK)
		r = totp_seed_from_bytes_secret(seed, len, &ts);
	sodium_free(seed);
	if (r != ERR_OK)
		return r == ERR_NOTFOUND ? ERR_DENIED : r;
	if (st.locked_until > (int64_t)now) {
		totp_seed_free(ts);
		return locked(d, pc, "user", (unsigned)(st.locked_until - now));
	}
	if (wire_get_str(req, P_CODE, &code, &clen) != ERR_OK)
		clen = 0, code = "";
	r = totp_verify(ts, code, clen, now, st.last_step, &step);
	totp_seed_free(ts);
	/* The compare-and-set decides between two logins racing one code. */
	if (r == ERR_OK && (r = db_totp_record_success(d->db, pc->user,
	    step)) == ERR_OK) {
		if (bd_event(d, pc->user, pc->rhost, NULL, "auth.totp", "allow",
		    0, NULL) != ERR_OK)
			return ERR_IO;
		return rpc_conn_set_state(conn, PROTO_ST_PAM_DONE);
	}
	count_failure(d, pc, now, r == ERR_CONFLICT ? "replayed code" :
	    r == ERR_FORMAT ? "malformed code" : "wrong code");
	return ERR_DENIED;
}

/*
 * A login without our auth stage: sshd accepted one of the user's keys
 * alone (the FIDO2 group's Match). That is two factors only when every
 * key of the user is a FIDO2 key, since bd_h_keys authorizes those only
 * with verify-required: whichever key sshd accepted, it proved user
 * verification. Otherwise, whatever sshd's configuration says, refused.
 * sshd does not tell PAM which key it was (SSH_AUTH_INFO_0 gets it only
 * after this step): the event names the user's keys.
 */
static int
account_key_alone(struct bulwarkd *d, const char *user, const char *rhost)
{
	char type[SSHKEY_TYPE_MAX], fp[SSHKEY_FP_MAX];
	struct db_key *keys = NULL;
	struct bd_batch ev;
	json_t *fps = json_array(), *d1, *d2;
	size_t n = 0, i, sk = 0, canon;
	int r;

	memset(&ev, 0, sizeof(ev));
	if (fps == NULL)
		return ERR_NOMEM;
	if ((r = db_key_list(d->db, user, &keys, &n)) != ERR_OK) {
		json_decref(fps);
		return r == ERR_NOTFOUND ? ERR_DENIED : r;
	}
	for (i = 0; i < n; i++) {
		if (sshkey_line_any(keys[i].key_line, strlen(keys[i].key_line),
		    type, fp, &canon) == ERR_OK && sshkey_type_is_sk(type)) {
			sk++;
			json_array_append_new(fps, json_string(fp));
		}
	}
	db_key_array_free(keys, n);
	if (n == 0 || sk != n) {
		json_decref(fps);
		bd_refusal(d, user, rhost, NULL, "auth.account", "deny", 0,
		    json_pack("{s:s,s:i,s:i}", "reason", "a key alone, and "
		    "not every key of the user is a FIDO2 key: the code is "
		    "needed", "keys", (int)n, "fido2_keys", (int)sk));
		return ERR_DENIED;
	}
	d1 = json_pack("{s:s,s:O}", "type", "FIDO2", "fingerprints", fps);
	d2 = json_pack("{s:s,s:O}", "verification", "required",
	    "fingerprints", fps);
	json_decref(fps);
	/* bd_batch_add takes its detail, also when it fails. */
	r = bd_batch_add(&ev, user, rhost, NULL, "auth.publickey", "allow", 0,
	    d1);
	if (r == ERR_OK)
		r = bd_batch_add(&ev, user, rhost, NULL, "auth.fido2",
		    "allow", 0, d2);
	else
		json_decref(d2);
	if (r != ERR_OK) {
		bd_batch_clear(&ev);
		return r;
	}
	return bd_batch_commit(d, &ev);
}

int
bd_h_account(struct rpc_conn *conn, const struct wire_msg *req,
    struct wire_builder *resp)
{
	struct bulwarkd *d = rpc_conn_arg(conn);
	char user[PROTO_STR_MAX + 1], rhost[PROTO_STR_MAX + 1];
	struct db_user u;
	uint8_t factors = 0;
	int r;

	(void)resp;
	memset(&u, 0, sizeof(u));
	if (bd_str(req, P_USER, user, sizeof(user)) != ERR_OK)
		return ERR_FORMAT;
	if (bd_str(req, P_RHOST, rhost, sizeof(rhost)) != ERR_OK)
		rhost[0] = '\0';
	if (wire_get_u8(req, P_FACTORS, &factors) != ERR_OK)
		factors = 0;	/* absent: no auth stage ran */
	r = db_user_get(d->db, user, &u);
	if (r != ERR_OK || u.state != DB_USER_ACTIVE) {
		bd_refusal(d, user, rhost, NULL, "auth.account", "deny", 0,
		    why(r == ERR_OK ? "account disabled" : "unknown user"));
		db_user_release(&u);
		return r == ERR_OK || r == ERR_NOTFOUND ? ERR_DENIED : r;
	}
	db_user_release(&u);
	/* After our auth stage, PAM_START and PAM_TOTP logged the factors. */
	if (factors == 1)
		return ERR_OK;
	return account_key_alone(d, user, rhost);
}
