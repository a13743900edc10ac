/*
 * cmd_log.c - bulwark log: init, append, checkpoint, prove, verify, show,
 * witness.
 */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "audit/checkpoint.h"
#include "audit/entry.h"
#include "audit/log.h"
#include "audit/merkle.h"
#include "audit/note.h"
#include "audit/tiles.h"
#include "audit/verify.h"
#include "cli/cli.h"
#include "common/fsutil.h"
#include "common/termsafe.h"
#include "common/banned.h"

static int
parse_u64(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (s == NULL || *s < '0' || *s > '9')
		return ERR_FORMAT;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return ERR_FORMAT;
	*out = v;
	return ERR_OK;
}

static void
b64(const uint8_t *h, size_t n, char *out, size_t outlen)
{
	sodium_bin2base64(out, outlen, h, n, sodium_base64_VARIANT_ORIGINAL);
}

static double
elapsed(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) +
	    (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

/* ---- init ---- */

static int
log_init(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "origin", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = NULL, *origin = NULL;
	char *vkey = NULL;
	int c, r;

	while ((c = getopt_long(argc, argv, "d:o:", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 'o': origin = optarg; break;
		default: return 2;
		}
	}
	if (dir == NULL || origin == NULL) {
		cli_error("usage: bulwark log init --dir DIR --origin ORIGIN");
		return 2;
	}
	r = audit_log_create(dir, origin, &vkey);
	if (r == ERR_EXISTS) {
		cli_error("'%s' already holds a log; use it, or pick another "
		    "--dir", dir);
		return 1;
	} else if (r == ERR_INVAL) {
		cli_error("origin '%s' is not usable: use a non-empty name "
		    "without spaces or '+', such as 'audit.example.com/gw1'",
		    origin);
		return 2;
	} else if (r != ERR_OK) {
		cli_error("cannot create a log in '%s': %s (%s)", dir,
		    err_str(r), strerror(errno));
		return 1;
	}
	printf("%s\n", vkey);
	fprintf(stderr, "log created in %s; its verifier key (above) is also "
	    "in %s/log.pub\n", dir, dir);
	free(vkey);
	return 0;
}

/*
 * ---- append: a reader thread feeds a pipeline of two (group commit) ----
 *
 * The reader canonicalizes lines into a batch. The committer takes
 * everything queued so far as one batch and prepares it (audit_log_prepare:
 * hashing, staging, signing) and hands it to the syncer, which makes it
 * durable (audit_log_commit), prints its indices and publishes it. So the
 * committer prepares batch k+1 while the syncer waits on the disk for
 * batch k; log.h says why that is safe.
 */

/*
 * A batch keeps its entries in one arena: the reader copies each canonical
 * entry in and frees it at once, so that malloc hands the same block back
 * for the next line instead of the committer freeing a million blocks
 * another thread allocated.
 */
struct slot {
	size_t off;		/* into the arena */
	size_t len;		/* SIZE_MAX for a refused line */
};

struct batch {
	struct slot *slots;
	size_t n, cap;
	size_t good;		/* slots with an entry */
	size_t bytes;
	char *arena;
	size_t alen, acap;
};

/* A prepared batch on its way from the committer to the syncer. */
struct handoff {
	int logged;		/* it holds entries: commit it */
	uint64_t end;		/* the log's size once it is durable */
	char *out;		/* its output: an index or "-" per line */
	size_t olen;
};

struct appender {
	struct audit_log *log;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct batch filling;	/* the reader adds here */
	int eof;
	int failed;		/* a batch could not be prepared or made durable */
	int prepared_all;	/* the committer is done */
	uint64_t batches, entries;	/* for --stats */
	const char **ents;	/* the committer's arguments to the log */
	size_t *lens;
	struct handoff hand[2];	/* by parity of the handoff count */
	uint64_t nhand;		/* handed to the syncer */
	uint64_t ntaken;	/* taken by the syncer */
	uint64_t acked;		/* entries acknowledged */
	char why[512];		/* set by the thread that set failed */
	int unacked;		/* why: entries not acknowledged */
};

#define REFUSED SIZE_MAX

static void
batch_clear(struct batch *b)
{
	b->n = b->good = b->bytes = b->alen = 0;
}

static void
batch_free(struct batch *b)
{
	free(b->slots);
	free(b->arena);
	memset(b, 0, sizeof(*b));
}

static int
batch_add(struct batch *b, const char *entry, size_t len)
{
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 1024;
		struct slot *s = reallocarray(b->slots, cap, sizeof(*s));

		if (s == NULL)
			return ERR_NOMEM;
		b->slots = s;
		b->cap = cap;
	}
	if (entry != NULL && b->alen + len > b->acap) {
		size_t cap = b->acap ? b->acap : 65536;
		char *p;

		while (cap < b->alen + len)
			cap *= 2;
		if ((p = realloc(b->arena, cap)) == NULL)
			return ERR_NOMEM;
		b->arena = p;
		b->acap = cap;
	}
	if (entry == NULL) {
		b->slots[b->n].off = 0;
		b->slots[b->n].len = REFUSED;
	} else {
		memcpy(b->arena + b->alen, entry, len);
		b->slots[b->n].off = b->alen;
		b->slots[b->n].len = len;
		b->alen += len;
		b->good++;
		b->bytes += len;
	}
	b->n++;
	return ERR_OK;
}

static int
batch_full(const struct batch *b)
{
	return b->good >= AUDIT_LOG_MAX_BATCH ||
	    b->bytes + ENTRY_MAX_LEN > AUDIT_LOG_MAX_BATCH_BYTES ||
	    b->n >= 4 * AUDIT_LOG_MAX_BATCH;
}

/* Writes v and a newline at p; returns the length. */
static size_t
put_index(char *p, uint64_t v)
{
	char tmp[24];
	size_t n = 0, i;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0);
	for (i = 0; i < n; i++)
		p[i] = tmp[n - 1 - i];
	p[n] = '\n';
	return n + 1;
}

static void
set_failed(struct appender *a, int unacked, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Stops the pipeline with a reason. With unacked, the reason is that
 * entries could not be made durable: log_append adds which were.
 */
static void
set_failed(struct appender *a, int unacked, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&a->mu);
	if (!a->failed) {
		va_start(ap, fmt);
		vsnprintf(a->why, sizeof(a->why), fmt, ap);
		va_end(ap);
		a->failed = 1;
		a->unacked = unacked;
	}
	pthread_cond_broadcast(&a->cv);
	pthread_mutex_unlock(&a->mu);
}

/* Prepares one batch into h and renders its indices in input order. */
static int
prepare_batch(struct appender *a, struct batch *b, struct handoff *h)
{
	size_t k = 0, olen = 0;
	uint64_t first = 0;
	int r;

	h->logged = 0;
	if (b->good > 0) {
		for (size_t i = 0; i < b->n; i++) {
			if (b->slots[i].len == REFUSED)
				continue;
			a->ents[k] = b->arena + b->slots[i].off;
			a->lens[k++] = b->slots[i].len;
		}
		a->batches++;
		a->entries += k;
		if ((r = audit_log_prepare(a->log, a->ents, a->lens, k,
		    &first)) != ERR_OK) {
			set_failed(a, 1, "cannot make entries durable: %s (%s)",
			    err_str(r), strerror(errno));
			return r;
		}
		h->logged = 1;
		h->end = first + k;
	}
	/* At most 21 bytes a line; h->out holds 4 * AUDIT_LOG_MAX_BATCH. */
	for (size_t i = 0; i < b->n; i++) {
		if (b->slots[i].len == REFUSED) {
			h->out[olen++] = '-';
			h->out[olen++] = '\n';
		} else {
			olen += put_index(h->out + olen, first++);
		}
	}
	h->olen = olen;
	return ERR_OK;
}

static void *
committer(void *arg)
{
	struct appender *a = arg;
	struct batch mine = { 0 };

	pthread_mutex_lock(&a->mu);
	for (;;) {
		struct batch tmp;
		struct handoff *h;

		while (a->filling.n == 0 && !a->eof && !a->failed)
			pthread_cond_wait(&a->cv, &a->mu);
		/*
		 * The log holds at most two batches between prepare and
		 * publish: wait until the syncer has taken the last one
		 * handed over, which it does once it published the one
		 * before.
		 */
		while (a->ntaken < a->nhand && !a->failed)
			pthread_cond_wait(&a->cv, &a->mu);
		if (a->failed || (a->filling.n == 0 && a->eof))
			break;
		/* Take everything queued so far: this is the group commit. */
		tmp = mine;
		mine = a->filling;
		a->filling = tmp;
		h = &a->hand[a->nhand & 1];
		pthread_cond_broadcast(&a->cv);
		pthread_mutex_unlock(&a->mu);
		int r = prepare_batch(a, &mine, h);

		batch_clear(&mine);
		pthread_mutex_lock(&a->mu);
		if (r != ERR_OK)
			break;
		a->nhand++;
		pthread_cond_broadcast(&a->cv);
	}
	a->prepared_all = 1;
	pthread_cond_broadcast(&a->cv);
	pthread_mutex_unlock(&a->mu);
	batch_free(&mine);
	return NULL;
}

/*
 * Makes each handed-over batch durable, acknowledges it (prints its
 * indices), then publishes it. A failure stops it; what was printed is
 * durable.
 */
static void *
syncer(void *arg)
{
	struct appender *a = arg;
	unsigned unpub = 0;	/* durable batches not yet published */
	int r, stopped = 0;	/* this thread failed */

	pthread_mutex_lock(&a->mu);
	for (;;) {
		struct handoff *h;

		while (a->ntaken == a->nhand && !a->prepared_all)
			pthread_cond_wait(&a->cv, &a->mu);
		if (a->ntaken == a->nhand)
			break;
		h = &a->hand[a->ntaken & 1];
		a->ntaken++;
		pthread_cond_broadcast(&a->cv);
		pthread_mutex_unlock(&a->mu);
		if (h->logged && (r = audit_log_commit(a->log)) != ERR_OK) {
			set_failed(a, 1, "cannot make entries durable: %s (%s)",
			    err_str(r), strerror(errno));
			stopped = 1;
			pthread_mutex_lock(&a->mu);
			break;
		}
		/* Durable: acknowledge, then publish (reopening would, too). */
		if (fwrite(h->out, 1, h->olen, stdout) != h->olen ||
		    fflush(stdout) != 0) {
			set_failed(a, 0, "cannot write the indices: %s",
			    strerror(errno));
			stopped = 1;
			pthread_mutex_lock(&a->mu);
			break;
		}
		pthread_mutex_lock(&a->mu);
		if (h->logged) {
			a->acked = h->end;
			unpub++;
		}
		/*
		 * With the next batch ready, make it durable first and
		 * publish both after (one checkpoint): up to two durable
		 * batches wait, so with one being committed and one prepared
		 * the log holds at most AUDIT_LOG_INFLIGHT.
		 */
		if (unpub < 2 && a->ntaken < a->nhand)
			continue;
		pthread_mutex_unlock(&a->mu);
		unpub = 0;
		if ((r = audit_log_publish(a->log)) != ERR_OK) {
			set_failed(a, 0, "cannot publish entries: %s (%s); every "
			    "index printed is durable; rerun to recover the log",
			    err_str(r), strerror(errno));
			stopped = 1;
			pthread_mutex_lock(&a->mu);
			break;
		}
		pthread_mutex_lock(&a->mu);
	}
	pthread_mutex_unlock(&a->mu);
	/* Also after the committer failed: what is durable gets published. */
	if (unpub > 0 && !stopped && (r = audit_log_publish(a->log)) != ERR_OK)
		set_failed(a, 0, "cannot publish entries: %s (%s); every index "
		    "printed is durable; rerun to recover the log", err_str(r),
		    strerror(errno));
	return NULL;
}

/*
 * Hands one canonical entry (or a refusal, entry NULL) to the committer;
 * the caller keeps entry. The committer is woken only when the queue was
 * empty: it takes everything queued once it wakes anyway.
 */
static int
enqueue(struct appender *a, const char *entry, size_t len)
{
	int r, wake;

	pthread_mutex_lock(&a->mu);
	while (batch_full(&a->filling) && !a->failed)
		pthread_cond_wait(&a->cv, &a->mu);
	if (a->failed) {
		pthread_mutex_unlock(&a->mu);
		return ERR_IO;
	}
	wake = a->filling.n == 0;
	r = batch_add(&a->filling, entry, len);
	if (wake)
		pthread_cond_broadcast(&a->cv);
	pthread_mutex_unlock(&a->mu);
	return r;
}

/*
 * What entry_time_now makes, without its snprintf per line (the reader
 * thread's alone): the date changes once a second.
 */
static void
time_now(char now[40])
{
	static time_t sec = -1;
	static char prefix[40];
	static size_t plen;
	struct timespec ts;
	long us;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (ts.tv_sec != sec) {
		struct tm tm;

		/* "YYYY-MM-DDTHH:MM:SS.", then six digits and "Z". */
		gmtime_r(&ts.tv_sec, &tm);
		plen = strftime(prefix, sizeof(prefix) - 8,
		    "%Y-%m-%dT%H:%M:%S.", &tm);
		sec = ts.tv_sec;
	}
	memcpy(now, prefix, plen);
	us = ts.tv_nsec / 1000;
	for (int i = 5; i >= 0; i--, us /= 10)
		now[plen + (size_t)i] = (char)('0' + us % 10);
	now[plen + 6] = 'Z';
	now[plen + 7] = '\0';
}

static int
handle_line(struct appender *a, const char *line, size_t len, uint64_t lineno,
    int *refused)
{
	char why[256], now[40], *canon = NULL;
	size_t clen;
	int r;

	while (len > 0 && line[len - 1] == '\r')
		len--;
	time_now(now);
	r = entry_canonicalize(line, len, now, &canon, &clen, why, sizeof(why));
	if (r != ERR_OK) {
		cli_error("line %" PRIu64 ": entry refused: %s", lineno, why);
		*refused = 1;
		return enqueue(a, NULL, 0);
	}
	r = enqueue(a, canon, clen);
	free(canon);
	return r;
}

/* Reads stdin line by line; lines longer than ENTRY_MAX_INPUT are refused. */
static int
read_lines(struct appender *a, int *refused)
{
	size_t cap = ENTRY_MAX_INPUT + 65536, have = 0, start;
	char *buf = malloc(cap);
	uint64_t lineno = 0;
	int skipping = 0, r = ERR_OK;

	if (buf == NULL)
		return ERR_NOMEM;
	for (;;) {
		ssize_t n = read(STDIN_FILENO, buf + have, cap - have);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = ERR_IO;
			break;
		}
		have += (size_t)n;
		start = 0;
		for (;;) {
			char *nl = memchr(buf + start, '\n', have - start);
			size_t len;

			if (nl == NULL)
				break;
			len = (size_t)(nl - (buf + start));
			lineno++;
			if (skipping) {
				skipping = 0;
			} else if (len > 0 && (r = handle_line(a, buf + start, len,
			    lineno, refused)) != ERR_OK) {
				goto out;
			}
			start += len + 1;
		}
		memmove(buf, buf + start, have - start);
		have -= start;
		if (n == 0) {
			if (have > 0 && !skipping) {
				lineno++;
				r = handle_line(a, buf, have, lineno, refused);
			}
			break;
		}
		if (have == cap) {
			/* One line fills the buffer: refuse it, skip its rest. */
			cli_error("line %" PRIu64 ": entry refused: longer than "
			    "%d bytes", lineno + 1, ENTRY_MAX_INPUT);
			*refused = 1;
			if ((r = enqueue(a, NULL, 0)) != ERR_OK)
				break;
			have = 0;
			skipping = 1;
		}
	}
 out:
	free(buf);
	return r;
}

static void
warn_line(const char *msg)
{
	cli_error("%s", msg);
}

static int
log_append(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "no-witness", no_argument, NULL, 'W' },
		{ "stats", no_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 },
	};
	struct appender a;
	struct timespec t0, t1;
	int stats = 0;
	const char *dir = NULL;
	char why[512] = "";
	pthread_t th, ts;
	int c, r, refused = 0, witness = 1;
	size_t got;

	while ((c = getopt_long(argc, argv, "d:", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 'W': witness = 0; break;
		case 'S': stats = 1; break;
		default: return 2;
		}
	}
	if (dir == NULL) {
		cli_error("usage: bulwark log append --dir DIR < entries.jsonl");
		return 2;
	}
	memset(&a, 0, sizeof(a));
	a.ents = calloc(AUDIT_LOG_MAX_BATCH, sizeof(*a.ents));
	a.lens = calloc(AUDIT_LOG_MAX_BATCH, sizeof(*a.lens));
	a.hand[0].out = malloc(4 * AUDIT_LOG_MAX_BATCH * 21);
	a.hand[1].out = malloc(4 * AUDIT_LOG_MAX_BATCH * 21);
	if (a.ents == NULL || a.lens == NULL || a.hand[0].out == NULL ||
	    a.hand[1].out == NULL) {
		cli_error("out of memory");
		r = 1;
		goto out;
	}
	if ((r = audit_log_open(dir, &a.log, why, sizeof(why))) != ERR_OK) {
		cli_error("%s", why);
		r = 1;
		goto out;
	}
	a.acked = audit_log_size(a.log);
	pthread_mutex_init(&a.mu, NULL);
	pthread_cond_init(&a.cv, NULL);
	if (pthread_create(&ts, NULL, syncer, &a) != 0) {
		cli_error("cannot start the syncer thread");
		r = 1;
		goto out;
	}
	if (pthread_create(&th, NULL, committer, &a) != 0) {
		cli_error("cannot start the committer thread");
		pthread_mutex_lock(&a.mu);
		a.prepared_all = 1;
		pthread_cond_broadcast(&a.cv);
		pthread_mutex_unlock(&a.mu);
		pthread_join(ts, NULL);
		r = 1;
		goto out;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = read_lines(&a, &refused);
	pthread_mutex_lock(&a.mu);
	a.eof = 1;
	pthread_cond_broadcast(&a.cv);
	pthread_mutex_unlock(&a.mu);
	pthread_join(th, NULL);
	pthread_join(ts, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (stats)
		fprintf(stderr, "stats: %" PRIu64 " entries in %" PRIu64
		    " batches in %.6f s\n", a.entries, a.batches,
		    elapsed(&t0, &t1));
	if (a.failed && a.unacked) {
		cli_error("%s; nothing after index %" PRIu64 " was acknowledged; "
		    "rerun to recover the log", a.why, a.acked - (a.acked > 0));
		r = 1;
		goto out;
	}
	if (a.failed) {
		cli_error("%s", a.why);
		r = 1;
		goto out;
	}
	if (r != ERR_OK) {
		cli_error("reading entries failed: %s", err_str(r));
		r = 1;
		goto out;
	}
	if (witness && audit_log_witness(a.log, &got, warn_line) != ERR_OK)
		cli_error("checkpoint not cosigned; 'bulwark log checkpoint "
		    "--dir %s' retries", dir);
	r = refused ? 1 : 0;
 out:
	audit_log_close(a.log);
	batch_free(&a.filling);
	free(a.ents);
	free(a.lens);
	free(a.hand[0].out);
	free(a.hand[1].out);
	return r;
}

/* ---- checkpoint ---- */

static int
log_checkpoint(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
	};
	struct audit_log *log = NULL;
	const char *dir = NULL;
	char why[512] = "", path[PATH_MAX], *note = NULL;
	size_t got = 0, len;
	int c, r;

	while ((c = getopt_long(argc, argv, "d:", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		default: return 2;
		}
	}
	if (dir == NULL) {
		cli_error("usage: bulwark log checkpoint --dir DIR");
		return 2;
	}
	if ((r = audit_log_open(dir, &log, why, sizeof(why))) != ERR_OK) {
		cli_error("%s", why);
		return 1;
	}
	r = audit_log_witness(log, &got, warn_line);
	audit_log_close(log);
	snprintf(path, sizeof(path), "%s/checkpoint", dir);
	if (fs_read_file(path, NOTE_MAX_LEN, &note, &len) != ERR_OK) {
		cli_error("cannot read '%s'", path);
		return 1;
	}
	fwrite(note, 1, len, stdout);
	free(note);
	if (r != ERR_OK) {
		cli_error("witnessing failed: %s", err_str(r));
		return 1;
	}
	fprintf(stderr, "checkpoint published with %zu witness "
	    "cosignature%s\n", got, got == 1 ? "" : "s");
	return 0;
}

/* ---- reading the published log ---- */

/* The published checkpoint, parsed (signature not checked: prove/show). */
static int
read_published(const char *dir, struct checkpoint *c)
{
	char path[PATH_MAX], *note = NULL;
	struct note *n = NULL;
	size_t len;
	int r;

	memset(c, 0, sizeof(*c));
	snprintf(path, sizeof(path), "%s/checkpoint", dir);
	if ((r = fs_read_file(path, NOTE_MAX_LEN, &note, &len)) != ERR_OK) {
		cli_error("cannot read '%s': %s; is '%s' a log directory?", path,
		    err_str(r), dir);
		return r;
	}
	if ((r = note_parse(note, len, &n)) == ERR_OK)
		r = checkpoint_parse(n->text, n->text_len, c);
	if (r != ERR_OK)
		cli_error("'%s' is malformed: %s; run 'bulwark log verify'",
		    path, err_str(r));
	note_free(n);
	free(note);
	return r;
}

/* Entry index of the tree of size leaves: *data points into the reader. */
static int
read_entry(struct tile_reader *t, uint64_t index, const uint8_t **data,
    size_t *len)
{
	size_t offs[TILE_WIDTH], lens[TILE_WIDTH], blen;
	const uint8_t *b;
	unsigned w;
	int r;

	if ((r = tile_reader_bundle(t, index / TILE_WIDTH, &b, &blen, &w)) != ERR_OK)
		return r;
	if ((r = tile_bundle_split(b, blen, w, offs, lens)) != ERR_OK)
		return r;
	*data = b + offs[index % TILE_WIDTH];
	*len = lens[index % TILE_WIDTH];
	return ERR_OK;
}

static void
print_hash_array(uint8_t proof[][MERKLE_HASH_LEN], size_t n)
{
	char s[64];

	printf("  \"proof\": [");
	for (size_t i = 0; i < n; i++) {
		b64(proof[i], MERKLE_HASH_LEN, s, sizeof(s));
		printf("%s\n    \"%s\"", i ? "," : "", s);
	}
	printf("%s]\n", n ? "\n  " : "");
}

static int
log_prove(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "index", required_argument, NULL, 'i' },
		{ "old", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = NULL, *index_s = NULL, *old_s = NULL;
	uint8_t (*proof)[MERKLE_HASH_LEN] = NULL;
	uint8_t h[MERKLE_HASH_LEN], oldroot[MERKLE_HASH_LEN];
	struct tile_reader *t = NULL;
	struct checkpoint c;
	uint64_t index = 0, old = 0;
	char s1[64], s2[64];
	size_t n = 0;
	int ch, r, rc = 1;

	while ((ch = getopt_long(argc, argv, "d:i:o:", opts, NULL)) != -1) {
		switch (ch) {
		case 'd': dir = optarg; break;
		case 'i': index_s = optarg; break;
		case 'o': old_s = optarg; break;
		default: return 2;
		}
	}
	if (dir == NULL || (index_s == NULL) == (old_s == NULL) ||
	    (index_s != NULL && parse_u64(index_s, &index) != ERR_OK) ||
	    (old_s != NULL && parse_u64(old_s, &old) != ERR_OK)) {
		cli_error("usage: bulwark log prove --dir DIR (--index N | --old M)");
		return 2;
	}
	if (read_published(dir, &c) != ERR_OK)
		return 1;
	if ((index_s != NULL && index >= c.size) ||
	    (old_s != NULL && (old == 0 || old > c.size))) {
		cli_error("%s %" PRIu64 " is out of range: the log's checkpoint "
		    "covers %" PRIu64 " entries", index_s ? "index" : "old size",
		    index_s ? index : old, c.size);
		goto out;
	}
	if ((proof = calloc(MERKLE_MAX_PROOF, MERKLE_HASH_LEN)) == NULL ||
	    tile_reader_new(dir, c.size, &t) != ERR_OK)
		goto out;
	b64(c.root, MERKLE_HASH_LEN, s2, sizeof(s2));
	if (index_s != NULL) {
		const uint8_t *d;
		size_t len;

		if ((r = read_entry(t, index, &d, &len)) != ERR_OK ||
		    (r = merkle_prove_inclusion(index, c.size, tile_reader_node,
		    t, proof, &n)) != ERR_OK) {
			cli_error("cannot prove entry %" PRIu64 ": '%s': %s",
			    index, tile_reader_last_path(t), err_str(r));
			goto out;
		}
		merkle_leaf_hash(d, len, h);
		b64(h, MERKLE_HASH_LEN, s1, sizeof(s1));
		printf("{\n  \"leafIdx\": %" PRIu64 ",\n  \"treeSize\": %" PRIu64
		    ",\n  \"root\": \"%s\",\n  \"leafHash\": \"%s\",\n",
		    index, c.size, s2, s1);
	} else {
		struct tile_reader *ot = NULL;

		if ((r = merkle_prove_consistency(old, c.size, tile_reader_node,
		    t, proof, &n)) != ERR_OK ||
		    (r = tile_reader_new(dir, old, &ot)) != ERR_OK ||
		    (r = merkle_root(old, tile_reader_node, ot, oldroot)) != ERR_OK) {
			cli_error("cannot prove consistency from %" PRIu64 ": %s",
			    old, err_str(r));
			tile_reader_free(ot);
			goto out;
		}
		tile_reader_free(ot);
		b64(oldroot, MERKLE_HASH_LEN, s1, sizeof(s1));
		printf("{\n  \"size1\": %" PRIu64 ",\n  \"size2\": %" PRIu64
		    ",\n  \"root1\": \"%s\",\n  \"root2\": \"%s\",\n",
		    old, c.size, s1, s2);
	}
	print_hash_array(proof, n);
	printf("}\n");
	rc = 0;
 out:
	tile_reader_free(t);
	free(proof);
	checkpoint_release(&c);
	return rc;
}

/* ---- verify ---- */

struct progress {
	int tty;
	struct timespec last;
	struct timespec start;
};

static void
show_progress(void *ctx, uint64_t done, uint64_t total)
{
	struct progress *p = ctx;
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (done < total && elapsed(&p->last, &now) < 0.25)
		return;
	p->last = now;
	fprintf(stderr, "\rverifying: %" PRIu64 "/%" PRIu64 " entries (%.0f%%)",
	    done, total, total ? 100.0 * (double)done / (double)total : 100.0);
	if (done == total)
		fputc('\n', stderr);
}

#define MAX_KEYS 32

static int
log_verify(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "key", required_argument, NULL, 'k' },
		{ "witness-key", required_argument, NULL, 'w' },
		{ "older", required_argument, NULL, 'o' },
		{ "remember", required_argument, NULL, 'r' },
		{ "quiet", no_argument, NULL, 'q' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = NULL, *key = NULL, *remember = NULL;
	const char *wkeys[MAX_KEYS], *older[MAX_KEYS + 1];
	size_t nw = 0, no = 0, olens[MAX_KEYS + 1];
	char *owned[MAX_KEYS + 1], *stored_key = NULL;
	struct audit_verify_opts o;
	struct audit_verify_result *res = NULL;
	struct progress prog;
	struct timespec t0, t1;
	int ch, r, rc = 1, quiet = 0;

	memset(owned, 0, sizeof(owned));
	while ((ch = getopt_long(argc, argv, "d:k:w:o:r:q", opts, NULL)) != -1) {
		switch (ch) {
		case 'd': dir = optarg; break;
		case 'k': key = optarg; break;
		case 'w':
			if (nw == MAX_KEYS) {
				cli_error("at most %d witness keys", MAX_KEYS);
				return 2;
			}
			wkeys[nw++] = optarg;
			break;
		case 'o':
			if (no == MAX_KEYS) {
				cli_error("at most %d older checkpoints", MAX_KEYS);
				return 2;
			}
			r = fs_read_file(optarg, NOTE_MAX_LEN, &owned[no], &olens[no]);
			if (r != ERR_OK) {
				cli_error("cannot read older checkpoint '%s': %s",
				    optarg, err_str(r));
				goto out;
			}
			older[no] = owned[no];
			no++;
			break;
		case 'r': remember = optarg; break;
		case 'q': quiet = 1; break;
		default: return 2;
		}
	}
	if (dir == NULL) {
		cli_error("usage: bulwark log verify --dir DIR [--key VKEY] "
		    "[--witness-key WKEY]... [--older FILE]... [--remember FILE]");
		goto out;
	}
	if (key == NULL) {
		if (audit_log_vkey(dir, &stored_key) != ERR_OK) {
			cli_error("no --key given and '%s/log.pub' is unreadable; "
			    "pass the log's verifier key with --key", dir);
			goto out;
		}
		key = stored_key;
		if (!quiet)
			fprintf(stderr, "warning: checking against the key stored "
			    "in the log directory; pass --key with a key you "
			    "trust to detect a replaced key\n");
	}
	if (remember != NULL) {
		r = fs_read_file(remember, NOTE_MAX_LEN, &owned[no], &olens[no]);
		if (r == ERR_OK) {
			older[no] = owned[no];
			no++;
		} else if (r != ERR_NOTFOUND) {
			cli_error("cannot read '%s': %s", remember, err_str(r));
			goto out;
		}
	}
	memset(&o, 0, sizeof(o));
	o.log_vkey = key;
	o.witness_vkeys = wkeys;
	o.nwitness = nw;
	o.older = older;
	o.older_lens = olens;
	o.nolder = no;
	memset(&prog, 0, sizeof(prog));
	if (!quiet && isatty(STDERR_FILENO)) {
		o.progress = show_progress;
		o.progress_ctx = &prog;
	}
	if ((res = malloc(sizeof(*res))) == NULL)
		goto out;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = audit_verify(dir, &o, res);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (r != ERR_OK) {
		fprintf(stderr, "%s", res->report);
		cli_error("verification FAILED for '%s' (%zu problem%s)", dir,
		    res->nproblems, res->nproblems == 1 ? "" : "s");
		goto out;
	}
	if (remember != NULL) {
		char path[PATH_MAX], *note = NULL;
		size_t len;

		snprintf(path, sizeof(path), "%s/checkpoint", dir);
		if (fs_read_file(path, NOTE_MAX_LEN, &note, &len) != ERR_OK ||
		    fs_write_atomic(remember, note, len, 0644, 0) != ERR_OK) {
			cli_error("verified, but cannot remember the checkpoint "
			    "in '%s'", remember);
			free(note);
			goto out;
		}
		free(note);
	}
	if (!quiet)
		printf("verified: %" PRIu64 " entries, checkpoint signed by the "
		    "log%s%s, in %.2f s\n", res->size, nw ? " and cosigned by "
		    "every witness key given" : "", no ? ", consistent with "
		    "every older checkpoint" : "", elapsed(&t0, &t1));
	rc = 0;
 out:
	for (size_t i = 0; i <= MAX_KEYS; i++)
		free(owned[i]);
	free(stored_key);
	free(res);
	return rc;
}

/* ---- show ---- */

struct filter {
	const char *actor, *action, *target, *session;
	const char *since, *until;
	int json;
};

/* Compares RFC 3339 UTC times of any precision (both without the Z). */
static int
time_cmp(const char *a, const char *b)
{
	size_t la = strcspn(a, "Z"), lb = strcspn(b, "Z");
	size_t n = la < lb ? la : lb;
	int c = strncmp(a, b, n);

	if (c != 0)
		return c;
	return la < lb ? -1 : la > lb ? 1 : 0;
}

static int
match_str(json_t *e, const char *key, const char *pattern)
{
	const char *v = json_string_value(json_object_get(e, key));

	if (pattern == NULL)
		return 1;
	return v != NULL && fnmatch(pattern, v, 0) == 0;
}

/*
 * One field of an entry for a reader's terminal: entries carry what users
 * and targets chose (commands, reasons), so nothing in them is obeyed as
 * a control character and no entry can look like two (termsafe_vis).
 */
static void
show_text(const char *prefix, const char *v)
{
	char *safe;

	if (v == NULL)
		v = "-";
	if ((safe = termsafe_vis(v, strlen(v), cli_term_flags())) == NULL) {
		printf("%s(out of memory)", prefix);
		return;
	}
	printf("%s%s", prefix, safe);
	free(safe);
}

/*
 * A stored record as it is, but for C1 controls and DEL, which JSON need
 * not escape and some terminals obey: written as \u00XX, the same JSON.
 */
static void
show_json(const uint8_t *d, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (d[i] == 0xc2 && i + 1 < len && d[i + 1] >= 0x80 &&
		    d[i + 1] <= 0x9f)
			printf("\\u00%02x", d[++i]);
		else if (d[i] == 0x7f)
			fputs("\\u007f", stdout);
		else
			putchar(d[i]);
	}
	putchar('\n');
}

static void
show_entry(uint64_t index, const uint8_t *d, size_t len, const struct filter *f)
{
	static const char *const extra[] = { "target", "decision", "session",
	    "source" };
	json_t *e;
	const char *tm;

	if ((e = json_loadb((const char *)d, len, 0, NULL)) == NULL) {
		printf("%" PRIu64 "  (unparsable entry)\n", index);
		return;
	}
	tm = json_string_value(json_object_get(e, "time"));
	if (!match_str(e, "actor", f->actor) || !match_str(e, "action", f->action) ||
	    !match_str(e, "target", f->target) ||
	    !match_str(e, "session", f->session) ||
	    (f->since != NULL && (tm == NULL || time_cmp(tm, f->since) < 0)) ||
	    (f->until != NULL && (tm == NULL || time_cmp(tm, f->until) > 0)))
		goto out;
	if (f->json) {
		show_json(d, len);
		goto out;
	}
	printf("%-8" PRIu64, index);
	show_text(" ", tm);
	show_text("  ", json_string_value(json_object_get(e, "actor")));
	show_text("  ", json_string_value(json_object_get(e, "action")));
	for (size_t i = 0; i < sizeof(extra) / sizeof(extra[0]); i++) {
		const char *v = json_string_value(json_object_get(e, extra[i]));
		char prefix[32];

		if (v == NULL)
			continue;
		snprintf(prefix, sizeof(prefix), "  %s=", extra[i]);
		show_text(prefix, v);
	}
	if (json_object_get(e, "detail") != NULL) {
		char *s = json_dumps(json_object_get(e, "detail"),
		    JSON_COMPACT | JSON_SORT_KEYS);

		if (s != NULL)
			show_text("  detail=", s);
		free(s);
	}
	putchar('\n');
 out:
	json_decref(e);
}

static int
log_show(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "actor", required_argument, NULL, 'a' },
		{ "action", required_argument, NULL, 'A' },
		{ "target", required_argument, NULL, 't' },
		{ "session", required_argument, NULL, 's' },
		{ "since", required_argument, NULL, 'S' },
		{ "until", required_argument, NULL, 'U' },
		{ "from", required_argument, NULL, 'f' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct filter f;
	struct tile_reader *t = NULL;
	struct checkpoint c;
	const char *dir = NULL;
	uint64_t from = 0;
	int ch, r, rc = 1;

	memset(&f, 0, sizeof(f));
	while ((ch = getopt_long(argc, argv, "d:", opts, NULL)) != -1) {
		switch (ch) {
		case 'd': dir = optarg; break;
		case 'a': f.actor = optarg; break;
		case 'A': f.action = optarg; break;
		case 't': f.target = optarg; break;
		case 's': f.session = optarg; break;
		case 'S': f.since = optarg; break;
		case 'U': f.until = optarg; break;
		case 'j': f.json = 1; break;
		case 'f':
			if (parse_u64(optarg, &from) != ERR_OK) {
				cli_error("--from takes an entry index");
				return 2;
			}
			break;
		default: return 2;
		}
	}
	if (dir == NULL) {
		cli_error("usage: bulwark log show --dir DIR [--actor PATTERN] "
		    "[--action PATTERN] [--since TIME] [--until TIME] [--json]");
		return 2;
	}
	if (read_published(dir, &c) != ERR_OK)
		return 1;
	if (tile_reader_new(dir, c.size, &t) != ERR_OK)
		goto out;
	for (uint64_t b = from / TILE_WIDTH; b * TILE_WIDTH < c.size; b++) {
		size_t offs[TILE_WIDTH], lens[TILE_WIDTH], blen;
		const uint8_t *data;
		unsigned w;

		if ((r = tile_reader_bundle(t, b, &data, &blen, &w)) != ERR_OK ||
		    (r = tile_bundle_split(data, blen, w, offs, lens)) != ERR_OK) {
			cli_error("cannot read '%s': %s; run 'bulwark log verify "
			    "--dir %s'", tile_reader_last_path(t), err_str(r), dir);
			goto out;
		}
		for (unsigned i = 0; i < w; i++) {
			uint64_t idx = b * TILE_WIDTH + i;

			if (idx >= from)
				show_entry(idx, data + offs[i], lens[i], &f);
		}
	}
	rc = 0;
 out:
	tile_reader_free(t);
	checkpoint_release(&c);
	return rc;
}

/* ---- witness configuration ---- */

static int
log_witness(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "url", required_argument, NULL, 'u' },
		{ "key", required_argument, NULL, 'k' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = NULL, *url = NULL, *key = NULL;
	int ch, r;

	if (argc < 2 || strcmp(argv[1], "add") != 0) {
		cli_error("usage: bulwark log witness add --dir DIR --url URL "
		    "--key WITNESSVKEY");
		return 2;
	}
	argc--;
	argv++;
	while ((ch = getopt_long(argc, argv, "d:u:k:", opts, NULL)) != -1) {
		switch (ch) {
		case 'd': dir = optarg; break;
		case 'u': url = optarg; break;
		case 'k': key = optarg; break;
		default: return 2;
		}
	}
	if (dir == NULL || url == NULL || key == NULL) {
		cli_error("usage: bulwark log witness add --dir DIR --url URL "
		    "--key WITNESSVKEY");
		return 2;
	}
	r = audit_log_witness_add(dir, url, key);
	if (r != ERR_OK) {
		cli_error("cannot add witness '%s': %s; the URL must be http:// "
		    "or https:// and the key a cosignature/v1 verifier key", url,
		    err_str(r));
		return 1;
	}
	return 0;
}

int
cmd_log(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} subs[] = {
		{ "init", log_init },
		{ "append", log_append },
		{ "checkpoint", log_checkpoint },
		{ "prove", log_prove },
		{ "verify", log_verify },
		{ "show", log_show },
		{ "witness", log_witness },
		{ "blob", cmd_log_blob },
	};

	if (argc < 2) {
		cli_error("usage: bulwark log (init|append|checkpoint|prove|"
		    "verify|show|witness) ...; see 'bulwark help log'");
		return 2;
	}
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		if (strcmp(argv[1], subs[i].name) == 0) {
			optind = 1;
			return subs[i].fn(argc - 1, argv + 1);
		}
	}
	cli_error("'%s' is not a log command; see 'bulwark help log'", argv[1]);
	return 2;
}
