/*
 * test_rpc.c - the monitor's wire format and RPC server over a real Unix
 * socket.
 *
 * The server runs in a forked child with a small request table; the test
 * process (root) talks to it directly, and forked children drop to
 * nobody (65534) with setresuid first, so the uid the handler reports is
 * the one SO_PEERCRED gave it. Each hostile client is followed by a good
 * request on a fresh connection, and every test ends by stopping the
 * server with SIGTERM and checking that it exited cleanly: nothing a
 * client did may have killed it.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
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
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/wire.h"
#include "gateway/rpc.h"
#include "common/banned.h"

#define NOBODY 65534

enum {
	T_WHOAMI = 1,	/* any caller: answers uid, gid, pid */
	T_ROOTONLY = 2,	/* root only */
	T_LOGIN = 3,	/* state 0 only, moves to state 1 */
	T_SECRET = 4,	/* state 1 only */
	T_ECHO = 5,	/* echoes its fields */
	T_BIG = 6,	/* a 60000-byte answer */
	T_FAIL = 7,	/* handler fails with ERR_NOTFOUND */
	T_NOBODY = 8,	/* served to uid 65534 only (a uid list) */
};

enum {
	F_UID = 1, F_GID, F_PID, F_NAME, F_STR, F_BYTES, F_U8, F_U32, F_U64,
};

/* ---- the server's table ---- */

static int
h_whoami(struct rpc_conn *conn, const struct wire_msg *req,
    struct wire_builder *resp)
{
	const struct rpc_peer *p = rpc_conn_peer(conn);

	(void)req;
	if (wire_put_u32(resp, F_UID, (uint32_t)p->uid) != ERR_OK ||
	    wire_put_u32(resp, F_GID, (uint32_t)p->gid) != ERR_OK ||
	    wire_put_u32(resp, F_PID, (uint32_t)p->pid) != ERR_OK)
		return ERR_INTERNAL;
	return ERR_OK;
}

static int
h_ok(struct rpc_conn *conn, const struct wire_msg *req,
    struct wire_builder *resp)
{
	(void)conn;
	(void)req;
	return wire_put_str(resp, F_STR, "ok");
}

static int
h_login(struct rpc_conn *conn, const struct wire_msg *req,
    struct wire_builder *resp)
{
	char *name = NULL;
	int r;

	(void)resp;
	if ((r = wire_get_strdup(req, F_NAME, &name)) != ERR_OK)
		return r;
	rpc_conn_set_data(conn, name, free);
	return rpc_conn_set_state(conn, 1);
}

static int
h_secret(struct rpc_conn *conn, const struct wire_msg *req,
    struct wire_builder *resp)
{
	(void)req;
	return wire_put_str(resp, F_STR, (const char *)rpc_conn_data(conn));
}

static int
h_echo(struct rpc_conn *conn, const struct wire_msg *req,
    struct wire_builder *resp)
{
	size_t i;
	int r;

	(void)conn;
	for (i = 0; i < req->nfields; i++) {
		const struct wire_field *f = &req->fields[i];

		if ((r = wire_put_bytes(resp, f->tag, f->data, f->len)) !=
		    ERR_OK)
			return r;
	}
	return ERR_OK;
}

static int
h_big(struct rpc_conn *conn, const struct wire_msg *req,
    struct wire_builder *resp)
{
	static uint8_t blob[60000];

	(void)conn;
	(void)req;
	memset(blob, 'x', sizeof(blob));
	return wire_put_bytes(resp, F_BYTES, blob, sizeof(blob));
}

static int
h_fail(struct rpc_conn *conn, const struct wire_msg *req,
    struct wire_builder *resp)
{
	(void)conn;
	(void)req;
	(void)resp;
	return ERR_NOTFOUND;
}

static const struct wire_field_spec login_fields[] = {
	{ F_NAME, WIRE_STR, WIRE_REQUIRED, 64 },
};
static const struct wire_field_spec echo_fields[] = {
	{ F_STR, WIRE_STR, 0, 1000 },
	{ F_BYTES, WIRE_BYTES, 0, 60000 },
	{ F_U8, WIRE_U8, 0, 0 },
	{ F_U32, WIRE_U32, 0, 0 },
	{ F_U64, WIRE_U64, 0, 0 },
};
static const uid_t nobody_uids[] = { NOBODY };

static const struct rpc_request table[] = {
	{ T_WHOAMI, "whoami", RPC_CALLER_ANY, NULL, 0, RPC_STATE_ALL,
	  NULL, 0, h_whoami },
	{ T_ROOTONLY, "rootonly", RPC_CALLER_ROOT, NULL, 0, RPC_STATE_ALL,
	  NULL, 0, h_ok },
	{ T_LOGIN, "login", RPC_CALLER_ANY, NULL, 0, RPC_STATE(0),
	  login_fields, 1, h_login },
	{ T_SECRET, "secret", RPC_CALLER_ANY, NULL, 0, RPC_STATE(1),
	  NULL, 0, h_secret },
	{ T_ECHO, "echo", RPC_CALLER_ANY, NULL, 0, RPC_STATE_ALL,
	  echo_fields, 5, h_echo },
	{ T_BIG, "big", RPC_CALLER_ANY, NULL, 0, RPC_STATE_ALL,
	  NULL, 0, h_big },
	{ T_FAIL, "fail", RPC_CALLER_ANY, NULL, 0, RPC_STATE_ALL,
	  NULL, 0, h_fail },
	{ T_NOBODY, "nobody", 0, nobody_uids, 1, RPC_STATE_ALL,
	  NULL, 0, h_ok },
};
#define NTABLE (sizeof(table) / sizeof(table[0]))

/* ---- fixture: a server in a child process ---- */

struct fx {
	char dir[64];
	char path[128];
	char logpath[128];
	pid_t pid;
};

static struct rpc_server *child_srv;
static FILE *child_log;

static void
on_term(int sig)
{
	(void)sig;
	rpc_server_stop(child_srv);
}

static void
log_to_file(void *arg, const char *line)
{
	(void)arg;
	fprintf(child_log, "%s\n", line);
	fflush(child_log);
}

static unsigned fx_per_uid, fx_reserved;	/* for the next fx_start */

static void
fx_start(struct fx *fx, mode_t mode, unsigned max_clients, int io_timeout)
{
	struct rpc_server_config cfg;
	int ready[2];
	char c;

	assert_int_equal(pipe(ready), 0);
	fx->pid = fork();
	assert_true(fx->pid >= 0);
	if (fx->pid == 0) {
		struct sigaction sa;
		int r;

		close(ready[0]);
		if ((child_log = fopen(fx->logpath, "a")) == NULL)
			_exit(10);
		memset(&cfg, 0, sizeof(cfg));
		cfg.path = fx->path;
		cfg.mode = mode;
		cfg.table = table;
		cfg.ntable = NTABLE;
		cfg.max_clients = max_clients;
		cfg.per_uid_max = fx_per_uid;
		cfg.reserved = fx_reserved;
		cfg.io_timeout_ms = io_timeout;
		cfg.log = log_to_file;
		if (rpc_server_new(&cfg, &child_srv) != ERR_OK)
			_exit(11);
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_term;
		sigaction(SIGTERM, &sa, NULL);
		if (write(ready[1], "r", 1) != 1)
			_exit(12);
		r = rpc_server_run(child_srv);
		rpc_server_free(child_srv);
		fclose(child_log);
		_exit(r == ERR_OK ? 0 : 13);
	}
	close(ready[1]);
	assert_int_equal(read(ready[0], &c, 1), 1);
	close(ready[0]);
}

static int
setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/bulwark-rpc-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	/* nobody must reach the socket inside. */
	assert_int_equal(chmod(fx->dir, 0755), 0);
	snprintf(fx->path, sizeof(fx->path), "%s/sock", fx->dir);
	snprintf(fx->logpath, sizeof(fx->logpath), "%s/log", fx->dir);
	fx->pid = -1;
	*state = fx;
	return 0;
}

/* Stops the server; it must still be alive and exit cleanly. */
static void
fx_stop(struct fx *fx)
{
	int st;

	if (fx->pid <= 0)
		return;
	assert_int_equal(waitpid(fx->pid, &st, WNOHANG), 0);
	assert_int_equal(kill(fx->pid, SIGTERM), 0);
	assert_int_equal(waitpid(fx->pid, &st, 0), fx->pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	fx->pid = -1;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;
	char cmd[256];

	fx_stop(fx);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
	if (system(cmd) != 0)
		return -1;
	free(fx);
	return 0;
}

static int
log_has(const struct fx *fx, const char *needle)
{
	char buf[65536];
	FILE *f = fopen(fx->logpath, "r");
	size_t n;

	if (f == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return strstr(buf, needle) != NULL;
}

/* ---- client helpers ---- */

static int
call_simple(struct rpc_client *c, uint16_t type, struct rpc_response **resp)
{
	struct wire_builder *b = NULL;
	int r;

	if ((r = wire_builder_new(type, &b)) != ERR_OK)
		return r;
	r = rpc_client_call(c, b, resp);
	wire_builder_free(b);
	return r;
}

/* A whoami on a fresh connection: the server is still serving. */
static void
assert_serving(const struct fx *fx)
{
	struct rpc_client *c = NULL;
	struct rpc_response *resp = NULL;
	uint32_t uid;

	assert_int_equal(rpc_client_connect(fx->path, 2000, &c), ERR_OK);
	assert_int_equal(call_simple(c, T_WHOAMI, &resp), ERR_OK);
	assert_int_equal(wire_get_u32(&resp->msg, F_UID, &uid), ERR_OK);
	assert_int_equal(uid, getuid());
	rpc_response_free(resp);
	rpc_client_free(c);
}

static int
raw_connect(const char *path)
{
	struct sockaddr_un sun;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	assert_true(strlen(path) < sizeof(sun.sun_path));
	memcpy(sun.sun_path, path, strlen(path) + 1);
	assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	return fd;
}

static void
raw_send(int fd, const void *p, size_t len)
{
	assert_int_equal(send(fd, p, len, MSG_NOSIGNAL), (ssize_t)len);
}

/*
 * Reads from fd until the server closes it, within timeout_ms; returns the
 * bytes read (a refusal's status response, or nothing), -1 on timeout.
 */
static ssize_t
read_until_closed(int fd, uint8_t *buf, size_t max, int timeout_ms)
{
	size_t got = 0;

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&pfd, 1, timeout_ms) != 1)
			return -1;
		n = recv(fd, buf + got, max - got, 0);
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return (ssize_t)got;
		if (n < 0)
			return -1;
		got += (size_t)n;
		if (got == max)
			return -1;
	}
}

/* Checks that buf holds just a status response of type|RPC_RESPONSE. */
static void
assert_status_only(const uint8_t *buf, size_t len, uint16_t type, int status)
{
	struct wire_msg m;
	size_t blen;
	uint32_t st;

	assert_true(len >= WIRE_HDR_LEN);
	assert_int_equal(wire_frame_len(buf, &blen), ERR_OK);
	assert_int_equal(blen, len - WIRE_HDR_LEN);
	assert_int_equal(wire_msg_parse(buf + WIRE_HDR_LEN, blen, &m), ERR_OK);
	assert_int_equal(m.type, type | RPC_RESPONSE);
	assert_int_equal(m.nfields, 1);
	assert_int_equal(wire_get_u32(&m, RPC_TAG_STATUS, &st), ERR_OK);
	assert_int_equal((int32_t)st, status);
}

/* Runs fn as nobody in a child; fn's return is the exit status. */
static void
run_as_nobody(const struct fx *fx, int (*fn)(const struct fx *))
{
	pid_t pid;
	int st;

	if (geteuid() != 0) {
		print_message("not root: cannot test as uid 65534\n");
		return;
	}
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (setgroups(0, NULL) != 0 ||
		    setresgid(NOBODY, NOBODY, NOBODY) != 0 ||
		    setresuid(NOBODY, NOBODY, NOBODY) != 0)
			_exit(100);
		_exit(fn(fx));
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

/* ---- wire format ---- */

static void
test_wire_roundtrip(void **state)
{
	static const uint8_t expect[] = {
		0, 0, 0, 34,		/* length */
		0, 5,			/* type */
		0, 8, 0, 0, 0, 4, 0xde, 0xad, 0xbe, 0xef,
		0, 5, 0, 0, 0, 3, 'a', 'b', 'c',
		0, 7, 0, 0, 0, 1, 7,
		0, 6, 0, 0, 0, 0,
	};
	struct wire_builder *b = NULL;
	const uint8_t *frame;
	size_t len, blen, slen;
	struct wire_msg m;
	const char *s;
	const uint8_t *p;
	char *dup = NULL;
	uint32_t u32;
	uint64_t u64;
	uint8_t u8;

	(void)state;
	assert_int_equal(wire_builder_new(T_ECHO, &b), ERR_OK);
	assert_int_equal(wire_put_u32(b, F_U32, 0xdeadbeef), ERR_OK);
	assert_int_equal(wire_put_str(b, F_STR, "abc"), ERR_OK);
	assert_int_equal(wire_put_u8(b, F_U8, 7), ERR_OK);
	assert_int_equal(wire_put_bytes(b, F_BYTES, NULL, 0), ERR_OK);
	assert_int_equal(wire_builder_frame(b, &frame, &len), ERR_OK);
	assert_int_equal(len, sizeof(expect));
	assert_memory_equal(frame, expect, sizeof(expect));

	assert_int_equal(wire_frame_len(frame, &blen), ERR_OK);
	assert_int_equal(blen, len - 4);
	assert_int_equal(wire_msg_parse(frame + 4, blen, &m), ERR_OK);
	assert_int_equal(m.type, T_ECHO);
	assert_int_equal(m.nfields, 4);
	assert_int_equal(wire_msg_check(&m, echo_fields, 5, NULL), ERR_OK);
	assert_int_equal(wire_get_u32(&m, F_U32, &u32), ERR_OK);
	assert_int_equal(u32, 0xdeadbeef);
	assert_int_equal(wire_get_u8(&m, F_U8, &u8), ERR_OK);
	assert_int_equal(u8, 7);
	assert_int_equal(wire_get_str(&m, F_STR, &s, &slen), ERR_OK);
	assert_int_equal(slen, 3);
	assert_memory_equal(s, "abc", 3);
	assert_int_equal(wire_get_strdup(&m, F_STR, &dup), ERR_OK);
	assert_string_equal(dup, "abc");
	free(dup);
	assert_int_equal(wire_get_bytes(&m, F_BYTES, &p, &slen), ERR_OK);
	assert_int_equal(slen, 0);
	assert_int_equal(wire_get_u64(&m, F_U64, &u64), ERR_NOTFOUND);
	assert_int_equal(u64, 0);
	/* A u32 is not a u64, nor a u8. */
	assert_int_equal(wire_get_u64(&m, F_U32, &u64), ERR_FORMAT);
	assert_int_equal(wire_get_u8(&m, F_U32, &u8), ERR_FORMAT);

	wire_builder_reset(b, T_WHOAMI);
	assert_int_equal(wire_put_u64(b, F_U64, 0x0102030405060708ull), ERR_OK);
	assert_int_equal(wire_builder_frame(b, &frame, &len), ERR_OK);
	assert_int_equal(len, 4 + 2 + 6 + 8);
	assert_int_equal(wire_msg_parse(frame + 4, len - 4, &m), ERR_OK);
	assert_int_equal(m.type, T_WHOAMI);
	assert_int_equal(wire_get_u64(&m, F_U64, &u64), ERR_OK);
	assert_true(u64 == 0x0102030405060708ull);
	wire_builder_free(b);
	wire_builder_free(NULL);
}

static void
test_wire_builder_refuses(void **state)
{
	struct wire_builder *b = NULL;
	const uint8_t *frame;
	size_t len;
	uint8_t *big;

	(void)state;
	assert_int_equal(wire_builder_new(1, &b), ERR_OK);
	assert_int_equal(wire_put_u8(b, 1, 1), ERR_OK);
	assert_int_equal(wire_put_u8(b, 1, 2), ERR_INVAL);
	/* Sticky: the builder refuses everything after an error. */
	assert_int_equal(wire_put_u8(b, 2, 2), ERR_INVAL);
	assert_int_equal(wire_builder_frame(b, &frame, &len), ERR_INVAL);

	wire_builder_reset(b, 1);
	assert_int_equal(wire_put_strn(b, 1, "a\0b", 3), ERR_INVAL);
	wire_builder_reset(b, 1);
	assert_int_equal(wire_put_str(b, 1, "\xc0\xaf"), ERR_INVAL);

	wire_builder_reset(b, 1);
	big = calloc(1, WIRE_MAX_BODY);
	assert_non_null(big);
	assert_int_equal(wire_put_bytes(b, 1, big, WIRE_MAX_BODY - 2 - 6),
	    ERR_OK);
	assert_int_equal(wire_builder_frame(b, &frame, &len), ERR_OK);
	assert_int_equal(len, WIRE_MAX_FRAME);
	assert_int_equal(wire_put_bytes(b, 2, big, 0), ERR_TOOBIG);
	wire_builder_reset(b, 1);
	assert_int_equal(wire_put_bytes(b, 1, big, WIRE_MAX_BODY), ERR_TOOBIG);
	free(big);

	wire_builder_reset(b, 1);
	for (unsigned i = 0; i < WIRE_MAX_FIELDS; i++)
		assert_int_equal(wire_put_u8(b, (uint16_t)i, 0), ERR_OK);
	assert_int_equal(wire_put_u8(b, 999, 0), ERR_TOOBIG);
	wire_builder_free(b);
}

static void
test_wire_frame_len(void **state)
{
	uint8_t h[4];
	size_t n;

	(void)state;
	memcpy(h, "\x00\x01\x00\x00", 4);
	assert_int_equal(wire_frame_len(h, &n), ERR_OK);
	assert_int_equal(n, WIRE_MAX_BODY);
	memcpy(h, "\x00\x01\x00\x01", 4);
	assert_int_equal(wire_frame_len(h, &n), ERR_TOOBIG);
	assert_int_equal(n, 0);
	memcpy(h, "\xff\xff\xff\xff", 4);
	assert_int_equal(wire_frame_len(h, &n), ERR_TOOBIG);
	memcpy(h, "\x00\x00\x00\x01", 4);
	assert_int_equal(wire_frame_len(h, &n), ERR_FORMAT);
	memcpy(h, "\x00\x00\x00\x00", 4);
	assert_int_equal(wire_frame_len(h, &n), ERR_FORMAT);
	memcpy(h, "\x00\x00\x00\x02", 4);
	assert_int_equal(wire_frame_len(h, &n), ERR_OK);
	assert_int_equal(n, 2);
}

static void
test_wire_parse_refuses(void **state)
{
	static const struct {
		const char *b;
		size_t len;
		int r;
	} cases[] = {
		{ "\x00", 1, ERR_FORMAT },			/* no type */
		{ "\x00\x01\x00", 3, ERR_FORMAT },		/* half a tag */
		{ "\x00\x01\x00\x01\x00\x00\x00", 7, ERR_FORMAT },
		{ "\x00\x01\x00\x01\x00\x00\x00\x02x", 9, ERR_FORMAT },
		{ "\x00\x01\x00\x01\xff\xff\xff\xff", 8, ERR_FORMAT },
		/* trailing byte after a complete field */
		{ "\x00\x01\x00\x01\x00\x00\x00\x00z", 9, ERR_FORMAT },
		/* the same tag twice */
		{ "\x00\x01\x00\x01\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00",
		  14, ERR_FORMAT },
	};
	uint8_t body[2 + 6 * (WIRE_MAX_FIELDS + 1)];
	struct wire_msg m;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(wire_msg_parse((const uint8_t *)cases[i].b,
		    cases[i].len, &m), cases[i].r);
		assert_int_equal(m.nfields, 0);
	}
	assert_int_equal(wire_msg_parse((const uint8_t *)"\x00\x07", 2, &m),
	    ERR_OK);
	assert_int_equal(m.type, 7);
	assert_int_equal(m.nfields, 0);

	memset(body, 0, sizeof(body));
	for (i = 0; i < WIRE_MAX_FIELDS + 1; i++)
		body[2 + 6 * i + 1] = (uint8_t)i;
	assert_int_equal(wire_msg_parse(body, 2 + 6 * WIRE_MAX_FIELDS, &m),
	    ERR_OK);
	assert_int_equal(wire_msg_parse(body, sizeof(body), &m), ERR_TOOBIG);
}

static void
test_wire_utf8(void **state)
{
	static const struct {
		const char *s;
		int ok;
	} cases[] = {
		{ "", 1 }, { "plain", 1 }, { "caf\xc3\xa9", 1 },
		{ "\xe2\x80\x94", 1 }, { "\xf0\x9f\x94\x92", 1 },
		{ "\xf4\x8f\xbf\xbf", 1 },	/* U+10FFFF */
		{ "\xc0\xaf", 0 },		/* overlong '/' */
		{ "\xe0\x80\xaf", 0 },		/* overlong */
		{ "\xf0\x80\x80\xaf", 0 },	/* overlong */
		{ "\xed\xa0\x80", 0 },		/* surrogate U+D800 */
		{ "\xf4\x90\x80\x80", 0 },	/* U+110000 */
		{ "\xf8\x88\x80\x80\x80", 0 },	/* five bytes */
		{ "\xc3", 0 },			/* truncated */
		{ "\xe2\x80", 0 },
		{ "\x80", 0 },			/* lone continuation */
		{ "\xc3\x28", 0 },		/* bad continuation */
		{ "\xff", 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(wire_utf8_valid((const uint8_t *)cases[i].s,
		    strlen(cases[i].s)), cases[i].ok);
	assert_int_equal(wire_utf8_valid((const uint8_t *)"a\0b", 3), 0);
}

static void
test_wire_check(void **state)
{
	static const struct {
		const char *b;
		size_t len;
		int r;
	} cases[] = {
		{ "\x00\x05", 2, ERR_OK },
		/* unknown tag 99 */
		{ "\x00\x05\x00\x63\x00\x00\x00\x00", 8, ERR_FORMAT },
		/* u32 of 3 bytes */
		{ "\x00\x05\x00\x08\x00\x00\x00\x03xyz", 11, ERR_FORMAT },
		/* u8 of 2 bytes */
		{ "\x00\x05\x00\x07\x00\x00\x00\x02xy", 10, ERR_FORMAT },
		/* u64 of 4 bytes */
		{ "\x00\x05\x00\x09\x00\x00\x00\x04wxyz", 12, ERR_FORMAT },
		/* string with NUL */
		{ "\x00\x05\x00\x05\x00\x00\x00\x03x\0y", 11, ERR_FORMAT },
		/* string with an overlong form */
		{ "\x00\x05\x00\x05\x00\x00\x00\x02\xc0\xaf", 10, ERR_FORMAT },
		/* bytes may hold anything */
		{ "\x00\x05\x00\x06\x00\x00\x00\x02\xc0\x00", 10, ERR_OK },
	};
	struct wire_msg m;
	const char *why = NULL;
	uint8_t body[2 + 6 + 65];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(wire_msg_parse((const uint8_t *)cases[i].b,
		    cases[i].len, &m), ERR_OK);
		assert_int_equal(wire_msg_check(&m, echo_fields, 5, &why),
		    cases[i].r);
		if (cases[i].r != ERR_OK)
			assert_non_null(why);
	}
	/* A required field missing; then present, then one byte too long. */
	assert_int_equal(wire_msg_parse((const uint8_t *)"\x00\x03", 2, &m),
	    ERR_OK);
	assert_int_equal(wire_msg_check(&m, login_fields, 1, &why), ERR_FORMAT);
	memset(body, 'a', sizeof(body));
	memcpy(body, "\x00\x03\x00\x04\x00\x00\x00\x40", 8);
	assert_int_equal(wire_msg_parse(body, 8 + 64, &m), ERR_OK);
	assert_int_equal(wire_msg_check(&m, login_fields, 1, &why), ERR_OK);
	body[7] = 65;
	assert_int_equal(wire_msg_parse(body, 8 + 65, &m), ERR_OK);
	assert_int_equal(wire_msg_check(&m, login_fields, 1, &why), ERR_FORMAT);
}

static void
test_table_check(void **state)
{
	struct rpc_peer root = { 1, 0, 0, 0, -1 }, nobody = { 2, NOBODY, NOBODY, 0, -1 };
	struct rpc_peer self = { 3, 999, 999, 0, -1 };
	const struct rpc_request *row = NULL;
	const char *why = NULL;
	struct wire_msg m;

	(void)state;
	memset(&m, 0, sizeof(m));
	m.type = T_ROOTONLY;
	assert_int_equal(rpc_table_check(table, NTABLE, &root, 999, 0, &m,
	    &row, &why), ERR_OK);
	assert_ptr_equal(row, &table[1]);
	assert_int_equal(rpc_table_check(table, NTABLE, &nobody, 999, 0, &m,
	    &row, &why), ERR_DENIED);
	assert_null(row);
	m.type = T_NOBODY;
	assert_int_equal(rpc_table_check(table, NTABLE, &nobody, 999, 0, &m,
	    &row, &why), ERR_OK);
	assert_int_equal(rpc_table_check(table, NTABLE, &root, 999, 0, &m,
	    &row, &why), ERR_DENIED);
	m.type = T_SECRET;
	assert_int_equal(rpc_table_check(table, NTABLE, &self, 999, 0, &m,
	    &row, &why), ERR_CONFLICT);
	assert_int_equal(rpc_table_check(table, NTABLE, &self, 999, 1, &m,
	    &row, &why), ERR_OK);
	assert_int_equal(rpc_table_check(table, NTABLE, &self, 999, 40, &m,
	    &row, &why), ERR_CONFLICT);
	m.type = 0x1234;
	assert_int_equal(rpc_table_check(table, NTABLE, &root, 999, 0, &m,
	    &row, &why), ERR_UNSUPPORTED);
	m.type = T_LOGIN;	/* no name */
	assert_int_equal(rpc_table_check(table, NTABLE, &root, 999, 0, &m,
	    &row, &why), ERR_FORMAT);
}

static void
test_server_config_refused(void **state)
{
	struct fx *fx = *state;
	struct rpc_request bad[2];
	struct rpc_server_config cfg;
	struct rpc_server *srv = NULL;
	char longpath[200];
	int fd;

	memset(&cfg, 0, sizeof(cfg));
	cfg.path = fx->path;
	cfg.mode = 0600;
	cfg.table = bad;
	cfg.ntable = 2;
	memcpy(bad, table, sizeof(bad));
	bad[1].type = bad[0].type;
	assert_int_equal(rpc_server_new(&cfg, &srv), ERR_INVAL);
	memcpy(bad, table, sizeof(bad));
	bad[1].type = 0x8001;
	assert_int_equal(rpc_server_new(&cfg, &srv), ERR_INVAL);
	memcpy(bad, table, sizeof(bad));
	bad[1].handler = NULL;
	assert_int_equal(rpc_server_new(&cfg, &srv), ERR_INVAL);
	assert_null(srv);

	cfg.table = table;
	cfg.ntable = NTABLE;
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	cfg.path = longpath;
	assert_int_equal(rpc_server_new(&cfg, &srv), ERR_TOOBIG);

	/* A regular file is never taken for a stale socket. */
	fd = open(fx->path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	close(fd);
	cfg.path = fx->path;
	assert_int_equal(rpc_server_new(&cfg, &srv), ERR_EXISTS);
	assert_null(srv);
	assert_int_equal(unlink(fx->path), 0);
}

/* ---- server over a real socket ---- */

static int
nobody_whoami(const struct fx *fx)
{
	struct rpc_client *c = NULL;
	struct rpc_response *resp = NULL;
	uint32_t uid, gid, pid;

	if (rpc_client_connect(fx->path, 2000, &c) != ERR_OK)
		return 1;
	if (call_simple(c, T_WHOAMI, &resp) != ERR_OK)
		return 2;
	if (wire_get_u32(&resp->msg, F_UID, &uid) != ERR_OK ||
	    wire_get_u32(&resp->msg, F_GID, &gid) != ERR_OK ||
	    wire_get_u32(&resp->msg, F_PID, &pid) != ERR_OK)
		return 3;
	if (uid != NOBODY || gid != NOBODY || pid != (uint32_t)getpid())
		return 4;
	rpc_response_free(resp);
	resp = NULL;
	/* The uid list serves nobody. */
	if (call_simple(c, T_NOBODY, &resp) != ERR_OK)
		return 5;
	rpc_response_free(resp);
	resp = NULL;
	/* Root only: refused, and the connection is gone. */
	if (call_simple(c, T_ROOTONLY, &resp) != ERR_DENIED || resp != NULL)
		return 6;
	if (call_simple(c, T_WHOAMI, &resp) != ERR_NETWORK)
		return 7;
	rpc_client_free(c);
	return 0;
}

static void
test_peercred(void **state)
{
	struct fx *fx = *state;
	struct rpc_client *c = NULL;
	struct rpc_response *resp = NULL;
	const char *s;
	size_t len;
	uint32_t uid, pid;
	struct stat st;

	fx_start(fx, 0666, 0, 0);
	assert_int_equal(lstat(fx->path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0666);

	assert_int_equal(rpc_client_connect(fx->path, 2000, &c), ERR_OK);
	assert_int_equal(call_simple(c, T_WHOAMI, &resp), ERR_OK);
	assert_int_equal(wire_get_u32(&resp->msg, F_UID, &uid), ERR_OK);
	assert_int_equal(wire_get_u32(&resp->msg, F_PID, &pid), ERR_OK);
	assert_int_equal(uid, 0);
	assert_int_equal(pid, (uint32_t)getpid());
	rpc_response_free(resp);
	assert_int_equal(call_simple(c, T_ROOTONLY, &resp), ERR_OK);
	assert_int_equal(wire_get_str(&resp->msg, F_STR, &s, &len), ERR_OK);
	assert_int_equal(len, 2);
	rpc_response_free(resp);
	/* The uid list does not serve root. */
	assert_int_equal(call_simple(c, T_NOBODY, &resp), ERR_DENIED);
	rpc_client_free(c);

	run_as_nobody(fx, nobody_whoami);
	assert_true(log_has(fx, "uid 65534"));
	assert_true(log_has(fx, "'rootonly'"));
	assert_true(log_has(fx, "'nobody'"));
	assert_serving(fx);
	fx_stop(fx);
}

static int
nobody_cannot_connect(const struct fx *fx)
{
	struct rpc_client *c = NULL;

	return rpc_client_connect(fx->path, 2000, &c) == ERR_NETWORK &&
	    c == NULL ? 0 : 1;
}

static void
test_socket_mode(void **state)
{
	struct fx *fx = *state;
	struct rpc_server_config cfg;
	struct rpc_server *srv = NULL;
	struct stat st;

	fx_start(fx, 0600, 0, 0);
	assert_int_equal(lstat(fx->path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	run_as_nobody(fx, nobody_cannot_connect);

	/* A second server on a live socket refuses to start. */
	memset(&cfg, 0, sizeof(cfg));
	cfg.path = fx->path;
	cfg.mode = 0600;
	cfg.table = table;
	cfg.ntable = NTABLE;
	assert_int_equal(rpc_server_new(&cfg, &srv), ERR_LOCKED);
	assert_null(srv);
	assert_serving(fx);

	/* A server killed hard leaves a stale socket the next one replaces. */
	assert_int_equal(kill(fx->pid, SIGKILL), 0);
	assert_int_equal(waitpid(fx->pid, NULL, 0), fx->pid);
	fx->pid = -1;
	assert_int_equal(lstat(fx->path, &st), 0);
	fx_start(fx, 0600, 0, 0);
	assert_serving(fx);
	fx_stop(fx);
	/* A clean stop removes the socket. */
	assert_int_equal(lstat(fx->path, &st), -1);
}

static void
test_state_machine(void **state)
{
	struct fx *fx = *state;
	struct rpc_client *c = NULL;
	struct rpc_response *resp = NULL;
	struct wire_builder *b = NULL;
	const char *s;
	size_t len;

	fx_start(fx, 0600, 0, 0);

	/* Out of order: secret before login drops the client. */
	assert_int_equal(rpc_client_connect(fx->path, 2000, &c), ERR_OK);
	assert_int_equal(call_simple(c, T_SECRET, &resp), ERR_CONFLICT);
	assert_int_equal(call_simple(c, T_WHOAMI, &resp), ERR_NETWORK);
	rpc_client_free(c);
	assert_true(log_has(fx, "'secret'"));

	/* In order: login, then secret sees what login stored. */
	assert_int_equal(rpc_client_connect(fx->path, 2000, &c), ERR_OK);
	assert_int_equal(wire_builder_new(T_LOGIN, &b), ERR_OK);
	assert_int_equal(wire_put_str(b, F_NAME, "alice"), ERR_OK);
	assert_int_equal(rpc_client_call(c, b, &resp), ERR_OK);
	rpc_response_free(resp);
	assert_int_equal(call_simple(c, T_SECRET, &resp), ERR_OK);
	assert_int_equal(wire_get_str(&resp->msg, F_STR, &s, &len), ERR_OK);
	assert_int_equal(len, 5);
	assert_memory_equal(s, "alice", 5);
	rpc_response_free(resp);
	/* A handler's error keeps the connection. */
	assert_int_equal(call_simple(c, T_FAIL, &resp), ERR_NOTFOUND);
	assert_int_equal(call_simple(c, T_SECRET, &resp), ERR_OK);
	rpc_response_free(resp);
	/* Login again is out of order. */
	assert_int_equal(rpc_client_call(c, b, &resp), ERR_CONFLICT);
	rpc_client_free(c);

	/* A login without the required field: refused, dropped. */
	assert_int_equal(rpc_client_connect(fx->path, 2000, &c), ERR_OK);
	assert_int_equal(call_simple(c, T_LOGIN, &resp), ERR_FORMAT);
	assert_int_equal(call_simple(c, T_WHOAMI, &resp), ERR_NETWORK);
	rpc_client_free(c);
	wire_builder_free(b);
	assert_serving(fx);
	fx_stop(fx);
}

static void
test_echo_and_pipelining(void **state)
{
	struct fx *fx = *state;
	struct rpc_client *c = NULL;
	struct rpc_response *resp = NULL;
	struct wire_builder *b = NULL;
	const uint8_t *frame, *p;
	uint8_t two[2 * 64], buf[1024];
	size_t len, plen;
	uint64_t u64;
	ssize_t n;
	size_t got = 0;
	int fd;

	fx_start(fx, 0600, 0, 0);
	assert_int_equal(rpc_client_connect(fx->path, 2000, &c), ERR_OK);
	assert_int_equal(wire_builder_new(T_ECHO, &b), ERR_OK);
	assert_int_equal(wire_put_u64(b, F_U64, UINT64_MAX), ERR_OK);
	assert_int_equal(wire_put_bytes(b, F_BYTES, "\0\xff", 2), ERR_OK);
	assert_int_equal(rpc_client_call(c, b, &resp), ERR_OK);
	assert_int_equal(wire_get_u64(&resp->msg, F_U64, &u64), ERR_OK);
	assert_true(u64 == UINT64_MAX);
	assert_int_equal(wire_get_bytes(&resp->msg, F_BYTES, &p, &plen),
	    ERR_OK);
	assert_int_equal(plen, 2);
	assert_memory_equal(p, "\0\xff", 2);
	rpc_response_free(resp);
	rpc_client_free(c);

	/* Two requests in one write: two answers, in order. */
	assert_int_equal(wire_builder_frame(b, &frame, &len), ERR_OK);
	assert_true(2 * len <= sizeof(two));
	memcpy(two, frame, len);
	memcpy(two + len, frame, len);
	fd = raw_connect(fx->path);
	raw_send(fd, two, 2 * len);
	while (got < 2 * (len + 6 + 4)) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };

		assert_int_equal(poll(&pfd, 1, 2000), 1);
		n = recv(fd, buf + got, sizeof(buf) - got, 0);
		assert_true(n > 0);
		got += (size_t)n;
	}
	/* Each answer: the echo plus a 4-byte status field. */
	assert_int_equal(got, 2 * (len + 6 + 4));
	assert_memory_equal(buf, buf + got / 2, got / 2);
	close(fd);
	wire_builder_free(b);
	assert_serving(fx);
	fx_stop(fx);
}

static void
test_malformed_frames(void **state)
{
	static const struct {
		const char *what;
		const char *frame;
		size_t len;
		int status;	/* 1: no answer, just dropped */
	} cases[] = {
		{ "length too short", "\x00\x00\x00\x01\x00", 5, 1 },
		{ "length zero", "\x00\x00\x00\x00", 4, 1 },
		{ "length 4 GiB", "\xff\xff\xff\xff\x00\x01", 6, 1 },
		{ "length 64 KiB + 1", "\x00\x01\x00\x01\x00\x01", 6, 1 },
		{ "field past the end",
		  "\x00\x00\x00\x08\x00\x05\x00\x05\x00\x00\x00\x09", 12, 1 },
		{ "half a field header",
		  "\x00\x00\x00\x05\x00\x05\x00\x05\x00", 9, 1 },
		{ "repeated tag",
		  "\x00\x00\x00\x10\x00\x05\x00\x07\x00\x00\x00\x01\x01"
		  "\x00\x07\x00\x00\x00\x01\x02", 20, 1 },
		{ "unknown type", "\x00\x00\x00\x02\x12\x34", 6,
		  ERR_UNSUPPORTED },
		{ "response type", "\x00\x00\x00\x02\x80\x01", 6,
		  ERR_UNSUPPORTED },
		{ "type zero", "\x00\x00\x00\x02\x00\x00", 6, ERR_UNSUPPORTED },
		{ "unknown tag",
		  "\x00\x00\x00\x08\x00\x05\x00\x63\x00\x00\x00\x00", 12,
		  ERR_FORMAT },
		{ "u32 of 3 bytes",
		  "\x00\x00\x00\x0b\x00\x05\x00\x08\x00\x00\x00\x03xyz", 15,
		  ERR_FORMAT },
		{ "string not UTF-8",
		  "\x00\x00\x00\x0a\x00\x05\x00\x05\x00\x00\x00\x02\xc0\xaf",
		  14, ERR_FORMAT },
		{ "string with NUL",
		  "\x00\x00\x00\x0a\x00\x05\x00\x05\x00\x00\x00\x02" "a\0", 14,
		  ERR_FORMAT },
	};
	struct fx *fx = *state;
	uint8_t buf[256];
	size_t i;

	fx_start(fx, 0600, 0, 0);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int fd = raw_connect(fx->path);
		ssize_t n;

		print_message("%s\n", cases[i].what);
		raw_send(fd, cases[i].frame, cases[i].len);
		n = read_until_closed(fd, buf, sizeof(buf), 3000);
		assert_true(n >= 0);
		if (cases[i].status == 1)
			assert_int_equal(n, 0);
		else
			assert_status_only(buf, (size_t)n,
			    (uint16_t)(((uint8_t)cases[i].frame[4] << 8) |
			    (uint8_t)cases[i].frame[5]), cases[i].status);
		close(fd);
		assert_serving(fx);
	}
	assert_true(log_has(fx, "65537"));
	fx_stop(fx);
}

static void
test_truncated_and_stalled(void **state)
{
	struct fx *fx = *state;
	struct timespec t0, t1;
	uint8_t buf[64];
	long ms;
	int a, b;

	fx_start(fx, 0600, 0, 500);

	/* Half a frame, then the client goes away. */
	a = raw_connect(fx->path);
	raw_send(a, "\x00\x00\x00\x20\x00\x01\x00", 7);
	close(a);
	assert_serving(fx);

	/* Half a header. */
	a = raw_connect(fx->path);
	raw_send(a, "\x00\x00", 2);
	close(a);
	assert_serving(fx);

	/* Half a frame, then a stall: others are served meanwhile. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	a = raw_connect(fx->path);
	raw_send(a, "\x00\x00\x00\x20\x00\x01\x00", 7);
	b = raw_connect(fx->path);
	raw_send(b, "\x00\x00", 2);	/* a stalled header too */
	for (int i = 0; i < 5; i++)
		assert_serving(fx);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	assert_true(ms < 400);
	/* Then the server drops both. */
	assert_int_equal(read_until_closed(a, buf, sizeof(buf), 3000), 0);
	assert_int_equal(read_until_closed(b, buf, sizeof(buf), 3000), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	assert_true(ms >= 450);
	close(a);
	close(b);
	assert_true(log_has(fx, "timed out"));
	assert_serving(fx);
	fx_stop(fx);
}

static void
test_many_clients(void **state)
{
	enum { N = 200 };
	struct fx *fx = *state;
	struct wire_builder *b = NULL;
	const uint8_t *frame;
	static int fds[N];
	uint8_t buf[256];
	size_t len;
	int i;

	fx_start(fx, 0600, 256, 0);
	assert_int_equal(wire_builder_new(T_WHOAMI, &b), ERR_OK);
	assert_int_equal(wire_builder_frame(b, &frame, &len), ERR_OK);
	/* All connected and all asking before any answer is read. */
	for (i = 0; i < N; i++)
		fds[i] = raw_connect(fx->path);
	for (i = 0; i < N; i++)
		raw_send(fds[i], frame, len);
	for (i = 0; i < N; i++) {
		struct wire_msg m;
		size_t got = 0, blen;
		uint32_t st;

		while (got < WIRE_HDR_LEN ||
		    got < WIRE_HDR_LEN + ((size_t)buf[2] << 8 | buf[3])) {
			struct pollfd pfd = { .fd = fds[i], .events = POLLIN };
			ssize_t n;

			assert_int_equal(poll(&pfd, 1, 5000), 1);
			n = recv(fds[i], buf + got, sizeof(buf) - got, 0);
			assert_true(n > 0);
			got += (size_t)n;
		}
		assert_int_equal(wire_frame_len(buf, &blen), ERR_OK);
		assert_int_equal(wire_msg_parse(buf + 4, blen, &m), ERR_OK);
		assert_int_equal(wire_get_u32(&m, RPC_TAG_STATUS, &st), ERR_OK);
		assert_int_equal(st, 0);
	}
	for (i = 0; i < N; i++)
		close(fds[i]);
	wire_builder_free(b);
	assert_serving(fx);
	fx_stop(fx);
}

/* Opens n clients into c, each answered. */
static void
connect_n(const struct fx *fx, struct rpc_client **c, int n)
{
	struct rpc_response *resp = NULL;

	for (int i = 0; i < n; i++) {
		assert_int_equal(rpc_client_connect(fx->path, 2000, &c[i]),
		    ERR_OK);
		assert_int_equal(call_simple(c[i], T_WHOAMI, &resp), ERR_OK);
		rpc_response_free(resp);
	}
}

/* One more client is accepted and closed at once. */
static void
assert_refused(const struct fx *fx)
{
	struct rpc_client *extra = NULL;
	struct rpc_response *resp = NULL;

	assert_int_equal(rpc_client_connect(fx->path, 2000, &extra), ERR_OK);
	assert_int_equal(call_simple(extra, T_WHOAMI, &resp), ERR_NETWORK);
	rpc_client_free(extra);
}

/*
 * A newcomer is served once the server has seen earlier closes (a connect
 * racing a close may still be refused).
 */
static void
assert_served_soon(const struct fx *fx)
{
	struct rpc_client *extra = NULL;
	struct rpc_response *resp = NULL;
	int i, r = ERR_INTERNAL;

	for (i = 0; i < 100; i++) {
		assert_int_equal(rpc_client_connect(fx->path, 2000, &extra),
		    ERR_OK);
		r = call_simple(extra, T_WHOAMI, &resp);
		rpc_client_free(extra);
		rpc_response_free(resp);
		resp = NULL;
		if (r == ERR_OK)
			break;
		assert_int_equal(r, ERR_NETWORK);
		usleep(20 * 1000);
	}
	assert_int_equal(r, ERR_OK);
}

static void
test_max_clients(void **state)
{
	struct fx *fx = *state;
	struct rpc_client *c[4] = { NULL };
	struct rpc_response *resp = NULL;
	int i;

	fx_start(fx, 0600, 4, 0);
	connect_n(fx, c, 4);
	assert_refused(fx);
	assert_true(log_has(fx, "too many clients"));
	rpc_client_free(c[0]);		/* one leaves: its slot is free again */
	assert_served_soon(fx);
	assert_serving(fx);
	for (i = 1; i < 4; i++) {
		assert_int_equal(call_simple(c[i], T_WHOAMI, &resp), ERR_OK);
		rpc_response_free(resp);
		rpc_client_free(c[i]);
	}
	fx_stop(fx);
}

/* As nobody: 2 connections served, a third refused, while holding them. */
static int
nobody_fills(const struct fx *fx)
{
	struct rpc_client *c[3] = { NULL };
	struct rpc_response *resp = NULL;
	int i, r;

	for (i = 0; i < 2; i++) {
		if (rpc_client_connect(fx->path, 2000, &c[i]) != ERR_OK ||
		    call_simple(c[i], T_WHOAMI, &resp) != ERR_OK)
			return 1;
		rpc_response_free(resp);
	}
	if (rpc_client_connect(fx->path, 2000, &c[2]) != ERR_OK)
		return 2;
	r = call_simple(c[2], T_WHOAMI, &resp);
	rpc_response_free(resp);
	for (i = 0; i < 3; i++)
		rpc_client_free(c[i]);
	return r == ERR_NETWORK ? 0 : 3;
}

/*
 * One uid cannot take every slot: nobody gets 2 (per_uid_max) and is
 * refused the third, and root still gets the reserved slots when the
 * others are full.
 */
static void
test_per_uid_max(void **state)
{
	struct fx *fx = *state;
	struct rpc_client *c[4] = { NULL };
	int i;

	fx_per_uid = 2;
	fx_reserved = 1;
	fx_start(fx, 0666, 4, 0);
	fx_per_uid = fx_reserved = 0;
	run_as_nobody(fx, nobody_fills);
	if (geteuid() == 0)
		assert_true(log_has(fx, "too many clients of this uid"));
	/* Root is not limited per uid and may take the reserved slot. */
	connect_n(fx, c, 4);
	assert_refused(fx);
	for (i = 0; i < 4; i++)
		rpc_client_free(c[i]);
	assert_served_soon(fx);
	fx_stop(fx);
}

static void
test_close_mid_response(void **state)
{
	struct fx *fx = *state;
	struct wire_builder *b = NULL;
	struct rpc_client *c = NULL;
	struct rpc_response *resp = NULL;
	const uint8_t *frame, *p;
	uint8_t buf[1000];
	size_t len, plen;
	int i;

	fx_start(fx, 0600, 0, 1000);
	assert_int_equal(wire_builder_new(T_BIG, &b), ERR_OK);
	assert_int_equal(wire_builder_frame(b, &frame, &len), ERR_OK);
	for (i = 0; i < 20; i++) {
		int fd = raw_connect(fx->path);
		int sz = 4096;

		/* A small buffer, so the answer cannot be sent at once. */
		assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz,
		    sizeof(sz)), 0);
		raw_send(fd, frame, len);
		if (i % 2 == 1) {
			struct pollfd pfd = { .fd = fd, .events = POLLIN };

			/* Take a little of the answer first. */
			assert_int_equal(poll(&pfd, 1, 2000), 1);
			assert_true(recv(fd, buf, sizeof(buf), 0) > 0);
		}
		close(fd);
	}
	assert_serving(fx);

	/* A reader that never reads is dropped after the timeout. */
	{
		int fd = raw_connect(fx->path), j;

		for (j = 0; j < 10; j++)
			raw_send(fd, frame, len);
		usleep(1500 * 1000);
		assert_serving(fx);
		close(fd);
	}
	assert_true(log_has(fx, "timed out"));

	/* And the whole answer arrives for a client that reads it. */
	assert_int_equal(rpc_client_connect(fx->path, 2000, &c), ERR_OK);
	assert_int_equal(rpc_client_call(c, b, &resp), ERR_OK);
	assert_int_equal(wire_get_bytes(&resp->msg, F_BYTES, &p, &plen),
	    ERR_OK);
	assert_int_equal(plen, 60000);
	rpc_response_free(resp);
	rpc_client_free(c);
	wire_builder_free(b);
	fx_stop(fx);
}

static void
test_client_no_server(void **state)
{
	struct fx *fx = *state;
	struct rpc_client *c = NULL;

	assert_int_equal(rpc_client_connect(fx->path, 2000, &c), ERR_NETWORK);
	assert_null(c);
	rpc_client_free(NULL);
	rpc_response_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wire_roundtrip),
		cmocka_unit_test(test_wire_builder_refuses),
		cmocka_unit_test(test_wire_frame_len),
		cmocka_unit_test(test_wire_parse_refuses),
		cmocka_unit_test(test_wire_utf8),
		cmocka_unit_test(test_wire_check),
		cmocka_unit_test(test_table_check),
		cmocka_unit_test_setup_teardown(test_server_config_refused,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_peercred, setup, teardown),
		cmocka_unit_test_setup_teardown(test_socket_mode, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_state_machine, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_echo_and_pipelining, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_malformed_frames, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_truncated_and_stalled,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_clients, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_max_clients, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_per_uid_max, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_close_mid_response, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_client_no_server, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
