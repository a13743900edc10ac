/*
 * test_cache.c - the agent's SQLite cache (backup/cache.h): packs and
 * their chunks, file records updated in place (put and del, nothing else
 * touched), extended attributes recorded, unrecorded and empty told
 * apart, a version 1 cache brought up to date, a newer one refused, and
 * the file's mode.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "backup/cache.h"
#include "common/banned.h"

static char dir[] = "/tmp/bulwark-test-cache.XXXXXX";
static char path[sizeof(dir) + 16];

/* ---- Helpers ---------------------------------------------------------- */

struct seen {
	size_t n;
	char paths[8][32];
	uint64_t sizes[8];
	int known[8];
	size_t xlen[8];
	uint8_t x[8][16];
};

static int
collect(void *arg, const struct bcache_file *f)
{
	struct seen *s = arg;

	assert_true(s->n < 8);
	assert_true(f->path_len < sizeof(s->paths[0]));
	memcpy(s->paths[s->n], f->path, f->path_len);
	s->paths[s->n][f->path_len] = '\0';
	s->sizes[s->n] = f->size;
	s->known[s->n] = f->xattrs_known;
	s->xlen[s->n] = f->xattrs_len;
	if (f->xattrs_len > 0 && f->xattrs_len <= sizeof(s->x[0]))
		memcpy(s->x[s->n], f->xattrs, f->xattrs_len);
	s->n++;
	return ERR_OK;
}

/* The index of p among what was collected, or -1. */
static int
find(const struct seen *s, const char *p)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->paths[i], p) == 0)
			return (int)i;
	return -1;
}

static struct bcache_file
rec(const char *p, uint64_t size, const void *x, size_t xlen, int known)
{
	static const uint8_t chunks[40] = { 1 };
	struct bcache_file f = { p, strlen(p), 7, size, 100, 200, chunks,
	    sizeof(chunks), known, x, xlen };

	return f;
}

static void
reopen_collect(struct seen *s)
{
	struct bcache *c;
	char why[256];

	memset(s, 0, sizeof(*s));
	assert_int_equal(bcache_open(path, &c, why, sizeof(why)), ERR_OK);
	assert_int_equal(bcache_each_file(c, collect, s), ERR_OK);
	bcache_close(c);
}

static int
setup(void **state)
{
	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/cache.db", dir);
	return 0;
}

/* Removes the cache file (and SQLite's companions) for the next test. */
static void
wipe(void)
{
	char p[sizeof(path) + 8];

	unlink(path);
	snprintf(p, sizeof(p), "%s-wal", path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", path);
	unlink(p);
}

static int
teardown(void **state)
{
	(void)state;
	wipe();
	rmdir(dir);
	return 0;
}

/* ---- Tests ------------------------------------------------------------ */

static void
test_files_updated_in_place(void **state)
{
	struct bcache *c;
	struct seen s;
	struct stat st;
	char why[256];
	struct bcache_file f;

	(void)state;
	assert_int_equal(bcache_open(path, &c, why, sizeof(why)), ERR_OK);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(bcache_files_begin(c), ERR_OK);
	f = rec("/a", 1, "\x00", 1, 1);
	assert_int_equal(bcache_files_put(c, &f), ERR_OK);
	f = rec("/b", 2, "XY", 2, 1);
	assert_int_equal(bcache_files_put(c, &f), ERR_OK);
	f = rec("/c", 3, NULL, 0, 0);
	assert_int_equal(bcache_files_put(c, &f), ERR_OK);
	assert_int_equal(bcache_files_commit(c), ERR_OK);
	bcache_close(c);

	reopen_collect(&s);
	assert_int_equal(s.n, 3);
	assert_true(s.known[find(&s, "/a")] && s.xlen[find(&s, "/a")] == 1);
	assert_true(s.known[find(&s, "/b")] && s.xlen[find(&s, "/b")] == 2);
	assert_memory_equal(s.x[find(&s, "/b")], "XY", 2);
	assert_false(s.known[find(&s, "/c")]);

	/* The next run: /b changed, /c went, /a is left alone. */
	assert_int_equal(bcache_open(path, &c, why, sizeof(why)), ERR_OK);
	assert_int_equal(bcache_files_begin(c), ERR_OK);
	f = rec("/b", 22, "Z", 1, 1);
	assert_int_equal(bcache_files_put(c, &f), ERR_OK);
	assert_int_equal(bcache_files_del(c, "/c", 2), ERR_OK);
	assert_int_equal(bcache_files_del(c, "/nothing", 8), ERR_OK);
	assert_int_equal(bcache_files_commit(c), ERR_OK);
	bcache_close(c);

	reopen_collect(&s);
	assert_int_equal(s.n, 2);
	assert_int_equal(find(&s, "/c"), -1);
	assert_int_equal(s.sizes[find(&s, "/a")], 1);
	assert_int_equal(s.sizes[find(&s, "/b")], 22);
	assert_memory_equal(s.x[find(&s, "/b")], "Z", 1);
	wipe();
}

static const char pack_name[] =
    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

static int
count(void *arg, const uint8_t *id, const char *pack)
{
	size_t *k = arg;

	assert_string_equal(pack, pack_name);
	assert_true(id[0] == 0xaa || id[0] == 0xbb);
	(*k)++;
	return ERR_OK;
}

static void
test_packs_and_chunks(void **state)
{
	uint8_t ids[2][CHUNK_ID_LEN];
	struct bcache *c;
	char why[256];
	size_t n = 0;

	(void)state;
	memset(ids[0], 0xaa, CHUNK_ID_LEN);
	memset(ids[1], 0xbb, CHUNK_ID_LEN);
	assert_int_equal(bcache_open(path, &c, why, sizeof(why)), ERR_OK);
	assert_int_equal(bcache_add_pack(c, pack_name,
	    (const uint8_t (*)[CHUNK_ID_LEN])ids, 2), ERR_OK);
	assert_int_equal(bcache_each_chunk(c, count, &n), ERR_OK);
	assert_int_equal(n, 2);
	bcache_close(c);
	wipe();
}

/* A cache written by the first release: no xattrs column, version 1. */
static void
test_version_1_upgraded(void **state)
{
	sqlite3 *db;
	struct seen s;

	(void)state;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
	    "CREATE TABLE packs(id INTEGER PRIMARY KEY, name TEXT NOT NULL "
	    "UNIQUE);"
	    "CREATE TABLE chunks(id BLOB PRIMARY KEY, pack INTEGER NOT NULL) "
	    "WITHOUT ROWID;"
	    "CREATE TABLE files(path BLOB PRIMARY KEY, ino INTEGER, size "
	    "INTEGER, mtime INTEGER, ctime INTEGER, chunks BLOB) WITHOUT ROWID;"
	    "INSERT INTO files VALUES (CAST('/old' AS BLOB), 1, 5, 1, 1, x'00');"
	    "PRAGMA user_version = 1;", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);

	reopen_collect(&s);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.paths[0], "/old");
	assert_int_equal(s.sizes[0], 5);
	assert_false(s.known[0]);	/* not recorded: to be read */

	/* And it is version 2 now, with the column in use. */
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st,
	    NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 2);
	sqlite3_finalize(st);
	sqlite3_close(db);
	wipe();
}

static void
test_newer_version_refused(void **state)
{
	struct bcache *c = NULL;
	sqlite3 *db;
	char why[256];

	(void)state;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99;", NULL,
	    NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(bcache_open(path, &c, why, sizeof(why)),
	    ERR_UNSUPPORTED);
	assert_null(c);
	assert_non_null(strstr(why, "newer bulwark"));
	assert_non_null(strstr(why, "--no-cache"));
	wipe();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_files_updated_in_place),
		cmocka_unit_test(test_packs_and_chunks),
		cmocka_unit_test(test_version_1_upgraded),
		cmocka_unit_test(test_newer_version_refused),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
