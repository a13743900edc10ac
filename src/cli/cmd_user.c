/*
 * cmd_user.c - bulwark user: gateway users (one Unix account each, whose
 * login shell is bulwark-shell), their SSH keys and TOTP factor.
 *
 *   user add NAME --key FILE [--role ROLE] [--shell PATH]
 *            [--no-account --uid N]
 *   user mfa enroll|unlock NAME
 *   user key add NAME FILE | key list NAME | key del NAME FINGERPRINT
 *   user list | show NAME | disable NAME | enable NAME
 *   user del NAME [--keep-account]
 *
 * Every subcommand takes --socket/-S PATH.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "auth/otpauth.h"
#include "auth/sshkey.h"
#include "auth/totp.h"
#include "cli/cli.h"
#include "cli/gwclient.h"
#include "gateway/proto.h"
#include "store/db.h"
#include "common/banned.h"

/* The comment useradd puts on accounts we create; userdel trusts it. */
#define ACCOUNT_COMMENT "Bulwark gateway user"
#define DEFAULT_SHELL "/usr/local/bin/bulwark-shell"

#define USAGE_ADD "usage: bulwark user add NAME --key FILE [--role ROLE] " \
	"[--shell PATH] [--no-account --uid N]"

/* Options every subcommand shares, parsed with its own. */
static const char *sockopt;

static int
bad_user(const char *name)
{
	cli_error("'%s' is not a valid user name: use 1 to 32 of a-z, 0-9, "
	    "'_' and '-', starting with a letter or '_'", name);
	return 2;
}

/*
 * Reads the public key in path: its first line that is not empty or a
 * comment. Key types sshkey_line_any knows get their fingerprint in fp
 * (else fp is ""); other lines go to bulwarkd as they are, which decides.
 * Prints the error and returns non-zero on failure.
 */
static int
read_key(const char *path, char **linep, char fp[SSHKEY_FP_MAX],
    char type[SSHKEY_TYPE_MAX])
{
	char *line = NULL;
	size_t canon;
	int r;

	*linep = NULL;
	fp[0] = type[0] = '\0';
	r = gw_read_first_line(path, PROTO_LINE_MAX, &line);
	if (r == ERR_TOOBIG) {
		cli_error("the key in '%s' is longer than %d bytes; pass one "
		    "OpenSSH public key line", path, PROTO_LINE_MAX);
		return 1;
	}
	if (r != ERR_OK) {
		if (errno != 0)
			cli_error("cannot read key file '%s': %s", path,
			    strerror(errno));
		else
			cli_error("'%s' holds no public key line; pass a .pub "
			    "file (ssh-keygen -t ed25519 writes one)", path);
		return 1;
	}
	if (strncmp(line, "-----BEGIN", 10) == 0) {
		cli_error("'%s' is a private key; pass the public key "
		    "(%s.pub) and keep this file to yourself", path, path);
		free(line);
		return 1;
	}
	for (const char *p = line; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			cli_error("the key line in '%s' holds control "
			    "characters; pass an OpenSSH public key line",
			    path);
			free(line);
			return 1;
		}
	}
	if (sshkey_line_any(line, strlen(line), type, fp, &canon) != ERR_OK)
		fp[0] = type[0] = '\0';
	*linep = line;
	return 0;
}

static int
key_refused(int st, const char *user, const char *path)
{
	if (st == ERR_FORMAT || st == ERR_INVAL || st == ERR_UNSUPPORTED)
		return gw_fail(st, "bulwarkd refused the key in '%s' for '%s' "
		    "(want one OpenSSH public key line: ssh-ed25519, "
		    "sk-ssh-ed25519@openssh.com, ecdsa-sha2-*, "
		    "sk-ecdsa-sha2-nistp256@openssh.com or ssh-rsa, without "
		    "options)", path, user);
	if (st == ERR_EXISTS)
		return gw_say("the key in '%s' is already registered "
		    "(to '%s' or another user); each key belongs to one user",
		    path, user);
	if (st == ERR_NOTFOUND)
		return gw_say("no user '%s'; 'bulwark user list' shows "
		    "them", user);
	return gw_fail(st, "cannot add the key in '%s' for '%s'", path, user);
}

/*
 * Sends a request with just USER (and an optional u32 STATE); returns
 * the exit status and hands the response over in *respp when asked.
 */
static int
simple(uint16_t type, const char *user, int with_state, uint32_t state,
    struct rpc_response **respp, int *stp)
{
	struct wire_builder *b = NULL;
	struct rpc_response *resp = NULL;
	int st = ERR_INTERNAL, rc = 1;

	if (respp != NULL)
		*respp = NULL;
	if (wire_builder_new(type, &b) != ERR_OK ||
	    (user != NULL && wire_put_str(b, P_USER, user) != ERR_OK) ||
	    (with_state && wire_put_u32(b, P_STATE, state) != ERR_OK)) {
		cli_error("cannot build the request");
		goto out;
	}
	if (gw_call(gw_socket_path(sockopt), b, &resp, &st) != 0)
		goto out;
	rc = 0;
	if (respp != NULL) {
		*respp = resp;
		resp = NULL;
	}
 out:
	*stp = st;
	rpc_response_free(resp);
	wire_builder_free(b);
	return rc;
}

/* Where bulwark-shell is: next to this binary, else DEFAULT_SHELL. */
static void
default_shell(char *buf, size_t len)
{
	static const char name[] = "/bulwark-shell";
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;
	size_t dlen;

	snprintf(buf, len, "%s", DEFAULT_SHELL);
	if (n <= 0)
		return;
	self[n] = '\0';
	if ((slash = strrchr(self, '/')) == NULL)
		return;
	dlen = (size_t)(slash - self);
	if (dlen + sizeof(name) > sizeof(self))
		return;
	memcpy(slash, name, sizeof(name));	/* self is now the candidate */
	if (access(self, X_OK) == 0 && dlen + sizeof(name) <= len)
		memcpy(buf, self, dlen + sizeof(name));
}

static int
remove_account(const char *name)
{
	char *argv[] = { "/usr/sbin/userdel", "-r", (char *)name, NULL };
	int st;

	if (gw_run(argv, 60, NULL, &st) != ERR_OK || (st != 0 && st != 12)) {
		/* 12: the home directory could not be removed (e.g. gone). */
		cli_error("could not remove the Unix account '%s'; remove it "
		    "with: userdel -r %s", name, name);
		return 1;
	}
	return 0;
}

static int
user_add(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 'S' },
		{ "key", required_argument, NULL, 'k' },
		{ "role", required_argument, NULL, 'r' },
		{ "shell", required_argument, NULL, 's' },
		{ "no-account", no_argument, NULL, 'N' },
		{ "uid", required_argument, NULL, 'u' },
		{ NULL, 0, NULL, 0 },
	};
	const char *name, *keyfile = NULL, *role = "admin", *shell = NULL;
	const char *uidarg = NULL;
	char shellbuf[PATH_MAX], fp[SSHKEY_FP_MAX], type[SSHKEY_TYPE_MAX];
	char *key = NULL;
	struct wire_builder *b = NULL;
	struct rpc_response *resp = NULL;
	struct passwd *pw;
	uint32_t uid = 0;
	int c, st, no_account = 0, created = 0, rc = 1;

	optind = 1;
	while ((c = getopt_long(argc, argv, "S:k:r:s:Nu:", opts, NULL)) != -1) {
		switch (c) {
		case 'S': sockopt = optarg; break;
		case 'k': keyfile = optarg; break;
		case 'r': role = optarg; break;
		case 's': shell = optarg; break;
		case 'N': no_account = 1; break;
		case 'u': uidarg = optarg; break;
		default:
			cli_error(USAGE_ADD);
			return 2;
		}
	}
	if (argc - optind != 1 || keyfile == NULL) {
		cli_error(USAGE_ADD);
		return 2;
	}
	name = argv[optind];
	if (!gw_valid_user(name))
		return bad_user(name);
	if (!gw_valid_name(role)) {
		cli_error("'%s' is not a valid role: use letters, digits, "
		    "'.', '_' and '-'", role);
		return 2;
	}
	if (no_account != (uidarg != NULL)) {
		cli_error("--no-account and --uid go together: --no-account "
		    "--uid N enrols uid N without creating an account");
		return 2;
	}
	if (uidarg != NULL && gw_parse_u32(uidarg, 1, 0xfffffffe, &uid) !=
	    ERR_OK) {
		cli_error("--uid wants a number from 1 to 4294967294, not '%s'",
		    uidarg);
		return 2;
	}
	if (shell == NULL) {
		default_shell(shellbuf, sizeof(shellbuf));
		shell = shellbuf;
	}
	if (!gw_valid_path(shell)) {
		cli_error("--shell wants an absolute path of letters, digits "
		    "and '/._+-', not '%s'", shell);
		return 2;
	}
	if (read_key(keyfile, &key, fp, type) != 0)
		return 1;

	/*
	 * Ask bulwarkd first, so that we do not create an account it will
	 * refuse (not running, not root, the name taken).
	 */
	if (simple(PROTO_USER_LIST, name, 0, 0, &resp, &st) != 0)
		goto out;
	if (st == ERR_OK) {
		char *text = gw_resp_str(resp, P_TEXT);
		int exists = text != NULL && *text != '\0';

		free(text);
		if (exists) {
			cli_error("user '%s' already exists; 'bulwark user show "
			    "%s' shows it, 'bulwark user key add' adds a key",
			    name, name);
			goto out;
		}
	} else if (st != ERR_NOTFOUND) {
		gw_fail(st, "cannot add user '%s'", name);
		goto out;
	}
	rpc_response_free(resp);
	resp = NULL;

	if (!no_account) {
		if (geteuid() != 0) {
			cli_error("creating the Unix account '%s' needs root; "
			    "run it with sudo", name);
			goto out;
		}
		if (getpwnam(name) != NULL) {
			cli_error("a Unix account '%s' already exists; to enrol "
			    "it as it is, pass --no-account --uid %u", name,
			    (unsigned)getpwnam(name)->pw_uid);
			goto out;
		}
		if (access(shell, X_OK) != 0)
			fprintf(stderr, "bulwark: warning: shell '%s' is not "
			    "executable yet; '%s' cannot log in until it is "
			    "(or pass --shell)\n", shell, name);
		{
			char *args[] = { "/usr/sbin/useradd", "--create-home",
			    "--shell", (char *)shell, "--comment",
			    ACCOUNT_COMMENT, (char *)name, NULL };
			int ust, r = gw_run(args, 60, NULL, &ust);

			if (r != ERR_OK || ust != 0) {
				cli_error("useradd could not create the Unix "
				    "account '%s' (%s); see its message above",
				    name, r != ERR_OK ? strerror(errno) :
				    "it failed");
				goto out;
			}
		}
		created = 1;
		if ((pw = getpwnam(name)) == NULL) {
			cli_error("useradd succeeded but '%s' has no passwd "
			    "entry", name);
			goto undo;
		}
		uid = (uint32_t)pw->pw_uid;
		printf("created Unix account '%s' (uid %u, shell %s)\n", name,
		    (unsigned)uid, shell);
	}

	if (wire_builder_new(PROTO_USER_ADD, &b) != ERR_OK ||
	    wire_put_str(b, P_USER, name) != ERR_OK ||
	    wire_put_u32(b, P_UID, uid) != ERR_OK ||
	    wire_put_str(b, P_ROLE, role) != ERR_OK ||
	    wire_put_str(b, P_KEY, key) != ERR_OK) {
		cli_error("cannot build the request for '%s'", name);
		goto undo;
	}
	if (gw_call(gw_socket_path(sockopt), b, &resp, &st) != 0)
		goto undo;
	if (st != ERR_OK) {
		if (st == ERR_EXISTS)
			gw_say("cannot add user '%s': the name, uid %u or "
			    "key is already taken", name, (unsigned)uid);
		else if (st == ERR_FORMAT || st == ERR_INVAL ||
		    st == ERR_UNSUPPORTED)
			key_refused(st, name, keyfile);
		else
			gw_fail(st, "cannot add user '%s'", name);
		goto undo;
	}
	printf("added user '%s' (uid %u, role %s, key %s)\n", name,
	    (unsigned)uid, role, fp[0] != '\0' ? fp : "as given");
	if (sshkey_type_is_sk(type)) {
		/* Enrolled either way: a failure here only costs the
		 * keyboard-interactive step, which passes for this key. */
		(void)gw_fido2_member(gw_socket_path(sockopt), name, 1);
		printf("the FIDO2 key is both factors; 'bulwark user mfa "
		    "enroll %s' adds a code for other keys\n", name);
	} else
		printf("next: bulwark user mfa enroll %s\n", name);
	rc = 0;
	goto out;
 undo:
	if (created && remove_account(name) == 0)
		fprintf(stderr, "bulwark: removed the Unix account '%s' "
		    "again\n", name);
 out:
	free(key);
	rpc_response_free(resp);
	wire_builder_free(b);
	return rc;
}

static int
user_key_add(int argc, char **argv)
{
	static const char *usage = "usage: bulwark user key add NAME FILE";
	struct wire_builder *b = NULL;
	struct rpc_response *resp = NULL;
	char fp[SSHKEY_FP_MAX], type[SSHKEY_TYPE_MAX], *key = NULL;
	const char *name, *file;
	int st, rc = 1;

	if ((rc = gw_socket_only(&sockopt, argc, argv, 2, usage)) != 0)
		return rc;
	rc = 1;
	name = argv[optind];
	file = argv[1 + optind];
	if (!gw_valid_user(name))
		return bad_user(name);
	if (read_key(file, &key, fp, type) != 0)
		return 1;
	/*
	 * A key that is not FIDO2 needs the code: out of the FIDO2 group
	 * before bulwarkd knows the key, so that no moment lets it in
	 * alone (pam_bulwark's account check would refuse it anyway).
	 */
	if (!sshkey_type_is_sk(type) &&
	    gw_fido2_member(gw_socket_path(sockopt), name, 0) != 0)
		goto out;
	if (wire_builder_new(PROTO_USER_KEY_ADD, &b) != ERR_OK ||
	    wire_put_str(b, P_USER, name) != ERR_OK ||
	    wire_put_str(b, P_KEY, key) != ERR_OK) {
		cli_error("cannot build the request for '%s'", name);
		goto out;
	}
	if (gw_call(gw_socket_path(sockopt), b, &resp, &st) != 0)
		goto out;
	if (st != ERR_OK) {
		key_refused(st, name, file);
		goto out;
	}
	printf("added key %s to '%s'\n", fp[0] != '\0' ? fp : "(as given)",
	    name);
	rc = 0;
 out:
	free(key);
	rpc_response_free(resp);
	wire_builder_free(b);
	return rc;
}

/*
 * NAME's keys as USER_KEYS answers them (one "FP\tTYPE\tADDED\tCOMMENT"
 * line each), in *text; the caller frees it. Prints its own errors.
 */
static int
fetch_keys(const char *name, char **text)
{
	struct rpc_response *resp = NULL;
	int st;

	*text = NULL;
	if (simple(PROTO_USER_KEYS, name, 0, 0, &resp, &st) != 0)
		return 1;
	if (st == ERR_OK && (*text = gw_resp_str(resp, P_TEXT)) == NULL)
		st = ERR_FORMAT;
	rpc_response_free(resp);
	if (st == ERR_NOTFOUND)
		return gw_say("no user '%s'; 'bulwark user list' shows them",
		    name);
	if (st != ERR_OK)
		return gw_fail(st, "cannot list the keys of '%s'", name);
	return 0;
}

/*
 * The next line of USER_KEYS text at *cur, split in place into its four
 * fields (f[0] fingerprint, f[1] type, f[2] added, f[3] comment); lines
 * of another shape are skipped. 0 at the end.
 */
static int
next_key(char **cur, char *f[5])
{
	while (**cur != '\0') {
		char *line = *cur, *nl = strchr(line, '\n');

		*cur = nl != NULL ? nl + 1 : line + strlen(line);
		if (nl != NULL)
			*nl = '\0';
		if (gw_split_tabs(line, f, 5) == 4)
			return 1;
	}
	return 0;
}

static int
user_key_list(int argc, char **argv)
{
	static const char *usage = "usage: bulwark user key list NAME";
	char *text = NULL, *cur, *f[5];
	const char *name;
	int rc;

	if ((rc = gw_socket_only(&sockopt, argc, argv, 1, usage)) != 0)
		return rc;
	name = argv[optind];
	if (!gw_valid_user(name))
		return bad_user(name);
	if ((rc = fetch_keys(name, &text)) != 0)
		return rc;
	if (*text == '\0')
		printf("'%s' has no key: 'bulwark user key add %s FILE' adds "
		    "one\n", name, name);
	for (cur = text; next_key(&cur, f);) {
		time_t t = (time_t)strtoll(f[2], NULL, 10);
		char when[32];
		struct tm tm;

		if (gmtime_r(&t, &tm) == NULL ||
		    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
			snprintf(when, sizeof(when), "%s", f[2]);
		printf("%s  %s  added %s%s%s\n", f[0], f[1], when,
		    *f[3] != '\0' ? "  " : "", f[3]);
	}
	free(text);
	return 0;
}

/*
 * Deletes one key. Afterwards the FIDO2 group follows the keys that are
 * left: a user whose remaining keys are all FIDO2 keys joins it (the key
 * alone is both factors again), a user with no key leaves it. Deleting
 * first is the safe order: until the group changes, sshd still asks for
 * the code, and bulwarkd's account check decides from the keys anyway.
 */
static int
user_key_del(int argc, char **argv)
{
	static const char *usage =
	    "usage: bulwark user key del NAME FINGERPRINT";
	struct wire_builder *b = NULL;
	struct rpc_response *resp = NULL;
	const char *name, *fp;
	char *text = NULL, *cur, *f[5];
	size_t n, sk;
	int st, rc;

	if ((rc = gw_socket_only(&sockopt, argc, argv, 2, usage)) != 0)
		return rc;
	rc = 1;
	name = argv[optind];
	fp = argv[1 + optind];
	if (!gw_valid_user(name))
		return bad_user(name);
	if (strncmp(fp, "SHA256:", 7) != 0 || strlen(fp) > PROTO_STR_MAX) {
		cli_error("'%s' is not a key fingerprint: give it as 'bulwark "
		    "user key list %s' shows it (SHA256:...)", fp, name);
		return 2;
	}
	if (wire_builder_new(PROTO_USER_KEY_DEL, &b) != ERR_OK ||
	    wire_put_str(b, P_USER, name) != ERR_OK ||
	    wire_put_str(b, P_FP, fp) != ERR_OK) {
		cli_error("cannot build the request for '%s'", name);
		goto out;
	}
	if (gw_call(gw_socket_path(sockopt), b, &resp, &st) != 0)
		goto out;
	if (st == ERR_NOTFOUND) {
		rc = gw_say("'%s' has no key %s; 'bulwark user key list %s' "
		    "shows its keys", name, fp, name);
		goto out;
	}
	if (st != ERR_OK) {
		rc = gw_fail(st, "cannot delete key %s of '%s'", fp, name);
		goto out;
	}
	printf("deleted key %s of '%s'\n", fp, name);
	rc = 0;
	if (fetch_keys(name, &text) != 0 || getpwnam(name) == NULL)
		goto out;
	for (cur = text, n = sk = 0; next_key(&cur, f); n++)
		sk += sshkey_type_is_sk(f[1]) != 0;
	if (n == 0) {
		printf("'%s' has no key left and cannot log in until 'bulwark "
		    "user key add %s FILE'\n", name, name);
		rc = gw_fido2_member(gw_socket_path(sockopt), name, 0);
	} else if (sk == n) {
		rc = gw_fido2_member(gw_socket_path(sockopt), name, 1);
	}
 out:
	free(text);
	rpc_response_free(resp);
	wire_builder_free(b);
	return rc;
}

static int
user_key(int argc, char **argv)
{
	static const struct gw_sub subs[] = {
		{ "add", user_key_add }, { "list", user_key_list },
		{ "del", user_key_del },
	};

	return gw_dispatch("user key", subs, sizeof(subs) / sizeof(subs[0]),
	    argc, argv);
}

/* Wipes the bytes of field tag inside resp (secrets answered to us). */
static void
wipe_field(struct rpc_response *resp, uint16_t tag)
{
	const struct wire_field *f;

	if (resp != NULL && (f = wire_msg_find(&resp->msg, tag)) != NULL)
		sodium_memzero((void *)(uintptr_t)f->data, f->len);
}

static int
user_mfa(int argc, char **argv)
{
	static const char *usage = "usage: bulwark user mfa enroll|unlock NAME";
	struct rpc_response *resp = NULL;
	char *secret = NULL, *uri = NULL, *qr = NULL;
	const char *name;
	int enroll, st, rc;

	if (argc < 2 || (strcmp(argv[1], "enroll") != 0 &&
	    strcmp(argv[1], "unlock") != 0)) {
		cli_error("%s", usage);
		return 2;
	}
	enroll = strcmp(argv[1], "enroll") == 0;
	if ((rc = gw_socket_only(&sockopt, argc - 1, argv + 1, 1, usage)) != 0)
		return rc;
	name = argv[1 + optind];
	if (!gw_valid_user(name))
		return bad_user(name);
	if (simple(enroll ? PROTO_MFA_ENROLL : PROTO_MFA_UNLOCK, name, 0, 0,
	    &resp, &st) != 0)
		return 1;
	if (st == ERR_NOTFOUND) {
		rc = gw_say("no user '%s'%s; 'bulwark user list' shows "
		    "them", name, enroll ? "" : " (or no factor to unlock)");
		goto out;
	}
	if (st != ERR_OK) {
		rc = gw_fail(st, "cannot %s the second factor of '%s'",
		    enroll ? "enrol" : "unlock", name);
		goto out;
	}
	if (!enroll) {
		printf("unlocked the second factor of '%s': codes are tried "
		    "again\n", name);
		rc = 0;
		goto out;
	}
	secret = gw_resp_str(resp, P_SECRET);
	uri = gw_resp_str(resp, P_TEXT);
	wipe_field(resp, P_SECRET);
	wipe_field(resp, P_TEXT);
	if (secret == NULL || uri == NULL || *secret == '\0' ||
	    strncmp(uri, "otpauth://", 10) != 0) {
		cli_error("bulwarkd's answer for '%s' holds no otpauth URI "
		    "and secret; are bulwark and bulwarkd the same version?",
		    name);
		rc = 1;
		goto out;
	}
	for (const char *p = secret; *p != '\0'; p++) {
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= '2' && *p <= '7') ||
		    *p == '=')) {
			cli_error("bulwarkd answered a secret for '%s' that is "
			    "not base32; refusing to print it", name);
			rc = 1;
			goto out;
		}
	}
	if (otpauth_qr_render_secret(uri, isatty(STDOUT_FILENO) ?
	    OTPAUTH_QR_ANSI : 0, &qr) != ERR_OK)
		qr = NULL;
	printf("TOTP factor of '%s': scan the code or import the URI into an "
	    "authenticator app.\n\n", name);
	printf("%s\n\n", uri);
	if (qr != NULL)
		printf("%s\n", qr);
	else
		printf("(the URI does not fit in a QR code; type the secret "
		    "in instead)\n\n");
	printf("secret (base32): %s\n\n", secret);
	printf("This secret is shown once and cannot be shown again; run "
	    "enroll again to replace it.\n");
	printf("'oathtool --totp -b %s' prints the current code.\n", secret);
	rc = fflush(stdout) == 0 ? 0 : 1;
 out:
	if (secret != NULL)
		totp_str_free_secret(secret);
	if (uri != NULL)
		totp_str_free_secret(uri);
	if (qr != NULL)
		totp_str_free_secret(qr);
	rpc_response_free(resp);
	return rc;
}

static const char *
state_name(const char *s)
{
	if (strcmp(s, "0") == 0)
		return "active";
	if (strcmp(s, "1") == 0)
		return "disabled";
	if (strcmp(s, "2") == 0)
		return "frozen";
	return s;
}

/* Rewrites USER_LIST text with state numbers as words. */
static char *
readable_users(const char *text)
{
	size_t cap = strlen(text) * 2 + 64, len = 0;
	char *out = malloc(cap), *copy = strdup(text), *line, *next;

	if (out == NULL || copy == NULL) {
		free(out);
		free(copy);
		return NULL;
	}
	out[0] = '\0';
	for (line = copy; *line != '\0'; line = next) {
		char *f[8], *nl = strchr(line, '\n');
		size_t n;

		next = nl ? nl + 1 : line + strlen(line);
		if (nl)
			*nl = '\0';
		n = gw_split_tabs(line, f, 8);
		for (size_t i = 0; i < n; i++) {
			const char *v = i == 3 ? state_name(f[i]) : f[i];
			int w = snprintf(out + len, cap - len, "%s%s", v,
			    i + 1 < n ? "\t" : "\n");

			if (w < 0 || (size_t)w >= cap - len)
				break;
			len += (size_t)w;
		}
	}
	free(copy);
	return out;
}

static int
user_list(int argc, char **argv)
{
	static const char *const header[] = {
		"NAME", "UID", "ROLE", "STATE", "KEYS", "MFA",
	};
	struct rpc_response *resp = NULL;
	char *text, *rows;
	int st, rc;

	if ((rc = gw_socket_only(&sockopt, argc, argv, 0, "usage: bulwark user list")) != 0)
		return rc;
	if (simple(PROTO_USER_LIST, NULL, 0, 0, &resp, &st) != 0)
		return 1;
	if (st != ERR_OK)
		return gw_fail(st, "cannot list users");
	text = gw_resp_str(resp, P_TEXT);
	rows = text ? readable_users(text) : NULL;
	if (rows == NULL) {
		cli_error("out of memory");
		rc = 1;
	} else if (*rows == '\0') {
		printf("no users yet; add one with 'bulwark user add NAME "
		    "--key FILE'\n");
	} else
		gw_print_table(rows, header, 6, -1);
	free(rows);
	free(text);
	rpc_response_free(resp);
	return rc;
}

/* user show's "login" line: how sshd lets name in (no line on a
 * gateway without the FIDO2 group). */
static void
show_login(const char *name)
{
	char group[GW_GROUP_MAX];

	switch (gw_fido2_in_group(gw_socket_path(sockopt), name, group)) {
	case 1:
		printf("login   FIDO2 key alone (group %s)\n", group);
		break;
	case 0:
		printf("login   key, then keyboard-interactive (not in group "
		    "%s)\n", group);
		break;
	default:
		break;
	}
}

static int
user_show(int argc, char **argv)
{
	static const char *const label[] = {
		"user", "uid", "role", "state", "keys", "mfa",
	};
	struct rpc_response *resp = NULL;
	char *text = NULL, *f[8];
	const char *name;
	size_t n;
	int st, rc;

	if ((rc = gw_socket_only(&sockopt, argc, argv, 1, "usage: bulwark user show NAME"))
	    != 0)
		return rc;
	name = argv[optind];
	if (!gw_valid_user(name))
		return bad_user(name);
	if (simple(PROTO_USER_LIST, name, 0, 0, &resp, &st) != 0)
		return 1;
	if (st == ERR_OK) {
		text = gw_resp_str(resp, P_TEXT);
		if (text != NULL && *text == '\0')
			st = ERR_NOTFOUND;
	}
	rpc_response_free(resp);
	resp = NULL;
	if (st == ERR_NOTFOUND) {
		free(text);
		return gw_say("no user '%s'; 'bulwark user list' shows "
		    "them", name);
	}
	if (st != ERR_OK || text == NULL) {
		free(text);
		return gw_fail(st, "cannot show user '%s'", name);
	}
	n = gw_split_tabs(text, f, 8);
	for (size_t i = 0; i < n && i < 6; i++)
		printf("%-7s %s\n", label[i], i == 3 ? state_name(f[i]) : f[i]);
	free(text);
	text = NULL;
	show_login(name);

	/* What the user may reach: best effort, the user is shown anyway. */
	if (simple(PROTO_TARGETS, name, 0, 0, &resp, &st) == 0 &&
	    st == ERR_OK && (text = gw_resp_str(resp, P_TEXT)) != NULL) {
		char *line = text, *next;

		if (*line == '\0')
			printf("access  none (no grant for the role matches "
			    "a target's group)\n");
		for (; *line != '\0'; line = next) {
			char *nl = strchr(line, '\n');

			next = nl ? nl + 1 : line + strlen(line);
			if (nl)
				*nl = '\0';
			n = gw_split_tabs(line, f, 8);
			if (n == 3)
				printf("access  %s (group %s, sensitivity %s)\n",
				    f[0], f[1], f[2]);
		}
	}
	free(text);
	rpc_response_free(resp);
	return 0;
}

/*
 * A user who may no longer log in is cut off now, not at the next login:
 * their live logins end, with every session on them.
 */
static int
end_logins(const char *name)
{
	int n = gw_end_logins(gw_socket_path(sockopt), name);

	if (n < 0)
		return 1;
	if (n > 0)
		printf("ended %d live login%s of '%s', with their sessions\n",
		    n, n == 1 ? "" : "s", name);
	return 0;
}

static int
user_state(int argc, char **argv, uint32_t state)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 'S' },
		{ "keep-logins", no_argument, NULL, 'k' },
		{ NULL, 0, NULL, 0 },
	};
	const char *verb = state == DB_USER_ACTIVE ? "enable" : "disable";
	char usage[96];
	const char *name;
	int c, st, keep = 0;

	snprintf(usage, sizeof(usage), "usage: bulwark user %s NAME%s", verb,
	    state == DB_USER_ACTIVE ? "" : " [--keep-logins]");
	optind = 1;
	while ((c = getopt_long(argc, argv, "S:", opts, NULL)) != -1) {
		if (c == 'S') {
			sockopt = optarg;
		} else if (c == 'k' && state != DB_USER_ACTIVE) {
			keep = 1;
		} else {
			cli_error("%s", usage);
			return 2;
		}
	}
	if (argc - optind != 1) {
		cli_error("%s", usage);
		return 2;
	}
	name = argv[optind];
	if (!gw_valid_user(name))
		return bad_user(name);
	if (simple(PROTO_USER_STATE, name, 1, state, NULL, &st) != 0)
		return 1;
	if (st == ERR_NOTFOUND)
		return gw_say("no user '%s'; 'bulwark user list' shows "
		    "them", name);
	if (st != ERR_OK)
		return gw_fail(st, "cannot %s user '%s'", verb, name);
	printf("%s '%s'%s\n", state == DB_USER_ACTIVE ? "enabled" : "disabled",
	    name, state == DB_USER_ACTIVE ? "" :
	    ": it cannot log in until 'bulwark user enable'");
	if (state != DB_USER_ACTIVE && !keep)
		return end_logins(name);
	return 0;
}

static int
user_del(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 'S' },
		{ "keep-account", no_argument, NULL, 'K' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *usage =
	    "usage: bulwark user del NAME [--keep-account]";
	struct passwd *pw;
	const char *name;
	int c, st, keep = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "S:K", opts, NULL)) != -1) {
		switch (c) {
		case 'S': sockopt = optarg; break;
		case 'K': keep = 1; break;
		default:
			cli_error("%s", usage);
			return 2;
		}
	}
	if (argc - optind != 1) {
		cli_error("%s", usage);
		return 2;
	}
	name = argv[optind];
	if (!gw_valid_user(name))
		return bad_user(name);
	/* Before the record goes, and its logins with it. */
	if (end_logins(name) != 0)
		return 1;
	if (simple(PROTO_USER_DEL, name, 0, 0, NULL, &st) != 0)
		return 1;
	if (st == ERR_NOTFOUND)
		return gw_say("no user '%s'; 'bulwark user list' shows "
		    "them", name);
	if (st != ERR_OK)
		return gw_fail(st, "cannot delete user '%s'", name);
	printf("deleted user '%s' from bulwark\n", name);
	if (getpwnam(name) == NULL)
		return 0;
	if (gw_fido2_member(gw_socket_path(sockopt), name, 0) != 0)
		return 1;
	/* getpwnam again: gw_fido2_member reused its static entry. */
	if (keep || (pw = getpwnam(name)) == NULL)
		return 0;
	/*
	 * Only remove accounts that 'user add' made: an account enrolled
	 * with --no-account belongs to someone else.
	 */
	if (pw->pw_gecos == NULL || strcmp(pw->pw_gecos, ACCOUNT_COMMENT) != 0) {
		printf("kept Unix account '%s': bulwark did not create it "
		    "(remove it with 'userdel -r %s' if you mean to)\n", name,
		    name);
		return 0;
	}
	if (geteuid() != 0) {
		cli_error("removing the Unix account '%s' needs root; run "
		    "'sudo userdel -r %s'", name, name);
		return 1;
	}
	if (remove_account(name) != 0)
		return 1;
	printf("removed Unix account '%s' and its home directory\n", name);
	return 0;
}

static int
user_disable(int argc, char **argv)
{
	return user_state(argc, argv, DB_USER_DISABLED);
}

static int
user_enable(int argc, char **argv)
{
	return user_state(argc, argv, DB_USER_ACTIVE);
}

int
cmd_user(int argc, char **argv)
{
	static const struct gw_sub subs[] = {
		{ "add", user_add }, { "mfa", user_mfa }, { "key", user_key },
		{ "list", user_list }, { "show", user_show },
		{ "disable", user_disable }, { "enable", user_enable },
		{ "del", user_del },
	};

	sockopt = NULL;
	return gw_dispatch("user", subs, sizeof(subs) / sizeof(subs[0]),
	    argc, argv);
}
