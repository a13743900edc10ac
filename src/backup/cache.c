/*
 * cache.c - the backup agent's SQLite cache (cache.h).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "backup/cache.h"
#include "common/banned.h"

#define STR_(x) #x
#define STR(x) STR_(x)

struct bcache {
	sqlite3 *db;
	sqlite3_stmt *put_file;
	sqlite3_stmt *del_file;
};

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS packs(id INTEGER PRIMARY KEY, "
	"  name TEXT NOT NULL UNIQUE);"
	"CREATE TABLE IF NOT EXISTS chunks(id BLOB PRIMARY KEY, "
	"  pack INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS files(path BLOB PRIMARY KEY, ino INTEGER, "
	"  size INTEGER, mtime INTEGER, ctime INTEGER, chunks BLOB, "
	"  xattrs BLOB) WITHOUT ROWID;";

/*
 * Version 2 added files.xattrs (NULL: not recorded). A version 1 cache
 * gets the column; its records read as "xattrs not recorded".
 */
#define CACHE_VERSION 2

static int
exec(struct bcache *c, const char *sql)
{
	return sqlite3_exec(c->db, sql, NULL, NULL, NULL) == SQLITE_OK ?
	    ERR_OK : ERR_IO;
}

/* Brings an older cache to CACHE_VERSION; refuses a newer one. */
static int
upgrade(struct bcache *c, char *why, size_t whylen, const char *path)
{
	sqlite3_stmt *st;
	int v = -1;

	if (sqlite3_prepare_v2(c->db, "PRAGMA user_version", -1, &st,
	    NULL) != SQLITE_OK)
		return ERR_IO;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (v < 0)
		return ERR_IO;
	if (v > CACHE_VERSION) {
		snprintf(why, whylen, "the cache %s was made by a newer "
		    "bulwark; remove it or run with --no-cache", path);
		return ERR_UNSUPPORTED;
	}
	if (v == 1 && exec(c, "ALTER TABLE files ADD COLUMN xattrs BLOB") !=
	    ERR_OK)
		return ERR_IO;
	return v == CACHE_VERSION ? ERR_OK :
	    exec(c, "PRAGMA user_version = " STR(CACHE_VERSION));
}

int
bcache_open(const char *path, struct bcache **out, char *why, size_t whylen)
{
	struct bcache *c = calloc(1, sizeof(*c));
	int fd, rc = ERR_IO;

	*out = NULL;
	if (c == NULL)
		return ERR_NOMEM;
	/* Create it 0600 first: SQLite would use the umask. */
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    0600)) < 0) {
		snprintf(why, whylen, "cannot open the cache %s", path);
		free(c);
		return ERR_IO;
	}
	close(fd);
	if (sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK ||
	    exec(c, "PRAGMA journal_mode = WAL") != ERR_OK ||
	    /* A lost tail costs an upload, never data: NORMAL is enough. */
	    exec(c, "PRAGMA synchronous = NORMAL") != ERR_OK ||
	    exec(c, schema) != ERR_OK ||
	    (rc = upgrade(c, why, whylen, path)) != ERR_OK) {
		if (rc != ERR_UNSUPPORTED)
			snprintf(why, whylen, "the cache %s is unusable (%s); "
			    "remove it or run with --no-cache", path,
			    c->db != NULL ? sqlite3_errmsg(c->db) :
			    "no memory");
		sqlite3_close(c->db);
		free(c);
		return rc == ERR_UNSUPPORTED ? rc : ERR_IO;
	}
	*out = c;
	return ERR_OK;
}

void
bcache_close(struct bcache *c)
{
	if (c == NULL)
		return;
	sqlite3_finalize(c->put_file);
	sqlite3_finalize(c->del_file);
	sqlite3_close(c->db);
	free(c);
}

int
bcache_each_chunk(struct bcache *c,
    int (*fn)(void *, const uint8_t *, const char *), void *arg)
{
	sqlite3_stmt *st;
	int rc = ERR_OK, s;

	if (sqlite3_prepare_v2(c->db, "SELECT chunks.id, packs.name FROM "
	    "chunks JOIN packs ON chunks.pack = packs.id", -1, &st, NULL) !=
	    SQLITE_OK)
		return ERR_IO;
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		const void *id = sqlite3_column_blob(st, 0);
		const unsigned char *name = sqlite3_column_text(st, 1);
		if (sqlite3_column_bytes(st, 0) != CHUNK_ID_LEN || name == NULL ||
		    strlen((const char *)name) != PACK_NAME_HEX_LEN)
			continue;	/* not ours: ignore it */
		if ((rc = fn(arg, id, (const char *)name)) != ERR_OK)
			break;
	}
	if (rc == ERR_OK && s != SQLITE_DONE)
		rc = ERR_IO;
	sqlite3_finalize(st);
	return rc;
}

int
bcache_add_pack(struct bcache *c, const char *name,
    const uint8_t (*ids)[CHUNK_ID_LEN], size_t n)
{
	sqlite3_stmt *p = NULL, *ch = NULL;
	sqlite3_int64 pid;
	int rc = ERR_IO;

	if (exec(c, "BEGIN") != ERR_OK)
		return ERR_IO;
	if (sqlite3_prepare_v2(c->db, "INSERT OR IGNORE INTO packs(name) "
	    "VALUES (?)", -1, &p, NULL) != SQLITE_OK ||
	    sqlite3_bind_text(p, 1, name, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_step(p) != SQLITE_DONE)
		goto out;
	sqlite3_finalize(p);
	if (sqlite3_prepare_v2(c->db, "SELECT id FROM packs WHERE name = ?",
	    -1, &p, NULL) != SQLITE_OK ||
	    sqlite3_bind_text(p, 1, name, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_step(p) != SQLITE_ROW)
		goto out;
	pid = sqlite3_column_int64(p, 0);
	if (sqlite3_prepare_v2(c->db, "INSERT OR REPLACE INTO chunks(id, pack) "
	    "VALUES (?, ?)", -1, &ch, NULL) != SQLITE_OK)
		goto out;
	for (size_t i = 0; i < n; i++) {
		sqlite3_reset(ch);
		if (sqlite3_bind_blob(ch, 1, ids[i], CHUNK_ID_LEN,
		    SQLITE_STATIC) != SQLITE_OK ||
		    sqlite3_bind_int64(ch, 2, pid) != SQLITE_OK ||
		    sqlite3_step(ch) != SQLITE_DONE)
			goto out;
	}
	rc = exec(c, "COMMIT");
out:
	sqlite3_finalize(p);
	sqlite3_finalize(ch);
	if (rc != ERR_OK)
		(void)exec(c, "ROLLBACK");
	return rc;
}

int
bcache_each_file(struct bcache *c,
    int (*fn)(void *, const struct bcache_file *), void *arg)
{
	sqlite3_stmt *st;
	int rc = ERR_OK, s;

	if (sqlite3_prepare_v2(c->db, "SELECT path, ino, size, mtime, ctime, "
	    "chunks, xattrs FROM files", -1, &st, NULL) != SQLITE_OK)
		return ERR_IO;
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		struct bcache_file f;
		f.path = sqlite3_column_blob(st, 0);
		f.path_len = (size_t)sqlite3_column_bytes(st, 0);
		f.ino = (uint64_t)sqlite3_column_int64(st, 1);
		f.size = (uint64_t)sqlite3_column_int64(st, 2);
		f.mtime_ns = sqlite3_column_int64(st, 3);
		f.ctime_ns = sqlite3_column_int64(st, 4);
		f.chunks = sqlite3_column_blob(st, 5);
		f.chunks_len = (size_t)sqlite3_column_bytes(st, 5);
		f.xattrs_known = sqlite3_column_type(st, 6) != SQLITE_NULL;
		f.xattrs = sqlite3_column_blob(st, 6);
		f.xattrs_len = (size_t)sqlite3_column_bytes(st, 6);
		if (f.path == NULL || f.path_len == 0)
			continue;
		if ((rc = fn(arg, &f)) != ERR_OK)
			break;
	}
	if (rc == ERR_OK && s != SQLITE_DONE)
		rc = ERR_IO;
	sqlite3_finalize(st);
	return rc;
}

int
bcache_files_begin(struct bcache *c)
{
	if (exec(c, "BEGIN") != ERR_OK)
		return ERR_IO;
	if ((c->put_file == NULL && sqlite3_prepare_v2(c->db,
	    "INSERT OR REPLACE INTO files(path, ino, size, mtime, ctime, "
	    "chunks, xattrs) VALUES (?, ?, ?, ?, ?, ?, ?)", -1, &c->put_file,
	    NULL) !=
	    SQLITE_OK) ||
	    (c->del_file == NULL && sqlite3_prepare_v2(c->db,
	    "DELETE FROM files WHERE path = ?", -1, &c->del_file, NULL) !=
	    SQLITE_OK)) {
		(void)exec(c, "ROLLBACK");
		return ERR_IO;
	}
	return ERR_OK;
}

int
bcache_files_del(struct bcache *c, const char *path, size_t len)
{
	sqlite3_stmt *st = c->del_file;

	sqlite3_reset(st);
	if (sqlite3_bind_blob(st, 1, path, (int)len, SQLITE_STATIC) !=
	    SQLITE_OK || sqlite3_step(st) != SQLITE_DONE)
		return ERR_IO;
	return ERR_OK;
}

int
bcache_files_put(struct bcache *c, const struct bcache_file *f)
{
	sqlite3_stmt *st = c->put_file;

	sqlite3_reset(st);
	if (sqlite3_bind_blob(st, 1, f->path, (int)f->path_len,
	    SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 2, (sqlite3_int64)f->ino) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 3, (sqlite3_int64)f->size) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 4, f->mtime_ns) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 5, f->ctime_ns) != SQLITE_OK ||
	    sqlite3_bind_blob(st, 6, f->chunks_len ? (const void *)f->chunks :
	    (const void *)"",
	    (int)f->chunks_len, SQLITE_STATIC) != SQLITE_OK ||
	    (f->xattrs_known ? sqlite3_bind_blob(st, 7, f->xattrs_len ?
	    (const void *)f->xattrs : (const void *)"", (int)f->xattrs_len,
	    SQLITE_STATIC) : sqlite3_bind_null(st, 7)) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_DONE)
		return ERR_IO;
	return ERR_OK;
}

int
bcache_files_commit(struct bcache *c)
{
	if (exec(c, "COMMIT") != ERR_OK) {
		(void)exec(c, "ROLLBACK");
		return ERR_IO;
	}
	return ERR_OK;
}
