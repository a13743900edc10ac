/*
 * cmd_gateway.c - bulwark gateway setup: turns a Debian host into a
 * Bulwark gateway. A system user for bulwarkd, its state (SQLite, user
 * CA, audit log: made by bulwarkd --init), a second sshd of Debian's own
 * (a symlink to /usr/sbin/sshd named after its PAM service, with its own
 * config and host key, leaving the system's sshd alone), its PAM stack
 * and the systemd units of both.
 *
 * Idempotent: each step keeps what is already right and says so; keys
 * (the gateway's host key, the CA) are never regenerated. Files we own
 * are rewritten when they differ from what the options ask for.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/sshkey.h"
#include "cli/cli.h"
#include "gateway/sshbin.h"
#include "cli/gwclient.h"
#include "common/fsutil.h"
#include "common/banned.h"

/* sshd's AuthorizedKeysCommandUser, unprivileged (see bulwarkd --keys-user). */
#define KEYS_USER "nobody"

#define SSHD "/usr/sbin/sshd"
#define PAM_FALLBACK_DIR "/usr/local/lib/x86_64-linux-gnu/security"

struct setup {
	const char *user, *state, *etc, *run, *listen, *srcaddr, *pam;
	const char *systemd, *pamdir, *aptdir;
	char bindir[PATH_MAX];
	uint32_t port;
	int start;
	char sock[PATH_MAX];
	char pamso[PATH_MAX];
};

/* A formatted path in a static-size buffer; refuses to truncate. */
static int
pathf(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
pathf(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= len) {
		cli_error("path too long");
		return -1;
	}
	return 0;
}

/* A growing string for the files we write. */
struct text {
	char *p;
	size_t len, cap;
	int failed;
};

static void
add(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
add(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->failed)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(t->p ? t->p + t->len : NULL,
		    t->p ? t->cap - t->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			t->failed = 1;
			return;
		}
		if (t->p != NULL && (size_t)n < t->cap - t->len) {
			t->len += (size_t)n;
			return;
		}
		{
			size_t cap = t->cap ? t->cap * 2 : 4096;
			char *np;

			while (cap < t->len + (size_t)n + 1)
				cap *= 2;
			if ((np = realloc(t->p, cap)) == NULL) {
				t->failed = 1;
				return;
			}
			t->p = np;
			t->cap = cap;
		}
	}
}

/*
 * Makes path hold exactly data with mode: "kept" when it already does,
 * else written atomically ("wrote" / "updated").
 */
static int
put_file(const char *path, const struct text *t, mode_t mode)
{
	char *old = NULL;
	size_t oldlen = 0;
	struct stat st;
	int r, existed;

	if (t->failed || t->p == NULL) {
		cli_error("out of memory writing %s", path);
		return -1;
	}
	r = fs_read_file(path, 1 << 20, &old, &oldlen);
	existed = r != ERR_NOTFOUND;
	if (r == ERR_OK && oldlen == t->len && memcmp(old, t->p, oldlen) == 0 &&
	    stat(path, &st) == 0 && (st.st_mode & 07777) == mode &&
	    st.st_uid == 0) {
		free(old);
		printf("kept %s\n", path);
		return 0;
	}
	free(old);
	if (fs_write_atomic(path, t->p, t->len, mode, 0) != ERR_OK ||
	    chmod(path, mode) != 0) {
		cli_error("cannot write %s: %s", path, strerror(errno));
		return -1;
	}
	printf("%s %s\n", existed ? "updated" : "wrote", path);
	return 0;
}

static int
ensure_dir(const char *path, mode_t mode)
{
	struct stat st;

	if (lstat(path, &st) == 0) {
		if (!S_ISDIR(st.st_mode)) {
			cli_error("%s exists and is not a directory; move it "
			    "away and rerun", path);
			return -1;
		}
		printf("kept %s\n", path);
		return 0;
	}
	if (fs_mkdirs(path, mode) != ERR_OK || chmod(path, mode) != 0) {
		cli_error("cannot create %s: %s", path, strerror(errno));
		return -1;
	}
	printf("created %s\n", path);
	return 0;
}

/* Runs argv; prints what failed. what names the step. */
static int
run(char *const argv[], const char *what)
{
	int st, r = gw_run(argv, 120, NULL, &st);

	if (r == ERR_NOTFOUND) {
		cli_error("cannot run %s: %s", argv[0], strerror(errno));
		return -1;
	}
	if (r != ERR_OK || st != 0) {
		cli_error("%s failed (%s exited with %d); see its message above",
		    what, argv[0], st);
		return -1;
	}
	return 0;
}

static int
step_user(const struct setup *s)
{
	char *argv[] = { "/usr/sbin/useradd", "--system", "--home-dir",
	    (char *)s->state, "--no-create-home", "--shell",
	    "/usr/sbin/nologin", (char *)s->user, NULL };

	if (getpwnam(s->user) != NULL) {
		printf("kept system user %s\n", s->user);
		return 0;
	}
	if (run(argv, "creating the system user") != 0)
		return -1;
	printf("created system user %s\n", s->user);
	return 0;
}

/* The FIDO2 group (gwclient.h): its members log in with the key alone. */
static int
step_fido2_group(const struct setup *s)
{
	char group[GW_GROUP_MAX];
	char *argv[] = { "/usr/sbin/groupadd", "--system", group, NULL };

	if (gw_fido2_group(s->user, group, sizeof(group)) != 0) {
		cli_error("--service-user '%s' is too long for its group "
		    "'%s%s'", s->user, s->user, GW_FIDO2_SUFFIX);
		return -1;
	}
	if (getgrnam(group) != NULL) {
		printf("kept group %s\n", group);
		return 0;
	}
	if (run(argv, "creating the FIDO2 users' group") != 0)
		return -1;
	printf("created group %s (users whose every key is a FIDO2 key)\n",
	    group);
	return 0;
}

static int
step_state(const struct setup *s)
{
	char bin[PATH_MAX];

	if (pathf(bin, sizeof(bin), "%s/bulwarkd", s->bindir) != 0)
		return -1;
	{
		char *argv[] = { bin, "--init", "--user", (char *)s->user,
		    "--state", (char *)s->state, "--socket", (char *)s->sock,
		    "--source-address", (char *)s->srcaddr, NULL };

		/* bulwarkd --init prints its own created/kept lines. */
		return run(argv, "bulwarkd --init");
	}
}

static int
step_hostkey(const struct setup *s)
{
	char key[PATH_MAX];
	struct stat st;

	if (pathf(key, sizeof(key), "%s/ssh_host_ed25519_key", s->etc) != 0)
		return -1;
	if (lstat(key, &st) == 0) {
		printf("kept host key %s\n", key);
		return 0;
	}
	{
		char *argv[] = { "/usr/bin/ssh-keygen", "-q", "-t", "ed25519",
		    "-N", "", "-C", "bulwark-gateway", "-f", key, NULL };

		if (run(argv, "making the gateway's host key") != 0)
			return -1;
	}
	printf("created host key %s\n", key);
	return 0;
}

static int
step_sshd_config(const struct setup *s)
{
	struct text t = { 0 };
	char path[PATH_MAX], group[GW_GROUP_MAX];
	int r;

	if (pathf(path, sizeof(path), "%s/sshd_config", s->etc) != 0 ||
	    gw_fido2_group(s->user, group, sizeof(group)) != 0)
		return -1;
	add(&t, "# Bulwark gateway sshd, written by `bulwark gateway setup`; "
	    "rerun it rather than editing.\n");
	add(&t, "Port %u\n", (unsigned)s->port);
	add(&t, "ListenAddress %s\n", s->listen);
	add(&t, "HostKey %s/ssh_host_ed25519_key\n", s->etc);
	add(&t, "PidFile %s/sshd.pid\n", s->run);
	add(&t, "AuthenticationMethods publickey,keyboard-interactive\n"
	    "PubkeyAuthentication yes\n"
	    "KbdInteractiveAuthentication yes\n"
	    "PasswordAuthentication no\n"
	    "PermitRootLogin no\n"
	    "UsePAM yes\n"
	    "ExposeAuthInfo yes\n"
	    "AuthorizedKeysFile none\n");
	add(&t, "AuthorizedKeysCommand %s/bulwark-keys --socket %s %%u %%t "
	    "%%k\n", s->bindir, s->sock);
	/* Not s->user: the process parsing what a client sent must not be
	 * the uid that can read the CA key (bulwarkd --keys-user). */
	add(&t, "AuthorizedKeysCommandUser %s\n", KEYS_USER);
	add(&t, "DisableForwarding yes\n"
	    "AllowTcpForwarding no\n"
	    "AllowAgentForwarding no\n"
	    "AllowStreamLocalForwarding no\n"
	    "X11Forwarding no\n"
	    "PermitTunnel no\n"
	    "PermitUserEnvironment no\n"
	    "PermitUserRC no\n"
	    "AcceptEnv BULWARK_TARGET\n");
	add(&t, "SetEnv BULWARK_SOCKET=%s\n", s->sock);
	add(&t, "PrintMotd no\n"
	    "Subsystem sftp /usr/lib/openssh/sftp-server\n");
	/* Last: a Match block runs to the end of the file. */
	add(&t, "\n# Users whose every key is a FIDO2 key ('bulwark user' keeps "
	    "this group):\n# the key, verified (verify-required), is both "
	    "factors. pam_bulwark's\n# account step refuses any login that is "
	    "not two factors, whatever\n# this says.\n"
	    "Match Group %s\n"
	    "\tAuthenticationMethods publickey\n", group);
	r = put_file(path, &t, 0644);
	free(t.p);
	return r;
}

static int
step_symlink(const struct setup *s)
{
	char link[PATH_MAX], target[PATH_MAX];
	ssize_t n;

	if (pathf(link, sizeof(link), "%s/%s", s->etc, s->pam) != 0)
		return -1;
	n = readlink(link, target, sizeof(target) - 1);
	if (n >= 0) {
		target[n] = '\0';
		if (strcmp(target, SSHD) == 0) {
			printf("kept %s -> %s\n", link, SSHD);
			return 0;
		}
		if (unlink(link) != 0) {
			cli_error("cannot replace %s: %s", link,
			    strerror(errno));
			return -1;
		}
	} else if (errno != ENOENT) {
		cli_error("%s exists and is not a symbolic link; move it away "
		    "and rerun", link);
		return -1;
	}
	if (symlink(SSHD, link) != 0) {
		cli_error("cannot make %s -> %s: %s", link, SSHD,
		    strerror(errno));
		return -1;
	}
	printf("created %s -> %s (sshd takes its PAM service name from it)\n",
	    link, SSHD);
	return 0;
}

static int
step_pam(const struct setup *s)
{
	struct text t = { 0 };
	char path[PATH_MAX];
	int r;

	if (pathf(path, sizeof(path), "%s/%s", s->pamdir, s->pam) != 0)
		return -1;
	add(&t, "# Bulwark gateway sshd (%s/%s), written by `bulwark gateway "
	    "setup`;\n# rerun it rather than editing. The key is checked by "
	    "AuthorizedKeysCommand,\n# the TOTP code here, by bulwarkd; the "
	    "session step records the\n# login, which alone lets its shells "
	    "open sessions.\n",
	    s->etc, s->pam);
	add(&t, "auth required %s socket=%s\n", s->pamso, s->sock);
	add(&t, "account required %s socket=%s\n", s->pamso, s->sock);
	add(&t, "session required %s socket=%s\n", s->pamso, s->sock);
	add(&t, "password required pam_deny.so\n");
	r = put_file(path, &t, 0644);
	free(t.p);
	return r;
}

static int
step_check(const struct setup *s)
{
	char bin[PATH_MAX], conf[PATH_MAX];
	struct stat st;

	if (lstat("/run/sshd", &st) != 0) {
		/* sshd -t wants its privilege separation directory. */
		if (mkdir("/run/sshd", 0755) != 0 && errno != EEXIST) {
			cli_error("cannot create /run/sshd: %s",
			    strerror(errno));
			return -1;
		}
		printf("created /run/sshd\n");
	}
	if (pathf(bin, sizeof(bin), "%s/%s", s->etc, s->pam) != 0 ||
	    pathf(conf, sizeof(conf), "%s/sshd_config", s->etc) != 0)
		return -1;
	{
		char *argv[] = { bin, "-t", "-f", conf, NULL };

		if (run(argv, "checking the sshd configuration") != 0)
			return -1;
	}
	printf("checked %s with sshd -t\n", conf);
	return 0;
}

/*
 * Whether path and every directory above it belong to root and nobody
 * else may write them: what sshd demands of AuthorizedKeysCommand, and
 * what a program run as root by the apt hook needs.
 */
static int
root_owned_chain(const char *path)
{
	char p[PATH_MAX];
	struct stat st;
	char *slash;

	if ((size_t)snprintf(p, sizeof(p), "%s", path) >= sizeof(p))
		return 0;
	for (;;) {
		if (stat(p, &st) != 0 || st.st_uid != 0 ||
		    (st.st_mode & 022) != 0)
			return 0;
		if ((slash = strrchr(p, '/')) == NULL || slash == p)
			break;
		*slash = '\0';
	}
	return stat("/", &st) == 0 && st.st_uid == 0 && (st.st_mode & 022) == 0;
}

/* sshd refuses AuthorizedKeysCommand otherwise: warn early instead of
 * letting every login fail later. */
static void
check_keys_command_path(const struct setup *s)
{
	char path[PATH_MAX];

	if (pathf(path, sizeof(path), "%s/bulwark-keys", s->bindir) != 0)
		return;
	if (!root_owned_chain(path))
		printf("warning: sshd will refuse AuthorizedKeysCommand "
		    "%s/bulwark-keys: it or a directory above it is not owned "
		    "by root or is writable by others; install bulwark under a "
		    "root-owned directory (e.g. /usr/local/bin) and rerun with "
		    "--bindir\n", s->bindir);
}

/* The execute-only copy of ssh that bulwark-shell runs (gateway/sshbin.h). */
static int
ssh_copy(const char *bindir)
{
	int kept, r;

	if ((r = sshbin_copy_make(bindir, &kept)) != ERR_OK) {
		cli_error("cannot copy %s to %s/%s: %s (%s)", SSHBIN_SYSTEM,
		    bindir, SSHBIN_COPY_NAME, err_str(r), strerror(errno));
		return -1;
	}
	printf("%s %s/%s (an execute-only copy of %s)\n",
	    kept ? "kept" : "wrote", bindir, SSHBIN_COPY_NAME, SSHBIN_SYSTEM);
	return 0;
}

/*
 * bulwark-shell (each user's login shell) and bulwark-dial (ssh's proxy
 * dialer, run as the user) root's and execute-only, like bulwark-ssh: the
 * kernel makes a process non-dumpable when its user may not read the
 * file it executes, so the user's other processes cannot attach to them
 * before they protect themselves (bulwark-shell refuses to run otherwise).
 */
static int
step_exec_only(const struct setup *s)
{
	static const char *const names[] = { "bulwark-shell", "bulwark-dial" };
	char path[PATH_MAX];
	struct stat st;
	size_t i;
	int fd, r;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (pathf(path, sizeof(path), "%s/%s", s->bindir, names[i]) != 0)
			return -1;
		/* Whoever may replace it owns every session: refuse. */
		if (!root_owned_chain(s->bindir)) {
			cli_error("%s, or a directory above it, is not root's "
			    "alone, so users could replace %s; install Bulwark "
			    "under a root-owned directory (e.g. /usr/local/bin) "
			    "and rerun with --bindir", s->bindir, names[i]);
			return -1;
		}
		/* Through the descriptor: never a symbolic link's target. */
		if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0 ||
		    fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
			cli_error("%s is missing or not a regular file; install "
			    "Bulwark there or pass --bindir DIR", path);
			if (fd >= 0)
				close(fd);
			return -1;
		}
		if (st.st_uid == 0 && st.st_gid == 0 &&
		    (st.st_mode & 07777) == SSHBIN_COPY_MODE) {
			close(fd);
			printf("kept %s (mode 0111)\n", path);
			continue;
		}
		r = fchown(fd, 0, 0) == 0 && fchmod(fd, SSHBIN_COPY_MODE) == 0 ?
		    0 : errno;
		close(fd);
		if (r != 0) {
			cli_error("cannot make %s root's with mode 0111: %s",
			    path, strerror(r));
			return -1;
		}
		printf("set %s to root's, mode 0111 (execute-only)\n", path);
	}
	return 0;
}

/*
 * An apt hook that makes the copy again after every dpkg run, so that a
 * security update of openssh-client reaches sessions at once. bindir is
 * checked by gw_valid_path: nothing in it needs quoting.
 */
static int
step_apt_hook(const struct setup *s)
{
	struct text t = { 0 };
	char path[PATH_MAX];
	int r;

	if (pathf(path, sizeof(path), "%s/80bulwark-ssh", s->aptdir) != 0)
		return -1;
	/* apt runs the hook as root: never a program others could replace. */
	{
		char prog[PATH_MAX];

		if (pathf(prog, sizeof(prog), "%s/bulwark", s->bindir) != 0)
			return -1;
		if (!root_owned_chain(prog)) {
			printf("warning: no apt hook: %s, or a directory above "
			    "it, is not root's alone, and apt would run it as "
			    "root; after an openssh-client update run: bulwark "
			    "gateway ssh-copy\n", prog);
			return 0;
		}
	}
	add(&t, "// Written by `bulwark gateway setup`: after each dpkg run, "
	    "refresh the execute-only\n// copy of ssh that bulwark-shell "
	    "runs, so an openssh-client update reaches it.\n"
	    "DPkg::Post-Invoke { \"if [ -x %s/bulwark ]; then %s/bulwark "
	    "gateway ssh-copy --bindir %s >/dev/null || true; fi\"; };\n",
	    s->bindir, s->bindir, s->bindir);
	r = put_file(path, &t, 0644);
	free(t.p);
	return r;
}

/* The start of every unit file setup writes. */
static void
unit_head(struct text *t)
{
	add(t, "# Written by `bulwark gateway setup`; rerun it rather than "
	    "editing.\n"
	    "[Unit]\n");
}

/*
 * The gateway sshd's listening socket, made by systemd with TCP_NODELAY
 * and handed to sshd (Debian's sshd takes it through sd_listen_fds and
 * then ignores Port and ListenAddress): connections accepted from it
 * inherit TCP_NODELAY, which saves each new connection a 40 ms Nagle and
 * delayed-ACK stall before its session channel is confirmed
 * (cmd_gateway_sshd.c says how). `bulwark gateway sshd` does the same
 * where systemd does not run.
 */
static int
step_socket(const struct setup *s)
{
	struct text t = { 0 };
	char path[PATH_MAX];
	int v6 = strchr(s->listen, ':') != NULL, r;

	if (pathf(path, sizeof(path), "%s/%s.socket", s->systemd, s->pam) != 0)
		return -1;
	unit_head(&t);
	add(&t, "Description=Bulwark gateway sshd socket (TCP_NODELAY)\n"
	    "Documentation=man:bulwark-gateway(1)\n"
	    "\n"
	    "[Socket]\n");
	add(&t, v6 ? "ListenStream=[%s]:%u\n" : "ListenStream=%s:%u\n",
	    s->listen, (unsigned)s->port);
	if (v6)
		add(&t, "BindIPv6Only=ipv6-only\n");
	add(&t, "NoDelay=true\n"
	    "Accept=no\n"
	    "\n"
	    "[Install]\n"
	    "WantedBy=sockets.target\n");
	r = put_file(path, &t, 0644);
	free(t.p);
	return r;
}

static int
step_units(const struct setup *s)
{
	struct text t = { 0 };
	char path[PATH_MAX];
	int r;

	if (pathf(path, sizeof(path), "%s/bulwarkd.service", s->systemd) != 0)
		return -1;
	unit_head(&t);
	add(&t, "Description=Bulwark monitor (user CA, policy, audit log)\n"
	    "Documentation=man:bulwark-gateway(1)\n"
	    "After=network.target\n"
	    "\n"
	    "[Service]\n"
	    "Type=simple\n");
	add(&t, "ExecStart=%s/bulwarkd --user %s --state %s --socket %s "
	    "--keys-user " KEYS_USER " --source-address %s\n", s->bindir,
	    s->user, s->state, s->sock,
	    s->srcaddr);
	add(&t, "Restart=on-failure\n"
	    "RestartSec=2\n"
	    "NoNewPrivileges=yes\n"
	    "ProtectSystem=strict\n"
	    "ProtectHome=read-only\n");
	add(&t, "ReadWritePaths=%s %s\n", s->state, s->run);
	if (strncmp(s->run, "/run/", 5) == 0 && strchr(s->run + 5, '/') ==
	    NULL)
		add(&t, "RuntimeDirectory=%s\n"
		    "RuntimeDirectoryMode=0755\n"
		    "RuntimeDirectoryPreserve=yes\n", s->run + 5);
	add(&t, "PrivateTmp=yes\n"
	    "PrivateDevices=yes\n"
	    "ProtectKernelTunables=yes\n"
	    "ProtectKernelModules=yes\n"
	    "ProtectKernelLogs=yes\n"
	    "ProtectControlGroups=yes\n"
	    "ProtectClock=yes\n"
	    "ProtectHostname=yes\n"
	    "RestrictSUIDSGID=yes\n"
	    "RestrictRealtime=yes\n"
	    "RestrictNamespaces=yes\n"
	    "LockPersonality=yes\n"
	    "MemoryDenyWriteExecute=yes\n"
	    "SystemCallArchitectures=native\n"
	    "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6\n"
	    "UMask=0077\n"
	    "\n"
	    "[Install]\n"
	    "WantedBy=multi-user.target\n");
	r = put_file(path, &t, 0644);
	free(t.p);
	if (r != 0)
		return -1;

	memset(&t, 0, sizeof(t));
	if (pathf(path, sizeof(path), "%s/%s.service", s->systemd, s->pam) != 0)
		return -1;
	unit_head(&t);
	add(&t, "Description=Bulwark gateway sshd (Debian's OpenSSH as %s)\n"
	    "Documentation=man:bulwark-gateway(1) man:sshd(8)\n"
	    "After=network.target bulwarkd.service %s.socket\n"
	    "Requires=bulwarkd.service %s.socket\n"
	    "\n"
	    "[Service]\n"
	    "Type=notify\n", s->pam, s->pam, s->pam);
	/* The listening socket comes from PAM.socket (see step_socket). */
	add(&t, "ExecStartPre=%s/%s -t -f %s/sshd_config\n", s->etc, s->pam,
	    s->etc);
	add(&t, "ExecStart=%s/%s -D -f %s/sshd_config\n", s->etc, s->pam,
	    s->etc);
	/*
	 * No ExecReload: Debian 12's sshd closes the socket systemd gave it
	 * when SIGHUP makes it re-exec and then fails to bind the port the
	 * socket unit still holds (Launchpad bug 2011458). A restart is the
	 * reload: the socket unit keeps the port (new connections wait in
	 * its queue) and KillMode=process leaves open sessions alone.
	 */
	add(&t, "KillMode=process\n"
	    "Restart=on-failure\n"
	    "RestartPreventExitStatus=255\n"
	    "RuntimeDirectory=sshd\n"
	    "RuntimeDirectoryMode=0755\n"
	    "RuntimeDirectoryPreserve=yes\n"
	    "\n"
	    "[Install]\n"
	    "WantedBy=multi-user.target\n");
	r = put_file(path, &t, 0644);
	free(t.p);
	return r != 0 ? r : step_socket(s);
}

static int
step_start(const struct setup *s)
{
	struct stat st;
	char unit[PATH_MAX], sockunit[PATH_MAX];

	if (!s->start) {
		printf("not starting anything (--no-start)\n");
		return 0;
	}
	if (stat("/run/systemd/system", &st) != 0) {
		printf("systemd is not running here; start the gateway with:\n"
		    "  %s/bulwarkd --user %s --state %s --socket %s "
		    "--keys-user " KEYS_USER " --source-address %s &\n"
		    "  %s/bulwark gateway sshd --etc %s --pam-service %s &\n",
		    s->bindir, s->user, s->state, s->sock, s->srcaddr,
		    s->bindir, s->etc, s->pam);
		return 0;
	}
	if (pathf(unit, sizeof(unit), "%s.service", s->pam) != 0 ||
	    pathf(sockunit, sizeof(sockunit), "%s.socket", s->pam) != 0)
		return -1;
	{
		char *reload[] = { "/usr/bin/systemctl", "daemon-reload", NULL };
		/* A running sshd holds the port (an older setup had no
		 * socket unit) or the old socket: stop it, (re)bind the
		 * socket, start it on the new one. Sessions stay
		 * (KillMode=process). */
		char *stop[] = { "/usr/bin/systemctl", "stop", unit, NULL };
		char *rebind[] = { "/usr/bin/systemctl", "restart", sockunit,
		    NULL };
		char *enable[] = { "/usr/bin/systemctl", "enable", "--now",
		    "bulwarkd.service", sockunit, unit, NULL };

		if (run(reload, "systemctl daemon-reload") != 0 ||
		    run(stop, "stopping the gateway sshd") != 0 ||
		    run(rebind, "binding the gateway sshd's socket") != 0 ||
		    run(enable, "starting the gateway") != 0) {
			cli_error("see 'journalctl -u bulwarkd -u %s' for why",
			    unit);
			return -1;
		}
	}
	printf("started bulwarkd.service, %s and %s\n", sockunit, unit);
	return 0;
}

static void
summary(const struct setup *s)
{
	char path[PATH_MAX], *ca = NULL, fp[SSHKEY_FP_MAX] = "";
	struct sshkey_pub pub;
	size_t len;

	printf("\nBulwark gateway is set up:\n");
	printf("  state, user CA, audit log  %s (owned by %s)\n", s->state,
	    s->user);
	printf("  monitor socket             %s\n", s->sock);
	printf("  gateway sshd               %s/sshd_config, listening on "
	    "%s port %u\n", s->etc, s->listen, (unsigned)s->port);
	printf("  PAM stack                  %s/%s\n", s->pamdir, s->pam);
	printf("  systemd units              %s/bulwarkd.service, "
	    "%s/%s.socket and .service\n", s->systemd, s->systemd, s->pam);
	if (pathf(path, sizeof(path), "%s/ssh_host_ed25519_key.pub", s->etc) ==
	    0 && sshkey_pub_load(path, &pub, NULL) == ERR_OK) {
		sshkey_fingerprint(&pub, fp);
		printf("  gateway host key           %s (users compare it on "
		    "their first login)\n", fp);
	}
	if (pathf(path, sizeof(path), "%s/ca.pub", s->state) == 0 &&
	    fs_read_file(path, 8192, &ca, &len) == ERR_OK) {
		ca[strcspn(ca, "\n")] = '\0';
		printf("\nUser CA public key (targets trust it; 'bulwark target "
		    "setup-script' installs it):\n  %s\n", ca);
		free(ca);
	}
	printf("\nNext steps:\n"
	    "  bulwark user add NAME --key FILE.pub     "
	    "then: bulwark user mfa enroll NAME\n"
	    "  bulwark target add NAME --host H --fingerprint SHA256:...\n"
	    "  bulwark grant add ROLE GROUP LOGIN       "
	    "(role 'admin' is what user add gives)\n"
	    "  bulwark target setup-script NAME | ssh root@TARGET sh\n"
	    "  bulwark ssh-config NAME --gateway THIS-HOST%s%s > bulwark.conf "
	    "(for the user)\n", s->port != 2222 ? " --port " : "",
	    s->port != 2222 ? "PORT" : "");
}

/* Addresses as sshd's ListenAddress and source-address take them. */
static int
valid_addr(const char *s, int list)
{
	if (*s == '\0' || strlen(s) > 256)
		return 0;
	for (; *s != '\0'; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f') ||
		    (*s >= 'A' && *s <= 'F') || *s == '.' || *s == ':' ||
		    (list && (*s == '/' || *s == ','))))
			return 0;
	return 1;
}

static int
is_wildcard(const char *addr)
{
	return strcmp(addr, "0.0.0.0") == 0 || strcmp(addr, "::") == 0;
}

#define USAGE "usage: bulwark gateway setup [--service-user NAME] " \
	"[--state DIR] [--etc DIR] [--run DIR] [--port N] [--listen ADDR] " \
	"[--source-address ADDR] [--pam-service NAME] [--pam-dir DIR] " \
	"[--systemd-dir DIR] [--apt-dir DIR] [--bindir DIR] [--no-start]"

static int
gateway_setup(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "service-user", required_argument, NULL, 'u' },
		{ "state", required_argument, NULL, 's' },
		{ "etc", required_argument, NULL, 'e' },
		{ "run", required_argument, NULL, 'r' },
		{ "port", required_argument, NULL, 'p' },
		{ "listen", required_argument, NULL, 'l' },
		{ "source-address", required_argument, NULL, 'a' },
		{ "pam-service", required_argument, NULL, 'P' },
		{ "pam-dir", required_argument, NULL, 'D' },
		{ "systemd-dir", required_argument, NULL, 'y' },
		{ "bindir", required_argument, NULL, 'b' },
		{ "apt-dir", required_argument, NULL, 'A' },
		{ "no-start", no_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	struct setup s = {
		.user = "bulwark", .state = "/var/lib/bulwark",
		.etc = "/etc/bulwark", .run = "/run/bulwark",
		.listen = "0.0.0.0", .pam = "bulwark-sshd",
		.systemd = "/etc/systemd/system", .pamdir = "/etc/pam.d",
		.aptdir = "/etc/apt/apt.conf.d", .port = 2222, .start = 1,
	};
	const char *portarg = NULL, *bindir = NULL;
	char path[PATH_MAX];
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'u': s.user = optarg; break;
		case 's': s.state = optarg; break;
		case 'e': s.etc = optarg; break;
		case 'r': s.run = optarg; break;
		case 'p': portarg = optarg; break;
		case 'l': s.listen = optarg; break;
		case 'a': s.srcaddr = optarg; break;
		case 'P': s.pam = optarg; break;
		case 'D': s.pamdir = optarg; break;
		case 'y': s.systemd = optarg; break;
		case 'b': bindir = optarg; break;
		case 'A': s.aptdir = optarg; break;
		case 'n': s.start = 0; break;
		default:
			cli_error(USAGE);
			return 2;
		}
	}
	if (argc != optind) {
		cli_error(USAGE);
		return 2;
	}
	if (portarg != NULL && gw_parse_u32(portarg, 1, 65535, &s.port) !=
	    ERR_OK) {
		cli_error("--port wants a number from 1 to 65535, not '%s'",
		    portarg);
		return 2;
	}
	if (!gw_valid_user(s.user)) {
		cli_error("--service-user '%s' is not a valid user name", s.user);
		return 2;
	}
	if (!gw_valid_user(s.pam)) {
		cli_error("--pam-service '%s' is not a valid name: use a-z, "
		    "0-9, '_' and '-'", s.pam);
		return 2;
	}
	{
		const char *const dirs[][2] = {
			{ "--state", s.state }, { "--etc", s.etc },
			{ "--run", s.run }, { "--systemd-dir", s.systemd },
			{ "--pam-dir", s.pamdir }, { "--apt-dir", s.aptdir },
			{ "--bindir", bindir ? bindir : "/" },
		};

		for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
			if (!gw_valid_path(dirs[i][1])) {
				cli_error("%s wants an absolute path of letters, "
				    "digits and '/._+-', not '%s'", dirs[i][0],
				    dirs[i][1]);
				return 2;
			}
	}
	if (!valid_addr(s.listen, 0)) {
		cli_error("--listen wants an IP address, not '%s'", s.listen);
		return 2;
	}
	if (s.srcaddr == NULL) {
		if (is_wildcard(s.listen)) {
			cli_error("pass --source-address ADDR: the address the "
			    "gateway reaches its targets from (certificates "
			    "are valid only from there), or --listen ADDR");
			return 2;
		}
		s.srcaddr = s.listen;
	}
	if (!valid_addr(s.srcaddr, 1)) {
		cli_error("--source-address wants addresses or CIDR blocks "
		    "separated by commas, not '%s'", s.srcaddr);
		return 2;
	}
	if (bindir != NULL) {
		snprintf(s.bindir, sizeof(s.bindir), "%s", bindir);
	} else {
		ssize_t n = readlink("/proc/self/exe", s.bindir,
		    sizeof(s.bindir) - 1);
		char *slash;

		if (n <= 0) {
			cli_error("cannot find where this bulwark is; pass "
			    "--bindir DIR");
			return 2;
		}
		s.bindir[n] = '\0';
		if ((slash = strrchr(s.bindir, '/')) != NULL) {
			if (slash == s.bindir)
				slash[1] = '\0';
			else
				*slash = '\0';
		}
		if (!gw_valid_path(s.bindir)) {
			cli_error("this bulwark lives in '%s', which cannot go "
			    "into sshd's config; pass --bindir DIR", s.bindir);
			return 2;
		}
	}
	if (pathf(s.sock, sizeof(s.sock), "%s/bulwarkd.sock", s.run) != 0)
		return 2;
	if (geteuid() != 0) {
		cli_error("gateway setup must run as root (sudo bulwark gateway "
		    "setup ...)");
		return 1;
	}
	if (pathf(path, sizeof(path), "%s/bulwarkd", s.bindir) != 0)
		return 1;
	if (access(path, X_OK) != 0) {
		cli_error("%s is missing; build it (cmake --build) or pass "
		    "--bindir DIR where bulwarkd is", path);
		return 1;
	}
	if (pathf(s.pamso, sizeof(s.pamso), "%s/pam_bulwark.so", s.bindir) != 0)
		return 1;
	if (access(s.pamso, R_OK) != 0 &&
	    pathf(s.pamso, sizeof(s.pamso), "%s/pam_bulwark.so",
	    PAM_FALLBACK_DIR) == 0 && access(s.pamso, R_OK) != 0) {
		cli_error("pam_bulwark.so is neither in %s nor in %s; build "
		    "it or install Bulwark first", s.bindir, PAM_FALLBACK_DIR);
		return 1;
	}
	if (access(SSHD, X_OK) != 0) {
		cli_error("%s is missing; apt-get install openssh-server", SSHD);
		return 1;
	}

	if (step_user(&s) != 0 || step_fido2_group(&s) != 0 ||
	    step_state(&s) != 0 ||
	    ensure_dir(s.etc, 0755) != 0 || step_hostkey(&s) != 0 ||
	    step_sshd_config(&s) != 0 || step_symlink(&s) != 0 ||
	    ensure_dir(s.pamdir, 0755) != 0 || step_pam(&s) != 0 ||
	    step_check(&s) != 0 || ensure_dir(s.systemd, 0755) != 0 ||
	    step_units(&s) != 0 || step_exec_only(&s) != 0 ||
	    ssh_copy(s.bindir) != 0 ||
	    ensure_dir(s.aptdir, 0755) != 0 || step_apt_hook(&s) != 0)
		return 1;
	check_keys_command_path(&s);
	if (step_start(&s) != 0)
		return 1;
	summary(&s);
	return 0;
}

/* bulwark gateway ssh-copy [--bindir DIR]: what the apt hook runs. */
static int
gateway_ssh_copy(int argc, char **argv)
{
	char self[PATH_MAX];
	const char *bindir = NULL;
	ssize_t n;
	char *slash;

	if (argc == 3 && strcmp(argv[1], "--bindir") == 0)
		bindir = argv[2];
	else if (argc != 1) {
		cli_error("usage: bulwark gateway ssh-copy [--bindir DIR]");
		return 2;
	}
	if (bindir == NULL) {
		n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		if (n <= 0 || (size_t)n >= sizeof(self) - 1 ||
		    (slash = strrchr(self, '/')) == NULL) {
			cli_error("cannot find where this bulwark is; pass "
			    "--bindir DIR");
			return 2;
		}
		self[n] = '\0';
		slash[slash == self] = '\0';
		bindir = self;
	}
	if (geteuid() != 0) {
		cli_error("gateway ssh-copy must run as root (sudo bulwark "
		    "gateway ssh-copy ...)");
		return 1;
	}
	return ssh_copy(bindir) == 0 ? 0 : 1;
}

int
cmd_gateway(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "setup") == 0)
		return gateway_setup(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "sshd") == 0)
		return cmd_gateway_sshd(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "ssh-copy") == 0)
		return gateway_ssh_copy(argc - 1, argv + 1);
	cli_error("usage: bulwark gateway setup|sshd|ssh-copy [OPTIONS]; see "
	    "'bulwark help gateway'");
	return 2;
}
