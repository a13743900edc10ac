/*
 * coalesce.c - repeated refusals counted in windows (coalesce.h).
 */
#include <stdio.h>
#include <string.h>

#include "gateway/coalesce.h"
#include "common/banned.h"

static void
copy(char *dst, const char *src)
{
	snprintf(dst, COALESCE_STR_MAX + 1, "%s", src != NULL ? src : "");
}

/* Whether k is the kind (actor, action, reason), compared as cut. */
static int
same(const struct coalesce_kind *k, const char *actor, const char *action,
    const char *reason)
{
	return strncmp(k->actor, actor, COALESCE_STR_MAX) == 0 &&
	    strncmp(k->action, action, COALESCE_STR_MAX) == 0 &&
	    strncmp(k->reason, reason, COALESCE_STR_MAX) == 0;
}

int
coalesce_note(struct coalesce *c, const char *actor, const char *action,
    const char *reason, const char *last, int64_t now_ms)
{
	struct coalesce_kind *k, *free_slot = NULL;
	size_t i;

	actor = actor != NULL ? actor : "";
	action = action != NULL ? action : "";
	reason = reason != NULL ? reason : "";
	for (i = 0; i < COALESCE_KINDS; i++) {
		k = &c->kind[i];
		if (!k->used) {
			if (free_slot == NULL)
				free_slot = k;
			continue;
		}
		/* An ended window not yet expired counts as open. */
		if (same(k, actor, action, reason)) {
			k->count++;
			k->last_ms = now_ms;
			copy(k->last, last);
			return 0;
		}
	}
	if (free_slot == NULL)
		return 1;
	k = free_slot;
	memset(k, 0, sizeof(*k));
	k->used = 1;
	c->used++;
	copy(k->actor, actor);
	copy(k->action, action);
	copy(k->reason, reason);
	k->first_ms = k->last_ms = now_ms;
	return 1;
}

void
coalesce_expire(struct coalesce *c, int64_t now_ms, int all,
    void (*fn)(void *arg, const struct coalesce_kind *k), void *arg)
{
	size_t i;

	for (i = 0; i < COALESCE_KINDS && c->used > 0; i++) {
		struct coalesce_kind *k = &c->kind[i];

		if (!k->used || (!all && now_ms - k->first_ms <
		    COALESCE_WINDOW_MS))
			continue;
		if (k->count > 0)
			fn(arg, k);
		memset(k, 0, sizeof(*k));
		c->used--;
	}
}

int64_t
coalesce_next(const struct coalesce *c, int64_t now_ms)
{
	int64_t next = -1;
	size_t i;

	/* Called after every request: nothing to scan in the usual case. */
	if (c->used == 0)
		return -1;
	for (i = 0; i < COALESCE_KINDS; i++) {
		const struct coalesce_kind *k = &c->kind[i];
		int64_t left;

		if (!k->used)
			continue;
		left = k->first_ms + COALESCE_WINDOW_MS - now_ms;
		if (left < 0)
			left = 0;
		if (next < 0 || left < next)
			next = left;
	}
	return next;
}
