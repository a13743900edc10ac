/*
 * pack.c - pack files: writer (host), keyless checks (vault), reader
 * (restore, with the vault secret key). The layout is in pack.h.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <zstd.h>

#include "backup/pack.h"
#include "common/fsutil.h"
#include "common/sha256.h"
#include "common/endian.h"
#include "common/banned.h"

_Static_assert(PACK_SEALED_KEY_LEN == crypto_box_SEALBYTES + 32, "sealed K");
_Static_assert(PACK_TAG_LEN == crypto_aead_xchacha20poly1305_ietf_ABYTES,
    "tag");
_Static_assert(PACK_PK_LEN == crypto_box_PUBLICKEYBYTES, "pk");
_Static_assert(PACK_SK_LEN == crypto_box_SECRETKEYBYTES, "sk");
_Static_assert(crypto_aead_xchacha20poly1305_ietf_KEYBYTES == 32, "key");
_Static_assert(PACK_CHUNK_MAX + PACK_TAG_LEN <= UINT32_MAX, "u32 lengths");

#define KEY_LEN		32
#define SALT_LEN	32
#define NONCE_LEN	crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define CHUNK_AD_LEN	(PACK_ID_LEN + 1 + 4)
#define INDEX_AD_LEN	16
#define HASH_READ	(1024 * 1024)

/* Header field offsets (pack.h). */
#define H_VERSION	4
#define H_SUITE		5
#define H_RESERVED	6
#define H_CREATED	8
#define H_KEY_ID	16
#define H_SALT		32
#define H_SEALED	64

/* Nonce domains: the first nonce byte. */
#define NONCE_CHUNK	0x00
#define NONCE_INDEX	0x01

static const uint8_t header_magic[4] = { 'B', 'W', 'P', 'K' };
static const uint8_t trailer_magic[8] = { 'B', 'W', 'P', 'K', 'T', 'A', 'I', 'L' };
static const char subkey_label[] = "bulwark pack v1 subkey";

_Static_assert(H_SEALED + PACK_SEALED_KEY_LEN == PACK_HEADER_LEN, "header");

struct pack_run {
	uint8_t *key;				/* K, sodium_malloc */
	uint8_t sealed[PACK_SEALED_KEY_LEN];
	uint8_t key_id[PACK_KEY_ID_LEN];
};

/* One index entry, decoded. */
struct pack_entry {
	uint8_t id[PACK_ID_LEN];
	uint64_t off;
	uint32_t stored_len;
	uint32_t plain_len;
	uint8_t flags;
};

struct pack_writer {
	uint8_t *subkey;		/* sodium_malloc */
	uint8_t *buf;			/* the pack so far, header first */
	size_t len, cap;
	struct pack_entry *ent;
	size_t count, ent_cap;
	uint32_t *slots;		/* ID hash set: entry index + 1, 0 free */
	size_t nslots;
	ZSTD_CCtx *cctx;
	int level;			/* zstd level */
	int done;
};

/* An ID and its entry's position, for lookups by ID. */
struct pack_id_ref {
	uint8_t id[PACK_ID_LEN];
	uint32_t idx;
};

/* Where a pack's bytes come from: memory, or a descriptor read with pread. */
struct pack_src {
	const uint8_t *mem;
	int fd;
	uint64_t size;
};

struct pack_reader {
	struct pack_src src;
	uint8_t *subkey;		/* sodium_malloc */
	struct pack_entry *ent;		/* pack order */
	struct pack_id_ref *by_id;	/* sorted by ID */
	size_t count;
	ZSTD_DCtx *dctx;
	struct pack_scratch own;	/* record and zstd frame scratch */
	struct pack_scratch *scr;	/* &own, or the caller's */
};

/* ------------------------------------------------------------------ */
/* Small helpers. */

static pthread_once_t lib_once = PTHREAD_ONCE_INIT;
static int lib_status = ERR_INTERNAL;

static void
lib_init_once(void)
{
	lib_status = sodium_init() < 0 ? ERR_CRYPTO : ERR_OK;
}

static int
lib_init(void)
{
	if (pthread_once(&lib_once, lib_init_once) != 0)
		return ERR_INTERNAL;
	return lib_status;
}

static int
all_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

/* The capacity to grow cap to for need bytes: doubling, at least need. */
static size_t
grown(size_t cap, size_t need)
{
	size_t n = cap > SIZE_MAX / 2 ? need : cap * 2;

	return n < need ? need : n;
}

/* Grows *p to hold need bytes, at least doubling so appends stay linear. */
static int
grow(uint8_t **p, size_t *cap, size_t need)
{
	size_t n;
	uint8_t *q;

	if (need <= *cap)
		return ERR_OK;
	n = grown(*cap, need);
	if ((q = realloc(*p, n)) == NULL)
		return ERR_NOMEM;
	*p = q;
	*cap = n;
	return ERR_OK;
}

/*
 * grow() for scratch space whose bytes need not survive: no copy, and the
 * old buffer wiped first when it held plaintext (wipe).
 */
static int
grow_scratch(uint8_t **p, size_t *cap, size_t need, int wipe)
{
	size_t n;

	if (need <= *cap)
		return ERR_OK;
	n = grown(*cap, need);
	if (wipe && *p != NULL)
		sodium_memzero(*p, *cap);
	free(*p);
	*cap = 0;
	if ((*p = malloc(n)) == NULL)
		return ERR_NOMEM;
	*cap = n;
	return ERR_OK;
}

static void
make_nonce(uint8_t domain, uint64_t seq, uint8_t nonce[NONCE_LEN])
{
	memset(nonce, 0, NONCE_LEN);
	nonce[0] = domain;
	be_put64(nonce + NONCE_LEN - 8, seq);
}

static void
chunk_ad(const uint8_t id[PACK_ID_LEN], uint8_t flags, uint32_t plain_len,
    uint8_t ad[CHUNK_AD_LEN])
{
	memcpy(ad, id, PACK_ID_LEN);
	ad[PACK_ID_LEN] = flags;
	be_put32(ad + PACK_ID_LEN + 1, plain_len);
}

static void
index_ad(uint64_t index_off, uint64_t index_len, uint8_t ad[INDEX_AD_LEN])
{
	be_put64(ad, index_off);
	be_put64(ad + 8, index_len);
}

/*
 * The per-pack subkey. Hashing the whole header binds every header byte
 * to every tag in the pack, and the salt in it makes the subkey unique.
 */
static int
derive_subkey(const uint8_t *k, const uint8_t header[PACK_HEADER_LEN],
    uint8_t *subkey)
{
	crypto_generichash_state st;
	int r = ERR_CRYPTO;

	if (crypto_generichash_init(&st, k, KEY_LEN, KEY_LEN) == 0 &&
	    crypto_generichash_update(&st, (const uint8_t *)subkey_label,
	    sizeof(subkey_label) - 1) == 0 &&
	    crypto_generichash_update(&st, header, PACK_HEADER_LEN) == 0 &&
	    crypto_generichash_final(&st, subkey, KEY_LEN) == 0)
		r = ERR_OK;
	sodium_memzero(&st, sizeof(st));
	return r;
}

static int
key_id_of(const uint8_t pk[PACK_PK_LEN], uint8_t id[PACK_KEY_ID_LEN])
{
	if (crypto_generichash(id, PACK_KEY_ID_LEN, pk, PACK_PK_LEN, NULL, 0) != 0)
		return ERR_CRYPTO;
	return ERR_OK;
}

static void
name_of(const uint8_t *buf, size_t len, char name[PACK_NAME_HEX_LEN + 1])
{
	uint8_t h[SHA256_LEN];

	sha256(buf, len, h);
	sodium_bin2hex(name, PACK_NAME_HEX_LEN + 1, h, sizeof(h));
}

/* ------------------------------------------------------------------ */
/* Vault keys and runs. */

int
pack_vault_keypair_secret(uint8_t pk[PACK_PK_LEN], uint8_t sk[PACK_SK_LEN])
{
	int r;

	if ((r = lib_init()) != ERR_OK)
		return r;
	return crypto_box_keypair(pk, sk) == 0 ? ERR_OK : ERR_CRYPTO;
}

int
pack_vault_key_id(const uint8_t pk[PACK_PK_LEN], uint8_t id[PACK_KEY_ID_LEN])
{
	int r;

	if ((r = lib_init()) != ERR_OK)
		return r;
	return key_id_of(pk, id);
}

int
pack_run_new(const uint8_t vault_pk[PACK_PK_LEN], struct pack_run **out)
{
	struct pack_run *run = NULL;
	int r;

	*out = NULL;
	if ((r = lib_init()) != ERR_OK)
		return r;
	if ((run = calloc(1, sizeof(*run))) == NULL)
		return ERR_NOMEM;
	if ((run->key = sodium_malloc(KEY_LEN)) == NULL) {
		r = ERR_NOMEM;
		goto out;
	}
	crypto_aead_xchacha20poly1305_ietf_keygen(run->key);
	/* Fails for a low-order point: no shared secret, nobody could open it. */
	if (crypto_box_seal(run->sealed, run->key, KEY_LEN, vault_pk) != 0) {
		r = ERR_INVAL;
		goto out;
	}
	if ((r = key_id_of(vault_pk, run->key_id)) != ERR_OK)
		goto out;
	*out = run;
	run = NULL;
	r = ERR_OK;
 out:
	pack_run_free(run);
	return r;
}

void
pack_run_free(struct pack_run *run)
{
	if (run == NULL)
		return;
	sodium_free(run->key);	/* wipes */
	free(run);
}

/* ------------------------------------------------------------------ */
/* Writer. */

static void
build_header(const struct pack_run *run, uint8_t h[PACK_HEADER_LEN])
{
	time_t now = time(NULL);

	memcpy(h, header_magic, sizeof(header_magic));
	h[H_VERSION] = PACK_VERSION;
	h[H_SUITE] = PACK_SUITE;
	h[H_RESERVED] = h[H_RESERVED + 1] = 0;
	be_put64(h + H_CREATED, now < 0 ? 0 : (uint64_t)now);
	memcpy(h + H_KEY_ID, run->key_id, PACK_KEY_ID_LEN);
	randombytes_buf(h + H_SALT, SALT_LEN);
	memcpy(h + H_SEALED, run->sealed, PACK_SEALED_KEY_LEN);
}

int
pack_writer_new(const struct pack_run *run, struct pack_writer **out)
{
	return pack_writer_new_buf(run, NULL, 0, out);
}

int
pack_writer_new_buf(const struct pack_run *run, uint8_t *buf, size_t cap,
    struct pack_writer **out)
{
	struct pack_writer *w = NULL;
	int r;

	*out = NULL;
	if (run == NULL || run->key == NULL || (buf == NULL) != (cap == 0)) {
		free(buf);
		return ERR_INVAL;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL) {
		free(buf);
		return ERR_NOMEM;
	}
	w->buf = buf;
	w->cap = cap;
	w->level = PACK_ZSTD_DEFAULT;
	r = ERR_NOMEM;
	if ((w->subkey = sodium_malloc(KEY_LEN)) == NULL ||
	    (w->cctx = ZSTD_createCCtx()) == NULL ||
	    grow(&w->buf, &w->cap, PACK_HEADER_LEN) != ERR_OK)
		goto out;
	build_header(run, w->buf);
	w->len = PACK_HEADER_LEN;
	if ((r = derive_subkey(run->key, w->buf, w->subkey)) != ERR_OK)
		goto out;
	*out = w;
	w = NULL;
	r = ERR_OK;
 out:
	pack_writer_free(w);
	return r;
}

int
pack_writer_restart(struct pack_writer *w, const struct pack_run *run,
    uint8_t *buf, size_t cap)
{
	int r;

	if (run == NULL || run->key == NULL || !w->done ||
	    (buf == NULL) != (cap == 0)) {
		free(buf);
		return ERR_INVAL;
	}
	free(w->buf);
	w->buf = buf;
	w->cap = cap;
	w->len = 0;
	w->count = 0;
	if (w->slots != NULL)
		memset(w->slots, 0, w->nslots * sizeof(*w->slots));
	if ((r = grow(&w->buf, &w->cap, PACK_HEADER_LEN)) != ERR_OK)
		return r;	/* still done: adds keep failing */
	build_header(run, w->buf);
	w->len = PACK_HEADER_LEN;
	if ((r = derive_subkey(run->key, w->buf, w->subkey)) != ERR_OK)
		return r;
	w->done = 0;
	return ERR_OK;
}

void
pack_writer_free(struct pack_writer *w)
{
	if (w == NULL)
		return;
	sodium_free(w->subkey);
	ZSTD_freeCCtx(w->cctx);
	free(w->buf);
	free(w->ent);
	free(w->slots);
	free(w);
}

/* Chunk IDs are keyed hashes, so their first bytes hash well enough. */
static size_t
slot_of(const uint8_t id[PACK_ID_LEN], size_t nslots)
{
	return (size_t)be_get64(id) & (nslots - 1);
}

/* The entry index of id in w, or SIZE_MAX. */
static size_t
writer_find(const struct pack_writer *w, const uint8_t id[PACK_ID_LEN])
{
	if (w->nslots == 0)
		return SIZE_MAX;
	for (size_t s = slot_of(id, w->nslots);; s = (s + 1) & (w->nslots - 1)) {
		uint32_t v = w->slots[s];

		if (v == 0)
			return SIZE_MAX;
		if (memcmp(w->ent[v - 1].id, id, PACK_ID_LEN) == 0)
			return v - 1;
	}
}

/* Rebuilds the hash set at twice the size; load stays below one half. */
static int
writer_rehash(struct pack_writer *w)
{
	size_t n = w->nslots ? w->nslots * 2 : 64;
	uint32_t *slots = calloc(n, sizeof(*slots));

	if (slots == NULL)
		return ERR_NOMEM;
	for (size_t i = 0; i < w->count; i++) {
		size_t s = slot_of(w->ent[i].id, n);

		while (slots[s] != 0)
			s = (s + 1) & (n - 1);
		slots[s] = (uint32_t)(i + 1);
	}
	free(w->slots);
	w->slots = slots;
	w->nslots = n;
	return ERR_OK;
}

/* Makes room for one more entry and its hash slot. */
static int
writer_reserve_entry(struct pack_writer *w)
{
	if (w->count == w->ent_cap) {
		size_t n = w->ent_cap ? w->ent_cap * 2 : 64;
		struct pack_entry *e = reallocarray(w->ent, n, sizeof(*e));

		if (e == NULL)
			return ERR_NOMEM;
		w->ent = e;
		w->ent_cap = n;
	}
	if ((w->count + 1) * 2 > w->nslots)
		return writer_rehash(w);
	return ERR_OK;
}

static void
writer_insert(struct pack_writer *w, const struct pack_entry *e)
{
	size_t s = slot_of(e->id, w->nslots);

	while (w->slots[s] != 0)
		s = (s + 1) & (w->nslots - 1);
	w->ent[w->count] = *e;
	w->slots[s] = (uint32_t)(++w->count);
}

/* Size of the finished pack with count entries after len bytes of records. */
static uint64_t
finished_size(uint64_t len, uint64_t count)
{
	return len + count * PACK_ENTRY_LEN + PACK_TAG_LEN + PACK_TRAILER_LEN;
}

/*
 * Writes the stored form of data at w->buf + w->len: a zstd frame when it
 * is shorter than the chunk, the chunk itself otherwise. Room is reserved.
 */
static int
store_form(struct pack_writer *w, const uint8_t *data, size_t n,
    size_t room, uint8_t *flags, size_t *slen)
{
	uint8_t *dst = w->buf + w->len;
	size_t z;

	*flags = 0;
	*slen = n;
	if (n == 0)
		return ERR_OK;
	z = ZSTD_compressCCtx(w->cctx, dst, room, data, n, w->level);
	if (ZSTD_isError(z))
		return ERR_INTERNAL;	/* room is ZSTD_compressBound(n) */
	if (z < n) {
		*flags = PACK_F_ZSTD;
		*slen = z;
		return ERR_OK;
	}
	memcpy(dst, data, n);
	return ERR_OK;
}

int
pack_writer_set_level(struct pack_writer *w, int level)
{
	if (level < PACK_ZSTD_MIN || level > PACK_ZSTD_MAX)
		return ERR_INVAL;
	w->level = level;
	return ERR_OK;
}

int
pack_writer_add(struct pack_writer *w, const uint8_t id[PACK_ID_LEN],
    const uint8_t *data, size_t n)
{
	uint8_t ad[CHUNK_AD_LEN], nonce[NONCE_LEN];
	struct pack_entry e;
	unsigned long long clen;
	size_t room, slen;
	int r;

	if (w->done || (data == NULL && n > 0))
		return ERR_INVAL;
	if (n > PACK_CHUNK_MAX)
		return ERR_TOOBIG;
	if (writer_find(w, id) != SIZE_MAX)
		return ERR_EXISTS;
	/* Raw is the worst case: the pack must fit even if nothing shrinks. */
	if (finished_size(w->len + n + PACK_TAG_LEN, w->count + 1) >
	    PACK_MAX_SIZE)
		return ERR_TOOBIG;
	room = ZSTD_compressBound(n);
	if (room < n)
		room = n;
	if ((r = writer_reserve_entry(w)) != ERR_OK ||
	    (r = grow(&w->buf, &w->cap, w->len + room + PACK_TAG_LEN)) != ERR_OK)
		return r;

	memset(&e, 0, sizeof(e));
	memcpy(e.id, id, PACK_ID_LEN);
	if ((r = store_form(w, data, n, room, &e.flags, &slen)) != ERR_OK)
		return r;
	e.plain_len = (uint32_t)n;
	e.off = w->len;
	chunk_ad(id, e.flags, e.plain_len, ad);
	make_nonce(NONCE_CHUNK, w->count, nonce);
	/* In place: libsodium allows the ciphertext to overlap the message. */
	if (crypto_aead_xchacha20poly1305_ietf_encrypt(w->buf + w->len, &clen,
	    w->buf + w->len, slen, ad, sizeof(ad), NULL, nonce, w->subkey) != 0)
		return ERR_CRYPTO;
	e.stored_len = (uint32_t)clen;
	w->len += (size_t)clen;
	writer_insert(w, &e);
	return ERR_OK;
}

uint64_t
pack_writer_size(const struct pack_writer *w)
{
	return w->done ? w->len : finished_size(w->len, w->count);
}

size_t
pack_writer_count(const struct pack_writer *w)
{
	return w->count;
}

static void
encode_entry(const struct pack_entry *e, uint8_t *p)
{
	memcpy(p, e->id, PACK_ID_LEN);
	be_put64(p + 32, e->off);
	be_put32(p + 40, e->stored_len);
	be_put32(p + 44, e->plain_len);
	p[48] = e->flags;
	p[49] = p[50] = p[51] = 0;
}

/* Appends the encrypted index and the trailer, and names the pack. */
static int
writer_seal(struct pack_writer *w, char name[PACK_NAME_HEX_LEN + 1])
{
	uint8_t ad[INDEX_AD_LEN], nonce[NONCE_LEN], *p;
	uint64_t index_off = w->len;
	size_t plain = w->count * PACK_ENTRY_LEN;
	unsigned long long clen;
	int r;

	name[0] = '\0';
	if (w->done)
		return ERR_INVAL;
	if ((r = grow(&w->buf, &w->cap, w->len + plain + PACK_TAG_LEN +
	    PACK_TRAILER_LEN)) != ERR_OK)
		return r;
	p = w->buf + w->len;
	for (size_t i = 0; i < w->count; i++)
		encode_entry(&w->ent[i], p + i * PACK_ENTRY_LEN);
	index_ad(index_off, plain + PACK_TAG_LEN, ad);
	make_nonce(NONCE_INDEX, 0, nonce);
	if (crypto_aead_xchacha20poly1305_ietf_encrypt(p, &clen, p, plain, ad,
	    sizeof(ad), NULL, nonce, w->subkey) != 0)
		return ERR_CRYPTO;
	w->len += (size_t)clen;
	p = w->buf + w->len;
	be_put64(p, index_off);
	be_put64(p + 8, clen);
	memcpy(p + 16, trailer_magic, sizeof(trailer_magic));
	w->len += PACK_TRAILER_LEN;
	w->done = 1;
	name_of(w->buf, w->len, name);
	return ERR_OK;
}

int
pack_writer_finish_fd(struct pack_writer *w, int fd,
    char name[PACK_NAME_HEX_LEN + 1])
{
	int r;

	if ((r = writer_seal(w, name)) != ERR_OK)
		return r;
	if ((r = fs_write_all(fd, w->buf, w->len)) != ERR_OK)
		name[0] = '\0';
	return r;
}

int
pack_writer_finish_buf(struct pack_writer *w, uint8_t **out, size_t *len,
    char name[PACK_NAME_HEX_LEN + 1])
{
	int r;

	*out = NULL;
	*len = 0;
	if ((r = writer_seal(w, name)) != ERR_OK)
		return r;
	*out = w->buf;
	*len = w->len;
	w->buf = NULL;
	w->cap = 0;
	return ERR_OK;
}

/* ------------------------------------------------------------------ */
/* Sources and keyless checks. */

/* Copies len bytes at off into dst; the range must lie in the source. */
static int
src_read(const struct pack_src *s, uint64_t off, size_t len, uint8_t *dst)
{
	if (off > s->size || len > s->size - off)
		return ERR_FORMAT;
	if (s->mem != NULL) {
		memcpy(dst, s->mem + off, len);
		return ERR_OK;
	}
	while (len > 0) {
		ssize_t n = pread(s->fd, dst, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return ERR_IO;
		if (n == 0) {
			/* The file shrank under us. */
			errno = EIO;
			return ERR_IO;
		}
		dst += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return ERR_OK;
}

/*
 * A view of len bytes at off: the source's own memory when it has some,
 * else a copy in *scratch (grown as needed).
 */
static int
src_view(const struct pack_src *s, uint64_t off, size_t len, uint8_t **scratch,
    size_t *cap, const uint8_t **view)
{
	int r;

	*view = NULL;
	if (off > s->size || len > s->size - off)
		return ERR_FORMAT;
	if (s->mem != NULL) {
		*view = s->mem + off;
		return ERR_OK;
	}
	if ((r = grow_scratch(scratch, cap, len > 0 ? len : 1, 0)) != ERR_OK ||
	    (r = src_read(s, off, len, *scratch)) != ERR_OK)
		return r;
	*view = *scratch;
	return ERR_OK;
}

static int
src_from_fd(int fd, struct pack_src *s)
{
	struct stat st;

	s->mem = NULL;
	s->fd = fd;
	s->size = 0;
	if (fstat(fd, &st) != 0)
		return ERR_IO;
	if (!S_ISREG(st.st_mode))
		return ERR_INVAL;
	s->size = (uint64_t)st.st_size;
	return ERR_OK;
}

static int
check_header(const uint8_t h[PACK_HEADER_LEN], struct pack_info *info)
{
	if (memcmp(h, header_magic, sizeof(header_magic)) != 0)
		return ERR_FORMAT;
	if (h[H_VERSION] != PACK_VERSION || h[H_SUITE] != PACK_SUITE)
		return h[H_VERSION] == 0 || h[H_SUITE] == 0 ? ERR_FORMAT :
		    ERR_UNSUPPORTED;
	if (!all_zero(h + H_RESERVED, 2))
		return ERR_FORMAT;
	info->version = h[H_VERSION];
	info->created = be_get64(h + H_CREATED);
	memcpy(info->key_id, h + H_KEY_ID, PACK_KEY_ID_LEN);
	return ERR_OK;
}

/*
 * The trailer must place the index right before it, after the header,
 * holding a whole number of entries, each of which needs a record of at
 * least a tag between the header and the index.
 */
static int
check_trailer(const uint8_t t[PACK_TRAILER_LEN], struct pack_info *info)
{
	uint64_t size = info->size, off, len, count;

	if (memcmp(t + 16, trailer_magic, sizeof(trailer_magic)) != 0)
		return ERR_FORMAT;
	off = be_get64(t);
	len = be_get64(t + 8);
	if (off < PACK_HEADER_LEN || off > size - PACK_TRAILER_LEN - PACK_TAG_LEN)
		return ERR_FORMAT;
	if (len != size - PACK_TRAILER_LEN - off)
		return ERR_FORMAT;
	if ((len - PACK_TAG_LEN) % PACK_ENTRY_LEN != 0)
		return ERR_FORMAT;
	count = (len - PACK_TAG_LEN) / PACK_ENTRY_LEN;
	if (count * PACK_TAG_LEN > off - PACK_HEADER_LEN ||
	    (count == 0 && off != PACK_HEADER_LEN))
		return ERR_FORMAT;
	info->index_off = off;
	info->index_len = len;
	return ERR_OK;
}

/* The keyless checks; header gets the header bytes for the reader. */
static int
check_structure(const struct pack_src *s, struct pack_info *info,
    uint8_t header[PACK_HEADER_LEN])
{
	uint8_t t[PACK_TRAILER_LEN];
	int r;

	memset(info, 0, sizeof(*info));
	if (s->size < PACK_MIN_SIZE)
		return ERR_FORMAT;
	if (s->size > PACK_MAX_SIZE)
		return ERR_TOOBIG;
	info->size = s->size;
	if ((r = src_read(s, 0, PACK_HEADER_LEN, header)) != ERR_OK ||
	    (r = check_header(header, info)) != ERR_OK ||
	    (r = src_read(s, s->size - PACK_TRAILER_LEN, PACK_TRAILER_LEN,
	    t)) != ERR_OK ||
	    (r = check_trailer(t, info)) != ERR_OK) {
		memset(info, 0, sizeof(*info));
		return r;
	}
	return ERR_OK;
}

static int
check_structure_src(const struct pack_src *s, struct pack_info *info)
{
	struct pack_info tmp;
	uint8_t h[PACK_HEADER_LEN];

	return check_structure(s, info != NULL ? info : &tmp, h);
}

int
pack_check_structure_buf(const uint8_t *buf, size_t len,
    struct pack_info *info)
{
	struct pack_src s = { .mem = buf, .fd = -1, .size = len };

	if (buf == NULL) {
		if (info != NULL)
			memset(info, 0, sizeof(*info));
		return ERR_INVAL;
	}
	return check_structure_src(&s, info);
}

int
pack_check_structure_fd(int fd, struct pack_info *info)
{
	struct pack_src s;
	int r;

	if (info != NULL)
		memset(info, 0, sizeof(*info));
	if ((r = src_from_fd(fd, &s)) != ERR_OK)
		return r;
	return check_structure_src(&s, info);
}

static int
valid_name(const char *name)
{
	if (name == NULL || strlen(name) != PACK_NAME_HEX_LEN)
		return 0;
	for (size_t i = 0; i < PACK_NAME_HEX_LEN; i++)
		if (!((name[i] >= '0' && name[i] <= '9') ||
		    (name[i] >= 'a' && name[i] <= 'f')))
			return 0;
	return 1;
}

int
pack_verify_name_buf(const uint8_t *buf, size_t len, const char *name)
{
	char got[PACK_NAME_HEX_LEN + 1];

	if (!valid_name(name))
		return ERR_FORMAT;
	if (buf == NULL && len > 0)
		return ERR_INVAL;
	name_of(buf, len, got);
	return memcmp(got, name, PACK_NAME_HEX_LEN) == 0 ? ERR_OK : ERR_MISMATCH;
}

int
pack_verify_name_fd(int fd, const char *name)
{
	char got[PACK_NAME_HEX_LEN + 1];
	struct sha256_ctx c;
	uint8_t h[SHA256_LEN], *buf;
	uint64_t off = 0;
	int r = ERR_OK;

	if (!valid_name(name))
		return ERR_FORMAT;
	if ((buf = malloc(HASH_READ)) == NULL)
		return ERR_NOMEM;
	sha256_init(&c);
	for (;;) {
		ssize_t n = pread(fd, buf, HASH_READ, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = ERR_IO;
			break;
		}
		if (n == 0)
			break;
		sha256_update(&c, buf, (size_t)n);
		off += (uint64_t)n;
	}
	sha256_final(&c, h);
	free(buf);
	if (r != ERR_OK)
		return r;
	sodium_bin2hex(got, sizeof(got), h, sizeof(h));
	return memcmp(got, name, PACK_NAME_HEX_LEN) == 0 ? ERR_OK : ERR_MISMATCH;
}

/* ------------------------------------------------------------------ */
/* Reader. */

/*
 * Opens the sealed run key with the vault key pair and derives the pack's
 * subkey into r->subkey. K never leaves this function.
 */
static int
reader_subkey(struct pack_reader *r, const uint8_t header[PACK_HEADER_LEN],
    const uint8_t vault_sk[PACK_SK_LEN])
{
	uint8_t pk[PACK_PK_LEN], id[PACK_KEY_ID_LEN], *k = NULL;
	int rc;

	if (crypto_scalarmult_base(pk, vault_sk) != 0)
		return ERR_CRYPTO;
	if ((rc = key_id_of(pk, id)) != ERR_OK)
		return rc;
	/* Not secret; constant time anyway, as for any tag-like compare. */
	if (sodium_memcmp(id, header + H_KEY_ID, PACK_KEY_ID_LEN) != 0)
		return ERR_NOTFOUND;
	if ((k = sodium_malloc(KEY_LEN)) == NULL)
		return ERR_NOMEM;
	if (crypto_box_seal_open(k, header + H_SEALED, PACK_SEALED_KEY_LEN, pk,
	    vault_sk) != 0)
		rc = ERR_SIGNATURE;
	else
		rc = derive_subkey(k, header, r->subkey);
	sodium_free(k);
	return rc;
}

static void
decode_entry(const uint8_t *p, struct pack_entry *e)
{
	memcpy(e->id, p, PACK_ID_LEN);
	e->off = be_get64(p + 32);
	e->stored_len = be_get32(p + 40);
	e->plain_len = be_get32(p + 44);
	e->flags = p[48];
}

/*
 * One entry against the canonical form; *next is where its record must
 * start and becomes where the next one must.
 */
static int
check_entry(const uint8_t *p, const struct pack_entry *e, uint64_t *next,
    uint64_t index_off)
{
	uint64_t raw_len = (uint64_t)e->plain_len + PACK_TAG_LEN;

	if (e->off != *next || (e->flags & ~PACK_F_ZSTD) != 0 ||
	    !all_zero(p + 49, 3))
		return ERR_FORMAT;
	if (e->stored_len < PACK_TAG_LEN ||
	    e->stored_len > index_off - *next)
		return ERR_FORMAT;
	if (e->plain_len > PACK_CHUNK_MAX)
		return ERR_TOOBIG;
	if (e->flags & PACK_F_ZSTD) {
		if (e->stored_len >= raw_len)
			return ERR_FORMAT;
	} else if (e->stored_len != raw_len) {
		return ERR_FORMAT;
	}
	*next += e->stored_len;
	return ERR_OK;
}

static int
cmp_ref(const void *a, const void *b)
{
	return memcmp(((const struct pack_id_ref *)a)->id,
	    ((const struct pack_id_ref *)b)->id, PACK_ID_LEN);
}

/* Fills r->by_id sorted by ID, for lookups, and refuses duplicate IDs. */
static int
sort_ids(struct pack_reader *r)
{
	for (size_t i = 0; i < r->count; i++) {
		memcpy(r->by_id[i].id, r->ent[i].id, PACK_ID_LEN);
		r->by_id[i].idx = (uint32_t)i;
	}
	if (r->count > 1)
		qsort(r->by_id, r->count, sizeof(*r->by_id), cmp_ref);
	for (size_t i = 1; i < r->count; i++)
		if (cmp_ref(&r->by_id[i - 1], &r->by_id[i]) == 0)
			return ERR_FORMAT;
	return ERR_OK;
}

/* Decodes and checks a decrypted index of r->count entries. */
static int
parse_index(struct pack_reader *r, const uint8_t *plain,
    const struct pack_info *info)
{
	uint64_t next = PACK_HEADER_LEN;
	int rc;

	if (r->count > 0 &&
	    ((r->ent = calloc(r->count, sizeof(*r->ent))) == NULL ||
	    (r->by_id = calloc(r->count, sizeof(*r->by_id))) == NULL))
		return ERR_NOMEM;
	for (size_t i = 0; i < r->count; i++) {
		const uint8_t *p = plain + i * PACK_ENTRY_LEN;

		decode_entry(p, &r->ent[i]);
		if ((rc = check_entry(p, &r->ent[i], &next,
		    info->index_off)) != ERR_OK)
			return rc;
	}
	if (next != info->index_off)
		return ERR_FORMAT;
	return sort_ids(r);
}

static int
reader_index(struct pack_reader *r, const struct pack_info *info)
{
	uint8_t ad[INDEX_AD_LEN], nonce[NONCE_LEN], *plain = NULL;
	const uint8_t *c;
	size_t clen = (size_t)info->index_len;
	unsigned long long plen;
	int rc;

	if ((rc = src_view(&r->src, info->index_off, clen, &r->scr->cbuf,
	    &r->scr->cbuf_cap, &c)) != ERR_OK)
		return rc;
	if ((plain = malloc(clen)) == NULL)
		return ERR_NOMEM;
	index_ad(info->index_off, info->index_len, ad);
	make_nonce(NONCE_INDEX, 0, nonce);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain, &plen, NULL, c,
	    clen, ad, sizeof(ad), nonce, r->subkey) != 0) {
		rc = ERR_SIGNATURE;
		goto out;
	}
	r->count = (size_t)plen / PACK_ENTRY_LEN;
	rc = parse_index(r, plain, info);
 out:
	free(plain);
	return rc;
}

static int
reader_open(const struct pack_src *s, const uint8_t vault_sk[PACK_SK_LEN],
    struct pack_reader **out)
{
	struct pack_reader *r = NULL;
	struct pack_info info;
	uint8_t header[PACK_HEADER_LEN];
	int rc;

	if ((rc = lib_init()) != ERR_OK)
		return rc;
	if ((rc = check_structure(s, &info, header)) != ERR_OK)
		return rc;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return ERR_NOMEM;
	r->src = *s;
	r->scr = &r->own;
	rc = ERR_NOMEM;
	if ((r->subkey = sodium_malloc(KEY_LEN)) == NULL ||
	    (r->dctx = ZSTD_createDCtx()) == NULL)
		goto out;
	if ((rc = reader_subkey(r, header, vault_sk)) != ERR_OK ||
	    (rc = reader_index(r, &info)) != ERR_OK)
		goto out;
	*out = r;
	r = NULL;
	rc = ERR_OK;
 out:
	pack_reader_free(r);
	return rc;
}

int
pack_reader_open_buf(const uint8_t *buf, size_t len,
    const uint8_t vault_sk[PACK_SK_LEN], struct pack_reader **out)
{
	struct pack_src s = { .mem = buf, .fd = -1, .size = len };

	*out = NULL;
	if (buf == NULL)
		return ERR_INVAL;
	return reader_open(&s, vault_sk, out);
}

int
pack_reader_open_fd(int fd, const uint8_t vault_sk[PACK_SK_LEN],
    struct pack_reader **out)
{
	struct pack_src s;
	int r;

	*out = NULL;
	if ((r = src_from_fd(fd, &s)) != ERR_OK)
		return r;
	return reader_open(&s, vault_sk, out);
}

void
pack_scratch_free(struct pack_scratch *s)
{
	if (s == NULL)
		return;
	free(s->cbuf);
	/* The zstd frames were plaintext (compressed, still the data). */
	if (s->zbuf != NULL)
		sodium_memzero(s->zbuf, s->zbuf_cap);
	free(s->zbuf);
	memset(s, 0, sizeof(*s));
}

void
pack_reader_use_scratch(struct pack_reader *r, struct pack_scratch *s)
{
	r->scr = s != NULL ? s : &r->own;
}

void
pack_reader_free(struct pack_reader *r)
{
	if (r == NULL)
		return;
	sodium_free(r->subkey);
	ZSTD_freeDCtx(r->dctx);
	free(r->ent);
	free(r->by_id);
	pack_scratch_free(&r->own);
	free(r);
}

size_t
pack_reader_count(const struct pack_reader *r)
{
	return r->count;
}

int
pack_reader_entry(const struct pack_reader *r, size_t i,
    uint8_t id[PACK_ID_LEN], size_t *plain_len)
{
	if (i >= r->count)
		return ERR_RANGE;
	memcpy(id, r->ent[i].id, PACK_ID_LEN);
	*plain_len = r->ent[i].plain_len;
	return ERR_OK;
}

/* The entry index of id, or SIZE_MAX. */
static size_t
reader_find(const struct pack_reader *r, const uint8_t id[PACK_ID_LEN])
{
	struct pack_id_ref key;
	const struct pack_id_ref *hit;

	if (r->count == 0)
		return SIZE_MAX;
	memcpy(key.id, id, PACK_ID_LEN);
	hit = bsearch(&key, r->by_id, r->count, sizeof(*r->by_id), cmp_ref);
	return hit != NULL ? hit->idx : SIZE_MAX;
}

/*
 * Decrypts entry i's record into dst (a raw chunk) or the zbuf (a zstd
 * frame, then decompressed into dst, which has room for plain_len bytes).
 */
static int
reader_decrypt(struct pack_reader *r, size_t i, uint8_t *dst)
{
	const struct pack_entry *e = &r->ent[i];
	uint8_t ad[CHUNK_AD_LEN], nonce[NONCE_LEN], *m = dst;
	const uint8_t *c;
	unsigned long long mlen;
	size_t z;
	int rc;

	if ((rc = src_view(&r->src, e->off, e->stored_len, &r->scr->cbuf,
	    &r->scr->cbuf_cap, &c)) != ERR_OK)
		return rc;
	if ((e->flags & PACK_F_ZSTD) &&
	    (rc = grow_scratch(&r->scr->zbuf, &r->scr->zbuf_cap,
	    e->stored_len, 1)) != ERR_OK)
		return rc;
	if (e->flags & PACK_F_ZSTD)
		m = r->scr->zbuf;
	chunk_ad(e->id, e->flags, e->plain_len, ad);
	make_nonce(NONCE_CHUNK, i, nonce);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(m, &mlen, NULL, c,
	    e->stored_len, ad, sizeof(ad), nonce, r->subkey) != 0)
		return ERR_SIGNATURE;
	if (!(e->flags & PACK_F_ZSTD))
		return ERR_OK;
	/* Authentic but possibly hostile: a key holder wrote it. */
	z = ZSTD_decompressDCtx(r->dctx, dst, e->plain_len, m, (size_t)mlen);
	if (ZSTD_isError(z) || z != e->plain_len)
		return ERR_FORMAT;
	return ERR_OK;
}

int
pack_reader_get(struct pack_reader *r, const uint8_t id[PACK_ID_LEN],
    uint8_t **out, size_t *len)
{
	uint8_t *buf;
	size_t i;
	int rc;

	*out = NULL;
	*len = 0;
	if ((i = reader_find(r, id)) == SIZE_MAX)
		return ERR_NOTFOUND;
	if ((buf = malloc(r->ent[i].plain_len > 0 ? r->ent[i].plain_len : 1)) ==
	    NULL)
		return ERR_NOMEM;
	if ((rc = reader_decrypt(r, i, buf)) != ERR_OK) {
		free(buf);
		return rc;
	}
	*out = buf;
	*len = r->ent[i].plain_len;
	return ERR_OK;
}
