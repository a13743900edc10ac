/*
 * main.c - bulwark-keys: sshd's AuthorizedKeysCommand.
 *
 *   AuthorizedKeysCommand /usr/local/bin/bulwark-keys --socket PATH %u %t %k
 *   AuthorizedKeysCommandUser nobody
 *
 * Prints the authorized_keys line bulwarkd answers for the key the client
 * offered (with restrict,pty and, for FIDO2 keys, verify-required), and
 * nothing when the key is not that user's. sshd runs it twice per login,
 * so it is its own small program: the socket client and libc, nothing of
 * the admin CLI's libraries (starting the CLI costs 20-50 ms of the
 * login). It runs as nobody and parses what a client chose (%u): it holds
 * no secret, and its arguments are taken by position, never as options.
 *
 * sshd logs its stderr: every failure is one line there and exit status 1;
 * stdout carries only what sshd should read.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/wire.h"
#include "gateway/proto.h"
#include "gateway/rpc.h"
#include "common/banned.h"

#define TIMEOUT_MS 5000

/* Names bulwarkd stores: [a-z_][a-z0-9_-]{0,31}. */
static int
valid_user(const char *s)
{
	size_t i;

	if (!((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
		return 0;
	for (i = 1; s[i] != '\0'; i++)
		if (i >= 32 || !((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-'))
			return 0;
	return 1;
}

/* Key types and base64 as sshd passes them: no spaces, nothing odd. */
static int
valid_token(const char *s, int b64)
{
	size_t i;

	if (*s == '\0')
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

static int
usage(void)
{
	fputs("usage: bulwark-keys [--socket PATH] USER KEYTYPE KEYBASE64 "
	    "(sshd's AuthorizedKeysCommand with %u %t %k)\n", stderr);
	return 2;
}

/* Asks bulwarkd; prints its line. 0 also when the key is not the user's. */
static int
lookup(const char *sock, const char *user, const char *key)
{
	struct wire_builder *b = NULL;
	struct rpc_client *c = NULL;
	struct rpc_response *resp = NULL;
	const char *text;
	size_t len;
	int r, rc = 1;

	if (wire_builder_new(PROTO_KEYS, &b) != ERR_OK ||
	    wire_put_str(b, P_USER, user) != ERR_OK ||
	    wire_put_str(b, P_KEY, key) != ERR_OK) {
		fputs("bulwark-keys: cannot build the request\n", stderr);
		goto out;
	}
	if ((r = rpc_client_connect(sock, TIMEOUT_MS, &c)) != ERR_OK) {
		fprintf(stderr, "bulwark-keys: cannot reach bulwarkd at %s: %s; "
		    "is it running?\n", sock, err_str(r));
		goto out;
	}
	r = rpc_client_call(c, b, &resp);
	if (r == ERR_NOTFOUND) {
		rc = 0;
		goto out;
	}
	if (r != ERR_OK || wire_get_str(&resp->msg, P_TEXT, &text, &len) !=
	    ERR_OK) {
		fprintf(stderr, "bulwark-keys: bulwarkd did not answer for '%s': "
		    "%s\n", user, err_str(r));
		goto out;
	}
	if (memchr(text, '\n', len) != NULL) {
		fputs("bulwark-keys: an answer of more than one line; refusing "
		    "it\n", stderr);
		goto out;
	}
	if (len > 0 && (fwrite(text, 1, len, stdout) != len ||
	    putchar('\n') == EOF))
		goto out;
	rc = fflush(stdout) == 0 ? 0 : 1;
out:
	rpc_response_free(resp);
	rpc_client_free(c);
	wire_builder_free(b);
	return rc;
}

int
main(int argc, char **argv)
{
	const char *sock = getenv("BULWARK_SOCKET");
	char key[PROTO_LINE_MAX];
	int i = 1;

	if (sock == NULL || *sock == '\0')
		sock = PROTO_DEFAULT_SOCKET;
	if (argc - i >= 2 && (strcmp(argv[i], "--socket") == 0 ||
	    strcmp(argv[i], "-S") == 0)) {
		sock = argv[i + 1];
		i += 2;
	}
	if (argc - i >= 1 && strcmp(argv[i], "--") == 0)
		i++;
	if (argc - i != 3)
		return usage();
	/* What we would never have stored cannot match: no need to ask. */
	if (!valid_user(argv[i]) || !valid_token(argv[i + 1], 0) ||
	    !valid_token(argv[i + 2], 1) ||
	    (size_t)snprintf(key, sizeof(key), "%s %s", argv[i + 1],
	    argv[i + 2]) >= sizeof(key))
		return 0;
	return lookup(sock, argv[i], key);
}
