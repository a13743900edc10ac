/*
 * cmd_witness.c - `bulwark witness`: set up and run a C2SP tlog-witness.
 *
 *   bulwark witness init    --dir DIR --name NAME
 *   bulwark witness add-log --dir DIR --origin ORIGIN --key LOGVKEY
 *   bulwark witness serve   --dir DIR [--listen ADDR:PORT]
 *   bulwark witness show    --dir DIR [--origin ORIGIN]
 *   bulwark witness key     --dir DIR
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/witness.h"
#include "cli/cli.h"
#include "common/banned.h"

#define USAGE \
	"usage: bulwark witness init --dir DIR --name NAME\n" \
	"       bulwark witness add-log --dir DIR --origin ORIGIN --key LOGVKEY\n" \
	"       bulwark witness serve --dir DIR [--listen ADDR:PORT]\n" \
	"       bulwark witness show --dir DIR [--origin ORIGIN]\n" \
	"       bulwark witness key --dir DIR\n"

struct opts {
	const char *dir;
	const char *name;
	const char *origin;
	const char *key;
	const char *listen;
};

enum { OPT_DIR = 1, OPT_NAME, OPT_ORIGIN, OPT_KEY, OPT_LISTEN };

static int
usage_error(void)
{
	fputs(USAGE, stderr);
	return 2;
}

/*
 * Parses the options of one subcommand; allowed lists the OPT_ values it
 * takes. Returns 0, or 2 after printing what was wrong.
 */
static int
parse_opts(int argc, char **argv, const int *allowed, struct opts *o)
{
	static const struct option longopts[] = {
		{ "dir", required_argument, NULL, OPT_DIR },
		{ "name", required_argument, NULL, OPT_NAME },
		{ "origin", required_argument, NULL, OPT_ORIGIN },
		{ "key", required_argument, NULL, OPT_KEY },
		{ "listen", required_argument, NULL, OPT_LISTEN },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(o, 0, sizeof(*o));
	opterr = 0;
	optind = 0;	/* glibc: start afresh, argv[0] is the subcommand */
	while ((c = getopt_long(argc, argv, "+", longopts, NULL)) != -1) {
		int ok = 0;

		if (c == '?' || c == ':') {
			if (optopt > OPT_LISTEN)
				cli_error("witness %s: unknown option '-%c'",
				    argv[0], optopt);
			else if (optopt != 0)
				cli_error("witness %s: option '%s' needs a value",
				    argv[0], argv[optind - 1]);
			else
				cli_error("witness %s: unknown option '%s'",
				    argv[0], argv[optind - 1]);
			return usage_error();
		}
		for (const int *a = allowed; *a != 0; a++)
			if (*a == c)
				ok = 1;
		if (!ok) {
			cli_error("witness %s: option '%s' does not apply here",
			    argv[0], argv[optind - 1]);
			return usage_error();
		}
		switch (c) {
		case OPT_DIR:		o->dir = optarg; break;
		case OPT_NAME:		o->name = optarg; break;
		case OPT_ORIGIN:	o->origin = optarg; break;
		case OPT_KEY:		o->key = optarg; break;
		case OPT_LISTEN:	o->listen = optarg; break;
		}
	}
	if (optind < argc) {
		cli_error("witness %s: unexpected argument '%s'", argv[0],
		    argv[optind]);
		return usage_error();
	}
	if (o->dir == NULL) {
		cli_error("witness %s: --dir is required", argv[0]);
		return usage_error();
	}
	return 0;
}

static int
not_a_witness(const char *dir)
{
	cli_error("'%s' is not a witness directory; create one with "
	    "'bulwark witness init --dir %s --name NAME'", dir, dir);
	return 1;
}

static int
witness_init_cmd(int argc, char **argv)
{
	static const int allowed[] = { OPT_DIR, OPT_NAME, 0 };
	struct opts o;
	char *vkey = NULL;
	int r;

	if ((r = parse_opts(argc, argv, allowed, &o)) != 0)
		return r;
	if (o.name == NULL) {
		cli_error("witness init: --name is required, e.g. "
		    "--name witness.example.com/vault1");
		return usage_error();
	}
	r = witness_init(o.dir, o.name, &vkey);
	switch (r) {
	case ERR_OK:
		break;
	case ERR_EXISTS:
		cli_error("witness directory '%s' already has a key; 'bulwark "
		    "witness key --dir %s' prints it", o.dir, o.dir);
		return 1;
	case ERR_LOCKED:
		cli_error("witness directory '%s' is in use by a running "
		    "witness", o.dir);
		return 1;
	case ERR_FORMAT:
		cli_error("witness name '%s' is not valid: use a schema-less "
		    "URL without spaces or '+', e.g. witness.example.com/vault1",
		    o.name);
		return 1;
	default:
		cli_error("cannot create witness in '%s': %s%s%s", o.dir,
		    err_str(r), r == ERR_IO ? ": " : "",
		    r == ERR_IO ? strerror(errno) : "");
		return 1;
	}
	printf("%s\n", vkey);
	free(vkey);
	return 0;
}

static int
witness_add_log_cmd(int argc, char **argv)
{
	static const int allowed[] = { OPT_DIR, OPT_ORIGIN, OPT_KEY, 0 };
	struct opts o;
	int r;

	if ((r = parse_opts(argc, argv, allowed, &o)) != 0)
		return r;
	if (o.origin == NULL || o.key == NULL) {
		cli_error("witness add-log: --origin and --key are required");
		return usage_error();
	}
	r = witness_add_log(o.dir, o.origin, o.key);
	switch (r) {
	case ERR_OK:
		return 0;
	case ERR_NOTFOUND:
		return not_a_witness(o.dir);
	case ERR_EXISTS:
		cli_error("log '%s' is already configured in '%s'", o.origin,
		    o.dir);
		return 1;
	case ERR_UNSUPPORTED:
		cli_error("key for log '%s' is not an Ed25519 note verifier "
		    "key; use the key 'bulwark log' printed for the log",
		    o.origin);
		return 1;
	case ERR_FORMAT:
	case ERR_INVAL:
		cli_error("log '%s' or its key is malformed: the origin must be "
		    "one line of printable text, the key a note verifier key "
		    "(NAME+HASH+BASE64)", o.origin);
		return 1;
	default:
		cli_error("cannot add log '%s' to '%s': %s", o.origin, o.dir,
		    err_str(r));
		return 1;
	}
}

static int
witness_serve_cmd(int argc, char **argv)
{
	static const int allowed[] = { OPT_DIR, OPT_LISTEN, 0 };
	const char *where = WITNESS_DEFAULT_LISTEN;
	struct witness *w = NULL;
	struct opts o;
	char *addr = NULL;
	unsigned port = 0;
	int r, rc = 1;

	if ((r = parse_opts(argc, argv, allowed, &o)) != 0)
		return r;
	if (o.listen != NULL)
		where = o.listen;
	if (witness_parse_listen(where, &addr, &port) != ERR_OK) {
		cli_error("witness serve: --listen '%s' is not ADDR:PORT or "
		    "[IPV6]:PORT, e.g. 127.0.0.1:7380", where);
		return usage_error();
	}
	switch ((r = witness_open(o.dir, &w))) {
	case ERR_OK:
		break;
	case ERR_NOTFOUND:
		rc = not_a_witness(o.dir);
		goto out;
	case ERR_LOCKED:
		cli_error("witness directory '%s' is in use by another witness "
		    "process; stop it first", o.dir);
		goto out;
	case ERR_DENIED:
		cli_error("'%s/witness.key' is readable by others; run 'chmod "
		    "600 %s/witness.key' and check nobody copied it", o.dir,
		    o.dir);
		goto out;
	default:
		cli_error("cannot open witness '%s': %s", o.dir, err_str(r));
		goto out;
	}
	if ((r = witness_serve(w, addr, port, NULL)) != ERR_OK) {
		cli_error("cannot listen on '%s': %s; pick another --listen "
		    "address", where, r == ERR_IO ? strerror(errno) :
		    err_str(r));
		goto out;
	}
	rc = 0;
 out:
	witness_free(w);
	free(addr);
	return rc;
}

static int
show_one(const char *dir, const char *origin, int *printed)
{
	char *note = NULL;
	size_t len = 0;
	int refused = 0, r;

	r = witness_latest(dir, origin, &note, &len, &refused);
	if (r == ERR_NOTFOUND) {
		cli_error("log '%s' is not configured in '%s'; 'bulwark witness "
		    "show --dir %s' lists the logs", origin, dir, dir);
		return 1;
	}
	if (r != ERR_OK) {
		cli_error("cannot read the checkpoint of log '%s': %s", origin,
		    err_str(r));
		return 1;
	}
	if (refused)
		cli_error("warning: log '%s' submitted a checkpoint inconsistent "
		    "with the one cosigned: it may have been forked or "
		    "rewritten; the request is kept in '%s/logs/' for "
		    "investigation", origin, dir);
	if (note == NULL) {
		cli_error("log '%s': no checkpoint cosigned yet", origin);
		return 0;
	}
	if (*printed)
		fputc('\n', stdout);
	fwrite(note, 1, len, stdout);
	*printed = 1;
	free(note);
	return 0;
}

static int
witness_show_cmd(int argc, char **argv)
{
	static const int allowed[] = { OPT_DIR, OPT_ORIGIN, 0 };
	char **origins = NULL;
	size_t n = 0;
	struct opts o;
	int r, rc = 0, printed = 0;

	if ((r = parse_opts(argc, argv, allowed, &o)) != 0)
		return r;
	if (o.origin != NULL)
		return show_one(o.dir, o.origin, &printed);
	if ((r = witness_origins(o.dir, &origins, &n)) != ERR_OK) {
		if (r == ERR_NOTFOUND)
			return not_a_witness(o.dir);
		cli_error("cannot list the logs of '%s': %s", o.dir, err_str(r));
		return 1;
	}
	if (n == 0)
		cli_error("no logs configured in '%s'; add one with 'bulwark "
		    "witness add-log'", o.dir);
	for (size_t i = 0; i < n; i++)
		if (show_one(o.dir, origins[i], &printed) != 0)
			rc = 1;
	witness_origins_free(origins, n);
	return rc;
}

static int
witness_key_cmd(int argc, char **argv)
{
	static const int allowed[] = { OPT_DIR, 0 };
	char *vkey = NULL;
	struct opts o;
	int r;

	if ((r = parse_opts(argc, argv, allowed, &o)) != 0)
		return r;
	if ((r = witness_read_vkey(o.dir, &vkey)) != ERR_OK) {
		if (r == ERR_NOTFOUND)
			return not_a_witness(o.dir);
		cli_error("cannot read '%s/witness.pub': %s", o.dir, err_str(r));
		return 1;
	}
	printf("%s\n", vkey);
	free(vkey);
	return 0;
}

int
cmd_witness(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} subs[] = {
		{ "init", witness_init_cmd },
		{ "add-log", witness_add_log_cmd },
		{ "serve", witness_serve_cmd },
		{ "show", witness_show_cmd },
		{ "key", witness_key_cmd },
	};

	if (argc < 2) {
		cli_error("witness: which subcommand?");
		return usage_error();
	}
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		if (strcmp(argv[1], subs[i].name) == 0)
			return subs[i].fn(argc - 1, argv + 1);
	cli_error("'%s' is not a witness subcommand; 'bulwark help witness' "
	    "lists them", argv[1]);
	return usage_error();
}
