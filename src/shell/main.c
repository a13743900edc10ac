/*
 * main.c - bulwark-shell, the login shell of every gateway user.
 *
 * sshd runs it as "bulwark-shell" (argv[0] may be "-bulwark-shell") for a
 * login without a command and as "bulwark-shell -c COMMAND" for exec
 * requests and subsystems. What it does then is decided by shellcmd.h
 * from that command and BULWARK_TARGET; everything else the user could
 * set in the environment is ignored, except TERM, LANG and LC_* which
 * only reach the ssh client (sshrun.c).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gateway/proto.h"
#include "shell/shell.h"
#include "common/banned.h"

#define RHOST_MAX	64
#define TERM_MAX	64

void
shell_msg(const char *fmt, ...)
{
	va_list ap;

	fputs("bulwark: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
}

/*
 * A transport failure means bulwarkd is down or wedged: say where we
 * looked. A status from bulwarkd means it answered and refused.
 */
void
shell_rpc_failed(const struct shell *sh, int r)
{
	if (r == ERR_NETWORK || r == ERR_FORMAT || r == ERR_TOOBIG ||
	    r == ERR_IO)
		shell_msg("the gateway daemon is not answering at %s; ask an "
		    "administrator to check bulwarkd", sh->socket_path);
	else
		shell_msg("the gateway daemon refused the request (%s); ask "
		    "an administrator to check bulwarkd's log", err_str(r));
}

static int
only_chars(const char *s, const char *extra)
{
	for (; *s != '\0'; s++) {
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || strchr(extra, *s) != NULL))
			return 0;
	}
	return 1;
}

/* The client's address: the first word of SSH_CONNECTION, if sane. */
static const char *
env_rhost(void)
{
	static char rhost[RHOST_MAX + 1];
	const char *conn = getenv("SSH_CONNECTION");
	size_t n;

	if (conn == NULL)
		return NULL;
	n = strcspn(conn, " ");
	if (n == 0 || n > RHOST_MAX)
		return NULL;
	memcpy(rhost, conn, n);
	rhost[n] = '\0';
	return only_chars(rhost, ".:%") ? rhost : NULL;
}

/* TERM goes into the recording's header and ssh's environment. */
static const char *
env_term(void)
{
	const char *term = getenv("TERM");

	if (term == NULL || term[0] == '\0' || strlen(term) > TERM_MAX ||
	    !only_chars(term, "._+-"))
		return NULL;
	return term;
}

static const char *
env_socket(void)
{
	const char *path = getenv("BULWARK_SOCKET");

	return path != NULL && path[0] != '\0' ? path : PROTO_DEFAULT_SOCKET;
}

/* No arguments, or exactly "-c COMMAND", as sshd calls a login shell. */
static int
parse_args(int argc, char **argv, const char **cmd)
{
	*cmd = NULL;
	if (argc == 1)
		return ERR_OK;
	if (argc == 3 && strcmp(argv[1], "-c") == 0) {
		*cmd = argv[2];
		return ERR_OK;
	}
	return ERR_INVAL;
}

static void
harden(void)
{
	/* Nothing it starts may gain privileges (setuid ssh-keysign). */
	(void)prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	/*
	 * No core dump and no ptrace by another process of the same user:
	 * the shell decides what is recorded, and its key agent (a child,
	 * non-dumpable too) holds the session's key. ssh, exec'd later from
	 * an execute-only copy, is made non-dumpable by the kernel
	 * (src/gateway/sshbin.h).
	 */
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	umask(077);
}

/*
 * Whether this executable is root's and unreadable by the user: only then
 * did the kernel make this process non-dumpable at exec, before any code
 * of ours ran; a readable one leaves the time up to harden() to another
 * process of the user, which can attach and undo it. Installed so by
 * bulwark gateway setup.
 */
static int
exec_only(void)
{
	struct stat st;

	if (stat("/proc/self/exe", &st) == 0 && st.st_uid == 0 &&
	    (st.st_mode & 0444) == 0)
		return 1;
	shell_msg("this gateway's bulwark-shell is readable by its users, so "
	    "their other processes could take over a session; ask an "
	    "administrator to run bulwark gateway setup, which installs it "
	    "root-owned and execute-only");
	return 0;
}

static int
run(struct shell *sh)
{
	int r, status = SHELL_EXIT_FAIL;

	if ((r = rpc_client_connect(sh->socket_path, SHELL_RPC_TIMEOUT_MS,
	    &sh->rpc)) != ERR_OK) {
		shell_rpc_failed(sh, ERR_NETWORK);
		return SHELL_EXIT_FAIL;
	}
	if (sh->cmd.kind == SHELLCMD_MENU) {
		if (menu_run(sh, &status) != ERR_OK)
			return status;
		if (sh->cmd.kind == SHELLCMD_MENU)
			return status;	/* listed only, or the user quit */
	}
	return session_run(sh);
}

int
main(int argc, char **argv)
{
	struct shell sh;
	const char *cmd, *env_target;
	char why[SHELLCMD_WHY_MAX];
	int status;

	harden();
	if (!exec_only())
		return SHELL_EXIT_FAIL;
	memset(&sh, 0, sizeof(sh));
	if (parse_args(argc, argv, &cmd) != ERR_OK) {
		shell_msg("this is a login shell; sshd runs it as "
		    "\"bulwark-shell\" or \"bulwark-shell -c COMMAND\"");
		return 2;
	}
	sh.socket_path = env_socket();
	sh.rhost = env_rhost();
	sh.term = env_term();
	sh.stdin_tty = isatty(STDIN_FILENO);
	env_target = getenv("BULWARK_TARGET");
	if (env_target != NULL && env_target[0] == '\0')
		env_target = NULL;
	if (shellcmd_parse(cmd, env_target, sh.stdin_tty, &sh.cmd, why) !=
	    ERR_OK) {
		fprintf(stderr, "%s\n", why);
		return SHELL_EXIT_FAIL;
	}
	status = run(&sh);
	rpc_client_free(sh.rpc);
	shellcmd_release(&sh.cmd);
	return status;
}
