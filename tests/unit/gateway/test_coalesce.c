/*
 * test_coalesce.c - refusals counted in windows (gateway/coalesce.h).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <setjmp.h>
#include <string.h>

#include <cmocka.h>

#include "gateway/coalesce.h"
#include "common/banned.h"

struct seen {
	int calls;
	uint64_t total;
	char last[COALESCE_STR_MAX + 1];
	char actor[COALESCE_STR_MAX + 1];
};

static void
record(void *arg, const struct coalesce_kind *k)
{
	struct seen *s = arg;

	s->calls++;
	s->total += k->count;
	snprintf(s->last, sizeof(s->last), "%s", k->last);
	snprintf(s->actor, sizeof(s->actor), "%s", k->actor);
}

static void
test_window(void **state)
{
	struct coalesce *c = calloc(1, sizeof(*c));
	struct seen s;
	int i;

	(void)state;
	assert_non_null(c);
	memset(&s, 0, sizeof(s));
	assert_int_equal(coalesce_next(c, 0), -1);
	/* The first in full, the next 99 counted. */
	assert_int_equal(coalesce_note(c, "alice", "auth.publickey",
	    "key not registered", "SHA256:a", 1000), 1);
	for (i = 0; i < 99; i++)
		assert_int_equal(coalesce_note(c, "alice", "auth.publickey",
		    "key not registered", i == 98 ? "SHA256:z" : "SHA256:b",
		    1000 + i), 0);
	/* Another reason, another actor: kinds of their own. */
	assert_int_equal(coalesce_note(c, "alice", "auth.publickey",
	    "account disabled", NULL, 1500), 1);
	assert_int_equal(coalesce_note(c, "bob", "auth.publickey",
	    "key not registered", NULL, 1500), 1);
	assert_int_equal(coalesce_next(c, 1500), COALESCE_WINDOW_MS - 500);

	/* Not over yet: nothing written. */
	coalesce_expire(c, 1000 + COALESCE_WINDOW_MS - 1, 0, record, &s);
	assert_int_equal(s.calls, 0);
	/* Over: one closing entry with the count and the latest detail; the
	 * kinds without repeats end silently once over. */
	coalesce_expire(c, 1000 + COALESCE_WINDOW_MS, 0, record, &s);
	assert_int_equal(s.calls, 1);
	assert_int_equal(s.total, 99);
	assert_string_equal(s.last, "SHA256:z");
	assert_string_equal(s.actor, "alice");
	assert_int_equal(coalesce_next(c, 1000 + COALESCE_WINDOW_MS), 500);
	coalesce_expire(c, 1500 + COALESCE_WINDOW_MS, 0, record, &s);
	assert_int_equal(s.calls, 1);
	assert_int_equal(coalesce_next(c, 0), -1);
	/* A new window begins with an entry in full again. */
	assert_int_equal(coalesce_note(c, "alice", "auth.publickey",
	    "key not registered", NULL, 20000), 1);
	free(c);
}

static void
test_full_and_flush(void **state)
{
	struct coalesce *c = calloc(1, sizeof(*c));
	struct seen s;
	char actor[32];
	int i;

	(void)state;
	assert_non_null(c);
	memset(&s, 0, sizeof(s));
	for (i = 0; i < COALESCE_KINDS; i++) {
		snprintf(actor, sizeof(actor), "u%d", i);
		assert_int_equal(coalesce_note(c, actor, "a", "r", NULL, 0), 1);
		assert_int_equal(coalesce_note(c, actor, "a", "r", NULL, 1), 0);
	}
	/* No room: written in full, every time. */
	assert_int_equal(coalesce_note(c, "extra", "a", "r", NULL, 2), 1);
	assert_int_equal(coalesce_note(c, "extra", "a", "r", NULL, 3), 1);
	/* At exit every open window is closed, over or not. */
	coalesce_expire(c, 5, 1, record, &s);
	assert_int_equal(s.calls, COALESCE_KINDS);
	assert_int_equal(s.total, COALESCE_KINDS);
	assert_int_equal(coalesce_next(c, 5), -1);

	/* Strings past COALESCE_STR_MAX are cut and still one kind. */
	{
		char longname[400];

		memset(longname, 'x', sizeof(longname) - 1);
		longname[sizeof(longname) - 1] = '\0';
		assert_int_equal(coalesce_note(c, longname, "a", "r", longname,
		    10), 1);
		assert_int_equal(coalesce_note(c, longname, "a", "r", NULL, 11),
		    0);
		assert_int_equal(coalesce_note(c, NULL, NULL, NULL, NULL, 12), 1);
	}
	free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_window),
		cmocka_unit_test(test_full_and_flush),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
