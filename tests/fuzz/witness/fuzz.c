/*
 * fuzz.c - libFuzzer harness for the tlog-witness: witness_request_parse
 * and the whole witness_add_checkpoint decision on a witness in a
 * temporary directory.
 *
 * The witness knows one log, whose key comes from a fixed seed so that the
 * seed corpus (made by gen_corpus.c) carries valid signatures and proofs
 * and reaches every branch. Before each input the log's stored checkpoint
 * is reset to size STORED_SIZE, so each input is judged on its own.
 *
 * Checked for every input: parsing either fails cleanly or round-trips
 * byte for byte; the decision is one of the spec's status codes with a
 * newline-terminated body; a 409 names the stored size; a 200 carries a
 * cosignature that verifies on the submitted checkpoint, and the stored
 * size never goes down. Anything else aborts.
 */
#include <ftw.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "audit/checkpoint.h"
#include "audit/merkle.h"
#include "audit/note.h"
#include "audit/witness.h"
#include "common/fsutil.h"
#include "common/sha256.h"
#include "common/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ORIGIN "fuzz.bulwark.invalid/log"
#define FUZZ_WITNESS "fuzz.bulwark.invalid/witness"
#define FUZZ_LEAVES 64
#define STORED_SIZE 5

static struct note_signer *log_signer;
static struct witness *w;
static char *wvkey;
static char top[64], state_path[PATH_MAX], refused_path[PATH_MAX];
static char *stored;
static size_t stored_len;
static uint8_t leaves[FUZZ_LEAVES][MERKLE_HASH_LEN];

/* Leaf i of the fuzz log; a fork rewrites the leaves from fork_at on. */
static void
make_leaves(uint8_t out[FUZZ_LEAVES][MERKLE_HASH_LEN], unsigned fork_at)
{
	for (unsigned i = 0; i < FUZZ_LEAVES; i++) {
		char data[48];

		snprintf(data, sizeof(data), "fuzz entry %u%s", i,
		    i >= fork_at ? " (forked)" : "");
		merkle_leaf_hash(data, strlen(data), out[i]);
	}
}

static int
fuzz_node(void *ctx, unsigned level, uint64_t index,
    uint8_t out[MERKLE_HASH_LEN])
{
	uint8_t (*l)[MERKLE_HASH_LEN] = ctx;
	uint8_t a[MERKLE_HASH_LEN], b[MERKLE_HASH_LEN];

	if (level == 0) {
		if (index >= FUZZ_LEAVES)
			return ERR_RANGE;
		memcpy(out, l[index], MERKLE_HASH_LEN);
		return ERR_OK;
	}
	if (fuzz_node(ctx, level - 1, 2 * index, a) != ERR_OK ||
	    fuzz_node(ctx, level - 1, 2 * index + 1, b) != ERR_OK)
		return ERR_RANGE;
	merkle_node_hash(a, b, out);
	return ERR_OK;
}

static struct note_signer *
signer_from_byte(const char *name, int alg, uint8_t b)
{
	struct note_signer *s = NULL;
	uint8_t seed[32];

	memset(seed, b, sizeof(seed));
	if (note_signer_from_seed(name, alg, seed, &s) != ERR_OK)
		abort();
	return s;
}

/* A signed checkpoint for the first size leaves of l (malloc'd). */
static char *
signed_checkpoint(uint8_t l[FUZZ_LEAVES][MERKLE_HASH_LEN], const char *origin,
    uint64_t size, const char *ext, const struct note_signer *s, size_t *len)
{
	const struct note_signer *signers[1] = { s };
	struct checkpoint cp;
	char *text = NULL, *note = NULL;
	size_t text_len;

	memset(&cp, 0, sizeof(cp));
	cp.origin = (char *)origin;
	cp.size = size;
	cp.extensions = (char *)ext;
	if (size == 0)
		merkle_empty_root(cp.root);
	else if (merkle_root(size, fuzz_node, l, cp.root) != ERR_OK)
		abort();
	if (checkpoint_format(&cp, &text, &text_len) != ERR_OK ||
	    note_sign(text, text_len, signers, 1, &note, len) != ERR_OK)
		abort();
	free(text);
	return note;
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
teardown(void)
{
	witness_free(w);
	note_signer_free(log_signer);
	free(wvkey);
	free(stored);
	if (top[0] != '\0')
		nftw(top, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static void
setup(void)
{
	char wdir[96], hex[65], *vkey = NULL;
	uint8_t h[SHA256_LEN];

	if (sodium_init() < 0)
		abort();
	make_leaves(leaves, FUZZ_LEAVES);
	log_signer = signer_from_byte(FUZZ_ORIGIN, NOTE_ALG_ED25519, 0x17);
	if (note_signer_vkey(log_signer, &vkey) != ERR_OK)
		abort();
	snprintf(top, sizeof(top), "/tmp/fuzz_witness.XXXXXX");
	if (mkdtemp(top) == NULL)
		abort();
	atexit(teardown);
	snprintf(wdir, sizeof(wdir), "%s/w", top);
	if (witness_init(wdir, FUZZ_WITNESS, &wvkey) != ERR_OK ||
	    witness_add_log(wdir, FUZZ_ORIGIN, vkey) != ERR_OK ||
	    witness_open(wdir, &w) != ERR_OK)
		abort();
	witness_set_quiet(w, 1);
	free(vkey);
	sha256(FUZZ_ORIGIN, strlen(FUZZ_ORIGIN), h);
	sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
	snprintf(state_path, sizeof(state_path), "%s/logs/%s/checkpoint", wdir,
	    hex);
	snprintf(refused_path, sizeof(refused_path), "%s/logs/%s/refused", wdir,
	    hex);
	stored = signed_checkpoint(leaves, FUZZ_ORIGIN, STORED_SIZE, NULL,
	    log_signer, &stored_len);
}

static void
check_parse(const uint8_t *data, size_t size, struct witness_request *req,
    int *parsed)
{
	char *again = NULL;
	size_t again_len = 0;
	int r;

	r = witness_request_parse((const char *)data, size, req);
	*parsed = r == ERR_OK;
	if (r != ERR_OK) {
		if (r != ERR_FORMAT && r != ERR_TOOBIG)
			abort();
		return;
	}
	if (req->nproof > WITNESS_MAX_PROOF || req->note_len == 0 ||
	    req->note < (const char *)data ||
	    req->note + req->note_len != (const char *)data + size)
		abort();
	/* Only canonical encodings parse, so formatting gives the input back. */
	if (witness_request_format(req->old_size,
	    (const uint8_t (*)[MERKLE_HASH_LEN])req->proof, req->nproof,
	    req->note, req->note_len, &again, &again_len) != ERR_OK ||
	    again_len != size || memcmp(again, data, size) != 0)
		abort();
	free(again);
}

static uint64_t
stored_size(void)
{
	struct checkpoint cp;
	struct note *n = NULL;
	char *buf = NULL;
	size_t len = 0;
	uint64_t sz;

	if (fs_read_file(state_path, NOTE_MAX_LEN, &buf, &len) != ERR_OK ||
	    note_parse(buf, len, &n) != ERR_OK ||
	    checkpoint_parse(n->text, n->text_len, &cp) != ERR_OK)
		abort();
	sz = cp.size;
	checkpoint_release(&cp);
	note_free(n);
	free(buf);
	return sz;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct witness_request req;
	struct note *n = NULL;
	char *resp = NULL;
	size_t resp_len = 0;
	int status = 0, parsed = 0;

	if (w == NULL)
		setup();
	check_parse(data, size, &req, &parsed);

	/* A fresh state: the witness has cosigned size STORED_SIZE. */
	if (fs_write_atomic(state_path, stored, stored_len, 0644,
	    FS_NOSYNC) != ERR_OK)
		abort();
	unlink(refused_path);

	if (witness_add_checkpoint(w, (const char *)data, size, &status, &resp,
	    &resp_len) != ERR_OK)
		abort();
	if (resp == NULL || resp_len == 0 || resp[resp_len - 1] != '\n')
		abort();
	switch (status) {
	case 200:
		if (!parsed || req.old_size != STORED_SIZE ||
		    note_parse(req.note, req.note_len, &n) != ERR_OK ||
		    witness_cosignature_verify(wvkey, n->text, n->text_len,
		    resp, resp_len, NULL) != ERR_OK ||
		    stored_size() < STORED_SIZE)
			abort();
		break;
	case 409:
		if (!parsed || resp_len != 2 || memcmp(resp, "5\n", 2) != 0)
			abort();
		break;
	case 400:
		break;
	case 403:
	case 404:
	case 422:
		if (!parsed || stored_size() != STORED_SIZE)
			abort();
		break;
	case 413:
		if (size <= WITNESS_MAX_BODY)
			abort();
		break;
	default:
		abort();
	}
	if (!parsed && status != 400 && status != 413)
		abort();
	note_free(n);
	free(resp);
	return 0;
}
