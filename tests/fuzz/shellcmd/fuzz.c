/*
 * fuzz.c - libFuzzer harness for shellcmd: how bulwark-shell reads sshd's
 * "-c" command and BULWARK_TARGET, both chosen by the user, and the
 * scanner of ssh's stderr.
 *
 * Input: one flag byte (bit 0: stdin is a terminal, bit 1: there is a
 * command, bit 2: BULWARK_TARGET is set), then the command and the
 * variable separated by a NUL byte. Whatever is accepted must name a
 * valid login and target that ssh cannot take for options, carry a
 * command exactly when the kind has one, and a refusal must be a clean
 * one-line message. The scanner must find the same thing however its
 * input is split. Any other outcome aborts.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/wire.h"
#include "gateway/proto.h"
#include "gateway/shellcmd.h"
#include "common/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_ok(const struct shellcmd *sc, int tty)
{
	char login[SHELLCMD_LOGIN_MAX + 1], target[SHELLCMD_TARGET_MAX + 1];
	char joined[SHELLCMD_LOGIN_MAX + SHELLCMD_TARGET_MAX + 2];
	int has_cmd = sc->kind != SHELLCMD_MENU &&
	    sc->kind != SHELLCMD_INTERACTIVE;

	if (sc->kind > SHELLCMD_RSYNC)
		abort();
	if ((sc->command != NULL) != has_cmd)
		abort();
	if ((sc->subsystem != NULL) != (sc->kind == SHELLCMD_SFTP))
		abort();
	/*
	 * A terminal exactly when there is one, for a shell, a command or
	 * the menu (which opens a shell); never for file transfers.
	 */
	if ((sc->kind == SHELLCMD_INTERACTIVE || sc->kind == SHELLCMD_EXEC ||
	    sc->kind == SHELLCMD_MENU) ? sc->want_pty != tty : sc->want_pty)
		abort();
	if (sc->command != NULL && (strlen(sc->command) > PROTO_COMMAND_MAX ||
	    !wire_utf8_valid((const uint8_t *)sc->command,
	    strlen(sc->command))))
		abort();
	if (sc->kind == SHELLCMD_MENU) {
		if (sc->login[0] != '\0' || sc->target[0] != '\0')
			abort();
		return;
	}
	if (sc->login[0] == '-' || sc->target[0] == '-')
		abort();
	snprintf(joined, sizeof(joined), "%s@%s", sc->login, sc->target);
	if (shellcmd_split_target(joined, strlen(joined), login, target) !=
	    ERR_OK || strcmp(login, sc->login) != 0 ||
	    strcmp(target, sc->target) != 0)
		abort();
}

static void
check_refused(const struct shellcmd *sc, int r, const char *why)
{
	size_t i;

	if (r != ERR_FORMAT && r != ERR_TOOBIG && r != ERR_NOMEM)
		abort();
	if (sc->command != NULL || sc->kind != SHELLCMD_MENU ||
	    sc->login[0] != '\0')
		abort();
	if (strncmp(why, "bulwark: ", 9) != 0 ||
	    strlen(why) >= SHELLCMD_WHY_MAX)
		abort();
	for (i = 0; why[i] != '\0'; i++) {
		if ((unsigned char)why[i] < 0x20 || why[i] == 0x7f)
			abort();
	}
}

static void
check_parse(const uint8_t *data, size_t size)
{
	struct shellcmd sc;
	char why[SHELLCMD_WHY_MAX];
	char *cmd, *env;
	const uint8_t *nul;
	size_t clen;
	int flags, tty, r;

	if (size < 1)
		return;
	flags = data[0];
	tty = flags & 1;
	data++;
	size--;
	nul = memchr(data, 0, size);
	clen = nul != NULL ? (size_t)(nul - data) : size;
	if ((cmd = malloc(size + 2)) == NULL)
		return;
	memcpy(cmd, data, size);
	cmd[clen] = '\0';
	cmd[size] = '\0';
	cmd[size + 1] = '\0';
	env = nul != NULL ? cmd + clen + 1 : cmd + size + 1;
	r = shellcmd_parse((flags & 2) ? cmd : NULL, (flags & 4) ? env : NULL,
	    tty, &sc, why);
	if (r == ERR_OK)
		check_ok(&sc, tty);
	else
		check_refused(&sc, r, why);
	shellcmd_release(&sc);
	free(cmd);
}

static int
scan(const uint8_t *data, size_t size, size_t piece)
{
	struct shellcmd_keyscan ks;
	size_t off;

	shellcmd_keyscan_init(&ks);
	for (off = 0; off < size; off += piece)
		shellcmd_keyscan_feed(&ks, data + off,
		    size - off < piece ? size - off : piece);
	if (ks.tail_len >= SHELLCMD_SCAN_TAIL)
		abort();
	return ks.mismatch;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int whole;
	size_t piece;

	check_parse(data, size);
	if (size == 0)
		return 0;
	whole = scan(data, size, size);
	for (piece = 1; piece < 8 && piece < size; piece++) {
		if (scan(data, size, piece) != whole)
			abort();
	}
	return 0;
}
