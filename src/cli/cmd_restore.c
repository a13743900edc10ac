/*
 * cmd_restore.c - bulwark snapshots, restore and check: the admins' side
 * of backups, reading back what the vault holds. Listing snapshots needs
 * no key; restoring and reading every pack back unwrap the admin key
 * export (the only place the vault's secret key lives).
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "backup/keys.h"
#include "backup/restore.h"
#include "cli/cli.h"
#include "cli/passphrase.h"
#include "common/fsutil.h"
#include "vault/store.h"
#include "common/banned.h"

#define ADMIN_KEY_MAX	(64u * 1024)

/* ---- helpers ------------------------------------------------------------ */

static void
bad_record(const char *path, const char *why, void *arg)
{
	(void)arg;
	fprintf(stderr, "bulwark: warning: skipping snapshot record %s: %s\n",
	    path, why);
}

/* "1.4G", "512K", "17B": one token, for tables. */
static const char *
fmt_size(uint64_t n, char *buf, size_t len)
{
	static const char units[] = "BKMGTPE";
	double v = (double)n;
	size_t u = 0;

	while (v >= 1024 && u + 1 < sizeof(units) - 1) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%" PRIu64 "B", n);
	else
		snprintf(buf, len, "%.1f%c", v, units[u]);
	return buf;
}

/* Seconds since the epoch as "2026-11-27T10:00:00Z". */
static const char *
fmt_time(uint64_t secs, char *buf, size_t len)
{
	time_t t = (time_t)secs;
	struct tm tm;

	if ((uint64_t)t != secs || gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "%" PRIu64, secs);
	return buf;
}

static double
elapsed(const struct timespec *a)
{
	struct timespec b;

	clock_gettime(CLOCK_MONOTONIC, &b);
	return (double)(b.tv_sec - a->tv_sec) +
	    (double)(b.tv_nsec - a->tv_nsec) / 1e9;
}

int
cli_admin_key_load(const char *file, const char *passfile,
    const struct vault *v, const char *dir, struct admin_key **out)
{
	char *text = NULL, *pass = NULL;
	size_t len = 0, passlen;
	int r, rc = -1;

	*out = NULL;
	if ((r = fs_read_file(file, ADMIN_KEY_MAX, &text, &len)) != ERR_OK) {
		cli_error("cannot read the admin key export %s: %s", file,
		    r == ERR_IO || r == ERR_NOTFOUND ? strerror(errno) :
		    err_str(r));
		return -1;
	}
	if (cli_passphrase(passfile, "Passphrase for the vault's admin key: ",
	    0, &pass, &passlen) != 0)
		goto out;
	struct admin_kdf kdf;
	if (passfile == NULL && isatty(STDERR_FILENO) &&
	    admin_key_kdf(text, len, &kdf) == ERR_OK)
		fprintf(stderr, "unwrapping the admin key (Argon2id: %" PRIu32
		    " MiB, %" PRIu32 " passes, %" PRIu32 " lanes)\n",
		    kdf.m_kib >> 10, kdf.t, kdf.lanes);
	r = admin_key_import(text, len, pass, passlen, out);
	if (r == ERR_SIGNATURE) {
		cli_error("wrong passphrase for %s (or the file was altered)",
		    file);
		goto out;
	} else if (r == ERR_FORMAT) {
		cli_error("%s is not a bulwark admin key export (bulwark vault "
		    "init wrote one)", file);
		goto out;
	} else if (r == ERR_UNSUPPORTED) {
		cli_error("%s uses a key derivation this bulwark does not know; "
		    "unwrap it with the bulwark that wrote it", file);
		goto out;
	} else if (r != ERR_OK) {
		cli_error("cannot unwrap %s: %s", file, err_str(r));
		goto out;
	}
	if (v != NULL &&
	    sodium_memcmp((*out)->vault_pk, vault_pk(v), PACK_PK_LEN) != 0) {
		cli_error("%s is the admin key of another vault; give the "
		    "export that bulwark vault init wrote for %s", file, dir);
		admin_key_free(*out);
		*out = NULL;
		goto out;
	}
	rc = 0;
 out:
	sodium_memzero(text, len);
	free(text);
	cli_passphrase_free(pass);
	return rc;
}

/*
 * A restore holds a descriptor per directory level and per queued file:
 * more than the usual soft limit for deep trees.
 */
static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/*
 * Errors and warnings from the library (from any of its threads), after
 * clearing a progress line.
 */
struct out {
	int tty;
	atomic_int dirty;	/* a progress line is showing */
	const struct manifest *m;
	struct timespec start;
};

static void
clear_line(struct out *o)
{
	if (atomic_exchange(&o->dirty, 0))
		fputs("\r\033[K", stderr);
}

static void
say(const char *msg, void *arg)
{
	struct out *o = arg;

	clear_line(o);
	fputs("bulwark: ", stderr);
	cli_fputs_safe(msg, stderr);
	fputc('\n', stderr);
}

/* ---- snapshots ---------------------------------------------------------- */

/*
 * What the list shows of a snapshot: a line's worth, not its manifest, so
 * that years of snapshots (each naming thousands of packs) list in little
 * memory.
 */
struct snap_row {
	char id[MANIFEST_ID_HEX_LEN + 1];
	char host[MANIFEST_HOST_MAX + 1];
	uint64_t received, client_time, files, bytes;
};

struct snap_rows {
	struct snap_row *r;
	size_t n, cap;
	const char *host;	/* only this host's, or NULL */
};

static int
snap_row_add(struct vault_snapshot *s, void *arg)
{
	struct snap_rows *rows = arg;
	struct snap_row *r;

	if (rows->host != NULL && strcmp(rows->host, s->host) != 0)
		return 0;
	if (rows->n == rows->cap) {
		size_t nc = rows->cap ? rows->cap * 2 : 64;
		void *p = realloc(rows->r, nc * sizeof(*rows->r));

		if (p == NULL)
			return ERR_NOMEM;
		rows->r = p;
		rows->cap = nc;
	}
	r = &rows->r[rows->n++];
	memcpy(r->id, s->id, sizeof(r->id));
	memcpy(r->host, s->host, sizeof(r->host));
	r->received = s->received;
	r->client_time = s->m->client_time;
	r->files = s->m->files;
	r->bytes = s->m->bytes_read;
	return 0;
}

/* As vault_snapshot_list orders them: by receive time, then ID. */
static int
cmp_row(const void *a, const void *b)
{
	const struct snap_row *x = a, *y = b;

	if (x->received != y->received)
		return x->received < y->received ? -1 : 1;
	return strcmp(x->id, y->id);
}

int
cmd_snapshots(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "vault", required_argument, NULL, 'v' },
		{ "host", required_argument, NULL, 'H' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = NULL, *host = NULL;
	struct snap_rows rows = { NULL, 0, 0, NULL };
	struct vault *v = NULL;
	char t1[32], t2[32], sz[32];
	int c, hw = 4;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'v': dir = optarg; break;
		case 'H': host = optarg; break;
		default: goto usage;
		}
	}
	if (optind != argc || dir == NULL)
		goto usage;
	if (cli_open_vault(dir, &v) != 0)
		return 1;
	rows.host = host;
	if (vault_snapshot_each(v, snap_row_add, &rows, bad_record, NULL) !=
	    ERR_OK) {
		cli_error("cannot read the snapshots of %s: %s", dir,
		    strerror(errno));
		free(rows.r);
		vault_close(v);
		return 1;
	}
	if (rows.n > 1)
		qsort(rows.r, rows.n, sizeof(*rows.r), cmp_row);
	for (size_t i = 0; i < rows.n; i++)
		if (strlen(rows.r[i].host) > (size_t)hw)
			hw = (int)strlen(rows.r[i].host);
	printf("%-*s  %-*s  %-20s  %-20s  %9s  %s\n", MANIFEST_ID_HEX_LEN, "ID",
	    hw, "HOST", "RECEIVED(UTC)", "CLIENT-TIME", "FILES", "SIZE");
	for (size_t i = 0; i < rows.n; i++) {
		const struct snap_row *r = &rows.r[i];

		printf("%s  %-*s  %-20s  %-20s  %9" PRIu64 "  %s\n", r->id,
		    hw, r->host, fmt_time(r->received, t1, sizeof(t1)),
		    fmt_time(r->client_time, t2, sizeof(t2)), r->files,
		    fmt_size(r->bytes, sz, sizeof(sz)));
	}
	if (rows.n == 0)
		fprintf(stderr, "no snapshots%s%s in %s yet\n",
		    host != NULL ? " of " : "", host != NULL ? host : "", dir);
	free(rows.r);
	vault_close(v);
	return 0;
usage:
	cli_error("usage: bulwark snapshots --vault DIR [--host HOST]");
	return 2;
}

/* ---- restore ------------------------------------------------------------ */

static void
restore_progress(const struct restore_stats *st, void *arg)
{
	struct out *o = arg;
	char a[32], b[32];

	fprintf(stderr, "\r\033[Krestoring: %" PRIu64 "/%" PRIu64 " files, "
	    "%s/%s, %.0f s", st->files, o->m->files,
	    fmt_size(st->bytes, a, sizeof(a)),
	    fmt_size(o->m->bytes_read, b, sizeof(b)), elapsed(&o->start));
	atomic_store(&o->dirty, 1);
}

/*
 * Refuses a target that is there and not an empty directory before the
 * passphrase is asked for (restore_snapshot checks it again).
 */
static int
target_ok(const char *to)
{
	struct dirent *de;
	DIR *d;
	int empty = 1;

	if ((d = opendir(to)) == NULL) {
		if (errno == ENOENT)
			return 0;
		cli_error("cannot restore into %s: %s; give a new or empty "
		    "directory", to, errno == ENOTDIR ? "not a directory" :
		    strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			empty = 0;
	closedir(d);
	if (!empty) {
		cli_error("%s is not empty; restore into a new or empty "
		    "directory", to);
		return -1;
	}
	return 0;
}

/*
 * Refuses, before the passphrase and before anything is written, a whole
 * snapshot that cannot fit: its host's count of file bytes against the
 * free space of the file system the target is (or will be) on. The count
 * is the host's (signed, but only a host's word), and holes and
 * compression on the target make the real need smaller: an estimate,
 * which --no-space-check skips. A restore that still runs out stops with
 * ENOSPC, as before.
 */
static int
space_ok(const char *to, const struct vault_snapshot *s)
{
	const struct manifest *m = s->m;
	char dir[PATH_MAX], need[32], have[32], *slash;
	struct statvfs vfs;
	uint64_t avail;

	if ((size_t)snprintf(dir, sizeof(dir), "%s", to) >= sizeof(dir))
		return 0;
	/* The nearest directory that exists: the target is made in it. */
	while (statvfs(dir, &vfs) != 0) {
		if (errno != ENOENT || (slash = strrchr(dir, '/')) == NULL)
			return 0;	/* target_ok and the restore will say */
		if (slash == dir)
			slash[1] = '\0';
		else
			*slash = '\0';
	}
	avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
	if (m->bytes_read <= avail)
		return 0;
	cli_error("snapshot %s holds %s of file data (its host's count) and "
	    "%s has %s free; free some space, restore to another file system, "
	    "restore a part with --include, or pass --no-space-check to try "
	    "anyway (files with holes may need less)", s->id, fmt_size(m->bytes_read, need, sizeof(need)), dir,
	    fmt_size(avail, have, sizeof(have)));
	return -1;
}

/* The ID prefix in lowercase: 4 to 32 hex digits. */
static int
snapshot_prefix(const char *arg, char out[MANIFEST_ID_HEX_LEN + 1])
{
	size_t n = strlen(arg);

	if (n < 4 || n > MANIFEST_ID_HEX_LEN)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!isxdigit((unsigned char)arg[i]))
			return -1;
		out[i] = (char)tolower((unsigned char)arg[i]);
	}
	out[n] = '\0';
	return 0;
}

static void
restore_summary(const struct vault_snapshot *s, const char *to,
    const struct restore_stats *st, double secs)
{
	char sz[32];

	printf("restored snapshot %s of %s to %s: %" PRIu64 " files, %" PRIu64
	    " directories, %" PRIu64 " hard links, %" PRIu64 " symbolic links, "
	    "%" PRIu64 " other; %s in %.1f s (%.0f MiB/s)\n", s->id, s->host,
	    to, st->files, st->dirs, st->links, st->symlinks, st->others,
	    fmt_size(st->bytes, sz, sizeof(sz)), secs,
	    secs > 0 ? (double)st->bytes / (1 << 20) / secs : 0.0);
	if (st->warnings > 0)
		fprintf(stderr, "bulwark: %" PRIu64 " warning%s: metadata the "
		    "target refused (see above)\n", st->warnings,
		    st->warnings == 1 ? "" : "s");
}

int
cmd_restore(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "vault", required_argument, NULL, 'v' },
		{ "key", required_argument, NULL, 'k' },
		{ "passphrase-file", required_argument, NULL, 'p' },
		{ "to", required_argument, NULL, 't' },
		{ "include", required_argument, NULL, 'i' },
		{ "numeric-owner", no_argument, NULL, 'n' },
		{ "host", required_argument, NULL, 'H' },
		{ "no-space-check", no_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = NULL, *key = NULL, *passfile = NULL, *to = NULL;
	const char *host = NULL;
	const char **inc = NULL;
	struct vault_snapshot snap;
	struct vault *v = NULL;
	struct admin_key *k = NULL;
	struct restore_prefetch *pf = NULL;
	struct restore_opts ro;
	struct restore_stats st;
	struct out o;
	char prefix[MANIFEST_ID_HEX_LEN + 1], why[1024] = "";
	size_t ninc = 0;
	int c, i, r, numeric = 0, space_check = 1, rc = 1;

	memset(&snap, 0, sizeof(snap));
	if ((inc = calloc((size_t)argc + 1, sizeof(*inc))) == NULL) {
		cli_error("out of memory");
		return 1;
	}
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'v': dir = optarg; break;
		case 'k': key = optarg; break;
		case 'p': passfile = optarg; break;
		case 't': to = optarg; break;
		case 'i': inc[ninc++] = optarg; break;
		case 'n': numeric = 1; break;
		case 'H': host = optarg; break;
		case 'S': space_check = 0; break;
		default: goto usage;
		}
	}
	if (optind + 1 != argc || dir == NULL || key == NULL || to == NULL)
		goto usage;
	if (snapshot_prefix(argv[optind], prefix) != 0) {
		cli_error("'%s' is not a snapshot ID: give 4 to 32 of its hex "
		    "digits ('bulwark snapshots --vault %s' lists them)",
		    argv[optind], dir);
		free(inc);
		return 2;
	}
	if (cli_open_vault(dir, &v) != 0)
		goto out;
	if ((i = vault_snapshot_get(v, host, prefix, &snap, bad_record,
	    NULL)) == ERR_CONFLICT) {
		cli_error("'%s' matches several snapshots%s; give more digits, "
		    "or the host with --host HOST ('bulwark snapshots --vault "
		    "%s' lists both)", prefix, host != NULL ? " of that host" :
		    "", dir);
		goto out;
	} else if (i == ERR_NOTFOUND) {
		cli_error("no snapshot '%s'%s%s in %s; 'bulwark snapshots "
		    "--vault %s' lists them", prefix, host != NULL ? " of " : "",
		    host != NULL ? host : "", dir, dir);
		goto out;
	} else if (i != ERR_OK) {
		cli_error("cannot read the snapshots of %s: %s", dir,
		    err_str(i));
		goto out;
	}
	if (target_ok(to) != 0 ||
	    (space_check && ninc == 0 && space_ok(to, &snap) != 0))
		goto out;
	/* The packs come off the disk while the passphrase and Argon2id
	 * take their time (restore.h); not starting only costs that. */
	if (restore_prefetch_start(v, snap.m, 0, &pf) != ERR_OK)
		pf = NULL;
	r = cli_admin_key_load(key, passfile, v, dir, &k);
	(void)restore_prefetch_stop(pf);
	if (r != 0)
		goto out;
	raise_nofile();
	if (geteuid() != 0)
		fprintf(stderr, "bulwark: note: not running as root: owners "
		    "are not restored, and devices cannot be\n");
	memset(&o, 0, sizeof(o));
	o.tty = isatty(STDERR_FILENO);
	o.m = snap.m;
	memset(&ro, 0, sizeof(ro));
	ro.to = to;
	ro.includes = inc;
	ro.nincludes = ninc;
	ro.numeric_owner = numeric;
	ro.progress = o.tty ? restore_progress : NULL;
	ro.report = say;
	ro.arg = &o;
	clock_gettime(CLOCK_MONOTONIC, &o.start);
	r = restore_snapshot(v, &snap, k, &ro, &st, why, sizeof(why));
	clear_line(&o);
	if (r == ERR_EXISTS) {
		cli_error("%s", why);
		goto out;
	}
	if (r != ERR_OK && st.files + st.dirs + st.symlinks + st.others == 0) {
		cli_error("cannot restore snapshot %s: %s", snap.id, why);
		goto out;
	}
	restore_summary(&snap, to, &st, elapsed(&o.start));
	if (r != ERR_OK) {
		cli_error("the restore is incomplete: %s", why);
		goto out;
	}
	if (ninc > 0 && st.files + st.dirs + st.symlinks + st.others == 0)
		fprintf(stderr, "bulwark: warning: no entry matched the "
		    "--include patterns (they match paths such as /etc/passwd)"
		    "\n");
	rc = 0;
 out:
	admin_key_free(k);
	vault_snapshot_release(&snap);
	vault_close(v);
	free(inc);
	return rc;
usage:
	cli_error("usage: bulwark restore SNAPSHOT --vault DIR --key FILE "
	    "[--passphrase-file FILE] --to DIR [--include PATTERN]... "
	    "[--numeric-owner] [--host HOST] [--no-space-check]");
	free(inc);
	return 2;
}

/* ---- check --read-data -------------------------------------------------- */

static void
check_progress(const struct check_stats *st, void *arg)
{
	struct out *o = arg;
	char sz[32];

	fprintf(stderr, "\r\033[Kchecking: %" PRIu64 "/%" PRIu64 " packs (%s), "
	    "%" PRIu64 " snapshots, %" PRIu64 " tree nodes, %.0f s", st->packs,
	    st->packs_total, fmt_size(st->pack_bytes, sz, sizeof(sz)),
	    st->snapshots, st->nodes, elapsed(&o->start));
	atomic_store(&o->dirty, 1);
}

static void
problem(const char *msg, void *arg)
{
	struct out *o = arg;

	clear_line(o);
	fputs("problem: ", stdout);
	cli_fputs_safe(msg, stdout);	/* it may quote a path of the host's */
	putchar('\n');
	fflush(stdout);
}

int
cmd_check(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "read-data", no_argument, NULL, 'r' },
		{ "vault", required_argument, NULL, 'v' },
		{ "key", required_argument, NULL, 'k' },
		{ "passphrase-file", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = NULL, *key = NULL, *passfile = NULL;
	struct vault *v = NULL;
	struct admin_key *k = NULL;
	struct check_opts co;
	struct check_stats st;
	struct out o;
	char sz[32], bz[32];
	int c, r, read_data = 0, rc = 1;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'r': read_data = 1; break;
		case 'v': dir = optarg; break;
		case 'k': key = optarg; break;
		case 'p': passfile = optarg; break;
		default: goto usage;
		}
	}
	if (optind != argc)
		goto usage;
	if (!read_data) {
		cli_error("check needs --read-data: it reads every pack back "
		    "with the admin key; 'bulwark vault check DIR' is the "
		    "keyless check");
		return 2;
	}
	if (dir == NULL || key == NULL)
		goto usage;
	if (cli_open_vault(dir, &v) != 0)
		return 1;
	if (cli_admin_key_load(key, passfile, v, dir, &k) != 0)
		goto out;
	memset(&o, 0, sizeof(o));
	o.tty = isatty(STDERR_FILENO);
	memset(&co, 0, sizeof(co));
	co.progress = o.tty ? check_progress : NULL;
	co.arg = &o;
	clock_gettime(CLOCK_MONOTONIC, &o.start);
	r = check_read_data(v, k, &co, &st, problem, &o);
	clear_line(&o);
	if (r == ERR_OK) {
		printf("check: ok: %" PRIu64 " packs (%s), %" PRIu64 " chunks "
		    "(%s) decrypted and verified; %" PRIu64 " snapshots, %"
		    PRIu64 " tree nodes walked; %.1f s\n", st.packs,
		    fmt_size(st.pack_bytes, sz, sizeof(sz)), st.chunks,
		    fmt_size(st.bytes, bz, sizeof(bz)), st.snapshots, st.nodes,
		    elapsed(&o.start));
		rc = 0;
	} else if (r == ERR_MISMATCH) {
		printf("check: %" PRIu64 " problem%s in %" PRIu64 " packs and %"
		    PRIu64 " snapshots\n", st.errors, st.errors == 1 ? "" : "s",
		    st.packs, st.snapshots);
	} else {
		cli_error("cannot check %s: %s", dir, err_str(r));
	}
 out:
	admin_key_free(k);
	vault_close(v);
	return rc;
usage:
	cli_error("usage: bulwark check --read-data --vault DIR --key FILE "
	    "[--passphrase-file FILE]");
	return 2;
}
