/*
 * fuzz.c - libFuzzer harness for the vault's receive side
 * (vault/receive.h), on a real vault directory in /dev/shm that lives
 * as long as the process.
 *
 * Once per process: a vault whose X25519 key pair comes from
 * FUZZ_VAULT_SEED and a host FUZZ_HOST enrolled with the Ed25519 key of
 * FUZZ_SIGN_SEED, with a quota of FUZZ_QUOTA bytes. Both keys are fixed so
 * that the checked-in corpus (gen_corpus.c) holds packs sealed to this
 * vault and manifests that verify; with a fresh vault key every corpus
 * pack would be refused as another vault's.
 *
 * Per input: the bytes are what an agent sends on one connection (frames
 * as in proto.h); vault_receive() reads them from a memfd and writes its
 * replies to /dev/null, without the audit log's fsyncs. The vault carries
 * over from one input to the next, as it does between sessions, so a
 * snapshot stored once is refused as a duplicate afterwards.
 *
 * After every input, whatever vault_receive() returned, the vault must
 * still keep the promises of store.h and receive.h:
 *   - it returned an err.h code, with a reason unless it was ERR_OK;
 *   - no descriptor leaked and no upload was left in tmp/;
 *   - every file under packs/ hashes to its name, passes the keyless
 *     structure check, is sealed to this vault's key and is read-only
 *     (checked once per pack: a pack must then never change, so later
 *     its inode, size and change time are compared, which also keeps
 *     the check from re-reading every pack after every input);
 *   - received/FUZZ_HOST loads, and every pack it lists is in packs/
 *     with the size it says;
 *   - every snapshot record verifies (none is reported bad), is filed
 *     under FUZZ_HOST, and names only packs received/FUZZ_HOST lists.
 * Anything else aborts.
 *
 * Mutations cannot sign, so every manifest frame whose signature is 64
 * zero bytes is signed by the harness with the fixed host key before the
 * vault sees it (a zero signature never verifies, so nothing is lost).
 * That is how the fuzzer reaches what the vault does with manifests that
 * do verify: other host names and vault keys, packs the host never sent,
 * duplicate IDs, and storing them. The harness removes stored snapshot
 * records once more than SNAP_KEEP have piled up (after checking them),
 * so that listing them stays cheap.
 *
 * One kind of input is skipped: a manifest frame whose header claims
 * more than BIG_CLAIM bytes when the input ends before them. The vault
 * allocates the claimed length (up to VAULT_MANIFEST_MAX, 64 MiB) before
 * it reads, then finds the end of the stream; under ASan that allocation
 * costs about 150 ms and slowed the whole run to 20 inputs a second.
 * Shorter claims that run past the end take the same path.
 *
 * A pack sent again is listed again in received/FUZZ_HOST (the list
 * dedups on load), so that file grows with every input that resends a
 * corpus pack; past RECEIVED_COMPACT bytes the harness rewrites it with
 * each pack once, which is what the vault would load from it anyway.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "backup/pack.h"
#include "common/fsutil.h"
#include "vault/proto.h"
#include "vault/receive.h"
#include "vault/store.h"
#include "common/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_HOST "fuzzhost"
#define FUZZ_SIGN_SEED "bulwark receive fuzz host seed!!"	/* 32 bytes */
#define FUZZ_VAULT_SEED "bulwark receive fuzz vault seed!"	/* 32 bytes */
_Static_assert(sizeof(FUZZ_SIGN_SEED) == 33, "seed length");
_Static_assert(sizeof(FUZZ_VAULT_SEED) == 33, "seed length");
#define FUZZ_QUOTA (16u * 1024 * 1024)
#define RECEIVED_COMPACT (64u * 1024)
#define BIG_CLAIM (256u * 1024)
#define SNAP_KEEP 32

static uint8_t fuzz_sign_pk[MANIFEST_PK_LEN], fuzz_sign_sk[MANIFEST_SK_LEN];
static uint8_t fuzz_vault_pk[PACK_PK_LEN], fuzz_vault_sk[PACK_SK_LEN];

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

/* Packs checked so far, with what must never change about them. */
static struct seen_pack {
	char name[PACK_NAME_HEX_LEN + 1];
	struct stat st;
} *seen;
static size_t nseen;

static char dir[64];
static struct vault *vault;
static int in_fd = -1, out_fd = -1, fd_probe;
static int ready;

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
	free(seen);
	vault_close(vault);
	if (in_fd >= 0)
		close(in_fd);
	if (out_fd >= 0)
		close(out_fd);
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void
init_once(void)
{
	struct vault_host h;
	uint8_t secret[REPO_SECRET_LEN];
	char why[256] = "", *vkey = NULL;

	if (ready)
		return;
	fuzz_keys();
	/* tmpfs makes the vault's fsyncs cheap; /tmp when there is none. */
	snprintf(dir, sizeof(dir), "/dev/shm/bwt-fuzz-receive-XXXXXX");
	if (mkdtemp(dir) == NULL) {
		snprintf(dir, sizeof(dir), "/tmp/bwt-fuzz-receive-XXXXXX");
		if (mkdtemp(dir) == NULL)
			abort();
	}
	randombytes_buf(secret, sizeof(secret));
	if (vault_create(dir, fuzz_vault_pk, secret, "fuzz.example/vault",
	    &vkey, why, sizeof(why)) != ERR_OK ||
	    vault_open(dir, &vault, why, sizeof(why)) != ERR_OK) {
		fprintf(stderr, "fuzz/receive: %s\n", why);
		abort();
	}
	free(vkey);
	memset(&h, 0, sizeof(h));
	snprintf(h.name, sizeof(h.name), "%s", FUZZ_HOST);
	memcpy(h.sign_pk, fuzz_sign_pk, sizeof(h.sign_pk));
	h.quota = FUZZ_QUOTA;
	snprintf(h.ssh_key, sizeof(h.ssh_key), "ssh-ed25519 AAAAfuzz fuzz");
	if (vault_host_add(vault, &h) != ERR_OK)
		abort();
	if ((in_fd = memfd_create("receive-input", MFD_CLOEXEC)) < 0 ||
	    (out_fd = open("/dev/null", O_WRONLY | O_CLOEXEC)) < 0)
		abort();
	/* The lowest free descriptor: the same after every input. */
	if ((fd_probe = dup(0)) < 0)
		abort();
	close(fd_probe);
	umask(022);
	atexit(teardown);
	ready = 1;
}

static void
fail(const char *what, const char *name)
{
	fprintf(stderr, "fuzz/receive: invariant broken: %s%s%s\n", what,
	    name != NULL ? ": " : "", name != NULL ? name : "");
	abort();
}

static void
bad_snapshot(const char *path, const char *why, void *arg)
{
	(void)arg;
	fprintf(stderr, "fuzz/receive: snapshot record %s: %s\n", path, why);
	fail("a stored snapshot record does not verify", path);
}

static void
check_tmp_empty(void)
{
	char p[128];
	DIR *d;
	struct dirent *e;

	snprintf(p, sizeof(p), "%s/tmp", dir);
	if ((d = opendir(p)) == NULL)
		fail("tmp/ is gone", NULL);
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			fail("an upload was left in tmp/", e->d_name);
	closedir(d);
}

static int
cmp_name(const void *a, const void *b)
{
	return strcmp(a, b);
}

static struct seen_pack *
seen_find(const char *name)
{
	for (size_t i = 0; i < nseen; i++)
		if (strcmp(seen[i].name, name) == 0)
			return &seen[i];
	return NULL;
}

/* The full check of a pack new to the harness. */
static void
check_new_pack(const char *name, int fd, const struct stat *st)
{
	struct pack_info info;
	struct seen_pack *sp;

	if (pack_verify_name_fd(fd, name) != ERR_OK)
		fail("a pack does not hash to its name", name);
	if (pack_check_structure_fd(fd, &info) != ERR_OK)
		fail("a stored pack is malformed", name);
	if (memcmp(info.key_id, vault_key_id(vault), PACK_KEY_ID_LEN) != 0)
		fail("a stored pack is sealed to another key", name);
	if ((st->st_mode & 0222) != 0 || !S_ISREG(st->st_mode))
		fail("a stored pack is writable or not a file", name);
	if ((sp = realloc(seen, (nseen + 1) * sizeof(*seen))) == NULL)
		abort();
	seen = sp;
	memcpy(seen[nseen].name, name, PACK_NAME_HEX_LEN + 1);
	seen[nseen].st = *st;
	nseen++;
}

/* Each pack file is what its name says, well formed and read-only. */
static void
check_packs(char (**names)[PACK_NAME_HEX_LEN + 1], size_t *n, off_t **sizes)
{
	if (vault_pack_list(vault, names, n) != ERR_OK)
		fail("packs/ cannot be listed", NULL);
	*sizes = malloc((*n ? *n : 1) * sizeof(**sizes));
	if (*sizes == NULL)
		abort();
	if (*n < nseen)
		fail("a pack was removed", NULL);
	for (size_t i = 0; i < *n; i++) {
		const char *name = (*names)[i];
		struct seen_pack *sp = seen_find(name);
		struct stat st;
		int fd = vault_pack_open(vault, name);

		if (fd < 0 || fstat(fd, &st) != 0)
			fail("a listed pack does not open", name);
		if (sp == NULL)
			check_new_pack(name, fd, &st);
		else if (sp->st.st_ino != st.st_ino ||
		    sp->st.st_size != st.st_size ||
		    sp->st.st_mode != st.st_mode ||
		    sp->st.st_ctim.tv_sec != st.st_ctim.tv_sec ||
		    sp->st.st_ctim.tv_nsec != st.st_ctim.tv_nsec)
			fail("a stored pack was changed", name);
		(*sizes)[i] = st.st_size;
		close(fd);
	}
}

/* Rewrites received/FUZZ_HOST with each pack once (see the top). */
static void
compact_received(const struct vault_received *r)
{
	char path[128], *text;
	size_t cap = r->n * (PACK_NAME_HEX_LEN + 24) + 1, len = 0;
	struct stat st;

	snprintf(path, sizeof(path), "%s/received/%s", dir, FUZZ_HOST);
	if (stat(path, &st) != 0 || (size_t)st.st_size <= RECEIVED_COMPACT)
		return;
	if ((text = malloc(cap)) == NULL)
		abort();
	for (size_t i = 0; i < r->n; i++)
		len += (size_t)snprintf(text + len, cap - len, "%s %llu\n",
		    r->names[i], (unsigned long long)r->sizes[i]);
	if (fs_write_atomic(path, text, len, 0644, 0) != ERR_OK)
		abort();
	free(text);
}

/* Removes every stored snapshot record (see the top). */
static void
drop_snapshots(void)
{
	char p[128];
	DIR *d;
	struct dirent *e;

	snprintf(p, sizeof(p), "%s/snapshots/%s", dir, FUZZ_HOST);
	if ((d = opendir(p)) == NULL)
		abort();
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.' && unlinkat(dirfd(d), e->d_name, 0) != 0)
			abort();
	closedir(d);
}

static void
check_vault(void)
{
	char (*names)[PACK_NAME_HEX_LEN + 1] = NULL;
	off_t *sizes = NULL;
	size_t npacks = 0, nsnaps = 0;
	struct vault_received r;
	struct vault_snapshot *snaps = NULL;

	check_tmp_empty();
	check_packs(&names, &npacks, &sizes);

	if (vault_received_load(vault, FUZZ_HOST, &r) != ERR_OK)
		fail("received/" FUZZ_HOST " does not load", NULL);
	for (size_t i = 0; i < r.n; i++) {
		char (*at)[PACK_NAME_HEX_LEN + 1] = npacks == 0 ? NULL :
		    bsearch(r.names[i], names, npacks, sizeof(*names),
		    cmp_name);
		if (at == NULL)
			fail("a received pack is not in packs/", r.names[i]);
		if ((uint64_t)sizes[at - names] != r.sizes[i])
			fail("a received pack's size is wrong", r.names[i]);
	}

	if (vault_snapshot_list(vault, &snaps, &nsnaps, bad_snapshot,
	    NULL) != ERR_OK)
		fail("snapshots cannot be listed", NULL);
	for (size_t i = 0; i < nsnaps; i++) {
		if (strcmp(snaps[i].host, FUZZ_HOST) != 0 ||
		    strcmp(snaps[i].m->host, FUZZ_HOST) != 0)
			fail("a snapshot of another host", snaps[i].id);
		for (size_t j = 0; j < snaps[i].m->npacks; j++)
			if (!vault_received_has(&r, snaps[i].m->packs[j]))
				fail("a snapshot names a pack the host did "
				    "not send", snaps[i].m->packs[j]);
	}
	compact_received(&r);
	if (nsnaps > SNAP_KEEP)
		drop_snapshots();
	vault_snapshots_free(snaps, nsnaps);
	vault_received_free(&r);
	free(names);
	free(sizes);
}

static uint32_t
get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

/* A manifest frame claiming more than BIG_CLAIM bytes past the end. */
static int
claims_big_manifest(const uint8_t *d, size_t n)
{
	size_t pos = 0;

	while (n - pos >= VP_HEAD_LEN) {
		uint8_t type = d[pos];
		uint32_t len = get_u32(d + pos + 1);

		pos += VP_HEAD_LEN;
		if (len > n - pos)
			return type == VP_SNAP && len > BIG_CLAIM;
		pos += len;
	}
	return 0;
}

/* The input with every zero-signed manifest frame signed (see the top);
 * NULL when there is none. */
static uint8_t *
sign_zeroed(const uint8_t *d, size_t n)
{
	static const uint8_t zero[MANIFEST_SIG_LEN];
	uint8_t *copy = NULL;
	size_t pos = 0;

	while (n - pos >= VP_HEAD_LEN) {
		uint8_t type = d[pos];
		uint32_t len = get_u32(d + pos + 1);

		pos += VP_HEAD_LEN;
		if (len > n - pos)
			break;
		if (type == VP_SNAP && len >= MANIFEST_SIG_LEN &&
		    memcmp(d + pos + len - MANIFEST_SIG_LEN, zero,
		    MANIFEST_SIG_LEN) == 0) {
			size_t blen = len - MANIFEST_SIG_LEN;
			uint8_t *msg = malloc(MANIFEST_SIG_PREFIX_LEN + blen);

			if (copy == NULL && (copy = malloc(n)) != NULL)
				memcpy(copy, d, n);
			if (copy == NULL || msg == NULL)
				abort();
			memcpy(msg, MANIFEST_SIG_PREFIX, MANIFEST_SIG_PREFIX_LEN);
			memcpy(msg + MANIFEST_SIG_PREFIX_LEN, d + pos, blen);
			crypto_sign_detached(copy + pos + blen, NULL, msg,
			    MANIFEST_SIG_PREFIX_LEN + blen, fuzz_sign_sk);
			free(msg);
		}
		pos += len;
	}
	return copy;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vault_receive_opts o = { .host = FUZZ_HOST, .no_audit = 1,
	    .idle_timeout_ms = 0 };
	uint8_t *signed_copy;
	char why[512];
	int rc, probe;

	init_once();
	if (claims_big_manifest(data, size))
		return 0;
	if ((signed_copy = sign_zeroed(data, size)) != NULL)
		data = signed_copy;
	if (ftruncate(in_fd, 0) != 0 ||
	    (size > 0 && fs_pwrite_all(in_fd, data, size, 0) != ERR_OK) ||
	    lseek(in_fd, 0, SEEK_SET) != 0)
		abort();
	why[0] = 'x';
	why[1] = '\0';
	rc = vault_receive(vault, &o, in_fd, out_fd, why, sizeof(why));
	if (rc > 0 || strcmp(err_str(rc), "unknown error") == 0)
		fail("vault_receive returned no err.h code", NULL);
	if (rc != ERR_OK && why[0] == '\0')
		fail("vault_receive failed without a reason", NULL);
	if (memchr(why, '\0', sizeof(why)) == NULL)
		fail("the reason is not terminated", NULL);
	if ((probe = dup(0)) != fd_probe)
		fail("vault_receive leaked a descriptor", NULL);
	close(probe);
	check_vault();
	free(signed_copy);
	return 0;
}
