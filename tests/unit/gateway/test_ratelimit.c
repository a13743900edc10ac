/*
 * test_ratelimit.c - growing delays after wrong codes, per source address.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gateway/ratelimit.h"
#include "common/banned.h"

static void
test_delay_grows_and_caps(void **state)
{
	uint32_t n;
	unsigned prev = 0;

	(void)state;
	for (n = 0; n < RATELIMIT_FREE; n++)
		assert_int_equal(ratelimit_delay(n), 0);
	assert_int_equal(ratelimit_delay(RATELIMIT_FREE), RATELIMIT_BASE_DELAY);
	assert_int_equal(ratelimit_delay(RATELIMIT_FREE + 1),
	    2 * RATELIMIT_BASE_DELAY);
	for (n = RATELIMIT_FREE; n < 100; n++) {
		assert_true(ratelimit_delay(n) >= prev);
		assert_true(ratelimit_delay(n) <= RATELIMIT_MAX_DELAY);
		prev = ratelimit_delay(n);
	}
	assert_int_equal(ratelimit_delay(UINT32_MAX), RATELIMIT_MAX_DELAY);
}

/*
 * An IPv6 source counts as its /64 (one guesser holds a whole /64), an
 * IPv4-mapped one as its IPv4 address.
 */
static void
test_source_keys(void **state)
{
	struct ratelimit *rl = calloc(1, sizeof(*rl));
	char key[RATELIMIT_SOURCE_MAX + 1];
	unsigned wait;
	int i;

	(void)state;
	assert_non_null(rl);
	ratelimit_source_key("2001:db8:1:2:aaaa:bbbb:cccc:dddd", key);
	assert_string_equal(key, "2001:db8:1:2::/64");
	ratelimit_source_key("::ffff:192.0.2.9", key);
	assert_string_equal(key, "192.0.2.9");
	ratelimit_source_key("192.0.2.9", key);
	assert_string_equal(key, "192.0.2.9");
	ratelimit_source_key("gw.example", key);
	assert_string_equal(key, "gw.example");
	for (i = 0; i < RATELIMIT_FREE; i++) {
		char a[64];

		snprintf(a, sizeof(a), "2001:db8:1:2::%x", i + 1);
		ratelimit_fail(rl, a, 1000);
	}
	assert_int_equal(ratelimit_check(rl, "2001:db8:1:2:ffff::9", 1000,
	    &wait), ERR_LOCKED);
	assert_int_equal(ratelimit_check(rl, "2001:db8:1:3::1", 1000, &wait),
	    ERR_OK);
	for (i = 0; i < RATELIMIT_FREE; i++)
		ratelimit_fail(rl, i % 2 ? "::ffff:192.0.2.9" : "192.0.2.9",
		    1000);
	assert_int_equal(ratelimit_check(rl, "192.0.2.9", 1000, &wait),
	    ERR_LOCKED);
	free(rl);
}

static void
test_source_lock_and_reset(void **state)
{
	struct ratelimit *rl = calloc(1, sizeof(*rl));
	unsigned wait;
	int i;

	(void)state;
	assert_non_null(rl);
	for (i = 0; i < RATELIMIT_FREE - 1; i++)
		ratelimit_fail(rl, "192.0.2.7", 1000);
	assert_int_equal(ratelimit_check(rl, "192.0.2.7", 1000, &wait), ERR_OK);
	assert_int_equal(ratelimit_fail(rl, "192.0.2.7", 1000), RATELIMIT_FREE);
	assert_int_equal(ratelimit_check(rl, "192.0.2.7", 1000, &wait),
	    ERR_LOCKED);
	assert_int_equal(wait, RATELIMIT_BASE_DELAY);
	/* Another address is not affected; time lifts the lock. */
	assert_int_equal(ratelimit_check(rl, "192.0.2.8", 1000, &wait), ERR_OK);
	assert_int_equal(ratelimit_check(rl, "192.0.2.7",
	    1000 + RATELIMIT_BASE_DELAY, &wait), ERR_OK);
	/* The next failure doubles the wait. */
	ratelimit_fail(rl, "192.0.2.7", 1100);
	assert_int_equal(ratelimit_check(rl, "192.0.2.7", 1100, &wait),
	    ERR_LOCKED);
	assert_int_equal(wait, 2 * RATELIMIT_BASE_DELAY);
	/* Short of a half-life between failures: the count goes on... */
	assert_int_equal(ratelimit_fail(rl, "192.0.2.7",
	    1100 + RATELIMIT_HALF_LIFE - 1), RATELIMIT_FREE + 2);
	/* ...one half-life: halved, then this failure (5 -> 2 + 1)... */
	assert_int_equal(ratelimit_fail(rl, "192.0.2.7",
	    1100 + 2 * RATELIMIT_HALF_LIFE - 1), 3);
	/* ...and long quiet: a fresh start. No success can reset it:
	 * daemon/auth.c has no call that would. */
	assert_int_equal(ratelimit_fail(rl, "192.0.2.7",
	    1100 + 100 * RATELIMIT_HALF_LIFE), 1);
	assert_int_equal(ratelimit_check(rl, "192.0.2.7",
	    1100 + 100 * RATELIMIT_HALF_LIFE, &wait), ERR_OK);
	/* No address: never limited here. */
	assert_int_equal(ratelimit_fail(rl, "", 1), 0);
	assert_int_equal(ratelimit_check(rl, NULL, 1, &wait), ERR_OK);
	free(rl);
}

static void
test_table_full_evicts_oldest(void **state)
{
	struct ratelimit *rl = calloc(1, sizeof(*rl));
	char addr[32];
	unsigned wait;
	int i, j;

	(void)state;
	assert_non_null(rl);
	/* A locked address, then a flood of others: the flood evicts the
	 * idle ones first, never the address failing right now. */
	for (i = 0; i < RATELIMIT_SOURCES + 10; i++) {
		snprintf(addr, sizeof(addr), "10.0.%d.%d", i / 256, i % 256);
		for (j = 0; j < RATELIMIT_FREE; j++)
			ratelimit_fail(rl, addr, 5000 + i);
	}
	assert_int_equal(ratelimit_check(rl, addr, 5000 + i - 1, &wait),
	    ERR_LOCKED);
	assert_int_equal(ratelimit_check(rl, "10.0.0.0", 5000 + i - 1, &wait),
	    ERR_OK);	/* the oldest went */
	free(rl);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_delay_grows_and_caps),
		cmocka_unit_test(test_source_lock_and_reset),
		cmocka_unit_test(test_source_keys),
		cmocka_unit_test(test_table_full_evicts_oldest),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
