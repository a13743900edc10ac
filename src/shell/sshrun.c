/*
 * sshrun.c - runs the ssh client to the target: fork + execve with an
 * argv array (never a shell), a cleared environment, and options that
 * leave the user nothing to configure:
 *
 *  - -F /dev/null and HOME = the session's directory: no ssh_config, no
 *    ~/.ssh; IdentityFile = the certificate, IdentitiesOnly and
 *    IdentityAgent = the session's agent (agent.c), which holds the key:
 *    only the session's certificate is offered;
 *  - the pinned host key alone is trusted (UserKnownHostsFile,
 *    GlobalKnownHostsFile=/dev/null, StrictHostKeyChecking=yes,
 *    HostKeyAlias, CheckHostIP=no, UpdateHostKeys=no);
 *  - -e none: without it a user could type ~C and open forwardings from
 *    the gateway; ClearAllForwardings, ForwardAgent/X11=no,
 *    ControlPath=none, PermitLocalCommand=no do the rest; BatchMode and
 *    no password or keyboard-interactive fallback;
 *  - the connection is the one dial.c made: ProxyUseFdpass, ProxyCommand
 *    = the hand-over socket, SHELL = bulwark-dial (see dial.c);
 *  - "--" before the host: OpenSSH parses options after the host too, so
 *    a command such as "-oProxyCommand=..." would otherwise be an option.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include "gateway/sshbin.h"
#include "shell/shell.h"
#include "common/banned.h"

#define ARGV_MAX	80
#define ENV_MAX		32
#define ENV_VALUE_MAX	128
#define OPT_MAX		160	/* "Name=path" */
#define PIPE_SIZE	(1024 * 1024)	/* fewer wake-ups for bulk copies */

extern char **environ;

static const char *const fixed_args[] = {
	"-F", "/dev/null", "-e", "none",
	"-o", "IdentitiesOnly=yes",
	"-o", "GlobalKnownHostsFile=/dev/null",
	"-o", "StrictHostKeyChecking=yes",
	"-o", ("HostKeyAlias=" SHELL_HOSTKEY_ALIAS),
	"-o", "CheckHostIP=no", "-o", "UpdateHostKeys=no",
	"-o", "BatchMode=yes", "-o", "ClearAllForwardings=yes",
	"-o", "ForwardAgent=no", "-o", "ForwardX11=no",
	"-o", "PasswordAuthentication=no",
	"-o", "KbdInteractiveAuthentication=no",
	"-o", "ServerAliveInterval=15", "-o", "LogLevel=ERROR",
	"-o", "ControlPath=none", "-o", "PermitLocalCommand=no",
	/* The connection comes from dial.c, through bulwark-dial. */
	"-o", "ProxyUseFdpass=yes",
};
#define NFIXED (sizeof(fixed_args) / sizeof(fixed_args[0]))

/* The strings argv points into, so that nothing is allocated. */
struct ssh_argv {
	const char *argv[ARGV_MAX];
	size_t n;
	char id_opt[OPT_MAX];
	char agent_opt[OPT_MAX];
	char kh_opt[OPT_MAX];
	char proxy_opt[OPT_MAX];
	char *envp[ENV_MAX + 1];
	size_t nenv;
	char home[OPT_MAX];
	char term[OPT_MAX];
	char shell[OPT_MAX + 8];
	char ssh[OPT_MAX + 16];		/* the binary run */
};

static void
add(struct ssh_argv *a, const char *s)
{
	if (a->n < ARGV_MAX - 1)
		a->argv[a->n++] = s;
}

static int
build_argv(const struct shell *sh, const struct session *s,
    const char *dial_path, struct ssh_argv *a)
{
	const struct shellcmd *c = &sh->cmd;
	size_t i;

	add(a, "ssh");
	for (i = 0; i < NFIXED; i++)
		add(a, fixed_args[i]);
	/* -o IdentityFile, not -i: ssh checks -i files when it starts,
	 * and this one is written while ssh starts (session.c). The
	 * certificate alone: the agent has the key. */
	if ((size_t)snprintf(a->id_opt, sizeof(a->id_opt),
	    "IdentityFile=%s", s->cert_path) >= sizeof(a->id_opt) ||
	    (size_t)snprintf(a->agent_opt, sizeof(a->agent_opt),
	    "IdentityAgent=%s", s->agent.path) >= sizeof(a->agent_opt) ||
	    (size_t)snprintf(a->kh_opt, sizeof(a->kh_opt),
	    "UserKnownHostsFile=%s", s->kh_path) >= sizeof(a->kh_opt) ||
	    (size_t)snprintf(a->proxy_opt, sizeof(a->proxy_opt),
	    "ProxyCommand=%s", dial_path) >= sizeof(a->proxy_opt))
		return ERR_TOOBIG;
	add(a, "-o");
	add(a, a->id_opt);
	add(a, "-o");
	add(a, a->agent_opt);
	add(a, "-o");
	add(a, a->kh_opt);
	add(a, "-o");
	add(a, a->proxy_opt);
	add(a, "-l");
	add(a, c->login);
	add(a, c->want_pty ? "-t" : "-T");
	if (c->subsystem != NULL)
		add(a, "-s");
	add(a, "--");
	/* Only a name for ssh's messages: the connection comes from dial.c
	 * and the host key is checked under HostKeyAlias. */
	add(a, c->target);
	if (c->subsystem != NULL)
		add(a, c->subsystem);
	else if (c->command != NULL)
		add(a, c->command);
	a->argv[a->n] = NULL;
	return a->n < ARGV_MAX - 1 ? ERR_OK : ERR_INTERNAL;
}

/* LANG and LC_*: printable ASCII without spaces, short. */
static int
locale_var(const char *kv)
{
	const char *p;

	if (strncmp(kv, "LANG=", 5) != 0 && strncmp(kv, "LC_", 3) != 0)
		return 0;
	if ((p = strchr(kv, '=')) == NULL || strlen(p + 1) > ENV_VALUE_MAX)
		return 0;
	for (p = kv; *p != '\0'; p++) {
		if (*p <= 0x20 || *p >= 0x7f)
			return 0;
	}
	return 1;
}

/* The directory of our own executable: where our helpers are. */
static int
self_dir(char *buf, size_t len)
{
	ssize_t n = readlink("/proc/self/exe", buf, len - 1);
	char *slash;

	if (n <= 0 || (size_t)n >= len - 1)
		return ERR_TOOBIG;
	buf[n] = '\0';
	if ((slash = strrchr(buf, '/')) == NULL)
		return ERR_INTERNAL;
	*slash = '\0';
	return ERR_OK;
}

/*
 * The execute-only copy of ssh beside us (src/gateway/sshbin.h); never
 * the system's ssh, which other processes of the user could trace. A
 * stale copy still runs, said to syslog for the administrator.
 */
static int
ssh_binary(const char *dir, char *buf, size_t len)
{
	enum sshbin_state st = SSHBIN_MISSING;

	if ((size_t)snprintf(buf, len, "%s/%s", dir, SSHBIN_COPY_NAME) < len)
		st = sshbin_copy_state(buf);
	if (st == SSHBIN_STALE)
		syslog(LOG_AUTH | LOG_WARNING, "%s is older than %s: sessions "
		    "run the old ssh; run: bulwark gateway ssh-copy --bindir %s",
		    buf, SSHBIN_SYSTEM, dir);
	if (st != SSHBIN_MISSING)
		return ERR_OK;
	shell_msg("%s/%s, the gateway's copy of ssh, is missing; ask an "
	    "administrator to run: bulwark gateway ssh-copy", dir,
	    SSHBIN_COPY_NAME);
	return ERR_NOTFOUND;
}

/*
 * SHELL=bulwark-dial beside our own executable (in dir): ssh runs the
 * proxy command as "$SHELL -c 'exec COMMAND'", so the helper is started
 * without a shell in between. Our directory, not PATH: nothing from the
 * user.
 */
static int
dial_helper(const char *dir, char *buf, size_t len)
{
	if ((size_t)snprintf(buf, len, "SHELL=%s/%s", dir, SHELL_DIAL_NAME) >=
	    len)
		return ERR_TOOBIG;
	if (access(buf + 6, X_OK) != 0) {
		shell_msg("%s is missing or not executable; ask an "
		    "administrator to install it beside bulwark-shell",
		    buf + 6);
		return ERR_NOTFOUND;
	}
	return ERR_OK;
}

static int
build_env(const struct shell *sh, const struct session *s,
    struct ssh_argv *a)
{
	char dir[OPT_MAX], **e;
	int r;

	if ((size_t)snprintf(a->home, sizeof(a->home), "HOME=%s", s->dir) >=
	    sizeof(a->home))
		return ERR_TOOBIG;
	a->envp[a->nenv++] = a->home;
	/* Our helpers are beside our own executable. */
	if ((r = self_dir(dir, sizeof(dir))) != ERR_OK ||
	    (r = dial_helper(dir, a->shell, sizeof(a->shell))) != ERR_OK)
		return r;
	a->envp[a->nenv++] = a->shell;
	if (sh->term != NULL) {
		snprintf(a->term, sizeof(a->term), "TERM=%s", sh->term);
		a->envp[a->nenv++] = a->term;
	}
	for (e = environ; *e != NULL && a->nenv < ENV_MAX; e++) {
		if (locale_var(*e))
			a->envp[a->nenv++] = *e;
	}
	a->envp[a->nenv] = NULL;
	return ssh_binary(dir, a->ssh, sizeof(a->ssh));
}

static void
close_pair(int p[2])
{
	if (p[0] >= 0)
		close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
	p[0] = p[1] = -1;
}

/* In the child: the pipes onto 0, 1, 2 and nothing else open. */
__attribute__((noreturn))
static void
child_exec(const struct ssh_argv *a, int in, int out, int err)
{
	static const char msg[] = "bulwark: cannot run ssh; ask an "
	    "administrator to check the gateway\n";

	sig_child_reset();
	if ((in >= 0 && dup2(in, STDIN_FILENO) < 0) ||
	    dup2(out, STDOUT_FILENO) < 0 || dup2(err, STDERR_FILENO) < 0)
		_exit(127);
	if (close_range(3, ~0U, 0) != 0) {
		for (int fd = 3; fd < 1024; fd++)
			(void)close(fd);
	}
	execve(a->ssh, (char *const *)a->argv, a->envp);
	(void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
	_exit(127);
}

static int
make_pipes(int want_in, int in[2], int out[2], int err[2])
{
	if ((want_in && pipe2(in, O_CLOEXEC) != 0) ||
	    pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0)
		return ERR_IO;
	/* Bulk copies (scp, sftp, rsync) move in larger steps. */
	if (want_in) {
		(void)fcntl(in[1], F_SETPIPE_SZ, PIPE_SIZE);
		(void)fcntl(out[0], F_SETPIPE_SZ, PIPE_SIZE);
	}
	return ERR_OK;
}

int
sshrun_spawn(const struct shell *sh, const struct session *s,
    const char *dial_path, struct sshrun *out)
{
	struct ssh_argv a;
	int in[2] = { -1, -1 }, op[2] = { -1, -1 }, ep[2] = { -1, -1 };
	int want_in = !sh->cmd.want_pty, r;
	pid_t pid;

	out->pid = -1;
	out->in_fd = out->out_fd = out->err_fd = -1;
	memset(&a, 0, sizeof(a));
	if ((r = build_argv(sh, s, dial_path, &a)) != ERR_OK ||
	    (r = build_env(sh, s, &a)) != ERR_OK)
		return r;
	if ((r = make_pipes(want_in, in, op, ep)) != ERR_OK)
		goto fail;
	if ((pid = fork()) < 0) {
		r = ERR_IO;
		goto fail;
	}
	if (pid == 0)
		child_exec(&a, in[0], op[1], ep[1]);
	sig_set_child(pid);
	out->pid = pid;
	out->in_fd = in[1];
	out->out_fd = op[0];
	out->err_fd = ep[0];
	if (in[0] >= 0)
		close(in[0]);
	close(op[1]);
	close(ep[1]);
	return ERR_OK;
 fail:
	close_pair(in);
	close_pair(op);
	close_pair(ep);
	return r;
}

void
sshrun_show_errors(const struct sshrun *run)
{
	char buf[4096];
	ssize_t n;
	int fl;

	if (run->err_fd < 0 || (fl = fcntl(run->err_fd, F_GETFL)) < 0 ||
	    fcntl(run->err_fd, F_SETFL, fl | O_NONBLOCK) != 0)
		return;
	/* Bounded: ssh's own error lines, not a stream. */
	if ((n = read(run->err_fd, buf, sizeof(buf))) > 0)
		(void)!write(STDERR_FILENO, buf, (size_t)n);
}

void
sshrun_abort(struct sshrun *run)
{
	int st;

	if (run->pid > 0) {
		(void)kill(run->pid, SIGKILL);
		while (waitpid(run->pid, &st, 0) < 0 && errno == EINTR)
			;
		sig_set_child(0);
	}
	if (run->in_fd >= 0)
		close(run->in_fd);
	if (run->out_fd >= 0)
		close(run->out_fd);
	if (run->err_fd >= 0)
		close(run->err_fd);
	run->pid = -1;
	run->in_fd = run->out_fd = run->err_fd = -1;
}
