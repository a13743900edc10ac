/*
 * test_otpauth.c - the otpauth:// key URI (exact strings, escapes,
 * refusals) and its terminal QR code: size, quiet zone, the modules read
 * back from the half blocks equal libqrencode's, and, where zbarimg is
 * installed, a scanner reads the URI back from an image of the text.
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
#include <qrencode.h>

#include "auth/otpauth.h"
#include "auth/totp.h"
#include "common/banned.h"

extern char **environ;

#define UPPER	"\xe2\x96\x80"	/* U+2580 upper half block */
#define LOWER	"\xe2\x96\x84"	/* U+2584 lower half block */
#define FULL	"\xe2\x96\x88"	/* U+2588 full block */
#define ANSI_ON	"\033[97;40m"
#define ANSI_OFF "\033[0m"

static struct totp_seed *
rfc(void)
{
	struct totp_seed *seed = NULL;

	assert_int_equal(totp_seed_from_bytes_secret(
	    (const uint8_t *)"12345678901234567890", 20, &seed), ERR_OK);
	return seed;
}

static void
check_uri(const char *issuer, const char *account, const char *want)
{
	struct totp_seed *seed = rfc();
	char *uri = NULL;

	assert_int_equal(otpauth_uri_build_secret(seed, issuer, account, &uri),
	    ERR_OK);
	assert_string_equal(uri, want);
	totp_str_free_secret(uri);
	totp_seed_free(seed);
}

static void
test_uri_exact(void **state)
{
	(void)state;
	check_uri("Bulwark", "alice",
	    "otpauth://totp/Bulwark:alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
	    "&issuer=Bulwark&algorithm=SHA1&digits=6&period=30");
	check_uri("Bulwark", "alice smith@x",
	    "otpauth://totp/Bulwark:alice%20smith%40x"
	    "?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
	    "&issuer=Bulwark&algorithm=SHA1&digits=6&period=30");
	check_uri("ACME Corp & Co", "bob",
	    "otpauth://totp/ACME%20Corp%20%26%20Co:bob"
	    "?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
	    "&issuer=ACME%20Corp%20%26%20Co&algorithm=SHA1&digits=6&period=30");
	/* Unreserved characters stay; everything else is escaped. */
	check_uri("a-b.c_d~e", "Jos\xc3\xa9/?#[]+=%",
	    "otpauth://totp/a-b.c_d~e:Jos%C3%A9%2F%3F%23%5B%5D%2B%3D%25"
	    "?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
	    "&issuer=a-b.c_d~e&algorithm=SHA1&digits=6&period=30");
}

static void
test_uri_random_seed(void **state)
{
	struct totp_seed *seed = NULL;
	char *uri = NULL, *b32 = NULL, want[256];

	(void)state;
	assert_int_equal(totp_seed_generate_secret(&seed), ERR_OK);
	assert_int_equal(totp_seed_base32_secret(seed, &b32), ERR_OK);
	assert_int_equal(otpauth_uri_build_secret(seed, "Bulwark", "alice",
	    &uri), ERR_OK);
	snprintf(want, sizeof(want), "otpauth://totp/Bulwark:alice?secret=%s"
	    "&issuer=Bulwark&algorithm=SHA1&digits=6&period=30", b32);
	assert_string_equal(uri, want);
	totp_str_free_secret(uri);
	totp_str_free_secret(b32);
	totp_seed_free(seed);
}

static void
test_uri_refused(void **state)
{
	struct totp_seed *seed = rfc();
	char name[OTPAUTH_NAME_MAX + 2];
	char *uri = (char *)&uri;

	(void)state;
	assert_int_equal(otpauth_uri_build_secret(seed, "Bulwark", "a:b", &uri),
	    ERR_INVAL);
	assert_null(uri);
	assert_int_equal(otpauth_uri_build_secret(seed, "Bul:wark", "a", &uri),
	    ERR_INVAL);
	assert_int_equal(otpauth_uri_build_secret(seed, "Bulwark", "", &uri),
	    ERR_INVAL);
	assert_int_equal(otpauth_uri_build_secret(seed, "", "alice", &uri),
	    ERR_INVAL);
	assert_int_equal(otpauth_uri_build_secret(seed, NULL, "alice", &uri),
	    ERR_INVAL);
	assert_int_equal(otpauth_uri_build_secret(seed, "Bulwark", NULL, &uri),
	    ERR_INVAL);
	assert_int_equal(otpauth_uri_build_secret(NULL, "Bulwark", "a", &uri),
	    ERR_INVAL);
	assert_int_equal(otpauth_uri_build_secret(seed, "Bulwark", "a\tb",
	    &uri), ERR_INVAL);
	assert_int_equal(otpauth_uri_build_secret(seed, "Bulwark", "a\x7f",
	    &uri), ERR_INVAL);
	assert_int_equal(otpauth_uri_build_secret(seed, "Bul\nwark", "a",
	    &uri), ERR_INVAL);

	memset(name, 'a', sizeof(name));
	name[OTPAUTH_NAME_MAX + 1] = '\0';
	assert_int_equal(otpauth_uri_build_secret(seed, "Bulwark", name, &uri),
	    ERR_TOOBIG);
	assert_null(uri);
	name[OTPAUTH_NAME_MAX] = '\0';
	assert_int_equal(otpauth_uri_build_secret(seed, name, name, &uri),
	    ERR_OK);
	totp_str_free_secret(uri);
	totp_seed_free(seed);
}

/*
 * Reads a rendering back into a matrix of modules (1 = dark), quiet zone
 * included: (lines * 2) rows of cols modules. Fails the test on anything
 * but the four cells, the optional colour escapes, and '\n'.
 */
static uint8_t *
parse_qr(const char *qr, int ansi, size_t *rowsp, size_t *colsp)
{
	size_t cols = 0, rows = 0, col, cap = 1 << 20;
	uint8_t *m = calloc(cap, 1);
	const char *p = qr;

	assert_non_null(m);
	while (*p != '\0') {
		if (ansi) {
			assert_memory_equal(p, ANSI_ON, strlen(ANSI_ON));
			p += strlen(ANSI_ON);
		}
		for (col = 0; *p != '\n' && *p != '\033'; col++) {
			int top = 0, bottom = 0;

			assert_true(rows + 2 <= 4096 && col < 256);
			if (*p == ' ') {
				top = bottom = 1;
				p++;
			} else if (strncmp(p, FULL, 3) == 0) {
				top = bottom = 0;
				p += 3;
			} else if (strncmp(p, UPPER, 3) == 0) {
				top = 0;
				bottom = 1;
				p += 3;
			} else if (strncmp(p, LOWER, 3) == 0) {
				top = 1;
				bottom = 0;
				p += 3;
			} else {
				fail_msg("unexpected byte 0x%02x in QR text",
				    (unsigned char)*p);
			}
			m[rows * 256 + col] = (uint8_t)top;
			m[(rows + 1) * 256 + col] = (uint8_t)bottom;
		}
		if (ansi) {
			assert_memory_equal(p, ANSI_OFF, strlen(ANSI_OFF));
			p += strlen(ANSI_OFF);
		}
		assert_int_equal(*p, '\n');
		p++;
		if (cols == 0)
			cols = col;
		assert_int_equal(col, cols);
		rows += 2;
	}
	*rowsp = rows;
	*colsp = cols;
	return m;
}

static void
check_render(const char *text, int flags)
{
	QRcode *q = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
	const size_t quiet = OTPAUTH_QR_QUIET;
	size_t rows, cols, w, x, y, lines, i;
	char *qr = NULL;
	uint8_t *m;
	const char *p;

	assert_non_null(q);
	w = (size_t)q->width;
	assert_int_equal(otpauth_qr_render_secret(text, flags, &qr), ERR_OK);
	assert_non_null(qr);

	/* One line per two module rows, quiet zone included. */
	for (lines = 0, p = qr; *p != '\0'; p++)
		lines += *p == '\n';
	assert_int_equal(lines, (w + 2 * quiet + 1) / 2);

	/* The first line is quiet zone: nothing but full blocks. */
	p = qr;
	if (flags & OTPAUTH_QR_ANSI) {
		assert_memory_equal(p, ANSI_ON, strlen(ANSI_ON));
		p += strlen(ANSI_ON);
	}
	for (i = 0; i < w + 2 * quiet; i++, p += 3)
		assert_memory_equal(p, FULL, 3);
	assert_memory_equal(p, (flags & OTPAUTH_QR_ANSI) ? ANSI_OFF "\n" : "\n",
	    (flags & OTPAUTH_QR_ANSI) ? strlen(ANSI_OFF) + 1 : 1);

	/* Read back, it is libqrencode's matrix inside a light margin. */
	m = parse_qr(qr, flags & OTPAUTH_QR_ANSI, &rows, &cols);
	assert_int_equal(cols, w + 2 * quiet);
	assert_true(rows >= w + 2 * quiet);
	for (y = 0; y < rows; y++) {
		for (x = 0; x < cols; x++) {
			int dark = 0;

			if (y >= quiet && y < quiet + w && x >= quiet &&
			    x < quiet + w)
				dark = q->data[(y - quiet) * w + (x - quiet)] &
				    1;
			assert_int_equal(m[y * 256 + x], dark);
		}
	}
	free(m);
	totp_str_free_secret(qr);
	QRcode_free(q);
}

static void
test_qr_render(void **state)
{
	(void)state;
	check_render("otpauth://totp/Bulwark:alice?secret=GEZDGNBVGY3TQOJQGEZDGNB"
	    "VGY3TQOJQ&issuer=Bulwark&algorithm=SHA1&digits=6&period=30", 0);
	check_render("otpauth://totp/Bulwark:alice?secret=GEZDGNBVGY3TQOJQGEZDGNB"
	    "VGY3TQOJQ&issuer=Bulwark&algorithm=SHA1&digits=6&period=30",
	    OTPAUTH_QR_ANSI);
	check_render("x", 0);	/* version 1: 21 modules, an odd count */
	check_render("x", OTPAUTH_QR_ANSI);
}

static void
test_qr_refused(void **state)
{
	char *qr = (char *)&qr, *big;

	(void)state;
	assert_int_equal(otpauth_qr_render_secret(NULL, 0, &qr), ERR_INVAL);
	assert_null(qr);
	assert_int_equal(otpauth_qr_render_secret("", 0, &qr), ERR_INVAL);
	assert_int_equal(otpauth_qr_render_secret("x", 2, &qr), ERR_INVAL);
	assert_non_null(big = malloc(8001));
	memset(big, 'a', 8000);
	big[8000] = '\0';
	assert_int_equal(otpauth_qr_render_secret(big, 0, &qr), ERR_TOOBIG);
	assert_null(qr);
	free(big);
}

/*
 * Draws the rendering as a greyscale PGM, each module 4x4 pixels, the
 * way a terminal shows it (block = light), and asks zbarimg to read it.
 * Skipped where zbar-tools is not installed.
 */
static void
test_qr_scans(void **state)
{
	struct totp_seed *seed = rfc();
	char *uri = NULL, *qr = NULL, path[] = "/tmp/bulwark-qr-XXXXXX.pgm";
	char *argv[] = { "zbarimg", "--raw", "-q", path, NULL };
	posix_spawn_file_actions_t fa;
	char out[512];
	size_t rows, cols, x, y, n = 0;
	uint8_t *m;
	int fd, fds[2], status, rc;
	ssize_t got;
	FILE *f;
	pid_t pid;

	(void)state;
	assert_int_equal(otpauth_uri_build_secret(seed, "Bulwark",
	    "alice smith@x", &uri), ERR_OK);
	assert_int_equal(otpauth_qr_render_secret(uri, 0, &qr), ERR_OK);
	m = parse_qr(qr, 0, &rows, &cols);

	assert_true((fd = mkstemps(path, 4)) >= 0);
	assert_non_null(f = fdopen(fd, "w"));
	fprintf(f, "P5\n%zu %zu\n255\n", cols * 4, rows * 4);
	for (y = 0; y < rows * 4; y++)
		for (x = 0; x < cols * 4; x++)
			fputc(m[(y / 4) * 256 + x / 4] ? 0 : 255, f);
	assert_int_equal(fclose(f), 0);
	free(m);

	assert_int_equal(pipe(fds), 0);
	assert_int_equal(posix_spawn_file_actions_init(&fa), 0);
	assert_int_equal(posix_spawn_file_actions_adddup2(&fa, fds[1], 1), 0);
	assert_int_equal(posix_spawn_file_actions_addclose(&fa, fds[0]), 0);
	/* zbarimg's ImageMagick chatters about D-Bus on stderr. */
	assert_int_equal(posix_spawn_file_actions_addopen(&fa, 2, "/dev/null",
	    O_WRONLY, 0), 0);
	rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(fds[1]);
	if (rc != 0) {
		close(fds[0]);
		unlink(path);
		totp_str_free_secret(qr);
		totp_str_free_secret(uri);
		totp_seed_free(seed);
		print_message("zbarimg not installed; not scanning\n");
		skip();
	}
	while (n + 1 < sizeof(out) &&
	    (got = read(fds[0], out + n, sizeof(out) - 1 - n)) != 0) {
		if (got < 0) {
			assert_int_equal(errno, EINTR);
			continue;
		}
		n += (size_t)got;
	}
	out[n] = '\0';
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	unlink(path);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	out[strcspn(out, "\n")] = '\0';
	assert_string_equal(out, uri);

	totp_str_free_secret(qr);
	totp_str_free_secret(uri);
	totp_seed_free(seed);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uri_exact),
		cmocka_unit_test(test_uri_random_seed),
		cmocka_unit_test(test_uri_refused),
		cmocka_unit_test(test_qr_render),
		cmocka_unit_test(test_qr_refused),
		cmocka_unit_test(test_qr_scans),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
