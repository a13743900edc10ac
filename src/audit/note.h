/*
 * note.h - C2SP signed-note, with Ed25519 signatures (algorithm byte 0x01)
 * and C2SP tlog-cosignature "cosignature/v1" signatures (algorithm 0x04).
 *
 * Key encodings follow golang.org/x/mod/sumdb/note:
 *   verifier key: NAME+KEYHASH+BASE64(alg || 32-byte public key)
 *   signer key:   PRIVATE+KEY+NAME+KEYHASH+BASE64(alg || 32-byte seed)
 * where KEYHASH is 8 lowercase hex digits of the first four bytes of
 * SHA-256(NAME || "\n" || alg || public key).
 *
 * A note is UTF-8 text ending in "\n", a blank line, then signature lines
 * "— NAME BASE64(keyhash || signature)\n". For cosignature/v1 the signature
 * is Ed25519 over "cosignature/v1\ntime T\n" || text and the line carries
 * keyhash || 8-byte big-endian T || signature.
 *
 * Secrets live in sodium_malloc memory and are wiped when freed.
 */
#ifndef BULWARK_AUDIT_NOTE_H
#define BULWARK_AUDIT_NOTE_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define NOTE_ALG_ED25519 0x01
#define NOTE_ALG_COSIGNATURE_V1 0x04
/* Limits on what note_parse accepts, so hostile input stays small. */
#define NOTE_MAX_LEN (1024 * 1024)
#define NOTE_MAX_SIGS 100

struct note_signer;	/* a private key and its name */
struct note_verifier;	/* a public key and its name */

struct note_sig {
	char *name;
	uint32_t keyhash;
	uint8_t *sig;		/* the bytes after the key hash */
	size_t sig_len;
};

struct note {
	char *text;		/* the signed text, ending in "\n" */
	size_t text_len;
	struct note_sig *sigs;
	size_t nsigs;
};

/*
 * Makes a new key pair for name and alg. *skey (a secret: sodium_malloc'd,
 * free with note_key_free_secret) and *vkey (malloc'd) are NUL-terminated.
 */
int note_keygen(const char *name, int alg, char **skey, char **vkey) WUR;
void note_key_free_secret(char *skey);

int note_signer_from_skey(const char *skey, struct note_signer **out) WUR;
void note_signer_free(struct note_signer *s);
const char *note_signer_name(const struct note_signer *s);
int note_signer_alg(const struct note_signer *s);
/* The verifier key (malloc'd string) that matches s. */
int note_signer_vkey(const struct note_signer *s, char **vkey) WUR;

int note_verifier_from_vkey(const char *vkey, struct note_verifier **out) WUR;
void note_verifier_free(struct note_verifier *v);
const char *note_verifier_name(const struct note_verifier *v);
uint32_t note_verifier_keyhash(const struct note_verifier *v);
int note_verifier_alg(const struct note_verifier *v);

/*
 * One signature line ("— NAME BASE64\n", malloc'd) by s over text, which
 * must end in "\n". timestamp is used by cosignature/v1 signers only.
 */
int note_signature_line(const struct note_signer *s, const char *text,
    size_t len, uint64_t timestamp, char **line) WUR;

/* text, a blank line and one signature line per signer, malloc'd. */
int note_sign(const char *text, size_t len,
    const struct note_signer *const *signers, size_t nsigners,
    char **out, size_t *outlen) WUR;

/*
 * Splits a signed note into text and signatures. Refuses (ERR_FORMAT) what
 * the spec forbids: no blank line, text not ending in "\n", non-UTF-8,
 * control characters, malformed signature lines, no signatures, more than
 * NOTE_MAX_SIGS, or a message over NOTE_MAX_LEN (ERR_TOOBIG).
 */
int note_parse(const char *msg, size_t len, struct note **out) WUR;
void note_free(struct note *n);

/*
 * ERR_OK when n carries a valid signature by v (matched by name and key
 * hash); ERR_NOTFOUND when it carries none by that key; ERR_SIGNATURE when
 * one is there but does not verify. For cosignature/v1 keys *timestamp
 * receives the signed time (may be NULL).
 */
int note_verify(const struct note *n, const struct note_verifier *v,
    uint64_t *timestamp) WUR;

#endif
