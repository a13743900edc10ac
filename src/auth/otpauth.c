/*
 * otpauth.c - the otpauth:// key URI and its QR code on a terminal
 * (see otpauth.h).
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <qrencode.h>
#include <sodium.h>

#include "auth/otpauth.h"
#include "auth/totp.h"
#include "common/banned.h"

_Static_assert(TOTP_DIGITS == 6 && TOTP_PERIOD == 30,
    "the URI's digits and period parameters");

#define URI_PREFIX	"otpauth://totp/"
#define URI_SUFFIX	"&algorithm=SHA1&digits=6&period=30"

#define CELL_FULL	"\xe2\x96\x88"	/* U+2588: both modules light */
#define CELL_UPPER	"\xe2\x96\x80"	/* U+2580: light over dark */
#define CELL_LOWER	"\xe2\x96\x84"	/* U+2584: dark over light */
#define CELL_NONE	" "		/* both dark */
#define ANSI_ON		"\033[97;40m"
#define ANSI_OFF	"\033[0m"

/*
 * An issuer or account name: 1 to OTPAUTH_NAME_MAX bytes, no ':' (the
 * label separator) and no control characters.
 */
static int
name_check(const char *name)
{
	size_t i;

	if (name == NULL || name[0] == '\0')
		return ERR_INVAL;
	for (i = 0; name[i] != '\0'; i++) {
		unsigned char ch = (unsigned char)name[i];

		if (i >= OTPAUTH_NAME_MAX)
			return ERR_TOOBIG;
		if (ch == ':' || ch < 0x20 || ch == 0x7f)
			return ERR_INVAL;
	}
	return ERR_OK;
}

/* Appends n bytes of s at *pos; the caller sized buf for all of it. */
static void
put(char *buf, size_t *pos, const char *s, size_t n)
{
	memcpy(buf + *pos, s, n);
	*pos += n;
}

/*
 * Appends name percent-encoded (RFC 3986 section 2.1): every byte but the
 * unreserved ALPHA / DIGIT / "-" / "." / "_" / "~" becomes %XX, upper case.
 * At most 3 * strlen(name) bytes.
 */
static void
put_escaped(char *buf, size_t *pos, const char *name)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p;

	for (p = (const unsigned char *)name; *p != '\0'; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' ||
		    *p == '_' || *p == '~') {
			buf[(*pos)++] = (char)*p;
		} else {
			buf[(*pos)++] = '%';
			buf[(*pos)++] = hex[*p >> 4];
			buf[(*pos)++] = hex[*p & 0xf];
		}
	}
}

int
otpauth_uri_build_secret(const struct totp_seed *seed, const char *issuer,
    const char *account, char **urip)
{
	char *b32 = NULL, *uri = NULL;
	size_t cap, pos = 0, b32_len;
	int r = ERR_INTERNAL;

	if (urip == NULL)
		return ERR_INVAL;
	*urip = NULL;
	if (seed == NULL) {
		r = ERR_INVAL;
		goto out;
	}
	if ((r = name_check(issuer)) != ERR_OK ||
	    (r = name_check(account)) != ERR_OK)
		goto out;
	if ((r = totp_seed_base32_secret(seed, &b32)) != ERR_OK)
		goto out;
	b32_len = strlen(b32);

	cap = sizeof(URI_PREFIX) + 3 * strlen(issuer) + 1 +
	    3 * strlen(account) + sizeof("?secret=") + b32_len +
	    sizeof("&issuer=") + 3 * strlen(issuer) + sizeof(URI_SUFFIX) + 1;
	if ((uri = malloc(cap)) == NULL) {
		r = ERR_NOMEM;
		goto out;
	}
	put(uri, &pos, URI_PREFIX, strlen(URI_PREFIX));
	put_escaped(uri, &pos, issuer);
	put(uri, &pos, ":", 1);
	put_escaped(uri, &pos, account);
	put(uri, &pos, "?secret=", strlen("?secret="));
	put(uri, &pos, b32, b32_len);
	put(uri, &pos, "&issuer=", strlen("&issuer="));
	put_escaped(uri, &pos, issuer);
	put(uri, &pos, URI_SUFFIX, strlen(URI_SUFFIX));
	if (pos >= cap) {
		/* Not reached: cap counts every byte and the NUL. */
		sodium_memzero(uri, cap);
		free(uri);
		uri = NULL;
		r = ERR_INTERNAL;
		goto out;
	}
	uri[pos] = '\0';
	*urip = uri;
	r = ERR_OK;
 out:
	totp_str_free_secret(b32);
	return r;
}

/* 1 if the module at (y, x) of q is dark; the quiet zone is light. */
static int
dark(const QRcode *q, long y, long x)
{
	if (y < 0 || x < 0 || y >= q->width || x >= q->width)
		return 0;
	return q->data[y * q->width + x] & 1;
}

int
otpauth_qr_render_secret(const char *text, int flags, char **qrp)
{
	const long quiet = OTPAUTH_QR_QUIET;
	QRcode *q = NULL;
	char *out = NULL;
	size_t cap = 0, pos = 0, lines, cols;
	long y, x;
	int r = ERR_INTERNAL, ansi = (flags & OTPAUTH_QR_ANSI) != 0;
	const char *cell;

	if (qrp == NULL)
		return ERR_INVAL;
	*qrp = NULL;
	if (text == NULL || text[0] == '\0' ||
	    (flags & ~OTPAUTH_QR_ANSI) != 0) {
		r = ERR_INVAL;
		goto out;
	}
	errno = 0;
	if ((q = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8,
	    1)) == NULL) {
		if (errno == ERANGE)
			r = ERR_TOOBIG;
		else if (errno == ENOMEM)
			r = ERR_NOMEM;
		else
			r = ERR_INVAL;
		goto out;
	}

	/*
	 * Two module rows per line, so an odd total leaves the last line's
	 * lower half beyond the quiet zone: it is drawn light as well.
	 */
	cols = (size_t)q->width + 2 * (size_t)quiet;
	lines = (cols + 1) / 2;
	cap = lines * (sizeof(ANSI_ON) + 3 * cols + sizeof(ANSI_OFF) + 1) + 1;
	if ((out = malloc(cap)) == NULL) {
		r = ERR_NOMEM;
		goto out;
	}
	for (y = -quiet; y < q->width + quiet; y += 2) {
		if (ansi)
			put(out, &pos, ANSI_ON, strlen(ANSI_ON));
		for (x = -quiet; x < q->width + quiet; x++) {
			switch (dark(q, y, x) << 1 | dark(q, y + 1, x)) {
			case 0:
				cell = CELL_FULL;
				break;
			case 1:
				cell = CELL_UPPER;
				break;
			case 2:
				cell = CELL_LOWER;
				break;
			default:
				cell = CELL_NONE;
				break;
			}
			put(out, &pos, cell, strlen(cell));
		}
		if (ansi)
			put(out, &pos, ANSI_OFF, strlen(ANSI_OFF));
		put(out, &pos, "\n", 1);
	}
	out[pos] = '\0';
	*qrp = out;
	out = NULL;
	r = ERR_OK;
 out:
	if (out != NULL) {
		sodium_memzero(out, cap);
		free(out);
	}
	if (q != NULL) {
		/* The modules spell the seed out too. */
		sodium_memzero(q->data, (size_t)q->width * (size_t)q->width);
		QRcode_free(q);
	}
	return r;
}
