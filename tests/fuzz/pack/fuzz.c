/*
 * fuzz.c - libFuzzer harness for pack files (backup/pack.h).
 *
 * The harness holds a fixed vault key pair (crypto_box_seed_keypair of
 * FUZZ_SEED; the corpus generator uses the same one). Two kinds of input:
 *
 *   - Anything not starting with "FORG" is taken as a pack file: the
 *     keyless structure check and name check, then the reader with the
 *     fixed secret key, and a get of every chunk the index lists.
 *
 *   - "FORG", u8 count, count index entries in plaintext (pack.h's 52-byte
 *     layout), then a pool of record plaintext. The harness builds a pack
 *     around them with the fixed key, following pack.h's description
 *     independently of pack.c: each entry's record is the next
 *     stored_len - 16 pool bytes, encrypted with the entry's own ID, flags
 *     and length as associated data, and the index is encrypted as given.
 *     Tags cannot be forged by mutation, so this is how the fuzzer reaches
 *     what a reader does with authentic but hostile contents (written by
 *     a host that held the run key): bad offsets, lengths, flags,
 *     duplicate IDs, zstd frames that lie about their size.
 *
 * Both must return, never crash. A get that succeeds must give exactly
 * the index's length, and for a forged raw record exactly the pool bytes;
 * anything else aborts.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "backup/pack.h"
#include "common/sha256.h"
#include "common/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_SEED "bulwark pack fuzz vault key seed"	/* 32 bytes */
#define FORGE_MAX_ENTRIES 64
#define FORGE_MAX_SIZE (256 * 1024)

static uint8_t fuzz_pk[PACK_PK_LEN], fuzz_sk[PACK_SK_LEN];
static uint8_t forge_k[32];
static uint8_t forge_header[PACK_HEADER_LEN];
static uint8_t forge_subkey[32];
static int ready;

static void
put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint32_t
get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

/* The key pair, and one header and subkey for every forged pack. */
static void
init_once(void)
{
	static const char label[] = "bulwark pack v1 subkey";
	crypto_generichash_state st;

	if (ready)
		return;
	if (sodium_init() < 0 ||
	    crypto_box_seed_keypair(fuzz_pk, fuzz_sk,
	    (const uint8_t *)FUZZ_SEED) != 0)
		abort();
	memset(forge_k, 0x4b, sizeof(forge_k));
	memcpy(forge_header, "BWPK\x01\x01\x00\x00", 8);
	/* Creation time 0, salt zero: fine for a fixed test pack. */
	crypto_generichash(forge_header + 16, PACK_KEY_ID_LEN, fuzz_pk,
	    PACK_PK_LEN, NULL, 0);
	if (crypto_box_seal(forge_header + 64, forge_k, 32, fuzz_pk) != 0)
		abort();
	crypto_generichash_init(&st, forge_k, 32, 32);
	crypto_generichash_update(&st, (const uint8_t *)label,
	    sizeof(label) - 1);
	crypto_generichash_update(&st, forge_header, PACK_HEADER_LEN);
	crypto_generichash_final(&st, forge_subkey, 32);
	ready = 1;
}

/* The name check must accept the real SHA-256 and refuse another. */
static void
check_name(const uint8_t *buf, size_t len)
{
	uint8_t h[SHA256_LEN];
	char hex[PACK_NAME_HEX_LEN + 1];

	sha256(buf, len, h);
	sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
	if (pack_verify_name_buf(buf, len, hex) != ERR_OK)
		abort();
	hex[10] = hex[10] == 'a' ? 'b' : 'a';
	if (pack_verify_name_buf(buf, len, hex) != ERR_MISMATCH)
		abort();
}

/*
 * Parses buf as a pack. raw[i], when not NULL and raw_len[i] is not
 * SIZE_MAX, is what entry i's record decrypts to.
 */
static void
parse(const uint8_t *buf, size_t len, const uint8_t *const *raw,
    const size_t *raw_len, size_t nraw)
{
	struct pack_info info;
	struct pack_reader *r = NULL;
	uint8_t id[PACK_ID_LEN], *out;
	size_t plen, olen;
	int rc, structure;

	structure = pack_check_structure_buf(buf, len, &info);
	if (structure == ERR_OK && (info.size != len ||
	    info.index_off + info.index_len + PACK_TRAILER_LEN != len))
		abort();
	check_name(buf, len);
	rc = pack_reader_open_buf(buf, len, fuzz_sk, &r);
	if (rc != ERR_OK) {
		if (r != NULL)
			abort();
		return;
	}
	/* The reader must not accept what the keyless check refuses. */
	if (structure != ERR_OK)
		abort();
	for (size_t i = 0; i < pack_reader_count(r); i++) {
		if (pack_reader_entry(r, i, id, &plen) != ERR_OK ||
		    plen > PACK_CHUNK_MAX)
			abort();
		rc = pack_reader_get(r, id, &out, &olen);
		if (rc == ERR_NOTFOUND)
			abort();	/* listed, so it must be found */
		if (rc != ERR_OK) {
			if (out != NULL)
				abort();
			continue;
		}
		if (out == NULL || olen != plen)
			abort();
		if (raw != NULL && i < nraw && raw_len[i] != SIZE_MAX &&
		    (raw_len[i] != olen || memcmp(raw[i], out, olen) != 0))
			abort();
		free(out);
	}
	if (pack_reader_entry(r, pack_reader_count(r), id, &plen) != ERR_RANGE)
		abort();
	pack_reader_free(r);
}

/* Encrypts one forged record; returns its length in the pack. */
static size_t
forge_record(uint8_t *dst, const uint8_t *entry, size_t seq,
    const uint8_t *m, size_t mlen)
{
	uint8_t ad[PACK_ID_LEN + 5], nonce[24];
	unsigned long long clen;

	memcpy(ad, entry, PACK_ID_LEN);
	ad[PACK_ID_LEN] = entry[48];
	memcpy(ad + PACK_ID_LEN + 1, entry + 44, 4);
	memset(nonce, 0, sizeof(nonce));
	put_u64(nonce + 16, seq);
	crypto_aead_xchacha20poly1305_ietf_encrypt(dst, &clen, m, mlen, ad,
	    sizeof(ad), NULL, nonce, forge_subkey);
	return (size_t)clen;
}

static void
forge(const uint8_t *data, size_t size)
{
	const uint8_t *entries, *pool, *raw[FORGE_MAX_ENTRIES];
	size_t raw_len[FORGE_MAX_ENTRIES], count, pool_len, len, ilen;
	uint8_t *buf, ad[16], nonce[24];
	unsigned long long clen;

	if (size < 5)
		return;
	count = data[4];
	if (count > FORGE_MAX_ENTRIES || size - 5 < count * PACK_ENTRY_LEN)
		return;
	entries = data + 5;
	pool = entries + count * PACK_ENTRY_LEN;
	pool_len = size - 5 - count * PACK_ENTRY_LEN;
	ilen = count * PACK_ENTRY_LEN + PACK_TAG_LEN;
	buf = malloc(PACK_HEADER_LEN + pool_len + count * PACK_TAG_LEN + ilen +
	    PACK_TRAILER_LEN);
	if (buf == NULL)
		abort();
	memcpy(buf, forge_header, PACK_HEADER_LEN);
	len = PACK_HEADER_LEN;
	for (size_t i = 0; i < count; i++) {
		const uint8_t *e = entries + i * PACK_ENTRY_LEN;
		uint32_t stored = get_u32(e + 40);
		size_t m = stored >= PACK_TAG_LEN ? stored - PACK_TAG_LEN : 0;

		if (m > pool_len)
			m = pool_len;
		raw[i] = pool;
		/* Only a raw record's plaintext is the chunk itself. */
		raw_len[i] = (e[48] & PACK_F_ZSTD) ? SIZE_MAX : m;
		len += forge_record(buf + len, e, i, pool, m);
		pool += m;
		pool_len -= m;
	}
	put_u64(ad, len);
	put_u64(ad + 8, ilen);
	memset(nonce, 0, sizeof(nonce));
	nonce[0] = 0x01;
	crypto_aead_xchacha20poly1305_ietf_encrypt(buf + len + 0, &clen, entries,
	    count * PACK_ENTRY_LEN, ad, sizeof(ad), NULL, nonce, forge_subkey);
	put_u64(buf + len + clen, len);
	put_u64(buf + len + clen + 8, clen);
	memcpy(buf + len + clen + 16, "BWPKTAIL", 8);
	len += (size_t)clen + PACK_TRAILER_LEN;
	parse(buf, len, raw, raw_len, count);
	free(buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	init_once();
	if (size >= 4 && memcmp(data, "FORG", 4) == 0) {
		if (size <= FORGE_MAX_SIZE)
			forge(data, size);
		return 0;
	}
	parse(data, size, NULL, NULL, 0);
	return 0;
}
