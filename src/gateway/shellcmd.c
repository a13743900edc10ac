/*
 * shellcmd.c - derives bulwark-shell's session from sshd's "-c" command
 * and BULWARK_TARGET (see shellcmd.h).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/wire.h"
#include "gateway/proto.h"
#include "gateway/shellcmd.h"
#include "common/banned.h"

/* How much of a refused name is quoted back to the user. */
#define QUOTE_MAX	64

static const char *const hostkey_msgs[] = {
	"Host key verification failed",
	"REMOTE HOST IDENTIFICATION HAS CHANGED",
};

static int
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
	    c == '\v' || c == '\f';
}

static int
is_lower_or_digit(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static int
is_alnum(char c)
{
	return is_lower_or_digit(c) || (c >= 'A' && c <= 'Z');
}

/* [a-z_][a-z0-9_.-]{0,31} */
static int
login_valid(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > SHELLCMD_LOGIN_MAX)
		return 0;
	if (!(s[0] == '_' || (s[0] >= 'a' && s[0] <= 'z')))
		return 0;
	for (i = 1; i < len; i++) {
		if (!is_lower_or_digit(s[i]) && s[i] != '_' && s[i] != '.' &&
		    s[i] != '-')
			return 0;
	}
	return 1;
}

/* [A-Za-z0-9][A-Za-z0-9._-]{0,254} */
static int
target_valid(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > SHELLCMD_TARGET_MAX || !is_alnum(s[0]))
		return 0;
	for (i = 1; i < len; i++) {
		if (!is_alnum(s[i]) && s[i] != '.' && s[i] != '_' &&
		    s[i] != '-')
			return 0;
	}
	return 1;
}

int
shellcmd_split_target(const char *s, size_t len,
    char login[SHELLCMD_LOGIN_MAX + 1], char target[SHELLCMD_TARGET_MAX + 1])
{
	const char *at;
	size_t llen;

	login[0] = '\0';
	target[0] = '\0';
	if ((at = memchr(s, '@', len)) == NULL)
		return ERR_FORMAT;
	llen = (size_t)(at - s);
	if (!login_valid(s, llen) || !target_valid(at + 1, len - llen - 1))
		return ERR_FORMAT;
	memcpy(login, s, llen);
	login[llen] = '\0';
	memcpy(target, at + 1, len - llen - 1);
	target[len - llen - 1] = '\0';
	return ERR_OK;
}

const char *
shellcmd_kind_name(enum shellcmd_kind kind)
{
	switch (kind) {
	case SHELLCMD_MENU:		return "menu";
	case SHELLCMD_INTERACTIVE:	return "interactive";
	case SHELLCMD_EXEC:		return "exec";
	case SHELLCMD_SFTP:		return "sftp";
	case SHELLCMD_SCP:		return "scp";
	case SHELLCMD_RSYNC:		return "rsync";
	}
	return "unknown";
}

void
shellcmd_release(struct shellcmd *sc)
{
	if (sc == NULL)
		return;
	free(sc->command);
	memset(sc, 0, sizeof(*sc));
}

/*
 * Copies s[0..len) into q for quoting in a message: at most QUOTE_MAX
 * bytes, anything but printable ASCII as '?', so that what the user typed
 * cannot send escape sequences to their terminal through our message.
 */
static void
quote_safe(const char *s, size_t len, char q[QUOTE_MAX + 4])
{
	size_t i, n = len < QUOTE_MAX ? len : QUOTE_MAX;

	for (i = 0; i < n; i++)
		q[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	if (len > n) {
		memcpy(q + n, "...", 3);
		n += 3;
	}
	q[n] = '\0';
}

static int
refuse_name(const char *s, size_t len, int from_env, char *why)
{
	char q[QUOTE_MAX + 4];

	quote_safe(s, len, q);
	if (from_env)
		snprintf(why, SHELLCMD_WHY_MAX, "bulwark: BULWARK_TARGET \"%s\" "
		    "is not LOGIN@TARGET; fix the SetEnv line of your ssh "
		    "configuration (bulwark ssh-config writes one)", q);
	else
		snprintf(why, SHELLCMD_WHY_MAX, "bulwark: \"%s\" is not "
		    "LOGIN@TARGET; try: ssh -t YOU@gateway root@web1", q);
	return ERR_FORMAT;
}

/* True when cmd is the sftp server, as sshd runs it for the subsystem. */
static int
is_sftp(const char *cmd)
{
	size_t len = strlen(cmd);
	static const char suffix[] = "/sftp-server";

	if (strcmp(cmd, "internal-sftp") == 0)
		return 1;
	if (len < sizeof(suffix) - 1 ||
	    strcmp(cmd + len - (sizeof(suffix) - 1), suffix) != 0)
		return 0;
	/* A path, not a command line that happens to end so. */
	while (*cmd != '\0') {
		if (is_space(*cmd++))
			return 0;
	}
	return 1;
}

static int
has_word_prefix(const char *cmd, const char *prefix)
{
	size_t n = strlen(prefix);

	return strncmp(cmd, prefix, n) == 0 &&
	    (cmd[n] == '\0' || is_space(cmd[n]));
}

static enum shellcmd_kind
classify(const char *cmd)
{
	if (is_sftp(cmd))
		return SHELLCMD_SFTP;
	if (has_word_prefix(cmd, "scp"))
		return SHELLCMD_SCP;
	if (has_word_prefix(cmd, "rsync --server"))
		return SHELLCMD_RSYNC;
	return SHELLCMD_EXEC;
}

/* Checks and copies the command that runs on the target. */
static int
take_command(const char *s, size_t len, struct shellcmd *out, char *why)
{
	if (len > PROTO_COMMAND_MAX) {
		snprintf(why, SHELLCMD_WHY_MAX, "bulwark: the command is %zu "
		    "bytes long; at most %d are allowed", len,
		    PROTO_COMMAND_MAX);
		return ERR_TOOBIG;
	}
	if (!wire_utf8_valid((const uint8_t *)s, len)) {
		snprintf(why, SHELLCMD_WHY_MAX, "bulwark: the command is not "
		    "valid UTF-8");
		return ERR_FORMAT;
	}
	if ((out->command = malloc(len + 1)) == NULL) {
		snprintf(why, SHELLCMD_WHY_MAX, "bulwark: out of memory");
		return ERR_NOMEM;
	}
	memcpy(out->command, s, len);
	out->command[len] = '\0';
	return ERR_OK;
}

/* BULWARK_TARGET names the target; all of cmd (may be NULL) runs there. */
static int
parse_env_target(const char *cmd, const char *env_target, int stdin_tty,
    struct shellcmd *out, char *why)
{
	int r;

	if (shellcmd_split_target(env_target, strlen(env_target), out->login,
	    out->target) != ERR_OK)
		return refuse_name(env_target, strlen(env_target), 1, why);
	if (cmd == NULL) {
		out->kind = SHELLCMD_INTERACTIVE;
		out->want_pty = stdin_tty;
		return ERR_OK;
	}
	if ((r = take_command(cmd, strlen(cmd), out, why)) != ERR_OK)
		return r;
	out->kind = classify(out->command);
	if (out->kind == SHELLCMD_SFTP)
		out->subsystem = "sftp";
	/* ssh -t host cmd: a command on a terminal (top, vi) gets one. */
	out->want_pty = out->kind == SHELLCMD_EXEC && stdin_tty;
	return ERR_OK;
}

/* "LOGIN@TARGET[ COMMAND]": the first word names the target. */
static int
parse_word_target(const char *cmd, int stdin_tty, struct shellcmd *out,
    char *why)
{
	size_t wlen = 0;
	const char *rest;

	while (cmd[wlen] != '\0' && !is_space(cmd[wlen]))
		wlen++;
	if (shellcmd_split_target(cmd, wlen, out->login, out->target) !=
	    ERR_OK)
		return refuse_name(cmd, wlen, 0, why);
	rest = cmd + wlen;
	while (is_space(*rest))
		rest++;
	if (*rest == '\0') {
		out->kind = SHELLCMD_INTERACTIVE;
		out->want_pty = stdin_tty;
		return ERR_OK;
	}
	out->kind = SHELLCMD_EXEC;
	out->want_pty = stdin_tty;	/* ssh -t gw root@web1 top */
	return take_command(rest, strlen(rest), out, why);
}

int
shellcmd_parse(const char *cmd, const char *env_target, int stdin_tty,
    struct shellcmd *out, char why[SHELLCMD_WHY_MAX])
{
	int r;

	memset(out, 0, sizeof(*out));
	why[0] = '\0';
	stdin_tty = stdin_tty != 0;
	if (cmd != NULL) {
		/* sshd hands over the command as the client sent it. */
		while (is_space(*cmd))
			cmd++;
		if (*cmd == '\0')
			cmd = NULL;
	}
	if (env_target != NULL)
		r = parse_env_target(cmd, env_target, stdin_tty, out, why);
	else if (cmd != NULL)
		r = parse_word_target(cmd, stdin_tty, out, why);
	else {
		out->kind = SHELLCMD_MENU;
		out->want_pty = stdin_tty;
		r = ERR_OK;
	}
	if (r != ERR_OK)
		shellcmd_release(out);
	return r;
}

void
shellcmd_keyscan_init(struct shellcmd_keyscan *ks)
{
	memset(ks, 0, sizeof(*ks));
}

/* memmem over a + b without joining them, for the few bytes at the seam. */
static int
seam_has(const char *tail, size_t tlen, const uint8_t *p, size_t len,
    const char *needle)
{
	char seam[2 * SHELLCMD_SCAN_TAIL];
	size_t nlen = strlen(needle), take = len < nlen ? len : nlen - 1;

	memcpy(seam, tail, tlen);
	memcpy(seam + tlen, p, take);
	return memmem(seam, tlen + take, needle, nlen) != NULL;
}

void
shellcmd_keyscan_feed(struct shellcmd_keyscan *ks, const void *data,
    size_t len)
{
	const uint8_t *p = data;
	size_t i, keep;

	for (i = 0; i < sizeof(hostkey_msgs) / sizeof(hostkey_msgs[0]); i++) {
		if (memmem(p, len, hostkey_msgs[i], strlen(hostkey_msgs[i])) !=
		    NULL || seam_has(ks->tail, ks->tail_len, p, len,
		    hostkey_msgs[i]))
			ks->mismatch = 1;
	}
	/* Keep the last bytes seen: a message may start in them. */
	keep = SHELLCMD_SCAN_TAIL - 1;
	if (len >= keep) {
		memcpy(ks->tail, p + len - keep, keep);
		ks->tail_len = keep;
	} else {
		size_t old = ks->tail_len + len > keep ?
		    keep - len : ks->tail_len;

		memmove(ks->tail, ks->tail + ks->tail_len - old, old);
		memcpy(ks->tail + old, p, len);
		ks->tail_len = old + len;
	}
}
