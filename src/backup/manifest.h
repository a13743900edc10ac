/*
 * manifest.h - the snapshot manifest: the small signed document a host
 * sends to the vault at the end of a backup run.
 *
 * The vault checks a manifest without any decryption key: it verifies the
 * sending host's Ed25519 signature with the public key it enrolled for
 * that host, and checks that every pack the manifest names is in its
 * store (pack names, as in pack.h, are the lowercase hex SHA-256 of the
 * pack's bytes). The client's time is informational; retention counts from
 * the vault's receive time, which the vault records beside the manifest
 * and which is not part of the signed bytes.
 *
 * Byte layout, version 1. Integers are unsigned big-endian. Offsets are
 * from the start of the manifest.
 *
 *   fixed part, MANIFEST_FIXED_LEN (185) bytes
 *	0    4   magic "BWSM"
 *	4    1   version, 1
 *	5    1   flags: MANIFEST_F_PARENT when a parent snapshot is named;
 *		 other bits zero
 *	6    2   reserved, zero
 *	8    16  snapshot ID, random
 *	24   8   client time, seconds since the epoch (informational)
 *	32   16  vault key ID the packs are sealed to (pack.h)
 *	48   32  root tree's chunk ID (chunker.h)
 *	80   64  name of the pack that holds the root tree, lowercase hex
 *	144  16  parent snapshot ID; all zero when MANIFEST_F_PARENT is clear
 *	160  8   files (informational)
 *	168  8   bytes read (informational)
 *	176  8   bytes stored (informational)
 *	184  1   host name length n, 1 to 255
 *
 *   then, back to back:
 *	n        host name: ASCII 0x21-0x7e (no space, no control bytes)
 *	4        pack count p, 1 to MANIFEST_MAX_PACKS
 *	64 p     pack names, 64 lowercase hex digits each, strictly
 *		 ascending (byte order), so sorted and unique; the root pack
 *		 is one of them
 *	4        tag count t, 0 to MANIFEST_MAX_TAGS
 *	per tag: 1 byte length l (1 to 255), then l bytes of ASCII
 *		 0x20-0x7e; tags strictly ascending in byte order (a tag
 *		 that is a prefix of another sorts first)
 *	64       signature
 *
 * The signature is Ed25519 (crypto_sign_detached) by the host's key over
 *	"bulwark snapshot manifest v1\0" (29 bytes, NUL included) || body
 * where body is every byte before the signature. Ed25519 is deterministic,
 * so a manifest has exactly one encoding: parsing and re-encoding with the
 * same key gives the same bytes.
 *
 * Errors:
 *	ERR_FORMAT	malformed: magic, reserved bits, a nonzero parent ID
 *			without the flag, lengths, characters, bad hex,
 *			unsorted or duplicate lists, a root pack not in the
 *			list, a count that runs past the end, trailing bytes
 *	ERR_TOOBIG	over a limit: more than MANIFEST_MAX_PACKS packs or
 *			MANIFEST_MAX_TAGS tags, or more than MANIFEST_MAX_LEN
 *			bytes (encoder: also a host name or tag over 255 bytes)
 *	ERR_UNSUPPORTED	a version other than 1
 *	ERR_SIGNATURE	the signature does not verify with the key given
 *	ERR_INVAL	the encoder was given a manifest that would not parse
 *			(it checks everything the parser checks)
 *	ERR_NOMEM, ERR_CRYPTO
 *
 * Ownership: a struct manifest from a parser owns host, packs, tags and
 * each tags[i] (all malloc'd) and is freed with manifest_free(). The
 * encoder only reads its argument, so a caller may fill a struct manifest
 * on the stack with borrowed pointers. Out-parameters are cleared on entry
 * and set only on success; manifest_free(NULL) is a no-op.
 */
#ifndef BULWARK_BACKUP_MANIFEST_H
#define BULWARK_BACKUP_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backup/chunker.h"
#include "backup/pack.h"
#include "common/err.h"

#define MANIFEST_VERSION	1
#define MANIFEST_F_PARENT	0x01
#define MANIFEST_FIXED_LEN	185
#define MANIFEST_SNAPSHOT_ID_LEN	16
#define MANIFEST_ID_HEX_LEN	(2 * MANIFEST_SNAPSHOT_ID_LEN)
#define MANIFEST_SIG_LEN	64	/* crypto_sign_BYTES */
#define MANIFEST_PK_LEN		32	/* Ed25519 public key */
#define MANIFEST_SK_LEN		64	/* libsodium Ed25519 secret key */
#define MANIFEST_HOST_MAX	255
#define MANIFEST_TAG_MAX	255
#define MANIFEST_MAX_TAGS	64
#define MANIFEST_MAX_PACKS	10000000u

/* The signature's domain-separation prefix, its NUL included. */
#define MANIFEST_SIG_PREFIX	"bulwark snapshot manifest v1"
#define MANIFEST_SIG_PREFIX_LEN	(sizeof(MANIFEST_SIG_PREFIX))

/* Smallest and largest encodings (about 640 MiB at the pack limit). */
#define MANIFEST_MIN_LEN	(MANIFEST_FIXED_LEN + 1 + 4 + \
	PACK_NAME_HEX_LEN + 4 + MANIFEST_SIG_LEN)
#define MANIFEST_MAX_LEN	((size_t)MANIFEST_FIXED_LEN + MANIFEST_HOST_MAX + \
	4 + (size_t)PACK_NAME_HEX_LEN * MANIFEST_MAX_PACKS + 4 + \
	(size_t)MANIFEST_MAX_TAGS * (1 + MANIFEST_TAG_MAX) + MANIFEST_SIG_LEN)

struct manifest {
	char *host;			/* NUL-terminated, 1 to 255 bytes */
	uint8_t snapshot_id[MANIFEST_SNAPSHOT_ID_LEN];
	uint64_t client_time;
	uint8_t key_id[PACK_KEY_ID_LEN];
	uint8_t root_id[CHUNK_ID_LEN];
	char root_pack[PACK_NAME_HEX_LEN + 1];
	/* npacks NUL-terminated names, sorted and unique, in one array. */
	char (*packs)[PACK_NAME_HEX_LEN + 1];
	size_t npacks;
	uint64_t files;
	uint64_t bytes_read;
	uint64_t bytes_stored;
	bool has_parent;
	uint8_t parent_id[MANIFEST_SNAPSHOT_ID_LEN];	/* zero if none */
	/* ntags NUL-terminated tags, sorted and unique (strcmp order). */
	char **tags;
	size_t ntags;
};

/*
 * Checks m and encodes and signs it with the host's Ed25519 secret key
 * (libsodium's 64-byte form; only read). The caller sorts: packs and tags
 * must already be strictly ascending in strcmp order (sorted, no
 * duplicates) and root_pack must be among the packs, else ERR_INVAL; the
 * encoder does not reorder anything, so what is signed is what the caller
 * built. parent_id must be all zero when has_parent is false. *out
 * (malloc'd, freed by the caller with free()) gets *len bytes.
 */
int manifest_encode_sign(const struct manifest *m,
    const uint8_t host_sk[MANIFEST_SK_LEN], uint8_t **out, size_t *len) WUR;

/*
 * Parses buf[0..len) strictly against the layout above and verifies its
 * signature with host_pk. The signature is checked before the body is
 * decoded. *out gets a new manifest on success.
 */
int manifest_parse_verify(const uint8_t *buf, size_t len,
    const uint8_t host_pk[MANIFEST_PK_LEN], struct manifest **out) WUR;

/*
 * The same strict parse without the signature check (the last 64 bytes
 * must still be there), for tools that print a manifest. Nothing read
 * this way may be trusted.
 */
int manifest_parse_unverified(const uint8_t *buf, size_t len,
    struct manifest **out) WUR;

/* Frees host, packs, every tag, tags and m itself. */
void manifest_free(struct manifest *m);

/*
 * The snapshot ID in lowercase hex, which names the snapshot in the vault
 * and in tools: 32 digits and a NUL.
 */
void manifest_id_hex(const struct manifest *m,
    char out[MANIFEST_ID_HEX_LEN + 1]);

#endif
