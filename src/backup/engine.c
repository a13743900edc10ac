/*
 * engine.c - a backup run (engine.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <grp.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "backup/cache.h"
#include "backup/chunker.h"
#include "backup/engine.h"
#include "backup/idhash.h"
#include "backup/pack.h"
#include "backup/tree.h"
#include "common/fsutil.h"
#include "vault/proto.h"
#include "common/endian.h"
#include "common/banned.h"

/*
 * Memory: the peak resident size is about READ_BUF + POOL_BUFS *
 * CHUNKER_MAX + (WORKERS + SENDQ_MAX) * PACK_SIZE; restic 0.14 sets the
 * bar.
 */
#define READ_BUF	(8u << 20)	/* >= CHUNKER_MAX + a good read */
#define CUTS_MAX	(READ_BUF / CHUNKER_MIN)	/* chunks in READ_BUF */
#define QUEUE_BYTES	(8u << 20)	/* chunks waiting for a worker */
#define SENDQ_MAX	1		/* finished packs waiting or going */
#define PACK_SIZE	(16u << 20)	/* where a pack is closed */
/*
 * Copies of chunks this large come from a few reused CHUNKER_MAX buffers:
 * malloc and free of megabyte blocks from three threads left glibc holding
 * tens of MiB it had no use for, and mmap'ed blocks cost a page fault per
 * 4 KiB (expensive on this VM).
 */
#define POOL_MIN	(64u << 10)
#define POOL_BUFS	3
/*
 * Packs are built in recycled buffers of PACK_BUF bytes: a pack is closed
 * at PACK_SIZE, so it never holds more than PACK_SIZE, a last chunk at
 * zstd's bound, and its index.
 */
#define PACK_BUF	(PACK_SIZE + (6u << 20))
#define PACK_BUFS	(WORKERS + SENDQ_MAX)
#define WORKERS		2
#define XATTR_LIST_MAX_	(64u * 1024)
#define PENDING		(-1)

/* ---- The chunk table: every chunk the vault has or will have ---------- */

struct centry {
	uint8_t id[CHUNK_ID_LEN];
	int32_t pack;		/* index in names, or PENDING */
	uint8_t used, ref;	/* ref: this snapshot refers to it */
};

struct ctable {
	struct centry *e;
	size_t cap, n;
	char (*names)[PACK_NAME_HEX_LEN + 1];
	size_t nnames, capnames;
	uint32_t *nslots;	/* open addressing over names: index + 1 */
	size_t nslotcap;
};

static uint64_t
id_hash(const uint8_t *id)
{
	uint64_t h;

	/* Chunk IDs are keyed HMAC-SHA-256: any 8 bytes are uniform. */
	memcpy(&h, id, sizeof(h));
	return h;
}

static struct centry *
ct_find(struct ctable *t, const uint8_t *id)
{
	if (t->cap == 0)
		return NULL;
	for (size_t i = id_hash(id) & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
		if (!t->e[i].used)
			return NULL;
		if (memcmp(t->e[i].id, id, CHUNK_ID_LEN) == 0)
			return &t->e[i];
	}
}

static int
ct_grow(struct ctable *t)
{
	size_t nc = t->cap ? t->cap * 2 : 4096;
	struct centry *ne = calloc(nc, sizeof(*ne));

	if (ne == NULL)
		return ERR_NOMEM;
	for (size_t i = 0; i < t->cap; i++) {
		if (!t->e[i].used)
			continue;
		size_t j = id_hash(t->e[i].id) & (nc - 1);
		while (ne[j].used)
			j = (j + 1) & (nc - 1);
		ne[j] = t->e[i];
	}
	free(t->e);
	t->e = ne;
	t->cap = nc;
	return ERR_OK;
}

/* The entry for id, added with pack when missing; *added tells. */
static int
ct_get(struct ctable *t, const uint8_t *id, int32_t pack, struct centry **out,
    int *added)
{
	struct centry *c = ct_find(t, id);

	*added = 0;
	if (c == NULL) {
		if ((t->n + 1) * 2 > t->cap && ct_grow(t) != ERR_OK)
			return ERR_NOMEM;
		size_t i = id_hash(id) & (t->cap - 1);
		while (t->e[i].used)
			i = (i + 1) & (t->cap - 1);
		c = &t->e[i];
		memcpy(c->id, id, CHUNK_ID_LEN);
		c->pack = pack;
		c->used = 1;
		t->n++;
		*added = 1;
	}
	*out = c;
	return ERR_OK;
}


static uint64_t path_hash(const char *p, size_t n);

/* Rebuilds the name slots at twice the size. */
static int
ct_names_grow(struct ctable *t)
{
	size_t nc = t->nslotcap ? t->nslotcap * 2 : 256;
	uint32_t *ns = calloc(nc, sizeof(*ns));

	if (ns == NULL)
		return ERR_NOMEM;
	for (size_t i = 0; i < t->nnames; i++) {
		size_t j = path_hash(t->names[i], PACK_NAME_HEX_LEN) & (nc - 1);
		while (ns[j] != 0)
			j = (j + 1) & (nc - 1);
		ns[j] = (uint32_t)i + 1;
	}
	free(t->nslots);
	t->nslots = ns;
	t->nslotcap = nc;
	return ERR_OK;
}

/*
 * The index of pack name, added when new (-2: out of memory). A hash of
 * the names, not a scan: a year of nightly backups is thousands of packs,
 * and the cache's every chunk names one at load.
 */
static int32_t
ct_pack_index(struct ctable *t, const char *name)
{
	size_t j;

	if ((t->nnames + 1) * 2 > t->nslotcap && ct_names_grow(t) != ERR_OK)
		return -2;
	for (j = path_hash(name, PACK_NAME_HEX_LEN) & (t->nslotcap - 1); t->nslots[j] != 0;
	    j = (j + 1) & (t->nslotcap - 1))
		if (strcmp(t->names[t->nslots[j] - 1], name) == 0)
			return (int32_t)t->nslots[j] - 1;
	if (t->nnames == t->capnames) {
		size_t nc = t->capnames ? t->capnames * 2 : 64;
		void *nn = realloc(t->names, nc * sizeof(*t->names));
		if (nn == NULL)
			return -2;
		t->names = nn;
		t->capnames = nc;
	}
	memcpy(t->names[t->nnames], name, PACK_NAME_HEX_LEN + 1);
	t->nslots[j] = (uint32_t)t->nnames + 1;
	return (int32_t)t->nnames++;
}

/* ---- The previous run's files ------------------------------------------ */

struct fentry {
	char *path;
	size_t path_len;
	uint64_t ino, size;
	int64_t mtime, ctime;
	uint8_t *chunks;
	size_t chunks_len;
	uint8_t *xattrs;	/* xattrs_encode's; NULL: not recorded */
	size_t xattrs_len;
	int seen;		/* met by this walk: SEEN_SAME or SEEN_CHANGED */
	int dirty;		/* unchanged, but its record gained xattrs */
	int packed;		/* path and chunks in the entry's own block */
};

#define SEEN_SAME	1	/* unchanged: its record stays as it is */
#define SEEN_CHANGED	2	/* read again, or unreadable */

struct ftable {
	struct fentry **e;
	size_t cap, n;
};

static uint64_t
path_hash(const char *p, size_t n)
{
	uint64_t h = 14695981039346656037ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)p[i]) * 1099511628211ull;
	return h;
}

static struct fentry *
ft_find(const struct ftable *t, const char *p, size_t n)
{
	if (t->cap == 0)
		return NULL;
	for (size_t i = path_hash(p, n) & (t->cap - 1);;
	    i = (i + 1) & (t->cap - 1)) {
		struct fentry *f = t->e[i];
		if (f == NULL)
			return NULL;
		if (f->path_len == n && memcmp(f->path, p, n) == 0)
			return f;
	}
}

static int
ft_put(struct ftable *t, struct fentry *f)
{
	if ((t->n + 1) * 2 > t->cap) {
		size_t nc = t->cap ? t->cap * 2 : 4096;
		struct fentry **ne = calloc(nc, sizeof(*ne));
		if (ne == NULL)
			return ERR_NOMEM;
		for (size_t i = 0; i < t->cap; i++) {
			if (t->e[i] == NULL)
				continue;
			size_t j = path_hash(t->e[i]->path,
			    t->e[i]->path_len) & (nc - 1);
			while (ne[j] != NULL)
				j = (j + 1) & (nc - 1);
			ne[j] = t->e[i];
		}
		free(t->e);
		t->e = ne;
		t->cap = nc;
	}
	size_t i = path_hash(f->path, f->path_len) & (t->cap - 1);
	while (t->e[i] != NULL)
		i = (i + 1) & (t->cap - 1);
	t->e[i] = f;
	t->n++;
	return ERR_OK;
}

static void
fentry_free(struct fentry *f)
{
	if (f == NULL)
		return;
	if (!f->packed) {
		free(f->path);
		free(f->chunks);
	}
	free(f->xattrs);
	free(f);
}

static void
ft_free(struct ftable *t)
{
	for (size_t i = 0; i < t->cap; i++)
		fentry_free(t->e[i]);
	free(t->e);
	memset(t, 0, sizeof(*t));
}

/* ---- Chunk lists in the cache's encoding ---------------------------------- */

static int
is_hole(const uint8_t *id)
{
	static const uint8_t zero[CHUNK_ID_LEN];

	return memcmp(id, zero, CHUNK_ID_LEN) == 0;
}

int
backup_chunks_encode(const struct tree_chunk *c, size_t n, uint8_t **out,
    size_t *len)
{
	size_t sz = 0, off = 0;

	for (size_t i = 0; i < n; i++)
		sz += CHUNK_ID_LEN + (is_hole(c[i].id) ? 8 : 4);
	*out = malloc(sz ? sz : 1);
	*len = sz;
	if (*out == NULL)
		return ERR_NOMEM;
	for (size_t i = 0; i < n; i++) {
		memcpy(*out + off, c[i].id, CHUNK_ID_LEN);
		off += CHUNK_ID_LEN;
		int w = is_hole(c[i].id) ? 8 : 4;
		if (w == 8)
			be_put64(*out + off, c[i].len);
		else
			be_put32(*out + off, (uint32_t)c[i].len);
		off += (size_t)w;
	}
	return ERR_OK;
}

int
backup_chunks_decode(const uint8_t *p, size_t len, struct tree_chunk **out,
    size_t *n)
{
	size_t cnt = 0, cap = 0, off = 0;
	struct tree_chunk *c = NULL;

	*out = NULL;
	*n = 0;
	while (off < len) {
		if (len - off < CHUNK_ID_LEN + 4)
			goto bad;
		int hole = is_hole(p + off);
		int w = hole ? 8 : 4;
		if (len - off < CHUNK_ID_LEN + (size_t)w)
			goto bad;
		if (cnt == cap) {
			size_t nc = cap ? cap * 2 : 8;
			void *nn = realloc(c, nc * sizeof(*c));
			if (nn == NULL) {
				free(c);
				return ERR_NOMEM;
			}
			c = nn;
			cap = nc;
		}
		memcpy(c[cnt].id, p + off, CHUNK_ID_LEN);
		c[cnt].len = hole ? be_get64(p + off + CHUNK_ID_LEN) :
		    be_get32(p + off + CHUNK_ID_LEN);
		if (c[cnt].len == 0)
			goto bad;
		off += CHUNK_ID_LEN + (size_t)w;
		cnt++;
	}
	*out = c;
	*n = cnt;
	return ERR_OK;
bad:
	free(c);
	return ERR_FORMAT;
}

/* ---- The pipeline ---------------------------------------------------------- */

struct job {
	uint8_t id[CHUNK_ID_LEN];
	uint8_t *data;
	size_t len;
	struct job *next;
};

struct done_pack {
	char name[PACK_NAME_HEX_LEN + 1];
	uint8_t *bytes;
	size_t len, cap;
	uint8_t (*ids)[CHUNK_ID_LEN];
	size_t nids;
	struct done_pack *next;
};

struct engine {
	const struct backup_opts *o;
	struct backup_stats *st;
	struct repo_keys keys;
	struct chunker ch;
	struct pack_run *run;
	struct bcache *cache;
	struct ftable prev;		/* files of the last run */
	struct fentry **now;		/* files of this run */
	size_t nnow, capnow;
	uint8_t *buf;			/* READ_BUF bytes */
	struct idhash *idh;		/* the walk's chunk IDs, two threads */
	char *why;
	size_t whylen;

	/*
	 * One lock, a condition per kind of waiter, so that each change
	 * wakes only who can use it: a broadcast to all on every chunk made
	 * tens of thousands of useless cross-CPU wake-ups per run.
	 */
	pthread_mutex_t mu;		/* everything below */
	pthread_cond_t main_cv;		/* the walk: queue space, a buffer */
	pthread_cond_t work_cv;		/* workers: a job */
	pthread_cond_t sendq_cv;	/* workers: room in the send queue */
	pthread_cond_t send_cv;		/* the sender: a pack, or the end */
	struct ctable ct;
	struct job *qhead, *qtail;
	size_t qbytes;
	int qclosed;
	struct done_pack *shead, *stail;
	size_t slen, sending;
	int sclosed, workers_left;
	int failed;
	char fail_why[256];
	uint8_t *pool[POOL_BUFS];	/* free buffers; NULL slots unused */
	uint8_t *pool_all[POOL_BUFS];	/* every buffer made */
	size_t pool_made;
	uint8_t *packbufs[PACK_BUFS];	/* free pack buffers */

	struct timespec t0, last_progress;
	uid_t cached_uid;
	gid_t cached_gid;
	char uname[TREE_OWNER_NAME_MAX + 1], gname[TREE_OWNER_NAME_MAX + 1];
	int have_uid, have_gid;
};

/* With e->mu held: every waiter looks again (a failure, the end). */
static void
wake_all(struct engine *e)
{
	pthread_cond_broadcast(&e->main_cv);
	pthread_cond_broadcast(&e->work_cv);
	pthread_cond_broadcast(&e->sendq_cv);
	pthread_cond_broadcast(&e->send_cv);
}

static void __attribute__((format(printf, 2, 3)))
fail(struct engine *e, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&e->mu);
	if (!e->failed) {
		va_start(ap, fmt);
		vsnprintf(e->fail_why, sizeof(e->fail_why), fmt, ap);
		va_end(ap);
		e->failed = 1;
	}
	wake_all(e);
	pthread_mutex_unlock(&e->mu);
}

static int
failed(struct engine *e)
{
	pthread_mutex_lock(&e->mu);
	int f = e->failed;
	pthread_mutex_unlock(&e->mu);
	return f;
}

static void __attribute__((format(printf, 3, 4)))
warn_path(struct engine *e, const char *path, const char *fmt, ...)
{
	va_list ap;

	if (e->o->progress)
		fputs("\r\033[K", stderr);
	fprintf(stderr, "bulwark: warning: %s: ", path);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	e->st->warnings++;
}

/* A buffer for a chunk copy of n bytes; NULL when the run failed. */
static uint8_t *
data_get(struct engine *e, size_t n)
{
	uint8_t *p = NULL;

	if (n < POOL_MIN)
		return malloc(n ? n : 1);
	pthread_mutex_lock(&e->mu);
	for (;;) {
		for (size_t i = 0; i < POOL_BUFS && p == NULL; i++) {
			if (e->pool[i] != NULL) {
				p = e->pool[i];
				e->pool[i] = NULL;
			}
		}
		if (p != NULL || e->failed)
			break;
		if (e->pool_made < POOL_BUFS) {
			p = malloc(CHUNKER_MAX > PACK_CHUNK_MAX ? PACK_CHUNK_MAX :
			    CHUNKER_MAX);
			if (p != NULL)
				e->pool_all[e->pool_made++] = p;
			break;
		}
		pthread_cond_wait(&e->main_cv, &e->mu);
	}
	pthread_mutex_unlock(&e->mu);
	return p;
}

static void
data_put(struct engine *e, uint8_t *p, size_t n)
{
	if (p == NULL)
		return;
	if (n < POOL_MIN) {
		free(p);
		return;
	}
	pthread_mutex_lock(&e->mu);
	for (size_t i = 0; i < POOL_BUFS; i++) {
		if (e->pool[i] == NULL) {
			e->pool[i] = p;
			break;
		}
	}
	pthread_cond_signal(&e->main_cv);
	pthread_mutex_unlock(&e->mu);
}

/* Takes ownership of data. Blocks while the queue is full. */
static int
submit(struct engine *e, const uint8_t *id, uint8_t *data, size_t len)
{
	struct job *j = malloc(sizeof(*j));

	if (j == NULL) {
		data_put(e, data, len);
		return ERR_NOMEM;
	}
	memcpy(j->id, id, CHUNK_ID_LEN);
	j->data = data;
	j->len = len;
	j->next = NULL;
	pthread_mutex_lock(&e->mu);
	while (e->qbytes > 0 && e->qbytes + len > QUEUE_BYTES && !e->failed)
		pthread_cond_wait(&e->main_cv, &e->mu);
	if (e->failed) {
		pthread_mutex_unlock(&e->mu);
		data_put(e, data, len);
		free(j);
		return ERR_CONFLICT;
	}
	if (e->qtail != NULL)
		e->qtail->next = j;
	else
		e->qhead = j;
	e->qtail = j;
	e->qbytes += len;
	pthread_cond_signal(&e->work_cv);
	pthread_mutex_unlock(&e->mu);
	return ERR_OK;
}

static struct job *
take_job(struct engine *e)
{
	struct job *j;

	pthread_mutex_lock(&e->mu);
	while (e->qhead == NULL && !e->qclosed && !e->failed)
		pthread_cond_wait(&e->work_cv, &e->mu);
	j = e->failed ? NULL : e->qhead;
	if (j != NULL) {
		e->qhead = j->next;
		if (e->qhead == NULL)
			e->qtail = NULL;
		e->qbytes -= j->len;
		pthread_cond_signal(&e->main_cv);
	}
	pthread_mutex_unlock(&e->mu);
	return j;
}

/* A pack buffer: a recycled one, else a new one (NULL: out of memory). */
static uint8_t *
packbuf_get(struct engine *e)
{
	uint8_t *p = NULL;

	pthread_mutex_lock(&e->mu);
	for (size_t i = 0; i < PACK_BUFS && p == NULL; i++) {
		p = e->packbufs[i];
		e->packbufs[i] = NULL;
	}
	pthread_mutex_unlock(&e->mu);
	return p != NULL ? p : malloc(PACK_BUF);
}

/* Keeps a finished pack's buffer for the next pack, if it is one of ours. */
static void
packbuf_put(struct engine *e, uint8_t *p, size_t cap)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&e->mu);
	for (size_t i = 0; cap == PACK_BUF && i < PACK_BUFS; i++) {
		if (e->packbufs[i] == NULL) {
			e->packbufs[i] = p;
			p = NULL;
			break;
		}
	}
	pthread_mutex_unlock(&e->mu);
	free(p);
}

static void
done_pack_free(struct engine *e, struct done_pack *d)
{
	if (d == NULL)
		return;
	/* A pack that outgrew its buffer was reallocated: not recycled. */
	packbuf_put(e, d->bytes, d->len <= PACK_BUF ? d->cap : 0);
	free(d->ids);
	free(d);
}

static int
queue_pack(struct engine *e, struct done_pack *d)
{
	pthread_mutex_lock(&e->mu);
	while (e->slen + e->sending >= SENDQ_MAX && !e->failed)
		pthread_cond_wait(&e->sendq_cv, &e->mu);
	if (e->failed) {
		pthread_mutex_unlock(&e->mu);
		done_pack_free(e, d);
		return ERR_CONFLICT;
	}
	if (e->stail != NULL)
		e->stail->next = d;
	else
		e->shead = d;
	e->stail = d;
	e->slen++;
	pthread_cond_signal(&e->send_cv);
	pthread_mutex_unlock(&e->mu);
	return ERR_OK;
}

struct wstate {
	struct pack_writer *w;
	int open;			/* w has a pack in the making */
	uint8_t (*ids)[CHUNK_ID_LEN];
	size_t nids, capids;
};

static int
worker_flush(struct engine *e, struct wstate *ws)
{
	struct done_pack *d;
	int rc;

	if (ws->w == NULL || !ws->open)
		return ERR_OK;
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return ERR_NOMEM;
	ws->open = 0;
	rc = pack_writer_finish_buf(ws->w, &d->bytes, &d->len, d->name);
	if (rc != ERR_OK) {
		done_pack_free(e, d);
		return rc;
	}
	d->cap = PACK_BUF;
	d->ids = ws->ids;
	d->nids = ws->nids;
	ws->ids = NULL;
	ws->nids = ws->capids = 0;
	return queue_pack(e, d);
}

/* The writer ready for a chunk: the one writer of this worker, restarted. */
static int
worker_open(struct engine *e, struct wstate *ws)
{
	int rc;

	if (ws->open)
		return ERR_OK;
	if (ws->w == NULL) {
		rc = pack_writer_new_buf(e->run, packbuf_get(e), PACK_BUF,
		    &ws->w);
		if (rc == ERR_OK && e->o->zstd_level != 0)
			rc = pack_writer_set_level(ws->w, e->o->zstd_level);
	} else
		rc = pack_writer_restart(ws->w, e->run, packbuf_get(e),
		    PACK_BUF);
	if (rc == ERR_OK)
		ws->open = 1;
	return rc;
}

static int
worker_add(struct engine *e, struct wstate *ws, struct job *j)
{
	int rc;

	for (int attempt = 0; attempt < 2; attempt++) {
		if ((rc = worker_open(e, ws)) != ERR_OK)
			return rc;
		rc = pack_writer_add(ws->w, j->id, j->data, j->len);
		if (rc != ERR_TOOBIG || pack_writer_count(ws->w) == 0)
			break;
		/* The pack is full: send it and start the next. */
		if ((rc = worker_flush(e, ws)) != ERR_OK)
			return rc;
	}
	if (rc != ERR_OK)
		return rc;
	if (ws->nids == ws->capids) {
		size_t nc = ws->capids ? ws->capids * 2 : 64;
		void *nn = realloc(ws->ids, nc * sizeof(*ws->ids));
		if (nn == NULL)
			return ERR_NOMEM;
		ws->ids = nn;
		ws->capids = nc;
	}
	memcpy(ws->ids[ws->nids++], j->id, CHUNK_ID_LEN);
	if (pack_writer_size(ws->w) >= PACK_SIZE)
		return worker_flush(e, ws);
	return ERR_OK;
}

static void *
worker_main(void *arg)
{
	struct engine *e = arg;
	struct wstate ws = { 0 };
	struct job *j;
	int rc = ERR_OK;

	while ((j = take_job(e)) != NULL) {
		rc = worker_add(e, &ws, j);
		data_put(e, j->data, j->len);
		free(j);
		if (rc != ERR_OK)
			break;
	}
	if (rc == ERR_OK && !failed(e))
		rc = worker_flush(e, &ws);
	if (rc != ERR_OK && rc != ERR_CONFLICT)
		fail(e, "cannot build a pack: %s", err_str(rc));
	pack_writer_free(ws.w);
	free(ws.ids);
	pthread_mutex_lock(&e->mu);
	if (--e->workers_left == 0)
		e->sclosed = 1;
	pthread_cond_broadcast(&e->send_cv);
	pthread_mutex_unlock(&e->mu);
	return NULL;
}

/*
 * Writes pack d to the vault and hands its buffer back at once: the bytes
 * are in the kernel's hands; only the name and the IDs wait for the
 * acknowledgement.
 */
static int
write_pack(struct engine *e, struct done_pack *d)
{
	int rc;

	if ((rc = vp_send_head(e->o->to_vault, VP_PACK,
	    (uint32_t)(PACK_NAME_HEX_LEN + d->len))) != ERR_OK ||
	    (rc = fs_write_all(e->o->to_vault, d->name,
	    PACK_NAME_HEX_LEN)) != ERR_OK ||
	    (rc = fs_write_all(e->o->to_vault, d->bytes, d->len)) != ERR_OK) {
		fail(e, "the connection to the vault broke while sending a "
		    "pack");
		return rc;
	}
	packbuf_put(e, d->bytes, d->len <= PACK_BUF ? d->cap : 0);
	d->bytes = NULL;
	pthread_mutex_lock(&e->mu);
	e->st->bytes_sent += d->len;
	pthread_mutex_unlock(&e->mu);
	return ERR_OK;
}

/* Reads the vault's answer about pack d; on OK its chunks count as sent. */
static int
ack_pack(struct engine *e, struct done_pack *d)
{
	uint8_t type, reply[VP_REPLY_MAX + 1];
	size_t rlen;
	int rc;

	if ((rc = vp_read_reply(e->o->from_vault, &type, reply, &rlen)) !=
	    ERR_OK) {
		fail(e, "the vault did not answer (see its log)");
		return rc;
	}
	if (type == VP_ERR) {
		fail(e, "the vault refused a pack: %s", (char *)reply);
		return ERR_DENIED;
	}
	/* Durable in the vault: now the chunks count as sent. */
	pthread_mutex_lock(&e->mu);
	int32_t idx = ct_pack_index(&e->ct, d->name);
	for (size_t i = 0; idx >= 0 && i < d->nids; i++) {
		struct centry *c = ct_find(&e->ct, d->ids[i]);
		if (c != NULL)
			c->pack = idx;
	}
	e->st->packs++;
	pthread_mutex_unlock(&e->mu);
	if (idx < 0) {
		fail(e, "out of memory");
		return ERR_NOMEM;
	}
	if (e->cache != NULL && bcache_add_pack(e->cache, d->name,
	    (const uint8_t (*)[CHUNK_ID_LEN])d->ids, d->nids) != ERR_OK)
		fprintf(stderr, "bulwark: warning: cannot record a pack in "
		    "the cache; the next backup will send more\n");
	return ERR_OK;
}

/*
 * Sends packs as they come, with up to ACK_WINDOW of them written but not
 * yet acknowledged, so that the next pack travels while the vault makes
 * the last one durable. Acknowledgements come back in order.
 */
#define ACK_WINDOW 2

static int hello_check(struct engine *e);

static void *
sender_main(void *arg)
{
	struct engine *e = arg;
	struct done_pack *wait[ACK_WINDOW];
	size_t nwait = 0;
	int rc = ERR_OK;

	if (hello_check(e) != ERR_OK)
		return NULL;

	for (;;) {
		struct done_pack *d = NULL;
		int closed;

		pthread_mutex_lock(&e->mu);
		/* With nothing to acknowledge, wait for a pack. */
		while (nwait == 0 && e->shead == NULL && !e->sclosed &&
		    !e->failed)
			pthread_cond_wait(&e->send_cv, &e->mu);
		if (!e->failed && nwait < ACK_WINDOW && e->shead != NULL) {
			d = e->shead;
			e->shead = d->next;
			if (e->shead == NULL)
				e->stail = NULL;
			e->slen--;
			e->sending = 1;
		}
		closed = e->failed || (e->sclosed && e->shead == NULL);
		pthread_mutex_unlock(&e->mu);
		if (d != NULL) {
			rc = write_pack(e, d);
			wait[nwait++] = d;
			pthread_mutex_lock(&e->mu);
			e->sending = 0;
			pthread_cond_signal(&e->sendq_cv);
			pthread_mutex_unlock(&e->mu);
			if (rc != ERR_OK)
				break;
			continue;
		}
		if (nwait > 0) {
			rc = ack_pack(e, wait[0]);
			done_pack_free(e, wait[0]);
			memmove(wait, wait + 1, --nwait * sizeof(*wait));
			if (rc != ERR_OK)
				break;
			continue;
		}
		if (closed)
			break;
	}
	for (size_t i = 0; i < nwait; i++)
		done_pack_free(e, wait[i]);
	return NULL;
}

/* ---- Chunks from the walk ----------------------------------------------------- */

static void
progress(struct engine *e, int force)
{
	struct timespec now;
	double t;

	if (!e->o->progress)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (!force && (now.tv_sec - e->last_progress.tv_sec) * 1000 +
	    (now.tv_nsec - e->last_progress.tv_nsec) / 1000000 < 250)
		return;
	e->last_progress = now;
	t = (double)(now.tv_sec - e->t0.tv_sec) +
	    (double)(now.tv_nsec - e->t0.tv_nsec) / 1e9;
	pthread_mutex_lock(&e->mu);
	uint64_t packs = e->st->packs, sent = e->st->bytes_sent;
	pthread_mutex_unlock(&e->mu);
	fprintf(stderr, "\r\033[K%llu files, %.1f MiB read (%.0f MiB/s), "
	    "%.1f MiB new, %llu packs sent (%.1f MiB)",
	    (unsigned long long)e->st->files,
	    (double)e->st->bytes_read / (1 << 20),
	    t > 0 ? (double)e->st->bytes_read / (1 << 20) / t : 0.0,
	    (double)e->st->bytes_new / (1 << 20), (unsigned long long)packs,
	    (double)sent / (1 << 20));
}

/* Marks a named chunk used by this snapshot, sends it if new. */
static int
add_named(struct engine *e, const uint8_t *p, size_t n,
    const uint8_t id[CHUNK_ID_LEN])
{
	struct centry *c;
	int added, rc;

	pthread_mutex_lock(&e->mu);
	rc = ct_get(&e->ct, id, PENDING, &c, &added);
	if (rc == ERR_OK)
		c->ref = 1;
	pthread_mutex_unlock(&e->mu);
	if (rc != ERR_OK || !added)
		return rc;
	uint8_t *copy = data_get(e, n);
	if (copy == NULL)
		return failed(e) ? ERR_CONFLICT : ERR_NOMEM;
	memcpy(copy, p, n);
	e->st->chunks_new++;
	e->st->bytes_new += n;
	return submit(e, id, copy, n);
}

/* Names a chunk, marks it used by this snapshot, sends it if new. */
static int
add_chunk(struct engine *e, const uint8_t *p, size_t n,
    uint8_t id[CHUNK_ID_LEN])
{
	chunk_id(e->keys.id, p, n, id);
	return add_named(e, p, n, id);
}

struct clist {
	struct tree_chunk *c;
	size_t n, cap;
	uint64_t size;
};

static int
clist_add(struct clist *l, const uint8_t *id, uint64_t len)
{
	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 8;
		void *nn = realloc(l->c, nc * sizeof(*l->c));
		if (nn == NULL)
			return ERR_NOMEM;
		l->c = nn;
		l->cap = nc;
	}
	memcpy(l->c[l->n].id, id, CHUNK_ID_LEN);
	l->c[l->n].len = len;
	l->n++;
	l->size += len;
	return ERR_OK;
}

/*
 * Reads fd from its position for at most limit bytes (UINT64_MAX: to
 * the end), cutting chunks as one stream. Every chunk the buffer holds
 * whole is cut before any is named, so that the IDs of a large file are
 * hashed on two threads (idhash.h); the cuts are the ones a chunk at a
 * time would give, since a cut looks at most CHUNKER_MAX bytes ahead.
 */
static int
read_stream(struct engine *e, int fd, uint64_t limit, struct clist *l)
{
	const uint8_t *cp[CUTS_MAX];
	size_t cl[CUTS_MAX], off = 0, have = 0, ncut;
	uint8_t ids[CUTS_MAX][CHUNK_ID_LEN];
	int eof = 0, rc;
	uint64_t left = limit;

	for (;;) {
		if (!eof && have - off < CHUNKER_MAX) {
			if (off > 0) {
				memmove(e->buf, e->buf + off, have - off);
				have -= off;
				off = 0;
			}
			while (!eof && have < READ_BUF) {
				size_t want = READ_BUF - have;
				if (left < want)
					want = (size_t)left;
				if (want == 0) {
					eof = 1;
					break;
				}
				ssize_t r = read(fd, e->buf + have, want);
				if (r < 0 && errno == EINTR)
					continue;
				if (r < 0)
					return ERR_IO;
				if (r == 0) {
					eof = 1;
					break;
				}
				have += (size_t)r;
				left -= (uint64_t)r;
				e->st->bytes_read += (uint64_t)r;
			}
		}
		if (have == off)
			return ERR_OK;
		for (ncut = 0; ncut < CUTS_MAX && off < have &&
		    (eof || have - off >= CHUNKER_MAX); ncut++) {
			size_t cut = chunker_cut(&e->ch, e->buf + off,
			    have - off, eof);
			if (cut == 0)
				return ERR_INTERNAL;	/* cannot be: the fill */
			cp[ncut] = e->buf + off;
			cl[ncut] = cut;
			off += cut;
		}
		idhash_run(e->idh, cp, cl, ncut, ids);
		for (size_t i = 0; i < ncut; i++)
			if ((rc = add_named(e, cp[i], cl[i], ids[i])) != ERR_OK ||
			    (rc = clist_add(l, ids[i], cl[i])) != ERR_OK)
				return rc;
	}
}

static int
add_hole(struct clist *l, uint64_t len)
{
	static const uint8_t zero[CHUNK_ID_LEN];

	if (len == 0)
		return ERR_OK;
	if (l->n > 0 && is_hole(l->c[l->n - 1].id)) {
		l->c[l->n - 1].len += len;
		l->size += len;
		return ERR_OK;
	}
	return clist_add(l, zero, len);
}

/* A sparse file: data regions as streams, holes as hole entries. */
static int
read_sparse(struct engine *e, int fd, uint64_t size, struct clist *l)
{
	off_t pos = 0;
	int rc;

	while ((uint64_t)pos < size) {
		off_t data = lseek(fd, pos, SEEK_DATA);
		if (data < 0 && errno == ENXIO)
			return add_hole(l, size - (uint64_t)pos);
		if (data < 0)
			return ERR_IO;
		off_t hole = lseek(fd, data, SEEK_HOLE);
		if (hole < 0)
			return ERR_IO;
		if ((uint64_t)hole > size)
			hole = (off_t)size;
		if ((rc = add_hole(l, (uint64_t)(data - pos))) != ERR_OK)
			return rc;
		if (lseek(fd, data, SEEK_SET) < 0)
			return ERR_IO;
		uint64_t before = l->size;
		if ((rc = read_stream(e, fd, (uint64_t)(hole - data), l)) !=
		    ERR_OK)
			return rc;
		if (l->size - before != (uint64_t)(hole - data))
			break;	/* shrank while we read: keep what we got */
		pos = hole;
	}
	return ERR_OK;
}

/* ---- Entries -------------------------------------------------------------------- */

static const char *
user_name(struct engine *e, uid_t uid, size_t *len)
{
	if (!e->have_uid || e->cached_uid != uid) {
		struct passwd *pw = getpwuid(uid);
		e->uname[0] = '\0';
		if (pw != NULL && strlen(pw->pw_name) <= TREE_OWNER_NAME_MAX)
			snprintf(e->uname, sizeof(e->uname), "%s", pw->pw_name);
		e->cached_uid = uid;
		e->have_uid = 1;
	}
	*len = strlen(e->uname);
	return *len ? e->uname : NULL;
}

static const char *
group_name(struct engine *e, gid_t gid, size_t *len)
{
	if (!e->have_gid || e->cached_gid != gid) {
		struct group *gr = getgrgid(gid);
		e->gname[0] = '\0';
		if (gr != NULL && strlen(gr->gr_name) <= TREE_OWNER_NAME_MAX)
			snprintf(e->gname, sizeof(e->gname), "%s", gr->gr_name);
		e->cached_gid = gid;
		e->have_gid = 1;
	}
	*len = strlen(e->gname);
	return *len ? e->gname : NULL;
}

struct xattrs {
	struct tree_xattr *x;
	size_t n;
	char *names;
	uint8_t *values;
};

static void
xattrs_free(struct xattrs *xa)
{
	free(xa->x);
	free(xa->names);
	free(xa->values);
	memset(xa, 0, sizeof(*xa));
}

static int
cmp_xattr(const void *a, const void *b)
{
	const struct tree_xattr *x = a, *y = b;
	size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
	int c = memcmp(x->name, y->name, n);

	return c != 0 ? c : (x->name_len > y->name_len) -
	    (x->name_len < y->name_len);
}

/* Extended attributes (ACLs among them) of path, sorted by name. */
static int
read_xattrs(struct engine *e, const char *path, struct xattrs *xa)
{
	ssize_t len = llistxattr(path, NULL, 0);
	size_t total = 0, cnt = 0;

	memset(xa, 0, sizeof(*xa));
	if (len <= 0)
		return ERR_OK;	/* none, or a file system without them */
	if ((xa->names = malloc((size_t)len)) == NULL)
		return ERR_NOMEM;
	len = llistxattr(path, xa->names, (size_t)len);
	if (len <= 0)
		return ERR_OK;
	for (ssize_t i = 0; i < len; i += (ssize_t)strlen(xa->names + i) + 1)
		cnt++;
	if ((xa->x = calloc(cnt, sizeof(*xa->x))) == NULL ||
	    (xa->values = malloc(cnt * TREE_XATTR_VALUE_MAX)) == NULL)
		return ERR_NOMEM;
	for (ssize_t i = 0; i < len; i += (ssize_t)strlen(xa->names + i) + 1) {
		const char *name = xa->names + i;
		size_t nl = strlen(name);
		if (nl == 0 || nl > TREE_XATTR_NAME_MAX)
			continue;
		ssize_t vl = lgetxattr(path, name, xa->values + total,
		    TREE_XATTR_VALUE_MAX);
		if (vl < 0) {
			warn_path(e, path, "extended attribute %s not read: "
			    "%s", name, strerror(errno));
			continue;
		}
		struct tree_xattr *x = &xa->x[xa->n++];
		x->name = name;
		x->name_len = nl;
		x->value = xa->values + total;
		x->value_len = (size_t)vl;
		total += (size_t)vl;
	}
	if (xa->n > 1)
		qsort(xa->x, xa->n, sizeof(*xa->x), cmp_xattr);
	return ERR_OK;
}

/*
 * The cache's spelling of a file's extended attributes: for each, in
 * order, u32 name length, the name, u32 value length, the value (big
 * endian). Never empty: a file without any is one zero byte, so that
 * "none" and "not recorded" (NULL) differ.
 */
static int
xattrs_encode(const struct xattrs *xa, uint8_t **out, size_t *len)
{
	size_t n = 1, off = 0;
	uint8_t *p;

	for (size_t i = 0; i < xa->n; i++)
		n += 8 + xa->x[i].name_len + xa->x[i].value_len;
	if ((p = malloc(n)) == NULL)
		return ERR_NOMEM;
	for (size_t i = 0; i < xa->n; i++) {
		const struct tree_xattr *x = &xa->x[i];

		be_put32(p + off, (uint32_t)x->name_len);
		memcpy(p + off + 4, x->name, x->name_len);
		off += 4 + x->name_len;
		be_put32(p + off, (uint32_t)x->value_len);
		if (x->value_len > 0)
			memcpy(p + off + 4, x->value, x->value_len);
		off += 4 + x->value_len;
	}
	if (off == 0)
		p[off++] = 0;
	*out = p;
	*len = off;
	return ERR_OK;
}

/*
 * Reads back what xattrs_encode wrote, pointing into p (which must outlive
 * xa). Anything out of bounds is ERR_FORMAT: the caller reads the file's
 * attributes instead.
 */
static int
xattrs_decode(const uint8_t *p, size_t len, struct xattrs *xa)
{
	size_t cnt = 0, off;

	memset(xa, 0, sizeof(*xa));
	if (len == 1 && p[0] == 0)
		return ERR_OK;
	for (off = 0; off < len; cnt++) {
		uint32_t nl, vl;

		if (len - off < 4 || (nl = be_get32(p + off)) == 0 ||
		    nl > TREE_XATTR_NAME_MAX || len - off - 4 < nl + 4)
			return ERR_FORMAT;
		off += 4 + nl;
		vl = be_get32(p + off);
		if (vl > TREE_XATTR_VALUE_MAX || len - off - 4 < vl)
			return ERR_FORMAT;
		off += 4 + vl;
	}
	if (cnt == 0 || (xa->x = calloc(cnt, sizeof(*xa->x))) == NULL)
		return cnt == 0 ? ERR_FORMAT : ERR_NOMEM;
	for (off = 0; xa->n < cnt; xa->n++) {
		struct tree_xattr *x = &xa->x[xa->n];

		x->name_len = be_get32(p + off);
		x->name = (const char *)p + off + 4;
		off += 4 + x->name_len;
		x->value_len = be_get32(p + off);
		x->value = p + off + 4;
		off += 4 + x->value_len;
	}
	return ERR_OK;
}

static int
excluded(const struct engine *e, const char *path, const char *name)
{
	for (size_t i = 0; i < e->o->nexcludes; i++)
		if (fnmatch(e->o->excludes[i], path, 0) == 0 ||
		    fnmatch(e->o->excludes[i], name, 0) == 0)
			return 1;
	return 0;
}

static void
meta_from_stat(struct engine *e, const struct stat *st, struct tree_entry *t)
{
	t->mode = st->st_mode & TREE_MODE_MASK;
	t->uid = st->st_uid;
	t->gid = st->st_gid;
	t->user = user_name(e, st->st_uid, &t->user_len);
	/* user_name's buffer is reused: the builder copies before the next. */
	t->group = group_name(e, st->st_gid, &t->group_len);
	t->mtime.sec = st->st_mtim.tv_sec;
	t->mtime.nsec = (uint32_t)st->st_mtim.tv_nsec;
	t->ctime.sec = st->st_ctim.tv_sec;
	t->ctime.nsec = (uint32_t)st->st_ctim.tv_nsec;
	if (!S_ISDIR(st->st_mode) && st->st_nlink > 1) {
		uint64_t g = ((uint64_t)st->st_dev << 40) ^ (uint64_t)st->st_ino;
		t->hardlink = g != 0 ? g : 1;
	}
}

static int64_t
ns(const struct timespec *t)
{
	return (int64_t)t->tv_sec * 1000000000 + t->tv_nsec;
}

/* Records this run's file for the next run's cache. */
static int
remember_file(struct engine *e, const char *path, const struct stat *st,
    const struct clist *l, const struct xattrs *xa)
{
	struct fentry *f;

	if (e->cache == NULL)
		return ERR_OK;
	if ((f = calloc(1, sizeof(*f))) == NULL ||
	    (f->path = strdup(path)) == NULL) {
		free(f);
		return ERR_NOMEM;
	}
	f->path_len = strlen(path);
	f->ino = st->st_ino;
	f->size = st->st_size;
	f->mtime = ns(&st->st_mtim);
	f->ctime = ns(&st->st_ctim);
	if (backup_chunks_encode(l->c, l->n, &f->chunks, &f->chunks_len) !=
	    ERR_OK || xattrs_encode(xa, &f->xattrs, &f->xattrs_len) !=
	    ERR_OK) {
		fentry_free(f);
		return ERR_NOMEM;
	}
	if (e->nnow == e->capnow) {
		size_t nc = e->capnow ? e->capnow * 2 : 1024;
		void *nn = realloc(e->now, nc * sizeof(*e->now));
		if (nn == NULL) {
			fentry_free(f);
			return ERR_NOMEM;
		}
		e->now = nn;
		e->capnow = nc;
	}
	e->now[e->nnow++] = f;
	return ERR_OK;
}

/*
 * An unchanged file's chunk list from the last run, if every chunk in it
 * is one the vault has; 0 if the file must be read.
 */
static int
from_cache(struct engine *e, const char *path, const struct stat *st,
    struct clist *l, struct fentry **rec)
{
	struct fentry *f = ft_find(&e->prev, path, strlen(path));
	struct tree_chunk *c;
	size_t n;
	uint64_t sum = 0;

	if (f != NULL)
		f->seen = SEEN_CHANGED;
	if (f == NULL || f->ino != (uint64_t)st->st_ino ||
	    f->size != (uint64_t)st->st_size ||
	    f->mtime != ns(&st->st_mtim) || f->ctime != ns(&st->st_ctim))
		return 0;
	if (backup_chunks_decode(f->chunks, f->chunks_len, &c, &n) != ERR_OK)
		return 0;
	pthread_mutex_lock(&e->mu);
	for (size_t i = 0; i < n; i++) {
		sum += c[i].len;
		if (is_hole(c[i].id))
			continue;
		struct centry *ce = ct_find(&e->ct, c[i].id);
		if (ce == NULL) {
			sum = UINT64_MAX;
			break;
		}
	}
	if (sum == (uint64_t)st->st_size)
		for (size_t i = 0; i < n; i++)
			if (!is_hole(c[i].id))
				ct_find(&e->ct, c[i].id)->ref = 1;
	pthread_mutex_unlock(&e->mu);
	if (sum != (uint64_t)st->st_size) {
		free(c);
		return 0;
	}
	l->c = c;
	l->n = l->cap = n;
	l->size = sum;
	f->seen = SEEN_SAME;
	*rec = f;
	return 1;
}

/*
 * A regular file's chunks: from the cache when it is unchanged (*rec then
 * points to its record), else read.
 */
static int
read_regular(struct engine *e, int dfd, const char *name, const char *path,
    const struct stat *st, struct clist *l, struct fentry **rec)
{
	int fd, rc;

	*rec = NULL;
	if (from_cache(e, path, st, l, rec)) {
		e->st->files_unchanged++;
		return ERR_OK;
	}
	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME);
	if (fd < 0 && errno == EPERM)
		fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		warn_path(e, path, "not read: %s", strerror(errno));
		return ERR_NOTFOUND;
	}
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	if ((uint64_t)st->st_blocks * 512 < (uint64_t)st->st_size)
		rc = read_sparse(e, fd, (uint64_t)st->st_size, l);
	else
		rc = read_stream(e, fd, UINT64_MAX, l);
	close(fd);
	if (rc == ERR_IO) {
		warn_path(e, path, "read failed: %s", strerror(errno));
		return ERR_NOTFOUND;
	}
	return rc;
}

static int walk_dir(struct engine *e, int dfd, const char *path, dev_t dev,
    uint8_t id[CHUNK_ID_LEN]);

/* Encodes a finished node and stores it as a chunk. */
static int
store_node(struct engine *e, struct tree_builder *b, uint8_t id[CHUNK_ID_LEN])
{
	uint8_t *node;
	size_t len;
	int rc;

	if ((rc = tree_builder_finish(b, &node, &len)) != ERR_OK)
		return rc;
	if (len > PACK_CHUNK_MAX) {
		free(node);
		return ERR_TOOBIG;
	}
	rc = add_chunk(e, node, len, id);
	free(node);
	return rc;
}

static int
empty_node(struct engine *e, uint8_t id[CHUNK_ID_LEN])
{
	struct tree_builder *b;
	int rc;

	if ((rc = tree_builder_new(&b)) != ERR_OK)
		return rc;
	rc = store_node(e, b, id);
	tree_builder_free(b);
	return rc;
}

/*
 * Adds the entry for name (in directory dfd, at path) to b. Entries that
 * cannot be read are reported and left out (ERR_OK); errors that end the
 * run are returned.
 */
static int
add_entry(struct engine *e, struct tree_builder *b, int dfd,
    const char *name, const char *path, dev_t dev)
{
	struct tree_entry t;
	struct stat st;
	struct clist l = { 0 };
	struct xattrs xa = { 0 };
	struct fentry *rec = NULL;
	char target[TREE_TARGET_MAX + 1];
	int rc = ERR_OK;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
		warn_path(e, path, "vanished or unreadable: %s",
		    strerror(errno));
		return ERR_OK;
	}
	memset(&t, 0, sizeof(t));
	t.name = name;
	t.name_len = strlen(name);
	if (t.name_len > TREE_NAME_MAX)
		return ERR_OK;
	switch (st.st_mode & S_IFMT) {
	case S_IFREG:
		t.type = TREE_REG;
		rc = read_regular(e, dfd, name, path, &st, &l, &rec);
		if (rc == ERR_NOTFOUND)
			return ERR_OK;
		if (rc != ERR_OK)
			goto out;
		t.chunks = l.c;
		t.nchunks = l.n;
		t.size = l.size;
		e->st->files++;
		e->st->bytes_total += l.size;
		break;
	case S_IFDIR:
		t.type = TREE_DIR;
		if (e->o->one_file_system && st.st_dev != dev) {
			rc = empty_node(e, t.subtree);
		} else {
			int sub = openat(dfd, name, O_RDONLY | O_DIRECTORY |
			    O_NOFOLLOW | O_CLOEXEC);
			if (sub < 0) {
				warn_path(e, path, "not read: %s",
				    strerror(errno));
				rc = empty_node(e, t.subtree);
			} else {
				rc = walk_dir(e, sub, path, dev, t.subtree);
				close(sub);
			}
		}
		if (rc != ERR_OK)
			goto out;
		e->st->dirs++;
		break;
	case S_IFLNK: {
		ssize_t n = readlinkat(dfd, name, target, sizeof(target));
		if (n <= 0 || (size_t)n > TREE_TARGET_MAX) {
			warn_path(e, path, "symlink not read");
			return ERR_OK;
		}
		t.type = TREE_SYMLINK;
		t.target = target;
		t.target_len = (size_t)n;
		e->st->others++;
		break;
	}
	case S_IFIFO:
		t.type = TREE_FIFO;
		e->st->others++;
		break;
	case S_IFSOCK:
		t.type = TREE_SOCK;
		e->st->others++;
		break;
	case S_IFCHR:
	case S_IFBLK:
		t.type = S_ISCHR(st.st_mode) ? TREE_CHR : TREE_BLK;
		t.rdev = st.st_rdev;
		e->st->others++;
		break;
	default:
		return ERR_OK;
	}
	/* An unchanged file's attributes are unchanged: its ctime says so. */
	if ((rec == NULL || rec->xattrs == NULL ||
	    xattrs_decode(rec->xattrs, rec->xattrs_len, &xa) != ERR_OK) &&
	    (rc = read_xattrs(e, path, &xa)) != ERR_OK)
		goto out;
	if (t.type == TREE_REG && rec == NULL &&
	    (rc = remember_file(e, path, &st, &l, &xa)) != ERR_OK)
		goto out;
	/* A record from a cache that did not keep them: keep them now. */
	if (rec != NULL && rec->xattrs == NULL && e->cache != NULL &&
	    xattrs_encode(&xa, &rec->xattrs, &rec->xattrs_len) == ERR_OK)
		rec->dirty = 1;
	t.xattrs = xa.x;
	t.nxattrs = xa.n;
	meta_from_stat(e, &st, &t);
	rc = tree_builder_add(b, &t);
	if (rc == ERR_INVAL || rc == ERR_TOOBIG) {
		warn_path(e, path, "left out: the snapshot format cannot hold "
		    "it (%s)", err_str(rc));
		rc = ERR_OK;
	}
out:
	free(l.c);
	xattrs_free(&xa);
	progress(e, 0);
	return rc;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *
join(const char *dir, const char *name)
{
	char *p = NULL;

	if (asprintf(&p, "%s/%s", strcmp(dir, "/") == 0 ? "" : dir, name) < 0)
		return NULL;
	return p;
}

static int
walk_dir(struct engine *e, int dfd, const char *path, dev_t dev,
    uint8_t id[CHUNK_ID_LEN])
{
	struct tree_builder *b = NULL;
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d;
	int fd, rc;

	if (failed(e))
		return ERR_CONFLICT;
	if ((fd = dup(dfd)) < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return ERR_IO;
	}
	rc = ERR_OK;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") ==
		    0)
			continue;
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 64;
			void *nn = realloc(names, nc * sizeof(*names));
			if (nn == NULL) {
				rc = ERR_NOMEM;
				break;
			}
			names = nn;
			cap = nc;
		}
		if ((names[n] = strdup(de->d_name)) == NULL) {
			rc = ERR_NOMEM;
			break;
		}
		n++;
	}
	closedir(d);
	if (rc == ERR_OK && n > 1)
		qsort(names, n, sizeof(*names), cmp_str);
	if (rc == ERR_OK)
		rc = tree_builder_new(&b);
	for (size_t i = 0; rc == ERR_OK && i < n; i++) {
		char *full = join(path, names[i]);
		if (full == NULL) {
			rc = ERR_NOMEM;
			break;
		}
		if (!excluded(e, full, names[i]))
			rc = add_entry(e, b, dfd, names[i], full, dev);
		free(full);
	}
	if (rc == ERR_OK)
		rc = store_node(e, b, id);
	if (rc == ERR_TOOBIG)
		warn_path(e, path, "directory too large for one tree node");
	tree_builder_free(b);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

/* ---- The root: the given paths under their parents ------------------------ */

/* The first component of p below prefix (p starts with prefix "/"). */
static size_t
component(const char *prefix, const char *p, const char **start)
{
	size_t pl = strcmp(prefix, "/") == 0 ? 0 : strlen(prefix);

	*start = p + pl + 1;
	return strcspn(*start, "/");
}

static int
stdin_entry(struct engine *e, struct tree_builder *b, const char *name)
{
	struct tree_entry t;
	struct clist l = { 0 };
	struct timespec now;
	int rc;

	if ((rc = read_stream(e, STDIN_FILENO, UINT64_MAX, &l)) != ERR_OK) {
		free(l.c);
		return rc;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	memset(&t, 0, sizeof(t));
	t.type = TREE_REG;
	t.name = name;
	t.name_len = strlen(name);
	t.mode = 0600;
	t.uid = geteuid();
	t.gid = getegid();
	t.user = user_name(e, t.uid, &t.user_len);
	t.group = group_name(e, t.gid, &t.group_len);
	t.mtime.sec = t.ctime.sec = now.tv_sec;
	t.mtime.nsec = t.ctime.nsec = (uint32_t)now.tv_nsec;
	t.chunks = l.c;
	t.nchunks = l.n;
	t.size = l.size;
	rc = tree_builder_add(b, &t);
	e->st->files++;
	e->st->bytes_total += l.size;
	free(l.c);
	return rc;
}

/*
 * The node of directory prefix holding just what leads to paths[0..n)
 * (sorted, none inside another, all below prefix).
 */
static int
build_virtual(struct engine *e, const char *prefix, char **paths, size_t n,
    const char *stdin_name, uint8_t id[CHUNK_ID_LEN])
{
	struct tree_builder *b;
	int dfd, rc, stdin_done = stdin_name == NULL;

	if ((dfd = open(prefix, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		snprintf(e->why, e->whylen, "cannot open %s: %s", prefix,
		    strerror(errno));
		return ERR_IO;
	}
	if ((rc = tree_builder_new(&b)) != ERR_OK) {
		close(dfd);
		return rc;
	}
	for (size_t i = 0; rc == ERR_OK && i < n;) {
		const char *c;
		size_t cl = component(prefix, paths[i], &c), j = i + 1;
		char name[NAME_MAX + 1];

		snprintf(name, sizeof(name), "%.*s", (int)cl, c);
		while (j < n) {
			const char *c2;
			size_t cl2 = component(prefix, paths[j], &c2);
			if (cl2 != cl || memcmp(c, c2, cl) != 0)
				break;
			j++;
		}
		if (!stdin_done && strcmp(stdin_name, name) < 0) {
			rc = stdin_entry(e, b, stdin_name);
			stdin_done = 1;
			continue;
		}
		if (!stdin_done && strcmp(stdin_name, name) == 0) {
			snprintf(e->why, e->whylen, "--stdin %s clashes with a "
			    "path of the same name", stdin_name);
			rc = ERR_INVAL;
			break;
		}
		char *full = join(prefix, name);
		if (full == NULL) {
			rc = ERR_NOMEM;
			break;
		}
		if (j == i + 1 && c[cl] == '\0') {
			struct stat st;
			if (lstat(full, &st) != 0) {
				snprintf(e->why, e->whylen, "cannot read %s: "
				    "%s", full, strerror(errno));
				rc = ERR_IO;
			} else {
				rc = add_entry(e, b, dfd, name, full,
				    st.st_dev);
			}
		} else {
			struct stat st;
			struct tree_entry t;
			memset(&t, 0, sizeof(t));
			if (lstat(full, &st) != 0 || !S_ISDIR(st.st_mode)) {
				snprintf(e->why, e->whylen, "cannot read %s",
				    full);
				rc = ERR_IO;
			} else if ((rc = build_virtual(e, full, paths + i,
			    j - i, NULL, t.subtree)) == ERR_OK) {
				t.type = TREE_DIR;
				t.name = name;
				t.name_len = cl;
				meta_from_stat(e, &st, &t);
				rc = tree_builder_add(b, &t);
			}
		}
		free(full);
		i = j;
	}
	if (rc == ERR_OK && !stdin_done)
		rc = stdin_entry(e, b, stdin_name);
	if (rc == ERR_OK)
		rc = store_node(e, b, id);
	tree_builder_free(b);
	close(dfd);
	return rc;
}

/* Resolves, sorts and drops paths inside other paths. */
static int
root_paths(struct engine *e, char ***out, size_t *n)
{
	char **p = calloc(e->o->npaths + 1, sizeof(*p));
	size_t k = 0;

	*out = NULL;
	*n = 0;
	if (p == NULL)
		return ERR_NOMEM;
	for (size_t i = 0; i < e->o->npaths; i++) {
		char *r = realpath(e->o->paths[i], NULL);
		if (r == NULL) {
			snprintf(e->why, e->whylen, "%s: %s", e->o->paths[i],
			    strerror(errno));
			for (size_t j = 0; j < k; j++)
				free(p[j]);
			free(p);
			return ERR_NOTFOUND;
		}
		p[k++] = r;
	}
	if (k > 1)
		qsort(p, k, sizeof(*p), cmp_str);
	size_t w = 0;
	for (size_t i = 0; i < k; i++) {
		if (w > 0) {
			size_t pl = strlen(p[w - 1]);
			if (strcmp(p[w - 1], "/") == 0 ||
			    (strncmp(p[i], p[w - 1], pl) == 0 &&
			    (p[i][pl] == '/' || p[i][pl] == '\0'))) {
				free(p[i]);
				continue;
			}
		}
		p[w++] = p[i];
	}
	*out = p;
	*n = w;
	return ERR_OK;
}

static int
walk_roots(struct engine *e, uint8_t root[CHUNK_ID_LEN])
{
	char **paths;
	size_t n;
	int rc;

	if ((rc = root_paths(e, &paths, &n)) != ERR_OK)
		return rc;
	if (n == 1 && strcmp(paths[0], "/") == 0) {
		if (e->o->stdin_name != NULL) {
			snprintf(e->why, e->whylen, "--stdin cannot go with "
			    "a backup of /");
			rc = ERR_INVAL;
		} else {
			struct stat st;
			int dfd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (dfd < 0 || fstat(dfd, &st) != 0)
				rc = ERR_IO;
			else
				rc = walk_dir(e, dfd, "/", st.st_dev, root);
			if (dfd >= 0)
				close(dfd);
		}
	} else {
		rc = build_virtual(e, "/", paths, n, e->o->stdin_name, root);
	}
	for (size_t i = 0; i < n; i++)
		free(paths[i]);
	free(paths);
	return rc;
}

/* ---- Setting up and finishing ------------------------------------------------ */

static int
load_chunk(void *arg, const uint8_t *id, const char *pack)
{
	struct engine *e = arg;
	struct centry *c;
	int added;
	int32_t idx = ct_pack_index(&e->ct, pack);

	if (idx < 0)
		return ERR_NOMEM;
	if (ct_get(&e->ct, id, idx, &c, &added) != ERR_OK)
		return ERR_NOMEM;
	c->pack = idx;
	return ERR_OK;
}

static int
load_file(void *arg, const struct bcache_file *bf)
{
	struct engine *e = arg;
	struct fentry *f;

	/*
	 * One block for the entry, its path and its chunks: tens of
	 * thousands of records, each three mallocs and their page faults,
	 * were a third of a small incremental backup's start.
	 */
	if (bf->path_len > SIZE_MAX / 2 || bf->chunks_len > SIZE_MAX / 4 ||
	    (f = malloc(sizeof(*f) + bf->path_len + 1 + bf->chunks_len)) ==
	    NULL)
		return ERR_NOMEM;
	memset(f, 0, sizeof(*f));
	f->packed = 1;
	f->path = (char *)(f + 1);
	f->chunks = (uint8_t *)f->path + bf->path_len + 1;
	memcpy(f->path, bf->path, bf->path_len);
	f->path[bf->path_len] = '\0';
	f->path_len = bf->path_len;
	f->ino = bf->ino;
	f->size = bf->size;
	f->mtime = bf->mtime_ns;
	f->ctime = bf->ctime_ns;
	memcpy(f->chunks, bf->chunks, bf->chunks_len);
	f->chunks_len = bf->chunks_len;
	if (bf->xattrs_known && bf->xattrs_len > 0) {
		if ((f->xattrs = malloc(bf->xattrs_len)) == NULL) {
			fentry_free(f);
			return ERR_NOMEM;
		}
		memcpy(f->xattrs, bf->xattrs, bf->xattrs_len);
		f->xattrs_len = bf->xattrs_len;
	}
	if (ft_find(&e->prev, f->path, f->path_len) != NULL) {
		fentry_free(f);
		return ERR_OK;
	}
	if (ft_put(&e->prev, f) != ERR_OK) {
		fentry_free(f);
		return ERR_NOMEM;
	}
	return ERR_OK;
}

/*
 * The session's first message. Sent before the cache is loaded, and its
 * answer read by the sender (hello_check) while the walk runs: over ssh the
 * connection takes a few hundred milliseconds that the walk need not wait.
 */
/* The chunk table, read on a connection of its own. */
struct chunk_loader {
	struct engine *e;
	int rc;
};

static void *
chunk_loader_main(void *arg)
{
	struct chunk_loader *l = arg;
	struct bcache *c = NULL;
	char why[256];

	if ((l->rc = bcache_open(l->e->o->cache_path, &c, why,
	    sizeof(why))) == ERR_OK)
		l->rc = bcache_each_chunk(c, load_chunk, l->e);
	bcache_close(c);
	return NULL;
}

/*
 * Loads what the cache knows: the chunks the vault holds and the files
 * read last time. The two tables go to different structures (e->ct,
 * e->prev) and are read on two SQLite connections at once, one per core;
 * no other thread runs yet.
 */
static int
load_cache(struct engine *e)
{
	struct chunk_loader l = { e, ERR_OK };
	pthread_t t;
	int rc, threaded;

	threaded = pthread_create(&t, NULL, chunk_loader_main, &l) == 0;
	if (!threaded)
		l.rc = bcache_each_chunk(e->cache, load_chunk, e);
	rc = bcache_each_file(e->cache, load_file, e);
	if (threaded)
		pthread_join(t, NULL);
	return rc != ERR_OK ? rc : l.rc;
}

static int
hello_send(struct engine *e)
{
	uint8_t b[5 + MANIFEST_HOST_MAX];
	size_t hl = strlen(e->o->cfg->host);

	memcpy(b, VP_MAGIC, 4);
	b[4] = VP_VERSION;
	memcpy(b + 5, e->o->cfg->host, hl);
	if (vp_send(e->o->to_vault, VP_HELLO, b, 5 + hl) != ERR_OK) {
		snprintf(e->why, e->whylen, "no answer from the vault: check "
		    "the --vault destination and the SSH key");
		return ERR_NETWORK;
	}
	return ERR_OK;
}

/* The vault's answer to the hello: its key must be the one we seal to. */
static int
hello_check(struct engine *e)
{
	uint8_t type, reply[VP_REPLY_MAX + 1], kid[PACK_KEY_ID_LEN];
	size_t rlen;

	if (vp_read_reply(e->o->from_vault, &type, reply, &rlen) != ERR_OK) {
		fail(e, "no answer from the vault: check the --vault "
		    "destination and the SSH key");
		return ERR_NETWORK;
	}
	if (type == VP_ERR) {
		fail(e, "the vault refused: %s", (char *)reply);
		return ERR_DENIED;
	}
	if (rlen != PACK_KEY_ID_LEN + 8 ||
	    pack_vault_key_id(e->o->cfg->vault_pk, kid) != ERR_OK) {
		fail(e, "the vault's answer is malformed");
		return ERR_FORMAT;
	}
	if (memcmp(kid, reply, PACK_KEY_ID_LEN) != 0) {
		fail(e, "the vault's key is not the one in the agent "
		    "configuration: wrong vault?");
		return ERR_MISMATCH;
	}
	return ERR_OK;
}

static int
cmp_name(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* The manifest's pack list: every pack holding a chunk of the snapshot. */
static int
snapshot_packs(struct engine *e, const uint8_t *root,
    char (**out)[PACK_NAME_HEX_LEN + 1], size_t *n, const char **root_pack)
{
	uint8_t *seen = calloc(e->ct.nnames ? e->ct.nnames : 1, 1);
	size_t cnt = 0;

	*out = NULL;
	*n = 0;
	if (seen == NULL)
		return ERR_NOMEM;
	for (size_t i = 0; i < e->ct.cap; i++) {
		struct centry *c = &e->ct.e[i];
		if (!c->used || !c->ref)
			continue;
		if (c->pack < 0) {
			free(seen);
			return ERR_INTERNAL;	/* every pack was acknowledged */
		}
		if (!seen[c->pack]) {
			seen[c->pack] = 1;
			cnt++;
		}
	}
	struct centry *rc = ct_find(&e->ct, root);
	if (rc == NULL || rc->pack < 0) {
		free(seen);
		return ERR_INTERNAL;
	}
	*root_pack = e->ct.names[rc->pack];
	*out = malloc((cnt ? cnt : 1) * sizeof(**out));
	if (*out == NULL) {
		free(seen);
		return ERR_NOMEM;
	}
	for (size_t i = 0; i < e->ct.nnames; i++)
		if (seen[i])
			memcpy((*out)[(*n)++], e->ct.names[i],
			    PACK_NAME_HEX_LEN + 1);
	free(seen);
	if (*n > 1)
		qsort(*out, *n, sizeof(**out), cmp_name);
	return ERR_OK;
}

static int
send_manifest(struct engine *e, const uint8_t root[CHUNK_ID_LEN])
{
	struct manifest m;
	char (*packs)[PACK_NAME_HEX_LEN + 1] = NULL;
	const char *root_pack;
	uint8_t *mf = NULL, type, reply[VP_REPLY_MAX + 1];
	size_t mlen, rlen;
	char **tags = NULL;
	int rc;

	memset(&m, 0, sizeof(m));
	if ((rc = snapshot_packs(e, root, &packs, &m.npacks, &root_pack)) !=
	    ERR_OK)
		return rc;
	m.packs = packs;
	m.host = (char *)e->o->cfg->host;
	randombytes_buf(m.snapshot_id, sizeof(m.snapshot_id));
	m.client_time = (uint64_t)time(NULL);
	if ((rc = pack_vault_key_id(e->o->cfg->vault_pk, m.key_id)) != ERR_OK)
		goto out;
	memcpy(m.root_id, root, CHUNK_ID_LEN);
	memcpy(m.root_pack, root_pack, PACK_NAME_HEX_LEN + 1);
	m.files = e->st->files;
	m.bytes_read = e->st->bytes_total;
	m.bytes_stored = e->st->bytes_sent;
	if (e->o->ntags > 0) {
		if ((tags = calloc(e->o->ntags, sizeof(*tags))) == NULL) {
			rc = ERR_NOMEM;
			goto out;
		}
		for (size_t i = 0; i < e->o->ntags; i++)
			tags[i] = (char *)e->o->tags[i];
		qsort(tags, e->o->ntags, sizeof(*tags), cmp_str);
		m.tags = tags;
		m.ntags = e->o->ntags;
	}
	if ((rc = manifest_encode_sign(&m, e->o->cfg->sign_sk, &mf, &mlen)) !=
	    ERR_OK) {
		snprintf(e->why, e->whylen, "cannot sign the manifest (%s); "
		    "tags must be distinct", err_str(rc));
		goto out;
	}
	manifest_id_hex(&m, e->st->snapshot);
	if ((rc = vp_send(e->o->to_vault, VP_SNAP, mf, mlen)) != ERR_OK ||
	    (rc = vp_read_reply(e->o->from_vault, &type, reply, &rlen)) !=
	    ERR_OK) {
		snprintf(e->why, e->whylen, "the connection to the vault "
		    "broke before it acknowledged the snapshot");
		goto out;
	}
	if (type == VP_ERR) {
		snprintf(e->why, e->whylen, "the vault refused the snapshot: "
		    "%s", (char *)reply);
		rc = ERR_DENIED;
		goto out;
	}
	if (rlen == 8)
		e->st->received = be_get64(reply);
	rc = vp_send(e->o->to_vault, VP_BYE, NULL, 0);
	if (rc == ERR_OK)
		rc = vp_read_reply(e->o->from_vault, &type, reply, &rlen);
	rc = ERR_OK;	/* the snapshot is in: a lost goodbye changes nothing */
out:
	free(packs);
	free(tags);
	free(mf);
	return rc;
}

static void
save_files(struct engine *e)
{
	int rc;

	if (e->cache == NULL)
		return;
	/*
	 * Only what changed is written: the files read this run, and the
	 * removal of records whose file the walk met changed but could not
	 * read, or did not meet at all (deleted, excluded, gone from the
	 * paths given). Records of unchanged files stay as they are, but
	 * for those that gain their xattrs (a cache from before it kept them).
	 */
	rc = bcache_files_begin(e->cache);
	for (size_t i = 0; rc == ERR_OK && i < e->nnow; i++) {
		const struct fentry *n = e->now[i];
		struct bcache_file f = { n->path, n->path_len, n->ino, n->size,
		    n->mtime, n->ctime, n->chunks, n->chunks_len,
		    n->xattrs != NULL, n->xattrs, n->xattrs_len };
		rc = bcache_files_put(e->cache, &f);
	}
	for (size_t i = 0; rc == ERR_OK && i < e->prev.cap; i++) {
		struct fentry *p = e->prev.e[i];
		if (p == NULL || p->ino == 0)
			continue;
		if (p->seen != SEEN_SAME) {
			rc = bcache_files_del(e->cache, p->path, p->path_len);
		} else if (p->dirty) {
			struct bcache_file f = { p->path, p->path_len, p->ino,
			    p->size, p->mtime, p->ctime, p->chunks,
			    p->chunks_len, 1, p->xattrs, p->xattrs_len };
			rc = bcache_files_put(e->cache, &f);
		}
	}
	if (rc == ERR_OK)
		rc = bcache_files_commit(e->cache);
	if (rc != ERR_OK)
		fprintf(stderr, "bulwark: warning: cannot update the cache's "
		    "file records; the next backup reads every file\n");
}

static void
engine_free(struct engine *e)
{
	struct job *j;

	while ((j = e->qhead) != NULL) {
		e->qhead = j->next;
		if (j->len < POOL_MIN)
			free(j->data);
		free(j);
	}
	for (size_t i = 0; i < e->pool_made; i++)
		free(e->pool_all[i]);
	for (size_t i = 0; i < PACK_BUFS; i++)
		free(e->packbufs[i]);
	while (e->shead != NULL) {
		struct done_pack *d = e->shead;
		e->shead = d->next;
		done_pack_free(e, d);
	}
	for (size_t i = 0; i < e->nnow; i++)
		fentry_free(e->now[i]);
	free(e->now);
	ft_free(&e->prev);
	free(e->ct.e);
	free(e->ct.names);
	free(e->ct.nslots);
	free(e->buf);
	idhash_free(e->idh);
	bcache_close(e->cache);
	pack_run_free(e->run);
	chunker_release(&e->ch);
	sodium_memzero(&e->keys, sizeof(e->keys));
	pthread_mutex_destroy(&e->mu);
	pthread_cond_destroy(&e->main_cv);
	pthread_cond_destroy(&e->work_cv);
	pthread_cond_destroy(&e->sendq_cv);
	pthread_cond_destroy(&e->send_cv);
}

/* Marks the previous records that this run's records replace (ino 0). */
static void
prune_prev(struct engine *e)
{
	for (size_t i = 0; i < e->nnow; i++) {
		struct fentry *p = ft_find(&e->prev, e->now[i]->path,
		    e->now[i]->path_len);
		if (p != NULL)
			p->ino = 0;	/* superseded by this run's record */
	}
}

int
backup_run(const struct backup_opts *o, struct backup_stats *st, char *why,
    size_t whylen)
{
	struct engine e;
	pthread_t workers[WORKERS], sender;
	int nworkers = 0, have_sender = 0, rc;
	uint8_t root[CHUNK_ID_LEN];
	char cwhy[512];

	memset(&e, 0, sizeof(e));
	memset(st, 0, sizeof(*st));
	why[0] = '\0';
	e.o = o;
	e.st = st;
	e.why = why;
	e.whylen = whylen;
	pthread_mutex_init(&e.mu, NULL);
	pthread_cond_init(&e.main_cv, NULL);
	pthread_cond_init(&e.work_cv, NULL);
	pthread_cond_init(&e.sendq_cv, NULL);
	pthread_cond_init(&e.send_cv, NULL);
	clock_gettime(CLOCK_MONOTONIC, &e.t0);
	if ((rc = repo_keys_derive(o->cfg->repo_secret, &e.keys)) != ERR_OK ||
	    (rc = chunker_init(&e.ch, e.keys.chunker, NULL)) != ERR_OK ||
	    (rc = pack_run_new(o->cfg->vault_pk, &e.run)) != ERR_OK) {
		snprintf(why, whylen, "cannot set up the keys (%s)",
		    err_str(rc));
		goto out;
	}
	if ((e.buf = malloc(READ_BUF)) == NULL ||
	    (rc = idhash_new(e.keys.id, &e.idh)) != ERR_OK) {
		rc = ERR_NOMEM;
		goto out;
	}
	if ((rc = hello_send(&e)) != ERR_OK)
		goto out;
	if (o->cache_path != NULL) {
		if ((rc = bcache_open(o->cache_path, &e.cache, cwhy,
		    sizeof(cwhy))) != ERR_OK) {
			snprintf(why, whylen, "%s", cwhy);
			goto out;
		}
		if ((rc = load_cache(&e)) != ERR_OK) {
			snprintf(why, whylen, "cannot read the cache %s; "
			    "remove it or run with --no-cache", o->cache_path);
			goto out;
		}
	}
	e.workers_left = WORKERS;
	for (int i = 0; i < WORKERS; i++) {
		if (pthread_create(&workers[i], NULL, worker_main, &e) != 0) {
			rc = ERR_NOMEM;
			break;
		}
		nworkers++;
	}
	if (rc == ERR_OK && pthread_create(&sender, NULL, sender_main, &e) ==
	    0)
		have_sender = 1;
	else if (rc == ERR_OK)
		rc = ERR_NOMEM;
	if (rc != ERR_OK) {
		e.workers_left = nworkers;
		fail(&e, "cannot start threads");
	} else {
		rc = walk_roots(&e, root);
	}
	if (rc != ERR_OK && !failed(&e))
		fail(&e, "%s", why[0] ? why : err_str(rc));
	/* No more chunks: the workers finish their packs and stop. */
	pthread_mutex_lock(&e.mu);
	e.qclosed = 1;
	pthread_cond_broadcast(&e.work_cv);
	pthread_mutex_unlock(&e.mu);
	for (int i = 0; i < nworkers; i++)
		pthread_join(workers[i], NULL);
	if (nworkers < WORKERS) {
		pthread_mutex_lock(&e.mu);
		e.sclosed = 1;
		pthread_cond_broadcast(&e.send_cv);
		pthread_mutex_unlock(&e.mu);
	}
	if (have_sender)
		pthread_join(sender, NULL);
	progress(&e, 1);
	if (o->progress)
		fputc('\n', stderr);
	if (e.failed) {
		snprintf(why, whylen, "%s", e.fail_why);
		if (rc == ERR_OK)
			rc = ERR_NETWORK;
		goto out;
	}
	if ((rc = send_manifest(&e, root)) != ERR_OK)
		goto out;
	prune_prev(&e);
	save_files(&e);
out:
	engine_free(&e);
	return rc;
}
