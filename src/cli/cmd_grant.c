/*
 * cmd_grant.c - bulwark grant add|del ROLE GROUP LOGIN, grant list: which
 * roles may log in as which login on the targets of which group.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/gwclient.h"
#include "gateway/proto.h"
#include "common/banned.h"

#define USAGE "usage: bulwark grant add ROLE GROUP LOGIN | " \
	"bulwark grant del ROLE GROUP LOGIN | bulwark grant list"

int
cmd_grant(int argc, char **argv)
{
	static const char *const header[] = { "ROLE", "GROUP", "LOGIN" };
	const char *sockopt = NULL, *sub, *role, *group, *login;
	struct wire_builder *b = NULL;
	struct rpc_response *resp = NULL;
	char *text = NULL;
	int st, add, rc = 1;

	if (argc < 2 || (strcmp(argv[1], "add") != 0 &&
	    strcmp(argv[1], "del") != 0 && strcmp(argv[1], "list") != 0)) {
		cli_error(USAGE);
		return 2;
	}
	sub = argv[1];
	argc--;
	argv++;
	if ((rc = gw_socket_only(&sockopt, argc, argv,
	    strcmp(sub, "list") == 0 ? 0 : 3, USAGE)) != 0)
		return rc;
	rc = 1;
	if (strcmp(sub, "list") == 0) {
		if (wire_builder_new(PROTO_GRANT_LIST, &b) != ERR_OK) {
			cli_error("out of memory");
			return 1;
		}
		if (gw_call(gw_socket_path(sockopt), b, &resp, &st) != 0)
			goto out;
		if (st != ERR_OK) {
			gw_fail(st, "cannot list grants");
			goto out;
		}
		text = gw_resp_str(resp, P_TEXT);
		if (text != NULL && *text == '\0')
			printf("no grants yet; add one with 'bulwark grant add "
			    "ROLE GROUP LOGIN'\n");
		else if (text != NULL)
			gw_print_table(text, header, 3, -1);
		rc = 0;
		goto out;
	}
	add = strcmp(sub, "add") == 0;
	role = argv[optind];
	group = argv[optind + 1];
	login = argv[optind + 2];
	if (!gw_valid_name(role) || !gw_valid_name(group)) {
		cli_error("'%s' is not a valid %s: use letters, digits, '.', "
		    "'_' and '-'", gw_valid_name(role) ? group : role,
		    gw_valid_name(role) ? "group" : "role");
		return 2;
	}
	if (!gw_valid_user(login)) {
		cli_error("'%s' is not a valid login: use 1 to 32 of a-z, 0-9, "
		    "'_' and '-', starting with a letter or '_'", login);
		return 2;
	}
	if (wire_builder_new(add ? PROTO_GRANT_ADD : PROTO_GRANT_DEL, &b) !=
	    ERR_OK || wire_put_str(b, P_ROLE, role) != ERR_OK ||
	    wire_put_str(b, P_GROUP, group) != ERR_OK ||
	    wire_put_str(b, P_LOGIN, login) != ERR_OK) {
		cli_error("cannot build the request");
		goto out;
	}
	if (gw_call(gw_socket_path(sockopt), b, &resp, &st) != 0)
		goto out;
	if (st == ERR_EXISTS && add) {
		printf("kept grant: role '%s' may already log in as '%s' on "
		    "group '%s'\n", role, login, group);
		rc = 0;
		goto out;
	}
	if (st == ERR_NOTFOUND && !add) {
		gw_say("no grant of '%s' on group '%s' to role '%s'; "
		    "'bulwark grant list' shows them", login, group, role);
		goto out;
	}
	if (st != ERR_OK) {
		gw_fail(st, "cannot %s the grant", add ? "add" : "delete");
		goto out;
	}
	if (add)
		printf("granted: role '%s' may log in as '%s' on the targets "
		    "of group '%s'\n(rerun 'bulwark target setup-script' for "
		    "those targets so that their sshd accepts '%s')\n", role,
		    login, group, login);
	else
		printf("revoked: role '%s' may no longer log in as '%s' on "
		    "group '%s'\n", role, login, group);
	rc = 0;
 out:
	free(text);
	rpc_response_free(resp);
	wire_builder_free(b);
	return rc;
}
