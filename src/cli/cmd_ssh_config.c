/*
 * cmd_ssh_config.c - bulwark ssh-config USER --gateway HOST [--port P]:
 * OpenSSH client configuration that names each of USER's targets, so
 * that ssh, scp, sftp, rsync and Ansible reach them through the gateway
 * unchanged. The target travels in SetEnv BULWARK_TARGET (the gateway's
 * sshd has AcceptEnv BULWARK_TARGET), which bulwark-shell reads when the
 * command line does not name one (scp, sftp).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/gwclient.h"
#include "gateway/proto.h"
#include "common/banned.h"

#define USAGE "usage: bulwark ssh-config USER --gateway HOST [--port P]"

struct entry {
	char *login, *target;
};

int
cmd_ssh_config(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 'S' },
		{ "gateway", required_argument, NULL, 'g' },
		{ "port", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sockopt = NULL, *gw = NULL, *portarg = "2222", *user;
	struct wire_builder *b = NULL;
	struct rpc_response *resp = NULL;
	struct entry *e = NULL;
	char *text = NULL, *line, *next;
	size_t n = 0;
	uint32_t port;
	int c, st, rc = 1;

	optind = 1;
	while ((c = getopt_long(argc, argv, "S:g:p:", opts, NULL)) != -1) {
		switch (c) {
		case 'S': sockopt = optarg; break;
		case 'g': gw = optarg; break;
		case 'p': portarg = optarg; break;
		default:
			cli_error(USAGE);
			return 2;
		}
	}
	if (argc - optind != 1 || gw == NULL) {
		cli_error(USAGE);
		return 2;
	}
	user = argv[optind];
	if (!gw_valid_user(user)) {
		cli_error("'%s' is not a valid user name", user);
		return 2;
	}
	if (!gw_valid_host(gw)) {
		cli_error("--gateway wants the gateway's host name or address, "
		    "not '%s'", gw);
		return 2;
	}
	if (gw_parse_u32(portarg, 1, 65535, &port) != ERR_OK) {
		cli_error("--port wants a number from 1 to 65535, not '%s'",
		    portarg);
		return 2;
	}
	if (wire_builder_new(PROTO_TARGETS, &b) != ERR_OK ||
	    wire_put_str(b, P_USER, user) != ERR_OK) {
		cli_error("cannot build the request");
		goto out;
	}
	if (gw_call(gw_socket_path(sockopt), b, &resp, &st) != 0)
		goto out;
	if (st == ERR_NOTFOUND) {
		gw_say("no user '%s'; 'bulwark user list' shows them",
		    user);
		goto out;
	}
	if (st != ERR_OK) {
		gw_fail(st, "cannot list the targets of '%s'", user);
		goto out;
	}
	if ((text = gw_resp_str(resp, P_TEXT)) == NULL) {
		cli_error("out of memory");
		goto out;
	}
	for (line = text; *line != '\0'; line = next) {
		char *f[4], *nl = strchr(line, '\n'), *at;
		struct entry *p;

		next = nl ? nl + 1 : line + strlen(line);
		if (nl)
			*nl = '\0';
		if (gw_split_tabs(line, f, 4) < 1 ||
		    (at = strchr(f[0], '@')) == NULL)
			continue;
		*at = '\0';
		/* Names go into a config file: only what we would accept. */
		if (!gw_valid_user(f[0]) || !gw_valid_name(at + 1)) {
			cli_error("skipping '%s@%s': not a plain login@target",
			    f[0], at + 1);
			continue;
		}
		if ((p = reallocarray(e, n + 1, sizeof(*e))) == NULL) {
			cli_error("out of memory");
			goto out;
		}
		e = p;
		e[n].login = f[0];
		e[n].target = at + 1;
		n++;
	}

	printf("# OpenSSH client configuration for Bulwark user '%s' through "
	    "the gateway %s port %u.\n"
	    "# Written by 'bulwark ssh-config %s --gateway %s'.\n"
	    "# Save it as ~/.ssh/config.d/bulwark and add this line at the top "
	    "of ~/.ssh/config:\n"
	    "#   Include config.d/bulwark\n"
	    "# Then ssh, scp, sftp, rsync and Ansible work with these names, "
	    "e.g.\n"
	    "#   ssh LOGIN.TARGET    scp file LOGIN.TARGET:/tmp/    "
	    "rsync -a dir/ LOGIN.TARGET:dir/\n"
	    "# (a target where you have one login also answers to its plain "
	    "name).\n"
	    "# Connections are shared per name for 10 minutes, so one code "
	    "serves many\n"
	    "# commands (as Ansible does). The path has %%n, not %%C: the "
	    "target travels\n"
	    "# with the first connection to a name, and every name shares one "
	    "gateway.\n", user, gw, (unsigned)port, user, gw);
	if (n == 0)
		printf("# '%s' may reach no target yet: 'bulwark grant add ROLE "
		    "GROUP LOGIN' gives access.\n", user);
	for (size_t i = 0; i < n; i++) {
		size_t same = 0;

		for (size_t j = 0; j < n; j++)
			if (strcmp(e[j].target, e[i].target) == 0)
				same++;
		printf("\nHost %s.%s", e[i].login, e[i].target);
		if (same == 1)
			printf(" %s", e[i].target);
		printf("\n"
		    "\tHostName %s\n"
		    "\tPort %u\n"
		    "\tUser %s\n"
		    "\tSetEnv BULWARK_TARGET=%s@%s\n"
		    "\tControlMaster auto\n"
		    "\tControlPath ~/.ssh/bulwark-%%r@%%n\n"
		    "\tControlPersist 10m\n", gw, (unsigned)port, user,
		    e[i].login, e[i].target);
	}
	rc = fflush(stdout) == 0 ? 0 : 1;
 out:
	free(e);
	free(text);
	rpc_response_free(resp);
	wire_builder_free(b);
	return rc;
}
