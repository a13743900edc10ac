/*
 * sig.c - signals during a session.
 *
 * From sig_setup on, the signals we handle are blocked except while the
 * relay waits in ppoll() with sig_wait_mask(). Blocking them is what
 * keeps the cleanup safe: a SIGHUP while we talk to bulwarkd or write the
 * key waits until ssh runs (or is noticed with sig_terminated() before
 * ssh is started), so no handler ever has to remove files, and the main
 * flow always reaches the code that removes the session's directory.
 *
 * SIGHUP, SIGTERM, SIGINT and SIGQUIT are forwarded to ssh; ssh ends and
 * the relay winds down as usual. SIGPIPE is ignored: a closed pipe is an
 * error from write() that the relay handles.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "shell/shell.h"
#include "common/banned.h"

static const int term_sigs[] = { SIGHUP, SIGTERM, SIGINT, SIGQUIT };
#define NTERM (sizeof(term_sigs) / sizeof(term_sigs[0]))

static volatile sig_atomic_t child_pid;
static volatile sig_atomic_t got_term;
static volatile sig_atomic_t got_winch;
static sigset_t wait_mask;

static void
on_term(int sig)
{
	int saved = errno;

	got_term = sig;
	if (child_pid > 0)
		kill((pid_t)child_pid, sig);
	errno = saved;
}

static void
on_winch(int sig)
{
	(void)sig;
	got_winch = 1;
}

/* SIGCHLD only has to wake ppoll(); the relay reaps. */
static void
on_chld(int sig)
{
	(void)sig;
}

static void
handle(int sig, void (*fn)(int))
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fn;
	sigfillset(&sa.sa_mask);
	/* No SA_RESTART: ppoll() must return to look at the flags. */
	(void)sigaction(sig, &sa, NULL);
}

void
sig_setup(void)
{
	sigset_t block;
	size_t i;

	sigemptyset(&block);
	for (i = 0; i < NTERM; i++)
		sigaddset(&block, term_sigs[i]);
	sigaddset(&block, SIGWINCH);
	sigaddset(&block, SIGCHLD);
	(void)sigprocmask(SIG_BLOCK, &block, &wait_mask);
	for (i = 0; i < NTERM; i++) {
		sigdelset(&wait_mask, term_sigs[i]);
		handle(term_sigs[i], on_term);
	}
	sigdelset(&wait_mask, SIGWINCH);
	sigdelset(&wait_mask, SIGCHLD);
	handle(SIGWINCH, on_winch);
	handle(SIGCHLD, on_chld);
	signal(SIGPIPE, SIG_IGN);
}

void
sig_set_child(pid_t pid)
{
	child_pid = pid;
}

int
sig_terminated(void)
{
	sigset_t pending;
	size_t i;

	if (got_term)
		return got_term;
	if (sigpending(&pending) != 0)
		return 0;
	for (i = 0; i < NTERM; i++) {
		if (sigismember(&pending, term_sigs[i]) == 1)
			return term_sigs[i];
	}
	return 0;
}

int
sig_take_winch(void)
{
	int w = got_winch;

	got_winch = 0;
	return w;
}

const sigset_t *
sig_wait_mask(void)
{
	return &wait_mask;
}

void
sig_child_reset(void)
{
	sigset_t none;
	size_t i;

	for (i = 0; i < NTERM; i++)
		signal(term_sigs[i], SIG_DFL);
	signal(SIGWINCH, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	signal(SIGPIPE, SIG_DFL);
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
}
