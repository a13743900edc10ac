/*
 * shellcmd.h - what bulwark-shell is asked to do, derived from the three
 * things sshd hands it that the user controls: the command of "-c" (or
 * none), the BULWARK_TARGET variable the client sent with SetEnv (or
 * none), and whether standard input is a terminal.
 *
 *  - BULWARK_TARGET set: it names the target ("login@target") and the
 *    whole command is what runs there. "/usr/lib/openssh/sftp-server",
 *    any path ending in "/sftp-server" and "internal-sftp" become the
 *    ssh subsystem "sftp"; "scp ..." is an scp session, "rsync --server
 *    ..." an rsync session, anything else an exec session, no command an
 *    interactive one.
 *  - Otherwise the command's first whitespace-separated word must be
 *    LOGIN@TARGET, and what follows the whitespace after it, if anything,
 *    is an exec command; nothing after it means an interactive session.
 *  - Neither: the target menu.
 *
 * A login is [a-z_][a-z0-9_.-]{0,31}, a target
 * [A-Za-z0-9][A-Za-z0-9._-]{0,254}: neither can start with '-', so
 * neither can be taken for an option by ssh. Commands must be valid UTF-8
 * of at most PROTO_COMMAND_MAX bytes, as the RPC carries them.
 *
 * Everything here is pure: no I/O, no globals, so it is unit-tested and
 * fuzzed directly.
 */
#ifndef BULWARK_GATEWAY_SHELLCMD_H
#define BULWARK_GATEWAY_SHELLCMD_H

#include <stddef.h>

#include "common/err.h"

#define SHELLCMD_LOGIN_MAX	32
#define SHELLCMD_TARGET_MAX	255
/* Room for the message shellcmd_parse explains a refusal with. */
#define SHELLCMD_WHY_MAX	256

enum shellcmd_kind {
	SHELLCMD_MENU = 0,	/* no target: list the user's targets */
	SHELLCMD_INTERACTIVE,
	SHELLCMD_EXEC,
	SHELLCMD_SFTP,
	SHELLCMD_SCP,
	SHELLCMD_RSYNC,
};

/* The outcome of shellcmd_parse; shellcmd_release frees command. */
struct shellcmd {
	enum shellcmd_kind kind;
	char login[SHELLCMD_LOGIN_MAX + 1];	/* "" in menu mode */
	char target[SHELLCMD_TARGET_MAX + 1];	/* "" in menu mode */
	/*
	 * What runs on the target (malloc'ed), NULL for interactive and
	 * menu. For sftp it is the command as the client sent it, for the
	 * record; ssh is asked for the subsystem instead.
	 */
	char *command;
	const char *subsystem;	/* static "sftp", or NULL */
	int want_pty;		/* interactive or exec, on a terminal */
};

/*
 * Derives what to do from cmd (the argument of -c, NULL when there was
 * none), env_target (BULWARK_TARGET, NULL when unset) and stdin_tty.
 * An empty or all-whitespace cmd counts as none. On success *out holds
 * the result; on failure *out is emptied and why (room for
 * SHELLCMD_WHY_MAX bytes) gets a one-line message for the user, starting
 * with "bulwark: ": ERR_FORMAT for a name that is not LOGIN@TARGET or a
 * command that is not UTF-8, ERR_TOOBIG for a command that is too long,
 * ERR_NOMEM.
 */
int shellcmd_parse(const char *cmd, const char *env_target, int stdin_tty,
    struct shellcmd *out, char why[SHELLCMD_WHY_MAX]) WUR;
/* Frees what sc holds and empties it. NULL is fine. */
void shellcmd_release(struct shellcmd *sc);

/*
 * Splits s[0..len) into login and target at its one '@', checking both
 * names. ERR_FORMAT when s is not LOGIN@TARGET; login and target are ""
 * then.
 */
int shellcmd_split_target(const char *s, size_t len,
    char login[SHELLCMD_LOGIN_MAX + 1],
    char target[SHELLCMD_TARGET_MAX + 1]) WUR;

/* "interactive", "exec", "sftp", "scp", "rsync" or "menu": P_KIND. */
const char *shellcmd_kind_name(enum shellcmd_kind kind);

/*
 * Watches ssh's standard error, chunk by chunk, for the messages ssh
 * prints when the target's host key is not the pinned one. A message may
 * be split across chunks; the scanner keeps the tail it needs.
 */
#define SHELLCMD_SCAN_TAIL	64
struct shellcmd_keyscan {
	char tail[SHELLCMD_SCAN_TAIL];
	size_t tail_len;
	int mismatch;	/* set once either message was seen */
};

void shellcmd_keyscan_init(struct shellcmd_keyscan *ks);
void shellcmd_keyscan_feed(struct shellcmd_keyscan *ks, const void *p,
    size_t len);

#endif
