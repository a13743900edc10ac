/*
 * test_restore.c - restoring snapshots and reading a vault back
 * (backup/restore.h).
 *
 * The vault is real and built here without the backup engine: a vault
 * directory, an enrolled host, chunks and tree nodes in packs written
 * with the pack writer and stored through uploads, and signed manifests.
 * Restores then go to directories under the same temporary directory and
 * are checked with stat, readlink, getxattr and SEEK_HOLE: contents, a
 * hole, a hard link across directories, a symbolic link, setuid, times to
 * the nanosecond, an xattr, owners by name and by number, --include, a
 * missing chunk, a hostile hard-link group, a large file split between
 * workers; then check_read_data on the intact vault and after one byte of
 * a pack is flipped; and the admin key export round trip.
 */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "backup/keys.h"
#include "backup/manifest.h"
#include "backup/pack.h"
#include "backup/restore.h"
#include "backup/tree.h"
#include "vault/store.h"
#include "common/banned.h"

#define HOST "web1"
#define KIB 1024
#define MIB (1024 * 1024)
#define S(s) (s), (sizeof(s) - 1)

static char tmp[256];
static struct vault *vault;
/* A second vault for the snapshot with a missing chunk, so that the
 * first one checks clean. */
static struct vault *vault2;
static struct admin_key *akey;
static struct repo_keys rkeys;
static uint8_t host_pk[MANIFEST_PK_LEN], host_sk[MANIFEST_SK_LEN];
static char snap_main[MANIFEST_ID_HEX_LEN + 1];
static char snap_missing[MANIFEST_ID_HEX_LEN + 1];
static char snap_hostile[MANIFEST_ID_HEX_LEN + 1];
static char snap_split[MANIFEST_ID_HEX_LEN + 1];
static char pack_main[PACK_NAME_HEX_LEN + 1];
static uint64_t received_clock = 1800000000;

/* The main snapshot's file contents. */
static uint8_t data_a[300 * KIB], data_b[100 * KIB];
static const char text_small[] = "small file\n";
static const char text_link[] = "one inode, two names\n";
static const char text_top[] = "top level\n";
static const char text_tail[] = "0123456789";
static uint8_t *data_split;
#define SPLIT_CHUNK (4 * MIB)
#define SPLIT_N 9
#define SPLIT_HOLE MIB

/* What the report callback was told, concatenated. */
static char said[65536];
static size_t said_len;

static void
collect(const char *msg, void *arg)
{
	int n;

	(void)arg;
	n = snprintf(said + said_len, sizeof(said) - said_len, "%s\n", msg);
	if (n > 0 && (size_t)n < sizeof(said) - said_len)
		said_len += (size_t)n;
}

static void
said_clear(void)
{
	said[0] = '\0';
	said_len = 0;
}

/* ---- Building a snapshot ------------------------------------------------ */

struct sb {
	struct pack_run *run;
	struct pack_writer *w;
};

static void
sb_begin(struct sb *b)
{
	assert_int_equal(pack_run_new(akey->vault_pk, &b->run), ERR_OK);
	assert_int_equal(pack_writer_new(b->run, &b->w), ERR_OK);
}

static void
put_chunk(struct sb *b, const void *data, size_t len, uint8_t id[CHUNK_ID_LEN])
{
	int r;

	chunk_id(rkeys.id, data, len, id);
	r = pack_writer_add(b->w, id, data, len);
	assert_true(r == ERR_OK || r == ERR_EXISTS);
}

static void
put_node(struct sb *b, const struct tree_entry *e, size_t n,
    uint8_t id[CHUNK_ID_LEN])
{
	struct tree_builder *tb;
	uint8_t *buf;
	size_t len;

	assert_int_equal(tree_builder_new(&tb), ERR_OK);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(tree_builder_add(tb, &e[i]), ERR_OK);
	assert_int_equal(tree_builder_finish(tb, &buf, &len), ERR_OK);
	tree_builder_free(tb);
	put_chunk(b, buf, len, id);
	free(buf);
}

/* Uploads the pack and stores a signed manifest for root. */
static void
sb_commit(struct vault *v, struct sb *b, const uint8_t root[CHUNK_ID_LEN],
    char snap[MANIFEST_ID_HEX_LEN + 1], char *pack_out)
{
	char packs[1][PACK_NAME_HEX_LEN + 1];
	struct vault_upload *u;
	struct manifest m;
	uint8_t *buf, *mf;
	size_t len, mflen;
	int existed;

	assert_int_equal(pack_writer_finish_buf(b->w, &buf, &len, packs[0]),
	    ERR_OK);
	pack_writer_free(b->w);
	pack_run_free(b->run);
	assert_int_equal(vault_upload_begin(v, &u), ERR_OK);
	assert_int_equal(vault_upload_write(u, buf, len), ERR_OK);
	assert_int_equal(vault_upload_commit(u, packs[0], HOST, 0, &existed),
	    ERR_OK);
	vault_upload_abort(u);
	free(buf);

	memset(&m, 0, sizeof(m));
	m.host = (char *)HOST;
	randombytes_buf(m.snapshot_id, sizeof(m.snapshot_id));
	m.client_time = received_clock - 5;
	memcpy(m.key_id, vault_key_id(v), PACK_KEY_ID_LEN);
	memcpy(m.root_id, root, CHUNK_ID_LEN);
	memcpy(m.root_pack, packs[0], sizeof(packs[0]));
	m.packs = packs;
	m.npacks = 1;
	m.files = 6;
	m.bytes_read = 12345;
	assert_int_equal(manifest_encode_sign(&m, host_sk, &mf, &mflen),
	    ERR_OK);
	assert_int_equal(vault_snapshot_put(v, HOST, mf, mflen,
	    received_clock++), ERR_OK);
	free(mf);
	manifest_id_hex(&m, snap);
	if (pack_out != NULL)
		memcpy(pack_out, packs[0], PACK_NAME_HEX_LEN + 1);
}

static struct tree_entry
entry(enum tree_type type, const char *name, size_t name_len, uint32_t mode)
{
	struct tree_entry e;

	memset(&e, 0, sizeof(e));
	e.type = type;
	e.name = name;
	e.name_len = name_len;
	e.mode = mode;
	e.uid = 0;
	e.gid = 0;
	e.user = "root";
	e.user_len = 4;
	e.group = "root";
	e.group_len = 4;
	e.mtime.sec = 1600000000;
	e.mtime.nsec = 500;
	e.ctime.sec = 1600000000;
	return e;
}

/* A regular file of one chunk (none when len is 0). */
static struct tree_entry
file_entry(struct sb *b, const char *name, size_t name_len, const void *data,
    size_t len, struct tree_chunk *c)
{
	struct tree_entry e = entry(TREE_REG, name, name_len, 0644);

	if (len > 0) {
		put_chunk(b, data, len, c->id);
		c->len = len;
		e.chunks = c;
		e.nchunks = 1;
	}
	e.size = len;
	return e;
}

/*
 * The main snapshot:
 *	/data		0750, mtime 1500000000.250000000
 *	  big		300 KiB, a 1 MiB hole, 100 KiB
 *	  link1		hard-link group 7
 *	  small		04755, user root (uid 4321 in the tree),
 *			user.test
 *	  sym		-> small
 *	/etc		0555 (read-only while it fills)
 *	  empty		no chunks
 *	  fifo		0640
 *	  link2		hard-link group 7
 *	  sock		socket
 *	  tail		10 bytes then a 4 KiB hole
 *	  unknown	owner "no-such-user-bw" 1234:2345
 *	/top.txt
 */
static void
build_main(void)
{
	static const struct tree_xattr xa[] = {
		{ S("user.test"), (const uint8_t *)"value", 5 },
	};
	struct tree_chunk big[3], c_link, c_small, c_top, c_tail[2], c_unk;
	struct tree_entry d[4], et[6], root[3];
	uint8_t data_id[CHUNK_ID_LEN], etc_id[CHUNK_ID_LEN];
	uint8_t root_id[CHUNK_ID_LEN];
	struct sb b;

	randombytes_buf(data_a, sizeof(data_a));
	randombytes_buf(data_b, sizeof(data_b));
	sb_begin(&b);

	put_chunk(&b, data_a, sizeof(data_a), big[0].id);
	big[0].len = sizeof(data_a);
	memset(big[1].id, 0, CHUNK_ID_LEN);
	big[1].len = MIB;
	put_chunk(&b, data_b, sizeof(data_b), big[2].id);
	big[2].len = sizeof(data_b);
	d[0] = entry(TREE_REG, S("big"), 0600);
	d[0].chunks = big;
	d[0].nchunks = 3;
	d[0].size = sizeof(data_a) + MIB + sizeof(data_b);
	d[1] = file_entry(&b, S("link1"), S(text_link), &c_link);
	d[1].hardlink = 7;
	d[2] = file_entry(&b, S("small"), S(text_small), &c_small);
	d[2].mode = 04755;
	d[2].uid = 4321;
	d[2].gid = 4321;
	d[2].mtime.sec = 1500000000;
	d[2].mtime.nsec = 123456789;
	d[2].xattrs = xa;
	d[2].nxattrs = 1;
	d[3] = entry(TREE_SYMLINK, S("sym"), 0777);
	d[3].target = "small";
	d[3].target_len = 5;
	d[3].mtime.sec = 1400000000;
	d[3].mtime.nsec = 7;
	put_node(&b, d, 4, data_id);

	et[0] = file_entry(&b, S("empty"), NULL, 0, NULL);
	et[1] = entry(TREE_FIFO, S("fifo"), 0640);
	et[2] = file_entry(&b, S("link2"), S(text_link), &c_link);
	et[2].hardlink = 7;
	et[3] = entry(TREE_SOCK, S("sock"), 0755);
	put_chunk(&b, text_tail, sizeof(text_tail) - 1, c_tail[0].id);
	c_tail[0].len = sizeof(text_tail) - 1;
	memset(c_tail[1].id, 0, CHUNK_ID_LEN);
	c_tail[1].len = 4096;
	et[4] = entry(TREE_REG, S("tail"), 0600);
	et[4].chunks = c_tail;
	et[4].nchunks = 2;
	et[4].size = sizeof(text_tail) - 1 + 4096;
	et[5] = file_entry(&b, S("unknown"), S("?"), &c_unk);
	et[5].user = "no-such-user-bw";
	et[5].user_len = 15;
	et[5].group = "no-such-group-bw";
	et[5].group_len = 16;
	et[5].uid = 1234;
	et[5].gid = 2345;
	put_node(&b, et, 6, etc_id);

	root[0] = entry(TREE_DIR, S("data"), 0750);
	memcpy(root[0].subtree, data_id, CHUNK_ID_LEN);
	root[0].mtime.sec = 1500000000;
	root[0].mtime.nsec = 250000000;
	root[1] = entry(TREE_DIR, S("etc"), 0555);
	memcpy(root[1].subtree, etc_id, CHUNK_ID_LEN);
	root[2] = file_entry(&b, S("top.txt"), S(text_top), &c_top);
	put_node(&b, root, 3, root_id);
	sb_commit(vault, &b, root_id, snap_main, pack_main);
}

/* /ok and /lost: lost's second chunk is in no pack. */
static void
build_missing(void)
{
	struct tree_chunk c_ok, c_lost[2];
	struct tree_entry root[2];
	uint8_t root_id[CHUNK_ID_LEN];
	struct sb b;

	sb_begin(&b);
	root[0] = file_entry(&b, S("lost"), S("first part"), &c_lost[0]);
	randombytes_buf(c_lost[1].id, CHUNK_ID_LEN);
	c_lost[1].len = 5000;
	root[0].chunks = c_lost;
	root[0].nchunks = 2;
	root[0].size = 10 + 5000;
	root[1] = file_entry(&b, S("ok"), S("fine\n"), &c_ok);
	put_node(&b, root, 2, root_id);
	sb_commit(vault2, &b, root_id, snap_missing, NULL);
}

/*
 * A hard-link group that mixes a symbolic link pointing outside with a
 * regular file: the file must not be linked to (and written through) the
 * symbolic link.
 */
static void
build_hostile(void)
{
	static char target[512];
	struct tree_chunk c;
	struct tree_entry root[2];
	uint8_t root_id[CHUNK_ID_LEN];
	struct sb b;

	snprintf(target, sizeof(target), "%s/outside", tmp);
	sb_begin(&b);
	root[0] = entry(TREE_SYMLINK, S("a"), 0777);
	root[0].target = target;
	root[0].target_len = strlen(target);
	root[0].hardlink = 9;
	root[1] = file_entry(&b, S("b"), S("written here\n"), &c);
	root[1].hardlink = 9;
	put_node(&b, root, 2, root_id);
	sb_commit(vault, &b, root_id, snap_hostile, NULL);
}

/* /huge: 9 chunks of 4 MiB with a 1 MiB hole after the fourth. */
static void
build_split(void)
{
	struct tree_chunk c[SPLIT_N + 1];
	struct tree_entry root[1];
	uint8_t root_id[CHUNK_ID_LEN];
	struct sb b;
	size_t k = 0;

	assert_non_null(data_split = malloc((size_t)SPLIT_N * SPLIT_CHUNK));
	randombytes_buf(data_split, (size_t)SPLIT_N * SPLIT_CHUNK);
	sb_begin(&b);
	for (size_t i = 0; i < SPLIT_N; i++) {
		put_chunk(&b, data_split + i * SPLIT_CHUNK, SPLIT_CHUNK,
		    c[k].id);
		c[k++].len = SPLIT_CHUNK;
		if (i == 3) {
			memset(c[k].id, 0, CHUNK_ID_LEN);
			c[k++].len = SPLIT_HOLE;
		}
	}
	root[0] = entry(TREE_REG, S("huge"), 0640);
	root[0].chunks = c;
	root[0].nchunks = k;
	root[0].size = (uint64_t)SPLIT_N * SPLIT_CHUNK + SPLIT_HOLE;
	put_node(&b, root, 1, root_id);
	sb_commit(vault, &b, root_id, snap_split, NULL);
}

static int
setup(void **state)
{
	struct vault_host h;
	char dir[512], why[256], *vkey = NULL;

	(void)state;
	if (sodium_init() < 0)
		return -1;
	snprintf(tmp, sizeof(tmp), "/tmp/bw-restore.XXXXXX");
	if (mkdtemp(tmp) == NULL)
		return -1;
	if (admin_key_new(&akey) != ERR_OK ||
	    pack_vault_keypair_secret(akey->vault_pk, akey->vault_sk) !=
	    ERR_OK)
		return -1;
	randombytes_buf(akey->repo_secret, sizeof(akey->repo_secret));
	if (repo_keys_derive(akey->repo_secret, &rkeys) != ERR_OK)
		return -1;
	snprintf(dir, sizeof(dir), "%s/vault", tmp);
	if (vault_create(dir, akey->vault_pk, akey->repo_secret, "test/vault",
	    &vkey, why, sizeof(why)) != ERR_OK) {
		fprintf(stderr, "vault_create: %s\n", why);
		return -1;
	}
	free(vkey);
	snprintf(dir, sizeof(dir), "%s/vault2", tmp);
	if (vault_create(dir, akey->vault_pk, akey->repo_secret, "test/vault2",
	    &vkey, why, sizeof(why)) != ERR_OK)
		return -1;
	free(vkey);
	snprintf(dir, sizeof(dir), "%s/vault", tmp);
	if (vault_open(dir, &vault, why, sizeof(why)) != ERR_OK)
		return -1;
	snprintf(dir, sizeof(dir), "%s/vault2", tmp);
	if (vault_open(dir, &vault2, why, sizeof(why)) != ERR_OK)
		return -1;
	crypto_sign_keypair(host_pk, host_sk);
	memset(&h, 0, sizeof(h));
	snprintf(h.name, sizeof(h.name), "%s", HOST);
	memcpy(h.sign_pk, host_pk, sizeof(host_pk));
	if (vault_host_add(vault, &h) != ERR_OK ||
	    vault_host_add(vault2, &h) != ERR_OK)
		return -1;
	build_main();
	build_missing();
	build_hostile();
	build_split();
	return 0;
}

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *f)
{
	(void)sb;
	(void)flag;
	(void)f;
	return remove(path) != 0 && errno != ENOENT;
}

static int
unlock_entry(const char *path, const struct stat *sb, int flag,
    struct FTW *f)
{
	(void)f;
	if (flag == FTW_D || (flag == FTW_F && S_ISREG(sb->st_mode)))
		(void)chmod(path, 0700);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	vault_close(vault);
	vault_close(vault2);
	admin_key_free(akey);
	free(data_split);
	(void)nftw(tmp, unlock_entry, 16, FTW_PHYS);
	(void)nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

/* ---- Helpers ------------------------------------------------------------ */

static size_t max_tree_bytes;	/* restore_opts.max_tree_bytes for restore() */

static int
restore(const char *snap, const char *to, const char *const *inc,
    size_t ninc, int numeric, int threads, struct restore_stats *st,
    char *why, size_t whylen)
{
	struct vault_snapshot one;
	struct vault *v = vault;
	struct restore_opts o;
	char path[512];
	int rc;

	if (vault_snapshot_get(v, NULL, snap, &one, NULL, NULL) != ERR_OK) {
		v = vault2;
		assert_int_equal(vault_snapshot_get(v, NULL, snap, &one, NULL,
		    NULL), ERR_OK);
	}
	memset(&o, 0, sizeof(o));
	snprintf(path, sizeof(path), "%s/%s", tmp, to);
	o.to = path;
	o.includes = inc;
	o.nincludes = ninc;
	o.numeric_owner = numeric;
	o.threads = threads;
	o.max_tree_bytes = max_tree_bytes;
	o.report = collect;
	said_clear();
	rc = restore_snapshot(v, &one, akey, &o, st, why, whylen);
	vault_snapshot_release(&one);
	return rc;
}

/*
 * A memory budget for tree nodes: with room for no node at all the
 * restore stops at the root, saying why.
 */
static void
test_restore_tree_budget(void **state)
{
	struct restore_stats st;
	char why[512];
	int rc;

	(void)state;
	max_tree_bytes = 1;
	rc = restore(snap_main, "budget1", NULL, 0, 0, 2, &st, why,
	    sizeof(why));
	max_tree_bytes = 0;
	assert_int_equal(rc, ERR_TOOBIG);
	assert_non_null(strstr(why, "a hostile snapshot?"));
}

static const char *
at(const char *to, const char *rel)
{
	static char buf[4][512];
	static int k;

	k = (k + 1) % 4;
	snprintf(buf[k], sizeof(buf[k]), "%s/%s/%s", tmp, to, rel);
	return buf[k];
}

/* The whole file at path, which must be len bytes long. */
static void
assert_file(const char *path, const void *want, size_t len)
{
	struct stat sb;
	uint8_t *got;
	int fd;

	assert_int_equal(lstat(path, &sb), 0);
	assert_true(S_ISREG(sb.st_mode));
	assert_int_equal(sb.st_size, len);
	assert_non_null(got = malloc(len > 0 ? len : 1));
	assert_true((fd = open(path, O_RDONLY)) >= 0);
	assert_int_equal(pread(fd, got, len, 0), (ssize_t)len);
	close(fd);
	if (len > 0)
		assert_memory_equal(got, want, len);
	free(got);
}

static void
assert_zeros(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			fail_msg("byte %zu is %u, not zero", i, p[i]);
}

static void
assert_missing(const char *path)
{
	struct stat sb;

	assert_int_not_equal(lstat(path, &sb), 0);
	assert_int_equal(errno, ENOENT);
}

/* ---- Tests -------------------------------------------------------------- */

static void
test_restore_all(void **state)
{
	struct restore_stats st;
	struct stat sb, sb2;
	char why[512], buf[64];
	uint8_t *got;
	size_t size = sizeof(data_a) + MIB + sizeof(data_b);
	ssize_t n;
	int fd;

	(void)state;
	assert_int_equal(restore(snap_main, "out", NULL, 0, 0, 2, &st, why,
	    sizeof(why)), ERR_OK);
	assert_int_equal(st.errors, 0);
	/* big, link1, small, empty, tail, unknown, top.txt */
	assert_int_equal(st.files, 7);
	assert_int_equal(st.links, 1);
	assert_int_equal(st.symlinks, 1);
	assert_int_equal(st.others, 2);
	assert_int_equal(st.dirs, 2);
	/* The hard-linked file's data is written once; "?" is unknown's. */
	assert_int_equal(st.bytes, sizeof(data_a) + sizeof(data_b) +
	    sizeof(text_link) - 1 + sizeof(text_small) - 1 +
	    sizeof(text_top) - 1 + sizeof(text_tail) - 1 + 1);

	/* Contents and the hole. */
	assert_non_null(got = malloc(size));
	assert_true((fd = open(at("out", "data/big"), O_RDONLY)) >= 0);
	assert_int_equal(fstat(fd, &sb), 0);
	assert_int_equal(sb.st_size, size);
	assert_int_equal(pread(fd, got, size, 0), (ssize_t)size);
	assert_memory_equal(got, data_a, sizeof(data_a));
	assert_zeros(got + sizeof(data_a), MIB);
	assert_memory_equal(got + sizeof(data_a) + MIB, data_b,
	    sizeof(data_b));
	assert_int_equal(lseek(fd, 0, SEEK_HOLE), (off_t)sizeof(data_a));
	assert_int_equal(lseek(fd, (off_t)sizeof(data_a), SEEK_DATA),
	    (off_t)(sizeof(data_a) + MIB));
	assert_true(sb.st_blocks * 512 < (blkcnt_t)size);
	close(fd);
	free(got);
	assert_file(at("out", "top.txt"), text_top, sizeof(text_top) - 1);
	assert_file(at("out", "etc/empty"), "", 0);

	/* A file that ends in a hole. */
	assert_true((fd = open(at("out", "etc/tail"), O_RDONLY)) >= 0);
	assert_int_equal(fstat(fd, &sb), 0);
	assert_int_equal(sb.st_size, 10 + 4096);
	assert_int_equal(lseek(fd, 0, SEEK_HOLE), 4096);
	close(fd);

	/* One inode, two names, two directories. */
	assert_file(at("out", "data/link1"), text_link, sizeof(text_link) - 1);
	assert_int_equal(lstat(at("out", "data/link1"), &sb), 0);
	assert_int_equal(lstat(at("out", "etc/link2"), &sb2), 0);
	assert_int_equal(sb.st_ino, sb2.st_ino);
	assert_int_equal(sb.st_nlink, 2);

	/* The symbolic link and its time. */
	assert_int_equal(lstat(at("out", "data/sym"), &sb), 0);
	assert_true(S_ISLNK(sb.st_mode));
	assert_int_equal(sb.st_mtim.tv_sec, 1400000000);
	assert_int_equal(sb.st_mtim.tv_nsec, 7);
	n = readlink(at("out", "data/sym"), buf, sizeof(buf));
	assert_int_equal(n, 5);
	assert_memory_equal(buf, "small", 5);

	/* setuid, the time to the nanosecond, the xattr, the owner. */
	assert_file(at("out", "data/small"), text_small,
	    sizeof(text_small) - 1);
	assert_int_equal(lstat(at("out", "data/small"), &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 04755);
	assert_int_equal(sb.st_mtim.tv_sec, 1500000000);
	assert_int_equal(sb.st_mtim.tv_nsec, 123456789);
	n = getxattr(at("out", "data/small"), "user.test", buf, sizeof(buf));
	assert_int_equal(n, 5);
	assert_memory_equal(buf, "value", 5);
	if (geteuid() == 0) {
		/* "root" exists here: the name wins over 4321. */
		assert_int_equal(sb.st_uid, 0);
		assert_int_equal(sb.st_gid, 0);
		assert_int_equal(lstat(at("out", "etc/unknown"), &sb), 0);
		assert_int_equal(sb.st_uid, 1234);
		assert_int_equal(sb.st_gid, 2345);
	}

	/* Special files. */
	assert_int_equal(lstat(at("out", "etc/fifo"), &sb), 0);
	assert_true(S_ISFIFO(sb.st_mode));
	assert_int_equal(sb.st_mode & 07777, 0640);
	assert_int_equal(lstat(at("out", "etc/sock"), &sb), 0);
	assert_true(S_ISSOCK(sb.st_mode));
	assert_int_equal(sb.st_mode & 07777, 0755);

	/* Directories: mode and times set after their contents. */
	assert_int_equal(lstat(at("out", "data"), &sb), 0);
	assert_true(S_ISDIR(sb.st_mode));
	assert_int_equal(sb.st_mode & 07777, 0750);
	assert_int_equal(sb.st_mtim.tv_sec, 1500000000);
	assert_int_equal(sb.st_mtim.tv_nsec, 250000000);
	assert_int_equal(lstat(at("out", "etc"), &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0555);
	assert_int_equal(sb.st_mtim.tv_sec, 1600000000);
	assert_int_equal(sb.st_mtim.tv_nsec, 500);

	/* The target is not empty any more: refused. */
	assert_int_equal(restore(snap_main, "out", NULL, 0, 0, 2, &st, why,
	    sizeof(why)), ERR_EXISTS);
	assert_non_null(strstr(why, "not empty"));
}

static void
test_restore_numeric_one_thread(void **state)
{
	struct restore_stats st;
	struct stat sb;
	char why[512];

	(void)state;
	assert_int_equal(restore(snap_main, "numeric", NULL, 0, 1, 1, &st, why,
	    sizeof(why)), ERR_OK);
	assert_int_equal(st.files, 7);
	assert_int_equal(lstat(at("numeric", "data/small"), &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 04755);
	if (geteuid() == 0) {
		assert_int_equal(sb.st_uid, 4321);
		assert_int_equal(sb.st_gid, 4321);
	}
	assert_int_equal(lstat(at("numeric", "etc/link2"), &sb), 0);
	assert_int_equal(sb.st_nlink, 2);
}

static void
test_restore_include(void **state)
{
	static const char *const one[] = { "/data/small" };
	static const char *const etc[] = { "/etc" };
	static const char *const link2[] = { "/etc/link*", "/nothing" };
	struct restore_stats st;
	struct stat sb;
	char why[512];

	(void)state;
	assert_int_equal(restore(snap_main, "inc1", one, 1, 0, 2, &st, why,
	    sizeof(why)), ERR_OK);
	assert_int_equal(st.files, 1);
	assert_int_equal(st.dirs, 1);
	assert_file(at("inc1", "data/small"), text_small,
	    sizeof(text_small) - 1);
	/* The directory on the way has its own metadata. */
	assert_int_equal(lstat(at("inc1", "data"), &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0750);
	assert_int_equal(sb.st_mtim.tv_sec, 1500000000);
	assert_missing(at("inc1", "data/big"));
	assert_missing(at("inc1", "etc"));
	assert_missing(at("inc1", "top.txt"));

	/* A directory brings everything under it. */
	assert_int_equal(restore(snap_main, "inc2", etc, 1, 0, 2, &st, why,
	    sizeof(why)), ERR_OK);
	assert_int_equal(st.files, 4);
	assert_int_equal(st.others, 2);
	assert_file(at("inc2", "etc/link2"), text_link, sizeof(text_link) - 1);
	assert_missing(at("inc2", "data"));

	/* The first restored name of a hard-link group is the file. */
	assert_int_equal(restore(snap_main, "inc3", link2, 2, 0, 2, &st, why,
	    sizeof(why)), ERR_OK);
	assert_int_equal(st.files, 1);
	assert_int_equal(st.links, 0);
	assert_int_equal(lstat(at("inc3", "etc/link2"), &sb), 0);
	assert_int_equal(sb.st_nlink, 1);
	assert_file(at("inc3", "etc/link2"), text_link, sizeof(text_link) - 1);
}

static void
test_restore_missing_chunk(void **state)
{
	struct restore_stats st;
	uint8_t want[10 + 5000];
	char why[512];

	(void)state;
	assert_int_equal(restore(snap_missing, "missing", NULL, 0, 0, 2, &st,
	    why, sizeof(why)), ERR_NOTFOUND);
	assert_int_equal(st.errors, 1);
	assert_non_null(strstr(why, "/lost"));
	assert_non_null(strstr(why, "none of the snapshot's packs"));
	assert_non_null(strstr(said, "/lost: 5000 bytes at offset 10"));
	/* Everything else is there; the lost bytes are zeros. */
	assert_file(at("missing", "ok"), "fine\n", 5);
	memset(want, 0, sizeof(want));
	memcpy(want, "first part", 10);
	assert_file(at("missing", "lost"), want, sizeof(want));
}

static void
test_restore_hostile_hardlink(void **state)
{
	struct restore_stats st;
	struct stat sb;
	char why[512], outside[512];

	(void)state;
	assert_int_equal(restore(snap_hostile, "hostile", NULL, 0, 0, 2, &st,
	    why, sizeof(why)), ERR_OK);
	assert_int_equal(st.warnings, 1);
	assert_non_null(strstr(said, "different types"));
	assert_int_equal(lstat(at("hostile", "a"), &sb), 0);
	assert_true(S_ISLNK(sb.st_mode));
	assert_file(at("hostile", "b"), "written here\n", 13);
	snprintf(outside, sizeof(outside), "%s/outside", tmp);
	assert_missing(outside);
}

/*
 * An existing target must be an empty directory of ours, not a symbolic
 * link, and is made 0700 if others could enter it: restored setuid files
 * and device nodes must not be reachable by other users while the
 * restore runs.
 */
static void
test_restore_target_private(void **state)
{
	struct restore_stats st;
	char why[512], dir[512], link[512];

	(void)state;
	snprintf(dir, sizeof(dir), "%s/open", tmp);
	assert_int_equal(mkdir(dir, 0700), 0);
	assert_int_equal(chown(dir, 4321, 4321), 0);
	assert_int_equal(chmod(dir, 0700), 0);
	assert_int_equal(restore(snap_hostile, "open", NULL, 0, 0, 2, &st,
	    why, sizeof(why)), ERR_DENIED);
	assert_non_null(strstr(why, "belongs to uid 4321"));

	snprintf(link, sizeof(link), "%s/viaslink", tmp);
	assert_int_equal(chown(dir, geteuid(), getegid()), 0);
	assert_int_equal(symlink(dir, link), 0);
	assert_int_equal(restore(snap_hostile, "viaslink", NULL, 0, 0, 2, &st,
	    why, sizeof(why)), ERR_EXISTS);
	assert_non_null(strstr(why, "is a symbolic link"));
	assert_missing(at("open", "b"));

	/* Ours, empty, open to others (mkdir's 0755): made 0700, said so. */
	assert_int_equal(chmod(dir, 0755), 0);
	assert_int_equal(restore(snap_hostile, "open", NULL, 0, 0, 2, &st,
	    why, sizeof(why)), ERR_OK);
	assert_file(at("open", "b"), "written here\n", 13);
	assert_non_null(strstr(said, "was mode 0755: made 0700"));
	{
		struct stat sb;

		assert_int_equal(stat(dir, &sb), 0);
		assert_int_equal(sb.st_mode & 07777, 0700);
	}
}

static void
test_restore_split(void **state)
{
	struct restore_stats st;
	size_t size = (size_t)SPLIT_N * SPLIT_CHUNK + SPLIT_HOLE;
	size_t at4 = 4 * (size_t)SPLIT_CHUNK;
	uint8_t *got;
	char why[512];
	int fd;

	(void)state;
	assert_int_equal(restore(snap_split, "split", NULL, 0, 0, 2, &st, why,
	    sizeof(why)), ERR_OK);
	assert_int_equal(st.files, 1);
	assert_int_equal(st.bytes, (uint64_t)SPLIT_N * SPLIT_CHUNK);
	assert_non_null(got = malloc(size));
	assert_true((fd = open(at("split", "huge"), O_RDONLY)) >= 0);
	assert_int_equal(pread(fd, got, size, 0), (ssize_t)size);
	assert_int_equal(lseek(fd, 0, SEEK_HOLE), (off_t)at4);
	close(fd);
	assert_memory_equal(got, data_split, at4);
	assert_zeros(got + at4, SPLIT_HOLE);
	assert_memory_equal(got + at4 + SPLIT_HOLE, data_split + at4,
	    size - at4 - SPLIT_HOLE);
	free(got);
}

static void
test_restore_wrong_key(void **state)
{
	struct admin_key *other;
	struct vault_snapshot one;
	struct restore_opts o;
	char why[512], to[512];

	(void)state;
	assert_int_equal(admin_key_new(&other), ERR_OK);
	assert_int_equal(pack_vault_keypair_secret(other->vault_pk,
	    other->vault_sk), ERR_OK);
	assert_int_equal(vault_snapshot_get(vault, NULL, snap_main, &one, NULL,
	    NULL), ERR_OK);
	memset(&o, 0, sizeof(o));
	snprintf(to, sizeof(to), "%s/wrongkey", tmp);
	o.to = to;
	assert_int_equal(restore_snapshot(vault, &one, other, &o, NULL, why,
	    sizeof(why)), ERR_MISMATCH);
	assert_non_null(strstr(why, "not this vault's"));
	assert_missing(to);
	vault_snapshot_release(&one);
	admin_key_free(other);
}

static void
test_admin_key_roundtrip(void **state)
{
	struct admin_key *back = NULL;
	char *text = NULL;

	(void)state;
	assert_int_equal(admin_key_export(akey, "correct horse", 13,
	    1, 32u << 10, &text),
	    ERR_OK);
	assert_int_equal(admin_key_import(text, strlen(text), "correct horse",
	    13, &back), ERR_OK);
	assert_memory_equal(back->vault_sk, akey->vault_sk, PACK_SK_LEN);
	assert_memory_equal(back->vault_pk, akey->vault_pk, PACK_PK_LEN);
	assert_memory_equal(back->repo_secret, akey->repo_secret,
	    REPO_SECRET_LEN);
	admin_key_free(back);
	back = NULL;
	assert_int_equal(admin_key_import(text, strlen(text), "wrong horse",
	    11, &back), ERR_SIGNATURE);
	assert_null(back);
	free(text);
}

/* Runs last of the check tests: it damages the main pack. */
static void
test_check_read_data(void **state)
{
	struct check_stats st;
	char path[512];
	uint8_t byte;
	int fd;

	(void)state;
	said_clear();
	assert_int_equal(check_read_data(vault, akey, NULL, &st, collect,
	    NULL), ERR_OK);
	assert_int_equal(st.errors, 0);
	assert_int_equal(st.packs_total, 3);
	assert_int_equal(st.packs, 3);
	assert_int_equal(st.snapshots, 3);
	assert_true(st.chunks >= 20);
	assert_int_equal(st.nodes, 5);	/* main 3, hostile 1, split 1 */
	assert_string_equal(said, "");

	/* A snapshot that references a chunk no pack holds. */
	said_clear();
	assert_int_equal(check_read_data(vault2, akey, NULL, &st, collect,
	    NULL), ERR_MISMATCH);
	assert_int_equal(st.errors, 1);
	assert_non_null(strstr(said, "/lost: 1 of 2 chunks"));

	assert_int_equal(vault_pack_path(vault, pack_main, path, sizeof(path)),
	    ERR_OK);
	assert_int_equal(chmod(path, 0644), 0);
	assert_true((fd = open(path, O_RDWR)) >= 0);
	assert_int_equal(pread(fd, &byte, 1, PACK_HEADER_LEN + 100), 1);
	byte ^= 0x01;
	assert_int_equal(pwrite(fd, &byte, 1, PACK_HEADER_LEN + 100), 1);
	close(fd);
	said_clear();
	assert_int_equal(check_read_data(vault, akey, NULL, &st, collect,
	    NULL), ERR_MISMATCH);
	assert_true(st.errors >= 2);
	assert_non_null(strstr(said, "do not hash to its name"));
	assert_non_null(strstr(said, "does not decrypt"));
	assert_non_null(strstr(said, "damaged"));
}

/* Pages of the file at fd in the page cache, and its size in pages. */
static size_t
resident(int fd, size_t *pages)
{
	long psz = sysconf(_SC_PAGESIZE);
	struct stat sb;
	unsigned char *vec;
	size_t n, in = 0;
	void *map;

	assert_int_equal(fstat(fd, &sb), 0);
	n = ((size_t)sb.st_size + (size_t)psz - 1) / (size_t)psz;
	*pages = n;
	map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_SHARED, fd, 0);
	assert_true(map != MAP_FAILED);
	assert_non_null(vec = malloc(n));
	assert_int_equal(mincore(map, (size_t)sb.st_size, vec), 0);
	for (size_t i = 0; i < n; i++)
		in += vec[i] & 1;
	free(vec);
	munmap(map, (size_t)sb.st_size);
	return in;
}

/* Pages of m's packs in the page cache; *all gets how many they have. */
static size_t
packs_resident(const struct manifest *m, size_t *all)
{
	size_t in = 0, pages;
	int fd;

	*all = 0;
	for (size_t k = 0; k < m->npacks; k++) {
		assert_true((fd = vault_pack_open(vault, m->packs[k])) >= 0);
		in += resident(fd, &pages);
		*all += pages;
		close(fd);
	}
	return in;
}

/*
 * The packs of a snapshot come into the page cache after
 * restore_prefetch_start, all of them and nothing past the budget.
 */
static void
test_prefetch(void **state)
{
	struct restore_prefetch *p;
	struct vault_snapshot one;
	const struct manifest *m;
	uint64_t total = 0;
	size_t pages, all, k;
	int fd, evicted = 1;

	(void)state;
	assert_int_equal(vault_snapshot_get(vault, NULL, snap_main, &one, NULL,
	    NULL), ERR_OK);
	m = one.m;
	assert_true(m->npacks > 0);
	/* Out of the cache first (where the file system can drop them). */
	for (k = 0; k < m->npacks; k++) {
		struct stat sb;

		assert_true((fd = vault_pack_open(vault, m->packs[k])) >= 0);
		assert_int_equal(fstat(fd, &sb), 0);
		total += (uint64_t)sb.st_size;
		assert_int_equal(fdatasync(fd), 0);
		assert_int_equal(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED),
		    0);
		if (resident(fd, &pages) != 0)
			evicted = 0;	/* tmpfs: always in memory */
		close(fd);
	}
	/* A budget smaller than the first pack: nothing is asked for. */
	assert_int_equal(restore_prefetch_start(vault, m, 1, &p), ERR_OK);
	assert_non_null(p);
	assert_int_equal(restore_prefetch_stop(p), 0);
	assert_int_equal(restore_prefetch_stop(NULL), 0);

	assert_int_equal(restore_prefetch_start(vault, m, 0, &p), ERR_OK);
	for (int tries = 0; evicted && tries < 500; tries++) {
		if (packs_resident(m, &all) == all)
			break;
		(void)poll(NULL, 0, 10);
	}
	if (evicted) {
		assert_int_equal(packs_resident(m, &all), all);
		assert_int_equal(restore_prefetch_stop(p), total);
	} else
		assert_true(restore_prefetch_stop(p) <= total);
	vault_snapshot_release(&one);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_restore_all),
		cmocka_unit_test(test_restore_numeric_one_thread),
		cmocka_unit_test(test_restore_include),
		cmocka_unit_test(test_restore_missing_chunk),
		cmocka_unit_test(test_restore_hostile_hardlink),
		cmocka_unit_test(test_restore_target_private),
		cmocka_unit_test(test_restore_tree_budget),
		cmocka_unit_test(test_restore_split),
		cmocka_unit_test(test_restore_wrong_key),
		cmocka_unit_test(test_admin_key_roundtrip),
		cmocka_unit_test(test_check_read_data),
		cmocka_unit_test(test_prefetch),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
