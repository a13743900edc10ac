/*
 * bwt_sk_soft.so: a software FIDO2 "security key" for Bulwark's tests.
 *
 * ssh, ssh-keygen and ssh-agent talk to security keys through a small
 * "middleware" library named by SecurityKeyProvider / -w / SSH_SK_PROVIDER.
 * No hardware key is attached to CI machines, so this module stands in for
 * one, letting the tests exercise sk-ssh-ed25519@openssh.com keys with
 * verify-required end to end against a real sshd.
 *
 * The ABI below (constants, struct layouts, function signatures) must match
 * OpenSSH's sk-api.h exactly, because OpenSSH dlopen()s this module and
 * reads our structs directly. It is written from the description in
 * sk-api.h of OpenSSH 9.2 (API version 0x000a0000; Copyright (c) 2019
 * Google LLC, distributed with OpenSSH under a BSD-style (ISC) licence).
 * Thanks to the OpenSSH project; this file contains no OpenSSH code.
 *
 * NOT A SECURITY DEVICE. To store nothing on disk, the key handle we hand
 * out IS the 32-byte Ed25519 private seed, so whoever holds the id_sk file
 * holds the private key. That is fine for a throw-away test device and
 * must never be used for anything else.
 *
 * BWT_SK_SOFT_NO_UV=1 in the environment makes the device claim it never
 * verified the user, so tests can show sshd refusing such signatures for
 * verify-required keys. The PIN is ignored: the device behaves like one
 * with built-in (e.g. biometric) verification, so no test ever prompts.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

/* ---- OpenSSH sk-api.h ABI, version 0x000a0000 (must not change) ---- */

#define SSH_SK_USER_PRESENCE_REQD	0x01
#define SSH_SK_USER_VERIFICATION_REQD	0x04
#define SSH_SK_FORCE_OPERATION		0x10
#define SSH_SK_RESIDENT_KEY		0x20

#define SSH_SK_ECDSA			0x00
#define SSH_SK_ED25519			0x01

#define SSH_SK_ERR_GENERAL		-1
#define SSH_SK_ERR_UNSUPPORTED		-2
#define SSH_SK_ERR_PIN_REQUIRED		-3
#define SSH_SK_ERR_DEVICE_NOT_FOUND	-4
#define SSH_SK_ERR_CREDENTIAL_EXISTS	-5

#define SSH_SK_VERSION_MAJOR		0x000a0000

struct sk_enroll_response {
	uint8_t flags;
	uint8_t *public_key;
	size_t public_key_len;
	uint8_t *key_handle;
	size_t key_handle_len;
	uint8_t *signature;
	size_t signature_len;
	uint8_t *attestation_cert;
	size_t attestation_cert_len;
	uint8_t *authdata;
	size_t authdata_len;
};

struct sk_sign_response {
	uint8_t flags;
	uint32_t counter;
	uint8_t *sig_r;
	size_t sig_r_len;
	uint8_t *sig_s;
	size_t sig_s_len;
};

struct sk_resident_key {
	uint32_t alg;
	size_t slot;
	char *application;
	struct sk_enroll_response key;
	uint8_t flags;
	uint8_t *user_id;
	size_t user_id_len;
};

struct sk_option {
	char *name;
	char *value;
	uint8_t required;
};

/*
 * Only these four symbols are looked up by OpenSSH; everything else is
 * hidden (the target builds with -fvisibility=hidden) so that nothing of
 * ours can interpose on symbols of the host program.
 */
#define SK_EXPORT __attribute__((visibility("default")))

SK_EXPORT uint32_t sk_api_version(void);
SK_EXPORT int sk_enroll(uint32_t alg, const uint8_t *challenge,
	size_t challenge_len, const char *application, uint8_t flags,
	const char *pin, struct sk_option **options,
	struct sk_enroll_response **enroll_response);
SK_EXPORT int sk_sign(uint32_t alg, const uint8_t *data, size_t data_len,
	const char *application, const uint8_t *key_handle,
	size_t key_handle_len, uint8_t flags, const char *pin,
	struct sk_option **options, struct sk_sign_response **sign_response);
SK_EXPORT int sk_load_resident_keys(const char *pin,
	struct sk_option **options, struct sk_resident_key ***rks,
	size_t *nrks);

/* ---- the soft device ---- */

#define SEED_LEN	32	/* Ed25519 private key seed == our key handle */
#define PUBKEY_LEN	32	/* ssh-sk.c insists on exactly 32 bytes */
#define SIG_LEN		64	/* plain Ed25519 signature (R || S) */

/* The FIDO authenticator-data flag bits that sshd checks in signatures. */
#define FIDO_FLAG_UP	0x01
#define FIDO_FLAG_UV	0x04

/*
 * OpenSSH passes options such as "device" (which authenticator) and "user"
 * (the user id of resident credentials). Neither means anything for a
 * single software device that keeps no credentials, so they are accepted
 * and ignored; an option we do not know is refused only if the caller says
 * it is required, as a real middleware would.
 */
static int
options_ok(struct sk_option **options)
{
	size_t i;

	if (options == NULL)
		return 1;
	for (i = 0; options[i] != NULL; i++) {
		if (options[i]->name != NULL &&
		    (strcmp(options[i]->name, "device") == 0 ||
		    strcmp(options[i]->name, "user") == 0))
			continue;
		if (options[i]->required)
			return 0;
	}
	return 1;
}

static int
no_uv_requested_by_env(void)
{
	const char *v = getenv("BWT_SK_SOFT_NO_UV");

	return v != NULL && strcmp(v, "1") == 0;
}

/*
 * Real authenticators keep a persistent signature counter; OpenSSH only
 * reports it (sshd does not track it), so "increasing" is all we need.
 * Wall-clock seconds increase across processes (ssh-sk-helper loads us
 * afresh for every operation); the static keeps it strictly increasing
 * for several signatures within one second in one process.
 */
static uint32_t
next_counter(void)
{
	static uint32_t last;
	uint32_t now = (uint32_t)time(NULL);

	last = now > last ? now : last + 1;
	return last;
}

static uint8_t *
dup_bytes(const uint8_t *p, size_t len)
{
	uint8_t *r = malloc(len);

	if (r != NULL)
		memcpy(r, p, len);
	return r;
}

static EVP_PKEY *
key_from_seed(const uint8_t *seed)
{
	return EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed,
	    SEED_LEN);
}

/*
 * OpenSSH frees everything in the responses it receives with free(), so
 * every buffer we hand over comes from malloc(); the same function cleans
 * up our half-built responses on failure. Key handles are private keys
 * here, so they are wiped, not just freed.
 */
static void
free_enroll_response(struct sk_enroll_response *r)
{
	if (r == NULL)
		return;
	free(r->public_key);
	if (r->key_handle != NULL)
		OPENSSL_cleanse(r->key_handle, r->key_handle_len);
	free(r->key_handle);
	free(r->signature);
	free(r->attestation_cert);
	free(r->authdata);
	free(r);
}

uint32_t
sk_api_version(void)
{
	return SSH_SK_VERSION_MAJOR;
}

int
sk_enroll(uint32_t alg, const uint8_t *challenge, size_t challenge_len,
    const char *application, uint8_t flags, const char *pin,
    struct sk_option **options, struct sk_enroll_response **enroll_response)
{
	uint8_t seed[SEED_LEN];
	EVP_PKEY *pkey = NULL;
	struct sk_enroll_response *resp = NULL;
	size_t publen = PUBKEY_LEN;
	int ret = SSH_SK_ERR_GENERAL;

	/*
	 * The challenge would only feed an attestation, which we do not make
	 * (see below); the PIN is ignored (see the top of the file).
	 */
	(void)challenge;
	(void)challenge_len;
	(void)pin;

	if (enroll_response == NULL)
		return SSH_SK_ERR_GENERAL;
	*enroll_response = NULL;
	if (application == NULL || *application == '\0')
		return SSH_SK_ERR_GENERAL;
	if (alg != SSH_SK_ED25519 || !options_ok(options))
		return SSH_SK_ERR_UNSUPPORTED;
	/* A resident key must live on the device, and we store nothing. */
	if (flags & SSH_SK_RESIDENT_KEY)
		return SSH_SK_ERR_UNSUPPORTED;

	if (RAND_bytes(seed, sizeof(seed)) != 1)
		goto out;
	if ((pkey = key_from_seed(seed)) == NULL)
		goto out;
	if ((resp = calloc(1, sizeof(*resp))) == NULL)
		goto out;
	/*
	 * OpenSSH records these flags in the key file and passes them back
	 * to sk_sign; they are the requested policy (UP/UV required), which
	 * is why a real middleware echoes the request here.
	 */
	resp->flags = flags;
	if ((resp->public_key = malloc(PUBKEY_LEN)) == NULL ||
	    EVP_PKEY_get_raw_public_key(pkey, resp->public_key, &publen) != 1 ||
	    publen != PUBKEY_LEN)
		goto out;
	resp->public_key_len = PUBKEY_LEN;
	if ((resp->key_handle = dup_bytes(seed, SEED_LEN)) == NULL)
		goto out;
	resp->key_handle_len = SEED_LEN;
	/*
	 * signature, attestation_cert and authdata stay NULL/0: OpenSSH never
	 * checks them, it only copies them into the optional attestation blob
	 * (ssh-keygen -O write-attestation), and a test device has no
	 * attestation CA whose certificate would mean anything.
	 */
	*enroll_response = resp;
	resp = NULL;
	ret = 0;
 out:
	OPENSSL_cleanse(seed, sizeof(seed));
	EVP_PKEY_free(pkey);
	free_enroll_response(resp);
	return ret;
}

int
sk_sign(uint32_t alg, const uint8_t *data, size_t data_len,
    const char *application, const uint8_t *key_handle, size_t key_handle_len,
    uint8_t flags, const char *pin, struct sk_option **options,
    struct sk_sign_response **sign_response)
{
	/*
	 * What a FIDO authenticator signs for Ed25519, and what sshd
	 * rebuilds to verify: authenticator data (SHA256(application) ||
	 * flags || counter as u32 big-endian) followed by the client data
	 * hash, which OpenSSH defines as SHA256(data).
	 */
	uint8_t tbs[SHA256_DIGEST_LENGTH + 1 + 4 + SHA256_DIGEST_LENGTH];
	uint8_t *p = tbs;
	uint8_t sig_flags = 0;
	uint32_t counter;
	EVP_PKEY *pkey = NULL;
	EVP_MD_CTX *md = NULL;
	struct sk_sign_response *resp = NULL;
	size_t siglen = SIG_LEN;
	int ret = SSH_SK_ERR_GENERAL;

	(void)pin;

	if (sign_response == NULL)
		return SSH_SK_ERR_GENERAL;
	*sign_response = NULL;
	if ((data == NULL && data_len != 0) || application == NULL ||
	    *application == '\0' || key_handle == NULL)
		return SSH_SK_ERR_GENERAL;
	if (alg != SSH_SK_ED25519 || !options_ok(options))
		return SSH_SK_ERR_UNSUPPORTED;
	/* Not one of our handles: as a real key, claim no such credential. */
	if (key_handle_len != SEED_LEN)
		return SSH_SK_ERR_DEVICE_NOT_FOUND;

	/*
	 * Like a real authenticator, test presence only when asked (keys
	 * made with no-touch-required do not ask), and report verification
	 * only when asked for it and the test has not disabled it.
	 */
	if (flags & SSH_SK_USER_PRESENCE_REQD)
		sig_flags |= FIDO_FLAG_UP;
	if ((flags & SSH_SK_USER_VERIFICATION_REQD) &&
	    !no_uv_requested_by_env())
		sig_flags |= FIDO_FLAG_UV;
	counter = next_counter();

	SHA256((const unsigned char *)application, strlen(application), p);
	p += SHA256_DIGEST_LENGTH;
	*p++ = sig_flags;
	*p++ = (uint8_t)(counter >> 24);
	*p++ = (uint8_t)(counter >> 16);
	*p++ = (uint8_t)(counter >> 8);
	*p++ = (uint8_t)counter;
	/* SHA256 of an empty message is well defined; avoid passing NULL. */
	SHA256(data != NULL ? data : (const uint8_t *)"", data_len, p);

	if ((pkey = key_from_seed(key_handle)) == NULL)
		goto out;
	if ((resp = calloc(1, sizeof(*resp))) == NULL ||
	    (resp->sig_r = malloc(SIG_LEN)) == NULL)
		goto out;
	/* Ed25519 is one-shot in EVP: no digest, no Update calls. */
	if ((md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit(md, NULL, NULL, NULL, pkey) != 1 ||
	    EVP_DigestSign(md, resp->sig_r, &siglen, tbs, sizeof(tbs)) != 1 ||
	    siglen != SIG_LEN)
		goto out;
	/* For Ed25519 OpenSSH takes the whole signature from sig_r. */
	resp->sig_r_len = SIG_LEN;
	resp->flags = sig_flags;
	resp->counter = counter;
	*sign_response = resp;
	resp = NULL;
	ret = 0;
 out:
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(pkey);
	if (resp != NULL) {
		free(resp->sig_r);
		free(resp);
	}
	return ret;
}

int
sk_load_resident_keys(const char *pin, struct sk_option **options,
    struct sk_resident_key ***rks, size_t *nrks)
{
	(void)pin;

	if (rks == NULL || nrks == NULL)
		return SSH_SK_ERR_GENERAL;
	*rks = NULL;
	*nrks = 0;
	if (!options_ok(options))
		return SSH_SK_ERR_UNSUPPORTED;
	/* We refuse to create resident keys, so there are never any. */
	return 0;
}
