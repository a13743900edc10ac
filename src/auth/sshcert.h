/*
 * sshcert.h - the Bulwark user CA: OpenSSH user certificates
 * (PROTOCOL.certkeys, ssh-ed25519-cert-v01@openssh.com) for the ephemeral
 * key of one session, and a strict parser for them.
 *
 * A certificate issued here is a user certificate (type 1) with a random
 * 32-byte nonce, the given serial, key id and principals, a validity window
 * of at most SSHCERT_MAX_VALIDITY seconds, the critical option
 * source-address when one is given, the extension permit-pty when asked
 * for, and nothing else: no agent, port or X11 forwarding, no user rc, no
 * reserved data. Options and extensions are sorted by name, as the format
 * demands. The CA signs with ssh-ed25519.
 *
 * Invariant I1 rests on the caller too: bulwarkd must always pass the
 * gateway's address as source_address and a principal list naming only the
 * target login.
 */
#ifndef BULWARK_AUTH_SSHCERT_H
#define BULWARK_AUTH_SSHCERT_H

#include <stddef.h>
#include <stdint.h>

#include "auth/sshkey.h"
#include "common/err.h"

#define SSHCERT_TYPE_NAME "ssh-ed25519-cert-v01@openssh.com"
#define SSHCERT_TYPE_USER 1
#define SSHCERT_TYPE_HOST 2
/* Default and longest validity window, in seconds. */
#define SSHCERT_DEFAULT_VALIDITY 60
#define SSHCERT_MAX_VALIDITY 300
/* Limits on what sshcert_issue accepts. */
#define SSHCERT_ISSUE_MAX_PRINCIPALS 16
#define SSHCERT_NAME_MAX 255	/* a principal, a key id, a source-address */
/* Limits on what sshcert_parse accepts (OpenSSH's own are close). */
#define SSHCERT_PARSE_MAX_PRINCIPALS 256
#define SSHCERT_PARSE_MAX_OPTIONS 64
#define SSHCERT_BLOB_MAX 16384
#define SSHCERT_LINE_MAX 24576

/* What to certify. Everything is borrowed for the call only. */
struct sshcert_request {
	const struct sshkey_pub *subject;	/* the key to certify */
	uint64_t serial;			/* the session id */
	/* Printable ASCII, 1 to SSHCERT_NAME_MAX bytes, e.g. "alice/42". */
	const char *key_id;
	/*
	 * 1 to SSHCERT_ISSUE_MAX_PRINCIPALS logins, each 1 to
	 * SSHCERT_NAME_MAX printable ASCII bytes without space or comma.
	 * An empty list is refused: OpenSSH would take it for "any user".
	 */
	const char *const *principals;
	size_t nprincipals;
	/*
	 * Seconds since the epoch. valid_after < valid_before and the window
	 * is at most SSHCERT_MAX_VALIDITY; back-dating valid_after a little
	 * against clock skew is the caller's choice.
	 */
	uint64_t valid_after;
	uint64_t valid_before;
	/*
	 * The source-address critical option, a comma-separated list of
	 * addresses or CIDR blocks ("192.0.2.1/32"); NULL for none.
	 */
	const char *source_address;
	int permit_pty;				/* the only extension */
};

/*
 * Certifies req->subject with the CA key ca. On success *cert_line is a
 * malloc'ed "ssh-ed25519-cert-v01@openssh.com BASE64 KEY_ID\n" (the
 * contents of a -cert.pub file) that the caller frees. ERR_INVAL when the
 * request breaks any rule above; nothing is signed then.
 */
int sshcert_issue(const struct sshkey *ca, const struct sshcert_request *req,
    char **cert_line) WUR;

/* A critical option or an extension: its name and raw data field. */
struct sshcert_option {
	char *name;
	uint8_t *data;
	size_t data_len;
};

/* A parsed certificate; sshcert_free frees it and everything it points at. */
struct sshcert {
	struct sshkey_pub key;		/* the certified key */
	uint8_t *nonce;
	size_t nonce_len;
	uint64_t serial;
	uint32_t type;			/* SSHCERT_TYPE_USER or _HOST */
	char *key_id;
	char **principals;
	size_t nprincipals;
	uint64_t valid_after;
	uint64_t valid_before;
	struct sshcert_option *critical;	/* sorted by name, unique */
	size_t ncritical;
	struct sshcert_option *extensions;	/* sorted by name, unique */
	size_t nextensions;
	struct sshkey_pub ca;		/* the signature key */
	uint8_t signature[SSHKEY_ED25519_SIGLEN];
	uint8_t *blob;			/* the whole certificate */
	size_t blob_len;
	size_t signed_len;		/* blob[0..signed_len) is signed */
	char *comment;			/* from the line; "" for none */
};

/*
 * Parses a certificate blob, strictly: the ssh-ed25519-cert-v01 layout
 * with no trailing data, a nonce of 16 to 64 bytes, type 1 or 2, options
 * and extensions in strictly increasing name order, each name and each
 * principal free of NUL, an empty reserved field, and an ssh-ed25519
 * signature key and signature. The signature is not checked here (see
 * sshcert_verify). ERR_UNSUPPORTED for another key or certificate type,
 * ERR_FORMAT or ERR_TOOBIG for anything malformed.
 */
int sshcert_parse_blob(const uint8_t *blob, size_t len,
    struct sshcert **out) WUR;
/*
 * Parses a certificate line, "TYPE BASE64[ COMMENT]" with at most one
 * final "\n", by the rules of sshkey_pub_parse and sshcert_parse_blob.
 */
int sshcert_parse(const char *line, size_t len, struct sshcert **out) WUR;
/*
 * ERR_OK when c is signed by ca: c's signature key is ca and the
 * signature verifies. ERR_SIGNATURE otherwise.
 */
int sshcert_verify(const struct sshcert *c, const struct sshkey_pub *ca) WUR;
void sshcert_free(struct sshcert *c);

#endif
