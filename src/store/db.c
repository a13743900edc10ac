/*
 * db.c - the gateway state store on SQLite (see db.h).
 *
 * Every statement is a constant string prepared with bound parameters
 * (stmt() below); nothing a caller passes is ever part of SQL text.
 * Writes that read before they write (the TOTP compare-and-set, ending a
 * session, migrations) run inside BEGIN IMMEDIATE, which takes the write
 * lock first, so that no other connection can commit in between.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <sqlite3.h>

#include "common/fsutil.h"
#include "store/db.h"
#include "common/banned.h"

struct db {
	sqlite3 *h;
	char errmsg[512];
};

/* Why the last db_open on this thread failed (db_errmsg(NULL)). */
static _Thread_local char open_errmsg[1024];

/*
 * The schema, one migration per version: migrations[k] takes a file from
 * user_version k to k + 1 and sets user_version itself, inside the
 * transaction that applies it. Never edit a released migration; add one.
 */
static const char *const migrations[] = {
	/* 0 -> 1 */
	"CREATE TABLE users ("
	"  id INTEGER PRIMARY KEY,"
	"  name TEXT NOT NULL UNIQUE,"
	"  uid INTEGER NOT NULL UNIQUE CHECK (uid BETWEEN 0 AND 4294967295),"
	"  role TEXT NOT NULL,"
	"  state INTEGER NOT NULL DEFAULT 0 CHECK (state IN (0, 1, 2)),"
	"  created INTEGER NOT NULL"
	") STRICT;"
	"CREATE TABLE user_keys ("
	"  id INTEGER PRIMARY KEY,"
	"  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	"  key_line TEXT NOT NULL,"
	"  fingerprint TEXT NOT NULL UNIQUE,"
	"  added INTEGER NOT NULL"
	") STRICT;"
	"CREATE INDEX user_keys_user ON user_keys(user_id);"
	"CREATE TABLE totp ("
	"  user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,"
	"  seed BLOB NOT NULL CHECK (length(seed) BETWEEN 1 AND 64),"
	"  last_step INTEGER NOT NULL DEFAULT 0 CHECK (last_step >= 0),"
	"  failures INTEGER NOT NULL DEFAULT 0 CHECK (failures >= 0),"
	"  locked_until INTEGER NOT NULL DEFAULT 0"
	") STRICT;"
	"CREATE TABLE targets ("
	"  id INTEGER PRIMARY KEY,"
	"  name TEXT NOT NULL UNIQUE,"
	"  host TEXT NOT NULL,"
	"  port INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),"
	"  sensitivity INTEGER NOT NULL CHECK (sensitivity BETWEEN 0 AND 3),"
	"  grp TEXT NOT NULL,"
	"  created INTEGER NOT NULL"
	") STRICT;"
	"CREATE TABLE host_keys ("
	"  target_id INTEGER PRIMARY KEY"
	"    REFERENCES targets(id) ON DELETE CASCADE,"
	"  key_line TEXT NOT NULL,"
	"  fingerprint TEXT NOT NULL,"
	"  pinned INTEGER NOT NULL"
	") STRICT;"
	"CREATE TABLE grants ("
	"  id INTEGER PRIMARY KEY,"
	"  role TEXT NOT NULL,"
	"  target_group TEXT NOT NULL,"
	"  login TEXT NOT NULL,"
	"  UNIQUE (role, target_group, login)"
	") STRICT;"
	/* AUTOINCREMENT: a session id is a certificate serial, never reused. */
	"CREATE TABLE sessions ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  user TEXT NOT NULL,"
	"  target TEXT NOT NULL,"
	"  login TEXT NOT NULL,"
	"  kind TEXT NOT NULL,"
	"  started INTEGER NOT NULL,"
	"  ended INTEGER,"
	"  exit_status INTEGER,"
	"  bytes_in INTEGER NOT NULL DEFAULT 0 CHECK (bytes_in >= 0),"
	"  bytes_out INTEGER NOT NULL DEFAULT 0 CHECK (bytes_out >= 0),"
	"  recording_hash TEXT"
	") STRICT;"
	"CREATE INDEX sessions_user ON sessions(user, id);"
	"PRAGMA user_version = 1;",
};
#define NMIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))
_Static_assert(NMIGRATIONS == DB_SCHEMA_VERSION,
    "one migration per schema version");

static void
open_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
open_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(open_errmsg, sizeof(open_errmsg), fmt, ap);
	va_end(ap);
}

/*
 * Records SQLite's message for rc on db and maps rc to an error code.
 * Extended result codes are on, so constraint kinds can be told apart.
 */
static int
db_fail(struct db *db, int rc)
{
	snprintf(db->errmsg, sizeof(db->errmsg), "%s", sqlite3_errmsg(db->h));
	switch (rc) {
	case SQLITE_CONSTRAINT_UNIQUE:
	case SQLITE_CONSTRAINT_PRIMARYKEY:
		return ERR_EXISTS;
	case SQLITE_CONSTRAINT_FOREIGNKEY:
		return ERR_NOTFOUND;
	case SQLITE_CONSTRAINT_CHECK:
	case SQLITE_CONSTRAINT_NOTNULL:
		return ERR_INVAL;
	}
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return ERR_LOCKED;
	case SQLITE_NOMEM:
		return ERR_NOMEM;
	case SQLITE_NOTADB:
		return ERR_FORMAT;
	case SQLITE_TOOBIG:
		return ERR_TOOBIG;
	case SQLITE_RANGE:
		return ERR_INTERNAL;
	default:
		return ERR_IO;
	}
}

/* s is a string of 1..max bytes. */
static int
str_ok(const char *s, size_t max)
{
	return s != NULL && s[0] != '\0' && strnlen(s, max + 1) <= max;
}

static int
name_ok(const char *s)
{
	return str_ok(s, DB_NAME_MAX);
}

/*
 * Prepares the constant sql and binds its parameters ?1, ?2 ... from the
 * arguments, one letter of fmt each:
 *   t  const char *      text (SQL NULL when the pointer is NULL)
 *   i  int64_t           integer
 *   b  const void *, size_t   blob
 * Arguments are bound without copying: they must outlive the statement.
 */
static int
stmt(struct db *db, sqlite3_stmt **stp, const char *sql, const char *fmt, ...)
{
	sqlite3_stmt *st = NULL;
	va_list ap;
	int rc, i, r = ERR_INTERNAL;

	*stp = NULL;
	va_start(ap, fmt);
	if ((rc = sqlite3_prepare_v3(db->h, sql, -1, 0, &st, NULL)) !=
	    SQLITE_OK) {
		r = db_fail(db, rc);
		goto out;
	}
	for (i = 1; fmt[i - 1] != '\0'; i++) {
		const char *s;
		const void *p;
		size_t len;

		switch (fmt[i - 1]) {
		case 't':
			s = va_arg(ap, const char *);
			rc = s == NULL ? sqlite3_bind_null(st, i) :
			    sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
			break;
		case 'i':
			rc = sqlite3_bind_int64(st, i, va_arg(ap, int64_t));
			break;
		case 'b':
			p = va_arg(ap, const void *);
			len = va_arg(ap, size_t);
			rc = sqlite3_bind_blob64(st, i, p, len, SQLITE_STATIC);
			break;
		default:
			goto out;	/* a bug in this file */
		}
		if (rc != SQLITE_OK) {
			r = db_fail(db, rc);
			goto out;
		}
	}
	*stp = st;
	st = NULL;
	r = ERR_OK;
 out:
	va_end(ap);
	sqlite3_finalize(st);
	return r;
}

/* Steps a statement that returns no rows to its end. */
static int
run(struct db *db, sqlite3_stmt *st)
{
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		;
	return rc == SQLITE_DONE ? ERR_OK : db_fail(db, rc);
}

/* Runs a constant statement without parameters (BEGIN, COMMIT ...). */
static int
exec(struct db *db, const char *sql)
{
	int rc = sqlite3_exec(db->h, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? ERR_OK : db_fail(db, rc);
}

/* Ends a transaction begun here: COMMIT if r is ERR_OK, else ROLLBACK. */
static int
tx_end(struct db *db, int r)
{
	if (r == ERR_OK)
		return exec(db, "COMMIT");
	if (!sqlite3_get_autocommit(db->h))
		(void)sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
	return r;
}

/*
 * Runs a write statement and says ERR_NOTFOUND when it touched no row
 * (an UPDATE or DELETE by a name that does not exist, or an INSERT ...
 * SELECT whose parent row does not exist).
 */
static int
run_changed(struct db *db, sqlite3_stmt *st)
{
	int r;

	if ((r = run(db, st)) != ERR_OK)
		return r;
	return sqlite3_changes(db->h) > 0 ? ERR_OK : ERR_NOTFOUND;
}

/* A malloc'd copy of column col, NULL for SQL NULL. */
static int
col_str(sqlite3_stmt *st, int col, char **out)
{
	const unsigned char *s = sqlite3_column_text(st, col);

	*out = NULL;
	if (s == NULL)
		return sqlite3_column_type(st, col) == SQLITE_NULL ?
		    ERR_OK : ERR_NOMEM;
	if ((*out = strdup((const char *)s)) == NULL)
		return ERR_NOMEM;
	return ERR_OK;
}

typedef int (*row_fn)(sqlite3_stmt *st, void *elem);
typedef void (*release_fn)(void *elem);

/*
 * Steps st expecting at most one row: fills *elem from it (ERR_OK) or
 * answers ERR_NOTFOUND.
 */
static int
get_one(struct db *db, sqlite3_stmt *st, row_fn fill, release_fn release,
    void *elem)
{
	int rc, r;

	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		return ERR_NOTFOUND;
	if (rc != SQLITE_ROW)
		return db_fail(db, rc);
	if ((r = fill(st, elem)) != ERR_OK)
		release(elem);
	return r;
}

/* Collects every row of st into a new array of elemsz-byte elements. */
static int
get_all(struct db *db, sqlite3_stmt *st, size_t elemsz, row_fn fill,
    release_fn release, void **outp, size_t *np)
{
	unsigned char *arr = NULL, *tmp;
	size_t n = 0, cap = 0, i;
	int rc, r = ERR_INTERNAL;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap == 0 ? 16 : 2 * cap;
			if ((tmp = reallocarray(arr, cap, elemsz)) == NULL) {
				r = ERR_NOMEM;
				goto out;
			}
			arr = tmp;
		}
		memset(arr + n * elemsz, 0, elemsz);
		r = fill(st, arr + n * elemsz);
		n++;	/* a half-filled element is released below */
		if (r != ERR_OK)
			goto out;
	}
	if (rc != SQLITE_DONE) {
		r = db_fail(db, rc);
		goto out;
	}
	*outp = arr;
	*np = n;
	arr = NULL;
	n = 0;
	r = ERR_OK;
 out:
	for (i = 0; i < n; i++)
		release(arr + i * elemsz);
	free(arr);
	return r;
}

/* ---- Opening ------------------------------------------------------------ */

/*
 * Refuses path+suffix (the -wal and -shm files SQLite keeps beside the
 * database) if it exists and is not a private regular file.
 */
static int
check_side_file(const char *path, const char *suffix)
{
	struct stat st;
	char *side = NULL;
	int r = ERR_INTERNAL;

	if (asprintf(&side, "%s%s", path, suffix) < 0) {
		side = NULL;
		open_fail("out of memory opening '%s'", path);
		r = ERR_NOMEM;
		goto out;
	}
	if (lstat(side, &st) != 0) {
		if (errno == ENOENT) {
			r = ERR_OK;
			goto out;
		}
		open_fail("cannot check '%s': %s", side, strerror(errno));
		r = ERR_IO;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		open_fail("'%s' is not a regular file; remove it, it is not "
		    "SQLite's", side);
		r = ERR_DENIED;
		goto out;
	}
	if ((st.st_mode & 077) != 0) {
		open_fail("'%s' is readable or writable by group or others "
		    "(mode %04o); run 'chmod 600 %s' after checking who else "
		    "could have read it", side, (unsigned)(st.st_mode & 07777),
		    side);
		r = ERR_DENIED;
		goto out;
	}
	r = ERR_OK;
 out:
	free(side);
	return r;
}

/*
 * Creates path with mode 0600 if it is missing, or checks that the file
 * there is a private regular file; *stp gets its identity.
 */
static int
prepare_file(const char *path, struct stat *stp)
{
	char *dir = NULL;
	int fd = -1, created = 0, r = ERR_INTERNAL;

	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd >= 0)
		created = 1;
	else if (errno == EEXIST)
		fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ELOOP) {
			open_fail("database '%s' is a symbolic link; give the "
			    "path of the file itself", path);
			r = ERR_DENIED;
		} else {
			open_fail("cannot open database '%s': %s", path,
			    strerror(errno));
			r = errno == EACCES ? ERR_DENIED : ERR_IO;
		}
		goto out;
	}
	/* The umask may have taken bits away; 0600 is what we want. */
	if (created && fchmod(fd, 0600) != 0) {
		open_fail("cannot set the mode of database '%s': %s", path,
		    strerror(errno));
		r = ERR_IO;
		goto out;
	}
	if (fstat(fd, stp) != 0) {
		open_fail("cannot stat database '%s': %s", path,
		    strerror(errno));
		r = ERR_IO;
		goto out;
	}
	if (!S_ISREG(stp->st_mode)) {
		open_fail("database '%s' is not a regular file", path);
		r = ERR_DENIED;
		goto out;
	}
	if ((stp->st_mode & 077) != 0) {
		open_fail("database '%s' is readable or writable by group or "
		    "others (mode %04o); it holds TOTP seeds: run "
		    "'chmod 600 %s' after checking who else could have read "
		    "it", path, (unsigned)(stp->st_mode & 07777), path);
		r = ERR_DENIED;
		goto out;
	}
	/* A new file's name must survive a power loss too. */
	if (created) {
		if ((dir = strdup(path)) == NULL) {
			open_fail("out of memory opening '%s'", path);
			r = ERR_NOMEM;
			goto out;
		}
		if ((r = fs_sync_dir(dirname(dir))) != ERR_OK) {
			open_fail("cannot sync the directory of database "
			    "'%s': %s", path, strerror(errno));
			goto out;
		}
	}
	r = ERR_OK;
 out:
	/*
	 * Closed before SQLite opens the file: closing a second descriptor
	 * of a file later would drop SQLite's POSIX locks on it.
	 */
	if (fd >= 0)
		close(fd);
	free(dir);
	return r;
}

/* PRAGMA user_version, read as a query. */
static int
schema_version(struct db *db, int64_t *vp)
{
	sqlite3_stmt *st = NULL;
	int rc, r = ERR_INTERNAL;

	*vp = 0;
	if ((r = stmt(db, &st, "PRAGMA user_version", "")) != ERR_OK)
		goto out;
	if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
		r = db_fail(db, rc);
		goto out;
	}
	*vp = sqlite3_column_int64(st, 0);
	r = ERR_OK;
 out:
	sqlite3_finalize(st);
	return r;
}

/*
 * Applies the migrations a file of an older version needs, all in one
 * transaction that takes the write lock first: another process opening
 * the same file at the same time waits and then finds nothing to do.
 */
static int
migrate_apply(struct db *db)
{
	int64_t v = 0;
	int r = ERR_INTERNAL, k;

	if ((r = exec(db, "BEGIN IMMEDIATE")) != ERR_OK)
		return r;
	if ((r = schema_version(db, &v)) != ERR_OK)
		goto out;
	for (k = (int)(v < 0 ? NMIGRATIONS : v); k < NMIGRATIONS; k++)
		if ((r = exec(db, migrations[k])) != ERR_OK)
			goto out;
	r = ERR_OK;
 out:
	return tx_end(db, r);
}

/* Brings the schema to DB_SCHEMA_VERSION; refuses newer ones. */
static int
migrate(struct db *db, const char *path)
{
	int64_t v = 0;
	int r = ERR_INTERNAL;

	if ((r = schema_version(db, &v)) != ERR_OK)
		return r;
	if (v >= 0 && v < DB_SCHEMA_VERSION) {
		if ((r = migrate_apply(db)) != ERR_OK ||
		    (r = schema_version(db, &v)) != ERR_OK)
			return r;
	}
	if (v != DB_SCHEMA_VERSION) {
		open_fail("database '%s' has schema version %lld, newer than "
		    "this Bulwark's (%d); run a Bulwark at least as new as the "
		    "one that wrote it", path, (long long)v, DB_SCHEMA_VERSION);
		return ERR_UNSUPPORTED;
	}
	return ERR_OK;
}

/* Sets a pragma and checks that it took: SQLite ignores unknown ones. */
static int
pragma(struct db *db, const char *set, const char *get, const char *want)
{
	sqlite3_stmt *st = NULL;
	const unsigned char *got;
	int rc, r = ERR_INTERNAL;

	if (set != NULL && (r = exec(db, set)) != ERR_OK)
		goto out;
	if ((r = stmt(db, &st, get, "")) != ERR_OK)
		goto out;
	if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
		r = db_fail(db, rc);
		goto out;
	}
	got = sqlite3_column_text(st, 0);
	if (got == NULL || strcmp((const char *)got, want) != 0) {
		snprintf(db->errmsg, sizeof(db->errmsg),
		    "'%s' answered '%s', not '%s'", get,
		    got == NULL ? "" : (const char *)got, want);
		r = ERR_IO;
		goto out;
	}
	r = ERR_OK;
 out:
	sqlite3_finalize(st);
	return r;
}

int
db_open(const char *path, struct db **out)
{
	struct db *db = NULL;
	struct stat before, after;
	int rc, r = ERR_INTERNAL;

	open_errmsg[0] = '\0';
	if (out != NULL)
		*out = NULL;
	if (out == NULL || path == NULL || path[0] == '\0') {
		open_fail("db_open: no path or no place for the result");
		r = ERR_INVAL;
		goto out;
	}
	if ((r = prepare_file(path, &before)) != ERR_OK ||
	    (r = check_side_file(path, "-wal")) != ERR_OK ||
	    (r = check_side_file(path, "-shm")) != ERR_OK)
		goto out;
	if ((db = calloc(1, sizeof(*db))) == NULL) {
		open_fail("out of memory opening '%s'", path);
		r = ERR_NOMEM;
		goto out;
	}
	rc = sqlite3_open_v2(path, &db->h,
	    SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW, NULL);
	if (rc != SQLITE_OK) {
		r = db->h == NULL ? ERR_NOMEM : db_fail(db, rc);
		open_fail("cannot open database '%s': %s", path,
		    db->h == NULL ? "out of memory" : db->errmsg);
		goto out;
	}
	/* The file we checked must be the file SQLite opened. */
	if (lstat(path, &after) != 0 || after.st_dev != before.st_dev ||
	    after.st_ino != before.st_ino) {
		open_fail("database '%s' was replaced while being opened; "
		    "check who else writes to its directory", path);
		r = ERR_DENIED;
		goto out;
	}
	sqlite3_extended_result_codes(db->h, 1);
	sqlite3_busy_timeout(db->h, DB_BUSY_TIMEOUT_MS);
	/* Refuse SQL that could corrupt the file; trust no schema code. */
	sqlite3_db_config(db->h, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	sqlite3_db_config(db->h, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
	/*
	 * WAL; synchronous=FULL also syncs the WAL at every commit, so that
	 * an acknowledged write survives a power loss, not only a crash.
	 * secure_delete overwrites deleted content (old TOTP seeds).
	 */
	if ((r = pragma(db, "PRAGMA journal_mode = WAL", "PRAGMA journal_mode",
	    "wal")) != ERR_OK ||
	    (r = pragma(db, "PRAGMA synchronous = FULL", "PRAGMA synchronous",
	    "2")) != ERR_OK ||
	    (r = pragma(db, "PRAGMA foreign_keys = ON", "PRAGMA foreign_keys",
	    "1")) != ERR_OK ||
	    (r = pragma(db, "PRAGMA secure_delete = ON",
	    "PRAGMA secure_delete", "1")) != ERR_OK) {
		if (r == ERR_FORMAT)
			open_fail("'%s' is not a Bulwark state database (%s); "
			    "check the path", path, db->errmsg);
		else
			open_fail("cannot set up database '%s': %s", path,
			    db->errmsg);
		goto out;
	}
	if ((r = migrate(db, path)) != ERR_OK) {
		if (r != ERR_UNSUPPORTED)
			open_fail("cannot bring database '%s' to schema "
			    "version %d: %s", path, DB_SCHEMA_VERSION,
			    db->errmsg);
		goto out;
	}
	db->errmsg[0] = '\0';
	*out = db;
	db = NULL;
	r = ERR_OK;
 out:
	db_close(db);
	return r;
}

void
db_close(struct db *db)
{
	if (db == NULL)
		return;
	/* v2: statements are all finalized here, but never leak the handle. */
	sqlite3_close_v2(db->h);
	free(db);
}

const char *
db_errmsg(const struct db *db)
{
	return db == NULL ? open_errmsg : db->errmsg;
}

/* ---- Users -------------------------------------------------------------- */

#define USER_COLS "name, uid, role, state, created"

static int
user_row(sqlite3_stmt *st, void *elem)
{
	struct db_user *u = elem;
	int r;

	if ((r = col_str(st, 0, &u->name)) != ERR_OK ||
	    (r = col_str(st, 2, &u->role)) != ERR_OK)
		return r;
	u->uid = (uint32_t)sqlite3_column_int64(st, 1);
	u->state = sqlite3_column_int(st, 3);
	u->created = sqlite3_column_int64(st, 4);
	return ERR_OK;
}

void
db_user_release(struct db_user *u)
{
	if (u == NULL)
		return;
	free(u->name);
	free(u->role);
	memset(u, 0, sizeof(*u));
}

static void
user_release(void *elem)
{
	db_user_release(elem);
}

void
db_user_array_free(struct db_user *a, size_t n)
{
	size_t i;

	if (a == NULL)
		return;
	for (i = 0; i < n; i++)
		db_user_release(&a[i]);
	free(a);
}

int
db_user_add(struct db *db, const char *name, uint32_t uid, const char *role)
{
	sqlite3_stmt *st = NULL;
	int r = ERR_INTERNAL;

	if (db == NULL || !name_ok(name) || !name_ok(role))
		return ERR_INVAL;
	if ((r = stmt(db, &st, "INSERT INTO users (name, uid, role, state, "
	    "created) VALUES (?1, ?2, ?3, 0, ?4)", "titi", name, (int64_t)uid,
	    role, (int64_t)time(NULL))) != ERR_OK)
		goto out;
	r = run(db, st);
 out:
	sqlite3_finalize(st);
	return r;
}

int
db_user_get(struct db *db, const char *name, struct db_user *out)
{
	sqlite3_stmt *st = NULL;
	int r = ERR_INTERNAL;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (db == NULL || !name_ok(name) || out == NULL)
		return ERR_INVAL;
	if ((r = stmt(db, &st, "SELECT " USER_COLS " FROM users "
	    "WHERE name = ?1", "t", name)) != ERR_OK)
		goto out;
	r = get_one(db, st, user_row, user_release, out);
 out:
	sqlite3_finalize(st);
	return r;
}

int
db_user_get_by_uid(struct db *db, uint32_t uid, struct db_user *out)
{
	sqlite3_stmt *st = NULL;
	int r = ERR_INTERNAL;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (db == NULL || out == NULL)
		return ERR_INVAL;
	if ((r = stmt(db, &st, "SELECT " USER_COLS " FROM users "
	    "WHERE uid = ?1", "i", (int64_t)uid)) != ERR_OK)
		goto out;
	r = get_one(db, st, user_row, user_release, out);
 out:
	sqlite3_finalize(st);
	return r;
}

int
db_user_list(struct db *db, struct db_user **out, size_t *n)
{
	sqlite3_stmt *st = NULL;
	int r = ERR_INTERNAL;

	if (out != NULL)
		*out = NULL;
	if (n != NULL)
		*n = 0;
	if (db == NULL || out == NULL || n == NULL)
		return ERR_INVAL;
	if ((r = stmt(db, &st, "SELECT " USER_COLS " FROM users "
	    "ORDER BY name", "")) != ERR_OK)
		goto out;
	r = get_all(db, st, sizeof(**out), user_row, user_release,
	    (void **)out, n);
 out:
	sqlite3_finalize(st);
	return r;
}

int
db_user_set_state(struct db *db, const char *name, int state)
{
	sqlite3_stmt *st = NULL;
	int r = ERR_INTERNAL;

	if (db == NULL || !name_ok(name) ||
	    (state != DB_USER_ACTIVE && state != DB_USER_DISABLED &&
	    state != DB_USER_FROZEN))
		return ERR_INVAL;
	if ((r = stmt(db, &st, "UPDATE users SET state = ?1 WHERE name = ?2",
	    "it", (int64_t)state, name)) != ERR_OK)
		goto out;
	r = run_changed(db, st);
 out:
	sqlite3_finalize(st);
	return r;
}

int
db_user_del(struct db *db, const char *name)
{
	sqlite3_stmt *st = NULL;
	int r = ERR_INTERNAL;

	if (db == NULL || !name_ok(name))
		return ERR_INVAL;
	if ((r = stmt(db, &st, "DELETE FROM users WHERE name = ?1", "t",
	    name)) != ERR_OK)
		goto out;
	r = run_changed(db, st);
 out:
	sqlite3_finalize(st);
	return r;
}

/* ---- Keys --------------------------------------------------------------- */

#define KEY_COLS "u.name, k.key_line, k.fingerprint, k.added"
#define KEY_FROM " FROM user_keys k JOIN users u ON u.id = k.user_id "

static int
key_row(sqlite3_stmt *st, void *elem)
{
	struct db_key *k = elem;
	int r;

	if ((r = col_str(st, 0, &k->user)) != ERR_OK ||
	    (r = col_str(st, 1, &k->key_line)) != ERR_OK ||
	    (r = col_str(st, 2, &k->fingerprint)) != ERR_OK)
		return r;
	k->added = sqlite3_column_int64(st, 3);
	return ERR_OK;
}

void
db_key_release(struct db_key *k)
{
	if (k == NULL)
		return;
	free(k->user);
	free(k->key_line);
	free(k->fingerprint);
	memset(k, 0, sizeof(*k));
}

static void
key_release(void *elem)
{
	db_key_release(elem);
}

void
db_key_array_free(struct db_key *a, size_t n)
{
	size_t i;

	if (a == NULL)
		return;
	for (i = 0; i < n; i++)
		db_key_release(&a[i]);
	free(a);
}

int
db_key_add(struct db *db, const char *user, const char *key_line,
    const char *fingerprint)
{
	sqlite3_stmt *st = NULL;
	int r = ERR_INTERNAL;

	if (db == NULL || !name_ok(user) || !str_ok(key_line, DB_KEY_LINE_MAX) ||
	    !str_ok(fingerprint, DB_FP_MAX))
		return ERR_INVAL;
	if ((r = stmt(db, &st, "INSERT INTO user_keys (user_id, key_line, "
	    "fingerprint, added) SELECT id, ?2, ?3, ?4 FROM users "
	    "WHERE name = ?1", "ttti", user, key_line, fingerprint,
	    (int64_t)time(NULL))) != ERR_OK)
		goto out;
	r = run_changed(db, st);
 out:
	sqlite3_finalize(st);
	return r;
}

int
db_key_find_by_fingerprint(struct db *db, const char *fingerprint,
    struct db_key *out)
{
	sqlite3_stmt *st = NULL;
	int r = ERR_INTERNAL;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (db == NULL || !str_ok(fingerprint, DB_FP_MAX) || out == NULL)
		return ERR_INVAL;
	if ((r = stmt(db, &st, "SELECT " KEY_COLS KEY_FROM
	    "WHERE k.fingerprint = ?1", "t", fingerprint)) != ERR_OK)
		goto out;
	r = get_one(db, st, key_row, key_release, out);
 out:
	sqlite3_finalize(st);
	return r;
}

/* ERR_OK when user exists, ERR_NOTFOUND when not. */
static int
user_exists(struct db *db, const char *user)
{
	sqlite3_stmt *st = NULL;
	int rc, r = ERR_INTERNAL;

	if ((r = stmt(db, &st, "SELECT 1 FROM users WHERE name = ?1", "t",
	    user)) != ERR_OK)
		goto out;
	rc = sqlite3_step(st);
	r = rc == SQLITE_ROW ? ERR_OK : rc == SQLITE_DONE ? ERR_NOTFOUND :
	    db_fail(db, rc);
 out:
	sqlite3_finalize(st);
	return r;
}

int
db_key_list(struct db *db, const char *user, struct db_key **out, size_t *n)
{
	sqlite3_stmt *st = NULL;
	int r = ERR_INTERNAL, in_tx = 0;

	if (out != NULL)
		*out = NULL;
	if (n != NULL)
		*n = 0;
	if (db == NULL || (user != NULL && !name_ok(user)) || out == NULL ||
	    n == NULL)
		return ERR_INVAL;
	/* One snapshot for "does the user exist" and "its keys". */
	if ((r = exec(db, "BEGIN")) != ERR_OK)
		goto out;
	in_tx = 1;
	if (user != NULL && (r = user_exists(db, user)) != ERR_OK)
		goto out;
	if ((r = stmt(db, &st, "SELECT " KEY_COLS KEY_FROM
	    "WHERE ?1 IS NULL OR u.name = ?1 ORDER BY k.id", "t",
	    user)) != ERR_OK)
		goto out;
	r = get_all(db, st, sizeof(**out), key_row, key_release, (void **)out,
	    n);
 out:
	sqlite3_finalize(st);
	if (in_tx) {
		/* A read-only transaction: ending it cannot lose anything. */
		(void)sqlite3_exec(db->h, "COMMIT", NULL, NULL, NULL);
	}
	return r;
}

int
db_key_del(struct db *db, const char *fingerprint)
{
	sqlite3_stmt *st = NULL;
	int r = ERR_INTERNAL;

	if (db == NULL || !str_ok(fingerprint, DB_FP_MAX))
		return ERR_INVAL;
	if ((r = stmt(db, &st, "DELETE FROM user_keys WHERE fingerprint = ?1",
	    "t", fingerprint)) != ERR_OK)
		goto out;
	r = run_changed(db, st);
 out:
	sqlite3_finalize(st);
	return r;
}

/* ---- TOTP --------------------------------------------------------------- */

#define TOTP_USER "(SELECT id FROM users WHERE name = ?1)"

int
db_totp_set_secret(struct db *db, const char *user, const uint8_t *seed,
    size_t len)
{
	sqlite3_stmt *st = NULL;
	int r = ERR_INTERNAL;

	if (db == NULL || !name_ok(user) || seed == NULL || len == 0 ||
	    len > DB_TOTP_SEED_MAX)
		return ERR_INVAL;
	/* The WHERE keeps "ON CONFLICT" from parsing as a join constraint. */
	if ((r = stmt(db, &st, "INSERT INTO totp (user_id, seed) "
	    "SELECT id, ?2 FROM users WHERE name = ?1 "
	    "ON CONFLICT (user_id) DO UPDATE SET seed = excluded.seed, "
	    "failures = 0, locked_until = 0", "tb", user, (const void *)seed,
	    len)) != ERR_OK)
		goto out;
	r = run_changed(db, st);
 out:
	sqlite3_finalize(st);
	return r;
}

int
db_totp_get_secret(struct db *db, const char *user, uint8_t *seed,
    size_t cap, size_t *lenp, struct db_totp_state *statep)
{
	sqlite3_stmt *st = NULL;
	const void *blob;
	size_t len;
	int rc, r = ERR_INTERNAL;

	if (lenp != NULL)
		*lenp = 0;
	if (statep != NULL)
		memset(statep, 0, sizeof(*statep));
	if (db == NULL || !name_ok(user) || seed == NULL || cap == 0 ||
	    lenp == NULL) {
		r = ERR_INVAL;
		goto out;
	}
	if ((r = stmt(db, &st, "SELECT seed, last_step, failures, "
	    "locked_until FROM totp WHERE user_id = " TOTP_USER, "t",
	    user)) != ERR_OK)
		goto out;
	if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
		r = rc == SQLITE_DONE ? ERR_NOTFOUND : db_fail(db, rc);
		goto out;
	}
	blob = sqlite3_column_blob(st, 0);
	len = (size_t)sqlite3_column_bytes(st, 0);
	if (blob == NULL || len == 0 || len > DB_TOTP_SEED_MAX) {
		r = blob == NULL && len != 0 ? ERR_NOMEM : ERR_FORMAT;
		goto out;
	}
	if (len > cap) {
		r = ERR_TOOBIG;
		goto out;
	}
	memcpy(seed, blob, len);
	*lenp = len;
	if (statep != NULL) {
		statep->last_step = (uint64_t)sqlite3_column_int64(st, 1);
		statep->failures = (uint32_t)sqlite3_column_int64(st, 2);
		statep->locked_until = sqlite3_column_int64(st, 3);
	}
	r = ERR_OK;
 out:
	sqlite3_finalize(st);
	if (r != ERR_OK && seed != NULL && cap != 0)
		sodium_memzero(seed, cap);
	return r;
}

/* ERR_OK when user has a seed, ERR_NOTFOUND when not. */
static int
totp_exists(struct db *db, const char *user)
{
	sqlite3_stmt *st = NULL;
	int rc, r = ERR_INTERNAL;

	if ((r = stmt(db, &st, "SELECT 1 FROM totp WHERE user_id = "
	    TOTP_USER, "t", user)) != ERR_OK)
		goto out;
	rc = sqlite3_step(st);
	r = rc == SQLITE_ROW ? ERR_OK : rc == SQLITE_DONE ? ERR_NOTFOUND :
	    db_fail(db, rc);
 out:
	sqlite3_finalize(st);
	return r;
}

int
db_totp_record_success(struct db *db, const char *user, uint64_t step)
{
	sqlite3_stmt *st = NULL;
	int r = ERR_INTERNAL;

	if (db == NULL || !name_ok(user))
		return ERR_INVAL;
	if (step > INT64_MAX)
		return ERR_RANGE;
	/*
	 * The compare and the set are one UPDATE, inside a transaction that
	 * holds the write lock from its start: of two connections racing
	 * with the same step, the second sees the first one's step.
	 */
	if ((r = exec(db, "BEGIN IMMEDIATE")) != ERR_OK)
		return r;
	if ((r = stmt(db, &st, "UPDATE totp SET last_step = ?2, failures = 0 "
	    "WHERE user_id = " TOTP_USER " AND last_step < ?2", "ti", user,
	    (int64_t)step)) != ERR_OK)
		goto out;
	r = run_changed(db, st);
	if (r == ERR_NOTFOUND) {
		/* No row changed: a replay, or no such user or seed. */
		r = totp_exists(db, user);
		if (r == ERR_OK)
			r = ERR_CONFLICT;
	}
 out:
	sqlite3_finalize(st);
	return tx_end(db, r);
}

int
db_totp_record_failure(struct db *db, const char *user, uint32_t *failuresp)
{
	sqlite3_stmt *st = NULL;
	int rc, r = ERR_INTERNAL;
	int64_t f = 0;

	if (failuresp != NULL)
		*failuresp = 0;
	if (db == NULL || !name_ok(user))
		return ERR_INVAL;
	if ((r = stmt(db, &st, "UPDATE totp SET failures = "
	    "min(failures + 1, 4294967295) WHERE user_id = " TOTP_USER
	    " RETURNING failures", "t", user)) != ERR_OK)
		goto out;
	if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
		r = rc == SQLITE_DONE ? ERR_NOTFOUND : db_fail(db, rc);
		goto out;
	}
	f = sqlite3_column_int64(st, 0);
	if ((r = run(db, st)) != ERR_OK)
		goto out;
	if (failuresp != NULL)
		*failuresp = (uint32_t)f;
	r = ERR_OK;
 out:
	sqlite3_finalize(st);
	return r;
}

int
db_totp_lock(struct db *db, const char *user, int64_t until)
{
	sqlite3_stmt *st = NULL;
	int r = ERR_INTERNAL;

	if (db == NULL || !name_ok(user) || until < 0)
		return ERR_INVAL;
	if ((r = stmt(db, &st, "UPDATE totp SET locked_until = "
	    "max(locked_until, ?2) WHERE user_id = " TOTP_USER, "ti", user,
	    until)) != ERR_OK)
		goto out;
	r = run_changed(db, st);
 out:
	sqlite3_finalize(st);
	return r;
}

int
db_totp_clear(struct db *db, const char *user)
{
	sqlite3_stmt *st = NULL;
	int r = ERR_INTERNAL;

	if (db == NULL || !name_ok(user))
		return ERR_INVAL;
	if ((r = stmt(db, &st, "UPDATE totp SET failures = 0, "
	    "locked_until = 0 WHERE user_id = " TOTP_USER, "t",
	    user)) != ERR_OK)
		goto out;
	r = run_changed(db, st);
 out:
	sqlite3_finalize(st);
	return r;
}

int
db_totp_del(struct db *db, const char *user)
{
	sqlite3_stmt *st = NULL;
	int r = ERR_INTERNAL;

	if (db == NULL || !name_ok(user))
		return ERR_INVAL;
	if ((r = stmt(db, &st, "DELETE FROM totp WHERE user_id = " TOTP_USER,
	    "t", user)) != ERR_OK)
		goto out;
	r = run_changed(db, st);
 out:
	sqlite3_finalize(st);
	return r;
}

/* ---- Targets and host keys ---------------------------------------------- */

#define TARGET_COLS "name, host, port, sensitivity, grp, created"

static int
target_row(sqlite3_stmt *st, void *elem)
{
	struct db_target *t = elem;
	int r;

	if ((r = col_str(st, 0, &t->name)) != ERR_OK ||
	    (r = col_str(st, 1, &t->host)) != ERR_OK ||
	    (r = col_str(st, 4, &t->group)) != ERR_OK)
		return r;
	t->port = (uint16_t)sqlite3_column_int(st, 2);
	t->sensitivity = sqlite3_column_int(st, 3);
	t->created = sqlite3_column_int64(st, 5);
	return ERR_OK;
}

void
db_target_release(struct db_target *t)
{
	if (t == NULL)
		return;
	free(t->name);
	free(t->host);
	free(t->group);
	memset(t, 0, sizeof(*t));
}

static void
target_release(void *elem)
{
	db_target_release(elem);
}

void
db_target_array_free(struct db_target *a, size_t n)
{
	size_t i;

	if (a == NULL)
		return;
	for (i = 0; i < n; i++)
		db_target_release(&a[i]);
	free(a);
}

int
db_target_add(struct db *db, const char *name, const char *host,
    uint16_t port, const char *group, int sensitivity)
{
	sqlite3_stmt *st = NULL;
	int r = ERR_INTERNAL;

	if (db == NULL || !name_ok(name) || !name_ok(host) || port == 0 ||
	    !name_ok(group) || sensitivity < 0 ||
	    sensitivity > DB_SENSITIVITY_MAX)
		return ERR_INVAL;
	if ((r = stmt(db, &st, "INSERT INTO targets (" TARGET_COLS ") "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6)", "ttiiti", name, host,
	    (int64_t)port, (int64_t)sensitivity, group,
	    (int64_t)time(NULL))) != ERR_OK)
		goto out;
	r = run(db, st);
 out:
	sqlite3_finalize(st);
	return r;
}

int
db_target_get(struct db *db, const char *name, struct db_target *out)
{
	sqlite3_stmt *st = NULL;
	int r = ERR_INTERNAL;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (db == NULL || !name_ok(name) || out == NULL)
		return ERR_INVAL;
	if ((r = stmt(db, &st, "SELECT " TARGET_COLS " FROM targets "
	    "WHERE name = ?1", "t", name)) != ERR_OK)
		goto out;
	r = get_one(db, st, target_row, target_release, out);
 out:
	sqlite3_finalize(st);
	return r;
}

int
db_target_list(struct db *db, struct db_target **out, size_t *n)
{
	sqlite3_stmt *st = NULL;
	int r = ERR_INTERNAL;

	if (out != NULL)
		*out = NULL;
	if (n != NULL)
		*n = 0;
	if (db == NULL || out == NULL || n == NULL)
		return ERR_INVAL;
	if ((r = stmt(db, &st, "SELECT " TARGET_COLS " FROM targets "
	    "ORDER BY name", "")) != ERR_OK)
		goto out;
	r = get_all(db, st, sizeof(**out), target_row, target_release,
	    (void **)out, n);
 out:
	sqlite3_finalize(st);
	return r;
}

int
db_target_del(struct db *db, const char *name)
{
	sqlite3_stmt *st = NULL;
	int r = ERR_INTERNAL;

	if (db == NULL || !name_ok(name))
		return ERR_INVAL;
	if ((r = stmt(db, &st, "DELETE FROM targets WHERE name = ?1", "t",
	    name)) != ERR_OK)
		goto out;
	r = run_changed(db, st);
 out:
	sqlite3_finalize(st);
	return r;
}

static int
hostkey_row(sqlite3_stmt *st, void *elem)
{
	struct db_hostkey *h = elem;
	int r;

	if ((r = col_str(st, 0, &h->target)) != ERR_OK ||
	    (r = col_str(st, 1, &h->key_line)) != ERR_OK ||
	    (r = col_str(st, 2, &h->fingerprint)) != ERR_OK)
		return r;
	h->pinned = sqlite3_column_int64(st, 3);
	return ERR_OK;
}

void
db_hostkey_release(struct db_hostkey *h)
{
	if (h == NULL)
		return;
	free(h->target);
	free(h->key_line);
	free(h->fingerprint);
	memset(h, 0, sizeof(*h));
}

static void
hostkey_release(void *elem)
{
	db_hostkey_release(elem);
}

int
db_hostkey_set(struct db *db, const char *target, const char *key_line,
    const char *fingerprint)
{
	sqlite3_stmt *st = NULL;
	int r = ERR_INTERNAL;

	if (db == NULL || !name_ok(target) ||
	    !str_ok(key_line, DB_KEY_LINE_MAX) ||
	    !str_ok(fingerprint, DB_FP_MAX))
		return ERR_INVAL;
	if ((r = stmt(db, &st, "INSERT INTO host_keys (target_id, key_line, "
	    "fingerprint, pinned) SELECT id, ?2, ?3, ?4 FROM targets "
	    "WHERE name = ?1 ON CONFLICT (target_id) DO UPDATE SET "
	    "key_line = excluded.key_line, fingerprint = excluded.fingerprint, "
	    "pinned = excluded.pinned", "ttti", target, key_line, fingerprint,
	    (int64_t)time(NULL))) != ERR_OK)
		goto out;
	r = run_changed(db, st);
 out:
	sqlite3_finalize(st);
	return r;
}

int
db_hostkey_get(struct db *db, const char *target, struct db_hostkey *out)
{
	sqlite3_stmt *st = NULL;
	int r = ERR_INTERNAL;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (db == NULL || !name_ok(target) || out == NULL)
		return ERR_INVAL;
	if ((r = stmt(db, &st, "SELECT t.name, h.key_line, h.fingerprint, "
	    "h.pinned FROM host_keys h JOIN targets t ON t.id = h.target_id "
	    "WHERE t.name = ?1", "t", target)) != ERR_OK)
		goto out;
	r = get_one(db, st, hostkey_row, hostkey_release, out);
 out:
	sqlite3_finalize(st);
	return r;
}

/* ---- Grants ------------------------------------------------------------- */

static int
grant_row(sqlite3_stmt *st, void *elem)
{
	struct db_grant *g = elem;
	int r;

	if ((r = col_str(st, 0, &g->role)) != ERR_OK ||
	    (r = col_str(st, 1, &g->target_group)) != ERR_OK ||
	    (r = col_str(st, 2, &g->login)) != ERR_OK)
		return r;
	return ERR_OK;
}

void
db_grant_release(struct db_grant *g)
{
	if (g == NULL)
		return;
	free(g->role);
	free(g->target_group);
	free(g->login);
	memset(g, 0, sizeof(*g));
}

static void
grant_release(void *elem)
{
	db_grant_release(elem);
}

void
db_grant_array_free(struct db_grant *a, size_t n)
{
	size_t i;

	if (a == NULL)
		return;
	for (i = 0; i < n; i++)
		db_grant_release(&a[i]);
	free(a);
}

static int
grant_args_ok(struct db *db, const char *role, const char *target_group,
    const char *login)
{
	return db != NULL && name_ok(role) && name_ok(target_group) &&
	    name_ok(login);
}

int
db_grant_add(struct db *db, const char *role, const char *target_group,
    const char *login)
{
	sqlite3_stmt *st = NULL;
	int r = ERR_INTERNAL;

	if (!grant_args_ok(db, role, target_group, login))
		return ERR_INVAL;
	if ((r = stmt(db, &st, "INSERT INTO grants (role, target_group, login) "
	    "VALUES (?1, ?2, ?3)", "ttt", role, target_group, login)) != ERR_OK)
		goto out;
	r = run(db, st);
 out:
	sqlite3_finalize(st);
	return r;
}

int
db_grant_list(struct db *db, const char *role, struct db_grant **out,
    size_t *n)
{
	sqlite3_stmt *st = NULL;
	int r = ERR_INTERNAL;

	if (out != NULL)
		*out = NULL;
	if (n != NULL)
		*n = 0;
	if (db == NULL || (role != NULL && !name_ok(role)) || out == NULL ||
	    n == NULL)
		return ERR_INVAL;
	if ((r = stmt(db, &st, "SELECT role, target_group, login FROM grants "
	    "WHERE ?1 IS NULL OR role = ?1 ORDER BY role, target_group, login",
	    "t", role)) != ERR_OK)
		goto out;
	r = get_all(db, st, sizeof(**out), grant_row, grant_release,
	    (void **)out, n);
 out:
	sqlite3_finalize(st);
	return r;
}

int
db_grant_match(struct db *db, const char *role, const char *target_group,
    const char *login)
{
	sqlite3_stmt *st = NULL;
	int rc, r = ERR_INTERNAL;

	if (!grant_args_ok(db, role, target_group, login))
		return ERR_INVAL;
	if ((r = stmt(db, &st, "SELECT 1 FROM grants WHERE role = ?1 AND "
	    "target_group = ?2 AND login = ?3", "ttt", role, target_group,
	    login)) != ERR_OK)
		goto out;
	rc = sqlite3_step(st);
	r = rc == SQLITE_ROW ? ERR_OK : rc == SQLITE_DONE ? ERR_NOTFOUND :
	    db_fail(db, rc);
 out:
	sqlite3_finalize(st);
	return r;
}

int
db_grant_del(struct db *db, const char *role, const char *target_group,
    const char *login)
{
	sqlite3_stmt *st = NULL;
	int r = ERR_INTERNAL;

	if (!grant_args_ok(db, role, target_group, login))
		return ERR_INVAL;
	if ((r = stmt(db, &st, "DELETE FROM grants WHERE role = ?1 AND "
	    "target_group = ?2 AND login = ?3", "ttt", role, target_group,
	    login)) != ERR_OK)
		goto out;
	r = run_changed(db, st);
 out:
	sqlite3_finalize(st);
	return r;
}

/* ---- Sessions ----------------------------------------------------------- */

#define SESSION_COLS "id, user, target, login, kind, started, ended, " \
	"exit_status, bytes_in, bytes_out, recording_hash"

static int
session_row(sqlite3_stmt *st, void *elem)
{
	struct db_session *s = elem;
	int r;

	if ((r = col_str(st, 1, &s->user)) != ERR_OK ||
	    (r = col_str(st, 2, &s->target)) != ERR_OK ||
	    (r = col_str(st, 3, &s->login)) != ERR_OK ||
	    (r = col_str(st, 4, &s->kind)) != ERR_OK ||
	    (r = col_str(st, 10, &s->recording_hash)) != ERR_OK)
		return r;
	s->id = (uint64_t)sqlite3_column_int64(st, 0);
	s->started = sqlite3_column_int64(st, 5);
	s->ended = sqlite3_column_int64(st, 6);		/* NULL reads 0 */
	s->exit_status = sqlite3_column_int(st, 7);
	s->bytes_in = (uint64_t)sqlite3_column_int64(st, 8);
	s->bytes_out = (uint64_t)sqlite3_column_int64(st, 9);
	return ERR_OK;
}

void
db_session_release(struct db_session *s)
{
	if (s == NULL)
		return;
	free(s->user);
	free(s->target);
	free(s->login);
	free(s->kind);
	free(s->recording_hash);
	memset(s, 0, sizeof(*s));
}

static void
session_release(void *elem)
{
	db_session_release(elem);
}

void
db_session_array_free(struct db_session *a, size_t n)
{
	size_t i;

	if (a == NULL)
		return;
	for (i = 0; i < n; i++)
		db_session_release(&a[i]);
	free(a);
}

int
db_session_start(struct db *db, const char *user, const char *target,
    const char *login, const char *kind, int64_t started, uint64_t *idp)
{
	sqlite3_stmt *st = NULL;
	int r = ERR_INTERNAL;

	if (idp != NULL)
		*idp = 0;
	if (db == NULL || !name_ok(user) || !name_ok(target) ||
	    !name_ok(login) || !name_ok(kind) || started < 0 || idp == NULL)
		return ERR_INVAL;
	if ((r = stmt(db, &st, "INSERT INTO sessions (user, target, login, "
	    "kind, started) VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id",
	    "tttti", user, target, login, kind, started)) != ERR_OK)
		goto out;
	if (sqlite3_step(st) != SQLITE_ROW || sqlite3_column_int64(st, 0) < 1) {
		r = run(db, st);	/* the error, if there was one */
		if (r == ERR_OK)
			r = ERR_INTERNAL;
		goto out;
	}
	*idp = (uint64_t)sqlite3_column_int64(st, 0);
	if ((r = run(db, st)) != ERR_OK) {
		*idp = 0;
		goto out;
	}
	r = ERR_OK;
 out:
	sqlite3_finalize(st);
	return r;
}

int
db_session_end(struct db *db, uint64_t id, int64_t ended, int exit_status,
    uint64_t bytes_in, uint64_t bytes_out, const char *recording_hash)
{
	sqlite3_stmt *st = NULL;
	int r = ERR_INTERNAL, rc;

	if (db == NULL || id == 0 || ended <= 0 ||
	    (recording_hash != NULL && !str_ok(recording_hash, DB_FP_MAX)))
		return ERR_INVAL;
	if (id > INT64_MAX || bytes_in > INT64_MAX || bytes_out > INT64_MAX)
		return ERR_RANGE;
	if ((r = exec(db, "BEGIN IMMEDIATE")) != ERR_OK)
		return r;
	if ((r = stmt(db, &st, "UPDATE sessions SET ended = ?2, "
	    "exit_status = ?3, bytes_in = ?4, bytes_out = ?5, "
	    "recording_hash = ?6 WHERE id = ?1 AND ended IS NULL", "iiiiit",
	    (int64_t)id, ended, (int64_t)exit_status, (int64_t)bytes_in,
	    (int64_t)bytes_out, recording_hash)) != ERR_OK)
		goto out;
	if ((r = run_changed(db, st)) != ERR_NOTFOUND)
		goto out;
	/* Nothing changed: unknown, or ended already. */
	sqlite3_finalize(st);
	st = NULL;
	if ((r = stmt(db, &st, "SELECT 1 FROM sessions WHERE id = ?1", "i",
	    (int64_t)id)) != ERR_OK)
		goto out;
	rc = sqlite3_step(st);
	r = rc == SQLITE_ROW ? ERR_CONFLICT : rc == SQLITE_DONE ?
	    ERR_NOTFOUND : db_fail(db, rc);
 out:
	sqlite3_finalize(st);
	return tx_end(db, r);
}

int
db_session_get(struct db *db, uint64_t id, struct db_session *out)
{
	sqlite3_stmt *st = NULL;
	int r = ERR_INTERNAL;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (db == NULL || out == NULL || id == 0)
		return ERR_INVAL;
	if (id > INT64_MAX)
		return ERR_NOTFOUND;
	if ((r = stmt(db, &st, "SELECT " SESSION_COLS " FROM sessions "
	    "WHERE id = ?1", "i", (int64_t)id)) != ERR_OK)
		goto out;
	r = get_one(db, st, session_row, session_release, out);
 out:
	sqlite3_finalize(st);
	return r;
}

int
db_session_list(struct db *db, const char *user, size_t max,
    struct db_session **out, size_t *n)
{
	sqlite3_stmt *st = NULL;
	int64_t limit;
	int r = ERR_INTERNAL;

	if (out != NULL)
		*out = NULL;
	if (n != NULL)
		*n = 0;
	if (db == NULL || (user != NULL && !name_ok(user)) || out == NULL ||
	    n == NULL)
		return ERR_INVAL;
	/* LIMIT -1 is no limit. */
	limit = max == 0 || max > INT64_MAX ? -1 : (int64_t)max;
	if ((r = stmt(db, &st, "SELECT " SESSION_COLS " FROM sessions "
	    "WHERE ?1 IS NULL OR user = ?1 ORDER BY id DESC LIMIT ?2", "ti",
	    user, limit)) != ERR_OK)
		goto out;
	r = get_all(db, st, sizeof(**out), session_row, session_release,
	    (void **)out, n);
 out:
	sqlite3_finalize(st);
	return r;
}
