/*
 * test_totp.c - RFC 6238 known answers, the +-1 step window, replay
 * refusal, strict code parsing, seeds and their base32 spelling, a naive
 * HMAC-SHA-1 reference, and interop with oathtool.
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <setjmp.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>

#include "auth/totp.h"
#include "common/banned.h"

extern char **environ;

/* RFC 6238 Appendix B: the SHA-1 seed and its answers for 8 digits. */
static const char rfc_seed[] = "12345678901234567890";
static const char rfc_seed_b32[] = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
static const struct {
	time_t t;
	const char *code8;
} rfc_vectors[] = {
	{ 59, "94287082" },
	{ 1111111109, "07081804" },
	{ 1111111111, "14050471" },
	{ 1234567890, "89005924" },
	{ 2000000000, "69279037" },
	{ 20000000000, "65353130" },
};
#define NVECTORS (sizeof(rfc_vectors) / sizeof(rfc_vectors[0]))

static struct totp_seed *
rfc(void)
{
	struct totp_seed *seed = NULL;

	assert_int_equal(totp_seed_from_bytes_secret((const uint8_t *)rfc_seed,
	    20, &seed), ERR_OK);
	assert_non_null(seed);
	return seed;
}

static void
code_at(const struct totp_seed *seed, time_t t, char code[TOTP_DIGITS + 1])
{
	assert_int_equal(totp_code_generate(seed, t, TOTP_DIGITS, code,
	    TOTP_DIGITS + 1), ERR_OK);
}

static int
verify(const struct totp_seed *seed, const char *code, time_t now,
    uint64_t last, uint64_t *step)
{
	return totp_verify(seed, code, strlen(code), now, last, step);
}

static void
test_rfc6238_vectors(void **state)
{
	struct totp_seed *seed = rfc();
	char code[TOTP_CODE_BUFSZ];
	size_t i;

	(void)state;
	for (i = 0; i < NVECTORS; i++) {
		assert_int_equal(totp_code_generate(seed, rfc_vectors[i].t, 8,
		    code, sizeof(code)), ERR_OK);
		assert_string_equal(code, rfc_vectors[i].code8);
		/* Six digits: the same truncation modulo 10^6. */
		assert_int_equal(totp_code_generate(seed, rfc_vectors[i].t, 6,
		    code, sizeof(code)), ERR_OK);
		assert_string_equal(code, rfc_vectors[i].code8 + 2);
	}
	totp_seed_free(seed);
}

static void
test_rfc6238_verify(void **state)
{
	struct totp_seed *seed = rfc();
	uint64_t step = 99;
	size_t i;

	(void)state;
	for (i = 0; i < NVECTORS; i++) {
		const char *code6 = rfc_vectors[i].code8 + 2;

		assert_int_equal(verify(seed, code6, rfc_vectors[i].t, 0,
		    &step), ERR_OK);
		assert_true(step == (uint64_t)rfc_vectors[i].t / 30);
	}
	/* The 8-digit spelling is not a 6-digit code. */
	assert_int_equal(verify(seed, "94287082", 59, 0, &step), ERR_FORMAT);
	assert_true(step == 0);
	totp_seed_free(seed);
}

static void
test_window(void **state)
{
	struct totp_seed *seed = rfc();
	const time_t now = 1111111111;	/* step 37037037, 1 s into it */
	const uint64_t now_step = 37037037;
	char code[TOTP_DIGITS + 1];
	uint64_t step;
	int k;

	(void)state;
	for (k = -1; k <= 1; k++) {
		code_at(seed, now + k * TOTP_PERIOD, code);
		assert_int_equal(verify(seed, code, now, 0, &step), ERR_OK);
		assert_true(step == now_step + (uint64_t)(int64_t)k);
	}
	for (k = -3; k <= 3; k += 1) {
		if (k >= -1 && k <= 1)
			continue;
		code_at(seed, now + k * TOTP_PERIOD, code);
		assert_int_equal(verify(seed, code, now, 0, &step), ERR_DENIED);
		assert_true(step == 0);
	}
	/* The edges of the current step. */
	code_at(seed, now, code);
	assert_int_equal(verify(seed, code, 1111111110 - 30, 0, &step), ERR_OK);
	assert_int_equal(verify(seed, code, 1111111139 + 30, 0, &step), ERR_OK);
	assert_int_equal(verify(seed, code, 1111111109 - 30, 0, &step),
	    ERR_DENIED);
	assert_int_equal(verify(seed, code, 1111111140 + 30, 0, &step),
	    ERR_DENIED);
	totp_seed_free(seed);
}

static void
test_replay(void **state)
{
	struct totp_seed *seed = rfc();
	const time_t now = 1234567890;
	char prev[TOTP_DIGITS + 1], cur[TOTP_DIGITS + 1], next[TOTP_DIGITS + 1];
	uint64_t step, last;

	(void)state;
	code_at(seed, now - 30, prev);
	code_at(seed, now, cur);
	code_at(seed, now + 30, next);

	assert_int_equal(verify(seed, cur, now, 0, &last), ERR_OK);
	assert_true(last == (uint64_t)now / 30);
	/* The same code again, at once or later in the window: replay. */
	assert_int_equal(verify(seed, cur, now, last, &step), ERR_CONFLICT);
	assert_true(step == 0);
	assert_int_equal(verify(seed, cur, now + 30, last, &step),
	    ERR_CONFLICT);
	/* An older code, still in the window, is a replay too. */
	assert_int_equal(verify(seed, prev, now, last, &step), ERR_CONFLICT);
	/* The next step's code is new. */
	assert_int_equal(verify(seed, next, now, last, &step), ERR_OK);
	assert_true(step == last + 1);
	last = step;
	assert_int_equal(verify(seed, next, now + 30, last, &step),
	    ERR_CONFLICT);
	/* A last step ahead of the clock refuses everything that matches. */
	assert_int_equal(verify(seed, cur, now, UINT64_MAX, &step),
	    ERR_CONFLICT);
	/* A wrong code stays wrong whatever last_step is. */
	cur[0] = cur[0] == '9' ? '0' : (char)(cur[0] + 1);
	assert_true(strcmp(cur, prev) != 0 && strcmp(cur, next) != 0);
	assert_int_equal(verify(seed, cur, now, last, &step), ERR_DENIED);
	assert_int_equal(verify(seed, cur, now, 0, &step), ERR_DENIED);
	totp_seed_free(seed);
}

static void
test_malformed(void **state)
{
	static const char *const bad[] = {
		"", "1", "12345", "1234567", "12345678", "12345a", "a23456",
		" 123456", "123456 ", "123456\n", "\t123456", "+12345",
		"-12345", "12 456", "123 456", "0x1234", "１２３４５６",
		"12345\xff", "٠١٢٣٤٥",
	};
	struct totp_seed *seed = rfc();
	char code[TOTP_DIGITS + 1];
	uint64_t step;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		step = 7;
		assert_int_equal(verify(seed, bad[i], 59, 0, &step), ERR_FORMAT);
		assert_true(step == 0);
		memset(code, 'x', sizeof(code));
		assert_int_equal(totp_code_parse(bad[i], strlen(bad[i]), code),
		    ERR_FORMAT);
		assert_int_equal(code[0], '\0');
	}
	/* An embedded NUL, with the length counting it. */
	assert_int_equal(totp_verify(seed, "287\0" "82", 6, 59, 0, &step),
	    ERR_FORMAT);
	assert_int_equal(totp_verify(seed, "287082\0", 7, 59, 0, &step),
	    ERR_FORMAT);
	/* The length is what counts, not the NUL. */
	assert_int_equal(totp_verify(seed, "2870829", 6, 59, 0, &step),
	    ERR_OK);
	assert_int_equal(totp_code_parse("0000009", 6, code), ERR_OK);
	assert_string_equal(code, "000000");
	totp_seed_free(seed);
}

static void
test_bad_arguments(void **state)
{
	struct totp_seed *seed = rfc(), *s2 = (struct totp_seed *)&s2;
	uint8_t big[TOTP_SEED_MAX_LEN + 1] = { 0 };
	char code[TOTP_CODE_BUFSZ];
	uint64_t step = 5;

	(void)state;
	assert_int_equal(totp_verify(NULL, "287082", 6, 59, 0, &step),
	    ERR_INVAL);
	assert_int_equal(totp_verify(seed, NULL, 6, 59, 0, &step), ERR_INVAL);
	assert_int_equal(totp_verify(seed, "287082", 6, 59, 0, NULL),
	    ERR_INVAL);
	step = 5;
	assert_int_equal(verify(seed, "287082", -1, 0, &step), ERR_RANGE);
	assert_true(step == 0);
	assert_int_equal(verify(seed, "287082", INT64_MAX, 0, &step),
	    ERR_RANGE);

	assert_int_equal(totp_code_generate(seed, 59, 5, code, sizeof(code)),
	    ERR_INVAL);
	assert_int_equal(totp_code_generate(seed, 59, 9, code, sizeof(code)),
	    ERR_INVAL);
	assert_int_equal(totp_code_generate(seed, 59, 8, code, 8), ERR_INVAL);
	assert_int_equal(totp_code_generate(seed, -30, 6, code, sizeof(code)),
	    ERR_RANGE);

	assert_int_equal(totp_seed_from_bytes_secret(big, 0, &s2), ERR_INVAL);
	assert_null(s2);
	s2 = (struct totp_seed *)&s2;
	assert_int_equal(totp_seed_from_bytes_secret(big, sizeof(big), &s2),
	    ERR_INVAL);
	assert_null(s2);
	assert_int_equal(totp_seed_from_bytes_secret(big, TOTP_SEED_MAX_LEN,
	    &s2), ERR_OK);
	totp_seed_free(s2);
	assert_int_equal(totp_seed_from_bytes_secret(NULL, 20, &s2), ERR_INVAL);

	totp_seed_free(NULL);
	totp_str_free_secret(NULL);
	totp_seed_free(seed);
}

static void
test_step_at(void **state)
{
	uint64_t step = 1;

	(void)state;
	assert_int_equal(totp_step_at(0, &step), ERR_OK);
	assert_true(step == 0);
	assert_int_equal(totp_step_at(59, &step), ERR_OK);
	assert_true(step == 1);
	assert_int_equal(totp_step_at(60, &step), ERR_OK);
	assert_true(step == 2);
	assert_int_equal(totp_step_at(20000000000, &step), ERR_OK);
	assert_true(step == 666666666);
	assert_int_equal(totp_step_at(-1, &step), ERR_RANGE);
	assert_int_equal(totp_step_at(INT64_MAX, &step), ERR_RANGE);
}

static void
test_base32(void **state)
{
	struct totp_seed *seed = rfc(), *a = NULL, *b = NULL;
	char *s = NULL, *t = NULL;
	char c1[TOTP_CODE_BUFSZ], c2[TOTP_CODE_BUFSZ];
	size_t i;

	(void)state;
	assert_int_equal(totp_seed_base32_secret(seed, &s), ERR_OK);
	assert_string_equal(s, rfc_seed_b32);
	totp_str_free_secret(s);
	s = NULL;

	/* A decoded seed makes the same codes. */
	assert_int_equal(totp_seed_from_base32_secret(rfc_seed_b32,
	    strlen(rfc_seed_b32), &a), ERR_OK);
	assert_int_equal(totp_code_generate(a, 59, 8, c1, sizeof(c1)), ERR_OK);
	assert_string_equal(c1, "94287082");
	totp_seed_free(a);
	a = NULL;
	/* As typed from an app's "enter key manually": lower case, spaces. */
	assert_int_equal(totp_seed_from_base32_secret(
	    "gezd gnbv gy3t qojq gezd gnbv gy3t qojq", 39, &a), ERR_OK);
	assert_int_equal(totp_code_generate(a, 59, 8, c1, sizeof(c1)), ERR_OK);
	assert_string_equal(c1, "94287082");
	totp_seed_free(a);
	a = NULL;

	/* Fresh seeds: 20 bytes, 32 base32 digits, different each time. */
	assert_int_equal(totp_seed_generate_secret(&a), ERR_OK);
	assert_int_equal(totp_seed_generate_secret(&b), ERR_OK);
	assert_int_equal(totp_seed_base32_secret(a, &s), ERR_OK);
	assert_int_equal(totp_seed_base32_secret(b, &t), ERR_OK);
	assert_int_equal(strlen(s), TOTP_SEED_BASE32_LEN);
	for (i = 0; s[i] != '\0'; i++)
		assert_true((s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '2' && s[i] <= '7'));
	assert_string_not_equal(s, t);
	totp_seed_free(b);
	b = NULL;
	assert_int_equal(totp_seed_from_base32_secret(s, strlen(s), &b),
	    ERR_OK);
	assert_int_equal(totp_code_generate(a, 1700000000, 8, c1, sizeof(c1)),
	    ERR_OK);
	assert_int_equal(totp_code_generate(b, 1700000000, 8, c2, sizeof(c2)),
	    ERR_OK);
	assert_string_equal(c1, c2);
	totp_seed_free(a);
	totp_seed_free(b);
	totp_str_free_secret(s);
	totp_str_free_secret(t);

	/* Not base32, or nothing, or too long. */
	a = (struct totp_seed *)&a;
	assert_int_equal(totp_seed_from_base32_secret("GEZD!NBV", 8, &a),
	    ERR_FORMAT);
	assert_null(a);
	assert_int_equal(totp_seed_from_base32_secret("GEZDGNB1", 8, &a),
	    ERR_FORMAT);
	assert_int_equal(totp_seed_from_base32_secret("", 0, &a), ERR_INVAL);
	assert_int_equal(totp_seed_from_base32_secret("    ", 4, &a), ERR_INVAL);
	assert_int_equal(totp_seed_from_base32_secret("A", 1, &a), ERR_FORMAT);
	{
		char longer[8 * 14 + 1];

		memset(longer, 'A', sizeof(longer) - 1);
		longer[sizeof(longer) - 1] = '\0';
		/* 112 digits: 70 bytes, more than TOTP_SEED_MAX_LEN. */
		assert_int_equal(totp_seed_from_base32_secret(longer,
		    strlen(longer), &a), ERR_INVAL);
		assert_null(a);
	}
	totp_seed_free(seed);
}

/* RFC 4226 section 5 from first principles, with OpenSSL's HMAC. */
static unsigned
naive_hotp(const uint8_t *key, size_t len, uint64_t counter, unsigned digits)
{
	uint8_t msg[8], md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0, off, bin, mod = 1, i;

	for (i = 0; i < 8; i++)
		msg[i] = (uint8_t)(counter >> (56 - 8 * i));
	assert_non_null(HMAC(EVP_sha1(), key, (int)len, msg, sizeof(msg), md,
	    &mdlen));
	assert_int_equal(mdlen, 20);
	off = md[19] & 0xf;
	bin = (unsigned)(md[off] & 0x7f) << 24 | (unsigned)md[off + 1] << 16 |
	    (unsigned)md[off + 2] << 8 | md[off + 3];
	for (i = 0; i < digits; i++)
		mod *= 10;
	return bin % mod;
}

static void
test_naive_reference(void **state)
{
	uint8_t key[TOTP_SEED_MAX_LEN];
	char code[TOTP_CODE_BUFSZ], want[TOTP_CODE_BUFSZ];
	struct totp_seed *seed = NULL;
	uint64_t step, last;
	time_t t;
	size_t len;
	int i;

	(void)state;
	for (i = 0; i < 200; i++) {
		len = 1 + randombytes_uniform(TOTP_SEED_MAX_LEN);
		randombytes_buf(key, len);
		t = 100000 + (time_t)randombytes_uniform(UINT32_MAX) * 3;
		assert_int_equal(totp_seed_from_bytes_secret(key, len, &seed),
		    ERR_OK);
		assert_int_equal(totp_code_generate(seed, t, 6, code,
		    sizeof(code)), ERR_OK);
		snprintf(want, sizeof(want), "%06u",
		    naive_hotp(key, len, (uint64_t)t / 30, 6));
		assert_string_equal(code, want);
		/* Verify finds it, and not again. */
		last = (uint64_t)t / 30 - 1 - randombytes_uniform(1000);
		assert_int_equal(verify(seed, code, t, last, &step), ERR_OK);
		/* ...unless a neighbour step happens to have the same code. */
		assert_true(step >= (uint64_t)t / 30);
		assert_int_equal(verify(seed, code, t, step, &step),
		    ERR_CONFLICT);
		totp_seed_free(seed);
		seed = NULL;
	}
	sodium_memzero(key, sizeof(key));
}

/*
 * Runs argv (no shell) and returns its first line of output in out,
 * without the newline. Returns the exit status, or -1 if it could not run.
 */
static int
run_capture(char *const argv[], char *out, size_t outsz)
{
	posix_spawn_file_actions_t fa;
	int fds[2], status, rc;
	size_t n = 0;
	ssize_t got;
	pid_t pid;

	assert_int_equal(pipe(fds), 0);
	assert_int_equal(posix_spawn_file_actions_init(&fa), 0);
	assert_int_equal(posix_spawn_file_actions_adddup2(&fa, fds[1], 1), 0);
	assert_int_equal(posix_spawn_file_actions_addclose(&fa, fds[0]), 0);
	rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(fds[1]);
	if (rc != 0) {
		close(fds[0]);
		return -1;
	}
	while (n + 1 < outsz &&
	    (got = read(fds[0], out + n, outsz - 1 - n)) != 0) {
		if (got < 0) {
			assert_int_equal(errno, EINTR);
			continue;
		}
		n += (size_t)got;
	}
	out[n] = '\0';
	out[strcspn(out, "\n")] = '\0';
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int
in_window(const struct totp_seed *seed, const char *code, time_t t)
{
	char c[TOTP_DIGITS + 1];
	int k;

	for (k = -1; k <= 1; k++) {
		code_at(seed, t + k * TOTP_PERIOD, c);
		if (strcmp(c, code) == 0)
			return 1;
	}
	return 0;
}

static void
test_oathtool_interop(void **state)
{
	const time_t times[] = { 59, 1111111109, 1700000000, 1700000029,
	    4102444800, 0 };
	struct totp_seed *seed = NULL;
	char *b32 = NULL, arg[64], code[64];
	char *argv[] = { "oathtool", "--totp", "-b", NULL, arg, NULL };
	uint64_t step;
	size_t i;
	int round;

	(void)state;
	for (round = 0; round < 3; round++) {
		assert_int_equal(totp_seed_generate_secret(&seed), ERR_OK);
		assert_int_equal(totp_seed_base32_secret(seed, &b32), ERR_OK);
		argv[3] = b32;
		for (i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
			time_t t = times[i] != 0 ? times[i] : time(NULL);

			snprintf(arg, sizeof(arg), "--now=@%lld", (long long)t);
			if (run_capture(argv, code, sizeof(code)) != 0) {
				print_message("oathtool did not run; "
				    "install it with 'scripts/deps.sh --test'\n");
				fail();
			}
			assert_int_equal(strlen(code), TOTP_DIGITS);
			assert_int_equal(verify(seed, code, t, 0, &step),
			    ERR_OK);
			assert_true(step >= (uint64_t)t / 30 - 1 &&
			    step <= (uint64_t)t / 30 + 1);
			/*
			 * A code for 90 s later is outside the window, unless
			 * it happens to equal one inside (p = 3e-6).
			 */
			snprintf(arg, sizeof(arg), "--now=@%lld",
			    (long long)t + 90);
			assert_int_equal(run_capture(argv, code, sizeof(code)),
			    0);
			if (!in_window(seed, code, t))
				assert_int_equal(verify(seed, code, t, 0,
				    &step), ERR_DENIED);
		}
		totp_str_free_secret(b32);
		b32 = NULL;
		totp_seed_free(seed);
		seed = NULL;
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc6238_vectors),
		cmocka_unit_test(test_rfc6238_verify),
		cmocka_unit_test(test_window),
		cmocka_unit_test(test_replay),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_step_at),
		cmocka_unit_test(test_base32),
		cmocka_unit_test(test_naive_reference),
		cmocka_unit_test(test_oathtool_interop),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
