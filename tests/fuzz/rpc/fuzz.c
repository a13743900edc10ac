/*
 * fuzz.c - libFuzzer harness for the monitor's request parser: the frame
 * length, the field decoder, the dispatch check against a request table
 * and the typed getters.
 *
 * Whatever decodes must encode back to the same bytes (the encoding is
 * canonical), whatever passes the table check must answer every typed
 * getter of its spec, and every refusal must be one of the documented
 * codes. Any other outcome aborts.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/wire.h"
#include "gateway/rpc.h"
#include "common/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
h_none(struct rpc_conn *conn, const struct wire_msg *req,
    struct wire_builder *resp)
{
	(void)conn;
	(void)req;
	(void)resp;
	return ERR_OK;
}

static const struct wire_field_spec login_fields[] = {
	{ 4, WIRE_STR, WIRE_REQUIRED, 64 },
};
static const struct wire_field_spec all_fields[] = {
	{ 5, WIRE_STR, 0, 1000 },
	{ 6, WIRE_BYTES, 0, 60000 },
	{ 7, WIRE_U8, WIRE_REQUIRED, 0 },
	{ 8, WIRE_U32, 0, 0 },
	{ 9, WIRE_U64, 0, 0 },
};
static const uid_t some_uids[] = { 65534, 1000 };

static const struct rpc_request table[] = {
	{ 1, "whoami", RPC_CALLER_ANY, NULL, 0, RPC_STATE_ALL, NULL, 0,
	  h_none },
	{ 2, "rootonly", RPC_CALLER_ROOT, NULL, 0, RPC_STATE_ALL, NULL, 0,
	  h_none },
	{ 3, "login", RPC_CALLER_ANY, NULL, 0, RPC_STATE(0), login_fields, 1,
	  h_none },
	{ 5, "all", RPC_CALLER_SELF, some_uids, 2, RPC_STATE(1), all_fields,
	  5, h_none },
};
#define NTABLE (sizeof(table) / sizeof(table[0]))

static void
check_getters(const struct wire_msg *m, const struct wire_field_spec *specs,
    size_t n)
{
	size_t i, len;

	for (i = 0; i < n; i++) {
		const struct wire_field_spec *s = &specs[i];
		const struct wire_field *f = wire_msg_find(m, s->tag);
		const uint8_t *p;
		const char *str;
		char *dup = NULL;
		uint64_t u64;
		uint32_t u32;
		uint8_t u8;
		int r, want = f != NULL ? ERR_OK : ERR_NOTFOUND;

		if (f == NULL && (s->flags & WIRE_REQUIRED))
			abort();
		switch (s->kind) {
		case WIRE_U8:
			r = wire_get_u8(m, s->tag, &u8);
			break;
		case WIRE_U32:
			r = wire_get_u32(m, s->tag, &u32);
			break;
		case WIRE_U64:
			r = wire_get_u64(m, s->tag, &u64);
			break;
		case WIRE_STR:
			r = wire_get_str(m, s->tag, &str, &len);
			if (r == ERR_OK && (len > s->max_len ||
			    memchr(str, 0, len) != NULL))
				abort();
			if (r == ERR_OK) {
				if (wire_get_strdup(m, s->tag, &dup) != ERR_OK ||
				    strlen(dup) != len)
					abort();
				free(dup);
			}
			break;
		default:
			r = wire_get_bytes(m, s->tag, &p, &len);
			if (r == ERR_OK && len > s->max_len)
				abort();
			break;
		}
		if (r != want)
			abort();
	}
}

static void
check_msg(const uint8_t *frame, size_t frame_len, const struct wire_msg *m)
{
	static const struct rpc_peer peers[] = {
		{ 1, 0, 0, 0, -1 }, { 2, 65534, 65534, 0, -1 }, { 3, 999, 999, 0, -1 },
		{ 4, 1000, 1000, 0, -1 },
	};
	struct wire_builder *b = NULL;
	const uint8_t *out;
	size_t i, len;
	unsigned state;

	if (m->nfields > WIRE_MAX_FIELDS)
		abort();
	/* Canonical: the fields put back in order give the same frame. */
	if (wire_builder_new(m->type, &b) != ERR_OK)
		abort();
	for (i = 0; i < m->nfields; i++) {
		if (wire_put_bytes(b, m->fields[i].tag, m->fields[i].data,
		    m->fields[i].len) != ERR_OK)
			abort();
	}
	if (wire_builder_frame(b, &out, &len) != ERR_OK || len != frame_len ||
	    memcmp(out, frame, len) != 0)
		abort();
	wire_builder_free(b);

	for (i = 0; i < sizeof(peers) / sizeof(peers[0]); i++) {
		for (state = 0; state < 3; state++) {
			const struct rpc_request *row = NULL;
			const char *why = NULL;
			int r = rpc_table_check(table, NTABLE, &peers[i], 999,
			    state, m, &row, &why);

			if (r == ERR_OK) {
				if (row == NULL || row->type != m->type)
					abort();
				check_getters(m, row->fields, row->nfields);
				continue;
			}
			if (row != NULL || why == NULL)
				abort();
			if (r != ERR_UNSUPPORTED && r != ERR_DENIED &&
			    r != ERR_CONFLICT && r != ERR_FORMAT)
				abort();
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wire_msg m;
	size_t body_len;
	int r;

	/* The input as a frame, as the server reads it. */
	if (size >= WIRE_HDR_LEN) {
		r = wire_frame_len(data, &body_len);
		if (r != ERR_OK) {
			if ((r != ERR_TOOBIG && r != ERR_FORMAT) ||
			    body_len != 0)
				abort();
		} else if (body_len <= size - WIRE_HDR_LEN) {
			r = wire_msg_parse(data + WIRE_HDR_LEN, body_len, &m);
			if (r == ERR_OK)
				check_msg(data, WIRE_HDR_LEN + body_len, &m);
			else if ((r != ERR_FORMAT && r != ERR_TOOBIG) ||
			    m.nfields != 0)
				abort();
		}
	}
	/* The input as a body of any length. */
	r = wire_msg_parse(data, size, &m);
	if (r != ERR_OK && ((r != ERR_FORMAT && r != ERR_TOOBIG) ||
	    m.nfields != 0))
		abort();
	if (r == ERR_OK && size > WIRE_MAX_BODY)
		abort();
	return 0;
}
