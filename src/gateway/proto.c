/*
 * proto.c - the field specs of bulwarkd's requests (see proto.h).
 */
#include <stddef.h>
#include <string.h>

#include "gateway/proto.h"
#include "common/banned.h"

#define R WIRE_REQUIRED
#define STR(tag, flags) { (tag), WIRE_STR, (flags), PROTO_STR_MAX }
#define LINE(tag, flags) { (tag), WIRE_STR, (flags), PROTO_LINE_MAX }
#define U8(tag, flags) { (tag), WIRE_U8, (flags), 0 }
#define U32(tag, flags) { (tag), WIRE_U32, (flags), 0 }
#define U64(tag, flags) { (tag), WIRE_U64, (flags), 0 }

static const struct wire_field_spec f_keys[] = {
	STR(P_USER, R), LINE(P_KEY, R),
};
static const struct wire_field_spec f_pam_start[] = {
	STR(P_USER, R), STR(P_RHOST, 0), LINE(P_AUTHINFO, 0),
};
static const struct wire_field_spec f_account[] = {
	STR(P_USER, R), STR(P_RHOST, 0), U8(P_FACTORS, 0),
};
static const struct wire_field_spec f_login_open[] = {
	STR(P_USER, R), STR(P_RHOST, 0),
};
static const struct wire_field_spec f_login_close[] = { U64(P_LOGIN_ID, R) };
static const struct wire_field_spec f_pam_totp[] = { STR(P_CODE, R) };
static const struct wire_field_spec f_user[] = { STR(P_USER, R) };
static const struct wire_field_spec f_user_opt[] = { STR(P_USER, 0) };
static const struct wire_field_spec f_session_open[] = {
	STR(P_TARGET, R), STR(P_LOGIN, R), STR(P_KIND, R),
	{ P_COMMAND, WIRE_STR, 0, PROTO_COMMAND_MAX },
	U8(P_PTY, 0), STR(P_RHOST, 0),
};
static const struct wire_field_spec f_key[] = { LINE(P_KEY, R) };
static const struct wire_field_spec f_data[] = {
	{ P_DATA, WIRE_BYTES, R, PROTO_DATA_MAX }, U8(P_STOPPED, 0),
};
static const struct wire_field_spec f_session_end[] = {
	U32(P_EXIT, R), U64(P_BYTES_IN, R), U64(P_BYTES_OUT, R),
	STR(P_REASON, 0), U32(P_COUNT, 0), U32(P_PROCESS, 0),
};
static const struct wire_field_spec f_user_add[] = {
	STR(P_USER, R), U32(P_UID, R), STR(P_ROLE, R), LINE(P_KEY, 0),
};
static const struct wire_field_spec f_user_key[] = {
	STR(P_USER, R), LINE(P_KEY, R),
};
static const struct wire_field_spec f_user_fp[] = {
	STR(P_USER, R), STR(P_FP, R),
};
static const struct wire_field_spec f_user_state[] = {
	STR(P_USER, R), U32(P_STATE, R),
};
static const struct wire_field_spec f_target_add[] = {
	STR(P_TARGET, R), STR(P_HOST, R), U32(P_PORT, R), STR(P_GROUP, R),
	U32(P_SENS, R), LINE(P_HOSTKEY, R),
};
static const struct wire_field_spec f_target_opt[] = { STR(P_TARGET, 0) };
static const struct wire_field_spec f_target[] = { STR(P_TARGET, R) };
static const struct wire_field_spec f_target_rekey[] = {
	STR(P_TARGET, R), LINE(P_HOSTKEY, R),
};
static const struct wire_field_spec f_grant[] = {
	STR(P_ROLE, R), STR(P_GROUP, R), STR(P_LOGIN, R),
};
static const struct wire_field_spec f_session_list[] = {
	STR(P_USER, 0), U32(P_COUNT, 0),
};
static const struct wire_field_spec f_session[] = { U64(P_SESSION, R) };

#define SPEC(t, a) [t] = { (a), sizeof(a) / sizeof((a)[0]), 1 }
#define NONE(t) [t] = { NULL, 0, 1 }

static const struct {
	const struct wire_field_spec *fields;
	size_t n;
	int known;
} specs[] = {
	SPEC(PROTO_KEYS, f_keys),
	SPEC(PROTO_PAM_START, f_pam_start),
	SPEC(PROTO_PAM_TOTP, f_pam_totp),
	SPEC(PROTO_ACCOUNT, f_account),
	SPEC(PROTO_TARGETS, f_user_opt),
	SPEC(PROTO_SESSION_OPEN, f_session_open),
	SPEC(PROTO_SESSION_CERT, f_key),
	SPEC(PROTO_SESSION_DATA, f_data),
	SPEC(PROTO_SESSION_END, f_session_end),
	SPEC(PROTO_LOGIN_OPEN, f_login_open),
	SPEC(PROTO_LOGIN_CLOSE, f_login_close),
	SPEC(PROTO_USER_ADD, f_user_add),
	SPEC(PROTO_USER_KEY_ADD, f_user_key),
	SPEC(PROTO_USER_LIST, f_user_opt),
	SPEC(PROTO_USER_STATE, f_user_state),
	SPEC(PROTO_USER_DEL, f_user),
	SPEC(PROTO_MFA_ENROLL, f_user),
	SPEC(PROTO_MFA_UNLOCK, f_user),
	SPEC(PROTO_USER_KEYS, f_user),
	SPEC(PROTO_USER_KEY_DEL, f_user_fp),
	SPEC(PROTO_TARGET_ADD, f_target_add),
	SPEC(PROTO_TARGET_LIST, f_target_opt),
	SPEC(PROTO_TARGET_REKEY, f_target_rekey),
	SPEC(PROTO_TARGET_DEL, f_target),
	SPEC(PROTO_GRANT_ADD, f_grant),
	SPEC(PROTO_GRANT_DEL, f_grant),
	NONE(PROTO_GRANT_LIST),
	SPEC(PROTO_SESSION_LIST, f_session_list),
	SPEC(PROTO_SESSION_GET, f_session),
	SPEC(PROTO_SESSION_KILL, f_session),
	NONE(PROTO_LOGIN_LIST),
	NONE(PROTO_CA_KEY),
};

const struct wire_field_spec *
proto_request_fields(unsigned type, size_t *nfields)
{
	*nfields = 0;
	if (type >= sizeof(specs) / sizeof(specs[0]) || !specs[type].known)
		return NULL;
	*nfields = specs[type].n;
	/* A request without fields still has a (non-NULL) empty spec. */
	return specs[type].fields ? specs[type].fields : (const void *)specs;
}

int
proto_kind_recorded(const char *kind)
{
	return strcmp(kind, "sftp") != 0;
}
