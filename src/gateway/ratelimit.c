/*
 * ratelimit.c - growing delays after wrong codes (see ratelimit.h).
 */
#include <string.h>

#include "gateway/ratelimit.h"
#include "common/banned.h"

unsigned
ratelimit_delay(uint32_t failures)
{
	uint32_t over;

	if (failures < RATELIMIT_FREE)
		return 0;
	over = failures - RATELIMIT_FREE;
	if (over >= 8)		/* 5 << 8 already passes the cap */
		return RATELIMIT_MAX_DELAY;
	return RATELIMIT_BASE_DELAY << over > RATELIMIT_MAX_DELAY ?
	    RATELIMIT_MAX_DELAY : RATELIMIT_BASE_DELAY << over;
}

static struct ratelimit_source *
find(const struct ratelimit *rl, const char *addr)
{
	size_t i;

	for (i = 0; i < RATELIMIT_SOURCES; i++)
		if (rl->src[i].addr[0] != '\0' &&
		    strncmp(rl->src[i].addr, addr, RATELIMIT_SOURCE_MAX) == 0)
			return (struct ratelimit_source *)&rl->src[i];
	return NULL;
}

int
ratelimit_check(const struct ratelimit *rl, const char *addr, time_t now,
    unsigned *wait)
{
	const struct ratelimit_source *s;

	*wait = 0;
	if (addr == NULL || addr[0] == '\0' || (s = find(rl, addr)) == NULL)
		return ERR_OK;
	if (s->until > now) {
		*wait = (unsigned)(s->until - now);
		return ERR_LOCKED;
	}
	return ERR_OK;
}

/* The slot for a new address: a free one, else the one idle longest. */
static struct ratelimit_source *
slot(struct ratelimit *rl)
{
	struct ratelimit_source *best = &rl->src[0];
	size_t i;

	for (i = 0; i < RATELIMIT_SOURCES; i++) {
		if (rl->src[i].addr[0] == '\0')
			return &rl->src[i];
		if (rl->src[i].last < best->last)
			best = &rl->src[i];
	}
	return best;
}

uint32_t
ratelimit_fail(struct ratelimit *rl, const char *addr, time_t now)
{
	struct ratelimit_source *s;
	size_t n;

	if (addr == NULL || addr[0] == '\0')
		return 0;
	if ((s = find(rl, addr)) == NULL) {
		s = slot(rl);
		memset(s, 0, sizeof(*s));
		n = strnlen(addr, RATELIMIT_SOURCE_MAX);
		memcpy(s->addr, addr, n);
	}
	if (s->failures < UINT32_MAX)
		s->failures++;
	s->last = now;
	s->until = now + (time_t)ratelimit_delay(s->failures);
	return s->failures;
}

void
ratelimit_ok(struct ratelimit *rl, const char *addr)
{
	struct ratelimit_source *s;

	if (addr != NULL && addr[0] != '\0' && (s = find(rl, addr)) != NULL)
		memset(s, 0, sizeof(*s));
}
