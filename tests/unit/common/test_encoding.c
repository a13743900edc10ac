#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>

#include <cmocka.h>

#include "common/encoding.h"
#include "common/banned.h"

static int
u64(const char *s, uint64_t *v)
{
	return enc_u64_parse(s, strlen(s), v);
}

static void
test_u64(void **state)
{
	uint64_t v;

	(void)state;
	assert_int_equal(u64("0", &v), ERR_OK);
	assert_true(v == 0);
	assert_int_equal(u64("18446744073709551615", &v), ERR_OK);
	assert_true(v == UINT64_MAX);
	assert_int_equal(u64("18446744073709551616", &v), ERR_FORMAT);
	assert_int_equal(u64("99999999999999999999", &v), ERR_FORMAT);
	assert_int_equal(u64("007", &v), ERR_FORMAT);
	assert_int_equal(u64("-1", &v), ERR_FORMAT);
	assert_int_equal(u64("+1", &v), ERR_FORMAT);
	assert_int_equal(u64("1 ", &v), ERR_FORMAT);
	assert_int_equal(u64("", &v), ERR_FORMAT);
	assert_int_equal(u64("12a", &v), ERR_FORMAT);
}

static int
b64(const char *s, uint8_t *out, size_t max, size_t *n)
{
	return enc_base64_decode(s, strlen(s), out, max, n);
}

static void
test_base64(void **state)
{
	uint8_t out[64];
	size_t n;

	(void)state;
	/* RFC 4648 section 10 vectors. */
	assert_int_equal(b64("Zg==", out, sizeof(out), &n), ERR_OK);
	assert_int_equal(n, 1);
	assert_memory_equal(out, "f", 1);
	assert_int_equal(b64("Zm9vYmFy", out, sizeof(out), &n), ERR_OK);
	assert_int_equal(n, 6);
	assert_memory_equal(out, "foobar", 6);
	assert_int_equal(b64("Zm9vYg==", out, sizeof(out), &n), ERR_OK);
	assert_memory_equal(out, "foob", 4);

	assert_int_equal(b64("", out, sizeof(out), &n), ERR_FORMAT);
	assert_int_equal(b64("Zg=", out, sizeof(out), &n), ERR_FORMAT);	/* unpadded */
	assert_int_equal(b64("Zh==", out, sizeof(out), &n), ERR_FORMAT);	/* stray bits */
	assert_int_equal(b64("Zm9v\n", out, sizeof(out), &n), ERR_FORMAT);
	assert_int_equal(b64("Zm-v", out, sizeof(out), &n), ERR_FORMAT);	/* URL alphabet */
	assert_int_equal(b64("Zg==Zg==", out, sizeof(out), &n), ERR_FORMAT);
	/* libsodium 1.0.18 alone takes bytes >= 0x80 for digits. */
	assert_int_equal(b64("Zm9\x80", out, sizeof(out), &n), ERR_FORMAT);
	assert_int_equal(b64("\xffm9v", out, sizeof(out), &n), ERR_FORMAT);
	/* Too small a buffer. */
	assert_int_equal(b64("Zm9vYmFy", out, 5, &n), ERR_FORMAT);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_u64),
		cmocka_unit_test(test_base64),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
