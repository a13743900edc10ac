/*
 * sshkey.h - Ed25519 key pairs in OpenSSH's own formats.
 *
 * A key pair (the Bulwark user CA, a gateway host key, or the ephemeral key
 * bulwark-shell certifies for one session) lives in sodium_malloc'ed memory,
 * is wiped when freed, and is written as an unencrypted "openssh-key-v1"
 * private key file (PROTOCOL.key), mode 0600, that ssh -i, sshd HostKey and
 * ssh-keygen -y read. Public keys travel as one line,
 * "ssh-ed25519 BASE64 comment", the format of authorized_keys, known_hosts
 * and *.pub files.
 *
 * Only ssh-ed25519 is handled; the parsers answer ERR_UNSUPPORTED for any
 * other well-formed key type and ERR_FORMAT for anything malformed.
 *
 * The second half of this header is the SSH wire encoding (RFC 4251
 * section 5) that sshkey.c and sshcert.c share: a writer over a fixed
 * buffer and a reader over a borrowed one.
 */
#ifndef BULWARK_AUTH_SSHKEY_H
#define BULWARK_AUTH_SSHKEY_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define SSHKEY_ED25519_NAME "ssh-ed25519"
#define SSHKEY_ED25519_PUBLEN 32
#define SSHKEY_ED25519_SIGLEN 64
/* Longest comment we write or accept, in bytes. */
#define SSHKEY_COMMENT_MAX 1024
/* Longest public key line we accept, newline included. */
#define SSHKEY_LINE_MAX 4096
/* Largest private key file we read. */
#define SSHKEY_PRIVATE_FILE_MAX 8192

/* An Ed25519 public key. Plain data: copy it, compare it with memcmp. */
struct sshkey_pub {
	uint8_t pk[SSHKEY_ED25519_PUBLEN];
};

/* An Ed25519 key pair; opaque, its secret half in guarded memory. */
struct sshkey;

/*
 * Makes a fresh key pair from libsodium's random generator. comment (may
 * be NULL for none) goes into the private key file and the public line;
 * it must be printable ASCII of at most SSHKEY_COMMENT_MAX bytes. The key
 * is freed with sshkey_free.
 */
int sshkey_generate_secret(const char *comment, struct sshkey **out) WUR;
/* Wipes and frees k. NULL is fine. */
void sshkey_free(struct sshkey *k);
/* The public half of k. */
void sshkey_public(const struct sshkey *k, struct sshkey_pub *out);
/* k's comment, "" for none; borrowed, valid while k lives. */
const char *sshkey_comment(const struct sshkey *k);

/*
 * Signs msg with k: a raw 64-byte Ed25519 signature. The SSH signature
 * blob that wraps it is made by sshkey_sig_blob.
 */
int sshkey_sign(const struct sshkey *k, const uint8_t *msg, size_t len,
    uint8_t sig[SSHKEY_ED25519_SIGLEN]) WUR;

/*
 * The private key file text of k ("-----BEGIN OPENSSH PRIVATE KEY-----"
 * ... "-----END OPENSSH PRIVATE KEY-----\n"), in sodium_malloc'ed memory
 * that the caller frees with sshkey_text_free_secret(*out, *len).
 */
int sshkey_private_format_secret(const struct sshkey *k, char **out,
    size_t *len) WUR;
void sshkey_text_free_secret(char *text, size_t len);
/*
 * Parses private key file text: unencrypted openssh-key-v1 holding exactly
 * one ssh-ed25519 key whose halves match. ERR_UNSUPPORTED for encrypted
 * keys and other key types, ERR_FORMAT for anything malformed.
 */
int sshkey_private_parse_secret(const char *text, size_t len,
    struct sshkey **out) WUR;

/*
 * Writes k's private key file to path (mode 0600) atomically and
 * durably; ERR_EXISTS when path exists, as no key is ever overwritten.
 * On ERR_IO path is absent, or complete when only the final directory
 * sync failed: a caller that retries should load what is there.
 */
int sshkey_save_secret(const struct sshkey *k, const char *path) WUR;
/*
 * Reads a private key file. ERR_DENIED when the file is readable or
 * writable by group or others, or not owned by the caller, as ssh does.
 */
int sshkey_load_secret(const char *path, struct sshkey **out) WUR;

/*
 * "ssh-ed25519 BASE64 comment\n" for pk (no " comment" when comment is
 * NULL or empty), in a malloc'ed NUL-terminated string the caller frees.
 */
int sshkey_pub_format(const struct sshkey_pub *pk, const char *comment,
    char **out) WUR;
/*
 * Parses one public key line, strictly: key type, one space, canonical
 * padded base64 of a blob naming the same type, and optionally one space
 * and a non-empty printable ASCII comment; one final "\n" is allowed.
 * No leading or doubled spaces, no authorized_keys options, no tabs or
 * carriage returns. *comment (may be NULL if unwanted) gets a malloc'ed
 * copy of the comment, "" if none; it is set only on success.
 */
int sshkey_pub_parse(const char *line, size_t len, struct sshkey_pub *out,
    char **comment) WUR;
/* Writes sshkey_pub_format(pk, comment) to path, mode 0644, atomically. */
int sshkey_pub_save(const struct sshkey_pub *pk, const char *comment,
    const char *path) WUR;
/* Reads a file holding one public key line. */
int sshkey_pub_load(const char *path, struct sshkey_pub *out,
    char **comment) WUR;
/*
 * "SHA256:" and the unpadded base64 of the SHA-256 of the key blob, as
 * ssh-keygen -l prints it. out has room for SSHKEY_FP_MAX bytes.
 */
#define SSHKEY_FP_MAX 51
void sshkey_fingerprint(const struct sshkey_pub *pk, char out[SSHKEY_FP_MAX]);

/* SSH wire encoding. */

/*
 * A writer over a fixed buffer the caller owns. A put that does not fit
 * sets err and writes nothing more; check err once at the end.
 */
struct sshwire_w {
	uint8_t *p;
	size_t cap;
	size_t len;
	int err;
};

void sshwire_w_init(struct sshwire_w *w, uint8_t *buf, size_t cap);
void sshwire_put_u32(struct sshwire_w *w, uint32_t v);
void sshwire_put_u64(struct sshwire_w *w, uint64_t v);
void sshwire_put_raw(struct sshwire_w *w, const void *p, size_t len);
/* uint32 length and the bytes. */
void sshwire_put_string(struct sshwire_w *w, const void *p, size_t len);
void sshwire_put_cstring(struct sshwire_w *w, const char *s);
/* The key blob: string "ssh-ed25519", string pk. */
void sshwire_put_pub(struct sshwire_w *w, const struct sshkey_pub *pk);
/* The signature blob: string "ssh-ed25519", string sig. */
void sshwire_put_sig(struct sshwire_w *w,
    const uint8_t sig[SSHKEY_ED25519_SIGLEN]);

/* A reader over borrowed bytes; each get consumes what it returns. */
struct sshwire_r {
	const uint8_t *p;
	size_t len;
};

int sshwire_get_u32(struct sshwire_r *r, uint32_t *v) WUR;
int sshwire_get_u64(struct sshwire_r *r, uint64_t *v) WUR;
/* A string as a view into the reader's bytes. */
int sshwire_get_string(struct sshwire_r *r, const uint8_t **p,
    size_t *len) WUR;
/*
 * A string that must hold no NUL and at most max bytes, copied into a new
 * malloc'ed NUL-terminated string.
 */
int sshwire_get_cstring(struct sshwire_r *r, size_t max, char **out) WUR;
/* A string that must equal s exactly (ERR_FORMAT otherwise). */
int sshwire_expect_cstring(struct sshwire_r *r, const char *s) WUR;
/*
 * A key blob: string type, then for ssh-ed25519 string pk of 32 bytes and
 * nothing after. ERR_UNSUPPORTED for another type name.
 */
int sshwire_parse_pub(const uint8_t *blob, size_t len,
    struct sshkey_pub *out) WUR;

/*
 * A user's public key line of any type a gateway user may register
 * (ssh-ed25519, sk-ssh-ed25519@openssh.com, ecdsa-sha2-nistp256/384/521,
 * sk-ecdsa-sha2-nistp256@openssh.com, ssh-rsa), without options: "TYPE
 * BASE64[ COMMENT]". The blob is not interpreted beyond its first string,
 * which must name TYPE; sshd does the rest. type (SSHKEY_TYPE_MAX bytes)
 * gets the type, fp the "SHA256:..." fingerprint of the blob, and
 * *canon_len the length of "TYPE BASE64" at the start of line (the key
 * without its comment). ERR_FORMAT for a malformed line, ERR_UNSUPPORTED
 * for another type.
 */
#define SSHKEY_TYPE_MAX 48
#define SSHKEY_ANY_BLOB_MAX 2048
int sshkey_line_any(const char *line, size_t len, char type[SSHKEY_TYPE_MAX],
    char fp[SSHKEY_FP_MAX], size_t *canon_len) WUR;
/* 1 when type is a FIDO2 security key type (sk-...). */
int sshkey_type_is_sk(const char *type);

#endif
