/*
 * fuzz.c - libFuzzer harness for the parsers of the vault's and the
 * agent's files: the agent configuration and the admin key export
 * (backup/keys.h), the vault's received lists, host files and snapshot
 * records (vault/store.h), and the cache's chunk lists (backup/engine.h).
 *
 * The first byte chooses the parser (modulo KIND_COUNT); the rest is the
 * file. Files the vault reads are written into a scratch vault in
 * /dev/shm, made once per process, whose host FUZZ_HOST is enrolled with
 * the Ed25519 key of FUZZ_SIGN_SEED (fixed, so that gen_corpus.c can sign
 * snapshot records that verify).
 *
 *   KIND_CONFIG     agent_config_parse; what it accepts must format and
 *                   parse back to the same configuration.
 *   KIND_RECEIVED   received/RECV_HOST, loaded; compared with a naive
 *                   reading of store.h's format (complete lines of 64
 *                   lowercase hex digits, a space and a canonical decimal
 *                   size; a torn last line and one empty last line
 *                   ignored; a name listed twice counts once).
 *   KIND_HOST       hosts/FILE_HOST, read; what it accepts must register
 *                   under another name and read back the same, and when
 *                   the file holds no NUL byte the registered file must be
 *                   the input byte for byte (one spelling per host).
 *   KIND_SNAPSHOT   snapshots/FUZZ_HOST/ID, ID the hex of the bytes where
 *                   the manifest's snapshot ID sits, listed: the record is
 *                   either listed, exactly as written, or reported bad.
 *   KIND_CHUNKS     backup_chunks_decode; what it accepts must encode back
 *                   to the input.
 *   KIND_ADMIN_KEY  admin_key_import with a fixed passphrase, only when the
 *                   export's KDF line asks for at most ADMIN_OPS_MAX passes
 *                   and ADMIN_MEM_MAX bytes (checked here first), so that
 *                   the fuzzer cannot make Argon2 take gigabytes; what it
 *                   accepts must hold a matching key pair and survive an
 *                   export and import.
 * Anything else aborts.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "backup/engine.h"
#include "backup/keys.h"
#include "backup/manifest.h"
#include "common/encoding.h"
#include "common/fsutil.h"
#include "vault/store.h"
#include "common/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_HOST "fuzzhost"
#define RECV_HOST "recvhost"
#define FILE_HOST "filehost"
#define FILE_HOST2 "filehost2"
#define FUZZ_SIGN_SEED "bulwark vaultfiles fuzz host key"	/* 32 bytes */
#define FUZZ_VAULT_SEED "bulwark vaultfiles fuzz vaultkey"	/* 32 bytes */
_Static_assert(sizeof(FUZZ_SIGN_SEED) == 33, "seed length");
_Static_assert(sizeof(FUZZ_VAULT_SEED) == 33, "seed length");
#define FUZZ_PASS "fuzz passphrase"
#define ADMIN_OPS_MAX 3
#define ADMIN_MEM_MAX 65536
#define ADMIN_MEM_MIN (8 * 1024 * ADMIN_KDF_LANES)	/* 8 KiB a lane */

enum {
	KIND_CONFIG,
	KIND_RECEIVED,
	KIND_HOST,
	KIND_SNAPSHOT,
	KIND_CHUNKS,
	KIND_ADMIN_KEY,
	KIND_COUNT
};

static uint8_t fuzz_sign_pk[MANIFEST_PK_LEN], fuzz_sign_sk[MANIFEST_SK_LEN];
static uint8_t fuzz_vault_pk[PACK_PK_LEN], fuzz_vault_sk[PACK_SK_LEN];
static char dir[64];
static struct vault *vault;
static int ready;

/* The fixed keys (gen_corpus.c makes the corpus with them). */
static void
fuzz_keys(void)
{
	if (sodium_init() < 0 ||
	    crypto_sign_seed_keypair(fuzz_sign_pk, fuzz_sign_sk,
	    (const uint8_t *)FUZZ_SIGN_SEED) != 0 ||
	    crypto_box_seed_keypair(fuzz_vault_pk, fuzz_vault_sk,
	    (const uint8_t *)FUZZ_VAULT_SEED) != 0)
		abort();
}

static void
fail(const char *what)
{
	fprintf(stderr, "fuzz/vaultfiles: invariant broken: %s\n", what);
	abort();
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
teardown(void)
{
	vault_close(vault);
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void
init_once(void)
{
	struct vault_host h;
	uint8_t secret[REPO_SECRET_LEN];
	char why[256] = "", *vkey = NULL, p[128];

	if (ready)
		return;
	fuzz_keys();
	snprintf(dir, sizeof(dir), "/dev/shm/bwt-fuzz-vaultfiles-XXXXXX");
	if (mkdtemp(dir) == NULL) {
		snprintf(dir, sizeof(dir), "/tmp/bwt-fuzz-vaultfiles-XXXXXX");
		if (mkdtemp(dir) == NULL)
			abort();
	}
	memset(secret, 0x5a, sizeof(secret));
	if (vault_create(dir, fuzz_vault_pk, secret, "fuzz.example/vault",
	    &vkey, why, sizeof(why)) != ERR_OK ||
	    vault_open(dir, &vault, why, sizeof(why)) != ERR_OK) {
		fprintf(stderr, "fuzz/vaultfiles: %s\n", why);
		abort();
	}
	free(vkey);
	memset(&h, 0, sizeof(h));
	snprintf(h.name, sizeof(h.name), "%s", FUZZ_HOST);
	memcpy(h.sign_pk, fuzz_sign_pk, sizeof(h.sign_pk));
	snprintf(h.ssh_key, sizeof(h.ssh_key), "ssh-ed25519 AAAAfuzz fuzz");
	if (vault_host_add(vault, &h) != ERR_OK)
		abort();
	snprintf(p, sizeof(p), "%s/snapshots/%s", dir, FUZZ_HOST);
	if (mkdir(p, 0755) != 0)
		abort();
	atexit(teardown);
	ready = 1;
}

/* Replaces path with data[0..len). */
static void
put_file(const char *path, const uint8_t *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0 || (len > 0 && fs_write_all(fd, data, len) != ERR_OK) ||
	    close(fd) != 0)
		abort();
}

/* ---- Agent configuration ---------------------------------------------- */

static void
fuzz_config(const uint8_t *p, size_t n)
{
	struct agent_config *c = NULL, *again = NULL;
	char *text = NULL;
	int rc;

	rc = agent_config_parse((const char *)p, n, &c);
	if ((rc == ERR_OK) != (c != NULL))
		fail("agent_config_parse: result and status disagree");
	if (c == NULL)
		return;
	if (!backup_host_name_ok(c->host))
		fail("agent_config_parse accepted a bad host name");
	if (agent_config_format(c, &text) != ERR_OK)
		fail("an accepted configuration does not format");
	if (agent_config_parse(text, strlen(text), &again) != ERR_OK)
		fail("a formatted configuration does not parse");
	if (memcmp(c, again, sizeof(*c)) != 0)
		fail("a configuration changed in a format and parse");
	sodium_memzero(text, strlen(text));
	free(text);
	agent_config_free(again);
	agent_config_free(c);
}

/* ---- Received lists ---------------------------------------------------- */

struct ref_line {
	char name[PACK_NAME_HEX_LEN + 1];
	uint64_t size;
};

static int
cmp_ref(const void *a, const void *b)
{
	return strcmp(((const struct ref_line *)a)->name,
	    ((const struct ref_line *)b)->name);
}

/* Decimal without sign or leading zeros, fitting in 64 bits. */
static int
ref_u64(const uint8_t *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;

	if (len == 0 || len > 20 || (len > 1 && s[0] == '0'))
		return 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return 0;
		v = v * 10 + d;
	}
	*out = v;
	return 1;
}

/* store.h's format read naively: 1 and the lines, or 0 if malformed. */
static int
ref_received(const uint8_t *p, size_t n, struct ref_line **out, size_t *cnt)
{
	struct ref_line *l = malloc((n / (PACK_NAME_HEX_LEN + 2) + 1) *
	    sizeof(*l));
	size_t pos = 0;

	if (l == NULL)
		abort();
	*cnt = 0;
	while (pos < n) {
		const uint8_t *nl = memchr(p + pos, '\n', n - pos);
		if (nl == NULL)
			break;			/* torn */
		size_t ll = (size_t)(nl - (p + pos));
		const uint8_t *line = p + pos;
		pos += ll + 1;
		if (ll == 0 && pos == n)
			break;			/* one empty last line */
		if (ll < PACK_NAME_HEX_LEN + 2 || line[PACK_NAME_HEX_LEN] != ' ')
			goto bad;
		for (size_t i = 0; i < PACK_NAME_HEX_LEN; i++)
			if (!((line[i] >= '0' && line[i] <= '9') ||
			    (line[i] >= 'a' && line[i] <= 'f')))
				goto bad;
		memcpy(l[*cnt].name, line, PACK_NAME_HEX_LEN);
		l[*cnt].name[PACK_NAME_HEX_LEN] = '\0';
		if (!ref_u64(line + PACK_NAME_HEX_LEN + 1,
		    ll - PACK_NAME_HEX_LEN - 1, &l[*cnt].size) ||
		    l[*cnt].size > PACK_MAX_SIZE)	/* no pack is larger */
			goto bad;
		(*cnt)++;
	}
	qsort(l, *cnt, sizeof(*l), cmp_ref);
	*out = l;
	return 1;
bad:
	free(l);
	*out = NULL;
	return 0;
}

static void
fuzz_received(const uint8_t *p, size_t n)
{
	struct vault_received r;
	struct ref_line *ref = NULL;
	char path[128];
	size_t cnt, k = 0;
	uint64_t total = 0;
	int rc, ok;

	snprintf(path, sizeof(path), "%s/received/%s", dir, RECV_HOST);
	put_file(path, p, n);
	rc = vault_received_load(vault, RECV_HOST, &r);
	ok = ref_received(p, n, &ref, &cnt);
	if (rc != ERR_OK && rc != ERR_FORMAT)
		fail("vault_received_load: unexpected status");
	if ((rc == ERR_OK) != ok)
		fail("vault_received_load disagrees with the reference");
	if (rc != ERR_OK) {
		if (r.n != 0 || r.names != NULL || r.sizes != NULL)
			fail("vault_received_load left a list on failure");
		vault_received_free(&r);
		return;
	}
	/* One entry per distinct name, in order, with one of its sizes. */
	for (size_t i = 0; i < cnt;) {
		size_t j = i;
		int size_seen = 0;

		if (k >= r.n || strcmp(r.names[k], ref[i].name) != 0)
			fail("vault_received_load lost or invented a name");
		for (; j < cnt && strcmp(ref[j].name, ref[i].name) == 0; j++)
			size_seen |= ref[j].size == r.sizes[k];
		if (!size_seen)
			fail("vault_received_load invented a size");
		if (!vault_received_has(&r, ref[i].name))
			fail("vault_received_has misses a listed name");
		total += vault_quota_charge(r.sizes[k]);
		k++;
		i = j;
	}
	if (k != r.n || total != r.total)
		fail("vault_received_load's count or total is wrong");
	free(ref);
	vault_received_free(&r);
}

/* ---- Host files --------------------------------------------------------- */

static void
fuzz_host(const uint8_t *p, size_t n)
{
	struct vault_host h, again;
	char path[128], path2[128], *text = NULL;
	size_t tlen;
	int rc;

	snprintf(path, sizeof(path), "%s/hosts/%s", dir, FILE_HOST);
	snprintf(path2, sizeof(path2), "%s/hosts/%s", dir, FILE_HOST2);
	put_file(path, p, n);
	rc = vault_host_get(vault, FILE_HOST, &h);
	if (unlink(path) != 0)
		abort();
	if (rc != ERR_OK)
		return;
	if (strcmp(h.name, FILE_HOST) != 0 ||
	    memchr(h.ssh_key, '\0', sizeof(h.ssh_key)) == NULL)
		fail("vault_host_get: bad name or unterminated key");
	snprintf(h.name, sizeof(h.name), "%s", FILE_HOST2);
	if (vault_host_add(vault, &h) != ERR_OK)
		fail("an accepted host does not register again");
	if (vault_host_get(vault, FILE_HOST2, &again) != ERR_OK)
		fail("a registered host does not read back");
	if (strcmp(again.name, FILE_HOST2) != 0 ||
	    memcmp(again.sign_pk, h.sign_pk, sizeof(h.sign_pk)) != 0 ||
	    again.quota != h.quota || strcmp(again.ssh_key, h.ssh_key) != 0)
		fail("a host changed in a register and read");
	if (memchr(p, '\0', n) == NULL) {
		if (fs_read_file(path2, n + 1, &text, &tlen) != ERR_OK ||
		    tlen != n || memcmp(text, p, n) != 0)
			fail("a host file has two spellings");
		free(text);
	}
	if (unlink(path2) != 0)
		abort();
}

/* ---- Snapshot records --------------------------------------------------- */

static void
count_bad(const char *path, const char *why, void *arg)
{
	(void)path;
	(void)why;
	(*(size_t *)arg)++;
}

static uint64_t
get_u64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static void
fuzz_snapshot(const uint8_t *p, size_t n)
{
	/* Where the manifest's snapshot ID is in a record. */
	const size_t id_at = VAULT_SNAP_HEADER_LEN + 8;
	struct vault_snapshot *s = NULL;
	char id[MANIFEST_ID_HEX_LEN + 1], path[160];
	size_t ns = 0, bad = 0;

	if (n >= id_at + MANIFEST_SNAPSHOT_ID_LEN)
		sodium_bin2hex(id, sizeof(id), p + id_at,
		    MANIFEST_SNAPSHOT_ID_LEN);
	else
		snprintf(id, sizeof(id), "%032d", 0);
	snprintf(path, sizeof(path), "%s/snapshots/%s/%s", dir, FUZZ_HOST, id);
	put_file(path, p, n);
	if (vault_snapshot_list(vault, &s, &ns, count_bad, &bad) != ERR_OK)
		fail("vault_snapshot_list failed");
	if (unlink(path) != 0)
		abort();
	if (ns + bad != 1)
		fail("a record was neither listed nor reported");
	if (ns == 1) {
		struct manifest *m = NULL;

		if (n < VAULT_SNAP_HEADER_LEN ||
		    memcmp(p, VAULT_SNAP_MAGIC "\0\0\0\1", 8) != 0 ||
		    s[0].rawlen != n - VAULT_SNAP_HEADER_LEN ||
		    memcmp(s[0].raw, p + VAULT_SNAP_HEADER_LEN,
		    s[0].rawlen) != 0 || s[0].received != get_u64(p + 8) ||
		    strcmp(s[0].host, FUZZ_HOST) != 0 ||
		    strcmp(s[0].id, id) != 0 || s[0].m == NULL ||
		    strcmp(s[0].m->host, FUZZ_HOST) != 0)
			fail("a listed record is not what was written");
		if (manifest_parse_verify(s[0].raw, s[0].rawlen, fuzz_sign_pk,
		    &m) != ERR_OK)
			fail("a listed record does not verify");
		manifest_free(m);
	}
	vault_snapshots_free(s, ns);
}

/* ---- Chunk lists --------------------------------------------------------- */

static void
fuzz_chunks(const uint8_t *p, size_t n)
{
	struct tree_chunk *c = NULL;
	uint8_t *enc = NULL;
	size_t nc = 0, elen = 0;
	int rc;

	rc = backup_chunks_decode(p, n, &c, &nc);
	if (rc != ERR_OK) {
		if (c != NULL || nc != 0)
			fail("backup_chunks_decode left a list on failure");
		return;
	}
	if (nc * (CHUNK_ID_LEN + 4) > n)
		fail("backup_chunks_decode made more chunks than bytes allow");
	for (size_t i = 0; i < nc; i++)
		if (c[i].len == 0)
			fail("backup_chunks_decode accepted an empty chunk");
	if (backup_chunks_encode(c, nc, &enc, &elen) != ERR_OK)
		fail("a decoded list does not encode");
	if (elen != n || (n > 0 && memcmp(enc, p, n) != 0))
		fail("a chunk list changed in a decode and encode");
	free(enc);
	free(c);
}

/* ---- Admin key export ------------------------------------------------------ */

/*
 * 1 when admin_key_import may run on p: its KDF line, as keys.c reads it
 * (admin_key_kdf), asks for little. When that parse fails, import fails
 * at the same place, before any KDF.
 */
static int
admin_kdf_cheap(const uint8_t *p, size_t n)
{
	struct admin_kdf a;

	if (admin_key_kdf((const char *)p, n, &a) != ERR_OK)
		return 1;
	return a.t <= ADMIN_OPS_MAX && (uint64_t)a.m_kib * 1024 <=
	    ADMIN_MEM_MAX;
}

static void
fuzz_admin_key(const uint8_t *p, size_t n)
{
	struct admin_key *k = NULL, *again = NULL;
	uint8_t pk[PACK_PK_LEN];
	char *text = NULL;
	int rc;

	if (!admin_kdf_cheap(p, n))
		return;
	rc = admin_key_import((const char *)p, n, FUZZ_PASS,
	    strlen(FUZZ_PASS), &k);
	if ((rc == ERR_OK) != (k != NULL))
		fail("admin_key_import: result and status disagree");
	if (k == NULL)
		return;
	crypto_scalarmult_base(pk, k->vault_sk);
	if (memcmp(pk, k->vault_pk, sizeof(pk)) != 0)
		fail("admin_key_import accepted keys that do not match");
	if (admin_key_export(k, FUZZ_PASS, strlen(FUZZ_PASS), 1,
	    ADMIN_MEM_MIN, &text) != ERR_OK ||
	    admin_key_import(text, strlen(text), FUZZ_PASS, strlen(FUZZ_PASS),
	    &again) != ERR_OK ||
	    memcmp(k, again, sizeof(*k)) != 0)
		fail("an imported key does not export and import again");
	free(text);
	admin_key_free(again);
	admin_key_free(k);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	init_once();
	if (size == 0)
		return 0;
	switch (data[0] % KIND_COUNT) {
	case KIND_CONFIG:
		fuzz_config(data + 1, size - 1);
		break;
	case KIND_RECEIVED:
		fuzz_received(data + 1, size - 1);
		break;
	case KIND_HOST:
		fuzz_host(data + 1, size - 1);
		break;
	case KIND_SNAPSHOT:
		fuzz_snapshot(data + 1, size - 1);
		break;
	case KIND_CHUNKS:
		fuzz_chunks(data + 1, size - 1);
		break;
	default:
		fuzz_admin_key(data + 1, size - 1);
		break;
	}
	return 0;
}
