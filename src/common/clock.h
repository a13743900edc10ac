/*
 * clock.h - the monotonic clock, for timeouts and durations: never the
 * wall clock, which an administrator or NTP may set back.
 */
#ifndef BULWARK_COMMON_CLOCK_H
#define BULWARK_COMMON_CLOCK_H

#include <stdint.h>

/* CLOCK_MONOTONIC in milliseconds. */
int64_t clock_mono_ms(void);
/* CLOCK_MONOTONIC in microseconds. */
int64_t clock_mono_us(void);
/* CLOCK_BOOTTIME in nanoseconds: what process start times count from. */
int64_t clock_boot_ns(void);

#endif
