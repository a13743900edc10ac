/*
 * policy.h - who may open which session through the gateway.
 *
 * The one place the decision is taken, so that the policy language of a
 * later issue (step-up, approvals, time windows, command classes) grows
 * here and nowhere else. Today: a user who is active may log in as LOGIN
 * on TARGET when a grant (role, target group, login) matches the user's
 * role and the target's group; the kind of session must be one the
 * gateway knows.
 *
 * Reasons are written for the user who is refused: they say what to do
 * next, and never tell a user more than that a target is not theirs (an
 * unknown target and a target without a grant read the same).
 */
#ifndef BULWARK_POLICY_POLICY_H
#define BULWARK_POLICY_POLICY_H

#include "common/err.h"
#include "store/db.h"

#define POLICY_REASON_MAX 256

enum policy_verdict {
	POLICY_DENY = 0,
	POLICY_ALLOW = 1,
};

struct policy_decision {
	int verdict;			/* enum policy_verdict */
	char reason[POLICY_REASON_MAX];	/* for the user and the audit log */
	struct db_target target;	/* filled on allow (db_target_release) */
};

/*
 * Decides whether user may open a session of kind as login on the target
 * called target. ERR_OK with the verdict in *out (a refusal is ERR_OK
 * too); other codes when the store fails. Release out->target afterwards.
 */
int policy_session(struct db *db, const struct db_user *user,
    const char *target, const char *login, const char *kind,
    struct policy_decision *out) WUR;

/* 1 when kind is a session kind the gateway knows. */
int policy_kind_valid(const char *kind);

/*
 * The targets user may reach, one "LOGIN@TARGET\tGROUP\tSENSITIVITY\n"
 * line each, sorted, in *text (malloc'd; "" for none).
 */
int policy_targets(struct db *db, const struct db_user *user,
    char **text) WUR;

#endif
