/*
 * cmd_backup.c - bulwark backup: back paths up to a vault, over SSH to
 * the vault host's forced `bulwark vault receive`, or to a local vault
 * directory through the same protocol.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "backup/engine.h"
#include "backup/keys.h"
#include "backup/pack.h"
#include "cli/cli.h"
#include "common/encoding.h"
#include "common/fsutil.h"
#include "common/banned.h"

extern char **environ;

#define DEFAULT_CONFIG	"/etc/bulwark/backup.conf"
#define DEFAULT_CACHE	"/var/cache/bulwark"
#define MAX_LIST	256

struct dest {
	int ssh;
	char userhost[512];
	char dir[PATH_MAX];
};

/*
 * "USER@HOST:DIR" or "HOST:DIR" goes over ssh; anything else is a local
 * directory ("./x:y" is local too: a colon after a slash does not count).
 */
static int
parse_dest(const char *s, struct dest *d)
{
	const char *colon = strchr(s, ':'), *slash = strchr(s, '/');

	memset(d, 0, sizeof(*d));
	if (colon != NULL && (slash == NULL || colon < slash)) {
		size_t hl = (size_t)(colon - s);
		if (hl == 0 || hl >= sizeof(d->userhost) || s[0] == '-' ||
		    colon[1] == '\0')
			return -1;
		memcpy(d->userhost, s, hl);
		snprintf(d->dir, sizeof(d->dir), "%s", colon + 1);
		d->ssh = 1;
		return 0;
	}
	if (realpath(s, d->dir) == NULL)
		return -1;
	return 0;
}

struct transport {
	pid_t pid;
	int to, from;
};

/*
 * Starts the receiving side with pipes to it. Over ssh the command sent
 * is a fixed string with nothing from the user in it: the vault's forced
 * command replaces it anyway, and on a vault user without one (a
 * misconfiguration) it is a bare `bulwark vault receive`, which stops at
 * its usage message instead of a shell reading backup data.
 */
static int
start_transport(const struct dest *d, const char *host, const char *ident,
    const char *const *sshopts, size_t nsshopts, struct transport *t)
{
	int in[2], out[2];
	char *argv[2 * MAX_LIST + 16], exe[PATH_MAX];
	posix_spawn_file_actions_t fa;
	size_t n = 0;
	int rc;

	if (d->ssh) {
		argv[n++] = "ssh";
		argv[n++] = "-T";
		argv[n++] = "-oBatchMode=yes";
		if (ident != NULL) {
			argv[n++] = "-i";
			argv[n++] = (char *)ident;
		}
		for (size_t i = 0; i < nsshopts; i++) {
			argv[n++] = "-o";
			argv[n++] = (char *)sshopts[i];
		}
		argv[n++] = "--";
		argv[n++] = (char *)d->userhost;
		argv[n++] = "bulwark vault receive";
	} else {
		ssize_t l = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		if (l <= 0)
			return -1;
		exe[l] = '\0';
		argv[n++] = exe;
		argv[n++] = "vault";
		argv[n++] = "receive";
		argv[n++] = "--host";
		argv[n++] = (char *)host;
		argv[n++] = "--dir";
		argv[n++] = (char *)d->dir;
	}
	argv[n] = NULL;
	if (pipe2(in, O_CLOEXEC) != 0)
		return -1;
	if (pipe2(out, O_CLOEXEC) != 0) {
		close(in[0]);
		close(in[1]);
		return -1;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], STDIN_FILENO);
	posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
	rc = d->ssh ? posix_spawnp(&t->pid, "ssh", &fa, NULL, argv, environ) :
	    posix_spawn(&t->pid, exe, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(in[0]);
	close(out[1]);
	if (rc != 0) {
		close(in[1]);
		close(out[0]);
		errno = rc;
		return -1;
	}
	t->to = in[1];
	t->from = out[0];
	fs_pipe_grow(t->to);
	return 0;
}

static int
end_transport(struct transport *t)
{
	int status;

	close(t->to);
	close(t->from);
	while (waitpid(t->pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static void
human(uint64_t b, char *out, size_t len)
{
	if (b >= (1ull << 30))
		snprintf(out, len, "%.2f GiB", (double)b / (1ull << 30));
	else if (b >= (1ull << 20))
		snprintf(out, len, "%.1f MiB", (double)b / (1ull << 20));
	else
		snprintf(out, len, "%" PRIu64 " bytes", b);
}

static void
summary(const struct backup_stats *st, double secs)
{
	char rd[32], tot[32], nw[32], sent[32], when[64];
	time_t t = (time_t)st->received;
	struct tm tm;

	human(st->bytes_read, rd, sizeof(rd));
	human(st->bytes_total, tot, sizeof(tot));
	human(st->bytes_new, nw, sizeof(nw));
	human(st->bytes_sent, sent, sizeof(sent));
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(when, sizeof(when), "%" PRIu64, st->received);
	printf("snapshot %s saved (vault time %s)\n", st->snapshot, when);
	printf("files: %" PRIu64 " (%" PRIu64 " unchanged, not read), "
	    "directories: %" PRIu64 ", other: %" PRIu64 "\n", st->files,
	    st->files_unchanged, st->dirs, st->others);
	printf("read: %s of %s; new: %s in %" PRIu64 " chunks; sent: %"
	    PRIu64 " packs, %s\n", rd, tot, nw, st->chunks_new, st->packs,
	    sent);
	printf("time: %.2f s\n", secs);
}

/* --compression LEVEL: a zstd level, PACK_ZSTD_MIN to PACK_ZSTD_MAX. */
static int
parse_level(const char *s, int *level)
{
	uint64_t v;

	if (enc_u64_parse(s, strlen(s), &v) != ERR_OK ||
	    v < PACK_ZSTD_MIN || v > PACK_ZSTD_MAX) {
		cli_error("--compression takes a zstd level from %d (fastest) "
		    "to %d (smallest); the default is %d", PACK_ZSTD_MIN,
		    PACK_ZSTD_MAX, PACK_ZSTD_DEFAULT);
		return -1;
	}
	*level = (int)v;
	return 0;
}

static int
usage(void)
{
	cli_error("usage: bulwark backup [PATH...] [--config FILE] "
	    "[--vault DIR|USER@HOST:DIR] [--stdin NAME] [--exclude PATTERN]... "
	    "[--one-file-system] [--tag TAG]... [--cache DIR | --no-cache] "
	    "[--compression LEVEL] [--ssh-identity FILE] "
	    "[--ssh-option OPTION]... [--quiet]");
	return 2;
}

int
cmd_backup(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "vault", required_argument, NULL, 'v' },
		{ "cache", required_argument, NULL, 'C' },
		{ "no-cache", no_argument, NULL, 'N' },
		{ "exclude", required_argument, NULL, 'x' },
		{ "one-file-system", no_argument, NULL, 'o' },
		{ "stdin", required_argument, NULL, 's' },
		{ "tag", required_argument, NULL, 't' },
		{ "ssh-identity", required_argument, NULL, 'i' },
		{ "ssh-option", required_argument, NULL, 'O' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "compression", required_argument, NULL, 'z' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = DEFAULT_CONFIG, *vault = NULL, *cachedir = NULL;
	const char *ident = NULL, *excl[MAX_LIST], *tags[MAX_LIST];
	const char *sshopts[MAX_LIST];
	size_t nexcl = 0, ntags = 0, nsshopts = 0;
	struct backup_opts bo;
	struct backup_stats st;
	struct agent_config *cfg = NULL;
	struct transport tr;
	struct dest d;
	char why[512] = "", cache[PATH_MAX];
	int c, nocache = 0, quiet = 0, rc = 1;

	memset(&bo, 0, sizeof(bo));
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'v': vault = optarg; break;
		case 'C': cachedir = optarg; break;
		case 'N': nocache = 1; break;
		case 'o': bo.one_file_system = 1; break;
		case 's': bo.stdin_name = optarg; break;
		case 'i': ident = optarg; break;
		case 'q': quiet = 1; break;
		case 'z':
			if (parse_level(optarg, &bo.zstd_level) != 0)
				return 2;
			break;
		case 'x':
			if (nexcl == MAX_LIST)
				return usage();
			excl[nexcl++] = optarg;
			break;
		case 't':
			if (ntags == MAX_LIST)
				return usage();
			tags[ntags++] = optarg;
			break;
		case 'O':
			if (nsshopts == MAX_LIST || optarg[0] == '-')
				return usage();
			sshopts[nsshopts++] = optarg;
			break;
		default:
			return usage();
		}
	}
	if (optind == argc && bo.stdin_name == NULL) {
		cli_error("nothing to back up: give paths, or --stdin NAME");
		return 2;
	}
	if (bo.stdin_name != NULL && (bo.stdin_name[0] == '\0' ||
	    strchr(bo.stdin_name, '/') != NULL ||
	    strcmp(bo.stdin_name, ".") == 0 ||
	    strcmp(bo.stdin_name, "..") == 0)) {
		cli_error("--stdin takes a file name without '/'");
		return 2;
	}
	if (agent_config_load(config, &cfg, why, sizeof(why)) != ERR_OK) {
		cli_error("%s", why);
		return 1;
	}
	if (vault == NULL)
		vault = cfg->vault[0] != '\0' ? cfg->vault : NULL;
	if (vault == NULL) {
		cli_error("no vault: give --vault DIR or USER@HOST:DIR, or a "
		    "'vault' line in %s", config);
		goto out;
	}
	if (ident == NULL && cfg->ssh_identity[0] != '\0')
		ident = cfg->ssh_identity;
	if (parse_dest(vault, &d) != 0) {
		cli_error("%s: not a vault directory or USER@HOST:DIR", vault);
		goto out;
	}
	if (!nocache) {
		uint8_t kid[PACK_KEY_ID_LEN];
		char hex[2 * PACK_KEY_ID_LEN + 1];
		if (cachedir == NULL)
			cachedir = DEFAULT_CACHE;
		if (fs_mkdirs(cachedir, 0700) != ERR_OK) {
			cli_error("cannot create the cache directory %s; give "
			    "--cache DIR or --no-cache", cachedir);
			goto out;
		}
		if (pack_vault_key_id(cfg->vault_pk, kid) != ERR_OK)
			goto out;
		sodium_bin2hex(hex, sizeof(hex), kid, sizeof(kid));
		snprintf(cache, sizeof(cache), "%s/%s-%s.db", cachedir,
		    cfg->host, hex);
		bo.cache_path = cache;
	}
	signal(SIGPIPE, SIG_IGN);
	/*
	 * Blocks of 4 MiB and more (packs in the making, chunk buffers) are
	 * mapped and unmapped on their own. glibc's default threshold climbs
	 * to 32 MiB after the first free and then keeps freed packs in the
	 * heaps of three threads: 145 MiB resident against 86 for the same
	 * backup of /usr/lib here, for the same time.
	 */
	(void)mallopt(M_MMAP_THRESHOLD, 4 << 20);
	if (start_transport(&d, cfg->host, ident, sshopts, nsshopts,
	    &tr) != 0) {
		cli_error("cannot start %s: %s", d.ssh ? "ssh" :
		    "vault receive", strerror(errno));
		goto out;
	}
	bo.cfg = cfg;
	bo.paths = (const char *const *)argv + optind;
	bo.npaths = (size_t)(argc - optind);
	bo.excludes = excl;
	bo.nexcludes = nexcl;
	bo.tags = tags;
	bo.ntags = ntags;
	bo.progress = !quiet && isatty(STDERR_FILENO);
	bo.to_vault = tr.to;
	bo.from_vault = tr.from;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int r = backup_run(&bo, &st, why, sizeof(why));
	int status = end_transport(&tr);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (r != ERR_OK) {
		cli_error("backup failed: %s%s", why[0] ? why : err_str(r),
		    status != 0 && d.ssh ? " (ssh's own message is above)" :
		    "");
		goto out;
	}
	if (!quiet)
		summary(&st, (double)(t1.tv_sec - t0.tv_sec) +
		    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	if (st.warnings > 0) {
		cli_error("%" PRIu64 " item%s could not be read (see above); "
		    "the snapshot has everything else", st.warnings,
		    st.warnings == 1 ? "" : "s");
		rc = 3;
	} else {
		rc = 0;
	}
out:
	agent_config_free(cfg);
	return rc;
}
