/*
 * table.c - bulwarkd's fixed request table: for each request, who may
 * send it and in which state of the connection (proto.h has the fields
 * and the state machine). rpc.c enforces all of this before a handler
 * runs, so each handler only ever sees a caller and a state it serves.
 */
#include <stddef.h>

#include "daemon/bulwarkd.h"
#include "gateway/proto.h"
#include "common/banned.h"

#define H(name) int bd_h_##name(struct rpc_conn *, const struct wire_msg *, \
    struct wire_builder *)
H(keys); H(pam_start); H(pam_totp); H(account); H(targets);
H(login_open); H(login_close); H(session_open); H(session_cert); H(session_data); H(session_end);
H(ca_key); H(user_add); H(user_key_add); H(user_keys); H(user_key_del);
H(user_list); H(user_state);
H(one_name); H(mfa_enroll); H(target_add); H(target_list);
H(target_rekey); H(grant_change); H(grant_list);
H(session_list); H(session_get); H(session_kill); H(login_list);

#define ROOT RPC_CALLER_ROOT
#define ANY RPC_CALLER_ANY
#define ST(s) RPC_STATE(PROTO_ST_##s)
/* Admin requests come on a fresh connection, one or several. */
#define ADMIN ST(NEW)

#define ROW(type, name, callers, states) ROWH(type, name, callers, states, name)
#define ROWH(type, name, callers, states, h) { type, #name, callers, NULL, 0, \
    states, NULL, 0, bd_h_##h }

static struct rpc_request rows[] = {
	/* sshd's AuthorizedKeysCommand: its own user (--keys-user), or
	 * bulwarkd's, or root. */
	ROW(PROTO_KEYS, keys, ROOT | RPC_CALLER_SELF, ST(NEW)),
	ROW(PROTO_PAM_START, pam_start, ROOT, ST(NEW)),
	ROW(PROTO_PAM_TOTP, pam_totp, ROOT, ST(PAM)),
	ROW(PROTO_ACCOUNT, account, ROOT, ST(NEW)),
	/* pam_bulwark's session step, in sshd's monitor. */
	ROW(PROTO_LOGIN_OPEN, login_open, ROOT, ST(NEW)),
	ROW(PROTO_LOGIN_CLOSE, login_close, ROOT, ST(NEW)),
	ROW(PROTO_TARGETS, targets, ANY, ST(NEW)),
	ROW(PROTO_SESSION_OPEN, session_open, ANY, ST(NEW)),
	ROW(PROTO_SESSION_CERT, session_cert, ANY, ST(OPENED)),
	ROW(PROTO_SESSION_DATA, session_data, ANY, ST(CERTIFIED)),
	ROW(PROTO_SESSION_END, session_end, ANY, ST(CERTIFIED)),
	ROW(PROTO_CA_KEY, ca_key, ANY, ST(NEW)),
	ROW(PROTO_USER_ADD, user_add, ROOT, ADMIN),
	ROW(PROTO_USER_KEY_ADD, user_key_add, ROOT, ADMIN),
	ROW(PROTO_USER_KEYS, user_keys, ROOT, ADMIN),
	ROW(PROTO_USER_KEY_DEL, user_key_del, ROOT, ADMIN),
	ROW(PROTO_USER_LIST, user_list, ROOT, ADMIN),
	ROW(PROTO_USER_STATE, user_state, ROOT, ADMIN),
	ROWH(PROTO_USER_DEL, user_del, ROOT, ADMIN, one_name),
	ROW(PROTO_MFA_ENROLL, mfa_enroll, ROOT, ADMIN),
	ROWH(PROTO_MFA_UNLOCK, mfa_unlock, ROOT, ADMIN, one_name),
	ROW(PROTO_TARGET_ADD, target_add, ROOT, ADMIN),
	ROW(PROTO_TARGET_LIST, target_list, ROOT, ADMIN),
	ROW(PROTO_TARGET_REKEY, target_rekey, ROOT, ADMIN),
	ROWH(PROTO_TARGET_DEL, target_del, ROOT, ADMIN, one_name),
	ROWH(PROTO_GRANT_ADD, grant_add, ROOT, ADMIN, grant_change),
	ROWH(PROTO_GRANT_DEL, grant_del, ROOT, ADMIN, grant_change),
	ROW(PROTO_GRANT_LIST, grant_list, ROOT, ADMIN),
	ROW(PROTO_SESSION_LIST, session_list, ROOT, ADMIN),
	ROW(PROTO_SESSION_GET, session_get, ROOT, ADMIN),
	ROW(PROTO_SESSION_KILL, session_kill, ROOT, ADMIN),
	ROW(PROTO_LOGIN_LIST, login_list, ROOT, ADMIN),
};

/* The field specs come from proto.c, which the clients share. */
const struct rpc_request *
bd_table(const uid_t *keys_uid, size_t *n)
{
	static uid_t kuid;
	size_t i;

	*n = sizeof(rows) / sizeof(rows[0]);
	for (i = 0; i < *n; i++) {
		rows[i].fields = proto_request_fields(rows[i].type,
		    &rows[i].nfields);
		if (rows[i].type == PROTO_KEYS && keys_uid != NULL) {
			kuid = *keys_uid;
			rows[i].uids = &kuid;
			rows[i].nuids = 1;
		}
	}
	return rows;
}
