/*
 * gen_corpus.c - writes the seed corpus of the witness harness: requests
 * signed with the harness's fixed log key, one for each answer the witness
 * can give. Not built by CMake; to regenerate, from the source tree with a
 * build in build/:
 *
 *   cc -std=c17 -D_GNU_SOURCE -Isrc tests/fuzz/witness/gen_corpus.c \
 *       build/libbulwarkcore.a $(pkg-config --libs libsodium libcrypto \
 *       jansson libmicrohttpd libcurl) -lpthread -o /tmp/gen_corpus
 *   /tmp/gen_corpus tests/fuzz/witness/corpus
 */
#include "fuzz.c"

static const char *outdir;

static void
put(const char *name, const char *data, size_t len)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", outdir, name);
	if ((f = fopen(path, "wb")) == NULL || fwrite(data, 1, len, f) != len ||
	    fclose(f) != 0)
		abort();
}

/* A request from old to size over leaves l, signed by s. */
static void
put_request(const char *name, uint8_t l[FUZZ_LEAVES][MERKLE_HASH_LEN],
    const char *origin, uint64_t old, uint64_t size, const char *ext,
    const struct note_signer *s, int flip_proof)
{
	uint8_t proof[MERKLE_MAX_PROOF][MERKLE_HASH_LEN];
	size_t nproof = 0, note_len, len;
	char *note, *body;

	if (old > 0 && old <= size &&
	    merkle_prove_consistency(old, size, fuzz_node, l, proof,
	    &nproof) != ERR_OK)
		abort();
	if (flip_proof && nproof > 0)
		proof[nproof - 1][0] ^= 1;
	note = signed_checkpoint(l, origin, size, ext, s, &note_len);
	if (witness_request_format(old, (const uint8_t (*)[MERKLE_HASH_LEN])proof,
	    nproof, note, note_len, &body, &len) != ERR_OK)
		abort();
	put(name, body, len);
	free(body);
	free(note);
}

int
main(int argc, char **argv)
{
	uint8_t forked[FUZZ_LEAVES][MERKLE_HASH_LEN];
	struct note_signer *impostor, *other;
	char buf[8192];
	size_t note_len, off;
	char *note;
	int n;

	if (argc != 2) {
		fprintf(stderr, "usage: gen_corpus DIR\n");
		return 2;
	}
	outdir = argv[1];
	setup();
	make_leaves(forked, 3);
	impostor = signer_from_byte(FUZZ_ORIGIN, NOTE_ALG_ED25519, 0x99);
	other = signer_from_byte("someone.else/key", NOTE_ALG_ED25519, 0x42);

	/* 200 */
	put_request("ok-grow-5-9", leaves, FUZZ_ORIGIN, 5, 9, NULL, log_signer, 0);
	put_request("ok-grow-5-64", leaves, FUZZ_ORIGIN, 5, 64, NULL, log_signer, 0);
	put_request("ok-same-5", leaves, FUZZ_ORIGIN, 5, 5, NULL, log_signer, 0);
	put_request("ok-extension-line", leaves, FUZZ_ORIGIN, 5, 17,
	    "ext line\n", log_signer, 0);
	/* 409 */
	put_request("conflict-old-0", leaves, FUZZ_ORIGIN, 0, 9, NULL, log_signer, 0);
	put_request("conflict-old-3", leaves, FUZZ_ORIGIN, 3, 9, NULL, log_signer, 0);
	/* 422 */
	put_request("bad-proof-5-9", leaves, FUZZ_ORIGIN, 5, 9, NULL, log_signer, 1);
	put_request("fork-same-size", forked, FUZZ_ORIGIN, 5, 5, NULL, log_signer, 0);
	put_request("fork-grow", forked, FUZZ_ORIGIN, 5, 12, NULL, log_signer, 0);
	/* 403, 404 */
	put_request("wrong-key", leaves, FUZZ_ORIGIN, 5, 9, NULL, impostor, 0);
	put_request("other-key-only", leaves, FUZZ_ORIGIN, 5, 9, NULL, other, 0);
	put_request("unknown-origin", leaves, "unknown.example/log", 0, 9, NULL,
	    other, 0);
	/* 400 */
	put_request("old-above-size", leaves, FUZZ_ORIGIN, 5, 4, NULL, log_signer, 0);
	note = signed_checkpoint(leaves, FUZZ_ORIGIN, 9, NULL, log_signer,
	    &note_len);
	n = snprintf(buf, sizeof(buf), "old 05\n\n%s", note);
	put("bad-leading-zero", buf, (size_t)n);
	n = snprintf(buf, sizeof(buf), "old 5\n%s", note);
	put("bad-no-blank-line", buf, (size_t)n);
	n = snprintf(buf, sizeof(buf), "old 5\r\n\r\n%s", note);
	put("bad-crlf", buf, (size_t)n);
	n = snprintf(buf, sizeof(buf),
	    "old 5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=\n\n%s", note);
	put("bad-stray-bits", buf, (size_t)n);
	off = (size_t)snprintf(buf, sizeof(buf), "old 5\n");
	for (int i = 0; i < WITNESS_MAX_PROOF + 1; i++) {
		memcpy(buf + off, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n", 45);
		off += 45;
	}
	buf[off++] = '\n';
	memcpy(buf + off, note, note_len);
	put("bad-64-proof-lines", buf, off + note_len);
	put("bad-empty", "", 0);
	put("bad-header-only", "old 5\n\n", 7);
	n = snprintf(buf, sizeof(buf), "old 5\n\nnot a note at all\n");
	put("bad-note", buf, (size_t)n);
	free(note);
	/* The example body of c2sp.org/tlog-witness: unknown here, 404. */
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
		    "\xe2\x80\x94 example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
		    "\xe2\x80\x94 example.com/behind-the-sofa opLqBQsREYCgu6xQkYQwJr9fo45a62DN9EdmHXnZdXNqlcVGlCum2Wks+49/V6267UEjw6QUXTS5Rovnzv++qbSzm9Q=\n";

		put("spec-example", ex, sizeof(ex) - 1);
	}
	note_signer_free(impostor);
	note_signer_free(other);
	return 0;
}
