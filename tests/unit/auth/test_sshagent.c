/*
 * test_sshagent.c - the session agent (src/auth/sshagent.c), fed the
 * messages OpenSSH's ssh sends (PROTOCOL.agent; the userauth data of RFC
 * 4252 section 7): it lists the certificate, signs one userauth request
 * for its login on its bound connection, and refuses everything else with
 * SSH_AGENT_FAILURE. The whole exchange with Debian's ssh and sshd is in
 * tests/integration/test_gateway.sh.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "auth/sshagent.h"
#include "auth/sshcert.h"
#include "auth/sshkey.h"
#include "common/encoding.h"
#include "common/banned.h"

#define CERT_ALG "ssh-ed25519-cert-v01@openssh.com"
#define HOSTBOUND "publickey-hostbound-v00@openssh.com"

struct fix {
	struct sshkey *key, *ca, *host;
	struct sshkey_pub pub;
	uint8_t cert[4096];
	size_t cert_len;
	uint8_t hostkey[64];
	size_t hostkey_len;
	struct sshagent a;
};

static const uint8_t sid[32] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };

static int
setup(void **state)
{
	static const char *const root_only[] = { "root" };
	struct sshcert_request req;
	struct sshkey_pub host_pub;
	struct sshwire_w w;
	struct fix *f = calloc(1, sizeof(*f));
	char *line = NULL, *b64, *end;

	assert_non_null(f);
	assert_int_equal(sshkey_generate_secret("bulwark-session-42", &f->key),
	    ERR_OK);
	assert_int_equal(sshkey_generate_secret(NULL, &f->ca), ERR_OK);
	assert_int_equal(sshkey_generate_secret(NULL, &f->host), ERR_OK);
	sshkey_public(f->key, &f->pub);
	memset(&req, 0, sizeof(req));
	req.subject = &f->pub;
	req.serial = 42;
	req.key_id = "alice/42";
	req.principals = root_only;
	req.nprincipals = 1;
	req.valid_after = 1700000000;
	req.valid_before = 1700000060;
	assert_int_equal(sshcert_issue(f->ca, &req, &line), ERR_OK);
	b64 = strchr(line, ' ') + 1;
	end = strchr(b64, ' ');
	assert_int_equal(enc_base64_decode(b64, (size_t)(end - b64), f->cert,
	    sizeof(f->cert), &f->cert_len), ERR_OK);
	free(line);
	sshkey_public(f->host, &host_pub);
	sshwire_w_init(&w, f->hostkey, sizeof(f->hostkey));
	sshwire_put_pub(&w, &host_pub);
	assert_int_equal(w.err, 0);
	f->hostkey_len = w.len;
	f->a.key = f->key;
	f->a.cert = f->cert;
	f->a.cert_len = f->cert_len;
	f->a.hostkey = f->hostkey;
	f->a.hostkey_len = f->hostkey_len;
	f->a.login = "root";
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fix *f = *state;

	sshkey_free(f->key);
	sshkey_free(f->ca);
	sshkey_free(f->host);
	free(f);
	return 0;
}

/* Sends req[0..len); the answer's type, its payload in *p / *plen. */
static int
ask(struct fix *f, const uint8_t *req, size_t len, int *signed_now,
    const uint8_t **p, size_t *plen)
{
	static uint8_t out[SSHAGENT_REPLY_MAX];
	size_t out_len;
	int sn;

	assert_int_equal(sshagent_handle(&f->a, req, len, out, &out_len, &sn),
	    ERR_OK);
	assert_true(out_len >= 5);
	assert_int_equal(sshagent_frame_len(out), (long)(out_len - 4));
	if (signed_now != NULL)
		*signed_now = sn;
	if (p != NULL) {
		*p = out + 5;
		*plen = out_len - 5;
	}
	return out[4];
}

static int
ask_w(struct fix *f, const struct sshwire_w *w, int *signed_now,
    const uint8_t **p, size_t *plen)
{
	assert_int_equal(w->err, 0);
	return ask(f, w->p, w->len, signed_now, p, plen);
}

/* session-bind@openssh.com as ssh 8.9 and later send it. */
static void
bind_req(struct sshwire_w *w, uint8_t *buf, size_t cap,
    const uint8_t *hk, size_t hk_len, uint8_t forwarding)
{
	sshwire_w_init(w, buf, cap);
	sshwire_put_raw(w, (const uint8_t[]){ SSH_AGENTC_EXTENSION }, 1);
	sshwire_put_cstring(w, "session-bind@openssh.com");
	sshwire_put_string(w, hk, hk_len);
	sshwire_put_string(w, sid, sizeof(sid));
	sshwire_put_string(w, "sig", 3);
	sshwire_put_raw(w, &forwarding, 1);
}

static int
do_bind(struct fix *f)
{
	struct sshwire_w w;
	uint8_t buf[512];

	bind_req(&w, buf, sizeof(buf), f->hostkey, f->hostkey_len, 0);
	return ask_w(f, &w, NULL, NULL, NULL);
}

/* What a field of the userauth data should be replaced with. */
struct ua {
	const char *user, *service, *method, *alg;
	uint8_t byte50, has_sig;
	const uint8_t *blob;
	size_t blob_len;
	int extra;		/* a trailing byte */
};

static void
ua_default(const struct fix *f, struct ua *u)
{
	memset(u, 0, sizeof(*u));
	u->user = "root";
	u->service = "ssh-connection";
	u->method = "publickey";
	u->alg = CERT_ALG;
	u->byte50 = 50;
	u->has_sig = 1;
	u->blob = f->cert;
	u->blob_len = f->cert_len;
}

/* A sign request for u's userauth data; the data is left in data. */
static void
sign_req(const struct fix *f, const struct ua *u, struct sshwire_w *w,
    uint8_t *buf, size_t cap, uint8_t *data, size_t *data_len)
{
	struct sshwire_w d;

	sshwire_w_init(&d, data, 8192);
	sshwire_put_string(&d, sid, sizeof(sid));
	sshwire_put_raw(&d, &u->byte50, 1);
	sshwire_put_cstring(&d, u->user);
	sshwire_put_cstring(&d, u->service);
	sshwire_put_cstring(&d, u->method);
	sshwire_put_raw(&d, &u->has_sig, 1);
	sshwire_put_cstring(&d, u->alg);
	sshwire_put_string(&d, u->blob, u->blob_len);
	if (strcmp(u->method, HOSTBOUND) == 0)
		sshwire_put_string(&d, f->hostkey, f->hostkey_len);
	if (u->extra)
		sshwire_put_raw(&d, "x", 1);
	assert_int_equal(d.err, 0);
	*data_len = d.len;
	sshwire_w_init(w, buf, cap);
	sshwire_put_raw(w, (const uint8_t[]){ SSH_AGENTC_SIGN_REQUEST }, 1);
	sshwire_put_string(w, f->cert, f->cert_len);
	sshwire_put_string(w, data, d.len);
	sshwire_put_u32(w, 0);
}

/* The answer to u's sign request; a signature is checked. */
static int
try_sign(struct fix *f, const struct ua *u)
{
	static uint8_t buf[12288], data[8192];
	struct sshwire_w w;
	struct sshwire_r r;
	const uint8_t *p, *blob, *sig;
	size_t plen, blob_len, sig_len, data_len;
	int t, sn;

	sign_req(f, u, &w, buf, sizeof(buf), data, &data_len);
	t = ask_w(f, &w, &sn, &p, &plen);
	assert_int_equal(sn, t == SSH_AGENT_SIGN_RESPONSE);
	if (t != SSH_AGENT_SIGN_RESPONSE)
		return t;
	r.p = p;
	r.len = plen;
	assert_int_equal(sshwire_get_string(&r, &blob, &blob_len), ERR_OK);
	assert_int_equal(r.len, 0);
	r.p = blob;
	r.len = blob_len;
	assert_int_equal(sshwire_expect_cstring(&r, "ssh-ed25519"), ERR_OK);
	assert_int_equal(sshwire_get_string(&r, &sig, &sig_len), ERR_OK);
	assert_int_equal(sig_len, 64);
	assert_int_equal(r.len, 0);
	assert_int_equal(crypto_sign_verify_detached(sig, data, data_len,
	    f->pub.pk), 0);
	return t;
}

static void
test_identities(void **state)
{
	struct fix *f = *state;
	const uint8_t *p, *blob;
	size_t plen, blob_len;
	struct sshwire_r r;
	uint32_t n;
	char *comment = NULL;

	assert_int_equal(ask(f, (const uint8_t[]){ 11 }, 1, NULL, &p, &plen),
	    SSH_AGENT_IDENTITIES_ANSWER);
	r.p = p;
	r.len = plen;
	assert_int_equal(sshwire_get_u32(&r, &n), ERR_OK);
	assert_int_equal(n, 1);
	assert_int_equal(sshwire_get_string(&r, &blob, &blob_len), ERR_OK);
	assert_int_equal(blob_len, f->cert_len);
	assert_memory_equal(blob, f->cert, blob_len);
	assert_int_equal(sshwire_get_cstring(&r, 100, &comment), ERR_OK);
	assert_string_equal(comment, "bulwark-session-42");
	assert_int_equal(r.len, 0);
	free(comment);
	/* A trailing byte, or no type at all: refused. */
	assert_int_equal(ask(f, (const uint8_t[]){ 11, 0 }, 2, NULL, NULL,
	    NULL), SSH_AGENT_FAILURE);
	assert_int_equal(ask(f, (const uint8_t[]){ 0 }, 0, NULL, NULL, NULL),
	    SSH_AGENT_FAILURE);
}

static void
test_sign_once(void **state)
{
	struct fix *f = *state;
	struct ua u;

	ua_default(f, &u);
	/* Not bound to a connection yet: no signature. */
	assert_int_equal(try_sign(f, &u), SSH_AGENT_FAILURE);
	assert_int_equal(do_bind(f), SSH_AGENT_SUCCESS);
	/* A second binding would move the agent to another connection. */
	assert_int_equal(do_bind(f), SSH_AGENT_FAILURE);
	assert_int_equal(try_sign(f, &u), SSH_AGENT_SIGN_RESPONSE);
	/* One signature per session. */
	assert_int_equal(try_sign(f, &u), SSH_AGENT_FAILURE);
	assert_true(f->a.signed_once);
}

static void
test_sign_hostbound(void **state)
{
	struct fix *f = *state;
	struct ua u;

	ua_default(f, &u);
	u.method = HOSTBOUND;
	assert_int_equal(do_bind(f), SSH_AGENT_SUCCESS);
	assert_int_equal(try_sign(f, &u), SSH_AGENT_SIGN_RESPONSE);
}

/* Each change to an otherwise good request makes it a refusal. */
static void
test_sign_refusals(void **state)
{
	struct fix *f = *state;
	uint8_t other[4096];
	struct ua u;
	int i;

	memcpy(other, f->cert, f->cert_len);
	other[f->cert_len - 1] ^= 1;
	for (i = 0; i < 9; i++) {
		f->a.sid_len = 0;
		f->a.signed_once = 0;
		assert_int_equal(do_bind(f), SSH_AGENT_SUCCESS);
		ua_default(f, &u);
		switch (i) {
		case 0: u.user = "alice"; break;
		case 1: u.service = "ssh-userauth"; break;
		case 2: u.method = "password"; break;
		case 3: u.has_sig = 0; break;
		case 4: u.alg = "ssh-ed25519"; break;
		case 5: u.blob = other; break;
		case 6: u.extra = 1; break;
		case 7: u.byte50 = 51; break;
		case 8: u.user = "root2"; break;
		}
		assert_int_equal(try_sign(f, &u), SSH_AGENT_FAILURE);
		assert_false(f->a.signed_once);
	}
}

static void
test_bind_refusals(void **state)
{
	struct fix *f = *state;
	uint8_t buf[512], hk[64];
	struct sshwire_w w;

	/* Agent forwarding: refused. */
	bind_req(&w, buf, sizeof(buf), f->hostkey, f->hostkey_len, 1);
	assert_int_equal(ask_w(f, &w, NULL, NULL, NULL), SSH_AGENT_FAILURE);
	/* Another host's key: refused. */
	memcpy(hk, f->hostkey, f->hostkey_len);
	hk[f->hostkey_len - 1] ^= 0x80;
	bind_req(&w, buf, sizeof(buf), hk, f->hostkey_len, 0);
	assert_int_equal(ask_w(f, &w, NULL, NULL, NULL), SSH_AGENT_FAILURE);
	/* Truncated: refused. */
	bind_req(&w, buf, sizeof(buf), f->hostkey, f->hostkey_len, 0);
	assert_int_equal(ask(f, w.p, w.len - 1, NULL, NULL, NULL),
	    SSH_AGENT_FAILURE);
	assert_int_equal(f->a.sid_len, 0);
	/* Any other extension or message: refused. */
	sshwire_w_init(&w, buf, sizeof(buf));
	sshwire_put_raw(&w, (const uint8_t[]){ SSH_AGENTC_EXTENSION }, 1);
	sshwire_put_cstring(&w, "query");
	assert_int_equal(ask_w(f, &w, NULL, NULL, NULL), SSH_AGENT_FAILURE);
	/* SSH_AGENTC_REMOVE_ALL_IDENTITIES, SSH_AGENTC_LOCK */
	assert_int_equal(ask(f, (const uint8_t[]){ 19 }, 1, NULL, NULL, NULL),
	    SSH_AGENT_FAILURE);
	assert_int_equal(ask(f, (const uint8_t[]){ 22, 0, 0, 0, 0 }, 5, NULL,
	    NULL, NULL), SSH_AGENT_FAILURE);
	assert_int_equal(do_bind(f), SSH_AGENT_SUCCESS);
}

static void
test_frames(void **state)
{
	uint8_t out[SSHAGENT_REPLY_MAX];
	struct fix *f = *state;
	size_t n;
	int sn;

	assert_int_equal(sshagent_frame_len((const uint8_t[]){ 0, 0, 0, 0 }),
	    ERR_TOOBIG);
	assert_int_equal(sshagent_frame_len((const uint8_t[]){ 0, 0, 0, 5 }),
	    5);
	assert_int_equal(sshagent_frame_len((const uint8_t[]){ 0, 0, 0x40, 0 }),
	    SSHAGENT_MSG_MAX);
	assert_int_equal(sshagent_frame_len((const uint8_t[]){ 0, 0, 0x40, 1 }),
	    ERR_TOOBIG);
	assert_int_equal(sshagent_frame_len((const uint8_t[]){ 0xff, 0, 0, 1 }),
	    ERR_TOOBIG);
	assert_int_equal(sshagent_handle(&f->a, out, SSHAGENT_MSG_MAX + 1, out,
	    &n, &sn), ERR_TOOBIG);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_identities, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_sign_once, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_sign_hostbound, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_sign_refusals, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bind_refusals, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_frames, setup, teardown),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
