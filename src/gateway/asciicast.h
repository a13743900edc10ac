/*
 * asciicast.h - session recordings in asciicast v2
 * (https://docs.asciinema.org/manual/asciicast/v2/), built in memory for
 * bulwark-shell to send to bulwarkd as SESSION_DATA.
 *
 * A recording is one header line,
 *
 *	{"version": 2, "width": W, "height": H, "timestamp": T,
 *	 "env": {"TERM": "..."}}
 *
 * then one event line per call: [TIME, "o", DATA] for output,
 * [TIME, "i", DATA] for input, [TIME, "r", "COLSxROWS"] for a resize,
 * [TIME, "m", LABEL] for a marker, TIME in seconds with six decimals. DATA
 * comes from arbitrary bytes and is always a valid JSON string: escaped
 * per RFC 8259, each maximal invalid UTF-8 subsequence replaced by U+FFFD,
 * and a sequence cut off at the end of one chunk carried over to the next
 * chunk of the same stream, output or input (or replaced at
 * asciicast_finish).
 *
 * The cap bounds the whole recording in bytes. Room for one final marker
 * is kept back from the start; when an event would not fit beside it, the
 * marker "bulwark: recording stopped: cap of N bytes reached" is written
 * instead and every later event is dropped (the session goes on).
 *
 * The bytes accumulate in a pending buffer that the caller drains with
 * asciicast_pending / asciicast_consume; they are never rewritten once
 * produced, so they can be sent as they come.
 */
#ifndef BULWARK_GATEWAY_ASCIICAST_H
#define BULWARK_GATEWAY_ASCIICAST_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define ASCIICAST_TERM_MAX	64	/* longest TERM kept in the header */

struct asciicast_config {
	unsigned width, height;	/* of the terminal, both >= 1 */
	int64_t timestamp;	/* start, seconds since the epoch */
	const char *term;	/* TERM, or NULL to leave env empty */
	uint64_t cap;		/* bytes of the whole recording */
};

struct asciicast;

/*
 * Starts a recording; the header is pending at once. ERR_INVAL for a zero
 * width or height, ERR_RANGE when cap cannot hold the header and the
 * final marker. Free with asciicast_free.
 */
int asciicast_new(const struct asciicast_config *cfg,
    struct asciicast **out) WUR;
void asciicast_free(struct asciicast *a);

/*
 * Events; t_us is the time since the start in microseconds. Once the cap
 * is reached these do nothing and return ERR_OK; the only error is
 * ERR_NOMEM.
 */
int asciicast_output(struct asciicast *a, uint64_t t_us, const void *data,
    size_t len) WUR;
/* What the user sent, in a session without a terminal (nothing echoes). */
int asciicast_input(struct asciicast *a, uint64_t t_us, const void *data,
    size_t len) WUR;
int asciicast_resize(struct asciicast *a, uint64_t t_us, unsigned cols,
    unsigned rows) WUR;
/* label is any NUL-terminated bytes; it is escaped like output. */
int asciicast_marker(struct asciicast *a, uint64_t t_us,
    const char *label) WUR;
/* Writes out each stream's carried incomplete sequence as U+FFFD. */
int asciicast_finish(struct asciicast *a, uint64_t t_us) WUR;

/* 1 once the cap was reached and the marker written. */
int asciicast_stopped(const struct asciicast *a);
/* Bytes produced so far, header included (<= cap). */
uint64_t asciicast_size(const struct asciicast *a);

/* The bytes produced and not yet consumed; borrowed until the next call. */
const uint8_t *asciicast_pending(const struct asciicast *a, size_t *len);
/* Drops the first n pending bytes (n is clamped to what is pending). */
void asciicast_consume(struct asciicast *a, size_t n);

#endif
