/*
 * fuzz.c - libFuzzer harness for bulwarkd's handlers behind its real
 * request table, on a real state directory (SQLite, CA key, audit log) in
 * /dev/shm.
 *
 * Input: one byte choosing the caller (root, the gateway user alice,
 * bulwarkd's own uid, a stranger), then frames as they would arrive on one
 * connection. Each frame is decoded and checked against the table exactly
 * as rpc.c does (caller, connection state, field specs), and handed to
 * its handler; the first frame the server would refuse ends the
 * connection, as it would there. Freeing the connection runs what a
 * vanished client triggers (a session closed, its recording stored).
 * Anything but a crash, a sanitizer report or a leak passes: the daemon
 * must answer every sequence of requests with a status.
 */
#include <ftw.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "auth/sshkey.h"
#include "common/clock.h"
#include "common/proc.h"
#include "common/wire.h"
#include "daemon/bulwarkd.h"
#include "gateway/proto.h"
#include "gateway/rpc.h"
#include "common/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SELF_UID 4242	/* bulwarkd's own uid, as far as the table knows */
#define ALICE_UID 1000

static struct bulwarkd d;
static char dir[] = "/dev/shm/bwt-fuzz-daemon-XXXXXX";
static const struct rpc_request *table;
static size_t ntable;
static struct wire_builder *resp;

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
teardown(void)
{
	bd_state_close(&d);
	wire_builder_free(resp);
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* alice, with a key and a TOTP seed; a target web1 granted to her role. */
static void
seed_state(void)
{
	static const uint8_t seed[20] = "12345678901234567890";
	struct sshkey *k = NULL;
	struct sshkey_pub pub;
	char *line = NULL, fp[SSHKEY_FP_MAX];

	if (sshkey_generate_secret("alice", &k) != ERR_OK)
		abort();
	sshkey_public(k, &pub);
	if (sshkey_pub_format(&pub, NULL, &line) != ERR_OK)
		abort();
	line[strcspn(line, "\n")] = '\0';
	sshkey_fingerprint(&pub, fp);
	if (db_user_add(d.db, "alice", ALICE_UID, "admin") != ERR_OK ||
	    db_key_add(d.db, "alice", line, fp) != ERR_OK ||
	    db_totp_set_secret(d.db, "alice", seed, sizeof(seed)) != ERR_OK ||
	    db_target_add(d.db, "web1", "127.0.0.1", 22, "web", 2) != ERR_OK ||
	    db_hostkey_set(d.db, "web1", line, fp) != ERR_OK ||
	    db_grant_add(d.db, "admin", "web", "root") != ERR_OK)
		abort();
	free(line);
	sshkey_free(k);
}

/*
 * A live login of alice whose shells are this process: its grandparent
 * stands for sshd's monitor (daemon/login.c). Added again whenever an
 * input ended it (LOGIN_CLOSE), so that later inputs reach the session
 * requests. Without a grandparent (pid 1) sessions are refused, which
 * is fuzzed too.
 */
static void
seed_login(void)
{
	struct proc_info parent, gp;
	struct db_login l;
	uint64_t id;

	if (proc_info_get(getppid(), &parent) != ERR_OK || parent.ppid <= 1 ||
	    proc_info_get(parent.ppid, &gp) != ERR_OK)
		return;
	if (db_login_find(d.db, d.boot_id, parent.ppid, (int64_t)gp.start,
	    &l) == ERR_OK) {
		db_login_release(&l);
		return;
	}
	if (db_login_add(d.db, "alice", d.boot_id, parent.ppid,
	    (int64_t)gp.start, "", 0, &id) != ERR_OK)
		abort();
}

static void
setup(void)
{
	if (sodium_init() < 0 || mkdtemp(dir) == NULL)
		abort();
	d.state_dir = strdup(dir);
	d.log_dir = bd_join(dir, "log");
	d.rec_dir = bd_join(dir, "rec");
	d.source_address = strdup("127.0.0.1");
	d.cert_validity = 60;
	d.rec_cap = 65536;
	if (d.state_dir == NULL || d.log_dir == NULL || d.rec_dir == NULL ||
	    d.source_address == NULL || freopen("/dev/null", "w", stdout) ==
	    NULL || bd_state_init(&d) != ERR_OK || bd_state_open(&d) != ERR_OK)
		abort();
	seed_state();
	table = bd_table(NULL, &ntable);
	if (wire_builder_new(RPC_RESPONSE, &resp) != ERR_OK)
		abort();
	atexit(teardown);
}

static struct rpc_peer
caller(uint8_t b)
{
	static const uid_t uids[] = { 0, ALICE_UID, SELF_UID, 2000 };
	struct rpc_peer p;

	p.pid = getpid();
	p.uid = p.gid = uids[b % 4];
	p.accepted_boot_ns = clock_boot_ns();
	p.pidfd = -1;
	return p;
}

/* Runs one frame; 0 to go on, -1 where the server closes the connection. */
static int
one_frame(struct rpc_conn *conn, const struct rpc_peer *peer,
    const uint8_t *body, size_t len)
{
	const struct rpc_request *row;
	struct wire_msg msg;
	const char *why;
	int r;

	if (wire_msg_parse(body, len, &msg) != ERR_OK)
		return -1;
	if (rpc_table_check(table, ntable, peer, SELF_UID,
	    rpc_conn_state(conn), &msg, &row, &why) != ERR_OK)
		return -1;
	wire_builder_reset(resp, (uint16_t)(msg.type | RPC_RESPONSE));
	r = row->handler(conn, &msg, resp);
	if (r > 0 || r < -100)
		abort();	/* not an err.h code */
	return rpc_conn_dropped(conn) ? -1 : 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	struct rpc_conn *conn;
	struct rpc_peer peer;
	size_t off = 1, blen;

	if (!ready) {
		setup();
		ready = 1;
	}
	if (size < 1)
		return 0;
	seed_login();
	peer = caller(data[0]);
	if ((conn = rpc_conn_detached_new(&peer, &d)) == NULL)
		abort();
	while (size - off >= WIRE_HDR_LEN) {
		if (wire_frame_len(data + off, &blen) != ERR_OK ||
		    blen > size - off - WIRE_HDR_LEN)
			break;
		off += WIRE_HDR_LEN;
		if (one_frame(conn, &peer, data + off, blen) != 0)
			break;
		off += blen;
	}
	rpc_conn_detached_free(conn);
	return 0;
}
