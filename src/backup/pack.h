/*
 * pack.h - the vault's pack files: chunks compressed, encrypted to the
 * vault's public key, and named by the SHA-256 of the whole file.
 *
 * Who holds what:
 *   - The vault has an X25519 key pair (libsodium crypto_box). Its secret
 *     key stays offline; only a restore or a drill uses it.
 *   - A backup run (struct pack_run) makes a fresh 32-byte run key K and
 *     seals it once to the vault's public key (crypto_box_seal: an
 *     ephemeral X25519 key per seal, so per run). Every pack of the run
 *     carries that sealed K, so any single pack opens with the vault secret
 *     key alone. K lives in sodium_malloc memory and is wiped by
 *     pack_run_free(); after that the host can add nothing to the run and
 *     read nothing of it. Nothing in this API hands K out, and the reader
 *     takes the vault's secret key: a host that has only the public key
 *     can write packs but never read one back.
 *   - The vault receives, checks, scrubs and replicates packs without any
 *     key: pack_verify_name() and pack_check_structure().
 *
 * Byte layout, version 1. Integers are unsigned big-endian. Offsets are
 * from the start of the file.
 *
 *   header, PACK_HEADER_LEN (144) bytes
 *	0    4   magic "BWPK"
 *	4    1   version, 1
 *	5    1   suite, 1: X25519 sealed box, BLAKE2b subkey,
 *		 XChaCha20-Poly1305 (IETF), zstd
 *	6    2   reserved, zero
 *	8    8   creation time, seconds since the epoch (writer's clock)
 *	16   16  vault key ID: BLAKE2b-128 (crypto_generichash, unkeyed) of
 *		 the vault's public key
 *	32   32  pack salt, random per pack
 *	64   80  sealed run key: crypto_box_seal(K, vault public key)
 *
 *   records, one per chunk, back to back from offset 144, in index order;
 *   nothing between them and no length prefixes, so that without the key
 *   a reader sees one blob and not the chunk lengths (the chunker's cut
 *   points depend on its secret):
 *	stored_len bytes  XChaCha20-Poly1305 ciphertext and 16-byte tag of the
 *			  stored form (zstd frame, or the raw chunk)
 *
 *   index, at index_off, index_len bytes:
 *	XChaCha20-Poly1305 ciphertext and tag of count entries of
 *	PACK_ENTRY_LEN (52) bytes, count = (index_len - 16) / 52:
 *	0    32  chunk ID
 *	32   8   record offset
 *	40   4   stored_len: record length, tag included
 *	44   4   plain_len: the chunk's length
 *	48   1   flags: PACK_F_ZSTD when the record holds a zstd frame;
 *		 other bits zero
 *	49   3   reserved, zero
 *
 *   trailer, PACK_TRAILER_LEN (24) bytes, the last bytes of the file:
 *	0    8   index_off
 *	8    8   index_len
 *	16   8   magic "BWPKTAIL"
 *
 * Keys and nonces:
 *	subkey = BLAKE2b-256(key = K, "bulwark pack v1 subkey" || header)
 *   The whole header feeds the subkey, so changing any header byte (time,
 *   key ID, salt, sealed key) makes every tag fail. The salt makes the
 *   subkey unique per pack (2^-256 collision chance per pair of packs), so
 *   nonces need only be unique within a pack, and are counters:
 *	chunk i:  nonce = 0x00, 15 zero bytes, u64 i	(i = index position)
 *	index:    nonce = 0x01, 23 zero bytes
 *   Associated data:
 *	chunk:    chunk ID (32) || flags (1) || u32 plain_len
 *	index:    u64 index_off || u64 index_len
 *   A record cannot be moved to another ID, position or pack, nor have its
 *   flags or length changed, without its tag failing.
 *
 * Canonical form, which the reader enforces: records are contiguous from
 * offset 144 and end exactly at index_off; entry i's offset is the end of
 * entry i - 1's record; index_off + index_len + 24 is the file size; chunk
 * IDs are distinct; a raw record has stored_len == plain_len + 16; a zstd
 * record is strictly shorter than that (the writer keeps the raw form when
 * zstd does not shrink a chunk); plain_len <= PACK_CHUNK_MAX; the file is
 * at most PACK_MAX_SIZE bytes. A pack's name is the lowercase hex SHA-256
 * of all its bytes.
 *
 * Errors:
 *	ERR_FORMAT	malformed: bad magic, version, suite, lengths, offsets,
 *			reserved bits, duplicate IDs, a zstd frame that does
 *			not give plain_len bytes
 *	ERR_TOOBIG	larger than PACK_MAX_SIZE / PACK_CHUNK_MAX
 *	ERR_UNSUPPORTED	a version or suite this code does not know
 *	ERR_MISMATCH	the bytes do not hash to the pack's name
 *	ERR_NOTFOUND	the pack is sealed to another vault key (key ID
 *			differs), or no chunk has the ID asked for
 *	ERR_SIGNATURE	authentication failed: the sealed run key does not
 *			open, or a tag does not verify (altered bytes, a
 *			wrong key)
 *	ERR_CRYPTO	libsodium could not start or a crypto call failed for
 *			another reason
 *	ERR_IO		read or write on a descriptor failed (errno set)
 *
 * Ownership: constructors hand over their object through **out on success
 * only; every *_free(NULL) is a no-op. A reader made from a buffer borrows
 * it and must not outlive it; one made from a descriptor borrows the
 * descriptor (the caller closes it after pack_reader_free()). Objects are
 * not safe to share between threads.
 */
#ifndef BULWARK_BACKUP_PACK_H
#define BULWARK_BACKUP_PACK_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define PACK_VERSION		1
#define PACK_SUITE		1
#define PACK_HEADER_LEN		144
#define PACK_TRAILER_LEN	24
#define PACK_ENTRY_LEN		52
#define PACK_TAG_LEN		16
#define PACK_ID_LEN		32
#define PACK_KEY_ID_LEN		16
#define PACK_SEALED_KEY_LEN	80	/* crypto_box_SEALBYTES + 32 */
#define PACK_PK_LEN		32	/* X25519 public key */
#define PACK_SK_LEN		32	/* X25519 secret key */
#define PACK_NAME_HEX_LEN	64

#define PACK_F_ZSTD		0x01

/* Smallest valid pack: no chunks, an index of just its tag. */
#define PACK_MIN_SIZE	(PACK_HEADER_LEN + PACK_TAG_LEN + PACK_TRAILER_LEN)
/* Largest chunk a pack holds; the chunker's max must not exceed it. */
#define PACK_CHUNK_MAX	(16u * 1024 * 1024)
/* Largest pack written or read. */
#define PACK_MAX_SIZE	(1ull << 30)
/* Size at which callers should close a pack and start the next one. */
#define PACK_TARGET_SIZE	(32u * 1024 * 1024)

struct pack_run;
struct pack_writer;
struct pack_reader;

/* What the keyless check learns from a pack's header and trailer. */
struct pack_info {
	uint8_t version;
	uint64_t created;
	uint8_t key_id[PACK_KEY_ID_LEN];
	uint64_t index_off;
	uint64_t index_len;
	uint64_t size;
};

/* ---- Vault keys ---------------------------------------------------- */

/*
 * A new vault key pair (crypto_box_keypair). The secret key is the
 * caller's to keep in protected memory and wipe.
 */
int pack_vault_keypair_secret(uint8_t pk[PACK_PK_LEN],
    uint8_t sk[PACK_SK_LEN]) WUR;

/* The key ID that packs sealed to pk carry in their header. */
int pack_vault_key_id(const uint8_t pk[PACK_PK_LEN],
    uint8_t id[PACK_KEY_ID_LEN]) WUR;

/* ---- A backup run (host side) -------------------------------------- */

/*
 * Makes a fresh run key K in sodium_malloc memory and seals it to
 * vault_pk. Call once per backup run and pack_run_free() when the run
 * ends; every pack writer of the run uses it. ERR_INVAL if vault_pk is
 * not a usable X25519 public key.
 */
int pack_run_new(const uint8_t vault_pk[PACK_PK_LEN], struct pack_run **out)
    WUR;

/* Wipes K and frees the run. Writers made from it stay usable. */
void pack_run_free(struct pack_run *run);

/* ---- Writing a pack (host side) ------------------------------------ */

/*
 * Starts a pack of run: a random salt, the header, and a per-pack subkey
 * (sodium_malloc memory, wiped by pack_writer_free()). The writer does not
 * keep K. The pack is built in memory and written by a finish call.
 */
int pack_writer_new(const struct pack_run *run, struct pack_writer **out)
    WUR;

/*
 * The same, building the pack in buf (malloc'd, cap bytes), which the
 * writer adopts (freed on error too) and grows only if the pack
 * outgrows it. A caller that recycles the buffers pack_writer_finish_buf()
 * hands back saves the page faults of fresh memory for every pack.
 */
int pack_writer_new_buf(const struct pack_run *run, uint8_t *buf,
    size_t cap, struct pack_writer **out) WUR;

/*
 * zstd levels a writer accepts, and its default. Level 2 rather than
 * zstd's own default of 3: on bench/backup.sh's corpus it stores the same
 * bytes (475 MiB either way) for 20% less CPU, the first backup being
 * CPU-bound; on /usr/lib it stores 4.5% more, on Python and Perl sources
 * 9% more (docs/benchmarks.md). `bulwark backup --compression` chooses.
 */
#define PACK_ZSTD_MIN		1
#define PACK_ZSTD_MAX		19
#define PACK_ZSTD_DEFAULT	2

/* The zstd level of the chunks added from now on; ERR_INVAL out of range. */
int pack_writer_set_level(struct pack_writer *w, int level) WUR;

/*
 * Adds chunk data[0..n) under id: compressed with zstd (level 2 unless
 * pack_writer_set_level() said otherwise) unless that
 * does not make it shorter, then encrypted. data may be NULL when n is 0.
 * ERR_EXISTS if id is already in this pack (the pack is unchanged),
 * ERR_TOOBIG if n > PACK_CHUNK_MAX or the pack would pass PACK_MAX_SIZE,
 * ERR_INVAL after a finish call.
 */
int pack_writer_add(struct pack_writer *w, const uint8_t id[PACK_ID_LEN],
    const uint8_t *data, size_t n) WUR;

/* Bytes the pack would have if finished now (index and trailer counted). */
uint64_t pack_writer_size(const struct pack_writer *w);

/* Chunks added so far. */
size_t pack_writer_count(const struct pack_writer *w);

/*
 * Encrypts the index, appends it and the trailer, and writes the whole
 * pack to fd (from its current position; the caller fsyncs and names the
 * file) or hands the bytes over in *out (*len bytes, the caller frees
 * them with free()). name gets the pack's name, 64 lowercase hex digits
 * and a NUL (an empty string on error). Either call ends the writer, even
 * when the write to fd fails (ERR_IO: discard the partial file and write
 * the chunks to a new pack): later adds and finishes fail with ERR_INVAL,
 * and pack_writer_free() is still needed.
 */
int pack_writer_finish_fd(struct pack_writer *w, int fd,
    char name[PACK_NAME_HEX_LEN + 1]) WUR;
int pack_writer_finish_buf(struct pack_writer *w, uint8_t **out, size_t *len,
    char name[PACK_NAME_HEX_LEN + 1]) WUR;

/*
 * Starts the next pack of run in a writer whose pack is finished, keeping
 * its compression context and tables (new salt, header and subkey; buf as
 * in pack_writer_new_buf(), or NULL and 0). One writer can then serve a
 * whole run without fresh memory for every pack. ERR_INVAL if w is not
 * finished; on any error w stays finished.
 */
int pack_writer_restart(struct pack_writer *w, const struct pack_run *run,
    uint8_t *buf, size_t cap) WUR;

void pack_writer_free(struct pack_writer *w);

/* ---- Keyless checks (vault side) ----------------------------------- */

/*
 * Checks that the bytes hash to name. ERR_FORMAT if name is not 64
 * lowercase hex digits, ERR_MISMATCH if the hash differs. The fd form
 * reads the whole file with pread from offset 0.
 */
int pack_verify_name_buf(const uint8_t *buf, size_t len, const char *name)
    WUR;
int pack_verify_name_fd(int fd, const char *name) WUR;

/*
 * Checks what can be checked without a key: size, header magic, version,
 * suite and reserved bytes, trailer magic, and that index_off and
 * index_len fit the file exactly and leave room for whole entries. info,
 * when not NULL, gets what was read (zeroed on error).
 */
int pack_check_structure_buf(const uint8_t *buf, size_t len,
    struct pack_info *info) WUR;
int pack_check_structure_fd(int fd, struct pack_info *info) WUR;

/* ---- Reading a pack (needs the vault secret key) ------------------- */

/*
 * Opens a pack: the keyless checks, then the sealed run key opened with
 * vault_sk, the subkey derived (K is wiped at once), the index decrypted
 * and checked against the canonical form above. vault_sk is only read.
 * The fd form reads with pread and leaves the file position alone.
 */
int pack_reader_open_buf(const uint8_t *buf, size_t len,
    const uint8_t vault_sk[PACK_SK_LEN], struct pack_reader **out) WUR;
int pack_reader_open_fd(int fd, const uint8_t vault_sk[PACK_SK_LEN],
    struct pack_reader **out) WUR;

/* Chunks in the pack. */
size_t pack_reader_count(const struct pack_reader *r);

/*
 * The ID and length of the i-th chunk in pack order. ERR_RANGE when
 * i >= pack_reader_count(r).
 */
int pack_reader_entry(const struct pack_reader *r, size_t i,
    uint8_t id[PACK_ID_LEN], size_t *plain_len) WUR;

/*
 * Decrypts, decompresses and returns chunk id in a new buffer (*out, freed
 * by the caller with free(); never NULL on success, even for an empty
 * chunk) of *len bytes, which always equals the length the index gives.
 * ERR_NOTFOUND if the pack has no such chunk.
 */
int pack_reader_get(struct pack_reader *r, const uint8_t id[PACK_ID_LEN],
    uint8_t **out, size_t *len) WUR;

/*
 * A reader's scratch space: the record read from the pack and the zstd
 * frame it decrypts to, grown as needed. Each reader has its own; a
 * caller that reads many packs one after the other on one thread gives
 * them one, so that the buffers are allocated (and their pages faulted
 * in) once rather than per pack. The zstd buffer is wiped when freed.
 */
struct pack_scratch {
	uint8_t *cbuf, *zbuf;
	size_t cbuf_cap, zbuf_cap;
};

/* r uses s from now on (NULL: its own again). s outlives r's use of it,
 * and only one thread uses s at a time. */
void pack_reader_use_scratch(struct pack_reader *r, struct pack_scratch *s);
/* Frees and wipes s's buffers; s is then empty and may be reused. */
void pack_scratch_free(struct pack_scratch *s);

/* Wipes the subkey and frees the reader (not a scratch it was given). */
void pack_reader_free(struct pack_reader *r);

#endif
