/*
 * wire.c - framing and typed fields of the monitor's RPC messages.
 */
#include <stdlib.h>
#include <string.h>

#include "common/wire.h"
#include "common/banned.h"

struct wire_builder {
	uint8_t *buf;		/* WIRE_MAX_FRAME bytes */
	size_t len;		/* bytes used, length prefix included */
	uint16_t type;
	size_t nfields;
	uint16_t tags[WIRE_MAX_FIELDS];
	int err;		/* first error met, sticky */
};

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

int
wire_frame_len(const uint8_t hdr[WIRE_HDR_LEN], size_t *body_len)
{
	uint32_t n = get32(hdr);

	*body_len = 0;
	if (n > WIRE_MAX_BODY)
		return ERR_TOOBIG;
	if (n < 2)
		return ERR_FORMAT;
	*body_len = n;
	return ERR_OK;
}

int
wire_msg_parse(const uint8_t *body, size_t len, struct wire_msg *msg)
{
	size_t off, i;
	int r = ERR_INTERNAL;

	msg->type = 0;
	msg->nfields = 0;
	if (len > WIRE_MAX_BODY) {
		r = ERR_TOOBIG;
		goto out;
	}
	if (len < 2) {
		r = ERR_FORMAT;
		goto out;
	}
	msg->type = get16(body);
	off = 2;
	while (off < len) {
		struct wire_field *f;
		uint32_t flen;
		uint16_t tag;

		if (len - off < WIRE_FIELD_HDR_LEN) {
			r = ERR_FORMAT;
			goto out;
		}
		tag = get16(body + off);
		flen = get32(body + off + 2);
		off += WIRE_FIELD_HDR_LEN;
		if (flen > len - off) {
			r = ERR_FORMAT;
			goto out;
		}
		for (i = 0; i < msg->nfields; i++) {
			if (msg->fields[i].tag == tag) {
				r = ERR_FORMAT;
				goto out;
			}
		}
		if (msg->nfields == WIRE_MAX_FIELDS) {
			r = ERR_TOOBIG;
			goto out;
		}
		f = &msg->fields[msg->nfields++];
		f->tag = tag;
		f->len = flen;
		f->data = body + off;
		off += flen;
	}
	r = ERR_OK;
 out:
	if (r != ERR_OK) {
		msg->type = 0;
		msg->nfields = 0;
	}
	return r;
}

/*
 * RFC 3629 section 4 syntax: the second byte's range depends on the first,
 * which rules out overlong forms, surrogates and values past U+10FFFF.
 */
int
wire_utf8_valid(const uint8_t *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		uint8_t c = s[i];
		uint8_t lo = 0x80, hi = 0xbf;
		size_t n, k;

		if (c == 0)
			return 0;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			n = 1;
		else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			if (c == 0xe0)
				lo = 0xa0;
			else if (c == 0xed)
				hi = 0x9f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			if (c == 0xf0)
				lo = 0x90;
			else if (c == 0xf4)
				hi = 0x8f;
		} else
			return 0;
		if (len - i - 1 < n)
			return 0;
		if (s[i + 1] < lo || s[i + 1] > hi)
			return 0;
		for (k = 2; k <= n; k++) {
			if (s[i + k] < 0x80 || s[i + k] > 0xbf)
				return 0;
		}
		i += n + 1;
	}
	return 1;
}

static int
field_fits(const struct wire_field *f, const struct wire_field_spec *spec)
{
	switch (spec->kind) {
	case WIRE_U8:
		return f->len == 1;
	case WIRE_U32:
		return f->len == 4;
	case WIRE_U64:
		return f->len == 8;
	case WIRE_STR:
		return f->len <= spec->max_len &&
		    wire_utf8_valid(f->data, f->len);
	case WIRE_BYTES:
		return f->len <= spec->max_len;
	default:
		return 0;
	}
}

int
wire_msg_check(const struct wire_msg *msg,
    const struct wire_field_spec *specs, size_t nspecs, const char **why)
{
	const char *reason = NULL;
	size_t i, j;
	int r = ERR_INTERNAL;

	for (i = 0; i < msg->nfields; i++) {
		for (j = 0; j < nspecs; j++) {
			if (specs[j].tag == msg->fields[i].tag)
				break;
		}
		if (j == nspecs) {
			reason = "unknown field tag";
			r = ERR_FORMAT;
			goto out;
		}
		if (!field_fits(&msg->fields[i], &specs[j])) {
			reason = "field does not fit its kind";
			r = ERR_FORMAT;
			goto out;
		}
	}
	for (j = 0; j < nspecs; j++) {
		if ((specs[j].flags & WIRE_REQUIRED) &&
		    wire_msg_find(msg, specs[j].tag) == NULL) {
			reason = "required field missing";
			r = ERR_FORMAT;
			goto out;
		}
	}
	r = ERR_OK;
 out:
	if (why != NULL)
		*why = reason;
	return r;
}

const struct wire_field *
wire_msg_find(const struct wire_msg *msg, uint16_t tag)
{
	size_t i;

	for (i = 0; i < msg->nfields; i++) {
		if (msg->fields[i].tag == tag)
			return &msg->fields[i];
	}
	return NULL;
}

/* The field tag, which must be exactly len bytes long. */
static int
get_fixed(const struct wire_msg *msg, uint16_t tag, size_t len,
    const uint8_t **p)
{
	const struct wire_field *f = wire_msg_find(msg, tag);

	*p = NULL;
	if (f == NULL)
		return ERR_NOTFOUND;
	if (f->len != len)
		return ERR_FORMAT;
	*p = f->data;
	return ERR_OK;
}

int
wire_get_u8(const struct wire_msg *msg, uint16_t tag, uint8_t *v)
{
	const uint8_t *p;
	int r;

	*v = 0;
	if ((r = get_fixed(msg, tag, 1, &p)) != ERR_OK)
		return r;
	*v = p[0];
	return ERR_OK;
}

int
wire_get_u32(const struct wire_msg *msg, uint16_t tag, uint32_t *v)
{
	const uint8_t *p;
	int r;

	*v = 0;
	if ((r = get_fixed(msg, tag, 4, &p)) != ERR_OK)
		return r;
	*v = get32(p);
	return ERR_OK;
}

int
wire_get_u64(const struct wire_msg *msg, uint16_t tag, uint64_t *v)
{
	const uint8_t *p;
	int r;

	*v = 0;
	if ((r = get_fixed(msg, tag, 8, &p)) != ERR_OK)
		return r;
	*v = (uint64_t)get32(p) << 32 | get32(p + 4);
	return ERR_OK;
}

int
wire_get_str(const struct wire_msg *msg, uint16_t tag, const char **s,
    size_t *len)
{
	const struct wire_field *f = wire_msg_find(msg, tag);

	*s = NULL;
	*len = 0;
	if (f == NULL)
		return ERR_NOTFOUND;
	if (!wire_utf8_valid(f->data, f->len))
		return ERR_FORMAT;
	/* A view of an empty field still points somewhere valid. */
	*s = f->len > 0 ? (const char *)f->data : "";
	*len = f->len;
	return ERR_OK;
}

int
wire_get_strdup(const struct wire_msg *msg, uint16_t tag, char **s)
{
	const char *p;
	size_t len;
	char *copy;
	int r;

	*s = NULL;
	if ((r = wire_get_str(msg, tag, &p, &len)) != ERR_OK)
		return r;
	if ((copy = malloc(len + 1)) == NULL)
		return ERR_NOMEM;
	memcpy(copy, p, len);
	copy[len] = '\0';
	*s = copy;
	return ERR_OK;
}

int
wire_get_bytes(const struct wire_msg *msg, uint16_t tag, const uint8_t **p,
    size_t *len)
{
	const struct wire_field *f = wire_msg_find(msg, tag);

	*p = NULL;
	*len = 0;
	if (f == NULL)
		return ERR_NOTFOUND;
	*p = f->data;
	*len = f->len;
	return ERR_OK;
}

int
wire_builder_new(uint16_t type, struct wire_builder **out)
{
	struct wire_builder *b = NULL;
	int r = ERR_INTERNAL;

	*out = NULL;
	if ((b = calloc(1, sizeof(*b))) == NULL ||
	    (b->buf = malloc(WIRE_MAX_FRAME)) == NULL) {
		r = ERR_NOMEM;
		goto out;
	}
	wire_builder_reset(b, type);
	*out = b;
	b = NULL;
	r = ERR_OK;
 out:
	wire_builder_free(b);
	return r;
}

void
wire_builder_reset(struct wire_builder *b, uint16_t type)
{
	explicit_bzero(b->buf, b->len);	/* it may have held a secret */
	b->type = type;
	b->nfields = 0;
	b->err = ERR_OK;
	put16(b->buf + WIRE_HDR_LEN, type);
	b->len = WIRE_HDR_LEN + 2;
	put32(b->buf, (uint32_t)(b->len - WIRE_HDR_LEN));
}

void
wire_builder_free(struct wire_builder *b)
{
	if (b == NULL)
		return;
	if (b->buf != NULL)
		explicit_bzero(b->buf, b->len);
	free(b->buf);
	free(b);
}

uint16_t
wire_builder_type(const struct wire_builder *b)
{
	return b->type;
}

static int
put_field(struct wire_builder *b, uint16_t tag, const void *p, size_t len)
{
	size_t i;
	int r = ERR_INTERNAL;

	if (b->err != ERR_OK)
		return b->err;
	for (i = 0; i < b->nfields; i++) {
		if (b->tags[i] == tag) {
			r = ERR_INVAL;
			goto out;
		}
	}
	if (b->nfields == WIRE_MAX_FIELDS ||
	    len > WIRE_MAX_FRAME - b->len ||
	    WIRE_FIELD_HDR_LEN > WIRE_MAX_FRAME - b->len - len) {
		r = ERR_TOOBIG;
		goto out;
	}
	put16(b->buf + b->len, tag);
	put32(b->buf + b->len + 2, (uint32_t)len);
	if (len > 0)
		memcpy(b->buf + b->len + WIRE_FIELD_HDR_LEN, p, len);
	b->len += WIRE_FIELD_HDR_LEN + len;
	b->tags[b->nfields++] = tag;
	put32(b->buf, (uint32_t)(b->len - WIRE_HDR_LEN));
	r = ERR_OK;
 out:
	b->err = r;
	return r;
}

int
wire_put_u8(struct wire_builder *b, uint16_t tag, uint8_t v)
{
	return put_field(b, tag, &v, 1);
}

int
wire_put_u32(struct wire_builder *b, uint16_t tag, uint32_t v)
{
	uint8_t p[4];

	put32(p, v);
	return put_field(b, tag, p, sizeof(p));
}

int
wire_put_u64(struct wire_builder *b, uint16_t tag, uint64_t v)
{
	uint8_t p[8];

	put32(p, (uint32_t)(v >> 32));
	put32(p + 4, (uint32_t)v);
	return put_field(b, tag, p, sizeof(p));
}

int
wire_put_strn(struct wire_builder *b, uint16_t tag, const char *s, size_t len)
{
	if (b->err != ERR_OK)
		return b->err;
	if (!wire_utf8_valid((const uint8_t *)s, len)) {
		b->err = ERR_INVAL;
		return b->err;
	}
	return put_field(b, tag, s, len);
}

int
wire_put_str(struct wire_builder *b, uint16_t tag, const char *s)
{
	return wire_put_strn(b, tag, s, strlen(s));
}

int
wire_put_bytes(struct wire_builder *b, uint16_t tag, const void *p,
    size_t len)
{
	return put_field(b, tag, p, len);
}

int
wire_builder_frame(const struct wire_builder *b, const uint8_t **frame,
    size_t *len)
{
	*frame = NULL;
	*len = 0;
	if (b->err != ERR_OK)
		return b->err;
	*frame = b->buf;
	*len = b->len;
	return ERR_OK;
}
