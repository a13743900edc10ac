/*
 * bulwark.c - the command's entry point: a git-style table of subcommands.
 */
#include <langinfo.h>
#include <locale.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cli/cli.h"
#include "common/termsafe.h"
#include "common/banned.h"

#ifndef BULWARK_VERSION
#define BULWARK_VERSION "0.1.0"
#endif

struct command {
	const char *name;
	int (*fn)(int, char **);
	const char *summary;
};

static const struct command commands[] = {
	{ "log", cmd_log, "append to, prove and verify the tamper-evident audit log" },
	{ "witness", cmd_witness, "run a C2SP tlog-witness that cosigns audit log checkpoints" },
	{ "demo", cmd_demo, "start a local log and witness and show tamper detection end to end" },
	{ "gateway", cmd_gateway, "set up the gateway: bulwarkd, its sshd, PAM and systemd units" },
	{ "user", cmd_user, "add, list and remove gateway users, their keys and TOTP" },
	{ "target", cmd_target, "add targets with pinned host keys; print their sshd setup script" },
	{ "grant", cmd_grant, "let a role log in as LOGIN on a group of targets" },
	{ "session", cmd_session, "list, show, replay and end sessions" },
	{ "ssh-config", cmd_ssh_config, "print OpenSSH client config for a user's targets" },
	{ "vault", cmd_vault, "the backup vault: init, enroll hosts, receive backups, check" },
	{ "backup", cmd_backup, "back paths up to a vault: encrypted, deduplicated, put-only" },
	{ "snapshots", cmd_snapshots, "list the snapshots in a vault, oldest first" },
	{ "restore", cmd_restore, "restore a snapshot into an empty directory (needs the admin key)" },
	{ "check", cmd_check, "read every pack of a vault back and walk every snapshot (--read-data)" },
	{ "help", NULL, "show help for a command (bulwark help COMMAND)" },
	{ "version", NULL, "print the version" },
};

/*
 * As OpenSSH does: the terminal's character set is the locale's. One
 * that is not UTF-8 may take the second byte of a UTF-8 letter for a C1
 * control, so then nothing outside ASCII is shown raw.
 */
int
cli_term_flags(void)
{
	static int flags = -1;

	if (flags < 0)
		flags = strcmp(nl_langinfo(CODESET), "UTF-8") == 0 ? 0 :
		    TERMSAFE_ASCII;
	return flags;
}

void
cli_fputs_safe(const char *s, FILE *f)
{
	char *safe = termsafe_vis(s, strlen(s), cli_term_flags());

	fputs(safe != NULL ? safe : "(out of memory)", f);
	free(safe);
}

void
cli_error(const char *fmt, ...)
{
	va_list ap;
	char *msg = NULL;
	int n;

	fputs("bulwark: ", stderr);
	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n >= 0)
		cli_fputs_safe(msg, stderr);
	free(msg);
	fputc('\n', stderr);
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: bulwark COMMAND [ARGS...]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\n'bulwark help COMMAND' or 'bulwark COMMAND --help' shows "
	    "a command's manual.\n");
}

static const struct command *
find(const char *name)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

int
main(int argc, char **argv)
{
	const struct command *c;

	(void)setlocale(LC_CTYPE, "");
	if (sodium_init() < 0) {
		cli_error("libsodium failed to initialise");
		return 1;
	}
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
		printf("bulwark %s\n", BULWARK_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "help") == 0) {
		if (argc < 3) {
			usage(stdout);
			return 0;
		}
		if (find(argv[2]) == NULL || find(argv[2])->fn == NULL) {
			cli_error("no help for '%s'; 'bulwark help' lists the commands",
			    argv[2]);
			return 2;
		}
		return cli_help(argv[2]);
	}
	if ((c = find(argv[1])) == NULL || c->fn == NULL) {
		cli_error("'%s' is not a bulwark command; 'bulwark help' lists them",
		    argv[1]);
		return 2;
	}
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return cli_help(c->name);
	}
	return c->fn(argc - 1, argv + 1);
}
