/*
 * fuzz.c - libFuzzer harness for the session agent's request handling
 * (src/auth/sshagent.c), the one parser in bulwark-shell that reads
 * what another process sends it.
 *
 * The input is a stream of agent frames (uint32 length, then the
 * request), as ssh writes them on the socket; each whole frame is
 * answered by one agent, in order. Every answer must be one whole frame
 * of a type the agent sends; a signature must come at most once per
 * agent, only after a session-bind, and verify over a request that names
 * the agent's login. Anything else aborts.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "auth/sshagent.h"
#include "auth/sshkey.h"
#include "common/endian.h"
#include "common/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Fixed stand-ins: the agent only compares these blobs. */
static const uint8_t cert[] = "CERTIFICATE-BLOB";
static const uint8_t hostkey[] = "HOST-KEY-BLOB";

static struct sshkey *key;
static struct sshkey_pub pub;

static void
check_answer(const struct sshagent *a, const uint8_t *out, size_t len,
    int signed_now, int *signatures)
{
	uint8_t t;

	if (len < 5 || sshagent_frame_len(out) != (long)(len - 4))
		abort();
	t = out[4];
	if (t != SSH_AGENT_FAILURE && t != SSH_AGENT_SUCCESS &&
	    t != SSH_AGENT_IDENTITIES_ANSWER && t != SSH_AGENT_SIGN_RESPONSE)
		abort();
	if ((t == SSH_AGENT_SIGN_RESPONSE) != (signed_now != 0))
		abort();
	if (signed_now && (++*signatures > 1 || a->sid_len == 0 ||
	    !a->signed_once))
		abort();
}

/* A signed request: the signature inside out must verify over it. */
static void
check_signature(const uint8_t *req, size_t len, const uint8_t *out,
    size_t out_len)
{
	struct sshwire_r r = { req + 1, len - 1 }, s = { out + 5, out_len - 5 };
	const uint8_t *blob, *data, *sig, *sigblob;
	size_t blob_len, data_len, sig_len, sigblob_len;

	if (sshwire_get_string(&r, &blob, &blob_len) != ERR_OK ||
	    sshwire_get_string(&r, &data, &data_len) != ERR_OK ||
	    sshwire_get_string(&s, &sigblob, &sigblob_len) != ERR_OK)
		abort();
	s.p = sigblob;
	s.len = sigblob_len;
	if (sshwire_expect_cstring(&s, "ssh-ed25519") != ERR_OK ||
	    sshwire_get_string(&s, &sig, &sig_len) != ERR_OK ||
	    sig_len != 64 || s.len != 0 ||
	    crypto_sign_verify_detached(sig, data, data_len, pub.pk) != 0 ||
	    memmem(data, data_len, "\0\0\0\4root", 8) == NULL)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[SSHAGENT_REPLY_MAX];
	struct sshagent a;
	size_t out_len;
	int signatures = 0, sn;
	long n;

	if (key == NULL) {
		if (sodium_init() < 0 ||
		    sshkey_generate_secret("bulwark-session-1", &key) != ERR_OK)
			abort();
		sshkey_public(key, &pub);
	}
	memset(&a, 0, sizeof(a));
	a.key = key;
	a.cert = cert;
	a.cert_len = sizeof(cert) - 1;
	a.hostkey = hostkey;
	a.hostkey_len = sizeof(hostkey) - 1;
	a.login = "root";
	while (size >= 4) {
		n = sshagent_frame_len(data);
		if (n < 0 || (size_t)n > size - 4)
			break;
		if (sshagent_handle(&a, data + 4, (size_t)n, out, &out_len,
		    &sn) != ERR_OK)
			abort();
		check_answer(&a, out, out_len, sn, &signatures);
		if (sn)
			check_signature(data + 4, (size_t)n, out, out_len);
		data += 4 + (size_t)n;
		size -= 4 + (size_t)n;
	}
	return 0;
}
