#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/termsafe.h"
#include "common/banned.h"

/* in through a fresh filter, finish included; the result NUL-terminated. */
static char *
filt(const char *in, size_t len, int finish)
{
	struct termsafe t;
	uint8_t *out = malloc(TERMSAFE_OUT_MAX(len) + TERMSAFE_FINISH_MAX + 1);
	size_t n;

	assert_non_null(out);
	termsafe_init(&t, 0);
	n = termsafe_filter(&t, (const uint8_t *)in, len, out);
	assert_true(n <= TERMSAFE_OUT_MAX(len));
	if (finish)
		n += termsafe_finish(&t, out + n);
	out[n] = '\0';
	return (char *)out;
}

static void
expect(const char *in, const char *want)
{
	char *got = filt(in, strlen(in), 0);

	assert_string_equal(got, want);
	free(got);
}

static void
expect_finish(const char *in, const char *want)
{
	char *got = filt(in, strlen(in), 1);

	assert_string_equal(got, want);
	free(got);
}

/* What a shell and a full-screen editor draw with goes through unchanged. */
static void
test_drawing_passes(void **state)
{
	static const char *const same[] = {
		"plain text\r\n",
		"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x91 \xc2\xa0nbsp\t|\b",
		"\033[1;31mred\033[0m \033[38;5;208mx\033[38:2::1:2:3my\033[m",
		"\033[H\033[2J\033[1;24r\033[24;1H\033[K\033[3L\033[2M\033[4P",
		"\033[5@\033[2X\033[3S\033[2T\033[10G\033[5d\033[s\033[u",
		"\0337\0338\033M\033D\033E\033=\033>\033(0qqq\033(B\033)0",
		"\033[?25l\033[?25h\033[?1h\033[?7l\033[?2004h\033[4h\033[4l",
		"\033[2 q\033[!p\033[?1J\033[?2K\033[2J\033[J\a",
		"\033[38;5;11m\033[48;2;1;12;3m\033[4:3m\033[58:2::1:2:3m",
		"\033[0;1;3;4;7;9;22;23;24;27;29;39;49;53;55;59;90;107m",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(same) / sizeof(same[0]); i++)
		expect(same[i], same[i]);
	/* Window operations (t) report and resize: dropped, not the rest. */
	expect("\033[?1049h\033[22;0;0t", "\033[?1049h");
}

/*
 * Everything that makes the terminal answer into the reader's input,
 * reach the clipboard or printer, or keep a mode after the replay is
 * dropped whole, and what follows it is shown.
 */
static void
test_attacks_dropped(void **state)
{
	static const char *const gone[] = {
		"\033]52;c;cm0gLXJmIH4K\a",	/* OSC 52: the clipboard */
		"\033]52;c;cm0gLXJmIH4K\033\\",
		"\033]2;rm -rf ~\n\a",		/* a title to be reported */
		"\033[21t", "\033[20t", "\033[14t", "\033[8;100;300t",
		"\033[6n", "\033[5n", "\033[?6n", "\033[c", "\033[0c",
		"\033[>c", "\033[=c", "\033[>q", "\033[2$p", "\033[?2004$p",
		"\033P$qm\033\\",		/* DECRQSS */
		"\033P+q544e\033\\",		/* XTGETTCAP */
		"\033_Gf=24;AAAA\033\\",	/* APC */
		"\033^private\033\\", "\033Xsos\033\\",
		"\033]4;1;?\a", "\033]10;?\a", "\033]8;;http://x/\a",
		"\033[?1000h", "\033[?1006h", "\033[?1;1000h", "\033[?1004h",
		"\033[?3h", "\033[?6h", "\033[?12h", "\033[?1049;9h",
		"\033[>4;2m", "\033[5i", "\033[4i", "\033[999999b",
		"\033[1;2;3;4;5T", "\033[x", "\033Z", "\033 G", "\033#8",
		"\033)1", "\033(<", "\033N", "\033O", "\033[1\"q",
		"\033[0;1;2;3;4;5;6;7;8;9;0;1;2;3;4;5;6;7;8;9;0;1;2;3;4;5;6;7;8;"
		    "9;0;1;2m",	/* 33 parameters: more than a terminal keeps */
		"\016\017\001\002\177\033[\033\\",
		"\xc2\x9b" "", "\xc2\x9d", "\xc2\x90",
		/* Tab stops and the scrollback outlive the replay. */
		"\033H", "\033[g", "\033[3g", "\033[3J", "\033[?3J",
		/* Fonts; on the Linux console 11 and 12 show C1 bytes raw. */
		"\033[10m", "\033[11m", "\033[12m", "\033[20m", "\033[1;11m",
		"\033[38;5m", "\033[38;2;1;2m", "\033[5:3m", "\033[51m",
	};
	char buf[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(gone) / sizeof(gone[0]); i++) {
		snprintf(buf, sizeof(buf), "a%sb", gone[i]);
		expect(buf, "ab");
	}
	/* A C1 CSI does not start a sequence: what follows is text. */
	expect("\xc2\x9b" "6n", "6n");
}

static void
test_invalid_utf8(void **state)
{
	(void)state;
	expect("\xff", "\xef\xbf\xbd");
	expect("\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd");
	expect("\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	expect("\xe2\x82" "A", "\xef\xbf\xbd" "A");
	expect("\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
	    "\xef\xbf\xbd");
	expect("\xe2\x82\033[1m", "\xef\xbf\xbd\033[1m");
}

/* Controls inside a sequence act in place; CAN cancels; ESC restarts. */
static void
test_sequence_edges(void **state)
{
	(void)state;
	expect("\033[3\r1m", "\r\033[31m");
	expect("\033[31\030m", "m");
	expect("\033[31\033[32m", "\033[32m");
	expect("\033]0;t\033[1m", "\033[1m");	/* ESC ends a string */
	expect("\033[1\xc3\xa9m", "\xc3\xa9m");
	expect("\033\xc3\xa9", "\xc3\xa9");
	expect("\033(\xc3\xa9", "\xc3\xa9");
}

/* An opening ESC ] cannot hide the rest of a session. */
static void
test_string_bounded(void **state)
{
	size_t n = 2 + 2 + 5000, i, shown = 0;
	char *in = malloc(n + 1), *out;

	(void)state;
	assert_non_null(in);
	memcpy(in, "\033]0;", 4);
	memset(in + 4, 'x', 5000);
	in[n] = '\0';
	out = filt(in, n, 0);
	for (i = 0; out[i] != '\0'; i++)
		assert_int_equal(out[i], 'x');
	shown = i;
	/* "0;" and 4095 x's dropped with the byte that passed the bound. */
	assert_int_equal(shown, 5000 + 2 - (TERMSAFE_STRING_MAX + 1));
	free(out);
	free(in);

	/* A sequence too long to hold is dropped whole, and ends. */
	in = malloc(TERMSAFE_SEQ_MAX + 16);
	assert_non_null(in);
	memcpy(in, "\033[", 2);
	memset(in + 2, '1', TERMSAFE_SEQ_MAX + 8);
	memcpy(in + TERMSAFE_SEQ_MAX + 10, "mok", 4);
	out = filt(in, strlen(in), 0);
	assert_string_equal(out, "ok");
	free(out);
	free(in);
}

/* The replay leaves no mode behind. */
static void
test_finish(void **state)
{
	(void)state;
	expect_finish("\033[?1049h\033[?25l\033[31m\033(0\033)0\033[5;10rtext",
	    "\033[?1049h\033[?25l\033[31m\033(0\033)0\033[5;10rtext"
	    "\033[?1049l\0337\033[r\0338\033[?25h\033(B\033)B\033[0m");
	expect_finish("\033[?1049h\033[?1049l\033[?25l\033[?25h",
	    "\033[?1049h\033[?1049l\033[?25l\033[?25h");
	expect_finish("\033[?7l\033=\033[?2004h\033[4h\033[3 q\033[?1;5h\033c",
	    "\033[?7l\033=\033[?2004h\033[4h\033[3 q\033[?1;5h\033c");
	expect_finish("\033[?7l\033=\033[?2004h\033[4h\033[3 q\033[?1;5h",
	    "\033[?7l\033=\033[?2004h\033[4h\033[3 q\033[?1;5h"
	    "\033[?7h\033[?1l\033[?5l\033[?2004l\033>\033[4l\033[0 q");
	/* Every mode at once fits in TERMSAFE_FINISH_MAX. */
	{
		const char *all = "\033[?1049h\033[?1047h\033[?47h\033[2;3r"
		    "\033[?7l\033[?25l\033[?1h\033[?5h\033[?2004h\033=\033(0"
		    "\033)A\033[4h\033[1 q\033[1m";
		struct termsafe t;
		uint8_t out[TERMSAFE_OUT_MAX(200)];

		termsafe_init(&t, 0);
		(void)termsafe_filter(&t, (const uint8_t *)all, strlen(all),
		    out);
		assert_true(termsafe_finish(&t, out) <= TERMSAFE_FINISH_MAX);
	}
}

/* Split anywhere, the output is the same. */
static void
test_split_anywhere(void **state)
{
	const char *in = "a\033[1;31mb\033]52;c;eA==\033\\c\xe2\x82\xac"
	    "\033[6n\033[?1049hd\xc2\x9b\033P$q\033\\e\xf0\x9f\x94\x91\xff";
	size_t len = strlen(in), cut;
	char *whole = filt(in, len, 1);

	(void)state;
	for (cut = 0; cut <= len; cut++) {
		struct termsafe t;
		uint8_t out[TERMSAFE_OUT_MAX(128) * 2 + TERMSAFE_FINISH_MAX + 1];
		size_t n;

		termsafe_init(&t, 0);
		n = termsafe_filter(&t, (const uint8_t *)in, cut, out);
		n += termsafe_filter(&t, (const uint8_t *)in + cut, len - cut,
		    out + n);
		n += termsafe_finish(&t, out + n);
		out[n] = '\0';
		assert_string_equal((char *)out, whole);
	}
	free(whole);
}

/*
 * A terminal that is not UTF-8 reads bytes, and some 0x80-0x9F bytes of a
 * letter's UTF-8 (U+041B is D0 9B) as C1 controls: ASCII only.
 */
static void
test_ascii(void **state)
{
	const char *in = "caf\xc3\xa9 \xd0\x9b" "6n\xff\033[1mX";
	struct termsafe t;
	uint8_t out[TERMSAFE_OUT_MAX(32)];
	size_t n;
	char *v;

	(void)state;
	termsafe_init(&t, TERMSAFE_ASCII);
	n = termsafe_filter(&t, (const uint8_t *)in, strlen(in), out);
	n += termsafe_finish(&t, out + n);
	assert_int_equal(n, strlen("caf? ?6n?\033[1mX\033[0m"));
	assert_memory_equal(out, "caf? ?6n?\033[1mX\033[0m", n);
	/* finish keeps the mode for what comes next */
	n = termsafe_filter(&t, (const uint8_t *)"\xc3\xa9", 2, out);
	assert_int_equal(n, 1);
	assert_int_equal(out[0], '?');
	v = termsafe_vis("caf\xc3\xa9", 5, TERMSAFE_ASCII);
	assert_non_null(v);
	assert_string_equal(v, "caf\\xc3\\xa9");
	free(v);
}

static void
vis(const char *in, size_t len, const char *want)
{
	char *got = termsafe_vis(in, len, 0);

	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

static void
test_vis(void **state)
{
	char *got;

	(void)state;
	vis("ls -l /root", 11, "ls -l /root");
	vis("a\033[2Jb\\c\n", 9, "a\\x1b[2Jb\\c\\x0a");
	vis("caf\xc3\xa9", 5, "caf\xc3\xa9");
	vis("\xc2\x9b" "1", 3, "\\xc2\\x9b1");
	vis("\xe2\x82", 2, "\\xe2\\x82");
	vis("\x7f\r", 2, "\\x7f\\x0d");
	vis("a\0b", 3, "a\\x00b");
	/* Newlines too: a name cannot make a message look like two. */
	got = termsafe_vis("two\nlines\t\033[1m\xc2\x9b", 16, 0);
	assert_non_null(got);
	assert_string_equal(got, "two\\x0alines\\x09\\x1b[1m\\xc2\\x9b");
	free(got);
	/* Nor show its text in another order. */
	vis("a\xe2\x80\xae" "b\xe2\x81\xa6" "c\xe2\x80\x94", 12,
	    "a\\xe2\\x80\\xaeb\\xe2\\x81\\xa6" "c\xe2\x80\x94");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_drawing_passes),
		cmocka_unit_test(test_attacks_dropped),
		cmocka_unit_test(test_invalid_utf8),
		cmocka_unit_test(test_sequence_edges),
		cmocka_unit_test(test_string_bounded),
		cmocka_unit_test(test_finish),
		cmocka_unit_test(test_split_anywhere),
		cmocka_unit_test(test_ascii),
		cmocka_unit_test(test_vis),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
