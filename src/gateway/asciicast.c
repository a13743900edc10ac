/*
 * asciicast.c - asciicast v2 recordings with a byte cap (see asciicast.h).
 *
 * Each event is first formatted into a scratch buffer, so that its exact
 * length is known before it is admitted against the cap; only admitted
 * events are appended to the pending buffer.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/asciicast.h"
#include "common/banned.h"

#define CARRY_MAX	3	/* longest incomplete UTF-8 prefix */
/* Longest TIME we print: UINT64_MAX microseconds as seconds. */
#define TIME_MAX_LEN	21
#define ESC_MAX		6	/* "\u00XX" for one byte */
#define STOP_FMT	"bulwark: recording stopped: cap of %" PRIu64 \
			" bytes reached"

struct buf {
	uint8_t *p;
	size_t len, cap;
};

/* Output and input are two streams: each carries its own cut sequence. */
enum stream { ST_OUT, ST_IN, NSTREAM };

struct asciicast {
	struct buf pending;	/* produced, not yet consumed */
	size_t consumed;	/* pending.p[0..consumed) is gone */
	struct buf scratch;	/* the event being formatted */
	struct buf work;	/* carry + new bytes of one stream */
	uint8_t carry[NSTREAM][CARRY_MAX];
	size_t carry_len[NSTREAM];
	uint64_t cap;
	uint64_t size;		/* bytes produced */
	uint64_t reserve;	/* kept back for the marker */
	int stopped;
};

enum seq { SEQ_OK, SEQ_SHORT, SEQ_BAD };

static int
buf_reserve(struct buf *b, size_t more)
{
	size_t want;
	uint8_t *p;

	if (more <= b->cap - b->len)
		return ERR_OK;
	if (more > SIZE_MAX / 2 - b->len)
		return ERR_NOMEM;
	want = b->cap ? b->cap : 256;
	while (want < b->len + more)
		want *= 2;
	if ((p = realloc(b->p, want)) == NULL)
		return ERR_NOMEM;
	b->p = p;
	b->cap = want;
	return ERR_OK;
}

/* Appends without checking room: callers reserve first. */
static void
buf_put(struct buf *b, const void *p, size_t len)
{
	if (len == 0)
		return;		/* p may be NULL then */
	memcpy(b->p + b->len, p, len);
	b->len += len;
}

static void
buf_puts(struct buf *b, const char *s)
{
	buf_put(b, s, strlen(s));
}

/*
 * The UTF-8 sequence at p[0..len): SEQ_OK with its length in *n, SEQ_SHORT
 * when p holds a valid but unfinished prefix, SEQ_BAD with *n the bytes
 * of the maximal invalid subpart (Unicode's "substitution of maximal
 * subparts", which one U+FFFD replaces).
 */
static enum seq
utf8_seq(const uint8_t *p, size_t len, size_t *n)
{
	uint8_t b = p[0], lo = 0x80, hi = 0xbf;
	size_t need, i;

	*n = 1;
	if (b < 0x80)
		return SEQ_OK;
	if (b >= 0xc2 && b <= 0xdf)
		need = 1;
	else if (b >= 0xe0 && b <= 0xef)
		need = 2;
	else if (b >= 0xf0 && b <= 0xf4)
		need = 3;
	else
		return SEQ_BAD;
	if (b == 0xe0)
		lo = 0xa0;
	else if (b == 0xed)
		hi = 0x9f;
	else if (b == 0xf0)
		lo = 0x90;
	else if (b == 0xf4)
		hi = 0x8f;
	for (i = 1; i <= need; i++) {
		if (i >= len)
			return SEQ_SHORT;
		if (p[i] < lo || p[i] > hi) {
			*n = i;
			return SEQ_BAD;
		}
		lo = 0x80;
		hi = 0xbf;
	}
	*n = need + 1;
	return SEQ_OK;
}

/* One ASCII byte as JSON wants it inside a string. */
static void
escape_ascii(struct buf *b, uint8_t c)
{
	static const char hex[] = "0123456789abcdef";
	char e[ESC_MAX + 1];

	switch (c) {
	case '"':	buf_puts(b, "\\\""); return;
	case '\\':	buf_puts(b, "\\\\"); return;
	case '\b':	buf_puts(b, "\\b"); return;
	case '\f':	buf_puts(b, "\\f"); return;
	case '\n':	buf_puts(b, "\\n"); return;
	case '\r':	buf_puts(b, "\\r"); return;
	case '\t':	buf_puts(b, "\\t"); return;
	}
	if (c >= 0x20 && c != 0x7f) {
		buf_put(b, &c, 1);
		return;
	}
	memcpy(e, "\\u00", 4);
	e[4] = hex[c >> 4];
	e[5] = hex[c & 0xf];
	buf_put(b, e, ESC_MAX);
}

/*
 * Appends p[0..len) to b as the inside of a JSON string. Returns how many
 * bytes at the end form an unfinished sequence and were left out (only
 * when keep_short; otherwise they become U+FFFD too).
 */
static size_t
escape_json(struct buf *b, const uint8_t *p, size_t len, int keep_short)
{
	static const uint8_t fffd[] = { 0xef, 0xbf, 0xbd };
	size_t i = 0, n;

	while (i < len) {
		switch (utf8_seq(p + i, len - i, &n)) {
		case SEQ_OK:
			if (n == 1)
				escape_ascii(b, p[i]);
			else
				buf_put(b, p + i, n);
			break;
		case SEQ_SHORT:
			if (keep_short)
				return len - i;
			buf_put(b, fffd, sizeof(fffd));
			n = len - i;
			break;
		case SEQ_BAD:
			buf_put(b, fffd, sizeof(fffd));
			break;
		}
		i += n;
	}
	return 0;
}

/* "[TIME, " into scratch, emptied first; room for more bytes after. */
static int
event_start(struct asciicast *a, uint64_t t_us, size_t more)
{
	char t[TIME_MAX_LEN + 8];
	int r;

	a->scratch.len = 0;
	if ((r = buf_reserve(&a->scratch, sizeof(t) + more + 16)) != ERR_OK)
		return r;
	snprintf(t, sizeof(t), "[%" PRIu64 ".%06" PRIu64 ", ",
	    t_us / 1000000, t_us % 1000000);
	buf_puts(&a->scratch, t);
	return ERR_OK;
}

static int
emit(struct asciicast *a, const struct buf *line)
{
	int r;

	if ((r = buf_reserve(&a->pending, line->len)) != ERR_OK)
		return r;
	buf_put(&a->pending, line->p, line->len);
	a->size += line->len;
	return ERR_OK;
}

/* A marker event with label, already escaped-safe ASCII or not. */
static int
format_marker(struct asciicast *a, uint64_t t_us, const char *label)
{
	size_t len = strlen(label);
	int r;

	if ((r = event_start(a, t_us, ESC_MAX * len + 16)) != ERR_OK)
		return r;
	buf_puts(&a->scratch, "\"m\", \"");
	escape_json(&a->scratch, (const uint8_t *)label, len, 0);
	buf_puts(&a->scratch, "\"]\n");
	return ERR_OK;
}

static int
stop(struct asciicast *a, uint64_t t_us)
{
	char label[96];
	int r;

	snprintf(label, sizeof(label), STOP_FMT, a->cap);
	if ((r = format_marker(a, t_us, label)) != ERR_OK)
		return r;
	a->stopped = 1;
	memset(a->carry_len, 0, sizeof(a->carry_len));
	return emit(a, &a->scratch);
}

/* Admits the event in scratch against the cap, or stops the recording. */
static int
admit(struct asciicast *a, uint64_t t_us)
{
	if (a->size + a->scratch.len + a->reserve <= a->cap)
		return emit(a, &a->scratch);
	return stop(a, t_us);
}

/* The length of the stop marker at the latest possible time. */
static uint64_t
marker_reserve(uint64_t cap)
{
	char label[96];

	snprintf(label, sizeof(label), STOP_FMT, cap);
	/* "[" TIME ", " "\"m\", \"" label "\"]\n" */
	return 1 + TIME_MAX_LEN + 2 + 6 + strlen(label) + 3;
}

static int
header(struct asciicast *a, const struct asciicast_config *cfg)
{
	char h[160];
	size_t tlen;
	int r;

	a->scratch.len = 0;
	if ((r = buf_reserve(&a->scratch, sizeof(h) +
	    ESC_MAX * ASCIICAST_TERM_MAX + 16)) != ERR_OK)
		return r;
	snprintf(h, sizeof(h), "{\"version\": 2, \"width\": %u, "
	    "\"height\": %u, \"timestamp\": %" PRId64 ", \"env\": {",
	    cfg->width, cfg->height, cfg->timestamp);
	buf_puts(&a->scratch, h);
	if (cfg->term != NULL) {
		tlen = strnlen(cfg->term, ASCIICAST_TERM_MAX);
		buf_puts(&a->scratch, "\"TERM\": \"");
		escape_json(&a->scratch, (const uint8_t *)cfg->term, tlen, 0);
		buf_puts(&a->scratch, "\"");
	}
	buf_puts(&a->scratch, "}}\n");
	if (a->scratch.len + a->reserve > a->cap)
		return ERR_RANGE;
	return emit(a, &a->scratch);
}

int
asciicast_new(const struct asciicast_config *cfg, struct asciicast **out)
{
	struct asciicast *a = NULL;
	int r = ERR_INTERNAL;

	*out = NULL;
	if (cfg->width == 0 || cfg->height == 0)
		return ERR_INVAL;
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return ERR_NOMEM;
	a->cap = cfg->cap;
	a->reserve = marker_reserve(cfg->cap);
	if ((r = header(a, cfg)) != ERR_OK)
		goto out;
	*out = a;
	a = NULL;
	r = ERR_OK;
 out:
	asciicast_free(a);
	return r;
}

void
asciicast_free(struct asciicast *a)
{
	if (a == NULL)
		return;
	free(a->pending.p);
	free(a->scratch.p);
	free(a->work.p);
	free(a);
}

/* carry || data into work, so that a split sequence is decoded whole. */
static int
join_carry(struct asciicast *a, enum stream st, const void *data,
    size_t len)
{
	int r;

	a->work.len = 0;
	if ((r = buf_reserve(&a->work, a->carry_len[st] + len)) != ERR_OK)
		return r;
	buf_put(&a->work, a->carry[st], a->carry_len[st]);
	buf_put(&a->work, data, len);
	a->carry_len[st] = 0;
	return ERR_OK;
}

/*
 * An "o" or "i" event of work's bytes; keep_short carries an unfinished
 * tail over to the stream's next call.
 */
static int
data_work(struct asciicast *a, enum stream st, uint64_t t_us,
    int keep_short)
{
	size_t left, len = a->work.len;
	int r;

	if (len == 0)
		return ERR_OK;
	if (len > (SIZE_MAX - 64) / ESC_MAX)
		return ERR_NOMEM;
	if ((r = event_start(a, t_us, ESC_MAX * len + 16)) != ERR_OK)
		return r;
	buf_puts(&a->scratch, st == ST_IN ? "\"i\", \"" : "\"o\", \"");
	left = escape_json(&a->scratch, a->work.p, len, keep_short);
	memcpy(a->carry[st], a->work.p + len - left, left);
	a->carry_len[st] = left;
	if (left == len)
		return ERR_OK;	/* nothing but the start of a sequence */
	buf_puts(&a->scratch, "\"]\n");
	return admit(a, t_us);
}

static int
data_event(struct asciicast *a, enum stream st, uint64_t t_us,
    const void *data, size_t len)
{
	int r;

	if (a->stopped || len == 0)
		return ERR_OK;
	if ((r = join_carry(a, st, data, len)) != ERR_OK)
		return r;
	return data_work(a, st, t_us, 1);
}

int
asciicast_output(struct asciicast *a, uint64_t t_us, const void *data,
    size_t len)
{
	return data_event(a, ST_OUT, t_us, data, len);
}

int
asciicast_input(struct asciicast *a, uint64_t t_us, const void *data,
    size_t len)
{
	return data_event(a, ST_IN, t_us, data, len);
}

int
asciicast_finish(struct asciicast *a, uint64_t t_us)
{
	int r, st;

	for (st = 0; st < NSTREAM; st++) {
		if (a->stopped || a->carry_len[st] == 0)
			continue;
		if ((r = join_carry(a, (enum stream)st, NULL, 0)) != ERR_OK ||
		    (r = data_work(a, (enum stream)st, t_us, 0)) != ERR_OK)
			return r;
	}
	return ERR_OK;
}

int
asciicast_resize(struct asciicast *a, uint64_t t_us, unsigned cols,
    unsigned rows)
{
	char ev[48];
	int r;

	if (a->stopped)
		return ERR_OK;
	if ((r = event_start(a, t_us, sizeof(ev))) != ERR_OK)
		return r;
	snprintf(ev, sizeof(ev), "\"r\", \"%ux%u\"]\n", cols, rows);
	buf_puts(&a->scratch, ev);
	return admit(a, t_us);
}

int
asciicast_marker(struct asciicast *a, uint64_t t_us, const char *label)
{
	int r;

	if (a->stopped)
		return ERR_OK;
	if ((r = format_marker(a, t_us, label)) != ERR_OK)
		return r;
	return admit(a, t_us);
}

int
asciicast_stopped(const struct asciicast *a)
{
	return a->stopped;
}

uint64_t
asciicast_size(const struct asciicast *a)
{
	return a->size;
}

const uint8_t *
asciicast_pending(const struct asciicast *a, size_t *len)
{
	*len = a->pending.len - a->consumed;
	return a->pending.p + a->consumed;
}

void
asciicast_consume(struct asciicast *a, size_t n)
{
	size_t left = a->pending.len - a->consumed;

	a->consumed += n < left ? n : left;
	/*
	 * Compact once everything is gone, the usual case, or once most
	 * is, so that a caller draining in pieces does not grow the buffer.
	 */
	if (a->consumed == a->pending.len) {
		a->pending.len = 0;
		a->consumed = 0;
	} else if (a->consumed > a->pending.len / 2) {
		memmove(a->pending.p, a->pending.p + a->consumed,
		    a->pending.len - a->consumed);
		a->pending.len -= a->consumed;
		a->consumed = 0;
	}
}
