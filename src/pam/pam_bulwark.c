/*
 * pam_bulwark.c - the second factor inside sshd's PAM stack.
 *
 * sshd has already checked the user's key (AuthorizedKeysCommand) when
 * keyboard-interactive reaches this module. The module holds no secret and
 * decides nothing itself: it asks bulwarkd over the monitor socket whether
 * a code is needed (PAM_START), asks the user for one, and lets bulwarkd
 * check it (PAM_TOTP) on the same connection, which is what ties the code
 * to the user PAM_START named. Rate limits, replay refusal and lockout all
 * live in bulwarkd, so that every sshd process shares them.
 *
 * The module is loaded into sshd: it keeps no global state, frees what it
 * allocates on every path, and wipes the code the user typed as soon as it
 * has been sent. Only the pam_sm_* entry points are exported.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <syslog.h>

#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include "common/err.h"
#include "common/wire.h"
#include "gateway/proto.h"
#include "gateway/rpc.h"
#include "common/banned.h"

#define PAMB_EXPORT		__attribute__((visibility("default")))

#define PAMB_TIMEOUT_MS		5000
#define PAMB_TIMEOUT_MAX_MS	600000
#define PAMB_SUN_PATH_MAX	sizeof(((struct sockaddr_un *)NULL)->sun_path)

#define PAMB_PROMPT		"Verification code: "
#define PAMB_MSG_WRONG		"Wrong or already used code."
#define PAMB_MSG_LOCKED \
	"Too many wrong codes; wait a while (the delay doubles with each wrong code) and try again."

/* The module's arguments; socket borrows from PAM's argv. */
struct pamb_args {
	const char *socket;
	int timeout_ms;
	int debug;
	int silent;	/* PAM_SILENT: no messages to the user */
};

/* ---- helpers ---- */

/*
 * A string fit for a log line: user names and addresses reach us from
 * the network, and a control character in one could forge a syslog line.
 */
static const char *
log_safe(const char *s)
{
	const unsigned char *p;

	if (s == NULL)
		return "(none)";
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f)
			return "(unprintable)";
	}
	return s;
}

/* 1 if s can go into a WIRE_STR field of at most max bytes. */
static int
str_fits(const char *s, size_t max)
{
	size_t len = strnlen(s, max + 1);

	return len <= max && wire_utf8_valid((const uint8_t *)s, len);
}

/* Tells the user something, unless the application asked for silence. */
static void
tell_user(pam_handle_t *pamh, const struct pamb_args *a, const char *msg)
{
	if (!a->silent)
		(void)pam_error(pamh, "%s", msg);
}

/*
 * bulwarkd failed to answer request, or answered with a status the
 * module has no use for. The user only sees a failed login, so the log
 * line is where the admin learns what to look at.
 */
static void
log_daemon_trouble(pam_handle_t *pamh, const struct pamb_args *a,
    const char *request, int r)
{
	if (r == ERR_NETWORK || r == ERR_FORMAT)
		pam_syslog(pamh, LOG_ERR, "bulwarkd at '%s' gave no usable "
		    "answer to %s (%s); check that bulwarkd is running and "
		    "see its log", a->socket, request, err_str(r));
	else
		pam_syslog(pamh, LOG_ERR, "bulwarkd at '%s' answered %s with "
		    "'%s'; see bulwarkd's log", a->socket, request,
		    err_str(r));
}

/*
 * Connects to bulwarkd. errno is read right after the failed connect so
 * that the log says whether the socket is missing, refused or forbidden.
 */
static int
daemon_connect(pam_handle_t *pamh, const struct pamb_args *a,
    struct rpc_client **c)
{
	int r, e;

	r = rpc_client_connect(a->socket, a->timeout_ms, c);
	e = errno;
	if (r == ERR_OK)
		return PAM_SUCCESS;
	if (r == ERR_NETWORK || r == ERR_IO) {
		const char *why = strerrordesc_np(e);

		pam_syslog(pamh, LOG_ERR, "cannot connect to bulwarkd at "
		    "'%s': %s; check that bulwarkd is running and listens "
		    "there (its --socket, this module's socket=)", a->socket,
		    why != NULL ? why : err_str(r));
	} else {
		pam_syslog(pamh, LOG_ERR, "cannot connect to bulwarkd at "
		    "'%s': %s", a->socket, err_str(r));
	}
	return PAM_AUTHINFO_UNAVAIL;
}

/* The user PAM is authenticating; refused early if it cannot be sent. */
static int
user_get(pam_handle_t *pamh, const char **user)
{
	int pr;

	*user = NULL;
	if ((pr = pam_get_user(pamh, user, NULL)) != PAM_SUCCESS)
		return pr;
	if (*user == NULL || (*user)[0] == '\0' ||
	    !str_fits(*user, PROTO_STR_MAX)) {
		pam_syslog(pamh, LOG_NOTICE, "user name '%s' is not one "
		    "bulwarkd can know", log_safe(*user));
		*user = NULL;
		return PAM_USER_UNKNOWN;
	}
	return PAM_SUCCESS;
}

/* ---- arguments ---- */

/* timeout=MS: a whole number of milliseconds, 1 .. PAMB_TIMEOUT_MAX_MS. */
static int
args_parse_timeout(const char *s, int *ms)
{
	char *end = NULL;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 1 ||
	    v > PAMB_TIMEOUT_MAX_MS)
		return ERR_INVAL;
	*ms = (int)v;
	return ERR_OK;
}

/*
 * socket=PATH must be absolute and fit a sockaddr_un; checking it here
 * gives the admin a message about the option rather than a failed connect.
 */
static int
args_check_socket(const char *path)
{
	if (path[0] != '/' || strlen(path) >= PAMB_SUN_PATH_MAX)
		return ERR_INVAL;
	return ERR_OK;
}

/* One argument into *a; ERR_INVAL if it is not one we know, well formed. */
static int
args_parse_one(const char *arg, struct pamb_args *a)
{
	if (strcmp(arg, "debug") == 0) {
		a->debug = 1;
		return ERR_OK;
	}
	if (strncmp(arg, "socket=", 7) == 0) {
		if (args_check_socket(arg + 7) != ERR_OK)
			return ERR_INVAL;
		a->socket = arg + 7;
		return ERR_OK;
	}
	if (strncmp(arg, "timeout=", 8) == 0)
		return args_parse_timeout(arg + 8, &a->timeout_ms);
	return ERR_INVAL;
}

/*
 * A misspelt or bad argument fails the module (PAM_SERVICE_ERR) instead of
 * being ignored: a security module quietly running with defaults the admin
 * did not mean is worse than a login that fails with a clear log line.
 */
static int
args_parse(pam_handle_t *pamh, int flags, int argc, const char **argv,
    struct pamb_args *a)
{
	int i;

	a->socket = PROTO_DEFAULT_SOCKET;
	a->timeout_ms = PAMB_TIMEOUT_MS;
	a->debug = 0;
	a->silent = ((unsigned)flags & PAM_SILENT) != 0;
	for (i = 0; i < argc; i++) {
		if (args_parse_one(argv[i], a) != ERR_OK) {
			pam_syslog(pamh, LOG_ERR, "bad module argument '%s': "
			    "use socket=/ABSOLUTE/PATH (under %zu bytes), "
			    "timeout=MS (1..%d) or debug", log_safe(argv[i]),
			    PAMB_SUN_PATH_MAX, PAMB_TIMEOUT_MAX_MS);
			return PAM_SERVICE_ERR;
		}
	}
	return PAM_SUCCESS;
}

/* ---- PAM_START ---- */

/* The client's address, when PAM has one that fits the field. */
static int
put_rhost(pam_handle_t *pamh, const struct pamb_args *a,
    struct wire_builder *b)
{
	const void *item = NULL;
	const char *rhost;

	if (pam_get_item(pamh, PAM_RHOST, &item) != PAM_SUCCESS ||
	    item == NULL || ((const char *)item)[0] == '\0')
		return ERR_OK;
	rhost = item;
	if (!str_fits(rhost, PROTO_STR_MAX)) {
		if (a->debug)
			pam_syslog(pamh, LOG_DEBUG, "PAM_RHOST not sent: too "
			    "long or not UTF-8");
		return ERR_OK;
	}
	return wire_put_str(b, P_RHOST, rhost);
}

/*
 * How much of SSH_AUTH_INFO_0 to send: all of it when it fits
 * PROTO_LINE_MAX, else the whole lines that fit, since a key line cut in
 * the middle would only be noise to bulwarkd. 0: send nothing.
 */
static size_t
authinfo_len(const char *info)
{
	size_t len = strnlen(info, PROTO_LINE_MAX + 1);

	if (len <= PROTO_LINE_MAX)
		return len;
	len = PROTO_LINE_MAX;
	while (len > 0 && info[len - 1] != '\n')
		len--;
	return len;
}

/*
 * With ExposeAuthInfo, sshd names the methods that already succeeded
 * ("publickey ssh-ed25519 AAAA...\n"), which is how bulwarkd sees that a
 * verified FIDO2 key stands for both factors.
 */
static int
put_authinfo(pam_handle_t *pamh, const struct pamb_args *a,
    struct wire_builder *b)
{
	const char *info = pam_getenv(pamh, "SSH_AUTH_INFO_0");
	size_t len;

	if (info == NULL)
		return ERR_OK;
	len = authinfo_len(info);
	if (len == 0 || !wire_utf8_valid((const uint8_t *)info, len)) {
		if (a->debug)
			pam_syslog(pamh, LOG_DEBUG, "SSH_AUTH_INFO_0 not "
			    "sent: empty, too long or not UTF-8");
		return ERR_OK;
	}
	return wire_put_strn(b, P_AUTHINFO, info, len);
}

/*
 * What bulwarkd said to PAM_START. Unknown and refused users both fail
 * without a word to the client; only the log tells them apart.
 */
static int
pam_start_status(pam_handle_t *pamh, const struct pamb_args *a,
    const char *user, int r)
{
	switch (r) {
	case ERR_OK:
		return PAM_SUCCESS;
	case ERR_NOTFOUND:
		pam_syslog(pamh, LOG_NOTICE, "user '%s' is not known to "
		    "bulwarkd", log_safe(user));
		return PAM_USER_UNKNOWN;
	case ERR_DENIED:
		pam_syslog(pamh, LOG_NOTICE, "bulwarkd refuses user '%s'",
		    log_safe(user));
		return PAM_AUTH_ERR;
	case ERR_LOCKED:
		/* Asking for a code bulwarkd will not try helps nobody. */
		pam_syslog(pamh, LOG_NOTICE, "user '%s' is locked out after "
		    "wrong codes", log_safe(user));
		tell_user(pamh, a, PAMB_MSG_LOCKED);
		return PAM_MAXTRIES;
	default:
		log_daemon_trouble(pamh, a, "PAM_START", r);
		return PAM_AUTHINFO_UNAVAIL;
	}
}

/*
 * Sends PAM_START for user on c. *need_totp stays 1 unless bulwarkd says
 * 0 in so many words: a missing or odd field asks for a code.
 */
static int
req_pam_start(pam_handle_t *pamh, const struct pamb_args *a,
    struct rpc_client *c, const char *user, int *need_totp)
{
	struct wire_builder *b = NULL;
	struct rpc_response *resp = NULL;
	uint8_t need = 1;
	int r, pr = PAM_SERVICE_ERR;

	*need_totp = 1;
	if (wire_builder_new(PROTO_PAM_START, &b) != ERR_OK) {
		pr = PAM_BUF_ERR;
		goto out;
	}
	if ((r = wire_put_str(b, P_USER, user)) != ERR_OK ||
	    (r = put_rhost(pamh, a, b)) != ERR_OK ||
	    (r = put_authinfo(pamh, a, b)) != ERR_OK) {
		pam_syslog(pamh, LOG_ERR, "cannot build PAM_START: %s",
		    err_str(r));
		goto out;
	}
	r = rpc_client_call(c, b, &resp);
	if ((pr = pam_start_status(pamh, a, user, r)) != PAM_SUCCESS)
		goto out;
	if (wire_get_u8(&resp->msg, P_NEED_TOTP, &need) == ERR_OK &&
	    need == 0)
		*need_totp = 0;
 out:
	rpc_response_free(resp);
	wire_builder_free(b);
	return pr;
}

/* ---- PAM_TOTP ---- */

/*
 * Wipes the frame b holds before freeing it: the builder's buffer has a
 * fixed size and is never moved (wire.c), so this is the only copy of
 * the code it made. wire.h hands the frame out read-only, hence the cast.
 */
static void
builder_free_secret(struct wire_builder *b)
{
	const uint8_t *frame;
	size_t len;

	if (b == NULL)
		return;
	if (wire_builder_frame(b, &frame, &len) == ERR_OK)
		explicit_bzero((void *)(uintptr_t)frame, len);
	wire_builder_free(b);
}

/*
 * Sends PAM_TOTP {CODE} on c and returns bulwarkd's status. A code that
 * cannot be put in the field (too long, not UTF-8) cannot be right:
 * it is refused here as a wrong code, without asking bulwarkd.
 */
static int
req_pam_totp(struct rpc_client *c, const char *code)
{
	struct wire_builder *b = NULL;
	struct rpc_response *resp = NULL;
	int r = ERR_INTERNAL;

	if (!str_fits(code, PROTO_STR_MAX)) {
		r = ERR_DENIED;
		goto out;
	}
	if ((r = wire_builder_new(PROTO_PAM_TOTP, &b)) != ERR_OK ||
	    (r = wire_put_str(b, P_CODE, code)) != ERR_OK)
		goto out;
	r = rpc_client_call(c, b, &resp);
 out:
	rpc_response_free(resp);
	builder_free_secret(b);
	return r;
}

/* What bulwarkd said to PAM_TOTP, told to the user and the log. */
static int
pam_totp_status(pam_handle_t *pamh, const struct pamb_args *a,
    const char *user, int r)
{
	switch (r) {
	case ERR_OK:
		if (a->debug)
			pam_syslog(pamh, LOG_DEBUG, "code accepted for user "
			    "'%s'", log_safe(user));
		return PAM_SUCCESS;
	case ERR_DENIED:
		pam_syslog(pamh, LOG_NOTICE, "wrong or replayed code for "
		    "user '%s'", log_safe(user));
		tell_user(pamh, a, PAMB_MSG_WRONG);
		return PAM_AUTH_ERR;
	case ERR_LOCKED:
		/* PAM_MAXTRIES makes sshd stop offering more attempts. */
		pam_syslog(pamh, LOG_NOTICE, "user '%s' is locked out after "
		    "wrong codes", log_safe(user));
		tell_user(pamh, a, PAMB_MSG_LOCKED);
		return PAM_MAXTRIES;
	default:
		log_daemon_trouble(pamh, a, "PAM_TOTP", r);
		return PAM_AUTHINFO_UNAVAIL;
	}
}

/* Frees a code the user typed, wiping it first. */
static void
code_free_secret(char *code)
{
	if (code == NULL)
		return;
	explicit_bzero(code, strlen(code));
	free(code);
}

/*
 * Asks the user for a code through the application's conversation (sshd
 * makes it a keyboard-interactive prompt) and has bulwarkd check it. The
 * code never goes into a PAM item: no later module needs it, and an item
 * would outlive this call.
 */
static int
totp_ask_and_check(pam_handle_t *pamh, const struct pamb_args *a,
    struct rpc_client *c, const char *user)
{
	char *code = NULL;
	int pr, r;

	pr = pam_prompt(pamh, PAM_PROMPT_ECHO_OFF, &code, "%s", PAMB_PROMPT);
	if (pr != PAM_SUCCESS || code == NULL) {
		code_free_secret(code);
		return pr != PAM_SUCCESS ? pr : PAM_CONV_ERR;
	}
	r = req_pam_totp(c, code);
	code_free_secret(code);
	return pam_totp_status(pamh, a, user, r);
}

/* ---- ACCOUNT ---- */

static int
account_status(pam_handle_t *pamh, const struct pamb_args *a,
    const char *user, int r)
{
	switch (r) {
	case ERR_OK:
		return PAM_SUCCESS;
	case ERR_NOTFOUND:
		pam_syslog(pamh, LOG_NOTICE, "user '%s' is not known to "
		    "bulwarkd", log_safe(user));
		return PAM_USER_UNKNOWN;
	case ERR_DENIED:
		pam_syslog(pamh, LOG_NOTICE, "bulwarkd does not let user "
		    "'%s' log in now", log_safe(user));
		return PAM_PERM_DENIED;
	default:
		log_daemon_trouble(pamh, a, "ACCOUNT", r);
		return PAM_AUTHINFO_UNAVAIL;
	}
}

/*
 * Set by our auth stage when it passed, read by the account stage in the
 * same PAM handle (sshd runs both in its keyboard-interactive process).
 * Without it, sshd accepted a key alone, and bulwarkd decides whether
 * that is two factors. SSH_AUTH_INFO_0 cannot tell: sshd's monitor adds
 * a method to it only after the account step. Only a module in this
 * process can set PAM data.
 */
#define FACTORS_KEY	"pam_bulwark_factors"

static void
factors_cleanup(pam_handle_t *pamh, void *data, int error_status)
{
	(void)pamh;
	(void)error_status;
	free(data);
}

/* Records that our auth stage passed for user (its name, copied). */
static int
factors_set(pam_handle_t *pamh, const char *user)
{
	char *copy = strdup(user);

	if (copy == NULL)
		return PAM_BUF_ERR;
	if (pam_set_data(pamh, FACTORS_KEY, copy, factors_cleanup) !=
	    PAM_SUCCESS) {
		free(copy);
		return PAM_BUF_ERR;
	}
	return PAM_SUCCESS;
}

/* Whether our auth stage passed in this PAM handle, for this user. */
static int
factors_checked(pam_handle_t *pamh, const char *user)
{
	const void *v = NULL;

	return pam_get_data(pamh, FACTORS_KEY, &v) == PAM_SUCCESS &&
	    v != NULL && strcmp((const char *)v, user) == 0;
}

/*
 * ACCOUNT {USER, RHOST, FACTORS} on a fresh connection: may user log in
 * now? FACTORS when our auth stage passed; a user of the FIDO2 group
 * comes without, having logged in with a key alone (proto.h).
 */
static int
req_account(pam_handle_t *pamh, const struct pamb_args *a, const char *user)
{
	struct rpc_client *c = NULL;
	struct wire_builder *b = NULL;
	struct rpc_response *resp = NULL;
	int r, pr;

	if ((pr = daemon_connect(pamh, a, &c)) != PAM_SUCCESS)
		goto out;
	if ((r = wire_builder_new(PROTO_ACCOUNT, &b)) != ERR_OK ||
	    (r = wire_put_str(b, P_USER, user)) != ERR_OK ||
	    (r = put_rhost(pamh, a, b)) != ERR_OK ||
	    (factors_checked(pamh, user) &&
	    (r = wire_put_u8(b, P_FACTORS, 1)) != ERR_OK)) {
		pam_syslog(pamh, LOG_ERR, "cannot build ACCOUNT: %s",
		    err_str(r));
		pr = r == ERR_NOMEM ? PAM_BUF_ERR : PAM_SERVICE_ERR;
		goto out;
	}
	r = rpc_client_call(c, b, &resp);
	pr = account_status(pamh, a, user, r);
 out:
	rpc_response_free(resp);
	wire_builder_free(b);
	rpc_client_free(c);
	return pr;
}

/* ---- entry points ---- */

PAMB_EXPORT int
pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc,
    const char **argv)
{
	struct pamb_args a;
	struct rpc_client *c = NULL;
	const char *user = NULL;
	int need_totp = 1;
	int pr;

	if ((pr = args_parse(pamh, flags, argc, argv, &a)) != PAM_SUCCESS)
		return pr;
	if ((pr = user_get(pamh, &user)) != PAM_SUCCESS)
		goto out;
	if ((pr = daemon_connect(pamh, &a, &c)) != PAM_SUCCESS)
		goto out;
	if ((pr = req_pam_start(pamh, &a, c, user, &need_totp)) !=
	    PAM_SUCCESS)
		goto out;
	if (!need_totp) {
		if (a.debug)
			pam_syslog(pamh, LOG_DEBUG, "user '%s': no code "
			    "needed (verified FIDO2 key)", log_safe(user));
		pr = PAM_SUCCESS;
		goto out;
	}
	pr = totp_ask_and_check(pamh, &a, c, user);
 out:
	rpc_client_free(c);
	if (pr == PAM_SUCCESS)
		pr = factors_set(pamh, user);
	return pr;
}

/*
 * There are no credentials to set, but sshd calls setcred after
 * authentication, and a stack whose modules cannot answer it fails.
 */
PAMB_EXPORT int
pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	(void)pamh;
	(void)flags;
	(void)argc;
	(void)argv;
	return PAM_SUCCESS;
}

PAMB_EXPORT int
pam_sm_acct_mgmt(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	struct pamb_args a;
	const char *user = NULL;
	int pr;

	if ((pr = args_parse(pamh, flags, argc, argv, &a)) != PAM_SUCCESS)
		return pr;
	if ((pr = user_get(pamh, &user)) != PAM_SUCCESS)
		return pr;
	return req_account(pamh, &a, user);
}

/*
 * The session step marks the start and end of the SSH connection: sshd
 * runs it in its monitor, the process that lives as long as the
 * connection. bulwarkd records that process as a live login
 * (LOGIN_OPEN) and lets only shells that sshd starts under it open
 * sessions (daemon/login.c). The login's id stays in the PAM handle for
 * close_session; a login whose monitor dies without it ends by itself.
 */
#define LOGIN_KEY	"pam_bulwark_login"

static void
login_cleanup(pam_handle_t *pamh, void *data, int error_status)
{
	(void)pamh;
	(void)error_status;
	free(data);
}

/* LOGIN_OPEN or LOGIN_CLOSE on a fresh connection; *id in and out. */
static int
req_login(pam_handle_t *pamh, const struct pamb_args *a, unsigned type,
    const char *user, uint64_t *id)
{
	const char *name = type == PROTO_LOGIN_OPEN ? "LOGIN_OPEN" :
	    "LOGIN_CLOSE";
	struct rpc_client *c = NULL;
	struct wire_builder *b = NULL;
	struct rpc_response *resp = NULL;
	int r, pr = PAM_SESSION_ERR;

	if (daemon_connect(pamh, a, &c) != PAM_SUCCESS)
		goto out;
	if ((r = wire_builder_new((uint16_t)type, &b)) != ERR_OK ||
	    (type == PROTO_LOGIN_OPEN &&
	    ((r = wire_put_str(b, P_USER, user)) != ERR_OK ||
	    (r = put_rhost(pamh, a, b)) != ERR_OK)) ||
	    (type == PROTO_LOGIN_CLOSE &&
	    (r = wire_put_u64(b, P_LOGIN_ID, *id)) != ERR_OK)) {
		pam_syslog(pamh, LOG_ERR, "cannot build %s: %s", name,
		    err_str(r));
		pr = r == ERR_NOMEM ? PAM_BUF_ERR : PAM_SESSION_ERR;
		goto out;
	}
	if ((r = rpc_client_call(c, b, &resp)) != ERR_OK) {
		if (r == ERR_DENIED)
			pam_syslog(pamh, LOG_NOTICE, "bulwarkd does not let "
			    "user '%s' log in now", log_safe(user));
		else
			log_daemon_trouble(pamh, a, name, r);
		goto out;
	}
	if (type == PROTO_LOGIN_OPEN &&
	    wire_get_u64(&resp->msg, P_LOGIN_ID, id) != ERR_OK) {
		log_daemon_trouble(pamh, a, name, ERR_FORMAT);
		goto out;
	}
	pr = PAM_SUCCESS;
 out:
	rpc_response_free(resp);
	wire_builder_free(b);
	rpc_client_free(c);
	return pr;
}

PAMB_EXPORT int
pam_sm_open_session(pam_handle_t *pamh, int flags, int argc,
    const char **argv)
{
	struct pamb_args a;
	const char *user = NULL;
	uint64_t *id;
	int pr;

	if ((pr = args_parse(pamh, flags, argc, argv, &a)) != PAM_SUCCESS)
		return pr;
	if ((pr = user_get(pamh, &user)) != PAM_SUCCESS)
		return pr;
	if ((id = calloc(1, sizeof(*id))) == NULL)
		return PAM_BUF_ERR;
	/* Without a recorded login no shell could open a session. */
	if ((pr = req_login(pamh, &a, PROTO_LOGIN_OPEN, user, id)) !=
	    PAM_SUCCESS) {
		free(id);
		return pr;
	}
	if (pam_set_data(pamh, LOGIN_KEY, id, login_cleanup) != PAM_SUCCESS) {
		free(id);
		return PAM_BUF_ERR;
	}
	if (a.debug)
		pam_syslog(pamh, LOG_DEBUG, "user '%s': login %llu opened",
		    log_safe(user), (unsigned long long)*id);
	return PAM_SUCCESS;
}

PAMB_EXPORT int
pam_sm_close_session(pam_handle_t *pamh, int flags, int argc,
    const char **argv)
{
	struct pamb_args a;
	const void *v = NULL;
	uint64_t id;
	int pr;

	if ((pr = args_parse(pamh, flags, argc, argv, &a)) != PAM_SUCCESS)
		return pr;
	if (pam_get_data(pamh, LOGIN_KEY, &v) != PAM_SUCCESS || v == NULL)
		return PAM_SUCCESS;	/* opened elsewhere, or never */
	id = *(const uint64_t *)v;
	/*
	 * A failure here is logged and does not fail the logout: bulwarkd
	 * ends the login by itself once this process is gone.
	 */
	if (req_login(pamh, &a, PROTO_LOGIN_CLOSE, NULL, &id) == PAM_SUCCESS)
		(void)pam_set_data(pamh, LOGIN_KEY, NULL, NULL);
	return PAM_SUCCESS;
}
