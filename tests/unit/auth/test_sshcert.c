/*
 * test_sshcert.c - the user CA and Ed25519 keys, checked against
 * OpenSSH's own ssh-keygen: it must read our private keys and certificates
 * and print exactly what we issued, and we must read its keys and
 * certificates.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "auth/sshcert.h"
#include "auth/sshkey.h"
#include "common/fsutil.h"
#include "common/banned.h"

#define SSH_KEYGEN "/usr/bin/ssh-keygen"

static char dir[] = "/tmp/bwt-sshcert.XXXXXX";

/*
 * Runs argv (no shell), its stdout into out (NUL-terminated, at most
 * max - 1 bytes), stderr to the test's stderr. Returns the exit status,
 * or -1 when it did not exit normally.
 */
static int
run(char *const argv[], char *out, size_t max)
{
	int fds[2], status;
	size_t n = 0;
	ssize_t k;
	pid_t pid;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDONLY);

		dup2(devnull, 0);
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(fds[1]);
	while ((k = read(fds[0], out + n, max - 1 - n)) > 0)
		n += (size_t)k;
	out[n] = '\0';
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void
path_of(char *buf, size_t len, const char *name)
{
	int n = snprintf(buf, len, "%s/%s", dir, name);

	assert_true(n > 0 && (size_t)n < len);
}

static void
write_text(const char *name, const char *text, mode_t mode)
{
	char path[256];

	path_of(path, sizeof(path), name);
	unlink(path);
	assert_int_equal(fs_write_atomic(path, text, strlen(text), mode,
	    FS_NOSYNC), ERR_OK);
}

static int
setup(void **state)
{
	(void)state;
	if (sodium_init() < 0 || mkdtemp(dir) == NULL)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	char *const argv[] = { "/bin/rm", "-rf", dir, NULL };
	char out[16];

	(void)state;
	return run(argv, out, sizeof(out)) == 0 ? 0 : -1;
}

/* Keys. */

static void
test_key_roundtrip(void **state)
{
	struct sshkey *k = NULL, *k2 = NULL;
	struct sshkey_pub pub, pub2;
	uint8_t sig[SSHKEY_ED25519_SIGLEN];
	char *text = NULL, *line = NULL, *comment = NULL;
	size_t len = 0;

	(void)state;
	assert_int_equal(sshkey_generate_secret("bulwark ca", &k), ERR_OK);
	assert_int_equal(sshkey_private_format_secret(k, &text, &len),
	    ERR_OK);
	assert_int_equal(strlen(text), len);
	assert_int_equal(sshkey_private_parse_secret(text, len, &k2), ERR_OK);
	sshkey_public(k, &pub);
	sshkey_public(k2, &pub2);
	assert_memory_equal(pub.pk, pub2.pk, sizeof(pub.pk));
	assert_string_equal(sshkey_comment(k2), "bulwark ca");

	/* The parsed key signs as the original. */
	assert_int_equal(sshkey_sign(k2, (const uint8_t *)"m", 1, sig),
	    ERR_OK);
	assert_int_equal(crypto_sign_verify_detached(sig,
	    (const uint8_t *)"m", 1, pub.pk), 0);

	/* Truncated or altered files are refused. */
	assert_int_equal(sshkey_private_parse_secret(text, len - 40, &k2),
	    ERR_FORMAT);
	assert_null(k2);
	text[60] = text[60] == 'A' ? 'B' : 'A';
	assert_int_not_equal(sshkey_private_parse_secret(text, len, &k2),
	    ERR_OK);
	assert_null(k2);

	assert_int_equal(sshkey_pub_format(&pub, "c d", &line), ERR_OK);
	assert_int_equal(strncmp(line, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI",
	    37), 0);
	assert_int_equal(sshkey_pub_parse(line, strlen(line), &pub2, &comment),
	    ERR_OK);
	assert_memory_equal(pub.pk, pub2.pk, sizeof(pub.pk));
	assert_string_equal(comment, "c d");

	free(comment);
	free(line);
	sshkey_text_free_secret(text, len);
	sshkey_free(k2);
	sshkey_free(k);
	assert_int_equal(sshkey_generate_secret("bad\ncomment", &k),
	    ERR_INVAL);
	assert_null(k);
}

/* ssh-keygen -y reads our private key and prints our public line. */
static void
test_key_ssh_keygen(void **state)
{
	char priv[256], pubpath[256], out[4096], fp[SSHKEY_FP_MAX];
	char want[512];
	struct sshkey *k = NULL, *k2 = NULL;
	struct sshkey_pub pub, pub2;
	char *line = NULL;
	struct stat st;

	(void)state;
	path_of(priv, sizeof(priv), "ours");
	path_of(pubpath, sizeof(pubpath), "ours.pub");
	assert_int_equal(sshkey_generate_secret("alice@bulwark", &k), ERR_OK);
	assert_int_equal(sshkey_save_secret(k, priv), ERR_OK);
	assert_int_equal(sshkey_save_secret(k, priv), ERR_EXISTS);
	assert_int_equal(stat(priv, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	sshkey_public(k, &pub);
	assert_int_equal(sshkey_pub_format(&pub, "alice@bulwark", &line),
	    ERR_OK);
	assert_int_equal(sshkey_pub_save(&pub, "alice@bulwark", pubpath),
	    ERR_OK);

	{
		char *const argv[] = { SSH_KEYGEN, "-y", "-f", priv, NULL };

		assert_int_equal(run(argv, out, sizeof(out)), 0);
		assert_string_equal(out, line);
	}
	{
		char *const argv[] = { SSH_KEYGEN, "-l", "-f", pubpath, NULL };

		assert_int_equal(run(argv, out, sizeof(out)), 0);
		sshkey_fingerprint(&pub, fp);
		snprintf(want, sizeof(want), "256 %s alice@bulwark (ED25519)\n",
		    fp);
		assert_string_equal(out, want);
	}

	/* Load and save keep the key. */
	assert_int_equal(sshkey_load_secret(priv, &k2), ERR_OK);
	sshkey_public(k2, &pub2);
	assert_memory_equal(pub.pk, pub2.pk, sizeof(pub.pk));
	assert_int_equal(sshkey_pub_load(pubpath, &pub2, NULL), ERR_OK);
	assert_memory_equal(pub.pk, pub2.pk, sizeof(pub.pk));
	sshkey_free(k2);
	k2 = NULL;

	/* A private key others can read is refused, as ssh does. */
	assert_int_equal(chmod(priv, 0640), 0);
	assert_int_equal(sshkey_load_secret(priv, &k2), ERR_DENIED);
	assert_null(k2);
	path_of(priv, sizeof(priv), "missing");
	assert_int_equal(sshkey_load_secret(priv, &k2), ERR_NOTFOUND);

	free(line);
	sshkey_free(k);
}

/*
 * A failed write, fsync or rename leaves no key file and no temporary
 * file; a failed directory sync (the second fsync) leaves a complete one.
 * Each case runs in a child, as the fault counter is per process.
 */
static void
test_key_save_faults(void **state)
{
#ifdef BULWARK_FAULT_INJECTION
	static const char *const faults[] = {
		"write:1", "fsync:1", "rename:1", "fsync:2",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) {
		char path[256], name[64];
		int status;
		pid_t pid;

		snprintf(name, sizeof(name), "fault-%zu", i);
		path_of(path, sizeof(path), name);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			struct sshkey *k = NULL, *k2 = NULL;
			int r, ok;

			if (sshkey_generate_secret(NULL, &k) != ERR_OK)
				_exit(2);
			setenv("BULWARK_FAULT", faults[i], 1);
			r = sshkey_save_secret(k, path);
			unsetenv("BULWARK_FAULT");
			if (i < 3)
				ok = r == ERR_IO && access(path, F_OK) != 0;
			else
				ok = r == ERR_IO &&
				    sshkey_load_secret(path, &k2) == ERR_OK;
			sshkey_free(k2);
			sshkey_free(k);
			_exit(ok ? 0 : 1);
		}
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status));
		if (WEXITSTATUS(status) != 0)
			fail_msg("fault %s: wrong outcome", faults[i]);
	}
	{
		char *const argv[] = { "/usr/bin/find", dir, "-name", "*.tmp.*",
		    NULL };
		char out[512];

		assert_int_equal(run(argv, out, sizeof(out)), 0);
		assert_string_equal(out, "");
	}
#else
	(void)state;
	skip();
#endif
}

/* We read keys ssh-keygen made; encrypted and non-Ed25519 are refused. */
static void
test_key_from_ssh_keygen(void **state)
{
	char priv[256], pubpath[256], out[256];
	struct sshkey *k = NULL;
	struct sshkey_pub pub, pub2;
	char *comment = NULL;

	(void)state;
	path_of(priv, sizeof(priv), "theirs");
	path_of(pubpath, sizeof(pubpath), "theirs.pub");
	{
		char *const argv[] = { SSH_KEYGEN, "-q", "-t", "ed25519",
		    "-N", "", "-C", "made by ssh-keygen", "-f", priv, NULL };

		assert_int_equal(run(argv, out, sizeof(out)), 0);
	}
	assert_int_equal(sshkey_load_secret(priv, &k), ERR_OK);
	assert_string_equal(sshkey_comment(k), "made by ssh-keygen");
	sshkey_public(k, &pub);
	assert_int_equal(sshkey_pub_load(pubpath, &pub2, &comment), ERR_OK);
	assert_memory_equal(pub.pk, pub2.pk, sizeof(pub.pk));
	assert_string_equal(comment, "made by ssh-keygen");
	free(comment);
	sshkey_free(k);
	k = NULL;

	path_of(priv, sizeof(priv), "encrypted");
	{
		char *const argv[] = { SSH_KEYGEN, "-q", "-t", "ed25519",
		    "-N", "passphrase", "-f", priv, NULL };

		assert_int_equal(run(argv, out, sizeof(out)), 0);
	}
	assert_int_equal(sshkey_load_secret(priv, &k), ERR_UNSUPPORTED);
	assert_null(k);

	path_of(priv, sizeof(priv), "ecdsa");
	path_of(pubpath, sizeof(pubpath), "ecdsa.pub");
	{
		char *const argv[] = { SSH_KEYGEN, "-q", "-t", "ecdsa",
		    "-N", "", "-f", priv, NULL };

		assert_int_equal(run(argv, out, sizeof(out)), 0);
	}
	assert_int_equal(sshkey_load_secret(priv, &k), ERR_UNSUPPORTED);
	assert_null(k);
	assert_int_equal(sshkey_pub_load(pubpath, &pub2, NULL),
	    ERR_UNSUPPORTED);
}

static int
parse_line(const char *s)
{
	struct sshkey_pub pk;
	char *c = NULL;
	int r = sshkey_pub_parse(s, strlen(s), &pk, &c);

	if (r != ERR_OK)
		assert_null(c);
	free(c);
	return r;
}

/* The public key line parser is strict. */
static void
test_pub_parse_strict(void **state)
{
#define K "AAAAC3NzaC1lZDI1NTE5AAAAIAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g"
	(void)state;
	assert_int_equal(parse_line("ssh-ed25519 " K), ERR_OK);
	assert_int_equal(parse_line("ssh-ed25519 " K "\n"), ERR_OK);
	assert_int_equal(parse_line("ssh-ed25519 " K " a b\n"), ERR_OK);
	assert_int_equal(parse_line("ssh-ed25519 " K "\n\n"), ERR_FORMAT);
	assert_int_equal(parse_line("ssh-ed25519 " K " "), ERR_FORMAT);
	assert_int_equal(parse_line("ssh-ed25519  " K), ERR_FORMAT);
	assert_int_equal(parse_line(" ssh-ed25519 " K), ERR_FORMAT);
	assert_int_equal(parse_line("ssh-ed25519\t" K), ERR_FORMAT);
	assert_int_equal(parse_line("ssh-ed25519 " K "\r\n"), ERR_FORMAT);
	assert_int_equal(parse_line("ssh-ed25519 " K " caf\xc3\xa9"),
	    ERR_FORMAT);
	assert_int_equal(parse_line("ssh-rsa " K), ERR_FORMAT);
	assert_int_equal(parse_line("ssh-ed25519 " K "="), ERR_FORMAT);
	assert_int_equal(parse_line("ssh-ed25519"), ERR_FORMAT);
	assert_int_equal(parse_line("ssh-ed25519 "), ERR_FORMAT);
	assert_int_equal(parse_line(""), ERR_FORMAT);
	assert_int_equal(parse_line("no-pty ssh-ed25519 " K), ERR_FORMAT);
	/* 31-byte key. */
	assert_int_equal(parse_line("ssh-ed25519 "
	    "AAAAC3NzaC1lZDI1NTE5AAAAHwECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="),
	    ERR_FORMAT);
	/* A well-formed key of another type. */
	assert_int_equal(parse_line("ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAAQE="),
	    ERR_UNSUPPORTED);
#undef K
}

/* Certificates. */

static const char *const root_only[] = { "root" };

static void
request(struct sshcert_request *req, const struct sshkey_pub *subject,
    uint64_t now)
{
	memset(req, 0, sizeof(*req));
	req->subject = subject;
	req->serial = 42;
	req->key_id = "alice/42";
	req->principals = root_only;
	req->nprincipals = 1;
	req->valid_after = now - 30;
	req->valid_before = now + SSHCERT_DEFAULT_VALIDITY;
	req->source_address = "127.0.0.1/32";
	req->permit_pty = 1;
}

static void
test_cert_roundtrip(void **state)
{
	struct sshkey *ca = NULL, *other = NULL, *user = NULL;
	struct sshkey_pub ca_pub, other_pub, user_pub;
	struct sshcert_request req;
	struct sshcert *c = NULL;
	char *line = NULL;
	const uint8_t *v;
	size_t vlen;
	struct sshwire_r r;

	(void)state;
	assert_int_equal(sshkey_generate_secret("ca", &ca), ERR_OK);
	assert_int_equal(sshkey_generate_secret("other", &other), ERR_OK);
	assert_int_equal(sshkey_generate_secret(NULL, &user), ERR_OK);
	sshkey_public(ca, &ca_pub);
	sshkey_public(other, &other_pub);
	sshkey_public(user, &user_pub);
	request(&req, &user_pub, 1700000000);

	assert_int_equal(sshcert_issue(ca, &req, &line), ERR_OK);
	assert_int_equal(strncmp(line, SSHCERT_TYPE_NAME " ",
	    strlen(SSHCERT_TYPE_NAME) + 1), 0);
	assert_string_equal(line + strlen(line) - strlen(" alice/42\n"),
	    " alice/42\n");
	assert_int_equal(sshcert_parse(line, strlen(line), &c), ERR_OK);
	assert_memory_equal(c->key.pk, user_pub.pk, sizeof(user_pub.pk));
	assert_memory_equal(c->ca.pk, ca_pub.pk, sizeof(ca_pub.pk));
	assert_int_equal(c->nonce_len, 32);
	assert_true(c->serial == 42);
	assert_int_equal(c->type, SSHCERT_TYPE_USER);
	assert_string_equal(c->key_id, "alice/42");
	assert_string_equal(c->comment, "alice/42");
	assert_int_equal(c->nprincipals, 1);
	assert_string_equal(c->principals[0], "root");
	assert_true(c->valid_after == 1700000000 - 30);
	assert_true(c->valid_before == 1700000000 + 60);
	assert_int_equal(c->ncritical, 1);
	assert_string_equal(c->critical[0].name, "source-address");
	r.p = c->critical[0].data;
	r.len = c->critical[0].data_len;
	assert_int_equal(sshwire_get_string(&r, &v, &vlen), ERR_OK);
	assert_int_equal(r.len, 0);
	assert_int_equal(vlen, strlen("127.0.0.1/32"));
	assert_memory_equal(v, "127.0.0.1/32", vlen);
	assert_int_equal(c->nextensions, 1);
	assert_string_equal(c->extensions[0].name, "permit-pty");
	assert_int_equal(c->extensions[0].data_len, 0);

	assert_int_equal(sshcert_verify(c, &ca_pub), ERR_OK);
	assert_int_equal(sshcert_verify(c, &other_pub), ERR_SIGNATURE);
	/* Any change to the signed part breaks the signature. */
	c->blob[c->signed_len - 1] ^= 1;
	assert_int_equal(sshcert_verify(c, &ca_pub), ERR_SIGNATURE);
	sshcert_free(c);
	c = NULL;
	free(line);
	line = NULL;

	/* No source address, no pty: no options, no extensions at all. */
	req.source_address = NULL;
	req.permit_pty = 0;
	assert_int_equal(sshcert_issue(ca, &req, &line), ERR_OK);
	assert_int_equal(sshcert_parse(line, strlen(line), &c), ERR_OK);
	assert_int_equal(c->ncritical, 0);
	assert_int_equal(c->nextensions, 0);
	assert_int_equal(sshcert_verify(c, &ca_pub), ERR_OK);
	sshcert_free(c);
	free(line);

	sshkey_free(user);
	sshkey_free(other);
	sshkey_free(ca);
}

static int
issue(const struct sshkey *ca, const struct sshcert_request *req)
{
	char *line = NULL;
	int r = sshcert_issue(ca, req, &line);

	if (r != ERR_OK)
		assert_null(line);
	free(line);
	return r;
}

static void
test_cert_refusals(void **state)
{
	static const char *const two[] = { "root", "admin" };
	static const char *const comma[] = { "root,admin" };
	static const char *const space[] = { "ro ot" };
	static const char *const empty[] = { "" };
	struct sshkey *ca = NULL;
	struct sshkey_pub pub;
	struct sshcert_request req;

	(void)state;
	assert_int_equal(sshkey_generate_secret("ca", &ca), ERR_OK);
	sshkey_public(ca, &pub);

	request(&req, &pub, 1700000000);
	assert_int_equal(issue(ca, &req), ERR_OK);
	req.valid_before = req.valid_after + SSHCERT_MAX_VALIDITY;
	assert_int_equal(issue(ca, &req), ERR_OK);
	req.valid_before++;
	assert_int_equal(issue(ca, &req), ERR_INVAL);
	req.valid_before = req.valid_after;
	assert_int_equal(issue(ca, &req), ERR_INVAL);
	req.valid_before = req.valid_after - 1;
	assert_int_equal(issue(ca, &req), ERR_INVAL);
	req.valid_after = 0;
	req.valid_before = UINT64_MAX;
	assert_int_equal(issue(ca, &req), ERR_INVAL);

	request(&req, &pub, 1700000000);
	req.nprincipals = 0;
	assert_int_equal(issue(ca, &req), ERR_INVAL);
	req.principals = two;
	req.nprincipals = 2;
	assert_int_equal(issue(ca, &req), ERR_OK);
	req.nprincipals = 1;
	req.principals = comma;
	assert_int_equal(issue(ca, &req), ERR_INVAL);
	req.principals = space;
	assert_int_equal(issue(ca, &req), ERR_INVAL);
	req.principals = empty;
	assert_int_equal(issue(ca, &req), ERR_INVAL);

	request(&req, &pub, 1700000000);
	req.key_id = "";
	assert_int_equal(issue(ca, &req), ERR_INVAL);
	req.key_id = "alice\n42";
	assert_int_equal(issue(ca, &req), ERR_INVAL);
	req.key_id = NULL;
	assert_int_equal(issue(ca, &req), ERR_INVAL);

	request(&req, &pub, 1700000000);
	req.source_address = "";
	assert_int_equal(issue(ca, &req), ERR_INVAL);
	req.source_address = "127.0.0.1/32 ";
	assert_int_equal(issue(ca, &req), ERR_INVAL);
	req.source_address = "127.0.0.1,,10.0.0.1";
	assert_int_equal(issue(ca, &req), ERR_INVAL);
	req.source_address = "127.0.0.1/32,::1/128";
	assert_int_equal(issue(ca, &req), ERR_OK);

	sshkey_free(ca);
}

static void
local_time(uint64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	assert_non_null(localtime_r(&tt, &tm));
	assert_true(strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm) > 0);
}

/* ssh-keygen -L shows exactly what the issue asks for, line by line. */
static void
test_cert_ssh_keygen_L(void **state)
{
	struct sshkey *ca = NULL, *user = NULL;
	struct sshkey_pub ca_pub, user_pub;
	struct sshcert_request req;
	char certpath[256], out[4096], want[4096], from[64], to[64];
	char fp_user[SSHKEY_FP_MAX], fp_ca[SSHKEY_FP_MAX];
	char *line = NULL;
	uint64_t now = (uint64_t)time(NULL);

	(void)state;
	assert_int_equal(sshkey_generate_secret("ca", &ca), ERR_OK);
	assert_int_equal(sshkey_generate_secret(NULL, &user), ERR_OK);
	sshkey_public(ca, &ca_pub);
	sshkey_public(user, &user_pub);
	request(&req, &user_pub, now);
	assert_int_equal(sshcert_issue(ca, &req, &line), ERR_OK);
	write_text("alice-cert.pub", line, 0644);
	path_of(certpath, sizeof(certpath), "alice-cert.pub");

	sshkey_fingerprint(&user_pub, fp_user);
	sshkey_fingerprint(&ca_pub, fp_ca);
	local_time(req.valid_after, from, sizeof(from));
	local_time(req.valid_before, to, sizeof(to));
	snprintf(want, sizeof(want),
	    "%s:\n"
	    "        Type: ssh-ed25519-cert-v01@openssh.com user certificate\n"
	    "        Public key: ED25519-CERT %s\n"
	    "        Signing CA: ED25519 %s (using ssh-ed25519)\n"
	    "        Key ID: \"alice/42\"\n"
	    "        Serial: 42\n"
	    "        Valid: from %s to %s\n"
	    "        Principals: \n"
	    "                root\n"
	    "        Critical Options: \n"
	    "                source-address 127.0.0.1/32\n"
	    "        Extensions: \n"
	    "                permit-pty\n",
	    certpath, fp_user, fp_ca, from, to);
	{
		char *const argv[] = { SSH_KEYGEN, "-L", "-f", certpath, NULL };

		assert_int_equal(run(argv, out, sizeof(out)), 0);
		assert_string_equal(out, want);
	}
	free(line);
	line = NULL;

	/* Without pty and source address: "(none)" for both. */
	req.permit_pty = 0;
	req.source_address = NULL;
	assert_int_equal(sshcert_issue(ca, &req, &line), ERR_OK);
	write_text("bare-cert.pub", line, 0644);
	path_of(certpath, sizeof(certpath), "bare-cert.pub");
	{
		char *const argv[] = { SSH_KEYGEN, "-L", "-f", certpath, NULL };

		assert_int_equal(run(argv, out, sizeof(out)), 0);
		assert_non_null(strstr(out, "        Critical Options: (none)\n"
		    "        Extensions: (none)\n"));
	}
	free(line);
	sshkey_free(user);
	sshkey_free(ca);
}

/* We parse and verify a certificate ssh-keygen -s made. */
static void
test_cert_from_ssh_keygen(void **state)
{
	char capath[256], userpath[256], certpath[256], out[256];
	struct sshkey *ca = NULL;
	struct sshkey_pub ca_pub;
	struct sshcert *c = NULL;
	char *text = NULL;
	size_t len = 0;

	(void)state;
	path_of(capath, sizeof(capath), "kg-ca");
	path_of(userpath, sizeof(userpath), "kg-user");
	path_of(certpath, sizeof(certpath), "kg-user-cert.pub");
	assert_int_equal(sshkey_generate_secret("ca", &ca), ERR_OK);
	assert_int_equal(sshkey_save_secret(ca, capath), ERR_OK);
	sshkey_public(ca, &ca_pub);
	{
		char *const argv[] = { SSH_KEYGEN, "-q", "-t", "ed25519",
		    "-N", "", "-f", userpath, NULL };

		assert_int_equal(run(argv, out, sizeof(out)), 0);
	}
	{
		char *const argv[] = { SSH_KEYGEN, "-q", "-s", capath,
		    "-I", "kg/7", "-n", "root,admin", "-z", "7",
		    "-V", "+5m", "-O", "clear", "-O", "permit-pty",
		    "-O", "source-address=10.0.0.1/32", "-O", "force-command=/bin/true",
		    "kg-user.pub", NULL };

		assert_int_equal(chdir(dir), 0);
		assert_int_equal(run(argv, out, sizeof(out)), 0);
	}
	assert_int_equal(fs_read_file(certpath, SSHCERT_LINE_MAX, &text, &len),
	    ERR_OK);
	assert_int_equal(sshcert_parse(text, len, &c), ERR_OK);
	assert_int_equal(sshcert_verify(c, &ca_pub), ERR_OK);
	assert_string_equal(c->key_id, "kg/7");
	assert_true(c->serial == 7);
	assert_int_equal(c->nprincipals, 2);
	assert_string_equal(c->principals[1], "admin");
	assert_int_equal(c->ncritical, 2);
	assert_string_equal(c->critical[0].name, "force-command");
	assert_string_equal(c->critical[1].name, "source-address");
	assert_int_equal(c->nextensions, 1);
	sshcert_free(c);
	free(text);
	sshkey_free(ca);
}

/* User key lines of any accepted type: fingerprint as ssh-keygen -l. */
static void
test_key_line_any(void **state)
{
	char type[SSHKEY_TYPE_MAX], fp[SSHKEY_FP_MAX], cmd[512], want[128];
	char path[] = "/tmp/bwt-keyline-XXXXXX", line[1024];
	const char *types[] = { "ed25519", "ecdsa", "rsa" };
	size_t canon, i;
	FILE *f;

	(void)state;
	for (i = 0; i < 3; i++) {
		assert_non_null(mkdtemp(path));
		snprintf(cmd, sizeof(cmd), "ssh-keygen -q -t %s -N '' -C 'c m' "
		    "-f %s/k && ssh-keygen -l -f %s/k.pub | cut -d' ' -f2 > "
		    "%s/fp", types[i], path, path, path);
		assert_int_equal(system(cmd), 0);
		snprintf(cmd, sizeof(cmd), "%s/k.pub", path);
		assert_non_null(f = fopen(cmd, "r"));
		assert_non_null(fgets(line, sizeof(line), f));
		fclose(f);
		snprintf(cmd, sizeof(cmd), "%s/fp", path);
		assert_non_null(f = fopen(cmd, "r"));
		assert_non_null(fgets(want, sizeof(want), f));
		fclose(f);
		want[strcspn(want, "\n")] = '\0';
		assert_int_equal(sshkey_line_any(line, strlen(line), type, fp,
		    &canon), ERR_OK);
		assert_string_equal(fp, want);
		assert_int_equal(sshkey_type_is_sk(type), 0);
		assert_int_equal(line[canon], ' ');	/* before the comment */
		snprintf(cmd, sizeof(cmd), "rm -rf %s", path);
		assert_int_equal(system(cmd), 0);
		memcpy(path + strlen(path) - 6, "XXXXXX", 6);
	}
	/* The type named outside must be the one inside the blob. */
	{
		const char *l = "ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIBre8h5LZ7m1"
		    "tRkAQtJtlLnNKuRY9rGhtNMZ0sI0jP2a";

		assert_int_equal(sshkey_line_any(l, strlen(l), type, fp,
		    &canon), ERR_FORMAT);
	}
	assert_int_equal(sshkey_line_any("ssh-dss AAAA", 12, type, fp, &canon),
	    ERR_UNSUPPORTED);
	assert_int_equal(sshkey_line_any("ssh-ed25519", 11, type, fp, &canon),
	    ERR_FORMAT);
	assert_int_equal(sshkey_line_any("ssh-ed25519 !!!!", 16, type, fp,
	    &canon), ERR_FORMAT);
	assert_int_equal(sshkey_line_any("restrict ssh-ed25519 AAAA", 25, type,
	    fp, &canon), ERR_UNSUPPORTED);
	assert_int_equal(sshkey_type_is_sk("sk-ssh-ed25519@openssh.com"), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_roundtrip),
		cmocka_unit_test(test_key_ssh_keygen),
		cmocka_unit_test(test_key_save_faults),
		cmocka_unit_test(test_key_from_ssh_keygen),
		cmocka_unit_test(test_pub_parse_strict),
		cmocka_unit_test(test_cert_roundtrip),
		cmocka_unit_test(test_cert_refusals),
		cmocka_unit_test(test_cert_ssh_keygen_L),
		cmocka_unit_test(test_cert_from_ssh_keygen),
		cmocka_unit_test(test_key_line_any),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
