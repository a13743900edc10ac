/*
 * tree.h - tree nodes: the encoding of one directory of a snapshot.
 *
 * A node lists a directory's entries with their metadata and contents
 * (chunk lists for files, the node ID of the subtree for directories).
 * The backup engine stores each node as a chunk, so the pack layer
 * compresses and encrypts it; this module only turns entries into bytes
 * and back.
 *
 * The encoding is canonical: one node has exactly one byte sequence, so
 * an unchanged directory gives the same chunk ID in every snapshot and
 * deduplicates. tree_parse() accepts exactly what the builder produces;
 * re-encoding a parsed node gives the bytes it was parsed from.
 *
 * Why fixed-width big-endian and not varints: fixed fields are canonical
 * by construction (a varint parser must also refuse over-long forms),
 * every bound check is a plain comparison, and the layout matches pack.h.
 * The zero bytes this wastes cost almost nothing after the pack layer's
 * zstd.
 *
 * Byte layout, version 1. Integers are unsigned big-endian unless said
 * otherwise. Strings are bytes with a length prefix and no terminator.
 *
 *   header, TREE_HEADER_LEN (12) bytes
 *	0    4   magic "BWTR"
 *	4    1   version, 1
 *	5    3   reserved, zero
 *	8    4   count: number of entries, <= TREE_MAX_ENTRIES
 *
 *   count entries, back to back, in strictly increasing bytewise (memcmp,
 *   shorter first on a common prefix) order of name; the node ends with
 *   the last entry's last byte:
 *	1    type: 1 regular file, 2 directory, 3 symlink, 4 fifo,
 *		 5 socket, 6 character device, 7 block device
 *	1    name_len, 1..255
 *	n    name: no "/" or NUL, not "." or ".."
 *	2    mode: permission bits, setuid, setgid, sticky (<= 07777)
 *	4    uid
 *	4    gid
 *	1    user_len, 0..64 (0: no user name)
 *	n    user name, no NUL
 *	1    group_len, 0..64 (0: no group name)
 *	n    group name, no NUL
 *	8    mtime seconds, signed (two's complement)
 *	4    mtime nanoseconds, < 10^9
 *	8    ctime seconds, signed
 *	4    ctime nanoseconds, < 10^9
 *	8    hardlink group: 0 when not hard-linked; entries anywhere in a
 *	     snapshot (not only in one node) that share a non-zero number
 *	     are one inode. Always 0 for directories.
 *	4    xattr count
 *	     xattrs, strictly increasing bytewise by name:
 *		1    name_len, 1..255
 *		n    name, no NUL (ACLs are system.posix_acl_access and
 *		     system.posix_acl_default)
 *		4    value_len, <= TREE_XATTR_VALUE_MAX (64 KiB)
 *		n    value
 *	then by type:
 *	  regular file:
 *		8    size: the sum of the chunk and hole lengths
 *		4    chunk count, <= TREE_MAX_CHUNKS (2^24)
 *		     chunks, in file order, each:
 *		32   chunk ID (HMAC-SHA-256, chunker.h), or all zero
 *		     for a hole (a run of zeros stored as nothing)
 *		4    data chunk: length, >= 1
 *		8    hole (zero ID): length, >= 1; never two holes in a row
 *	  directory:
 *		32   node ID of the subtree, not all zero
 *	  symlink:
 *		2    target_len, 1..4095
 *		n    target, no NUL
 *	  character or block device:
 *		8    rdev
 *	  fifo, socket: nothing
 *
 *   Fields that a type does not encode are zero in a parsed entry, and the
 *   builder refuses non-zero ones (size, rdev, a subtree ID, a target,
 *   chunks), so that nothing given to the builder is silently dropped.
 *   A node is at most TREE_MAX_SIZE (64 MiB) bytes.
 *
 * Errors:
 *	ERR_FORMAT	tree_parse(): malformed or non-canonical: bad magic,
 *			reserved bytes, truncation, trailing bytes, a bad
 *			type, name, order, length, mode, nanoseconds, a size
 *			that is not the sum of the chunks, adjacent holes
 *	ERR_UNSUPPORTED	tree_parse(): a version this code does not know
 *	ERR_TOOBIG	over TREE_MAX_ENTRIES, TREE_MAX_SIZE, TREE_MAX_CHUNKS
 *			or TREE_XATTR_VALUE_MAX
 *	ERR_INVAL	builder misuse: an entry the encoding cannot hold or
 *			that breaks the rules above (name, order, duplicate,
 *			lengths, fields that do not belong to the type), or
 *			a call after tree_builder_finish()
 *	ERR_NOMEM	allocation failed
 *
 * Ownership: tree_builder_new() and tree_parse() hand over their object
 * through **out on success only; tree_builder_free(NULL) and
 * tree_free(NULL) are no-ops. The builder copies what it needs from each
 * entry during tree_builder_add(); the caller keeps its strings. A parsed
 * tree holds its own copy of the bytes, and the pointers of its entries
 * point into it: they live until tree_free(). Objects are not safe to
 * share between threads.
 */
#ifndef BULWARK_BACKUP_TREE_H
#define BULWARK_BACKUP_TREE_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define TREE_VERSION		1
#define TREE_HEADER_LEN		12
#define TREE_ID_LEN		32	/* CHUNK_ID_LEN */
#define TREE_NAME_MAX		255
#define TREE_OWNER_NAME_MAX	64
#define TREE_TARGET_MAX		4095
#define TREE_XATTR_NAME_MAX	255
#define TREE_XATTR_VALUE_MAX	(64u * 1024)
#define TREE_MAX_ENTRIES	1000000u
#define TREE_MAX_SIZE		(64u * 1024 * 1024)
#define TREE_MAX_CHUNKS		(1u << 24)
#define TREE_MODE_MASK		07777u
#define TREE_NSEC_MAX		999999999u

enum tree_type {
	TREE_REG = 1,
	TREE_DIR = 2,
	TREE_SYMLINK = 3,
	TREE_FIFO = 4,
	TREE_SOCK = 5,
	TREE_CHR = 6,
	TREE_BLK = 7,
};

/* One piece of a regular file: a stored chunk, or a hole (all-zero id). */
struct tree_chunk {
	uint8_t id[TREE_ID_LEN];
	uint64_t len;		/* data: 1..UINT32_MAX; hole: >= 1 */
};

struct tree_xattr {
	const char *name;	/* name_len bytes, no NUL, not terminated */
	size_t name_len;
	const uint8_t *value;	/* may be NULL when value_len is 0 */
	size_t value_len;
};

struct tree_time {
	int64_t sec;
	uint32_t nsec;
};

/*
 * One directory entry. Strings are pointer and length, not terminated;
 * user and group are NULL with length 0 when absent.
 */
struct tree_entry {
	enum tree_type type;
	const char *name;
	size_t name_len;
	uint32_t mode;		/* <= TREE_MODE_MASK */
	uint32_t uid;
	uint32_t gid;
	const char *user;
	size_t user_len;
	const char *group;
	size_t group_len;
	struct tree_time mtime;
	struct tree_time ctime;
	uint64_t hardlink;	/* 0: not hard-linked */
	const struct tree_xattr *xattrs;
	size_t nxattrs;
	uint64_t size;		/* TREE_REG only */
	uint64_t rdev;		/* TREE_CHR and TREE_BLK only */
	const struct tree_chunk *chunks;	/* TREE_REG only */
	size_t nchunks;
	uint8_t subtree[TREE_ID_LEN];	/* TREE_DIR only */
	const char *target;	/* TREE_SYMLINK only */
	size_t target_len;
};

struct tree_builder;
struct tree;

/* A new, empty builder. */
int tree_builder_new(struct tree_builder **out) WUR;

/*
 * Appends e. Its name must sort strictly after the previous entry's.
 * On failure nothing is added and the builder stays usable (except after
 * tree_builder_finish()).
 */
int tree_builder_add(struct tree_builder *b, const struct tree_entry *e) WUR;

/*
 * The encoded node, in a malloc'd buffer the caller frees. After this
 * the builder takes no more entries; it still needs tree_builder_free().
 */
int tree_builder_finish(struct tree_builder *b, uint8_t **out, size_t *len)
    WUR;

void tree_builder_free(struct tree_builder *b);

/* Parses and checks a node; see the layout above. */
int tree_parse(const uint8_t *buf, size_t len, struct tree **out) WUR;

size_t tree_count(const struct tree *t);

/* Entry i (< tree_count()), or NULL when i is out of range. */
const struct tree_entry *tree_entry_at(const struct tree *t, size_t i);

/* Encodes t again (the same bytes it was parsed from). */
int tree_encode(const struct tree *t, uint8_t **out, size_t *len) WUR;

void tree_free(struct tree *t);

#endif
