/*
 * cmd_vault.c - bulwark vault init|enroll|receive|check: the vault host's
 * side of backups. Nothing here holds the key that decrypts packs: init
 * hands it to the admins wrapped with a passphrase and forgets it.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <stdarg.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "audit/log.h"
#include "audit/verify.h"
#include "backup/keys.h"
#include "backup/pack.h"
#include "cli/cli.h"
#include "cli/gwclient.h"
#include "cli/passphrase.h"
#include "common/fsutil.h"
#include "vault/receive.h"
#include "vault/store.h"
#include "common/banned.h"

#define SSH_KEY_FILE_MAX 16384

/* ---- helpers ---------------------------------------------------------- */

/*
 * The forced command goes through the vault user's shell, so what enroll
 * puts in it must need no quoting: host names and paths of plain
 * characters only.
 */
static int
shell_safe(const char *s, const char *extra)
{
	if (*s == '\0' || *s == '-')
		return 0;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || strchr("._-", *s) != NULL ||
		    strchr(extra, *s) != NULL))
			return 0;
	return 1;
}

/* "10G", "500M", "64K" or bytes. */
static int
parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	uint64_t mul = 1;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s)
		return -1;
	if (*end == 'K' || *end == 'k')
		mul = 1ull << 10;
	else if (*end == 'M')
		mul = 1ull << 20;
	else if (*end == 'G')
		mul = 1ull << 30;
	else if (*end == 'T')
		mul = 1ull << 40;
	else if (*end != '\0')
		return -1;
	if (mul != 1 && end[1] != '\0')
		return -1;
	if (v > UINT64_MAX / mul)
		return -1;
	*out = (uint64_t)v * mul;
	return 0;
}

int
cli_open_vault(const char *dir, struct vault **v)
{
	char why[512] = "";

	if (vault_open(dir, v, why, sizeof(why)) != ERR_OK) {
		cli_error("%s", why);
		return -1;
	}
	return 0;
}

/* Writes text to a new file of mode 0600 (never over an existing one). */
static int
write_secret_file(const char *path, const char *text)
{
	int rc = fs_write_atomic(path, text, strlen(text), 0600, FS_EXCL);

	if (rc == ERR_EXISTS)
		cli_error("%s exists; choose another file or move it away",
		    path);
	else if (rc != ERR_OK)
		cli_error("cannot write %s: %s", path, strerror(errno));
	return rc == ERR_OK ? 0 : -1;
}

/* The export text of k under pass, with the default KDF; says so first. */
static int
wrap_admin_key(const struct admin_key *k, const char *pass, size_t passlen,
    char **text)
{
	fprintf(stderr, "wrapping the admin key (Argon2id: %u MiB, %u passes, "
	    "%u lanes)\n", ADMIN_KDF_M_KIB >> 10, ADMIN_KDF_T, ADMIN_KDF_LANES);
	if (admin_key_export(k, pass, passlen, 0, 0, text) != ERR_OK) {
		cli_error("cannot wrap the admin key");
		return -1;
	}
	return 0;
}

/* ---- init ------------------------------------------------------------- */

static uid_t chown_uid;
static gid_t chown_gid;
static const char *chown_skip;

static int
chown_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	if (strncmp(path, chown_skip, strlen(chown_skip)) == 0)
		return 0;
	return lchown(path, chown_uid, chown_gid) == 0 ? 0 : -1;
}

/* Hands the vault to its SSH user, all but keys/ (root's). */
static int
give_to(const char *dir, const char *user)
{
	struct passwd *pw = getpwnam(user);
	char skip[PATH_MAX];

	if (pw == NULL) {
		cli_error("no user '%s'; create the vault's SSH user first "
		    "(useradd --system --create-home %s)", user, user);
		return -1;
	}
	chown_uid = pw->pw_uid;
	chown_gid = pw->pw_gid;
	snprintf(skip, sizeof(skip), "%s/keys", dir);
	chown_skip = skip;
	if (nftw(dir, chown_one, 16, FTW_PHYS) != 0) {
		cli_error("cannot hand %s to %s: %s", dir, user,
		    strerror(errno));
		return -1;
	}
	return 0;
}

static int
vault_init(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "admin-key", required_argument, NULL, 'a' },
		{ "passphrase-file", required_argument, NULL, 'p' },
		{ "user", required_argument, NULL, 'u' },
		{ "origin", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	const char *admin = NULL, *passfile = NULL, *user = NULL;
	const char *origin = NULL;
	char why[512] = "", *vkey = NULL, *text = NULL, *pass = NULL;
	char idhex[2 * PACK_KEY_ID_LEN + 1], host[256], origbuf[300];
	uint8_t id[PACK_KEY_ID_LEN];
	struct admin_key *k = NULL;
	size_t passlen;
	int c, rc = 1;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'a': admin = optarg; break;
		case 'p': passfile = optarg; break;
		case 'u': user = optarg; break;
		case 'o': origin = optarg; break;
		default: goto usage;
		}
	}
	if (optind + 1 != argc || admin == NULL)
		goto usage;
	const char *dir = argv[optind];
	if (dir[0] != '/') {
		cli_error("give the vault directory as an absolute path: "
		    "enroll writes it into forced commands");
		return 2;
	}
	if (!shell_safe(dir + 1, "/")) {
		cli_error("the vault directory must be a plain path "
		    "(letters, digits, . _ - /)");
		return 2;
	}
	if (access(admin, F_OK) == 0) {
		cli_error("%s exists; the admin key export goes to a new file",
		    admin);
		return 1;
	}
	if (origin == NULL) {
		if (gethostname(host, sizeof(host)) != 0)
			snprintf(host, sizeof(host), "localhost");
		host[sizeof(host) - 1] = '\0';
		snprintf(origbuf, sizeof(origbuf), "%s/bulwark-vault", host);
		origin = origbuf;
	}
	if (cli_passphrase(passfile, "Passphrase for the vault's admin key: ",
	    1, &pass, &passlen) != 0)
		return 1;
	if (admin_key_new(&k) != ERR_OK ||
	    pack_vault_keypair_secret(k->vault_pk, k->vault_sk) != ERR_OK) {
		cli_error("cannot make the vault's key pair");
		goto out;
	}
	randombytes_buf(k->repo_secret, sizeof(k->repo_secret));
	if (wrap_admin_key(k, pass, passlen, &text) != 0)
		goto out;
	if (write_secret_file(admin, text) != 0)
		goto out;
	if (vault_create(dir, k->vault_pk, k->repo_secret, origin, &vkey, why,
	    sizeof(why)) != ERR_OK) {
		cli_error("%s", why);
		unlink(admin);
		goto out;
	}
	if (user != NULL && give_to(dir, user) != 0)
		goto out;
	if (pack_vault_key_id(k->vault_pk, id) != ERR_OK)
		goto out;
	sodium_bin2hex(idhex, sizeof(idhex), id, sizeof(id));
	struct vault *v;
	if (vault_open(dir, &v, why, sizeof(why)) == ERR_OK) {
		if (vault_audit(v, "admin", NULL, "vault.init", "allow",
		    "vault", NULL) != ERR_OK)
			cli_error("warning: cannot log vault.init");
		vault_close(v);
	}
	printf("vault %s created\nvault key ID: %s\naudit log key: %s\n\n"
	    "The key that decrypts backups is in %s, wrapped with your "
	    "passphrase. It is the only copy: this host keeps no key that\n"
	    "reads backups. Print it for paper and store it offline, then "
	    "remove it from this host:\n\n%s\n", dir, idhex, vkey, admin, text);
	printf("Next: bulwark vault enroll HOST --dir %s --ssh-key HOST.pub "
	    "--out HOST.conf\n", dir);
	rc = 0;
out:
	if (text != NULL) {
		sodium_memzero(text, strlen(text));
		free(text);
	}
	free(vkey);
	admin_key_free(k);
	cli_passphrase_free(pass);
	return rc;
usage:
	cli_error("usage: bulwark vault init DIR --admin-key FILE "
	    "[--passphrase-file FILE] [--user USER] [--origin ORIGIN]");
	return 2;
}

/* ---- enroll ----------------------------------------------------------- */

/* Reads one OpenSSH public key line from path (options refused). */
static int
read_ssh_key(const char *path, char *out, size_t cap)
{
	char *text = NULL;
	size_t len;

	if (fs_read_file(path, SSH_KEY_FILE_MAX, &text, &len) != ERR_OK) {
		cli_error("cannot read the SSH public key %s", path);
		return -1;
	}
	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
		text[--len] = '\0';
	if (len == 0 || len >= cap || strchr(text, '\n') != NULL ||
	    (strncmp(text, "ssh-", 4) != 0 && strncmp(text, "ecdsa-", 6) != 0 &&
	    strncmp(text, "sk-", 3) != 0)) {
		cli_error("%s is not one OpenSSH public key line (ssh-keygen "
		    "writes one to FILE.pub)", path);
		free(text);
		return -1;
	}
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)text[i] < 0x20 || text[i] == '"') {
			cli_error("%s has characters a key line cannot have",
			    path);
			free(text);
			return -1;
		}
	memcpy(out, text, len + 1);
	free(text);
	return 0;
}

static int
vault_enroll(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "ssh-key", required_argument, NULL, 'k' },
		{ "quota", required_argument, NULL, 'q' },
		{ "out", required_argument, NULL, 'o' },
		{ "vault-address", required_argument, NULL, 'a' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = NULL, *keyfile = NULL, *out = NULL, *addr = NULL;
	uint64_t quota = 0;
	struct vault *v = NULL;
	struct vault_host h;
	struct agent_config *cfg = NULL;
	char *text = NULL, exe[PATH_MAX], rdir[PATH_MAX], detail[300];
	uint8_t *sk = NULL;
	int c, rc = 1;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 'k': keyfile = optarg; break;
		case 'o': out = optarg; break;
		case 'a': addr = optarg; break;
		case 'q':
			if (parse_size(optarg, &quota) != 0) {
				cli_error("--quota takes a size like 500G");
				return 2;
			}
			break;
		default: goto usage;
		}
	}
	if (optind + 1 != argc || dir == NULL || keyfile == NULL ||
	    out == NULL)
		goto usage;
	const char *name = argv[optind];
	if (!shell_safe(name, "") || strlen(name) > MANIFEST_HOST_MAX) {
		cli_error("host names are letters, digits, '.', '_' and '-'");
		return 2;
	}
	if (realpath(dir, rdir) == NULL || !shell_safe(rdir + 1, "/")) {
		cli_error("%s: not a vault directory with a plain path", dir);
		return 1;
	}
	if (cli_open_vault(rdir, &v) != 0)
		return 1;
	memset(&h, 0, sizeof(h));
	snprintf(h.name, sizeof(h.name), "%s", name);
	h.quota = quota;
	if (read_ssh_key(keyfile, h.ssh_key, sizeof(h.ssh_key)) != 0)
		goto out;
	if (agent_config_new(&cfg) != ERR_OK)
		goto out;
	if (vault_repo_secret(v, cfg->repo_secret) != ERR_OK) {
		cli_error("cannot read %s/keys/repo.key: enroll runs as root "
		    "on the vault host", rdir);
		goto out;
	}
	if ((sk = sodium_malloc(crypto_sign_SECRETKEYBYTES)) == NULL)
		goto out;
	crypto_sign_keypair(h.sign_pk, sk);
	memcpy(cfg->sign_sk, sk, MANIFEST_SK_LEN);
	memcpy(cfg->vault_pk, vault_pk(v), PACK_PK_LEN);
	snprintf(cfg->host, sizeof(cfg->host), "%s", name);
	if (addr != NULL && strlen(addr) + strlen(rdir) + 2 >
	    sizeof(cfg->vault)) {
		cli_error("--vault-address is too long");
		goto out;
	}
	if (addr != NULL)
		snprintf(cfg->vault, sizeof(cfg->vault), "%.200s:%.800s", addr,
		    rdir);
	if (agent_config_format(cfg, &text) != ERR_OK) {
		cli_error("cannot write the agent configuration");
		goto out;
	}
	if (access(out, F_OK) == 0) {
		cli_error("%s exists; the agent configuration goes to a new "
		    "file", out);
		goto out;
	}
	int r = vault_host_add(v, &h);
	if (r == ERR_EXISTS) {
		cli_error("host %s is already enrolled in %s", name, rdir);
		goto out;
	}
	if (r != ERR_OK) {
		cli_error("cannot register host %s: %s", name, err_str(r));
		goto out;
	}
	if (write_secret_file(out, text) != 0)
		goto out;
	snprintf(detail, sizeof(detail), "{\"quota\":%" PRIu64 "}", quota);
	if (vault_audit(v, "admin", NULL, "vault.enroll", "allow", name,
	    detail) != ERR_OK)
		cli_error("warning: cannot log the enrolment");
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0 || !shell_safe(exe + 1, "/")) {
		snprintf(exe, sizeof(exe), "bulwark");
		n = 7;
	}
	exe[n] = '\0';
	fprintf(stderr, "host %s enrolled; copy %s to it (mode 0600) and add "
	    "this line to the vault SSH user's ~/.ssh/authorized_keys:\n",
	    name, out);
	printf("restrict,command=\"%s vault receive --host %s --dir %s\" %s\n",
	    exe, name, rdir, h.ssh_key);
	rc = 0;
out:
	if (sk != NULL)
		sodium_free(sk);
	if (text != NULL) {
		sodium_memzero(text, strlen(text));
		free(text);
	}
	agent_config_free(cfg);
	vault_close(v);
	return rc;
usage:
	cli_error("usage: bulwark vault enroll HOST --dir DIR --ssh-key "
	    "KEY.pub --out AGENT.conf [--quota SIZE] [--vault-address "
	    "USER@HOST]");
	return 2;
}

/* ---- receive ---------------------------------------------------------- */

static int
vault_receive_cmd(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "host", required_argument, NULL, 'h' },
		{ "dir", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
	};
	const char *host = NULL, *dir = NULL;
	char why[512] = "", source[128] = "";
	struct vault *v;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'h': host = optarg; break;
		case 'd': dir = optarg; break;
		default: goto usage;
		}
	}
	if (optind != argc || host == NULL || dir == NULL)
		goto usage;
	umask(022);
	/* sshd says who connected: the client's address is the first word. */
	const char *sc = getenv("SSH_CONNECTION");
	if (sc != NULL)
		snprintf(source, sizeof(source), "%.*s",
		    (int)strcspn(sc, " "), sc);
	if (isatty(STDIN_FILENO)) {
		cli_error("vault receive speaks the backup protocol on stdin; "
		    "it is the forced command of an agent's SSH key, not for "
		    "people");
		return 2;
	}
	if (cli_open_vault(dir, &v) != 0)
		return 1;
	struct vault_receive_opts o = { .host = host,
	    .source = source[0] ? source : NULL,
	    .idle_timeout_ms = 10 * 60 * 1000 };
	rc = vault_receive(v, &o, STDIN_FILENO, STDOUT_FILENO, why,
	    sizeof(why));
	vault_close(v);
	if (rc != ERR_OK) {
		cli_error("vault receive for %s: %s", host, why);
		return 1;
	}
	return 0;
usage:
	cli_error("usage: bulwark vault receive --host HOST --dir DIR");
	return 2;
}

/* ---- check ------------------------------------------------------------ */

struct check {
	size_t problems;
	int tty;
};

static void __attribute__((format(printf, 2, 3)))
problem(struct check *ck, const char *fmt, ...)
{
	va_list ap;
	char *msg = NULL;

	if (ck->tty)
		fputs("\r\033[K", stderr);
	fputs("problem: ", stdout);
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) >= 0)
		cli_fputs_safe(msg, stdout);	/* names the files found */
	va_end(ap);
	free(msg);
	putchar('\n');
	ck->problems++;
}

static void
bad_snapshot(const char *path, const char *why, void *arg)
{
	problem(arg, "snapshot %s: %s", path, why);
}

/*
 * Checks every pack file; names (sorted) and n keep the list for the
 * snapshots' check.
 */
static int
check_packs(struct vault *v, struct check *ck, uint64_t *bytes,
    char (**namesp)[PACK_NAME_HEX_LEN + 1], size_t *np)
{
	char (*names)[PACK_NAME_HEX_LEN + 1];
	size_t n;

	*namesp = NULL;
	*np = 0;
	if (vault_pack_list(v, &names, &n) != ERR_OK) {
		problem(ck, "cannot list the packs");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		struct pack_info info;
		int fd = vault_pack_open(v, names[i]), r;

		if (ck->tty)
			fprintf(stderr, "\rchecking packs: %zu/%zu", i + 1, n);
		if (fd < 0) {
			problem(ck, "pack %s: cannot open it", names[i]);
			continue;
		}
		r = pack_verify_name_fd(fd, names[i]);
		if (r == ERR_OK)
			r = pack_check_structure_fd(fd, &info);
		close(fd);
		if (r == ERR_MISMATCH)
			problem(ck, "pack %s: its bytes do not hash to its "
			    "name (damaged or altered)", names[i]);
		else if (r != ERR_OK)
			problem(ck, "pack %s: %s", names[i], err_str(r));
		else if (memcmp(info.key_id, vault_key_id(v),
		    PACK_KEY_ID_LEN) != 0)
			problem(ck, "pack %s: sealed to another vault key",
			    names[i]);
		else
			*bytes += info.size;
	}
	if (ck->tty && n > 0)
		fputc('\n', stderr);
	printf("packs: %zu checked\n", n);
	*namesp = names;
	*np = n;
	return 0;
}

/*
 * The snapshots' walk: one manifest in memory at a time, each host's
 * received list loaded once (the walk goes host by host), and pack names
 * looked up in the sorted list check_packs made, so that a vault of
 * years of snapshots is checked without a system call per reference.
 */
struct snap_check {
	struct vault *v;
	struct check *ck;
	char (*names)[PACK_NAME_HEX_LEN + 1];
	size_t npacks;
	char host[MANIFEST_HOST_MAX + 1];	/* whose list got is */
	struct vault_received got;
	int got_ok;
	size_t n;
};

static int
cmp_name(const void *a, const void *b)
{
	return strcmp(a, b);
}

static int
check_one_snapshot(struct vault_snapshot *s, void *arg)
{
	struct snap_check *sc = arg;

	if (strcmp(sc->host, s->host) != 0) {
		vault_received_free(&sc->got);
		memset(&sc->got, 0, sizeof(sc->got));
		snprintf(sc->host, sizeof(sc->host), "%s", s->host);
		sc->got_ok = vault_received_load(sc->v, s->host, &sc->got) ==
		    ERR_OK;
		if (!sc->got_ok)
			problem(sc->ck, "host %s: its received list is "
			    "malformed", s->host);
	}
	sc->n++;
	if (!sc->got_ok)
		return 0;
	for (size_t j = 0; j < s->m->npacks; j++) {
		if (bsearch(s->m->packs[j], sc->names, sc->npacks,
		    sizeof(*sc->names), cmp_name) == NULL)
			problem(sc->ck, "snapshot %s (%s): pack %s is missing",
			    s->id, s->host, s->m->packs[j]);
		if (!vault_received_has(&sc->got, s->m->packs[j]))
			problem(sc->ck, "snapshot %s (%s): pack %s was not "
			    "received from that host", s->id, s->host,
			    s->m->packs[j]);
	}
	return 0;
}

static void
check_snapshots(struct vault *v, struct check *ck,
    char (*names)[PACK_NAME_HEX_LEN + 1], size_t npacks)
{
	struct snap_check sc;

	memset(&sc, 0, sizeof(sc));
	sc.v = v;
	sc.ck = ck;
	sc.names = names;
	sc.npacks = npacks;
	if (vault_snapshot_each(v, check_one_snapshot, &sc, bad_snapshot,
	    ck) != ERR_OK)
		problem(ck, "cannot walk the snapshots");
	vault_received_free(&sc.got);
	printf("snapshots: %zu checked\n", sc.n);
}

static void
check_log(struct vault *v, struct check *ck)
{
	char dir[PATH_MAX], *vkey = NULL;
	struct audit_verify_opts o;
	struct audit_verify_result *res = calloc(1, sizeof(*res));

	snprintf(dir, sizeof(dir), "%s/log", vault_dir(v));
	if (res == NULL || audit_log_vkey(dir, &vkey) != ERR_OK) {
		problem(ck, "the vault's audit log has no verifier key");
		free(res);
		return;
	}
	memset(&o, 0, sizeof(o));
	o.log_vkey = vkey;
	if (audit_verify(dir, &o, res) != ERR_OK)
		problem(ck, "the vault's audit log does not verify: %s",
		    res->report);
	else
		printf("audit log: %" PRIu64 " entries verified\n", res->size);
	free(vkey);
	free(res);
}

static int
vault_check(int argc, char **argv)
{
	struct check ck = { 0, isatty(STDERR_FILENO) };
	char (*names)[PACK_NAME_HEX_LEN + 1] = NULL;
	size_t npacks = 0;
	struct vault *v;
	uint64_t bytes = 0;

	if (argc != 2 || argv[1][0] == '-') {
		cli_error("usage: bulwark vault check DIR");
		return 2;
	}
	if (cli_open_vault(argv[1], &v) != 0)
		return 1;
	if (check_packs(v, &ck, &bytes, &names, &npacks) == 0)
		check_snapshots(v, &ck, names, npacks);
	free(names);
	check_log(v, &ck);
	vault_close(v);
	if (ck.problems > 0) {
		printf("vault check: %zu problem%s\n", ck.problems,
		    ck.problems == 1 ? "" : "s");
		return 1;
	}
	printf("vault check: ok (%.1f MiB of packs)\n",
	    (double)bytes / (1 << 20));
	return 0;
}

/* ---- passwd ------------------------------------------------------------ */

/*
 * A new export of the admin key under a new passphrase (and the current
 * KDF parameters: an export from before lanes comes out in four). The old
 * file is left alone: the admin checks the new one, then destroys every
 * copy of the old, which its old passphrase still opens.
 */
static int
vault_passwd(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "admin-key", required_argument, NULL, 'a' },
		{ "out", required_argument, NULL, 'o' },
		{ "passphrase-file", required_argument, NULL, 'p' },
		{ "new-passphrase-file", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	const char *admin = NULL, *out = NULL, *passfile = NULL;
	const char *newfile = NULL;
	char *pass = NULL, *text = NULL;
	struct admin_key *k = NULL, *back = NULL;
	size_t passlen;
	int c, rc = 1;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'a': admin = optarg; break;
		case 'o': out = optarg; break;
		case 'p': passfile = optarg; break;
		case 'n': newfile = optarg; break;
		default: goto usage;
		}
	}
	if (optind != argc || admin == NULL || out == NULL)
		goto usage;
	if (access(out, F_OK) == 0) {
		cli_error("%s exists; the new export goes to a new file", out);
		return 1;
	}
	if (cli_admin_key_load(admin, passfile, NULL, NULL, &k) != 0)
		return 1;
	if (cli_passphrase(newfile, "New passphrase for the admin key: ", 1,
	    &pass, &passlen) != 0)
		goto done;
	if (wrap_admin_key(k, pass, passlen, &text) != 0)
		goto done;
	/* What is written must open with what was typed. */
	if (admin_key_import(text, strlen(text), pass, passlen, &back) !=
	    ERR_OK || sodium_memcmp(back, k, sizeof(*k)) != 0) {
		cli_error("the new export does not unwrap to the same key; "
		    "nothing written");
		goto done;
	}
	if (write_secret_file(out, text) != 0)
		goto done;
	printf("wrote %s: the same vault key under the new passphrase.\n"
	    "Every copy of %s (printed ones too) still opens with the old "
	    "passphrase: destroy them once this one is stored.\n\n%s",
	    out, admin, text);
	rc = 0;
done:
	if (text != NULL) {
		sodium_memzero(text, strlen(text));
		free(text);
	}
	admin_key_free(back);
	admin_key_free(k);
	cli_passphrase_free(pass);
	return rc;
usage:
	cli_error("usage: bulwark vault passwd --admin-key FILE --out NEWFILE "
	    "[--passphrase-file FILE] [--new-passphrase-file FILE]");
	return 2;
}

int
cmd_vault(int argc, char **argv)
{
	static const struct gw_sub subs[] = {
		{ "init", vault_init },
		{ "passwd", vault_passwd },
		{ "enroll", vault_enroll },
		{ "receive", vault_receive_cmd },
		{ "check", vault_check },
	};

	return gw_dispatch("vault", subs, sizeof(subs) / sizeof(subs[0]),
	    argc, argv);
}
