/*
 * test_asciicast.c - asciicast v2 recordings: exact lines, JSON escaping,
 * UTF-8 repair and sequences split across chunks, the cap and its
 * marker; every line checked with jansson, and whole recordings played
 * back by the real asciinema (`asciinema cat`).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "gateway/asciicast.h"
#include "testutil.h"
#include "common/banned.h"

#define ASCIINEMA "/usr/bin/asciinema"
#define BIG_CAP (1u << 30)

static struct asciicast *
new_cast(uint64_t cap)
{
	struct asciicast_config cfg = { 80, 24, 1700000000, "xterm-256color",
	    cap };
	struct asciicast *a = NULL;

	assert_int_equal(asciicast_new(&cfg, &a), ERR_OK);
	return a;
}

/* Everything pending, as a NUL-terminated copy; consumes it. */
static char *
take(struct asciicast *a)
{
	const uint8_t *p;
	size_t len;
	char *s;

	p = asciicast_pending(a, &len);
	s = malloc(len + 1);
	assert_non_null(s);
	memcpy(s, p, len);
	s[len] = '\0';
	asciicast_consume(a, len);
	return s;
}

/* The line count of s; each line must be JSON of the right shape. */
static size_t
check_lines(const char *s, int with_header)
{
	size_t n = 0;

	while (*s != '\0') {
		const char *nl = strchr(s, '\n');
		json_error_t err;
		json_t *j;

		assert_non_null(nl);
		j = json_loadb(s, (size_t)(nl - s), JSON_ALLOW_NUL, &err);
		if (j == NULL)
			fail_msg("bad JSON line: %s: %.*s", err.text,
			    (int)(nl - s), s);
		if (n == 0 && with_header) {
			assert_true(json_is_object(j));
			assert_int_equal(json_integer_value(
			    json_object_get(j, "version")), 2);
		} else {
			assert_true(json_is_array(j));
			assert_int_equal(json_array_size(j), 3);
			assert_true(json_is_real(json_array_get(j, 0)));
			assert_true(json_is_string(json_array_get(j, 1)));
			assert_true(json_is_string(json_array_get(j, 2)));
		}
		json_decref(j);
		n++;
		s = nl + 1;
	}
	return n;
}

/*
 * The data of every "o" event in s, decoded by jansson and joined,
 * into out (room for max bytes); returns its length.
 */
static size_t
joined_output(const char *s, char *out, size_t max)
{
	size_t len = 0;

	while (*s != '\0') {
		const char *nl = strchr(s, '\n');
		json_t *j = json_loadb(s, (size_t)(nl - s), JSON_ALLOW_NUL,
		    NULL);

		assert_non_null(j);
		if (json_is_array(j) && strcmp(json_string_value(
		    json_array_get(j, 1)), "o") == 0) {
			json_t *d = json_array_get(j, 2);
			size_t n = json_string_length(d);

			assert_true(len + n <= max);
			memcpy(out + len, json_string_value(d), n);
			len += n;
		}
		json_decref(j);
		s = nl + 1;
	}
	return len;
}

static void
test_exact_lines(void **state)
{
	struct asciicast *a = new_cast(BIG_CAP);
	char *s;

	(void)state;
	s = take(a);
	assert_string_equal(s, "{\"version\": 2, \"width\": 80, \"height\": "
	    "24, \"timestamp\": 1700000000, \"env\": {\"TERM\": "
	    "\"xterm-256color\"}}\n");
	free(s);
	assert_int_equal(asciicast_output(a, 1500000, "hi\r\n", 4), ERR_OK);
	assert_int_equal(asciicast_resize(a, 2000001, 132, 43), ERR_OK);
	assert_int_equal(asciicast_marker(a, 3000000, "note \"x\""), ERR_OK);
	assert_int_equal(asciicast_output(a, 3000000, "", 0), ERR_OK);
	s = take(a);
	assert_string_equal(s, "[1.500000, \"o\", \"hi\\r\\n\"]\n"
	    "[2.000001, \"r\", \"132x43\"]\n"
	    "[3.000000, \"m\", \"note \\\"x\\\"\"]\n");
	free(s);
	assert_int_equal(asciicast_finish(a, 4000000), ERR_OK);
	s = take(a);
	assert_string_equal(s, "");
	free(s);
	asciicast_free(a);
}

static void
test_header_without_term(void **state)
{
	struct asciicast_config cfg = { 1, 1, 0, NULL, BIG_CAP };
	struct asciicast *a = NULL;
	char *s;

	(void)state;
	assert_int_equal(asciicast_new(&cfg, &a), ERR_OK);
	s = take(a);
	assert_string_equal(s, "{\"version\": 2, \"width\": 1, \"height\": 1, "
	    "\"timestamp\": 0, \"env\": {}}\n");
	assert_int_equal(check_lines(s, 1), 1);
	free(s);
	asciicast_free(a);
	cfg.width = 0;
	assert_int_equal(asciicast_new(&cfg, &a), ERR_INVAL);
	assert_null(a);
	/* A TERM with quotes is escaped, not trusted. */
	cfg.width = 2;
	cfg.term = "a\"}, \"x\": {\"";
	assert_int_equal(asciicast_new(&cfg, &a), ERR_OK);
	s = take(a);
	assert_int_equal(check_lines(s, 1), 1);
	free(s);
	asciicast_free(a);
}

static void
test_json_escaping(void **state)
{
	struct asciicast *a = new_cast(BIG_CAP);
	uint8_t all[128];
	char *s, got[256];
	size_t i;

	(void)state;
	free(take(a));
	for (i = 0; i < sizeof(all); i++)
		all[i] = (uint8_t)i;
	assert_int_equal(asciicast_output(a, 1, all, sizeof(all)), ERR_OK);
	s = take(a);
	assert_non_null(strstr(s, "\\u0000\\u0001"));
	assert_non_null(strstr(s, "\\b\\t\\n\\u000b\\f\\r\\u000e"));
	assert_non_null(strstr(s, " !\\\"#"));
	assert_non_null(strstr(s, "[\\\\]"));
	assert_non_null(strstr(s, "}~\\u007f\"]"));
	assert_int_equal(check_lines(s, 0), 1);
	/* jansson gives back exactly the bytes, NUL included. */
	assert_int_equal(joined_output(s, got, sizeof(got)), sizeof(all));
	assert_memory_equal(got, all, sizeof(all));
	free(s);
	asciicast_free(a);
}

/* One output call of in; the decoded "o" data must be want. */
static void
repaired(const char *in, size_t len, const char *want)
{
	struct asciicast *a = new_cast(BIG_CAP);
	char *s, got[256];
	size_t n;

	free(take(a));
	assert_int_equal(asciicast_output(a, 0, in, len), ERR_OK);
	assert_int_equal(asciicast_finish(a, 0), ERR_OK);
	s = take(a);
	check_lines(s, 0);
	n = joined_output(s, got, sizeof(got));
	got[n] = '\0';
	if (strcmp(got, want) != 0)
		fail_msg("repair: got \"%s\", want \"%s\"", got, want);
	free(s);
	asciicast_free(a);
}

#define FFFD "\xef\xbf\xbd"

static void
test_utf8_repair(void **state)
{
	(void)state;
	repaired("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14,
	    "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
	repaired("a\xff" "b", 3, "a" FFFD "b");
	repaired("\x80\xbf", 2, FFFD FFFD);
	/* Overlong forms, surrogates, beyond U+10FFFF. */
	repaired("\xc0\xaf", 2, FFFD FFFD);
	repaired("\xe0\x80\xaf", 3, FFFD FFFD FFFD);
	repaired("\xed\xa0\x80", 3, FFFD FFFD FFFD);
	repaired("\xf4\x90\x80\x80", 4, FFFD FFFD FFFD FFFD);
	repaired("\xf5", 1, FFFD);
	/* A truncated sequence is one U+FFFD (its maximal subpart). */
	repaired("\xf0\x9f\x98" "A", 4, FFFD "A");
	repaired("\xe2\x82" "\xe2\x82\xac", 5, FFFD "\xe2\x82\xac");
	/* Cut off at the very end: replaced at finish. */
	repaired("x\xe2\x82", 3, "x" FFFD);
	repaired("\xf0", 1, FFFD);
}

static void
test_split_sequences(void **state)
{
	struct asciicast *a = new_cast(BIG_CAP);
	char *s;

	(void)state;
	free(take(a));
	assert_int_equal(asciicast_output(a, 1, "ab\xc3", 3), ERR_OK);
	assert_int_equal(asciicast_output(a, 2, "\xa9" "c", 2), ERR_OK);
	/* Only the start of a sequence: no event yet. */
	assert_int_equal(asciicast_output(a, 3, "\xe2", 1), ERR_OK);
	assert_int_equal(asciicast_output(a, 4, "\x82", 1), ERR_OK);
	assert_int_equal(asciicast_resize(a, 5, 10, 5), ERR_OK);
	assert_int_equal(asciicast_output(a, 6, "\xac!", 2), ERR_OK);
	assert_int_equal(asciicast_output(a, 7, "\xf0\x9f", 2), ERR_OK);
	assert_int_equal(asciicast_finish(a, 8), ERR_OK);
	s = take(a);
	assert_string_equal(s, "[0.000001, \"o\", \"ab\"]\n"
	    "[0.000002, \"o\", \"\xc3\xa9" "c\"]\n"
	    "[0.000005, \"r\", \"10x5\"]\n"
	    "[0.000006, \"o\", \"\xe2\x82\xac!\"]\n"
	    "[0.000008, \"o\", \"" FFFD "\"]\n");
	free(s);
	asciicast_free(a);
}

/*
 * Input and output are separate streams: a sequence cut in one is
 * completed by that stream's next chunk, not by the other's, and finish
 * replaces what each still carries.
 */
static void
test_input_stream(void **state)
{
	struct asciicast *a = new_cast(BIG_CAP);
	char *s;

	(void)state;
	free(take(a));
	assert_int_equal(asciicast_output(a, 1, "ab\xc3", 3), ERR_OK);
	assert_int_equal(asciicast_input(a, 2, "ls \xe2", 4), ERR_OK);
	assert_int_equal(asciicast_output(a, 3, "\xa9", 1), ERR_OK);
	assert_int_equal(asciicast_input(a, 4, "\x82\xac\n", 3), ERR_OK);
	assert_int_equal(asciicast_input(a, 5, "\"q\"\t\xf0", 5), ERR_OK);
	assert_int_equal(asciicast_output(a, 6, "\xe2", 1), ERR_OK);
	assert_int_equal(asciicast_finish(a, 7), ERR_OK);
	s = take(a);
	assert_string_equal(s, "[0.000001, \"o\", \"ab\"]\n"
	    "[0.000002, \"i\", \"ls \"]\n"
	    "[0.000003, \"o\", \"\xc3\xa9\"]\n"
	    "[0.000004, \"i\", \"\xe2\x82\xac\\n\"]\n"
	    "[0.000005, \"i\", \"\\\"q\\\"\\t\"]\n"
	    "[0.000007, \"o\", \"" FFFD "\"]\n"
	    "[0.000007, \"i\", \"" FFFD "\"]\n");
	assert_int_equal(check_lines(s, 0), 7);
	free(s);
	asciicast_free(a);
}

/* Splitting the input anywhere decodes to the same text as one call. */
static void
test_split_invariance(void **state)
{
	static uint8_t in[4096];
	static char whole[8 * 4096], parts[8 * 4096];
	size_t i, off, lw, lp;
	unsigned seed = 12345;
	int round;

	(void)state;
	for (round = 0; round < 50; round++) {
		struct asciicast *a = new_cast(BIG_CAP), *b = new_cast(BIG_CAP);
		char *s;

		for (i = 0; i < sizeof(in); i++) {
			seed = seed * 1103515245 + 12345;
			/* Mostly the interesting bytes: leads and tails. */
			in[i] = (uint8_t)((seed >> 16) % 4 == 0 ? seed >> 8 :
			    0x80 + ((seed >> 8) % 0x78));
		}
		assert_int_equal(asciicast_output(a, 0, in, sizeof(in)),
		    ERR_OK);
		assert_int_equal(asciicast_finish(a, 0), ERR_OK);
		for (off = 0; off < sizeof(in); ) {
			size_t n;

			seed = seed * 1103515245 + 12345;
			n = 1 + (seed >> 16) % 7;
			n = n < sizeof(in) - off ? n : sizeof(in) - off;
			assert_int_equal(asciicast_output(b, off, in + off, n),
			    ERR_OK);
			off += n;
		}
		assert_int_equal(asciicast_finish(b, off), ERR_OK);
		s = take(a);
		check_lines(s, 1);
		lw = joined_output(s, whole, sizeof(whole));
		free(s);
		s = take(b);
		check_lines(s, 1);
		lp = joined_output(s, parts, sizeof(parts));
		free(s);
		assert_int_equal(lw, lp);
		assert_memory_equal(whole, parts, lw);
		asciicast_free(a);
		asciicast_free(b);
	}
}

static const char *
last_line(const char *s)
{
	size_t len = strlen(s);
	const char *p = s + len - 1;

	while (p > s && p[-1] != '\n')
		p--;
	return p;
}

static void
test_cap(void **state)
{
	struct asciicast *a;
	char *s, want[128], line[64];
	uint64_t cap = 1000;
	int i;

	(void)state;
	a = new_cast(cap);
	for (i = 0; i < 100; i++)
		assert_int_equal(asciicast_output(a, (uint64_t)i * 1000000,
		    "0123456789", 10), ERR_OK);
	assert_true(asciicast_stopped(a));
	assert_true(asciicast_size(a) <= cap);
	s = take(a);
	assert_int_equal(strlen(s), asciicast_size(a));
	check_lines(s, 1);
	snprintf(want, sizeof(want), "\"m\", \"bulwark: recording stopped: "
	    "cap of %llu bytes reached\"]\n", (unsigned long long)cap);
	assert_non_null(strstr(last_line(s), want));
	free(s);
	/* After the marker, nothing more. */
	assert_int_equal(asciicast_output(a, 1, "x", 1), ERR_OK);
	assert_int_equal(asciicast_resize(a, 1, 1, 1), ERR_OK);
	assert_int_equal(asciicast_marker(a, 1, "m"), ERR_OK);
	assert_int_equal(asciicast_finish(a, 1), ERR_OK);
	s = take(a);
	assert_string_equal(s, "");
	free(s);
	asciicast_free(a);

	/* One big event that does not fit stops at once, under the cap. */
	a = new_cast(cap);
	free(take(a));
	{
		char big[2000];

		memset(big, 'y', sizeof(big));
		assert_int_equal(asciicast_output(a, 5, big, sizeof(big)),
		    ERR_OK);
	}
	s = take(a);
	assert_int_equal(check_lines(s, 0), 1);
	assert_non_null(strstr(s, "recording stopped"));
	free(s);
	assert_true(asciicast_size(a) <= cap);
	asciicast_free(a);

	/* A cap that cannot hold the header and the marker. */
	{
		struct asciicast_config cfg = { 80, 24, 0, "xterm", 150 };

		a = NULL;
		assert_int_equal(asciicast_new(&cfg, &a), ERR_RANGE);
		assert_null(a);
	}
	/* Events that fit exactly beside the reserve are all kept. */
	snprintf(line, sizeof(line), "[1.000000, \"o\", \"z\"]\n");
	a = new_cast(BIG_CAP);
	cap = asciicast_size(a);
	asciicast_free(a);
	/* header + reserve (marker at the longest time) + 3 events */
	cap += 1 + 21 + 2 + 6 + strlen("bulwark: recording stopped: cap of "
	    " bytes reached") + 3 + 3 * strlen(line);
	/* The label holds the cap's own digits. */
	for (i = 1; i < 20; i++) {
		char digits[24];

		if ((int)snprintf(digits, sizeof(digits), "%llu",
		    (unsigned long long)(cap + (uint64_t)i)) == i) {
			cap += (uint64_t)i;
			break;
		}
	}
	a = new_cast(cap);
	for (i = 0; i < 3; i++)
		assert_int_equal(asciicast_output(a, 1000000, "z", 1), ERR_OK);
	assert_false(asciicast_stopped(a));
	assert_int_equal(asciicast_output(a, 1000000, "z", 1), ERR_OK);
	assert_true(asciicast_stopped(a));
	s = take(a);
	assert_int_equal(check_lines(s, 1), 5);
	free(s);
	asciicast_free(a);
}

static void
test_consume_in_pieces(void **state)
{
	struct asciicast *a = new_cast(BIG_CAP);
	const uint8_t *p;
	size_t len, total = 0;
	int i;

	(void)state;
	for (i = 0; i < 1000; i++)
		assert_int_equal(asciicast_output(a, (uint64_t)i, "abcdef", 6),
		    ERR_OK);
	while ((p = asciicast_pending(a, &len)), len > 0) {
		size_t n = len < 777 ? len : 777;

		assert_non_null(p);
		total += n;
		asciicast_consume(a, n);
	}
	assert_int_equal(total, asciicast_size(a));
	asciicast_consume(a, 5);	/* more than pending: clamped */
	(void)asciicast_pending(a, &len);
	assert_int_equal(len, 0);
	asciicast_free(a);
}

/*
 * Runs `asciinema cat path` with stdout into out; returns its status.
 * asciinema opens /dev/tty, so the child gets a pseudo-terminal of its
 * own as its controlling terminal.
 */
static int
asciinema_cat(const char *path, const char *home, char *out, size_t max,
    size_t *outlen)
{
	char homevar[128];
	char *const argv[] = { "asciinema", "cat", (char *)path, NULL };
	char *envp[] = { homevar, "LANG=C.UTF-8", "PATH=/usr/bin:/bin",
	    NULL };
	int pfd[2], st, master, slave;
	pid_t pid;
	ssize_t n;

	snprintf(homevar, sizeof(homevar), "HOME=%s", home);
	assert_int_equal(pipe(pfd), 0);
	master = posix_openpt(O_RDWR | O_NOCTTY);
	assert_true(master >= 0);
	assert_int_equal(grantpt(master), 0);
	assert_int_equal(unlockpt(master), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* A new session: the first terminal opened becomes its own. */
		if (setsid() < 0 || (slave = open(ptsname(master), O_RDWR)) < 0)
			_exit(126);
		dup2(slave, STDIN_FILENO);
		dup2(pfd[1], STDOUT_FILENO);
		close(master);
		close(pfd[0]);
		close(pfd[1]);
		execve(ASCIINEMA, argv, envp);
		_exit(127);
	}
	close(pfd[1]);
	*outlen = 0;
	while ((n = read(pfd[0], out + *outlen, max - *outlen)) > 0)
		*outlen += (size_t)n;
	close(pfd[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	close(master);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* The directory test_asciinema_cat made, removed by its teardown even
 * when an assertion failed (asciinema writes .config/asciinema there). */
static char cat_dir[64];
static int cat_dir_made;

static int
remove_cat_dir(void **state)
{
	(void)state;
	if (cat_dir_made)
		assert_int_equal(tu_rm_tree(cat_dir), 0);
	cat_dir_made = 0;
	return 0;
}

static void
test_asciinema_cat(void **state)
{
	static const char *const chunks[] = {
		"\x1b[1mbold\x1b[0m \"quoted\" back\\slash\r\n",
		"tab\there caf\xc3", "\xa9 euro \xe2\x82", "\xac\r\n",
		"bad \xff byte\r\n", "emoji \xf0\x9f\x98\x80\r\n",
	};
	static const char want[] = "\x1b[1mbold\x1b[0m \"quoted\" "
	    "back\\slash\r\ntab\there caf\xc3\xa9 euro \xe2\x82\xac\r\n"
	    "bad " FFFD " byte\r\nemoji \xf0\x9f\x98\x80\r\n";
	char *dir, path[64], got[1024];
	struct asciicast *a;
	char *rec;
	size_t i, len, glen;
	int fd;

	(void)state;
	if (access(ASCIINEMA, X_OK) != 0)
		skip();
	dir = tu_mkdtemp(cat_dir, sizeof(cat_dir), "/tmp/test_asciicast.");
	assert_non_null(dir);
	cat_dir_made = 1;
	snprintf(path, sizeof(path), "%s/rec.cast", dir);
	a = new_cast(BIG_CAP);
	for (i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++)
		assert_int_equal(asciicast_output(a, i * 250000, chunks[i],
		    strlen(chunks[i])), ERR_OK);
	/* asciinema reads input events and leaves them out of its output. */
	assert_int_equal(asciicast_input(a, 1900000, "typed\n", 6), ERR_OK);
	assert_int_equal(asciicast_resize(a, 2000000, 100, 30), ERR_OK);
	assert_int_equal(asciicast_marker(a, 2100000, "marker"), ERR_OK);
	assert_int_equal(asciicast_finish(a, 2200000), ERR_OK);
	rec = take(a);
	len = strlen(rec);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, rec, len), (ssize_t)len);
	close(fd);
	assert_int_equal(check_lines(rec, 1), 10);
	free(rec);
	asciicast_free(a);

	assert_int_equal(asciinema_cat(path, dir, got, sizeof(got), &glen), 0);
	assert_int_equal(glen, strlen(want));
	assert_memory_equal(got, want, glen);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exact_lines),
		cmocka_unit_test(test_header_without_term),
		cmocka_unit_test(test_json_escaping),
		cmocka_unit_test(test_utf8_repair),
		cmocka_unit_test(test_split_sequences),
		cmocka_unit_test(test_input_stream),
		cmocka_unit_test(test_split_invariance),
		cmocka_unit_test(test_cap),
		cmocka_unit_test(test_consume_in_pieces),
		cmocka_unit_test_teardown(test_asciinema_cat, remove_cat_dir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
