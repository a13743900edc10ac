/*
 * record.c - the asciicast recording of a session, sent to bulwarkd as
 * SESSION_DATA on the session's own connection. A terminal session
 * records what the user sees; one without a terminal also records what
 * the user sends, since nothing echoes it.
 *
 * Bytes are sent when 32 KiB are buffered, when the oldest unsent byte is
 * a second old, and at the end, in chunks of at most PROTO_DATA_MAX: few
 * enough calls not to slow the terminal, soon enough that a session
 * killed with the gateway loses at most a second of it. record_output
 * only appends: the relay flushes after it has written the output to the
 * user, so that no keystroke's echo waits for a round trip to bulwarkd.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/wire.h"
#include "gateway/asciicast.h"
#include "gateway/proto.h"
#include "shell/shell.h"
#include "common/banned.h"

#define FLUSH_BYTES	(32 * 1024)
#define FLUSH_MS	1000
#define FALLBACK_COLS	80
#define FALLBACK_ROWS	24

struct record {
	struct asciicast *cast;
	struct rpc_client *rpc;
	struct wire_builder *b;
	int stop_sent;		/* bulwarkd was told the cap was reached */
	int64_t start_us;	/* CLOCK_MONOTONIC */
	int64_t oldest_ms;	/* of the oldest unsent byte; 0: none */
};

static uint64_t
elapsed_us(const struct record *rec)
{
	int64_t d = clock_mono_us() - rec->start_us;

	return d > 0 ? (uint64_t)d : 0;
}

/* The terminal's size from stdin, the pty sshd gave us. */
static void
term_size(unsigned *cols, unsigned *rows)
{
	struct winsize ws;

	*cols = FALLBACK_COLS;
	*rows = FALLBACK_ROWS;
	if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 &&
	    ws.ws_row > 0) {
		*cols = ws.ws_col;
		*rows = ws.ws_row;
	}
}

static void
note_pending(struct record *rec)
{
	size_t len;

	(void)asciicast_pending(rec->cast, &len);
	if (len > 0 && rec->oldest_ms == 0)
		rec->oldest_ms = clock_mono_us() / 1000;
}

int
record_start(struct record **out, struct rpc_client *rpc, uint64_t cap,
    const char *term)
{
	struct asciicast_config cfg;
	struct record *rec = NULL;
	int r = ERR_INTERNAL;

	*out = NULL;
	if ((rec = calloc(1, sizeof(*rec))) == NULL)
		return ERR_NOMEM;
	rec->rpc = rpc;
	rec->start_us = clock_mono_us();
	memset(&cfg, 0, sizeof(cfg));
	term_size(&cfg.width, &cfg.height);
	cfg.timestamp = (int64_t)time(NULL);
	cfg.term = term;
	cfg.cap = cap;
	if ((r = asciicast_new(&cfg, &rec->cast)) != ERR_OK ||
	    (r = wire_builder_new(PROTO_SESSION_DATA, &rec->b)) != ERR_OK)
		goto out;
	note_pending(rec);
	*out = rec;
	rec = NULL;
	r = ERR_OK;
 out:
	record_free(rec);
	return r;
}

void
record_free(struct record *rec)
{
	if (rec == NULL)
		return;
	asciicast_free(rec->cast);
	wire_builder_free(rec->b);
	free(rec);
}

/* After an event: its result, and the flush clock started if need be. */
static int
noted(struct record *rec, int r)
{
	if (r == ERR_OK)
		note_pending(rec);
	return r;
}

int
record_output(struct record *rec, const void *p, size_t len)
{
	return noted(rec, asciicast_output(rec->cast, elapsed_us(rec), p, len));
}

int
record_input(struct record *rec, const void *p, size_t len)
{
	return noted(rec, asciicast_input(rec->cast, elapsed_us(rec), p, len));
}

int
record_stopped(const struct record *rec)
{
	return asciicast_stopped(rec->cast);
}

int
record_resize(struct record *rec)
{
	unsigned cols, rows;

	term_size(&cols, &rows);
	return noted(rec, asciicast_resize(rec->cast, elapsed_us(rec), cols,
	    rows));
}

/*
 * One SESSION_DATA; stopped says it ends with the cap's marker, so that
 * bulwarkd logs that the rest of the session goes unrecorded (and says
 * so on its alert feed) while the session runs, not only at its end.
 */
static int
send_chunk(struct record *rec, const uint8_t *p, size_t len, int stopped)
{
	struct rpc_response *resp = NULL;
	int r;

	wire_builder_reset(rec->b, PROTO_SESSION_DATA);
	if ((r = wire_put_bytes(rec->b, P_DATA, p, len)) != ERR_OK ||
	    (stopped && (r = wire_put_u8(rec->b, P_STOPPED, 1)) != ERR_OK))
		return r;
	r = rpc_client_call(rec->rpc, rec->b, &resp);
	rpc_response_free(resp);
	return r;
}

int
record_flush(struct record *rec, int all)
{
	const uint8_t *p;
	size_t len, n;
	int r;

	if (all && (r = asciicast_finish(rec->cast, elapsed_us(rec))) !=
	    ERR_OK)
		return r;
	p = asciicast_pending(rec->cast, &len);
	if (len == 0 || (!all && len < FLUSH_BYTES &&
	    clock_mono_us() / 1000 - rec->oldest_ms < FLUSH_MS))
		return ERR_OK;
	while (len > 0) {
		int stopped;

		n = len < PROTO_DATA_MAX ? len : PROTO_DATA_MAX;
		stopped = n == len && !rec->stop_sent &&
		    asciicast_stopped(rec->cast);
		if ((r = send_chunk(rec, p, n, stopped)) != ERR_OK)
			return r;
		rec->stop_sent |= stopped;
		asciicast_consume(rec->cast, n);
		p = asciicast_pending(rec->cast, &len);
	}
	rec->oldest_ms = 0;
	return ERR_OK;
}

int
record_timeout_ms(const struct record *rec)
{
	int64_t left;

	if (rec == NULL || rec->oldest_ms == 0)
		return -1;
	left = rec->oldest_ms + FLUSH_MS - clock_mono_us() / 1000;
	return left > 0 ? (int)left : 0;
}
