/*
 * entry.h - audit log entries: canonical JSON records.
 *
 * An entry is one JSON object with these members, all optional but actor
 * and action:
 *
 *   time      RFC 3339 UTC, "YYYY-MM-DDTHH:MM:SS[.ffffff]Z" (the log fills
 *             it in when the caller leaves it out)
 *   actor     who acted (user, host, daemon)
 *   source    where from (address, tty, process)
 *   target    what was acted on (login@host, vault, key)
 *   action    what was done ("auth.totp", "session.start", ...)
 *   decision  the outcome ("allow", "deny", "hold", ...)
 *   session   session identifier
 *   detail    any JSON object with more facts; blob hashes go here
 *
 * The canonical spelling has one form per record: members sorted by key
 * (byte order), no insignificant white space, strings as jansson writes
 * them (UTF-8, only the escapes JSON requires), integers only. Unknown top
 * level members, floating-point numbers, duplicate keys, invalid UTF-8 and
 * NUL characters are refused, so two parties that agree on a record agree
 * on its bytes and so on its leaf hash.
 */
#ifndef BULWARK_AUDIT_ENTRY_H
#define BULWARK_AUDIT_ENTRY_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

/* The entry bundle format stores lengths in 16 bits. */
#define ENTRY_MAX_LEN 65535
/* Raw input lines may carry white space that canonicalization removes. */
#define ENTRY_MAX_INPUT (4 * ENTRY_MAX_LEN)

/*
 * Checks the record in (len bytes, need not be NUL-terminated) and writes
 * its canonical form to *out (malloc'd, NUL-terminated, *outlen bytes).
 * When now_rfc3339 is not NULL and the record has no time, that time is
 * added. On failure returns ERR_FORMAT or ERR_TOOBIG and writes a one-line
 * reason to why (which may be NULL) of size whylen; ERR_INVAL when
 * now_rfc3339 is not in entry_time_now's form, ERR_NOMEM.
 */
int entry_canonicalize(const char *in, size_t len, const char *now_rfc3339,
    char **out, size_t *outlen, char *why, size_t whylen) WUR;

/* The current UTC time as RFC 3339 with microseconds, in buf (>= 32). */
void entry_time_now(char *buf, size_t len);

/* Checks that s is an RFC 3339 UTC time in the form entry_time_now makes
 * or without fractional seconds. */
int entry_time_valid(const char *s) WUR;

#endif
