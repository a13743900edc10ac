/*
 * wbehind.h - write-behind for the file ranges a restore writes.
 *
 * A restore writes far more than it will read back. Left to itself, every
 * byte it writes stays in the page cache, dirty, until the kernel's
 * flusher gets to it: a restore larger than memory first pushes out all
 * the machine had cached, then stalls on dirty-page throttling, and every
 * file takes fresh pages (on a virtual machine whose free memory goes
 * back to the host, each of those is a fault in the host too).
 *
 * Each range handed to wbehind_add is sent to the disk at once
 * (sync_file_range WRITE, which does not wait). Once WBEHIND_BYTES more
 * have followed it, wbehind_add waits for that range's write to end and
 * drops its pages (POSIX_FADV_DONTNEED): the thread's share of the page
 * cache stays near WBEHIND_BYTES and its pages are reused while they are
 * still warm. Ranges under WBEHIND_MIN are left to the kernel: for them
 * the calls would cost more than they save.
 *
 * Hints only. The data was written before it is handed here, errors are
 * ignored, and nothing here decides what reaches the disk or when the
 * restore is durable. One wbehind per thread.
 */
#ifndef BULWARK_BACKUP_WBEHIND_H
#define BULWARK_BACKUP_WBEHIND_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define WBEHIND_SLOTS	32
#define WBEHIND_BYTES	(32ull << 20)
#define WBEHIND_MIN	(256ull << 10)

struct wbehind {
	struct {
		int fd;		/* a dup: the file may be closed meanwhile */
		off_t off, len;
	} r[WBEHIND_SLOTS];
	size_t head, n;
	uint64_t bytes;		/* in the ranges held */
};

void wbehind_init(struct wbehind *w);

/* [off, off + len) of fd was just written. */
void wbehind_add(struct wbehind *w, int fd, off_t off, off_t len);

/* Lets go of the ranges held, without waiting for their writes. */
void wbehind_end(struct wbehind *w);

#endif
