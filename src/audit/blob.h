/*
 * blob.h - content-addressed blobs stored beside the log.
 *
 * Payloads too large for an entry (session recordings, later) are stored
 * as DIR/blob/sha256/<64 hex digits>, named by the SHA-256 of their bytes,
 * and referenced from an entry's detail as "sha256:<hex>". The entry's
 * leaf hash then binds the blob: altering a blob breaks its name, and
 * renaming it breaks the entry. Blobs are written temp-file -> fsync ->
 * rename and never overwritten.
 */
#ifndef BULWARK_AUDIT_BLOB_H
#define BULWARK_AUDIT_BLOB_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define BLOB_HEX_LEN 64
#define BLOB_MAX_SIZE (1ULL << 34)	/* 16 GiB */

/*
 * Stores everything read from fd as a blob of DIR; hex (65 bytes) gets
 * its name. Storing the same bytes twice keeps the first copy.
 */
int audit_blob_put_fd(const char *dir, int fd, char hex[BLOB_HEX_LEN + 1]) WUR;

/*
 * Takes the file open as fd as a blob without copying it: the caller
 * wrote it through fd and hashed every byte into h as it went. fsyncs
 * it, makes it 0644 as copied blobs are, links the file fd names (not a
 * path someone could swap) in under its name, keeping an existing copy,
 * and fsyncs the blob directory; hex gets the name. The caller then
 * unlinks its own name for it. ERR_UNSUPPORTED when the file is on
 * another filesystem than dir (copy it with audit_blob_put_fd instead).
 */
int audit_blob_adopt(const char *dir, int fd, const uint8_t h[32],
    char hex[BLOB_HEX_LEN + 1]) WUR;

/*
 * Checks that blob hex exists and that its bytes hash to its name, and
 * copies it to out_fd when out_fd >= 0 (only after the check passed).
 * ERR_NOTFOUND, ERR_MISMATCH, ERR_FORMAT (hex is not 64 lowercase hex).
 */
int audit_blob_get(const char *dir, const char *hex, int out_fd) WUR;

#endif
