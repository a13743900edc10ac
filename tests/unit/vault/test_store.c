/*
 * test_store.c - the vault directory (vault/store.h): create and open,
 * uploads (stored read-only under their name, the same pack twice, a
 * wrong name, another vault's pack), the received lists (a line torn by
 * a crash, a malformed line), snapshot records (no overwrite, ID
 * prefixes, a record altered on disk) and the vault's audit log.
 */
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "audit/tiles.h"
#include "audit/verify.h"
#include "backup/manifest.h"
#include "backup/pack.h"
#include "common/fsutil.h"
#include "vault/store.h"
#include "common/banned.h"

#define HOST "web1.example.org"
#define HOST2 "db1"

struct fx {
	char dir[64];
	char vdir[96];
	char *log_vkey;
	uint8_t vault_pk[PACK_PK_LEN], vault_sk[PACK_SK_LEN];
	uint8_t host_pk[MANIFEST_PK_LEN], host_sk[MANIFEST_SK_LEN];
	struct vault *v;
};

/* ---- Helpers ---------------------------------------------------------- */

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
enroll(struct fx *f, const char *name, const uint8_t pk[MANIFEST_PK_LEN],
    uint64_t quota)
{
	struct vault_host h;

	memset(&h, 0, sizeof(h));
	snprintf(h.name, sizeof(h.name), "%s", name);
	memcpy(h.sign_pk, pk, MANIFEST_PK_LEN);
	h.quota = quota;
	snprintf(h.ssh_key, sizeof(h.ssh_key), "ssh-ed25519 AAAAtest %s",
	    name);
	assert_int_equal(vault_host_add(f->v, &h), ERR_OK);
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	uint8_t secret[REPO_SECRET_LEN], seed[32];
	char why[256] = "";

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/bwt-store-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->vdir, sizeof(f->vdir), "%s/vault", f->dir);
	assert_int_equal(pack_vault_keypair_secret(f->vault_pk, f->vault_sk),
	    ERR_OK);
	randombytes_buf(secret, sizeof(secret));
	assert_int_equal(vault_create(f->vdir, f->vault_pk, secret,
	    "test.example/vault", &f->log_vkey, why, sizeof(why)), ERR_OK);
	assert_int_equal(vault_open(f->vdir, &f->v, why, sizeof(why)),
	    ERR_OK);
	memset(seed, 0x01, sizeof(seed));
	crypto_sign_seed_keypair(f->host_pk, f->host_sk, seed);
	enroll(f, HOST, f->host_pk, 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	vault_close(f->v);
	nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f->log_vkey);
	free(f);
	return 0;
}

/* A pack sealed to pk with one chunk of the given text. */
static void
make_pack(const uint8_t pk[PACK_PK_LEN], const char *text, uint8_t **buf,
    size_t *len, char name[PACK_NAME_HEX_LEN + 1])
{
	struct pack_run *run = NULL;
	struct pack_writer *w = NULL;
	uint8_t id[PACK_ID_LEN];

	crypto_generichash(id, sizeof(id), (const uint8_t *)text, strlen(text),
	    NULL, 0);
	assert_int_equal(pack_run_new(pk, &run), ERR_OK);
	assert_int_equal(pack_writer_new(run, &w), ERR_OK);
	assert_int_equal(pack_writer_add(w, id, (const uint8_t *)text,
	    strlen(text)), ERR_OK);
	assert_int_equal(pack_writer_finish_buf(w, buf, len, name), ERR_OK);
	pack_writer_free(w);
	pack_run_free(run);
}

static int
upload(struct fx *f, const uint8_t *buf, size_t len, const char *name,
    const char *host, int *existed)
{
	struct vault_upload *u = NULL;
	int rc;

	assert_int_equal(vault_upload_begin(f->v, &u), ERR_OK);
	/* In two writes, as bytes arrive. */
	assert_int_equal(vault_upload_write(u, buf, len / 2), ERR_OK);
	assert_int_equal(vault_upload_write(u, buf + len / 2, len - len / 2),
	    ERR_OK);
	assert_int_equal(vault_upload_size(u), len);
	rc = vault_upload_commit(u, name, host, 0, existed);
	vault_upload_abort(u);
	return rc;
}

static size_t
count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static size_t
tmp_entries(const struct fx *f)
{
	char p[160];

	snprintf(p, sizeof(p), "%s/tmp", f->vdir);
	return count_entries(p);
}

static size_t
pack_count(const struct fx *f)
{
	char (*names)[PACK_NAME_HEX_LEN + 1] = NULL;
	size_t n = 0;

	assert_int_equal(vault_pack_list(f->v, &names, &n), ERR_OK);
	free(names);
	return n;
}

static void
received_path(const struct fx *f, const char *host, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s/received/%s", f->vdir, host);
}

static void
write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	assert_int_equal(fwrite(text, 1, strlen(text), fp), strlen(text));
	assert_int_equal(fclose(fp), 0);
}

/* A signed manifest for HOST naming packs (sorted), with the ID given. */
static void
make_manifest(const struct fx *f, const uint8_t id[MANIFEST_SNAPSHOT_ID_LEN],
    char (*packs)[PACK_NAME_HEX_LEN + 1], size_t npacks, uint8_t **out,
    size_t *len)
{
	struct manifest m;

	memset(&m, 0, sizeof(m));
	m.host = (char *)HOST;
	memcpy(m.snapshot_id, id, MANIFEST_SNAPSHOT_ID_LEN);
	m.client_time = 1700000000;
	assert_int_equal(pack_vault_key_id(f->vault_pk, m.key_id), ERR_OK);
	memset(m.root_id, 0x22, sizeof(m.root_id));
	memcpy(m.root_pack, packs[0], sizeof(m.root_pack));
	m.packs = packs;
	m.npacks = npacks;
	assert_int_equal(manifest_encode_sign(&m, f->host_sk, out, len),
	    ERR_OK);
}

/* A name that sorts fine and names nothing. */
static void
fake_name(char name[PACK_NAME_HEX_LEN + 1], int i)
{
	uint8_t h[32];
	uint32_t v = (uint32_t)i;

	crypto_hash_sha256(h, (const uint8_t *)&v, sizeof(v));
	sodium_bin2hex(name, PACK_NAME_HEX_LEN + 1, h, sizeof(h));
}

static void
bad_cb(const char *path, const char *why, void *arg)
{
	char *last = arg;

	(void)why;
	assert_non_null(arg);
	assert_true(last[0] == '\0');	/* only one bad record expected */
	snprintf(last, 4096, "%s", path);
}

static void
count_cb(const char *path, const char *why, void *arg)
{
	(void)path;
	(void)why;
	(*(int *)arg)++;
}

/* ---- Create and open --------------------------------------------------- */

static void
test_create_open(void **state)
{
	struct fx *f = *state;
	struct vault *v2 = NULL;
	uint8_t id[PACK_KEY_ID_LEN], secret[REPO_SECRET_LEN], s2[REPO_SECRET_LEN];
	char why[256] = "", *vkey = NULL, p[160];
	struct stat st;

	assert_memory_equal(vault_pk(f->v), f->vault_pk, PACK_PK_LEN);
	assert_int_equal(pack_vault_key_id(f->vault_pk, id), ERR_OK);
	assert_memory_equal(vault_key_id(f->v), id, PACK_KEY_ID_LEN);
	assert_string_equal(vault_dir(f->v), f->vdir);
	/* Root reads the repository secret back. */
	assert_int_equal(vault_repo_secret(f->v, secret), ERR_OK);
	snprintf(p, sizeof(p), "%s/keys/repo.key", f->vdir);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	snprintf(p, sizeof(p), "%s/tmp", f->vdir);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);

	/* Nothing is created over a non-empty directory. */
	memset(s2, 7, sizeof(s2));
	assert_int_equal(vault_create(f->vdir, f->vault_pk, s2, "x/y", &vkey,
	    why, sizeof(why)), ERR_EXISTS);
	assert_null(vkey);
	assert_int_equal(vault_repo_secret(f->v, s2), ERR_OK);
	assert_memory_equal(secret, s2, sizeof(s2));

	/* Something else is not a vault; a malformed vault.conf neither. */
	assert_int_not_equal(vault_open(f->dir, &v2, why, sizeof(why)), ERR_OK);
	assert_null(v2);
	snprintf(p, sizeof(p), "%s/fake", f->dir);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/fake/vault.conf", f->dir);
	write_file(p, "bulwark vault v1\nvault-key AAAA\n");
	snprintf(p, sizeof(p), "%s/fake", f->dir);
	assert_int_equal(vault_open(p, &v2, why, sizeof(why)), ERR_FORMAT);
	assert_null(v2);

	/* A second handle on the same vault sees the same key. */
	assert_int_equal(vault_open(f->vdir, &v2, why, sizeof(why)), ERR_OK);
	assert_memory_equal(vault_pk(v2), f->vault_pk, PACK_PK_LEN);
	vault_close(v2);
	vault_close(NULL);
}

static void
test_hosts(void **state)
{
	struct fx *f = *state;
	struct vault_host h, again;
	uint8_t pk[MANIFEST_PK_LEN];

	memset(pk, 0x44, sizeof(pk));
	assert_int_equal(vault_host_get(f->v, HOST, &h), ERR_OK);
	assert_string_equal(h.name, HOST);
	assert_memory_equal(h.sign_pk, f->host_pk, MANIFEST_PK_LEN);
	assert_int_equal(h.quota, 0);
	enroll(f, HOST2, pk, 123456789);
	assert_int_equal(vault_host_get(f->v, HOST2, &again), ERR_OK);
	assert_int_equal(again.quota, 123456789);
	assert_memory_equal(again.sign_pk, pk, sizeof(pk));
	/* Once only; unknown and unsafe names are not found. */
	assert_int_equal(vault_host_add(f->v, &h), ERR_EXISTS);
	assert_int_equal(vault_host_get(f->v, "nobody", &h), ERR_NOTFOUND);
	assert_int_equal(vault_host_get(f->v, "../vault.conf", &h),
	    ERR_NOTFOUND);
	assert_int_equal(vault_host_get(f->v, "..", &h), ERR_NOTFOUND);
	snprintf(h.name, sizeof(h.name), "a/b");
	assert_int_equal(vault_host_add(f->v, &h), ERR_INVAL);
	snprintf(h.name, sizeof(h.name), "web2");
	snprintf(h.ssh_key, sizeof(h.ssh_key), "ssh-ed25519 A\nquota 0");
	assert_int_equal(vault_host_add(f->v, &h), ERR_INVAL);
}

/* ---- Uploads -------------------------------------------------------- */

static void
test_upload(void **state)
{
	struct fx *f = *state;
	struct vault_received r;
	struct stat st, st2;
	char name[PACK_NAME_HEX_LEN + 1], path[4096];
	uint8_t *buf;
	size_t len;
	int existed = -1;

	make_pack(f->vault_pk, "hello, vault", &buf, &len, name);
	assert_int_equal(upload(f, buf, len, name, HOST, &existed), ERR_OK);
	assert_int_equal(existed, 0);
	assert_int_equal(tmp_entries(f), 0);

	assert_int_equal(vault_pack_path(f->v, name, path, sizeof(path)),
	    ERR_OK);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0444);
	assert_int_equal((size_t)st.st_size, len);
	int fd = vault_pack_open(f->v, name);
	assert_true(fd >= 0);
	assert_int_equal(pack_verify_name_fd(fd, name), ERR_OK);
	close(fd);

	char (*names)[PACK_NAME_HEX_LEN + 1] = NULL;
	size_t n;
	assert_int_equal(vault_pack_list(f->v, &names, &n), ERR_OK);
	assert_int_equal(n, 1);
	assert_string_equal(names[0], name);
	free(names);

	assert_int_equal(vault_received_load(f->v, HOST, &r), ERR_OK);
	assert_int_equal(r.n, 1);
	assert_string_equal(r.names[0], name);
	assert_int_equal(r.sizes[0], len);
	/* The quota counts whole 4 KiB blocks: a file takes at least one. */
	assert_int_equal(r.total, vault_quota_charge(len));
	assert_int_equal(vault_quota_charge(len), 4096);
	assert_int_equal(vault_quota_charge(0), 0);
	assert_int_equal(vault_quota_charge(4096), 4096);
	assert_int_equal(vault_quota_charge(4097), 8192);
	assert_true(vault_received_has(&r, name));
	vault_received_free(&r);
	/* Another host has received nothing. */
	assert_int_equal(vault_received_load(f->v, HOST2, &r), ERR_OK);
	assert_int_equal(r.n, 0);
	assert_false(vault_received_has(&r, name));
	vault_received_free(&r);

	/* The same pack again: existed, the file untouched, counted once. */
	assert_int_equal(upload(f, buf, len, name, HOST, &existed), ERR_OK);
	assert_int_equal(existed, 1);
	assert_int_equal(stat(path, &st2), 0);
	assert_int_equal(st2.st_ino, st.st_ino);
	assert_int_equal(st2.st_mtime, st.st_mtime);
	assert_int_equal(st2.st_nlink, 1);
	assert_int_equal(pack_count(f), 1);
	assert_int_equal(tmp_entries(f), 0);
	assert_int_equal(vault_received_load(f->v, HOST, &r), ERR_OK);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.total, vault_quota_charge(len));
	vault_received_free(&r);

	/* Another host sending it gets it listed for itself. */
	assert_int_equal(upload(f, buf, len, name, HOST2, &existed), ERR_OK);
	assert_int_equal(existed, 1);
	assert_int_equal(vault_received_load(f->v, HOST2, &r), ERR_OK);
	assert_int_equal(r.n, 1);
	vault_received_free(&r);

	/* Names that are not 64 lowercase hex digits name no file. */
	assert_int_equal(vault_pack_path(f->v, "ABC", path, sizeof(path)),
	    ERR_FORMAT);
	assert_int_equal(vault_pack_open(f->v, "../../vault.conf"),
	    ERR_FORMAT);
	char missing[PACK_NAME_HEX_LEN + 1];
	fake_name(missing, 1);
	assert_int_equal(vault_pack_open(f->v, missing), ERR_NOTFOUND);
	free(buf);
}

/*
 * Uploads are written direct from an aligned buffer, the unaligned tail
 * through the page cache: packs whose sizes fall on either side of the
 * alignment and of the buffer, arriving in uneven pieces, land byte for
 * byte.
 */
static void
test_upload_sizes(void **state)
{
	static const size_t sizes[] = { 1, 3000, 4096, (4u << 20) - 300,
	    (4u << 20) + 5000, (9u << 20) + 1 };
	static const size_t pieces[] = { 1, 4095, 4097, (1u << 20) + 3,
	    65536 };
	struct fx *f = *state;

	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		struct pack_run *run = NULL;
		struct pack_writer *w = NULL;
		struct vault_upload *u = NULL;
		uint8_t id[PACK_ID_LEN], *data, *buf, *back;
		char name[PACK_NAME_HEX_LEN + 1], path[4096];
		size_t len, off = 0;
		int existed, fd;

		assert_non_null(data = malloc(sizes[k]));
		randombytes_buf(data, sizes[k]);	/* stored raw */
		crypto_generichash(id, sizeof(id), data, sizes[k], NULL, 0);
		assert_int_equal(pack_run_new(f->vault_pk, &run), ERR_OK);
		assert_int_equal(pack_writer_new(run, &w), ERR_OK);
		assert_int_equal(pack_writer_add(w, id, data, sizes[k]), ERR_OK);
		assert_int_equal(pack_writer_finish_buf(w, &buf, &len, name),
		    ERR_OK);
		pack_writer_free(w);
		pack_run_free(run);

		assert_int_equal(vault_upload_begin(f->v, &u), ERR_OK);
		for (size_t i = 0; off < len; i++) {
			size_t n = pieces[(i + k) % 5];
			if (n > len - off)
				n = len - off;
			assert_int_equal(vault_upload_write(u, buf + off, n),
			    ERR_OK);
			off += n;
		}
		assert_int_equal(vault_upload_commit(u, name, HOST, 0, &existed),
		    ERR_OK);
		vault_upload_abort(u);
		assert_int_equal(existed, 0);

		assert_int_equal(vault_pack_path(f->v, name, path,
		    sizeof(path)), ERR_OK);
		assert_non_null(back = malloc(len + 1));
		assert_true((fd = open(path, O_RDONLY)) >= 0);
		assert_int_equal(read(fd, back, len + 1), (ssize_t)len);
		close(fd);
		assert_memory_equal(back, buf, len);
		free(back);
		free(buf);
		free(data);
	}
	assert_int_equal(tmp_entries(f), 0);
}

/* The same, with the file system refusing the 3rd direct write. */
static void
test_upload_sizes_buffered(void **state)
{
	(void)state;
#ifdef BULWARK_FAULT_INJECTION
	setenv("BULWARK_FAULT", "direct:3", 1);
	test_upload_sizes(state);
	unsetenv("BULWARK_FAULT");
#else
	skip();
#endif
}

/* Every refused upload leaves the vault as it was and no temp file. */
static void
expect_refused(struct fx *f, const uint8_t *buf, size_t len,
    const char *name, int want)
{
	struct vault_received r;
	char rp[160];
	struct stat st;
	int existed = -1;

	assert_int_equal(upload(f, buf, len, name, HOST, &existed), want);
	assert_int_equal(existed, 0);
	assert_int_equal(pack_count(f), 0);
	assert_int_equal(tmp_entries(f), 0);
	received_path(f, HOST, rp, sizeof(rp));
	assert_int_equal(stat(rp, &st), -1);
	assert_int_equal(vault_received_load(f->v, HOST, &r), ERR_OK);
	assert_int_equal(r.n, 0);
	vault_received_free(&r);
}

static void
test_upload_refused(void **state)
{
	struct fx *f = *state;
	uint8_t *buf, *other, pk2[PACK_PK_LEN], sk2[PACK_SK_LEN], h[32];
	size_t len, olen;
	char name[PACK_NAME_HEX_LEN + 1], oname[PACK_NAME_HEX_LEN + 1];
	char wrong[PACK_NAME_HEX_LEN + 1];

	make_pack(f->vault_pk, "some chunk", &buf, &len, name);
	/* The bytes do not hash to the name. */
	memcpy(wrong, name, sizeof(wrong));
	wrong[0] = wrong[0] == '0' ? '1' : '0';
	expect_refused(f, buf, len, wrong, ERR_MISMATCH);
	/* A pack of another upload's name. */
	make_pack(f->vault_pk, "another chunk", &other, &olen, oname);
	expect_refused(f, buf, len, oname, ERR_MISMATCH);
	free(other);
	/* Not a name at all. */
	expect_refused(f, buf, len, "00", ERR_FORMAT);
	memcpy(wrong, name, sizeof(wrong));
	for (char *p = wrong; *p != '\0'; p++)
		if (*p >= 'a' && *p <= 'f')
			*p = (char)(*p - 'a' + 'A');
	if (strcmp(wrong, name) != 0)
		expect_refused(f, buf, len, wrong, ERR_FORMAT);

	/* Sealed to another vault's key, name right. */
	assert_int_equal(pack_vault_keypair_secret(pk2, sk2), ERR_OK);
	make_pack(pk2, "some chunk", &other, &olen, oname);
	expect_refused(f, other, olen, oname, ERR_NOTFOUND);
	free(other);

	/* Named right but not a pack. */
	uint8_t junk[PACK_MIN_SIZE + 10];
	memset(junk, 'j', sizeof(junk));
	crypto_hash_sha256(h, junk, sizeof(junk));
	sodium_bin2hex(oname, sizeof(oname), h, sizeof(h));
	expect_refused(f, junk, sizeof(junk), oname, ERR_FORMAT);
	/* A truncated pack under the truncated bytes' name. */
	crypto_hash_sha256(h, buf, len - 1);
	sodium_bin2hex(oname, sizeof(oname), h, sizeof(h));
	expect_refused(f, buf, len - 1, oname, ERR_FORMAT);

	/* An upload given up on leaves nothing. */
	struct vault_upload *u = NULL;
	assert_int_equal(vault_upload_begin(f->v, &u), ERR_OK);
	assert_int_equal(vault_upload_write(u, buf, len), ERR_OK);
	assert_int_equal(tmp_entries(f), 1);
	vault_upload_abort(u);
	vault_upload_abort(NULL);
	assert_int_equal(tmp_entries(f), 0);
	assert_int_equal(pack_count(f), 0);
	free(buf);
}

/* ---- Received lists --------------------------------------------------- */

/* A crash may leave the last line without its newline: not listed. */
static void
test_received_torn(void **state)
{
	struct fx *f = *state;
	struct vault_received r;
	char a[PACK_NAME_HEX_LEN + 1], b[PACK_NAME_HEX_LEN + 1], p[160];
	char text[512];

	fake_name(a, 1);
	fake_name(b, 2);
	received_path(f, HOST, p, sizeof(p));
	/* Torn inside the name, and torn inside the size. */
	snprintf(text, sizeof(text), "%s 100\n%s 200\n%.20s", a, b, a);
	write_file(p, text);
	assert_int_equal(vault_received_load(f->v, HOST, &r), ERR_OK);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.total, 2 * VAULT_QUOTA_BLOCK);
	assert_true(vault_received_has(&r, a));
	assert_true(vault_received_has(&r, b));
	vault_received_free(&r);
	snprintf(text, sizeof(text), "%s 100\n%s 2", a, b);
	write_file(p, text);
	assert_int_equal(vault_received_load(f->v, HOST, &r), ERR_OK);
	assert_int_equal(r.n, 1);
	assert_false(vault_received_has(&r, b));
	vault_received_free(&r);
	/* Empty, and a lone newline at the end. */
	write_file(p, "");
	assert_int_equal(vault_received_load(f->v, HOST, &r), ERR_OK);
	assert_int_equal(r.n, 0);
	vault_received_free(&r);
	snprintf(text, sizeof(text), "%s 100\n\n", a);
	write_file(p, text);
	assert_int_equal(vault_received_load(f->v, HOST, &r), ERR_OK);
	assert_int_equal(r.n, 1);
	vault_received_free(&r);
}

/*
 * After a torn line, the next upload for the host must still leave a
 * list that loads, with every complete line and the new pack: the torn
 * line must not be glued to the new one, nor make the list unreadable.
 */
static void
test_received_torn_then_append(void **state)
{
	struct fx *f = *state;
	struct vault_received r;
	char a[PACK_NAME_HEX_LEN + 1], name[PACK_NAME_HEX_LEN + 1], p[160];
	char text[512], *back = NULL;
	uint8_t *buf;
	size_t len, blen;
	int existed;

	fake_name(a, 1);
	received_path(f, HOST, p, sizeof(p));
	snprintf(text, sizeof(text), "%s 100\n%.40s", a, a);
	write_file(p, text);
	make_pack(f->vault_pk, "after the crash", &buf, &len, name);
	assert_int_equal(upload(f, buf, len, name, HOST, &existed), ERR_OK);
	free(buf);

	/* The new line is a line of its own. */
	assert_int_equal(fs_read_file(p, 4096, &back, &blen), ERR_OK);
	snprintf(text, sizeof(text), "\n%s %zu\n", name, len);
	assert_non_null(strstr(back, text));
	free(back);

	assert_int_equal(vault_received_load(f->v, HOST, &r), ERR_OK);
	assert_true(vault_received_has(&r, a));
	assert_true(vault_received_has(&r, name));
	assert_int_equal(r.n, 2);
	assert_int_equal(r.total, vault_quota_charge(100) +
	    vault_quota_charge(len));
	vault_received_free(&r);
}

static void
test_received_malformed(void **state)
{
	struct fx *f = *state;
	struct vault_received r;
	char a[PACK_NAME_HEX_LEN + 1], b[PACK_NAME_HEX_LEN + 1], p[160];
	char text[512], upper[PACK_NAME_HEX_LEN + 1];

	fake_name(a, 1);
	fake_name(b, 2);
	received_path(f, HOST, p, sizeof(p));
	/* Each middle line: a form of b's name, then a suffix. */
	static const struct {
		int form;	/* 0 none, 1 b, 2 b less a digit, 3 b and
				 * a digit more, 4 b in upper case */
		const char *suffix;
	} middles[] = { { 0, "garbage" }, { 0, "" }, { 1, "" }, { 1, " x" },
	    { 1, " 01" }, { 1, " -1" }, { 1, " 18446744073709551616" },
	    { 1, "  1" }, { 1, " 1 " }, { 1, " 1\r" }, { 2, " 1" },
	    { 3, " 1" }, { 4, " 1" }, { 0, " 1" } };
	memcpy(upper, b, sizeof(upper));
	for (char *q = upper; *q != '\0'; q++)
		if (*q >= 'a' && *q <= 'f')
			*q = (char)(*q - 'a' + 'A');
	for (size_t i = 0; i < sizeof(middles) / sizeof(middles[0]); i++) {
		char mid[256];

		switch (middles[i].form) {
		case 0:
			mid[0] = '\0';
			break;
		case 1:
			snprintf(mid, sizeof(mid), "%s", b);
			break;
		case 2:
			snprintf(mid, sizeof(mid), "%.63s", b);
			break;
		case 3:
			snprintf(mid, sizeof(mid), "%sa", b);
			break;
		default:
			snprintf(mid, sizeof(mid), "%s", upper);
			break;
		}
		snprintf(mid + strlen(mid), sizeof(mid) - strlen(mid), "%s",
		    middles[i].suffix);
		snprintf(text, sizeof(text), "%s 100\n%s\n%s 5\n", a, mid, a);
		write_file(p, text);
		assert_int_equal(vault_received_load(f->v, HOST, &r),
		    ERR_FORMAT);
		assert_int_equal(r.n, 0);
		assert_null(r.names);
		vault_received_free(&r);
	}
	/* A bad host name is an argument error, not an empty list. */
	assert_int_equal(vault_received_load(f->v, "../x", &r), ERR_INVAL);
}

/* ---- Snapshots -------------------------------------------------------- */

static void
test_snapshot_put_twice(void **state)
{
	struct fx *f = *state;
	struct vault_snapshot *s = NULL;
	char packs[1][PACK_NAME_HEX_LEN + 1];
	uint8_t id[MANIFEST_SNAPSHOT_ID_LEN], *mf;
	size_t len, n;
	char last[4096] = "";

	fake_name(packs[0], 1);
	memset(id, 0xab, sizeof(id));
	make_manifest(f, id, packs, 1, &mf, &len);
	assert_int_equal(vault_snapshot_put(f->v, HOST, mf, len, 1111), ERR_OK);
	assert_int_equal(vault_snapshot_put(f->v, HOST, mf, len, 2222),
	    ERR_EXISTS);
	assert_int_equal(vault_snapshot_list(f->v, &s, &n, bad_cb, last),
	    ERR_OK);
	assert_string_equal(last, "");
	assert_int_equal(n, 1);
	assert_int_equal(s[0].received, 1111);
	assert_string_equal(s[0].host, HOST);
	assert_string_equal(s[0].id, "abababababababababababababababab");
	assert_int_equal(s[0].rawlen, len);
	assert_memory_equal(s[0].raw, mf, len);
	assert_string_equal(s[0].m->host, HOST);
	vault_snapshots_free(s, n);
	vault_snapshots_free(NULL, 0);
	/* Not a manifest: nothing stored. */
	assert_int_not_equal(vault_snapshot_put(f->v, HOST, mf, len - 1, 1),
	    ERR_OK);
	free(mf);
}

/*
 * A receive killed while writing a snapshot record leaves ID.tmp.PID:
 * listing skips it (it is no record) and the next sweep removes it, but
 * only once its writer is gone.
 */
static void
test_snapshot_tmp_left(void **state)
{
	struct fx *f = *state;
	struct vault_snapshot *s = NULL;
	char path[512], live[512], last[4096] = "";
	size_t n, removed;
	pid_t dead = fork();
	int fd;

	assert_true(dead >= 0);
	if (dead == 0)
		_exit(0);
	assert_int_equal(waitpid(dead, NULL, 0), dead);
	snprintf(path, sizeof(path), "%s/snapshots/%s", f->vdir, HOST);
	assert_int_equal(fs_mkdirs(path, 0755), ERR_OK);
	snprintf(path, sizeof(path), "%s/snapshots/%s/%s.tmp.%ld", f->vdir,
	    HOST, "abababababababababababababababab", (long)dead);
	snprintf(live, sizeof(live), "%s/snapshots/%s/%s.tmp.%ld", f->vdir,
	    HOST, "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd", (long)getppid());
	assert_true((fd = open(path, O_WRONLY | O_CREAT, 0600)) >= 0);
	assert_int_equal(write(fd, "BWSR", 4), 4);
	close(fd);
	assert_true((fd = open(live, O_WRONLY | O_CREAT, 0600)) >= 0);
	close(fd);
	assert_int_equal(vault_snapshot_list(f->v, &s, &n, bad_cb, last),
	    ERR_OK);
	assert_string_equal(last, "");
	assert_int_equal(n, 0);
	vault_snapshots_free(s, n);
	assert_int_equal(vault_tmp_sweep(f->v, &removed), ERR_OK);
	assert_int_equal(removed, 1);
	assert_int_not_equal(access(path, F_OK), 0);
	assert_int_equal(access(live, F_OK), 0);	/* its writer lives */
}

/*
 * One receive per host at a time: a second lock of the same host waits,
 * then gives up with ERR_LOCKED; another host's is free; released with
 * the descriptor.
 */
static void
test_host_lock(void **state)
{
	struct fx *f = *state;
	int a, b, c;

	assert_int_equal(vault_host_lock(f->v, HOST, 0, &a), ERR_OK);
	assert_int_equal(vault_host_lock(f->v, HOST, 300, &b), ERR_LOCKED);
	assert_int_equal(b, -1);
	assert_int_equal(vault_host_lock(f->v, "other", 0, &c), ERR_OK);
	close(c);
	assert_int_equal(vault_host_lock(f->v, "../x", 0, &c), ERR_NOMEM);
	close(a);
	assert_int_equal(vault_host_lock(f->v, HOST, 0, &b), ERR_OK);
	close(b);
}

/*
 * A FIFO in the place of a pack or of a snapshot record (a tampered vault
 * or copy) is refused at once instead of blocking open() forever; the
 * alarm turns a hang into a failure.
 */
static void
test_fifo_refused(void **state)
{
	struct fx *f = *state;
	struct vault_snapshot *s = NULL;
	char name[PACK_NAME_HEX_LEN + 1], path[4096], last[4096] = "";
	size_t n;

	memset(name, 'a', PACK_NAME_HEX_LEN);
	name[PACK_NAME_HEX_LEN] = '\0';
	assert_int_equal(vault_pack_path(f->v, name, path, sizeof(path)),
	    ERR_OK);
	*strrchr(path, '/') = '\0';
	assert_int_equal(fs_mkdirs(path, 0755), ERR_OK);
	assert_int_equal(vault_pack_path(f->v, name, path, sizeof(path)),
	    ERR_OK);
	assert_int_equal(mkfifo(path, 0644), 0);
	alarm(10);
	assert_int_equal(vault_pack_open(f->v, name), ERR_FORMAT);

	snprintf(path, sizeof(path), "%s/snapshots/%s", f->vdir, HOST);
	assert_int_equal(fs_mkdirs(path, 0755), ERR_OK);
	snprintf(path, sizeof(path), "%s/snapshots/%s/%s", f->vdir, HOST,
	    "abababababababababababababababab");
	assert_int_equal(mkfifo(path, 0644), 0);
	assert_int_equal(vault_snapshot_list(f->v, &s, &n, bad_cb, last),
	    ERR_OK);
	alarm(0);
	assert_int_equal(n, 0);
	assert_string_equal(last, path);
	vault_snapshots_free(s, n);
}

/*
 * The ID vault_snapshot_get finds for prefix among host's (NULL: all), or
 * "conflict" or "notfound"; what it hands out is released at once.
 */
static const char *
got(struct fx *f, const char *host, const char *prefix)
{
	static char id[MANIFEST_ID_HEX_LEN + 1];
	struct vault_snapshot one;
	int r = vault_snapshot_get(f->v, host, prefix, &one, NULL, NULL);

	if (r == ERR_CONFLICT || r == ERR_NOTFOUND) {
		assert_null(one.m);
		assert_null(one.raw);
		return r == ERR_CONFLICT ? "conflict" : "notfound";
	}
	assert_int_equal(r, ERR_OK);
	assert_non_null(one.m);
	assert_int_equal(one.rawlen > 0, 1);
	snprintf(id, sizeof(id), "%s", one.id);
	vault_snapshot_release(&one);
	assert_null(one.m);
	return id;
}

static void
test_snapshot_find(void **state)
{
	struct fx *f = *state;
	static const char *const ids[] = {
		"abcd1111000000000000000000000000",
		"abcd2222000000000000000000000000",
		"ef000000000000000000000000000001",
	};
	struct vault_snapshot *s = NULL;
	char packs[1][PACK_NAME_HEX_LEN + 1];
	size_t n;

	fake_name(packs[0], 1);
	for (size_t i = 0; i < 3; i++) {
		uint8_t id[MANIFEST_SNAPSHOT_ID_LEN], *mf;
		size_t len;

		assert_int_equal(sodium_hex2bin(id, sizeof(id), ids[i],
		    strlen(ids[i]), NULL, NULL, NULL), 0);
		make_manifest(f, id, packs, 1, &mf, &len);
		/* Received times in reverse, so the list must sort. */
		assert_int_equal(vault_snapshot_put(f->v, HOST, mf, len,
		    3000 - i), ERR_OK);
		free(mf);
	}
	assert_int_equal(vault_snapshot_list(f->v, &s, &n, NULL, NULL),
	    ERR_OK);
	assert_int_equal(n, 3);
	assert_string_equal(s[0].id, ids[2]);
	assert_string_equal(s[2].id, ids[0]);
	assert_true(s[0].received < s[1].received);

	vault_snapshots_free(s, n);

	/* One by the start of its ID, without holding the others. */
	assert_string_equal(got(f, NULL, "abcd1"), ids[0]);
	assert_string_equal(got(f, NULL, "abcd2222"), ids[1]);
	assert_string_equal(got(f, NULL, ids[2]), ids[2]);
	assert_string_equal(got(f, NULL, "ef00"), ids[2]);
	assert_string_equal(got(f, NULL, "abcd"), "conflict");
	assert_string_equal(got(f, NULL, "abc"), "notfound");
	assert_string_equal(got(f, NULL, "ef0"), "notfound");
	assert_string_equal(got(f, NULL, ""), "notfound");
	assert_string_equal(got(f, NULL, "ffff"), "notfound");
	assert_string_equal(got(f, NULL, "ef0000000000000000000000000000012"),
	    "notfound");
	/* Limited to one host: another host's equal ID does not count. */
	assert_string_equal(got(f, HOST, ids[2]), ids[2]);
	assert_string_equal(got(f, "elsewhere", ids[2]), "notfound");
	vault_snapshot_release(NULL);
}

/* A record changed after the fact is reported and left out. */
static void
test_snapshot_altered(void **state)
{
	struct fx *f = *state;
	struct vault_snapshot *s = NULL;
	char packs[1][PACK_NAME_HEX_LEN + 1], path[4096], last[4096];
	uint8_t id[MANIFEST_SNAPSHOT_ID_LEN], *mf;
	size_t len, n;

	fake_name(packs[0], 1);
	memset(id, 0x11, sizeof(id));
	make_manifest(f, id, packs, 1, &mf, &len);
	assert_int_equal(vault_snapshot_put(f->v, HOST, mf, len, 10), ERR_OK);
	free(mf);
	memset(id, 0x22, sizeof(id));
	make_manifest(f, id, packs, 1, &mf, &len);
	assert_int_equal(vault_snapshot_put(f->v, HOST, mf, len, 20), ERR_OK);

	/* Flip a byte inside the second manifest (its client time). */
	snprintf(path, sizeof(path), "%s/snapshots/%s/%s", f->vdir, HOST,
	    "22222222222222222222222222222222");
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	uint8_t byte;
	assert_int_equal(pread(fd, &byte, 1, VAULT_SNAP_HEADER_LEN + 30), 1);
	byte ^= 0x01;
	assert_int_equal(pwrite(fd, &byte, 1, VAULT_SNAP_HEADER_LEN + 30), 1);
	close(fd);

	last[0] = '\0';
	assert_int_equal(vault_snapshot_list(f->v, &s, &n, bad_cb, last),
	    ERR_OK);
	assert_int_equal(n, 1);
	assert_string_equal(s[0].id, "11111111111111111111111111111111");
	assert_non_null(strstr(last, "22222222222222222222222222222222"));
	vault_snapshots_free(s, n);

	/* The receive time is outside the signature: changing it is not
	 * detected here, but a wrong header, a record under another ID and
	 * one under another host are. */
	int bad = 0;
	char other[4096];
	snprintf(path, sizeof(path), "%s/snapshots/%s/%s", f->vdir, HOST,
	    "22222222222222222222222222222222");
	assert_int_equal(unlink(path), 0);
	snprintf(path, sizeof(path), "%s/snapshots/%s/%s", f->vdir, HOST,
	    "33333333333333333333333333333333");
	uint8_t *rec = malloc(VAULT_SNAP_HEADER_LEN + len);
	assert_non_null(rec);
	memcpy(rec, "BWSR\0\0\0\1\0\0\0\0\0\0\0\1", VAULT_SNAP_HEADER_LEN);
	memcpy(rec + VAULT_SNAP_HEADER_LEN, mf, len);
	assert_int_equal(fs_write_atomic(path, rec, VAULT_SNAP_HEADER_LEN + len,
	    0444, 0), ERR_OK);
	snprintf(other, sizeof(other), "%s/snapshots/%s", f->vdir, HOST2);
	assert_int_equal(mkdir(other, 0755), 0);
	snprintf(other, sizeof(other), "%s/snapshots/%s/%s", f->vdir, HOST2,
	    "22222222222222222222222222222222");
	assert_int_equal(fs_write_atomic(other, rec, VAULT_SNAP_HEADER_LEN +
	    len, 0444, 0), ERR_OK);
	snprintf(other, sizeof(other), "%s/snapshots/%s/%s", f->vdir, HOST,
	    "44444444444444444444444444444444");
	rec[7] = 2;
	assert_int_equal(fs_write_atomic(other, rec, VAULT_SNAP_HEADER_LEN +
	    len, 0444, 0), ERR_OK);
	assert_int_equal(vault_snapshot_list(f->v, &s, &n, count_cb, &bad),
	    ERR_OK);
	assert_int_equal(n, 1);
	assert_int_equal(bad, 3);
	vault_snapshots_free(s, n);
	free(rec);
	free(mf);
}

/* ---- Audit ------------------------------------------------------------ */

/* The log's last entry, parsed. */
static json_t *
last_entry(const struct fx *f, uint64_t *size)
{
	struct audit_verify_opts o = { .log_vkey = f->log_vkey };
	struct audit_verify_result res;
	struct tile_reader *t = NULL;
	size_t offs[TILE_WIDTH], lens[TILE_WIDTH], blen;
	const uint8_t *b;
	unsigned w;
	char dir[160];
	json_t *e;

	snprintf(dir, sizeof(dir), "%s/log", f->vdir);
	memset(&res, 0, sizeof(res));
	assert_int_equal(audit_verify(dir, &o, &res), ERR_OK);
	*size = res.size;
	if (res.size == 0)
		return NULL;
	assert_int_equal(tile_reader_new(dir, res.size, &t), ERR_OK);
	assert_int_equal(tile_reader_bundle(t, (res.size - 1) / TILE_WIDTH, &b,
	    &blen, &w), ERR_OK);
	assert_int_equal(tile_bundle_split(b, blen, w, offs, lens), ERR_OK);
	size_t i = (res.size - 1) % TILE_WIDTH;
	e = json_loadb((const char *)b + offs[i], lens[i], 0, NULL);
	assert_non_null(e);
	tile_reader_free(t);
	return e;
}

static void
test_audit(void **state)
{
	struct fx *f = *state;
	uint64_t before, after;
	json_t *e;

	e = last_entry(f, &before);
	json_decref(e);
	assert_int_equal(vault_audit(f->v, HOST, "192.0.2.7", "vault.pack",
	    "allow", "vault", "{\"pack\":\"ab\",\"size\":3}"), ERR_OK);
	assert_int_equal(vault_audit(f->v, "admin", NULL, "vault.enroll",
	    "allow", HOST2, NULL), ERR_OK);
	assert_int_equal(vault_audit(f->v, HOST, NULL, "vault.snapshot",
	    "deny", "vault", "{\"reason\":\"no\"}"), ERR_OK);
	e = last_entry(f, &after);
	assert_int_equal(after, before + 3);
	assert_string_equal(json_string_value(json_object_get(e, "actor")),
	    HOST);
	assert_string_equal(json_string_value(json_object_get(e, "action")),
	    "vault.snapshot");
	assert_string_equal(json_string_value(json_object_get(e, "decision")),
	    "deny");
	assert_string_equal(json_string_value(json_object_get(e, "target")),
	    "vault");
	assert_string_equal(json_string_value(json_object_get(json_object_get(
	    e, "detail"), "reason")), "no");
	assert_null(json_object_get(e, "source"));
	assert_non_null(json_string_value(json_object_get(e, "time")));
	json_decref(e);

	/* A detail that is not JSON is refused and nothing is logged. */
	assert_int_equal(vault_audit(f->v, HOST, NULL, "vault.pack", "allow",
	    "vault", "{not json"), ERR_INVAL);
	e = last_entry(f, &after);
	assert_int_equal(after, before + 3);
	json_decref(e);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_open, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_hosts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_upload, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_tmp_left, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_upload_sizes, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_upload_sizes_buffered,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_upload_refused, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_received_torn, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_received_torn_then_append,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_received_malformed, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_put_twice, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_host_lock, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_fifo_refused, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_find, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_altered, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_audit, setup, teardown),
	};

	if (sodium_init() < 0)
		return 1;
	umask(022);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
