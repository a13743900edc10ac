/*
 * policy.c - the session decision (see policy.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy.h"
#include "common/banned.h"

static const char *const kinds[] = {
	"interactive", "exec", "sftp", "scp", "rsync",
};

int
policy_kind_valid(const char *kind)
{
	size_t i;

	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(kind, kinds[i]) == 0)
			return 1;
	return 0;
}

#define DENY(out, ...) do { \
	(out)->verdict = POLICY_DENY; \
	snprintf((out)->reason, sizeof((out)->reason), __VA_ARGS__); \
} while (0)

int
policy_session(struct db *db, const struct db_user *user, const char *target,
    const char *login, const char *kind, struct policy_decision *out)
{
	int r;

	memset(out, 0, sizeof(*out));
	if (user->state != DB_USER_ACTIVE) {
		DENY(out, "the account %s is %s; ask an administrator",
		    user->name,
		    user->state == DB_USER_FROZEN ? "frozen" : "disabled");
		return ERR_OK;
	}
	if (!policy_kind_valid(kind)) {
		DENY(out, "%s sessions are not supported", kind);
		return ERR_OK;
	}
	r = db_target_get(db, target, &out->target);
	if (r == ERR_NOTFOUND)
		goto no_grant;
	if (r != ERR_OK)
		return r;
	r = db_grant_match(db, user->role, out->target.group, login);
	if (r == ERR_OK) {
		out->verdict = POLICY_ALLOW;
		snprintf(out->reason, sizeof(out->reason),
		    "role %s may log in as %s on group %s", user->role, login,
		    out->target.group);
		return ERR_OK;
	}
	db_target_release(&out->target);
	memset(&out->target, 0, sizeof(out->target));
	if (r != ERR_NOTFOUND)
		return r;
no_grant:
	DENY(out, "you may not log in as %s on %s; run 'ssh %s@THIS-GATEWAY' "
	    "to list your targets, or ask an administrator for a grant", login,
	    target, user->name);
	return ERR_OK;
}

static int
append(char **buf, size_t *len, size_t *cap, const char *s)
{
	size_t n = strlen(s);
	char *p;

	if (*len + n + 1 > *cap) {
		size_t ncap = (*cap + n + 1) * 2;

		if ((p = realloc(*buf, ncap)) == NULL)
			return ERR_NOMEM;
		*buf = p;
		*cap = ncap;
	}
	memcpy(*buf + *len, s, n + 1);
	*len += n;
	return ERR_OK;
}

int
policy_targets(struct db *db, const struct db_user *user, char **text)
{
	struct db_target *t = NULL;
	struct db_grant *g = NULL;
	size_t nt = 0, ng = 0, i, j, len = 0, cap = 0;
	char line[1024], *buf = NULL;
	int r;

	*text = NULL;
	if ((r = db_target_list(db, &t, &nt)) != ERR_OK)
		return r;
	if ((r = db_grant_list(db, user->role, &g, &ng)) != ERR_OK)
		goto out;
	if ((r = append(&buf, &len, &cap, "")) != ERR_OK)
		goto out;
	for (i = 0; i < nt && user->state == DB_USER_ACTIVE; i++) {
		for (j = 0; j < ng; j++) {
			if (strcmp(g[j].target_group, t[i].group) != 0)
				continue;
			snprintf(line, sizeof(line), "%s@%s\t%s\t%d\n",
			    g[j].login, t[i].name, t[i].group,
			    t[i].sensitivity);
			if ((r = append(&buf, &len, &cap, line)) != ERR_OK)
				goto out;
		}
	}
	*text = buf;
	buf = NULL;
	r = ERR_OK;
out:
	free(buf);
	db_target_array_free(t, nt);
	db_grant_array_free(g, ng);
	return r;
}
