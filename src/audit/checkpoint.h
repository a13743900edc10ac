/*
 * checkpoint.h - C2SP tlog-checkpoint bodies.
 *
 *   <origin>\n
 *   <tree size, decimal, no leading zeros>\n
 *   <root hash, standard base64>\n
 *   [extension lines, each non-empty, ending in \n]
 *
 * The body is the text of a signed note (note.h).
 */
#ifndef BULWARK_AUDIT_CHECKPOINT_H
#define BULWARK_AUDIT_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "audit/merkle.h"
#include "common/err.h"

#define CHECKPOINT_MAX_LEN 4096

struct checkpoint {
	char *origin;		/* malloc'd */
	uint64_t size;
	uint8_t root[MERKLE_HASH_LEN];
	char *extensions;	/* malloc'd extension lines, or NULL */
};

/* Parses a body; ERR_FORMAT with nothing allocated when it is malformed. */
int checkpoint_parse(const char *text, size_t len, struct checkpoint *out) WUR;
/* Frees the strings inside c (not c itself). */
void checkpoint_release(struct checkpoint *c);
/* The body of c, malloc'd and NUL-terminated. */
int checkpoint_format(const struct checkpoint *c, char **out, size_t *len) WUR;

#endif
