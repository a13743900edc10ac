/*
 * test_shellcmd.c - how bulwark-shell reads sshd's "-c" command and
 * BULWARK_TARGET, and the host key message scanner.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gateway/proto.h"
#include "gateway/shellcmd.h"
#include "common/banned.h"

/* Parses and checks the outcome; command NULL means "no command". */
static void
expect(const char *cmd, const char *env, int tty, enum shellcmd_kind kind,
    const char *login, const char *target, const char *command,
    const char *subsystem, int pty)
{
	struct shellcmd sc;
	char why[SHELLCMD_WHY_MAX];

	assert_int_equal(shellcmd_parse(cmd, env, tty, &sc, why), ERR_OK);
	assert_int_equal(sc.kind, kind);
	assert_string_equal(sc.login, login);
	assert_string_equal(sc.target, target);
	if (command == NULL)
		assert_null(sc.command);
	else
		assert_string_equal(sc.command, command);
	if (subsystem == NULL)
		assert_null(sc.subsystem);
	else
		assert_string_equal(sc.subsystem, subsystem);
	assert_int_equal(sc.want_pty, pty);
	shellcmd_release(&sc);
}

static void
refused(const char *cmd, const char *env, int want, const char *in_why)
{
	struct shellcmd sc;
	char why[SHELLCMD_WHY_MAX];

	assert_int_equal(shellcmd_parse(cmd, env, 1, &sc, why), want);
	assert_int_equal(sc.kind, SHELLCMD_MENU);
	assert_null(sc.command);
	assert_string_equal(sc.login, "");
	assert_true(strncmp(why, "bulwark: ", 9) == 0);
	if (in_why != NULL && strstr(why, in_why) == NULL)
		fail_msg("\"%s\" not in \"%s\"", in_why, why);
}

static void
test_word_target(void **state)
{
	(void)state;
	expect("root@web1", NULL, 1, SHELLCMD_INTERACTIVE, "root", "web1",
	    NULL, NULL, 1);
	expect("root@web1", NULL, 0, SHELLCMD_INTERACTIVE, "root", "web1",
	    NULL, NULL, 0);
	expect("  root@web1 \t ", NULL, 1, SHELLCMD_INTERACTIVE, "root",
	    "web1", NULL, NULL, 1);
	/* A command on a terminal (ssh -t) gets one, as with plain ssh. */
	expect("root@web1 top", NULL, 1, SHELLCMD_EXEC, "root", "web1",
	    "top", NULL, 1);
	expect("root@web1 uptime", NULL, 0, SHELLCMD_EXEC, "root", "web1",
	    "uptime", NULL, 0);
	expect("deploy@db-2.example.org  ls -l  /var ", NULL, 0,
	    SHELLCMD_EXEC, "deploy", "db-2.example.org", "ls -l  /var ",
	    NULL, 0);
	expect("_svc.x-1@A\tsystemctl status", NULL, 0, SHELLCMD_EXEC,
	    "_svc.x-1", "A", "systemctl status", NULL, 0);
	/* Without BULWARK_TARGET the rest is always an exec command. */
	expect("root@web1 scp -t /tmp", NULL, 0, SHELLCMD_EXEC, "root",
	    "web1", "scp -t /tmp", NULL, 0);
}

static void
test_env_target(void **state)
{
	(void)state;
	expect(NULL, "root@web1", 1, SHELLCMD_INTERACTIVE, "root", "web1",
	    NULL, NULL, 1);
	expect("   ", "root@web1", 0, SHELLCMD_INTERACTIVE, "root", "web1",
	    NULL, NULL, 0);
	expect("/usr/lib/openssh/sftp-server", "root@web1", 0,
	    SHELLCMD_SFTP, "root", "web1", "/usr/lib/openssh/sftp-server",
	    "sftp", 0);
	expect("/usr/libexec/sftp-server", "root@web1", 0, SHELLCMD_SFTP,
	    "root", "web1", "/usr/libexec/sftp-server", "sftp", 0);
	expect("internal-sftp", "root@web1", 1, SHELLCMD_SFTP, "root",
	    "web1", "internal-sftp", "sftp", 0);
	expect("vi /etc/hosts", "root@web1", 1, SHELLCMD_EXEC, "root",
	    "web1", "vi /etc/hosts", NULL, 1);
	expect("scp -t /tmp/x", "root@web1", 0, SHELLCMD_SCP, "root", "web1",
	    "scp -t /tmp/x", NULL, 0);
	expect("scp -f 'a b'", "root@web1", 0, SHELLCMD_SCP, "root", "web1",
	    "scp -f 'a b'", NULL, 0);
	expect("rsync --server -vlogDtpre.iLsfxC . /srv", "root@web1", 0,
	    SHELLCMD_RSYNC, "root", "web1",
	    "rsync --server -vlogDtpre.iLsfxC . /srv", NULL, 0);
	/* The whole command runs: no LOGIN@TARGET word is taken off. */
	expect("bob@web2 uptime", "root@web1", 0, SHELLCMD_EXEC, "root",
	    "web1", "bob@web2 uptime", NULL, 0);
	/* Near misses are exec sessions. */
	expect("scpx -t /", "root@web1", 0, SHELLCMD_EXEC, "root", "web1",
	    "scpx -t /", NULL, 0);
	expect("rsync --serverx", "root@web1", 0, SHELLCMD_EXEC, "root",
	    "web1", "rsync --serverx", NULL, 0);
	expect("rsync --version", "root@web1", 0, SHELLCMD_EXEC, "root",
	    "web1", "rsync --version", NULL, 0);
	expect("sftp-server", "root@web1", 0, SHELLCMD_EXEC, "root", "web1",
	    "sftp-server", NULL, 0);
	expect("echo /sftp-server", "root@web1", 0, SHELLCMD_EXEC, "root",
	    "web1", "echo /sftp-server", NULL, 0);
}

static void
test_menu(void **state)
{
	(void)state;
	expect(NULL, NULL, 1, SHELLCMD_MENU, "", "", NULL, NULL, 1);
	expect(NULL, NULL, 0, SHELLCMD_MENU, "", "", NULL, NULL, 0);
	expect("", NULL, 0, SHELLCMD_MENU, "", "", NULL, NULL, 0);
	expect(" \t\n", NULL, 1, SHELLCMD_MENU, "", "", NULL, NULL, 1);
}

static void
test_names(void **state)
{
	char login[SHELLCMD_LOGIN_MAX + 1], target[SHELLCMD_TARGET_MAX + 1];
	char long_login[40], long_target[300];

	(void)state;
	refused("x y", NULL, ERR_FORMAT, "\"x\" is not LOGIN@TARGET; try: "
	    "ssh -t");
	refused("web1", NULL, ERR_FORMAT, "\"web1\"");
	refused("@web1", NULL, ERR_FORMAT, NULL);
	refused("root@", NULL, ERR_FORMAT, NULL);
	refused("Root@web1", NULL, ERR_FORMAT, NULL);
	refused("1root@web1", NULL, ERR_FORMAT, NULL);
	refused("-oProxyCommand=x@web1", NULL, ERR_FORMAT, NULL);
	refused("root@-oProxyCommand=x", NULL, ERR_FORMAT, NULL);
	refused("root@web1@x", NULL, ERR_FORMAT, NULL);
	refused("root@.web1", NULL, ERR_FORMAT, NULL);
	refused("root@web/1", NULL, ERR_FORMAT, NULL);
	refused("ro;ot@web1", NULL, ERR_FORMAT, NULL);
	refused("uptime", "root", ERR_FORMAT, "BULWARK_TARGET \"root\"");
	refused(NULL, "root@web1 x", ERR_FORMAT, NULL);
	/* What the user typed is quoted, but not as terminal controls. */
	refused("\x1b[2Jx", NULL, ERR_FORMAT, "\"?[2Jx\"");

	memset(long_login, 'a', 32);
	memcpy(long_login + 32, "@t", 3);
	assert_int_equal(shellcmd_split_target(long_login, 34, login, target),
	    ERR_OK);
	assert_int_equal(strlen(login), 32);
	memset(long_login, 'a', 33);
	memcpy(long_login + 33, "@t", 3);
	assert_int_equal(shellcmd_split_target(long_login, 35, login, target),
	    ERR_FORMAT);
	assert_string_equal(login, "");

	memcpy(long_target, "r@", 2);
	memset(long_target + 2, 'h', 255);
	assert_int_equal(shellcmd_split_target(long_target, 257, login,
	    target), ERR_OK);
	assert_int_equal(strlen(target), 255);
	long_target[257] = 'h';
	assert_int_equal(shellcmd_split_target(long_target, 258, login,
	    target), ERR_FORMAT);
}

static void
test_command_limits(void **state)
{
	char *big = malloc(PROTO_COMMAND_MAX + 16);

	(void)state;
	assert_non_null(big);
	memcpy(big, "root@web1 ", 10);
	memset(big + 10, 'x', PROTO_COMMAND_MAX);
	big[10 + PROTO_COMMAND_MAX] = '\0';
	expect(big, NULL, 0, SHELLCMD_EXEC, "root", "web1", big + 10, NULL,
	    0);
	big[10 + PROTO_COMMAND_MAX] = 'x';
	big[11 + PROTO_COMMAND_MAX] = '\0';
	refused(big, NULL, ERR_TOOBIG, "at most");
	refused(big + 10, "root@web1", ERR_TOOBIG, NULL);
	free(big);
	refused("root@web1 echo \xff", NULL, ERR_FORMAT, "UTF-8");
	refused("echo \xc3", "root@web1", ERR_FORMAT, "UTF-8");
	expect("root@web1 echo h\xc3\xa9", NULL, 0, SHELLCMD_EXEC, "root",
	    "web1", "echo h\xc3\xa9", NULL, 0);
}

static void
test_kind_names(void **state)
{
	(void)state;
	assert_string_equal(shellcmd_kind_name(SHELLCMD_INTERACTIVE),
	    "interactive");
	assert_string_equal(shellcmd_kind_name(SHELLCMD_EXEC), "exec");
	assert_string_equal(shellcmd_kind_name(SHELLCMD_SFTP), "sftp");
	assert_string_equal(shellcmd_kind_name(SHELLCMD_SCP), "scp");
	assert_string_equal(shellcmd_kind_name(SHELLCMD_RSYNC), "rsync");
	assert_string_equal(shellcmd_kind_name(SHELLCMD_MENU), "menu");
}

/* Feeds text in pieces of every size; returns what the scanner saw. */
static int
scan_split(const char *text, size_t piece)
{
	struct shellcmd_keyscan ks;
	size_t len = strlen(text), off;

	shellcmd_keyscan_init(&ks);
	for (off = 0; off < len; off += piece)
		shellcmd_keyscan_feed(&ks, text + off,
		    len - off < piece ? len - off : piece);
	return ks.mismatch;
}

static void
test_keyscan(void **state)
{
	static const char *const hits[] = {
		"@@@@@@@@\r\n@    WARNING: REMOTE HOST IDENTIFICATION HAS "
		"CHANGED!     @\r\n@@@@@@@@\r\n",
		"Host key verification failed.\r\n",
		"noise noise noise noise noise noise noise noise noise noise "
		"noise noise\nHost key verification failed.\n",
	};
	size_t i, piece;

	(void)state;
	for (i = 0; i < sizeof(hits) / sizeof(hits[0]); i++) {
		for (piece = 1; piece <= strlen(hits[i]); piece++)
			assert_true(scan_split(hits[i], piece));
	}
	for (piece = 1; piece < 40; piece++) {
		assert_false(scan_split("Permission denied (publickey).\r\n",
		    piece));
		assert_false(scan_split("Host key verification OK\n", piece));
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_word_target),
		cmocka_unit_test(test_env_target),
		cmocka_unit_test(test_menu),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_command_limits),
		cmocka_unit_test(test_kind_names),
		cmocka_unit_test(test_keyscan),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
