/*
 * fuzz.c - libFuzzer harness for termsafe: the filter that stands between
 * a recorded session and the terminal of whoever replays it.
 *
 * Input: one byte that says where to split the rest (and, in its lowest
 * bit, whether the reader's terminal is ASCII only), then the bytes a
 * target printed. The output must be the same however the input is split,
 * stay within TERMSAFE_OUT_MAX, and pass a checker written apart from the
 * filter: valid UTF-8 without C1 controls, no C0 control but BEL, BS, HT,
 * LF, VT, FF, CR and ESC, and every ESC the start of a sequence that
 * neither reports, nor opens a string, nor sets a mode outside the list,
 * nor sets tab stops or erases the scrollback; for an ASCII terminal,
 * ASCII only.
 * termsafe_vis must leave no control character at all. Anything else
 * aborts.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/termsafe.h"
#include "common/wire.h"
#include "common/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
no_c1(const uint8_t *p, size_t n)
{
	size_t i;

	if (!wire_utf8_valid(p, n))
		abort();
	for (i = 0; i + 1 < n; i++)
		if (p[i] == 0xc2 && p[i + 1] >= 0x80 && p[i + 1] <= 0x9f)
			abort();
}

/* The length of the allowed sequence at p[0] == ESC; aborts otherwise. */
static size_t
check_escape(const uint8_t *p, size_t n)
{
	size_t i = 2;
	int private = 0;

	if (n < 2)
		abort();
	if (strchr("78DEMc=>", p[1]) != NULL && p[1] != '\0')
		return 2;
	if (p[1] == '(' || p[1] == ')') {
		if (n < 3 || (p[2] != '0' && p[2] != 'A' && p[2] != 'B'))
			abort();
		return 3;
	}
	if (p[1] != '[')
		abort();		/* OSC, DCS, APC, PM, SOS, others */
	if (i < n && p[i] >= '<' && p[i] <= '?') {
		if (p[i] != '?')
			abort();
		private = 1;
		i++;
	}
	while (i < n && p[i] >= 0x20 && p[i] <= 0x3f)
		i++;
	if (i >= n || p[i] < 0x40 || p[i] > 0x7e)
		abort();
	if (private && strchr("hlJK", p[i]) == NULL)
		abort();
	/* Reports, printing, repetition, window operations, tab stops. */
	if (strchr("nctxibpyg", p[i]) != NULL && !(p[i] == 'p' &&
	    p[i - 1] == '!'))
		abort();
	if (p[i] == 'J' && p[i - 1] == '3')
		abort();		/* the scrollback */
	return i + 1;
}

static void
check_output(const uint8_t *p, size_t n, int ascii)
{
	size_t i = 0;

	no_c1(p, n);
	for (i = 0; ascii && i < n; i++)
		if (p[i] >= 0x80)
			abort();
	i = 0;
	while (i < n) {
		if (p[i] == 0x1b) {
			i += check_escape(p + i, n - i);
			continue;
		}
		if ((p[i] < 0x20 && p[i] != 0x07 && (p[i] < 0x08 ||
		    p[i] > 0x0d)) || p[i] == 0x7f)
			abort();
		i++;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct termsafe t;
	uint8_t *whole, *split;
	size_t cut, n1, n2, a, b;
	int flags;
	char *v;

	if (size < 1)
		return 0;
	cut = data[0] % size;
	flags = data[0] & 1 ? TERMSAFE_ASCII : 0;
	data++;
	size--;
	if ((whole = malloc(TERMSAFE_OUT_MAX(size) + TERMSAFE_FINISH_MAX)) ==
	    NULL || (split = malloc(2 * TERMSAFE_OUT_MAX(size) +
	    TERMSAFE_FINISH_MAX)) == NULL)
		abort();
	termsafe_init(&t, flags);
	n1 = termsafe_filter(&t, data, size, whole);
	if (n1 > TERMSAFE_OUT_MAX(size))
		abort();
	check_output(whole, n1, flags != 0);
	n1 += termsafe_finish(&t, whole + n1);

	termsafe_init(&t, flags);
	a = termsafe_filter(&t, data, cut, split);
	b = termsafe_filter(&t, data + cut, size - cut, split + a);
	if (a > TERMSAFE_OUT_MAX(cut) || b > TERMSAFE_OUT_MAX(size - cut))
		abort();
	n2 = a + b;
	n2 += termsafe_finish(&t, split + n2);
	if (n1 != n2 || memcmp(whole, split, n1) != 0)
		abort();
	free(whole);
	free(split);

	if ((v = termsafe_vis((const char *)data, size, flags)) == NULL)
		abort();
	no_c1((const uint8_t *)v, strlen(v));
	for (a = 0; v[a] != '\0'; a++)
		if ((uint8_t)v[a] < 0x20 || v[a] == 0x7f ||
		    (flags && (uint8_t)v[a] >= 0x80))
			abort();
	free(v);
	return 0;
}
