/*
 * gwclient.h - what the admin commands (user, target, grant, session,
 * keys, ssh-config, gateway) share: finding and calling bulwarkd, turning
 * its statuses into messages, checking names before they go anywhere,
 * running programs without a shell, and printing its tab-separated
 * answers as tables.
 *
 * Messages follow cli.h: "bulwark: ..." on stderr, lowercase, saying what
 * to do next. Functions named gw_fail* print and return the exit status
 * 1 so that callers can `return gw_fail(...)`.
 */
#ifndef BULWARK_CLI_GWCLIENT_H
#define BULWARK_CLI_GWCLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/err.h"
#include "common/wire.h"
#include "gateway/rpc.h"

/* How long one request may take before we give up on bulwarkd. */
#define GW_TIMEOUT_MS	10000

/*
 * The socket to use: opt (from --socket/-S) if not NULL, else the
 * environment's BULWARK_SOCKET if set and non-empty, else
 * PROTO_DEFAULT_SOCKET. Borrowed.
 */
const char *gw_socket_path(const char *opt);

/*
 * Connects to bulwarkd at path. On failure prints "cannot reach bulwarkd
 * at PATH: ...; is it running? ..." and returns ERR_NETWORK (or another
 * code); *out is set only on ERR_OK.
 */
int gw_connect(const char *path, struct rpc_client **out) WUR;

/*
 * Ends user's live gateway logins (root). For each whose sshd monitor is
 * still the process bulwarkd recorded (same pid, same start time): the
 * shells sshd started for it get SIGTERM (their sessions end, recorded),
 * then the monitor, which closes the connection. Returns how many were
 * ended, or -1 after printing why it could not ask.
 */
int gw_end_logins(const char *sock, const char *user);

/*
 * Connects, sends req, and waits for the answer. Returns 0 when bulwarkd
 * answered: *status then holds its status, and *resp (free with
 * rpc_response_free) is set when *status is ERR_OK, NULL otherwise.
 * Returns 1 when there was no answer (not reachable, connection lost,
 * timed out, garbled); the reason has been printed.
 */
int gw_call(const char *sock, const struct wire_builder *req,
    struct rpc_response **resp, int *status) WUR;

/*
 * Prints "bulwark: " + the formatted context + ": " + what status means
 * for an admin (e.g. ERR_DENIED: run it as root) and returns 1.
 */
int gw_fail(int status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* cli_error(fmt, ...) that returns 1, for messages complete in themselves. */
int gw_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A field of an answer as a new NUL-terminated string ("" when absent). */
char *gw_resp_str(const struct rpc_response *resp, uint16_t tag);

/*
 * Name checks, so that nothing odd reaches useradd, a config file, a
 * script or the daemon. Each returns 1 when s is acceptable.
 *   gw_valid_user:  [a-z_][a-z0-9_-]{0,31} (Unix user and login names)
 *   gw_valid_name:  [A-Za-z0-9_][A-Za-z0-9._-]{0,63} (targets, groups,
 *                   roles)
 *   gw_valid_host:  a DNS name or an IPv4/IPv6 address, [A-Za-z0-9.:-],
 *                   1..253 bytes, not starting with '-'
 *   gw_valid_path:  absolute, [A-Za-z0-9/._+-] only, no "..", at most
 *                   200 bytes (paths written into configs and scripts)
 */
int gw_valid_user(const char *s);
int gw_valid_name(const char *s);
int gw_valid_host(const char *s);
int gw_valid_path(const char *s);

/* Parses a decimal number in [min, max]; ERR_FORMAT / ERR_RANGE. */
int gw_parse_u32(const char *s, uint32_t min, uint32_t max,
    uint32_t *out) WUR;

/*
 * Runs argv[0] (an absolute path) with argv, no shell, stdin from
 * /dev/null when capture is not NULL (else inherited). With capture, the
 * child's stdout is collected into *capture (malloc'd, NUL-terminated, at
 * most 1 MiB; *capture is NULL on error) and stderr is inherited. With
 * timeout_s > 0 the child is killed after that many seconds. Returns
 * ERR_OK with *exit_status (the exit code, or 128 + signal), ERR_NOTFOUND
 * when the program cannot be executed (errno set), ERR_NETWORK on a
 * timeout, ERR_IO on other failures.
 */
int gw_run(char *const argv[], int timeout_s, char **capture,
    int *exit_status) WUR;

/*
 * The gateway's FIDO2 group: its sshd lets members log in with a key
 * alone (`Match Group`, written by `bulwark gateway setup`), so it holds
 * the users whose every key is a FIDO2 key, which sshd accepts only with
 * user verification. (pam_bulwark's account check refuses any login that
 * is not two factors, so a wrong member is locked out, not let in.) Its
 * name is the service user's with GW_FIDO2_SUFFIX. gw_fido2_group writes
 * it to buf; -1 when it does not fit or is not a valid name.
 */
#define GW_FIDO2_SUFFIX "-fido2"
#define GW_GROUP_MAX 64
int gw_fido2_group(const char *svc, char *buf, size_t len);

/*
 * 1 when user is in the FIDO2 group of the gateway whose bulwarkd listens
 * at sock (the service user is the socket's owner), 0 when not, -1 when
 * there is no such group. group gets its name, or "".
 */
int gw_fido2_in_group(const char *sock, const char *user,
    char group[GW_GROUP_MAX]);

/*
 * Puts user into the FIDO2 group of the gateway whose bulwarkd listens at
 * sock (join != 0), or takes them out, with usermod/gpasswd. The service
 * user is the socket's owner. Without that group (a gateway set up before
 * it existed, a bulwarkd running as root) nothing is done. Prints what it
 * changed; returns 0, or 1 after printing why it could not.
 */
int gw_fido2_member(const char *sock, const char *user, int join);

/*
 * Prints text (lines of tab-separated fields, as bulwarkd answers lists)
 * as a table with a header row, columns padded to their widest cell.
 * Lines with another number of fields are printed as they are.
 * shorten, if >= 0, names a column whose cells are cut to 16 characters.
 */
void gw_print_table(const char *text, const char *const *header,
    size_t ncols, int shorten);

/*
 * Splits line (modified in place) at tabs into at most max fields; the
 * final newline, if any, is dropped. Returns the number of fields.
 */
size_t gw_split_tabs(char *line, char **fields, size_t max);

/*
 * Reads the first line of a file (without its newline) that is neither
 * empty nor a '#' comment, at most max bytes. ERR_NOTFOUND for a missing
 * file or one without such a line (errno tells which), ERR_TOOBIG.
 */
int gw_read_first_line(const char *path, size_t max, char **out) WUR;

/*
 * Parses a subcommand's options when --socket/-S (into *sockopt) is the
 * only one and exactly npos positionals follow; prints usage and returns 2
 * otherwise, 0 when they are right.
 */
int gw_socket_only(const char **sockopt, int argc, char **argv, int npos,
    const char *usage);

/* One subcommand of a command family: bulwark FAMILY NAME ARGS... */
struct gw_sub {
	const char *name;
	int (*fn)(int argc, char **argv);	/* argv[0] is NAME */
};

/*
 * Runs the subcommand argv[1] of family from table[0..n), or prints usage
 * ("bulwark FAMILY (a|b|...) ...") and returns 2.
 */
int gw_dispatch(const char *family, const struct gw_sub *table, size_t n,
    int argc, char **argv);

#endif
