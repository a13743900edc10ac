#include <dirent.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/blob.h"
#include "audit/checkpoint.h"
#include "audit/merkle.h"
#include "audit/note.h"
#include "audit/tiles.h"
#include "audit/verify.h"
#include "common/fsutil.h"
#include "common/banned.h"

#define MAX_OLDER 16
/* Bundles read ahead, about 50 KB each with their tiles (page cache). */
#define VERIFY_PREFETCH_BUNDLES 64

struct older {
	uint64_t size;
	uint8_t root[MERKLE_HASH_LEN];
};

struct vstate {
	struct audit_verify_result *res;
	const char *dir;
	int first_err;
	struct tile_reader *t;
	/* Hashes recomputed from the entries, per tile level. */
	uint8_t acc[TILE_MAX_LEVELS][TILE_WIDTH][MERKLE_HASH_LEN];
	unsigned accn[TILE_MAX_LEVELS];
	uint64_t count[TILE_MAX_LEVELS];
	/* Root of the last full tile's hashes, per tile level. */
	uint8_t full_root[TILE_MAX_LEVELS][MERKLE_HASH_LEN];
	size_t tile_mismatches;
	size_t entry_mismatches;
};

static void
problem(struct vstate *v, int r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
problem(struct vstate *v, int r, const char *fmt, ...)
{
	struct audit_verify_result *res = v->res;
	size_t used = strlen(res->report);
	va_list ap;

	if (v->first_err == ERR_OK)
		v->first_err = r;
	res->nproblems++;
	if (res->nproblems > 20) {
		if (res->nproblems == 21 && used + 40 < sizeof(res->report))
			snprintf(res->report + used, sizeof(res->report) - used,
			    "(further problems not shown)\n");
		return;
	}
	if (used + 2 >= sizeof(res->report))
		return;
	va_start(ap, fmt);
	vsnprintf(res->report + used, sizeof(res->report) - used - 1, fmt, ap);
	va_end(ap);
	used = strlen(res->report);
	res->report[used] = '\n';
	res->report[used + 1] = '\0';
}

static void
tile_name(char *buf, size_t len, int level, uint64_t index, unsigned w)
{
	if (tile_path(buf, len, level, index, w) != ERR_OK)
		snprintf(buf, len, "(tile %d/%" PRIu64 ")", level, index);
}

/*
 * Older partial versions of tile (level, index) stay published for readers
 * of older checkpoints; each must be a prefix of the verified data, whose
 * first i + 1 members end at byte ends[i]. Widths at or past w are not
 * covered by the checkpoint and are left alone.
 */
static void
check_partials(struct vstate *v, int level, uint64_t index, unsigned w,
    const uint8_t *data, const size_t *ends)
{
	char rel[PATH_MAX], path[PATH_MAX * 2], name[PATH_MAX];
	uint8_t *buf = NULL;
	size_t len;
	DIR *d;
	struct dirent *de;

	if (tile_path(rel, sizeof(rel), level, index, TILE_WIDTH) != ERR_OK)
		return;
	snprintf(path, sizeof(path), "%s/%s.p", v->dir, rel);
	if ((d = opendir(path)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		char fpath[PATH_MAX * 3], *got = NULL, *end;
		unsigned long pw;

		if (de->d_name[0] == '.')
			continue;
		pw = strtoul(de->d_name, &end, 10);
		if (*end != '\0' || pw == 0 || pw >= w)
			continue;
		tile_name(name, sizeof(name), level, index, (unsigned)pw);
		snprintf(fpath, sizeof(fpath), "%s/%s", path, de->d_name);
		if (fs_read_file(fpath, TILE_MAX_BUNDLE, &got, &len) != ERR_OK ||
		    len != ends[pw - 1] || memcmp(got, data, len) != 0) {
			problem(v, ERR_MISMATCH, "%s: this older partial %s is not "
			    "a prefix of the verified %s: it was altered", name,
			    level == TILE_ENTRIES_LEVEL ? "bundle" : "tile",
			    level == TILE_ENTRIES_LEVEL ? "entries" : "hashes");
			v->tile_mismatches++;
		}
		free(got);
	}
	closedir(d);
	free(buf);
}

/* Compares a recomputed tile with the published one. */
static void
check_tile(struct vstate *v, unsigned level, uint64_t index, unsigned w)
{
	const uint8_t *h;
	unsigned got;
	char name[PATH_MAX];
	int r;

	tile_name(name, sizeof(name), (int)level, index, w);
	r = tile_reader_tile(v->t, level, index, &h, &got);
	if (r != ERR_OK) {
		problem(v, r == ERR_NOTFOUND ? ERR_NOTFOUND : ERR_FORMAT,
		    "%s: %s", name, r == ERR_NOTFOUND ? "missing" :
		    r == ERR_FORMAT ? "wrong length" : err_str(r));
		v->tile_mismatches++;
		return;
	}
	for (unsigned i = 0; i < w; i++) {
		if (memcmp(h + (size_t)i * MERKLE_HASH_LEN, v->acc[level][i],
		    MERKLE_HASH_LEN) != 0) {
			char bname[PATH_MAX];

			tile_name(bname, sizeof(bname), TILE_ENTRIES_LEVEL,
			    index, w);
			if (level == 0)
				problem(v, ERR_MISMATCH, "entry %" PRIu64 ": its "
				    "hash in %s does not match the entry in %s",
				    index * TILE_WIDTH + i, name, bname);
			else
				problem(v, ERR_MISMATCH, "%s: hash %u (subtree %"
				    PRIu64 " of level %u) does not match the "
				    "entries", name, i, index * TILE_WIDTH + i,
				    level * TILE_HEIGHT);
			v->tile_mismatches++;
			return;
		}
	}
	{
		size_t ends[TILE_WIDTH];

		for (unsigned i = 0; i < w; i++)
			ends[i] = (size_t)(i + 1) * MERKLE_HASH_LEN;
		check_partials(v, (int)level, index, w, v->acc[level][0], ends);
	}
}

/* Adds a recomputed hash at a tile level, checking each tile it fills. */
static void
acc_push(struct vstate *v, unsigned level, const uint8_t h[MERKLE_HASH_LEN])
{
	memcpy(v->acc[level][v->accn[level]++], h, MERKLE_HASH_LEN);
	v->count[level]++;
	if (v->accn[level] < TILE_WIDTH)
		return;
	check_tile(v, level, v->count[level] / TILE_WIDTH - 1, TILE_WIDTH);
	{
		uint8_t buf[TILE_WIDTH][MERKLE_HASH_LEN];
		size_t n = TILE_WIDTH;

		memcpy(buf, v->acc[level], sizeof(buf));
		while (n > 1) {
			for (size_t i = 0; i < n / 2; i++)
				merkle_node_hash(buf[2 * i], buf[2 * i + 1], buf[i]);
			n /= 2;
		}
		v->accn[level] = 0;
		memcpy(v->full_root[level], buf[0], MERKLE_HASH_LEN);
		if (level + 1 < TILE_MAX_LEVELS)
			acc_push(v, level + 1, buf[0]);
	}
}

/*
 * Adds a perfect subtree of 2^level leaves to f, whose size is a multiple
 * of 2^level: the same carries as appending its leaves one at a time, but
 * without recomputing the subtree.
 */
static void
frontier_append_subtree(struct merkle_frontier *f, unsigned level,
    const uint8_t root[MERKLE_HASH_LEN])
{
	uint8_t h[MERKLE_HASH_LEN];
	unsigned l;

	memcpy(h, root, MERKLE_HASH_LEN);
	for (l = level; (f->size >> l) & 1; l++)
		merkle_node_hash(f->hashes[l], h, h);
	memcpy(f->hashes[l], h, MERKLE_HASH_LEN);
	f->size += (uint64_t)1 << level;
}

/* Compares the root of the first fr->size entries with older checkpoints. */
static void
check_older(struct vstate *v, const struct merkle_frontier *fr,
    const struct older *older, size_t nolder)
{
	uint8_t got[MERKLE_HASH_LEN];

	for (size_t k = 0; k < nolder; k++) {
		if (older[k].size != fr->size)
			continue;
		merkle_frontier_root(fr, got);
		if (memcmp(got, older[k].root, sizeof(got)) != 0)
			problem(v, ERR_CONFLICT, "the log was rewritten: "
			    "its first %" PRIu64 " entries no longer "
			    "produce the root of an older signed "
			    "checkpoint (a fork or a rollback)",
			    older[k].size);
	}
}

/* Whether an older checkpoint ends strictly inside (from, from + n). */
static int
older_inside(const struct older *older, size_t nolder, uint64_t from,
    uint64_t n)
{
	for (size_t k = 0; k < nolder; k++)
		if (older[k].size > from && older[k].size < from + n)
			return 1;
	return 0;
}

/* Parses and checks a signed checkpoint against the log key. */
static int
open_checkpoint(const char *note, size_t len, const struct note_verifier *lv,
    struct note **np, struct checkpoint *c)
{
	int r;

	memset(c, 0, sizeof(*c));
	if ((r = note_parse(note, len, np)) != ERR_OK)
		return r;
	if ((r = note_verify(*np, lv, NULL)) != ERR_OK)
		return r;
	return checkpoint_parse((*np)->text, (*np)->text_len, c);
}

static int
verify_entries(struct vstate *v, const char *dir, uint64_t size,
    const struct older *older, size_t nolder, const uint8_t root[MERKLE_HASH_LEN],
    const struct audit_verify_opts *o)
{
	struct merkle_frontier fr;
	uint8_t got[MERKLE_HASH_LEN];
	size_t offs[TILE_WIDTH], lens[TILE_WIDTH];
	uint64_t nbundles = (size + TILE_WIDTH - 1) / TILE_WIDTH;
	int r;

	if ((r = tile_reader_new(dir, size, &v->t)) != ERR_OK)
		return r;
	/* Overlap the reads from disk with the hashing; a hint only. */
	(void)tile_reader_prefetch(v->t, VERIFY_PREFETCH_BUNDLES);
	merkle_frontier_init(&fr);
	for (uint64_t b = 0; b < nbundles; b++) {
		const uint8_t *data;
		size_t len;
		unsigned w;
		char name[PATH_MAX];

		r = tile_reader_bundle(v->t, b, &data, &len, &w);
		if (r == ERR_OK)
			r = tile_bundle_split(data, len, w, offs, lens);
		if (r != ERR_OK) {
			tile_name(name, sizeof(name), TILE_ENTRIES_LEVEL, b,
			    tile_width(TILE_ENTRIES_LEVEL, b, size));
			problem(v, r == ERR_NOTFOUND ? ERR_NOTFOUND : ERR_FORMAT,
			    "%s: %s; entries %" PRIu64 "-%" PRIu64 " cannot be "
			    "checked", name, r == ERR_NOTFOUND ? "missing" :
			    "malformed bundle", b * TILE_WIDTH,
			    b * TILE_WIDTH + tile_width(TILE_ENTRIES_LEVEL, b, size) - 1);
			goto out;
		}
		{
			size_t ends[TILE_WIDTH];

			for (unsigned i = 0; i < w; i++)
				ends[i] = offs[i] + lens[i];
			check_partials(v, TILE_ENTRIES_LEVEL, b, w, data, ends);
		}
		/*
		 * A full bundle is one level-0 tile, whose root acc_push computes
		 * anyway: the frontier takes it whole, unless an older checkpoint
		 * needs a root from the middle of the bundle.
		 */
		if (w == TILE_WIDTH && fr.size % TILE_WIDTH == 0 &&
		    !older_inside(older, nolder, fr.size, TILE_WIDTH)) {
			for (unsigned i = 0; i < w; i++) {
				uint8_t h[MERKLE_HASH_LEN];

				merkle_leaf_hash(data + offs[i], lens[i], h);
				acc_push(v, 0, h);
			}
			frontier_append_subtree(&fr, TILE_HEIGHT, v->full_root[0]);
			check_older(v, &fr, older, nolder);
		} else {
			for (unsigned i = 0; i < w; i++) {
				uint8_t h[MERKLE_HASH_LEN];

				merkle_leaf_hash(data + offs[i], lens[i], h);
				merkle_frontier_append(&fr, h);
				acc_push(v, 0, h);
				check_older(v, &fr, older, nolder);
			}
		}
		if (o->progress != NULL && (b % 256 == 255 || b + 1 == nbundles))
			o->progress(o->progress_ctx, fr.size, size);
	}
	/* The right edge: partial tiles at each level. */
	for (unsigned l = 0; l < TILE_MAX_LEVELS; l++) {
		if (v->accn[l] > 0)
			check_tile(v, l, v->count[l] / TILE_WIDTH, v->accn[l]);
	}
	merkle_frontier_root(&fr, got);
	if (memcmp(got, root, sizeof(got)) != 0) {
		if (v->tile_mismatches > 0)
			problem(v, ERR_MISMATCH, "the entries do not produce the "
			    "signed root: entries were altered where a tile "
			    "disagrees with them (see above)");
		else
			problem(v, ERR_MISMATCH, "the entries and tiles agree "
			    "with each other but not with the signed checkpoint: "
			    "entries and tiles were rewritten together");
	} else if (v->tile_mismatches > 0) {
		problem(v, ERR_MISMATCH, "the entries produce the signed root: "
		    "the tiles named above were altered or damaged, the entries "
		    "are intact");
	}
	r = ERR_OK;
 out:
	tile_reader_free(v->t);
	v->t = NULL;
	return r;
}

/* Every blob must hash to its name. */
static void
check_blobs(struct vstate *v, const char *dir)
{
	char path[PATH_MAX];
	DIR *d;
	struct dirent *de;

	snprintf(path, sizeof(path), "%s/blob/sha256", dir);
	if ((d = opendir(path)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		int r;

		if (de->d_name[0] == '.')
			continue;
		r = audit_blob_get(dir, de->d_name, -1);
		if (r == ERR_FORMAT)
			problem(v, ERR_FORMAT, "blob/sha256/%s: not a blob name",
			    de->d_name);
		else if (r != ERR_OK)
			problem(v, r == ERR_MISMATCH ? ERR_MISMATCH : r,
			    "blob/sha256/%s: %s", de->d_name,
			    r == ERR_MISMATCH ? "contents do not match the name: "
			    "the blob was altered" : err_str(r));
	}
	closedir(d);
}

int
audit_verify(const char *dir, const struct audit_verify_opts *o,
    struct audit_verify_result *res)
{
	struct vstate *v = NULL;
	struct note_verifier *lv = NULL;
	struct note *n = NULL;
	struct checkpoint c;
	struct older older[MAX_OLDER];
	size_t nolder = 0, len;
	char path[PATH_MAX], *note = NULL;
	int r;

	memset(res, 0, sizeof(*res));
	memset(&c, 0, sizeof(c));
	if ((v = calloc(1, sizeof(*v))) == NULL)
		return ERR_NOMEM;
	v->res = res;
	v->dir = dir;
	if ((r = note_verifier_from_vkey(o->log_vkey, &lv)) != ERR_OK) {
		problem(v, r, "log key '%s' is not a verifier key "
		    "(NAME+HASH+BASE64)", o->log_vkey);
		goto out;
	}
	snprintf(path, sizeof(path), "%s/checkpoint", dir);
	if ((r = fs_read_file(path, NOTE_MAX_LEN, &note, &len)) != ERR_OK) {
		problem(v, r, "checkpoint: cannot read '%s': %s", path, err_str(r));
		goto out;
	}
	r = open_checkpoint(note, len, lv, &n, &c);
	if (r == ERR_NOTFOUND) {
		problem(v, ERR_SIGNATURE, "checkpoint: no signature by the log "
		    "key '%s'", note_verifier_name(lv));
		goto out;
	} else if (r == ERR_SIGNATURE) {
		problem(v, r, "checkpoint: signature by '%s' does not verify: "
		    "the checkpoint was altered", note_verifier_name(lv));
		goto out;
	} else if (r != ERR_OK) {
		problem(v, r, "checkpoint: malformed (%s)", err_str(r));
		goto out;
	}
	res->size = c.size;
	if (strcmp(c.origin, note_verifier_name(lv)) != 0)
		problem(v, ERR_MISMATCH, "checkpoint: origin '%s' is not the "
		    "log key's name '%s'", c.origin, note_verifier_name(lv));
	for (size_t i = 0; i < o->nwitness; i++) {
		struct note_verifier *wv = NULL;

		if ((r = note_verifier_from_vkey(o->witness_vkeys[i], &wv)) != ERR_OK) {
			problem(v, r, "witness key '%s' is not a verifier key",
			    o->witness_vkeys[i]);
			continue;
		}
		r = note_verify(n, wv, NULL);
		if (r != ERR_OK)
			problem(v, ERR_SIGNATURE, "checkpoint: %s by witness '%s'",
			    r == ERR_NOTFOUND ? "not cosigned" :
			    "cosignature does not verify", note_verifier_name(wv));
		note_verifier_free(wv);
	}
	for (size_t i = 0; i < o->nolder; i++) {
		struct note *on = NULL;
		struct checkpoint oc;

		r = open_checkpoint(o->older[i], o->older_lens[i], lv, &on, &oc);
		if (r != ERR_OK) {
			problem(v, r, "older checkpoint %zu: does not verify with "
			    "the log key (%s)", i + 1, err_str(r));
		} else if (strcmp(oc.origin, c.origin) != 0) {
			problem(v, ERR_MISMATCH, "older checkpoint %zu: origin '%s' "
			    "is not this log's", i + 1, oc.origin);
		} else if (oc.size > c.size) {
			problem(v, ERR_CONFLICT, "the log was truncated or rolled "
			    "back: an older signed checkpoint covers %" PRIu64
			    " entries, the log now covers %" PRIu64, oc.size, c.size);
		} else if (oc.size == 0) {
			/* The empty tree is consistent with every tree. */
		} else if (nolder < MAX_OLDER) {
			older[nolder].size = oc.size;
			memcpy(older[nolder].root, oc.root, MERKLE_HASH_LEN);
			nolder++;
		}
		checkpoint_release(&oc);
		note_free(on);
	}
	if ((r = verify_entries(v, dir, c.size, older, nolder, c.root, o)) != ERR_OK)
		problem(v, r, "cannot verify: %s", err_str(r));
	check_blobs(v, dir);
 out:
	r = v->first_err;
	checkpoint_release(&c);
	note_free(n);
	note_verifier_free(lv);
	free(note);
	free(v);
	return r;
}
