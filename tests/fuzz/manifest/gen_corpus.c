/*
 * gen_corpus.c - writes the seed corpus of the manifest harness: manifests
 * signed with the harness's fixed host key, and a few that are signed but
 * break one rule. Not built by CMake; to regenerate, from the source tree
 * with a build in build/:
 *
 *   cc -std=c17 -D_GNU_SOURCE -Isrc tests/fuzz/manifest/gen_corpus.c \
 *       build/libbulwarkcore.a $(pkg-config --libs libsodium) \
 *       -o /tmp/gen_corpus
 *   /tmp/gen_corpus tests/fuzz/manifest/corpus
 */
#include <limits.h>
#include <stdio.h>

#include "fuzz.c"

static const char *outdir;

static void
put(const char *name, const uint8_t *data, size_t len)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", outdir, name);
	if ((f = fopen(path, "wb")) == NULL || fwrite(data, 1, len, f) != len ||
	    fclose(f) != 0)
		abort();
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* n pack names, sorted. */
static char (*make_packs(size_t n))[PACK_NAME_HEX_LEN + 1]
{
	char (*p)[PACK_NAME_HEX_LEN + 1] = malloc(n * sizeof(*p));
	uint8_t h[32];

	if (p == NULL)
		abort();
	for (size_t i = 0; i < n; i++) {
		uint32_t v = (uint32_t)i;

		crypto_hash_sha256(h, (const uint8_t *)&v, sizeof(v));
		sodium_bin2hex(p[i], sizeof(p[i]), h, sizeof(h));
	}
	qsort(p, n, sizeof(p[0]), name_cmp);
	return p;
}

/* Encodes m with the fixed key and writes it. */
static void
emit(const char *name, const struct manifest *m)
{
	uint8_t *buf;
	size_t len;

	if (manifest_encode_sign(m, fuzz_sk, &buf, &len) != ERR_OK)
		abort();
	put(name, buf, len);
	free(buf);
}

/* m encoded, byte at of its body set to to, and signed again. */
static void
emit_broken(const char *name, const struct manifest *m, size_t at,
    uint8_t to)
{
	uint8_t *buf, *msg;
	size_t len, blen;

	if (manifest_encode_sign(m, fuzz_sk, &buf, &len) != ERR_OK)
		abort();
	blen = len - MANIFEST_SIG_LEN;
	buf[at] = to;
	if ((msg = malloc(MANIFEST_SIG_PREFIX_LEN + blen)) == NULL)
		abort();
	memcpy(msg, MANIFEST_SIG_PREFIX, MANIFEST_SIG_PREFIX_LEN);
	memcpy(msg + MANIFEST_SIG_PREFIX_LEN, buf, blen);
	crypto_sign_detached(buf + blen, NULL, msg,
	    MANIFEST_SIG_PREFIX_LEN + blen, fuzz_sk);
	put(name, buf, len);
	free(msg);
	free(buf);
}

int
main(int argc, char **argv)
{
	static char t0[] = "daily", t1[] = "env=prod", t2[] = "keep forever";
	char *tags[] = { t0, t1, t2 };
	char (*packs)[PACK_NAME_HEX_LEN + 1];
	struct manifest m;

	if (argc != 2)
		return 2;
	outdir = argv[1];
	init_once();
	packs = make_packs(100);

	memset(&m, 0, sizeof(m));
	m.host = (char *)"h";
	memset(m.snapshot_id, 0x01, sizeof(m.snapshot_id));
	m.client_time = 1790000000;
	memset(m.key_id, 0x02, sizeof(m.key_id));
	memset(m.root_id, 0x03, sizeof(m.root_id));
	memcpy(m.root_pack, packs[0], sizeof(m.root_pack));
	m.packs = packs;
	m.npacks = 1;
	emit("minimal", &m);

	m.host = (char *)"db-2.prod.example.org";
	m.files = 48211;
	m.bytes_read = 91234567890ull;
	m.bytes_stored = 1234567890ull;
	m.has_parent = true;
	memset(m.parent_id, 0x04, sizeof(m.parent_id));
	m.tags = tags;
	m.ntags = 3;
	m.npacks = 5;
	memcpy(m.root_pack, packs[3], sizeof(m.root_pack));
	emit("full", &m);

	m.npacks = 100;
	emit("hundred-packs", &m);

	m.npacks = 5;
	emit_broken("broken-version", &m, 4, 2);
	emit_broken("broken-flags", &m, 5, 0);
	emit_broken("broken-pack-hex", &m, MANIFEST_FIXED_LEN + 21 + 4 + 10,
	    'A');
	emit_broken("broken-ntags", &m,
	    MANIFEST_FIXED_LEN + 21 + 4 + 5 * PACK_NAME_HEX_LEN + 3, 65);
	free(packs);
	return 0;
}
