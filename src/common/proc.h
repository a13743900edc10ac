/*
 * proc.h - what /proc says about a process: its parent and when it
 * started. bulwarkd uses it to tell whether a process is part of a live
 * gateway login (daemon/login.c), without trusting anything the process
 * says about itself.
 *
 * A pid alone names a process only while it lives: once it exits the
 * kernel may hand the pid to another. A pid together with its start time
 * (clock ticks since boot) and the boot id names one process for good.
 */
#ifndef BULWARK_COMMON_PROC_H
#define BULWARK_COMMON_PROC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/err.h"

#define PROC_BOOT_ID_LEN	36	/* "8-4-4-4-12" hex, as the kernel prints it */

struct proc_info {
	pid_t ppid;		/* 0 for the first process of a namespace */
	uint64_t start;		/* clock ticks after boot (field 22 of stat) */
};

/*
 * Parses the text of /proc/PID/stat (len bytes, not NUL-terminated). The
 * command name in parentheses is the process's own choice and may hold
 * spaces and ')': the fields are read after its last ')'. ERR_FORMAT on
 * anything else.
 */
int proc_stat_parse(const char *buf, size_t len, struct proc_info *out) WUR;

/* /proc/PID/stat of pid: ERR_NOTFOUND when no such process is left. */
int proc_info_get(pid_t pid, struct proc_info *out) WUR;

/* CLOCK_BOOTTIME in the clock ticks the kernel counts start times in. */
uint64_t proc_boot_ticks(int64_t boot_ns);

/*
 * Whether another process of pid's user can neither trace pid nor read
 * its memory: pid is not dumpable (the kernel then gives its /proc files
 * to root) and no tracer is attached (TracerPid 0). 1 or 0; ERR_NOTFOUND
 * when no such process is left. Meaningful for a pid that is not root's.
 */
int proc_guarded(pid_t pid);

/* This boot's id (/proc/sys/kernel/random/boot_id), NUL-terminated. */
int proc_boot_id(char out[PROC_BOOT_ID_LEN + 1]) WUR;

#endif
