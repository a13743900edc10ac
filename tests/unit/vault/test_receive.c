/*
 * test_receive.c - the vault side of the receive protocol
 * (vault/receive.h) over a socketpair, with a thread playing the agent:
 * hello, packs, snapshots dated by the vault's clock, and each refusal
 * (a pack the host never sent, the quota, another signing key, another
 * host name, a wrong pack name), every one of which must end the session
 * with an ERR frame and leave a "deny" event in the vault's audit log.
 */
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "audit/tiles.h"
#include "audit/verify.h"
#include "common/fsutil.h"
#include "backup/manifest.h"
#include "backup/pack.h"
#include "vault/proto.h"
#include "vault/receive.h"
#include "vault/store.h"
#include "common/banned.h"

#define HOST "web1"
#define SMALL "small"		/* enrolled with a tiny quota */
#define OTHER "db1"		/* another enrolled host */
#define SMALL_QUOTA 100
#define MAX_FRAMES 8
#define YEAR_2100 4102444800ull

struct fx {
	char dir[64];
	char vdir[96];
	char *log_vkey;
	uint8_t vault_pk[PACK_PK_LEN], vault_sk[PACK_SK_LEN];
	uint8_t host_pk[MANIFEST_PK_LEN], host_sk[MANIFEST_SK_LEN];
	uint8_t other_pk[MANIFEST_PK_LEN], other_sk[MANIFEST_SK_LEN];
	struct vault *v;
};

/* What the agent sends, and what it got back: one reply per frame until
 * an ERR or the end of the stream. */
struct session {
	uint8_t type[MAX_FRAMES];
	uint8_t *body[MAX_FRAMES];
	size_t len[MAX_FRAMES];
	size_t nframes;
	uint8_t rtype[MAX_FRAMES];
	uint8_t reply[MAX_FRAMES][VP_REPLY_MAX + 1];
	size_t rlen[MAX_FRAMES];
	size_t nreplies;
	int send_failed;
	int fd;
	/* The vault's side. */
	int rc;
	char why[512];
};

/* ---- Helpers ---------------------------------------------------------- */

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
enroll(struct fx *f, const char *name, const uint8_t pk[MANIFEST_PK_LEN],
    uint64_t quota)
{
	struct vault_host h;

	memset(&h, 0, sizeof(h));
	snprintf(h.name, sizeof(h.name), "%s", name);
	memcpy(h.sign_pk, pk, MANIFEST_PK_LEN);
	h.quota = quota;
	snprintf(h.ssh_key, sizeof(h.ssh_key), "ssh-ed25519 AAAAtest %s",
	    name);
	assert_int_equal(vault_host_add(f->v, &h), ERR_OK);
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	uint8_t secret[REPO_SECRET_LEN], seed[32];
	char why[256] = "";

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/bwt-receive-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->vdir, sizeof(f->vdir), "%s/vault", f->dir);
	assert_int_equal(pack_vault_keypair_secret(f->vault_pk, f->vault_sk),
	    ERR_OK);
	randombytes_buf(secret, sizeof(secret));
	assert_int_equal(vault_create(f->vdir, f->vault_pk, secret,
	    "test.example/vault", &f->log_vkey, why, sizeof(why)), ERR_OK);
	assert_int_equal(vault_open(f->vdir, &f->v, why, sizeof(why)),
	    ERR_OK);
	memset(seed, 0x01, sizeof(seed));
	crypto_sign_seed_keypair(f->host_pk, f->host_sk, seed);
	memset(seed, 0x02, sizeof(seed));
	crypto_sign_seed_keypair(f->other_pk, f->other_sk, seed);
	enroll(f, HOST, f->host_pk, 0);
	enroll(f, SMALL, f->host_pk, SMALL_QUOTA);
	enroll(f, OTHER, f->other_pk, 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	vault_close(f->v);
	nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f->log_vkey);
	free(f);
	return 0;
}

static void
make_pack(const uint8_t pk[PACK_PK_LEN], const char *text, uint8_t **buf,
    size_t *len, char name[PACK_NAME_HEX_LEN + 1])
{
	struct pack_run *run = NULL;
	struct pack_writer *w = NULL;
	uint8_t id[PACK_ID_LEN];

	crypto_generichash(id, sizeof(id), (const uint8_t *)text, strlen(text),
	    NULL, 0);
	assert_int_equal(pack_run_new(pk, &run), ERR_OK);
	assert_int_equal(pack_writer_new(run, &w), ERR_OK);
	assert_int_equal(pack_writer_add(w, id, (const uint8_t *)text,
	    strlen(text)), ERR_OK);
	assert_int_equal(pack_writer_finish_buf(w, buf, len, name), ERR_OK);
	pack_writer_free(w);
	pack_run_free(run);
}

/* A manifest for host naming one pack, signed with sk. */
static void
make_manifest(const struct fx *f, const char *host, const char *pack,
    uint64_t client_time, const uint8_t sk[MANIFEST_SK_LEN], uint8_t **out,
    size_t *len)
{
	char packs[1][PACK_NAME_HEX_LEN + 1];
	struct manifest m;

	memset(&m, 0, sizeof(m));
	memcpy(packs[0], pack, sizeof(packs[0]));
	m.host = (char *)host;
	randombytes_buf(m.snapshot_id, sizeof(m.snapshot_id));
	m.client_time = client_time;
	assert_int_equal(pack_vault_key_id(f->vault_pk, m.key_id), ERR_OK);
	memset(m.root_id, 0x22, sizeof(m.root_id));
	memcpy(m.root_pack, pack, sizeof(m.root_pack));
	m.packs = packs;
	m.npacks = 1;
	assert_int_equal(manifest_encode_sign(&m, sk, out, len), ERR_OK);
}

static void
add_frame(struct session *s, uint8_t type, const void *a, size_t alen,
    const void *b, size_t blen)
{
	uint8_t *p = malloc(alen + blen + 1);

	assert_true(s->nframes < MAX_FRAMES);
	assert_non_null(p);
	if (alen > 0)
		memcpy(p, a, alen);
	if (blen > 0)
		memcpy(p + alen, b, blen);
	s->type[s->nframes] = type;
	s->body[s->nframes] = p;
	s->len[s->nframes] = alen + blen;
	s->nframes++;
}

static void
add_hello(struct session *s, const char *host)
{
	uint8_t h[5] = { 'B', 'W', 'R', 'P', VP_VERSION };

	add_frame(s, VP_HELLO, h, sizeof(h), host, strlen(host));
}

static void
add_pack(struct session *s, const char *name, const uint8_t *buf, size_t len)
{
	add_frame(s, VP_PACK, name, PACK_NAME_HEX_LEN, buf, len);
}

static void
add_bye(struct session *s)
{
	add_frame(s, VP_BYE, NULL, 0, NULL, 0);
}

/* A whole session: hello, one pack, a snapshot, bye. */
static void
pack_and_snapshot(struct session *s, const char *host, const char *name,
    const uint8_t *buf, size_t len, const uint8_t *mf, size_t mlen)
{
	memset(s, 0, sizeof(*s));
	add_hello(s, host);
	add_pack(s, name, buf, len);
	add_frame(s, VP_SNAP, mf, mlen, NULL, 0);
	add_bye(s);
}

/* The agent: each frame, then its reply; an ERR or a closed stream ends
 * it. A write may fail when the vault has already hung up. */
static void *
agent(void *arg)
{
	struct session *s = arg;

	for (size_t i = 0; i < s->nframes; i++) {
		uint8_t t;
		size_t n;

		/* Sent or not, the reply (if any) tells what happened. */
		if (vp_send(s->fd, s->type[i], s->body[i], s->len[i]) != ERR_OK)
			s->send_failed = 1;
		if (vp_read_reply(s->fd, &t, s->reply[i], &n) != ERR_OK)
			break;
		s->rtype[i] = t;
		s->rlen[i] = n;
		s->nreplies++;
		if (t == VP_ERR)
			break;
	}
	close(s->fd);
	return NULL;
}

/* Runs the session for host; the vault audits unless no_audit. */
static void
run(struct fx *f, const char *host, struct session *s)
{
	struct vault_receive_opts o = { .host = host, .source = "192.0.2.1",
	    .idle_timeout_ms = 10000 };
	pthread_t th;
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
	    0);
	s->fd = sv[1];
	assert_int_equal(pthread_create(&th, NULL, agent, s), 0);
	s->rc = vault_receive(f->v, &o, sv[0], sv[0], s->why, sizeof(s->why));
	close(sv[0]);
	assert_int_equal(pthread_join(th, NULL), 0);
}

static void
session_free(struct session *s)
{
	for (size_t i = 0; i < s->nframes; i++)
		free(s->body[i]);
	memset(s, 0, sizeof(*s));
}

static uint64_t
get_u64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* The log's size and its last entry, parsed (NULL when empty). */
static json_t *
last_entry(const struct fx *f, uint64_t *size)
{
	struct audit_verify_opts o = { .log_vkey = f->log_vkey };
	struct audit_verify_result res;
	struct tile_reader *t = NULL;
	size_t offs[TILE_WIDTH], lens[TILE_WIDTH], blen;
	const uint8_t *b;
	unsigned w;
	char dir[160];
	json_t *e;

	snprintf(dir, sizeof(dir), "%s/log", f->vdir);
	memset(&res, 0, sizeof(res));
	assert_int_equal(audit_verify(dir, &o, &res), ERR_OK);
	*size = res.size;
	if (res.size == 0)
		return NULL;
	assert_int_equal(tile_reader_new(dir, res.size, &t), ERR_OK);
	assert_int_equal(tile_reader_bundle(t, (res.size - 1) / TILE_WIDTH, &b,
	    &blen, &w), ERR_OK);
	assert_int_equal(tile_bundle_split(b, blen, w, offs, lens), ERR_OK);
	size_t i = (res.size - 1) % TILE_WIDTH;
	e = json_loadb((const char *)b + offs[i], lens[i], 0, NULL);
	assert_non_null(e);
	tile_reader_free(t);
	return e;
}

static uint64_t
log_size(const struct fx *f)
{
	uint64_t n;
	json_t *e = last_entry(f, &n);

	json_decref(e);
	return n;
}

static const char *
field(json_t *e, const char *k)
{
	const char *v = json_string_value(json_object_get(e, k));

	return v != NULL ? v : "";
}

/*
 * The session ended with an ERR as its last reply, after `oks` OKs, and
 * the log grew by one "deny" event for action by host (plus one "allow"
 * per accepted pack or snapshot, given as allows).
 */
static void
expect_refusal(const struct fx *f, const struct session *s, size_t oks,
    uint64_t log_before, uint64_t allows, const char *host,
    const char *action)
{
	uint64_t after;
	json_t *e;

	assert_int_not_equal(s->rc, ERR_OK);
	assert_true(s->why[0] != '\0');
	assert_int_equal(s->nreplies, oks + 1);
	for (size_t i = 0; i < oks; i++)
		assert_int_equal(s->rtype[i], VP_OK);
	assert_int_equal(s->rtype[oks], VP_ERR);
	/* The agent is told the same words the vault logs. */
	assert_string_equal((const char *)s->reply[oks], s->why);

	e = last_entry(f, &after);
	assert_int_equal(after, log_before + allows + 1);
	assert_string_equal(field(e, "decision"), "deny");
	assert_string_equal(field(e, "action"), action);
	assert_string_equal(field(e, "actor"), host);
	assert_string_equal(field(e, "source"), "192.0.2.1");
	assert_string_equal(field(json_object_get(e, "detail"), "reason"),
	    s->why);
	json_decref(e);
}

/* ---- Tests -------------------------------------------------------------- */

static void
test_hello(void **state)
{
	struct fx *f = *state;
	struct session s;

	memset(&s, 0, sizeof(s));
	add_hello(&s, HOST);
	add_bye(&s);
	run(f, HOST, &s);
	assert_int_equal(s.rc, ERR_OK);
	assert_int_equal(s.nreplies, 2);
	assert_int_equal(s.rtype[0], VP_OK);
	assert_int_equal(s.rlen[0], PACK_KEY_ID_LEN + 8);
	assert_memory_equal(s.reply[0], vault_key_id(f->v), PACK_KEY_ID_LEN);
	assert_int_equal(get_u64(s.reply[0] + PACK_KEY_ID_LEN), VP_QUOTA_NONE);
	assert_int_equal(s.rtype[1], VP_OK);
	assert_int_equal(s.rlen[1], 0);
	session_free(&s);

	/* A host with a quota learns what is left of it. */
	add_hello(&s, SMALL);
	add_bye(&s);
	run(f, SMALL, &s);
	assert_int_equal(s.rc, ERR_OK);
	assert_int_equal(get_u64(s.reply[0] + PACK_KEY_ID_LEN), SMALL_QUOTA);
	session_free(&s);
}

/* A hello for another host name than the forced command's. */
static void
test_hello_wrong_host(void **state)
{
	struct fx *f = *state;
	uint64_t before = log_size(f);
	struct session s;

	memset(&s, 0, sizeof(s));
	add_hello(&s, OTHER);
	add_bye(&s);
	run(f, HOST, &s);
	assert_int_equal(s.rc, ERR_DENIED);
	expect_refusal(f, &s, 0, before, 0, HOST, "vault.session");
	session_free(&s);

	/* Anything before the hello. */
	before = log_size(f);
	add_bye(&s);
	run(f, HOST, &s);
	expect_refusal(f, &s, 0, before, 0, HOST, "vault.session");
	session_free(&s);
}

/*
 * An agent that goes silent, before its first frame or in the middle of
 * a frame head, is refused after the idle timeout rather than held.
 */
static void
test_idle(void **state)
{
	static const uint8_t part[] = { VP_HELLO, 0, 0 };
	struct vault_receive_opts o = { .host = HOST, .source = "192.0.2.1",
	    .idle_timeout_ms = 300 };
	struct fx *f = *state;
	char why[256];
	int sv[2];

	for (int mid = 0; mid < 2; mid++) {
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC,
		    0, sv), 0);
		if (mid)
			assert_int_equal(write(sv[1], part, sizeof(part)),
			    (ssize_t)sizeof(part));
		assert_int_equal(vault_receive(f->v, &o, sv[0], sv[0], why,
		    sizeof(why)), ERR_NETWORK);
		assert_non_null(strstr(why, "idle for too long"));
		close(sv[0]);
		close(sv[1]);
	}
}

/* Lines in the vault's received list of host. */
static size_t
received_lines(const struct fx *f, const char *host)
{
	char path[4096], *text;
	size_t len, n = 0;

	snprintf(path, sizeof(path), "%s/received/%s", f->vdir, host);
	assert_int_equal(fs_read_file(path, 1 << 20, &text, &len), ERR_OK);
	for (size_t i = 0; i < len; i++)
		n += text[i] == '\n';
	free(text);
	return n;
}

static void
test_pack(void **state)
{
	struct fx *f = *state;
	struct vault_received r;
	char name[PACK_NAME_HEX_LEN + 1];
	uint8_t *buf;
	size_t len;
	struct session s;
	uint64_t before = log_size(f);
	json_t *e;
	uint64_t after;

	make_pack(f->vault_pk, "a chunk for the vault", &buf, &len, name);
	memset(&s, 0, sizeof(s));
	add_hello(&s, HOST);
	add_pack(&s, name, buf, len);
	add_pack(&s, name, buf, len);
	add_bye(&s);
	run(f, HOST, &s);
	assert_int_equal(s.rc, ERR_OK);
	assert_int_equal(s.nreplies, 4);
	assert_int_equal(s.rtype[1], VP_OK);
	assert_int_equal(s.rlen[1], 1);
	assert_int_equal(s.reply[1][0], 0);	/* new */
	assert_int_equal(s.rtype[2], VP_OK);
	assert_int_equal(s.reply[2][0], 1);	/* already there */
	assert_int_equal(s.rtype[3], VP_OK);
	session_free(&s);

	int fd = vault_pack_open(f->v, name);
	assert_true(fd >= 0);
	assert_int_equal(pack_verify_name_fd(fd, name), ERR_OK);
	close(fd);
	assert_int_equal(vault_received_load(f->v, HOST, &r), ERR_OK);
	assert_int_equal(r.n, 1);
	assert_string_equal(r.names[0], name);
	vault_received_free(&r);
	/* Sent twice, listed once: resending cannot grow the list. */
	assert_int_equal(received_lines(f, HOST), 1);

	e = last_entry(f, &after);
	assert_int_equal(after, before + 2);
	assert_string_equal(field(e, "decision"), "allow");
	assert_string_equal(field(e, "action"), "vault.pack");
	assert_string_equal(field(json_object_get(e, "detail"), "pack"), name);
	assert_true(json_is_true(json_object_get(json_object_get(e, "detail"),
	    "existed")));
	json_decref(e);
	free(buf);
}

/*
 * The audit log cannot be written: the pack is kept, but not acknowledged
 * (nothing the vault took goes unlogged); the agent hears why.
 */
static void
test_pack_unlogged(void **state)
{
	struct fx *f = *state;
	char name[PACK_NAME_HEX_LEN + 1], log[4096], moved[4200];
	uint8_t *buf;
	size_t len;
	struct session s;
	int fd;

	make_pack(f->vault_pk, "a chunk nobody may log", &buf, &len, name);
	snprintf(log, sizeof(log), "%s/log", f->vdir);
	snprintf(moved, sizeof(moved), "%s/log.away", f->vdir);
	assert_int_equal(rename(log, moved), 0);
	assert_true((fd = open(log, O_WRONLY | O_CREAT | O_EXCL, 0600)) >= 0);
	close(fd);
	memset(&s, 0, sizeof(s));
	add_hello(&s, HOST);
	add_pack(&s, name, buf, len);
	add_bye(&s);
	run(f, HOST, &s);
	assert_int_equal(unlink(log), 0);
	assert_int_equal(rename(moved, log), 0);
	assert_int_equal(s.rc, ERR_IO);
	assert_int_equal(s.nreplies, 2);
	assert_int_equal(s.rtype[1], VP_ERR);
	assert_non_null(strstr((const char *)s.reply[1], "audit log"));
	fd = vault_pack_open(f->v, name);
	assert_true(fd >= 0);
	close(fd);
	session_free(&s);
	free(buf);
}

/* A pack whose bytes do not hash to its name. */
static void
test_pack_wrong_name(void **state)
{
	struct fx *f = *state;
	char name[PACK_NAME_HEX_LEN + 1];
	uint8_t *buf;
	size_t len;
	struct session s;
	uint64_t before = log_size(f);

	make_pack(f->vault_pk, "a chunk", &buf, &len, name);
	name[5] = name[5] == 'a' ? 'b' : 'a';
	memset(&s, 0, sizeof(s));
	add_hello(&s, HOST);
	add_pack(&s, name, buf, len);
	add_bye(&s);
	run(f, HOST, &s);
	assert_int_equal(s.rc, ERR_MISMATCH);
	expect_refusal(f, &s, 1, before, 0, HOST, "vault.pack");
	assert_int_equal(vault_pack_open(f->v, name), ERR_NOTFOUND);
	session_free(&s);
	free(buf);
}

static void
test_snapshot(void **state)
{
	struct fx *f = *state;
	struct vault_snapshot *list = NULL;
	char name[PACK_NAME_HEX_LEN + 1];
	uint8_t *buf, *mf;
	size_t len, mlen, n;
	struct session s;
	uint64_t t0, t1, got;

	make_pack(f->vault_pk, "root tree", &buf, &len, name);
	make_manifest(f, HOST, name, YEAR_2100, f->host_sk, &mf, &mlen);
	pack_and_snapshot(&s, HOST, name, buf, len, mf, mlen);
	t0 = (uint64_t)time(NULL);
	run(f, HOST, &s);
	t1 = (uint64_t)time(NULL);
	assert_int_equal(s.rc, ERR_OK);
	assert_int_equal(s.nreplies, 4);
	assert_int_equal(s.rtype[2], VP_OK);
	assert_int_equal(s.rlen[2], 8);
	got = get_u64(s.reply[2]);
	/* The vault's clock, not the host's year 2100. */
	assert_true(got >= t0 && got <= t1);

	assert_int_equal(vault_snapshot_list(f->v, &list, &n, NULL, NULL),
	    ERR_OK);
	assert_int_equal(n, 1);
	assert_int_equal(list[0].received, got);
	assert_int_equal(list[0].m->client_time, YEAR_2100);
	assert_memory_equal(list[0].raw, mf, mlen);
	vault_snapshots_free(list, n);

	/* The same snapshot again, in a later session: refused, kept once. */
	uint64_t before = log_size(f);
	session_free(&s);
	add_hello(&s, HOST);
	add_frame(&s, VP_SNAP, mf, mlen, NULL, 0);
	run(f, HOST, &s);
	assert_int_equal(s.rc, ERR_EXISTS);
	expect_refusal(f, &s, 1, before, 0, HOST, "vault.snapshot");
	session_free(&s);
	free(mf);
	free(buf);
}

/*
 * A snapshot naming a pack the vault holds, but which this host never
 * sent (another host uploaded it).
 */
static void
test_snapshot_foreign_pack(void **state)
{
	struct fx *f = *state;
	struct vault_upload *u = NULL;
	struct vault_snapshot *list = NULL;
	char name[PACK_NAME_HEX_LEN + 1];
	uint8_t *buf, *mf;
	size_t len, mlen, n;
	struct session s;
	int existed;
	uint64_t before;

	make_pack(f->vault_pk, "someone else's", &buf, &len, name);
	assert_int_equal(vault_upload_begin(f->v, &u), ERR_OK);
	assert_int_equal(vault_upload_write(u, buf, len), ERR_OK);
	assert_int_equal(vault_upload_commit(u, name, OTHER, 0, &existed), ERR_OK);
	vault_upload_abort(u);

	make_manifest(f, HOST, name, 1700000000, f->host_sk, &mf, &mlen);
	before = log_size(f);
	memset(&s, 0, sizeof(s));
	add_hello(&s, HOST);
	add_frame(&s, VP_SNAP, mf, mlen, NULL, 0);
	add_bye(&s);
	run(f, HOST, &s);
	assert_int_equal(s.rc, ERR_NOTFOUND);
	expect_refusal(f, &s, 1, before, 0, HOST, "vault.snapshot");
	assert_non_null(strstr(s.why, "not one this host sent"));
	session_free(&s);

	/* Nor a pack nobody sent. */
	free(mf);
	char missing[PACK_NAME_HEX_LEN + 1];
	memset(missing, 'e', PACK_NAME_HEX_LEN);
	missing[PACK_NAME_HEX_LEN] = '\0';
	make_manifest(f, HOST, missing, 1700000000, f->host_sk, &mf, &mlen);
	before = log_size(f);
	add_hello(&s, HOST);
	add_frame(&s, VP_SNAP, mf, mlen, NULL, 0);
	run(f, HOST, &s);
	expect_refusal(f, &s, 1, before, 0, HOST, "vault.snapshot");
	session_free(&s);

	assert_int_equal(vault_snapshot_list(f->v, &list, &n, NULL, NULL),
	    ERR_OK);
	assert_int_equal(n, 0);
	vault_snapshots_free(list, n);
	free(mf);
	free(buf);
}

static void
test_quota(void **state)
{
	struct fx *f = *state;
	struct vault_received r;
	char name[PACK_NAME_HEX_LEN + 1];
	uint8_t *buf;
	size_t len;
	struct session s;
	uint64_t before = log_size(f);

	make_pack(f->vault_pk, "bigger than a hundred bytes", &buf, &len, name);
	assert_true(len > SMALL_QUOTA);
	memset(&s, 0, sizeof(s));
	add_hello(&s, SMALL);
	add_pack(&s, name, buf, len);
	add_bye(&s);
	run(f, SMALL, &s);
	assert_int_equal(s.rc, ERR_TOOBIG);
	expect_refusal(f, &s, 1, before, 0, SMALL, "vault.pack");
	assert_non_null(strstr(s.why, "quota"));
	assert_int_equal(vault_pack_open(f->v, name), ERR_NOTFOUND);
	assert_int_equal(vault_received_load(f->v, SMALL, &r), ERR_OK);
	assert_int_equal(r.n, 0);
	vault_received_free(&r);
	session_free(&s);
	free(buf);
}

/*
 * Snapshot records count against the quota like packs, each file as whole
 * 4 KiB blocks: with one block of quota, the first pack fits and the
 * snapshot after it does not.
 */
static void
test_quota_snapshot(void **state)
{
	struct fx *f = *state;
	char name[PACK_NAME_HEX_LEN + 1];
	uint8_t *buf, *mf;
	size_t len, mlen;
	struct session s;
	uint64_t before;

	enroll(f, "oneblock", f->host_pk, VAULT_QUOTA_BLOCK);
	make_pack(f->vault_pk, "root tree", &buf, &len, name);
	make_manifest(f, "oneblock", name, YEAR_2100, f->host_sk, &mf, &mlen);
	pack_and_snapshot(&s, "oneblock", name, buf, len, mf, mlen);
	before = log_size(f);
	run(f, "oneblock", &s);
	assert_int_equal(s.rc, ERR_TOOBIG);
	assert_non_null(strstr(s.why, "quota"));
	assert_int_equal(s.rtype[1], VP_OK);	/* the pack */
	expect_refusal(f, &s, 2, before, 1, "oneblock", "vault.snapshot");
	session_free(&s);
	free(mf);
	free(buf);
}

/* A manifest signed by another key than the host's enrolled one. */
static void
test_snapshot_other_key(void **state)
{
	struct fx *f = *state;
	char name[PACK_NAME_HEX_LEN + 1];
	uint8_t *buf, *mf;
	size_t len, mlen;
	struct session s;
	uint64_t before = log_size(f);

	make_pack(f->vault_pk, "signed elsewhere", &buf, &len, name);
	make_manifest(f, HOST, name, 1700000000, f->other_sk, &mf, &mlen);
	pack_and_snapshot(&s, HOST, name, buf, len, mf, mlen);
	run(f, HOST, &s);
	assert_int_equal(s.rc, ERR_SIGNATURE);
	/* One allow for the pack, then the deny. */
	expect_refusal(f, &s, 2, before, 1, HOST, "vault.snapshot");
	session_free(&s);
	free(mf);

	/* Signed by the right key but naming another host. */
	make_manifest(f, OTHER, name, 1700000000, f->host_sk, &mf, &mlen);
	before = log_size(f);
	add_hello(&s, HOST);
	add_frame(&s, VP_SNAP, mf, mlen, NULL, 0);
	run(f, HOST, &s);
	assert_int_equal(s.rc, ERR_DENIED);
	expect_refusal(f, &s, 1, before, 0, HOST, "vault.snapshot");
	session_free(&s);
	free(mf);
	free(buf);
}

/* Frames the protocol does not have. */
static void
test_unknown_frames(void **state)
{
	struct fx *f = *state;
	struct session s;
	uint64_t before = log_size(f);

	memset(&s, 0, sizeof(s));
	add_hello(&s, HOST);
	add_frame(&s, 0x05, "x", 1, NULL, 0);
	run(f, HOST, &s);
	assert_int_equal(s.rc, ERR_FORMAT);
	expect_refusal(f, &s, 1, before, 0, HOST, "vault.session");
	session_free(&s);

	before = log_size(f);
	add_hello(&s, HOST);
	add_hello(&s, HOST);
	run(f, HOST, &s);
	expect_refusal(f, &s, 1, before, 0, HOST, "vault.session");
	session_free(&s);

	/* An agent that leaves without a word is not refused, only gone. */
	before = log_size(f);
	add_hello(&s, HOST);
	run(f, HOST, &s);
	assert_int_equal(s.rc, ERR_NETWORK);
	assert_int_equal(s.nreplies, 1);
	assert_int_equal(log_size(f), before);
	session_free(&s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_hello, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hello_wrong_host, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_idle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pack, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pack_wrong_name, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_snapshot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_foreign_pack,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_pack_unlogged, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_quota, setup, teardown),
		cmocka_unit_test_setup_teardown(test_quota_snapshot, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_other_key, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_unknown_frames, setup,
		    teardown),
	};

	if (sodium_init() < 0)
		return 1;
	/* The vault may hang up while the agent is still writing. */
	signal(SIGPIPE, SIG_IGN);
	umask(022);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
