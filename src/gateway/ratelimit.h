/*
 * ratelimit.h - growing delays after wrong second-factor codes.
 *
 * Six digits give a guesser one chance in 10^6 per code, three codes are
 * valid at any time, so a guesser must be slowed, per user (the count
 * lives in the state database, so a restart does not reset it) and per
 * source address (here, in memory: one address guessing many users). After
 * RATELIMIT_FREE failures in a row the next try waits ratelimit_delay(n)
 * seconds, doubling up to RATELIMIT_MAX_DELAY. A user's success resets
 * the user's count. A source's count is never reset by a success (a
 * guesser with an account of their own would log in between guesses at
 * other users' codes and start each round afresh); it halves instead for
 * every RATELIMIT_HALF_LIFE seconds between two failures, so that an
 * address many people share (a NAT, a /64) heals from their occasional
 * typos, while a guesser held at the longest delay still gets no more
 * than about eight tries an hour.
 */
#ifndef BULWARK_GATEWAY_RATELIMIT_H
#define BULWARK_GATEWAY_RATELIMIT_H

#include <stdint.h>
#include <time.h>

#include "common/err.h"

#define RATELIMIT_FREE		3	/* failures before the first delay */
#define RATELIMIT_BASE_DELAY	5	/* seconds, doubled per failure */
#define RATELIMIT_MAX_DELAY	900
#define RATELIMIT_HALF_LIFE	900	/* seconds; of a source's count */
#define RATELIMIT_SOURCES	1024	/* addresses tracked at once */
#define RATELIMIT_SOURCE_MAX	63	/* longest address kept */

/* Seconds to wait after failures failures in a row (0 while few). */
unsigned ratelimit_delay(uint32_t failures);

struct ratelimit_source {
	char addr[RATELIMIT_SOURCE_MAX + 1];
	uint32_t failures;
	time_t until;		/* no code is tried before */
	time_t last;		/* for eviction: least recently failed goes */
};

/* The per-source table; zero-initialise it. */
struct ratelimit {
	struct ratelimit_source src[RATELIMIT_SOURCES];
};

/*
 * ERR_LOCKED with *wait (seconds) when addr must wait at now, else ERR_OK.
 * NULL or empty addr is never limited here (the per-user limit remains).
 */
int ratelimit_check(const struct ratelimit *rl, const char *addr, time_t now,
    unsigned *wait) WUR;
/* Counts a failure from addr at now; returns the new count. */
uint32_t ratelimit_fail(struct ratelimit *rl, const char *addr, time_t now);
/*
 * The key addr is counted under: an IPv6 address as its /64 ("2001:db8::/64"),
 * an IPv4-mapped one as its IPv4 address, anything else as written (cut
 * to RATELIMIT_SOURCE_MAX bytes).
 */
void ratelimit_source_key(const char *addr,
    char key[RATELIMIT_SOURCE_MAX + 1]);

#endif
