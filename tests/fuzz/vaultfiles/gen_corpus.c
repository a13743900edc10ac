/*
 * gen_corpus.c - writes the seed corpus of the vaultfiles harness: for
 * each parser, valid files (made by the code that writes them, with the
 * harness's fixed keys) and a few that break one rule, each behind the
 * byte that selects its parser. Then it replays every file through the
 * harness. Keys, salts and nonces of the admin key export are random, so
 * every run writes different bytes. Not built by CMake; to regenerate,
 * from the source tree with a build in build/:
 *
 *   cc -std=c17 -D_GNU_SOURCE -Isrc tests/fuzz/vaultfiles/gen_corpus.c \
 *       build/libbulwarkcore.a $(pkg-config --libs libsodium libzstd \
 *       jansson libcrypto libmicrohttpd libcurl sqlite3 libargon2) -lpthread \
 *       -o /tmp/gen_corpus
 *   rm -rf tests/fuzz/vaultfiles/corpus; mkdir tests/fuzz/vaultfiles/corpus
 *   /tmp/gen_corpus tests/fuzz/vaultfiles/corpus
 */
#include <limits.h>
#include <stdio.h>

#include "fuzz.c"

static const char *outdir;
static size_t nwritten;

/* Writes kind's byte and then p[0..n) to outdir/name, and replays it. */
static void
emit(const char *name, int kind, const void *p, size_t n)
{
	char path[PATH_MAX];
	uint8_t *buf = malloc(n + 1);
	FILE *f;

	if (buf == NULL)
		abort();
	buf[0] = (uint8_t)kind;
	memcpy(buf + 1, p, n);
	snprintf(path, sizeof(path), "%s/%s", outdir, name);
	if ((f = fopen(path, "wb")) == NULL || fwrite(buf, 1, n + 1, f) !=
	    n + 1 || fclose(f) != 0)
		abort();
	LLVMFuzzerTestOneInput(buf, n + 1);
	free(buf);
	nwritten++;
}

/* The snapshot record must be listed (the harness would also pass a
 * record it reports bad, so a mistake here would go unnoticed). */
static void
expect_listed(const uint8_t *rec, size_t len)
{
	struct vault_snapshot *s = NULL;
	char id[MANIFEST_ID_HEX_LEN + 1], path[160];
	size_t n = 0, bad = 0;

	sodium_bin2hex(id, sizeof(id), rec + VAULT_SNAP_HEADER_LEN + 8,
	    MANIFEST_SNAPSHOT_ID_LEN);
	snprintf(path, sizeof(path), "%s/snapshots/%s/%s", dir, FUZZ_HOST, id);
	put_file(path, rec, len);
	if (vault_snapshot_list(vault, &s, &n, count_bad, &bad) != ERR_OK ||
	    n != 1 || bad != 0 || unlink(path) != 0)
		abort();
	vault_snapshots_free(s, n);
}

static void
emit_str(const char *name, int kind, const char *s)
{
	emit(name, kind, s, strlen(s));
}

static char *
b64(const uint8_t *p, size_t n)
{
	size_t len = sodium_base64_encoded_len(n,
	    sodium_base64_VARIANT_ORIGINAL);
	char *s = malloc(len);

	if (s == NULL)
		abort();
	sodium_bin2base64(s, len, p, n, sodium_base64_VARIANT_ORIGINAL);
	return s;
}

static void
name_of(char out[PACK_NAME_HEX_LEN + 1], int i)
{
	uint8_t h[32];
	uint32_t v = (uint32_t)i;

	crypto_hash_sha256(h, (const uint8_t *)&v, sizeof(v));
	sodium_bin2hex(out, PACK_NAME_HEX_LEN + 1, h, sizeof(h));
}

static void
configs(void)
{
	struct agent_config *c;
	char *text, *bad;
	size_t n;

	if (agent_config_new(&c) != ERR_OK)
		abort();
	snprintf(c->host, sizeof(c->host), "web1.example.org");
	memcpy(c->vault_pk, fuzz_vault_pk, sizeof(c->vault_pk));
	memset(c->repo_secret, 0x5a, sizeof(c->repo_secret));
	memcpy(c->sign_sk, fuzz_sign_sk, sizeof(c->sign_sk));
	if (agent_config_format(c, &text) != ERR_OK)
		abort();
	emit_str("config-minimal", KIND_CONFIG, text);
	struct agent_config *back = NULL;
	if (agent_config_parse(text, strlen(text), &back) != ERR_OK)
		abort();
	agent_config_free(back);
	n = strlen(text) + 64;
	if ((bad = malloc(n)) == NULL)
		abort();
	snprintf(bad, n, "%shost web2\n", text);
	emit_str("config-bad-duplicate", KIND_CONFIG, bad);
	snprintf(bad, n, "%scolour blue\n", text);
	emit_str("config-bad-unknown-key", KIND_CONFIG, bad);
	free(bad);
	free(text);

	snprintf(c->vault, sizeof(c->vault), "backup@vault.example:/srv/v");
	snprintf(c->ssh_identity, sizeof(c->ssh_identity),
	    "/etc/bulwark/id_ed25519");
	if (agent_config_format(c, &text) != ERR_OK)
		abort();
	emit_str("config-full", KIND_CONFIG, text);
	free(text);

	/* The public half of another key. */
	c->sign_sk[40] ^= 1;
	if (agent_config_format(c, &text) != ERR_OK)
		abort();
	emit_str("config-bad-sign-key-half", KIND_CONFIG, text);
	free(text);
	agent_config_free(c);
}

static void
received(void)
{
	char a[PACK_NAME_HEX_LEN + 1], b[PACK_NAME_HEX_LEN + 1];
	char c[PACK_NAME_HEX_LEN + 1], text[1024];

	name_of(a, 1);
	name_of(b, 2);
	name_of(c, 3);
	snprintf(text, sizeof(text), "%s 1234\n%s 99\n%s 18446744073709551615\n",
	    a, b, c);
	emit_str("received-three", KIND_RECEIVED, text);
	snprintf(text, sizeof(text), "%s 1234\n%s 99\n%s 5", a, b, a);
	emit_str("received-torn", KIND_RECEIVED, text);
	snprintf(text, sizeof(text), "%s 1234\n%s 1234\n%s 7\n\n", b, b, a);
	emit_str("received-twice-empty-last", KIND_RECEIVED, text);
	snprintf(text, sizeof(text), "%s 1234\n%.30s\n%s 1\n", a, b, c);
	emit_str("received-bad-middle", KIND_RECEIVED, text);
	snprintf(text, sizeof(text), "%s 01\n", a);
	emit_str("received-bad-leading-zero", KIND_RECEIVED, text);
	emit_str("received-empty", KIND_RECEIVED, "");
}

static void
hosts(void)
{
	char *pk = b64(fuzz_sign_pk, sizeof(fuzz_sign_pk)), text[1024];

	snprintf(text, sizeof(text), "sign-key %s\nquota 0\nssh-key "
	    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFuzz web1\n", pk);
	emit_str("host-valid", KIND_HOST, text);
	struct vault_host h;
	char path[128];
	snprintf(path, sizeof(path), "%s/hosts/%s", dir, FILE_HOST);
	put_file(path, (const uint8_t *)text, strlen(text));
	if (vault_host_get(vault, FILE_HOST, &h) != ERR_OK || unlink(path) != 0)
		abort();
	snprintf(text, sizeof(text), "sign-key %s\nquota 10737418240\n"
	    "ssh-key \n", pk);
	emit_str("host-quota-empty-key", KIND_HOST, text);
	snprintf(text, sizeof(text), "sign-key %s\nquota 00\nssh-key x\n", pk);
	emit_str("host-bad-quota", KIND_HOST, text);
	snprintf(text, sizeof(text), "quota 0\nsign-key %s\nssh-key x\n", pk);
	emit_str("host-bad-order", KIND_HOST, text);
	snprintf(text, sizeof(text), "sign-key %s\nquota 0\nssh-key x\nmore\n",
	    pk);
	emit_str("host-bad-trailing", KIND_HOST, text);
	free(pk);
}

static void
snapshots(void)
{
	char packs[2][PACK_NAME_HEX_LEN + 1];
	uint8_t sk2[MANIFEST_SK_LEN], pk2[MANIFEST_PK_LEN], seed[32];
	struct manifest m;
	uint8_t *mf, *rec;
	size_t len;

	name_of(packs[0], 1);
	name_of(packs[1], 2);
	if (strcmp(packs[0], packs[1]) > 0) {
		char t[PACK_NAME_HEX_LEN + 1];
		memcpy(t, packs[0], sizeof(t));
		memcpy(packs[0], packs[1], sizeof(t));
		memcpy(packs[1], t, sizeof(t));
	}
	memset(&m, 0, sizeof(m));
	m.host = (char *)FUZZ_HOST;
	memset(m.snapshot_id, 0x42, sizeof(m.snapshot_id));
	m.client_time = 1790000000;
	if (pack_vault_key_id(fuzz_vault_pk, m.key_id) != ERR_OK)
		abort();
	memset(m.root_id, 0x03, sizeof(m.root_id));
	memcpy(m.root_pack, packs[1], sizeof(m.root_pack));
	m.packs = packs;
	m.npacks = 2;
	if (manifest_encode_sign(&m, fuzz_sign_sk, &mf, &len) != ERR_OK ||
	    (rec = malloc(VAULT_SNAP_HEADER_LEN + len)) == NULL)
		abort();
	memcpy(rec, "BWSR\0\0\0\1\0\0\0\0\x6a\x8b\x2c\x10", 16);
	memcpy(rec + VAULT_SNAP_HEADER_LEN, mf, len);
	emit("snapshot-valid", KIND_SNAPSHOT, rec, VAULT_SNAP_HEADER_LEN + len);
	expect_listed(rec, VAULT_SNAP_HEADER_LEN + len);
	rec[7] = 2;
	emit("snapshot-bad-version", KIND_SNAPSHOT, rec,
	    VAULT_SNAP_HEADER_LEN + len);
	rec[7] = 1;
	free(mf);

	/* Another host's name, and another key. */
	m.host = (char *)"otherhost";
	if (manifest_encode_sign(&m, fuzz_sign_sk, &mf, &len) != ERR_OK ||
	    (rec = realloc(rec, VAULT_SNAP_HEADER_LEN + len)) == NULL)
		abort();
	memcpy(rec + VAULT_SNAP_HEADER_LEN, mf, len);
	emit("snapshot-other-host", KIND_SNAPSHOT, rec,
	    VAULT_SNAP_HEADER_LEN + len);
	free(mf);
	m.host = (char *)FUZZ_HOST;
	memset(seed, 0x77, sizeof(seed));
	crypto_sign_seed_keypair(pk2, sk2, seed);
	if (manifest_encode_sign(&m, sk2, &mf, &len) != ERR_OK ||
	    (rec = realloc(rec, VAULT_SNAP_HEADER_LEN + len)) == NULL)
		abort();
	memcpy(rec + VAULT_SNAP_HEADER_LEN, mf, len);
	emit("snapshot-other-key", KIND_SNAPSHOT, rec,
	    VAULT_SNAP_HEADER_LEN + len);
	emit("snapshot-header-only", KIND_SNAPSHOT, rec, VAULT_SNAP_HEADER_LEN);
	free(mf);
	free(rec);
}

static void
chunks(void)
{
	struct tree_chunk c[3];
	uint8_t *enc;
	size_t len;

	memset(c, 0, sizeof(c));
	memset(c[0].id, 0x11, sizeof(c[0].id));
	c[0].len = 65536;
	c[1].len = 1ull << 40;		/* a hole: all-zero ID, u64 length */
	memset(c[2].id, 0x22, sizeof(c[2].id));
	c[2].len = 1;
	if (backup_chunks_encode(c, 3, &enc, &len) != ERR_OK)
		abort();
	emit("chunks-data-hole-data", KIND_CHUNKS, enc, len);
	emit("chunks-truncated", KIND_CHUNKS, enc, len - 3);
	enc[CHUNK_ID_LEN + 3] = 0;
	enc[CHUNK_ID_LEN + 2] = 0;
	emit("chunks-bad-zero-length", KIND_CHUNKS, enc, CHUNK_ID_LEN + 4);
	free(enc);
	emit("chunks-empty", KIND_CHUNKS, "", 0);
}

static void
admin_keys(void)
{
	struct admin_key *k;
	char *text, *big, *at;
	size_t n;

	if (admin_key_new(&k) != ERR_OK ||
	    pack_vault_keypair_secret(k->vault_pk, k->vault_sk) != ERR_OK)
		abort();
	randombytes_buf(k->repo_secret, sizeof(k->repo_secret));
	if (admin_key_export(k, FUZZ_PASS, strlen(FUZZ_PASS), 1,
	    ADMIN_MEM_MIN, &text) != ERR_OK)
		abort();
	emit_str("adminkey-valid", KIND_ADMIN_KEY, text);
	struct admin_key *back = NULL;
	if (!admin_kdf_cheap((const uint8_t *)text, strlen(text)) ||
	    admin_key_import(text, strlen(text), FUZZ_PASS, strlen(FUZZ_PASS),
	    &back) != ERR_OK)
		abort();
	admin_key_free(back);
	/* The harness must skip this one: 256 MiB. */
	n = strlen(text) + 16;
	if ((big = malloc(n)) == NULL || (at = strstr(text, " m=32 ")) == NULL)
		abort();
	snprintf(big, n, "%.*s m=262144 %s", (int)(at - text), text, at + 6);
	emit_str("adminkey-big-memlimit-skipped", KIND_ADMIN_KEY, big);
	if (admin_kdf_cheap((const uint8_t *)big, strlen(big)))
		abort();
	free(big);
	free(text);
	if (admin_key_export(k, "another passphrase", 18, 2,
	    ADMIN_MEM_MIN * 2, &text) != ERR_OK)
		abort();
	emit_str("adminkey-other-passphrase", KIND_ADMIN_KEY, text);
	free(text);
	admin_key_free(k);
}

int
main(int argc, char **argv)
{
	if (argc != 2)
		return 2;
	outdir = argv[1];
	init_once();
	configs();
	received();
	hosts();
	snapshots();
	chunks();
	admin_keys();
	printf("%zu files written to %s\n", nwritten, outdir);
	return 0;
}
