/*
 * test_tree.c - tree node encoding (backup/tree.h).
 *
 * Round trips of every entry type with every field its type carries, the
 * canonical property (parse then re-encode gives the same bytes), the
 * builder's refusals, the parser's refusals (every truncation, trailing
 * bytes, patched bytes, oversize counts), sparse files, determinism and
 * the limits.
 *
 * BULWARK_TREE_CORPUS=DIR in the environment makes test_write_corpus
 * write the fuzz harness's seeds into DIR (tests/fuzz/tree/corpus).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "backup/tree.h"
#include "common/banned.h"

#define S(s) (s), (sizeof(s) - 1)

static const uint8_t val_acl[] = { 0x02, 0x00, 0x00, 0x00, 0x01, 0x00 };
static const struct tree_xattr xattrs[] = {
	{ S("security.selinux"), (const uint8_t *)"system_u:object_r", 17 },
	{ S("system.posix_acl_access"), val_acl, sizeof(val_acl) },
	{ S("user.empty"), NULL, 0 },
};

static struct tree_chunk file_chunks[3];
static struct tree_chunk sparse_chunks[5];

static void
fill_id(uint8_t *id, uint8_t seed)
{
	for (size_t i = 0; i < TREE_ID_LEN; i++)
		id[i] = (uint8_t)(seed + i * 7 + 1);
}

/* Common fields, all set. */
static struct tree_entry
base_entry(enum tree_type type, const char *name, size_t name_len)
{
	struct tree_entry e;

	memset(&e, 0, sizeof(e));
	e.type = type;
	e.name = name;
	e.name_len = name_len;
	e.mode = 07755;
	e.uid = 1000;
	e.gid = 0xfffffffeu;
	e.user = "alice";
	e.user_len = 5;
	e.group = "staff";
	e.group_len = 5;
	e.mtime.sec = 1700000000;
	e.mtime.nsec = 999999999;
	e.ctime.sec = -12345;	/* before the epoch */
	e.ctime.nsec = 1;
	e.hardlink = 0;
	e.xattrs = xattrs;
	e.nxattrs = 3;
	return e;
}

/* The seven entries of one node, one per type, sorted by name. */
static size_t
all_types(struct tree_entry *e)
{
	fill_id(file_chunks[0].id, 1);
	file_chunks[0].len = 1048576;
	fill_id(file_chunks[1].id, 2);
	file_chunks[1].len = UINT32_MAX;
	fill_id(file_chunks[2].id, 3);
	file_chunks[2].len = 17;

	e[0] = base_entry(TREE_BLK, S("blk"));
	e[0].rdev = 0x0000000800000001ull;
	e[1] = base_entry(TREE_CHR, S("chr"));
	e[1].rdev = UINT64_MAX;
	e[1].hardlink = 7;
	e[2] = base_entry(TREE_DIR, S("dir"));
	fill_id(e[2].subtree, 9);
	e[3] = base_entry(TREE_FIFO, S("fifo"));
	e[3].hardlink = 3;
	e[4] = base_entry(TREE_REG, S("file"));
	e[4].chunks = file_chunks;
	e[4].nchunks = 3;
	e[4].size = 1048576ull + UINT32_MAX + 17;
	e[4].hardlink = 3;
	e[5] = base_entry(TREE_SOCK, S("sock"));
	e[5].mode = 0;
	e[5].user = NULL;
	e[5].user_len = 0;
	e[5].xattrs = NULL;
	e[5].nxattrs = 0;
	e[6] = base_entry(TREE_SYMLINK, S("symlink"));
	e[6].mode = 0777;
	e[6].target = "../some/where/else";
	e[6].target_len = 18;
	e[6].group = NULL;
	e[6].group_len = 0;
	return 7;
}

static void
build(const struct tree_entry *e, size_t n, uint8_t **out, size_t *len)
{
	struct tree_builder *b = NULL;

	assert_int_equal(tree_builder_new(&b), ERR_OK);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(tree_builder_add(b, &e[i]), ERR_OK);
	assert_int_equal(tree_builder_finish(b, out, len), ERR_OK);
	tree_builder_free(b);
}

static void
assert_str(const char *a, size_t alen, const char *b, size_t blen)
{
	assert_int_equal(alen, blen);
	if (alen == 0) {
		assert_null(a);
		assert_null(b);
	} else {
		assert_memory_equal(a, b, alen);
	}
}

static void
assert_entry_equal(const struct tree_entry *a, const struct tree_entry *b)
{
	assert_int_equal(a->type, b->type);
	assert_str(a->name, a->name_len, b->name, b->name_len);
	assert_int_equal(a->mode, b->mode);
	assert_int_equal(a->uid, b->uid);
	assert_int_equal(a->gid, b->gid);
	assert_str(a->user, a->user_len, b->user, b->user_len);
	assert_str(a->group, a->group_len, b->group, b->group_len);
	assert_true(a->mtime.sec == b->mtime.sec);
	assert_int_equal(a->mtime.nsec, b->mtime.nsec);
	assert_true(a->ctime.sec == b->ctime.sec);
	assert_int_equal(a->ctime.nsec, b->ctime.nsec);
	assert_int_equal(a->hardlink, b->hardlink);
	assert_int_equal(a->nxattrs, b->nxattrs);
	for (size_t i = 0; i < a->nxattrs; i++) {
		assert_str(a->xattrs[i].name, a->xattrs[i].name_len,
		    b->xattrs[i].name, b->xattrs[i].name_len);
		assert_str((const char *)a->xattrs[i].value,
		    a->xattrs[i].value_len, (const char *)b->xattrs[i].value,
		    b->xattrs[i].value_len);
	}
	assert_int_equal(a->size, b->size);
	assert_int_equal(a->rdev, b->rdev);
	assert_int_equal(a->nchunks, b->nchunks);
	for (size_t i = 0; i < a->nchunks; i++) {
		assert_memory_equal(a->chunks[i].id, b->chunks[i].id,
		    TREE_ID_LEN);
		assert_int_equal(a->chunks[i].len, b->chunks[i].len);
	}
	assert_memory_equal(a->subtree, b->subtree, TREE_ID_LEN);
	assert_str(a->target, a->target_len, b->target, b->target_len);
}

/* Parses buf, compares with e and checks that it re-encodes to buf. */
static void
check_round_trip(const struct tree_entry *e, size_t n, const uint8_t *buf,
    size_t len)
{
	struct tree *t = NULL;
	uint8_t *again = NULL;
	size_t again_len = 0;

	assert_int_equal(tree_parse(buf, len, &t), ERR_OK);
	assert_int_equal(tree_count(t), n);
	for (size_t i = 0; i < n; i++)
		assert_entry_equal(tree_entry_at(t, i), &e[i]);
	assert_null(tree_entry_at(t, n));
	assert_int_equal(tree_encode(t, &again, &again_len), ERR_OK);
	assert_int_equal(again_len, len);
	assert_memory_equal(again, buf, len);
	free(again);
	tree_free(t);
}

static int
add_one(const struct tree_entry *e)
{
	struct tree_builder *b = NULL;
	int r;

	assert_int_equal(tree_builder_new(&b), ERR_OK);
	r = tree_builder_add(b, e);
	tree_builder_free(b);
	return r;
}

static int
parse_rc(const uint8_t *buf, size_t len)
{
	struct tree *t = NULL;
	int r = tree_parse(buf, len, &t);

	if (r != ERR_OK)
		assert_null(t);
	tree_free(t);
	return r;
}

static void
put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* ------------------------------------------------------------------ */

static void
test_round_trip_all_types(void **state)
{
	struct tree_entry e[7];
	size_t n = all_types(e), len;
	uint8_t *buf;

	(void)state;
	build(e, n, &buf, &len);
	assert_memory_equal(buf, "BWTR\x01\x00\x00\x00\x00\x00\x00\x07", 12);
	check_round_trip(e, n, buf, len);
	free(buf);
}

static void
test_one_entry_each(void **state)
{
	struct tree_entry e[7];
	size_t n = all_types(e), len;
	uint8_t *buf;

	(void)state;
	for (size_t i = 0; i < n; i++) {
		build(&e[i], 1, &buf, &len);
		check_round_trip(&e[i], 1, buf, len);
		free(buf);
	}
}

static void
test_empty_node(void **state)
{
	uint8_t *buf;
	size_t len;

	(void)state;
	build(NULL, 0, &buf, &len);
	assert_int_equal(len, TREE_HEADER_LEN);
	check_round_trip(NULL, 0, buf, len);
	free(buf);
}

static void
test_deterministic(void **state)
{
	struct tree_entry e[7];
	size_t n = all_types(e), len1, len2;
	uint8_t *b1, *b2;

	(void)state;
	build(e, n, &b1, &len1);
	build(e, n, &b2, &len2);
	assert_int_equal(len1, len2);
	assert_memory_equal(b1, b2, len1);
	free(b1);
	free(b2);
}

static void
test_sparse_file(void **state)
{
	struct tree_entry e = base_entry(TREE_REG, S("sparse"));
	struct tree *t = NULL;
	const struct tree_entry *p;
	uint8_t *buf;
	size_t len;

	(void)state;
	/* hole, data, hole of 8 GiB, data, hole at the end */
	memset(sparse_chunks, 0, sizeof(sparse_chunks));
	sparse_chunks[0].len = 4096;
	fill_id(sparse_chunks[1].id, 5);
	sparse_chunks[1].len = 100;
	sparse_chunks[2].len = 8ull << 30;
	fill_id(sparse_chunks[3].id, 6);
	sparse_chunks[3].len = 1;
	sparse_chunks[4].len = 12;
	e.chunks = sparse_chunks;
	e.nchunks = 5;
	e.size = 4096 + 100 + (8ull << 30) + 1 + 12;
	build(&e, 1, &buf, &len);
	check_round_trip(&e, 1, buf, len);
	assert_int_equal(tree_parse(buf, len, &t), ERR_OK);
	p = tree_entry_at(t, 0);
	assert_int_equal(p->chunks[2].len, 8ull << 30);
	tree_free(t);
	free(buf);

	/* Two holes in a row have a shorter spelling: refused. */
	sparse_chunks[1] = sparse_chunks[0];
	e.size = 4096 * 2 + (8ull << 30) + 1 + 12;
	assert_int_equal(add_one(&e), ERR_INVAL);
}

static void
test_builder_order(void **state)
{
	struct tree_entry a = base_entry(TREE_FIFO, S("b"));
	struct tree_entry b = base_entry(TREE_FIFO, S("a"));
	struct tree_entry c = base_entry(TREE_FIFO, S("bb"));
	struct tree_entry d = base_entry(TREE_FIFO, S("b\xff"));
	struct tree_builder *bl = NULL;
	uint8_t *buf;
	size_t len;

	(void)state;
	assert_int_equal(tree_builder_new(&bl), ERR_OK);
	assert_int_equal(tree_builder_add(bl, &a), ERR_OK);
	assert_int_equal(tree_builder_add(bl, &a), ERR_INVAL);	/* dup */
	assert_int_equal(tree_builder_add(bl, &b), ERR_INVAL);	/* order */
	assert_int_equal(tree_builder_add(bl, &c), ERR_OK);
	assert_int_equal(tree_builder_add(bl, &d), ERR_OK);	/* bytewise */
	assert_int_equal(tree_builder_add(bl, &c), ERR_INVAL);
	assert_int_equal(tree_builder_finish(bl, &buf, &len), ERR_OK);
	check_round_trip((const struct tree_entry[]){ a, c, d }, 3, buf, len);
	free(buf);
	assert_int_equal(tree_builder_add(bl, &d), ERR_INVAL);
	assert_int_equal(tree_builder_finish(bl, &buf, &len), ERR_INVAL);
	assert_null(buf);
	tree_builder_free(bl);
	tree_builder_free(NULL);
	tree_free(NULL);
}

static void
test_builder_bad_names(void **state)
{
	static char long_name[257];
	struct tree_entry e = base_entry(TREE_FIFO, S("ok"));

	(void)state;
	memset(long_name, 'x', sizeof(long_name));
	assert_int_equal(add_one(&e), ERR_OK);
	e.name_len = 0;
	assert_int_equal(add_one(&e), ERR_INVAL);
	e.name = ".";
	e.name_len = 1;
	assert_int_equal(add_one(&e), ERR_INVAL);
	e.name = "..";
	e.name_len = 2;
	assert_int_equal(add_one(&e), ERR_INVAL);
	e.name = "...";
	e.name_len = 3;
	assert_int_equal(add_one(&e), ERR_OK);
	e.name = "a/b";
	assert_int_equal(add_one(&e), ERR_INVAL);
	e.name = "a\0b";
	assert_int_equal(add_one(&e), ERR_INVAL);
	e.name = NULL;
	assert_int_equal(add_one(&e), ERR_INVAL);
	e.name = long_name;
	e.name_len = 255;
	assert_int_equal(add_one(&e), ERR_OK);
	e.name_len = 256;
	assert_int_equal(add_one(&e), ERR_INVAL);
}

static void
test_builder_bad_fields(void **state)
{
	static char long_owner[65], long_target[TREE_XATTR_VALUE_MAX + 1];
	struct tree_entry all[7], e;
	struct tree_xattr bad[2];

	(void)state;
	memset(long_owner, 'u', sizeof(long_owner));
	memset(long_target, 't', sizeof(long_target));
	all_types(all);
#define REFUSE(field, value, code) do {				\
		e = all[i];						\
		e.field = value;					\
		assert_int_equal(add_one(&e), code);			\
	} while (0)
	for (size_t i = 0; i < 7; i++) {
		e = all[i];
		assert_int_equal(add_one(&e), ERR_OK);
		REFUSE(type, (enum tree_type)0, ERR_INVAL);
		REFUSE(type, (enum tree_type)8, ERR_INVAL);
		REFUSE(mode, 010000, ERR_INVAL);
		REFUSE(mtime.nsec, 1000000000u, ERR_INVAL);
		REFUSE(ctime.nsec, 1000000000u, ERR_INVAL);
		if (all[i].user != NULL) {
			REFUSE(user_len, 0, ERR_INVAL);	/* "" */
			REFUSE(user, NULL, ERR_INVAL);	/* NULL, 5 */
		}
		REFUSE(group_len, 65, ERR_INVAL);
		if (all[i].type != TREE_REG) {
			REFUSE(size, 1, ERR_INVAL);
			REFUSE(nchunks, 1, ERR_INVAL);
		}
		if (all[i].type != TREE_CHR && all[i].type != TREE_BLK)
			REFUSE(rdev, 1, ERR_INVAL);
		if (all[i].type != TREE_DIR)
			REFUSE(subtree[5], 1, ERR_INVAL);
		else
			REFUSE(subtree[5], 0, ERR_OK);
		if (all[i].type != TREE_SYMLINK)
			REFUSE(target, "x", ERR_INVAL);
	}
#undef REFUSE
	/* Owner names: 64 bytes fit, 65 do not; no NUL. */
	e = all[3];
	e.user = long_owner;
	e.user_len = 64;
	assert_int_equal(add_one(&e), ERR_OK);
	e.user_len = 65;
	assert_int_equal(add_one(&e), ERR_INVAL);
	e.user = "a\0b";
	e.user_len = 3;
	assert_int_equal(add_one(&e), ERR_INVAL);

	/* Directories: a subtree, never hard-linked. */
	e = all[2];
	memset(e.subtree, 0, TREE_ID_LEN);
	assert_int_equal(add_one(&e), ERR_INVAL);
	e = all[2];
	e.hardlink = 1;
	assert_int_equal(add_one(&e), ERR_INVAL);

	/* Symlink targets: 1..4095 bytes, no NUL. */
	e = all[6];
	e.target = long_target;
	e.target_len = 4095;
	assert_int_equal(add_one(&e), ERR_OK);
	e.target_len = 4096;
	assert_int_equal(add_one(&e), ERR_INVAL);
	e.target_len = 0;
	assert_int_equal(add_one(&e), ERR_INVAL);
	e.target = "a\0";
	e.target_len = 2;
	assert_int_equal(add_one(&e), ERR_INVAL);

	/* Files: size is the sum; chunk lengths non-zero and u32. */
	e = all[4];
	e.size--;
	assert_int_equal(add_one(&e), ERR_INVAL);
	file_chunks[2].len = 0;
	e.size -= 16;
	assert_int_equal(add_one(&e), ERR_INVAL);
	file_chunks[2].len = (uint64_t)UINT32_MAX + 1;
	e.size = 1048576ull + UINT32_MAX + UINT32_MAX + 1;
	assert_int_equal(add_one(&e), ERR_INVAL);
	e.chunks = NULL;
	assert_int_equal(add_one(&e), ERR_INVAL);
	e.nchunks = TREE_MAX_CHUNKS + 1;
	assert_int_equal(add_one(&e), ERR_TOOBIG);

	/* Xattrs: sorted, unique, names 1..255 without NUL, values 64 KiB. */
	e = all[3];
	bad[0] = xattrs[1];
	bad[1] = xattrs[0];
	e.xattrs = bad;
	e.nxattrs = 2;
	assert_int_equal(add_one(&e), ERR_INVAL);
	bad[1] = xattrs[1];
	assert_int_equal(add_one(&e), ERR_INVAL);
	bad[1].name = "user\0x";
	bad[1].name_len = 6;
	assert_int_equal(add_one(&e), ERR_INVAL);
	bad[1].name_len = 0;
	assert_int_equal(add_one(&e), ERR_INVAL);
	bad[1] = xattrs[2];
	bad[1].value_len = TREE_XATTR_VALUE_MAX + 1;
	bad[1].value = (const uint8_t *)long_target;
	assert_int_equal(add_one(&e), ERR_TOOBIG);
	bad[1].value = NULL;
	bad[1].value_len = 1;
	assert_int_equal(add_one(&e), ERR_INVAL);
	e.xattrs = NULL;
	assert_int_equal(add_one(&e), ERR_INVAL);

	assert_int_equal(tree_builder_new(NULL), ERR_INVAL);
	assert_int_equal(tree_builder_add(NULL, &e), ERR_INVAL);
}

/* A refused add leaves the builder as it was. */
static void
test_builder_recovers(void **state)
{
	struct tree_entry all[7], bad;
	struct tree_builder *b = NULL;
	uint8_t *buf1, *buf2;
	size_t n = all_types(all), len1, len2;

	(void)state;
	build(all, n, &buf1, &len1);
	assert_int_equal(tree_builder_new(&b), ERR_OK);
	for (size_t i = 0; i < n; i++) {
		bad = all[i];
		bad.mode = 0xffff;
		assert_int_equal(tree_builder_add(b, &bad), ERR_INVAL);
		assert_int_equal(tree_builder_add(b, &all[i]), ERR_OK);
	}
	assert_int_equal(tree_builder_finish(b, &buf2, &len2), ERR_OK);
	tree_builder_free(b);
	assert_int_equal(len1, len2);
	assert_memory_equal(buf1, buf2, len1);
	free(buf1);
	free(buf2);
}

static void
test_parse_truncated_and_trailing(void **state)
{
	struct tree_entry e[7];
	size_t n = all_types(e), len;
	uint8_t *buf, *big;

	(void)state;
	build(e, n, &buf, &len);
	for (size_t l = 0; l < len; l++) {
		/* A copy of exactly l bytes, so ASan sees any over-read. */
		uint8_t *cut = malloc(l > 0 ? l : 1);

		assert_non_null(cut);
		memcpy(cut, buf, l);
		assert_int_equal(parse_rc(cut, l), ERR_FORMAT);
		free(cut);
	}
	big = malloc(len + 1);
	assert_non_null(big);
	memcpy(big, buf, len);
	big[len] = 0;
	assert_int_equal(parse_rc(big, len + 1), ERR_FORMAT);
	free(big);
	free(buf);
}

/* Entry 0 is the fifo "ab", entry 1 the fifo "ac"; patches of bytes. */
static void
test_parse_patched(void **state)
{
	struct tree_entry e[2] = {
		base_entry(TREE_FIFO, S("ab")), base_entry(TREE_FIFO, S("ac"))
	};
	uint8_t *buf, *p;
	size_t len, e1;

	(void)state;
	build(e, 2, &buf, &len);
	p = malloc(len);
	assert_non_null(p);
	e1 = 12 + (len - 12) / 2;	/* both entries have the same length */
#define PATCH(off, v, code) do {					\
		memcpy(p, buf, len);					\
		p[off] = (uint8_t)(v);					\
		assert_int_equal(parse_rc(p, len), code);		\
	} while (0)
	assert_int_equal(parse_rc(buf, len), ERR_OK);
	PATCH(0, 'b', ERR_FORMAT);			/* magic */
	PATCH(4, 2, ERR_UNSUPPORTED);			/* version */
	PATCH(4, 0, ERR_UNSUPPORTED);
	PATCH(5, 1, ERR_FORMAT);			/* reserved */
	PATCH(7, 0x80, ERR_FORMAT);
	PATCH(11, 1, ERR_FORMAT);			/* count low */
	PATCH(11, 3, ERR_FORMAT);			/* count high */
	PATCH(12, 0, ERR_FORMAT);			/* type */
	PATCH(12, 8, ERR_FORMAT);
	PATCH(12, TREE_SOCK, ERR_OK);
	PATCH(13, 0, ERR_FORMAT);			/* name_len */
	PATCH(15, 'c', ERR_FORMAT);			/* duplicate "ac" */
	PATCH(15, 'd', ERR_FORMAT);			/* out of order */
	PATCH(15, '/', ERR_FORMAT);
	PATCH(15, 0, ERR_FORMAT);
	PATCH(16, 0x10, ERR_FORMAT);			/* mode 010000 */
	PATCH(16, 0x0f, ERR_OK);			/* mode 07755 + */
	PATCH(e1 + 3, 'b', ERR_FORMAT);			/* "ab" twice */
	/* user_len 65 / 0 (then the bytes are misread) */
	PATCH(26, 65, ERR_FORMAT);
	/* mtime nanoseconds 10^9: 0x3b9aca00 */
	memcpy(p, buf, len);
	put_be32(p + 46, 1000000000u);
	assert_int_equal(parse_rc(p, len), ERR_FORMAT);
	memcpy(p, buf, len);
	put_be32(p + 46, 999999999u);
	assert_int_equal(parse_rc(p, len), ERR_OK);
#undef PATCH
	free(p);
	free(buf);
}

static void
test_parse_oversize(void **state)
{
	uint8_t hdr[TREE_HEADER_LEN] = "BWTR\x01";
	struct tree_entry f = base_entry(TREE_REG, S("f"));
	struct tree_chunk c;
	uint8_t *buf;
	size_t len;

	(void)state;
	put_be32(hdr + 8, TREE_MAX_ENTRIES + 1);
	assert_int_equal(parse_rc(hdr, sizeof(hdr)), ERR_TOOBIG);
	put_be32(hdr + 8, TREE_MAX_ENTRIES);
	assert_int_equal(parse_rc(hdr, sizeof(hdr)), ERR_FORMAT);
	put_be32(hdr + 8, UINT32_MAX);
	assert_int_equal(parse_rc(hdr, sizeof(hdr)), ERR_TOOBIG);
	assert_int_equal(parse_rc(hdr, (size_t)TREE_MAX_SIZE + 1), ERR_TOOBIG);
	assert_int_equal(parse_rc(NULL, 0), ERR_FORMAT);

	/* One file of one chunk: the chunk count is its last 40 - 4 bytes. */
	memset(&c, 0, sizeof(c));
	fill_id(c.id, 1);
	c.len = 5;
	f.chunks = &c;
	f.nchunks = 1;
	f.size = 5;
	f.xattrs = NULL;
	f.nxattrs = 0;
	build(&f, 1, &buf, &len);
	assert_int_equal(parse_rc(buf, len), ERR_OK);
	put_be32(buf + len - 40, TREE_MAX_CHUNKS + 1);
	assert_int_equal(parse_rc(buf, len), ERR_TOOBIG);
	put_be32(buf + len - 40, TREE_MAX_CHUNKS);
	assert_int_equal(parse_rc(buf, len), ERR_FORMAT);
	put_be32(buf + len - 40, 2);
	assert_int_equal(parse_rc(buf, len), ERR_FORMAT);
	put_be32(buf + len - 40, 1);
	put_be32(buf + len - 4, 0);			/* chunk length 0 */
	assert_int_equal(parse_rc(buf, len), ERR_FORMAT);
	put_be32(buf + len - 4, 5);
	buf[len - 41] ^= 1;				/* size 5 ^ 1 */
	assert_int_equal(parse_rc(buf, len), ERR_FORMAT);
	buf[len - 41] ^= 1;
	put_be32(buf + len - 52, UINT32_MAX);	/* xattr count */
	assert_int_equal(parse_rc(buf, len), ERR_FORMAT);
	free(buf);
}

/* Over TREE_MAX_SIZE in one entry: 1025 xattrs of 64 KiB. */
static void
test_builder_node_too_big(void **state)
{
	struct tree_entry e = base_entry(TREE_FIFO, S("big"));
	struct tree_builder *b = NULL;
	struct tree_xattr *x;
	uint8_t *value;
	char (*names)[24];
	size_t n = TREE_MAX_SIZE / TREE_XATTR_VALUE_MAX + 1;
	uint8_t *buf;
	size_t len;

	(void)state;
	x = calloc(n, sizeof(*x));
	names = calloc(n, sizeof(*names));
	value = calloc(1, TREE_XATTR_VALUE_MAX);
	assert_non_null(x);
	assert_non_null(names);
	assert_non_null(value);
	for (size_t i = 0; i < n; i++) {
		snprintf(names[i], sizeof(names[i]), "u.%05zu", i);
		x[i].name = names[i];
		x[i].name_len = 7;
		x[i].value = value;
		x[i].value_len = TREE_XATTR_VALUE_MAX;
	}
	e.xattrs = x;
	e.nxattrs = n;
	assert_int_equal(tree_builder_new(&b), ERR_OK);
	assert_int_equal(tree_builder_add(b, &e), ERR_TOOBIG);
	e.nxattrs = 8;
	assert_int_equal(tree_builder_add(b, &e), ERR_OK);
	assert_int_equal(tree_builder_finish(b, &buf, &len), ERR_OK);
	tree_builder_free(b);
	check_round_trip(&e, 1, buf, len);
	free(buf);
	free(value);
	free(names);
	free(x);
}

/* TREE_MAX_ENTRIES fit; one more does not. */
static void
test_builder_too_many_entries(void **state)
{
	struct tree_entry e = base_entry(TREE_FIFO, S("x"));
	struct tree_builder *b = NULL;
	char name[32];
	uint8_t *buf;
	size_t len;

	(void)state;
	e.user = e.group = NULL;
	e.user_len = e.group_len = 0;
	e.xattrs = NULL;
	e.nxattrs = 0;
	e.name = name;
	e.name_len = 7;
	assert_int_equal(tree_builder_new(&b), ERR_OK);
	for (size_t i = 0; i < TREE_MAX_ENTRIES; i++) {
		snprintf(name, sizeof(name), "%07zu", i);
		assert_int_equal(tree_builder_add(b, &e), ERR_OK);
	}
	snprintf(name, sizeof(name), "%07zu", (size_t)TREE_MAX_ENTRIES);
	assert_int_equal(tree_builder_add(b, &e), ERR_TOOBIG);
	assert_int_equal(tree_builder_finish(b, &buf, &len), ERR_OK);
	tree_builder_free(b);
	assert_memory_equal(buf + 8, "\x00\x0f\x42\x40", 4);
	free(buf);
}

/* ------------------------------------------------------------------ */
/* Seeds for tests/fuzz/tree/corpus. */

static void
put_file(const char *dir, const char *name, const uint8_t *p, size_t len)
{
	char path[4096];
	FILE *f;

	assert_true(len < 16384);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void
test_write_corpus(void **state)
{
	const char *dir = getenv("BULWARK_TREE_CORPUS");
	struct tree_entry e[7], s = base_entry(TREE_REG, S("sparse"));
	size_t n = all_types(e), len;
	char name[32];
	uint8_t *buf;

	(void)state;
	if (dir == NULL)
		skip();
	build(e, n, &buf, &len);
	put_file(dir, "all-types", buf, len);
	put_file(dir, "broken-truncated", buf, len / 2);
	free(buf);
	for (size_t i = 0; i < n; i++) {
		build(&e[i], 1, &buf, &len);
		snprintf(name, sizeof(name), "one-type-%d", (int)e[i].type);
		put_file(dir, name, buf, len);
		free(buf);
	}
	memset(sparse_chunks, 0, sizeof(sparse_chunks));
	sparse_chunks[0].len = 4096;
	fill_id(sparse_chunks[1].id, 5);
	sparse_chunks[1].len = 100;
	sparse_chunks[2].len = 8ull << 30;
	s.chunks = sparse_chunks;
	s.nchunks = 3;
	s.size = 4096 + 100 + (8ull << 30);
	build(&s, 1, &buf, &len);
	put_file(dir, "sparse", buf, len);
	free(buf);
	build(NULL, 0, &buf, &len);
	put_file(dir, "empty", buf, len);
	free(buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_all_types),
		cmocka_unit_test(test_one_entry_each),
		cmocka_unit_test(test_empty_node),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_sparse_file),
		cmocka_unit_test(test_builder_order),
		cmocka_unit_test(test_builder_bad_names),
		cmocka_unit_test(test_builder_bad_fields),
		cmocka_unit_test(test_builder_recovers),
		cmocka_unit_test(test_parse_truncated_and_trailing),
		cmocka_unit_test(test_parse_patched),
		cmocka_unit_test(test_parse_oversize),
		cmocka_unit_test(test_builder_node_too_big),
		cmocka_unit_test(test_builder_too_many_entries),
		cmocka_unit_test(test_write_corpus),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
