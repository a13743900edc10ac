/*
 * cmd_target.c - bulwark target: the hosts users reach through the
 * gateway, each with a host key pinned at enrolment (bulwark-shell runs
 * ssh with StrictHostKeyChecking against it), and the script that makes a
 * target's sshd trust the Bulwark user CA.
 *
 *   target add NAME --host H [--port P] [--group G] [--sensitivity 0-3]
 *              [--fingerprint SHA256:... | --host-key FILE]
 *   target rekey NAME [--fingerprint SHA256:... | --host-key FILE]
 *   target list | show NAME | del NAME
 *   target setup-script NAME [--sshd-dir DIR] [--no-reload]
 *
 * A host key is pinned only when the admin vouched for it: it came from a
 * file they gave, or its fingerprint matches one they gave or confirmed
 * at a terminal. A key fetched over the network and nobody looked at is
 * never pinned: that would pin whatever a machine in the middle offers.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/sshkey.h"
#include "cli/cli.h"
#include "cli/gwclient.h"
#include "common/fsutil.h"
#include "gateway/proto.h"
#include "common/banned.h"

#define KEYSCAN "/usr/bin/ssh-keyscan"
#define KEYSCAN_TIMEOUT 10

static const char *sockopt;

/* One target as TARGET_LIST describes it. */
struct target {
	char *line;		/* owns the strings below */
	const char *name, *host, *port, *group, *sens, *fp;
};

static void
target_release(struct target *t)
{
	free(t->line);
	memset(t, 0, sizeof(*t));
}

static int
bad_target(const char *name)
{
	cli_error("'%s' is not a valid target name: use letters, digits, "
	    "'.', '_' and '-' (at most 64)", name);
	return 2;
}

/*
 * Asks bulwarkd for target name. Returns 0 with *t filled, or prints why
 * not and returns 1.
 */
static int
target_get(const char *name, struct target *t)
{
	struct wire_builder *b = NULL;
	struct rpc_response *resp = NULL;
	char *f[8];
	int st, rc = 1;

	memset(t, 0, sizeof(*t));
	if (wire_builder_new(PROTO_TARGET_LIST, &b) != ERR_OK ||
	    wire_put_str(b, P_TARGET, name) != ERR_OK) {
		cli_error("cannot build the request");
		goto out;
	}
	if (gw_call(gw_socket_path(sockopt), b, &resp, &st) != 0)
		goto out;
	if (st == ERR_OK) {
		t->line = gw_resp_str(resp, P_TEXT);
		if (t->line == NULL || *t->line == '\0')
			st = ERR_NOTFOUND;
	}
	if (st == ERR_NOTFOUND) {
		gw_say("no target '%s'; 'bulwark target list' shows them",
		    name);
		goto out;
	}
	if (st != ERR_OK) {
		gw_fail(st, "cannot look up target '%s'", name);
		goto out;
	}
	/* One line is asked for; ignore anything after it. */
	t->line[strcspn(t->line, "\n")] = '\0';
	if (gw_split_tabs(t->line, f, 8) != 6) {
		cli_error("bulwarkd described target '%s' in an unknown form; "
		    "are bulwark and bulwarkd the same version?", name);
		goto out;
	}
	t->name = f[0];
	t->host = f[1];
	t->port = f[2];
	t->group = f[3];
	t->sens = f[4];
	t->fp = f[5];
	rc = 0;
 out:
	if (rc != 0)
		target_release(t);
	rpc_response_free(resp);
	wire_builder_free(b);
	return rc;
}

static int
is_key_type(const char *s)
{
	return strncmp(s, "ssh-", 4) == 0 || strncmp(s, "ecdsa-", 6) == 0 ||
	    strncmp(s, "sk-", 3) == 0 || strncmp(s, "rsa-", 4) == 0;
}

/*
 * Finds the ssh-ed25519 key in text: lines "TYPE BASE64 [comment]" (a
 * .pub file) or "HOST TYPE BASE64 [comment]" (known_hosts, ssh-keyscan).
 * *line gets "ssh-ed25519 BASE64" and *pub the key. what names the source
 * in messages. Prints the error and returns 1 on failure.
 */
static int
find_hostkey(const char *text, const char *what, char **linep,
    struct sshkey_pub *pub)
{
	char *copy = strdup(text), *line, *next, *save = NULL;
	int other = 0, failed = 0, rc = 1;

	*linep = NULL;
	if (copy == NULL) {
		cli_error("out of memory");
		return 1;
	}
	for (line = copy; *line != '\0' && rc != 0 && !failed; line = next) {
		char *tok[4], *p = line, *nl = strchr(line, '\n');
		size_t n = 0, len;

		next = nl ? nl + 1 : line + strlen(line);
		if (nl)
			*nl = '\0';
		if (*line == '#' || *line == '@')
			continue;
		/* Split on blanks; a comment may hold more words. */
		while (n < 4) {
			while (*p == ' ' || *p == '\t' || *p == '\r')
				*p++ = '\0';
			if (*p == '\0')
				break;
			tok[n++] = p;
			while (*p != '\0' && *p != ' ' && *p != '\t' &&
			    *p != '\r')
				p++;
		}
		if (n < 2)
			continue;
		if (!is_key_type(tok[0])) {
			if (n < 3)
				continue;
			tok[0] = tok[1];
			tok[1] = tok[2];
		}
		if (strcmp(tok[0], SSHKEY_ED25519_NAME) != 0) {
			if (is_key_type(tok[0]))
				other = 1;
			continue;
		}
		len = strlen(tok[0]) + 1 + strlen(tok[1]) + 1;
		if ((save = malloc(len)) == NULL) {
			cli_error("out of memory");
			failed = 1;
			break;
		}
		snprintf(save, len, "%s %s", tok[0], tok[1]);
		if (sshkey_pub_parse(save, strlen(save), pub, NULL) != ERR_OK) {
			cli_error("the ssh-ed25519 key in %s is malformed",
			    what);
			free(save);
			save = NULL;
			failed = 1;
			break;
		}
		*linep = save;
		save = NULL;
		rc = 0;
	}
	if (rc != 0 && !failed) {
		if (other)
			cli_error("%s holds no ssh-ed25519 key, only other "
			    "types; Bulwark pins ssh-ed25519 host keys (the "
			    "target's /etc/ssh/ssh_host_ed25519_key.pub)", what);
		else
			cli_error("%s holds no host key line (want 'ssh-ed25519 "
			    "BASE64' or 'HOST ssh-ed25519 BASE64')", what);
	}
	free(copy);
	return rc;
}

/*
 * Gets the host key to pin for target name at host:port (see the comment
 * at the top). Returns 0 with *linep ("ssh-ed25519 BASE64", malloc'd)
 * and fp, or prints why not and returns 1.
 */
static int
hostkey_obtain(const char *name, const char *host, const char *port,
    const char *want_fp, const char *keyfile, char **linep,
    char fp[SSHKEY_FP_MAX])
{
	struct sshkey_pub pub;
	char *text = NULL, what[512];
	int rc = 1;

	*linep = NULL;
	if (keyfile == NULL && want_fp == NULL && !isatty(STDIN_FILENO)) {
		/* Nobody could confirm what ssh-keyscan would fetch. */
		cli_error("not pinning an unverified host key; pass "
		    "--fingerprint SHA256:... (from the target: ssh-keygen -lf "
		    "/etc/ssh/ssh_host_ed25519_key.pub)");
		return 1;
	}
	if (keyfile != NULL) {
		size_t len;
		int r = fs_read_file(keyfile, 64 * 1024, &text, &len);

		if (r == ERR_TOOBIG) {
			cli_error("'%s' is too large for a host key file",
			    keyfile);
			return 1;
		}
		if (r != ERR_OK) {
			cli_error("cannot read host key file '%s': %s",
			    keyfile, r == ERR_NOTFOUND ? "no such file" :
			    strerror(errno));
			return 1;
		}
		snprintf(what, sizeof(what), "'%s'", keyfile);
	} else {
		char *argv[] = { KEYSCAN, "-T", "10", "-t", "ed25519",
		    "-p", (char *)port, (char *)host, NULL };
		int st, r;

		fprintf(stderr, "fetching the host key of %s port %s with "
		    "ssh-keyscan...\n", host, port);
		r = gw_run(argv, KEYSCAN_TIMEOUT, &text, &st);
		if (r == ERR_NETWORK) {
			cli_error("ssh-keyscan got no answer from %s port %s "
			    "in %d s; check the address, or pass --host-key "
			    "FILE", host, port, KEYSCAN_TIMEOUT);
			return 1;
		}
		if (r != ERR_OK) {
			cli_error("cannot run %s: %s; install openssh-client "
			    "or pass --host-key FILE", KEYSCAN,
			    strerror(errno));
			return 1;
		}
		if (text == NULL || *text == '\0') {
			cli_error("%s port %s offered no ssh-ed25519 host key; "
			    "is sshd running there? (or pass --host-key FILE)",
			    host, port);
			free(text);
			return 1;
		}
		snprintf(what, sizeof(what), "the answer of %s port %s", host,
		    port);
	}
	if (find_hostkey(text, what, linep, &pub) != 0)
		goto out;
	sshkey_fingerprint(&pub, fp);
	if (want_fp != NULL) {
		if (strcmp(want_fp, fp) != 0) {
			cli_error("host key of '%s' does not match: %s has "
			    "%s, but --fingerprint says %s; not pinning it. "
			    "Check the key on the target (ssh-keygen -lf "
			    "/etc/ssh/ssh_host_ed25519_key.pub): a different "
			    "one may mean someone is in the middle", name,
			    what, fp, want_fp);
			goto out;
		}
		fprintf(stderr, "host key %s matches --fingerprint\n", fp);
	} else if (keyfile != NULL) {
		fprintf(stderr, "host key %s from %s\n", fp, what);
	} else {
		char answer[16];

		fprintf(stderr, "%s (%s port %s) offers host key ssh-ed25519 "
		    "%s\n", name, host, port, fp);
		fprintf(stderr, "Compare it with the target's own: ssh-keygen "
		    "-lf /etc/ssh/ssh_host_ed25519_key.pub\n");
		fprintf(stderr, "Pin this host key for %s? [y/N] ", name);
		fflush(stderr);
		if (fgets(answer, sizeof(answer), stdin) == NULL ||
		    (strcmp(answer, "y\n") != 0 && strcmp(answer, "Y\n") != 0 &&
		    strcmp(answer, "yes\n") != 0)) {
			cli_error("not pinned; nothing changed");
			goto out;
		}
	}
	rc = 0;
 out:
	if (rc != 0) {
		free(*linep);
		*linep = NULL;
	}
	free(text);
	return rc;
}

static int
check_fp_arg(const char *fp)
{
	if (fp != NULL && (strncmp(fp, "SHA256:", 7) != 0 ||
	    strlen(fp) != 7 + 43)) {
		cli_error("--fingerprint wants 'SHA256:' and 43 base64 "
		    "characters, as ssh-keygen -lf prints it, not '%s'", fp);
		return 2;
	}
	return 0;
}

#define USAGE_ADD "usage: bulwark target add NAME --host H [--port P] " \
	"[--group G] [--sensitivity 0-3] [--fingerprint SHA256:... | " \
	"--host-key FILE]"

static int
target_add(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 'S' },
		{ "host", required_argument, NULL, 'H' },
		{ "port", required_argument, NULL, 'p' },
		{ "group", required_argument, NULL, 'g' },
		{ "sensitivity", required_argument, NULL, 's' },
		{ "fingerprint", required_argument, NULL, 'f' },
		{ "host-key", required_argument, NULL, 'k' },
		{ NULL, 0, NULL, 0 },
	};
	const char *name, *host = NULL, *portarg = "22", *group = "default";
	const char *sensarg = "1", *want_fp = NULL, *keyfile = NULL;
	struct wire_builder *b = NULL;
	struct rpc_response *resp = NULL;
	char fp[SSHKEY_FP_MAX], *key = NULL, portbuf[16];
	uint32_t port, sens;
	int c, st, rc = 1;

	optind = 1;
	while ((c = getopt_long(argc, argv, "S:H:p:g:s:f:k:", opts, NULL)) !=
	    -1) {
		switch (c) {
		case 'S': sockopt = optarg; break;
		case 'H': host = optarg; break;
		case 'p': portarg = optarg; break;
		case 'g': group = optarg; break;
		case 's': sensarg = optarg; break;
		case 'f': want_fp = optarg; break;
		case 'k': keyfile = optarg; break;
		default:
			cli_error(USAGE_ADD);
			return 2;
		}
	}
	if (argc - optind != 1 || host == NULL) {
		cli_error(USAGE_ADD);
		return 2;
	}
	name = argv[optind];
	if (!gw_valid_name(name))
		return bad_target(name);
	if (!gw_valid_host(host)) {
		cli_error("'%s' is not a host name or address", host);
		return 2;
	}
	if (!gw_valid_name(group)) {
		cli_error("'%s' is not a valid group: use letters, digits, "
		    "'.', '_' and '-'", group);
		return 2;
	}
	if (gw_parse_u32(portarg, 1, 65535, &port) != ERR_OK) {
		cli_error("--port wants a number from 1 to 65535, not '%s'",
		    portarg);
		return 2;
	}
	if (gw_parse_u32(sensarg, 0, 3, &sens) != ERR_OK) {
		cli_error("--sensitivity wants 0 (routine), 1 (important), 2 "
		    "(sensitive) or 3 (critical), not '%s'", sensarg);
		return 2;
	}
	if (check_fp_arg(want_fp) != 0)
		return 2;
	snprintf(portbuf, sizeof(portbuf), "%u", (unsigned)port);
	if (hostkey_obtain(name, host, portbuf, want_fp, keyfile, &key, fp) != 0)
		return 1;
	if (wire_builder_new(PROTO_TARGET_ADD, &b) != ERR_OK ||
	    wire_put_str(b, P_TARGET, name) != ERR_OK ||
	    wire_put_str(b, P_HOST, host) != ERR_OK ||
	    wire_put_u32(b, P_PORT, port) != ERR_OK ||
	    wire_put_str(b, P_GROUP, group) != ERR_OK ||
	    wire_put_u32(b, P_SENS, sens) != ERR_OK ||
	    wire_put_str(b, P_HOSTKEY, key) != ERR_OK) {
		cli_error("cannot build the request");
		goto out;
	}
	if (gw_call(gw_socket_path(sockopt), b, &resp, &st) != 0)
		goto out;
	if (st == ERR_EXISTS) {
		gw_say("cannot add target '%s' (the name or the host key "
		    "is taken; 'bulwark target rekey %s' changes a key)", name,
		    name);
		goto out;
	}
	if (st != ERR_OK) {
		gw_fail(st, "cannot add target '%s'", name);
		goto out;
	}
	printf("added target '%s' (%s port %u, group %s, sensitivity %u, "
	    "host key %s)\n", name, host, (unsigned)port, group,
	    (unsigned)sens, fp);
	printf("next: 'bulwark grant add ROLE %s LOGIN', then run the output "
	    "of 'bulwark target setup-script %s' as root on the target\n",
	    group, name);
	rc = 0;
 out:
	free(key);
	rpc_response_free(resp);
	wire_builder_free(b);
	return rc;
}

static int
target_rekey(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 'S' },
		{ "fingerprint", required_argument, NULL, 'f' },
		{ "host-key", required_argument, NULL, 'k' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *usage = "usage: bulwark target rekey NAME "
	    "[--fingerprint SHA256:... | --host-key FILE]";
	const char *name, *want_fp = NULL, *keyfile = NULL;
	struct wire_builder *b = NULL;
	struct rpc_response *resp = NULL;
	struct target t;
	char fp[SSHKEY_FP_MAX], *key = NULL;
	uint32_t port;
	int c, st, rc = 1;

	optind = 1;
	while ((c = getopt_long(argc, argv, "S:f:k:", opts, NULL)) != -1) {
		switch (c) {
		case 'S': sockopt = optarg; break;
		case 'f': want_fp = optarg; break;
		case 'k': keyfile = optarg; break;
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
	if (!gw_valid_name(name))
		return bad_target(name);
	if (check_fp_arg(want_fp) != 0)
		return 2;
	if (target_get(name, &t) != 0)
		return 1;
	if (!gw_valid_host(t.host) ||
	    gw_parse_u32(t.port, 1, 65535, &port) != ERR_OK) {
		cli_error("bulwarkd holds an odd address for '%s'", name);
		goto out;
	}
	if (hostkey_obtain(name, t.host, t.port, want_fp, keyfile, &key, fp) !=
	    0)
		goto out;
	if (strcmp(fp, t.fp) == 0) {
		printf("kept host key of '%s': it is already %s\n", name, fp);
		rc = 0;
		goto out;
	}
	if (wire_builder_new(PROTO_TARGET_REKEY, &b) != ERR_OK ||
	    wire_put_str(b, P_TARGET, name) != ERR_OK ||
	    wire_put_str(b, P_HOSTKEY, key) != ERR_OK) {
		cli_error("cannot build the request");
		goto out;
	}
	if (gw_call(gw_socket_path(sockopt), b, &resp, &st) != 0)
		goto out;
	if (st != ERR_OK) {
		gw_fail(st, "cannot change the host key of '%s'", name);
		goto out;
	}
	printf("host key of '%s' changed from %s to %s\n", name, t.fp, fp);
	rc = 0;
 out:
	free(key);
	target_release(&t);
	rpc_response_free(resp);
	wire_builder_free(b);
	return rc;
}

/* Sends a request with just TARGET (or nothing) and returns its TEXT. */
static int
text_request(uint16_t type, const char *target, char **textp, int *stp)
{
	struct wire_builder *b = NULL;
	struct rpc_response *resp = NULL;
	int rc = 1;

	*textp = NULL;
	*stp = ERR_INTERNAL;
	if (wire_builder_new(type, &b) != ERR_OK || (target != NULL &&
	    wire_put_str(b, P_TARGET, target) != ERR_OK)) {
		cli_error("cannot build the request");
		goto out;
	}
	if (gw_call(gw_socket_path(sockopt), b, &resp, stp) != 0)
		goto out;
	if (*stp == ERR_OK && (*textp = gw_resp_str(resp, P_TEXT)) == NULL) {
		cli_error("out of memory");
		goto out;
	}
	rc = 0;
 out:
	rpc_response_free(resp);
	wire_builder_free(b);
	return rc;
}

static int
target_list(int argc, char **argv)
{
	static const char *const header[] = {
		"NAME", "HOST", "PORT", "GROUP", "SENS", "HOST KEY",
	};
	char *text;
	int st, rc;

	if ((rc = gw_socket_only(&sockopt, argc, argv, 0, "usage: bulwark target list")) !=
	    0)
		return rc;
	if (text_request(PROTO_TARGET_LIST, NULL, &text, &st) != 0)
		return 1;
	if (st != ERR_OK)
		return gw_fail(st, "cannot list targets");
	if (*text == '\0')
		printf("no targets yet; add one with 'bulwark target add NAME "
		    "--host H --fingerprint SHA256:...'\n");
	else
		gw_print_table(text, header, 6, -1);
	free(text);
	return 0;
}

/* The logins granted on group, from GRANT_LIST: "login (role r)" lines. */
static int
grants_of_group(const char *group, char **textp)
{
	int st;

	if (text_request(PROTO_GRANT_LIST, NULL, textp, &st) != 0)
		return 1;
	if (st != ERR_OK) {
		free(*textp);
		*textp = NULL;
		return gw_fail(st, "cannot list grants");
	}
	(void)group;
	return 0;
}

static int
target_show(int argc, char **argv)
{
	struct target t;
	char *grants = NULL, *line, *next;
	const char *name;
	int rc, any = 0;

	if ((rc = gw_socket_only(&sockopt, argc, argv, 1, "usage: bulwark target show NAME"))
	    != 0)
		return rc;
	name = argv[optind];
	if (!gw_valid_name(name))
		return bad_target(name);
	if (target_get(name, &t) != 0)
		return 1;
	printf("target       %s\n", t.name);
	printf("host         %s\n", t.host);
	printf("port         %s\n", t.port);
	printf("group        %s\n", t.group);
	printf("sensitivity  %s\n", t.sens);
	printf("host key     %s\n", t.fp);
	if (grants_of_group(t.group, &grants) == 0) {
		for (line = grants; *line != '\0'; line = next) {
			char *f[4], *nl = strchr(line, '\n');

			next = nl ? nl + 1 : line + strlen(line);
			if (nl)
				*nl = '\0';
			if (gw_split_tabs(line, f, 4) == 3 &&
			    strcmp(f[1], t.group) == 0) {
				printf("login        %s (role %s)\n", f[2], f[0]);
				any = 1;
			}
		}
		if (!any)
			printf("login        none yet ('bulwark grant add ROLE "
			    "%s LOGIN')\n", t.group);
	}
	free(grants);
	target_release(&t);
	return 0;
}

static int
target_del(int argc, char **argv)
{
	const char *name;
	char *text = NULL;
	int st, rc;

	if ((rc = gw_socket_only(&sockopt, argc, argv, 1, "usage: bulwark target del NAME"))
	    != 0)
		return rc;
	name = argv[optind];
	if (!gw_valid_name(name))
		return bad_target(name);
	if (text_request(PROTO_TARGET_DEL, name, &text, &st) != 0)
		return 1;
	free(text);
	if (st == ERR_NOTFOUND)
		return gw_say("no target '%s'; 'bulwark target list' "
		    "shows them", name);
	if (st != ERR_OK)
		return gw_fail(st, "cannot delete target '%s'", name);
	printf("deleted target '%s'; its sshd still trusts the Bulwark CA "
	    "until you remove %s there\n", name,
	    "/etc/ssh/sshd_config.d/00-bulwark.conf");
	return 0;
}

/* ---- setup-script ---- */

/* Characters of an address list as sshd's source-address takes it. */
static int
valid_addr_list(const char *s)
{
	if (*s == '\0' || strlen(s) > 1024)
		return 0;
	for (; *s != '\0'; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f') ||
		    (*s >= 'A' && *s <= 'F') || *s == '.' || *s == ':' ||
		    *s == '/' || *s == ','))
			return 0;
	return 1;
}

/* Adds login to the set logins[0..*n) unless present. */
static int
add_login(char ***logins, size_t *n, const char *login)
{
	char **p;

	for (size_t i = 0; i < *n; i++)
		if (strcmp((*logins)[i], login) == 0)
			return 0;
	if ((p = reallocarray(*logins, *n + 1, sizeof(*p))) == NULL)
		return -1;
	*logins = p;
	if ((p[*n] = strdup(login)) == NULL)
		return -1;
	(*n)++;
	return 0;
}

#define EOFMARK "BULWARK_EOF"

static int
target_setup_script(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 'S' },
		{ "sshd-dir", required_argument, NULL, 'd' },
		{ "no-reload", no_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *usage = "usage: bulwark target setup-script NAME "
	    "[--sshd-dir DIR] [--no-reload]";
	const char *name, *dir = "/etc/ssh";
	struct wire_builder *b = NULL;
	struct rpc_response *resp = NULL;
	struct sshkey_pub capub;
	struct target t;
	char *cakey = NULL, *gwaddr = NULL, *grants = NULL, **logins = NULL;
	char *line, *next, *addrs = NULL;
	size_t nlogins = 0;
	int c, st, reload = 1, rc = 1;

	memset(&t, 0, sizeof(t));
	optind = 1;
	while ((c = getopt_long(argc, argv, "S:d:n", opts, NULL)) != -1) {
		switch (c) {
		case 'S': sockopt = optarg; break;
		case 'd': dir = optarg; break;
		case 'n': reload = 0; break;
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
	if (!gw_valid_name(name))
		return bad_target(name);
	if (!gw_valid_path(dir)) {
		cli_error("--sshd-dir wants an absolute path of letters, "
		    "digits and '/._+-', not '%s'", dir);
		return 2;
	}
	if (target_get(name, &t) != 0)
		return 1;

	/* The CA key and the gateway's address. */
	if (wire_builder_new(PROTO_CA_KEY, &b) != ERR_OK) {
		cli_error("out of memory");
		goto out;
	}
	if (gw_call(gw_socket_path(sockopt), b, &resp, &st) != 0)
		goto out;
	if (st != ERR_OK) {
		gw_fail(st, "cannot get the user CA key");
		goto out;
	}
	cakey = gw_resp_str(resp, P_KEY);
	gwaddr = gw_resp_str(resp, P_HOST);
	if (cakey == NULL || gwaddr == NULL) {
		cli_error("out of memory");
		goto out;
	}
	cakey[strcspn(cakey, "\n")] = '\0';
	/*
	 * Nothing below goes into the script unchecked: the key must parse
	 * and is re-encoded by us; the address is digits, hex and [.:/,].
	 */
	if (sshkey_pub_parse(cakey, strlen(cakey), &capub, NULL) != ERR_OK) {
		cli_error("bulwarkd's CA key is not an ssh-ed25519 public key "
		    "line; refusing to write it into a script");
		goto out;
	}
	free(cakey);
	cakey = NULL;
	if (sshkey_pub_format(&capub, "bulwark-user-ca", &cakey) != ERR_OK) {
		cli_error("out of memory");
		goto out;
	}
	cakey[strcspn(cakey, "\n")] = '\0';
	if (!valid_addr_list(gwaddr)) {
		cli_error("bulwarkd's certificate source-address '%s' is not "
		    "an address list; fix bulwarkd's --source-address", gwaddr);
		goto out;
	}

	/* The logins granted on the target's group. */
	if (grants_of_group(t.group, &grants) != 0)
		goto out;
	for (line = grants; *line != '\0'; line = next) {
		char *f[4], *nl = strchr(line, '\n');

		next = nl ? nl + 1 : line + strlen(line);
		if (nl)
			*nl = '\0';
		if (gw_split_tabs(line, f, 4) != 3 || strcmp(f[1], t.group) != 0)
			continue;
		if (!gw_valid_user(f[2])) {
			cli_error("grant of login '%s' on group '%s' is not a "
			    "valid login name; skipping it", f[2], t.group);
			continue;
		}
		if (add_login(&logins, &nlogins, f[2]) != 0) {
			cli_error("out of memory");
			goto out;
		}
	}
	if (nlogins == 0) {
		cli_error("no login is granted on group '%s' of target '%s'; "
		    "add one first with 'bulwark grant add ROLE %s LOGIN'",
		    t.group, name, t.group);
		goto out;
	}
	if ((addrs = strdup(gwaddr)) == NULL) {
		cli_error("out of memory");
		goto out;
	}

	printf("#!/bin/sh\n"
	    "# Makes this host's sshd accept Bulwark target '%s': only\n"
	    "# certificates of the Bulwark user CA, only for the logins granted\n"
	    "# on group '%s', only from the gateway (%s).\n"
	    "# Written by 'bulwark target setup-script %s'; run it as root on\n"
	    "# the target, and rerun it after grants change.\n"
	    "# Careful: afterwards no password or authorized_keys login works\n"
	    "# on this sshd, and only the logins below, only from the gateway.\n"
	    "set -eu\n"
	    "umask 022\n"
	    "if [ \"$(id -u)\" -ne 0 ]; then\n"
	    "\techo 'bulwark setup: run this as root' >&2\n"
	    "\texit 1\n"
	    "fi\n"
	    "mkdir -p '%s/bulwark/principals' '%s/sshd_config.d'\n"
	    "cat > '%s/bulwark/user_ca.pub' <<'" EOFMARK "'\n"
	    "%s\n"
	    EOFMARK "\n"
	    "rm -f '%s/bulwark/principals/'*\n",
	    name, t.group, gwaddr, name, dir, dir, dir, cakey, dir);
	for (size_t i = 0; i < nlogins; i++)
		printf("cat > '%s/bulwark/principals/%s' <<'" EOFMARK "'\n"
		    "%s\n"
		    EOFMARK "\n", dir, logins[i], logins[i]);
	printf("cat > '%s/sshd_config.d/00-bulwark.conf' <<'" EOFMARK "'\n"
	    "# Bulwark: written by 'bulwark target setup-script %s'.\n"
	    "TrustedUserCAKeys %s/bulwark/user_ca.pub\n"
	    "AuthorizedPrincipalsFile %s/bulwark/principals/%%u\n"
	    "AuthorizedKeysFile none\n"
	    "PasswordAuthentication no\n"
	    "KbdInteractiveAuthentication no\n"
	    "AllowUsers", dir, name, dir, dir);
	for (size_t i = 0; i < nlogins; i++) {
		char *a, *save = NULL, *copy = strdup(addrs);

		if (copy == NULL) {
			cli_error("out of memory");
			goto out;
		}
		for (a = strtok_r(copy, ",", &save); a != NULL;
		    a = strtok_r(NULL, ",", &save))
			printf(" %s@%s", logins[i], a);
		free(copy);
	}
	printf("\n" EOFMARK "\n");
	printf("echo 'bulwark setup: wrote %s/bulwark and "
	    "%s/sshd_config.d/00-bulwark.conf'\n", dir, dir);
	if (reload) {
		printf("if ! /usr/sbin/sshd -t; then\n"
		    "\techo 'bulwark setup: sshd -t refused the configuration; "
		    "fix it before sshd restarts' >&2\n"
		    "\texit 1\n"
		    "fi\n"
		    "# sshd keeps the first value it reads: check that nothing "
		    "read\n"
		    "# before 00-bulwark.conf overrides it.\n"
		    "for want in 'authorizedkeysfile none' "
		    "'passwordauthentication no' \\\n"
		    "    'kbdinteractiveauthentication no' "
		    "'trustedusercakeys %s/bulwark/user_ca.pub'; do\n"
		    "\tif ! /usr/sbin/sshd -T 2>/dev/null | grep -qixF "
		    "\"$want\"; then\n"
		    "\t\techo \"bulwark setup: sshd does not end up with "
		    "'$want'; an earlier file in %s/sshd_config.d or "
		    "%s/sshd_config sets it first\" >&2\n"
		    "\t\texit 1\n"
		    "\tfi\n"
		    "done\n"
		    "systemctl reload ssh || service ssh reload\n"
		    "echo 'bulwark setup: sshd reloaded'\n", dir, dir, dir);
	}
	if (fflush(stdout) != 0) {
		cli_error("cannot write the script: %s", strerror(errno));
		goto out;
	}
	rc = 0;
 out:
	for (size_t i = 0; i < nlogins; i++)
		free(logins[i]);
	free(logins);
	free(addrs);
	free(grants);
	free(cakey);
	free(gwaddr);
	target_release(&t);
	rpc_response_free(resp);
	wire_builder_free(b);
	return rc;
}

int
cmd_target(int argc, char **argv)
{
	static const struct gw_sub subs[] = {
		{ "add", target_add }, { "rekey", target_rekey },
		{ "list", target_list }, { "show", target_show },
		{ "del", target_del }, { "setup-script", target_setup_script },
	};

	sockopt = NULL;
	return gw_dispatch("target", subs, sizeof(subs) / sizeof(subs[0]),
	    argc, argv);
}
