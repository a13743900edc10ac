/*
 * tree.c - tree nodes (see tree.h for the byte layout).
 *
 * One set of rules, check_entry(), serves both directions: the builder
 * refuses what it breaks with ERR_INVAL, the parser with ERR_FORMAT. The
 * parser decodes fixed-width fields, so with the same rules it accepts
 * exactly the byte sequences the builder writes.
 */
#include <stdlib.h>
#include <string.h>

#include "backup/chunker.h"
#include "backup/tree.h"
#include "common/banned.h"

_Static_assert(TREE_ID_LEN == CHUNK_ID_LEN, "tree IDs are chunk IDs");

static const uint8_t tree_magic[4] = { 'B', 'W', 'T', 'R' };
static const uint8_t zero_id[TREE_ID_LEN];

struct tree_builder {
	uint8_t *buf;
	size_t len;
	size_t cap;
	size_t count;
	uint8_t prev[TREE_NAME_MAX];
	size_t prev_len;	/* 0: no entry yet */
	int finished;
};

struct tree {
	uint8_t *buf;		/* copy of the input; entries point into it */
	size_t count;
	struct tree_entry *entries;
};

/* ------------------------------------------------------------------ */
/* Rules shared by builder and parser. */

static int
is_hole(const struct tree_chunk *c)
{
	return memcmp(c->id, zero_id, TREE_ID_LEN) == 0;
}

/* Bytewise order, shorter first on a common prefix: <0, 0, >0. */
static int
name_cmp(const void *a, size_t alen, const void *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	if (c != 0)
		return c;
	return alen < blen ? -1 : alen > blen;
}

static int
check_entry_name(const char *name, size_t len)
{
	if (name == NULL || len == 0 || len > TREE_NAME_MAX)
		return ERR_INVAL;
	if (memchr(name, '/', len) != NULL || memchr(name, '\0', len) != NULL)
		return ERR_INVAL;
	if ((len == 1 && name[0] == '.') ||
	    (len == 2 && name[0] == '.' && name[1] == '.'))
		return ERR_INVAL;
	return ERR_OK;
}

/* user / group: absent (NULL, 0) or 1..64 bytes without NUL. */
static int
check_owner_name(const char *s, size_t len)
{
	if (s == NULL)
		return len == 0 ? ERR_OK : ERR_INVAL;
	if (len == 0 || len > TREE_OWNER_NAME_MAX ||
	    memchr(s, '\0', len) != NULL)
		return ERR_INVAL;
	return ERR_OK;
}

static int
check_xattrs(const struct tree_xattr *x, size_t n)
{
	if (n > 0 && x == NULL)
		return ERR_INVAL;
	if (n > UINT32_MAX)
		return ERR_TOOBIG;
	for (size_t i = 0; i < n; i++) {
		if (x[i].name == NULL || x[i].name_len == 0 ||
		    x[i].name_len > TREE_XATTR_NAME_MAX ||
		    memchr(x[i].name, '\0', x[i].name_len) != NULL)
			return ERR_INVAL;
		if (x[i].value_len > TREE_XATTR_VALUE_MAX)
			return ERR_TOOBIG;
		if (x[i].value == NULL && x[i].value_len != 0)
			return ERR_INVAL;
		if (i > 0 && name_cmp(x[i - 1].name, x[i - 1].name_len,
		    x[i].name, x[i].name_len) >= 0)
			return ERR_INVAL;
	}
	return ERR_OK;
}

/* Chunk lengths, no two holes in a row, and size their sum. */
static int
check_chunks(const struct tree_entry *e)
{
	uint64_t sum = 0;

	if (e->nchunks > TREE_MAX_CHUNKS)
		return ERR_TOOBIG;
	if (e->nchunks > 0 && e->chunks == NULL)
		return ERR_INVAL;
	for (size_t i = 0; i < e->nchunks; i++) {
		const struct tree_chunk *c = &e->chunks[i];
		int hole = is_hole(c);

		if (c->len == 0 || (!hole && c->len > UINT32_MAX))
			return ERR_INVAL;
		if (hole && i > 0 && is_hole(&e->chunks[i - 1]))
			return ERR_INVAL;
		if (c->len > UINT64_MAX - sum)
			return ERR_INVAL;
		sum += c->len;
	}
	return sum == e->size ? ERR_OK : ERR_INVAL;
}

/* Fields that e's type does not encode must be zero. */
static int
check_type_fields(const struct tree_entry *e)
{
	int reg = e->type == TREE_REG, dir = e->type == TREE_DIR;
	int lnk = e->type == TREE_SYMLINK;
	int dev = e->type == TREE_CHR || e->type == TREE_BLK;

	if (e->type < TREE_REG || e->type > TREE_BLK)
		return ERR_INVAL;
	if (!reg && (e->size != 0 || e->nchunks != 0 || e->chunks != NULL))
		return ERR_INVAL;
	if (!dev && e->rdev != 0)
		return ERR_INVAL;
	if (dir != (memcmp(e->subtree, zero_id, TREE_ID_LEN) != 0))
		return ERR_INVAL;	/* a directory needs one, others none */
	if (dir && e->hardlink != 0)
		return ERR_INVAL;
	if (!lnk)
		return e->target == NULL && e->target_len == 0 ?
		    ERR_OK : ERR_INVAL;
	if (e->target == NULL || e->target_len == 0 ||
	    e->target_len > TREE_TARGET_MAX ||
	    memchr(e->target, '\0', e->target_len) != NULL)
		return ERR_INVAL;
	return ERR_OK;
}

/* ERR_INVAL or ERR_TOOBIG when e cannot be encoded as it is. */
static int
check_entry(const struct tree_entry *e)
{
	int r;

	if ((r = check_entry_name(e->name, e->name_len)) != ERR_OK ||
	    (r = check_owner_name(e->user, e->user_len)) != ERR_OK ||
	    (r = check_owner_name(e->group, e->group_len)) != ERR_OK ||
	    (r = check_xattrs(e->xattrs, e->nxattrs)) != ERR_OK ||
	    (r = check_type_fields(e)) != ERR_OK)
		return r;
	if (e->mode > TREE_MODE_MASK || e->mtime.nsec > TREE_NSEC_MAX ||
	    e->ctime.nsec > TREE_NSEC_MAX)
		return ERR_INVAL;
	if (e->type == TREE_REG)
		return check_chunks(e);
	return ERR_OK;
}

/* ------------------------------------------------------------------ */
/* Builder. */

static int
put(struct tree_builder *b, const void *p, size_t n)
{
	if (n > TREE_MAX_SIZE - b->len)
		return ERR_TOOBIG;
	if (n > b->cap - b->len) {
		size_t cap = b->cap;
		uint8_t *nb;

		while (n > cap - b->len)
			cap = cap > TREE_MAX_SIZE / 2 ? TREE_MAX_SIZE : cap * 2;
		if ((nb = realloc(b->buf, cap)) == NULL)
			return ERR_NOMEM;
		b->buf = nb;
		b->cap = cap;
	}
	if (n > 0)
		memcpy(b->buf + b->len, p, n);
	b->len += n;
	return ERR_OK;
}

static int
put_be(struct tree_builder *b, uint64_t v, size_t width)
{
	uint8_t tmp[8];

	for (size_t i = width; i > 0; i--, v >>= 8)
		tmp[i - 1] = (uint8_t)v;
	return put(b, tmp, width);
}

/* A length byte (or two) and the string. */
static int
put_str(struct tree_builder *b, const void *s, size_t len, size_t width)
{
	int r;

	if ((r = put_be(b, len, width)) != ERR_OK)
		return r;
	return put(b, s, len);
}

static int
put_time(struct tree_builder *b, const struct tree_time *t)
{
	int r;

	if ((r = put_be(b, (uint64_t)t->sec, 8)) != ERR_OK)
		return r;
	return put_be(b, t->nsec, 4);
}

static int
put_xattrs(struct tree_builder *b, const struct tree_entry *e)
{
	int r;

	if ((r = put_be(b, e->nxattrs, 4)) != ERR_OK)
		return r;
	for (size_t i = 0; i < e->nxattrs; i++) {
		const struct tree_xattr *x = &e->xattrs[i];

		if ((r = put_str(b, x->name, x->name_len, 1)) != ERR_OK ||
		    (r = put_str(b, x->value, x->value_len, 4)) != ERR_OK)
			return r;
	}
	return ERR_OK;
}

static int
put_chunks(struct tree_builder *b, const struct tree_entry *e)
{
	int r;

	if ((r = put_be(b, e->size, 8)) != ERR_OK ||
	    (r = put_be(b, e->nchunks, 4)) != ERR_OK)
		return r;
	for (size_t i = 0; i < e->nchunks; i++) {
		const struct tree_chunk *c = &e->chunks[i];

		if ((r = put(b, c->id, TREE_ID_LEN)) != ERR_OK ||
		    (r = put_be(b, c->len, is_hole(c) ? 8 : 4)) != ERR_OK)
			return r;
	}
	return ERR_OK;
}

static int
put_content(struct tree_builder *b, const struct tree_entry *e)
{
	switch (e->type) {
	case TREE_REG:
		return put_chunks(b, e);
	case TREE_DIR:
		return put(b, e->subtree, TREE_ID_LEN);
	case TREE_SYMLINK:
		return put_str(b, e->target, e->target_len, 2);
	case TREE_CHR:
	case TREE_BLK:
		return put_be(b, e->rdev, 8);
	case TREE_FIFO:
	case TREE_SOCK:
		return ERR_OK;
	}
	return ERR_INTERNAL;
}

/* Appends e, already checked. */
static int
put_entry(struct tree_builder *b, const struct tree_entry *e)
{
	int r;

	if ((r = put_be(b, (uint64_t)e->type, 1)) != ERR_OK ||
	    (r = put_str(b, e->name, e->name_len, 1)) != ERR_OK ||
	    (r = put_be(b, e->mode, 2)) != ERR_OK ||
	    (r = put_be(b, e->uid, 4)) != ERR_OK ||
	    (r = put_be(b, e->gid, 4)) != ERR_OK ||
	    (r = put_str(b, e->user, e->user_len, 1)) != ERR_OK ||
	    (r = put_str(b, e->group, e->group_len, 1)) != ERR_OK ||
	    (r = put_time(b, &e->mtime)) != ERR_OK ||
	    (r = put_time(b, &e->ctime)) != ERR_OK ||
	    (r = put_be(b, e->hardlink, 8)) != ERR_OK ||
	    (r = put_xattrs(b, e)) != ERR_OK)
		return r;
	return put_content(b, e);
}

int
tree_builder_new(struct tree_builder **out)
{
	struct tree_builder *b;
	int r;

	if (out == NULL)
		return ERR_INVAL;
	*out = NULL;
	if ((b = calloc(1, sizeof(*b))) == NULL)
		return ERR_NOMEM;
	if ((b->buf = malloc(256)) == NULL) {
		free(b);
		return ERR_NOMEM;
	}
	b->cap = 256;
	/* The count is filled in by tree_builder_finish(). */
	if ((r = put(b, tree_magic, sizeof(tree_magic))) != ERR_OK ||
	    (r = put_be(b, TREE_VERSION, 1)) != ERR_OK ||
	    (r = put_be(b, 0, 3)) != ERR_OK ||
	    (r = put_be(b, 0, 4)) != ERR_OK) {
		tree_builder_free(b);
		return r;
	}
	*out = b;
	return ERR_OK;
}

int
tree_builder_add(struct tree_builder *b, const struct tree_entry *e)
{
	size_t mark;
	int r;

	if (b == NULL || e == NULL || b->finished)
		return ERR_INVAL;
	if ((r = check_entry(e)) != ERR_OK)
		return r;
	if (b->prev_len > 0 &&
	    name_cmp(b->prev, b->prev_len, e->name, e->name_len) >= 0)
		return ERR_INVAL;
	if (b->count >= TREE_MAX_ENTRIES)
		return ERR_TOOBIG;
	mark = b->len;
	if ((r = put_entry(b, e)) != ERR_OK) {
		b->len = mark;
		return r;
	}
	memcpy(b->prev, e->name, e->name_len);
	b->prev_len = e->name_len;
	b->count++;
	return ERR_OK;
}

int
tree_builder_finish(struct tree_builder *b, uint8_t **out, size_t *len)
{
	uint8_t *p;

	if (out != NULL)
		*out = NULL;
	if (len != NULL)
		*len = 0;
	if (b == NULL || out == NULL || len == NULL || b->finished)
		return ERR_INVAL;
	p = b->buf + 8;
	p[0] = (uint8_t)(b->count >> 24);
	p[1] = (uint8_t)(b->count >> 16);
	p[2] = (uint8_t)(b->count >> 8);
	p[3] = (uint8_t)b->count;
	*out = b->buf;
	*len = b->len;
	b->buf = NULL;
	b->len = b->cap = 0;
	b->finished = 1;
	return ERR_OK;
}

void
tree_builder_free(struct tree_builder *b)
{
	if (b == NULL)
		return;
	free(b->buf);
	free(b);
}

/* ------------------------------------------------------------------ */
/* Parser. */

struct cursor {
	const uint8_t *p;
	size_t left;
};

static int
get_bytes(struct cursor *c, size_t n, const uint8_t **out)
{
	if (n > c->left)
		return ERR_FORMAT;
	*out = c->p;
	c->p += n;
	c->left -= n;
	return ERR_OK;
}

static int
get_be(struct cursor *c, size_t width, uint64_t *out)
{
	const uint8_t *p;
	uint64_t v = 0;
	int r;

	if ((r = get_bytes(c, width, &p)) != ERR_OK)
		return r;
	for (size_t i = 0; i < width; i++)
		v = v << 8 | p[i];
	*out = v;
	return ERR_OK;
}

/* A string of a width-byte length; NULL for length 0. */
static int
get_str(struct cursor *c, size_t width, const char **s, size_t *len)
{
	const uint8_t *p;
	uint64_t n;
	int r;

	if ((r = get_be(c, width, &n)) != ERR_OK ||
	    (r = get_bytes(c, (size_t)n, &p)) != ERR_OK)
		return r;
	*s = n == 0 ? NULL : (const char *)p;
	*len = (size_t)n;
	return ERR_OK;
}

static int
get_time(struct cursor *c, struct tree_time *t)
{
	uint64_t s, ns;
	int r;

	if ((r = get_be(c, 8, &s)) != ERR_OK ||
	    (r = get_be(c, 4, &ns)) != ERR_OK)
		return r;
	t->sec = (int64_t)s;	/* two's complement on every target we build */
	t->nsec = (uint32_t)ns;
	return ERR_OK;
}

static int
get_xattrs(struct cursor *c, struct tree_entry *e)
{
	struct tree_xattr *x;
	uint64_t n, vlen;
	const uint8_t *v;
	int r;

	if ((r = get_be(c, 4, &n)) != ERR_OK)
		return r;
	if (n == 0)
		return ERR_OK;
	if (n > c->left / 6)	/* 6: the smallest encoded xattr */
		return ERR_FORMAT;
	if ((x = calloc((size_t)n, sizeof(*x))) == NULL)
		return ERR_NOMEM;
	e->xattrs = x;
	e->nxattrs = (size_t)n;
	for (size_t i = 0; i < n; i++) {
		if ((r = get_str(c, 1, &x[i].name, &x[i].name_len)) != ERR_OK ||
		    (r = get_be(c, 4, &vlen)) != ERR_OK)
			return r;
		if (vlen > TREE_XATTR_VALUE_MAX)
			return ERR_TOOBIG;
		if ((r = get_bytes(c, (size_t)vlen, &v)) != ERR_OK)
			return r;
		x[i].value = vlen == 0 ? NULL : v;
		x[i].value_len = (size_t)vlen;
	}
	return ERR_OK;
}

static int
get_chunks(struct cursor *c, struct tree_entry *e)
{
	struct tree_chunk *ch;
	const uint8_t *id;
	uint64_t n;
	int r;

	if ((r = get_be(c, 8, &e->size)) != ERR_OK ||
	    (r = get_be(c, 4, &n)) != ERR_OK)
		return r;
	if (n > TREE_MAX_CHUNKS)
		return ERR_TOOBIG;
	if (n == 0)
		return ERR_OK;
	if (n > c->left / (TREE_ID_LEN + 4))
		return ERR_FORMAT;
	if ((ch = calloc((size_t)n, sizeof(*ch))) == NULL)
		return ERR_NOMEM;
	e->chunks = ch;
	e->nchunks = (size_t)n;
	for (size_t i = 0; i < n; i++) {
		if ((r = get_bytes(c, TREE_ID_LEN, &id)) != ERR_OK)
			return r;
		memcpy(ch[i].id, id, TREE_ID_LEN);
		if ((r = get_be(c, is_hole(&ch[i]) ? 8 : 4,
		    &ch[i].len)) != ERR_OK)
			return r;
	}
	return ERR_OK;
}

static int
get_content(struct cursor *c, struct tree_entry *e)
{
	const uint8_t *id;
	int r;

	switch (e->type) {
	case TREE_REG:
		return get_chunks(c, e);
	case TREE_DIR:
		if ((r = get_bytes(c, TREE_ID_LEN, &id)) != ERR_OK)
			return r;
		memcpy(e->subtree, id, TREE_ID_LEN);
		return ERR_OK;
	case TREE_SYMLINK:
		return get_str(c, 2, &e->target, &e->target_len);
	case TREE_CHR:
	case TREE_BLK:
		return get_be(c, 8, &e->rdev);
	case TREE_FIFO:
	case TREE_SOCK:
		return ERR_OK;
	}
	return ERR_FORMAT;
}

/* Decodes one entry into e (zeroed by the caller); checks come after. */
static int
get_entry(struct cursor *c, struct tree_entry *e)
{
	uint64_t type, mode, uid, gid;
	int r;

	if ((r = get_be(c, 1, &type)) != ERR_OK)
		return r;
	if (type < TREE_REG || type > TREE_BLK)
		return ERR_FORMAT;
	e->type = (enum tree_type)type;
	if ((r = get_str(c, 1, &e->name, &e->name_len)) != ERR_OK ||
	    (r = get_be(c, 2, &mode)) != ERR_OK ||
	    (r = get_be(c, 4, &uid)) != ERR_OK ||
	    (r = get_be(c, 4, &gid)) != ERR_OK ||
	    (r = get_str(c, 1, &e->user, &e->user_len)) != ERR_OK ||
	    (r = get_str(c, 1, &e->group, &e->group_len)) != ERR_OK ||
	    (r = get_time(c, &e->mtime)) != ERR_OK ||
	    (r = get_time(c, &e->ctime)) != ERR_OK ||
	    (r = get_be(c, 8, &e->hardlink)) != ERR_OK ||
	    (r = get_xattrs(c, e)) != ERR_OK)
		return r;
	e->mode = (uint32_t)mode;
	e->uid = (uint32_t)uid;
	e->gid = (uint32_t)gid;
	return get_content(c, e);
}

static int
parse_header(struct cursor *c, size_t *count)
{
	const uint8_t *p;
	uint64_t n;
	int r;

	if ((r = get_bytes(c, 8, &p)) != ERR_OK)
		return r;
	if (memcmp(p, tree_magic, sizeof(tree_magic)) != 0)
		return ERR_FORMAT;
	if (p[4] != TREE_VERSION)
		return ERR_UNSUPPORTED;
	if (p[5] != 0 || p[6] != 0 || p[7] != 0)
		return ERR_FORMAT;
	if ((r = get_be(c, 4, &n)) != ERR_OK)
		return r;
	if (n > TREE_MAX_ENTRIES)
		return ERR_TOOBIG;
	/* The smallest entry (a fifo) takes 51 bytes; 32 is a safe floor. */
	if (n > c->left / 32)
		return ERR_FORMAT;
	*count = (size_t)n;
	return ERR_OK;
}

/* Entry i of t, decoded and checked, in order after entry i - 1. */
static int
parse_entry(struct cursor *c, struct tree *t, size_t i)
{
	struct tree_entry *e = &t->entries[i];
	const struct tree_entry *prev = i > 0 ? &t->entries[i - 1] : NULL;
	int r;

	if ((r = get_entry(c, e)) != ERR_OK)
		return r;
	if ((r = check_entry(e)) != ERR_OK)
		return r == ERR_INVAL ? ERR_FORMAT : r;
	if (prev != NULL && name_cmp(prev->name, prev->name_len, e->name,
	    e->name_len) >= 0)
		return ERR_FORMAT;
	return ERR_OK;
}

int
tree_parse(const uint8_t *buf, size_t len, struct tree **out)
{
	struct tree *t = NULL;
	struct cursor c;
	size_t count = 0;
	int r = ERR_INTERNAL;

	if (out == NULL)
		return ERR_INVAL;
	*out = NULL;
	if (buf == NULL && len != 0)
		return ERR_INVAL;
	if (len > TREE_MAX_SIZE)
		return ERR_TOOBIG;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return ERR_NOMEM;
	if ((t->buf = malloc(len > 0 ? len : 1)) == NULL) {
		r = ERR_NOMEM;
		goto out;
	}
	if (len > 0)
		memcpy(t->buf, buf, len);
	c.p = t->buf;
	c.left = len;
	if ((r = parse_header(&c, &count)) != ERR_OK)
		goto out;
	if (count > 0 &&
	    (t->entries = calloc(count, sizeof(*t->entries))) == NULL) {
		r = ERR_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < count; i++) {
		t->count = i + 1;	/* so tree_free() frees entry i */
		if ((r = parse_entry(&c, t, i)) != ERR_OK)
			goto out;
	}
	if (c.left != 0) {
		r = ERR_FORMAT;
		goto out;
	}
	*out = t;
	t = NULL;
	r = ERR_OK;
 out:
	tree_free(t);
	return r;
}

size_t
tree_count(const struct tree *t)
{
	return t == NULL ? 0 : t->count;
}

const struct tree_entry *
tree_entry_at(const struct tree *t, size_t i)
{
	if (t == NULL || i >= t->count)
		return NULL;
	return &t->entries[i];
}

int
tree_encode(const struct tree *t, uint8_t **out, size_t *len)
{
	struct tree_builder *b = NULL;
	int r;

	if (out != NULL)
		*out = NULL;
	if (len != NULL)
		*len = 0;
	if (t == NULL || out == NULL || len == NULL)
		return ERR_INVAL;
	if ((r = tree_builder_new(&b)) != ERR_OK)
		return r;
	for (size_t i = 0; i < t->count; i++)
		if ((r = tree_builder_add(b, &t->entries[i])) != ERR_OK)
			goto out;
	r = tree_builder_finish(b, out, len);
 out:
	tree_builder_free(b);
	return r;
}

void
tree_free(struct tree *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->count; i++) {
		free((void *)t->entries[i].xattrs);
		free((void *)t->entries[i].chunks);
	}
	free(t->entries);
	free(t->buf);
	free(t);
}
