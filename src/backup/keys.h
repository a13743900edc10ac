/*
 * keys.h - the backup repository's secrets and the two files that carry
 * them: the admins' key export and a host's agent configuration.
 *
 * Secrets (docs/backup.md has the table of who holds what):
 *   - the repository secret S (32 bytes), made by `vault init`. The
 *     chunker key and the chunk ID key derive from it. Every enrolled
 *     host and the vault host hold it; it decrypts nothing (chunk IDs and
 *     lengths never leave a pack's encrypted index).
 *   - the vault's X25519 secret key, which opens every pack. It exists
 *     only inside the admin key export, wrapped with a passphrase.
 *   - a host's Ed25519 signing key, which signs its manifests; the vault
 *     keeps the public half in its host registry.
 *
 * Admin key export, a text file (it fits on paper):
 *
 *	bulwark vault admin key v1
 *	key-id <32 hex digits: pack.h's vault key ID>
 *	kdf argon2id v=19 m=<KiB> t=<passes> p=<lanes> <salt, base64>
 *	sealed <base64 of XChaCha20-Poly1305(nonce 24 || ciphertext+tag)
 *	        of vault_sk (32) || vault_pk (32) || repo secret (32)>
 *
 * The wrapping key is Argon2id(passphrase, salt) with the line's memory,
 * passes and lanes (RFC 9106's names; 16-byte salt, 32-byte output); the
 * associated data is the first three lines, so the key ID and the KDF
 * parameters cannot be swapped without the tag failing. Exports made
 * before lanes were written say "kdf argon2id13 <passes> <memory in
 * bytes> <salt>", one lane; they are read, never written.
 *
 * Agent configuration (`vault enroll` writes it; the host keeps it 0600):
 *
 *	# comment lines and blank lines are ignored
 *	host <name>
 *	vault-key <base64 X25519 public key>
 *	repo-key <base64 repository secret>
 *	sign-key <base64 Ed25519 secret key, libsodium's 64-byte form>
 *	vault <destination>		(optional: DIR or USER@HOST:DIR)
 *	ssh-identity <path>		(optional)
 *
 * Parsers are strict: every key once, nothing unknown, canonical base64,
 * host names as manifest.h allows. Errors: ERR_FORMAT (malformed),
 * ERR_SIGNATURE (wrong passphrase or altered export), ERR_NOMEM,
 * ERR_CRYPTO. Secret-holding structs live in sodium_malloc memory and
 * are wiped by their free functions.
 */
#ifndef BULWARK_BACKUP_KEYS_H
#define BULWARK_BACKUP_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "backup/chunker.h"
#include "backup/manifest.h"
#include "backup/pack.h"
#include "common/err.h"

#define REPO_SECRET_LEN	32

/* The keys a host needs to chunk and name chunks, derived from S. */
struct repo_keys {
	uint8_t chunker[CHUNKER_KEY_LEN];
	uint8_t id[CHUNK_ID_KEY_LEN];
};

/* Derives both keys (keyed BLAKE2b of fixed labels). */
int repo_keys_derive(const uint8_t secret[REPO_SECRET_LEN],
    struct repo_keys *out) WUR;

/* ---- Admin key export -------------------------------------------- */

struct admin_key {
	uint8_t vault_sk[PACK_SK_LEN];
	uint8_t vault_pk[PACK_PK_LEN];
	uint8_t repo_secret[REPO_SECRET_LEN];
};

/* A zeroed admin_key in sodium_malloc memory. */
int admin_key_new(struct admin_key **out) WUR;
void admin_key_free(struct admin_key *k);

/*
 * The KDF of new exports: 256 MiB and 3 passes (libsodium's MODERATE
 * memory and time), in 4 lanes as RFC 9106 recommends. Lanes do not make
 * a guess cheaper, whose cost is memory times passes; they let the admin
 * computing the one right guess use every core (kdf.h).
 */
#define ADMIN_KDF_T		3
#define ADMIN_KDF_M_KIB		(256u << 10)
#define ADMIN_KDF_LANES		4
/* What an export may ask for. */
#define ADMIN_KDF_T_MAX		64
#define ADMIN_KDF_M_MAX		(4u << 20)	/* KiB: 4 GiB */
#define ADMIN_KDF_LANES_MAX	64

struct admin_kdf {
	uint32_t t;		/* passes */
	uint32_t m_kib;		/* memory */
	uint32_t lanes;
	uint8_t salt[16];
};

/*
 * Wraps k with the passphrase. passes and memory (bytes, at least 32 KiB)
 * are Argon2id's; 0, 0 for the defaults above. *text is the export file's
 * contents, malloc'd and NUL-terminated.
 */
int admin_key_export(const struct admin_key *k, const char *pass,
    size_t passlen, unsigned long long passes, size_t memory,
    char **text) WUR;

/* An export's KDF parameters, read without the passphrase (to say what
 * unlocking costs, or to refuse what would cost too much). */
int admin_key_kdf(const char *text, size_t len, struct admin_kdf *out) WUR;

/* Parses and unwraps an export, checking that the keys belong together. */
int admin_key_import(const char *text, size_t len, const char *pass,
    size_t passlen, struct admin_key **out) WUR;

/* ---- Agent configuration ----------------------------------------- */

struct agent_config {
	char host[MANIFEST_HOST_MAX + 1];
	uint8_t vault_pk[PACK_PK_LEN];
	uint8_t repo_secret[REPO_SECRET_LEN];
	uint8_t sign_sk[MANIFEST_SK_LEN];
	char vault[1024];		/* empty when absent */
	char ssh_identity[1024];	/* empty when absent */
};

int agent_config_new(struct agent_config **out) WUR;
void agent_config_free(struct agent_config *c);

/* The file's text (malloc'd, NUL-terminated; the caller wipes it). */
int agent_config_format(const struct agent_config *c, char **text) WUR;
int agent_config_parse(const char *text, size_t len,
    struct agent_config **out) WUR;

/*
 * Reads and parses path, refusing (ERR_DENIED) a file that others can
 * read or write: it holds the repository secret and the signing key.
 * why gets a one-line reason on failure.
 */
int agent_config_load(const char *path, struct agent_config **out,
    char *why, size_t whylen) WUR;

/* True when name is a host name manifests accept (1-255 of 0x21-0x7e),
 * with no '/' (it names files in the vault). */
int backup_host_name_ok(const char *name);

#endif
