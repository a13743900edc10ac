/*
 * coalesce.h - repeated refusals counted, not each written.
 *
 * sshd asks bulwarkd about every key a client offers for an existing
 * account, before any authentication. A client that offers unknown keys
 * (MaxAuthTries per connection, over many connections) was measured at
 * 440 refusals a second, each an fsync'd audit entry of about 540 bytes:
 * 20 GB of log a day and a disk kept busy, from anyone who can reach the
 * gateway and knows one account name.
 *
 * So refusals of one kind (same actor, action and reason) are written in
 * windows: the first of a window in full, the rest counted, and one more
 * entry with the count when the window ends, COALESCE_WINDOW_MS after its
 * first refusal. The log still holds every refusal, as a count, and grows
 * by at most two entries per kind per window. A crash loses the counts of
 * windows still open: at most COALESCE_WINDOW_MS of repeats, never the
 * first of a kind. When COALESCE_KINDS kinds are open at once, further
 * kinds are written in full.
 *
 * One table per process, used from one thread (bulwarkd's loop).
 */
#ifndef BULWARK_GATEWAY_COALESCE_H
#define BULWARK_GATEWAY_COALESCE_H

#include <stdint.h>

#define COALESCE_WINDOW_MS	10000
#define COALESCE_KINDS		256
#define COALESCE_STR_MAX	127	/* longer strings are cut */

struct coalesce_kind {
	int used;
	char actor[COALESCE_STR_MAX + 1];
	char action[COALESCE_STR_MAX + 1];
	char reason[COALESCE_STR_MAX + 1];
	char last[COALESCE_STR_MAX + 1];	/* detail of the latest counted */
	int64_t first_ms;	/* when the window's first refusal came */
	int64_t last_ms;	/* and its latest */
	uint64_t count;		/* counted, not written */
};

/* The table; zero-initialise it (about 130 KiB: allocate it). */
struct coalesce {
	struct coalesce_kind kind[COALESCE_KINDS];
	size_t used;	/* kinds open: 0 makes the timers free */
};

/*
 * A refusal at now_ms: 1 when the caller writes it in full (the first of
 * its window, or no room for its kind), 0 when it was counted. last (may
 * be NULL) is kept for the closing entry, e.g. the latest key fingerprint.
 */
int coalesce_note(struct coalesce *c, const char *actor, const char *action,
    const char *reason, const char *last, int64_t now_ms);

/*
 * Ends the windows that are over at now_ms (every window when all): each
 * with a count is passed to fn, which writes the closing entry. A window
 * without repeats ends silently.
 */
void coalesce_expire(struct coalesce *c, int64_t now_ms, int all,
    void (*fn)(void *arg, const struct coalesce_kind *k), void *arg);

/* Milliseconds until the next window ends (0: one is over), or -1. */
int64_t coalesce_next(const struct coalesce *c, int64_t now_ms);

#endif
