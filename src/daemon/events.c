/*
 * events.c - audit events and small helpers the handlers share.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "audit/entry.h"
#include "common/clock.h"
#include "common/termsafe.h"
#include "daemon/bulwarkd.h"
#include "common/banned.h"

static int
set_str(json_t *o, const char *key, const char *v)
{
	if (v == NULL || v[0] == '\0')
		return 0;
	return json_object_set_new(o, key, json_string(v));
}

/* A failed append leaves the log to be reopened, which recovers it. */
static int
append_once(struct bulwarkd *d, struct bd_batch *b)
{
	char why[256];
	uint64_t idx;
	int r;

	if (d->log == NULL) {
		why[0] = '\0';
		r = audit_log_open(d->log_dir, &d->log, why, sizeof(why));
		if (r != ERR_OK) {
			bd_log("cannot reopen the audit log: %s %s", err_str(r),
			    why);
			d->log = NULL;
			return r;
		}
	}
	r = audit_log_append(d->log, (const char *const *)b->canon, b->len,
	    b->n, &idx);
	if (r != ERR_OK) {
		audit_log_close(d->log);
		d->log = NULL;
	}
	return r;
}

/*
 * ' LABEL="VALUE"', the value shown safely and quoted (with \" and \\),
 * so that no value can pass for another field; "" for none.
 */
static char *
alert_field(const char *label, const char *v)
{
	char *safe, *out = NULL, *q;
	size_t i, n = strlen(label);

	if (v == NULL || v[0] == '\0')
		return strdup("");
	if ((safe = termsafe_vis(v, strlen(v), 0)) == NULL)
		return NULL;
	if ((out = malloc(n + 2 * strlen(safe) + 6)) != NULL) {
		q = out;
		*q++ = ' ';
		memcpy(q, label, n);
		q += n;
		*q++ = '=';
		*q++ = '"';
		for (i = 0; safe[i] != '\0'; i++) {
			if (safe[i] == '"' || safe[i] == '\\')
				*q++ = '\\';
			*q++ = safe[i];
		}
		*q++ = '"';
		*q = '\0';
	}
	free(safe);
	return out;
}

/*
 * Whether stderr is the journal: systemd sets JOURNAL_STREAM to its
 * "DEVICE:INODE" (systemd.exec(5)); a redirected stderr does not match.
 */
static int
stderr_is_journal(void)
{
	static int known = -1;
	const char *v;
	unsigned long long dev, ino;
	struct stat st;

	if (known >= 0)
		return known;
	known = (v = getenv("JOURNAL_STREAM")) != NULL &&
	    sscanf(v, "%llu:%llu", &dev, &ino) == 2 &&
	    fstat(STDERR_FILENO, &st) == 0 &&
	    (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino;
	return known;
}

/*
 * Every refusal (a decision other than "allow": deny, locked) is also
 * one warning line on stderr, so that the journal (or a syslog
 * forwarder) is an alert feed of refusals: `journalctl -u bulwarkd -p
 * warning -f`. When stderr is the journal (JOURNAL_STREAM) the line
 * starts with "<4>", which journald reads as its priority. The audit log
 * stays the record; this is the notice. Users chose some of the fields
 * (a login, a reason quoting a command), hence termsafe_vis: no control
 * character can forge a second line.
 */
static void
alert(const char *actor, const char *source, const char *target,
    const char *action, const char *decision, uint64_t session,
    json_t *detail)
{
	char sid[24], *f[5];
	size_t i;

	snprintf(sid, sizeof(sid), "%llu", (unsigned long long)session);
	f[0] = alert_field("by", actor);
	f[1] = alert_field("from", source);
	f[2] = alert_field("on", target);
	f[3] = alert_field("session", session != 0 ? sid : NULL);
	f[4] = alert_field("reason", json_string_value(json_object_get(detail,
	    "reason")));
	if (f[0] && f[1] && f[2] && f[3] && f[4])
		fprintf(stderr, "%sbulwarkd: %s %s:%s%s%s%s%s\n",
		    stderr_is_journal() ? "<4>" : "", decision,
		    action, f[0], f[1], f[2], f[3], f[4]);
	for (i = 0; i < 5; i++)
		free(f[i]);
}

int
bd_batch_add(struct bd_batch *b, const char *actor, const char *source,
    const char *target, const char *action, const char *decision,
    uint64_t session, json_t *detail)
{
	char now[40], sid[24], why[200], *text = NULL;
	json_t *o = json_object();
	int r = ERR_NOMEM;

	if (b->n >= BD_BATCH_MAX) {
		r = ERR_INTERNAL;
		goto out;
	}
	if (o == NULL)
		goto out;
	entry_time_now(now, sizeof(now));
	if (session != 0)
		snprintf(sid, sizeof(sid), "%llu", (unsigned long long)session);
	if (set_str(o, "actor", actor) || set_str(o, "source", source) ||
	    set_str(o, "target", target) || set_str(o, "action", action) ||
	    set_str(o, "decision", decision) ||
	    (session != 0 && set_str(o, "session", sid)))
		goto out;
	if (detail != NULL && json_object_set(o, "detail", detail) != 0)
		goto out;
	if ((text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS)) == NULL)
		goto out;
	r = entry_canonicalize(text, strlen(text), now, &b->canon[b->n],
	    &b->len[b->n], why, sizeof(why));
	if (r != ERR_OK) {
		bd_log("audit event %s not loggable: %s", action, why);
		goto out;
	}
	b->n++;
	if (decision != NULL && strcmp(decision, "allow") != 0)
		alert(actor, source, target, action, decision, session,
		    detail);
out:
	free(text);
	json_decref(o);
	json_decref(detail);
	return r;
}

void
bd_batch_clear(struct bd_batch *b)
{
	size_t i;

	for (i = 0; i < b->n; i++)
		free(b->canon[i]);
	memset(b, 0, sizeof(*b));
}

int
bd_batch_commit(struct bulwarkd *d, struct bd_batch *b)
{
	int r = ERR_OK;

	/* One retry: a reopen replays the journal and recovers the log. */
	if (b->n > 0 && (r = append_once(d, b)) != ERR_OK &&
	    (r = append_once(d, b)) != ERR_OK)
		bd_log("%zu audit event(s) not logged: %s; refusing the "
		    "action", b->n, err_str(r));
	bd_batch_clear(b);
	return r;
}

int
bd_event(struct bulwarkd *d, const char *actor, const char *source,
    const char *target, const char *action, const char *decision,
    uint64_t session, json_t *detail)
{
	struct bd_batch b;
	int r;

	memset(&b, 0, sizeof(b));
	r = bd_batch_add(&b, actor, source, target, action, decision, session,
	    detail);
	if (r != ERR_OK) {
		bd_batch_clear(&b);
		return r;
	}
	return bd_batch_commit(d, &b);
}

void
bd_refusal(struct bulwarkd *d, const char *actor, const char *source,
    const char *target, const char *action, const char *decision,
    uint64_t session, json_t *detail)
{
	if (bd_event(d, actor, source, target, action, decision, session,
	    detail) != ERR_OK)
		return;	/* reported; the refusal stands */
}

void
bd_refusal_coalesced(struct bulwarkd *d, const char *actor,
    const char *action, const char *reason, const char *last,
    json_t *detail)
{
	if (d->refusals == NULL || coalesce_note(d->refusals, actor, action,
	    reason, last, clock_mono_ms()) == 1)
		bd_refusal(d, actor, NULL, NULL, action, "deny", 0, detail);
	else
		json_decref(detail);
}

/* A window of repeated refusals is over: one entry with the count. */
static void
log_repeats(void *arg, const struct coalesce_kind *k)
{
	struct bulwarkd *d = arg;

	bd_refusal(d, k->actor, NULL, NULL, k->action, "deny", 0,
	    json_pack("{s:s,s:I,s:s,s:I}", "reason", k->reason, "repeats",
	    (json_int_t)k->count, "last", k->last, "over_ms",
	    (json_int_t)(k->last_ms - k->first_ms)));
}

int64_t
bd_tick(struct bulwarkd *d, int all)
{
	int64_t now = clock_mono_ms();

	if (d->refusals == NULL)
		return -1;
	coalesce_expire(d->refusals, now, all, log_repeats, d);
	return coalesce_next(d->refusals, now);
}

void
bd_peer_name(const struct rpc_conn *conn, char *buf, size_t len)
{
	const struct rpc_peer *p = rpc_conn_peer(conn);

	if (p->uid == 0)
		snprintf(buf, len, "root");
	else
		snprintf(buf, len, "uid:%u", (unsigned)p->uid);
}

int
bd_str(const struct wire_msg *req, uint16_t tag, char *buf, size_t len)
{
	const char *s;
	size_t n;
	int r;

	buf[0] = '\0';
	if ((r = wire_get_str(req, tag, &s, &n)) != ERR_OK)
		return r;
	if (n >= len)
		return ERR_TOOBIG;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return ERR_OK;
}
