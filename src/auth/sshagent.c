/*
 * sshagent.c - the one-certificate, one-signature ssh-agent (sshagent.h).
 */
#include <string.h>

#include "auth/sshagent.h"
#include "common/endian.h"
#include "common/banned.h"

#define CERT_ALG	"ssh-ed25519-cert-v01@openssh.com"
#define SSH_MSG_USERAUTH_REQUEST	50
#define EXT_NAME_MAX	64

long
sshagent_frame_len(const uint8_t hdr[4])
{
	uint32_t n = be_get32(hdr);

	if (n == 0 || n > SSHAGENT_MSG_MAX)
		return ERR_TOOBIG;
	return (long)n;
}

static int
get_u8(struct sshwire_r *r, uint8_t *v)
{
	if (r->len < 1)
		return ERR_FORMAT;
	*v = r->p[0];
	r->p++;
	r->len--;
	return ERR_OK;
}

static int
same(const uint8_t *p, size_t len, const uint8_t *q, size_t qlen)
{
	return len == qlen && memcmp(p, q, len) == 0;
}

/* A string that must equal want[0..want_len). */
static int
expect_blob(struct sshwire_r *r, const uint8_t *want, size_t want_len)
{
	const uint8_t *p;
	size_t len;

	if (sshwire_get_string(r, &p, &len) != ERR_OK ||
	    !same(p, len, want, want_len))
		return ERR_FORMAT;
	return ERR_OK;
}

/*
 * What ssh signs to log in with a public key (RFC 4252 section 7), and
 * OpenSSH's host-bound variant, which appends the server's host key:
 * accepted only for this connection, login, certificate and host.
 */
static int
userauth_ok(const struct sshagent *a, const uint8_t *data, size_t len)
{
	struct sshwire_r r = { data, len };
	const uint8_t *method;
	size_t mlen;
	uint8_t b;
	int hostbound;

	if (a->sid_len == 0 || expect_blob(&r, a->sid, a->sid_len) != ERR_OK ||
	    get_u8(&r, &b) != ERR_OK || b != SSH_MSG_USERAUTH_REQUEST ||
	    sshwire_expect_cstring(&r, a->login) != ERR_OK ||
	    sshwire_expect_cstring(&r, "ssh-connection") != ERR_OK ||
	    sshwire_get_string(&r, &method, &mlen) != ERR_OK)
		return 0;
	if (same(method, mlen, (const uint8_t *)"publickey", 9))
		hostbound = 0;
	else if (same(method, mlen,
	    (const uint8_t *)"publickey-hostbound-v00@openssh.com", 35))
		hostbound = 1;
	else
		return 0;
	if (get_u8(&r, &b) != ERR_OK || b != 1 ||
	    sshwire_expect_cstring(&r, CERT_ALG) != ERR_OK ||
	    expect_blob(&r, a->cert, a->cert_len) != ERR_OK)
		return 0;
	if (hostbound &&
	    expect_blob(&r, a->hostkey, a->hostkey_len) != ERR_OK)
		return 0;
	return r.len == 0;
}

/* session-bind@openssh.com: hostkey, session id, signature, forwarding. */
static int
bind_session(struct sshagent *a, struct sshwire_r *r)
{
	const uint8_t *sid, *sig;
	size_t sid_len, sig_len;
	uint8_t fwd;

	if (a->sid_len != 0 ||
	    expect_blob(r, a->hostkey, a->hostkey_len) != ERR_OK ||
	    sshwire_get_string(r, &sid, &sid_len) != ERR_OK ||
	    sid_len == 0 || sid_len > SSHAGENT_SID_MAX ||
	    sshwire_get_string(r, &sig, &sig_len) != ERR_OK ||
	    get_u8(r, &fwd) != ERR_OK || fwd != 0 || r->len != 0)
		return 0;
	(void)sig;
	memcpy(a->sid, sid, sid_len);
	a->sid_len = sid_len;
	return 1;
}

static void
identities(const struct sshagent *a, struct sshwire_w *w)
{
	const char *comment = sshkey_comment(a->key);

	sshwire_put_raw(w, (const uint8_t[]){ SSH_AGENT_IDENTITIES_ANSWER }, 1);
	sshwire_put_u32(w, 1);
	sshwire_put_string(w, a->cert, a->cert_len);
	sshwire_put_cstring(w, comment);
}

/* 1 with the signature response in w, 0 to refuse. */
static int
sign(struct sshagent *a, struct sshwire_r *r, struct sshwire_w *w)
{
	uint8_t sig[SSHKEY_ED25519_SIGLEN];
	const uint8_t *data;
	size_t data_len;
	uint32_t flags;
	uint8_t blob[SSHKEY_ED25519_SIGLEN + 64];
	struct sshwire_w sw;

	if (a->signed_once ||
	    expect_blob(r, a->cert, a->cert_len) != ERR_OK ||
	    sshwire_get_string(r, &data, &data_len) != ERR_OK ||
	    sshwire_get_u32(r, &flags) != ERR_OK || r->len != 0 ||
	    !userauth_ok(a, data, data_len) ||
	    sshkey_sign(a->key, data, data_len, sig) != ERR_OK)
		return 0;
	(void)flags;	/* only RSA hash choices are defined */
	sshwire_w_init(&sw, blob, sizeof(blob));
	sshwire_put_sig(&sw, sig);
	sshwire_put_raw(w, (const uint8_t[]){ SSH_AGENT_SIGN_RESPONSE }, 1);
	sshwire_put_string(w, blob, sw.len);
	a->signed_once = 1;
	return sw.err == 0;
}

/* The payload for req into w; 1 when it is a signature. */
static int
answer(struct sshagent *a, const uint8_t *req, size_t len,
    struct sshwire_w *w, int *ok)
{
	struct sshwire_r r = { req + 1, len - 1 };
	const uint8_t *name;
	size_t nlen;

	*ok = 0;
	switch (req[0]) {
	case SSH_AGENTC_REQUEST_IDENTITIES:
		if (len != 1)
			return 0;
		identities(a, w);
		*ok = 1;
		return 0;
	case SSH_AGENTC_SIGN_REQUEST:
		*ok = sign(a, &r, w);
		return *ok;
	case SSH_AGENTC_EXTENSION:
		if (sshwire_get_string(&r, &name, &nlen) != ERR_OK ||
		    nlen > EXT_NAME_MAX ||
		    !same(name, nlen,
		    (const uint8_t *)"session-bind@openssh.com", 24) ||
		    !bind_session(a, &r))
			return 0;
		sshwire_put_raw(w, (const uint8_t[]){ SSH_AGENT_SUCCESS }, 1);
		*ok = 1;
		return 0;
	default:
		return 0;
	}
}

int
sshagent_handle(struct sshagent *a, const uint8_t *req, size_t len,
    uint8_t *out, size_t *out_len, int *signed_now)
{
	struct sshwire_w w;
	int ok = 0, sig = 0;

	*out_len = 0;
	*signed_now = 0;
	if (len > SSHAGENT_MSG_MAX)
		return ERR_TOOBIG;
	/* The payload after a 4-byte length, filled in last. */
	sshwire_w_init(&w, out + 4, SSHAGENT_REPLY_MAX - 4);
	if (len > 0)
		sig = answer(a, req, len, &w, &ok);
	if (!ok || w.err != 0) {
		sshwire_w_init(&w, out + 4, SSHAGENT_REPLY_MAX - 4);
		sshwire_put_raw(&w, (const uint8_t[]){ SSH_AGENT_FAILURE }, 1);
		sig = 0;
	}
	be_put32(out, (uint32_t)w.len);
	*out_len = w.len + 4;
	*signed_now = sig;
	return ERR_OK;
}
