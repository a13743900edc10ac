/*
 * menu.c - a login without a target: list the targets bulwarkd grants
 * this user and, on a terminal, open an interactive session to the one
 * picked.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/encoding.h"
#include "common/wire.h"
#include "gateway/proto.h"
#include "shell/shell.h"
#include "common/banned.h"

#define MENU_MAX	1000	/* targets listed */
#define ANSWER_MAX	32	/* bytes of the typed answer */
#define TRIES		3

/* One line of TARGETS: "LOGIN@TARGET\tGROUP\tSENS". Views into TEXT. */
struct menu_item {
	const char *name, *group, *sens;
	int name_len, group_len, sens_len;
};

struct menu {
	char *text;		/* the TEXT field, owned */
	struct menu_item *items;
	size_t n;
};

static void
menu_free(struct menu *m)
{
	free(m->text);
	free(m->items);
	memset(m, 0, sizeof(*m));
}

/* Splits one line into its three tab-separated fields. */
static int
item_parse(char *line, struct menu_item *it)
{
	char *t1 = strchr(line, '\t'), *t2;

	if (t1 == NULL || (t2 = strchr(t1 + 1, '\t')) == NULL)
		return ERR_FORMAT;
	*t1 = *t2 = '\0';
	it->name = line;
	it->group = t1 + 1;
	it->sens = t2 + 1;
	it->name_len = (int)strlen(it->name);
	it->group_len = (int)strlen(it->group);
	it->sens_len = (int)strlen(it->sens);
	/* Only names a session could be opened with are listed. */
	return it->name_len <= SHELLCMD_LOGIN_MAX + 1 + SHELLCMD_TARGET_MAX ?
	    ERR_OK : ERR_FORMAT;
}

static int
menu_parse(struct menu *m)
{
	char *line = m->text, *nl;
	size_t cap = 0;

	for (nl = m->text; *nl != '\0'; nl++)
		cap += *nl == '\n';
	if ((m->items = calloc(cap + 1, sizeof(*m->items))) == NULL)
		return ERR_NOMEM;
	while (*line != '\0' && m->n < MENU_MAX) {
		if ((nl = strchr(line, '\n')) == NULL)
			break;
		*nl = '\0';
		if (item_parse(line, &m->items[m->n]) == ERR_OK)
			m->n++;
		line = nl + 1;
	}
	return ERR_OK;
}

static int
menu_fetch(struct shell *sh, struct menu *m)
{
	struct wire_builder *b = NULL;
	struct rpc_response *resp = NULL;
	int r;

	if ((r = wire_builder_new(PROTO_TARGETS, &b)) != ERR_OK)
		goto out;
	if ((r = rpc_client_call(sh->rpc, b, &resp)) != ERR_OK) {
		shell_rpc_failed(sh, r);
		goto out;
	}
	if ((r = wire_get_strdup(&resp->msg, P_TEXT, &m->text)) != ERR_OK) {
		shell_rpc_failed(sh, ERR_FORMAT);
		goto out;
	}
	r = menu_parse(m);
 out:
	rpc_response_free(resp);
	wire_builder_free(b);
	return r;
}

/* Terminal-safe: what bulwarkd stored is printed, never interpreted. */
static void
put_safe(const char *s, int len)
{
	int i;

	for (i = 0; i < len; i++)
		putchar(s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?');
}

static void
menu_print(const struct menu *m)
{
	int width = 0;
	size_t i;

	for (i = 0; i < m->n; i++)
		width = m->items[i].name_len > width ? m->items[i].name_len :
		    width;
	for (i = 0; i < m->n; i++) {
		const struct menu_item *it = &m->items[i];

		printf("  %zu  ", i + 1);
		put_safe(it->name, it->name_len);
		printf("%*s   (group ", width - it->name_len, "");
		put_safe(it->group, it->group_len);
		printf(", sensitivity ");
		put_safe(it->sens, it->sens_len);
		printf(")\n");
	}
	fflush(stdout);
}

static void
usage(void)
{
	printf("usage: ssh -t YOU@gateway LOGIN@TARGET            "
	    "a shell on TARGET\n"
	    "       ssh YOU@gateway LOGIN@TARGET COMMAND        "
	    "one command\n"
	    "scp, sftp, rsync and Ansible: 'bulwark ssh-config' writes "
	    "Host entries\nthat send BULWARK_TARGET=LOGIN@TARGET.\n");
	fflush(stdout);
}

/*
 * Reads the user's choice: 1..n, 0 for quit or end of input, -1 for an
 * answer that is neither.
 */
static long
menu_ask(size_t n)
{
	char answer[ANSWER_MAX];
	uint64_t v;
	size_t len;

	fputs("Target number (or q): ", stdout);
	fflush(stdout);
	if (fgets(answer, sizeof(answer), stdin) == NULL)
		return 0;
	len = strcspn(answer, "\r\n");
	if (len == 1 && (answer[0] == 'q' || answer[0] == 'Q'))
		return 0;
	if (len == 0 || enc_u64_parse(answer, len, &v) != ERR_OK || v == 0 ||
	    v > n)
		return -1;
	return (long)v;
}

/* Makes sh->cmd an interactive session to item it. */
static int
menu_choose(struct shell *sh, const struct menu_item *it)
{
	if (shellcmd_split_target(it->name, (size_t)it->name_len,
	    sh->cmd.login, sh->cmd.target) != ERR_OK) {
		shell_msg("the gateway listed an invalid target name; ask an "
		    "administrator to check it");
		return ERR_FORMAT;
	}
	sh->cmd.kind = SHELLCMD_INTERACTIVE;
	sh->cmd.want_pty = sh->stdin_tty;
	return ERR_OK;
}

static int
menu_pick(struct shell *sh, const struct menu *m, int *exit_status)
{
	long choice = -1;
	int i;

	for (i = 0; i < TRIES && choice < 0; i++) {
		if ((choice = menu_ask(m->n)) < 0)
			printf("Please type a number from 1 to %zu, or q.\n",
			    m->n);
	}
	*exit_status = 0;
	if (choice <= 0)
		return ERR_OK;
	if (menu_choose(sh, &m->items[choice - 1]) != ERR_OK) {
		*exit_status = SHELL_EXIT_FAIL;
		return ERR_FORMAT;
	}
	return ERR_OK;
}

int
menu_run(struct shell *sh, int *exit_status)
{
	struct menu m;
	int r;

	memset(&m, 0, sizeof(m));
	*exit_status = SHELL_EXIT_FAIL;
	if ((r = menu_fetch(sh, &m)) != ERR_OK)
		goto out;
	if (m.n == 0) {
		shell_msg("you have no targets yet; ask an administrator for "
		    "a grant");
		*exit_status = 0;
		goto out;
	}
	printf("Your targets:\n");
	menu_print(&m);
	if (!sh->stdin_tty) {
		usage();
		*exit_status = 0;
		goto out;
	}
	r = menu_pick(sh, &m, exit_status);
 out:
	menu_free(&m);
	return r;
}
