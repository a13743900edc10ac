/*
 * cmd_log_blob.c - bulwark log blob put|get: content-addressed blobs
 * beside the log, for payloads too large for an entry.
 */
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "audit/blob.h"
#include "cli/cli.h"
#include "common/banned.h"

int
cmd_log_blob(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = NULL, *verb;
	char hex[BLOB_HEX_LEN + 1];
	int c, r, fd = STDIN_FILENO;

	if (argc < 2 || (strcmp(argv[1], "put") != 0 && strcmp(argv[1], "get") != 0)) {
		cli_error("usage: bulwark log blob put --dir DIR [FILE] | "
		    "bulwark log blob get --dir DIR sha256:HEX");
		return 2;
	}
	verb = argv[1];
	argc--;
	argv++;
	optind = 1;
	while ((c = getopt_long(argc, argv, "d:", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		default: return 2;
		}
	}
	if (dir == NULL || argc - optind > 1 ||
	    (strcmp(verb, "get") == 0 && argc - optind != 1)) {
		cli_error("usage: bulwark log blob put --dir DIR [FILE] | "
		    "bulwark log blob get --dir DIR sha256:HEX");
		return 2;
	}
	if (strcmp(verb, "put") == 0) {
		if (argc - optind == 1 &&
		    (fd = open(argv[optind], O_RDONLY | O_CLOEXEC)) < 0) {
			cli_error("cannot open '%s'", argv[optind]);
			return 1;
		}
		r = audit_blob_put_fd(dir, fd, hex);
		if (fd != STDIN_FILENO)
			close(fd);
		if (r != ERR_OK) {
			cli_error("cannot store the blob in '%s/blob': %s", dir,
			    err_str(r));
			return 1;
		}
		printf("sha256:%s\n", hex);
		return 0;
	}
	{
		const char *name = argv[optind];

		if (strncmp(name, "sha256:", 7) == 0)
			name += 7;
		r = audit_blob_get(dir, name, STDOUT_FILENO);
		if (r == ERR_FORMAT)
			cli_error("'%s' is not a blob name (sha256:<64 hex digits>)",
			    argv[optind]);
		else if (r == ERR_NOTFOUND)
			cli_error("no blob '%s' in '%s/blob'", argv[optind], dir);
		else if (r == ERR_MISMATCH)
			cli_error("blob '%s' does not match its hash: it was "
			    "altered; run 'bulwark log verify --dir %s'",
			    argv[optind], dir);
		else if (r != ERR_OK)
			cli_error("cannot read blob '%s': %s", argv[optind],
			    err_str(r));
		return r == ERR_OK ? 0 : 1;
	}
}
