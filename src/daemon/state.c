/*
 * state.c - bulwarkd's state directory: made (--init), opened, closed.
 *
 *   STATE/state.db   users, keys, TOTP seeds, targets, grants, sessions
 *   STATE/ca         the user CA's private key (0600); ca.pub beside it
 *   STATE/log/       the audit log (C2SP tlog-tiles) and its blobs, which
 *                    hold the session recordings
 *   STATE/rec/       recordings of sessions in progress
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/log.h"
#include "auth/sshkey.h"
#include "common/fsutil.h"
#include "daemon/bulwarkd.h"
#include "common/banned.h"

void
bd_log(const char *fmt, ...)
{
	va_list ap;

	fputs("bulwarkd: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* mkdir -p with mode for the last component, then chown it to uid:gid. */
int
bd_own_dir(const char *path, mode_t mode, uid_t uid, gid_t gid)
{
	struct stat st;

	if (fs_mkdirs(path, mode) != ERR_OK) {
		bd_log("cannot create %s: %s", path, strerror(errno));
		return -1;
	}
	if (lstat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
		bd_log("%s is not a directory", path);
		return -1;
	}
	if ((uid != (uid_t)-1 && chown(path, uid, gid) != 0) ||
	    chmod(path, mode) != 0) {
		bd_log("cannot give %s to uid %u: %s", path, (unsigned)uid,
		    strerror(errno));
		return -1;
	}
	return 0;
}

char *
bd_join(const char *a, const char *b)
{
	size_t n = strlen(a) + strlen(b) + 2;
	char *p = malloc(n);

	if (p != NULL)
		snprintf(p, n, "%s/%s", a, b);
	return p;
}

/* Creates what is missing under the state directory; keeps the rest. */
int
bd_state_init(struct bulwarkd *d)
{
	struct sshkey *ca = NULL;
	struct sshkey_pub pub;
	char *ca_path = bd_join(d->state_dir, "ca");
	char *pub_path = bd_join(d->state_dir, "ca.pub");
	char *db_path = bd_join(d->state_dir, "state.db");
	char host[256], origin[300], *vkey = NULL;
	struct db *db = NULL;
	int r, ret = -1;

	if (ca_path == NULL || pub_path == NULL || db_path == NULL)
		goto out;
	if (bd_own_dir(d->state_dir, 0700, (uid_t)-1, (gid_t)-1) != 0 ||
	    bd_own_dir(d->rec_dir, 0700, (uid_t)-1, (gid_t)-1) != 0)
		goto out;
	if ((r = db_open(db_path, &db)) != ERR_OK) {
		bd_log("%s", db_errmsg(NULL));
		goto out;
	}
	if (access(ca_path, F_OK) != 0) {
		if (sshkey_generate_secret("bulwark-user-ca", &ca) != ERR_OK ||
		    sshkey_save_secret(ca, ca_path) != ERR_OK) {
			bd_log("cannot create the user CA key %s", ca_path);
			goto out;
		}
		sshkey_public(ca, &pub);
		if (sshkey_pub_save(&pub, "bulwark-user-ca", pub_path) !=
		    ERR_OK) {
			bd_log("cannot write %s", pub_path);
			goto out;
		}
		printf("created the user CA %s\n", pub_path);
	} else
		printf("kept the user CA %s\n", pub_path);
	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	snprintf(origin, sizeof(origin), "bulwark.gateway/%s", host);
	r = audit_log_create(d->log_dir, origin, &vkey);
	if (r == ERR_OK)
		printf("created the audit log %s (verifier key %s)\n",
		    d->log_dir, vkey);
	else if (r == ERR_EXISTS)
		printf("kept the audit log %s\n", d->log_dir);
	else {
		bd_log("cannot create the audit log in %s: %s", d->log_dir,
		    err_str(r));
		goto out;
	}
	printf("state is ready in %s\n", d->state_dir);
	ret = 0;
out:
	free(vkey);
	db_close(db);
	sshkey_free(ca);
	free(ca_path);
	free(pub_path);
	free(db_path);
	return ret;
}

int
bd_state_open(struct bulwarkd *d)
{
	struct sshkey_pub pub;
	char *ca_path = bd_join(d->state_dir, "ca");
	char *db_path = bd_join(d->state_dir, "state.db");
	char why[256];
	int r, ret = -1;

	if (ca_path == NULL || db_path == NULL)
		goto out;
	if ((r = db_open(db_path, &d->db)) != ERR_OK) {
		bd_log("%s", db_errmsg(NULL));
		goto out;
	}
	if ((r = sshkey_load_secret(ca_path, &d->ca)) != ERR_OK) {
		bd_log("cannot load the user CA key %s (%s); run bulwarkd "
		    "--init first, as the user that runs bulwarkd", ca_path,
		    err_str(r));
		goto out;
	}
	sshkey_public(d->ca, &pub);
	if (sshkey_pub_format(&pub, "bulwark-user-ca", &d->ca_pub) != ERR_OK)
		goto out;
	d->ca_pub[strcspn(d->ca_pub, "\n")] = '\0';
	if ((d->refusals = calloc(1, sizeof(*d->refusals))) == NULL)
		goto out;
	if ((r = proc_boot_id(d->boot_id)) != ERR_OK) {
		bd_log("cannot read this boot's id from /proc (%s); bulwarkd "
		    "needs /proc to tell live logins", err_str(r));
		goto out;
	}
	why[0] = '\0';
	if ((r = audit_log_open(d->log_dir, &d->log, why, sizeof(why))) !=
	    ERR_OK) {
		bd_log("cannot open the audit log %s: %s %s", d->log_dir,
		    err_str(r), why);
		goto out;
	}
	ret = 0;
out:
	free(ca_path);
	free(db_path);
	return ret;
}

void
bd_state_close(struct bulwarkd *d)
{
	rpc_server_free(d->srv);
	free(d->refusals);
	audit_log_close(d->log);
	sshkey_free(d->ca);
	db_close(d->db);
	free(d->ca_pub);
	free(d->state_dir);
	free(d->log_dir);
	free(d->rec_dir);
	free(d->source_address);
}

