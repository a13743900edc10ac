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
 *
 * Key strings are parsed strictly: the name ends at the first '+' (after
 * "PRIVATE+KEY+" in an skey), the key hash is 8 lowercase hex digits and
 * '+', and all the rest is canonical padded base64 of exactly 33 bytes
 * (alg || key), with no surrounding whitespace.
 * Parsers return ERR_FORMAT for a malformed key, ERR_UNSUPPORTED for an
 * algorithm other than NOTE_ALG_ED25519 or NOTE_ALG_COSIGNATURE_V1 and
 * ERR_MISMATCH when the key hash is not the hash of the name and key.
 *
 * Key names (and so signature names) must be non-empty valid UTF-8 without
 * '+', Unicode white space or other control characters.
 *
 * Ownership: callees borrow their arguments; out-parameters are cleared on
 * entry and set only on success; every *_free accepts NULL.
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

/*
 * A parsed note owns all its strings and arrays (malloc'd, freed by
 * note_free). Strings are NUL-terminated; sig is NULL when sig_len is 0.
 * Signatures by unknown keys are kept, in the order of the note.
 */
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
/*
 * A signer for name and alg from a raw 32-byte Ed25519 seed (a secret the
 * caller keeps and wipes). For tests with fixed keys and for callers that
 * hold the seed elsewhere; note_keygen is the usual way to make a key.
 */
int note_signer_from_seed(const char *name, int alg, const uint8_t seed[32],
    struct note_signer **out) WUR;
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
 * ERR_OK when text[0..len) may be the text of a signed note: non-empty,
 * at most NOTE_MAX_LEN bytes (else ERR_TOOBIG), valid UTF-8 without
 * control characters other than "\n", and ending in "\n"; ERR_FORMAT
 * otherwise.
 */
int note_text_check(const char *text, size_t len) WUR;

/*
 * One signature line ("— NAME BASE64\n", malloc'd, NUL-terminated) by s
 * over text, which must pass note_text_check. timestamp (POSIX seconds,
 * at most 2^63 - 1, else ERR_RANGE) is used by cosignature/v1 signers only.
 */
int note_signature_line(const struct note_signer *s, const char *text,
    size_t len, uint64_t timestamp, char **line) WUR;

/*
 * text, a blank line and one signature line per signer (1 to NOTE_MAX_SIGS
 * of them), malloc'd and NUL-terminated; *outlen excludes the NUL.
 * cosignature/v1 signers sign with the current time. ERR_TOOBIG when the
 * result would exceed NOTE_MAX_LEN.
 */
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
 * The signed note n (text, blank line, its signature lines in order),
 * malloc'd and NUL-terminated. For a note from note_parse this gives back
 * the parsed bytes exactly; to add a signature, format and append a line
 * from note_signature_line. ERR_INVAL when n would not parse.
 */
int note_format(const struct note *n, char **out, size_t *outlen) WUR;

/*
 * ERR_OK when n carries a valid signature by v (matched by name and key
 * hash); ERR_NOTFOUND when it carries none by that key; ERR_SIGNATURE when
 * one is there but does not verify. Every signature line that matches v
 * must verify. For cosignature/v1 keys *timestamp receives the time signed
 * by the first matching line (may be NULL; 0 unless ERR_OK).
 */
int note_verify(const struct note *n, const struct note_verifier *v,
    uint64_t *timestamp) WUR;

#endif
