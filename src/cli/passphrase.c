/*
 * passphrase.c - reading a passphrase (passphrase.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <sodium.h>

#include "cli/cli.h"
#include "cli/passphrase.h"
#include "common/banned.h"

#define PASS_MAX 1024

/* Reads one line (without its newline) from fd into p. */
static ssize_t
read_line(int fd, char *p, size_t cap)
{
	size_t n = 0;

	while (n + 1 < cap) {
		ssize_t r = read(fd, p + n, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || p[n] == '\n')
			break;
		n++;
	}
	p[n] = '\0';
	return (ssize_t)n;
}

static ssize_t
ask(int tty, const char *prompt, char *p, size_t cap)
{
	struct termios old, quiet;
	ssize_t n;

	if (write(tty, prompt, strlen(prompt)) < 0)
		return -1;
	if (tcgetattr(tty, &old) != 0)
		return -1;
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
	quiet.c_lflag |= ICANON;
	if (tcsetattr(tty, TCSAFLUSH, &quiet) != 0)
		return -1;
	n = read_line(tty, p, cap);
	(void)tcsetattr(tty, TCSAFLUSH, &old);
	if (write(tty, "\n", 1) < 0)
		return -1;
	return n;
}

int
cli_passphrase(const char *file, const char *prompt, int confirm, char **out,
    size_t *len)
{
	char *p = sodium_malloc(PASS_MAX), *q = NULL;
	ssize_t n;
	int fd;

	*out = NULL;
	if (p == NULL) {
		cli_error("out of memory");
		return -1;
	}
	if (file != NULL) {
		if ((fd = open(file, O_RDONLY | O_CLOEXEC)) < 0) {
			cli_error("cannot open the passphrase file %s: %s",
			    file, strerror(errno));
			sodium_free(p);
			return -1;
		}
		n = read_line(fd, p, PASS_MAX);
		close(fd);
	} else {
		if ((fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY)) <
		    0) {
			cli_error("no terminal to ask for the passphrase on; "
			    "give --passphrase-file FILE");
			sodium_free(p);
			return -1;
		}
		n = ask(fd, prompt, p, PASS_MAX);
		if (n >= 0 && confirm) {
			if ((q = sodium_malloc(PASS_MAX)) == NULL ||
			    ask(fd, "Again: ", q, PASS_MAX) != n ||
			    sodium_memcmp(p, q, (size_t)n) != 0) {
				cli_error("the passphrases differ");
				n = -2;
			}
			if (q != NULL)
				sodium_free(q);
		}
		close(fd);
	}
	if (n == -1)
		cli_error("cannot read the passphrase");
	else if (n == 0)
		cli_error("the passphrase is empty");
	if (n <= 0) {
		sodium_free(p);
		return -1;
	}
	*out = p;
	*len = (size_t)n;
	return 0;
}

void
cli_passphrase_free(char *p)
{
	if (p != NULL)
		sodium_free(p);
}
