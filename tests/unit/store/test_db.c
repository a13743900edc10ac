/*
 * test_db.c - the gateway state store on real SQLite files: every
 * function, unique constraints, file modes, schema versions, the TOTP
 * compare-and-set under two racing processes, SIGKILL at random points
 * (nothing acknowledged is lost, the file stays intact), and SQL
 * injection strings stored literally.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <setjmp.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>
#include <sqlite3.h>

#include "store/db.h"
#include "common/banned.h"

struct fixture {
	char dir[64];
	char path[128];
};

static int
rm_entry(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(p);
}

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (fx == NULL || sodium_init() < 0)
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/bulwark-db-XXXXXX");
	if (mkdtemp(fx->dir) == NULL)
		return -1;
	snprintf(fx->path, sizeof(fx->path), "%s/state.db", fx->dir);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	nftw(fx->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return 0;
}

static struct db *
open_ok(const char *path)
{
	struct db *db = NULL;
	int r = db_open(path, &db);

	if (r != ERR_OK)
		fprintf(stderr, "db_open: %s: %s\n", err_str(r), db_errmsg(NULL));
	assert_int_equal(r, ERR_OK);
	assert_non_null(db);
	return db;
}

/* Runs one SQL statement on path through a separate raw connection. */
static void
raw_exec(const char *path, const char *sql)
{
	sqlite3 *h = NULL;

	assert_int_equal(sqlite3_open_v2(path, &h, SQLITE_OPEN_READWRITE, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(h);
}

/* The single text (or integer, as text) answer of query on path. */
static void
raw_query(const char *path, const char *sql, char *out, size_t outsz)
{
	sqlite3 *h = NULL;
	sqlite3_stmt *st = NULL;

	assert_int_equal(sqlite3_open_v2(path, &h, SQLITE_OPEN_READWRITE, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	snprintf(out, outsz, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	sqlite3_close(h);
}

static mode_t
mode_of(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_mode & 07777;
}

/* ---- Opening ------------------------------------------------------------ */

static void
test_open_creates_0600(void **state)
{
	struct fixture *fx = *state;
	char wal[160], buf[64];
	struct db *db;
	mode_t old = umask(0);	/* even a permissive umask gives 0600 */

	db = open_ok(fx->path);
	umask(old);
	assert_int_equal(mode_of(fx->path), 0600);
	assert_string_equal(db_errmsg(db), "");
	assert_int_equal(db_user_add(db, "alice", 1001, "admin"), ERR_OK);
	snprintf(wal, sizeof(wal), "%s-wal", fx->path);
	assert_int_equal(mode_of(wal), 0600);
	db_close(db);
	db_close(NULL);

	raw_query(fx->path, "PRAGMA journal_mode", buf, sizeof(buf));
	assert_string_equal(buf, "wal");
	raw_query(fx->path, "PRAGMA user_version", buf, sizeof(buf));
	assert_int_equal(strtol(buf, NULL, 10), DB_SCHEMA_VERSION);

	/* Reopening keeps the data and the schema version. */
	db = open_ok(fx->path);
	{
		struct db_user u;

		assert_int_equal(db_user_get(db, "alice", &u), ERR_OK);
		assert_int_equal(u.uid, 1001);
		db_user_release(&u);
	}
	db_close(db);
	raw_query(fx->path, "PRAGMA user_version", buf, sizeof(buf));
	assert_int_equal(strtol(buf, NULL, 10), DB_SCHEMA_VERSION);
}

static void
test_open_refuses_lax_modes(void **state)
{
	struct fixture *fx = *state;
	static const mode_t bad[] = { 0644, 0640, 0604, 0660, 0602, 0620 };
	char other[160];
	struct db *db;
	size_t i;

	db = open_ok(fx->path);
	db_close(db);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(chmod(fx->path, bad[i]), 0);
		db = (struct db *)&db;	/* must be cleared */
		assert_int_equal(db_open(fx->path, &db), ERR_DENIED);
		assert_null(db);
		assert_non_null(strstr(db_errmsg(NULL), fx->path));
		assert_non_null(strstr(db_errmsg(NULL), "chmod 600"));
	}
	assert_int_equal(chmod(fx->path, 0600), 0);
	db = open_ok(fx->path);
	db_close(db);

	/* A lax -wal file is refused too. */
	snprintf(other, sizeof(other), "%s-wal", fx->path);
	{
		int fd = open(other, O_WRONLY | O_CREAT, 0644);

		assert_true(fd >= 0);
		close(fd);
		assert_int_equal(chmod(other, 0644), 0);
	}
	assert_int_equal(db_open(fx->path, &db), ERR_DENIED);
	assert_non_null(strstr(db_errmsg(NULL), other));
	assert_int_equal(unlink(other), 0);

	/* Symbolic links are not followed; directories are not databases. */
	snprintf(other, sizeof(other), "%s/link.db", fx->dir);
	assert_int_equal(symlink(fx->path, other), 0);
	assert_int_equal(db_open(other, &db), ERR_DENIED);
	assert_null(db);
	assert_int_equal(db_open(fx->dir, &db), ERR_DENIED);
	assert_null(db);

	/* A missing directory is an I/O error; bad arguments are refused. */
	snprintf(other, sizeof(other), "%s/no/such/dir.db", fx->dir);
	assert_int_equal(db_open(other, &db), ERR_IO);
	assert_null(db);
	assert_int_equal(db_open(NULL, &db), ERR_INVAL);
	assert_int_equal(db_open("", &db), ERR_INVAL);
	assert_int_equal(db_open(fx->path, NULL), ERR_INVAL);
}

static void
test_open_not_a_database(void **state)
{
	struct fixture *fx = *state;
	static const char junk[] = "this is not an SQLite database, not at all. "
	    "It is long enough to hold a header of one hundred bytes, so "
	    "SQLite reads it and says what it thinks.";
	struct db *db = NULL;
	int fd;

	fd = open(fx->path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
	close(fd);
	assert_int_equal(db_open(fx->path, &db), ERR_FORMAT);
	assert_null(db);
	assert_non_null(strstr(db_errmsg(NULL), fx->path));
}

static void
test_newer_schema_refused(void **state)
{
	struct fixture *fx = *state;
	char sql[64];
	struct db *db;

	db = open_ok(fx->path);
	db_close(db);
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d",
	    DB_SCHEMA_VERSION + 1);
	raw_exec(fx->path, sql);
	assert_int_equal(db_open(fx->path, &db), ERR_UNSUPPORTED);
	assert_null(db);
	assert_non_null(strstr(db_errmsg(NULL), "newer"));
	assert_non_null(strstr(db_errmsg(NULL), fx->path));

	/* Put back, it opens again. */
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d",
	    DB_SCHEMA_VERSION);
	raw_exec(fx->path, sql);
	db = open_ok(fx->path);
	db_close(db);
}

/* ---- Users -------------------------------------------------------------- */

static void
test_users(void **state)
{
	struct fixture *fx = *state;
	struct db *db = open_ok(fx->path);
	struct db_user u, *list = NULL;
	char longname[DB_NAME_MAX + 2];
	time_t before = time(NULL);
	size_t n = 99;

	assert_int_equal(db_user_list(db, &list, &n), ERR_OK);
	assert_int_equal(n, 0);
	db_user_array_free(list, n);

	assert_int_equal(db_user_add(db, "bob", 1002, "ops"), ERR_OK);
	assert_int_equal(db_user_add(db, "alice", 1001, "admin"), ERR_OK);
	assert_int_equal(db_user_add(db, "alice", 1003, "ops"), ERR_EXISTS);
	assert_non_null(strstr(db_errmsg(db), "UNIQUE"));
	assert_int_equal(db_user_add(db, "carol", 1001, "ops"), ERR_EXISTS);

	assert_int_equal(db_user_get(db, "alice", &u), ERR_OK);
	assert_string_equal(u.name, "alice");
	assert_string_equal(u.role, "admin");
	assert_int_equal(u.uid, 1001);
	assert_int_equal(u.state, DB_USER_ACTIVE);
	assert_true(u.created >= before && u.created <= time(NULL) + 1);
	db_user_release(&u);
	db_user_release(&u);	/* released twice is harmless */
	db_user_release(NULL);

	assert_int_equal(db_user_get_by_uid(db, 1002, &u), ERR_OK);
	assert_string_equal(u.name, "bob");
	db_user_release(&u);
	assert_int_equal(db_user_get_by_uid(db, 4242, &u), ERR_NOTFOUND);
	assert_null(u.name);
	assert_int_equal(db_user_get(db, "nobody", &u), ERR_NOTFOUND);
	assert_null(u.name);
	assert_null(u.role);

	/* uid 0 and the largest uid fit. */
	assert_int_equal(db_user_add(db, "root", 0, "admin"), ERR_OK);
	assert_int_equal(db_user_add(db, "big", UINT32_MAX - 1, "ops"), ERR_OK);
	assert_int_equal(db_user_get_by_uid(db, UINT32_MAX - 1, &u), ERR_OK);
	assert_true(u.uid == UINT32_MAX - 1);
	db_user_release(&u);

	assert_int_equal(db_user_list(db, &list, &n), ERR_OK);
	assert_int_equal(n, 4);
	assert_string_equal(list[0].name, "alice");
	assert_string_equal(list[1].name, "big");
	assert_string_equal(list[2].name, "bob");
	assert_string_equal(list[3].name, "root");
	db_user_array_free(list, n);
	db_user_array_free(NULL, 0);

	assert_int_equal(db_user_set_state(db, "bob", DB_USER_FROZEN), ERR_OK);
	assert_int_equal(db_user_get(db, "bob", &u), ERR_OK);
	assert_int_equal(u.state, DB_USER_FROZEN);
	db_user_release(&u);
	assert_int_equal(db_user_set_state(db, "bob", DB_USER_DISABLED), ERR_OK);
	assert_int_equal(db_user_set_state(db, "bob", DB_USER_ACTIVE), ERR_OK);
	assert_int_equal(db_user_set_state(db, "bob", 3), ERR_INVAL);
	assert_int_equal(db_user_set_state(db, "bob", -1), ERR_INVAL);
	assert_int_equal(db_user_set_state(db, "nobody", DB_USER_FROZEN),
	    ERR_NOTFOUND);

	assert_int_equal(db_user_del(db, "bob"), ERR_OK);
	assert_int_equal(db_user_del(db, "bob"), ERR_NOTFOUND);
	assert_int_equal(db_user_get(db, "bob", &u), ERR_NOTFOUND);
	/* A deleted user's name and uid may be used again. */
	assert_int_equal(db_user_add(db, "bob", 1002, "ops"), ERR_OK);

	/* Bad arguments. */
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(db_user_add(db, longname, 5000, "ops"), ERR_INVAL);
	longname[DB_NAME_MAX] = '\0';
	assert_int_equal(db_user_add(db, longname, 5000, "ops"), ERR_OK);
	assert_int_equal(db_user_add(db, "", 5001, "ops"), ERR_INVAL);
	assert_int_equal(db_user_add(db, NULL, 5001, "ops"), ERR_INVAL);
	assert_int_equal(db_user_add(db, "x", 5001, NULL), ERR_INVAL);
	assert_int_equal(db_user_add(db, "x", 5001, ""), ERR_INVAL);
	assert_int_equal(db_user_add(NULL, "x", 5001, "ops"), ERR_INVAL);
	assert_int_equal(db_user_get(db, NULL, &u), ERR_INVAL);
	assert_int_equal(db_user_get(db, "x", NULL), ERR_INVAL);
	assert_int_equal(db_user_list(db, NULL, &n), ERR_INVAL);
	assert_int_equal(db_user_del(db, ""), ERR_INVAL);
	db_close(db);
}

/* ---- Keys --------------------------------------------------------------- */

#define KEY_A "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA alice@laptop"
#define KEY_B "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB alice@desk"
#define KEY_C "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC bob"

static void
test_keys(void **state)
{
	struct fixture *fx = *state;
	struct db *db = open_ok(fx->path);
	struct db_key k, *list = NULL;
	size_t n = 7;

	assert_int_equal(db_user_add(db, "alice", 1001, "admin"), ERR_OK);
	assert_int_equal(db_user_add(db, "bob", 1002, "ops"), ERR_OK);

	assert_int_equal(db_key_add(db, "alice", KEY_A, "SHA256:aaa"), ERR_OK);
	assert_int_equal(db_key_add(db, "alice", KEY_B, "SHA256:bbb"), ERR_OK);
	assert_int_equal(db_key_add(db, "bob", KEY_C, "SHA256:ccc"), ERR_OK);
	/* One fingerprint, one owner. */
	assert_int_equal(db_key_add(db, "bob", KEY_A, "SHA256:aaa"), ERR_EXISTS);
	assert_int_equal(db_key_add(db, "alice", KEY_A, "SHA256:aaa"),
	    ERR_EXISTS);
	assert_int_equal(db_key_add(db, "nobody", KEY_A, "SHA256:zzz"),
	    ERR_NOTFOUND);

	assert_int_equal(db_key_find_by_fingerprint(db, "SHA256:bbb", &k),
	    ERR_OK);
	assert_string_equal(k.user, "alice");
	assert_string_equal(k.key_line, KEY_B);
	assert_string_equal(k.fingerprint, "SHA256:bbb");
	assert_true(k.added > 0);
	db_key_release(&k);
	assert_int_equal(db_key_find_by_fingerprint(db, "SHA256:zzz", &k),
	    ERR_NOTFOUND);
	assert_null(k.user);

	assert_int_equal(db_key_list(db, "alice", &list, &n), ERR_OK);
	assert_int_equal(n, 2);
	assert_string_equal(list[0].fingerprint, "SHA256:aaa");
	assert_string_equal(list[1].fingerprint, "SHA256:bbb");
	assert_string_equal(list[1].user, "alice");
	db_key_array_free(list, n);
	assert_int_equal(db_key_list(db, NULL, &list, &n), ERR_OK);
	assert_int_equal(n, 3);
	assert_string_equal(list[2].user, "bob");
	db_key_array_free(list, n);
	assert_int_equal(db_key_list(db, "nobody", &list, &n), ERR_NOTFOUND);
	assert_null(list);
	assert_int_equal(n, 0);

	assert_int_equal(db_key_del(db, "SHA256:aaa"), ERR_OK);
	assert_int_equal(db_key_del(db, "SHA256:aaa"), ERR_NOTFOUND);
	assert_int_equal(db_key_list(db, "alice", &list, &n), ERR_OK);
	assert_int_equal(n, 1);
	db_key_array_free(list, n);

	/* Deleting a user deletes its keys (foreign keys are on). */
	assert_int_equal(db_user_del(db, "alice"), ERR_OK);
	assert_int_equal(db_key_find_by_fingerprint(db, "SHA256:bbb", &k),
	    ERR_NOTFOUND);
	assert_int_equal(db_key_add(db, "bob", KEY_B, "SHA256:bbb"), ERR_OK);
	assert_int_equal(db_key_list(db, "bob", &list, &n), ERR_OK);
	assert_int_equal(n, 2);
	db_key_array_free(list, n);

	assert_int_equal(db_key_add(db, "bob", "", "SHA256:e"), ERR_INVAL);
	assert_int_equal(db_key_add(db, "bob", KEY_C, NULL), ERR_INVAL);
	assert_int_equal(db_key_find_by_fingerprint(db, NULL, &k), ERR_INVAL);
	assert_int_equal(db_key_del(db, NULL), ERR_INVAL);
	db_close(db);
}

/* ---- TOTP --------------------------------------------------------------- */

static void
test_totp(void **state)
{
	struct fixture *fx = *state;
	struct db *db = open_ok(fx->path);
	static const uint8_t seed1[20] = "12345678901234567890";
	static const uint8_t seed2[32] = "another seed of thirty-two bytes";
	struct db_totp_state st;
	uint8_t *seed = sodium_malloc(DB_TOTP_SEED_MAX);
	uint32_t fails = 0;
	size_t len = 99;

	assert_non_null(seed);
	assert_int_equal(db_user_add(db, "alice", 1001, "admin"), ERR_OK);
	assert_int_equal(db_totp_get_secret(db, "alice", seed,
	    DB_TOTP_SEED_MAX, &len, &st), ERR_NOTFOUND);
	assert_int_equal(len, 0);
	assert_int_equal(db_totp_set_secret(db, "nobody", seed1, 20),
	    ERR_NOTFOUND);
	assert_int_equal(db_totp_set_secret(db, "alice", seed1, 0), ERR_INVAL);
	assert_int_equal(db_totp_set_secret(db, "alice", seed1,
	    DB_TOTP_SEED_MAX + 1), ERR_INVAL);

	assert_int_equal(db_totp_set_secret(db, "alice", seed1, 20), ERR_OK);
	assert_int_equal(db_totp_get_secret(db, "alice", seed,
	    DB_TOTP_SEED_MAX, &len, &st), ERR_OK);
	assert_int_equal(len, 20);
	assert_memory_equal(seed, seed1, 20);
	assert_true(st.last_step == 0);
	assert_int_equal(st.failures, 0);
	assert_int_equal(st.locked_until, 0);
	/* The state is optional; a too small buffer is refused and wiped. */
	assert_int_equal(db_totp_get_secret(db, "alice", seed,
	    DB_TOTP_SEED_MAX, &len, NULL), ERR_OK);
	memset(seed, 0xAA, DB_TOTP_SEED_MAX);
	assert_int_equal(db_totp_get_secret(db, "alice", seed, 19, &len, &st),
	    ERR_TOOBIG);
	assert_int_equal(len, 0);
	{
		static const uint8_t zero[19];

		assert_memory_equal(seed, zero, 19);
	}

	/* Compare-and-set: only a later step is taken. */
	assert_int_equal(db_totp_record_success(db, "alice", 100), ERR_OK);
	assert_int_equal(db_totp_record_success(db, "alice", 100),
	    ERR_CONFLICT);
	assert_int_equal(db_totp_record_success(db, "alice", 99), ERR_CONFLICT);
	assert_int_equal(db_totp_record_success(db, "alice", 0), ERR_CONFLICT);
	assert_int_equal(db_totp_record_success(db, "alice", 101), ERR_OK);
	assert_int_equal(db_totp_record_success(db, "alice",
	    (uint64_t)INT64_MAX + 1), ERR_RANGE);
	assert_int_equal(db_totp_record_success(db, "nobody", 500),
	    ERR_NOTFOUND);

	/* Failures count up, a success resets them. */
	assert_int_equal(db_totp_record_failure(db, "alice", &fails), ERR_OK);
	assert_int_equal(fails, 1);
	assert_int_equal(db_totp_record_failure(db, "alice", &fails), ERR_OK);
	assert_int_equal(fails, 2);
	assert_int_equal(db_totp_record_failure(db, "alice", NULL), ERR_OK);
	assert_int_equal(db_totp_get_secret(db, "alice", seed,
	    DB_TOTP_SEED_MAX, &len, &st), ERR_OK);
	assert_int_equal(st.failures, 3);
	assert_true(st.last_step == 101);
	assert_int_equal(db_totp_record_success(db, "alice", 102), ERR_OK);
	assert_int_equal(db_totp_record_failure(db, "alice", &fails), ERR_OK);
	assert_int_equal(fails, 1);
	assert_int_equal(db_totp_record_failure(db, "nobody", &fails),
	    ERR_NOTFOUND);

	/* Locks only grow; clear lifts them and the failures. */
	assert_int_equal(db_totp_lock(db, "alice", 2000), ERR_OK);
	assert_int_equal(db_totp_lock(db, "alice", 1000), ERR_OK);
	assert_int_equal(db_totp_get_secret(db, "alice", seed,
	    DB_TOTP_SEED_MAX, &len, &st), ERR_OK);
	assert_int_equal(st.locked_until, 2000);
	assert_int_equal(db_totp_lock(db, "nobody", 1000), ERR_NOTFOUND);
	assert_int_equal(db_totp_clear(db, "alice"), ERR_OK);
	assert_int_equal(db_totp_get_secret(db, "alice", seed,
	    DB_TOTP_SEED_MAX, &len, &st), ERR_OK);
	assert_int_equal(st.locked_until, 0);
	assert_int_equal(st.failures, 0);
	assert_true(st.last_step == 102);
	assert_int_equal(db_totp_clear(db, "nobody"), ERR_NOTFOUND);

	/* Re-enrolment replaces the seed and keeps the last step. */
	assert_int_equal(db_totp_record_failure(db, "alice", &fails), ERR_OK);
	assert_int_equal(db_totp_lock(db, "alice", 3000), ERR_OK);
	assert_int_equal(db_totp_set_secret(db, "alice", seed2, 32), ERR_OK);
	assert_int_equal(db_totp_get_secret(db, "alice", seed,
	    DB_TOTP_SEED_MAX, &len, &st), ERR_OK);
	assert_int_equal(len, 32);
	assert_memory_equal(seed, seed2, 32);
	assert_true(st.last_step == 102);
	assert_int_equal(st.failures, 0);
	assert_int_equal(st.locked_until, 0);
	assert_int_equal(db_totp_record_success(db, "alice", 102),
	    ERR_CONFLICT);

	assert_int_equal(db_totp_del(db, "alice"), ERR_OK);
	assert_int_equal(db_totp_del(db, "alice"), ERR_NOTFOUND);
	assert_int_equal(db_totp_get_secret(db, "alice", seed,
	    DB_TOTP_SEED_MAX, &len, &st), ERR_NOTFOUND);
	assert_int_equal(db_totp_record_success(db, "alice", 500),
	    ERR_NOTFOUND);

	/* Deleting the user deletes the seed. */
	assert_int_equal(db_totp_set_secret(db, "alice", seed1, 20), ERR_OK);
	assert_int_equal(db_user_del(db, "alice"), ERR_OK);
	assert_int_equal(db_user_add(db, "alice", 1001, "admin"), ERR_OK);
	assert_int_equal(db_totp_get_secret(db, "alice", seed,
	    DB_TOTP_SEED_MAX, &len, &st), ERR_NOTFOUND);

	assert_int_equal(db_totp_get_secret(db, "alice", NULL,
	    DB_TOTP_SEED_MAX, &len, &st), ERR_INVAL);
	assert_int_equal(db_totp_get_secret(db, "alice", seed,
	    DB_TOTP_SEED_MAX, NULL, &st), ERR_INVAL);
	assert_int_equal(db_totp_set_secret(db, "alice", NULL, 20), ERR_INVAL);
	sodium_free(seed);
	db_close(db);
}

/*
 * Two processes, each with its own connection, try to record the same
 * step at the same moment, many times over: exactly one of each pair wins.
 */
static void
test_totp_race(void **state)
{
	struct fixture *fx = *state;
	static const uint8_t seed1[20] = "12345678901234567890";
	enum { ROUNDS = 40 };
	struct db *db = open_ok(fx->path);
	int round;

	assert_int_equal(db_user_add(db, "alice", 1001, "admin"), ERR_OK);
	assert_int_equal(db_totp_set_secret(db, "alice", seed1, 20), ERR_OK);
	db_close(db);

	for (round = 1; round <= ROUNDS; round++) {
		int ready[2], go[2], status, wins = 0, conflicts = 0, i;
		pid_t pid[2];
		char c;

		assert_int_equal(pipe(ready), 0);
		assert_int_equal(pipe(go), 0);
		for (i = 0; i < 2; i++) {
			pid[i] = fork();
			assert_true(pid[i] >= 0);
			if (pid[i] == 0) {
				struct db *cdb = NULL;
				int r;

				close(ready[0]);
				close(go[1]);
				if (db_open(fx->path, &cdb) != ERR_OK)
					_exit(3);
				if (write(ready[1], "r", 1) != 1 ||
				    read(go[0], &c, 1) != 1)
					_exit(4);
				r = db_totp_record_success(cdb, "alice",
				    (uint64_t)round * 1000);
				db_close(cdb);
				_exit(r == ERR_OK ? 0 :
				    r == ERR_CONFLICT ? 1 : 2);
			}
		}
		close(ready[1]);
		close(go[0]);
		for (i = 0; i < 2; i++)
			assert_int_equal(read(ready[0], &c, 1), 1);
		/* Both wait on the same pipe: release them together. */
		assert_int_equal(write(go[1], "gg", 2), 2);
		close(go[1]);
		close(ready[0]);
		for (i = 0; i < 2; i++) {
			assert_int_equal(waitpid(pid[i], &status, 0), pid[i]);
			assert_true(WIFEXITED(status));
			if (WEXITSTATUS(status) == 0)
				wins++;
			else if (WEXITSTATUS(status) == 1)
				conflicts++;
		}
		assert_int_equal(wins, 1);
		assert_int_equal(conflicts, 1);
	}
	db = open_ok(fx->path);
	{
		uint8_t *seed = sodium_malloc(DB_TOTP_SEED_MAX);
		struct db_totp_state st;
		size_t len;

		assert_non_null(seed);
		assert_int_equal(db_totp_get_secret(db, "alice", seed,
		    DB_TOTP_SEED_MAX, &len, &st), ERR_OK);
		assert_true(st.last_step == (uint64_t)ROUNDS * 1000);
		sodium_free(seed);
	}
	db_close(db);
}

/* ---- Targets, host keys, grants ----------------------------------------- */

static void
test_targets(void **state)
{
	struct fixture *fx = *state;
	struct db *db = open_ok(fx->path);
	struct db_target t, *list = NULL;
	size_t n;

	assert_int_equal(db_target_add(db, "web1", "10.0.0.5", 22, "web", 0),
	    ERR_OK);
	assert_int_equal(db_target_add(db, "db1", "db1.example.net", 2222,
	    "databases", 2), ERR_OK);
	assert_int_equal(db_target_add(db, "vault", "fd00::7", 65535, "backup",
	    3), ERR_OK);
	assert_int_equal(db_target_add(db, "web1", "10.0.0.6", 22, "web", 0),
	    ERR_EXISTS);
	assert_int_equal(db_target_add(db, "x", "h", 0, "g", 0), ERR_INVAL);
	assert_int_equal(db_target_add(db, "x", "h", 22, "g", 4), ERR_INVAL);
	assert_int_equal(db_target_add(db, "x", "h", 22, "g", -1), ERR_INVAL);
	assert_int_equal(db_target_add(db, "x", "", 22, "g", 0), ERR_INVAL);
	assert_int_equal(db_target_add(db, "x", "h", 22, NULL, 0), ERR_INVAL);

	assert_int_equal(db_target_get(db, "db1", &t), ERR_OK);
	assert_string_equal(t.name, "db1");
	assert_string_equal(t.host, "db1.example.net");
	assert_int_equal(t.port, 2222);
	assert_string_equal(t.group, "databases");
	assert_int_equal(t.sensitivity, 2);
	assert_true(t.created > 0);
	db_target_release(&t);
	assert_int_equal(db_target_get(db, "nope", &t), ERR_NOTFOUND);
	assert_null(t.name);

	assert_int_equal(db_target_list(db, &list, &n), ERR_OK);
	assert_int_equal(n, 3);
	assert_string_equal(list[0].name, "db1");
	assert_string_equal(list[1].name, "vault");
	assert_int_equal(list[1].port, 65535);
	assert_int_equal(list[1].sensitivity, 3);
	assert_string_equal(list[2].name, "web1");
	db_target_array_free(list, n);

	assert_int_equal(db_target_del(db, "vault"), ERR_OK);
	assert_int_equal(db_target_del(db, "vault"), ERR_NOTFOUND);
	assert_int_equal(db_target_list(db, &list, &n), ERR_OK);
	assert_int_equal(n, 2);
	db_target_array_free(list, n);
	db_close(db);
}

static void
test_hostkeys(void **state)
{
	struct fixture *fx = *state;
	struct db *db = open_ok(fx->path);
	struct db_hostkey h;

	assert_int_equal(db_target_add(db, "web1", "10.0.0.5", 22, "web", 0),
	    ERR_OK);
	assert_int_equal(db_hostkey_get(db, "web1", &h), ERR_NOTFOUND);
	assert_null(h.key_line);
	assert_int_equal(db_hostkey_set(db, "nope", KEY_A, "SHA256:aaa"),
	    ERR_NOTFOUND);
	assert_int_equal(db_hostkey_set(db, "web1", KEY_A, "SHA256:aaa"),
	    ERR_OK);
	assert_int_equal(db_hostkey_get(db, "web1", &h), ERR_OK);
	assert_string_equal(h.target, "web1");
	assert_string_equal(h.key_line, KEY_A);
	assert_string_equal(h.fingerprint, "SHA256:aaa");
	assert_true(h.pinned > 0);
	db_hostkey_release(&h);

	/* A rekey replaces the pinned key. */
	assert_int_equal(db_hostkey_set(db, "web1", KEY_B, "SHA256:bbb"),
	    ERR_OK);
	assert_int_equal(db_hostkey_get(db, "web1", &h), ERR_OK);
	assert_string_equal(h.key_line, KEY_B);
	assert_string_equal(h.fingerprint, "SHA256:bbb");
	db_hostkey_release(&h);
	db_hostkey_release(NULL);

	/* Deleting the target deletes its key. */
	assert_int_equal(db_target_del(db, "web1"), ERR_OK);
	assert_int_equal(db_target_add(db, "web1", "10.0.0.5", 22, "web", 0),
	    ERR_OK);
	assert_int_equal(db_hostkey_get(db, "web1", &h), ERR_NOTFOUND);
	assert_int_equal(db_hostkey_set(db, "web1", NULL, "SHA256:x"),
	    ERR_INVAL);
	db_close(db);
}

static void
test_grants(void **state)
{
	struct fixture *fx = *state;
	struct db *db = open_ok(fx->path);
	struct db_grant *list = NULL;
	size_t n;

	assert_int_equal(db_grant_add(db, "ops", "web", "root"), ERR_OK);
	assert_int_equal(db_grant_add(db, "ops", "web", "deploy"), ERR_OK);
	assert_int_equal(db_grant_add(db, "dba", "databases", "postgres"),
	    ERR_OK);
	assert_int_equal(db_grant_add(db, "ops", "web", "root"), ERR_EXISTS);
	assert_int_equal(db_grant_add(db, "ops", "", "root"), ERR_INVAL);

	assert_int_equal(db_grant_match(db, "ops", "web", "root"), ERR_OK);
	assert_int_equal(db_grant_match(db, "ops", "web", "deploy"), ERR_OK);
	assert_int_equal(db_grant_match(db, "ops", "databases", "root"),
	    ERR_NOTFOUND);
	assert_int_equal(db_grant_match(db, "dba", "web", "root"),
	    ERR_NOTFOUND);
	assert_int_equal(db_grant_match(db, "ops", "web", "Root"),
	    ERR_NOTFOUND);
	assert_int_equal(db_grant_match(db, "ops", "web", NULL), ERR_INVAL);

	assert_int_equal(db_grant_list(db, "ops", &list, &n), ERR_OK);
	assert_int_equal(n, 2);
	assert_string_equal(list[0].login, "deploy");
	assert_string_equal(list[1].login, "root");
	assert_string_equal(list[1].role, "ops");
	assert_string_equal(list[1].target_group, "web");
	db_grant_array_free(list, n);
	assert_int_equal(db_grant_list(db, NULL, &list, &n), ERR_OK);
	assert_int_equal(n, 3);
	assert_string_equal(list[0].role, "dba");
	db_grant_array_free(list, n);
	assert_int_equal(db_grant_list(db, "nobody", &list, &n), ERR_OK);
	assert_int_equal(n, 0);
	db_grant_array_free(list, n);

	assert_int_equal(db_grant_del(db, "ops", "web", "root"), ERR_OK);
	assert_int_equal(db_grant_del(db, "ops", "web", "root"), ERR_NOTFOUND);
	assert_int_equal(db_grant_match(db, "ops", "web", "root"),
	    ERR_NOTFOUND);
	db_close(db);
}

/* ---- Sessions ----------------------------------------------------------- */

static void
test_sessions(void **state)
{
	struct fixture *fx = *state;
	struct db *db = open_ok(fx->path);
	struct db_session s, *list = NULL;
	uint64_t id1 = 0, id2 = 0, id3 = 0;
	static const char hash[] =
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
	size_t n;

	assert_int_equal(db_session_start(db, "alice", "web1", "root",
	    "interactive", 1700000000, &id1), ERR_OK);
	assert_int_equal(db_session_start(db, "bob", "db1", "postgres", "exec",
	    1700000010, &id2), ERR_OK);
	assert_int_equal(db_session_start(db, "alice", "db1", "root", "sftp",
	    1700000020, &id3), ERR_OK);
	assert_true(id1 >= 1 && id2 > id1 && id3 > id2);

	assert_int_equal(db_session_get(db, id1, &s), ERR_OK);
	assert_true(s.id == id1);
	assert_string_equal(s.user, "alice");
	assert_string_equal(s.target, "web1");
	assert_string_equal(s.login, "root");
	assert_string_equal(s.kind, "interactive");
	assert_int_equal(s.started, 1700000000);
	assert_int_equal(s.ended, 0);
	assert_null(s.recording_hash);
	db_session_release(&s);

	assert_int_equal(db_session_end(db, id1, 1700000100, 0, 1234,
	    (uint64_t)INT64_MAX, hash), ERR_OK);
	assert_int_equal(db_session_end(db, id1, 1700000200, 1, 0, 0, NULL),
	    ERR_CONFLICT);
	assert_int_equal(db_session_end(db, 9999, 1700000200, 1, 0, 0, NULL),
	    ERR_NOTFOUND);
	assert_int_equal(db_session_end(db, id2, 1700000200, 1, 0,
	    (uint64_t)INT64_MAX + 1, NULL), ERR_RANGE);
	assert_int_equal(db_session_end(db, id2, 1700000200, 255, 10, 20,
	    NULL), ERR_OK);

	assert_int_equal(db_session_get(db, id1, &s), ERR_OK);
	assert_int_equal(s.ended, 1700000100);
	assert_int_equal(s.exit_status, 0);
	assert_true(s.bytes_in == 1234);
	assert_true(s.bytes_out == (uint64_t)INT64_MAX);
	assert_string_equal(s.recording_hash, hash);
	db_session_release(&s);
	assert_int_equal(db_session_get(db, id2, &s), ERR_OK);
	assert_int_equal(s.exit_status, 255);
	assert_null(s.recording_hash);
	db_session_release(&s);
	assert_int_equal(db_session_get(db, 9999, &s), ERR_NOTFOUND);
	assert_null(s.user);

	assert_int_equal(db_session_list(db, NULL, 0, &list, &n), ERR_OK);
	assert_int_equal(n, 3);
	assert_true(list[0].id == id3);
	assert_true(list[2].id == id1);
	db_session_array_free(list, n);
	assert_int_equal(db_session_list(db, "alice", 0, &list, &n), ERR_OK);
	assert_int_equal(n, 2);
	assert_true(list[0].id == id3 && list[1].id == id1);
	db_session_array_free(list, n);
	assert_int_equal(db_session_list(db, "alice", 1, &list, &n), ERR_OK);
	assert_int_equal(n, 1);
	assert_true(list[0].id == id3);
	db_session_array_free(list, n);
	assert_int_equal(db_session_list(db, "carol", 0, &list, &n), ERR_OK);
	assert_int_equal(n, 0);
	db_session_array_free(list, n);

	/* Sessions outlive the user and target they name. */
	assert_int_equal(db_user_add(db, "alice", 1001, "admin"), ERR_OK);
	assert_int_equal(db_user_del(db, "alice"), ERR_OK);
	assert_int_equal(db_session_get(db, id3, &s), ERR_OK);
	db_session_release(&s);

	assert_int_equal(db_session_start(db, "alice", "web1", "root", "",
	    1, &id1), ERR_INVAL);
	assert_int_equal(db_session_start(db, "alice", "web1", "root", "exec",
	    1, NULL), ERR_INVAL);
	db_close(db);
}

/* ---- Hostile strings ---------------------------------------------------- */

/* ---- Logins ------------------------------------------------------------- */

static void
test_logins(void **state)
{
	struct fixture *fx = *state;
	struct db *db = open_ok(fx->path);
	struct db_login l, *all = NULL;
	uint64_t a = 0, b = 0, c = 0;
	size_t n = 0;

	assert_int_equal(db_user_add(db, "alice", 1001, "admin"), ERR_OK);
	assert_int_equal(db_user_add(db, "bob", 1002, "admin"), ERR_OK);
	assert_int_equal(db_login_add(db, "alice", "boot-1", 4000, 123,
	    "192.0.2.7", 1700000000, &a), ERR_OK);
	assert_true(a >= 1);
	assert_int_equal(db_login_add(db, "bob", "boot-1", 4001, 124, "",
	    1700000001, &b), ERR_OK);
	assert_true(b > a);
	/* One process is one login; unknown users have none. */
	assert_int_equal(db_login_add(db, "bob", "boot-1", 4000, 123, "", 1,
	    &c), ERR_EXISTS);
	assert_int_equal(c, 0);
	assert_int_equal(db_login_add(db, "nobody", "boot-1", 4002, 1, "", 1,
	    &c), ERR_NOTFOUND);
	assert_int_equal(db_login_add(db, "alice", "boot-1", 0, 1, "", 1, &c),
	    ERR_INVAL);
	assert_int_equal(db_login_add(db, "alice", "boot-1", 5, -1, "", 1,
	    &c), ERR_INVAL);

	/* Found by the whole name of the process only. */
	assert_int_equal(db_login_find(db, "boot-1", 4000, 123, &l), ERR_OK);
	assert_int_equal(l.id, a);
	assert_string_equal(l.user, "alice");
	assert_string_equal(l.rhost, "192.0.2.7");
	assert_int_equal(l.opened, 1700000000);
	db_login_release(&l);
	assert_int_equal(db_login_find(db, "boot-1", 4000, 124, &l),
	    ERR_NOTFOUND);
	assert_int_equal(db_login_find(db, "boot-2", 4000, 123, &l),
	    ERR_NOTFOUND);
	assert_int_equal(db_login_get(db, b, &l), ERR_OK);
	assert_string_equal(l.user, "bob");
	assert_int_equal(l.pid, 4001);
	assert_int_equal(l.pid_start, 124);
	assert_string_equal(l.boot, "boot-1");
	db_login_release(&l);

	assert_int_equal(db_login_list(db, &all, &n), ERR_OK);
	assert_int_equal(n, 2);
	assert_int_equal(all[0].id, a);
	assert_int_equal(all[1].id, b);
	db_login_array_free(all, n);

	/* Ending one twice; deleting a user ends theirs. */
	assert_int_equal(db_login_del(db, a), ERR_OK);
	assert_int_equal(db_login_del(db, a), ERR_NOTFOUND);
	assert_int_equal(db_user_del(db, "bob"), ERR_OK);
	assert_int_equal(db_login_get(db, b, &l), ERR_NOTFOUND);
	/* Ids are never reused. */
	assert_int_equal(db_login_add(db, "alice", "boot-1", 4000, 123, "", 2,
	    &c), ERR_OK);
	assert_true(c > b);
	db_close(db);
}

/* A file from before logins existed (schema 1) is brought up to date. */
static void
test_migrate_from_1(void **state)
{
	struct fixture *fx = *state;
	struct db *db = open_ok(fx->path);
	struct db_user u;
	uint64_t id = 0;
	char buf[64];

	assert_int_equal(db_user_add(db, "alice", 1001, "admin"), ERR_OK);
	db_close(db);
	raw_exec(fx->path, "DROP TABLE logins; PRAGMA user_version = 1");
	db = open_ok(fx->path);
	raw_query(fx->path, "PRAGMA user_version", buf, sizeof(buf));
	assert_int_equal(strtol(buf, NULL, 10), DB_SCHEMA_VERSION);
	assert_int_equal(db_user_get(db, "alice", &u), ERR_OK);
	db_user_release(&u);
	assert_int_equal(db_login_add(db, "alice", "b", 7, 8, "", 9, &id),
	    ERR_OK);
	db_close(db);
}

static void
test_sql_injection_stored_literally(void **state)
{
	struct fixture *fx = *state;
	static const char *const evil[] = {
		"'; DROP TABLE users; --",
		"Robert'); DROP TABLE users;--",
		"\" OR 1=1 --",
		"x' OR '1'='1",
		"%s%n%x",
		"a\tb\nc\\d",
		"\xc3\xa9l\xc3\xa8ve",
		"?1 ?2 :name @x $y",
		"*/ SELECT * FROM totp /*",
	};
	struct db *db = open_ok(fx->path);
	struct db_user u, *list;
	struct db_target t;
	uint64_t sid;
	size_t i, n;
	char buf[64];

	for (i = 0; i < sizeof(evil) / sizeof(evil[0]); i++) {
		assert_int_equal(db_user_add(db, evil[i], 2000 + (uint32_t)i,
		    evil[i]), ERR_OK);
		assert_int_equal(db_user_get(db, evil[i], &u), ERR_OK);
		assert_string_equal(u.name, evil[i]);
		assert_string_equal(u.role, evil[i]);
		db_user_release(&u);
		assert_int_equal(db_target_add(db, evil[i], evil[i], 22,
		    evil[i], 1), ERR_OK);
		assert_int_equal(db_target_get(db, evil[i], &t), ERR_OK);
		assert_string_equal(t.host, evil[i]);
		assert_string_equal(t.group, evil[i]);
		db_target_release(&t);
		assert_int_equal(db_grant_add(db, evil[i], evil[i], evil[i]),
		    ERR_OK);
		assert_int_equal(db_grant_match(db, evil[i], evil[i], evil[i]),
		    ERR_OK);
		assert_int_equal(db_session_start(db, evil[i], evil[i], evil[i],
		    evil[i], 1, &sid), ERR_OK);
	}
	/* A tautology matches nothing it does not spell exactly. */
	assert_int_equal(db_user_get(db, "x' OR '1'='1' --", &u), ERR_NOTFOUND);
	assert_int_equal(db_grant_match(db, "x' OR '1'='1", "web", "root"),
	    ERR_NOTFOUND);
	assert_int_equal(db_user_list(db, &list, &n), ERR_OK);
	assert_int_equal(n, sizeof(evil) / sizeof(evil[0]));
	db_user_array_free(list, n);
	db_close(db);
	raw_query(fx->path, "SELECT count(*) FROM sqlite_schema WHERE "
	    "name IN ('users','user_keys','totp','targets','host_keys',"
	    "'grants','sessions')", buf, sizeof(buf));
	assert_string_equal(buf, "7");
}

/* ---- Crashes ------------------------------------------------------------ */

/*
 * A child writes as fast as it can and reports each write that returned
 * ERR_OK down a pipe; it is killed with SIGKILL at a random moment (during
 * db_open and its migration too). After each kill every acknowledged
 * write must be there and the file must pass integrity_check.
 */
static void
crash_child(const char *path, int round, int ackfd)
{
	struct db *db = NULL;
	uint32_t i;

	if (db_open(path, &db) != ERR_OK)
		_exit(3);
	for (i = 0;; i++) {
		char name[64];
		uint64_t sid;

		snprintf(name, sizeof(name), "u%d-%u", round, i);
		if (db_user_add(db, name, (uint32_t)round * 1000000u + i,
		    "ops") != ERR_OK)
			_exit(4);
		if (db_session_start(db, name, "web1", "root", "exec", i,
		    &sid) != ERR_OK)
			_exit(5);
		if (db_session_end(db, sid, i + 1, 0, i, i, NULL) != ERR_OK)
			_exit(6);
		if (write(ackfd, &i, sizeof(i)) != (ssize_t)sizeof(i))
			_exit(7);
	}
}

static void
test_crash_sigkill(void **state)
{
	struct fixture *fx = *state;
	enum { ROUNDS = 20 };
	size_t total = 0;
	int round;

	for (round = 0; round < ROUNDS; round++) {
		uint32_t *acked = NULL, i;
		size_t nacked = 0, cap = 0;
		int p[2], status;
		struct timespec ts;
		struct db *db;
		char buf[64];
		pid_t pid;
		ssize_t got;

		assert_int_equal(pipe(p), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(p[0]);
			crash_child(fx->path, round, p[1]);
		}
		close(p[1]);
		/* 0 to 300 ms: from inside db_open to deep in the writes. */
		ts.tv_sec = 0;
		ts.tv_nsec = (long)randombytes_uniform(300000) * 1000;
		nanosleep(&ts, NULL);
		assert_int_equal(kill(pid, SIGKILL), 0);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
		for (;;) {
			if (nacked == cap) {
				cap = cap ? 2 * cap : 1024;
				acked = realloc(acked, cap * sizeof(*acked));
				assert_non_null(acked);
			}
			got = read(p[0], &acked[nacked], sizeof(*acked));
			if (got == 0)
				break;
			assert_int_equal(got, (ssize_t)sizeof(*acked));
			nacked++;
		}
		close(p[0]);

		/* Killed before it even created the file: nothing to check. */
		if (access(fx->path, F_OK) != 0) {
			assert_int_equal(nacked, 0);
			free(acked);
			continue;
		}
		raw_query(fx->path, "PRAGMA integrity_check", buf, sizeof(buf));
		assert_string_equal(buf, "ok");
		db = open_ok(fx->path);
		for (i = 0; i < nacked; i++) {
			struct db_session *list = NULL;
			struct db_user u;
			char name[64];
			size_t n;

			assert_true(acked[i] == i);
			snprintf(name, sizeof(name), "u%d-%u", round, i);
			assert_int_equal(db_user_get(db, name, &u), ERR_OK);
			db_user_release(&u);
			assert_int_equal(db_session_list(db, name, 0, &list,
			    &n), ERR_OK);
			assert_int_equal(n, 1);
			assert_int_equal(list[0].ended, (int64_t)i + 1);
			assert_true(list[0].bytes_in == i);
			db_session_array_free(list, n);
		}
		db_close(db);
		total += nacked;
		free(acked);
	}
	/* The random delays must have let most rounds write something. */
	assert_true(total > 0);
	fprintf(stderr, "crash: %zu acknowledged writes over %d kills\n",
	    total, ROUNDS);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_creates_0600, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_open_refuses_lax_modes,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_not_a_database,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_newer_schema_refused,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_users, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_totp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_totp_race, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_targets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostkeys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_grants, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sessions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_logins, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrate_from_1, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_sql_injection_stored_literally, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_sigkill, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
