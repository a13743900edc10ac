/*
 * restore.c - restoring a snapshot and reading a whole vault back
 * (restore.h).
 *
 * Pieces, in order: reporting, the chunk map (chunk ID -> pack), a set of
 * packs with a per-thread cache of open readers, owner names, metadata,
 * the restore's directories, files, queue, workers and tree walk, and the
 * read check.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <grp.h>
#include <inttypes.h>
#include <pthread.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "backup/chunker.h"
#include "backup/manifest.h"
#include "backup/pack.h"
#include "backup/restore.h"
#include "backup/tree.h"
#include "backup/wbehind.h"
#include "common/fsutil.h"
#include "common/err.h"
#include "common/banned.h"

#define MSG_MAX		1024
#define WARN_SHOWN	20		/* warnings reported one by one */
#define RCACHE_SLOTS	16		/* open packs per thread */
#define QUEUE_LEN	512		/* file jobs waiting for a worker */
#define BATCH		16		/* jobs moved per lock */
#define SPLIT_MIN	(32ull << 20)	/* files above this are split */
#define PIECE_BYTES	(8ull << 20)	/* into pieces of about this */
#define OWNER_CACHE	256
#define OWNER_BUF_MAX	(1u << 20)
#define PROGRESS_NS	250000000L

static const uint8_t zero_id[CHUNK_ID_LEN];


/* The first 16 hex digits of an ID, for messages. */
static const char *
id_short(const uint8_t id[CHUNK_ID_LEN], char buf[17])
{
	sodium_bin2hex(buf, 17, id, 8);
	return buf;
}

static int
is_hole(const struct tree_chunk *c)
{
	return memcmp(c->id, zero_id, CHUNK_ID_LEN) == 0;
}

static long
ns_since(const struct timespec *a)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long)(now.tv_sec - a->tv_sec) * 1000000000L +
	    (now.tv_nsec - a->tv_nsec);
}

/* ---- Reporting ---------------------------------------------------------- */

/*
 * Errors and warnings from any thread: counted, handed to the caller's
 * callback one at a time, and the first error kept for the return value.
 */
struct reporter {
	pthread_mutex_t mu;
	void (*fn)(const char *msg, void *arg);
	void *arg;
	uint64_t errors, warnings;
	int first;
	char first_msg[MSG_MAX];
};

static void
rep_init(struct reporter *r, void (*fn)(const char *, void *), void *arg)
{
	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->mu, NULL);
	r->fn = fn;
	r->arg = arg;
}

static void __attribute__((format(printf, 4, 0)))
rep_vsay(struct reporter *r, int code, int warning, const char *fmt,
    va_list ap)
{
	char msg[MSG_MAX];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	pthread_mutex_lock(&r->mu);
	if (warning) {
		r->warnings++;
		if (r->fn != NULL && r->warnings <= WARN_SHOWN)
			r->fn(msg, r->arg);
		if (r->fn != NULL && r->warnings == WARN_SHOWN)
			r->fn("further warnings are counted but not shown",
			    r->arg);
	} else {
		r->errors++;
		if (r->first == ERR_OK) {
			r->first = code != ERR_OK ? code : ERR_INTERNAL;
			memcpy(r->first_msg, msg, sizeof(msg));
		}
		if (r->fn != NULL)
			r->fn(msg, r->arg);
	}
	pthread_mutex_unlock(&r->mu);
}

static void __attribute__((format(printf, 3, 4)))
rep_error(struct reporter *r, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	rep_vsay(r, code, 0, fmt, ap);
	va_end(ap);
}

static void __attribute__((format(printf, 2, 3)))
rep_warn(struct reporter *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	rep_vsay(r, ERR_OK, 1, fmt, ap);
	va_end(ap);
}

static uint64_t
rep_count(struct reporter *r, int warnings)
{
	uint64_t n;

	pthread_mutex_lock(&r->mu);
	n = warnings ? r->warnings : r->errors;
	pthread_mutex_unlock(&r->mu);
	return n;
}

/* ---- Chunk map: chunk ID -> the packs holding it ------------------------ */

/*
 * Open addressing, linear probing, at most half full. IDs come from pack
 * indexes, which any host holding a run key can write, so slots are
 * chosen by SipHash under a random key rather than by the ID's bytes.
 * The same ID may be in several packs: each is a slot of its own.
 */
struct cmap_slot {
	uint8_t id[CHUNK_ID_LEN];
	uint32_t pack;
	uint32_t len;
	uint8_t used;
	uint8_t damaged;
};

struct cmap {
	struct cmap_slot *s;
	size_t cap, n;
	uint8_t key[crypto_shorthash_KEYBYTES];
};

static size_t
cmap_home(const struct cmap *m, const uint8_t id[CHUNK_ID_LEN])
{
	uint8_t h[crypto_shorthash_BYTES];
	uint64_t v;

	crypto_shorthash(h, id, CHUNK_ID_LEN, m->key);
	memcpy(&v, h, sizeof(v));
	return (size_t)v & (m->cap - 1);
}

static int
cmap_init(struct cmap *m, size_t expect)
{
	size_t cap = 64;

	memset(m, 0, sizeof(*m));
	while (cap < expect * 2 + 2) {
		if (cap > SIZE_MAX / 4 / sizeof(*m->s))
			return ERR_NOMEM;
		cap *= 2;
	}
	if ((m->s = calloc(cap, sizeof(*m->s))) == NULL)
		return ERR_NOMEM;
	m->cap = cap;
	randombytes_buf(m->key, sizeof(m->key));
	return ERR_OK;
}

static void
cmap_free(struct cmap *m)
{
	free(m->s);
	memset(m, 0, sizeof(*m));
}

static void
cmap_place(struct cmap *m, const struct cmap_slot *e)
{
	size_t i = cmap_home(m, e->id);

	while (m->s[i].used)
		i = (i + 1) & (m->cap - 1);
	m->s[i] = *e;
	m->s[i].used = 1;
	m->n++;
}

static int
cmap_put(struct cmap *m, const uint8_t id[CHUNK_ID_LEN], uint32_t pack,
    uint32_t len, int damaged)
{
	struct cmap_slot e;

	if ((m->n + 1) * 2 > m->cap) {
		struct cmap old = *m;

		if (m->cap > SIZE_MAX / 4 / sizeof(*m->s) ||
		    (m->s = calloc(m->cap * 2, sizeof(*m->s))) == NULL) {
			m->s = old.s;
			return ERR_NOMEM;
		}
		m->cap *= 2;
		m->n = 0;
		for (size_t i = 0; i < old.cap; i++)
			if (old.s[i].used)
				cmap_place(m, &old.s[i]);
		free(old.s);
	}
	memset(&e, 0, sizeof(e));
	memcpy(e.id, id, CHUNK_ID_LEN);
	e.pack = pack;
	e.len = len;
	e.damaged = damaged != 0;
	cmap_place(m, &e);
	return ERR_OK;
}

/*
 * The slots holding id, one per call: *it starts at SIZE_MAX and the call
 * returns NULL when there are no more.
 */
static const struct cmap_slot *
cmap_next(const struct cmap *m, const uint8_t id[CHUNK_ID_LEN], size_t *it)
{
	size_t i;

	if (m->cap == 0)
		return NULL;
	i = *it == SIZE_MAX ? cmap_home(m, id) : ((*it + 1) & (m->cap - 1));
	for (; m->s[i].used; i = (i + 1) & (m->cap - 1)) {
		if (memcmp(m->s[i].id, id, CHUNK_ID_LEN) == 0) {
			*it = i;
			return &m->s[i];
		}
	}
	return NULL;
}

/* ---- Packs and per-thread readers --------------------------------------- */

/*
 * The packs a restore or check reads: their names (borrowed), the map of
 * their chunks, and for each the error that opening it gave, so that a
 * damaged pack is tried once, not once per chunk.
 */
struct packset {
	const struct vault *v;
	const uint8_t *sk;
	const struct repo_keys *keys;
	const char (*names)[PACK_NAME_HEX_LEN + 1];
	size_t n;
	struct cmap map;
	_Atomic int *open_err;
};

struct rcache {
	struct packset *ps;
	struct pack_scratch scratch;	/* shared by this thread's readers */
	struct {
		uint32_t pack;
		int fd;
		struct pack_reader *r;
		uint64_t used;
	} s[RCACHE_SLOTS];
	size_t n;
	uint64_t tick;
	struct wbehind wb;		/* the thread's written ranges */
};

static void
rcache_init(struct rcache *c, struct packset *ps)
{
	memset(c, 0, sizeof(*c));
	c->ps = ps;
	wbehind_init(&c->wb);
}

static void
rcache_free(struct rcache *c)
{
	for (size_t i = 0; i < c->n; i++) {
		pack_reader_free(c->s[i].r);
		close(c->s[i].fd);
	}
	c->n = 0;
	pack_scratch_free(&c->scratch);
	wbehind_end(&c->wb);
}

/* Opens pack i of ps: the descriptor and the reader, or an error. */
static int
pack_open(const struct packset *ps, size_t i, int *fdp,
    struct pack_reader **out)
{
	int fd, rc;

	*out = NULL;
	if ((fd = vault_pack_open(ps->v, ps->names[i])) < 0)
		return fd;
	if ((rc = pack_reader_open_fd(fd, ps->sk, out)) != ERR_OK) {
		close(fd);
		return rc;
	}
	*fdp = fd;
	return ERR_OK;
}

/* The reader of pack i, from the cache or opened (evicting the oldest). */
static int
rcache_reader(struct rcache *c, uint32_t pack, struct pack_reader **out)
{
	struct pack_reader *r;
	size_t slot = 0;
	int fd, rc;

	for (size_t i = 0; i < c->n; i++) {
		if (c->s[i].pack == pack) {
			c->s[i].used = ++c->tick;
			*out = c->s[i].r;
			return ERR_OK;
		}
	}
	if ((rc = atomic_load(&c->ps->open_err[pack])) != ERR_OK)
		return rc;
	if ((rc = pack_open(c->ps, pack, &fd, &r)) != ERR_OK) {
		atomic_store(&c->ps->open_err[pack], rc);
		return rc;
	}
	if (c->n < RCACHE_SLOTS) {
		slot = c->n++;
	} else {
		for (size_t i = 1; i < c->n; i++)
			if (c->s[i].used < c->s[slot].used)
				slot = i;
		pack_reader_free(c->s[slot].r);
		close(c->s[slot].fd);
	}
	pack_reader_use_scratch(r, &c->scratch);
	c->s[slot].pack = pack;
	c->s[slot].fd = fd;
	c->s[slot].r = r;
	c->s[slot].used = ++c->tick;
	*out = r;
	return ERR_OK;
}

/*
 * Reads chunk id from a pack that holds it (one in the set inset when it
 * is not NULL) and checks that its bytes hash to id. Tries every pack
 * that holds it before giving up; returns the last pack's error then.
 * *out is freed by the caller.
 */
static int
fetch(struct rcache *c, const uint8_t id[CHUNK_ID_LEN], const uint8_t *inset,
    uint8_t **out, size_t *len)
{
	const struct cmap_slot *sl;
	struct pack_reader *r;
	uint8_t got[CHUNK_ID_LEN], *buf;
	size_t it = SIZE_MAX, n;
	int rc = ERR_NOTFOUND;

	*out = NULL;
	*len = 0;
	while ((sl = cmap_next(&c->ps->map, id, &it)) != NULL) {
		if (inset != NULL &&
		    !(inset[sl->pack / 8] & (1u << (sl->pack % 8))))
			continue;
		if ((rc = rcache_reader(c, sl->pack, &r)) != ERR_OK)
			continue;
		if ((rc = pack_reader_get(r, id, &buf, &n)) != ERR_OK) {
			if (rc == ERR_NOMEM)
				return rc;
			continue;
		}
		chunk_id(c->ps->keys->id, buf, n, got);
		if (sodium_memcmp(got, id, CHUNK_ID_LEN) != 0) {
			free(buf);
			rc = ERR_MISMATCH;
			continue;
		}
		*out = buf;
		*len = n;
		return ERR_OK;
	}
	return rc;
}

static const char *
fetch_why(int rc)
{
	switch (rc) {
	case ERR_NOTFOUND:
		return "it is in none of the snapshot's packs";
	case ERR_MISMATCH:
		return "its bytes do not hash to its ID (a damaged or forged "
		    "pack)";
	case ERR_SIGNATURE:
		return "its pack does not authenticate (altered bytes)";
	case ERR_FORMAT:
		return "its pack is damaged";
	default:
		return err_str(rc);
	}
}

static int
packset_init(struct packset *ps, const struct vault *v,
    const struct admin_key *k, const struct repo_keys *keys,
    const char (*names)[PACK_NAME_HEX_LEN + 1], size_t n)
{
	memset(ps, 0, sizeof(*ps));
	ps->v = v;
	ps->sk = k->vault_sk;
	ps->keys = keys;
	ps->names = names;
	ps->n = n;
	if (n >= UINT32_MAX)
		return ERR_TOOBIG;
	if ((ps->open_err = calloc(n > 0 ? n : 1, sizeof(*ps->open_err))) ==
	    NULL)
		return ERR_NOMEM;
	return cmap_init(&ps->map, 1024);
}

static void
packset_free(struct packset *ps)
{
	cmap_free(&ps->map);
	free(ps->open_err);
	ps->open_err = NULL;
}

/*
 * Reads the index of every pack in ps into its map. A pack that does not
 * open is reported (its chunks then count as missing) and remembered.
 */
static int
packset_index(struct packset *ps, struct reporter *rep, const char *what)
{
	struct pack_reader *r;
	uint8_t id[CHUNK_ID_LEN];
	size_t len;
	int fd, rc;

	for (size_t i = 0; i < ps->n; i++) {
		if ((rc = pack_open(ps, i, &fd, &r)) != ERR_OK) {
			atomic_store(&ps->open_err[i], rc);
			rep_error(rep, rc, "%s: pack %s: %s", what,
			    ps->names[i], rc == ERR_NOTFOUND ? "not in the "
			    "vault, or sealed to another key" : err_str(rc));
			continue;
		}
		rc = ERR_OK;
		for (size_t j = 0; rc == ERR_OK && j < pack_reader_count(r);
		    j++) {
			if ((rc = pack_reader_entry(r, j, id, &len)) == ERR_OK)
				rc = cmap_put(&ps->map, id, (uint32_t)i,
				    (uint32_t)len, 0);
		}
		pack_reader_free(r);
		close(fd);
		if (rc != ERR_OK)
			return rc;
	}
	return ERR_OK;
}

/* ---- Owners ------------------------------------------------------------- */

struct owner {
	char name[TREE_OWNER_NAME_MAX + 1];
	uint32_t id;
	int found;
};

/* Names already looked up; only the walker thread uses it. */
struct owners {
	struct owner e[OWNER_CACHE];
	size_t n;
	char *buf;
	size_t cap;
};

/* getpwnam_r / getgrnam_r with a buffer that grows as needed. */
static int
owner_lookup(struct owners *c, int group, const char *name, uint32_t *id)
{
	struct passwd pw, *pwr = NULL;
	struct group gr, *grr = NULL;
	int r;

	for (;;) {
		if (c->buf == NULL) {
			c->cap = 16384;
			if ((c->buf = malloc(c->cap)) == NULL)
				return 0;
		}
		if (group)
			r = getgrnam_r(name, &gr, c->buf, c->cap, &grr);
		else
			r = getpwnam_r(name, &pw, c->buf, c->cap, &pwr);
		if (r != ERANGE || c->cap >= OWNER_BUF_MAX)
			break;
		free(c->buf);
		c->cap *= 2;
		if ((c->buf = malloc(c->cap)) == NULL)
			return 0;
	}
	if (group && r == 0 && grr != NULL) {
		*id = (uint32_t)grr->gr_gid;
		return 1;
	}
	if (!group && r == 0 && pwr != NULL) {
		*id = (uint32_t)pwr->pw_uid;
		return 1;
	}
	return 0;
}

/* The ID name stands for on this system, or num when it is unknown. */
static uint32_t
owner_id(struct owners *c, int group, const char *name, size_t len,
    uint32_t num)
{
	char nm[TREE_OWNER_NAME_MAX + 1];
	uint32_t id = num;
	int found;

	if (len == 0 || len > TREE_OWNER_NAME_MAX)
		return num;
	for (size_t i = 0; i < c->n; i++)
		if (strlen(c->e[i].name) == len &&
		    memcmp(c->e[i].name, name, len) == 0)
			return c->e[i].found ? c->e[i].id : num;
	memcpy(nm, name, len);
	nm[len] = '\0';
	found = owner_lookup(c, group, nm, &id);
	if (c->n < OWNER_CACHE) {
		memcpy(c->e[c->n].name, nm, len + 1);
		c->e[c->n].id = id;
		c->e[c->n].found = found;
		c->n++;
	}
	return found ? id : num;
}

/* ---- Restore: shared state ---------------------------------------------- */

/*
 * A directory of the snapshot. It holds a reference on its parent, and
 * each of its pending files and subdirectories holds one on it, so its
 * metadata is set (and its descriptor closed) only after everything in it
 * is done, by whichever thread drops the last reference.
 */
struct rdir {
	struct rdir *parent;
	const struct tree_entry *e;	/* in parent->tree; NULL: the root */
	struct tree *tree;		/* its node; NULL if unreadable */
	size_t node_bytes;		/* counted in rctx.tree_bytes */
	char *path;			/* "/a/b"; "" for the root */
	int fd;				/* -1: not created; -2: failed */
	uint32_t uid, gid;
	atomic_uint refs;
};

/*
 * A regular file; parts is the number of its jobs not yet done. Only a
 * file split into several jobs is shared (allocated, freed by the last);
 * otherwise it travels inside its one job.
 */
struct rfile {
	struct rdir *dir;
	const struct tree_entry *e;
	uint32_t uid, gid;
	int fd;				/* -1 until created */
	int shared;
	/*
	 * Taken around each write to a shared file: the kernel serializes
	 * buffered writes to one inode anyway, and a waiter on its lock
	 * spins on the CPU, where one waiting here sleeps and leaves the
	 * core to the other worker's decryption.
	 */
	pthread_mutex_t wmu;
	atomic_uint parts;
	atomic_int incomplete;		/* a chunk could not be written */
};

struct rjob {
	struct rfile *f;		/* a shared file, or NULL: own */
	struct rfile own;
	size_t c0, c1;			/* chunks [c0, c1) */
	uint64_t off;			/* file offset of chunk c0 */
};

/* The first restored name of each hard-link group. */
struct hlink {
	uint64_t group;
	enum tree_type type;
	char *path;			/* "/a/b/name" */
};

struct hltab {
	struct hlink *s;
	size_t cap, n;
	uint8_t key[crypto_shorthash_KEYBYTES];
};

struct rctx {
	const struct restore_opts *o;
	atomic_size_t tree_bytes;	/* of the nodes held (rdir.node_bytes) */
	struct packset ps;
	struct reporter rep;
	int am_root;
	/*
	 * What a new file or directory is owned by: euid and egid, unless
	 * the target is setgid (its directories inherit its group then);
	 * a chown to that is skipped.
	 */
	uint32_t new_uid, new_gid;
	int new_known;
	int rootfd;
	struct owners users, groups;
	struct hltab hl;
	struct rcache cache;		/* the walker's */
	struct timespec last;		/* last progress call */

	/*
	 * The queue. Jobs move in batches, so that the lock is taken and a
	 * thread woken once per batch and not once per file: the walker
	 * fills pend and hands it over when full; a worker takes up to
	 * BATCH at a time; the walker, when it waits for room, is woken only
	 * once the queue is half empty.
	 */
	pthread_mutex_t mu;
	pthread_cond_t more, room, gone;
	struct rjob q[QUEUE_LEN];
	size_t qhead, qlen;
	struct rjob pend[BATCH];	/* the walker's, not yet queued */
	size_t npend;
	int idle;			/* workers waiting for jobs */
	int full;			/* the walker waits for room */
	int walked;			/* no more jobs will come */
	int running;			/* workers not yet finished */
	int nworkers, planned;
	atomic_int stop;		/* a fatal error: finish quickly */

	_Atomic uint64_t files, dirs, links, symlinks, others, bytes;
};

struct worker {
	struct rctx *x;
	struct rcache cache;
	struct rjob jobs[BATCH];
	pthread_t t;
};

/* Target errors after which nothing more can be written. */
static int
fatal_errno(int e)
{
	return e == ENOSPC || e == EDQUOT || e == EROFS || e == EIO ||
	    e == EMFILE || e == ENFILE || e == ENOMEM;
}

/* A target error: reported, and the end of the restore when fatal. */
static void __attribute__((format(printf, 3, 4)))
target_error(struct rctx *x, int err, const char *fmt, ...)
{
	char msg[MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (atomic_load(&x->stop))
		return;
	if (fatal_errno(err)) {
		atomic_store(&x->stop, 1);
		rep_error(&x->rep, ERR_IO, "%s: %s; stopping", msg,
		    strerror(err));
	} else {
		rep_error(&x->rep, ERR_IO, "%s: %s", msg, strerror(err));
	}
}

static void
stats_get(struct rctx *x, struct restore_stats *st)
{
	st->files = atomic_load(&x->files);
	st->dirs = atomic_load(&x->dirs);
	st->links = atomic_load(&x->links);
	st->symlinks = atomic_load(&x->symlinks);
	st->others = atomic_load(&x->others);
	st->bytes = atomic_load(&x->bytes);
	st->warnings = rep_count(&x->rep, 1);
	st->errors = rep_count(&x->rep, 0);
}

/* Calls the progress callback if it is time; the calling thread only. */
static void
progress(struct rctx *x, int force)
{
	struct restore_stats st;

	if (x->o->progress == NULL || (!force && ns_since(&x->last) <
	    PROGRESS_NS))
		return;
	clock_gettime(CLOCK_MONOTONIC, &x->last);
	stats_get(x, &st);
	x->o->progress(&st, x->o->arg);
}

/* "/dir/name" of entry e in d, for messages. */
static const char *
entry_path(const struct rdir *d, const struct tree_entry *e, char *buf,
    size_t cap)
{
	snprintf(buf, cap, "%s/%.*s", d->path, (int)e->name_len, e->name);
	return buf;
}

static void
entry_name(const struct tree_entry *e, char name[TREE_NAME_MAX + 1])
{
	memcpy(name, e->name, e->name_len);
	name[e->name_len] = '\0';
}

/* ---- Restore: metadata -------------------------------------------------- */

/*
 * Extended attributes, through fd, or through the path (never followed)
 * when fd is -1.
 */
static void
set_xattrs(struct rctx *x, int fd, const char *lpath,
    const struct tree_entry *e, const char *what)
{
	char name[TREE_XATTR_NAME_MAX + 1];

	for (size_t i = 0; i < e->nxattrs; i++) {
		const struct tree_xattr *a = &e->xattrs[i];
		const void *val = a->value != NULL ? (const void *)a->value :
		    (const void *)"";
		int r;

		memcpy(name, a->name, a->name_len);
		name[a->name_len] = '\0';
		if (fd >= 0)
			r = fsetxattr(fd, name, val, a->value_len, 0);
		else
			r = lsetxattr(lpath, name, val, a->value_len, 0);
		if (r != 0)
			rep_warn(&x->rep, "%s: cannot set extended attribute "
			    "%s: %s", what, name, strerror(errno));
	}
}

static void
mtime_of(const struct tree_entry *e, struct timespec ts[2])
{
	ts[0].tv_sec = 0;
	ts[0].tv_nsec = UTIME_OMIT;
	ts[1].tv_sec = (time_t)e->mtime.sec;
	ts[1].tv_nsec = (long)e->mtime.nsec;
}

/*
 * Metadata of an open file or directory: owner, then extended attributes
 * (after chown, which drops security.capability; before chmod, so that
 * setting user.* on a read-only file works without root), then mode
 * (after chown, which clears setuid and setgid), then the times. The
 * name for messages is built only when one is needed: dir's path, and e's
 * name when named is set.
 */
static void
meta_fd(struct rctx *x, int fd, const struct tree_entry *e, uint32_t uid,
    uint32_t gid, const struct rdir *dir, int named)
{
	struct timespec ts[2];
	char what[4096];

	if (x->am_root && !(x->new_known && uid == x->new_uid &&
	    gid == x->new_gid) && fchown(fd, (uid_t)uid, (gid_t)gid) != 0) {
		int err = errno;

		rep_warn(&x->rep, "%s: cannot set the owner to %" PRIu32 ":%"
		    PRIu32 ": %s", named ? entry_path(dir, e, what,
		    sizeof(what)) : dir->path, uid, gid, strerror(err));
	}
	if (e->nxattrs > 0)
		set_xattrs(x, fd, NULL, e, named ? entry_path(dir, e, what,
		    sizeof(what)) : dir->path);
	if (fchmod(fd, (mode_t)e->mode) != 0) {
		int err = errno;

		rep_warn(&x->rep, "%s: cannot set the mode to %04o: %s",
		    named ? entry_path(dir, e, what, sizeof(what)) : dir->path,
		    (unsigned)e->mode, strerror(err));
	}
	mtime_of(e, ts);
	if (futimens(fd, ts) != 0) {
		int err = errno;

		rep_warn(&x->rep, "%s: cannot set the modification time: %s",
		    named ? entry_path(dir, e, what, sizeof(what)) : dir->path,
		    strerror(err));
	}
}

/* The same for a name in dirfd that has no descriptor of its own. */
static void
meta_at(struct rctx *x, int dirfd, const char *name,
    const struct tree_entry *e, uint32_t uid, uint32_t gid, const char *what)
{
	struct timespec ts[2];
	char lpath[64 + TREE_NAME_MAX];

	if (x->am_root && fchownat(dirfd, name, (uid_t)uid, (gid_t)gid,
	    AT_SYMLINK_NOFOLLOW) != 0)
		rep_warn(&x->rep, "%s: cannot set the owner to %" PRIu32 ":%"
		    PRIu32 ": %s", what, uid, gid, strerror(errno));
	if (e->nxattrs > 0) {
		/* lsetxattr does not follow the last component. */
		snprintf(lpath, sizeof(lpath), "/proc/self/fd/%d/%s", dirfd,
		    name);
		set_xattrs(x, -1, lpath, e, what);
	}
	if (e->type != TREE_SYMLINK && fchmodat(dirfd, name, (mode_t)e->mode,
	    AT_SYMLINK_NOFOLLOW) != 0)
		rep_warn(&x->rep, "%s: cannot set the mode to %04o: %s", what,
		    (unsigned)e->mode, strerror(errno));
	mtime_of(e, ts);
	if (utimensat(dirfd, name, ts, AT_SYMLINK_NOFOLLOW) != 0)
		rep_warn(&x->rep, "%s: cannot set the modification time: %s",
		    what, strerror(errno));
}

/* ---- Restore: directories ----------------------------------------------- */

static struct rdir *
dir_new(struct rdir *parent, const struct tree_entry *e, struct tree *t,
    size_t node_bytes, const char *path)
{
	struct rdir *d = calloc(1, sizeof(*d));

	if (d == NULL || (d->path = strdup(path)) == NULL) {
		free(d);
		return NULL;
	}
	d->parent = parent;
	d->e = e;
	d->tree = t;
	d->node_bytes = node_bytes;
	d->fd = -1;
	atomic_init(&d->refs, 1);
	if (parent != NULL)
		atomic_fetch_add(&parent->refs, 1);
	return d;
}

/*
 * Drops a reference; the last one sets the directory's metadata, closes
 * it and drops its reference on the parent, and so on up.
 */
static void
dir_release(struct rctx *x, struct rdir *d)
{
	while (d != NULL && atomic_fetch_sub(&d->refs, 1) == 1) {
		struct rdir *p = d->parent;

		if (d->fd >= 0) {
			if (d->e != NULL && !atomic_load(&x->stop))
				meta_fd(x, d->fd, d->e, d->uid, d->gid, d, 0);
			close(d->fd);
		}
		tree_free(d->tree);
		atomic_fetch_sub(&x->tree_bytes, d->node_bytes);
		free(d->path);
		free(d);
		d = p;
	}
}

/*
 * Creates d (and the directories above it) if it is not there yet: 0700
 * until its own mode is set at the end, and opened without following a
 * symbolic link.
 */
static int
dir_make(struct rctx *x, struct rdir *d)
{
	char name[TREE_NAME_MAX + 1];
	int fd;

	if (d->fd >= 0)
		return 0;
	if (d->fd == -2 || d->parent == NULL)
		return -1;
	if (dir_make(x, d->parent) != 0) {
		d->fd = -2;
		return -1;
	}
	entry_name(d->e, name);
	if (mkdirat(d->parent->fd, name, 0700) != 0) {
		target_error(x, errno, "%s: cannot create the directory",
		    d->path);
		d->fd = -2;
		return -1;
	}
	fd = openat(d->parent->fd, name, O_RDONLY | O_DIRECTORY |
	    O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		target_error(x, errno, "%s: cannot open the directory",
		    d->path);
		d->fd = -2;
		return -1;
	}
	d->fd = fd;
	atomic_fetch_add(&x->dirs, 1);
	return 0;
}

/* ---- Restore: regular files --------------------------------------------- */

/*
 * Creates f's file, never following or replacing anything, and sets its
 * size when it ends in a hole (pwrite sets it otherwise).
 */
static int
file_create(struct rctx *x, struct rfile *f)
{
	char name[TREE_NAME_MAX + 1], what[4096];
	const struct tree_entry *e = f->e;
	int fd, err;

	entry_name(e, name);
	fd = openat(f->dir->fd, name, O_WRONLY | O_CREAT | O_EXCL |
	    O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		err = errno;
		target_error(x, err, "%s: cannot create the file",
		    entry_path(f->dir, e, what, sizeof(what)));
		return -1;
	}
	if (e->nchunks > 0 && is_hole(&e->chunks[e->nchunks - 1]) &&
	    ftruncate(fd, (off_t)e->size) != 0) {
		err = errno;
		target_error(x, err, "%s: cannot set the size",
		    entry_path(f->dir, e, what, sizeof(what)));
		close(fd);
		unlinkat(f->dir->fd, name, 0);
		return -1;
	}
	f->fd = fd;
	return 0;
}

/* The last part done: size, metadata, close. */
static void
file_release(struct rctx *x, struct rfile *f)
{
	char what[4096];

	if (atomic_fetch_sub(&f->parts, 1) != 1)
		return;
	if (f->fd >= 0) {
		if (atomic_load(&f->incomplete) &&
		    ftruncate(f->fd, (off_t)f->e->size) != 0) {
			int err = errno;

			target_error(x, err, "%s: cannot set the size",
			    entry_path(f->dir, f->e, what, sizeof(what)));
		}
		if (!atomic_load(&x->stop))
			meta_fd(x, f->fd, f->e, f->uid, f->gid, f->dir, 1);
		close(f->fd);
	}
	dir_release(x, f->dir);
	if (f->shared) {
		pthread_mutex_destroy(&f->wmu);
		free(f);
	}
}

/* Writes chunks [c0, c1) of the file; holes are skipped. */
static void
file_write(struct rctx *x, struct rcache *c, struct rfile *f,
    const struct rjob *j)
{
	const struct tree_entry *e = f->e;
	uint64_t off = j->off;
	char what[4096], hex[17];
	const char *why;
	uint8_t *buf;
	size_t n;
	int rc, err;

	for (size_t i = j->c0; i < j->c1 && !atomic_load(&x->stop); i++) {
		const struct tree_chunk *ch = &e->chunks[i];

		if (is_hole(ch)) {
			off += ch->len;
			continue;
		}
		rc = fetch(c, ch->id, NULL, &buf, &n);
		if (rc == ERR_OK && n != ch->len) {
			free(buf);
			rc = ERR_MISMATCH;
			why = "its length is not the tree's";
		} else {
			why = fetch_why(rc);
		}
		if (rc != ERR_OK) {
			atomic_store(&f->incomplete, 1);
			rep_error(&x->rep, rc, "%s: %" PRIu64 " bytes at "
			    "offset %" PRIu64 " are zeros: chunk %s cannot be "
			    "read: %s",
			    entry_path(f->dir, e, what, sizeof(what)), ch->len,
			    off, id_short(ch->id, hex), why);
			off += ch->len;
			continue;
		}
		if (f->shared)
			pthread_mutex_lock(&f->wmu);
		rc = fs_pwrite_all(f->fd, buf, n, (off_t)off);
		err = errno;
		if (f->shared)
			pthread_mutex_unlock(&f->wmu);
		if (rc != ERR_OK) {
			free(buf);
			atomic_store(&f->incomplete, 1);
			target_error(x, err, "%s: cannot write",
			    entry_path(f->dir, e, what, sizeof(what)));
			return;
		}
		free(buf);
		atomic_fetch_add(&x->bytes, n);
		off += ch->len;
	}
}

/* Bytes of the file that chunks [c0, c1) cover, holes included. */
static uint64_t
job_len(const struct rjob *j, const struct tree_entry *e)
{
	uint64_t n = 0;

	for (size_t i = j->c0; i < j->c1; i++)
		n += e->chunks[i].len;
	return n;
}

static void
job_run(struct rctx *x, struct rcache *c, struct rjob *j)
{
	struct rfile *f = j->f != NULL ? j->f : &j->own;

	if (!atomic_load(&x->stop) && (f->fd >= 0 || file_create(x, f) == 0)) {
		file_write(x, c, f, j);
		/* Before the release, which may close f->fd. */
		wbehind_add(&c->wb, f->fd, (off_t)j->off,
		    (off_t)job_len(j, f->e));
	}
	file_release(x, f);
}

static void
timed_wait(pthread_cond_t *cv, pthread_mutex_t *mu)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	t.tv_nsec += PROGRESS_NS;
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	(void)pthread_cond_timedwait(cv, mu, &t);
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct rctx *x = w->x;
	struct rjob *mine = w->jobs;
	size_t n;

	for (;;) {
		pthread_mutex_lock(&x->mu);
		while (x->qlen == 0 && !x->walked) {
			x->idle++;
			pthread_cond_wait(&x->more, &x->mu);
			x->idle--;
		}
		if (x->qlen == 0) {
			pthread_mutex_unlock(&x->mu);
			break;
		}
		/* A fair share, so that the last jobs spread over all. */
		n = (x->qlen + (size_t)x->planned - 1) / (size_t)x->planned;
		if (n > BATCH)
			n = BATCH;
		for (size_t i = 0; i < n; i++) {
			mine[i] = x->q[x->qhead];
			x->qhead = (x->qhead + 1) % QUEUE_LEN;
		}
		x->qlen -= n;
		if (x->full && x->qlen <= QUEUE_LEN / 2)
			pthread_cond_signal(&x->room);
		pthread_mutex_unlock(&x->mu);
		for (size_t i = 0; i < n; i++)
			job_run(x, &w->cache, &mine[i]);
	}
	rcache_free(&w->cache);
	pthread_mutex_lock(&x->mu);
	x->running--;
	pthread_cond_broadcast(&x->gone);
	pthread_mutex_unlock(&x->mu);
	return NULL;
}

/* Hands the walker's pending jobs to the workers, waiting for room. */
static void
jobs_flush(struct rctx *x)
{
	if (x->npend == 0)
		return;
	pthread_mutex_lock(&x->mu);
	while (QUEUE_LEN - x->qlen < x->npend) {
		x->full = 1;
		timed_wait(&x->room, &x->mu);
		x->full = 0;
		if (QUEUE_LEN - x->qlen < x->npend) {
			pthread_mutex_unlock(&x->mu);
			progress(x, 0);
			pthread_mutex_lock(&x->mu);
		}
	}
	for (size_t i = 0; i < x->npend; i++)
		x->q[(x->qhead + x->qlen + i) % QUEUE_LEN] = x->pend[i];
	x->qlen += x->npend;
	if (x->idle > 0)
		pthread_cond_broadcast(&x->more);
	pthread_mutex_unlock(&x->mu);
	x->npend = 0;
}

/* Queues a job, handing a batch over when full; runs it here if no worker. */
static void
job_push(struct rctx *x, const struct rjob *j)
{
	if (x->nworkers == 0) {
		struct rjob copy = *j;

		job_run(x, &x->cache, &copy);
		return;
	}
	x->pend[x->npend++] = *j;
	if (x->npend == BATCH)
		jobs_flush(x);
}

/*
 * Queues a regular file: one job, or pieces of about PIECE_BYTES of data
 * for a large file when there are several workers. A file that others
 * will be linked to, or that is split, is created here first. 0 when the
 * file is on its way.
 */
static int
file_queue(struct rctx *x, struct rdir *d, const struct tree_entry *e,
    uint32_t uid, uint32_t gid)
{
	struct rjob j;
	struct rfile *f;
	size_t parts = 1;
	uint64_t acc = 0, off = 0;
	int split = x->nworkers > 1 && e->size > SPLIT_MIN;

	memset(&j, 0, sizeof(j));
	for (size_t i = 0; split && i + 1 < e->nchunks; i++) {
		if (!is_hole(&e->chunks[i]))
			acc += e->chunks[i].len;
		if (acc >= PIECE_BYTES) {
			parts++;
			acc = 0;
		}
	}
	if (parts > 1 && (j.f = calloc(1, sizeof(*j.f))) == NULL) {
		rep_error(&x->rep, ERR_NOMEM, "out of memory");
		atomic_store(&x->stop, 1);
		return -1;
	}
	f = j.f != NULL ? j.f : &j.own;
	f->dir = d;
	f->e = e;
	f->uid = uid;
	f->gid = gid;
	f->fd = -1;
	f->shared = parts > 1;
	if ((parts > 1 || e->hardlink != 0) && file_create(x, f) != 0) {
		free(j.f);
		return -1;
	}
	if (parts > 1)
		pthread_mutex_init(&f->wmu, NULL);
	atomic_fetch_add(&d->refs, 1);
	atomic_init(&f->parts, (unsigned)parts);
	atomic_init(&f->incomplete, 0);
	atomic_fetch_add(&x->files, 1);
	acc = 0;
	/* The same cuts as above; f may be gone after the last push. */
	for (size_t i = 0; parts > 1 && i + 1 < e->nchunks; i++) {
		off += e->chunks[i].len;
		if (!is_hole(&e->chunks[i]))
			acc += e->chunks[i].len;
		if (acc >= PIECE_BYTES) {
			j.c1 = i + 1;
			job_push(x, &j);
			j.c0 = i + 1;
			j.off = off;
			acc = 0;
		}
	}
	j.c1 = e->nchunks;
	job_push(x, &j);
	return 0;
}

/* ---- Restore: hard links ------------------------------------------------ */

static size_t
hl_home(const struct hltab *h, uint64_t group)
{
	uint8_t in[8], out[crypto_shorthash_BYTES];
	uint64_t v;

	memcpy(in, &group, sizeof(in));
	crypto_shorthash(out, in, sizeof(in), h->key);
	memcpy(&v, out, sizeof(v));
	return (size_t)v & (h->cap - 1);
}

static struct hlink *
hl_find(const struct hltab *h, uint64_t group)
{
	if (h->cap == 0)
		return NULL;
	for (size_t i = hl_home(h, group); h->s[i].group != 0;
	    i = (i + 1) & (h->cap - 1))
		if (h->s[i].group == group)
			return &h->s[i];
	return NULL;
}

static int
hl_add(struct hltab *h, uint64_t group, enum tree_type type,
    const char *path)
{
	size_t i;

	if ((h->n + 1) * 2 > h->cap) {
		struct hltab old = *h;
		size_t cap = h->cap ? h->cap * 2 : 64;

		if ((h->s = calloc(cap, sizeof(*h->s))) == NULL) {
			h->s = old.s;
			return ERR_NOMEM;
		}
		h->cap = cap;
		if (old.cap == 0)
			randombytes_buf(h->key, sizeof(h->key));
		for (size_t k = 0; k < old.cap; k++) {
			if (old.s[k].group == 0)
				continue;
			for (i = hl_home(h, old.s[k].group); h->s[i].group != 0;
			    i = (i + 1) & (h->cap - 1))
				;
			h->s[i] = old.s[k];
		}
		free(old.s);
	}
	for (i = hl_home(h, group); h->s[i].group != 0;
	    i = (i + 1) & (h->cap - 1))
		;
	if ((h->s[i].path = strdup(path)) == NULL)
		return ERR_NOMEM;
	h->s[i].group = group;
	h->s[i].type = type;
	h->n++;
	return ERR_OK;
}

static void
hl_free(struct hltab *h)
{
	for (size_t i = 0; i < h->cap; i++)
		free(h->s[i].path);
	free(h->s);
	memset(h, 0, sizeof(*h));
}

/*
 * Opens the directory holding path ("/a/b/name") under the target, one
 * component at a time without following symbolic links; *base gets the
 * last component. The caller closes the result unless it is rootfd.
 */
static int
open_parent(int rootfd, const char *path, const char **base)
{
	const char *p = path + 1, *slash;
	char comp[TREE_NAME_MAX + 1];
	int fd = rootfd, nfd;

	while ((slash = strchr(p, '/')) != NULL) {
		size_t n = (size_t)(slash - p);

		if (n == 0 || n > TREE_NAME_MAX) {
			errno = EINVAL;
			nfd = -1;
		} else {
			memcpy(comp, p, n);
			comp[n] = '\0';
			nfd = openat(fd, comp, O_PATH | O_DIRECTORY |
			    O_NOFOLLOW | O_CLOEXEC);
		}
		if (fd != rootfd) {
			int e = errno;

			close(fd);
			errno = e;
		}
		if (nfd < 0)
			return -1;
		fd = nfd;
		p = slash + 1;
	}
	*base = p;
	return fd;
}

/* Links the name of e in d to the group's first name. 0 when done. */
static int
hl_link(struct rctx *x, const struct hlink *h, struct rdir *d,
    const struct tree_entry *e, const char *path)
{
	char name[TREE_NAME_MAX + 1];
	const char *base;
	int pfd, r, err;

	entry_name(e, name);
	if ((pfd = open_parent(x->rootfd, h->path, &base)) < 0) {
		err = errno;
	} else {
		r = linkat(pfd, base, d->fd, name, 0);
		err = errno;
		if (pfd != x->rootfd)
			close(pfd);
		if (r == 0) {
			atomic_fetch_add(&x->links, 1);
			return 0;
		}
	}
	if (fatal_errno(err)) {
		target_error(x, err, "%s: cannot link to %s", path, h->path);
		return 0;
	}
	rep_warn(&x->rep, "%s: cannot link to %s (%s); restored as a "
	    "separate copy", path, h->path, strerror(err));
	return -1;
}

/* ---- Restore: the walk -------------------------------------------------- */

static int
included(struct rctx *x, const char *path)
{
	for (size_t i = 0; i < x->o->nincludes; i++)
		if (fnmatch(x->o->includes[i], path, 0) == 0)
			return 1;
	return 0;
}

/* Symbolic links, fifos, sockets and devices, made here and now. */
static int
special_make(struct rctx *x, struct rdir *d, const struct tree_entry *e,
    uint32_t uid, uint32_t gid, const char *path)
{
	char name[TREE_NAME_MAX + 1], target[TREE_TARGET_MAX + 1];
	_Atomic uint64_t *count = &x->others;
	int r;

	entry_name(e, name);
	switch (e->type) {
	case TREE_SYMLINK:
		memcpy(target, e->target, e->target_len);
		target[e->target_len] = '\0';
		r = symlinkat(target, d->fd, name);
		count = &x->symlinks;
		break;
	case TREE_FIFO:
		r = mknodat(d->fd, name, S_IFIFO | 0600, 0);
		break;
	case TREE_SOCK:
		r = mknodat(d->fd, name, S_IFSOCK | 0600, 0);
		break;
	case TREE_CHR:
		r = mknodat(d->fd, name, S_IFCHR | 0600, (dev_t)e->rdev);
		break;
	case TREE_BLK:
		r = mknodat(d->fd, name, S_IFBLK | 0600, (dev_t)e->rdev);
		break;
	default:
		rep_error(&x->rep, ERR_FORMAT, "%s: unknown type %d", path,
		    (int)e->type);
		return -1;
	}
	if (r != 0) {
		target_error(x, errno, "%s: cannot create it", path);
		return -1;
	}
	meta_at(x, d->fd, name, e, uid, gid, path);
	atomic_fetch_add(count, 1);
	return 0;
}

/*
 * Anything but a directory: a further name of a hard-linked inode already
 * restored, a file for the workers, or a special file made here.
 */
static void
leaf_restore(struct rctx *x, struct rdir *d, const struct tree_entry *e,
    const char *path)
{
	uint32_t uid = e->uid, gid = e->gid;
	struct hlink *h = NULL;
	int r;

	if (dir_make(x, d) != 0)
		return;
	if (e->hardlink != 0 && (h = hl_find(&x->hl, e->hardlink)) != NULL) {
		if (h->type == e->type) {
			if (hl_link(x, h, d, e, path) == 0)
				return;
		} else {
			rep_warn(&x->rep, "%s: hard-link group %" PRIu64 " has "
			    "entries of different types; restored as a "
			    "separate entry", path, e->hardlink);
		}
	}
	if (!x->o->numeric_owner) {
		uid = owner_id(&x->users, 0, e->user, e->user_len, e->uid);
		gid = owner_id(&x->groups, 1, e->group, e->group_len, e->gid);
	}
	if (e->type == TREE_REG)
		r = file_queue(x, d, e, uid, gid);
	else
		r = special_make(x, d, e, uid, gid, path);
	if (r == 0 && e->hardlink != 0 && h == NULL &&
	    hl_add(&x->hl, e->hardlink, e->type, path) != ERR_OK) {
		rep_error(&x->rep, ERR_NOMEM, "out of memory");
		atomic_store(&x->stop, 1);
	}
}

/* Reads and parses the tree node id; reports and returns NULL if not. */
static struct tree *
node_load(struct rctx *x, const uint8_t id[CHUNK_ID_LEN], const char *path,
    size_t *bytes)
{
	struct tree *t = NULL;
	uint8_t *buf;
	size_t n, max = x->o->max_tree_bytes ? x->o->max_tree_bytes :
	    RESTORE_MAX_TREE_BYTES;
	char hex[17];
	int rc;

	*bytes = 0;
	if ((rc = fetch(&x->cache, id, NULL, &buf, &n)) != ERR_OK) {
		rep_error(&x->rep, rc, "%s: the directory's contents are "
		    "lost: tree node %s cannot be read: %s", *path ? path : "/",
		    id_short(id, hex), fetch_why(rc));
		return NULL;
	}
	if (atomic_fetch_add(&x->tree_bytes, n) + n > max) {
		atomic_fetch_sub(&x->tree_bytes, n);
		free(buf);
		rep_error(&x->rep, ERR_TOOBIG, "%s: not restored: with the "
		    "directories above it, its tree node would hold more than "
		    "%zu MiB in memory (a hostile snapshot?)", *path ? path :
		    "/", max >> 20);
		return NULL;
	}
	rc = tree_parse(buf, n, &t);
	free(buf);
	if (rc != ERR_OK) {
		atomic_fetch_sub(&x->tree_bytes, n);
		rep_error(&x->rep, rc, "%s: the directory's contents are "
		    "lost: tree node %s does not parse: %s", *path ? path : "/",
		    id_short(id, hex), err_str(rc));
		return NULL;
	}
	*bytes = n;
	return t;
}

/* A growable "/a/b" path. */
struct pathbuf {
	char *p;
	size_t len, cap;
};

static int
pb_push(struct pathbuf *b, const char *name, size_t n)
{
	if (b->len + n + 2 > b->cap) {
		size_t cap = (b->len + n + 2) * 2;
		char *np = realloc(b->p, cap);

		if (np == NULL)
			return ERR_NOMEM;
		b->p = np;
		b->cap = cap;
	}
	b->p[b->len++] = '/';
	memcpy(b->p + b->len, name, n);
	b->len += n;
	b->p[b->len] = '\0';
	return ERR_OK;
}

static void
walk(struct rctx *x, struct rdir *d, struct pathbuf *pb, int inc,
    unsigned depth)
{
	size_t base = pb->len;

	for (size_t i = 0; d->tree != NULL && i < tree_count(d->tree); i++) {
		const struct tree_entry *e = tree_entry_at(d->tree, i);
		int in;

		if (atomic_load(&x->stop))
			return;
		progress(x, 0);
		if (pb_push(pb, e->name, e->name_len) != ERR_OK) {
			rep_error(&x->rep, ERR_NOMEM, "out of memory");
			atomic_store(&x->stop, 1);
			return;
		}
		in = inc || included(x, pb->p);
		if (e->type == TREE_DIR && depth >= RESTORE_MAX_DEPTH) {
			rep_error(&x->rep, ERR_TOOBIG, "%s: deeper than %d "
			    "levels; not restored", pb->p, RESTORE_MAX_DEPTH);
		} else if (e->type == TREE_DIR) {
			size_t nb;
			struct tree *t = node_load(x, e->subtree, pb->p, &nb);
			struct rdir *c = dir_new(d, e, t, nb, pb->p);

			if (c == NULL) {
				atomic_fetch_sub(&x->tree_bytes, nb);
				tree_free(t);
				rep_error(&x->rep, ERR_NOMEM, "out of memory");
				atomic_store(&x->stop, 1);
				return;
			}
			c->uid = e->uid;
			c->gid = e->gid;
			if (!x->o->numeric_owner) {
				c->uid = owner_id(&x->users, 0, e->user,
				    e->user_len, e->uid);
				c->gid = owner_id(&x->groups, 1, e->group,
				    e->group_len, e->gid);
			}
			if (!in || dir_make(x, c) == 0)
				walk(x, c, pb, in, depth + 1);
			dir_release(x, c);
		} else if (in) {
			leaf_restore(x, d, e, pb->p);
		}
		pb->len = base;
		pb->p[base] = '\0';
	}
}

/* ---- Restore: the target and the whole run ------------------------------ */

/*
 * An existing target must be ours and closed to everyone else: files come
 * back with their owners, modes, set-user-ID bits, capabilities and
 * device numbers, and a directory others can enter would let them use a
 * restored setuid binary or a device node before the restore is done.
 * Ours and open to others (mkdir's 0755): made 0700, which only narrows
 * it; since it is empty, nobody holds anything inside it.
 */
static int
target_private(struct rctx *x, int fd, const char *to, char *why,
    size_t whylen)
{
	struct stat st;

	if (fstat(fd, &st) != 0) {
		err_why(why, whylen, "cannot stat %s: %s", to, strerror(errno));
		return ERR_IO;
	}
	if (st.st_uid != geteuid()) {
		err_why(why, whylen, "%s belongs to uid %u, not to you; "
		    "restore into a new directory", to, (unsigned)st.st_uid);
		return ERR_DENIED;
	}
	if ((st.st_mode & 077) != 0) {
		if (fchmod(fd, 0700) != 0) {
			err_why(why, whylen, "%s is open to other users (mode "
			    "%04o) and cannot be made 0700: %s", to,
			    (unsigned)(st.st_mode & 07777), strerror(errno));
			return ERR_DENIED;
		}
		rep_warn(&x->rep, "%s was mode %04o: made 0700 for the "
		    "restore, since the files keep their owners and "
		    "set-user-ID bits; open it once you have checked them", to,
		    (unsigned)(st.st_mode & 07777));
	}
	return ERR_OK;
}

/*
 * Opens to, creating it 0700 if missing; refuses anything but an empty
 * directory of ours that only we can enter, and a symbolic link as its
 * last component (its parents are the caller's to choose).
 */
static int
target_open(struct rctx *x, const char *to, int *fdp, char *why,
    size_t whylen)
{
	const int oflags = O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW;
	struct dirent *de;
	DIR *dir;
	int fd, dfd, empty = 1, r;

	*fdp = -1;
	fd = open(to, oflags);
	if (fd < 0 && errno == ENOENT) {
		if (fs_mkdirs(to, 0700) != ERR_OK) {
			err_why(why, whylen, "cannot create %s: %s", to,
			    strerror(errno));
			return ERR_IO;
		}
		fd = open(to, oflags);
	}
	if (fd < 0) {
		int err = errno;
		struct stat st;

		/* O_DIRECTORY makes a symbolic link ENOTDIR, not ELOOP. */
		if (err == ENOTDIR && lstat(to, &st) == 0 && S_ISLNK(st.st_mode))
			err = ELOOP;
		if (err == ELOOP)
			err_why(why, whylen, "%s is a symbolic link; give the "
			    "directory it points to", to);
		else
			err_why(why, whylen, "%s: %s", to, err == ENOTDIR ?
			    "exists and is not a directory; restore into a "
			    "new or empty directory" : strerror(err));
		return err == ENOTDIR || err == ELOOP ? ERR_EXISTS : ERR_IO;
	}
	if ((r = target_private(x, fd, to, why, whylen)) != ERR_OK) {
		close(fd);
		return r;
	}
	if ((dfd = dup(fd)) < 0 || (dir = fdopendir(dfd)) == NULL) {
		if (dfd >= 0)
			close(dfd);
		close(fd);
		err_why(why, whylen, "cannot read %s: %s", to, strerror(errno));
		return ERR_IO;
	}
	while ((de = readdir(dir)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			empty = 0;
	closedir(dir);
	if (!empty) {
		close(fd);
		err_why(why, whylen, "%s is not empty; restore into a new or "
		    "empty directory", to);
		return ERR_EXISTS;
	}
	*fdp = fd;
	return ERR_OK;
}

static void
workers_start(struct rctx *x, struct worker *w, int n)
{
	x->planned = n;
	for (int i = 0; i < n; i++) {
		w[i].x = x;
		rcache_init(&w[i].cache, &x->ps);
		pthread_mutex_lock(&x->mu);
		x->running++;
		pthread_mutex_unlock(&x->mu);
		if (pthread_create(&w[i].t, NULL, worker_main, &w[i]) != 0) {
			pthread_mutex_lock(&x->mu);
			x->running--;
			pthread_mutex_unlock(&x->mu);
			break;
		}
		x->nworkers++;
	}
}

/* Tells the workers that the walk is over and waits for them. */
static void
workers_finish(struct rctx *x, struct worker *w)
{
	jobs_flush(x);
	pthread_mutex_lock(&x->mu);
	x->walked = 1;
	pthread_cond_broadcast(&x->more);
	while (x->running > 0) {
		timed_wait(&x->gone, &x->mu);
		pthread_mutex_unlock(&x->mu);
		progress(x, 0);
		pthread_mutex_lock(&x->mu);
	}
	pthread_mutex_unlock(&x->mu);
	for (int i = 0; i < x->nworkers; i++)
		pthread_join(w[i].t, NULL);
}

static struct rctx *
rctx_new(const struct restore_opts *o)
{
	struct rctx *x = calloc(1, sizeof(*x));

	if (x == NULL)
		return NULL;
	x->o = o;
	x->rootfd = -1;
	x->am_root = geteuid() == 0;
	x->new_uid = (uint32_t)geteuid();
	x->new_gid = (uint32_t)getegid();
	rep_init(&x->rep, o->report, o->arg);
	pthread_mutex_init(&x->mu, NULL);
	pthread_cond_init(&x->more, NULL);
	pthread_cond_init(&x->room, NULL);
	pthread_cond_init(&x->gone, NULL);
	clock_gettime(CLOCK_MONOTONIC, &x->last);
	return x;
}

static void
rctx_free(struct rctx *x)
{
	if (x == NULL)
		return;
	rcache_free(&x->cache);
	packset_free(&x->ps);
	hl_free(&x->hl);
	free(x->users.buf);
	free(x->groups.buf);
	pthread_mutex_destroy(&x->rep.mu);
	pthread_mutex_destroy(&x->mu);
	pthread_cond_destroy(&x->more);
	pthread_cond_destroy(&x->room);
	pthread_cond_destroy(&x->gone);
	free(x);
}

/* The checks that need no pack: the key and the snapshot's vault. */
static int
keys_match(const struct vault *v, const struct manifest *m,
    const struct admin_key *k, char *why, size_t whylen)
{
	if (sodium_memcmp(k->vault_pk, vault_pk(v), PACK_PK_LEN) != 0) {
		err_why(why, whylen, "the admin key is not this vault's (its "
		    "public key differs from vault.conf's)");
		return ERR_MISMATCH;
	}
	if (m != NULL && memcmp(m->key_id, vault_key_id(v),
	    PACK_KEY_ID_LEN) != 0) {
		err_why(why, whylen, "the snapshot's packs are sealed to "
		    "another vault key");
		return ERR_MISMATCH;
	}
	return ERR_OK;
}

/* The walk and the workers, once the packs are indexed and to is open. */
static int
restore_run(struct rctx *x, const struct manifest *m, char *why,
    size_t whylen)
{
	struct worker w[RESTORE_THREADS_MAX];
	struct pathbuf pb = { NULL, 0, 0 };
	struct rdir *root;
	struct tree *t;
	int nthreads = x->o->threads > 0 ? x->o->threads : RESTORE_THREADS;
	size_t nb;

	if ((t = node_load(x, m->root_id, "", &nb)) == NULL) {
		err_why(why, whylen, "%s", x->rep.first_msg);
		return x->rep.first;
	}
	if ((root = dir_new(NULL, NULL, t, nb, "")) == NULL) {
		tree_free(t);
		return ERR_NOMEM;
	}
	/* The root owns the target's descriptor now; x->rootfd borrows it. */
	root->fd = x->rootfd;
	if ((pb.p = calloc(1, 256)) == NULL) {
		dir_release(x, root);
		x->rootfd = -1;
		return ERR_NOMEM;
	}
	pb.cap = 256;
	workers_start(x, w, nthreads);
	walk(x, root, &pb, x->o->nincludes == 0, 0);
	workers_finish(x, w);
	dir_release(x, root);
	x->rootfd = -1;
	free(pb.p);
	return ERR_OK;
}

int
restore_snapshot(const struct vault *v, const struct vault_snapshot *s,
    const struct admin_key *k, const struct restore_opts *o,
    struct restore_stats *st, char *why, size_t whylen)
{
	struct repo_keys *keys = NULL;
	struct rctx *x = NULL;
	struct stat sb;
	int rc;

	if (st != NULL)
		memset(st, 0, sizeof(*st));
	err_why(why, whylen, "%s", "");
	if (v == NULL || s == NULL || s->m == NULL || k == NULL || o == NULL ||
	    o->to == NULL || o->threads < 0 || o->threads >
	    RESTORE_THREADS_MAX || (o->nincludes > 0 && o->includes == NULL)) {
		err_why(why, whylen, "invalid arguments");
		return ERR_INVAL;
	}
	if ((rc = keys_match(v, s->m, k, why, whylen)) != ERR_OK)
		return rc;
	if (sodium_init() < 0)
		return ERR_CRYPTO;
	rc = ERR_NOMEM;
	if ((keys = sodium_malloc(sizeof(*keys))) == NULL ||
	    (x = rctx_new(o)) == NULL)
		goto out;
	if ((rc = repo_keys_derive(k->repo_secret, keys)) != ERR_OK ||
	    (rc = packset_init(&x->ps, v, k, keys,
	    (const char (*)[PACK_NAME_HEX_LEN + 1])s->m->packs,
	    s->m->npacks)) != ERR_OK)
		goto out;
	rcache_init(&x->cache, &x->ps);
	if ((rc = target_open(x, o->to, &x->rootfd, why, whylen)) != ERR_OK)
		goto out;
	if (fstat(x->rootfd, &sb) == 0 && !(sb.st_mode & S_ISGID))
		x->new_known = 1;
	if ((rc = packset_index(&x->ps, &x->rep, "snapshot")) != ERR_OK ||
	    (rc = restore_run(x, s->m, why, whylen)) != ERR_OK)
		goto out;
	progress(x, 1);
	if (rep_count(&x->rep, 0) > 0) {
		uint64_t n = rep_count(&x->rep, 0);

		rc = x->rep.first;
		err_why(why, whylen, "%s%s%" PRIu64 " error%s in all)",
		    x->rep.first_msg, n > 1 ? " (and more: " : " (",
		    n, n == 1 ? "" : "s");
	}
 out:
	if (x != NULL) {
		if (st != NULL)
			stats_get(x, st);
		if (x->rootfd >= 0)
			close(x->rootfd);
	}
	if (rc != ERR_OK && why != NULL && whylen > 0 && why[0] == '\0')
		err_why(why, whylen, "%s", err_str(rc));
	rctx_free(x);
	if (keys != NULL)
		sodium_free(keys);
	return rc;
}

/* ---- Reading everything back -------------------------------------------- */

/* One pack's entries as its worker found them. */
struct centries {
	struct cmap_slot *e;
	size_t n;
};

struct cctx {
	const struct vault *v;
	const struct check_opts *o;
	struct packset ps;		/* every pack in the vault */
	struct reporter rep;
	struct centries *per;
	atomic_size_t next;
	struct timespec last;

	pthread_mutex_t mu;
	pthread_cond_t idle;
	int running;

	_Atomic uint64_t packs, pack_bytes, chunks, bytes, snapshots, nodes;
};

struct cworker {
	struct cctx *x;
	pthread_t t;
};

static void
cstats_get(struct cctx *x, struct check_stats *st)
{
	st->packs_total = x->ps.n;
	st->packs = atomic_load(&x->packs);
	st->pack_bytes = atomic_load(&x->pack_bytes);
	st->chunks = atomic_load(&x->chunks);
	st->bytes = atomic_load(&x->bytes);
	st->snapshots = atomic_load(&x->snapshots);
	st->nodes = atomic_load(&x->nodes);
	st->errors = rep_count(&x->rep, 0);
}

static void
cprogress(struct cctx *x, int force)
{
	struct check_stats st;

	if (x->o == NULL || x->o->progress == NULL || (!force &&
	    ns_since(&x->last) < PROGRESS_NS))
		return;
	clock_gettime(CLOCK_MONOTONIC, &x->last);
	cstats_get(x, &st);
	x->o->progress(&st, x->o->arg);
}

/* Decrypts every chunk of pack i and checks it against its ID. */
static void
check_pack(struct cctx *x, size_t i)
{
	const char *name = x->ps.names[i];
	struct pack_reader *r;
	struct centries *ce = &x->per[i];
	struct stat sb;
	uint8_t id[CHUNK_ID_LEN], got[CHUNK_ID_LEN], *buf;
	size_t plen, len, n;
	char hex[17];
	int fd, rc;

	if ((fd = vault_pack_open(x->v, name)) < 0) {
		rep_error(&x->rep, fd, "pack %s: cannot open it: %s", name,
		    err_str(fd));
		return;
	}
	if (fstat(fd, &sb) == 0)
		atomic_fetch_add(&x->pack_bytes, (uint64_t)sb.st_size);
	if ((rc = pack_verify_name_fd(fd, name)) != ERR_OK)
		rep_error(&x->rep, rc, "pack %s: its bytes do not hash to its "
		    "name: %s", name, rc == ERR_MISMATCH ?
		    "altered or damaged" : err_str(rc));
	if ((rc = pack_reader_open_fd(fd, x->ps.sk, &r)) != ERR_OK) {
		rep_error(&x->rep, rc, "pack %s: does not open with the vault "
		    "key: %s", name, rc == ERR_NOTFOUND ? "sealed to another "
		    "key" : rc == ERR_SIGNATURE ? "altered bytes" :
		    err_str(rc));
		close(fd);
		atomic_fetch_add(&x->packs, 1);
		return;
	}
	n = pack_reader_count(r);
	if ((ce->e = calloc(n > 0 ? n : 1, sizeof(*ce->e))) == NULL) {
		rep_error(&x->rep, ERR_NOMEM, "pack %s: out of memory", name);
		goto out;
	}
	for (size_t j = 0; j < n; j++) {
		int bad = 0;

		if (pack_reader_entry(r, j, id, &plen) != ERR_OK)
			break;
		if ((rc = pack_reader_get(r, id, &buf, &len)) != ERR_OK) {
			rep_error(&x->rep, rc, "pack %s: chunk %zu (%s) does "
			    "not decrypt: %s", name, j, id_short(id, hex),
			    rc == ERR_SIGNATURE ? "altered bytes" :
			    err_str(rc));
			bad = 1;
		} else {
			chunk_id(x->ps.keys->id, buf, len, got);
			if (sodium_memcmp(got, id, CHUNK_ID_LEN) != 0) {
				rep_error(&x->rep, ERR_MISMATCH, "pack %s: "
				    "chunk %zu (%s) does not hash to its ID",
				    name, j, id_short(id, hex));
				bad = 1;
			}
			free(buf);
			atomic_fetch_add(&x->bytes, len);
		}
		atomic_fetch_add(&x->chunks, 1);
		memcpy(ce->e[j].id, id, CHUNK_ID_LEN);
		ce->e[j].pack = (uint32_t)i;
		ce->e[j].len = (uint32_t)plen;
		ce->e[j].damaged = (uint8_t)bad;
		ce->n = j + 1;
	}
 out:
	pack_reader_free(r);
	close(fd);
	atomic_fetch_add(&x->packs, 1);
}

static void *
cworker_main(void *arg)
{
	struct cworker *w = arg;
	struct cctx *x = w->x;
	size_t i;

	while ((i = atomic_fetch_add(&x->next, 1)) < x->ps.n)
		check_pack(x, i);
	pthread_mutex_lock(&x->mu);
	x->running--;
	pthread_cond_broadcast(&x->idle);
	pthread_mutex_unlock(&x->mu);
	return NULL;
}

/* Reads every pack with o->threads workers, then maps their chunks. */
static int
check_packs(struct cctx *x)
{
	struct cworker w[RESTORE_THREADS_MAX];
	int n = x->o != NULL && x->o->threads > 0 ? x->o->threads :
	    RESTORE_THREADS, started = 0;
	int rc;

	if (n > RESTORE_THREADS_MAX)
		n = RESTORE_THREADS_MAX;
	if ((x->per = calloc(x->ps.n > 0 ? x->ps.n : 1, sizeof(*x->per))) ==
	    NULL)
		return ERR_NOMEM;
	for (int i = 0; i < n; i++) {
		w[i].x = x;
		pthread_mutex_lock(&x->mu);
		x->running++;
		pthread_mutex_unlock(&x->mu);
		if (pthread_create(&w[i].t, NULL, cworker_main, &w[i]) != 0) {
			pthread_mutex_lock(&x->mu);
			x->running--;
			pthread_mutex_unlock(&x->mu);
			break;
		}
		started++;
	}
	if (started == 0) {
		size_t i;

		while ((i = atomic_fetch_add(&x->next, 1)) < x->ps.n) {
			check_pack(x, i);
			cprogress(x, 0);
		}
	}
	pthread_mutex_lock(&x->mu);
	while (x->running > 0) {
		timed_wait(&x->idle, &x->mu);
		pthread_mutex_unlock(&x->mu);
		cprogress(x, 0);
		pthread_mutex_lock(&x->mu);
	}
	pthread_mutex_unlock(&x->mu);
	for (int i = 0; i < started; i++)
		pthread_join(w[i].t, NULL);
	for (size_t i = 0; i < x->ps.n; i++)
		for (size_t j = 0; j < x->per[i].n; j++)
			if ((rc = cmap_put(&x->ps.map, x->per[i].e[j].id,
			    x->per[i].e[j].pack, x->per[i].e[j].len,
			    x->per[i].e[j].damaged)) != ERR_OK)
				return rc;
	return ERR_OK;
}

/* One snapshot's walk: its packs, the nodes seen, where it is. */
struct swalk {
	struct cctx *x;
	const char *label;		/* "snapshot HOST/ID" */
	uint8_t *inset;			/* bitmap over x->ps */
	struct cmap seen;		/* tree nodes walked */
	struct rcache cache;
	struct pathbuf pb;
};

/*
 * Finds id in the snapshot's packs: 0 when it is there, undamaged and
 * len bytes long (len 0: any length), else a reason.
 */
static const char *
chunk_state(struct swalk *w, const uint8_t id[CHUNK_ID_LEN], uint64_t len)
{
	const struct cmap_slot *sl;
	const char *why = "it is in no pack of the vault";
	size_t it = SIZE_MAX;

	while ((sl = cmap_next(&w->x->ps.map, id, &it)) != NULL) {
		if (!(w->inset[sl->pack / 8] & (1u << (sl->pack % 8)))) {
			why = "it is only in packs the snapshot does not list";
			continue;
		}
		if (sl->damaged) {
			why = "its pack holds it damaged";
			continue;
		}
		if (len != 0 && sl->len != len) {
			why = "its length differs from the tree's";
			continue;
		}
		return NULL;
	}
	return why;
}

static void
file_check(struct swalk *w, const struct tree_entry *e, const char *path)
{
	const char *why, *first = NULL;
	size_t bad = 0;

	for (size_t i = 0; i < e->nchunks; i++) {
		if (is_hole(&e->chunks[i]))
			continue;
		if ((why = chunk_state(w, e->chunks[i].id,
		    e->chunks[i].len)) != NULL) {
			if (first == NULL)
				first = why;
			bad++;
		}
	}
	if (bad > 0)
		rep_error(&w->x->rep, ERR_NOTFOUND, "%s: %s: %zu of %zu chunks "
		    "cannot be restored (first: %s)", w->label, path, bad,
		    e->nchunks, first);
}

static void
node_check(struct swalk *w, const uint8_t id[CHUNK_ID_LEN], unsigned depth)
{
	struct cctx *x = w->x;
	const char *path = w->pb.len > 0 ? w->pb.p : "/", *why;
	size_t it = SIZE_MAX, base = w->pb.len;
	struct tree *t = NULL;
	uint8_t *buf;
	size_t n;
	char hex[17];
	int rc;

	if (cmap_next(&w->seen, id, &it) != NULL)
		return;
	if (cmap_put(&w->seen, id, 0, 0, 0) != ERR_OK) {
		rep_error(&x->rep, ERR_NOMEM, "%s: out of memory", w->label);
		return;
	}
	if (depth > RESTORE_MAX_DEPTH) {
		rep_error(&x->rep, ERR_TOOBIG, "%s: %s: deeper than %d levels",
		    w->label, path, RESTORE_MAX_DEPTH);
		return;
	}
	if ((why = chunk_state(w, id, 0)) != NULL) {
		rep_error(&x->rep, ERR_NOTFOUND, "%s: %s: tree node %s: %s",
		    w->label, path, id_short(id, hex), why);
		return;
	}
	if ((rc = fetch(&w->cache, id, w->inset, &buf, &n)) != ERR_OK) {
		rep_error(&x->rep, rc, "%s: %s: tree node %s cannot be read: "
		    "%s", w->label, path, id_short(id, hex), fetch_why(rc));
		return;
	}
	rc = tree_parse(buf, n, &t);
	free(buf);
	if (rc != ERR_OK) {
		rep_error(&x->rep, rc, "%s: %s: tree node %s does not parse: "
		    "%s", w->label, path, id_short(id, hex), err_str(rc));
		return;
	}
	atomic_fetch_add(&x->nodes, 1);
	cprogress(x, 0);
	for (size_t i = 0; i < tree_count(t); i++) {
		const struct tree_entry *e = tree_entry_at(t, i);

		if (pb_push(&w->pb, e->name, e->name_len) != ERR_OK) {
			rep_error(&x->rep, ERR_NOMEM, "%s: out of memory",
			    w->label);
			break;
		}
		if (e->type == TREE_REG)
			file_check(w, e, w->pb.p);
		else if (e->type == TREE_DIR)
			node_check(w, e->subtree, depth + 1);
		w->pb.len = base;
		w->pb.p[base] = '\0';
	}
	tree_free(t);
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void
snapshot_check(struct cctx *x, const struct vault_snapshot *s)
{
	const struct manifest *m = s->m;
	struct swalk w;
	char label[MANIFEST_HOST_MAX + MANIFEST_ID_HEX_LEN + 16];
	const char *why;
	size_t root = SIZE_MAX;

	snprintf(label, sizeof(label), "snapshot %s/%s", s->host, s->id);
	memset(&w, 0, sizeof(w));
	w.x = x;
	w.label = label;
	if (memcmp(m->key_id, vault_key_id(x->v), PACK_KEY_ID_LEN) != 0) {
		rep_error(&x->rep, ERR_MISMATCH, "%s: its packs are sealed to "
		    "another vault key", label);
		return;
	}
	if ((w.inset = calloc(x->ps.n / 8 + 1, 1)) == NULL ||
	    cmap_init(&w.seen, 1024) != ERR_OK ||
	    (w.pb.p = calloc(1, 256)) == NULL) {
		rep_error(&x->rep, ERR_NOMEM, "%s: out of memory", label);
		goto out;
	}
	w.pb.cap = 256;
	for (size_t i = 0; i < m->npacks; i++) {
		const char (*hit)[PACK_NAME_HEX_LEN + 1] = bsearch(m->packs[i],
		    x->ps.names, x->ps.n, sizeof(*x->ps.names), cmp_names);

		if (hit == NULL) {
			rep_error(&x->rep, ERR_NOTFOUND, "%s: lists pack %s, "
			    "which is not in the vault", label, m->packs[i]);
			continue;
		}
		size_t k = (size_t)(hit - x->ps.names);
		w.inset[k / 8] |= (uint8_t)(1u << (k % 8));
		if (strcmp(m->packs[i], m->root_pack) == 0)
			root = k;
	}
	rcache_init(&w.cache, &x->ps);
	if (root != SIZE_MAX) {
		/* The manifest says which pack holds the root: check that. */
		const struct cmap_slot *sl;
		size_t it = SIZE_MAX;
		int there = 0;

		while ((sl = cmap_next(&x->ps.map, m->root_id, &it)) != NULL)
			if (sl->pack == root)
				there = 1;
		if (!there)
			rep_error(&x->rep, ERR_NOTFOUND, "%s: the root node is "
			    "not in the root pack %s", label, m->root_pack);
	}
	if ((why = chunk_state(&w, m->root_id, 0)) != NULL)
		rep_error(&x->rep, ERR_NOTFOUND, "%s: the root node: %s", label,
		    why);
	else
		node_check(&w, m->root_id, 0);
	rcache_free(&w.cache);
	atomic_fetch_add(&x->snapshots, 1);
 out:
	free(w.inset);
	free(w.pb.p);
	cmap_free(&w.seen);
}

static int
snapshot_check_one(struct vault_snapshot *s, void *arg)
{
	snapshot_check(arg, s);
	return 0;
}

static void
bad_record(const char *path, const char *why, void *arg)
{
	struct cctx *x = arg;

	rep_error(&x->rep, ERR_FORMAT, "snapshot record %s: %s", path, why);
}

int
check_read_data(const struct vault *v, const struct admin_key *k,
    const struct check_opts *o, struct check_stats *st,
    void (*report)(const char *msg, void *arg), void *arg)
{
	char (*names)[PACK_NAME_HEX_LEN + 1] = NULL;
	struct repo_keys *keys = NULL;
	struct cctx *x = NULL;
	char why[256];
	size_t npacks = 0;
	int rc;

	if (st != NULL)
		memset(st, 0, sizeof(*st));
	if (v == NULL || k == NULL)
		return ERR_INVAL;
	if (sodium_init() < 0)
		return ERR_CRYPTO;
	if (keys_match(v, NULL, k, why, sizeof(why)) != ERR_OK) {
		if (report != NULL)
			report(why, arg);
		if (st != NULL)
			st->errors = 1;
		return ERR_MISMATCH;
	}
	rc = ERR_NOMEM;
	if ((keys = sodium_malloc(sizeof(*keys))) == NULL ||
	    (x = calloc(1, sizeof(*x))) == NULL)
		goto out;
	x->v = v;
	x->o = o;
	rep_init(&x->rep, report, arg);
	pthread_mutex_init(&x->mu, NULL);
	pthread_cond_init(&x->idle, NULL);
	clock_gettime(CLOCK_MONOTONIC, &x->last);
	if ((rc = repo_keys_derive(k->repo_secret, keys)) != ERR_OK ||
	    (rc = vault_pack_list(v, &names, &npacks)) != ERR_OK ||
	    (rc = packset_init(&x->ps, v, k, keys,
	    (const char (*)[PACK_NAME_HEX_LEN + 1])names, npacks)) != ERR_OK ||
	    (rc = check_packs(x)) != ERR_OK)
		goto out;
	/* One manifest in memory at a time, whatever the vault's age. */
	if ((rc = vault_snapshot_each(v, snapshot_check_one, x, bad_record,
	    x)) != ERR_OK)
		goto out;
	cprogress(x, 1);
	rc = rep_count(&x->rep, 0) > 0 ? ERR_MISMATCH : ERR_OK;
 out:
	if (x != NULL) {
		if (st != NULL)
			cstats_get(x, st);
		if (x->per != NULL)
			for (size_t i = 0; i < x->ps.n; i++)
				free(x->per[i].e);
		free(x->per);
		packset_free(&x->ps);
		pthread_mutex_destroy(&x->rep.mu);
		pthread_mutex_destroy(&x->mu);
		pthread_cond_destroy(&x->idle);
		free(x);
	}
	free(names);
	if (keys != NULL)
		sodium_free(keys);
	return rc;
}
