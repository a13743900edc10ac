/*
 * test_proc.c - process facts from /proc (common/proc.h): the stat parser
 * on names a process chooses itself, and the live /proc of this test.
 */
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/clock.h"
#include "common/proc.h"
#include "common/banned.h"

/* A stat line of the kernel's shape with name, ppid and start. */
#define TAIL " 5 5 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 "

static int
parse(const char *s, struct proc_info *pi)
{
	return proc_stat_parse(s, strlen(s), pi);
}

static void
test_parse(void **state)
{
	struct proc_info pi;

	(void)state;
	assert_int_equal(parse("42 (sshd) S 17" TAIL "98765 0 0\n", &pi),
	    ERR_OK);
	assert_int_equal(pi.ppid, 17);
	assert_int_equal(pi.start, 98765);
	/* A name made to look like more fields: read after the last ')'. */
	assert_int_equal(parse("42 (x) S 1 1 (y) S 99" TAIL "5 0\n", &pi),
	    ERR_OK);
	assert_int_equal(pi.ppid, 99);
	assert_int_equal(pi.start, 5);
	assert_int_equal(parse("42 ( ) ) S 3" TAIL "7", &pi), ERR_OK);
	assert_int_equal(pi.ppid, 3);
	assert_int_equal(pi.start, 7);
	assert_int_equal(parse("1 (init) S 0" TAIL "1 0", &pi), ERR_OK);
	assert_int_equal(pi.ppid, 0);

	/* Refused: no name, short lines, bad numbers, empty fields. */
	assert_int_equal(parse("42 sshd S 17" TAIL "9", &pi), ERR_FORMAT);
	assert_int_equal(parse("42 (sshd S 17" TAIL "9", &pi), ERR_FORMAT);
	assert_int_equal(parse("42 (sshd) S 17 5 5", &pi), ERR_FORMAT);
	assert_int_equal(parse("42 (sshd) S -1" TAIL "9", &pi), ERR_FORMAT);
	assert_int_equal(parse("42 (sshd) S 2147483648" TAIL "9", &pi),
	    ERR_FORMAT);
	assert_int_equal(parse("42 (sshd) S 17" TAIL "18446744073709551616",
	    &pi), ERR_FORMAT);
	assert_int_equal(parse("42 (sshd) S 17" TAIL "9x", &pi), ERR_FORMAT);
	assert_int_equal(parse("42 (sshd)  17" TAIL "9", &pi), ERR_FORMAT);
	assert_int_equal(parse("", &pi), ERR_FORMAT);
	assert_int_equal(proc_stat_parse("42 (a) S 1", 0, &pi), ERR_FORMAT);
}

static void
test_live(void **state)
{
	struct proc_info me, child;
	uint64_t now;
	pid_t pid;
	int status;

	(void)state;
	assert_int_equal(proc_info_get(getpid(), &me), ERR_OK);
	assert_int_equal(me.ppid, getppid());
	now = proc_boot_ticks(clock_boot_ns());
	assert_true(me.start <= now);

	/* A name with spaces and a ')' read back right. */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		(void)prctl(PR_SET_NAME, "a) b (c", 0, 0, 0);
		pause();
		_exit(0);
	}
	usleep(20000);
	assert_int_equal(proc_info_get(pid, &child), ERR_OK);
	assert_int_equal(child.ppid, getpid());
	assert_true(child.start >= me.start);
	assert_true(child.start <= proc_boot_ticks(clock_boot_ns()));
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	/* Reaped: gone. */
	assert_int_equal(proc_info_get(pid, &child), ERR_NOTFOUND);
	assert_int_equal(proc_info_get(0, &child), ERR_INVAL);
}

static void
test_boot_id(void **state)
{
	char a[PROC_BOOT_ID_LEN + 1], b[PROC_BOOT_ID_LEN + 1];

	(void)state;
	assert_int_equal(proc_boot_id(a), ERR_OK);
	assert_int_equal(strlen(a), PROC_BOOT_ID_LEN);
	assert_int_equal(a[8], '-');
	assert_int_equal(proc_boot_id(b), ERR_OK);
	assert_string_equal(a, b);
	/* Ticks round down, as the kernel's start times do. */
	assert_int_equal(proc_boot_ticks(0), 0);
	assert_int_equal(proc_boot_ticks(-1), 0);
	assert_int_equal(proc_boot_ticks(1000000000) *
	    (uint64_t)(1000000000L / sysconf(_SC_CLK_TCK)), 1000000000);
}

/*
 * A child of another uid (nobody), dumpable or not: guarded only when not
 * (its /proc files then belong to root). Returns its pid, ready.
 */
static pid_t
child_as_nobody(int dumpable)
{
	int p[2];
	pid_t pid;
	char b;

	assert_int_equal(pipe(p), 0);
	if ((pid = fork()) == 0) {
		if (setgid(65534) != 0 || setuid(65534) != 0 ||
		    prctl(PR_SET_DUMPABLE, dumpable, 0, 0, 0) != 0 ||
		    write(p[1], "r", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	assert_true(pid > 0);
	assert_int_equal(read(p[0], &b, 1), 1);
	close(p[0]);
	close(p[1]);
	return pid;
}

static void
test_guarded(void **state)
{
	pid_t pid;
	int st;

	(void)state;
	pid = child_as_nobody(1);
	assert_int_equal(proc_guarded(pid), 0);
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	pid = child_as_nobody(0);
	assert_int_equal(proc_guarded(pid), 1);
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	assert_int_equal(proc_guarded(pid), ERR_NOTFOUND);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_live),
		cmocka_unit_test(test_boot_id),
		cmocka_unit_test(test_guarded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
