/*
 * sshagent.h - the answering side of the ssh-agent protocol (OpenSSH's
 * PROTOCOL.agent, draft-miller-ssh-agent) for one session: one certificate,
 * one signature, for one login on one pinned host.
 *
 * bulwark-shell keeps the session's private key in a process of its own
 * and lets ssh reach it only through this protocol, so that the key is
 * never in a file another process of the user could copy. The agent is
 * narrower than ssh-agent on purpose:
 *
 *  - it lists one identity, the session's certificate;
 *  - it signs once, and only an SSH_MSG_USERAUTH_REQUEST (RFC 4252
 *    section 7) for that certificate, for the session's login, on the
 *    connection ssh bound it to with session-bind@openssh.com, to the host
 *    key pinned at enrolment: it is not a signing oracle for anything else;
 *  - it refuses a binding for agent forwarding.
 *
 * The session-bind signature is not checked (the host key may be of any
 * type); the binding only has to agree with what ssh, which checked the
 * host key itself, is about to sign.
 *
 * Every request gets an answer (SSH_AGENT_FAILURE for anything refused or
 * malformed); only a frame that is too long is an error, and the caller
 * drops the connection.
 */
#ifndef BULWARK_AUTH_SSHAGENT_H
#define BULWARK_AUTH_SSHAGENT_H

#include <stddef.h>
#include <stdint.h>

#include "auth/sshkey.h"
#include "common/err.h"

/* Longest request accepted: a userauth request with a certificate and an
 * RSA host key is under 4 KiB. */
#define SSHAGENT_MSG_MAX	(16 * 1024)
/* Longest answer: the identities answer, the certificate being the bulk. */
#define SSHAGENT_REPLY_MAX	(SSHAGENT_MSG_MAX + 64)
#define SSHAGENT_SID_MAX	64

/* Message numbers (PROTOCOL.agent). */
#define SSH_AGENT_FAILURE		5
#define SSH_AGENT_SUCCESS		6
#define SSH_AGENTC_REQUEST_IDENTITIES	11
#define SSH_AGENT_IDENTITIES_ANSWER	12
#define SSH_AGENTC_SIGN_REQUEST		13
#define SSH_AGENT_SIGN_RESPONSE		14
#define SSH_AGENTC_EXTENSION		27

struct sshagent {
	/* Set by the caller; borrowed, alive as long as the agent. */
	const struct sshkey *key;
	const uint8_t *cert;		/* the certificate blob */
	size_t cert_len;
	const uint8_t *hostkey;		/* the pinned host key blob */
	size_t hostkey_len;
	const char *login;
	/* State; zero it before the first request. */
	uint8_t sid[SSHAGENT_SID_MAX];	/* from session-bind */
	size_t sid_len;			/* 0 until bound */
	int signed_once;
};

/*
 * The length of the request whose 4-byte header is hdr, or ERR_TOOBIG
 * (negative) when it is 0 or over SSHAGENT_MSG_MAX.
 */
long sshagent_frame_len(const uint8_t hdr[4]);

/*
 * Answers one request, req[0..len) (the bytes after the length header),
 * with a whole frame in out (SSHAGENT_REPLY_MAX bytes): *out_len is its
 * length. *signed_now is 1 when this answer carries the signature.
 * ERR_OK, or ERR_TOOBIG for len over SSHAGENT_MSG_MAX.
 */
int sshagent_handle(struct sshagent *a, const uint8_t *req, size_t len,
    uint8_t *out, size_t *out_len, int *signed_now) WUR;

#endif
