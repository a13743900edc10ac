/*
 * fuzz.c - libFuzzer harness for checkpoint_parse and checkpoint_format.
 *
 * Whatever parses must format back to the same bytes, and, signed as a
 * note by a fixed key, parse and verify to the same checkpoint. Any other
 * outcome aborts.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audit/checkpoint.h"
#include "audit/note.h"
#include "common/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct note_signer *signer;
static struct note_verifier *verifier;

static void
setup(void)
{
	uint8_t seed[32];
	char *vkey = NULL;

	memset(seed, 0x24, sizeof(seed));
	if (note_signer_from_seed("fuzz.example/log", NOTE_ALG_ED25519, seed,
	    &signer) != ERR_OK || note_signer_vkey(signer, &vkey) != ERR_OK ||
	    note_verifier_from_vkey(vkey, &verifier) != ERR_OK)
		abort();
	free(vkey);
}

static int
same(const struct checkpoint *a, const struct checkpoint *b)
{
	if (strcmp(a->origin, b->origin) != 0 || a->size != b->size ||
	    memcmp(a->root, b->root, MERKLE_HASH_LEN) != 0)
		return 0;
	if (a->extensions == NULL || b->extensions == NULL)
		return a->extensions == b->extensions;
	return strcmp(a->extensions, b->extensions) == 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct note_signer *list[1];
	struct checkpoint c, c2;
	struct note *n = NULL;
	char *body = NULL, *msg = NULL;
	size_t body_len = 0, msg_len = 0;
	int r;

	if (signer == NULL)
		setup();

	r = checkpoint_parse((const char *)data, size, &c);
	if (r != ERR_OK) {
		if (c.origin != NULL || c.extensions != NULL ||
		    (r != ERR_FORMAT && r != ERR_TOOBIG))
			abort();
		return 0;
	}
	if (c.origin == NULL || c.origin[0] == '\0' ||
	    (c.extensions != NULL && c.extensions[0] == '\0'))
		abort();

	if (checkpoint_format(&c, &body, &body_len) != ERR_OK ||
	    body_len != size || memcmp(body, data, size) != 0)
		abort();

	list[0] = signer;
	if (note_sign(body, body_len, list, 1, &msg, &msg_len) != ERR_OK ||
	    note_parse(msg, msg_len, &n) != ERR_OK ||
	    note_verify(n, verifier, NULL) != ERR_OK ||
	    checkpoint_parse(n->text, n->text_len, &c2) != ERR_OK)
		abort();
	if (!same(&c, &c2))
		abort();

	checkpoint_release(&c2);
	checkpoint_release(&c);
	note_free(n);
	free(msg);
	free(body);
	return 0;
}
