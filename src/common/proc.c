/*
 * proc.c - process facts from /proc (proc.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/encoding.h"
#include "common/proc.h"
#include "common/banned.h"

/* /proc/PID/stat is about 300 bytes; the name is at most 64. */
#define STAT_MAX	1024
/* After the command name: state is field 3, ppid 4, starttime 22. */
#define FIELD_PPID	4
#define FIELD_START	22

int
proc_stat_parse(const char *buf, size_t len, struct proc_info *out)
{
	const char *p = NULL, *end = buf + len;
	uint64_t v, ppid = 0;
	size_t i;
	int field;

	memset(out, 0, sizeof(*out));
	for (i = len; i > 0; i--) {
		if (buf[i - 1] == ')') {
			p = buf + i;
			break;
		}
	}
	if (p == NULL || memchr(buf, '(', (size_t)(p - buf)) == NULL)
		return ERR_FORMAT;
	/* " S 1234 ...": field 3 starts after one space. */
	for (field = 3; field <= FIELD_START; field++) {
		const char *f;

		if (p >= end || *p != ' ')
			return ERR_FORMAT;
		f = ++p;
		while (p < end && *p != ' ' && *p != '\n')
			p++;
		if (field == FIELD_PPID) {
			if (enc_u64_parse(f, (size_t)(p - f), &ppid) != ERR_OK ||
			    ppid > (uint64_t)INT32_MAX)
				return ERR_FORMAT;
		} else if (field == FIELD_START) {
			if (enc_u64_parse(f, (size_t)(p - f), &v) != ERR_OK)
				return ERR_FORMAT;
			out->start = v;
		} else if (p == f) {
			return ERR_FORMAT;
		}
	}
	out->ppid = (pid_t)ppid;
	return ERR_OK;
}

int
proc_info_get(pid_t pid, struct proc_info *out)
{
	char path[64], buf[STAT_MAX];
	ssize_t n;
	int fd, r;

	memset(out, 0, sizeof(*out));
	if (pid <= 0)
		return ERR_INVAL;
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT || errno == ESRCH ? ERR_NOTFOUND : ERR_IO;
	do {
		n = read(fd, buf, sizeof(buf));
	} while (n < 0 && errno == EINTR);
	r = errno;
	close(fd);
	if (n < 0)
		return r == ESRCH ? ERR_NOTFOUND : ERR_IO;
	if ((size_t)n == sizeof(buf))
		return ERR_FORMAT;
	return proc_stat_parse(buf, (size_t)n, out);
}

int
proc_guarded(pid_t pid)
{
	char path[64], buf[STAT_MAX * 4], *t;
	struct stat st;
	ssize_t n;
	int fd, e;

	if (pid <= 0)
		return ERR_INVAL;
	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return errno == ENOENT || errno == ESRCH ? ERR_NOTFOUND : ERR_IO;
	if (fstat(fd, &st) != 0) {
		close(fd);
		return ERR_IO;
	}
	do {
		n = read(fd, buf, sizeof(buf) - 1);
	} while (n < 0 && errno == EINTR);
	e = errno;
	close(fd);
	if (n < 0)
		return e == ESRCH ? ERR_NOTFOUND : ERR_IO;
	buf[n] = '\0';
	if ((t = strstr(buf, "\nTracerPid:\t")) == NULL)
		return ERR_FORMAT;
	t += strlen("\nTracerPid:\t");
	return st.st_uid == 0 && t[0] == '0' && t[1] == '\n';
}

uint64_t
proc_boot_ticks(int64_t boot_ns)
{
	long hz = sysconf(_SC_CLK_TCK);

	if (boot_ns < 0 || hz <= 0 || hz > 1000000000L)
		return 0;
	/* As the kernel rounds a start time: down, to whole ticks. */
	return (uint64_t)boot_ns / (uint64_t)(1000000000L / hz);
}

int
proc_boot_id(char out[PROC_BOOT_ID_LEN + 1])
{
	char buf[PROC_BOOT_ID_LEN + 2];
	ssize_t n;
	size_t i;
	int fd;

	out[0] = '\0';
	fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ERR_IO;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n < PROC_BOOT_ID_LEN)
		return ERR_IO;
	for (i = 0; i < PROC_BOOT_ID_LEN; i++) {
		char c = buf[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
		    c == '-'))
			return ERR_FORMAT;
	}
	memcpy(out, buf, PROC_BOOT_ID_LEN);
	out[PROC_BOOT_ID_LEN] = '\0';
	return ERR_OK;
}
