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

/*
 * Parses a body; ERR_FORMAT with nothing allocated when it is malformed
 * (anything but the lines above, each ending in "\n"; text that is not
 * note text, see note_text_check; a root that is not canonical base64 of
 * 32 bytes; a size over 2^64 - 1), ERR_TOOBIG over CHECKPOINT_MAX_LEN.
 * *out is zeroed on entry; on success the caller releases it. The origin
 * may be any non-empty line (the spec only recommends a URL-like name).
 */
int checkpoint_parse(const char *text, size_t len, struct checkpoint *out) WUR;
/* Frees the strings inside c (not c itself) and sets them to NULL. */
void checkpoint_release(struct checkpoint *c);
/*
 * The body of c, malloc'd and NUL-terminated; *len excludes the NUL.
 * ERR_INVAL unless checkpoint_parse would give c back: origin one
 * non-empty line, extensions NULL, "" or non-empty lines each ending in
 * "\n". ERR_TOOBIG over CHECKPOINT_MAX_LEN.
 */
int checkpoint_format(const struct checkpoint *c, char **out, size_t *len) WUR;

#endif
