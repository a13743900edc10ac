#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdatomic.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "audit/checkpoint.h"
#include "audit/entry.h"
#include "audit/log.h"
#include "audit/note.h"
#include "audit/tiles.h"
#include "audit/witness.h"
#include "common/fsutil.h"
#include "common/sha256.h"
#include "common/banned.h"

#define JOURNAL_HEADER_MAGIC "BJH1"
#define JOURNAL_RECORD_MAGIC "BJR1"
/* A batch whose full bundles were made durable in private/stage. */
#define JOURNAL_DIRECT_MAGIC "BJD1"
/* Past this size the journal is folded into the tiles and restarted. */
#define JOURNAL_ROTATE_BYTES (64u * 1024 * 1024)
/*
 * Direct batches keep the journal small but still cost a reread of their
 * bundles on open: past this many entries the journal is restarted too.
 */
#define JOURNAL_ROTATE_ENTRIES (1u << 20)
/*
 * Every open replays the journal's records, and a program that appends one
 * event per open (`bulwark log append`, the vault's receive) adds a record
 * each time: past this many records the journal is restarted too, so that
 * an open costs a bounded replay, not one that grows with the log's age.
 */
#define JOURNAL_ROTATE_RECORDS 64
/* A batch of at least this many entries that fills a bundle goes direct. */
#define DIRECT_MIN_ENTRIES 1024

/*
 * Test builds let BULWARK_JOURNAL_ROTATE lower the limit, so that crash and
 * fault tests reach the rotation path with small logs.
 */
static uint64_t
journal_rotate_bytes(void)
{
#ifdef BULWARK_FAULT_INJECTION
	const char *s = getenv("BULWARK_JOURNAL_ROTATE");

	if (s != NULL && strtoull(s, NULL, 10) > 0)
		return strtoull(s, NULL, 10);
#endif
	return JOURNAL_ROTATE_BYTES;
}

/*
 * The smallest batch that stages its full bundles instead of journaling
 * their bytes. Test builds default to 1, so that the crash and fault tests
 * (small batches) cover the direct path; BULWARK_DIRECT_MIN overrides.
 */
static size_t
direct_min_entries(void)
{
#ifdef BULWARK_FAULT_INJECTION
	const char *s = getenv("BULWARK_DIRECT_MIN");

	if (s != NULL && strtoull(s, NULL, 10) > 0)
		return (size_t)strtoull(s, NULL, 10);
	return 1;
#else
	return DIRECT_MIN_ENTRIES;
#endif
}
#define JOURNAL_MAX_RECORD (AUDIT_LOG_MAX_BATCH_BYTES + \
    2u * AUDIT_LOG_MAX_BATCH + 2 * NOTE_MAX_LEN)

/* A full tile or bundle waiting for the batch's journal record to land. */
struct outfile {
	int level;
	uint64_t index;
	uint8_t *data;
	size_t len;
};

/* What add_entry does with a bundle that fills. */
#define BUNDLE_OUTBOX 0	/* copy it to the outbox, published after the sync */
#define BUNDLE_STAGE 1	/* write it to private/stage/<index> now */
#define BUNDLE_ON_DISK 2	/* nothing: replay found it on disk */

struct buf {
	uint8_t *p;
	size_t len, cap;
};

/*
 * One batch between prepare and publish: everything commit and publish
 * need, so that they never read the tree state prepare is changing.
 */
struct batch {
	uint64_t old, tail, size;	/* first index, first not staged, end */
	int direct;
	struct buf rec;		/* the framed journal record */
	struct outfile *out;	/* full tiles and bundles, in order */
	size_t nout, capout;
	/* The partial tiles this batch changed (edge_n 0: unchanged). */
	uint8_t edge[TILE_MAX_LEVELS][TILE_WIDTH][MERKLE_HASH_LEN];
	unsigned edge_n[TILE_MAX_LEVELS];
	struct buf bundle;	/* the partial bundle, when it changed */
	int has_bundle;
	char *note;		/* the checkpoint signed over the batch */
	size_t note_len;
};

struct audit_log {
	char *dir;
	char *origin;
	int lockfd;
	int jfd;
	int dirfd;
	atomic_int failed;	/* commit or publish failed */
	int pfailed;		/* prepare failed: memory is damaged */
	struct note_signer *signer;

	/* The tree as prepared so far (the prepare side's state). */
	uint64_t size;
	struct merkle_frontier fr;
	/* The right edge: the partial tile at each level, and its fill. */
	uint8_t edge[TILE_MAX_LEVELS][TILE_WIDTH][MERKLE_HASH_LEN];
	unsigned edge_n[TILE_MAX_LEVELS];
	uint8_t *bundle;	/* the partial entry bundle */
	size_t bundle_len;
	int bundle_mode;	/* where add_entry sends a full bundle: BUNDLE_* */
	struct batch *cur;	/* the batch add_entry fills */

	/*
	 * Batches in flight: numbers nprep (prepared), ndur (durable) and npub
	 * (published) count them; batch i lives in slot[i % AUDIT_LOG_INFLIGHT].
	 * The prepare side owns slot[nprep % AUDIT_LOG_INFLIGHT] while
	 * nprep - npub < AUDIT_LOG_INFLIGHT, the commit side the slots of
	 * batches npub .. nprep - 1; the counters hand them over.
	 */
	struct batch slot[AUDIT_LOG_INFLIGHT];
	atomic_uint_fast64_t nprep, ndur, npub;

	/* The commit side's state. */
	uint64_t jbase;		/* the journal's base size */
	uint64_t jend;		/* offset of the journal's end */
	uint64_t jrecords;	/* batch records in the journal */
	uint64_t pubsize;	/* the size of the published tree */
	char *note;		/* the last published checkpoint */
	size_t note_len;

	struct buf rec;		/* a record read back on replay */
};
static void
put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void
put_u64(uint8_t *p, uint64_t v)
{
	put_u32(p, (uint32_t)(v >> 32));
	put_u32(p + 4, (uint32_t)v);
}

static uint32_t
get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static uint64_t
get_u64(const uint8_t *p)
{
	return (uint64_t)get_u32(p) << 32 | get_u32(p + 4);
}

static int
path_join(char *buf, size_t len, const char *dir, const char *rel)
{
	int n = snprintf(buf, len, "%s/%s", dir, rel);

	return (n < 0 || (size_t)n >= len) ? ERR_TOOBIG : ERR_OK;
}

/* Record buffer: grows within JOURNAL_MAX_RECORD. */
static int
rec_reserve(struct buf *b, size_t more)
{
	size_t want = b->len + more, cap;
	uint8_t *p;

	if (want > JOURNAL_MAX_RECORD + 64)
		return ERR_TOOBIG;
	if (want <= b->cap)
		return ERR_OK;
	cap = b->cap ? b->cap : 65536;
	while (cap < want)
		cap *= 2;
	if ((p = realloc(b->p, cap)) == NULL)
		return ERR_NOMEM;
	b->p = p;
	b->cap = cap;
	return ERR_OK;
}

static int
rec_put(struct buf *b, const void *p, size_t n)
{
	int r;

	if ((r = rec_reserve(b, n)) != ERR_OK)
		return r;
	memcpy(b->p + b->len, p, n);
	b->len += n;
	return ERR_OK;
}

/* Writes data to DIR/rel, making parent directories on demand. */
static int
publish(struct audit_log *log, const char *rel, const void *data, size_t len,
    int flags)
{
	char path[PATH_MAX];
	int r;

	if ((r = path_join(path, sizeof(path), log->dir, rel)) != ERR_OK)
		return r;
	r = fs_write_atomic(path, data, len, 0644, flags);
	if (r == ERR_IO && errno == ENOENT) {
		char *slash = strrchr(path, '/');

		*slash = '\0';
		if ((r = fs_mkdirs(path, 0755)) != ERR_OK)
			return r;
		*slash = '/';
		r = fs_write_atomic(path, data, len, 0644, flags);
	}
	return r;
}

/* Once a full tile is out, its partial versions are superseded. */
static void
remove_partials(struct audit_log *log, int level, uint64_t index)
{
	char rel[PATH_MAX], path[PATH_MAX + 8];
	DIR *d;
	struct dirent *de;

	if (tile_path(rel, sizeof(rel), level, index, TILE_WIDTH) != ERR_OK ||
	    snprintf(path, sizeof(path), "%s/%s.p", log->dir, rel) < 0)
		return;
	if ((d = opendir(path)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] != '.')
			unlinkat(dirfd(d), de->d_name, 0);
	}
	closedir(d);
	rmdir(path);
}

static int
outbox_add(struct audit_log *log, int level, uint64_t index, const void *data,
    size_t len)
{
	struct batch *b = log->cur;
	struct outfile *o;

	if (b->nout == b->capout) {
		size_t cap = b->capout ? b->capout * 2 : 64;

		if ((o = reallocarray(b->out, cap, sizeof(*o))) == NULL)
			return ERR_NOMEM;
		b->out = o;
		b->capout = cap;
	}
	o = &b->out[b->nout];
	if ((o->data = malloc(len)) == NULL)
		return ERR_NOMEM;
	memcpy(o->data, data, len);
	o->len = len;
	o->level = level;
	o->index = index;
	b->nout++;
	return ERR_OK;
}

static void
outbox_clear(struct batch *b)
{
	for (size_t i = 0; i < b->nout; i++)
		free(b->out[i].data);
	b->nout = 0;
}

static void
batch_free(struct batch *b)
{
	outbox_clear(b);
	free(b->out);
	free(b->rec.p);
	free(b->bundle.p);
	free(b->note);
	memset(b, 0, sizeof(*b));
}

/*
 * Copies into b what publishing it needs of the tree as it stands: the
 * partial tiles of every level that changed since old, the partial bundle.
 */
static int
batch_snapshot(struct audit_log *log, struct batch *b, uint64_t old)
{
	b->old = old;
	b->size = log->size;
	for (unsigned l = 0; l < TILE_MAX_LEVELS; l++) {
		unsigned shift = l * TILE_HEIGHT;

		b->edge_n[l] = 0;
		if ((log->size >> shift) == (old >> shift) || log->edge_n[l] == 0)
			continue;
		b->edge_n[l] = log->edge_n[l];
		memcpy(b->edge[l], log->edge[l],
		    (size_t)log->edge_n[l] * MERKLE_HASH_LEN);
	}
	b->has_bundle = log->size != old && log->size % TILE_WIDTH != 0;
	b->bundle.len = 0;
	if (b->has_bundle) {
		if (log->bundle_len > b->bundle.cap) {
			uint8_t *p = realloc(b->bundle.p, log->bundle_len);

			if (p == NULL)
				return ERR_NOMEM;
			b->bundle.p = p;
			b->bundle.cap = log->bundle_len;
		}
		memcpy(b->bundle.p, log->bundle, log->bundle_len);
		b->bundle.len = log->bundle_len;
	}
	return ERR_OK;
}

/* Sets b's note to a copy of note. */
static int
batch_set_note(struct batch *b, const void *note, size_t len)
{
	char *p;

	if ((p = malloc(len + 1)) == NULL)
		return ERR_NOMEM;
	memcpy(p, note, len);
	p[len] = '\0';
	free(b->note);
	b->note = p;
	b->note_len = len;
	return ERR_OK;
}

/* private/stage/<index>: a full bundle of a direct batch. */
static int
stage_path(const struct audit_log *log, uint64_t index, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/private/stage/%" PRIu64, log->dir, index);

	return (n < 0 || (size_t)n >= len) ? ERR_TOOBIG : ERR_OK;
}

/*
 * Writes the full bundle in log->bundle to its stage file, without fsync:
 * the batch's one sync makes it durable, and only then is it renamed into
 * place, so no bundle is visible before the entries in it are durable.
 */
static int
stage_write(struct audit_log *log, uint64_t index)
{
	char path[PATH_MAX];
	int fd, r;

	if ((r = stage_path(log, index, path, sizeof(path))) != ERR_OK)
		return r;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
	    0644);
	if (fd < 0 && errno == ENOENT) {
		char *slash = strrchr(path, '/');

		*slash = '\0';
		if (mkdir(path, 0700) != 0 && errno != EEXIST)
			return ERR_IO;
		*slash = '/';
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
		    O_NOFOLLOW, 0644);
	}
	if (fd < 0)
		return ERR_IO;
	r = fs_write_all(fd, log->bundle, log->bundle_len);
	if (close(fd) != 0 && r == ERR_OK)
		r = ERR_IO;
	return r;
}

/*
 * Renames a durable stage file into place as full bundle index. ERR_NOTFOUND
 * when there is no stage file (it was renamed before).
 */
static int
stage_publish(struct audit_log *log, uint64_t index)
{
	char from[PATH_MAX], rel[PATH_MAX], to[PATH_MAX];
	int r;

	if ((r = stage_path(log, index, from, sizeof(from))) != ERR_OK ||
	    (r = tile_path(rel, sizeof(rel), TILE_ENTRIES_LEVEL, index,
	    TILE_WIDTH)) != ERR_OK ||
	    (r = path_join(to, sizeof(to), log->dir, rel)) != ERR_OK)
		return r;
	if (access(from, F_OK) != 0)
		return errno == ENOENT ? ERR_NOTFOUND : ERR_IO;
	r = fs_rename(from, to);
	if (r == ERR_IO && errno == ENOENT) {
		char *slash = strrchr(to, '/');

		*slash = '\0';
		if ((r = fs_mkdirs(to, 0755)) != ERR_OK)
			return r;
		*slash = '/';
		r = fs_rename(from, to);
	}
	if (r == ERR_OK)
		remove_partials(log, TILE_ENTRIES_LEVEL, index);
	return r;
}

/*
 * Adds hash h at tile level `level`; a tile that fills goes to the outbox
 * and its root, sub[level] (the subtree the frontier just completed),
 * climbs to the next level.
 */
static int
edge_push(struct audit_log *log, unsigned level, uint64_t count,
    const uint8_t h[MERKLE_HASH_LEN],
    uint8_t sub[TILE_MAX_LEVELS][MERKLE_HASH_LEN])
{
	int r;

	memcpy(log->edge[level][log->edge_n[level]++], h, MERKLE_HASH_LEN);
	if (log->edge_n[level] < TILE_WIDTH)
		return ERR_OK;
	/* count is the number of hashes at this level, this one included. */
	r = outbox_add(log, (int)level, count / TILE_WIDTH - 1, log->edge[level],
	    sizeof(log->edge[level]));
	if (r != ERR_OK)
		return r;
	log->edge_n[level] = 0;
	if (level + 1 >= TILE_MAX_LEVELS)
		return ERR_RANGE;
	return edge_push(log, level + 1, count / TILE_WIDTH, sub[level], sub);
}

/*
 * Adds one entry to the in-memory tree; tiles that fill go to the outbox,
 * a bundle that fills where log->bundle_mode says.
 */
static int
add_entry(struct audit_log *log, const uint8_t *data, size_t len)
{
	uint8_t h[MERKLE_HASH_LEN], x[MERKLE_HASH_LEN];
	uint8_t sub[TILE_MAX_LEVELS][MERKLE_HASH_LEN];
	struct merkle_frontier *fr = &log->fr;
	unsigned level;
	int r;

	if (len > ENTRY_MAX_LEN)
		return ERR_TOOBIG;
	if (fr->size == UINT64_MAX)
		return ERR_RANGE;
	merkle_leaf_hash(data, len, h);
	log->bundle[log->bundle_len++] = (uint8_t)(len >> 8);
	log->bundle[log->bundle_len++] = (uint8_t)len;
	memcpy(log->bundle + log->bundle_len, data, len);
	log->bundle_len += len;
	/*
	 * The frontier append (merkle_frontier_append), keeping the roots of
	 * the subtrees of 2^8, 2^16, ... leaves it completes: they are the
	 * roots of the tiles this entry fills, so no tile is hashed twice.
	 */
	memcpy(x, h, MERKLE_HASH_LEN);
	for (level = 0; (fr->size >> level) & 1; level++) {
		merkle_node_hash(fr->hashes[level], x, x);
		if ((level + 1) % TILE_HEIGHT == 0)
			memcpy(sub[(level + 1) / TILE_HEIGHT - 1], x,
			    MERKLE_HASH_LEN);
	}
	memcpy(fr->hashes[level], x, MERKLE_HASH_LEN);
	fr->size++;
	log->size++;
	if (log->size % TILE_WIDTH == 0) {
		uint64_t index = log->size / TILE_WIDTH - 1;

		if (log->bundle_mode == BUNDLE_OUTBOX)
			r = outbox_add(log, TILE_ENTRIES_LEVEL, index, log->bundle,
			    log->bundle_len);
		else if (log->bundle_mode == BUNDLE_STAGE)
			r = stage_write(log, index);
		else
			r = ERR_OK;
		if (r != ERR_OK)
			return r;
		log->bundle_len = 0;
	}
	return edge_push(log, 0, log->size, h, sub);
}

static int set_note(struct audit_log *log, const uint8_t *note, size_t len);

/* Signs the checkpoint of the in-memory tree into b->note. */
static int
sign_checkpoint(struct audit_log *log, struct batch *b)
{
	struct checkpoint c;
	const struct note_signer *signers[1] = { log->signer };
	char *body = NULL, *note = NULL;
	size_t blen, nlen;
	int r;

	memset(&c, 0, sizeof(c));
	c.origin = log->origin;
	c.size = log->size;
	merkle_frontier_root(&log->fr, c.root);
	if ((r = checkpoint_format(&c, &body, &blen)) != ERR_OK)
		return r;
	r = note_sign(body, blen, signers, 1, &note, &nlen);
	free(body);
	if (r != ERR_OK)
		return r;
	free(b->note);
	b->note = note;
	b->note_len = nlen;
	return ERR_OK;
}

/* Publishes the full tiles batch b completed (its outbox), and empties it. */
static int
publish_full(struct audit_log *log, struct batch *b)
{
	char rel[PATH_MAX];
	int r;

	for (size_t i = 0; i < b->nout; i++) {
		struct outfile *o = &b->out[i];

		if ((r = tile_path(rel, sizeof(rel), o->level, o->index,
		    TILE_WIDTH)) != ERR_OK ||
		    (r = publish(log, rel, o->data, o->len, FS_NOSYNC)) != ERR_OK)
			return r;
		remove_partials(log, o->level, o->index);
	}
	outbox_clear(b);
	return ERR_OK;
}

/*
 * Publishes batch b (snapshot by batch_snapshot): its full tiles, the
 * partial tiles it changed, the partial bundle, and its checkpoint. None
 * is fsync'ed: the journal is the durable copy until the next rotation.
 * When the batch after it (next) is published right after, what next
 * supersedes is skipped: b's checkpoint, and b's partial tile at a level
 * (or partial bundle) that next changed, which next publishes as a newer
 * partial or as a full tile. No checkpoint that needs them is published.
 */
static int
publish_state(struct audit_log *log, struct batch *b, const struct batch *next)
{
	char rel[PATH_MAX];
	int r;

	if ((r = publish_full(log, b)) != ERR_OK)
		return r;
	for (unsigned l = 0; l < TILE_MAX_LEVELS; l++) {
		uint64_t n = b->size >> (l * TILE_HEIGHT);

		if (b->edge_n[l] == 0 || (next != NULL && next->edge_n[l] != 0))
			continue;
		if ((r = tile_path(rel, sizeof(rel), (int)l, n / TILE_WIDTH,
		    b->edge_n[l])) != ERR_OK ||
		    (r = publish(log, rel, b->edge[l],
		    (size_t)b->edge_n[l] * MERKLE_HASH_LEN, FS_NOSYNC)) != ERR_OK)
			return r;
	}
	if (b->has_bundle && (next == NULL || !next->has_bundle)) {
		if ((r = tile_path(rel, sizeof(rel), TILE_ENTRIES_LEVEL,
		    b->size / TILE_WIDTH, b->size % TILE_WIDTH)) != ERR_OK ||
		    (r = publish(log, rel, b->bundle.p, b->bundle.len,
		    FS_NOSYNC)) != ERR_OK)
			return r;
	}
	if (next != NULL)
		return ERR_OK;
	return publish(log, "checkpoint", b->note, b->note_len, FS_NOSYNC);
}

/* magic | u32 length | payload | SHA-256(payload), around rec. */
static int
frame_record(struct buf *rec, const char *magic)
{
	uint8_t sum[SHA256_LEN];
	size_t plen = rec->len - 8;

	memcpy(rec->p, magic, 4);
	put_u32(rec->p + 4, (uint32_t)plen);
	sha256(rec->p + 8, plen, sum);
	return rec_put(rec, sum, sizeof(sum));
}

static int
rec_put_note(struct buf *rec, const char *note, size_t len)
{
	uint8_t b[4];
	int r;

	put_u32(b, (uint32_t)len);
	if ((r = rec_put(rec, b, 4)) != ERR_OK)
		return r;
	return rec_put(rec, note, len);
}

/*
 * Writes a fresh journal based at size, whose checkpoint is note, durably
 * (rec is scratch space).
 */
static int
journal_restart(struct audit_log *log, uint64_t size, const char *note,
    size_t note_len, struct buf *rec)
{
	char path[PATH_MAX], tmp[PATH_MAX], pdir[PATH_MAX];
	uint8_t b[8];
	int fd = -1, r;

	rec->len = 0;
	if ((r = rec_reserve(rec, 8)) != ERR_OK)
		return r;
	rec->len = 8;
	put_u64(b, size);
	if ((r = rec_put(rec, b, 8)) != ERR_OK ||
	    (r = rec_put_note(rec, note, note_len)) != ERR_OK ||
	    (r = frame_record(rec, JOURNAL_HEADER_MAGIC)) != ERR_OK)
		return r;
	if ((r = path_join(pdir, sizeof(pdir), log->dir, "private")) != ERR_OK ||
	    (r = path_join(path, sizeof(path), pdir, "journal")) != ERR_OK ||
	    (r = path_join(tmp, sizeof(tmp), pdir, "journal.new")) != ERR_OK)
		return r;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return ERR_IO;
	if ((r = fs_write_all(fd, rec->p, rec->len)) != ERR_OK ||
	    (r = fs_sync(fd, 1)) != ERR_OK ||
	    (r = fs_rename(tmp, path)) != ERR_OK ||
	    (r = fs_sync_dir(pdir)) != ERR_OK) {
		close(fd);
		unlink(tmp);
		return r;
	}
	if (log->jfd >= 0)
		close(log->jfd);
	log->jfd = fd;
	log->jend = rec->len;
	log->jbase = size;
	log->jrecords = 0;
	return ERR_OK;
}

static int
fail(struct audit_log *log, int r)
{
	if (r != ERR_OK)
		atomic_store(&log->failed, 1);
	return r;
}

static int
check_batch(const size_t *lens, size_t n)
{
	size_t total = 0;

	if (n == 0 || n > AUDIT_LOG_MAX_BATCH)
		return ERR_INVAL;
	for (size_t i = 0; i < n; i++) {
		if (lens[i] > ENTRY_MAX_LEN)
			return ERR_TOOBIG;
		total += lens[i];
	}
	return total > AUDIT_LOG_MAX_BATCH_BYTES ? ERR_TOOBIG : ERR_OK;
}

static int
prepare(struct audit_log *log, struct batch *b, const char *const *entries,
    const size_t *lens, size_t n)
{
	uint64_t old_size = log->size, tail;
	uint8_t h[12];
	int direct, r;

	/*
	 * A large batch that fills bundles goes direct: its full bundles are
	 * staged and made durable by syncfs() before the journal record,
	 * which carries only the entries past the last full bundle. So the
	 * bulk of the bytes reaches the disk once. A small batch journals its
	 * entries and costs one fdatasync() of the journal alone.
	 */
	tail = (old_size + n) / TILE_WIDTH * TILE_WIDTH;
	direct = tail > old_size && n >= direct_min_entries();
	if (!direct)
		tail = old_size;
	outbox_clear(b);
	log->cur = b;
	log->bundle_mode = direct ? BUNDLE_STAGE : BUNDLE_OUTBOX;
	b->rec.len = 8;
	put_u64(h, old_size);
	put_u32(h + 8, (uint32_t)n);
	if ((r = rec_reserve(&b->rec, 12)) != ERR_OK ||
	    (r = rec_put(&b->rec, h, 12)) != ERR_OK)
		return r;
	for (size_t i = 0; i < n; i++) {
		if (old_size + i >= tail) {
			uint8_t l[2] = { (uint8_t)(lens[i] >> 8),
			    (uint8_t)lens[i] };

			if ((r = rec_put(&b->rec, l, 2)) != ERR_OK ||
			    (r = rec_put(&b->rec, entries[i], lens[i])) != ERR_OK)
				return r;
		}
		if ((r = add_entry(log, (const uint8_t *)entries[i],
		    lens[i])) != ERR_OK)
			return r;
	}
	log->bundle_mode = BUNDLE_OUTBOX;
	b->direct = direct;
	b->tail = tail;
	if ((r = batch_snapshot(log, b, old_size)) != ERR_OK ||
	    (r = sign_checkpoint(log, b)) != ERR_OK ||
	    (r = rec_put_note(&b->rec, b->note, b->note_len)) != ERR_OK)
		return r;
	return frame_record(&b->rec, direct ? JOURNAL_DIRECT_MAGIC :
	    JOURNAL_RECORD_MAGIC);
}

int
audit_log_prepare(struct audit_log *log, const char *const *entries,
    const size_t *lens, size_t n, uint64_t *first)
{
	uint64_t i = atomic_load(&log->nprep);
	int r;

	*first = 0;
	if (atomic_load(&log->failed) || log->pfailed)
		return ERR_CONFLICT;
	if ((r = check_batch(lens, n)) != ERR_OK)
		return r;
	if (i - atomic_load(&log->npub) >= AUDIT_LOG_INFLIGHT)
		return ERR_INTERNAL;
	*first = log->size;
	/*
	 * From here a failure leaves memory ahead of disk: no later batch can
	 * be prepared, but those prepared before may still be committed.
	 */
	if ((r = prepare(log, &log->slot[i % AUDIT_LOG_INFLIGHT], entries, lens,
	    n)) != ERR_OK) {
		log->pfailed = 1;
		return r;
	}
	atomic_store(&log->nprep, i + 1);
	return ERR_OK;
}

int
audit_log_commit(struct audit_log *log)
{
	uint64_t i = atomic_load(&log->ndur);
	struct batch *b = &log->slot[i % AUDIT_LOG_INFLIGHT];
	int r;

	if (atomic_load(&log->failed))
		return ERR_CONFLICT;
	if (i == atomic_load(&log->nprep))
		return ERR_INTERNAL;
	/*
	 * The stage files must be durable before the record can be: a record
	 * on disk whose bundles are not would be a batch the log cannot
	 * replay. So a direct batch costs a syncfs() for its bundles and an
	 * fdatasync() for its small record. Records are written in order, each
	 * only once the one before it is durable.
	 */
	if (b->direct && (r = fs_syncfs(log->dirfd)) != ERR_OK)
		return fail(log, r);
	if ((r = fs_pwrite_all(log->jfd, b->rec.p, b->rec.len,
	    (off_t)log->jend)) != ERR_OK ||
	    (r = fs_sync(log->jfd, 0)) != ERR_OK)
		return fail(log, r);
	log->jend += b->rec.len;
	log->jrecords++;
	/* Durable: the batch survives any crash from here on. */
	atomic_store(&log->ndur, i + 1);
	return ERR_OK;
}

int
audit_log_publish(struct audit_log *log)
{
	uint64_t i = atomic_load(&log->npub), end = atomic_load(&log->ndur);
	struct batch *b = NULL;
	int r;

	if (i == end)
		return ERR_OK;
	if (atomic_load(&log->failed))
		return ERR_CONFLICT;
	for (; i < end; i++) {
		b = &log->slot[i % AUDIT_LOG_INFLIGHT];
		for (uint64_t k = b->old / TILE_WIDTH; k < b->tail / TILE_WIDTH;
		    k++) {
			if ((r = stage_publish(log, k)) != ERR_OK)
				return fail(log, r == ERR_NOTFOUND ?
				    ERR_INTERNAL : r);
		}
		if ((r = publish_state(log, b, i + 1 < end ?
		    &log->slot[(i + 1) % AUDIT_LOG_INFLIGHT] : NULL)) != ERR_OK)
			return fail(log, r);
		atomic_store(&log->npub, i + 1);
	}
	if ((r = set_note(log, (const uint8_t *)b->note,
	    b->note_len)) != ERR_OK)
		return fail(log, r);
	log->pubsize = b->size;
	/*
	 * Every durable batch is published and, with commit on this thread,
	 * none is being made durable: the journal can restart at the
	 * published size. A batch prepared meanwhile starts there.
	 */
	if ((log->jend > journal_rotate_bytes() ||
	    log->jrecords >= JOURNAL_ROTATE_RECORDS ||
	    log->pubsize - log->jbase > JOURNAL_ROTATE_ENTRIES) &&
	    ((r = fs_syncfs(log->dirfd)) != ERR_OK ||
	    (r = journal_restart(log, log->pubsize, log->note, log->note_len,
	    &log->rec)) != ERR_OK))
		return fail(log, r);
	return ERR_OK;
}

int
audit_log_append_durable(struct audit_log *log, const char *const *entries,
    const size_t *lens, size_t n, uint64_t *first)
{
	int r;

	*first = 0;
	if ((r = audit_log_publish(log)) != ERR_OK ||
	    (r = audit_log_prepare(log, entries, lens, n, first)) != ERR_OK)
		return r;
	return audit_log_commit(log);
}

int
audit_log_append(struct audit_log *log, const char *const *entries,
    const size_t *lens, size_t n, uint64_t *first)
{
	int r;

	if ((r = audit_log_append_durable(log, entries, lens, n,
	    first)) != ERR_OK)
		return r;
	return audit_log_publish(log);
}

/* Parses a signed checkpoint note and checks our own signature on it. */
static int
check_own_note(struct audit_log *log, const char *note, size_t len,
    struct checkpoint *c)
{
	struct note *n = NULL;
	struct note_verifier *v = NULL;
	char *vkey = NULL;
	int r;

	memset(c, 0, sizeof(*c));
	if ((r = note_parse(note, len, &n)) != ERR_OK)
		goto out;
	if ((r = note_signer_vkey(log->signer, &vkey)) != ERR_OK ||
	    (r = note_verifier_from_vkey(vkey, &v)) != ERR_OK)
		goto out;
	if ((r = note_verify(n, v, NULL)) != ERR_OK)
		goto out;
	if ((r = checkpoint_parse(n->text, n->text_len, c)) != ERR_OK)
		goto out;
	if (strcmp(c->origin, log->origin) != 0) {
		checkpoint_release(c);
		r = ERR_MISMATCH;
	}
 out:
	free(vkey);
	note_verifier_free(v);
	note_free(n);
	return r;
}

static int
set_note(struct audit_log *log, const uint8_t *note, size_t len)
{
	char *p;

	if ((p = malloc(len + 1)) == NULL)
		return ERR_NOMEM;
	memcpy(p, note, len);
	p[len] = '\0';
	free(log->note);
	log->note = p;
	log->note_len = len;
	return ERR_OK;
}

/* Rebuilds the frontier and right edge of the tree of size leaves from the
 * published tiles, which are durable up to the journal's base. */
static int
load_base(struct audit_log *log, uint64_t size, char *why, size_t whylen)
{
	struct tile_reader *t = NULL;
	const uint8_t *p;
	size_t len;
	unsigned w;
	int r;

	if ((r = tile_reader_new(log->dir, size, &t)) != ERR_OK)
		return r;
	merkle_frontier_init(&log->fr);
	log->fr.size = size;
	for (unsigned i = 0; i < 64; i++) {
		if (!(size >> i & 1))
			continue;
		if ((r = tile_reader_node(t, i, (size >> i) - 1,
		    log->fr.hashes[i])) != ERR_OK)
			goto fail;
	}
	for (unsigned l = 0; l < TILE_MAX_LEVELS; l++) {
		uint64_t n = l * TILE_HEIGHT >= 64 ? 0 : size >> (l * TILE_HEIGHT);

		log->edge_n[l] = (unsigned)(n % TILE_WIDTH);
		if (log->edge_n[l] == 0)
			continue;
		if ((r = tile_reader_tile(t, l, n / TILE_WIDTH, &p, &w)) != ERR_OK)
			goto fail;
		memcpy(log->edge[l], p, (size_t)w * MERKLE_HASH_LEN);
	}
	log->bundle_len = 0;
	if (size % TILE_WIDTH != 0) {
		if ((r = tile_reader_bundle(t, size / TILE_WIDTH, &p, &len,
		    &w)) != ERR_OK)
			goto fail;
		memcpy(log->bundle, p, len);
		log->bundle_len = len;
	}
	log->size = size;
	tile_reader_free(t);
	return ERR_OK;
 fail:
	err_why(why, whylen, "cannot read '%s' of the tree of %" PRIu64
	    " entries: %s; run 'bulwark log verify --dir %s' to see what is "
	    "damaged", tile_reader_last_path(t), size, err_str(r), log->dir);
	tile_reader_free(t);
	return r;
}

/* Reads exactly len bytes at off; ERR_FORMAT when the file ends first. */
static int
pread_exact(int fd, void *buf, size_t len, off_t off)
{
	size_t have = 0;

	while (have < len) {
		ssize_t n = pread(fd, (uint8_t *)buf + have, len - have,
		    off + (off_t)have);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return ERR_IO;
		}
		if (n == 0)
			return ERR_FORMAT;
		have += (size_t)n;
	}
	return ERR_OK;
}

/*
 * Reads the record at off into log->rec (payload at log->rec.p, length
 * *plen). ERR_FORMAT for a torn or damaged record.
 */
static int
read_record(struct audit_log *log, off_t off, off_t fsize, const char *magic,
    size_t *plen, int *direct)
{
	uint8_t hdr[8], sum[SHA256_LEN];
	size_t n;
	int r;

	if (fsize - off < 8)
		return ERR_FORMAT;
	if ((r = pread_exact(log->jfd, hdr, 8, off)) != ERR_OK)
		return r;
	*direct = memcmp(magic, JOURNAL_RECORD_MAGIC, 4) == 0 &&
	    memcmp(hdr, JOURNAL_DIRECT_MAGIC, 4) == 0;
	if (memcmp(hdr, magic, 4) != 0 && !*direct)
		return ERR_FORMAT;
	n = get_u32(hdr + 4);
	if (n > JOURNAL_MAX_RECORD || (off_t)(n + 8 + SHA256_LEN) > fsize - off)
		return ERR_FORMAT;
	log->rec.len = 0;
	if ((r = rec_reserve(&log->rec, n + SHA256_LEN)) != ERR_OK)
		return r;
	if ((r = pread_exact(log->jfd, log->rec.p, n + SHA256_LEN,
	    off + 8)) != ERR_OK)
		return r;
	sha256(log->rec.p, n, sum);
	if (sodium_memcmp(sum, log->rec.p + n, SHA256_LEN) != 0)
		return ERR_FORMAT;
	*plen = n;
	return ERR_OK;
}

/*
 * Adds the entries of full bundle index past log->size, read from its
 * published file or, when a crash came before its rename, its stage file.
 * The part already in memory must match.
 */
static int
replay_bundle(struct audit_log *log, uint64_t index, char *why, size_t whylen)
{
	char rel[PATH_MAX], path[PATH_MAX], *buf = NULL;
	size_t offs[TILE_WIDTH], lens[TILE_WIDTH], len;
	int r;

	if ((r = tile_path(rel, sizeof(rel), TILE_ENTRIES_LEVEL, index,
	    TILE_WIDTH)) != ERR_OK ||
	    (r = path_join(path, sizeof(path), log->dir, rel)) != ERR_OK)
		return r;
	r = fs_read_file(path, TILE_MAX_BUNDLE, &buf, &len);
	if (r == ERR_NOTFOUND) {
		if ((r = stage_path(log, index, path, sizeof(path))) != ERR_OK)
			return r;
		r = fs_read_file(path, TILE_MAX_BUNDLE, &buf, &len);
	}
	if (r != ERR_OK) {
		err_why(why, whylen, "cannot read bundle '%s' of a journaled "
		    "batch: %s", path, err_str(r));
		return r;
	}
	if ((r = tile_bundle_split((const uint8_t *)buf, len, TILE_WIDTH, offs,
	    lens)) != ERR_OK ||
	    len < log->bundle_len ||
	    memcmp(buf, log->bundle, log->bundle_len) != 0) {
		err_why(why, whylen, "bundle '%s' of a journaled batch is "
		    "damaged; run 'bulwark log verify --dir %s'", path, log->dir);
		free(buf);
		return ERR_FORMAT;
	}
	for (unsigned k = 0; k < TILE_WIDTH && r == ERR_OK; k++) {
		if (index * TILE_WIDTH + k >= log->size)
			r = add_entry(log, (const uint8_t *)buf + offs[k], lens[k]);
	}
	free(buf);
	return r;
}

/*
 * Applies one batch record (payload in log->rec) and republishes its full
 * tiles and bundles. A direct record holds only the entries past its last
 * full bundle; the others are read back from the bundles it made durable.
 * The partial tiles, partial bundle and checkpoint are those of the last
 * batch only, published once by replay_journal: a later batch supersedes
 * them, as in audit_log_publish, so a journal of many small batches costs
 * no file writes per batch.
 */
static int
replay_batch(struct audit_log *log, size_t plen, int direct, char *why,
    size_t whylen)
{
	const uint8_t *p = log->rec.p, *end = log->rec.p + plen;
	struct batch *b = &log->slot[0];
	uint64_t first, old = log->size, tail;
	uint32_t count, nlen;
	struct checkpoint c;
	uint8_t root[MERKLE_HASH_LEN];
	int r;

	if (plen < 12)
		return ERR_FORMAT;
	first = get_u64(p);
	count = get_u32(p + 8);
	p += 12;
	if (first != log->size) {
		err_why(why, whylen, "journal batch starts at %" PRIu64
		    " but the log holds %" PRIu64 " entries", first, log->size);
		return ERR_CONFLICT;
	}
	if (count == 0 || count > AUDIT_LOG_MAX_BATCH)
		return ERR_FORMAT;
	outbox_clear(b);
	log->cur = b;
	tail = first;
	if (direct) {
		tail = (first + count) / TILE_WIDTH * TILE_WIDTH;
		if (tail <= first)
			return ERR_FORMAT;
		log->bundle_mode = BUNDLE_ON_DISK;
		r = ERR_OK;
		for (uint64_t i = first / TILE_WIDTH; i < tail / TILE_WIDTH &&
		    r == ERR_OK; i++)
			r = replay_bundle(log, i, why, whylen);
		log->bundle_mode = BUNDLE_OUTBOX;
		if (r != ERR_OK)
			return r;
	}
	for (uint64_t i = tail; i < first + count; i++) {
		size_t n;

		if (end - p < 2)
			return ERR_FORMAT;
		n = (size_t)p[0] << 8 | p[1];
		if ((size_t)(end - p - 2) < n)
			return ERR_FORMAT;
		if ((r = add_entry(log, p + 2, n)) != ERR_OK)
			return r;
		p += 2 + n;
	}
	if (end - p < 4)
		return ERR_FORMAT;
	nlen = get_u32(p);
	p += 4;
	if ((size_t)(end - p) != nlen)
		return ERR_FORMAT;
	if ((r = check_own_note(log, (const char *)p, nlen, &c)) != ERR_OK) {
		err_why(why, whylen, "journal batch at %" PRIu64 " carries a "
		    "checkpoint that does not verify: %s", first, err_str(r));
		return r;
	}
	merkle_frontier_root(&log->fr, root);
	r = (c.size == log->size && memcmp(c.root, root, sizeof(root)) == 0) ?
	    ERR_OK : ERR_MISMATCH;
	checkpoint_release(&c);
	if (r != ERR_OK) {
		err_why(why, whylen, "journal batch at %" PRIu64 " does not "
		    "match its checkpoint", first);
		return r;
	}
	if ((r = set_note(log, p, nlen)) != ERR_OK ||
	    (r = batch_set_note(b, p, nlen)) != ERR_OK ||
	    (r = batch_snapshot(log, b, old)) != ERR_OK)
		return r;
	for (uint64_t i = first / TILE_WIDTH; i < tail / TILE_WIDTH; i++) {
		r = stage_publish(log, i);
		if (r != ERR_OK && r != ERR_NOTFOUND)
			return r;
	}
	return publish_full(log, b);
}

/*
 * After a replay every stage file of a durable batch is renamed into
 * place: what is left belongs to batches never acknowledged.
 */
static void
stage_clean(struct audit_log *log)
{
	char path[PATH_MAX];
	DIR *d;
	struct dirent *de;

	if (path_join(path, sizeof(path), log->dir, "private/stage") != ERR_OK ||
	    (d = opendir(path)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] != '.')
			unlinkat(dirfd(d), de->d_name, 0);
	}
	closedir(d);
}

/*
 * Replays the journal: its header names the durable base, each complete
 * batch after it is applied again. A torn record at the end (a batch never
 * acknowledged) is cut off; damage anywhere else stops the open.
 */
static int
replay_journal(struct audit_log *log, char *why, size_t whylen)
{
	struct stat st;
	struct checkpoint c;
	uint8_t root[MERKLE_HASH_LEN];
	size_t plen;
	uint64_t base;
	uint32_t nlen;
	off_t off;
	uint64_t records = 0;
	int direct, r;

	if (fstat(log->jfd, &st) != 0)
		return ERR_IO;
	if ((r = read_record(log, 0, st.st_size, JOURNAL_HEADER_MAGIC,
	    &plen, &direct)) != ERR_OK || plen < 12) {
		err_why(why, whylen, "journal header in '%s/private/journal' is "
		    "damaged; run 'bulwark log verify --dir %s'", log->dir, log->dir);
		return r == ERR_OK ? ERR_FORMAT : r;
	}
	base = get_u64(log->rec.p);
	nlen = get_u32(log->rec.p + 8);
	if (nlen != plen - 12)
		return ERR_FORMAT;
	if ((r = check_own_note(log, (const char *)log->rec.p + 12, nlen,
	    &c)) != ERR_OK) {
		err_why(why, whylen, "journal header checkpoint does not verify "
		    "with the log's key: %s", err_str(r));
		return r;
	}
	if ((r = set_note(log, log->rec.p + 12, nlen)) != ERR_OK) {
		checkpoint_release(&c);
		return r;
	}
	if (c.size != base) {
		checkpoint_release(&c);
		return ERR_FORMAT;
	}
	if ((r = load_base(log, base, why, whylen)) != ERR_OK) {
		checkpoint_release(&c);
		return r;
	}
	log->jbase = base;
	merkle_frontier_root(&log->fr, root);
	r = memcmp(root, c.root, sizeof(root)) == 0 ? ERR_OK : ERR_MISMATCH;
	checkpoint_release(&c);
	if (r != ERR_OK) {
		err_why(why, whylen, "the published tiles do not produce the "
		    "last signed root at size %" PRIu64 "; refusing to sign a "
		    "checkpoint inconsistent with it; run 'bulwark log verify "
		    "--dir %s'", base, log->dir);
		return r;
	}
	off = (off_t)(8 + plen + SHA256_LEN);
	while (off < st.st_size) {
		r = read_record(log, off, st.st_size, JOURNAL_RECORD_MAGIC, &plen,
		    &direct);
		if (r == ERR_FORMAT) {
			uint8_t hdr[8];
			off_t declared = st.st_size;

			if (st.st_size - off >= 8 &&
			    pread_exact(log->jfd, hdr, 8, off) == ERR_OK &&
			    (memcmp(hdr, JOURNAL_RECORD_MAGIC, 4) == 0 ||
			    memcmp(hdr, JOURNAL_DIRECT_MAGIC, 4) == 0))
				declared = off + 8 + (off_t)get_u32(hdr + 4) +
				    SHA256_LEN;
			if (declared < st.st_size) {
				err_why(why, whylen, "journal record at offset %lld "
				    "is damaged and later records follow; "
				    "acknowledged entries may be behind it", (long long)off);
				return ERR_FORMAT;
			}
			/* A torn final write: never acknowledged. */
			if (ftruncate(log->jfd, off) != 0 ||
			    fs_sync(log->jfd, 0) != ERR_OK)
				return ERR_IO;
			break;
		}
		if (r != ERR_OK)
			return r;
		if ((r = replay_batch(log, plen, direct, why, whylen)) != ERR_OK)
			return r;
		off += (off_t)(8 + plen + SHA256_LEN);
		records++;
	}
	log->jend = (uint64_t)off;
	log->jrecords = records;
	log->pubsize = log->size;
	stage_clean(log);
	/*
	 * The partial tiles of every level that changed since the base (as
	 * they stand now), the partial bundle and the last batch's checkpoint:
	 * what the replayed batches would have published, less what they
	 * superseded among themselves.
	 */
	if (records > 0) {
		if ((r = batch_snapshot(log, &log->slot[0], base)) != ERR_OK)
			return r;
		return publish_state(log, &log->slot[0], NULL);
	}
	return publish(log, "checkpoint", log->note, log->note_len, FS_NOSYNC);
}

static struct audit_log *
log_alloc(const char *dir)
{
	struct audit_log *log = calloc(1, sizeof(*log));

	if (log == NULL)
		return NULL;
	log->lockfd = log->jfd = log->dirfd = -1;
	if ((log->dir = strdup(dir)) == NULL ||
	    (log->bundle = malloc(TILE_MAX_BUNDLE)) == NULL) {
		audit_log_close(log);
		return NULL;
	}
	merkle_frontier_init(&log->fr);
	return log;
}

/* Takes the writer lock and loads the signing key. */
static int
log_lock_and_key(struct audit_log *log, char *why, size_t whylen)
{
	char path[PATH_MAX], *skey = NULL;
	size_t len;
	int r;

	if ((r = path_join(path, sizeof(path), log->dir, "private/lock")) != ERR_OK)
		return r;
	if ((log->lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0) {
		err_why(why, whylen, "cannot open '%s': %s", path, strerror(errno));
		return errno == ENOENT ? ERR_NOTFOUND : ERR_IO;
	}
	if (flock(log->lockfd, LOCK_EX | LOCK_NB) != 0) {
		err_why(why, whylen, "another process is appending to '%s'; "
		    "wait for it or stop it", log->dir);
		return ERR_LOCKED;
	}
	if ((r = path_join(path, sizeof(path), log->dir, "private/log.key")) != ERR_OK)
		return r;
	if ((r = fs_read_file(path, 4096, &skey, &len)) != ERR_OK) {
		err_why(why, whylen, "cannot read the signing key '%s': %s",
		    path, err_str(r));
		return r;
	}
	while (len > 0 && (skey[len - 1] == '\n' || skey[len - 1] == '\r'))
		skey[--len] = '\0';
	r = note_signer_from_skey(skey, &log->signer);
	sodium_memzero(skey, len);
	free(skey);
	if (r != ERR_OK) {
		err_why(why, whylen, "signing key '%s' is malformed", path);
		return r;
	}
	if ((log->origin = strdup(note_signer_name(log->signer))) == NULL)
		return ERR_NOMEM;
	if ((log->dirfd = open(log->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return ERR_IO;
	return ERR_OK;
}

int
audit_log_open(const char *dir, struct audit_log **out, char *why,
    size_t whylen)
{
	struct audit_log *log;
	char path[PATH_MAX];
	int r;

	*out = NULL;
	if ((log = log_alloc(dir)) == NULL)
		return ERR_NOMEM;
	if ((r = log_lock_and_key(log, why, whylen)) != ERR_OK)
		goto fail;
	if ((r = path_join(path, sizeof(path), dir, "private/journal")) != ERR_OK)
		goto fail;
	if ((log->jfd = open(path, O_RDWR | O_CLOEXEC)) < 0) {
		err_why(why, whylen, "cannot open the journal '%s': %s", path,
		    strerror(errno));
		r = ERR_IO;
		goto fail;
	}
	if ((r = replay_journal(log, why, whylen)) != ERR_OK)
		goto fail;
	*out = log;
	return ERR_OK;
 fail:
	if (why != NULL && whylen > 0 && why[0] == '\0')
		err_why(why, whylen, "cannot open the log in '%s': %s", dir,
		    err_str(r));
	audit_log_close(log);
	return r;
}

static int
valid_origin(const char *o)
{
	size_t n = strlen(o);

	if (n == 0 || n > 255)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)o[i];

		if (ch <= ' ' || ch == '+' || ch == 0x7f || ch >= 0x80)
			return 0;
	}
	return 1;
}

int
audit_log_create(const char *dir, const char *origin, char **vkeyp)
{
	struct audit_log *log = NULL;
	char path[PATH_MAX], *skey = NULL, *vkey = NULL, *line = NULL;
	int r;

	*vkeyp = NULL;
	if (!valid_origin(origin))
		return ERR_INVAL;
	if ((r = path_join(path, sizeof(path), dir, "private")) != ERR_OK)
		return r;
	if ((r = fs_mkdirs(path, 0700)) != ERR_OK)
		return r;
	if (chmod(path, 0700) != 0)
		return ERR_IO;
	if ((r = path_join(path, sizeof(path), dir, "private/journal")) != ERR_OK)
		return r;
	if (access(path, F_OK) == 0)
		return ERR_EXISTS;
	if ((r = note_keygen(origin, NOTE_ALG_ED25519, &skey, &vkey)) != ERR_OK)
		return r;
	if ((r = path_join(path, sizeof(path), dir, "private/log.key")) != ERR_OK)
		goto out;
	if ((r = fs_write_atomic(path, skey, strlen(skey), 0600, 0)) != ERR_OK)
		goto out;
	if (asprintf(&line, "%s\n", vkey) < 0) {
		line = NULL;
		r = ERR_NOMEM;
		goto out;
	}
	if ((r = path_join(path, sizeof(path), dir, "log.pub")) != ERR_OK ||
	    (r = fs_write_atomic(path, line, strlen(line), 0644, 0)) != ERR_OK)
		goto out;
	if ((log = log_alloc(dir)) == NULL) {
		r = ERR_NOMEM;
		goto out;
	}
	if ((r = log_lock_and_key(log, NULL, 0)) != ERR_OK ||
	    (r = sign_checkpoint(log, &log->slot[0])) != ERR_OK ||
	    (r = set_note(log, (const uint8_t *)log->slot[0].note,
	    log->slot[0].note_len)) != ERR_OK ||
	    (r = journal_restart(log, 0, log->note, log->note_len,
	    &log->rec)) != ERR_OK ||
	    (r = publish(log, "checkpoint", log->note, log->note_len, 0)) != ERR_OK)
		goto out;
	*vkeyp = vkey;
	vkey = NULL;
	r = ERR_OK;
 out:
	audit_log_close(log);
	note_key_free_secret(skey);
	free(vkey);
	free(line);
	return r;
}

void
audit_log_close(struct audit_log *log)
{
	if (log == NULL)
		return;
	if (log->jfd >= 0)
		close(log->jfd);
	if (log->dirfd >= 0)
		close(log->dirfd);
	if (log->lockfd >= 0)
		close(log->lockfd);
	note_signer_free(log->signer);
	for (unsigned i = 0; i < AUDIT_LOG_INFLIGHT; i++)
		batch_free(&log->slot[i]);
	free(log->rec.p);
	free(log->bundle);
	free(log->note);
	free(log->origin);
	free(log->dir);
	free(log);
}

uint64_t
audit_log_size(const struct audit_log *log)
{
	return log->size;
}

const char *
audit_log_origin(const struct audit_log *log)
{
	return log->origin;
}

const char *
audit_log_checkpoint(const struct audit_log *log, size_t *len)
{
	*len = log->note_len;
	return log->note;
}

int
audit_log_vkey(const char *dir, char **vkey)
{
	char path[PATH_MAX];
	size_t len;
	int r;

	*vkey = NULL;
	if ((r = path_join(path, sizeof(path), dir, "log.pub")) != ERR_OK)
		return r;
	if ((r = fs_read_file(path, 4096, vkey, &len)) != ERR_OK)
		return r;
	while (len > 0 && ((*vkey)[len - 1] == '\n' || (*vkey)[len - 1] == '\r'))
		(*vkey)[--len] = '\0';
	return ERR_OK;
}

/* ---- witnesses ---- */

/* private/witness.<first 16 hex of SHA-256(vkey)>: the size it cosigned. */
static int
witness_state_path(const char *dir, const char *vkey, char *buf, size_t len)
{
	uint8_t h[SHA256_LEN];
	char hex[17];
	int n;

	sha256(vkey, strlen(vkey), h);
	sodium_bin2hex(hex, sizeof(hex), h, 8);
	n = snprintf(buf, len, "%s/private/witness.%s", dir, hex);
	return (n < 0 || (size_t)n >= len) ? ERR_TOOBIG : ERR_OK;
}

int
audit_log_witness_add(const char *dir, const char *url, const char *vkey)
{
	struct note_verifier *v = NULL;
	char path[PATH_MAX], *old = NULL, *buf = NULL;
	size_t len = 0;
	int r;

	if ((strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) ||
	    strpbrk(url, " \t\r\n") != NULL)
		return ERR_INVAL;
	if ((r = note_verifier_from_vkey(vkey, &v)) != ERR_OK)
		return r;
	r = note_verifier_alg(v) == NOTE_ALG_COSIGNATURE_V1 ? ERR_OK :
	    ERR_UNSUPPORTED;
	note_verifier_free(v);
	if (r != ERR_OK)
		return r;
	if ((r = path_join(path, sizeof(path), dir, "private/witnesses")) != ERR_OK)
		return r;
	r = fs_read_file(path, 1024 * 1024, &old, &len);
	if (r == ERR_NOTFOUND) {
		old = NULL;
		len = 0;
	} else if (r != ERR_OK) {
		return r;
	}
	if (old != NULL && strstr(old, vkey) != NULL) {
		free(old);
		return ERR_EXISTS;
	}
	if (asprintf(&buf, "%.*s%s %s\n", (int)len, old ? old : "", url, vkey) < 0) {
		free(old);
		return ERR_NOMEM;
	}
	r = fs_write_atomic(path, buf, strlen(buf), 0600, 0);
	free(old);
	free(buf);
	return r;
}

/*
 * One round with one witness: sends the checkpoint with a proof from the
 * size the witness last cosigned, once more with the size a 409 names.
 * Appends the verified cosignature line to *lines.
 */
static int
witness_one(struct audit_log *log, const char *url, const char *vkey,
    const struct note *n, char **lines, void (*warn)(const char *))
{
	uint8_t (*proof)[MERKLE_HASH_LEN] = NULL;
	struct tile_reader *t = NULL;
	char path[PATH_MAX], msg[512], *s = NULL, *resp = NULL;
	uint64_t old = 0;
	size_t len, nproof = 0;
	int status = 0, r;

	if ((r = witness_state_path(log->dir, vkey, path, sizeof(path))) != ERR_OK)
		return r;
	if (fs_read_file(path, 64, &s, &len) == ERR_OK) {
		char *end;

		old = strtoull(s, &end, 10);
		if (old > log->size)
			old = 0;
		free(s);
	}
	if ((proof = calloc(MERKLE_MAX_PROOF, MERKLE_HASH_LEN)) == NULL ||
	    (r = tile_reader_new(log->dir, log->size, &t)) != ERR_OK) {
		r = ERR_NOMEM;
		goto out;
	}
	for (int attempt = 0; attempt < 2; attempt++) {
		nproof = 0;
		if (old > 0 && old < log->size &&
		    (r = merkle_prove_consistency(old, log->size,
		    tile_reader_node, t, proof, &nproof)) != ERR_OK)
			goto out;
		free(resp);
		resp = NULL;
		r = witness_client_add_checkpoint(url, old,
		    (const uint8_t (*)[MERKLE_HASH_LEN])proof, nproof, log->note,
		    log->note_len, &status, &resp, &len);
		if (r != ERR_OK) {
			snprintf(msg, sizeof(msg), "witness %s: unreachable (%s)",
			    url, err_str(r));
			goto warn;
		}
		if (status != 409)
			break;
		if (witness_parse_size(resp, len, &old) != ERR_OK)
			break;
		if (old > log->size) {
			snprintf(msg, sizeof(msg), "witness %s has cosigned %" PRIu64
			    " entries but this log holds %" PRIu64 ": the log was "
			    "truncated or rolled back", url, old, log->size);
			r = ERR_CONFLICT;
			goto warn;
		}
	}
	if (status != 200) {
		snprintf(msg, sizeof(msg), "witness %s refused the checkpoint "
		    "(HTTP %d: %.*s)", url, status, (int)strcspn(resp ? resp : "",
		    "\n"), resp ? resp : "");
		r = ERR_NETWORK;
		goto warn;
	}
	if ((r = witness_cosignature_verify(vkey, n->text, n->text_len, resp,
	    len, NULL)) != ERR_OK) {
		snprintf(msg, sizeof(msg), "witness %s answered without a valid "
		    "cosignature by its key", url);
		goto warn;
	}
	{
		size_t have = *lines ? strlen(*lines) : 0;
		char *nl = realloc(*lines, have + len + 1);

		if (nl == NULL) {
			r = ERR_NOMEM;
			goto out;
		}
		memcpy(nl + have, resp, len);
		nl[have + len] = '\0';
		*lines = nl;
	}
	{
		char sz[32];

		snprintf(sz, sizeof(sz), "%" PRIu64 "\n", log->size);
		r = fs_write_atomic(path, sz, strlen(sz), 0600, 0);
	}
	goto out;
 warn:
	if (warn != NULL)
		warn(msg);
 out:
	tile_reader_free(t);
	free(proof);
	free(resp);
	return r;
}

int
audit_log_witness(struct audit_log *log, size_t *got,
    void (*warn)(const char *msg))
{
	char path[PATH_MAX], *cfg = NULL, *lines = NULL, *save = NULL, *line;
	struct note *n = NULL;
	size_t len, failed = 0;
	int r;

	*got = 0;
	if ((r = path_join(path, sizeof(path), log->dir, "private/witnesses")) != ERR_OK)
		return r;
	r = fs_read_file(path, 1024 * 1024, &cfg, &len);
	if (r == ERR_NOTFOUND)
		return ERR_OK;
	if (r != ERR_OK)
		return r;
	if ((r = note_parse(log->note, log->note_len, &n)) != ERR_OK)
		goto out;
	for (line = strtok_r(cfg, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		char *sp = strchr(line, ' ');

		if (sp == NULL)
			continue;
		*sp = '\0';
		if (witness_one(log, line, sp + 1, n, &lines, warn) == ERR_OK)
			(*got)++;
		else
			failed++;
	}
	if (lines != NULL) {
		char *full = NULL;

		if (asprintf(&full, "%s%s", log->note, lines) < 0) {
			r = ERR_NOMEM;
			goto out;
		}
		r = publish(log, "checkpoint", full, strlen(full), 0);
		free(full);
		if (r != ERR_OK)
			goto out;
	}
	r = failed ? ERR_NETWORK : ERR_OK;
 out:
	note_free(n);
	free(lines);
	free(cfg);
	return r;
}
