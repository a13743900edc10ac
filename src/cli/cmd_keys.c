/*
 * cmd_keys.c - bulwark keys USER KEYTYPE KEYBASE64: sshd's
 * AuthorizedKeysCommand (%u %t %k). Prints the authorized_keys line
 * bulwarkd answers for the key, nothing when the key is not the user's.
 *
 * sshd runs it as AuthorizedKeysCommandUser and logs its stderr, so every
 * failure is one line there and exit status 1; stdout carries only what
 * sshd should read.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/gwclient.h"
#include "gateway/proto.h"
#include "common/banned.h"

/* Key types and base64 as sshd passes them: no spaces, nothing odd. */
static int
valid_token(const char *s, int b64)
{
	size_t i;

	if (s == NULL || *s == '\0')
		return 0;
	for (i = 0; s[i] != '\0'; i++) {
		char c = s[i];
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9');

		if (b64)
			ok = ok || c == '+' || c == '/' || c == '=';
		else
			ok = ok || c == '-' || c == '@' || c == '.' || c == '_';
		if (!ok || i >= PROTO_LINE_MAX - 128)
			return 0;
	}
	return 1;
}

int
cmd_keys(int argc, char **argv)
{
	const char *sockopt = NULL, *user, *type, *b64;
	struct wire_builder *b = NULL;
	struct rpc_response *resp = NULL;
	char *key = NULL, *text = NULL;
	size_t klen;
	int i, st, rc = 1;

	/*
	 * Parsed by hand, not with getopt: the arguments after the options
	 * come from sshd (%u is the name the client asked for), and none
	 * of them may ever be read as an option.
	 */
	i = 1;
	if (argc - i >= 2 && (strcmp(argv[i], "--socket") == 0 ||
	    strcmp(argv[i], "-S") == 0)) {
		sockopt = argv[i + 1];
		i += 2;
	} else if (argc - i >= 1 && strncmp(argv[i], "--socket=", 9) == 0) {
		sockopt = argv[i] + 9;
		i++;
	}
	if (argc - i >= 1 && strcmp(argv[i], "--") == 0)
		i++;
	if (argc - i != 3) {
		cli_error("usage: bulwark keys [--socket PATH] USER KEYTYPE "
		    "KEYBASE64 (sshd's AuthorizedKeysCommand with %%u %%t %%k)");
		return 2;
	}
	user = argv[i];
	type = argv[i + 1];
	b64 = argv[i + 2];
	/*
	 * A name or key we would never have stored cannot match: say so
	 * to sshd the same way as for an unknown key, without asking.
	 */
	if (!gw_valid_user(user) || !valid_token(type, 0) ||
	    !valid_token(b64, 1))
		return 0;
	klen = strlen(type) + 1 + strlen(b64) + 1;
	if ((key = malloc(klen)) == NULL) {
		cli_error("out of memory");
		return 1;
	}
	snprintf(key, klen, "%s %s", type, b64);
	if (wire_builder_new(PROTO_KEYS, &b) != ERR_OK ||
	    wire_put_str(b, P_USER, user) != ERR_OK ||
	    wire_put_str(b, P_KEY, key) != ERR_OK) {
		cli_error("cannot build the request for user '%s'", user);
		goto out;
	}
	if (gw_call(gw_socket_path(sockopt), b, &resp, &st) != 0)
		goto out;
	if (st == ERR_NOTFOUND) {
		rc = 0;
		goto out;
	}
	if (st != ERR_OK) {
		gw_fail(st, "cannot look up keys of '%s'", user);
		goto out;
	}
	text = gw_resp_str(resp, P_TEXT);
	if (text == NULL || (strchr(text, '\n') != NULL &&
	    strchr(text, '\n')[1] != '\0')) {
		cli_error("bulwarkd answered more than one line for '%s'; "
		    "refusing it", user);
		goto out;
	}
	if (*text != '\0') {
		fputs(text, stdout);
		if (text[strlen(text) - 1] != '\n')
			putchar('\n');
	}
	if (fflush(stdout) != 0) {
		cli_error("cannot write to sshd");
		goto out;
	}
	rc = 0;
 out:
	free(text);
	free(key);
	rpc_response_free(resp);
	wire_builder_free(b);
	return rc;
}
