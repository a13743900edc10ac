/*
 * checkpoint.c - C2SP tlog-checkpoint note bodies.
 *
 * The parser accepts exactly what checkpoint_format writes, so a body that
 * parses formats back to the same bytes: the size without leading zeros,
 * the root as canonical padded base64, every line non-empty.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "audit/checkpoint.h"
#include "common/encoding.h"
#include "audit/note.h"
#include "common/banned.h"

/* 32 bytes of padded base64: 43 characters and one '='. */
#define ROOT_B64_LEN 44
_Static_assert(sodium_base64_ENCODED_LEN(MERKLE_HASH_LEN,
    sodium_base64_VARIANT_ORIGINAL) == ROOT_B64_LEN + 1, "root base64 length");

static int
parse_root(const char *s, size_t len, uint8_t root[MERKLE_HASH_LEN])
{
	size_t bin_len = 0;

	if (len != ROOT_B64_LEN ||
	    enc_base64_decode(s, len, root, MERKLE_HASH_LEN, &bin_len) != ERR_OK ||
	    bin_len != MERKLE_HASH_LEN)
		return ERR_FORMAT;
	return ERR_OK;
}

/* Finds the line at *pos in text[0..len); ERR_FORMAT if it has no "\n". */
static int
next_line(const char *text, size_t len, size_t *pos, const char **line,
    size_t *line_len)
{
	const char *eol;

	if (*pos >= len ||
	    (eol = memchr(text + *pos, '\n', len - *pos)) == NULL)
		return ERR_FORMAT;
	*line = text + *pos;
	*line_len = (size_t)(eol - *line);
	*pos += *line_len + 1;
	return ERR_OK;
}

int
checkpoint_parse(const char *text, size_t len, struct checkpoint *out)
{
	struct checkpoint c;
	const char *line;
	size_t pos = 0, line_len, ext_start;
	int r = ERR_INTERNAL;

	memset(&c, 0, sizeof(c));
	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (text == NULL || out == NULL) {
		r = ERR_INVAL;
		goto out;
	}
	if (len > CHECKPOINT_MAX_LEN) {
		r = ERR_TOOBIG;
		goto out;
	}
	/* The body is note text: UTF-8, no controls but "\n", ends in "\n". */
	if (note_text_check(text, len) != ERR_OK) {
		r = ERR_FORMAT;
		goto out;
	}

	if ((r = next_line(text, len, &pos, &line, &line_len)) != ERR_OK)
		goto out;
	if (line_len == 0) {
		r = ERR_FORMAT;
		goto out;
	}
	if ((c.origin = strndup(line, line_len)) == NULL) {
		r = ERR_NOMEM;
		goto out;
	}
	if ((r = next_line(text, len, &pos, &line, &line_len)) != ERR_OK ||
	    (r = enc_u64_parse(line, line_len, &c.size)) != ERR_OK)
		goto out;
	if ((r = next_line(text, len, &pos, &line, &line_len)) != ERR_OK ||
	    (r = parse_root(line, line_len, c.root)) != ERR_OK)
		goto out;

	ext_start = pos;
	while (pos < len) {
		if ((r = next_line(text, len, &pos, &line, &line_len)) !=
		    ERR_OK)
			goto out;
		if (line_len == 0) {
			r = ERR_FORMAT;
			goto out;
		}
	}
	if (ext_start < len &&
	    (c.extensions = strndup(text + ext_start, len - ext_start)) ==
	    NULL) {
		r = ERR_NOMEM;
		goto out;
	}

	*out = c;
	memset(&c, 0, sizeof(c));
	r = ERR_OK;
 out:
	checkpoint_release(&c);
	return r;
}

void
checkpoint_release(struct checkpoint *c)
{
	if (c == NULL)
		return;
	free(c->origin);
	free(c->extensions);
	c->origin = NULL;
	c->extensions = NULL;
}

int
checkpoint_format(const struct checkpoint *c, char **out, size_t *len)
{
	struct checkpoint check;
	char *buf = NULL, size_str[21];
	size_t origin_len, ext_len, total, off, i;
	uint64_t v;
	int r = ERR_INTERNAL;

	memset(&check, 0, sizeof(check));
	if (out != NULL)
		*out = NULL;
	if (len != NULL)
		*len = 0;
	if (c == NULL || c->origin == NULL || out == NULL || len == NULL) {
		r = ERR_INVAL;
		goto out;
	}
	origin_len = strlen(c->origin);
	if (origin_len == 0 || memchr(c->origin, '\n', origin_len) != NULL) {
		r = ERR_INVAL;
		goto out;
	}
	ext_len = c->extensions != NULL ? strlen(c->extensions) : 0;
	if (origin_len > CHECKPOINT_MAX_LEN || ext_len > CHECKPOINT_MAX_LEN) {
		r = ERR_TOOBIG;
		goto out;
	}

	/* The size's digits, written backwards from the end of size_str. */
	i = sizeof(size_str);
	v = c->size;
	do {
		size_str[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0);

	total = origin_len + 1 + (sizeof(size_str) - i) + 1 + ROOT_B64_LEN +
	    1 + ext_len;
	if (total > CHECKPOINT_MAX_LEN) {
		r = ERR_TOOBIG;
		goto out;
	}
	if ((buf = malloc(total + 1)) == NULL) {
		r = ERR_NOMEM;
		goto out;
	}
	memcpy(buf, c->origin, origin_len);
	off = origin_len;
	buf[off++] = '\n';
	memcpy(buf + off, size_str + i, sizeof(size_str) - i);
	off += sizeof(size_str) - i;
	buf[off++] = '\n';
	sodium_bin2base64(buf + off, ROOT_B64_LEN + 1, c->root,
	    MERKLE_HASH_LEN, sodium_base64_VARIANT_ORIGINAL);
	off += ROOT_B64_LEN;
	buf[off++] = '\n';
	if (ext_len > 0)
		memcpy(buf + off, c->extensions, ext_len);
	off += ext_len;
	buf[off] = '\0';

	/*
	 * Never emit what checkpoint_parse would refuse: an empty extension
	 * line, one without its "\n", or bytes that are not note text. With
	 * the origin a single line, the parse finds the same fields.
	 */
	if ((r = checkpoint_parse(buf, off, &check)) != ERR_OK) {
		if (r == ERR_FORMAT)
			r = ERR_INVAL;
		goto out;
	}
	*out = buf;
	buf = NULL;
	*len = off;
	r = ERR_OK;
 out:
	checkpoint_release(&check);
	free(buf);
	return r;
}
