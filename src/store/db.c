/*
 * db.c - the gateway state store on SQLite (see db.h).
 *
 * Every statement is a constant string prepared with bound parameters
 * (vstmt() and query() below); nothing a caller passes is ever part of
 * SQL text.
 * Writes that read before they write (the TOTP compare-and-set, ending a
 * session, migrations) run inside BEGIN IMMEDIATE, which takes the write
 * lock first, so that no other connection can commit in between.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stddef.h>
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
	/*
	 * 1 -> 2: live gateway logins, each the sshd process that holds the
	 * SSH connection, named for good by boot, pid and start time.
	 */
	"CREATE TABLE logins ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	"  boot TEXT NOT NULL,"
	"  pid INTEGER NOT NULL CHECK (pid BETWEEN 1 AND 2147483647),"
	"  pid_start INTEGER NOT NULL CHECK (pid_start >= 0),"
	"  rhost TEXT NOT NULL,"
	"  opened INTEGER NOT NULL,"
	"  UNIQUE (boot, pid, pid_start)"
	") STRICT;"
	"CREATE INDEX logins_user ON logins(user_id);"
	"PRAGMA user_version = 2;",
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
 * Prepares the constant sql and binds its parameters ?1, ?2 ... from ap,
 * one letter of fmt each:
 *   t  const char *      text (SQL NULL when the pointer is NULL)
 *   i  int64_t           integer
 *   b  const void *, size_t   blob
 * Arguments are bound without copying: they must outlive the statement.
 */
static int
vstmt(struct db *db, sqlite3_stmt **stp, const char *sql, const char *fmt,
    va_list ap)
{
	sqlite3_stmt *st = NULL;
	int rc, i, r = ERR_INTERNAL;

	*stp = NULL;
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
	sqlite3_finalize(st);
	return r;
}

/* vstmt() with the parameters as arguments. */
static int
stmt(struct db *db, sqlite3_stmt **stp, const char *sql, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vstmt(db, stp, sql, fmt, ap);
	va_end(ap);
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

/* Steps st to its first row: ERR_OK, or ERR_NOTFOUND when it has none. */
static int
first_row(struct db *db, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW)
		return ERR_OK;
	return rc == SQLITE_DONE ? ERR_NOTFOUND : db_fail(db, rc);
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

/* How one column of a row is stored in a field of a struct db_... */
enum col_kind {
	COL_STR,	/* char *, malloc'd (col_str()) */
	COL_INT,	/* int */
	COL_U16,	/* uint16_t, read as an int */
	COL_U32,	/* uint32_t, read as an int64 */
	COL_I64,	/* int64_t */
	COL_U64,	/* uint64_t, read as an int64 */
};

struct col {
	enum col_kind kind;
	size_t off;		/* offsetof the field */
};

/*
 * How the rows of one query become one struct db_... type: column i of
 * the row goes to cols[i].
 */
struct rowtype {
	size_t size;		/* sizeof the struct */
	const struct col *cols;
	size_t ncols;
};

#define COL(type, field, kind)	{ kind, offsetof(type, field) }
#define ROWTYPE(type, cols) \
	{ sizeof(type), cols, sizeof(cols) / sizeof(cols[0]) }

/*
 * Frees the strings of *elem, of rt's type, and zeroes it (the
 * db_..._release functions). NULL is a no-op.
 */
static void
row_release(void *elem, const struct rowtype *rt)
{
	unsigned char *p = elem;
	size_t i;

	if (p == NULL)
		return;
	for (i = 0; i < rt->ncols; i++)
		if (rt->cols[i].kind == COL_STR)
			free(*(char **)(void *)(p + rt->cols[i].off));
	memset(p, 0, rt->size);
}

/*
 * Fills the zeroed *elem, of rt's type, from the current row of st. On
 * failure it may be half-filled: row_release() it.
 */
static int
row_fill(sqlite3_stmt *st, void *elem, const struct rowtype *rt)
{
	unsigned char *p = elem;
	void *f;
	size_t i;
	int c, r;

	for (i = 0; i < rt->ncols; i++) {
		f = p + rt->cols[i].off;
		c = (int)i;
		switch (rt->cols[i].kind) {
		case COL_STR:
			if ((r = col_str(st, c, f)) != ERR_OK)
				return r;
			break;
		case COL_INT:
			*(int *)f = sqlite3_column_int(st, c);
			break;
		case COL_U16:
			*(uint16_t *)f = (uint16_t)sqlite3_column_int(st, c);
			break;
		case COL_U32:
			*(uint32_t *)f = (uint32_t)sqlite3_column_int64(st, c);
			break;
		case COL_I64:
			*(int64_t *)f = sqlite3_column_int64(st, c);
			break;
		case COL_U64:
			*(uint64_t *)f = (uint64_t)sqlite3_column_int64(st, c);
			break;
		default:
			return ERR_INTERNAL;	/* a bug in this file */
		}
	}
	return ERR_OK;
}

/* Releases elements a[0..n) of rt's type, then a itself. */
static void
array_free(void *a, size_t n, const struct rowtype *rt)
{
	unsigned char *p = a;
	size_t i;

	if (p == NULL)
		return;
	for (i = 0; i < n; i++)
		row_release(p + i * rt->size, rt);
	free(p);
}

/* Collects every row of st into a new array of rt's type. */
static int
get_all(struct db *db, sqlite3_stmt *st, const struct rowtype *rt,
    void **outp, size_t *np)
{
	unsigned char *arr = NULL, *tmp;
	size_t n = 0, cap = 0;
	int rc, r = ERR_INTERNAL;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap == 0 ? 16 : 2 * cap;
			if ((tmp = reallocarray(arr, cap, rt->size)) == NULL) {
				r = ERR_NOMEM;
				goto out;
			}
			arr = tmp;
		}
		memset(arr + n * rt->size, 0, rt->size);
		r = row_fill(st, arr + n * rt->size, rt);
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
	array_free(arr, n, rt);
	return r;
}

/* What query() does with its statement. */
enum q_how {
	Q_RUN,		/* runs it (run()) */
	Q_CHANGED,	/* runs it (run_changed()) */
	Q_EXISTS,	/* ERR_OK if it has a row, else ERR_NOTFOUND */
	Q_ONE,		/* fills *out from its first row, else ERR_NOTFOUND */
	Q_ALL,		/* collects its rows into *(void **)out and *np */
};

/*
 * Prepares the constant sql with the parameters fmt describes (as vstmt()),
 * does with it what how says and finalizes it. rt, out and np are for
 * Q_ONE and Q_ALL only (NULL otherwise).
 */
static int
query(struct db *db, enum q_how how, const struct rowtype *rt, void *out,
    size_t *np, const char *sql, const char *fmt, ...)
{
	sqlite3_stmt *st = NULL;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vstmt(db, &st, sql, fmt, ap);
	va_end(ap);
	if (r != ERR_OK)
		return r;
	switch (how) {
	case Q_RUN:
		r = run(db, st);
		break;
	case Q_CHANGED:
		r = run_changed(db, st);
		break;
	case Q_EXISTS:
		r = first_row(db, st);
		break;
	case Q_ONE:
		if ((r = first_row(db, st)) == ERR_OK &&
		    (r = row_fill(st, out, rt)) != ERR_OK)
			row_release(out, rt);
		break;
	case Q_ALL:
		r = get_all(db, st, rt, out, np);
		break;
	default:
		r = ERR_INTERNAL;	/* a bug in this file */
		break;
	}
	sqlite3_finalize(st);
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

/* The columns of user_cols, in its order. */
#define USER_COLS "name, uid, role, state, created"

static const struct col user_cols[] = {
	COL(struct db_user, name, COL_STR),
	COL(struct db_user, uid, COL_U32),
	COL(struct db_user, role, COL_STR),
	COL(struct db_user, state, COL_INT),
	COL(struct db_user, created, COL_I64),
};
static const struct rowtype user_rows =
    ROWTYPE(struct db_user, user_cols);

void
db_user_release(struct db_user *u)
{
	row_release(u, &user_rows);
}

void
db_user_array_free(struct db_user *a, size_t n)
{
	array_free(a, n, &user_rows);
}

/*
 * The one row of sql, whose ?1 is name, into out of rt's type, after
 * zeroing out and checking the arguments (the db_..._get functions).
 */
static int
get_by_name(struct db *db, const struct rowtype *rt, void *out,
    const char *sql, const char *name)
{
	if (out != NULL)
		memset(out, 0, rt->size);
	if (db == NULL || !name_ok(name) || out == NULL)
		return ERR_INVAL;
	return query(db, Q_ONE, rt, out, NULL, sql, "t", name);
}

/* Runs the write sql, whose ?1 is name, as Q_CHANGED. */
static int
change_by_name(struct db *db, const char *sql, const char *name)
{
	if (db == NULL || !name_ok(name))
		return ERR_INVAL;
	return query(db, Q_CHANGED, NULL, NULL, NULL, sql, "t", name);
}

/*
 * Zeroes a list's out-parameters (*outp, *np) and says whether both are
 * there; outp is the address of the caller's struct db_... pointer.
 */
static int
list_out_ok(void **outp, size_t *np)
{
	if (outp != NULL)
		*outp = NULL;
	if (np != NULL)
		*np = 0;
	return outp != NULL && np != NULL;
}

int
db_user_add(struct db *db, const char *name, uint32_t uid, const char *role)
{
	if (db == NULL || !name_ok(name) || !name_ok(role))
		return ERR_INVAL;
	return query(db, Q_RUN, NULL, NULL, NULL, "INSERT INTO users (name, "
	    "uid, role, state, created) VALUES (?1, ?2, ?3, 0, ?4)", "titi",
	    name, (int64_t)uid, role, (int64_t)time(NULL));
}

int
db_user_get(struct db *db, const char *name, struct db_user *out)
{
	return get_by_name(db, &user_rows, out, "SELECT " USER_COLS
	    " FROM users WHERE name = ?1", name);
}

int
db_user_get_by_uid(struct db *db, uint32_t uid, struct db_user *out)
{
	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (db == NULL || out == NULL)
		return ERR_INVAL;
	return query(db, Q_ONE, &user_rows, out, NULL, "SELECT " USER_COLS
	    " FROM users WHERE uid = ?1", "i", (int64_t)uid);
}

int
db_user_list(struct db *db, struct db_user **out, size_t *n)
{
	if (!list_out_ok((void **)out, n) || db == NULL)
		return ERR_INVAL;
	return query(db, Q_ALL, &user_rows, out, n, "SELECT " USER_COLS
	    " FROM users ORDER BY name", "");
}

int
db_user_set_state(struct db *db, const char *name, int state)
{
	if (db == NULL || !name_ok(name) ||
	    (state != DB_USER_ACTIVE && state != DB_USER_DISABLED &&
	    state != DB_USER_FROZEN))
		return ERR_INVAL;
	return query(db, Q_CHANGED, NULL, NULL, NULL,
	    "UPDATE users SET state = ?1 WHERE name = ?2", "it",
	    (int64_t)state, name);
}

int
db_user_del(struct db *db, const char *name)
{
	return change_by_name(db, "DELETE FROM users WHERE name = ?1", name);
}

/* ---- Keys --------------------------------------------------------------- */

/* The columns of key_cols, in its order. */
#define KEY_COLS "u.name, k.key_line, k.fingerprint, k.added"
#define KEY_FROM " FROM user_keys k JOIN users u ON u.id = k.user_id "

static const struct col key_cols[] = {
	COL(struct db_key, user, COL_STR),
	COL(struct db_key, key_line, COL_STR),
	COL(struct db_key, fingerprint, COL_STR),
	COL(struct db_key, added, COL_I64),
};
static const struct rowtype key_rows =
    ROWTYPE(struct db_key, key_cols);

void
db_key_release(struct db_key *k)
{
	row_release(k, &key_rows);
}

void
db_key_array_free(struct db_key *a, size_t n)
{
	array_free(a, n, &key_rows);
}

int
db_key_add(struct db *db, const char *user, const char *key_line,
    const char *fingerprint)
{
	if (db == NULL || !name_ok(user) ||
	    !str_ok(key_line, DB_KEY_LINE_MAX) ||
	    !str_ok(fingerprint, DB_FP_MAX))
		return ERR_INVAL;
	return query(db, Q_CHANGED, NULL, NULL, NULL, "INSERT INTO user_keys "
	    "(user_id, key_line, fingerprint, added) SELECT id, ?2, ?3, ?4 "
	    "FROM users WHERE name = ?1", "ttti", user, key_line, fingerprint,
	    (int64_t)time(NULL));
}

int
db_key_find_by_fingerprint(struct db *db, const char *fingerprint,
    struct db_key *out)
{
	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (db == NULL || !str_ok(fingerprint, DB_FP_MAX) || out == NULL)
		return ERR_INVAL;
	return query(db, Q_ONE, &key_rows, out, NULL, "SELECT " KEY_COLS
	    KEY_FROM "WHERE k.fingerprint = ?1", "t", fingerprint);
}

int
db_key_list(struct db *db, const char *user, struct db_key **out, size_t *n)
{
	int r = ERR_INTERNAL;

	if (!list_out_ok((void **)out, n) || db == NULL ||
	    (user != NULL && !name_ok(user)))
		return ERR_INVAL;
	/* One snapshot for "does the user exist" and "its keys". */
	if ((r = exec(db, "BEGIN")) != ERR_OK)
		return r;
	if (user == NULL || (r = query(db, Q_EXISTS, NULL, NULL, NULL,
	    "SELECT 1 FROM users WHERE name = ?1", "t", user)) == ERR_OK)
		r = query(db, Q_ALL, &key_rows, out, n, "SELECT " KEY_COLS
		    KEY_FROM "WHERE ?1 IS NULL OR u.name = ?1 ORDER BY k.id",
		    "t", user);
	/* A read-only transaction: ending it cannot lose anything. */
	(void)sqlite3_exec(db->h, "COMMIT", NULL, NULL, NULL);
	return r;
}

int
db_key_del(struct db *db, const char *fingerprint)
{
	if (db == NULL || !str_ok(fingerprint, DB_FP_MAX))
		return ERR_INVAL;
	return query(db, Q_CHANGED, NULL, NULL, NULL,
	    "DELETE FROM user_keys WHERE fingerprint = ?1", "t", fingerprint);
}

/* ---- TOTP --------------------------------------------------------------- */

#define TOTP_USER "(SELECT id FROM users WHERE name = ?1)"

int
db_totp_set_secret(struct db *db, const char *user, const uint8_t *seed,
    size_t len)
{
	if (db == NULL || !name_ok(user) || seed == NULL || len == 0 ||
	    len > DB_TOTP_SEED_MAX)
		return ERR_INVAL;
	/* The WHERE keeps "ON CONFLICT" from parsing as a join constraint. */
	return query(db, Q_CHANGED, NULL, NULL, NULL, "INSERT INTO totp "
	    "(user_id, seed) SELECT id, ?2 FROM users WHERE name = ?1 "
	    "ON CONFLICT (user_id) DO UPDATE SET seed = excluded.seed, "
	    "failures = 0, locked_until = 0", "tb", user, (const void *)seed,
	    len);
}

int
db_totp_get_secret(struct db *db, const char *user, uint8_t *seed,
    size_t cap, size_t *lenp, struct db_totp_state *statep)
{
	sqlite3_stmt *st = NULL;
	const void *blob;
	size_t len;
	int r = ERR_INTERNAL;

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
	    user)) != ERR_OK || (r = first_row(db, st)) != ERR_OK)
		goto out;
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

int
db_totp_record_success(struct db *db, const char *user, uint64_t step)
{
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
	r = query(db, Q_CHANGED, NULL, NULL, NULL, "UPDATE totp SET "
	    "last_step = ?2, failures = 0 WHERE user_id = " TOTP_USER
	    " AND last_step < ?2", "ti", user, (int64_t)step);
	if (r == ERR_NOTFOUND) {
		/* No row changed: a replay, or no such user or seed. */
		r = query(db, Q_EXISTS, NULL, NULL, NULL,
		    "SELECT 1 FROM totp WHERE user_id = " TOTP_USER, "t", user);
		if (r == ERR_OK)
			r = ERR_CONFLICT;
	}
	return tx_end(db, r);
}

int
db_totp_record_failure(struct db *db, const char *user, uint32_t *failuresp)
{
	sqlite3_stmt *st = NULL;
	int r = ERR_INTERNAL;
	int64_t f = 0;

	if (failuresp != NULL)
		*failuresp = 0;
	if (db == NULL || !name_ok(user))
		return ERR_INVAL;
	if ((r = stmt(db, &st, "UPDATE totp SET failures = "
	    "min(failures + 1, 4294967295) WHERE user_id = " TOTP_USER
	    " RETURNING failures", "t", user)) != ERR_OK ||
	    (r = first_row(db, st)) != ERR_OK)
		goto out;
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
	if (db == NULL || !name_ok(user) || until < 0)
		return ERR_INVAL;
	return query(db, Q_CHANGED, NULL, NULL, NULL, "UPDATE totp SET "
	    "locked_until = max(locked_until, ?2) WHERE user_id = " TOTP_USER,
	    "ti", user, until);
}

int
db_totp_clear(struct db *db, const char *user)
{
	return change_by_name(db, "UPDATE totp SET failures = 0, "
	    "locked_until = 0 WHERE user_id = " TOTP_USER, user);
}

int
db_totp_del(struct db *db, const char *user)
{
	return change_by_name(db, "DELETE FROM totp WHERE user_id = "
	    TOTP_USER, user);
}

/* ---- Targets and host keys ---------------------------------------------- */

/* The columns of target_cols, in its order. */
#define TARGET_COLS "name, host, port, sensitivity, grp, created"

static const struct col target_cols[] = {
	COL(struct db_target, name, COL_STR),
	COL(struct db_target, host, COL_STR),
	COL(struct db_target, port, COL_U16),
	COL(struct db_target, sensitivity, COL_INT),
	COL(struct db_target, group, COL_STR),
	COL(struct db_target, created, COL_I64),
};
static const struct rowtype target_rows =
    ROWTYPE(struct db_target, target_cols);

void
db_target_release(struct db_target *t)
{
	row_release(t, &target_rows);
}

void
db_target_array_free(struct db_target *a, size_t n)
{
	array_free(a, n, &target_rows);
}

int
db_target_add(struct db *db, const char *name, const char *host,
    uint16_t port, const char *group, int sensitivity)
{
	if (db == NULL || !name_ok(name) || !name_ok(host) || port == 0 ||
	    !name_ok(group) || sensitivity < 0 ||
	    sensitivity > DB_SENSITIVITY_MAX)
		return ERR_INVAL;
	return query(db, Q_RUN, NULL, NULL, NULL, "INSERT INTO targets ("
	    TARGET_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6)", "ttiiti", name,
	    host, (int64_t)port, (int64_t)sensitivity, group,
	    (int64_t)time(NULL));
}

int
db_target_get(struct db *db, const char *name, struct db_target *out)
{
	return get_by_name(db, &target_rows, out, "SELECT " TARGET_COLS
	    " FROM targets WHERE name = ?1", name);
}

int
db_target_list(struct db *db, struct db_target **out, size_t *n)
{
	if (!list_out_ok((void **)out, n) || db == NULL)
		return ERR_INVAL;
	return query(db, Q_ALL, &target_rows, out, n, "SELECT " TARGET_COLS
	    " FROM targets ORDER BY name", "");
}

int
db_target_del(struct db *db, const char *name)
{
	return change_by_name(db, "DELETE FROM targets WHERE name = ?1",
	    name);
}

static const struct col hostkey_cols[] = {
	COL(struct db_hostkey, target, COL_STR),
	COL(struct db_hostkey, key_line, COL_STR),
	COL(struct db_hostkey, fingerprint, COL_STR),
	COL(struct db_hostkey, pinned, COL_I64),
};
static const struct rowtype hostkey_rows =
    ROWTYPE(struct db_hostkey, hostkey_cols);

void
db_hostkey_release(struct db_hostkey *h)
{
	row_release(h, &hostkey_rows);
}

int
db_hostkey_set(struct db *db, const char *target, const char *key_line,
    const char *fingerprint)
{
	if (db == NULL || !name_ok(target) ||
	    !str_ok(key_line, DB_KEY_LINE_MAX) ||
	    !str_ok(fingerprint, DB_FP_MAX))
		return ERR_INVAL;
	return query(db, Q_CHANGED, NULL, NULL, NULL, "INSERT INTO host_keys "
	    "(target_id, key_line, fingerprint, pinned) SELECT id, ?2, ?3, ?4 "
	    "FROM targets WHERE name = ?1 ON CONFLICT (target_id) DO UPDATE "
	    "SET key_line = excluded.key_line, "
	    "fingerprint = excluded.fingerprint, pinned = excluded.pinned",
	    "ttti", target, key_line, fingerprint, (int64_t)time(NULL));
}

int
db_hostkey_get(struct db *db, const char *target, struct db_hostkey *out)
{
	return get_by_name(db, &hostkey_rows, out, "SELECT t.name, "
	    "h.key_line, h.fingerprint, h.pinned FROM host_keys h "
	    "JOIN targets t ON t.id = h.target_id WHERE t.name = ?1", target);
}

/* ---- Grants ------------------------------------------------------------- */

static const struct col grant_cols[] = {
	COL(struct db_grant, role, COL_STR),
	COL(struct db_grant, target_group, COL_STR),
	COL(struct db_grant, login, COL_STR),
};
static const struct rowtype grant_rows =
    ROWTYPE(struct db_grant, grant_cols);

void
db_grant_release(struct db_grant *g)
{
	row_release(g, &grant_rows);
}

void
db_grant_array_free(struct db_grant *a, size_t n)
{
	array_free(a, n, &grant_rows);
}

/*
 * Runs sql, whose parameters are ?1 role, ?2 target_group and ?3 login,
 * as how says, after checking the arguments.
 */
static int
grant_query(struct db *db, enum q_how how, const char *sql, const char *role,
    const char *target_group, const char *login)
{
	if (db == NULL || !name_ok(role) || !name_ok(target_group) ||
	    !name_ok(login))
		return ERR_INVAL;
	return query(db, how, NULL, NULL, NULL, sql, "ttt", role,
	    target_group, login);
}

int
db_grant_add(struct db *db, const char *role, const char *target_group,
    const char *login)
{
	return grant_query(db, Q_RUN, "INSERT INTO grants (role, "
	    "target_group, login) VALUES (?1, ?2, ?3)", role, target_group,
	    login);
}

int
db_grant_list(struct db *db, const char *role, struct db_grant **out,
    size_t *n)
{
	if (!list_out_ok((void **)out, n) || db == NULL ||
	    (role != NULL && !name_ok(role)))
		return ERR_INVAL;
	return query(db, Q_ALL, &grant_rows, out, n, "SELECT role, "
	    "target_group, login FROM grants WHERE ?1 IS NULL OR role = ?1 "
	    "ORDER BY role, target_group, login", "t", role);
}

int
db_grant_match(struct db *db, const char *role, const char *target_group,
    const char *login)
{
	return grant_query(db, Q_EXISTS, "SELECT 1 FROM grants WHERE "
	    "role = ?1 AND target_group = ?2 AND login = ?3", role,
	    target_group, login);
}

int
db_grant_del(struct db *db, const char *role, const char *target_group,
    const char *login)
{
	return grant_query(db, Q_CHANGED, "DELETE FROM grants WHERE "
	    "role = ?1 AND target_group = ?2 AND login = ?3", role,
	    target_group, login);
}

/* ---- Sessions ----------------------------------------------------------- */

/* The columns of session_cols, in its order. */
#define SESSION_COLS "id, user, target, login, kind, started, ended, " \
	"exit_status, bytes_in, bytes_out, recording_hash"

static const struct col session_cols[] = {
	COL(struct db_session, id, COL_U64),
	COL(struct db_session, user, COL_STR),
	COL(struct db_session, target, COL_STR),
	COL(struct db_session, login, COL_STR),
	COL(struct db_session, kind, COL_STR),
	COL(struct db_session, started, COL_I64),
	COL(struct db_session, ended, COL_I64),
	COL(struct db_session, exit_status, COL_INT),
	COL(struct db_session, bytes_in, COL_U64),
	COL(struct db_session, bytes_out, COL_U64),
	COL(struct db_session, recording_hash, COL_STR),
};
static const struct rowtype session_rows =
    ROWTYPE(struct db_session, session_cols);

void
db_session_release(struct db_session *s)
{
	row_release(s, &session_rows);
}

void
db_session_array_free(struct db_session *a, size_t n)
{
	array_free(a, n, &session_rows);
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
	int r = ERR_INTERNAL;

	if (db == NULL || id == 0 || ended <= 0 ||
	    (recording_hash != NULL && !str_ok(recording_hash, DB_FP_MAX)))
		return ERR_INVAL;
	if (id > INT64_MAX || bytes_in > INT64_MAX || bytes_out > INT64_MAX)
		return ERR_RANGE;
	if ((r = exec(db, "BEGIN IMMEDIATE")) != ERR_OK)
		return r;
	r = query(db, Q_CHANGED, NULL, NULL, NULL, "UPDATE sessions SET "
	    "ended = ?2, exit_status = ?3, bytes_in = ?4, bytes_out = ?5, "
	    "recording_hash = ?6 WHERE id = ?1 AND ended IS NULL", "iiiiit",
	    (int64_t)id, ended, (int64_t)exit_status, (int64_t)bytes_in,
	    (int64_t)bytes_out, recording_hash);
	if (r == ERR_NOTFOUND) {
		/* Nothing changed: unknown, or ended already. */
		r = query(db, Q_EXISTS, NULL, NULL, NULL,
		    "SELECT 1 FROM sessions WHERE id = ?1", "i", (int64_t)id);
		if (r == ERR_OK)
			r = ERR_CONFLICT;
	}
	return tx_end(db, r);
}

int
db_session_get(struct db *db, uint64_t id, struct db_session *out)
{
	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (db == NULL || out == NULL || id == 0)
		return ERR_INVAL;
	if (id > INT64_MAX)
		return ERR_NOTFOUND;
	return query(db, Q_ONE, &session_rows, out, NULL, "SELECT "
	    SESSION_COLS " FROM sessions WHERE id = ?1", "i", (int64_t)id);
}

int
db_session_list(struct db *db, const char *user, size_t max,
    struct db_session **out, size_t *n)
{
	int64_t limit;

	if (!list_out_ok((void **)out, n) || db == NULL ||
	    (user != NULL && !name_ok(user)))
		return ERR_INVAL;
	/* LIMIT -1 is no limit. */
	limit = max == 0 || max > INT64_MAX ? -1 : (int64_t)max;
	return query(db, Q_ALL, &session_rows, out, n, "SELECT " SESSION_COLS
	    " FROM sessions WHERE ?1 IS NULL OR user = ?1 ORDER BY id DESC "
	    "LIMIT ?2", "ti", user, limit);
}

/* ---- Logins ------------------------------------------------------------- */

#define LOGIN_COLS "l.id, u.name, l.boot, l.pid, l.pid_start, l.rhost, " \
    "l.opened FROM logins l JOIN users u ON u.id = l.user_id"

static const struct col login_cols[] = {
	COL(struct db_login, id, COL_U64),
	COL(struct db_login, user, COL_STR),
	COL(struct db_login, boot, COL_STR),
	COL(struct db_login, pid, COL_I64),
	COL(struct db_login, pid_start, COL_I64),
	COL(struct db_login, rhost, COL_STR),
	COL(struct db_login, opened, COL_I64),
};
static const struct rowtype login_rows =
    ROWTYPE(struct db_login, login_cols);

void
db_login_release(struct db_login *l)
{
	row_release(l, &login_rows);
}

void
db_login_array_free(struct db_login *a, size_t n)
{
	array_free(a, n, &login_rows);
}

int
db_login_add(struct db *db, const char *user, const char *boot, int64_t pid,
    int64_t pid_start, const char *rhost, int64_t opened, uint64_t *idp)
{
	sqlite3_stmt *st = NULL;
	int r;

	if (idp != NULL)
		*idp = 0;
	if (db == NULL || idp == NULL || !name_ok(user) || !name_ok(boot) ||
	    rhost == NULL || strnlen(rhost, DB_NAME_MAX + 1) > DB_NAME_MAX ||
	    pid < 1 ||
	    pid > INT32_MAX || pid_start < 0)
		return ERR_INVAL;
	/* INSERT ... SELECT: no row when the user does not exist. */
	if ((r = stmt(db, &st, "INSERT INTO logins (user_id, boot, pid, "
	    "pid_start, rhost, opened) SELECT id, ?2, ?3, ?4, ?5, ?6 FROM "
	    "users WHERE name = ?1 RETURNING id", "ttiiti", user, boot, pid,
	    pid_start, rhost, opened)) != ERR_OK)
		return r;
	if (sqlite3_step(st) != SQLITE_ROW) {
		r = run(db, st);	/* the error, if there was one */
		if (r == ERR_OK)
			r = ERR_NOTFOUND;
		goto out;
	}
	*idp = (uint64_t)sqlite3_column_int64(st, 0);
	if ((r = run(db, st)) != ERR_OK)
		*idp = 0;
 out:
	sqlite3_finalize(st);
	return r;
}

int
db_login_find(struct db *db, const char *boot, int64_t pid,
    int64_t pid_start, struct db_login *out)
{
	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (db == NULL || out == NULL || !name_ok(boot))
		return ERR_INVAL;
	return query(db, Q_ONE, &login_rows, out, NULL, "SELECT " LOGIN_COLS
	    " WHERE l.boot = ?1 AND l.pid = ?2 AND l.pid_start = ?3", "tii",
	    boot, pid, pid_start);
}

int
db_login_get(struct db *db, uint64_t id, struct db_login *out)
{
	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (db == NULL || out == NULL || id == 0)
		return ERR_INVAL;
	if (id > INT64_MAX)
		return ERR_NOTFOUND;
	return query(db, Q_ONE, &login_rows, out, NULL, "SELECT " LOGIN_COLS
	    " WHERE l.id = ?1", "i", (int64_t)id);
}

int
db_login_list(struct db *db, struct db_login **out, size_t *n)
{
	if (!list_out_ok((void **)out, n) || db == NULL)
		return ERR_INVAL;
	return query(db, Q_ALL, &login_rows, out, n, "SELECT " LOGIN_COLS
	    " ORDER BY l.id", "");
}

int
db_login_del(struct db *db, uint64_t id)
{
	if (db == NULL || id == 0)
		return ERR_INVAL;
	if (id > INT64_MAX)
		return ERR_NOTFOUND;
	return query(db, Q_CHANGED, NULL, NULL, NULL,
	    "DELETE FROM logins WHERE id = ?1", "i", (int64_t)id);
}
