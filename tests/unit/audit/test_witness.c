/*
 * test_witness.c - the tlog-witness core and its HTTP shell.
 *
 * Each test builds real logs in memory (leaf hashes, Merkle roots and
 * consistency proofs from merkle.c, checkpoints from checkpoint.c, Ed25519
 * signatures from note.c) and submits them to a witness in a fresh
 * temporary directory, checking every status code tlog-witness defines and
 * that the stored state only ever moves forward.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <ftw.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "audit/checkpoint.h"
#include "audit/merkle.h"
#include "audit/note.h"
#include "audit/witness.h"
#include "common/fsutil.h"
#include "common/sha256.h"
#include "common/banned.h"

#define EM "\xe2\x80\x94"
#define ORIGIN "bulwark.example/audit"
#define WNAME "witness.example/vault1"
#define MAX_LEAVES 64

/* A log held in memory: its leaves and the key that signs it. */
struct tlog {
	const char *origin;
	uint8_t leaves[MAX_LEAVES][MERKLE_HASH_LEN];
	struct note_signer *signer;
	char *vkey;
};

/* Per-test fixture. */
struct fx {
	char dir[64];
	char *wvkey;
	struct witness *w;
	struct tlog log;
};

/* Leaf i of a log; forks at fork_at take different contents from there. */
static void
tlog_init(struct tlog *l, const char *origin, const char *keyname,
    unsigned fork_at)
{
	char *skey = NULL;

	memset(l, 0, sizeof(*l));
	l->origin = origin;
	for (unsigned i = 0; i < MAX_LEAVES; i++) {
		char data[64];

		snprintf(data, sizeof(data), "entry %u%s", i,
		    i >= fork_at ? " (rewritten)" : "");
		merkle_leaf_hash(data, strlen(data), l->leaves[i]);
	}
	assert_int_equal(note_keygen(keyname, NOTE_ALG_ED25519, &skey,
	    &l->vkey), ERR_OK);
	assert_int_equal(note_signer_from_skey(skey, &l->signer), ERR_OK);
	note_key_free_secret(skey);
}

/* The same leaves as src, signed by the same key: a fork from fork_at. */
static void
tlog_fork(struct tlog *dst, const struct tlog *src, unsigned fork_at)
{
	*dst = *src;
	for (unsigned i = fork_at; i < MAX_LEAVES; i++) {
		char data[64];

		snprintf(data, sizeof(data), "entry %u (rewritten)", i);
		merkle_leaf_hash(data, strlen(data), dst->leaves[i]);
	}
	dst->signer = NULL;	/* borrowed from src; not freed twice */
	dst->vkey = NULL;
}

static void
tlog_release(struct tlog *l)
{
	note_signer_free(l->signer);
	free(l->vkey);
}

static int
leaf_node(void *ctx, unsigned level, uint64_t index,
    uint8_t out[MERKLE_HASH_LEN])
{
	const struct tlog *l = ctx;
	uint8_t a[MERKLE_HASH_LEN], b[MERKLE_HASH_LEN];

	if (level == 0) {
		if (index >= MAX_LEAVES)
			return ERR_RANGE;
		memcpy(out, l->leaves[index], MERKLE_HASH_LEN);
		return ERR_OK;
	}
	if (leaf_node(ctx, level - 1, 2 * index, a) != ERR_OK ||
	    leaf_node(ctx, level - 1, 2 * index + 1, b) != ERR_OK)
		return ERR_RANGE;
	merkle_node_hash(a, b, out);
	return ERR_OK;
}

static void
tlog_root(const struct tlog *l, uint64_t size, uint8_t root[MERKLE_HASH_LEN])
{
	if (size == 0) {
		merkle_empty_root(root);
		return;
	}
	assert_int_equal(merkle_root(size, leaf_node, (void *)l, root), ERR_OK);
}

/* The checkpoint text of size leaves, with any root. */
static char *
checkpoint_text_root(const char *origin, uint64_t size,
    const uint8_t root[MERKLE_HASH_LEN], size_t *len)
{
	struct checkpoint cp;
	char *text = NULL;

	memset(&cp, 0, sizeof(cp));
	cp.origin = (char *)origin;
	cp.size = size;
	memcpy(cp.root, root, MERKLE_HASH_LEN);
	assert_int_equal(checkpoint_format(&cp, &text, len), ERR_OK);
	return text;
}

static char *
sign_text(const struct note_signer *s, const char *text, size_t len,
    size_t *out_len)
{
	const struct note_signer *signers[1] = { s };
	char *note = NULL;

	assert_int_equal(note_sign(text, len, signers, 1, &note, out_len),
	    ERR_OK);
	return note;
}

/* A signed checkpoint of the first size leaves of l, signed by s. */
static char *
signed_checkpoint(const struct tlog *l, const struct note_signer *s,
    uint64_t size, size_t *len)
{
	uint8_t root[MERKLE_HASH_LEN];
	size_t text_len;
	char *text, *note;

	tlog_root(l, size, root);
	text = checkpoint_text_root(l->origin, size, root, &text_len);
	note = sign_text(s, text, text_len, len);
	free(text);
	return note;
}

/* An add-checkpoint body from old to size, with a real proof. */
static char *
request(const struct tlog *l, const struct note_signer *s, uint64_t old,
    uint64_t size, size_t *len)
{
	uint8_t proof[MERKLE_MAX_PROOF][MERKLE_HASH_LEN];
	size_t nproof = 0, note_len;
	char *note, *body;

	if (old > 0 && old <= size)
		assert_int_equal(merkle_prove_consistency(old, size, leaf_node,
		    (void *)l, proof, &nproof), ERR_OK);
	note = signed_checkpoint(l, s, size, &note_len);
	assert_int_equal(witness_request_format(old,
	    (const uint8_t (*)[MERKLE_HASH_LEN])proof, nproof, note, note_len,
	    &body, len), ERR_OK);
	free(note);
	return body;
}

/* Submits body and checks the status; returns the response (caller frees). */
static char *
submit(struct witness *w, const char *body, size_t len, int want,
    size_t *resp_len)
{
	char *resp = NULL;
	size_t rl = 0;
	int status = 0;

	assert_int_equal(witness_add_checkpoint(w, body, len, &status, &resp,
	    &rl), ERR_OK);
	if (status != want)
		fprintf(stderr, "status %d, want %d: %.*s", status, want,
		    (int)rl, resp);
	assert_int_equal(status, want);
	assert_non_null(resp);
	assert_true(rl > 0 && resp[rl - 1] == '\n');
	if (resp_len != NULL)
		*resp_len = rl;
	return resp;
}

static void
submit_expect(struct fx *f, const struct tlog *l, uint64_t old, uint64_t size,
    int want)
{
	size_t len;
	char *body = request(l, l->signer != NULL ? l->signer : f->log.signer,
	    old, size, &len);

	free(submit(f->w, body, len, want, NULL));
	free(body);
}

/* The stored checkpoint's size (0 when none). */
static uint64_t
stored_size(const char *dir, const char *origin)
{
	struct checkpoint cp;
	struct note *n = NULL;
	char *note = NULL;
	size_t len = 0;
	uint64_t size;

	assert_int_equal(witness_latest(dir, origin, &note, &len, NULL), ERR_OK);
	if (note == NULL)
		return 0;
	assert_int_equal(note_parse(note, len, &n), ERR_OK);
	assert_int_equal(checkpoint_parse(n->text, n->text_len, &cp), ERR_OK);
	size = cp.size;
	checkpoint_release(&cp);
	note_free(n);
	free(note);
	return size;
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char top[32];

	assert_non_null(f);
	snprintf(top, sizeof(top), "/tmp/test_witness.XXXXXX");
	assert_non_null(mkdtemp(top));
	/* A directory that does not exist yet: init creates it. */
	snprintf(f->dir, sizeof(f->dir), "%s/w", top);
	assert_int_equal(witness_init(f->dir, WNAME, &f->wvkey), ERR_OK);
	tlog_init(&f->log, ORIGIN, ORIGIN, MAX_LEAVES);
	assert_int_equal(witness_add_log(f->dir, ORIGIN, f->log.vkey), ERR_OK);
	assert_int_equal(witness_open(f->dir, &f->w), ERR_OK);
	witness_set_quiet(f->w, 1);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	char top[64];

	witness_free(f->w);
	tlog_release(&f->log);
	free(f->wvkey);
	snprintf(top, sizeof(top), "%s", f->dir);
	*strrchr(top, '/') = '\0';
	nftw(top, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* Verifies a 200 response as a log would: a cosignature on the text. */
static void
check_cosignature(const struct fx *f, const struct tlog *l, uint64_t size,
    const char *resp, size_t resp_len)
{
	uint8_t root[MERKLE_HASH_LEN];
	uint64_t ts = 0;
	size_t text_len;
	char *text;

	tlog_root(l, size, root);
	text = checkpoint_text_root(l->origin, size, root, &text_len);
	assert_int_equal(strncmp(resp, EM " " WNAME " ", strlen(EM " " WNAME " ")),
	    0);
	assert_int_equal(witness_cosignature_verify(f->wvkey, text, text_len,
	    resp, resp_len, &ts), ERR_OK);
	/* "The cosignature MUST NOT omit the timestamp". */
	assert_true(ts > 0);
	assert_true(ts <= (uint64_t)time(NULL) + 1);
	assert_true(ts + 60 >= (uint64_t)time(NULL));
	/* Another witness's key finds no cosignature of its own. */
	{
		char *sk = NULL, *vk = NULL;

		assert_int_equal(note_keygen(WNAME, NOTE_ALG_COSIGNATURE_V1,
		    &sk, &vk), ERR_OK);
		assert_int_not_equal(witness_cosignature_verify(vk, text,
		    text_len, resp, resp_len, NULL), ERR_OK);
		note_key_free_secret(sk);
		free(vk);
	}
	free(text);
}

static void
test_init_files(void **state)
{
	struct fx *f = *state;
	char path[128], *vkey = NULL;
	struct stat st;

	assert_string_equal(witness_vkey(f->w), f->wvkey);
	assert_string_equal(witness_name(f->w), WNAME);
	assert_int_equal(witness_read_vkey(f->dir, &vkey), ERR_OK);
	assert_string_equal(vkey, f->wvkey);
	free(vkey);
	snprintf(path, sizeof(path), "%s/witness.key", f->dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* A second init, or one while the witness runs, is refused. */
	assert_int_equal(witness_init(f->dir, WNAME, &vkey), ERR_LOCKED);
	witness_free(f->w);
	f->w = NULL;
	assert_int_equal(witness_init(f->dir, "other.example/w", &vkey),
	    ERR_EXISTS);
	assert_null(vkey);
	/* Bad names never reach the key file. */
	assert_int_equal(witness_init("/tmp/never-made", "bad name", &vkey),
	    ERR_FORMAT);
	assert_int_equal(witness_init("/tmp/never-made", "", &vkey), ERR_FORMAT);
	/* A key file others can read is refused. */
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(witness_open(f->dir, &f->w), ERR_DENIED);
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(witness_open(f->dir, &f->w), ERR_OK);
	witness_set_quiet(f->w, 1);
}

static void
test_lock(void **state)
{
	struct fx *f = *state;
	struct witness *w2 = NULL;

	/* One witness process per directory. */
	assert_int_equal(witness_open(f->dir, &w2), ERR_LOCKED);
	assert_null(w2);
	witness_free(f->w);
	assert_int_equal(witness_open(f->dir, &f->w), ERR_OK);
	witness_set_quiet(f->w, 1);
	assert_int_equal(witness_open("/nonexistent/witness", &w2),
	    ERR_NOTFOUND);
}

static void
test_add_log(void **state)
{
	struct fx *f = *state;
	struct tlog other;
	char **origins = NULL, *note = NULL;
	size_t n = 0, len = 0;

	tlog_init(&other, "other.example/log", "other.example/log", MAX_LEAVES);
	assert_int_equal(witness_add_log(f->dir, ORIGIN, other.vkey),
	    ERR_EXISTS);
	assert_int_equal(witness_add_log(f->dir, "bad\norigin", other.vkey),
	    ERR_FORMAT);
	assert_int_equal(witness_add_log(f->dir, "", other.vkey), ERR_FORMAT);
	assert_int_not_equal(witness_add_log(f->dir, "x", "not a key"), ERR_OK);
	/* A witness key is not a log key. */
	assert_int_equal(witness_add_log(f->dir, "x", f->wvkey),
	    ERR_UNSUPPORTED);
	assert_int_equal(witness_add_log("/nonexistent/w", "x", other.vkey),
	    ERR_NOTFOUND);
	assert_int_equal(witness_add_log(f->dir, other.origin, other.vkey),
	    ERR_OK);
	assert_int_equal(witness_origins(f->dir, &origins, &n), ERR_OK);
	assert_int_equal(n, 2);
	assert_string_equal(origins[0], ORIGIN);
	assert_string_equal(origins[1], "other.example/log");
	witness_origins_free(origins, n);
	/* Known but never cosigned: OK and nothing; unknown: NOTFOUND. */
	assert_int_equal(witness_latest(f->dir, other.origin, &note, &len,
	    NULL), ERR_OK);
	assert_null(note);
	assert_int_equal(witness_latest(f->dir, "nope", &note, &len, NULL),
	    ERR_NOTFOUND);
	tlog_release(&other);
}

static void
test_first_checkpoint(void **state)
{
	struct fx *f = *state;
	struct note_verifier *lv = NULL, *wv = NULL;
	struct note *n = NULL;
	char *body, *resp, *stored = NULL;
	size_t len, resp_len, stored_len;
	uint64_t ts = 0;

	body = request(&f->log, f->log.signer, 0, 5, &len);
	resp = submit(f->w, body, len, 200, &resp_len);
	check_cosignature(f, &f->log, 5, resp, resp_len);
	assert_int_equal(stored_size(f->dir, ORIGIN), 5);

	/*
	 * The stored note carries the log's signature and the cosignature,
	 * as the monitoring API serves it.
	 */
	assert_int_equal(witness_latest(f->dir, ORIGIN, &stored, &stored_len,
	    NULL), ERR_OK);
	assert_int_equal(note_parse(stored, stored_len, &n), ERR_OK);
	assert_int_equal(n->nsigs, 2);
	assert_int_equal(note_verifier_from_vkey(f->log.vkey, &lv), ERR_OK);
	assert_int_equal(note_verifier_from_vkey(f->wvkey, &wv), ERR_OK);
	assert_int_equal(note_verify(n, lv, NULL), ERR_OK);
	assert_int_equal(note_verify(n, wv, &ts), ERR_OK);
	assert_true(ts > 0);
	note_free(n);
	n = NULL;
	free(stored);

	/* The same through the monitoring lookup by origin hash. */
	{
		uint8_t h[SHA256_LEN];
		char hex[65], *by = NULL;
		size_t by_len = 0;

		sha256(ORIGIN, strlen(ORIGIN), h);
		sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
		assert_int_equal(witness_checkpoint_by_hash(f->w, hex, &by,
		    &by_len), ERR_OK);
		assert_int_equal(note_parse(by, by_len, &n), ERR_OK);
		assert_int_equal(note_verify(n, wv, NULL), ERR_OK);
		note_free(n);
		free(by);
		hex[0] = hex[0] == 'a' ? 'b' : 'a';
		assert_int_equal(witness_checkpoint_by_hash(f->w, hex, &by,
		    &by_len), ERR_NOTFOUND);
		assert_int_equal(witness_checkpoint_by_hash(f->w, "../../etc",
		    &by, &by_len), ERR_FORMAT);
	}
	note_verifier_free(lv);
	note_verifier_free(wv);
	free(resp);
	free(body);
}

static void
test_growth(void **state)
{
	struct fx *f = *state;
	char *body, *resp;
	size_t len, resp_len;
	const uint64_t sizes[] = { 1, 2, 3, 7, 8, 13, 32, 33, 64 };
	uint64_t old = 0;

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		body = request(&f->log, f->log.signer, old, sizes[i], &len);
		resp = submit(f->w, body, len, 200, &resp_len);
		check_cosignature(f, &f->log, sizes[i], resp, resp_len);
		assert_int_equal(stored_size(f->dir, ORIGIN), sizes[i]);
		free(resp);
		free(body);
		old = sizes[i];
	}
}

static void
test_same_checkpoint_again(void **state)
{
	struct fx *f = *state;

	submit_expect(f, &f->log, 0, 9, 200);
	/* Re-cosigning the checkpoint the witness holds is fine. */
	submit_expect(f, &f->log, 9, 9, 200);
	assert_int_equal(stored_size(f->dir, ORIGIN), 9);
}

static void
test_stale_old_size(void **state)
{
	struct fx *f = *state;
	char *body, *resp;
	size_t len, resp_len;
	uint64_t size = 0;

	submit_expect(f, &f->log, 0, 12, 200);
	/* A log that lost track asks with old 0 and learns the size. */
	body = request(&f->log, f->log.signer, 0, 20, &len);
	resp = submit(f->w, body, len, 409, &resp_len);
	assert_int_equal(resp_len, 3);
	assert_memory_equal(resp, "12\n", 3);
	assert_int_equal(witness_parse_size(resp, resp_len, &size), ERR_OK);
	assert_int_equal(size, 12);
	free(resp);
	free(body);
	/* An old size ahead of the witness is a conflict too. */
	body = request(&f->log, f->log.signer, 15, 20, &len);
	resp = submit(f->w, body, len, 409, &resp_len);
	assert_memory_equal(resp, "12\n", 3);
	free(resp);
	free(body);
	/* A smaller checkpoint than the stored one is never accepted. */
	submit_expect(f, &f->log, 5, 10, 409);
	submit_expect(f, &f->log, 10, 10, 409);
	assert_int_equal(stored_size(f->dir, ORIGIN), 12);
	/* With the right old size it goes through. */
	submit_expect(f, &f->log, 12, 20, 200);
	assert_int_equal(stored_size(f->dir, ORIGIN), 20);
}

static void
test_bad_proof(void **state)
{
	struct fx *f = *state;
	struct witness_request req;
	char *body, *bad, *resp;
	size_t len, bad_len;
	int refused = 0;

	submit_expect(f, &f->log, 0, 10, 200);
	body = request(&f->log, f->log.signer, 10, 27, &len);
	assert_int_equal(witness_request_parse(body, len, &req), ERR_OK);
	assert_true(req.nproof > 1);

	/* Flip one bit of each proof hash in turn. */
	for (size_t i = 0; i < req.nproof; i++) {
		struct witness_request r2 = req;

		r2.proof[i][7] ^= 0x10;
		assert_int_equal(witness_request_format(r2.old_size,
		    (const uint8_t (*)[MERKLE_HASH_LEN])r2.proof, r2.nproof,
		    r2.note, r2.note_len, &bad, &bad_len), ERR_OK);
		free(submit(f->w, bad, bad_len, 422, NULL));
		free(bad);
	}
	/* A truncated proof and an extra hash. */
	assert_int_equal(witness_request_format(req.old_size,
	    (const uint8_t (*)[MERKLE_HASH_LEN])req.proof, req.nproof - 1,
	    req.note, req.note_len, &bad, &bad_len), ERR_OK);
	free(submit(f->w, bad, bad_len, 422, NULL));
	free(bad);
	{
		struct witness_request r3 = req;

		memcpy(r3.proof[r3.nproof], r3.proof[0], MERKLE_HASH_LEN);
		r3.nproof++;
		assert_int_equal(witness_request_format(r3.old_size,
		    (const uint8_t (*)[MERKLE_HASH_LEN])r3.proof, r3.nproof,
		    r3.note, r3.note_len, &bad, &bad_len), ERR_OK);
		free(submit(f->w, bad, bad_len, 422, NULL));
		free(bad);
	}
	/* Nothing moved; the refusal is kept as evidence. */
	assert_int_equal(stored_size(f->dir, ORIGIN), 10);
	assert_int_equal(witness_latest(f->dir, ORIGIN, &resp, &len, &refused),
	    ERR_OK);
	assert_int_equal(refused, 1);
	free(resp);
	/* The good proof still works. */
	free(submit(f->w, body, strlen(body), 200, NULL));
	assert_int_equal(stored_size(f->dir, ORIGIN), 27);
	free(body);
}

static void
test_nonempty_proof_from_zero(void **state)
{
	struct fx *f = *state;
	uint8_t proof[1][MERKLE_HASH_LEN] = { { 1 } };
	size_t note_len, len;
	char *note, *body;

	/* "If the old size is zero, the consistency proof MUST be empty". */
	note = signed_checkpoint(&f->log, f->log.signer, 4, &note_len);
	assert_int_equal(witness_request_format(0,
	    (const uint8_t (*)[MERKLE_HASH_LEN])proof, 1, note, note_len,
	    &body, &len), ERR_OK);
	free(submit(f->w, body, len, 422, NULL));
	assert_int_equal(stored_size(f->dir, ORIGIN), 0);
	free(body);
	free(note);
}

static void
test_size_zero(void **state)
{
	struct fx *f = *state;
	uint8_t root[MERKLE_HASH_LEN];
	size_t text_len, note_len, len;
	char *text, *note, *body;

	/* A size-0 checkpoint must carry the empty tree's root. */
	memset(root, 0x5a, sizeof(root));
	text = checkpoint_text_root(ORIGIN, 0, root, &text_len);
	note = sign_text(f->log.signer, text, text_len, &note_len);
	assert_int_equal(witness_request_format(0, NULL, 0, note, note_len,
	    &body, &len), ERR_OK);
	free(submit(f->w, body, len, 422, NULL));
	free(body);
	free(note);
	free(text);
	submit_expect(f, &f->log, 0, 0, 200);
	submit_expect(f, &f->log, 0, 3, 200);
	assert_int_equal(stored_size(f->dir, ORIGIN), 3);
}

static void
test_wrong_key(void **state)
{
	struct fx *f = *state;
	struct tlog impostor, unrelated;
	char *note, *body, *mangled;
	size_t note_len, len;

	/* Same name as the log's key, different key: 403. */
	tlog_init(&impostor, ORIGIN, ORIGIN, MAX_LEAVES);
	submit_expect(f, &impostor, 0, 5, 403);
	/* Signed by some other key only: 403. */
	tlog_init(&unrelated, ORIGIN, "someone.else/key", MAX_LEAVES);
	submit_expect(f, &unrelated, 0, 5, 403);
	/*
	 * A line with the log key's name and key hash but a bad signature
	 * makes the note malformed (signed-note): 403, even next to a
	 * good one.
	 */
	note = signed_checkpoint(&f->log, f->log.signer, 5, &note_len);
	mangled = malloc(2 * note_len);
	assert_non_null(mangled);
	{
		const char *sig = strstr(note, "\n\n" EM " ");
		size_t text_end, line_len, pos;

		assert_non_null(sig);
		text_end = (size_t)(sig - note) + 2;
		line_len = note_len - text_end;
		memcpy(mangled, note, note_len);
		memcpy(mangled + note_len, note + text_end, line_len);
		/* Break the first copy: change a base64 digit mid-signature. */
		pos = note_len - 10;
		mangled[pos] = mangled[pos] == 'A' ? 'B' : 'A';
		assert_int_equal(witness_request_format(0, NULL, 0, mangled,
		    note_len + line_len, &body, &len), ERR_OK);
	}
	free(submit(f->w, body, len, 403, NULL));
	free(body);
	free(mangled);
	free(note);
	/* Unknown signatures next to the log's are ignored. */
	{
		const struct note_signer *both[2] = { unrelated.signer,
		    f->log.signer };
		uint8_t root[MERKLE_HASH_LEN];
		size_t text_len;
		char *text;

		tlog_root(&f->log, 5, root);
		text = checkpoint_text_root(ORIGIN, 5, root, &text_len);
		assert_int_equal(note_sign(text, text_len, both, 2, &note,
		    &note_len), ERR_OK);
		assert_int_equal(witness_request_format(0, NULL, 0, note,
		    note_len, &body, &len), ERR_OK);
		free(submit(f->w, body, len, 200, NULL));
		free(body);
		free(note);
		free(text);
	}
	assert_int_equal(stored_size(f->dir, ORIGIN), 5);
	tlog_release(&impostor);
	tlog_release(&unrelated);
}

static void
test_unknown_origin(void **state)
{
	struct fx *f = *state;
	struct tlog stranger;

	tlog_init(&stranger, "stranger.example/log", "stranger.example/log",
	    MAX_LEAVES);
	submit_expect(f, &stranger, 0, 5, 404);
	tlog_release(&stranger);
}

static void
test_old_larger_than_size(void **state)
{
	struct fx *f = *state;
	size_t note_len, len;
	char *note, *body;

	submit_expect(f, &f->log, 0, 10, 200);
	/* "The old size MUST be equal to or lower than the checkpoint size". */
	note = signed_checkpoint(&f->log, f->log.signer, 8, &note_len);
	assert_int_equal(witness_request_format(10, NULL, 0, note, note_len,
	    &body, &len), ERR_OK);
	free(submit(f->w, body, len, 400, NULL));
	assert_int_equal(stored_size(f->dir, ORIGIN), 10);
	free(body);
	free(note);
}

static void
test_garbage(void **state)
{
	struct fx *f = *state;
	size_t note_len;
	char *note = signed_checkpoint(&f->log, f->log.signer, 3, &note_len);
	char buf[8192];
	const char *prefixes[] = {
		"",			/* nothing */
		"old 0",		/* no newline */
		"old 0\n",		/* no blank line */
		"new 0\n\n",		/* wrong keyword */
		"old  0\n\n",		/* two spaces */
		"old 00\n\n",		/* leading zero */
		"old 01\n\n",
		"old -1\n\n",
		"old +1\n\n",
		"old 0x1\n\n",
		"old 18446744073709551616\n\n",	/* 2^64 */
		"old 1\nAAAA\n\n",	/* short hash */
		"old 1\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!=\n\n",
		/* 44 digits, but the last carries stray bits (non-canonical) */
		"old 1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=\n\n",
		"old 1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\n",
		"OLD 0\n\n",
		"old 0\r\n\r\n",
	};

	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		int n = snprintf(buf, sizeof(buf), "%s%s", prefixes[i], note);

		assert_true(n > 0 && (size_t)n < sizeof(buf));
		free(submit(f->w, buf, (size_t)n, 400, NULL));
	}
	/* A good header with a malformed note or checkpoint. */
	{
		const char *bodies[] = {
			"old 0\n\n",
			"old 0\n\nnot a note",
			"old 0\n\nbulwark.example/audit\n3\nAAAA\n\n" EM " x AAAA\n",
			"old 0\n\nbulwark.example/audit\n3\n\n",
		};

		for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++)
			free(submit(f->w, bodies[i], strlen(bodies[i]), 400,
			    NULL));
	}
	/* A NUL byte inside. */
	{
		int n = snprintf(buf, sizeof(buf), "old 0\n\n%s", note);

		buf[10] = '\0';
		free(submit(f->w, buf, (size_t)n, 400, NULL));
	}
	/* 64 proof lines are one too many. */
	{
		size_t off = (size_t)snprintf(buf, sizeof(buf), "old 1\n");

		for (int i = 0; i < WITNESS_MAX_PROOF + 1; i++) {
			memcpy(buf + off,
			    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n", 45);
			off += 45;
		}
		buf[off++] = '\n';
		memcpy(buf + off, note, note_len);
		off += note_len;
		free(submit(f->w, buf, off, 400, NULL));
	}
	assert_int_equal(stored_size(f->dir, ORIGIN), 0);
	free(note);
}

static void
test_too_big(void **state)
{
	struct fx *f = *state;
	char *big = malloc(WITNESS_MAX_BODY + 1);

	assert_non_null(big);
	memset(big, 'a', WITNESS_MAX_BODY + 1);
	free(submit(f->w, big, WITNESS_MAX_BODY + 1, 413, NULL));
	free(big);
}

static void
test_fork_refused(void **state)
{
	struct fx *f = *state;
	struct tlog forked;
	char *before = NULL, *after = NULL;
	size_t before_len, after_len;
	int refused = 0;

	submit_expect(f, &f->log, 0, 16, 200);
	assert_int_equal(witness_latest(f->dir, ORIGIN, &before, &before_len,
	    &refused), ERR_OK);
	assert_int_equal(refused, 0);

	/*
	 * The log is rewritten from leaf 9 and signed with its real key (a
	 * stolen key, or the gateway rewriting history): every attempt to
	 * get it cosigned must fail.
	 */
	tlog_fork(&forked, &f->log, 9);
	forked.signer = f->log.signer;
	/* Same size, different root. */
	submit_expect(f, &forked, 16, 16, 422);
	/* Growing from the size the witness holds, with a proof from the fork. */
	submit_expect(f, &forked, 16, 20, 422);
	/* Pretending to start afresh, or shrinking, gets 409. */
	submit_expect(f, &forked, 0, 20, 409);
	submit_expect(f, &forked, 0, 8, 409);
	/* A truncation to a size below the witness's. */
	submit_expect(f, &forked, 16, 9, 400);

	assert_int_equal(witness_latest(f->dir, ORIGIN, &after, &after_len,
	    &refused), ERR_OK);
	assert_int_equal(refused, 1);
	assert_int_equal(before_len, after_len);
	assert_memory_equal(before, after, before_len);
	free(before);
	free(after);
	/* The honest log carries on. */
	submit_expect(f, &f->log, 16, 30, 200);
	forked.signer = NULL;
}

static void
test_persisted(void **state)
{
	struct fx *f = *state;

	submit_expect(f, &f->log, 0, 11, 200);
	witness_free(f->w);
	assert_int_equal(witness_open(f->dir, &f->w), ERR_OK);
	witness_set_quiet(f->w, 1);
	assert_string_equal(witness_vkey(f->w), f->wvkey);
	/* The reopened witness remembers size 11. */
	submit_expect(f, &f->log, 0, 12, 409);
	submit_expect(f, &f->log, 11, 12, 200);
	assert_int_equal(stored_size(f->dir, ORIGIN), 12);
}

static void
test_corrupt_state(void **state)
{
	struct fx *f = *state;
	uint8_t h[SHA256_LEN];
	char path[256], hex[65], *body, *resp = NULL;
	size_t len, resp_len = 0;
	int status = 0;

	submit_expect(f, &f->log, 0, 4, 200);
	sha256(ORIGIN, strlen(ORIGIN), h);
	sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
	snprintf(path, sizeof(path), "%s/logs/%s/checkpoint", f->dir, hex);
	assert_int_equal(fs_write_atomic(path, "junk\n", 5, 0644, 0), ERR_OK);
	/* A witness that cannot read its state cosigns nothing. */
	body = request(&f->log, f->log.signer, 4, 6, &len);
	assert_int_not_equal(witness_add_checkpoint(f->w, body, len, &status,
	    &resp, &resp_len), ERR_OK);
	assert_int_equal(status, 500);
	assert_null(resp);
	free(body);
}

static void
test_request_roundtrip(void **state)
{
	uint8_t proof[3][MERKLE_HASH_LEN];
	struct witness_request req;
	char *body = NULL;
	size_t len = 0;
	uint64_t size = 0;

	(void)state;
	for (int i = 0; i < 3; i++)
		memset(proof[i], 0x11 * (i + 1), MERKLE_HASH_LEN);
	assert_int_equal(witness_request_format(20852014,
	    (const uint8_t (*)[MERKLE_HASH_LEN])proof, 3, "n\n\n" EM " x y\n",
	    strlen("n\n\n" EM " x y\n"), &body, &len), ERR_OK);
	assert_int_equal(strncmp(body, "old 20852014\n", 13), 0);
	assert_int_equal(witness_request_parse(body, len, &req), ERR_OK);
	assert_int_equal(req.old_size, 20852014);
	assert_int_equal(req.nproof, 3);
	assert_memory_equal(req.proof, proof, sizeof(proof));
	assert_int_equal(req.note_len, strlen("n\n\n" EM " x y\n"));
	assert_memory_equal(req.note, "n\n\n" EM " x y\n", req.note_len);
	free(body);
	/* The spec's example body parses. */
	{
		static const char ex[] =
		    "old 20852014\n"
		    "PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n"
		    "jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=\n"
		    "5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=\n"
		    "/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=\n"
		    "\n"
		    "example.com/behind-the-sofa\n"
		    "20852163\n"
		    "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
		    "\n"
		    EM " example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n";

		assert_int_equal(witness_request_parse(ex, sizeof(ex) - 1, &req),
		    ERR_OK);
		assert_int_equal(req.old_size, 20852014);
		assert_int_equal(req.nproof, 4);
		assert_int_equal(strncmp(req.note, "example.com/", 12), 0);
	}
	assert_int_equal(witness_parse_size("12\n", 3, &size), ERR_OK);
	assert_int_equal(size, 12);
	assert_int_equal(witness_parse_size("0\n", 2, &size), ERR_OK);
	assert_int_equal(witness_parse_size("012\n", 4, &size), ERR_FORMAT);
	assert_int_equal(witness_parse_size("12", 2, &size), ERR_FORMAT);
	assert_int_equal(witness_parse_size("\n", 1, &size), ERR_FORMAT);
	assert_int_equal(witness_parse_size("1 2\n", 4, &size), ERR_FORMAT);
	assert_int_equal(witness_request_format(0, NULL, 64, "x\n", 2, &body,
	    &len), ERR_TOOBIG);
}

/* Racing requests: exactly one of several identical growths wins. */
struct race {
	struct witness *w;
	const char *body;
	size_t len;
	int status;
};

static void *
race_thread(void *arg)
{
	struct race *r = arg;
	char *resp = NULL;
	size_t rl = 0;

	if (witness_add_checkpoint(r->w, r->body, r->len, &r->status, &resp,
	    &rl) != ERR_OK)
		r->status = -1;
	free(resp);
	return NULL;
}

static void
test_race(void **state)
{
	struct fx *f = *state;
	struct race races[8];
	pthread_t th[8];
	char *small, *large;
	size_t small_len, large_len;
	int ok = 0;

	submit_expect(f, &f->log, 0, 10, 200);
	/*
	 * Half grow 10 -> 20 and half 10 -> 40: whichever is first wins and
	 * every other gets 409, so the stored size never goes back.
	 */
	small = request(&f->log, f->log.signer, 10, 20, &small_len);
	large = request(&f->log, f->log.signer, 10, 40, &large_len);
	for (int i = 0; i < 8; i++) {
		races[i].w = f->w;
		races[i].body = i % 2 ? large : small;
		races[i].len = i % 2 ? large_len : small_len;
		races[i].status = 0;
		assert_int_equal(pthread_create(&th[i], NULL, race_thread,
		    &races[i]), 0);
	}
	for (int i = 0; i < 8; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		if (races[i].status == 200)
			ok++;
		else
			assert_int_equal(races[i].status, 409);
	}
	/* All said old 10: after the first, the witness holds more. */
	assert_int_equal(ok, 1);
	assert_true(stored_size(f->dir, ORIGIN) == 20 ||
	    stored_size(f->dir, ORIGIN) == 40);
	free(small);
	free(large);
}

/* The HTTP server and the libcurl client against each other. */
static void
test_http(void **state)
{
	struct fx *f = *state;
	struct witness_server *s = NULL;
	uint8_t proof[MERKLE_MAX_PROOF][MERKLE_HASH_LEN];
	char url[64], *note, *resp = NULL;
	size_t note_len, resp_len = 0, nproof = 0;
	uint64_t size = 0;
	int status = 0;

	assert_int_equal(witness_server_start(f->w, "127.0.0.1", 0, &s), ERR_OK);
	assert_true(witness_server_port(s) > 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/",
	    witness_server_port(s));

	note = signed_checkpoint(&f->log, f->log.signer, 6, &note_len);
	assert_int_equal(witness_client_add_checkpoint(url, 0, NULL, 0, note,
	    note_len, &status, &resp, &resp_len), ERR_OK);
	assert_int_equal(status, 200);
	check_cosignature(f, &f->log, 6, resp, resp_len);
	free(resp);
	/* Again with old 0: 409 and the size. */
	assert_int_equal(witness_client_add_checkpoint(url, 0, NULL, 0, note,
	    note_len, &status, &resp, &resp_len), ERR_OK);
	assert_int_equal(status, 409);
	assert_int_equal(witness_parse_size(resp, resp_len, &size), ERR_OK);
	assert_int_equal(size, 6);
	free(resp);
	free(note);
	/* Growth with a proof. */
	assert_int_equal(merkle_prove_consistency(6, 19, leaf_node, &f->log,
	    proof, &nproof), ERR_OK);
	note = signed_checkpoint(&f->log, f->log.signer, 19, &note_len);
	assert_int_equal(witness_client_add_checkpoint(url, 6,
	    (const uint8_t (*)[MERKLE_HASH_LEN])proof, nproof, note, note_len,
	    &status, &resp, &resp_len), ERR_OK);
	assert_int_equal(status, 200);
	check_cosignature(f, &f->log, 19, resp, resp_len);
	free(resp);
	free(note);
	assert_int_equal(stored_size(f->dir, ORIGIN), 19);

	/* Only http and https; nothing listening is a network error. */
	assert_int_equal(witness_client_add_checkpoint("ftp://127.0.0.1/", 0,
	    NULL, 0, "x\n", 2, &status, &resp, &resp_len), ERR_INVAL);
	assert_int_equal(witness_client_add_checkpoint("file:///etc/passwd", 0,
	    NULL, 0, "x\n", 2, &status, &resp, &resp_len), ERR_INVAL);
	assert_int_equal(witness_client_add_checkpoint("127.0.0.1:1", 0,
	    NULL, 0, "x\n", 2, &status, &resp, &resp_len), ERR_INVAL);
	witness_server_stop(s);
	assert_int_equal(witness_client_add_checkpoint(url, 0, NULL, 0,
	    "x\n", 2, &status, &resp, &resp_len), ERR_NETWORK);
	assert_null(resp);
}

static void
test_parse_listen(void **state)
{
	char *addr = NULL;
	unsigned port = 0;

	(void)state;
	assert_int_equal(witness_parse_listen("127.0.0.1:7380", &addr, &port),
	    ERR_OK);
	assert_string_equal(addr, "127.0.0.1");
	assert_int_equal(port, 7380);
	free(addr);
	assert_int_equal(witness_parse_listen("[::1]:80", &addr, &port), ERR_OK);
	assert_string_equal(addr, "::1");
	assert_int_equal(port, 80);
	free(addr);
	assert_int_equal(witness_parse_listen("::1:80", &addr, &port),
	    ERR_FORMAT);
	assert_int_equal(witness_parse_listen("host", &addr, &port), ERR_FORMAT);
	assert_int_equal(witness_parse_listen(":80", &addr, &port), ERR_FORMAT);
	assert_int_equal(witness_parse_listen("h:", &addr, &port), ERR_FORMAT);
	assert_int_equal(witness_parse_listen("h:65536", &addr, &port),
	    ERR_RANGE);
	assert_int_equal(witness_parse_listen("h:8o", &addr, &port), ERR_FORMAT);
	assert_null(addr);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_init_files),
		T(test_lock),
		T(test_add_log),
		T(test_first_checkpoint),
		T(test_growth),
		T(test_same_checkpoint_again),
		T(test_stale_old_size),
		T(test_bad_proof),
		T(test_nonempty_proof_from_zero),
		T(test_size_zero),
		T(test_wrong_key),
		T(test_unknown_origin),
		T(test_old_larger_than_size),
		T(test_garbage),
		T(test_too_big),
		T(test_fork_refused),
		T(test_persisted),
		T(test_corrupt_state),
		T(test_race),
		T(test_http),
		cmocka_unit_test(test_request_roundtrip),
		cmocka_unit_test(test_parse_listen),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
