/*
 * db.h - the gateway's state store: users, their SSH keys and TOTP
 * factors, targets and their pinned host keys, role grants and sessions.
 *
 * This header is the whole interface, so that a PostgreSQL engine can be
 * added behind it later; nothing above it sees SQL. The engine today is
 * SQLite in WAL mode with synchronous=FULL: when a write returns ERR_OK it
 * is committed and durable, and survives a crash of the process or a loss
 * of power. Every statement is a prepared statement with bound
 * parameters; no SQL is ever built from what a caller passes, so strings
 * are stored exactly as given (quotes, semicolons and all).
 *
 * The schema is versioned by migrations compiled into db.c and recorded
 * in PRAGMA user_version. db_open brings an older file up to date and
 * refuses a file written by a newer Bulwark.
 *
 * Errors (common/err.h), the same for every function:
 *   ERR_EXISTS    a name, fingerprint or grant that must be unique is
 *                 already there.
 *   ERR_NOTFOUND  the user, target, key, session ... named does not exist.
 *   ERR_INVAL     a NULL, empty or over-long argument, or a value out of
 *                 its range (sensitivity, state, port).
 *   ERR_RANGE     a number does not fit the store (above INT64_MAX).
 *   ERR_LOCKED    another connection held the database longer than the
 *                 busy timeout (DB_BUSY_TIMEOUT_MS).
 *   ERR_IO        SQLite failed; db_errmsg(db) says why.
 *   ERR_NOMEM     allocation failed.
 * Functions that fail leave their out-parameters zeroed/NULL.
 *
 * Ownership, following git's strbuf.h: callers keep what they pass in;
 * strings handed out are malloc'd and belong to the caller, released with
 * the matching *_release (contents of one struct the caller owns) or
 * *_array_free (an array and every element). Both take NULL.
 *
 * A struct db is one connection. Use it from one thread at a time; open
 * one per thread or process (they may share the file, WAL lets readers
 * run beside the one writer).
 *
 * Secrets: only the TOTP seed. The function that returns it ends in
 * _secret and copies it into memory the caller provides, which must be
 * sodium_malloc'd (guarded, locked) and wiped with sodium_memzero /
 * sodium_free when done. Deleted seeds are overwritten in the file
 * (PRAGMA secure_delete); SQLite's page cache may still hold a copy
 * until the connection closes.
 */
#ifndef BULWARK_STORE_DB_H
#define BULWARK_STORE_DB_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define DB_SCHEMA_VERSION	2	/* what db_open migrates to */
#define DB_BUSY_TIMEOUT_MS	5000

/* Longest strings accepted, in bytes without the NUL (else ERR_INVAL). */
#define DB_NAME_MAX		255	/* names, roles, groups, logins, hosts, kinds */
#define DB_KEY_LINE_MAX		8192	/* an OpenSSH public key line */
#define DB_FP_MAX		128	/* "SHA256:..." fingerprints, blob hashes */
#define DB_TOTP_SEED_MAX	64	/* bytes of a TOTP seed */

struct db;

/*
 * Opens the state database at path, creating it with mode 0600 when it
 * does not exist, and migrates it to DB_SCHEMA_VERSION. *out gets the
 * connection on ERR_OK (close with db_close), NULL otherwise.
 *
 *   ERR_DENIED       path, or its -wal or -shm file, may be read or
 *                    written by group or others, or is not a regular file
 *                    (symbolic links are not followed).
 *   ERR_UNSUPPORTED  the file's schema is newer than this program's.
 *   ERR_FORMAT       the file is not an SQLite database.
 *   ERR_IO, ERR_LOCKED, ERR_NOMEM as above.
 *
 * On failure there is no connection to ask; db_errmsg(NULL) then gives
 * the reason for the last failed db_open on this thread, a full sentence
 * naming the file and what to do.
 */
int db_open(const char *path, struct db **out) WUR;

/* Closes the connection. NULL is a no-op. */
void db_close(struct db *db);

/*
 * SQLite's message for the last failure it reported on db (the reason
 * behind an ERR_IO, ERR_EXISTS, ERR_LOCKED ...), or "" if none; with db
 * NULL, the reason for the last db_open failure on this thread.
 * Borrowed: valid until the next call on db (or db_open). Never NULL.
 */
const char *db_errmsg(const struct db *db);

/* ---- Users ------------------------------------------------------------ */

/* States; a user who is not DB_USER_ACTIVE may not log in. */
enum db_user_state {
	DB_USER_ACTIVE = 0,
	DB_USER_DISABLED = 1,	/* by an admin */
	DB_USER_FROZEN = 2,	/* by detection, until a second admin clears it */
};

struct db_user {
	char *name;
	uint32_t uid;		/* the Unix account's uid (unique) */
	char *role;
	int state;		/* enum db_user_state */
	int64_t created;	/* Unix seconds */
};

/*
 * Adds an active user. Both name and uid are unique (ERR_EXISTS): the
 * gateway learns who calls from the caller's uid, so two users may not
 * share one.
 */
int db_user_add(struct db *db, const char *name, uint32_t uid,
    const char *role) WUR;
/* The user called name, into *out (release with db_user_release). */
int db_user_get(struct db *db, const char *name, struct db_user *out) WUR;
/* The user whose Unix account has uid, into *out. */
int db_user_get_by_uid(struct db *db, uint32_t uid, struct db_user *out) WUR;
/* All users in name order: *out (db_user_array_free) and *n. */
int db_user_list(struct db *db, struct db_user **out, size_t *n) WUR;
int db_user_set_state(struct db *db, const char *name, int state) WUR;
/*
 * Deletes the user with its keys and TOTP factor. Its sessions stay: they
 * are history and name the user by its name.
 */
int db_user_del(struct db *db, const char *name) WUR;
void db_user_release(struct db_user *u);
void db_user_array_free(struct db_user *a, size_t n);

/* ---- Users' SSH keys ---------------------------------------------------- */

struct db_key {
	char *user;
	char *key_line;		/* "ssh-ed25519 AAAA... comment" */
	char *fingerprint;	/* "SHA256:..." */
	int64_t added;
};

/*
 * Registers key_line with its fingerprint for user. The store does not
 * parse keys: the caller has checked key_line and computed fingerprint
 * from it. A fingerprint belongs to one user only (ERR_EXISTS).
 */
int db_key_add(struct db *db, const char *user, const char *key_line,
    const char *fingerprint) WUR;
/* The key with that fingerprint and whose it is (db_key_release). */
int db_key_find_by_fingerprint(struct db *db, const char *fingerprint,
    struct db_key *out) WUR;
/*
 * user's keys (all users' when user is NULL) in the order they were
 * added. A user without keys gives ERR_OK and n = 0; an unknown user
 * ERR_NOTFOUND.
 */
int db_key_list(struct db *db, const char *user, struct db_key **out,
    size_t *n) WUR;
int db_key_del(struct db *db, const char *fingerprint) WUR;
void db_key_release(struct db_key *k);
void db_key_array_free(struct db_key *a, size_t n);

/* ---- TOTP --------------------------------------------------------------- */

/* The counters that go with a user's seed. */
struct db_totp_state {
	uint64_t last_step;	/* step of the last code accepted, 0 if none */
	uint32_t failures;	/* wrong codes since the last success or clear */
	int64_t locked_until;	/* Unix seconds; no code is tried before it */
};

/*
 * Enrols (or replaces) user's TOTP seed seed[0..len), 1 <= len <=
 * DB_TOTP_SEED_MAX. Failures and lock are reset; the last accepted step
 * is kept, so that a re-enrolment never reopens a used step.
 */
int db_totp_set_secret(struct db *db, const char *user, const uint8_t *seed,
    size_t len) WUR;

/*
 * Copies user's seed into seed[0..cap) and its length into *lenp; cap of
 * DB_TOTP_SEED_MAX always suffices (ERR_TOOBIG if cap is too small).
 * seed must be sodium_malloc'd memory that the caller wipes. When statep
 * is not NULL it gets the counters read in the same snapshot.
 * ERR_NOTFOUND when the user does not exist or has no seed. On failure
 * seed[0..cap) is wiped.
 */
int db_totp_get_secret(struct db *db, const char *user, uint8_t *seed,
    size_t cap, size_t *lenp, struct db_totp_state *statep) WUR;

/*
 * Records that user's code for time step was accepted: a compare-and-set
 * in one write transaction, so that of two logins racing with the same
 * code exactly one wins. ERR_CONFLICT when step <= the last accepted
 * step (a replay; nothing changes). On ERR_OK the failure count is reset;
 * only then may the caller let the user in.
 */
int db_totp_record_success(struct db *db, const char *user,
    uint64_t step) WUR;

/*
 * Counts one wrong code for user, atomically; *failuresp (may be NULL)
 * gets the new count, from which the caller decides a lock-out.
 */
int db_totp_record_failure(struct db *db, const char *user,
    uint32_t *failuresp) WUR;

/*
 * Locks user's TOTP until the Unix time until. A lock is only ever
 * extended here; db_totp_clear lifts it.
 */
int db_totp_lock(struct db *db, const char *user, int64_t until) WUR;

/* Resets user's failure count and lifts the lock (an admin's unlock). */
int db_totp_clear(struct db *db, const char *user) WUR;

/* Removes user's seed (and counters) altogether. */
int db_totp_del(struct db *db, const char *user) WUR;

/* ---- Targets and their host keys ---------------------------------------- */

#define DB_SENSITIVITY_MAX 3

struct db_target {
	char *name;
	char *host;
	uint16_t port;
	int sensitivity;	/* 0 routine ... 3 critical */
	char *group;
	int64_t created;
};

/* Adds a target; name is unique. port 1-65535, sensitivity 0-3. */
int db_target_add(struct db *db, const char *name, const char *host,
    uint16_t port, const char *group, int sensitivity) WUR;
int db_target_get(struct db *db, const char *name, struct db_target *out) WUR;
/* All targets in name order (db_target_array_free). */
int db_target_list(struct db *db, struct db_target **out, size_t *n) WUR;
/* Deletes the target and its host key; sessions stay, as for users. */
int db_target_del(struct db *db, const char *name) WUR;
void db_target_release(struct db_target *t);
void db_target_array_free(struct db_target *a, size_t n);

struct db_hostkey {
	char *target;
	char *key_line;
	char *fingerprint;
	int64_t pinned;		/* when it was set, Unix seconds */
};

/*
 * Pins key_line (fingerprint computed by the caller) as target's host key,
 * replacing the one pinned before (a rekey).
 */
int db_hostkey_set(struct db *db, const char *target, const char *key_line,
    const char *fingerprint) WUR;
/* ERR_NOTFOUND when the target does not exist or has no key pinned. */
int db_hostkey_get(struct db *db, const char *target,
    struct db_hostkey *out) WUR;
void db_hostkey_release(struct db_hostkey *h);

/* ---- Grants ------------------------------------------------------------- */

/* Members of role may log in as login on targets of target_group. */
struct db_grant {
	char *role;
	char *target_group;
	char *login;
};

/* Each (role, target_group, login) is stored once (ERR_EXISTS). */
int db_grant_add(struct db *db, const char *role, const char *target_group,
    const char *login) WUR;
/* role's grants (every grant when role is NULL), sorted. */
int db_grant_list(struct db *db, const char *role, struct db_grant **out,
    size_t *n) WUR;
/*
 * ERR_OK when exactly this grant exists, ERR_NOTFOUND when it does not.
 * Strings compare exactly; policy (policy/) builds on this.
 */
int db_grant_match(struct db *db, const char *role, const char *target_group,
    const char *login) WUR;
int db_grant_del(struct db *db, const char *role, const char *target_group,
    const char *login) WUR;
void db_grant_release(struct db_grant *g);
void db_grant_array_free(struct db_grant *a, size_t n);

/* ---- Sessions ----------------------------------------------------------- */

/*
 * A session through the gateway. user and target are names, copied at
 * start: the record outlives both. ended is 0 while the session runs.
 */
struct db_session {
	uint64_t id;		/* also the certificate serial */
	char *user;
	char *target;
	char *login;
	char *kind;		/* "interactive", "exec", "sftp", "scp", ... */
	int64_t started;
	int64_t ended;
	int exit_status;
	uint64_t bytes_in;
	uint64_t bytes_out;
	char *recording_hash;	/* NULL when nothing was recorded */
};

/*
 * Starts a session record; *idp gets its id, >= 1 and never reused, even
 * after sessions are deleted from the file by other tools.
 */
int db_session_start(struct db *db, const char *user, const char *target,
    const char *login, const char *kind, int64_t started, uint64_t *idp) WUR;
/*
 * Ends session id. recording_hash may be NULL. ERR_NOTFOUND for an
 * unknown id, ERR_CONFLICT when the session has ended already.
 */
int db_session_end(struct db *db, uint64_t id, int64_t ended,
    int exit_status, uint64_t bytes_in, uint64_t bytes_out,
    const char *recording_hash) WUR;
int db_session_get(struct db *db, uint64_t id, struct db_session *out) WUR;
/*
 * The newest max sessions (all when max is 0) of user (everyone's when
 * NULL), newest first (db_session_array_free).
 */
int db_session_list(struct db *db, const char *user, size_t max,
    struct db_session **out, size_t *n) WUR;
void db_session_release(struct db_session *s);
void db_session_array_free(struct db_session *a, size_t n);

/* ---- Logins ------------------------------------------------------------ */

/*
 * A live login to the gateway: the sshd process that holds one user's SSH
 * connection (its monitor), named for good by this boot's id, its pid and
 * its start time in clock ticks after boot (common/proc.h). Deleting the
 * user deletes their logins.
 */
struct db_login {
	uint64_t id;		/* never reused */
	char *user;
	char *boot;
	int64_t pid;
	int64_t pid_start;
	char *rhost;		/* "" when sshd did not say */
	int64_t opened;		/* Unix seconds */
};

/*
 * Records a login of user; *idp gets its id. ERR_NOTFOUND for an unknown
 * user, ERR_EXISTS when the same process already has one.
 */
int db_login_add(struct db *db, const char *user, const char *boot,
    int64_t pid, int64_t pid_start, const char *rhost, int64_t opened,
    uint64_t *idp) WUR;
/* The login of the process (boot, pid, pid_start), or ERR_NOTFOUND. */
int db_login_find(struct db *db, const char *boot, int64_t pid,
    int64_t pid_start, struct db_login *out) WUR;
int db_login_get(struct db *db, uint64_t id, struct db_login *out) WUR;
/* Every recorded login, oldest first (db_login_array_free). */
int db_login_list(struct db *db, struct db_login **out, size_t *n) WUR;
/* ERR_NOTFOUND when there is no login id (ended already). */
int db_login_del(struct db *db, uint64_t id) WUR;
void db_login_release(struct db_login *l);
void db_login_array_free(struct db_login *a, size_t n);

#endif
