/*
 * sshbin.h - which ssh client bulwark-shell runs to reach a target.
 *
 * Debian's /usr/bin/ssh, run by a gateway user, is dumpable: any other
 * process of that user may ptrace it (Debian's default Yama scope is 0)
 * and take over a session that is being recorded. Linux makes a process
 * non-dumpable when it executes a file its user may not read
 * (fs/exec.c, would_dump), so `bulwark gateway setup` keeps a copy of
 * Debian's ssh beside bulwark-shell that is root's and mode 0111:
 * unmodified, but neither readable nor traceable by the user running it.
 *
 * bulwark-shell never runs a traceable ssh: without the copy it opens no
 * session. A copy that no longer matches /usr/bin/ssh (size and
 * modification time, which the copy keeps) is stale: after an upgrade of
 * openssh-client it is still used, with a warning to syslog, until it is
 * made again (setup installs an apt hook that does that at once).
 */
#ifndef BULWARK_GATEWAY_SSHBIN_H
#define BULWARK_GATEWAY_SSHBIN_H

#include "common/err.h"

/* The ssh client; fixed at build time, never from the environment. */
#ifndef SSHBIN_SYSTEM
#define SSHBIN_SYSTEM	"/usr/bin/ssh"
#endif
/* The execute-only copy, beside bulwark-shell. */
#define SSHBIN_COPY_NAME	"bulwark-ssh"
#define SSHBIN_COPY_MODE	0111

enum sshbin_state {
	SSHBIN_MISSING,	/* absent, or not a root-owned 0111 regular file */
	SSHBIN_STALE,	/* usable, but not the same as SSHBIN_SYSTEM */
	SSHBIN_FRESH,
};
enum sshbin_state sshbin_copy_state(const char *copy);

/*
 * Makes dir/SSHBIN_COPY_NAME a fresh copy (root only): written beside it,
 * synced, then renamed over it. *kept is 1 when it already was fresh.
 */
int sshbin_copy_make(const char *dir, int *kept) WUR;

#endif
