/*
 * otpauth.h - TOTP enrolment: the otpauth:// key URI that authenticator
 * apps import, and a QR code of it for the terminal.
 *
 * The URI follows Google Authenticator's Key Uri Format:
 *
 *   otpauth://totp/ISSUER:ACCOUNT?secret=BASE32&issuer=ISSUER
 *       &algorithm=SHA1&digits=6&period=30
 *
 * Both carry the seed, so both are secrets: release them with
 * totp_str_free_secret() (totp.h), which wipes them first. libqrencode
 * keeps copies in its own heap blocks while it encodes and frees them
 * without wiping; enrolment is a short-lived command, so that is accepted.
 */
#ifndef BULWARK_AUTH_OTPAUTH_H
#define BULWARK_AUTH_OTPAUTH_H

#include "auth/totp.h"
#include "common/err.h"

/* Longest issuer or account name, in bytes before percent-encoding. */
#define OTPAUTH_NAME_MAX	256

/* Modules of light margin around the code (ISO/IEC 18004 asks for 4). */
#define OTPAUTH_QR_QUIET	4

/*
 * Builds the key URI for seed, issuer (e.g. "Bulwark") and account (the
 * user name). Both names are percent-encoded (RFC 3986: every byte but
 * ALPHA, DIGIT and "-._~"; a space becomes %20) in the label and in the
 * issuer parameter. ERR_INVAL for a NULL or empty name, for a name with a
 * ':' (the label's separator, which apps split on even when escaped) or a
 * control character; ERR_TOOBIG for a name longer than OTPAUTH_NAME_MAX.
 * ERR_NOMEM. *urip is malloc'd on ERR_OK (release with
 * totp_str_free_secret), NULL otherwise.
 */
int otpauth_uri_build_secret(const struct totp_seed *seed,
    const char *issuer, const char *account, char **urip) WUR;

/* Flags for otpauth_qr_render_secret. */
#define OTPAUTH_QR_ANSI	0x1	/* colour escapes: right on any theme */

/*
 * Renders text (normally the key URI) as a QR code (libqrencode, error
 * correction level M, byte mode) for a terminal, two modules per
 * character cell with the UTF-8 half blocks U+2580 '▀', U+2584 '▄',
 * U+2588 '█' and space, one '\n'-terminated line per pair of module
 * rows, with a quiet zone of OTPAUTH_QR_QUIET modules on every side.
 *
 * Scanners want dark modules on a light background. A block cell shows
 * the terminal's foreground, so blocks draw the light modules and the
 * quiet zone, and spaces the dark ones:
 *   - flags 0: plain text, right on the usual light-on-dark terminal (as
 *     'qrencode -t UTF8'); on a dark-on-light terminal it comes out
 *     inverted, which some scanners refuse.
 *   - OTPAUTH_QR_ANSI: each line is wrapped in "\033[97;40m" (bright
 *     white on black) ... "\033[0m", so the code reads dark on light
 *     whatever the terminal's theme. Use it when stdout is a terminal.
 * The first line (after the colour escape, with OTPAUTH_QR_ANSI) is the
 * top of the quiet zone: nothing but '█'.
 *
 * *qrp is malloc'd and NUL-terminated on ERR_OK (release with
 * totp_str_free_secret), NULL otherwise. ERR_INVAL for NULL or empty text
 * or unknown flags, ERR_TOOBIG if text does not fit in a QR code,
 * ERR_NOMEM.
 */
int otpauth_qr_render_secret(const char *text, int flags, char **qrp) WUR;

#endif
