/*
 * proto.h - bulwarkd's request table: the message types and field tags
 * that pam_bulwark, bulwark-shell, the AuthorizedKeysCommand and the
 * admin commands send over the monitor socket (rpc.h, wire.h).
 *
 * Who may send what is decided by the daemon from SO_PEERCRED, never from
 * a field: a uid names the gateway user, uid 0 (sshd's PAM, the admin
 * CLI) may ask about any user. The session requests form a state machine
 * on one connection, so that a certificate can only be asked for the
 * session the same connection opened:
 *
 *   state 0 --SESSION_OPEN(allow)--> 1 --SESSION_CERT--> 2
 *           2 --SESSION_DATA...--> 2 --SESSION_END--> 3
 *   state 0 --PAM_START--> 4 --PAM_TOTP(ok)--> 5
 *
 * Requests and their fields (R = required, o = optional); the responses'
 * fields are listed after "->". Unless stated, a failure is the status
 * alone (ERR_DENIED, ERR_NOTFOUND, ERR_EXISTS, ERR_INVAL ...).
 *
 *  KEYS           root/daemon   USER R, KEY R ("TYPE BASE64")
 *                 -> TEXT: one authorized_keys line with its options, or
 *                    ERR_NOTFOUND when the key is not the user's.
 *  PAM_START      root          USER R, RHOST o, AUTHINFO o
 *                 -> NEED_TOTP (u8 1: ask for a code; 0: a verified
 *                    FIDO2 key already counts as both factors)
 *  PAM_TOTP       root, st 4    CODE R
 *                 -> OK, or ERR_DENIED (wrong or replayed code), or
 *                    ERR_LOCKED (too many wrong codes from this user or
 *                    address: no code is tried until the delay passes)
 *  ACCOUNT        root          USER R, RHOST o, FACTORS o (u8)
 *                 -> OK when the user may log in now, with the factors
 *                    shown: FACTORS 1 when pam_bulwark's auth stage passed
 *                    in this PAM handle (it checked and logged them);
 *                    without it sshd accepted a key alone (its Match on
 *                    the FIDO2 group), which is two factors only when
 *                    every key of the user is a FIDO2 key (sshd checked
 *                    verify-required): then logged here, else refused
 *  LOGIN_OPEN     root          USER R, RHOST o
 *                 -> LOGIN_ID: pam_bulwark's session step, in sshd's
 *                    monitor process, which lives as long as the SSH
 *                    connection; bulwarkd records that process (pid,
 *                    start time, boot) as a live login of USER. ERR_DENIED
 *                    for an unknown or inactive user
 *  LOGIN_CLOSE    root          LOGIN_ID R: the session step's end; a
 *                    login whose monitor process is gone ends by itself
 *  TARGETS        any           USER o (root only: whose targets)
 *                 -> TEXT: "LOGIN@TARGET\tGROUP\tSENS\n" each, for the
 *                    caller's user (a gateway user) or USER (root)
 *  SESSION_OPEN   any, st 0     TARGET R, LOGIN R, KIND R, COMMAND o,
 *                               PTY o (u8), RHOST o
 *                 (denied unless the caller is a child of the sshd
 *                 process that a live login of the same user started
 *                 its shells from: daemon/login.c)
 *                 -> DECISION ("allow" | "deny"), REASON (for the user),
 *                    and with allow: SESSION, HOST, PORT, HOSTKEY
 *                    (the pinned "TYPE BASE64" line) and COUNT (the
 *                    recording cap in bytes: the shell stops sending
 *                    SESSION_DATA there, after a marker event saying so)
 *  SESSION_CERT   any, st 1     KEY R (the ephemeral public key line)
 *                 -> CERT (an OpenSSH certificate line)
 *  SESSION_DATA   any, st 2     DATA R (asciicast v2 bytes, in order),
 *                               STOPPED o (u8 1: these bytes end with the
 *                               cap's marker; a session.recording event)
 *  SESSION_END    any, st 2     EXIT R (u32, the status as the shell
 *                               exits with it), BYTES_IN R, BYTES_OUT R,
 *                               REASON o ("hostkey-mismatch", ...),
 *                               COUNT o and PID o (connections the
 *                               session's key agent refused, and the
 *                               first one's pid: a session.key event)
 *
 * Admin requests, root only (the CLI; each is an audit event):
 *  USER_ADD       USER R, UID R, ROLE R, KEY o (a public key line)
 *  USER_KEY_ADD   USER R, KEY R
 *  USER_KEYS      USER R -> TEXT ("FINGERPRINT\tTYPE\tADDED\tCOMMENT\n",
 *                 in the order added; ADDED in Unix seconds)
 *  USER_KEY_DEL   USER R, FP R (a key of that user, "SHA256:...")
 *  USER_LIST      USER o -> TEXT ("NAME\tUID\tROLE\tSTATE\tKEYS\tMFA\n")
 *  USER_STATE     USER R, STATE R (u32, db_user_state)
 *  USER_DEL       USER R
 *  MFA_ENROLL     USER R -> SECRET (base32 seed), TEXT (otpauth URI)
 *  MFA_UNLOCK     USER R
 *  TARGET_ADD     TARGET R, HOST R, PORT R, GROUP R, SENS R, HOSTKEY R
 *  TARGET_LIST    TARGET o -> TEXT ("NAME\tHOST\tPORT\tGROUP\tSENS\tFP\n")
 *  TARGET_REKEY   TARGET R, HOSTKEY R
 *  TARGET_DEL     TARGET R
 *  GRANT_ADD      ROLE R, GROUP R, LOGIN R
 *  GRANT_DEL      ROLE R, GROUP R, LOGIN R
 *  GRANT_LIST     -> TEXT ("ROLE\tGROUP\tLOGIN\n")
 *  SESSION_LIST   USER o, COUNT o -> TEXT (one line per session:
 *                 "ID\tUSER\tLOGIN@TARGET\tKIND\tSTARTED\tENDED\tEXIT\t
 *                 IN\tOUT\tRECORDING\n", RECORDING "-" for none)
 *  SESSION_GET    SESSION R -> TEXT (one such line)
 *  SESSION_KILL   SESSION R: ends a live session (ERR_NOTFOUND when it
 *                 is not); bulwarkd shuts the shell's connection down,
 *                 which the shell takes as the order to stop ssh
 *  LOGIN_LIST     -> TEXT ("ID\tUSER\tRHOST\tOPENED\tPID\tSTART\n" per
 *                 live gateway login, oldest first; RHOST "-" when
 *                 unknown; PID and START (clock ticks after boot) name
 *                 sshd's monitor; logins whose sshd is gone are ended
 *                 first)
 *  CA_KEY         any           -> KEY (the user CA's public key line),
 *                                  HOST (the certificates' source-address)
 */
#ifndef BULWARK_GATEWAY_PROTO_H
#define BULWARK_GATEWAY_PROTO_H

#include <stddef.h>

#include "common/wire.h"

/* Where bulwarkd listens unless told otherwise (BULWARK_SOCKET). */
#define PROTO_DEFAULT_SOCKET	"/run/bulwark/bulwarkd.sock"

enum proto_type {
	PROTO_KEYS = 1,
	PROTO_PAM_START = 2,
	PROTO_PAM_TOTP = 3,
	PROTO_ACCOUNT = 4,
	PROTO_TARGETS = 5,
	PROTO_SESSION_OPEN = 6,
	PROTO_SESSION_CERT = 7,
	PROTO_SESSION_DATA = 8,
	PROTO_SESSION_END = 9,
	PROTO_LOGIN_OPEN = 10,
	PROTO_LOGIN_CLOSE = 11,

	PROTO_USER_ADD = 20,
	PROTO_USER_KEY_ADD = 21,
	PROTO_USER_LIST = 22,
	PROTO_USER_STATE = 23,
	PROTO_USER_DEL = 24,
	PROTO_MFA_ENROLL = 25,
	PROTO_MFA_UNLOCK = 26,
	PROTO_USER_KEYS = 27,
	PROTO_USER_KEY_DEL = 28,
	PROTO_TARGET_ADD = 30,
	PROTO_TARGET_LIST = 31,
	PROTO_TARGET_REKEY = 32,
	PROTO_TARGET_DEL = 33,
	PROTO_GRANT_ADD = 40,
	PROTO_GRANT_DEL = 41,
	PROTO_GRANT_LIST = 42,
	PROTO_SESSION_LIST = 50,
	PROTO_SESSION_GET = 51,
	PROTO_LOGIN_LIST = 52,
	PROTO_SESSION_KILL = 53,
	PROTO_CA_KEY = 60,
};

/* Field tags; each has one kind in every message that carries it. */
enum proto_tag {
	P_USER = 1,		/* str */
	P_CODE = 2,		/* str, the TOTP code as typed */
	P_RHOST = 3,		/* str, the client's address */
	P_AUTHINFO = 4,		/* str, sshd's SSH_AUTH_INFO_0 */
	P_KEY = 5,		/* str, a public key line */
	P_TARGET = 6,		/* str */
	P_LOGIN = 7,		/* str */
	P_KIND = 8,		/* str: interactive exec sftp scp rsync */
	P_COMMAND = 9,		/* str */
	P_PTY = 10,		/* u8 */
	P_SESSION = 11,		/* u64 */
	P_HOST = 12,		/* str */
	P_PORT = 13,		/* u32 */
	P_HOSTKEY = 14,		/* str */
	P_CERT = 15,		/* str */
	P_DATA = 16,		/* bytes */
	P_EXIT = 17,		/* u32 */
	P_BYTES_IN = 18,	/* u64, client to target */
	P_BYTES_OUT = 19,	/* u64, target to client */
	P_TEXT = 20,		/* str */
	P_NEED_TOTP = 21,	/* u8 */
	P_ROLE = 22,		/* str */
	P_UID = 23,		/* u32 */
	P_GROUP = 24,		/* str */
	P_SENS = 25,		/* u32, 0..3 */
	P_STATE = 26,		/* u32 */
	P_SECRET = 27,		/* str, base32 */
	P_REASON = 28,		/* str */
	P_DECISION = 29,	/* str */
	P_COUNT = 30,		/* u32 */
	P_FACTORS = 31,		/* u8, 1: pam_bulwark's auth stage passed */
	P_FP = 32,		/* str, a key fingerprint "SHA256:..." */
	P_LOGIN_ID = 33,	/* u64, a gateway login (LOGIN_OPEN) */
	P_PROCESS = 34,		/* u32, a process id */
	P_STOPPED = 35,		/* u8, 1: the recording reached its cap */
};

/* Connection states of the session and PAM exchanges. */
enum proto_state {
	PROTO_ST_NEW = 0,
	PROTO_ST_OPENED = 1,
	PROTO_ST_CERTIFIED = 2,
	PROTO_ST_ENDED = 3,
	PROTO_ST_PAM = 4,
	PROTO_ST_PAM_DONE = 5,
};

#define PROTO_STR_MAX		255	/* names, logins, hosts, codes */
#define PROTO_LINE_MAX		8192	/* key and certificate lines */
#define PROTO_COMMAND_MAX	16384	/* a command line sent to a target */
#define PROTO_DATA_MAX		(48 * 1024)	/* one SESSION_DATA chunk */

/*
 * The field spec of a request type (what the daemon accepts), for the
 * daemon's table and the fuzz harness. NULL for an unknown type.
 */
const struct wire_field_spec *proto_request_fields(unsigned type,
    size_t *nfields);

/*
 * 1 when a session of this kind ("interactive", "exec", "scp", "rsync",
 * "sftp") is recorded: every kind but sftp. The shell and bulwarkd both
 * decide with this. An scp or rsync command is a command line that the
 * target's shell runs, so the user could append anything to it; only the
 * sftp subsystem is a fixed program that no typed command reaches.
 */
int proto_kind_recorded(const char *kind);

#endif
