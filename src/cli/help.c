/*
 * help.c - bulwark help TOPIC: the man pages in docs/man, compiled in and
 * rendered as plain text, so help works where man(1) is not installed.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "man_pages.h"	/* generated from docs/man/ by CMake */
#include "common/banned.h"

/* Writes s with the font escapes dropped and the common ones translated. */
static void
put_text(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '\\' || i + 1 == n) {
			putchar(s[i]);
			continue;
		}
		i++;
		switch (s[i]) {
		case 'f':	/* \fB \fI \fR \fP */
			i++;
			break;
		case '-':
			putchar('-');
			break;
		case 'e':
			putchar('\\');
			break;
		case '(':	/* \(em, \(en and friends */
			if (i + 2 < n && strncmp(s + i + 1, "em", 2) == 0)
				fputs("\xe2\x80\x94", stdout);
			else
				putchar('-');
			i += 2;
			break;
		case '&':
			break;
		default:
			putchar(s[i]);
		}
	}
}

/* A small roff renderer for the handful of man(7) macros the pages use. */
static void
render(const char *page)
{
	const char *p = page;
	int nofill = 0;

	while (*p != '\0') {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);

		if (n >= 3 && strncmp(p, ".SH", 3) == 0) {
			putchar('\n');
			put_text(p + 4 > p + n ? p + n : p + 4,
			    n > 4 ? n - 4 : 0);
			putchar('\n');
		} else if (n >= 3 && strncmp(p, ".SS", 3) == 0) {
			fputs("\n  ", stdout);
			put_text(p + 4, n > 4 ? n - 4 : 0);
			putchar('\n');
		} else if (n >= 3 && (strncmp(p, ".PP", 3) == 0 ||
		    strncmp(p, ".TP", 3) == 0 || strncmp(p, ".LP", 3) == 0)) {
			putchar('\n');
		} else if (n >= 3 && strncmp(p, ".nf", 3) == 0) {
			nofill = 1;
		} else if (n >= 3 && strncmp(p, ".fi", 3) == 0) {
			nofill = 0;
		} else if (n >= 2 && (strncmp(p, ".B", 2) == 0 ||
		    strncmp(p, ".I", 2) == 0) && (n == 2 || p[2] == ' ' ||
		    p[2] == 'R' || p[2] == 'I' || p[2] == 'B')) {
			const char *a = memchr(p, ' ', n);

			fputs("       ", stdout);
			if (a != NULL)
				put_text(a + 1, n - (size_t)(a + 1 - p));
			putchar('\n');
		} else if (n >= 1 && p[0] == '.') {
			/* .TH, .RS, .RE, comments: nothing to show */
		} else {
			fputs(nofill ? "         " : "       ", stdout);
			put_text(p, n);
			putchar('\n');
		}
		p += n;
		if (*p == '\n')
			p++;
	}
}

int
cli_help(const char *topic)
{
	for (size_t i = 0; i < sizeof(man_pages) / sizeof(man_pages[0]); i++) {
		if (strcmp(man_pages[i].topic, topic) == 0) {
			render(man_pages[i].text);
			return 0;
		}
	}
	cli_error("no manual for '%s'; 'bulwark help' lists the commands", topic);
	return 2;
}
