/*
 * ratelimit.c - growing delays after wrong codes (see ratelimit.h).
 */
#include <arpa/inet.h>
#include <stdio.h>
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

/*
 * What a source is counted as. An IPv6 address counts as its /64: a
 * single customer usually holds a whole /64 (often more), so counting
 * each address would give one guesser 2^64 fresh sources. An IPv4-mapped
 * address counts as its IPv4 address. Anything else (a name) as written.
 */
void
ratelimit_source_key(const char *addr, char key[RATELIMIT_SOURCE_MAX + 1])
{
	struct in6_addr a;
	char text[INET6_ADDRSTRLEN];
	size_t n;

	if (inet_pton(AF_INET6, addr, &a) == 1) {
		if (IN6_IS_ADDR_V4MAPPED(&a)) {
			if (inet_ntop(AF_INET, &a.s6_addr[12], text,
			    sizeof(text)) != NULL) {
				snprintf(key, RATELIMIT_SOURCE_MAX + 1, "%s",
				    text);
				return;
			}
		} else {
			memset(&a.s6_addr[8], 0, 8);
			if (inet_ntop(AF_INET6, &a, text, sizeof(text)) !=
			    NULL) {
				snprintf(key, RATELIMIT_SOURCE_MAX + 1,
				    "%s/64", text);
				return;
			}
		}
	}
	n = strnlen(addr, RATELIMIT_SOURCE_MAX);
	memcpy(key, addr, n);
	key[n] = '\0';
}

static struct ratelimit_source *
find(const struct ratelimit *rl, const char *addr)
{
	char key[RATELIMIT_SOURCE_MAX + 1];
	size_t i;

	ratelimit_source_key(addr, key);
	for (i = 0; i < RATELIMIT_SOURCES; i++)
		if (rl->src[i].addr[0] != '\0' &&
		    strcmp(rl->src[i].addr, key) == 0)
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

	if (addr == NULL || addr[0] == '\0')
		return 0;
	if ((s = find(rl, addr)) == NULL) {
		s = slot(rl);
		memset(s, 0, sizeof(*s));
		ratelimit_source_key(addr, s->addr);
	} else if (now > s->last) {
		time_t halves = (now - s->last) / RATELIMIT_HALF_LIFE;

		s->failures = halves >= 32 ? 0 : s->failures >> halves;
	}
	if (s->failures < UINT32_MAX)
		s->failures++;
	s->last = now;
	s->until = now + (time_t)ratelimit_delay(s->failures);
	return s->failures;
}
