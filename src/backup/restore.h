/*
 * restore.h - reading backups back: restoring a snapshot into a
 * directory, and the full read check of a vault.
 *
 * Both need the admin key (keys.h): its vault secret key opens packs, and
 * its repository secret gives the chunk ID key, against which every chunk
 * read is checked (chunk_id() of the bytes must be the ID the tree or the
 * pack index names), so that a pack holding the wrong bytes under an
 * authentic ID is caught, not restored.
 *
 * What a snapshot is (the backup engine writes exactly this): a verified
 * manifest (vault_snapshot_list) whose root_id is the chunk ID of the root
 * tree node; every chunk the snapshot references, tree nodes and file
 * data, is in one of the packs the manifest lists. The root node holds the
 * top-level entries of the paths backed up: /srv/mail and /etc give "etc"
 * and "srv", and "srv" (with the real metadata of /srv) holds "mail".
 *
 * Restoring, in outline: the listed packs' indexes give a chunk ID -> pack
 * map; the calling thread walks the tree, creating directories, symbolic
 * links, fifos, sockets and devices itself and handing regular files to
 * o->threads workers, which create them, fetch their chunks (each worker
 * keeps its own small cache of open pack readers), write them with pwrite
 * (holes stay holes: nothing is written there and the size is set with
 * ftruncate), and set their metadata. Files larger than 32 MiB are split
 * between workers. A directory's metadata is set once everything in it is
 * done, so its times are the snapshot's.
 *
 * Safety against a hostile snapshot or a hostile target directory:
 * everything is created relative to open directory descriptors with
 * O_CREAT|O_EXCL|O_NOFOLLOW, mkdirat, symlinkat, mknodat, linkat, and
 * directories are opened with O_NOFOLLOW, so no symbolic link (from the
 * snapshot or put there by someone else) is ever followed inside the
 * target. Names are checked by tree_parse() (no "/", not "." or "..").
 * Directories are created 0700 and get their own mode at the end. The
 * target must be missing (it is created, 0700) or an empty directory.
 *
 * Metadata: mode (setuid, setgid and sticky included), owner (by user and
 * group name when the name exists on this system, else by number; by
 * number always with numeric_owner; only when running as root), mtime to
 * the nanosecond (atime is left alone: the snapshot has none), extended
 * attributes including ACLs (system.posix_acl_access/default). Order:
 * chown, xattrs (chown drops security.capability), chmod (chown clears
 * setuid; a read-only file still takes user.* xattrs before it), times.
 * Metadata the target refuses (xattrs on a file system without them, a
 * chown as non-root is not tried) counts as a warning, not an error.
 * ctime cannot be set and is not. Hard links: entries anywhere in the
 * snapshot with the same non-zero hard-link group are one inode; the first
 * restored is created, the others are linked to it (an entry whose type
 * differs from the first's is restored on its own, with a warning, so a
 * file is never linked to, and written through, a symbolic link).
 *
 * Errors while reading the snapshot (a chunk missing from the listed
 * packs, a damaged pack, a tree node that does not parse) are reported,
 * counted in st->errors, and the restore goes on with the rest: a file
 * with a missing chunk keeps zeros in its place and is named in the
 * report. Errors writing the target (no space, read-only, I/O) stop the
 * restore.
 *
 * Resource use: a descriptor per directory level being restored, per
 * file created ahead of its job (split and hard-linked files; at most the
 * queue's 512) and per open pack (16 per thread); a deep tree may need
 * more than the usual soft limit of 1024 descriptors, so callers should
 * raise RLIMIT_NOFILE to its hard limit first.
 */
#ifndef BULWARK_BACKUP_RESTORE_H
#define BULWARK_BACKUP_RESTORE_H

#include <stddef.h>
#include <stdint.h>

#include "backup/keys.h"
#include "backup/manifest.h"
#include "common/err.h"
#include "vault/store.h"

/* Tree depth beyond which a snapshot is refused as hostile. */
#define RESTORE_MAX_DEPTH	4096
/*
 * Tree nodes held at once (the directories being walked and those whose
 * files are still being written), in bytes of node: past it a directory
 * is refused as hostile (a chain of huge nodes would exhaust memory, each
 * parsed node taking about five times its size). Real trees hold a few
 * MiB.
 */
#define RESTORE_MAX_TREE_BYTES	((size_t)256 << 20)
/* Worker threads when the caller says 0. */
#define RESTORE_THREADS		2
#define RESTORE_THREADS_MAX	64

struct restore_stats {
	uint64_t files;		/* regular files (each inode once) */
	uint64_t dirs;		/* directories created */
	uint64_t links;		/* more names of a hard-linked inode */
	uint64_t symlinks;
	uint64_t others;	/* fifos, sockets, devices */
	uint64_t bytes;		/* file data written (not holes) */
	uint64_t warnings;	/* metadata the target refused */
	uint64_t errors;	/* entries not restored, or with missing data */
};

struct restore_opts {
	const char *to;			/* the target directory */
	/*
	 * fnmatch(3) patterns (flags 0) matched against "/" and the path
	 * relative to the snapshot's root ("/etc/passwd"): with any given,
	 * an entry is restored when it or one of its ancestors matches; the
	 * directories on the way are created with their metadata. None:
	 * everything is restored.
	 */
	const char *const *includes;
	size_t nincludes;
	int numeric_owner;		/* owners by number, ignoring names */
	int threads;			/* 0: RESTORE_THREADS */
	size_t max_tree_bytes;		/* 0: RESTORE_MAX_TREE_BYTES */
	/*
	 * Both optional. progress is called from the calling thread about
	 * four times a second and once at the end. report gets each error
	 * and the first warnings, one line without a newline; calls are
	 * serialized but may come from any of the threads.
	 */
	void (*progress)(const struct restore_stats *st, void *arg);
	void (*report)(const char *msg, void *arg);
	void *arg;
};

/*
 * Restores snapshot s of vault v into o->to with the admin key k (only
 * read). ERR_OK when everything was restored (st->warnings may still be
 * non-zero). Otherwise why gets a one-line reason: the first error, and
 * how many there were. Codes:
 *	ERR_EXISTS	o->to exists and is not an empty directory
 *	ERR_NOTFOUND	a chunk (or the root node) is in none of the
 *			snapshot's packs, or a listed pack is not in the vault
 *	ERR_MISMATCH	a chunk's bytes do not hash to its ID, or its
 *			length differs from the tree's; or the admin key is
 *			not this vault's
 *	ERR_SIGNATURE	a pack does not open with the key (altered bytes)
 *	ERR_FORMAT	a damaged pack or tree node
 *	ERR_TOOBIG	a tree deeper than RESTORE_MAX_DEPTH, or holding
 *			more than max_tree_bytes of nodes at once
 *	ERR_IO		writing the target failed (errno in why)
 *	ERR_NOMEM, ERR_INVAL, ERR_CRYPTO
 * st, when not NULL, gets the counts in any case.
 */
int restore_snapshot(const struct vault *v, const struct vault_snapshot *s,
    const struct admin_key *k, const struct restore_opts *o,
    struct restore_stats *st, char *why, size_t whylen) WUR;

/* ---- Reading ahead while the key is unwrapped ---------------------------- */

/*
 * A restore after a disaster reads a vault nobody has read for a while,
 * and no pack can be opened before the admin key is unwrapped: a second
 * or more of Argon2id, after however long the passphrase takes to type.
 * The packs a snapshot needs are named in its manifest, which needs no
 * key, so meanwhile a thread asks the kernel to read them into the page
 * cache (posix_fadvise WILLNEED), in the manifest's order, which is the
 * order the restore reads their indexes in. It stops at the end, before
 * the first pack that would take it past budget bytes (0: half the memory
 * free at the start), or at restore_prefetch_stop. Nothing read is looked
 * at: the restore checks every byte as before.
 *
 * m (its pack list) must outlive restore_prefetch_stop; *out is NULL (and
 * ERR_OK) when there is nothing to read. A failure to start costs only
 * the head start.
 * stop waits for the thread (a request under way completes) and returns
 * how many bytes it asked for; p may be NULL.
 */
struct restore_prefetch;
int restore_prefetch_start(const struct vault *v, const struct manifest *m,
    uint64_t budget, struct restore_prefetch **out) WUR;
uint64_t restore_prefetch_stop(struct restore_prefetch *p);

/* ---- Reading everything back -------------------------------------------- */

struct check_stats {
	uint64_t packs_total;	/* packs in the vault */
	uint64_t packs;		/* packs read so far */
	uint64_t pack_bytes;	/* their size */
	uint64_t chunks;	/* chunks decrypted and checked */
	uint64_t bytes;		/* their plain length */
	uint64_t snapshots;	/* snapshots walked */
	uint64_t nodes;		/* tree nodes parsed */
	uint64_t errors;
};

struct check_opts {
	int threads;		/* 0: RESTORE_THREADS */
	/* Optional, from the calling thread about four times a second. */
	void (*progress)(const struct check_stats *st, void *arg);
	void *arg;
};

/*
 * Reads the whole vault back with the admin key k. First every pack in
 * packs/: its name is the SHA-256 of its bytes, it opens with the vault
 * secret key, and every chunk decrypts and hashes (chunk_id) to its ID.
 * Then every snapshot: its manifest names this vault's key, every listed
 * pack exists, the root node is in the root pack, and a walk of every tree
 * from the root finds every node and every file chunk in the snapshot's
 * listed packs, undamaged and of the length the tree says, and every node
 * parses. Malformed snapshot records count as errors.
 *
 * Each problem goes to report (serialized, possibly from a worker thread)
 * and counts in st->errors. Returns ERR_OK when there were none,
 * ERR_MISMATCH when there were some, or another code when the check
 * itself could not run (ERR_NOMEM, ERR_IO listing the vault; ERR_MISMATCH
 * too when k is not this vault's key).
 */
int check_read_data(const struct vault *v, const struct admin_key *k,
    const struct check_opts *o, struct check_stats *st,
    void (*report)(const char *msg, void *arg), void *arg) WUR;

#endif
