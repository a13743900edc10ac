/*
 * gen_corpus.c - writes the seed corpus of the receive harness: whole
 * agent sessions, valid ones (packs sealed to the harness's fixed vault
 * key, manifests signed with its fixed host key) and ones that break one
 * rule each. Then it replays every file through the harness, in the
 * order written, and checks that the valid sessions' snapshots were
 * stored. Packs carry a random salt and run key, so every run writes
 * different bytes. Not built by CMake; to regenerate, from the source
 * tree with a build in build/:
 *
 *   cc -std=c17 -D_GNU_SOURCE -Isrc tests/fuzz/receive/gen_corpus.c \
 *       build/libbulwarkcore.a $(pkg-config --libs libsodium libzstd \
 *       jansson libcrypto libmicrohttpd libcurl) -lpthread \
 *       -o /tmp/gen_corpus
 *   rm -rf tests/fuzz/receive/corpus; mkdir tests/fuzz/receive/corpus
 *   /tmp/gen_corpus tests/fuzz/receive/corpus
 */
#include <limits.h>
#include <stdio.h>

#include "fuzz.c"

#define OTHER_VAULT_SEED "bulwark receive fuzz other vault"
#define OTHER_SIGN_SEED "bulwark receive fuzz other host!"

static const char *outdir;

struct out {
	uint8_t *p;
	size_t len, cap;
};

static struct {
	char name[64];
	uint8_t *p;
	size_t len;
} files[64];
static size_t nfiles;

static void
put(struct out *o, const void *p, size_t n)
{
	if (o->len + n > o->cap) {
		size_t nc = (o->len + n) * 2;
		uint8_t *np = realloc(o->p, nc);
		if (np == NULL)
			abort();
		o->p = np;
		o->cap = nc;
	}
	if (n > 0)
		memcpy(o->p + o->len, p, n);
	o->len += n;
}

/* A frame header that says len, whatever follows. */
static void
head(struct out *o, uint8_t type, uint32_t len)
{
	uint8_t h[VP_HEAD_LEN] = { type, (uint8_t)(len >> 24),
	    (uint8_t)(len >> 16), (uint8_t)(len >> 8), (uint8_t)len };

	put(o, h, sizeof(h));
}

static void
frame(struct out *o, uint8_t type, const void *a, size_t alen, const void *b,
    size_t blen)
{
	head(o, type, (uint32_t)(alen + blen));
	put(o, a, alen);
	put(o, b, blen);
}

static void
hello(struct out *o, const char *host)
{
	uint8_t h[5] = { 'B', 'W', 'R', 'P', VP_VERSION };

	frame(o, VP_HELLO, h, sizeof(h), host, strlen(host));
}

static void
bye(struct out *o)
{
	frame(o, VP_BYE, NULL, 0, NULL, 0);
}

/* Keeps the session, to be written and replayed at the end. */
static void
emit(const char *name, struct out *o)
{
	if (nfiles == sizeof(files) / sizeof(files[0]))
		abort();
	snprintf(files[nfiles].name, sizeof(files[nfiles].name), "%s", name);
	files[nfiles].p = o->p;
	files[nfiles].len = o->len;
	nfiles++;
	memset(o, 0, sizeof(*o));
}

struct pack {
	uint8_t *p;
	size_t len;
	char name[PACK_NAME_HEX_LEN + 1];
};

/* A pack sealed to pk: one compressible chunk and one that is not. */
static void
make_pack(const uint8_t pk[PACK_PK_LEN], const char *label, struct pack *out)
{
	struct pack_run *run = NULL;
	struct pack_writer *w = NULL;
	uint8_t id[PACK_ID_LEN], text[600], noise[100];

	for (size_t i = 0; i < sizeof(text); i++)
		text[i] = (uint8_t)"repeated text, "[i % 15];
	memcpy(text, label, strlen(label));
	randombytes_buf(noise, sizeof(noise));
	if (pack_run_new(pk, &run) != ERR_OK ||
	    pack_writer_new(run, &w) != ERR_OK)
		abort();
	crypto_generichash(id, sizeof(id), text, sizeof(text), NULL, 0);
	if (pack_writer_add(w, id, text, sizeof(text)) != ERR_OK)
		abort();
	crypto_generichash(id, sizeof(id), noise, sizeof(noise), NULL, 0);
	if (pack_writer_add(w, id, noise, sizeof(noise)) != ERR_OK ||
	    pack_writer_finish_buf(w, &out->p, &out->len, out->name) != ERR_OK)
		abort();
	pack_writer_free(w);
	pack_run_free(run);
}

static void
pack_frame(struct out *o, const struct pack *p)
{
	frame(o, VP_PACK, p->name, PACK_NAME_HEX_LEN, p->p, p->len);
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* A signed manifest naming packs (sorted here), root in the first. */
static void
manifest_sig(struct out *o, const char *host, uint8_t id_byte,
    const uint8_t vault_pk[PACK_PK_LEN], const uint8_t sk[MANIFEST_SK_LEN],
    const char *const *names, size_t n, int with_extras, int zero_sig)
{
	static char t0[] = "daily", t1[] = "env=prod";
	char *tags[] = { t0, t1 };
	char (*packs)[PACK_NAME_HEX_LEN + 1] = calloc(n, sizeof(*packs));
	struct manifest m;
	uint8_t *mf;
	size_t len;

	if (packs == NULL)
		abort();
	for (size_t i = 0; i < n; i++)
		memcpy(packs[i], names[i], PACK_NAME_HEX_LEN + 1);
	qsort(packs, n, sizeof(*packs), name_cmp);
	memset(&m, 0, sizeof(m));
	m.host = (char *)host;
	memset(m.snapshot_id, id_byte, sizeof(m.snapshot_id));
	m.client_time = 1790000000;
	if (pack_vault_key_id(vault_pk, m.key_id) != ERR_OK)
		abort();
	memset(m.root_id, 0x03, sizeof(m.root_id));
	memcpy(m.root_pack, packs[0], sizeof(m.root_pack));
	m.packs = packs;
	m.npacks = n;
	m.files = 3;
	m.bytes_read = 700;
	m.bytes_stored = 500;
	if (with_extras) {
		m.has_parent = true;
		memset(m.parent_id, 0x01, sizeof(m.parent_id));
		m.tags = tags;
		m.ntags = 2;
		m.client_time = 4102444800ull;	/* 2100: the vault ignores it */
	}
	if (manifest_encode_sign(&m, sk, &mf, &len) != ERR_OK)
		abort();
	/* The harness signs it (see fuzz.c). */
	if (zero_sig)
		memset(mf + len - MANIFEST_SIG_LEN, 0, MANIFEST_SIG_LEN);
	frame(o, VP_SNAP, mf, len, NULL, 0);
	free(mf);
	free(packs);
}

static void
manifest(struct out *o, const char *host, uint8_t id_byte,
    const uint8_t vault_pk[PACK_PK_LEN], const uint8_t sk[MANIFEST_SK_LEN],
    const char *const *names, size_t n, int with_extras)
{
	manifest_sig(o, host, id_byte, vault_pk, sk, names, n, with_extras, 0);
}

/* A manifest with a zero signature, which the harness signs. */
static void
forged(struct out *o, const char *host, uint8_t id_byte,
    const uint8_t vault_pk[PACK_PK_LEN], const char *const *names, size_t n,
    int with_extras)
{
	manifest_sig(o, host, id_byte, vault_pk, fuzz_sign_sk, names, n,
	    with_extras, 1);
}

static void
write_all(void)
{
	for (size_t i = 0; i < nfiles; i++) {
		char path[PATH_MAX];
		FILE *f;

		snprintf(path, sizeof(path), "%s/%s", outdir, files[i].name);
		if ((f = fopen(path, "wb")) == NULL ||
		    fwrite(files[i].p, 1, files[i].len, f) != files[i].len ||
		    fclose(f) != 0)
			abort();
	}
}

/* The valid sessions must have stored their snapshots. */
static void
replay_and_check(void)
{
	struct vault_snapshot *s = NULL;
	size_t n;

	for (size_t i = 0; i < nfiles; i++)
		LLVMFuzzerTestOneInput(files[i].p, files[i].len);
	if (vault_snapshot_list(vault, &s, &n, NULL, NULL) != ERR_OK)
		abort();
	if (n != 5) {
		fprintf(stderr, "gen_corpus: %zu snapshots stored, want 5\n",
		    n);
		abort();
	}
	vault_snapshots_free(s, n);
}

int
main(int argc, char **argv)
{
	uint8_t other_vpk[PACK_PK_LEN], other_vsk[PACK_SK_LEN];
	uint8_t other_spk[MANIFEST_PK_LEN], other_ssk[MANIFEST_SK_LEN];
	struct pack p1, p2, p3, pother;
	struct out o = { 0 };
	char fake[PACK_NAME_HEX_LEN + 1];

	if (argc != 2)
		return 2;
	outdir = argv[1];
	fuzz_keys();
	if (crypto_box_seed_keypair(other_vpk, other_vsk,
	    (const uint8_t *)OTHER_VAULT_SEED) != 0 ||
	    crypto_sign_seed_keypair(other_spk, other_ssk,
	    (const uint8_t *)OTHER_SIGN_SEED) != 0)
		abort();
	make_pack(fuzz_vault_pk, "first pack", &p1);
	make_pack(fuzz_vault_pk, "second pack", &p2);
	make_pack(fuzz_vault_pk, "third pack", &p3);
	make_pack(other_vpk, "another vault's pack", &pother);
	memset(fake, 'c', PACK_NAME_HEX_LEN);
	fake[PACK_NAME_HEX_LEN] = '\0';

	/* Valid sessions. */
	const char *n1[] = { p1.name };
	const char *n23[] = { p2.name, p3.name };
	hello(&o, FUZZ_HOST);
	pack_frame(&o, &p1);
	manifest(&o, FUZZ_HOST, 0x01, fuzz_vault_pk, fuzz_sign_sk, n1, 1, 0);
	bye(&o);
	emit("valid-session", &o);

	hello(&o, FUZZ_HOST);
	pack_frame(&o, &p2);
	pack_frame(&o, &p3);
	manifest(&o, FUZZ_HOST, 0x02, fuzz_vault_pk, fuzz_sign_sk, n23, 2, 1);
	bye(&o);
	emit("valid-two-packs-tags-parent", &o);

	/* A snapshot of packs sent in an earlier session. */
	const char *n12[] = { p1.name, p2.name };
	hello(&o, FUZZ_HOST);
	manifest(&o, FUZZ_HOST, 0x03, fuzz_vault_pk, fuzz_sign_sk, n12, 2, 0);
	bye(&o);
	emit("valid-snapshot-of-earlier-packs", &o);

	hello(&o, FUZZ_HOST);
	pack_frame(&o, &p1);
	pack_frame(&o, &p1);
	bye(&o);
	emit("valid-same-pack-twice", &o);

	hello(&o, FUZZ_HOST);
	bye(&o);
	emit("valid-hello-bye", &o);

	/* The same snapshot again: refused as a duplicate. */
	hello(&o, FUZZ_HOST);
	manifest(&o, FUZZ_HOST, 0x01, fuzz_vault_pk, fuzz_sign_sk, n1, 1, 0);
	bye(&o);
	emit("snap-duplicate", &o);

	/* Packs that are not what they claim. */
	struct pack bad = p1;
	char wrong[PACK_NAME_HEX_LEN + 1];
	memcpy(wrong, p1.name, sizeof(wrong));
	wrong[0] = wrong[0] == '0' ? '1' : '0';
	memcpy(bad.name, wrong, sizeof(wrong));
	hello(&o, FUZZ_HOST);
	pack_frame(&o, &bad);
	bye(&o);
	emit("pack-wrong-name", &o);

	memcpy(bad.name, p1.name, sizeof(bad.name));
	for (char *c = bad.name; *c != '\0'; c++)
		if (*c >= 'a' && *c <= 'f')
			*c = (char)(*c - 'a' + 'A');
	hello(&o, FUZZ_HOST);
	pack_frame(&o, &bad);
	emit("pack-upper-case-name", &o);

	uint8_t junk[PACK_MIN_SIZE + 40], h[32];
	memset(junk, 0, sizeof(junk));
	memcpy(junk, "BWPK\x01\x01", 6);
	memcpy(junk + sizeof(junk) - 8, "BWPKTAIL", 8);
	crypto_hash_sha256(h, junk, sizeof(junk));
	bad.p = junk;
	bad.len = sizeof(junk);
	sodium_bin2hex(bad.name, sizeof(bad.name), h, sizeof(h));
	hello(&o, FUZZ_HOST);
	pack_frame(&o, &bad);
	emit("pack-named-right-not-a-pack", &o);

	hello(&o, FUZZ_HOST);
	pack_frame(&o, &pother);
	emit("pack-other-vault", &o);

	hello(&o, FUZZ_HOST);
	frame(&o, VP_PACK, p1.name, PACK_NAME_HEX_LEN, p1.p, 10);
	emit("pack-too-small", &o);

	hello(&o, FUZZ_HOST);
	head(&o, VP_PACK, PACK_NAME_HEX_LEN + FUZZ_QUOTA + 1);
	put(&o, p1.name, PACK_NAME_HEX_LEN);
	emit("pack-over-quota", &o);

	hello(&o, FUZZ_HOST);
	head(&o, VP_PACK, (uint32_t)(PACK_NAME_HEX_LEN + p1.len));
	put(&o, p1.name, PACK_NAME_HEX_LEN);
	put(&o, p1.p, p1.len / 2);
	emit("pack-truncated", &o);

	/* Hellos. */
	hello(&o, "otherhost");
	bye(&o);
	emit("hello-wrong-host", &o);

	frame(&o, VP_HELLO, "BWRP\x02" FUZZ_HOST, 5 + strlen(FUZZ_HOST), NULL,
	    0);
	emit("hello-version-2", &o);

	frame(&o, VP_HELLO, "BWRX\x01" FUZZ_HOST, 5 + strlen(FUZZ_HOST), NULL,
	    0);
	emit("hello-bad-magic", &o);

	frame(&o, VP_HELLO, "BWRP\x01", 5, NULL, 0);
	emit("hello-no-host", &o);

	hello(&o, FUZZ_HOST);
	hello(&o, FUZZ_HOST);
	emit("hello-twice", &o);

	pack_frame(&o, &p1);
	emit("no-hello", &o);

	/* Framing. */
	hello(&o, FUZZ_HOST);
	put(&o, "\x02\x00\x00", 3);
	emit("truncated-head", &o);

	hello(&o, FUZZ_HOST);
	frame(&o, 0x07, "??", 2, NULL, 0);
	emit("unknown-type", &o);

	hello(&o, FUZZ_HOST);
	frame(&o, VP_OK, NULL, 0, NULL, 0);
	emit("reply-type-from-agent", &o);

	hello(&o, FUZZ_HOST);
	frame(&o, VP_BYE, "xx", 2, NULL, 0);
	emit("bye-with-body", &o);

	emit("empty", &o);

	/* Snapshots refused. */
	const char *nf[] = { fake };
	hello(&o, FUZZ_HOST);
	manifest(&o, FUZZ_HOST, 0x10, fuzz_vault_pk, fuzz_sign_sk, nf, 1, 0);
	emit("snap-unknown-pack", &o);

	hello(&o, FUZZ_HOST);
	pack_frame(&o, &p1);
	manifest(&o, FUZZ_HOST, 0x11, fuzz_vault_pk, other_ssk, n1, 1, 0);
	emit("snap-other-key", &o);

	hello(&o, FUZZ_HOST);
	manifest(&o, "otherhost", 0x12, fuzz_vault_pk, fuzz_sign_sk, n1, 1, 0);
	emit("snap-other-host", &o);

	hello(&o, FUZZ_HOST);
	manifest(&o, FUZZ_HOST, 0x13, other_vpk, fuzz_sign_sk, n1, 1, 0);
	emit("snap-other-vault-key", &o);

	hello(&o, FUZZ_HOST);
	head(&o, VP_SNAP, 400);
	put(&o, "BWSM\x01", 5);
	emit("snap-truncated", &o);

	hello(&o, FUZZ_HOST);
	frame(&o, VP_SNAP, "BWSM\x01", 5, NULL, 0);
	emit("snap-too-small", &o);

	/* Manifests the harness signs: accepted, and each refusal that
	 * comes after the signature check. */
	hello(&o, FUZZ_HOST);
	pack_frame(&o, &p1);
	forged(&o, FUZZ_HOST, 0x20, fuzz_vault_pk, n1, 1, 0);
	bye(&o);
	emit("forge-valid", &o);

	hello(&o, FUZZ_HOST);
	pack_frame(&o, &p2);
	pack_frame(&o, &p1);
	forged(&o, FUZZ_HOST, 0x21, fuzz_vault_pk, n12, 2, 1);
	forged(&o, FUZZ_HOST, 0x21, fuzz_vault_pk, n12, 2, 1);
	emit("forge-valid-then-duplicate", &o);

	hello(&o, FUZZ_HOST);
	forged(&o, "otherhost", 0x22, fuzz_vault_pk, n1, 1, 0);
	emit("forge-other-host", &o);

	hello(&o, FUZZ_HOST);
	forged(&o, FUZZ_HOST, 0x23, other_vpk, n1, 1, 0);
	emit("forge-other-vault-key", &o);

	hello(&o, FUZZ_HOST);
	pack_frame(&o, &p1);
	forged(&o, FUZZ_HOST, 0x24, fuzz_vault_pk, nf, 1, 0);
	emit("forge-unknown-pack", &o);

	write_all();
	replay_and_check();
	printf("%zu files written to %s\n", nfiles, outdir);
	for (size_t i = 0; i < nfiles; i++)
		free(files[i].p);
	free(p1.p);
	free(p2.p);
	free(p3.p);
	free(pother.p);
	return 0;
}
