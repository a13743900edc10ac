/*
 * receive.c - the vault side of the receive protocol (receive.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backup/manifest.h"
#include "vault/inpipe.h"
#include "vault/proto.h"
#include "vault/receive.h"
#include "common/endian.h"
#include "common/fsutil.h"
#include "common/banned.h"

#define READ_STEP (1u << 20)
/* How long a receive waits for another one of the same host to end. */
#define HOST_LOCK_WAIT_MS	(60 * 1000)

struct rx {
	struct vault *v;
	const struct vault_receive_opts *o;
	struct vault_host host;
	struct vault_received got;
	uint64_t snap_charges;		/* of the host's snapshot records */
	int in, out;
	struct inpipe *inp;		/* in, read ahead */
	uint8_t *buf;
	char *why;
	size_t whylen;
};

static void __attribute__((format(printf, 2, 3)))
say(struct rx *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->why, r->whylen, fmt, ap);
	va_end(ap);
}

/*
 * JSON string contents: what we put in details is hex, digits, words.
 * ERR_IO when the event could not be written: an acceptance is then not
 * acknowledged (the caller refuses), so that nothing the vault took goes
 * unlogged; what was stored stays and a later session finds it.
 */
static int
audit(struct rx *r, const char *action, const char *decision,
    const char *detail)
{
	if (r->o->no_audit)
		return ERR_OK;
	if (vault_audit(r->v, r->o->host, r->o->source, action, decision,
	    "vault", detail) != ERR_OK) {
		fprintf(stderr, "bulwark: vault receive: cannot write the "
		    "audit log event %s\n", action);
		return ERR_IO;
	}
	return ERR_OK;
}

/* Refuses: logs, tells the agent, ends the session. */
static int
refuse(struct rx *r, const char *action, int rc, const char *reason)
{
	char detail[1024];
	/* Reasons are fixed texts of this file plus hex names and numbers. */
	snprintf(detail, sizeof(detail), "{\"reason\":\"%s\"}", reason);
	(void)audit(r, action, "deny", detail);
	say(r, "%s", reason);
	if (vp_send(r->out, VP_ERR, reason, strlen(reason)) != ERR_OK)
		return rc;	/* the agent is gone; the reason is logged */
	return rc;
}

/* n bytes of a frame, none of them idle for longer than the timeout. */
static int
read_payload(struct rx *r, void *p, size_t n)
{
	return inpipe_read(r->inp, p, n, r->o->idle_timeout_ms);
}

/*
 * A frame's head, from the ring: vp_read_head's results, and ERR_NETWORK
 * when the agent stays silent for the idle timeout.
 */
static int
read_head(struct rx *r, uint8_t *type, uint32_t *len)
{
	uint8_t h[VP_HEAD_LEN];
	int rc;

	if ((rc = read_payload(r, h, VP_HEAD_LEN)) != ERR_OK)
		return rc;
	vp_head_decode(h, type, len);
	return ERR_OK;
}

/* What the host has stored so far, as its quota counts it. */
static uint64_t
used(const struct rx *r)
{
	return r->got.total + r->snap_charges;
}

/* Would size more bytes in one file go over the host's quota? */
static int
over_quota(const struct rx *r, uint64_t size)
{
	return r->host.quota != 0 &&
	    used(r) + vault_quota_charge(size) > r->host.quota;
}

static int
on_hello(struct rx *r, uint32_t len)
{
	uint8_t b[4 + 1 + MANIFEST_HOST_MAX];
	uint8_t ok[PACK_KEY_ID_LEN + 8];
	char host[MANIFEST_HOST_MAX + 1];
	uint64_t left;

	if (len < 6 || len > sizeof(b) || read_payload(r, b, len) != ERR_OK)
		return refuse(r, "vault.session", ERR_FORMAT,
		    "malformed hello");
	if (memcmp(b, VP_MAGIC, 4) != 0 || b[4] != VP_VERSION)
		return refuse(r, "vault.session", ERR_UNSUPPORTED,
		    "unsupported protocol version; upgrade bulwark on one side");
	if (memchr(b + 5, '\0', len - 5) != NULL)
		return refuse(r, "vault.session", ERR_FORMAT,
		    "malformed hello");
	memcpy(host, b + 5, len - 5);
	host[len - 5] = '\0';
	if (strcmp(host, r->o->host) != 0)
		return refuse(r, "vault.session", ERR_DENIED,
		    "this key is enrolled for another host name");
	memcpy(ok, vault_key_id(r->v), PACK_KEY_ID_LEN);
	left = VP_QUOTA_NONE;
	if (r->host.quota != 0)
		left = r->host.quota > used(r) ? r->host.quota - used(r) : 0;
	be_put64(ok + PACK_KEY_ID_LEN, left);
	return vp_send(r->out, VP_OK, ok, sizeof(ok));
}

/* Adds name to the in-memory received list, kept sorted. */
static int
remember(struct rx *r, const char *name, uint64_t size)
{
	size_t n = r->got.n, i = n;
	void *a = realloc(r->got.names, (n + 1) * sizeof(*r->got.names));

	if (a == NULL)
		return ERR_NOMEM;
	r->got.names = a;
	a = realloc(r->got.sizes, (n + 1) * sizeof(*r->got.sizes));
	if (a == NULL)
		return ERR_NOMEM;
	r->got.sizes = a;
	while (i > 0 && strcmp(r->got.names[i - 1], name) > 0)
		i--;
	if (i > 0 && strcmp(r->got.names[i - 1], name) == 0)
		return ERR_OK;
	memmove(r->got.names + i + 1, r->got.names + i,
	    (n - i) * sizeof(*r->got.names));
	memmove(r->got.sizes + i + 1, r->got.sizes + i,
	    (n - i) * sizeof(*r->got.sizes));
	memcpy(r->got.names[i], name, PACK_NAME_HEX_LEN + 1);
	r->got.sizes[i] = size;
	r->got.n++;
	r->got.total += vault_quota_charge(size);
	return ERR_OK;
}

static const char *
pack_refusal(int rc)
{
	switch (rc) {
	case ERR_MISMATCH:
		return "pack refused: its bytes do not hash to its name";
	case ERR_NOTFOUND:
		return "pack refused: sealed to another vault key";
	case ERR_FORMAT:
	case ERR_UNSUPPORTED:
		return "pack refused: not a well-formed pack";
	case ERR_TOOBIG:
		return "pack refused: too large";
	default:
		return "pack refused: the vault could not store it (see the "
		    "vault's log)";
	}
}

static int
on_pack(struct rx *r, uint32_t len)
{
	char name[PACK_NAME_HEX_LEN + 1], detail[256];
	struct vault_upload *u = NULL;
	uint64_t size;
	int rc, existed;

	if (len < PACK_NAME_HEX_LEN + PACK_MIN_SIZE ||
	    len - PACK_NAME_HEX_LEN > PACK_MAX_SIZE)
		return refuse(r, "vault.pack", ERR_FORMAT,
		    "pack refused: impossible size");
	size = len - PACK_NAME_HEX_LEN;
	if (over_quota(r, size))
		return refuse(r, "vault.pack", ERR_TOOBIG,
		    "pack refused: the host's quota is used up; ask the "
		    "vault's admin to raise it");
	if (read_payload(r, name, PACK_NAME_HEX_LEN) != ERR_OK)
		return refuse(r, "vault.pack", ERR_FORMAT,
		    "malformed pack frame");
	name[PACK_NAME_HEX_LEN] = '\0';
	if (!vault_pack_name_ok(name))
		return refuse(r, "vault.pack", ERR_FORMAT,
		    "pack refused: a name is 64 lowercase hex digits");
	if ((rc = vault_upload_begin(r->v, &u)) != ERR_OK)
		return refuse(r, "vault.pack", rc,
		    "the vault cannot take uploads now (see its log)");
	for (uint64_t left = size; left > 0;) {
		size_t step = left < READ_STEP ? (size_t)left : READ_STEP;
		if (read_payload(r, r->buf, step) != ERR_OK) {
			vault_upload_abort(u);
			return refuse(r, "vault.pack", ERR_FORMAT,
			    "the connection ended inside a pack");
		}
		if ((rc = vault_upload_write(u, r->buf, step)) != ERR_OK) {
			vault_upload_abort(u);
			return refuse(r, "vault.pack", rc, pack_refusal(rc));
		}
		left -= step;
	}
	rc = vault_upload_commit(u, name, r->o->host,
	    vault_received_has(&r->got, name), &existed);
	vault_upload_abort(u);
	if (rc != ERR_OK) {
		char msg[256];
		snprintf(msg, sizeof(msg), "%s (%.16s...)", pack_refusal(rc),
		    name);
		return refuse(r, "vault.pack", rc, msg);
	}
	if ((rc = remember(r, name, size)) != ERR_OK)
		return refuse(r, "vault.pack", rc, "out of memory");
	snprintf(detail, sizeof(detail), "{\"pack\":\"%s\",\"size\":%llu,"
	    "\"existed\":%s}", name, (unsigned long long)size,
	    existed ? "true" : "false");
	if (audit(r, "vault.pack", "allow", detail) != ERR_OK)
		return refuse(r, "vault.pack", ERR_IO, "the vault cannot write "
		    "its audit log; the pack is kept but not acknowledged (see "
		    "the vault's log)");
	uint8_t e = existed ? 1 : 0;
	return vp_send(r->out, VP_OK, &e, 1);
}

static int
on_snap(struct rx *r, uint32_t len)
{
	struct manifest *m = NULL;
	uint8_t *mf = NULL, ok[8];
	char id[MANIFEST_ID_HEX_LEN + 1], msg[256], detail[512];
	char path[4096];
	uint64_t now;
	int rc;

	if (len < MANIFEST_MIN_LEN || len > VAULT_MANIFEST_MAX)
		return refuse(r, "vault.snapshot", ERR_FORMAT,
		    "snapshot refused: impossible manifest size");
	/* A snapshot record is stored too, so it counts like a pack. */
	if (over_quota(r, (uint64_t)len + VAULT_SNAP_HEADER_LEN))
		return refuse(r, "vault.snapshot", ERR_TOOBIG,
		    "snapshot refused: the host's quota is used up; ask the "
		    "vault's admin to raise it");
	/* Grown as bytes arrive: a claimed length costs nothing unsent. */
	size_t have = 0, cap = 0;
	while (have < len) {
		size_t step = len - have < READ_STEP ? len - have : READ_STEP;
		if (have + step > cap) {
			size_t nc = cap ? cap * 2 : READ_STEP;
			if (nc > len)
				nc = len;
			uint8_t *nm = realloc(mf, nc);
			if (nm == NULL) {
				free(mf);
				return refuse(r, "vault.snapshot", ERR_NOMEM,
				    "out of memory");
			}
			mf = nm;
			cap = nc;
		}
		if (read_payload(r, mf + have, step) != ERR_OK) {
			free(mf);
			return refuse(r, "vault.snapshot", ERR_FORMAT,
			    "the connection ended inside a manifest");
		}
		have += step;
	}
	rc = manifest_parse_verify(mf, len, r->host.sign_pk, &m);
	if (rc != ERR_OK) {
		free(mf);
		return refuse(r, "vault.snapshot", rc, rc == ERR_SIGNATURE ?
		    "snapshot refused: the host's key did not sign it" :
		    "snapshot refused: malformed manifest");
	}
	manifest_id_hex(m, id);
	if (strcmp(m->host, r->o->host) != 0) {
		rc = refuse(r, "vault.snapshot", ERR_DENIED,
		    "snapshot refused: it names another host");
		goto out;
	}
	if (memcmp(m->key_id, vault_key_id(r->v), PACK_KEY_ID_LEN) != 0) {
		rc = refuse(r, "vault.snapshot", ERR_NOTFOUND,
		    "snapshot refused: its packs are sealed to another vault "
		    "key");
		goto out;
	}
	for (size_t i = 0; i < m->npacks; i++) {
		struct stat st;
		if (!vault_received_has(&r->got, m->packs[i]) ||
		    vault_pack_path(r->v, m->packs[i], path,
		    sizeof(path)) != ERR_OK || stat(path, &st) != 0) {
			snprintf(msg, sizeof(msg), "snapshot refused: pack "
			    "%.16s... is not one this host sent; run the "
			    "backup again with --no-cache", m->packs[i]);
			rc = refuse(r, "vault.snapshot", ERR_NOTFOUND, msg);
			goto out;
		}
	}
	/* The vault's clock, never the host's: retention counts from it. */
	now = (uint64_t)time(NULL);
	rc = vault_snapshot_put(r->v, r->o->host, mf, len, now);
	if (rc != ERR_OK) {
		rc = refuse(r, "vault.snapshot", rc, rc == ERR_EXISTS ?
		    "snapshot refused: a snapshot with this ID is already "
		    "in the vault" : "snapshot refused: the vault could not "
		    "store it");
		goto out;
	}
	r->snap_charges += vault_quota_charge((uint64_t)len +
	    VAULT_SNAP_HEADER_LEN);
	snprintf(detail, sizeof(detail), "{\"snapshot\":\"%s\",\"packs\":%zu,"
	    "\"received\":%llu,\"client_time\":%llu}", id, m->npacks,
	    (unsigned long long)now, (unsigned long long)m->client_time);
	if (audit(r, "vault.snapshot", "allow", detail) != ERR_OK) {
		rc = refuse(r, "vault.snapshot", ERR_IO, "the vault cannot "
		    "write its audit log; the snapshot is kept but not "
		    "acknowledged (see the vault's log)");
		goto out;
	}
	be_put64(ok, now);
	rc = vp_send(r->out, VP_OK, ok, sizeof(ok));
out:
	manifest_free(m);
	free(mf);
	return rc;
}

/* One session, under the host's lock. */
static int
session(struct rx *r)
{
	const struct vault_receive_opts *o = r->o;
	int rc, hello = 0;

	if ((rc = vault_received_load(r->v, o->host, &r->got)) != ERR_OK ||
	    (rc = vault_snapshot_charges(r->v, o->host, &r->snap_charges)) !=
	    ERR_OK)
		return refuse(r, "vault.session", rc,
		    "the vault cannot read its records for this host");
	size_t swept;
	if (!o->no_audit && vault_tmp_sweep(r->v, &swept) == ERR_OK && swept > 0) {
		char detail[64];
		snprintf(detail, sizeof(detail), "{\"removed\":%zu}", swept);
		(void)audit(r, "vault.tmp.sweep", "allow", detail);
	}
	if ((r->buf = malloc(READ_STEP)) == NULL ||
	    inpipe_new(r->in, 0, &r->inp) != ERR_OK) {
		free(r->buf);
		vault_received_free(&r->got);
		return ERR_NOMEM;
	}
	for (;;) {
		uint8_t type;
		uint32_t len;

		rc = read_head(r, &type, &len);
		if (rc == ERR_NETWORK) {
			rc = refuse(r, "vault.session", ERR_NETWORK,
			    "idle for too long");
			break;
		}
		if (rc == ERR_NOTFOUND) {
			say(r, "the agent left without saying goodbye");
			rc = ERR_NETWORK;
			break;
		}
		if (rc != ERR_OK) {
			rc = refuse(r, "vault.session", ERR_FORMAT,
			    "malformed frame");
			break;
		}
		if (!hello && type != VP_HELLO) {
			rc = refuse(r, "vault.session", ERR_FORMAT,
			    "the first message must be hello");
			break;
		}
		if (type == VP_HELLO && hello) {
			rc = refuse(r, "vault.session", ERR_FORMAT,
			    "hello twice");
			break;
		}
		if (type == VP_HELLO) {
			hello = 1;
			rc = on_hello(r, len);
		} else if (type == VP_PACK) {
			rc = on_pack(r, len);
		} else if (type == VP_SNAP) {
			rc = on_snap(r, len);
		} else if (type == VP_BYE && len == 0) {
			rc = vp_send(r->out, VP_OK, NULL, 0);
			break;
		} else {
			rc = refuse(r, "vault.session", ERR_FORMAT,
			    "unknown message; this vault only takes packs and "
			    "snapshots");
		}
		if (rc != ERR_OK)
			break;
	}
	inpipe_free(r->inp);
	free(r->buf);
	vault_received_free(&r->got);
	return rc;
}


int
vault_receive(struct vault *v, const struct vault_receive_opts *o, int in,
    int out, char *why, size_t whylen)
{
	struct rx r = { .v = v, .o = o, .in = in, .out = out, .why = why,
	    .whylen = whylen };
	int rc, lock = -1;

	why[0] = '\0';
	fs_pipe_grow(in);
	if (vault_host_get(v, o->host, &r.host) != ERR_OK)
		return refuse(&r, "vault.session", ERR_NOTFOUND,
		    "this host is not enrolled in the vault (bulwark vault "
		    "enroll)");
	if ((rc = vault_host_lock(v, o->host, HOST_LOCK_WAIT_MS, &lock)) !=
	    ERR_OK)
		return refuse(&r, "vault.session", rc, rc == ERR_LOCKED ?
		    "another backup of this host is being received; try again "
		    "when it has ended" : "the vault cannot lock this host's "
		    "records (see its log)");
	rc = session(&r);
	close(lock);
	return rc;
}
