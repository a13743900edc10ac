/*
 * main.c - bulwarkd: options, first-time setup (--init), dropping root,
 * and the monitor loop.
 *
 *   bulwarkd [--init] [--user NAME] [--state DIR] [--socket PATH]
 *            [--source-address ADDR] [--cert-validity SECONDS]
 *            [--recording-cap BYTES] [--recording-cap-notty BYTES]
 *
 * Started as root with --user, it makes the socket's directory, hands it
 * and the state directory to NAME and drops to NAME (groups, gid, uid)
 * before it opens anything: the CA key and the TOTP seeds are only ever
 * read by that user.
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "audit/log.h"
#include "auth/sshcert.h"
#include "auth/sshkey.h"
#include "common/encoding.h"
#include "common/fsutil.h"
#include "daemon/bulwarkd.h"
#include "gateway/proto.h"
#include "common/banned.h"

struct options {
	int init;
	const char *user;
	const char *state;
	const char *socket;
	const char *source_address;
	const char *keys_user;
	unsigned cert_validity;
	uint64_t rec_cap, rec_cap_notty;
	uint64_t disk_reserve;
};

static struct rpc_server *the_server;

static void
rpc_log(void *arg, const char *line)
{
	(void)arg;
	bd_log("%s", line);
}

static void
on_signal(int sig)
{
	(void)sig;
	if (the_server != NULL)
		rpc_server_stop(the_server);
}

static void
usage(void)
{
	fputs("usage: bulwarkd [--init] [--user NAME] [--state DIR] "
	    "[--socket PATH]\n"
	    "                [--source-address ADDR] [--cert-validity SECONDS]"
	    " [--recording-cap BYTES] [--recording-cap-notty BYTES]\n"
	    "                [--disk-reserve BYTES] [--keys-user NAME]\n",
	    stderr);
}

static int
parse_u64_opt(const char *name, const char *s, uint64_t min, uint64_t max,
    uint64_t *v)
{
	if (enc_u64_parse(s, strlen(s), v) != ERR_OK || *v < min || *v > max) {
		bd_log("--%s wants a number from %llu to %llu, not '%s'", name,
		    (unsigned long long)min, (unsigned long long)max, s);
		return -1;
	}
	return 0;
}

static int
parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "init", no_argument, NULL, 'i' },
		{ "user", required_argument, NULL, 'u' },
		{ "state", required_argument, NULL, 's' },
		{ "socket", required_argument, NULL, 'S' },
		{ "source-address", required_argument, NULL, 'a' },
		{ "cert-validity", required_argument, NULL, 'v' },
		{ "recording-cap", required_argument, NULL, 'c' },
		{ "recording-cap-notty", required_argument, NULL, 'C' },
		{ "disk-reserve", required_argument, NULL, 'r' },
		{ "keys-user", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v;
	int c;

	memset(o, 0, sizeof(*o));
	o->state = BD_DEFAULT_STATE;
	o->socket = PROTO_DEFAULT_SOCKET;
	o->source_address = "127.0.0.1";
	o->cert_validity = SSHCERT_DEFAULT_VALIDITY;
	o->rec_cap = BD_DEFAULT_REC_CAP;
	o->rec_cap_notty = BD_DEFAULT_REC_CAP_NOTTY;
	o->disk_reserve = BD_DEFAULT_DISK_RESERVE;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'i': o->init = 1; break;
		case 'u': o->user = optarg; break;
		case 's': o->state = optarg; break;
		case 'S': o->socket = optarg; break;
		case 'a': o->source_address = optarg; break;
		case 'k': o->keys_user = optarg; break;
		case 'v':
			if (parse_u64_opt("cert-validity", optarg, 10,
			    SSHCERT_MAX_VALIDITY, &v) != 0)
				return 2;
			o->cert_validity = (unsigned)v;
			break;
		case 'c':
			if (parse_u64_opt("recording-cap", optarg, 4096,
			    1ULL << 34, &v) != 0)
				return 2;
			o->rec_cap = v;
			break;
		case 'C':
			if (parse_u64_opt("recording-cap-notty", optarg, 4096,
			    1ULL << 34, &v) != 0)
				return 2;
			o->rec_cap_notty = v;
			break;
		case 'r':
			if (parse_u64_opt("disk-reserve", optarg, 0,
			    1ULL << 50, &v) != 0)
				return 2;
			o->disk_reserve = v;
			break;
		case 'h': usage(); return 1;
		default: usage(); return 2;
		}
	}
	if (optind != argc) {
		usage();
		return 2;
	}
	if (o->state[0] != '/' || o->socket[0] != '/') {
		bd_log("--state and --socket must be absolute paths");
		return 2;
	}
	return 0;
}

/* The directory part of path, in buf. */
static void
dir_of(const char *path, char *buf, size_t len)
{
	char *slash;

	snprintf(buf, len, "%s", path);
	slash = strrchr(buf, '/');
	if (slash == buf)
		slash[1] = '\0';
	else if (slash != NULL)
		*slash = '\0';
}

/*
 * As root with --user: prepares the directories NAME must own, then
 * becomes NAME for good (no saved uid to return to).
 */
static int
drop_privileges(const struct options *o)
{
	struct passwd *pw;
	char run[PATH_MAX];

	if (o->user == NULL)
		return 0;
	if (geteuid() != 0) {
		bd_log("--user needs root; run without it to stay who you are");
		return -1;
	}
	if ((pw = getpwnam(o->user)) == NULL) {
		bd_log("no such user '%s'; create it with: useradd --system "
		    "--home-dir %s --shell /usr/sbin/nologin %s", o->user,
		    o->state, o->user);
		return -1;
	}
	dir_of(o->socket, run, sizeof(run));
	if (bd_own_dir(o->state, 0700, pw->pw_uid, pw->pw_gid) != 0 ||
	    bd_own_dir(run, 0755, pw->pw_uid, pw->pw_gid) != 0)
		return -1;
	if (setgroups(0, NULL) != 0 ||
	    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) != 0 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) != 0) {
		bd_log("cannot become %s: %s", o->user, strerror(errno));
		return -1;
	}
	if (setuid(0) == 0) {
		bd_log("still able to regain root after dropping it; refusing");
		return -1;
	}
	return 0;
}

/*
 * The uid sshd runs the AuthorizedKeysCommand as: an account of its own
 * (nobody by default in the generated sshd_config), so that the process
 * that parses what a client sent is not the uid that can read the CA key.
 */
static int
keys_uid(const char *name, uid_t *uid)
{
	struct passwd *pw;

	*uid = (uid_t)-1;
	if (name == NULL)
		return 0;
	if ((pw = getpwnam(name)) == NULL) {
		bd_log("--keys-user: no such user '%s'", name);
		return -1;
	}
	*uid = pw->pw_uid;
	return 0;
}

/*
 * Each session's shell keeps its connection for the whole session, so the
 * number of connections is the number of sessions: as many as the file
 * descriptor limit allows, raised to its hard maximum. A recorded session
 * also holds its recording open, and a kernel with SO_PEERPIDFD gives a
 * pidfd of each client: three descriptors per connection.
 */
static unsigned
max_clients(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return RPC_DEFAULT_MAX_CLIENTS;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
		if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
			return RPC_DEFAULT_MAX_CLIENTS;
	}
	/*
	 * Room for files and SQLite, then three per client: its socket, its
	 * pidfd and a recording.
	 */
	if (rl.rlim_cur <= 3 * RPC_DEFAULT_MAX_CLIENTS + 64)
		return RPC_DEFAULT_MAX_CLIENTS;
	return (rl.rlim_cur - 64) / 3 > BD_MAX_CLIENTS ? BD_MAX_CLIENTS :
	    (unsigned)((rl.rlim_cur - 64) / 3);
}

static int64_t
tick(void *arg)
{
	return bd_tick(arg, 0);
}

static int
serve(struct bulwarkd *d, const char *socket_path, uid_t kuid)
{
	struct rpc_server_config cfg;
	struct sigaction sa;
	int r;

	memset(&cfg, 0, sizeof(cfg));
	cfg.path = socket_path;
	cfg.mode = 0666;	/* anyone may ask; SO_PEERCRED says who asked */
	cfg.table = bd_table(kuid == (uid_t)-1 ? NULL : &kuid, &cfg.ntable);
	cfg.arg = d;
	cfg.idle_timeout_ms = 0;	/* sessions stay connected for hours */
	cfg.max_clients = max_clients();
	/*
	 * A gateway user holds one connection per open session: a quarter
	 * of the table is thousands of sessions, yet one local account
	 * cannot lock out the rest; sshd's PAM step (root) and its keys
	 * command keep slots of their own.
	 */
	cfg.per_uid_max = cfg.max_clients / 4 > 16 ? cfg.max_clients / 4 : 16;
	cfg.reserved = cfg.max_clients / 16 > 4 ? cfg.max_clients / 16 : 4;
	cfg.trusted_uid = kuid;
	cfg.log = rpc_log;
	cfg.tick = tick;
	if ((r = rpc_server_new(&cfg, &d->srv)) != ERR_OK) {
		bd_log("cannot listen on %s: %s%s", socket_path, err_str(r),
		    r == ERR_LOCKED ? " (another bulwarkd is running there)" :
		    "");
		return -1;
	}
	the_server = d->srv;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	bd_log("listening on %s (state %s, certificates for %s, valid %u s, "
	    "%u clients at most)", socket_path, d->state_dir,
	    d->source_address, d->cert_validity, cfg.max_clients);
	if (bd_event(d, "bulwarkd", NULL, NULL, "daemon.start", NULL, 0,
	    NULL) != ERR_OK || bd_sessions_recover(d) != ERR_OK ||
	    bd_logins_sweep(d) != ERR_OK)
		return -1;
	r = rpc_server_run(d->srv);
	the_server = NULL;
	(void)bd_tick(d, 1);	/* the counts of open windows */
	if (bd_event(d, "bulwarkd", NULL, NULL, "daemon.stop", NULL, 0,
	    NULL) != ERR_OK)
		return -1;
	return r == ERR_OK ? 0 : -1;
}

int
main(int argc, char **argv)
{
	struct bulwarkd d;
	struct options o;
	uid_t kuid;
	int r;

	if ((r = parse_options(argc, argv, &o)) != 0)
		return r == 1 ? 0 : r;
	if (sodium_init() < 0) {
		bd_log("libsodium failed to initialise");
		return 1;
	}
	umask(077);
	if (keys_uid(o.keys_user, &kuid) != 0 || drop_privileges(&o) != 0)
		return 1;
	memset(&d, 0, sizeof(d));
	d.state_dir = strdup(o.state);
	d.log_dir = bd_join(o.state, "log");
	d.rec_dir = bd_join(o.state, "rec");
	d.source_address = strdup(o.source_address);
	d.cert_validity = o.cert_validity;
	d.rec_cap = o.rec_cap;
	d.rec_cap_notty = o.rec_cap_notty;
	d.disk_reserve = o.disk_reserve;
	if (d.state_dir == NULL || d.log_dir == NULL || d.rec_dir == NULL ||
	    d.source_address == NULL) {
		bd_state_close(&d);
		return 1;
	}
	if (o.init)
		r = bd_state_init(&d);
	else if ((r = bd_state_open(&d)) == 0)
		r = serve(&d, o.socket, kuid);
	bd_state_close(&d);
	return r == 0 ? 0 : 1;
}
