/*
 * main.c - bulwarkd: options, first-time setup (--init), dropping root,
 * and the monitor loop.
 *
 *   bulwarkd [--init] [--user NAME] [--state DIR] [--socket PATH]
 *            [--source-address ADDR] [--cert-validity SECONDS]
 *            [--recording-cap BYTES]
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
	unsigned cert_validity;
	uint64_t rec_cap;
};

static struct rpc_server *the_server;

void
bd_log(const char *fmt, ...)
{
	va_list ap;

	fputs("bulwarkd: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

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
	    " [--recording-cap BYTES]\n", stderr);
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
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'i': o->init = 1; break;
		case 'u': o->user = optarg; break;
		case 's': o->state = optarg; break;
		case 'S': o->socket = optarg; break;
		case 'a': o->source_address = optarg; break;
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

/* mkdir -p with mode for the last component, then chown it to uid:gid. */
static int
own_dir(const char *path, mode_t mode, uid_t uid, gid_t gid)
{
	struct stat st;

	if (fs_mkdirs(path, mode) != ERR_OK) {
		bd_log("cannot create %s: %s", path, strerror(errno));
		return -1;
	}
	if (lstat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
		bd_log("%s is not a directory", path);
		return -1;
	}
	if ((uid != (uid_t)-1 && chown(path, uid, gid) != 0) ||
	    chmod(path, mode) != 0) {
		bd_log("cannot give %s to uid %u: %s", path, (unsigned)uid,
		    strerror(errno));
		return -1;
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
	if (own_dir(o->state, 0700, pw->pw_uid, pw->pw_gid) != 0 ||
	    own_dir(run, 0755, pw->pw_uid, pw->pw_gid) != 0)
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

static char *
join(const char *a, const char *b)
{
	size_t n = strlen(a) + strlen(b) + 2;
	char *p = malloc(n);

	if (p != NULL)
		snprintf(p, n, "%s/%s", a, b);
	return p;
}

/* Creates what is missing under the state directory; keeps the rest. */
static int
init_state(struct bulwarkd *d)
{
	struct sshkey *ca = NULL;
	struct sshkey_pub pub;
	char *ca_path = join(d->state_dir, "ca");
	char *pub_path = join(d->state_dir, "ca.pub");
	char *db_path = join(d->state_dir, "state.db");
	char host[256], origin[300], *vkey = NULL;
	struct db *db = NULL;
	int r, ret = -1;

	if (ca_path == NULL || pub_path == NULL || db_path == NULL)
		goto out;
	if (own_dir(d->state_dir, 0700, (uid_t)-1, (gid_t)-1) != 0 ||
	    own_dir(d->rec_dir, 0700, (uid_t)-1, (gid_t)-1) != 0)
		goto out;
	if ((r = db_open(db_path, &db)) != ERR_OK) {
		bd_log("%s", db_errmsg(NULL));
		goto out;
	}
	if (access(ca_path, F_OK) != 0) {
		if (sshkey_generate_secret("bulwark-user-ca", &ca) != ERR_OK ||
		    sshkey_save_secret(ca, ca_path) != ERR_OK) {
			bd_log("cannot create the user CA key %s", ca_path);
			goto out;
		}
		sshkey_public(ca, &pub);
		if (sshkey_pub_save(&pub, "bulwark-user-ca", pub_path) !=
		    ERR_OK) {
			bd_log("cannot write %s", pub_path);
			goto out;
		}
		printf("created the user CA %s\n", pub_path);
	} else
		printf("kept the user CA %s\n", pub_path);
	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	snprintf(origin, sizeof(origin), "bulwark.gateway/%s", host);
	r = audit_log_create(d->log_dir, origin, &vkey);
	if (r == ERR_OK)
		printf("created the audit log %s (verifier key %s)\n",
		    d->log_dir, vkey);
	else if (r == ERR_EXISTS)
		printf("kept the audit log %s\n", d->log_dir);
	else {
		bd_log("cannot create the audit log in %s: %s", d->log_dir,
		    err_str(r));
		goto out;
	}
	printf("state is ready in %s\n", d->state_dir);
	ret = 0;
out:
	free(vkey);
	db_close(db);
	sshkey_free(ca);
	free(ca_path);
	free(pub_path);
	free(db_path);
	return ret;
}

static int
open_state(struct bulwarkd *d)
{
	struct sshkey_pub pub;
	char *ca_path = join(d->state_dir, "ca");
	char *db_path = join(d->state_dir, "state.db");
	char why[256];
	int r, ret = -1;

	if (ca_path == NULL || db_path == NULL)
		goto out;
	if ((r = db_open(db_path, &d->db)) != ERR_OK) {
		bd_log("%s", db_errmsg(NULL));
		goto out;
	}
	if ((r = sshkey_load_secret(ca_path, &d->ca)) != ERR_OK) {
		bd_log("cannot load the user CA key %s (%s); run bulwarkd "
		    "--init first, as the user that runs bulwarkd", ca_path,
		    err_str(r));
		goto out;
	}
	sshkey_public(d->ca, &pub);
	if (sshkey_pub_format(&pub, "bulwark-user-ca", &d->ca_pub) != ERR_OK)
		goto out;
	d->ca_pub[strcspn(d->ca_pub, "\n")] = '\0';
	why[0] = '\0';
	if ((r = audit_log_open(d->log_dir, &d->log, why, sizeof(why))) !=
	    ERR_OK) {
		bd_log("cannot open the audit log %s: %s %s", d->log_dir,
		    err_str(r), why);
		goto out;
	}
	ret = 0;
out:
	free(ca_path);
	free(db_path);
	return ret;
}

static void
close_state(struct bulwarkd *d)
{
	rpc_server_free(d->srv);
	audit_log_close(d->log);
	sshkey_free(d->ca);
	db_close(d->db);
	free(d->ca_pub);
	free(d->state_dir);
	free(d->log_dir);
	free(d->rec_dir);
	free(d->source_address);
}

static int
serve(struct bulwarkd *d, const char *socket_path)
{
	struct rpc_server_config cfg;
	struct sigaction sa;
	int r;

	memset(&cfg, 0, sizeof(cfg));
	cfg.path = socket_path;
	cfg.mode = 0666;	/* anyone may ask; SO_PEERCRED says who asked */
	cfg.table = bd_table(&cfg.ntable);
	cfg.arg = d;
	cfg.idle_timeout_ms = 0;	/* sessions stay connected for hours */
	cfg.log = rpc_log;
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
	bd_log("listening on %s (state %s, certificates for %s, valid %u s)",
	    socket_path, d->state_dir, d->source_address, d->cert_validity);
	if (bd_event(d, "bulwarkd", NULL, NULL, "daemon.start", NULL, 0,
	    NULL) != ERR_OK || bd_sessions_recover(d) != ERR_OK)
		return -1;
	r = rpc_server_run(d->srv);
	the_server = NULL;
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
	int r;

	if ((r = parse_options(argc, argv, &o)) != 0)
		return r == 1 ? 0 : r;
	if (sodium_init() < 0) {
		bd_log("libsodium failed to initialise");
		return 1;
	}
	umask(077);
	if (drop_privileges(&o) != 0)
		return 1;
	memset(&d, 0, sizeof(d));
	d.state_dir = strdup(o.state);
	d.log_dir = join(o.state, "log");
	d.rec_dir = join(o.state, "rec");
	d.source_address = strdup(o.source_address);
	d.cert_validity = o.cert_validity;
	d.rec_cap = o.rec_cap;
	if (d.state_dir == NULL || d.log_dir == NULL || d.rec_dir == NULL ||
	    d.source_address == NULL) {
		close_state(&d);
		return 1;
	}
	if (o.init)
		r = init_state(&d);
	else if ((r = open_state(&d)) == 0)
		r = serve(&d, o.socket);
	close_state(&d);
	return r == 0 ? 0 : 1;
}
