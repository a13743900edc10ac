/*
 * cli.h - what the command table and every cmd_<name>.c share.
 *
 * Each command is `int cmd_NAME(int argc, char **argv)`, with argv[0] the
 * command's own name; it returns the process exit status (0 ok, 1 failure,
 * 2 usage). Errors go to stderr as "bulwark: ...", lowercase, saying what
 * to do next.
 */
#ifndef BULWARK_CLI_CLI_H
#define BULWARK_CLI_CLI_H

#include <stdio.h>

int cmd_log(int argc, char **argv);
/* bulwark log blob put|get (argv[0] is "blob"). */
int cmd_log_blob(int argc, char **argv);
int cmd_witness(int argc, char **argv);
int cmd_demo(int argc, char **argv);
/* The gateway's admin commands (gwclient.h has what they share). */
int cmd_gateway(int argc, char **argv);
/* bulwark gateway sshd: execs the gateway sshd on a TCP_NODELAY socket. */
int cmd_gateway_sshd(int argc, char **argv);
int cmd_user(int argc, char **argv);
int cmd_target(int argc, char **argv);
int cmd_grant(int argc, char **argv);
int cmd_session(int argc, char **argv);
int cmd_ssh_config(int argc, char **argv);
/* The backup vault: vault (init, enroll, receive, check) and backup. */
int cmd_vault(int argc, char **argv);
int cmd_backup(int argc, char **argv);
/* Opens a vault directory, or says why not and returns -1. */
struct vault;
int cli_open_vault(const char *dir, struct vault **v);
/* Reading backups back (cmd_restore.c): snapshots, restore, check. */
int cmd_snapshots(int argc, char **argv);
int cmd_restore(int argc, char **argv);
int cmd_check(int argc, char **argv);
/*
 * Reads the admin key export file, asks for its passphrase (from
 * passfile when not NULL) and unwraps it; with v, also checks that it is
 * the key of that vault (dir names it in the message). Prints its own
 * errors; 0 or -1.
 */
struct admin_key;
int cli_admin_key_load(const char *file, const char *passfile,
    const struct vault *v, const char *dir, struct admin_key **out);

/*
 * Prints "bulwark: " and the formatted message to stderr, one line:
 * control bytes (newlines too) and C1 controls are printed as \xNN
 * (termsafe_vis): messages quote names from snapshots, targets and files
 * that others chose, and an escape sequence in one must not reach the
 * terminal, nor a newline forge a line.
 */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* fputs with the same replacement of control bytes. */
void cli_fputs_safe(const char *s, FILE *f);
/* TERMSAFE_ASCII unless the locale's character set is UTF-8. */
int cli_term_flags(void);
/* Prints the man page text of a command family (help TOPIC). */
int cli_help(const char *topic);

#endif
