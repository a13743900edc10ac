/*
 * cmd_demo.c - bulwark demo: the audit log's whole story on one machine.
 *
 * Log and witness are started locally with embedded defaults; events go
 * in, the checkpoint is cosigned, verification passes, and a copy with one
 * altered byte fails verification naming the altered file.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "audit/entry.h"
#include "audit/log.h"
#include "audit/verify.h"
#include "audit/witness.h"
#include "cli/cli.h"
#include "common/fsutil.h"
#include "common/banned.h"

#define ORIGIN "demo.bulwark.local/audit"

static const char *const demo_events[] = {
	"{\"actor\":\"alice\",\"action\":\"auth.publickey\",\"source\":\"192.0.2.10\",\"decision\":\"allow\",\"detail\":{\"key\":\"SHA256:3v1lCfbT4Pyl8rGd0o3lDgZm8Lk2d7mQ3gR3ZtYqB2c\"}}",
	"{\"actor\":\"alice\",\"action\":\"auth.totp\",\"source\":\"192.0.2.10\",\"decision\":\"allow\"}",
	"{\"actor\":\"alice\",\"action\":\"authz.request\",\"target\":\"root@mail1\",\"decision\":\"allow\",\"session\":\"s-000001\",\"detail\":{\"sensitivity\":2}}",
	"{\"actor\":\"bulwarkd\",\"action\":\"cert.issue\",\"target\":\"root@mail1\",\"session\":\"s-000001\",\"detail\":{\"principal\":\"root\",\"valid_seconds\":60}}",
	"{\"actor\":\"alice\",\"action\":\"session.start\",\"target\":\"root@mail1\",\"session\":\"s-000001\"}",
	"{\"actor\":\"alice\",\"action\":\"command\",\"target\":\"root@mail1\",\"session\":\"s-000001\",\"detail\":{\"line\":\"mkfs.ext4 /dev/vdb\",\"risk\":\"destructive\"},\"decision\":\"hold\"}",
	"{\"actor\":\"mallory\",\"action\":\"auth.totp\",\"source\":\"198.51.100.66\",\"decision\":\"deny\",\"detail\":{\"reason\":\"code replayed\"}}",
	"{\"actor\":\"alice\",\"action\":\"session.end\",\"target\":\"root@mail1\",\"session\":\"s-000001\",\"detail\":{\"exit\":0}}",
};

static int
copy_tree(const char *from, const char *to)
{
	pid_t pid;
	int st;

	/* cp -a keeps the tile layout; argv is ours, no shell involved. */
	if ((pid = fork()) < 0)
		return ERR_IO;
	if (pid == 0) {
		execlp("cp", "cp", "-a", from, to, (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return ERR_IO;
	return ERR_OK;
}

/* Flips one bit of byte off of path, in place. */
static int
flip_byte(const char *path, off_t off)
{
	unsigned char c;
	int fd = open(path, O_RDWR | O_CLOEXEC), r = ERR_IO;

	if (fd < 0)
		return ERR_IO;
	if (pread(fd, &c, 1, off) == 1) {
		c ^= 0x01;
		if (pwrite(fd, &c, 1, off) == 1)
			r = ERR_OK;
	}
	close(fd);
	return r;
}

static void
say(const char *step)
{
	printf("\n== %s\n", step);
	fflush(stdout);
}

static void
warn_line(const char *msg)
{
	fprintf(stderr, "  warning: %s\n", msg);
}

static int
run_verify(const char *dir, const char *lkey, const char *wkey)
{
	struct audit_verify_opts o;
	struct audit_verify_result *res = malloc(sizeof(*res));
	const char *wk[1] = { wkey };
	int r;

	if (res == NULL)
		return ERR_NOMEM;
	memset(&o, 0, sizeof(o));
	o.log_vkey = lkey;
	o.witness_vkeys = wk;
	o.nwitness = 1;
	r = audit_verify(dir, &o, res);
	if (r == ERR_OK)
		printf("  verified: %" PRIu64 " entries; log signature and "
		    "witness cosignature valid\n", res->size);
	else
	{
		printf("  verification FAILED:\n");
		for (const char *p = res->report; *p != '\0'; ) {
			size_t l = strcspn(p, "\n");

			printf("    %.*s\n", (int)l, p);
			p += l + (p[l] == '\n');
		}
	}
	free(res);
	return r;
}

int
cmd_demo(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
	};
	char base[PATH_MAX / 4] = "", logdir[PATH_MAX / 2], wdir[PATH_MAX / 2];
	char tampered[PATH_MAX / 2], victim[PATH_MAX], url[128];
	char *lkey = NULL, *wkey = NULL, why[512] = "";
	struct witness *w = NULL;
	struct witness_server *srv = NULL;
	struct audit_log *log = NULL;
	const char *ents[sizeof(demo_events) / sizeof(demo_events[0])];
	size_t lens[sizeof(demo_events) / sizeof(demo_events[0])], n = 0, got;
	uint64_t first;
	int c, r, rc = 1;

	while ((c = getopt_long(argc, argv, "d:", opts, NULL)) != -1) {
		switch (c) {
		case 'd': snprintf(base, sizeof(base), "%s", optarg); break;
		default: return 2;
		}
	}
	if (base[0] == '\0') {
		snprintf(base, sizeof(base), "/tmp/bulwark-demo.XXXXXX");
		if (mkdtemp(base) == NULL) {
			cli_error("cannot create a directory under /tmp: %s",
			    strerror(errno));
			return 1;
		}
	} else if (fs_mkdirs(base, 0700) != ERR_OK) {
		cli_error("cannot create '%s': %s", base, strerror(errno));
		return 1;
	}
	snprintf(logdir, sizeof(logdir), "%s/log", base);
	snprintf(wdir, sizeof(wdir), "%s/witness", base);
	snprintf(tampered, sizeof(tampered), "%s/log-tampered", base);

	say("1. create the audit log and a witness");
	if ((r = audit_log_create(logdir, ORIGIN, &lkey)) != ERR_OK) {
		cli_error("cannot create the log in '%s': %s (use an empty --dir)",
		    logdir, err_str(r));
		goto out;
	}
	printf("  log %s, verifier key:\n    %s\n", logdir, lkey);
	if ((r = witness_init(wdir, "demo.bulwark.local/witness", &wkey)) != ERR_OK ||
	    (r = witness_add_log(wdir, ORIGIN, lkey)) != ERR_OK ||
	    (r = witness_open(wdir, &w)) != ERR_OK) {
		cli_error("cannot set up the witness in '%s': %s", wdir, err_str(r));
		goto out;
	}
	printf("  witness %s, verifier key:\n    %s\n", wdir, wkey);

	say("2. start the witness on 127.0.0.1 (tlog-witness over HTTP)");
	witness_set_quiet(w, 1);
	if ((r = witness_server_start(w, "127.0.0.1", 0, &srv)) != ERR_OK) {
		cli_error("cannot start the witness server: %s", err_str(r));
		goto out;
	}
	snprintf(url, sizeof(url), "http://127.0.0.1:%u", witness_server_port(srv));
	if ((r = audit_log_witness_add(logdir, url, wkey)) != ERR_OK) {
		cli_error("cannot configure the witness: %s", err_str(r));
		goto out;
	}
	printf("  listening on %s\n", url);

	say("3. append a gateway's security events (one batch, one fsync)");
	if ((r = audit_log_open(logdir, &log, why, sizeof(why))) != ERR_OK) {
		cli_error("%s", why);
		goto out;
	}
	for (size_t i = 0; i < sizeof(demo_events) / sizeof(demo_events[0]); i++) {
		char now[40], *canon = NULL;

		entry_time_now(now, sizeof(now));
		if ((r = entry_canonicalize(demo_events[i], strlen(demo_events[i]),
		    now, &canon, &lens[n], why, sizeof(why))) != ERR_OK) {
			cli_error("demo event %zu refused: %s", i, why);
			goto out;
		}
		ents[n++] = canon;
	}
	if ((r = audit_log_append(log, ents, lens, n, &first)) != ERR_OK) {
		cli_error("append failed: %s", err_str(r));
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		printf("  %" PRIu64 "  %s\n", first + i, ents[i]);

	say("4. have the checkpoint cosigned by the witness and publish it");
	if ((r = audit_log_witness(log, &got, warn_line)) != ERR_OK || got != 1) {
		cli_error("the witness did not cosign: %s", err_str(r));
		goto out;
	}
	{
		size_t len;
		char path[PATH_MAX], *note = NULL;

		snprintf(path, sizeof(path), "%s/checkpoint", logdir);
		if (fs_read_file(path, 65536, &note, &len) == ERR_OK)
			printf("%s", note);
		free(note);
	}
	audit_log_close(log);
	log = NULL;

	say("5. verify the log: every hash recomputed, both signatures checked");
	if (run_verify(logdir, lkey, wkey) != ERR_OK)
		goto out;

	say("6. alter one byte of one entry in a copy, and verify the copy");
	if (copy_tree(logdir, tampered) != ERR_OK) {
		cli_error("cannot copy '%s' to '%s'", logdir, tampered);
		goto out;
	}
	snprintf(victim, sizeof(victim), "%s/tile/entries/000.p/%zu", tampered, n);
	/* Entry 5 names the destructive command; flip a byte in the bundle. */
	{
		struct stat st;

		if (stat(victim, &st) != 0 ||
		    flip_byte(victim, st.st_size / 2) != ERR_OK) {
			cli_error("cannot alter '%s'", victim);
			goto out;
		}
	}
	printf("  flipped one bit in %s\n", victim);
	if (run_verify(tampered, lkey, wkey) == ERR_OK) {
		cli_error("the altered copy verified: this is a bug");
		goto out;
	}

	say("try it yourself");
	printf("  bulwark log show --dir %s\n", logdir);
	printf("  bulwark log verify --dir %s --key '%s' --witness-key '%s'\n",
	    logdir, lkey, wkey);
	printf("  bulwark log verify --dir %s --key '%s'\n", tampered, lkey);
	printf("  bulwark log prove --dir %s --index 5\n", logdir);
	printf("  bulwark witness serve --dir %s   # then: bulwark log witness "
	    "add ..., bulwark log checkpoint --dir %s\n", wdir, logdir);
	rc = 0;
 out:
	for (size_t i = 0; i < n; i++)
		free((char *)ents[i]);
	audit_log_close(log);
	witness_server_stop(srv);
	witness_free(w);
	free(lkey);
	free(wkey);
	return rc;
}
