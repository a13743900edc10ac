/*
 * cmd_session.c - bulwark session list|show|play: the sessions bulwarkd
 * recorded, and their asciicast v2 recordings, which live as blobs beside
 * the audit log (STATE/log/blob/sha256/HEX), bound to it by their hash.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "audit/blob.h"
#include "cli/cli.h"
#include "cli/gwclient.h"
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

/* Rewrites session lines with readable times (cells joined by tabs). */
static char *
readable(const char *text)
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
		{ NULL, 0, NULL, 0 },
	};
	static const char *usage =
	    "usage: bulwark session list [--user USER] [-n N]";
	const char *user = NULL, *narg = NULL;
	struct wire_builder *b = NULL;
	struct rpc_response *resp = NULL;
	char *text = NULL, *rows = NULL;
	uint32_t count = 0;
	int c, st, rc = 1;

	optind = 1;
	while ((c = getopt_long(argc, argv, "S:u:n:", opts, NULL)) != -1) {
		switch (c) {
		case 'S': sockopt = optarg; break;
		case 'u': user = optarg; break;
		case 'n': narg = optarg; break;
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
	rows = text ? readable(text) : NULL;
	if (rows == NULL) {
		cli_error("out of memory");
		goto out;
	}
	if (*rows == '\0')
		printf("no sessions%s%s yet\n", user ? " of " : "",
		    user ? user : "");
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

/* Asks for session id; *f gets its NCOLS fields inside *linep. */
static int
session_get(uint64_t id, char **linep, char **f)
{
	struct wire_builder *b = NULL;
	struct rpc_response *resp = NULL;
	char *text = NULL;
	int st, rc = 1;

	*linep = NULL;
	if (wire_builder_new(PROTO_SESSION_GET, &b) != ERR_OK ||
	    wire_put_u64(b, P_SESSION, id) != ERR_OK) {
		cli_error("cannot build the request");
		goto out;
	}
	if (gw_call(gw_socket_path(sockopt), b, &resp, &st) != 0)
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
	wire_builder_free(b);
	return rc;
}

static int
session_show(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const label[] = {
		"session", "user", "target", "kind", "started", "ended",
		"exit", "bytes in", "bytes out", "recording",
	};
	char *line, *f[NCOLS], tb[32];
	uint64_t id;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "S:", opts, NULL)) != -1) {
		switch (c) {
		case 'S': sockopt = optarg; break;
		default:
			cli_error("usage: bulwark session show ID");
			return 2;
		}
	}
	if (argc - optind != 1 || parse_id(argv[optind], &id) != 0) {
		cli_error("usage: bulwark session show ID (a number from "
		    "'bulwark session list')");
		return 2;
	}
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

static int
write_all(const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(STDOUT_FILENO, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void
sleep_for(double s)
{
	struct timespec ts;

	if (s <= 0)
		return;
	ts.tv_sec = (time_t)s;
	ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
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
	r = write_all((const char *)out, termsafe_filter(ts,
	    (const uint8_t *)p, len, out));
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

	(void)write_all((const char *)out, termsafe_finish(ts, out));
	if (isatty(STDIN_FILENO))
		(void)tcflush(STDIN_FILENO, TCIFLUSH);
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
	struct termsafe ts;
	char *line = NULL;
	size_t cap = 0, lineno = 0;
	ssize_t n;
	double last = 0;
	int rc = 1;

	termsafe_init(&ts);

	while ((n = getline(&line, &cap, f)) >= 0) {
		json_error_t jerr;
		json_t *j, *jt, *jk, *jd;
		double t;

		lineno++;
		if (n == 0 || (n == 1 && line[0] == '\n'))
			continue;
		if ((j = json_loadb(line, (size_t)n, JSON_DECODE_ANY |
		    JSON_ALLOW_NUL, &jerr)) == NULL) {
			cli_error("the recording of session %" PRIu64 " is "
			    "malformed: line %zu is not JSON (%s)", id, lineno,
			    jerr.text);
			goto out;
		}
		if (lineno == 1) {
			json_t *v = json_is_object(j) ?
			    json_object_get(j, "version") : NULL;

			if (!json_is_integer(v) || json_integer_value(v) != 2) {
				cli_error("the recording of session %" PRIu64
				    " is malformed: its first line is not an "
				    "asciicast v2 header", id);
				json_decref(j);
				goto out;
			}
			json_decref(j);
			continue;
		}
		if (!json_is_array(j) || json_array_size(j) != 3 ||
		    !json_is_number(jt = json_array_get(j, 0)) ||
		    !json_is_string(jk = json_array_get(j, 1)) ||
		    !json_is_string(jd = json_array_get(j, 2)) ||
		    !isfinite(t = json_number_value(jt)) || t < 0) {
			cli_error("the recording of session %" PRIu64 " is "
			    "malformed: line %zu is not an event [TIME, CODE, "
			    "DATA]", id, lineno);
			json_decref(j);
			goto out;
		}
		if (strcmp(json_string_value(jk), "o") == 0 ||
		    strcmp(json_string_value(jk), "i") == 0) {
			if (speed > 0) {
				double gap = t - last;

				if (gap > IDLE_CAP)
					gap = IDLE_CAP;
				sleep_for(gap / speed);
			}
			if (write_safe(&ts, json_string_value(jd),
			    json_string_length(jd)) != 0) {
				json_decref(j);
				goto out;
			}
			/* Pauses count from the last output shown. */
			if (t > last)
				last = t;
		}
		json_decref(j);
	}
	if (lineno == 0) {
		cli_error("the recording of session %" PRIu64 " is empty", id);
		goto out;
	}
	rc = 0;
 out:
	play_end(&ts);
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
		    strcmp(f[5], "-") == 0 || f[5][0] == '\0' ?
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
	rc = play(tmp, id, cat ? 0 : speed);
 out:
	if (tmp != NULL)
		fclose(tmp);
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
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *usage = "usage: bulwark session kill ID (a number "
	    "from 'bulwark session list')";
	struct wire_builder *b = NULL;
	struct rpc_response *resp = NULL;
	uint64_t id;
	int c, st, rc = 1;

	optind = 1;
	while ((c = getopt_long(argc, argv, "S:", opts, NULL)) != -1) {
		if (c != 'S') {
			cli_error("%s", usage);
			return 2;
		}
		sockopt = optarg;
	}
	if (argc - optind != 1 || parse_id(argv[optind], &id) != 0) {
		cli_error("%s", usage);
		return 2;
	}
	if (wire_builder_new(PROTO_SESSION_KILL, &b) != ERR_OK ||
	    wire_put_u64(b, P_SESSION, id) != ERR_OK) {
		cli_error("cannot build the request");
		goto out;
	}
	if (gw_call(gw_socket_path(sockopt), b, &resp, &st) != 0)
		goto out;
	if (st == ERR_NOTFOUND) {
		gw_say("session %" PRIu64 " is not open (it ended, or never "
		    "was); 'bulwark session list' shows the open ones without "
		    "an end time", id);
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
	wire_builder_free(b);
	return rc;
}

/* The live gateway logins: who is connected now. */
static int
session_logins(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const cols[] = {
		"LOGIN", "USER", "FROM", "SINCE", "SSHD-PID",
	};
	static const char *usage = "usage: bulwark session logins";
	struct wire_builder *b = NULL;
	struct rpc_response *resp = NULL;
	char *text = NULL, *out = NULL;
	size_t cap, len = 0;
	int c, st, rc = 1;

	optind = 1;
	while ((c = getopt_long(argc, argv, "S:", opts, NULL)) != -1) {
		if (c != 'S') {
			cli_error("%s", usage);
			return 2;
		}
		sockopt = optarg;
	}
	if (argc != optind) {
		cli_error("%s", usage);
		return 2;
	}
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
		{ "kill", session_kill },
	};

	sockopt = NULL;
	return gw_dispatch("session", subs, sizeof(subs) / sizeof(subs[0]),
	    argc, argv);
}
