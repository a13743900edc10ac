/*
 * cmd_gateway_sshd.c - bulwark gateway sshd: starts the gateway's sshd
 * on a listening socket made here, with TCP_NODELAY, the way the systemd
 * socket unit that `bulwark gateway setup` writes starts it (NoDelay=true,
 * Accept=no). For machines without systemd: tests, the demo.
 *
 * Why: after authentication, sshd writes the host-keys notice and then,
 * separately, the confirmation of the client's session channel. Until it
 * sets TCP_NODELAY (only for a session with a terminal, and only later)
 * Nagle holds the second write until the client acknowledges the first,
 * and the client, which has nothing to send, delays that acknowledgement:
 * 40 ms on Linux, on every new connection, before the client may even
 * say which target it wants. ssh -J pays the same stall on its jump host
 * but hides it behind its connection to the target, which starts when
 * the channel is opened; the gateway learns the target only afterwards.
 * sshd cannot be told to set TCP_NODELAY, but a socket accepted from a
 * listening socket that has it inherits it, and Debian's sshd takes its
 * listening socket from systemd (sd_listen_fds: LISTEN_FDS, LISTEN_PID,
 * the socket at descriptor 3) when it is given one, ignoring Port and
 * ListenAddress. This command is that hand-over without systemd: it
 * reads Port and ListenAddress from the sshd_config setup wrote, makes
 * the socket, and execs sshd in its own place (same pid, as systemd's
 * service would be).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/gwclient.h"
#include "common/banned.h"

/* sd_listen_fds(3): the first passed descriptor. */
#define LISTEN_FD	3
#define SSHD_ARGS_MAX	32

struct listen_conf {
	char addr[64];
	uint32_t port;
};

/*
 * Port and ListenAddress of the config setup wrote (before any Match
 * block; sshd's keywords are case-insensitive). One address: the socket
 * carries one.
 */
static int
read_listen_conf(const char *path, struct listen_conf *lc)
{
	char line[512], *kw, *val, *save;
	int naddr = 0, r = -1;
	FILE *f;

	memset(lc, 0, sizeof(*lc));
	if ((f = fopen(path, "re")) == NULL) {
		cli_error("cannot read %s: %s; run 'bulwark gateway setup' "
		    "first", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		if ((kw = strtok_r(line, " \t\r\n", &save)) == NULL ||
		    kw[0] == '#')
			continue;
		if (strcasecmp(kw, "Match") == 0)
			break;
		val = strtok_r(NULL, " \t\r\n", &save);
		if (strcasecmp(kw, "Port") == 0 && val != NULL) {
			if (gw_parse_u32(val, 1, 65535, &lc->port) != ERR_OK) {
				cli_error("%s: 'Port %s' is not a port", path,
				    val);
				goto out;
			}
		} else if (strcasecmp(kw, "ListenAddress") == 0 &&
		    val != NULL) {
			if (++naddr > 1) {
				cli_error("%s has more than one ListenAddress; "
				    "the gateway listens on one (rerun 'bulwark "
				    "gateway setup --listen ADDR')", path);
				goto out;
			}
			if (strlen(val) >= sizeof(lc->addr)) {
				cli_error("%s: ListenAddress too long", path);
				goto out;
			}
			memcpy(lc->addr, val, strlen(val) + 1);
		}
	}
	if (lc->port == 0 || naddr == 0) {
		cli_error("%s has no %s line; rerun 'bulwark gateway setup'",
		    path, lc->port == 0 ? "Port" : "ListenAddress");
		goto out;
	}
	r = 0;
 out:
	fclose(f);
	return r;
}

/* The listening socket, TCP_NODELAY set, at LISTEN_FD, inheritable. */
static int
make_listener(const struct listen_conf *lc)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t len;
	int fd, one = 1, e;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, lc->addr, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)lc->port);
		len = sizeof(*sin);
	} else if (inet_pton(AF_INET6, lc->addr, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)lc->port);
		len = sizeof(*sin6);
	} else {
		cli_error("ListenAddress '%s' is not an IP address; rerun "
		    "'bulwark gateway setup --listen ADDR'", lc->addr);
		return -1;
	}
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		cli_error("socket: %s", strerror(errno));
		return -1;
	}
	/* As sshd's own: reusable at once after a restart; v6 only. */
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
		    sizeof(one));
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0 ||
	    bind(fd, (struct sockaddr *)&ss, len) != 0 ||
	    listen(fd, SOMAXCONN) != 0) {
		e = errno;
		cli_error("cannot listen on %s port %u: %s%s", lc->addr,
		    (unsigned)lc->port, strerror(e), e == EADDRINUSE ? " (is the "
		    "gateway's sshd already running?)" : "");
		close(fd);
		return -1;
	}
	if (fd != LISTEN_FD) {
		if (dup2(fd, LISTEN_FD) < 0) {
			cli_error("dup2: %s", strerror(errno));
			close(fd);
			return -1;
		}
		close(fd);
	} else if (fcntl(fd, F_SETFD, 0) != 0) {
		cli_error("fcntl: %s", strerror(errno));
		return -1;
	}
	return 0;
}

#define USAGE_SSHD "usage: bulwark gateway sshd [--etc DIR] " \
	"[--pam-service NAME] [-- SSHD-OPTION...]"

int
cmd_gateway_sshd(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "etc", required_argument, NULL, 'e' },
		{ "pam-service", required_argument, NULL, 'P' },
		{ NULL, 0, NULL, 0 },
	};
	const char *etc = "/etc/bulwark", *pam = "bulwark-sshd";
	char bin[PATH_MAX], conf[PATH_MAX], pid[32];
	char *args[SSHD_ARGS_MAX + 6];
	struct listen_conf lc;
	int c, n, i;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case 'e': etc = optarg; break;
		case 'P': pam = optarg; break;
		default:
			cli_error(USAGE_SSHD);
			return 2;
		}
	}
	if (argc - optind > SSHD_ARGS_MAX) {
		cli_error("at most %d options for sshd", SSHD_ARGS_MAX);
		return 2;
	}
	if (strchr(pam, '/') != NULL || pam[0] == '\0' || pam[0] == '.') {
		cli_error("--pam-service wants a name, not '%s'", pam);
		return 2;
	}
	if ((size_t)snprintf(bin, sizeof(bin), "%s/%s", etc, pam) >=
	    sizeof(bin) || (size_t)snprintf(conf, sizeof(conf),
	    "%s/sshd_config", etc) >= sizeof(conf)) {
		cli_error("--etc path too long");
		return 2;
	}
	if (geteuid() != 0) {
		cli_error("the gateway's sshd runs as root (sudo bulwark "
		    "gateway sshd ...)");
		return 1;
	}
	if (access(bin, X_OK) != 0) {
		cli_error("%s is missing: %s; run 'bulwark gateway setup' "
		    "first", bin, strerror(errno));
		return 1;
	}
	if (read_listen_conf(conf, &lc) != 0 || make_listener(&lc) != 0)
		return 1;
	/* sd_listen_fds(3) checks that the descriptors are for this pid. */
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	if (setenv("LISTEN_FDS", "1", 1) != 0 ||
	    setenv("LISTEN_PID", pid, 1) != 0 ||
	    unsetenv("LISTEN_FDNAMES") != 0) {
		cli_error("setenv: %s", strerror(errno));
		return 1;
	}
	n = 0;
	args[n++] = bin;	/* sshd names its PAM service after argv[0] */
	args[n++] = "-D";
	args[n++] = "-f";
	args[n++] = conf;
	for (i = optind; i < argc; i++)
		args[n++] = argv[i];
	args[n] = NULL;
	fflush(NULL);
	execv(bin, args);
	cli_error("cannot run %s: %s", bin, strerror(errno));
	return 1;
}
