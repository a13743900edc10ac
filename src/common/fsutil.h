/*
 * fsutil.h - durable file operations.
 *
 * Every write path in Bulwark goes through these, so that fault injection
 * (fault.h) reaches all of them and so that "durable" means one thing:
 * data written, file fsync'ed, renamed into place, directory fsync'ed.
 */
#ifndef BULWARK_COMMON_FSUTIL_H
#define BULWARK_COMMON_FSUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/err.h"

/* write(2) until done, retrying EINTR. ERR_IO with errno set on failure. */
int fs_write_all(int fd, const void *buf, size_t len) WUR;
/* pwrite(2) until done. */
int fs_pwrite_all(int fd, const void *buf, size_t len, off_t off) WUR;
/* fdatasync(2) or fsync(2) when full is set. */
int fs_sync(int fd, int full) WUR;
int fs_rename(const char *from, const char *to) WUR;
/* Opens dir and fsyncs it, so that a rename or create in it is durable. */
int fs_sync_dir(const char *dir) WUR;
/*
 * syncfs(2) on the file system holding fd: makes every earlier write to it
 * durable in one call, for files written without their own fsync.
 */
int fs_syncfs(int fd) WUR;
/*
 * Makes the pipe fd (either end) hold 1 MiB, or as much as the system
 * allows; not a pipe, or refused: nothing changes. A bulk stream through
 * a 64 KiB pipe costs a wake-up per 64 KiB, and behind sshd it made sshd
 * keep up to its channel window (2 MiB) in a buffer it reallocates on
 * every read: 1.1 s of a 4 MiB upload, here.
 */
void fs_pipe_grow(int fd);
/* Like mkdir -p; existing directories are fine. */
int fs_mkdirs(const char *path, mode_t mode) WUR;

#define FS_NOSYNC 0x1	/* skip the fsyncs: the caller makes it durable */
#define FS_EXCL 0x2	/* fail with ERR_EXISTS if path exists */

/*
 * Replaces path with data atomically: a temporary file in the same
 * directory, written, fsync'ed, renamed over path, directory fsync'ed.
 * A crash leaves either the old or the new contents, never a mix.
 */
int fs_write_atomic(const char *path, const void *data, size_t len,
    mode_t mode, int flags) WUR;

/*
 * Reads a whole file of at most max bytes into a new NUL-terminated buffer
 * (*out, freed by the caller; *len excludes the NUL). ERR_NOTFOUND when
 * the file does not exist, ERR_TOOBIG when it is larger than max.
 */
int fs_read_file(const char *path, size_t max, char **out, size_t *len) WUR;

#endif
