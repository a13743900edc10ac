/*
 * wire.h - framing and typed fields of the monitor's RPC messages.
 *
 * A message on the wire is
 *
 *	u32 length		big-endian; counts what follows (type and
 *				fields), 2 .. WIRE_MAX_BODY
 *	u16 type
 *	fields, each		u16 tag, u32 len, len bytes (big-endian)
 *
 * Each tag appears at most once. What a field holds is fixed per request
 * type by a table of struct wire_field_spec: integers are fixed-width
 * big-endian, strings are valid UTF-8 without NUL, bytes are opaque. A
 * message is checked against its table before any handler sees it, so
 * the typed getters below only fail on a caller's bug.
 *
 * Ownership: a parsed struct wire_msg borrows the bytes it was parsed
 * from and allocates nothing; it is valid while those bytes are. A
 * struct wire_builder owns its buffer; wire_builder_free() releases it.
 */
#ifndef BULWARK_COMMON_WIRE_H
#define BULWARK_COMMON_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define WIRE_HDR_LEN		4	/* the u32 length prefix */
#define WIRE_MAX_BODY		(64 * 1024)	/* type + fields */
#define WIRE_MAX_FRAME		(WIRE_HDR_LEN + WIRE_MAX_BODY)
#define WIRE_FIELD_HDR_LEN	6	/* u16 tag, u32 len */
#define WIRE_MAX_FIELDS		32	/* per message */

/* One decoded field: a view into the parsed bytes. */
struct wire_field {
	uint16_t tag;
	uint32_t len;
	const uint8_t *data;
};

/* A decoded message. Fields appear in wire order. */
struct wire_msg {
	uint16_t type;
	size_t nfields;
	struct wire_field fields[WIRE_MAX_FIELDS];
};

enum wire_kind {
	WIRE_U8 = 1,	/* exactly 1 byte */
	WIRE_U32,	/* exactly 4 bytes, big-endian */
	WIRE_U64,	/* exactly 8 bytes, big-endian */
	WIRE_STR,	/* UTF-8 without NUL, at most max_len bytes */
	WIRE_BYTES,	/* anything, at most max_len bytes */
};

#define WIRE_REQUIRED	0x01	/* the field must be present */

/* What one tag of one message type may hold. */
struct wire_field_spec {
	uint16_t tag;
	uint8_t kind;		/* enum wire_kind */
	uint8_t flags;		/* WIRE_REQUIRED or 0 */
	uint32_t max_len;	/* WIRE_STR and WIRE_BYTES only */
};

/*
 * Reads the length prefix hdr[0..4) of a frame into *body_len. ERR_TOOBIG
 * if it exceeds WIRE_MAX_BODY, ERR_FORMAT if it is too short to hold a
 * type. *body_len is 0 on error.
 */
int wire_frame_len(const uint8_t hdr[WIRE_HDR_LEN], size_t *body_len) WUR;

/*
 * Decodes body[0..len) (the bytes after the length prefix) into *msg,
 * which then borrows body. ERR_FORMAT on a truncated or overlong field,
 * trailing bytes or a repeated tag; ERR_TOOBIG on more than
 * WIRE_MAX_FIELDS fields or a body over WIRE_MAX_BODY. *msg is emptied on
 * error.
 */
int wire_msg_parse(const uint8_t *body, size_t len, struct wire_msg *msg) WUR;

/*
 * Checks msg against specs[0..nspecs): every tag must be listed, have the
 * listed kind, and every WIRE_REQUIRED tag must be present. ERR_FORMAT
 * otherwise; *why (if not NULL) gets a static reason for the log.
 */
int wire_msg_check(const struct wire_msg *msg,
    const struct wire_field_spec *specs, size_t nspecs, const char **why) WUR;

/*
 * Strict UTF-8 (no overlong forms, surrogates or code points above
 * U+10FFFF) without NUL bytes: 1 if s[0..len) is that, else 0.
 */
int wire_utf8_valid(const uint8_t *s, size_t len);

/*
 * Typed getters. ERR_NOTFOUND when the tag is absent, ERR_FORMAT when its
 * length or contents do not fit the kind; outputs are zeroed on error.
 * wire_get_str gives a view (not NUL-terminated); wire_get_strdup a
 * malloc'd NUL-terminated copy the caller frees.
 */
const struct wire_field *wire_msg_find(const struct wire_msg *msg,
    uint16_t tag);
int wire_get_u8(const struct wire_msg *msg, uint16_t tag, uint8_t *v) WUR;
int wire_get_u32(const struct wire_msg *msg, uint16_t tag, uint32_t *v) WUR;
int wire_get_u64(const struct wire_msg *msg, uint16_t tag, uint64_t *v) WUR;
int wire_get_str(const struct wire_msg *msg, uint16_t tag, const char **s,
    size_t *len) WUR;
int wire_get_strdup(const struct wire_msg *msg, uint16_t tag, char **s) WUR;
int wire_get_bytes(const struct wire_msg *msg, uint16_t tag,
    const uint8_t **p, size_t *len) WUR;

/*
 * Builds one message, length prefix included, never larger than
 * WIRE_MAX_FRAME. The put functions refuse (ERR_INVAL) a tag already put
 * and a string that is not valid UTF-8 or holds NUL, and ERR_TOOBIG past
 * the size or field limits; after any error the builder refuses every
 * further put and wire_builder_frame fails, so callers may check once at
 * the end.
 */
struct wire_builder;

int wire_builder_new(uint16_t type, struct wire_builder **out) WUR;
/* Starts a new message of type in b, keeping its allocation. */
void wire_builder_reset(struct wire_builder *b, uint16_t type);
void wire_builder_free(struct wire_builder *b);
int wire_put_u8(struct wire_builder *b, uint16_t tag, uint8_t v) WUR;
int wire_put_u32(struct wire_builder *b, uint16_t tag, uint32_t v) WUR;
int wire_put_u64(struct wire_builder *b, uint16_t tag, uint64_t v) WUR;
int wire_put_str(struct wire_builder *b, uint16_t tag, const char *s) WUR;
int wire_put_strn(struct wire_builder *b, uint16_t tag, const char *s,
    size_t len) WUR;
int wire_put_bytes(struct wire_builder *b, uint16_t tag, const void *p,
    size_t len) WUR;
/* The message type the builder was started with. */
uint16_t wire_builder_type(const struct wire_builder *b);
/*
 * The finished frame: *frame borrows b's buffer (valid until the next put,
 * reset or free), *len counts the length prefix too. Returns the first
 * error any put met, if one did.
 */
int wire_builder_frame(const struct wire_builder *b, const uint8_t **frame,
    size_t *len) WUR;

#endif
