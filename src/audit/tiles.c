#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/tiles.h"
#include "common/banned.h"

/* Appends the 3-digit-group encoding of n to buf at *pos. */
static int
encode_index(char *buf, size_t len, size_t *pos, uint64_t n)
{
	unsigned groups[8];
	int ng = 0, w;

	do {
		groups[ng++] = (unsigned)(n % 1000);
		n /= 1000;
	} while (n > 0);
	while (ng-- > 0) {
		w = snprintf(buf + *pos, len - *pos, ng > 0 ? "x%03u/" : "%03u",
		    groups[ng]);
		if (w < 0 || (size_t)w >= len - *pos)
			return ERR_TOOBIG;
		*pos += (size_t)w;
	}
	return ERR_OK;
}

int
tile_path(char *buf, size_t len, int level, uint64_t index, unsigned w)
{
	size_t pos = 0;
	int n, r;

	if (w == 0 || w > TILE_WIDTH || level < TILE_ENTRIES_LEVEL ||
	    level >= TILE_MAX_LEVELS)
		return ERR_INVAL;
	if (level == TILE_ENTRIES_LEVEL)
		n = snprintf(buf, len, "tile/entries/");
	else
		n = snprintf(buf, len, "tile/%d/", level);
	if (n < 0 || (size_t)n >= len)
		return ERR_TOOBIG;
	pos = (size_t)n;
	if ((r = encode_index(buf, len, &pos, index)) != ERR_OK)
		return r;
	if (w < TILE_WIDTH) {
		n = snprintf(buf + pos, len - pos, ".p/%u", w);
		if (n < 0 || (size_t)n >= len - pos)
			return ERR_TOOBIG;
	}
	return ERR_OK;
}

unsigned
tile_width(int level, uint64_t index, uint64_t size)
{
	uint64_t n;	/* nodes at this tile level's tree level */

	if (level == TILE_ENTRIES_LEVEL)
		level = 0;
	if (level < 0 || level >= TILE_MAX_LEVELS)
		return 0;
	n = (unsigned)level * TILE_HEIGHT >= 64 ? 0 :
	    size >> ((unsigned)level * TILE_HEIGHT);
	if (index >= (n + TILE_WIDTH - 1) / TILE_WIDTH)
		return 0;
	if (n - index * TILE_WIDTH >= TILE_WIDTH)
		return TILE_WIDTH;
	return (unsigned)(n - index * TILE_WIDTH);
}

int
tile_bundle_split(const uint8_t *bundle, size_t len, unsigned want,
    size_t offs[TILE_WIDTH], size_t lens[TILE_WIDTH])
{
	size_t pos = 0;

	if (want > TILE_WIDTH)
		return ERR_INVAL;
	for (unsigned i = 0; i < want; i++) {
		size_t n;

		if (len - pos < 2)
			return ERR_FORMAT;
		n = (size_t)bundle[pos] << 8 | bundle[pos + 1];
		pos += 2;
		if (len - pos < n)
			return ERR_FORMAT;
		offs[i] = pos;
		lens[i] = n;
		pos += n;
	}
	return pos == len ? ERR_OK : ERR_FORMAT;
}

struct cached_tile {
	int valid;
	uint64_t index;
	unsigned w;
	uint8_t hashes[TILE_WIDTH][MERKLE_HASH_LEN];
};

/*
 * Read-ahead for a front-to-back walk (tile_reader_prefetch): a thread
 * that opens the files the walk will read next and asks the kernel to
 * start reading them (POSIX_FADV_WILLNEED), so that the disk works on
 * many files at once while the walker hashes. It holds no file data of
 * its own and stays at most `ahead` bundles in front of the walker.
 */
struct prefetch {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	uint64_t cursor;	/* bundle the walker last asked for */
	uint64_t ahead;
	uint64_t wake_at;	/* cursor that wakes the waiting thread */
	int waiting;
	int stop;
};

struct tile_reader {
	char *dir;
	uint64_t size;
	struct cached_tile cache[TILE_MAX_LEVELS];
	uint8_t *bundle;
	struct prefetch *pf;
	char last_path[PATH_MAX];
};

int
tile_reader_new(const char *dir, uint64_t size, struct tile_reader **out)
{
	struct tile_reader *t;

	*out = NULL;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return ERR_NOMEM;
	if ((t->dir = strdup(dir)) == NULL ||
	    (t->bundle = malloc(TILE_MAX_BUNDLE)) == NULL) {
		tile_reader_free(t);
		return ERR_NOMEM;
	}
	t->size = size;
	*out = t;
	return ERR_OK;
}

void
tile_reader_free(struct tile_reader *t)
{
	if (t == NULL)
		return;
	if (t->pf != NULL) {
		pthread_mutex_lock(&t->pf->mu);
		t->pf->stop = 1;
		pthread_cond_signal(&t->pf->cv);
		pthread_mutex_unlock(&t->pf->mu);
		pthread_join(t->pf->thread, NULL);
		pthread_cond_destroy(&t->pf->cv);
		pthread_mutex_destroy(&t->pf->mu);
		free(t->pf);
	}
	free(t->dir);
	free(t->bundle);
	free(t);
}

const char *
tile_reader_last_path(const struct tile_reader *t)
{
	return t->last_path;
}

/*
 * Reads DIR/rel into buf (at most max bytes). Returns ERR_NOTFOUND when
 * the file is missing, so that callers can fall back to the full tile.
 */
static int
read_rel(struct tile_reader *t, const char *rel, uint8_t *buf, size_t max,
    size_t *len)
{
	char path[PATH_MAX];
	size_t have = 0;
	int fd, n;

	n = snprintf(path, sizeof(path), "%s/%s", t->dir, rel);
	if (n < 0 || (size_t)n >= sizeof(path))
		return ERR_TOOBIG;
	snprintf(t->last_path, sizeof(t->last_path), "%s", rel);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return errno == ENOENT ? ERR_NOTFOUND : ERR_IO;
	for (;;) {
		ssize_t got = read(fd, buf + have, max - have);

		if (got < 0) {
			if (errno == EINTR)
				continue;
			close(fd);
			return ERR_IO;
		}
		if (got == 0)
			break;
		have += (size_t)got;
		if (have == max) {
			uint8_t extra;

			got = read(fd, &extra, 1);
			close(fd);
			if (got != 0)
				return ERR_TOOBIG;
			*len = have;
			return ERR_OK;
		}
	}
	close(fd);
	*len = have;
	return ERR_OK;
}

/*
 * Reads tile or bundle (level, index) for the reader's tree size. A missing
 * partial tile falls back to the full tile, whose prefix is the same data.
 */
static int
read_tile_file(struct tile_reader *t, int level, uint64_t index, uint8_t *buf,
    size_t max, size_t *len, unsigned *wp)
{
	char rel[PATH_MAX];
	unsigned w = tile_width(level, index, t->size);
	int r;

	if (w == 0)
		return ERR_RANGE;
	if ((r = tile_path(rel, sizeof(rel), level, index, w)) != ERR_OK)
		return r;
	r = read_rel(t, rel, buf, max, len);
	if (r == ERR_NOTFOUND && w < TILE_WIDTH) {
		char partial[PATH_MAX];

		snprintf(partial, sizeof(partial), "%s", rel);
		if ((r = tile_path(rel, sizeof(rel), level, index,
		    TILE_WIDTH)) != ERR_OK)
			return r;
		r = read_rel(t, rel, buf, max, len);
		if (r == ERR_NOTFOUND)	/* name the file the tree needs */
			snprintf(t->last_path, sizeof(t->last_path), "%s", partial);
		else if (r == ERR_OK && level != TILE_ENTRIES_LEVEL)
			*len = (size_t)w * MERKLE_HASH_LEN;	/* use the prefix */
	}
	*wp = w;
	return r;
}

int
tile_reader_tile(struct tile_reader *t, unsigned level, uint64_t index,
    const uint8_t **hashes, unsigned *wp)
{
	struct cached_tile *c;
	size_t len;
	unsigned w;
	int r;

	*hashes = NULL;
	*wp = 0;
	if (level >= TILE_MAX_LEVELS)
		return ERR_RANGE;
	c = &t->cache[level];
	if (!c->valid || c->index != index) {
		c->valid = 0;
		r = read_tile_file(t, (int)level, index, (uint8_t *)c->hashes,
		    sizeof(c->hashes), &len, &w);
		if (r != ERR_OK)
			return r;
		if (len != (size_t)w * MERKLE_HASH_LEN)
			return ERR_FORMAT;
		c->valid = 1;
		c->index = index;
		c->w = w;
	}
	*hashes = (const uint8_t *)c->hashes;
	*wp = c->w;
	return ERR_OK;
}

int
tile_reader_bundle(struct tile_reader *t, uint64_t index, const uint8_t **data,
    size_t *len, unsigned *w)
{
	int r;

	*data = NULL;
	size_t offs[TILE_WIDTH], lens[TILE_WIDTH], pos = 0;

	if (t->pf != NULL) {
		pthread_mutex_lock(&t->pf->mu);
		t->pf->cursor = index;
		if (t->pf->waiting && index >= t->pf->wake_at)
			pthread_cond_signal(&t->pf->cv);
		pthread_mutex_unlock(&t->pf->mu);
	}
	r = read_tile_file(t, TILE_ENTRIES_LEVEL, index, t->bundle,
	    TILE_MAX_BUNDLE, len, w);
	if (r != ERR_OK)
		return r;
	/*
	 * A full bundle that stands in for a missing partial one holds more
	 * entries than the tree has: keep the prefix of the first *w.
	 */
	for (unsigned i = 0; i < *w; i++) {
		if (*len - pos < 2)
			return ERR_FORMAT;
		pos += 2 + ((size_t)t->bundle[pos] << 8 | t->bundle[pos + 1]);
		if (pos > *len)
			return ERR_FORMAT;
	}
	if (pos != *len && tile_bundle_split(t->bundle, *len, TILE_WIDTH,
	    offs, lens) == ERR_OK)
		*len = pos;
	*data = t->bundle;
	return ERR_OK;
}

/* Starts the kernel reading tile (level, index); failures do not matter. */
static void
prefetch_file(const struct tile_reader *t, int level, uint64_t index)
{
	char rel[PATH_MAX], path[PATH_MAX];
	unsigned w = tile_width(level, index, t->size);
	int fd, n;

	if (w == 0 || tile_path(rel, sizeof(rel), level, index, w) != ERR_OK)
		return;
	n = snprintf(path, sizeof(path), "%s/%s", t->dir, rel);
	if (n < 0 || (size_t)n >= sizeof(path))
		return;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return;
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_WILLNEED);
	close(fd);
}

/*
 * The order of the walk: bundle b, then each hash tile that the entries up
 * to the end of bundle b complete (level 0 tile b, level 1 tile b/256 when
 * b ends one, ...); the right edge's partial tiles come after the last
 * bundle.
 */
static void *
prefetch_main(void *arg)
{
	struct tile_reader *t = arg;
	struct prefetch *pf = t->pf;
	uint64_t nbundles = (t->size + TILE_WIDTH - 1) / TILE_WIDTH;

	for (uint64_t b = 0; b < nbundles; b++) {
		uint64_t end = b + 1;	/* level 0 tiles done after b */

		/*
		 * Sleep until the walker is half a window behind, rather than
		 * waking for every bundle it takes.
		 */
		pthread_mutex_lock(&pf->mu);
		if (b > pf->cursor + pf->ahead) {
			pf->wake_at = b - pf->ahead / 2;
			pf->waiting = 1;
			while (!pf->stop && pf->cursor < pf->wake_at)
				pthread_cond_wait(&pf->cv, &pf->mu);
			pf->waiting = 0;
		}
		if (pf->stop) {
			pthread_mutex_unlock(&pf->mu);
			return NULL;
		}
		pthread_mutex_unlock(&pf->mu);
		prefetch_file(t, TILE_ENTRIES_LEVEL, b);
		prefetch_file(t, 0, b);
		for (int l = 1; l < TILE_MAX_LEVELS && end % TILE_WIDTH == 0;
		    l++) {
			end /= TILE_WIDTH;
			prefetch_file(t, l, end - 1);
		}
	}
	for (int l = 1; l < TILE_MAX_LEVELS; l++)
		prefetch_file(t, l, (t->size >> (l * TILE_HEIGHT)) / TILE_WIDTH);
	return NULL;
}

int
tile_reader_prefetch(struct tile_reader *t, unsigned ahead)
{
	struct prefetch *pf;

	if (t->pf != NULL || ahead == 0)
		return ERR_OK;
	if ((pf = calloc(1, sizeof(*pf))) == NULL)
		return ERR_NOMEM;
	pf->ahead = ahead;
	if (pthread_mutex_init(&pf->mu, NULL) != 0) {
		free(pf);
		return ERR_NOMEM;
	}
	if (pthread_cond_init(&pf->cv, NULL) != 0) {
		pthread_mutex_destroy(&pf->mu);
		free(pf);
		return ERR_NOMEM;
	}
	t->pf = pf;
	if (pthread_create(&pf->thread, NULL, prefetch_main, t) != 0) {
		t->pf = NULL;
		pthread_cond_destroy(&pf->cv);
		pthread_mutex_destroy(&pf->mu);
		free(pf);
		return ERR_NOMEM;
	}
	return ERR_OK;
}

/*
 * Node (level, index) lies in the tile at level level/8; the tile holds
 * the hashes 8*(level/8) levels up, and the node is the root of a run of
 * 2^(level%8) of them.
 */
int
tile_reader_node(void *ctx, unsigned level, uint64_t index,
    uint8_t out[MERKLE_HASH_LEN])
{
	struct tile_reader *t = ctx;
	unsigned tl = level / TILE_HEIGHT, sub = level % TILE_HEIGHT, w;
	uint64_t first = index << sub;	/* first hash within tile level */
	uint8_t buf[TILE_WIDTH][MERKLE_HASH_LEN];
	const uint8_t *h;
	size_t count = (size_t)1 << sub;
	int r;

	if ((r = tile_reader_tile(t, tl, first / TILE_WIDTH, &h, &w)) != ERR_OK)
		return r;
	if ((first % TILE_WIDTH) + count > w)
		return ERR_RANGE;
	memcpy(buf, h + (first % TILE_WIDTH) * MERKLE_HASH_LEN,
	    count * MERKLE_HASH_LEN);
	while (count > 1) {
		for (size_t i = 0; i < count / 2; i++)
			merkle_node_hash(buf[2 * i], buf[2 * i + 1], buf[i]);
		count /= 2;
	}
	memcpy(out, buf[0], MERKLE_HASH_LEN);
	return ERR_OK;
}
