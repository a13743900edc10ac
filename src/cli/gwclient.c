/*
 * gwclient.c - helpers the admin commands share (see gwclient.h).
 */
#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <getopt.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/encoding.h"
#include "common/proc.h"
#include "cli/cli.h"
#include "cli/gwclient.h"
#include "gateway/proto.h"
#include "common/banned.h"

#define GW_CAPTURE_MAX	(1024 * 1024)

/* One LOGIN_LIST line's monitor, if it is user's and still the same. */
static int
login_line_pid(char *line, const char *user, pid_t *pid)
{
	char *f[7];
	uint64_t p, start;
	struct proc_info pi;

	if (gw_split_tabs(line, f, 7) != 6 || strcmp(f[1], user) != 0 ||
	    enc_u64_parse(f[4], strlen(f[4]), &p) != ERR_OK ||
	    enc_u64_parse(f[5], strlen(f[5]), &start) != ERR_OK ||
	    p < 2 || p > INT32_MAX)
		return -1;
	/* A pid alone may be another process by now: its start says. */
	if (proc_info_get((pid_t)p, &pi) != ERR_OK || pi.start != start)
		return -1;
	*pid = (pid_t)p;
	return 0;
}

#define LOGIN_CHILDREN_MAX	64

/*
 * The pids of /proc whose parent is one of parents[0..np) into out (at
 * most max); returns how many.
 */
static size_t
children_of(const pid_t *parents, size_t np, pid_t *out, size_t max)
{
	struct dirent *e;
	size_t n = 0;
	DIR *d = opendir("/proc");

	if (d == NULL)
		return 0;
	while (n < max && (e = readdir(d)) != NULL) {
		struct proc_info pi;
		uint64_t p;

		if (enc_u64_parse(e->d_name, strlen(e->d_name), &p) != ERR_OK ||
		    p < 2 || p > INT32_MAX ||
		    proc_info_get((pid_t)p, &pi) != ERR_OK)
			continue;
		for (size_t i = 0; i < np; i++) {
			if (pi.ppid == parents[i]) {
				out[n++] = (pid_t)p;
				break;
			}
		}
	}
	closedir(d);
	return n;
}

/*
 * Ends one login: first its shells (children of the connection's sshd
 * process, the monitor's child), which end their sessions as when the
 * user leaves, recorded; then the monitor, which closes the connection.
 * sshd alone would leave a session without a terminal running until its
 * command ends.
 */
static int
end_login(pid_t monitor)
{
	pid_t net[LOGIN_CHILDREN_MAX], shells[LOGIN_CHILDREN_MAX];
	size_t nn, ns;

	nn = children_of(&monitor, 1, net, LOGIN_CHILDREN_MAX);
	ns = children_of(net, nn, shells, LOGIN_CHILDREN_MAX);
	for (size_t i = 0; i < ns; i++)
		(void)kill(shells[i], SIGTERM);
	return kill(monitor, SIGTERM);
}

int
gw_end_logins(const char *sock, const char *user)
{
	struct wire_builder *b = NULL;
	struct rpc_response *resp = NULL;
	char *text = NULL, *line, *next;
	int st, n = -1;
	pid_t pid;

	if (wire_builder_new(PROTO_LOGIN_LIST, &b) != ERR_OK) {
		cli_error("out of memory");
		return -1;
	}
	if (gw_call(sock, b, &resp, &st) != 0)
		goto out;
	if (st != ERR_OK) {
		gw_fail(st, "cannot list the live logins of '%s'", user);
		goto out;
	}
	if ((text = gw_resp_str(resp, P_TEXT)) == NULL) {
		cli_error("out of memory");
		goto out;
	}
	n = 0;
	for (line = text; *line != '\0'; line = next) {
		char *nl = strchr(line, '\n');

		next = nl != NULL ? nl + 1 : line + strlen(line);
		if (nl != NULL)
			*nl = '\0';
		if (login_line_pid(line, user, &pid) == 0 &&
		    end_login(pid) == 0)
			n++;
	}
 out:
	free(text);
	rpc_response_free(resp);
	wire_builder_free(b);
	return n;
}

const char *
gw_socket_path(const char *opt)
{
	const char *env;

	if (opt != NULL)
		return opt;
	env = getenv("BULWARK_SOCKET");
	if (env != NULL && *env != '\0')
		return env;
	return PROTO_DEFAULT_SOCKET;
}

int
gw_connect(const char *path, struct rpc_client **out)
{
	int r, saved;

	*out = NULL;
	errno = 0;
	r = rpc_client_connect(path, GW_TIMEOUT_MS, out);
	saved = errno;
	if (r == ERR_OK)
		return ERR_OK;
	if (r == ERR_TOOBIG) {
		cli_error("socket path '%s' is too long (at most 107 bytes); "
		    "pick a shorter --socket", path);
		return r;
	}
	cli_error("cannot reach bulwarkd at %s: %s; is it running? "
	    "(bulwark gateway setup prints how to start it)", path,
	    saved != 0 ? strerror(saved) : err_str(r));
	return r;
}

int
gw_call(const char *sock, const struct wire_builder *req,
    struct rpc_response **resp, int *status)
{
	struct rpc_client *c = NULL;
	int r;

	*resp = NULL;
	*status = ERR_INTERNAL;
	if (gw_connect(sock, &c) != ERR_OK)
		return 1;
	r = rpc_client_call(c, req, resp);
	rpc_client_free(c);
	if (r == ERR_NETWORK) {
		cli_error("bulwarkd at %s closed the connection or did not "
		    "answer in time; check its log (journalctl -u bulwarkd)",
		    sock);
		return 1;
	}
	/*
	 * Everything else is an answer, or a request we could not frame
	 * (ERR_INVAL, ERR_TOOBIG): gw_fail explains either. ERR_FORMAT is
	 * both "bulwarkd refused our fields" and "its answer does not
	 * decode"; either way the two disagree about the protocol.
	 */
	*status = r;
	return 0;
}

int
gw_fail(int status, const char *fmt, ...)
{
	va_list ap;
	const char *why;

	switch (status) {
	case ERR_DENIED:
		why = geteuid() != 0 ?
		    "permission denied; admin commands must run as root "
		    "(sudo bulwark ...)" :
		    "bulwarkd refused it (permission denied)";
		break;
	case ERR_NOTFOUND:
		why = "no such entry";
		break;
	case ERR_EXISTS:
		why = "it already exists";
		break;
	case ERR_INVAL:
		why = "bulwarkd refused a value (check the names, the port "
		    "and the sensitivity 0-3)";
		break;
	case ERR_FORMAT:
		why = "bulwarkd could not read the request or its answer "
		    "could not be read; are bulwark and bulwarkd the same "
		    "version?";
		break;
	case ERR_UNSUPPORTED:
		why = "this bulwarkd does not know the request; upgrade it "
		    "to match this bulwark";
		break;
	case ERR_LOCKED:
		why = "locked; wait and try again, or 'bulwark user mfa "
		    "unlock USER'";
		break;
	case ERR_CONFLICT:
		why = "bulwarkd refused it in the connection's state "
		    "(a bug: report it)";
		break;
	default:
		why = err_str(status);
		break;
	}
	fputs("bulwark: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, ": %s\n", why);
	return 1;
}

int
gw_say(const char *fmt, ...)
{
	va_list ap;

	fputs("bulwark: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

char *
gw_resp_str(const struct rpc_response *resp, uint16_t tag)
{
	char *s = NULL;

	if (resp == NULL || wire_get_strdup(&resp->msg, tag, &s) != ERR_OK)
		return strdup("");
	return s;
}

int
gw_valid_user(const char *s)
{
	size_t i;

	if (s == NULL || !((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
		return 0;
	for (i = 1; s[i] != '\0'; i++) {
		char c = s[i];

		if (i >= 32)
			return 0;
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

static int
is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9');
}

int
gw_valid_name(const char *s)
{
	size_t i;

	if (s == NULL || !(is_alnum(s[0]) || s[0] == '_'))
		return 0;
	for (i = 1; s[i] != '\0'; i++) {
		if (i >= 64)
			return 0;
		if (!(is_alnum(s[i]) || s[i] == '_' || s[i] == '.' ||
		    s[i] == '-'))
			return 0;
	}
	return 1;
}

int
gw_valid_host(const char *s)
{
	size_t i;

	if (s == NULL || s[0] == '\0' || s[0] == '-')
		return 0;
	for (i = 0; s[i] != '\0'; i++) {
		if (i >= 253)
			return 0;
		if (!(is_alnum(s[i]) || s[i] == '.' || s[i] == ':' ||
		    s[i] == '-'))
			return 0;
	}
	return 1;
}

int
gw_valid_path(const char *s)
{
	size_t i;

	if (s == NULL || s[0] != '/' || strstr(s, "..") != NULL)
		return 0;
	for (i = 0; s[i] != '\0'; i++) {
		if (i >= 200)
			return 0;
		if (!(is_alnum(s[i]) || s[i] == '/' || s[i] == '.' ||
		    s[i] == '_' || s[i] == '+' || s[i] == '-'))
			return 0;
	}
	return 1;
}

int
gw_parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
	unsigned long long v;
	char *end;

	*out = 0;
	if (s == NULL || *s < '0' || *s > '9')
		return ERR_FORMAT;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return ERR_FORMAT;
	if (v < min || v > max)
		return ERR_RANGE;
	*out = (uint32_t)v;
	return ERR_OK;
}

/*
 * The child: wires up its descriptors and execs. errpipe is close-on-exec,
 * so the parent reads errno from it only when execv failed.
 */
static void __attribute__((noreturn))
run_child(char *const argv[], int outfd, int errpipe)
{
	int e, nul;

	signal(SIGPIPE, SIG_DFL);
	if (outfd >= 0) {
		if ((nul = open("/dev/null", O_RDONLY)) < 0 ||
		    dup2(nul, STDIN_FILENO) < 0 ||
		    dup2(outfd, STDOUT_FILENO) < 0)
			goto fail;
		close(nul);
		close(outfd);
	}
	execv(argv[0], argv);
 fail:
	e = errno;
	if (write(errpipe, &e, sizeof(e)) < 0) {
		/* nothing more to say */
	}
	_exit(127);
}

int
gw_run(char *const argv[], int timeout_s, char **capture, int *exit_status)
{
	int outp[2] = { -1, -1 }, errp[2] = { -1, -1 };
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int64_t deadline = timeout_s > 0 ? clock_mono_ms() + timeout_s * 1000 : 0;
	int r = ERR_INTERNAL, st = 0, timed_out = 0, exec_errno = 0;
	pid_t pid;
	ssize_t n;

	*exit_status = -1;
	if (capture != NULL)
		*capture = NULL;
	if (pipe2(errp, O_CLOEXEC) != 0 ||
	    (capture != NULL && pipe2(outp, O_CLOEXEC) != 0)) {
		r = ERR_IO;
		goto out;
	}
	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) < 0) {
		r = ERR_IO;
		goto out;
	}
	if (pid == 0)
		run_child(argv, outp[1], errp[1]);
	close(errp[1]);
	errp[1] = -1;
	if (outp[1] >= 0) {
		close(outp[1]);
		outp[1] = -1;
	}
	/* Collect stdout (if asked) until EOF, the deadline, or too much. */
	while (outp[0] >= 0) {
		struct pollfd pfd = { .fd = outp[0], .events = POLLIN };
		int wait_ms = -1;

		if (deadline != 0) {
			int64_t left = deadline - clock_mono_ms();

			if (left <= 0) {
				timed_out = 1;
				break;
			}
			wait_ms = (int)left;
		}
		if (poll(&pfd, 1, wait_ms) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd.revents == 0)
			continue;
		if (cap - len < 4096 + 1) {
			char *p;

			if (cap >= GW_CAPTURE_MAX) {
				timed_out = 0;
				break;	/* too much: stop reading */
			}
			cap = cap ? cap * 2 : 8192;
			if ((p = realloc(buf, cap)) == NULL) {
				r = ERR_NOMEM;
				kill(pid, SIGKILL);
				waitpid(pid, NULL, 0);
				goto out;
			}
			buf = p;
		}
		n = read(outp[0], buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	/* Wait for the child, with the same deadline. */
	for (;;) {
		pid_t w = waitpid(pid, &st, deadline != 0 ? WNOHANG : 0);

		if (w == pid)
			break;
		if (w < 0 && errno != EINTR) {
			r = ERR_IO;
			goto out;
		}
		if (timed_out || (deadline != 0 && clock_mono_ms() >= deadline)) {
			timed_out = 1;
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			break;
		}
		if (deadline != 0) {
			struct timespec ts = { 0, 20 * 1000 * 1000 };

			nanosleep(&ts, NULL);
		}
	}
	if (read(errp[0], &exec_errno, sizeof(exec_errno)) ==
	    (ssize_t)sizeof(exec_errno)) {
		errno = exec_errno;
		r = ERR_NOTFOUND;
		goto out;
	}
	if (timed_out) {
		r = ERR_NETWORK;
		goto out;
	}
	if (WIFEXITED(st))
		*exit_status = WEXITSTATUS(st);
	else if (WIFSIGNALED(st))
		*exit_status = 128 + WTERMSIG(st);
	if (capture != NULL) {
		if (buf == NULL && (buf = malloc(1)) == NULL) {
			r = ERR_NOMEM;
			goto out;
		}
		buf[len] = '\0';
		*capture = buf;
		buf = NULL;
	}
	r = ERR_OK;
 out:
	free(buf);
	if (outp[0] >= 0)
		close(outp[0]);
	if (outp[1] >= 0)
		close(outp[1]);
	if (errp[0] >= 0)
		close(errp[0]);
	if (errp[1] >= 0)
		close(errp[1]);
	return r;
}

size_t
gw_split_tabs(char *line, char **fields, size_t max)
{
	size_t n = 0, len = strlen(line);
	char *p = line;

	if (len > 0 && line[len - 1] == '\n')
		line[len - 1] = '\0';
	while (n < max) {
		char *tab = strchr(p, '\t');

		fields[n++] = p;
		if (tab == NULL)
			break;
		*tab = '\0';
		p = tab + 1;
	}
	return n;
}

/* Display width of a UTF-8 string, counting code points. */
static size_t
width(const char *s)
{
	size_t w = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

#define TABLE_MAX_COLS 16
#define SHORT_CELL 16

void
gw_print_table(const char *text, const char *const *header, size_t ncols,
    int shorten)
{
	size_t widths[TABLE_MAX_COLS] = { 0 };
	char *copy, *line, *next, *f[TABLE_MAX_COLS + 1];
	size_t i, n;

	if (ncols > TABLE_MAX_COLS || (copy = strdup(text)) == NULL)
		return;
	for (i = 0; i < ncols; i++)
		widths[i] = width(header[i]);
	/* First pass: widths. */
	for (line = copy; *line != '\0'; line = next) {
		char *nl = strchr(line, '\n');

		next = nl ? nl + 1 : line + strlen(line);
		if (nl)
			*nl = '\0';
		n = gw_split_tabs(line, f, TABLE_MAX_COLS + 1);
		if (n == ncols)
			for (i = 0; i < n; i++) {
				size_t w = width(f[i]);

				if ((int)i == shorten && w > SHORT_CELL)
					w = SHORT_CELL;
				if (w > widths[i])
					widths[i] = w;
			}
		/* Undo the split so the second pass sees the line again. */
		for (i = 0; i + 1 < n; i++)
			f[i][strlen(f[i])] = '\t';
	}
	for (i = 0; i < ncols; i++)
		printf("%-*s%s", i + 1 < ncols ? (int)widths[i] : 0, header[i],
		    i + 1 < ncols ? "  " : "\n");
	for (line = copy; *line != '\0'; line = next) {
		next = line + strlen(line) + 1;
		if (next > copy + strlen(text))
			next = copy + strlen(text);
		n = gw_split_tabs(line, f, TABLE_MAX_COLS + 1);
		if (n != ncols) {
			for (i = 0; i < n; i++)
				printf("%s%s", f[i], i + 1 < n ? "\t" : "\n");
			continue;
		}
		for (i = 0; i < n; i++) {
			char cell[SHORT_CELL + 4];
			const char *s = f[i];
			size_t pad = widths[i] - (width(s) < widths[i] ?
			    width(s) : widths[i]);

			if ((int)i == shorten && strlen(s) > SHORT_CELL) {
				snprintf(cell, sizeof(cell), "%.*s",
				    SHORT_CELL, s);
				s = cell;
				pad = widths[i] - SHORT_CELL;
			}
			if (i + 1 < n)
				printf("%s%*s  ", s, (int)pad, "");
			else
				printf("%s\n", s);
		}
	}
	free(copy);
}

int
gw_read_first_line(const char *path, size_t max, char **out)
{
	FILE *f;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int r = ERR_NOTFOUND;

	*out = NULL;
	if ((f = fopen(path, "re")) == NULL)
		return ERR_NOTFOUND;
	while ((n = getline(&line, &cap, f)) >= 0) {
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (n == 0 || line[0] == '#')
			continue;
		if ((size_t)n > max) {
			r = ERR_TOOBIG;
			break;
		}
		*out = line;
		line = NULL;
		r = ERR_OK;
		break;
	}
	if (r == ERR_NOTFOUND)
		errno = 0;
	free(line);
	fclose(f);
	return r;
}

int
gw_socket_only(const char **sockopt, int argc, char **argv, int npos,
    const char *usage)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "S:", opts, NULL)) != -1) {
		switch (c) {
		case 'S': *sockopt = optarg; break;
		default:
			cli_error("%s", usage);
			return 2;
		}
	}
	if (argc - optind != npos) {
		cli_error("%s", usage);
		return 2;
	}
	return 0;
}

static void
sub_usage(const char *family, const struct gw_sub *table, size_t n)
{
	char names[256];
	size_t i, len = 0;

	names[0] = '\0';
	for (i = 0; i < n && len < sizeof(names); i++)
		len += (size_t)snprintf(names + len, sizeof(names) - len, "%s%s",
		    i ? "|" : "", table[i].name);
	cli_error("usage: bulwark %s (%s) ...; see 'bulwark help %.*s'",
	    family, names, (int)strcspn(family, " "), family);
}

int
gw_dispatch(const char *family, const struct gw_sub *table, size_t n,
    int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		sub_usage(family, table, n);
		return 2;
	}
	for (i = 0; i < n; i++)
		if (strcmp(argv[1], table[i].name) == 0)
			return table[i].fn(argc - 1, argv + 1);
	/* The help topic is the family's first word ("user key": user). */
	cli_error("'%s' is not a %s command; see 'bulwark help %.*s'",
	    argv[1], family, (int)strcspn(family, " "), family);
	return 2;
}

int
gw_fido2_group(const char *svc, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s%s", svc, GW_FIDO2_SUFFIX);

	return n > 0 && (size_t)n < len && gw_valid_user(buf) ? 0 : -1;
}

static int
is_member(const struct group *gr, const char *user)
{
	char **m;

	for (m = gr->gr_mem; m != NULL && *m != NULL; m++)
		if (strcmp(*m, user) == 0)
			return 1;
	return 0;
}

int
gw_fido2_in_group(const char *sock, const char *user,
    char group[GW_GROUP_MAX])
{
	struct passwd *pw;
	struct group *gr;
	struct stat st;

	group[0] = '\0';
	if (stat(sock, &st) != 0 || st.st_uid == 0 ||
	    (pw = getpwuid(st.st_uid)) == NULL ||
	    gw_fido2_group(pw->pw_name, group, GW_GROUP_MAX) != 0 ||
	    (gr = getgrnam(group)) == NULL) {
		group[0] = '\0';
		return -1;
	}
	return is_member(gr, user);
}

int
gw_fido2_member(const char *sock, const char *user, int join)
{
	char group[GW_GROUP_MAX];
	int in, r, status;

	if ((in = gw_fido2_in_group(sock, user, group)) < 0 || in == join)
		return 0;
	{
		char *add[] = { "/usr/sbin/usermod", "--append", "--groups",
		    group, (char *)user, NULL };
		char *del[] = { "/usr/bin/gpasswd", "--delete", (char *)user,
		    group, NULL };
		char *out = NULL;

		r = gw_run(join ? add : del, 60, &out, &status);
		free(out);
	}
	if (r != ERR_OK || status != 0) {
		if (join)
			cli_error("could not add '%s' to group %s; do it with: "
			    "usermod -aG %s %s", user, group, group, user);
		else
			cli_error("could not remove '%s' from group %s; do it "
			    "with: gpasswd -d %s %s", user, group, user, group);
		return 1;
	}
	printf("%s '%s' %s group %s (FIDO2 keys alone log in)\n",
	    join ? "added" : "removed", user, join ? "to" : "from", group);
	return 0;
}
