/*
 * store.h - the vault directory: what is in it and the only ways it
 * changes. Everything here works without any decryption key.
 *
 * Layout of a vault directory DIR:
 *
 *	vault.conf		"bulwark vault v1\nvault-key <base64 X25519>\n"
 *	keys/repo.key		"repo-key <base64 repository secret>\n", mode
 *				0600, owned by root: only `vault enroll` reads
 *				it; `vault receive` runs as the vault's SSH user
 *				and never can
 *	log/			the vault's own audit log (audit/log.h)
 *	hosts/HOST		an enrolled host: "sign-key <base64 Ed25519
 *				public key>\nquota <bytes, 0 = none>\n
 *				ssh-key <authorized key>\n"
 *	packs/XX/NAME		a pack (pack.h), NAME its 64-hex SHA-256, XX
 *				its first two digits; mode 0444; never
 *				rewritten, never removed by receive
 *	received/HOST		append-only: one line "NAME SIZE\n" per pack
 *				accepted from HOST, after the pack is durable;
 *				quota and snapshot references count from it
 *	snapshots/HOST/ID	a snapshot record: "BWSR", u32 version 1,
 *				u64 the vault's receive time (seconds), then
 *				the manifest bytes exactly as the host signed
 *				them (manifest.h); ID is its 32-hex snapshot ID
 *	tmp/			uploads in progress (tmp/upload.PID.N)
 *
 * Durability: a pack is written to tmp/, fsync'ed, checked, linked to its
 * name (never replacing a file), the directory fsync'ed, and only then
 * listed in received/HOST (fdatasync) and acknowledged. A crash at any
 * point leaves either no trace but a temporary file, or a durable pack
 * that no snapshot references yet. Snapshots are written the same way.
 */
#ifndef BULWARK_VAULT_STORE_H
#define BULWARK_VAULT_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "backup/keys.h"
#include "backup/manifest.h"
#include "backup/pack.h"
#include "common/err.h"

#define VAULT_MAGIC		"bulwark vault v1"
#define VAULT_SNAP_MAGIC	"BWSR"
#define VAULT_SNAP_HEADER_LEN	16
/* Manifests the vault takes: far above any real one (64 MiB is about a
 * million packs, 32 TiB of data), far below MANIFEST_MAX_LEN. */
#define VAULT_MANIFEST_MAX	(64u * 1024 * 1024)
#define VAULT_SSH_KEY_MAX	8192

struct vault;

struct vault_host {
	char name[MANIFEST_HOST_MAX + 1];
	uint8_t sign_pk[MANIFEST_PK_LEN];
	uint64_t quota;			/* bytes of packs; 0: none */
	char ssh_key[VAULT_SSH_KEY_MAX];	/* the authorized key line */
};

/* What received/HOST says: pack names (sorted, unique) and their sizes. */
struct vault_received {
	char (*names)[PACK_NAME_HEX_LEN + 1];
	uint64_t *sizes;
	size_t n;
	uint64_t total;		/* sum of vault_quota_charge(size) */
};

/*
 * What a file of size bytes costs against a host's quota: its size
 * rounded up to a 4 KiB block, since every file takes at least one on
 * disk (a stream of tiny packs must not cost more disk than it is
 * charged).
 */
#define VAULT_QUOTA_BLOCK	4096
uint64_t vault_quota_charge(uint64_t size);

struct vault_snapshot {
	char host[MANIFEST_HOST_MAX + 1];
	char id[MANIFEST_ID_HEX_LEN + 1];
	uint64_t received;		/* the vault's clock */
	uint8_t *raw;			/* the manifest as signed */
	size_t rawlen;
	struct manifest *m;		/* parsed, signature checked */
};

/*
 * Creates DIR (it must not exist or be empty) with the layout above, its
 * audit log (origin given) and the first event. *log_vkey gets the log's
 * verifier key (malloc'd). why gets a one-line reason on failure.
 */
int vault_create(const char *dir, const uint8_t vault_pk[PACK_PK_LEN],
    const uint8_t repo_secret[REPO_SECRET_LEN], const char *origin,
    char **log_vkey, char *why, size_t whylen) WUR;

/* Opens an existing vault (reads vault.conf only: a copy works). */
int vault_open(const char *dir, struct vault **out, char *why,
    size_t whylen) WUR;
void vault_close(struct vault *v);

const char *vault_dir(const struct vault *v);
const uint8_t *vault_pk(const struct vault *v);
const uint8_t *vault_key_id(const struct vault *v);

/* Reads keys/repo.key (root only). */
int vault_repo_secret(const struct vault *v,
    uint8_t out[REPO_SECRET_LEN]) WUR;

/* ---- Hosts ----------------------------------------------------------- */

/* Registers h; ERR_EXISTS when the host is already enrolled. */
int vault_host_add(struct vault *v, const struct vault_host *h) WUR;
/* ERR_NOTFOUND when the host is not enrolled. */
int vault_host_get(const struct vault *v, const char *name,
    struct vault_host *out) WUR;

/* ---- Packs ------------------------------------------------------------ */

/* True when name is a pack name: 64 lowercase hex digits. */
int vault_pack_name_ok(const char *name);

/* DIR/packs/XX/NAME into buf; ERR_FORMAT for a name that is not 64 hex. */
int vault_pack_path(const struct vault *v, const char *name, char *buf,
    size_t cap) WUR;

/*
 * Opens a pack read-only; returns the descriptor or a negative ERR_*:
 * ERR_NOTFOUND, ERR_FORMAT for anything but a regular file, ERR_IO.
 */
int vault_pack_open(const struct vault *v, const char *name);

/* Every pack file's name, sorted (malloc'd array, *n entries). */
int vault_pack_list(const struct vault *v,
    char (**names)[PACK_NAME_HEX_LEN + 1], size_t *n) WUR;

/*
 * An upload: bytes go to a temporary file as they arrive and are hashed
 * on the way. Commit checks the name, the keyless structure and the key
 * ID, makes the pack durable under its name and lists it for host.
 * *existed is set when a pack of that name was already there (its bytes
 * are then the same: the name is their hash); the temporary file goes
 * and the vault is unchanged but for received/HOST. On any error the
 * upload is over (abort is still needed) and nothing changed.
 *   ERR_MISMATCH   the bytes do not hash to name
 *   ERR_FORMAT     not a well-formed pack (pack_check_structure)
 *   ERR_NOTFOUND   sealed to another vault key
 */
struct vault_upload;
int vault_upload_begin(struct vault *v, struct vault_upload **out) WUR;
int vault_upload_write(struct vault_upload *u, const void *p, size_t n) WUR;
uint64_t vault_upload_size(const struct vault_upload *u);
/* listed: the host's received list already names it (not appended). */
int vault_upload_commit(struct vault_upload *u, const char *name,
    const char *host, int listed, int *existed) WUR;
void vault_upload_abort(struct vault_upload *u);

/*
 * Removes uploads, and temporary snapshot records, whose writer process
 * is gone (a receive killed in the middle): they were never
 * acknowledged. *removed counts them.
 */
int vault_tmp_sweep(struct vault *v, size_t *removed) WUR;

/*
 * Holds host's receive lock in *fd (LOCK_EX on locks/HOST): one receive
 * per host at a time, so that the quota each one reads at its start
 * stays true and two cannot interleave appends to its list. Waits up to
 * wait_ms, then ERR_LOCKED. Closing *fd releases it.
 */
int vault_host_lock(const struct vault *v, const char *host, int wait_ms,
    int *fd) WUR;

/* ---- Received lists --------------------------------------------------- */

int vault_received_load(const struct vault *v, const char *host,
    struct vault_received *out) WUR;
int vault_received_has(const struct vault_received *r, const char *name);
/* What host's snapshot records cost against its quota (their charges). */
int vault_snapshot_charges(const struct vault *v, const char *host,
    uint64_t *bytes) WUR;
void vault_received_free(struct vault_received *r);

/* ---- Snapshots -------------------------------------------------------- */

/*
 * Stores a verified manifest for host with the vault's receive time.
 * ERR_EXISTS when the snapshot ID is already there (nothing changes).
 */
int vault_snapshot_put(struct vault *v, const char *host,
    const uint8_t *manifest, size_t len, uint64_t received) WUR;

/*
 * Every snapshot, oldest receive time first, each manifest verified with
 * its host's registered key. A record that does not parse or verify is
 * reported through bad (may be NULL; called with the path and a reason)
 * and skipped.
 */
int vault_snapshot_list(const struct vault *v, struct vault_snapshot **out,
    size_t *n, void (*bad)(const char *path, const char *why, void *arg),
    void *arg) WUR;
void vault_snapshots_free(struct vault_snapshot *s, size_t n);
/*
 * The same one record at a time, host by host, in no particular order:
 * a walk over a vault of any size in the memory of one manifest. fn gets
 * each verified snapshot; what is left in s->m and s->raw when it returns
 * is freed (fn may take them, setting them NULL). A non-zero return from
 * fn stops the walk and is returned.
 */
int vault_snapshot_each(const struct vault *v,
    int (*fn)(struct vault_snapshot *s, void *arg), void *arg,
    void (*bad)(const char *path, const char *why, void *arg),
    void *bad_arg) WUR;

/*
 * The one snapshot of host (NULL: any) whose ID starts with prefix (4 to
 * 32 hex digits), read with vault_snapshot_each (one manifest in memory
 * at a time) into *out (vault_snapshot_release): ERR_NOTFOUND,
 * ERR_CONFLICT when several match (*out is then empty), or an error of
 * the walk. IDs are chosen by the hosts, so one host can send another's
 * ID to make it ambiguous; naming the host settles it.
 */
int vault_snapshot_get(const struct vault *v, const char *host,
    const char *prefix, struct vault_snapshot *out,
    void (*bad)(const char *path, const char *why, void *arg),
    void *bad_arg) WUR;
void vault_snapshot_release(struct vault_snapshot *s);

/* ---- Audit ------------------------------------------------------------ */

/*
 * Appends one event to the vault's audit log (durable on return). The
 * log takes one writer at a time: this waits up to 30 s for the lock, so
 * that several hosts may send at once. detail is a JSON object text or
 * NULL.
 */
int vault_audit(struct vault *v, const char *actor, const char *source,
    const char *action, const char *decision, const char *target,
    const char *detail_json) WUR;

#endif
