/*
 * fuzz.c - libFuzzer harness for note_parse, note_format and note_verify.
 *
 * Whatever parses must format back to the same bytes, verify against every
 * fixed key with one of the three documented answers, and take a fresh
 * cosignature that then verifies. Any other outcome aborts.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audit/checkpoint.h"
#include "audit/note.h"
#include "common/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Keys the seed corpus is signed with, and a cosigner of our own. */
static const char *const vkeys[] = {
	"example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
	"PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
	"EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop",
	"remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2",
};
#define NVKEYS (sizeof(vkeys) / sizeof(vkeys[0]))

static struct note_verifier *verifiers[NVKEYS + 1];
static struct note_signer *cosigner;

static void
setup(void)
{
	uint8_t seed[32];
	char *vkey = NULL;
	size_t i;

	memset(seed, 0x42, sizeof(seed));
	if (note_signer_from_seed("fuzz.example/witness",
	    NOTE_ALG_COSIGNATURE_V1, seed, &cosigner) != ERR_OK ||
	    note_signer_vkey(cosigner, &vkey) != ERR_OK)
		abort();
	for (i = 0; i < NVKEYS; i++) {
		if (note_verifier_from_vkey(vkeys[i], &verifiers[i]) != ERR_OK)
			abort();
	}
	if (note_verifier_from_vkey(vkey, &verifiers[NVKEYS]) != ERR_OK)
		abort();
	free(vkey);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct note *n = NULL, *n2 = NULL;
	struct checkpoint c;
	char *out = NULL, *line = NULL, *msg = NULL, *body = NULL;
	size_t out_len = 0, line_len, body_len, i;
	uint64_t ts, own_ts;
	int r, own;

	if (cosigner == NULL)
		setup();

	r = note_parse((const char *)data, size, &n);
	if (r != ERR_OK) {
		if (n != NULL || (r != ERR_FORMAT && r != ERR_TOOBIG))
			abort();
		return 0;
	}
	if (n->nsigs == 0 || n->nsigs > NOTE_MAX_SIGS ||
	    note_text_check(n->text, n->text_len) != ERR_OK)
		abort();

	/* Canonical encodings make the round trip exact. */
	if (note_format(n, &out, &out_len) != ERR_OK || out_len != size ||
	    memcmp(out, data, size) != 0)
		abort();

	for (i = 0; i < NVKEYS + 1; i++) {
		r = note_verify(n, verifiers[i], &ts);
		if (r != ERR_OK && r != ERR_NOTFOUND && r != ERR_SIGNATURE)
			abort();
		if (r != ERR_OK && ts != 0)
			abort();
	}
	/* What our own key made of the input, before it signs too. */
	own = r;
	own_ts = ts;

	/* Cosign the text, append the line, and check it verifies. */
	if (note_signature_line(cosigner, n->text, n->text_len, 1700000000,
	    &line) != ERR_OK)
		abort();
	line_len = strlen(line);
	if ((msg = malloc(size + line_len)) == NULL)
		abort();
	memcpy(msg, data, size);
	memcpy(msg + size, line, line_len);
	r = note_parse(msg, size + line_len, &n2);
	if (r == ERR_OK) {
		/*
		 * The new line verifies; lines the input already had under
		 * our name and key hash decide as before.
		 */
		r = note_verify(n2, verifiers[NVKEYS], &ts);
		if (own == ERR_NOTFOUND) {
			if (r != ERR_OK || ts != 1700000000)
				abort();
		} else if (r != own || ts != own_ts)
			abort();
	} else if (r != ERR_TOOBIG && r != ERR_FORMAT)
		abort();
	else if (r == ERR_FORMAT && n->nsigs < NOTE_MAX_SIGS)
		abort();

	/* A checkpoint body formats back to itself. */
	if (checkpoint_parse(n->text, n->text_len, &c) == ERR_OK) {
		if (checkpoint_format(&c, &body, &body_len) != ERR_OK ||
		    body_len != n->text_len ||
		    memcmp(body, n->text, body_len) != 0)
			abort();
		checkpoint_release(&c);
	}

	free(body);
	free(msg);
	free(line);
	free(out);
	note_free(n2);
	note_free(n);
	return 0;
}
