/*
 * wbehind.c - write-behind for the file ranges a restore writes
 * (wbehind.h says why).
 */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "backup/wbehind.h"
#include "common/banned.h"

void
wbehind_init(struct wbehind *w)
{
	memset(w, 0, sizeof(*w));
}

/* The oldest range: its write waited for, its pages dropped. */
static void
retire(struct wbehind *w)
{
	size_t i = w->head;

	(void)sync_file_range(w->r[i].fd, w->r[i].off, w->r[i].len,
	    SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
	    SYNC_FILE_RANGE_WAIT_AFTER);
	(void)posix_fadvise(w->r[i].fd, w->r[i].off, w->r[i].len,
	    POSIX_FADV_DONTNEED);
	close(w->r[i].fd);
	w->bytes -= (uint64_t)w->r[i].len;
	w->head = (w->head + 1) % WBEHIND_SLOTS;
	w->n--;
}

void
wbehind_add(struct wbehind *w, int fd, off_t off, off_t len)
{
	size_t i;
	int d;

	if (len < (off_t)WBEHIND_MIN)
		return;
	(void)sync_file_range(fd, off, len, SYNC_FILE_RANGE_WRITE);
	if ((d = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0)
		return;		/* out of descriptors: the kernel's pace */
	while (w->n == WBEHIND_SLOTS ||
	    (w->n > 0 && w->bytes + (uint64_t)len > WBEHIND_BYTES))
		retire(w);
	i = (w->head + w->n) % WBEHIND_SLOTS;
	w->r[i].fd = d;
	w->r[i].off = off;
	w->r[i].len = len;
	w->bytes += (uint64_t)len;
	w->n++;
}

void
wbehind_end(struct wbehind *w)
{
	while (w->n > 0) {
		close(w->r[w->head].fd);
		w->head = (w->head + 1) % WBEHIND_SLOTS;
		w->n--;
	}
	w->bytes = 0;
}
