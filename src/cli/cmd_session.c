/*
 * cmd_session.c - bulwark session list|show|play: the sessions bulwarkd
 * recorded, and their asciicast v2 recordings, which live as blobs beside
 * the audit log (STATE/log/blob/sha256/HEX), bound to it by their hash.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "audit/blob.h"
#include "cli/cli.h"
#include "cli/gwclient.h"
#include "common/fsutil.h"
#include "common/termsafe.h"
#include "gateway/proto.h"
#include "common/banned.h"

#define DEFAULT_STATE "/var/lib/bulwark"
#define IDLE_CAP 2.0	/* seconds: longer pauses are shortened to this */

static const char *sockopt;

static const char *const columns[] = {
	"ID", "USER", "LOGIN@TARGET", "KIND", "STARTED", "ENDED", "EXIT",
	"IN", "OUT", "RECORDING",
};
#define NCOLS (sizeof(columns) / sizeof(columns[0]))

/* Unix seconds as local "YYYY-MM-DD HH:MM:SS"; other text as it is. */
static const char *
when(const char *s, char *buf, size_t len)
{
	char *end;
	long long v;
	time_t t;
	struct tm tm;

	if (*s < '0' || *s > '9')
		return s;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return s;
	t = (time_t)v;
	if (localtime_r(&t, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		return s;
	return buf;
}

/* The hex name of a recording field: "sha256:HEX" or "HEX"; NULL if none. */
static const char *
recording_hex(const char *s)
{
	if (strncmp(s, "sha256:", 7) == 0)
		s += 7;
	if (strlen(s) != BLOB_HEX_LEN)
		return NULL;
	return s;
}

/* Whether a session's ENDED field says it has not ended: "0" from
 * bulwarkd (the list shows "-"). */
static int
still_open(const char *ended)
{
	return strcmp(ended, "0") == 0 || strcmp(ended, "-") == 0 ||
	    ended[0] == '\0';
}

/*
 * Rewrites session lines with readable times (cells joined by tabs); with
 * open_only, only the sessions still running.
 */
static char *
readable(const char *text, int open_only)
{
	size_t cap = strlen(text) * 2 + 256, len = 0;
	char *out = malloc(cap), *copy = strdup(text), *line, *next;

	if (out == NULL || copy == NULL) {
		free(out);
		free(copy);
		return NULL;
	}
	out[0] = '\0';
	for (line = copy; *line != '\0'; line = next) {
		char *f[NCOLS + 1], *nl = strchr(line, '\n'), tb[2][32];
		size_t n;

		next = nl ? nl + 1 : line + strlen(line);
		if (nl)
			*nl = '\0';
		n = gw_split_tabs(line, f, NCOLS + 1);
		if (open_only && (n != NCOLS || !still_open(f[5])))
			continue;
		if (n == NCOLS) {
			f[4] = (char *)when(f[4], tb[0], sizeof(tb[0]));
			/* A session still running has ended 0. */
			f[5] = strcmp(f[5], "0") == 0 ? "-" :
			    (char *)when(f[5], tb[1], sizeof(tb[1]));
		}
		for (size_t i = 0; i < n; i++) {
			int w = snprintf(out + len, cap - len, "%s%s", f[i],
			    i + 1 < n ? "\t" : "\n");

			if (w < 0 || (size_t)w >= cap - len)
				break;
			len += (size_t)w;
		}
	}
	free(copy);
	return out;
}

static int
session_list(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 'S' },
		{ "user", required_argument, NULL, 'u' },
		{ "open", no_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *usage =
	    "usage: bulwark session list [--user USER] [-n N] [--open]";
	const char *user = NULL, *narg = NULL;
	struct wire_builder *b = NULL;
	struct rpc_response *resp = NULL;
	char *text = NULL, *rows = NULL;
	uint32_t count = 0;
	int c, st, rc = 1, open_only = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "S:u:n:", opts, NULL)) != -1) {
		switch (c) {
		case 'S': sockopt = optarg; break;
		case 'u': user = optarg; break;
		case 'n': narg = optarg; break;
		case 'o': open_only = 1; break;
		default:
			cli_error("%s", usage);
			return 2;
		}
	}
	if (argc != optind) {
		cli_error("%s", usage);
		return 2;
	}
	if (user != NULL && !gw_valid_user(user)) {
		cli_error("'%s' is not a valid user name", user);
		return 2;
	}
	if (narg != NULL && gw_parse_u32(narg, 1, 1000000, &count) != ERR_OK) {
		cli_error("-n wants a number from 1 to 1000000, not '%s'", narg);
		return 2;
	}
	if (wire_builder_new(PROTO_SESSION_LIST, &b) != ERR_OK ||
	    (user != NULL && wire_put_str(b, P_USER, user) != ERR_OK) ||
	    (narg != NULL && wire_put_u32(b, P_COUNT, count) != ERR_OK)) {
		cli_error("cannot build the request");
		goto out;
	}
	if (gw_call(gw_socket_path(sockopt), b, &resp, &st) != 0)
		goto out;
	if (st != ERR_OK) {
		gw_fail(st, "cannot list sessions");
		goto out;
	}
	text = gw_resp_str(resp, P_TEXT);
	rows = text ? readable(text, open_only) : NULL;
	if (rows == NULL) {
		cli_error("out of memory");
		goto out;
	}
	if (*rows == '\0')
		printf("no %ssessions%s%s%s\n", open_only ? "open " : "",
		    user ? " of " : "", user ? user : "",
		    open_only ? "" : " yet");
	else
		gw_print_table(rows, columns, NCOLS, NCOLS - 1);
	rc = 0;
 out:
	free(rows);
	free(text);
	rpc_response_free(resp);
	wire_builder_free(b);
	return rc;
}

static int
parse_id(const char *s, uint64_t *id)
{
	char *end;
	unsigned long long v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v == 0)
		return -1;
	*id = v;
	return 0;
}

/*
 * The arguments of a subcommand that takes only -S and a session ID: 0
 * with *id set, or 2 after the usage message.
 */
static int
id_args(int argc, char **argv, const char *usage, uint64_t *id)
{
	if (gw_socket_only(&sockopt, argc, argv, 1, usage) != 0)
		return 2;
	if (parse_id(argv[optind], id) != 0) {
		cli_error("%s (a number from 'bulwark session list')", usage);
		return 2;
	}
	return 0;
}

/*
 * Sends request type about session id: 0 with the answer in *resp and
 * its status in *st, or 1 after saying why there is none.
 */
static int
session_call(int type, uint64_t id, struct rpc_response **resp, int *st)
{
	struct wire_builder *b = NULL;
	int rc = 1;

	*resp = NULL;
	if (wire_builder_new(type, &b) != ERR_OK ||
	    wire_put_u64(b, P_SESSION, id) != ERR_OK)
		cli_error("cannot build the request");
	else
		rc = gw_call(gw_socket_path(sockopt), b, resp, st) != 0;
	wire_builder_free(b);
	return rc;
}

/* Asks for session id; *f gets its NCOLS fields inside *linep. */
static int
session_get(uint64_t id, char **linep, char **f)
{
	struct rpc_response *resp = NULL;
	char *text = NULL;
	int st, rc = 1;

	*linep = NULL;
	if (session_call(PROTO_SESSION_GET, id, &resp, &st) != 0)
		goto out;
	if (st == ERR_OK && ((text = gw_resp_str(resp, P_TEXT)) == NULL ||
	    *text == '\0'))
		st = ERR_NOTFOUND;
	if (st == ERR_NOTFOUND) {
		gw_say("no session %" PRIu64 "; 'bulwark session list' "
		    "shows them", id);
		goto out;
	}
	if (st != ERR_OK) {
		gw_fail(st, "cannot look up session %" PRIu64, id);
		goto out;
	}
	text[strcspn(text, "\n")] = '\0';
	if (gw_split_tabs(text, f, NCOLS) != NCOLS) {
		cli_error("bulwarkd described session %" PRIu64 " in an "
		    "unknown form; are bulwark and bulwarkd the same version?",
		    id);
		goto out;
	}
	*linep = text;
	text = NULL;
	rc = 0;
 out:
	free(text);
	rpc_response_free(resp);
	return rc;
}

static int
session_show(int argc, char **argv)
{
	static const char *const label[] = {
		"session", "user", "target", "kind", "started", "ended",
		"exit", "bytes in", "bytes out", "recording",
	};
	char *line, *f[NCOLS], tb[32];
	uint64_t id;

	if (id_args(argc, argv, "usage: bulwark session show ID", &id) != 0)
		return 2;
	if (session_get(id, &line, f) != 0)
		return 1;
	for (size_t i = 0; i < NCOLS; i++) {
		const char *v = f[i];

		if (i == 4 || i == 5)
			v = when(v, tb, sizeof(tb));
		if (i == NCOLS - 1 && recording_hex(v) != NULL)
			printf("%-10s sha256:%s (bulwark session play %" PRIu64
			    ")\n", label[i], recording_hex(v), id);
		else
			printf("%-10s %s\n", label[i], v);
	}
	free(line);
	return 0;
}

/*
 * Ctrl-C (and the other ways a reader stops a replay) ends play and watch
 * through their usual end, which undoes the modes the recording set and
 * flushes the terminal's answers: killed outright, they would stay.
 */
static volatile sig_atomic_t stop_asked;

static void
on_stop_signal(int sig)
{
	(void)sig;
	stop_asked = 1;
}

static void
catch_stop_signals(void)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP };
	struct sigaction sa;
	size_t i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		(void)sigaction(sigs[i], &sa, NULL);
}

static void
sleep_for(double s)
{
	struct timespec ts;

	if (s <= 0)
		return;
	ts.tv_sec = (time_t)s;
	ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !stop_asked)
		;
}

/* Event data through the filter of termsafe.h, to stdout. */
static int
write_safe(struct termsafe *ts, const char *p, size_t len)
{
	uint8_t *out;
	int r;

	if ((out = malloc(TERMSAFE_OUT_MAX(len))) == NULL)
		return -1;
	r = fs_write_all(STDOUT_FILENO, out, termsafe_filter(ts,
	    (const uint8_t *)p, len, out)) == ERR_OK ? 0 : -1;
	free(out);
	return r;
}

/*
 * The end of a replay: the modes it set are undone, and whatever the
 * terminal may still have typed in answer is discarded rather than left
 * for the reader's shell.
 */
static void
play_end(struct termsafe *ts)
{
	uint8_t out[TERMSAFE_FINISH_MAX];

	(void)!fs_write_all(STDOUT_FILENO, out, termsafe_finish(ts, out));
	if (isatty(STDIN_FILENO))
		(void)tcflush(STDIN_FILENO, TCIFLUSH);
}

/* Replays a recording, line by line: see play(). */
struct player {
	struct termsafe ts;
	uint64_t id;		/* the session, for messages */
	double speed;		/* 0: at once */
	double last;		/* time of the last event shown */
	size_t lineno;
};

static void
player_init(struct player *pl, uint64_t id, double speed)
{
	memset(pl, 0, sizeof(*pl));
	termsafe_init(&pl->ts, cli_term_flags());
	pl->id = id;
	pl->speed = speed;
}

/*
 * One line of an asciicast v2 recording (n bytes at line, its newline
 * included or not): the header is checked, output and input events are
 * shown, others skipped. 0, or 1 after saying what is wrong.
 */
static int
play_line(struct player *pl, const char *line, size_t n)
{
	json_error_t jerr;
	json_t *j, *jt, *jk, *jd;
	double t;
	int rc = 1;

	pl->lineno++;
	if (n == 0 || (n == 1 && line[0] == '\n'))
		return 0;
	if ((j = json_loadb(line, n, JSON_DECODE_ANY | JSON_ALLOW_NUL,
	    &jerr)) == NULL) {
		cli_error("the recording of session %" PRIu64 " is malformed: "
		    "line %zu is not JSON (%s)", pl->id, pl->lineno, jerr.text);
		return 1;
	}
	if (pl->lineno == 1) {
		json_t *v = json_is_object(j) ? json_object_get(j, "version") :
		    NULL;

		if (!json_is_integer(v) || json_integer_value(v) != 2)
			cli_error("the recording of session %" PRIu64 " is "
			    "malformed: its first line is not an asciicast v2 "
			    "header", pl->id);
		else
			rc = 0;
		json_decref(j);
		return rc;
	}
	if (!json_is_array(j) || json_array_size(j) != 3 ||
	    !json_is_number(jt = json_array_get(j, 0)) ||
	    !json_is_string(jk = json_array_get(j, 1)) ||
	    !json_is_string(jd = json_array_get(j, 2)) ||
	    !isfinite(t = json_number_value(jt)) || t < 0) {
		cli_error("the recording of session %" PRIu64 " is malformed: "
		    "line %zu is not an event [TIME, CODE, DATA]", pl->id,
		    pl->lineno);
		json_decref(j);
		return 1;
	}
	rc = 0;
	if (strcmp(json_string_value(jk), "o") == 0 ||
	    strcmp(json_string_value(jk), "i") == 0) {
		if (pl->speed > 0) {
			double gap = t - pl->last;

			if (gap > IDLE_CAP)
				gap = IDLE_CAP;
			sleep_for(gap / pl->speed);
		}
		if (write_safe(&pl->ts, json_string_value(jd),
		    json_string_length(jd)) != 0)
			rc = 1;
		/* Pauses count from the last output shown. */
		if (t > pl->last)
			pl->last = t;
	}
	json_decref(j);
	return rc;
}

/*
 * Writes the output and input events of the recording in f to stdout
 * (input events come only from sessions without a terminal, where nothing
 * echoed what the user sent, so they are shown where it was sent): at once
 * (speed 0, --cat) or with the recorded pauses, each at most IDLE_CAP,
 * divided by speed. id names the session in messages. What the target
 * printed passes the filter of termsafe.h: the recording is the target's
 * words, and the terminal it is shown on is the reader's.
 */
static int
play(FILE *f, uint64_t id, double speed)
{
	struct player pl;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int rc = 1;

	player_init(&pl, id, speed);
	while (!stop_asked && (n = getline(&line, &cap, f)) >= 0)
		if (play_line(&pl, line, (size_t)n) != 0)
			goto out;
	if (pl.lineno == 0 && !stop_asked) {
		cli_error("the recording of session %" PRIu64 " is empty", id);
		goto out;
	}
	rc = 0;
 out:
	play_end(&pl.ts);
	free(line);
	return rc;
}

static int
session_play(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 'S' },
		{ "cat", no_argument, NULL, 'c' },
		{ "raw", no_argument, NULL, 'r' },
		{ "speed", required_argument, NULL, 's' },
		{ "state", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *usage = "usage: bulwark session play ID [--cat | "
	    "--raw] [--speed X] [--state DIR]";
	const char *state = getenv("BULWARK_STATE"), *hex, *speedarg = NULL;
	char *line = NULL, *f[NCOLS], logdir[4096];
	FILE *tmp = NULL;
	double speed = 1.0;
	uint64_t id;
	int c, r, cat = 0, raw = 0, rc = 1;

	if (state == NULL || *state == '\0')
		state = DEFAULT_STATE;
	optind = 1;
	while ((c = getopt_long(argc, argv, "S:", opts, NULL)) != -1) {
		switch (c) {
		case 'S': sockopt = optarg; break;
		case 'c': cat = 1; break;
		case 'r': raw = 1; break;
		case 's': speedarg = optarg; break;
		case 'd': state = optarg; break;
		default:
			cli_error("%s", usage);
			return 2;
		}
	}
	if (argc - optind != 1 || parse_id(argv[optind], &id) != 0 ||
	    (cat && raw)) {
		cli_error("%s", usage);
		return 2;
	}
	if (speedarg != NULL) {
		char *end;

		errno = 0;
		speed = strtod(speedarg, &end);
		if (errno != 0 || *end != '\0' || !isfinite(speed) ||
		    speed < 0.01 || speed > 1000) {
			cli_error("--speed wants a factor from 0.01 to 1000, "
			    "not '%s'", speedarg);
			return 2;
		}
	}
	if (snprintf(logdir, sizeof(logdir), "%s/log", state) >=
	    (int)sizeof(logdir)) {
		cli_error("--state '%s' is too long", state);
		return 2;
	}
	if (session_get(id, &line, f) != 0)
		return 1;
	if ((hex = recording_hex(f[NCOLS - 1])) == NULL) {
		cli_error("session %" PRIu64 " has no recording%s", id,
		    still_open(f[5]) ?
		    " yet (it is still running, or ended before it was "
		    "stored)" : "");
		goto out;
	}
	/*
	 * audit_blob_get copies the blob only after checking its hash, so
	 * --raw can write straight to stdout; the others parse a checked
	 * copy in a temporary file.
	 */
	if (!raw && (tmp = tmpfile()) == NULL) {
		cli_error("cannot make a temporary file: %s", strerror(errno));
		goto out;
	}
	r = audit_blob_get(logdir, hex, raw ? STDOUT_FILENO : fileno(tmp));
	if (r == ERR_NOTFOUND) {
		cli_error("the recording of session %" PRIu64 " (sha256:%s) is "
		    "not in %s/blob; pass --state DIR (bulwarkd's state "
		    "directory) or set BULWARK_STATE", id, hex, logdir);
		goto out;
	}
	if (r == ERR_MISMATCH) {
		cli_error("the recording of session %" PRIu64 " does not "
		    "match its hash: it was altered; run 'bulwark log verify "
		    "--dir %s'", id, logdir);
		goto out;
	}
	if (r != ERR_OK) {
		cli_error("cannot read the recording of session %" PRIu64
		    " from %s: %s (%s)", id, logdir, err_str(r),
		    errno == EACCES ? "run it as root" : strerror(errno));
		goto out;
	}
	if (raw) {
		rc = 0;
		goto out;
	}
	rewind(tmp);
	catch_stop_signals();
	rc = play(tmp, id, cat ? 0 : speed);
 out:
	if (tmp != NULL)
		fclose(tmp);
	free(line);
	return rc;
}

/* ---- watch ------------------------------------------------------------ */

#define WATCH_POLL_MS	100
#define WATCH_ASK_MS	2000	/* how often bulwarkd is asked if it ended */
#define WATCH_LINE_MAX	(64u << 20)

/*
 * Whether session id has an end time, as bulwarkd says: 1, 0, or -1 when
 * it could not be asked (said).
 */
static int
watch_session_ended(uint64_t id)
{
	char *line, *f[NCOLS];
	int ended;

	if (session_get(id, &line, f) != 0)
		return -1;
	ended = !still_open(f[5]);
	free(line);
	return ended;
}

/*
 * Whether the recording open as fd is no longer at path: bulwarkd stores
 * it as a blob (a link of the same file) and then removes the draft.
 */
static int
recording_gone(int fd, const char *path)
{
	struct stat a, b;

	if (fstat(fd, &a) != 0)
		return 0;
	if (a.st_nlink == 0 || lstat(path, &b) != 0)
		return 1;
	return a.st_ino != b.st_ino || a.st_dev != b.st_dev;
}

/*
 * Shows the complete lines in buf[0..*len) and keeps the incomplete last
 * one for later. 0, or 1 on a malformed line.
 */
static int
watch_lines(struct player *pl, char *buf, size_t *len)
{
	char *p = buf, *nl;

	while ((nl = memchr(p, '\n', *len - (size_t)(p - buf))) != NULL) {
		if (play_line(pl, p, (size_t)(nl - p + 1)) != 0)
			return 1;
		p = nl + 1;
	}
	*len -= (size_t)(p - buf);
	memmove(buf, p, *len);
	return 0;
}

/*
 * Follows the recording of a live session as bulwarkd writes it (each
 * second, as the shell sends it): what is there at once, then what comes,
 * through the same filter as play. Ends when the session does: the file
 * is unlinked once stored as a blob, or bulwarkd reports an end time (it
 * recovered a session it was killed during). While bulwarkd cannot be
 * asked, it is asked less often, so its absence is said now and then.
 */
static int
watch(int fd, const char *path, uint64_t id)
{
	struct player pl;
	size_t len = 0, cap = 1 << 16;
	char *buf = malloc(cap), *nb;
	int idle_ms = 0, ask_ms = WATCH_ASK_MS, gone = 0, rc = 1, e;
	ssize_t n;

	player_init(&pl, id, 0);
	if (buf == NULL) {
		cli_error("out of memory");
		return 1;
	}
	while (!stop_asked) {
		if (len == cap) {
			if (cap >= WATCH_LINE_MAX || (nb = realloc(buf,
			    cap * 2)) == NULL) {
				cli_error("the recording of session %" PRIu64
				    " has a line over %u MiB", id,
				    WATCH_LINE_MAX >> 20);
				goto out;
			}
			buf = nb;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			cli_error("cannot read the recording of session %" PRIu64
			    ": %s", id, strerror(errno));
			goto out;
		}
		if (n > 0) {
			len += (size_t)n;
			idle_ms = 0;
			if (watch_lines(&pl, buf, &len) != 0)
				goto out;
			continue;
		}
		/* At the end of what is written so far. */
		if (gone)
			break;		/* drained after the end: done */
		e = 0;
		if (recording_gone(fd, path))
			e = 1;
		else if (idle_ms >= ask_ms) {
			e = watch_session_ended(id);
			if (e >= 0)
				ask_ms = WATCH_ASK_MS;
			else if (ask_ms < 16 * WATCH_ASK_MS)
				ask_ms *= 2;	/* said once per try: less often */
			idle_ms = 0;
		}
		if (e == 1)
			gone = 1;	/* one more read for the last bytes */
		else
			sleep_for(WATCH_POLL_MS / 1000.0);
		idle_ms += WATCH_POLL_MS;
	}
	rc = 0;
 out:
	play_end(&pl.ts);
	free(buf);
	if (rc == 0)
		fprintf(stderr, "\r\nbulwark: %s session %" PRIu64 "\r\n",
		    gone ? "the end of" : "stopped watching", id);
	return rc;
}

static int
session_watch(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 'S' },
		{ "state", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *usage = "usage: bulwark session watch ID "
	    "[--state DIR]";
	const char *state = getenv("BULWARK_STATE");
	char *line = NULL, *f[NCOLS], path[4096];
	struct stat st;
	uint64_t id;
	int c, fd, rc = 1;

	if (state == NULL || *state == '\0')
		state = DEFAULT_STATE;
	optind = 1;
	while ((c = getopt_long(argc, argv, "S:", opts, NULL)) != -1) {
		switch (c) {
		case 'S': sockopt = optarg; break;
		case 'd': state = optarg; break;
		default:
			cli_error("%s", usage);
			return 2;
		}
	}
	if (argc - optind != 1 || parse_id(argv[optind], &id) != 0) {
		cli_error("%s", usage);
		return 2;
	}
	if (snprintf(path, sizeof(path), "%s/rec/%" PRIu64 ".cast", state,
	    id) >= (int)sizeof(path)) {
		cli_error("--state '%s' is too long", state);
		return 2;
	}
	if (session_get(id, &line, f) != 0)
		return 1;
	if (!still_open(f[5])) {
		cli_error("session %" PRIu64 " has ended; 'bulwark session "
		    "play %" PRIu64 "' replays it", id, id);
		goto out;
	}
	/* Not a FIFO planted to hang us: O_NONBLOCK, then a regular file. */
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC |
	    O_NONBLOCK)) >= 0 && (fstat(fd, &st) != 0 ||
	    !S_ISREG(st.st_mode))) {
		cli_error("%s is not a regular file: not a recording", path);
		close(fd);
		goto out;
	}
	if (fd < 0) {
		if (errno == ENOENT && strcmp(f[3], "sftp") == 0)
			cli_error("session %" PRIu64 " is sftp, which is not "
			    "recorded: nothing to watch", id);
		else if (errno == ENOENT)
			cli_error("session %" PRIu64 " is not being recorded "
			    "in %s/rec (it ended, or bulwarkd's state is "
			    "elsewhere: pass --state DIR or set "
			    "BULWARK_STATE)", id, state);
		else
			cli_error("cannot open %s: %s%s", path, strerror(errno),
			    errno == EACCES ? " (run it as root)" : "");
		goto out;
	}
	catch_stop_signals();
	fprintf(stderr, "bulwark: watching session %" PRIu64 " of %s on %s "
	    "(its output reaches bulwarkd each second); Ctrl-C stops\r\n",
	    id, f[1], f[2]);
	rc = watch(fd, path, id);
	close(fd);
 out:
	free(line);
	return rc;
}

/*
 * Ends a live session: bulwarkd logs session.kill and shuts down the
 * shell's connection, and the shell stops ssh at once. The session then
 * ends with what was recorded ("ended by an administrator").
 */
static int
session_kill(int argc, char **argv)
{
	struct rpc_response *resp = NULL;
	uint64_t id;
	int st, rc = 1;

	if (id_args(argc, argv, "usage: bulwark session kill ID", &id) != 0)
		return 2;
	if (session_call(PROTO_SESSION_KILL, id, &resp, &st) != 0)
		goto out;
	if (st == ERR_NOTFOUND) {
		gw_say("session %" PRIu64 " is not open (it ended, or never "
		    "was); 'bulwark session list --open' shows the open ones",
		    id);
		goto out;
	}
	if (st != ERR_OK) {
		gw_fail(st, "cannot end session %" PRIu64, id);
		goto out;
	}
	printf("session %" PRIu64 " ended: its ssh is stopped, and what was "
	    "recorded is kept ('bulwark session show %" PRIu64 "')\n", id, id);
	rc = 0;
 out:
	rpc_response_free(resp);
	return rc;
}

/* The live gateway logins: who is connected now. */
static int
session_logins(int argc, char **argv)
{
	static const char *const cols[] = {
		"LOGIN", "USER", "FROM", "SINCE", "SSHD-PID",
	};
	static const char *usage = "usage: bulwark session logins";
	struct wire_builder *b = NULL;
	struct rpc_response *resp = NULL;
	char *text = NULL, *out = NULL;
	size_t cap, len = 0;
	int st, rc = 1;

	if (gw_socket_only(&sockopt, argc, argv, 0, usage) != 0)
		return 2;
	if (wire_builder_new(PROTO_LOGIN_LIST, &b) != ERR_OK) {
		cli_error("cannot build the request");
		goto out;
	}
	if (gw_call(gw_socket_path(sockopt), b, &resp, &st) != 0)
		goto out;
	if (st != ERR_OK) {
		gw_fail(st, "cannot list logins");
		goto out;
	}
	if ((text = gw_resp_str(resp, P_TEXT)) == NULL ||
	    (out = malloc(cap = strlen(text) * 2 + 64)) == NULL) {
		cli_error("out of memory");
		goto out;
	}
	out[0] = '\0';
	/* The opening time, readable. */
	for (char *line = text, *next; *line != '\0'; line = next) {
		char *f[7], *nl = strchr(line, '\n'), tb[32];
		size_t n;
		int w;

		next = nl ? nl + 1 : line + strlen(line);
		if (nl)
			*nl = '\0';
		if ((n = gw_split_tabs(line, f, 7)) != 6)
			continue;
		w = snprintf(out + len, cap - len, "%s\t%s\t%s\t%s\t%s\n", f[0],
		    f[1], f[2], when(f[3], tb, sizeof(tb)), f[4]);
		if (w < 0 || (size_t)w >= cap - len)
			break;
		len += (size_t)w;
	}
	if (len == 0)
		printf("no live logins\n");
	else
		gw_print_table(out, cols, 5, -1);
	rc = 0;
 out:
	free(out);
	free(text);
	rpc_response_free(resp);
	wire_builder_free(b);
	return rc;
}

int
cmd_session(int argc, char **argv)
{
	static const struct gw_sub subs[] = {
		{ "list", session_list }, { "show", session_show },
		{ "play", session_play }, { "logins", session_logins },
		{ "kill", session_kill }, { "watch", session_watch },
	};

	sockopt = NULL;
	return gw_dispatch("session", subs, sizeof(subs) / sizeof(subs[0]),
	    argc, argv);
}
