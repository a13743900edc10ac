/*
 * test_pack.c - pack files: round trips, the layout, naming, and refusal
 * of wrong keys, altered, moved and truncated bytes.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "backup/pack.h"
#include "common/banned.h"

#define MIB (1024 * 1024)

/* One vault key pair for the whole file; a second for wrong-key tests. */
static uint8_t vault_pk[PACK_PK_LEN], vault_sk[PACK_SK_LEN];
static uint8_t other_pk[PACK_PK_LEN], other_sk[PACK_SK_LEN];

struct chunk {
	uint8_t id[PACK_ID_LEN];
	uint8_t *data;
	size_t len;
};

static void
make_id(const uint8_t *data, size_t len, unsigned salt, uint8_t id[PACK_ID_LEN])
{
	uint8_t key[32] = { 'k', 'e', 'y', (uint8_t)salt };

	crypto_generichash(id, PACK_ID_LEN, data, len, key, sizeof(key));
}

/* Text-like bytes that zstd shrinks a lot. */
static void
fill_text(uint8_t *p, size_t n, unsigned seed)
{
	static const char words[] = "backup vault pack chunk index trailer ";

	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)words[(i * 7 + seed + i / 97) % (sizeof(words) - 1)];
}

static void
chunk_make(struct chunk *c, size_t len, int random, unsigned salt)
{
	c->len = len;
	c->data = malloc(len > 0 ? len : 1);
	assert_non_null(c->data);
	if (random)
		randombytes_buf(c->data, len);
	else
		fill_text(c->data, len, salt);
	make_id(c->data, len, salt, c->id);
}

static void
chunks_free(struct chunk *c, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(c[i].data);
}

/* Writes chunks to a new pack in memory. */
static void
write_pack(const struct chunk *c, size_t n, uint8_t **buf, size_t *len,
    char name[PACK_NAME_HEX_LEN + 1])
{
	struct pack_run *run;
	struct pack_writer *w;

	assert_int_equal(pack_run_new(vault_pk, &run), ERR_OK);
	assert_int_equal(pack_writer_new(run, &w), ERR_OK);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(pack_writer_add(w, c[i].id, c[i].data, c[i].len),
		    ERR_OK);
	assert_int_equal(pack_writer_count(w), n);
	assert_int_equal(pack_writer_finish_buf(w, buf, len, name), ERR_OK);
	pack_writer_free(w);
	pack_run_free(run);
}

/* Opens buf and checks every chunk against c. */
static void
check_pack(const uint8_t *buf, size_t len, const struct chunk *c, size_t n)
{
	struct pack_reader *r;
	uint8_t id[PACK_ID_LEN], *out;
	size_t plen, olen;

	assert_int_equal(pack_reader_open_buf(buf, len, vault_sk, &r), ERR_OK);
	assert_int_equal(pack_reader_count(r), n);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(pack_reader_entry(r, i, id, &plen), ERR_OK);
		assert_memory_equal(id, c[i].id, PACK_ID_LEN);
		assert_int_equal(plen, c[i].len);
		assert_int_equal(pack_reader_get(r, c[i].id, &out, &olen), ERR_OK);
		assert_non_null(out);
		assert_int_equal(olen, c[i].len);
		if (olen > 0)
			assert_memory_equal(out, c[i].data, olen);
		free(out);
	}
	assert_int_equal(pack_reader_entry(r, n, id, &plen), ERR_RANGE);
	pack_reader_free(r);
}

/* Opens buf and fetches every chunk; the first error, or ERR_OK. */
static int
read_all(const uint8_t *buf, size_t len, const struct chunk *c, size_t n)
{
	struct pack_reader *r;
	uint8_t *out;
	size_t olen;
	int rc;

	if ((rc = pack_reader_open_buf(buf, len, vault_sk, &r)) != ERR_OK)
		return rc;
	for (size_t i = 0; i < n && rc == ERR_OK; i++) {
		rc = pack_reader_get(r, c[i].id, &out, &olen);
		if (rc == ERR_OK) {
			assert_int_equal(olen, c[i].len);
			free(out);
		}
	}
	pack_reader_free(r);
	return rc;
}

static int
tmpfile_fd(char path[64])
{
	int fd;

	snprintf(path, 64, "/tmp/test_pack.XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	return fd;
}

static int
setup(void **state)
{
	(void)state;
	if (sodium_init() < 0 ||
	    pack_vault_keypair_secret(vault_pk, vault_sk) != ERR_OK ||
	    pack_vault_keypair_secret(other_pk, other_sk) != ERR_OK)
		return -1;
	return 0;
}

/* ------------------------------------------------------------------ */

/* The on-disk sizes are a format: they must not drift. */
static void
test_layout(void **state)
{
	struct chunk c;
	struct pack_info info;
	uint8_t *buf, key_id[PACK_KEY_ID_LEN];
	size_t len;
	char name[PACK_NAME_HEX_LEN + 1];

	(void)state;
	assert_int_equal(PACK_HEADER_LEN, 144);
	assert_int_equal(PACK_TRAILER_LEN, 24);
	assert_int_equal(PACK_ENTRY_LEN, 52);
	assert_int_equal(PACK_SEALED_KEY_LEN, crypto_box_SEALBYTES + 32);
	assert_int_equal(PACK_MIN_SIZE, 184);

	write_pack(NULL, 0, &buf, &len, name);
	assert_int_equal(len, PACK_MIN_SIZE);
	check_pack(buf, len, NULL, 0);
	free(buf);

	/* One empty chunk: header, a bare tag, one entry, trailer. */
	chunk_make(&c, 0, 0, 1);
	write_pack(&c, 1, &buf, &len, name);
	assert_int_equal(len, 144 + 16 + 52 + 16 + 24);
	assert_memory_equal(buf, "BWPK\x01\x01\x00\x00", 8);
	assert_memory_equal(buf + len - 8, "BWPKTAIL", 8);
	assert_int_equal(pack_vault_key_id(vault_pk, key_id), ERR_OK);
	assert_memory_equal(buf + 16, key_id, PACK_KEY_ID_LEN);
	assert_int_equal(pack_check_structure_buf(buf, len, &info), ERR_OK);
	assert_int_equal(info.version, 1);
	assert_int_equal(info.index_off, 144 + 16);
	assert_int_equal(info.index_len, 52 + 16);
	assert_int_equal(info.size, len);
	assert_memory_equal(info.key_id, key_id, PACK_KEY_ID_LEN);
	assert_true(info.created > 1700000000u);
	check_pack(buf, len, &c, 1);
	free(buf);
	chunks_free(&c, 1);
}

static void
test_round_trip(void **state)
{
	enum { N = 40 };
	struct chunk c[N];
	uint8_t *buf;
	size_t len, n = 0;
	char name[PACK_NAME_HEX_LEN + 1];

	(void)state;
	chunk_make(&c[n++], 0, 0, 0);
	chunk_make(&c[n++], 1, 1, 1);
	chunk_make(&c[n++], 4 * MIB, 0, 2);
	chunk_make(&c[n++], 4 * MIB, 1, 3);
	while (n < N) {
		size_t sz = 1 + randombytes_uniform(300 * 1024);

		chunk_make(&c[n], sz, (int)(n % 2), (unsigned)n);
		n++;
	}
	write_pack(c, N, &buf, &len, name);
	check_pack(buf, len, c, N);

	/* The same bytes through a descriptor. */
	{
		char path[64];
		int fd = tmpfile_fd(path);
		struct pack_reader *r;
		uint8_t *out;
		size_t olen;

		assert_int_equal(write(fd, buf, len), (ssize_t)len);
		assert_int_equal(pack_check_structure_fd(fd, NULL), ERR_OK);
		assert_int_equal(pack_verify_name_fd(fd, name), ERR_OK);
		assert_int_equal(pack_reader_open_fd(fd, vault_sk, &r), ERR_OK);
		for (size_t i = 0; i < N; i++) {
			assert_int_equal(pack_reader_get(r, c[i].id, &out, &olen),
			    ERR_OK);
			assert_int_equal(olen, c[i].len);
			if (olen > 0)
				assert_memory_equal(out, c[i].data, olen);
			free(out);
		}
		pack_reader_free(r);
		close(fd);
		unlink(path);
	}
	free(buf);
	chunks_free(c, N);
}

/*
 * Two packs read through descriptors by readers sharing one scratch,
 * chunk by chunk in turn (so the shared buffers hold the other pack's
 * bytes before every read), sizes growing and shrinking: every chunk
 * comes back whole; the scratch outlives both readers and is freed on its
 * own (ASan checks there is no double free), then serves a third reader.
 */
static void
test_shared_scratch(void **state)
{
	enum { N = 12 };
	struct chunk a[N], b[N];
	struct pack_scratch scr;
	struct pack_reader *ra, *rb;
	uint8_t *buf, *out;
	size_t len, olen;
	char name[PACK_NAME_HEX_LEN + 1], pa[64], pb[64];
	int fa, fb;

	(void)state;
	memset(&scr, 0, sizeof(scr));
	for (size_t i = 0; i < N; i++) {
		size_t sz = i % 3 == 0 ? 3 * MIB : 1 + 4096 * i;

		chunk_make(&a[i], sz, (int)(i % 2), (unsigned)(100 + i));
		chunk_make(&b[i], sz / 2 + 7, (int)((i + 1) % 2),
		    (unsigned)(200 + i));
	}
	fa = tmpfile_fd(pa);
	write_pack(a, N, &buf, &len, name);
	assert_int_equal(write(fa, buf, len), (ssize_t)len);
	free(buf);
	fb = tmpfile_fd(pb);
	write_pack(b, N, &buf, &len, name);
	assert_int_equal(write(fb, buf, len), (ssize_t)len);
	free(buf);
	assert_int_equal(pack_reader_open_fd(fa, vault_sk, &ra), ERR_OK);
	assert_int_equal(pack_reader_open_fd(fb, vault_sk, &rb), ERR_OK);
	pack_reader_use_scratch(ra, &scr);
	pack_reader_use_scratch(rb, &scr);
	for (size_t i = 0; i < N; i++) {
		size_t j = N - 1 - i;

		assert_int_equal(pack_reader_get(ra, a[i].id, &out, &olen),
		    ERR_OK);
		assert_int_equal(olen, a[i].len);
		assert_memory_equal(out, a[i].data, olen);
		free(out);
		assert_int_equal(pack_reader_get(rb, b[j].id, &out, &olen),
		    ERR_OK);
		assert_int_equal(olen, b[j].len);
		assert_memory_equal(out, b[j].data, olen);
		free(out);
	}
	assert_true(scr.cbuf_cap >= 3 * MIB / 2);
	pack_reader_free(ra);
	pack_reader_free(rb);
	/* A reader back on its own buffers, then a third on the scratch. */
	assert_int_equal(pack_reader_open_fd(fa, vault_sk, &ra), ERR_OK);
	pack_reader_use_scratch(ra, &scr);
	pack_reader_use_scratch(ra, NULL);
	assert_int_equal(pack_reader_get(ra, a[0].id, &out, &olen), ERR_OK);
	assert_memory_equal(out, a[0].data, olen);
	free(out);
	pack_reader_free(ra);
	pack_scratch_free(&scr);
	assert_null(scr.cbuf);
	assert_int_equal(pack_reader_open_fd(fb, vault_sk, &rb), ERR_OK);
	pack_reader_use_scratch(rb, &scr);
	assert_int_equal(pack_reader_get(rb, b[3].id, &out, &olen), ERR_OK);
	assert_memory_equal(out, b[3].data, olen);
	free(out);
	pack_reader_free(rb);
	pack_scratch_free(&scr);
	close(fa);
	close(fb);
	unlink(pa);
	unlink(pb);
	chunks_free(a, N);
	chunks_free(b, N);
}

/*
 * One writer, restarted for each pack and building them in recycled
 * buffers: every pack reads back, and each has its own salt and subkey.
 */
static void
test_restart(void **state)
{
	enum { N = 6 };
	struct chunk c[N];
	struct pack_run *run;
	struct pack_writer *w;
	uint8_t *bytes[3];
	size_t lens[3];
	char names[3][PACK_NAME_HEX_LEN + 1];

	(void)state;
	for (size_t i = 0; i < N; i++)
		chunk_make(&c[i], 1000 + i * 5000, (int)(i % 2), (unsigned)i);
	assert_int_equal(pack_run_new(vault_pk, &run), ERR_OK);
	/* A restart before the pack is finished is refused. */
	assert_int_equal(pack_writer_new_buf(run, malloc(4096), 4096, &w),
	    ERR_OK);
	assert_int_equal(pack_writer_restart(w, run, NULL, 0), ERR_INVAL);
	for (size_t p = 0; p < 3; p++) {
		if (p > 0) {
			uint8_t *buf = p == 1 ? malloc(64) : NULL;
			assert_int_equal(pack_writer_restart(w, run, buf,
			    p == 1 ? 64 : 0), ERR_OK);
		}
		for (size_t i = 2 * p; i < 2 * p + 2; i++)
			assert_int_equal(pack_writer_add(w, c[i].id, c[i].data,
			    c[i].len), ERR_OK);
		assert_int_equal(pack_writer_finish_buf(w, &bytes[p], &lens[p],
		    names[p]), ERR_OK);
		assert_int_equal(pack_writer_add(w, c[0].id, c[0].data,
		    c[0].len), ERR_INVAL);
	}
	pack_writer_free(w);
	pack_run_free(run);
	assert_memory_not_equal(bytes[0] + 32, bytes[1] + 32, 32);  /* salt */
	for (size_t p = 0; p < 3; p++) {
		check_pack(bytes[p], lens[p], &c[2 * p], 2);
		free(bytes[p]);
	}
	chunks_free(c, N);
}

/* Stored raw when zstd does not shrink the chunk, compressed otherwise. */
static void
test_raw_or_compressed(void **state)
{
	struct chunk c;
	uint8_t *buf;
	size_t len;
	char name[PACK_NAME_HEX_LEN + 1];
	const size_t overhead = PACK_MIN_SIZE + PACK_TAG_LEN + PACK_ENTRY_LEN;

	(void)state;
	/* Random: the record is exactly the chunk and a tag. */
	chunk_make(&c, 65536, 1, 7);
	write_pack(&c, 1, &buf, &len, name);
	assert_int_equal(len, overhead + 65536);
	check_pack(buf, len, &c, 1);
	free(buf);
	chunks_free(&c, 1);

	/* Too short for zstd to win: raw too. */
	chunk_make(&c, 5, 0, 8);
	write_pack(&c, 1, &buf, &len, name);
	assert_int_equal(len, overhead + 5);
	check_pack(buf, len, &c, 1);
	free(buf);
	chunks_free(&c, 1);

	/* Text: far smaller than the chunk. */
	chunk_make(&c, MIB, 0, 9);
	write_pack(&c, 1, &buf, &len, name);
	assert_true(len < overhead + MIB / 20);
	check_pack(buf, len, &c, 1);
	free(buf);
	chunks_free(&c, 1);
}

/* One chunk of word salad at a zstd level: the pack's length, checked. */
static size_t
pack_at_level(const struct chunk *c, int level)
{
	struct pack_run *run;
	struct pack_writer *w;
	char name[PACK_NAME_HEX_LEN + 1];
	uint8_t *buf;
	size_t len;

	assert_int_equal(pack_run_new(vault_pk, &run), ERR_OK);
	assert_int_equal(pack_writer_new(run, &w), ERR_OK);
	if (level != 0)
		assert_int_equal(pack_writer_set_level(w, level), ERR_OK);
	assert_int_equal(pack_writer_add(w, c->id, c->data, c->len), ERR_OK);
	assert_int_equal(pack_writer_finish_buf(w, &buf, &len, name), ERR_OK);
	check_pack(buf, len, c, 1);
	free(buf);
	pack_writer_free(w);
	pack_run_free(run);
	return len;
}

/*
 * The level is the writer's: level 19 stores word salad smaller than
 * level 1, a writer left alone uses PACK_ZSTD_DEFAULT, every level reads
 * back, and levels out of range are refused.
 */
static void
test_levels(void **state)
{
	static const char *words[] = { "vault ", "pack ", "chunk ", "index ",
	    "the ", "of ", "backup ", "restore ", "snapshot ", "mail ",
	    "and ", "a ", "trailer ", "key ", "host ", "audit ", "log ",
	    "zstd ", "level ", "gateway " };
	struct pack_run *run;
	struct pack_writer *w;
	struct chunk c;
	size_t n = 0, fast, dflt, small;
	uint32_t x = 12345;

	(void)state;
	c.len = 512 * 1024;
	c.data = malloc(c.len);
	assert_non_null(c.data);
	while (n < c.len) {
		x = x * 1103515245u + 12345u;
		const char *wd = words[(x >> 16) % 20];
		for (; *wd != '\0' && n < c.len; wd++)
			c.data[n++] = (uint8_t)*wd;
	}
	make_id(c.data, c.len, 11, c.id);
	fast = pack_at_level(&c, PACK_ZSTD_MIN);
	dflt = pack_at_level(&c, 0);
	small = pack_at_level(&c, PACK_ZSTD_MAX);
	assert_true(small < fast);
	assert_int_equal(pack_at_level(&c, PACK_ZSTD_DEFAULT), dflt);

	assert_int_equal(pack_run_new(vault_pk, &run), ERR_OK);
	assert_int_equal(pack_writer_new(run, &w), ERR_OK);
	assert_int_equal(pack_writer_set_level(w, PACK_ZSTD_MIN - 1), ERR_INVAL);
	assert_int_equal(pack_writer_set_level(w, PACK_ZSTD_MAX + 1), ERR_INVAL);
	assert_int_equal(pack_writer_set_level(w, -3), ERR_INVAL);
	pack_writer_free(w);
	pack_run_free(run);
	free(c.data);
}

/* A pack's name is the SHA-256 of its file, as sha256sum computes it. */
static void
test_name(void **state)
{
	struct pack_run *run;
	struct pack_writer *w;
	struct chunk c[3];
	char name[PACK_NAME_HEX_LEN + 1], other[PACK_NAME_HEX_LEN + 1];
	char path[64], cmd[128], line[128];
	uint8_t *buf;
	size_t len;
	FILE *p;
	int fd;

	(void)state;
	for (unsigned i = 0; i < 3; i++)
		chunk_make(&c[i], 1000 * (i + 1), (int)(i % 2), i);
	fd = tmpfile_fd(path);
	assert_int_equal(pack_run_new(vault_pk, &run), ERR_OK);
	assert_int_equal(pack_writer_new(run, &w), ERR_OK);
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(pack_writer_add(w, c[i].id, c[i].data, c[i].len),
		    ERR_OK);
	len = (size_t)pack_writer_size(w);
	assert_int_equal(pack_writer_finish_fd(w, fd, name), ERR_OK);
	assert_int_equal(pack_writer_size(w), len);
	assert_int_equal(lseek(fd, 0, SEEK_END), (off_t)len);
	/* A writer finishes once. */
	assert_int_equal(pack_writer_finish_buf(w, &buf, &len, other),
	    ERR_INVAL);
	assert_string_equal(other, "");
	assert_int_equal(pack_writer_add(w, c[0].id, c[0].data, 1), ERR_INVAL);
	pack_writer_free(w);
	pack_run_free(run);

	snprintf(cmd, sizeof(cmd), "sha256sum %s", path);
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_non_null(fgets(line, sizeof(line), p));
	pclose(p);
	assert_int_equal(pack_verify_name_fd(fd, name), ERR_OK);
	assert_memory_equal(line, name, PACK_NAME_HEX_LEN);
	assert_true(line[PACK_NAME_HEX_LEN] == ' ');

	/* Another name, or one not spelt as 64 lowercase hex digits. */
	name[0] = name[0] == '0' ? '1' : '0';
	assert_int_equal(pack_verify_name_fd(fd, name), ERR_MISMATCH);
	assert_int_equal(pack_verify_name_fd(fd, "abc"), ERR_FORMAT);
	memcpy(name, line, PACK_NAME_HEX_LEN);
	name[3] = 'G';
	assert_int_equal(pack_verify_name_fd(fd, name), ERR_FORMAT);
	close(fd);
	unlink(path);
	chunks_free(c, 3);
}

/* Another vault's key, or a header claiming it, opens nothing. */
static void
test_wrong_key(void **state)
{
	struct pack_reader *r;
	struct chunk c;
	uint8_t *buf;
	size_t len;
	char name[PACK_NAME_HEX_LEN + 1];

	(void)state;
	chunk_make(&c, 10000, 0, 11);
	write_pack(&c, 1, &buf, &len, name);
	assert_int_equal(pack_reader_open_buf(buf, len, other_sk, &r),
	    ERR_NOTFOUND);
	assert_null(r);
	/* Claim the other vault in the header: its key fails to open K. */
	assert_int_equal(pack_vault_key_id(other_pk, buf + 16), ERR_OK);
	assert_int_equal(pack_check_structure_buf(buf, len, NULL), ERR_OK);
	assert_int_equal(pack_reader_open_buf(buf, len, other_sk, &r),
	    ERR_SIGNATURE);
	assert_null(r);
	/* And the right key fails too: the key ID feeds the subkey. */
	assert_int_equal(pack_reader_open_buf(buf, len, vault_sk, &r),
	    ERR_NOTFOUND);
	free(buf);
	chunks_free(&c, 1);
}

/*
 * The host side: it has the vault's public key and a run whose K is
 * wiped by pack_run_free(). Nothing in pack.h returns K or a subkey; the
 * only way to read is pack_reader_open_*(), which takes the vault's
 * secret key. The public key in its place does not open the pack, even
 * with the header's key ID made to match.
 */
static void
test_host_cannot_read(void **state)
{
	struct pack_run *run;
	struct pack_writer *w;
	struct pack_reader *r;
	struct chunk c;
	uint8_t *buf, fake_id[PACK_KEY_ID_LEN], pk_of_pk[PACK_PK_LEN];
	size_t len;
	char name[PACK_NAME_HEX_LEN + 1];

	(void)state;
	chunk_make(&c, 5000, 0, 12);
	assert_int_equal(pack_run_new(vault_pk, &run), ERR_OK);
	assert_int_equal(pack_writer_new(run, &w), ERR_OK);
	pack_run_free(run);	/* the run ends; the writer still works */
	assert_int_equal(pack_writer_add(w, c.id, c.data, c.len), ERR_OK);
	assert_int_equal(pack_writer_finish_buf(w, &buf, &len, name), ERR_OK);
	pack_writer_free(w);

	assert_int_equal(pack_reader_open_buf(buf, len, vault_pk, &r),
	    ERR_NOTFOUND);
	assert_int_equal(crypto_scalarmult_base(pk_of_pk, vault_pk), 0);
	assert_int_equal(pack_vault_key_id(pk_of_pk, fake_id), ERR_OK);
	memcpy(buf + 16, fake_id, sizeof(fake_id));
	assert_int_equal(pack_reader_open_buf(buf, len, vault_pk, &r),
	    ERR_SIGNATURE);
	assert_null(r);
	free(buf);
	chunks_free(&c, 1);

	/* A run needs a usable public key: all zeros is not one. */
	{
		uint8_t zero[PACK_PK_LEN] = { 0 };

		assert_int_equal(pack_run_new(zero, &run), ERR_INVAL);
		assert_null(run);
	}
	assert_int_equal(pack_writer_new(NULL, &w), ERR_INVAL);
}

/*
 * Every single-bit flip anywhere in the file changes its name, and is
 * refused by the reader: by the structure checks, the index's tag, or,
 * in a record, that chunk's tag.
 */
static void
test_flip_every_byte(void **state)
{
	enum { N = 4 };
	struct chunk c[N];
	struct pack_info info;
	uint8_t *buf;
	size_t len;
	char name[PACK_NAME_HEX_LEN + 1];

	(void)state;
	chunk_make(&c[0], 300, 0, 20);
	chunk_make(&c[1], 200, 1, 21);
	chunk_make(&c[2], 0, 0, 22);
	chunk_make(&c[3], 700, 0, 23);
	write_pack(c, N, &buf, &len, name);
	assert_int_equal(pack_check_structure_buf(buf, len, &info), ERR_OK);
	for (size_t pos = 0; pos < len; pos++) {
		for (unsigned bit = 0; bit < 8; bit += 7) {
			int rc;

			buf[pos] ^= (uint8_t)(1u << bit);
			assert_int_equal(pack_verify_name_buf(buf, len, name),
			    ERR_MISMATCH);
			rc = read_all(buf, len, c, N);
			assert_int_not_equal(rc, ERR_OK);
			if (pos >= PACK_HEADER_LEN && pos < info.index_off)
				assert_int_equal(rc, ERR_SIGNATURE);
			buf[pos] ^= (uint8_t)(1u << bit);
		}
	}
	assert_int_equal(pack_verify_name_buf(buf, len, name), ERR_OK);
	assert_int_equal(read_all(buf, len, c, N), ERR_OK);
	free(buf);
	chunks_free(c, N);
}

/* A record moved under another ID fails that ID's tag. */
static void
test_swap_records(void **state)
{
	struct chunk c[2];
	struct pack_reader *r;
	uint8_t *buf, *out, tmp[1000 + PACK_TAG_LEN];
	size_t len, olen, rec = sizeof(tmp);
	char name[PACK_NAME_HEX_LEN + 1];

	(void)state;
	chunk_make(&c[0], 1000, 1, 30);
	chunk_make(&c[1], 1000, 1, 31);
	write_pack(c, 2, &buf, &len, name);
	/* Both raw, so both records are 1016 bytes, back to back. */
	assert_int_equal(len, PACK_MIN_SIZE + 2 * (rec + PACK_ENTRY_LEN));
	memcpy(tmp, buf + PACK_HEADER_LEN, rec);
	memmove(buf + PACK_HEADER_LEN, buf + PACK_HEADER_LEN + rec, rec);
	memcpy(buf + PACK_HEADER_LEN + rec, tmp, rec);

	assert_int_equal(pack_check_structure_buf(buf, len, NULL), ERR_OK);
	assert_int_equal(pack_reader_open_buf(buf, len, vault_sk, &r), ERR_OK);
	assert_int_equal(pack_reader_get(r, c[0].id, &out, &olen),
	    ERR_SIGNATURE);
	assert_null(out);
	assert_int_equal(pack_reader_get(r, c[1].id, &out, &olen),
	    ERR_SIGNATURE);
	pack_reader_free(r);
	free(buf);
	chunks_free(c, 2);
}

/* Any prefix of a pack, or a pack with bytes added, is refused. */
static void
test_truncation(void **state)
{
	struct chunk c[2];
	struct pack_reader *r;
	uint8_t *buf, *longer;
	size_t len;
	char name[PACK_NAME_HEX_LEN + 1];

	(void)state;
	chunk_make(&c[0], 3000, 0, 40);
	chunk_make(&c[1], 500, 1, 41);
	write_pack(c, 2, &buf, &len, name);
	for (size_t n = 0; n < len; n++) {
		assert_int_not_equal(pack_check_structure_buf(buf, n, NULL),
		    ERR_OK);
		assert_int_not_equal(pack_reader_open_buf(buf, n, vault_sk, &r),
		    ERR_OK);
		assert_null(r);
	}
	longer = malloc(len + 1);
	assert_non_null(longer);
	memcpy(longer, buf, len);
	longer[len] = 0;
	assert_int_equal(pack_check_structure_buf(longer, len + 1, NULL),
	    ERR_FORMAT);
	free(longer);
	free(buf);
	chunks_free(c, 2);
}

static void
test_writer_rules(void **state)
{
	struct pack_run *run;
	struct pack_writer *w;
	struct chunk c[200];
	uint8_t *buf, *big, *out;
	size_t len;
	char name[PACK_NAME_HEX_LEN + 1];
	uint64_t expect;

	(void)state;
	assert_int_equal(pack_run_new(vault_pk, &run), ERR_OK);
	assert_int_equal(pack_writer_new(run, &w), ERR_OK);
	assert_int_equal(pack_writer_size(w), PACK_MIN_SIZE);
	for (unsigned i = 0; i < 200; i++) {
		chunk_make(&c[i], 100 + i, (int)(i % 3 == 0), 100 + i);
		assert_int_equal(pack_writer_add(w, c[i].id, c[i].data,
		    c[i].len), ERR_OK);
	}
	/* The same ID twice: refused, pack unchanged. */
	expect = pack_writer_size(w);
	assert_int_equal(pack_writer_add(w, c[17].id, c[3].data, c[3].len),
	    ERR_EXISTS);
	assert_int_equal(pack_writer_size(w), expect);
	assert_int_equal(pack_writer_add(w, c[0].id, NULL, 5), ERR_INVAL);
	big = calloc(1, PACK_CHUNK_MAX + 1);
	assert_non_null(big);
	assert_int_equal(pack_writer_add(w, (const uint8_t *)"too big too big "
	    "too big too big", big, PACK_CHUNK_MAX + 1), ERR_TOOBIG);
	free(big);
	assert_int_equal(pack_writer_count(w), 200);
	assert_int_equal(pack_writer_finish_buf(w, &buf, &len, name), ERR_OK);
	assert_int_equal(len, expect);
	pack_writer_free(w);
	pack_run_free(run);
	assert_int_equal(pack_verify_name_buf(buf, len, name), ERR_OK);
	check_pack(buf, len, c, 200);
	{
		struct pack_reader *r;
		uint8_t absent[PACK_ID_LEN] = { 0 };

		assert_int_equal(pack_reader_open_buf(buf, len, vault_sk, &r),
		    ERR_OK);
		assert_int_equal(pack_reader_get(r, absent, &out, &len),
		    ERR_NOTFOUND);
		pack_reader_free(r);
	}
	free(buf);
	chunks_free(c, 200);
}

/* What the vault checks without a key. */
static void
test_structure(void **state)
{
	struct chunk c;
	struct pack_info info;
	uint8_t *buf;
	size_t len;
	char name[PACK_NAME_HEX_LEN + 1];

	(void)state;
	chunk_make(&c, 2000, 0, 50);
	write_pack(&c, 1, &buf, &len, name);
	assert_int_equal(pack_check_structure_buf(buf, len, &info), ERR_OK);
	buf[4] = 2;
	assert_int_equal(pack_check_structure_buf(buf, len, &info),
	    ERR_UNSUPPORTED);
	assert_int_equal(info.size, 0);
	buf[4] = 1;
	buf[7] = 1;
	assert_int_equal(pack_check_structure_buf(buf, len, NULL), ERR_FORMAT);
	buf[7] = 0;
	buf[0] = 'X';
	assert_int_equal(pack_check_structure_buf(buf, len, NULL), ERR_FORMAT);
	buf[0] = 'B';
	/* Index offset one off, either way. */
	buf[len - 17]++;
	assert_int_equal(pack_check_structure_buf(buf, len, NULL), ERR_FORMAT);
	buf[len - 17] -= 2;
	assert_int_equal(pack_check_structure_buf(buf, len, NULL), ERR_FORMAT);
	buf[len - 17]++;
	buf[len - 1] = 'X';
	assert_int_equal(pack_check_structure_buf(buf, len, NULL), ERR_FORMAT);
	buf[len - 1] = 'L';
	assert_int_equal(pack_check_structure_buf(buf, len, NULL), ERR_OK);
	assert_int_equal(pack_check_structure_buf(NULL, 0, NULL), ERR_INVAL);
	free(buf);
	chunks_free(&c, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layout),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_shared_scratch),
		cmocka_unit_test(test_restart),
		cmocka_unit_test(test_raw_or_compressed),
		cmocka_unit_test(test_levels),
		cmocka_unit_test(test_name),
		cmocka_unit_test(test_wrong_key),
		cmocka_unit_test(test_host_cannot_read),
		cmocka_unit_test(test_flip_every_byte),
		cmocka_unit_test(test_swap_records),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_writer_rules),
		cmocka_unit_test(test_structure),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
