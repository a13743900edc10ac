/*
 * witness.h - a C2SP tlog-witness: cosigns checkpoints of the logs it
 * knows, after checking each one is consistent with the last it cosigned.
 *
 * Protocol: https://c2sp.org/tlog-witness (add-checkpoint, and the
 * monitoring GET <origin hash>/checkpoint), signatures per
 * https://c2sp.org/tlog-cosignature (cosignature/v1, Ed25519).
 *
 * A witness lives in one directory:
 *
 *   DIR/witness.key          the cosigning key (note signer key), mode 0600
 *   DIR/witness.pub          its verifier key
 *   DIR/lock                 flock'ed by the one process that may cosign
 *   DIR/logs/HEX/origin      the log's origin line (HEX = lowercase hex of
 *                            SHA-256(origin), as in the monitoring URL)
 *   DIR/logs/HEX/key         the log's Ed25519 verifier key
 *   DIR/logs/HEX/checkpoint  the latest checkpoint cosigned for that log: the
 *                            checkpoint text, the log's verified signature
 *                            and the witness's cosignature, as a signed note
 *   DIR/logs/HEX/refused     the last signed request the witness refused as
 *                            inconsistent (422): evidence of a forked or
 *                            rewritten log
 *
 * Every file is replaced with fs_write_atomic, and the new checkpoint is
 * durable before its cosignature leaves witness_add_checkpoint, so a
 * cosignature handed out is never forgotten by a crash. The stored size never
 * shrinks: a log that was truncated or rewritten cannot get a cosignature.
 *
 * The witness process holds only its own cosigning key; it parses network
 * input, which is fine by design (DESIGN.md: witnesses run on the vault host).
 */
#ifndef BULWARK_AUDIT_WITNESS_H
#define BULWARK_AUDIT_WITNESS_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "audit/merkle.h"
#include "common/err.h"

/* Largest add-checkpoint request body accepted (413 above it). */
#define WITNESS_MAX_BODY (64 * 1024)
/* tlog-witness: "The client MUST NOT send more than 63 consistency proof lines." */
#define WITNESS_MAX_PROOF 63
/* Largest response body the client reads. */
#define WITNESS_MAX_RESPONSE (64 * 1024)
/* Longest origin line add_log accepts. */
#define WITNESS_MAX_ORIGIN 1024
#define WITNESS_DEFAULT_LISTEN "127.0.0.1:7380"
/* tlog-witness: Content-Type of the 409 Conflict body. */
#define WITNESS_SIZE_CONTENT_TYPE "text/x.tlog.size"

struct witness;
struct witness_server;

/*
 * A parsed add-checkpoint body. note borrows from the body that was parsed
 * and lives as long as it; nothing in the struct is allocated, so there is
 * nothing to release.
 */
struct witness_request {
	uint64_t old_size;
	uint8_t proof[WITNESS_MAX_PROOF][MERKLE_HASH_LEN];
	size_t nproof;
	const char *note;	/* the signed checkpoint note */
	size_t note_len;
};

/* ---- Setting up a witness directory (no lock needed by callers). ---- */

/*
 * Creates dir if needed and a new cosignature/v1 key named name in it.
 * *vkey (malloc'd, freed by the caller) is the witness's verifier key, to
 * be given to the logs' verifiers. ERR_EXISTS when dir already holds a key;
 * ERR_LOCKED when a witness process is serving dir.
 */
int witness_init(const char *dir, const char *name, char **vkey) WUR;

/*
 * Adds a log the witness will cosign for: its origin line and its Ed25519
 * note verifier key. ERR_EXISTS when the origin is already configured,
 * ERR_NOTFOUND when dir is not an initialised witness, ERR_FORMAT or
 * ERR_UNSUPPORTED for a bad origin or key. Safe while the witness serves:
 * the key file is written last and read per request.
 */
int witness_add_log(const char *dir, const char *origin,
    const char *log_vkey) WUR;

/* The witness's verifier key from DIR/witness.pub (malloc'd). */
int witness_read_vkey(const char *dir, char **vkey) WUR;

/*
 * The origins configured in dir, sorted; *origins is a malloc'd array of
 * *n malloc'd strings, freed with witness_origins_free.
 */
int witness_origins(const char *dir, char ***origins, size_t *n) WUR;
void witness_origins_free(char **origins, size_t n);

/*
 * The latest checkpoint cosigned for origin, as stored (a signed note with
 * the log's signature and the witness's cosignature; malloc'd,
 * NUL-terminated). ERR_NOTFOUND when origin is not configured; ERR_OK with
 * *note NULL and *len 0 when it is but nothing was cosigned yet.
 * *refused is set to 1 when an inconsistent checkpoint was refused for this
 * log (see DIR/logs/HEX/refused); it may be NULL.
 */
int witness_latest(const char *dir, const char *origin, char **note,
    size_t *len, int *refused) WUR;

/* ---- A running witness. ---- */

/*
 * Loads the cosigning key and takes DIR/lock (ERR_LOCKED when another
 * process holds it). Refuses (ERR_DENIED) a key file that group or others
 * can read. Free with witness_free, which also releases the lock.
 */
int witness_open(const char *dir, struct witness **out) WUR;
void witness_free(struct witness *w);
const char *witness_vkey(const struct witness *w);
const char *witness_name(const struct witness *w);
/* Stops the one-line-per-request decision log on stderr (tests, fuzzing). */
void witness_set_quiet(struct witness *w, int quiet);
int witness_is_quiet(const struct witness *w);

/*
 * Parses an add-checkpoint body strictly (tlog-witness, add-checkpoint):
 * "old N\n" with N in canonical decimal, at most 63 lines each holding one
 * base64 hash, an empty line, then a non-empty note. ERR_FORMAT when it is
 * malformed, ERR_TOOBIG when over WITNESS_MAX_BODY or 63 proof lines. The
 * note itself is not parsed here.
 */
int witness_request_parse(const char *body, size_t len,
    struct witness_request *out) WUR;

/* Builds an add-checkpoint body (malloc'd, NUL-terminated). */
int witness_request_format(uint64_t old_size,
    const uint8_t proof[][MERKLE_HASH_LEN], size_t nproof, const char *note,
    size_t note_len, char **out, size_t *len) WUR;

/*
 * The whole add-checkpoint decision, as tlog-witness specifies it:
 *
 *   200  the checkpoint is cosigned; *resp is the cosignature line
 *        "— NAME BASE64\n", and the checkpoint was stored durably first
 *   400  the body or the checkpoint note is malformed, or old > size
 *   403  no valid signature by the log's key (or a bad one claiming it)
 *   404  the origin is not a configured log
 *   409  old size differs from the stored size; *resp is "SIZE\n", to be
 *        sent as WITNESS_SIZE_CONTENT_TYPE
 *   413  the body is larger than WITNESS_MAX_BODY
 *   422  the proof does not verify, a non-empty proof with old 0, a size-0
 *        checkpoint whose root is not the empty root, or equal sizes with
 *        different roots: the log forked or was rewritten
 *
 * For all of these it returns ERR_OK and sets *http_status, *resp (a
 * malloc'd short text ending in "\n", freed by the caller) and *resp_len.
 * When the witness itself fails (I/O, memory, a corrupt state file) it
 * returns that error with *http_status 500 and *resp NULL, and cosigns
 * nothing. Requests are serialised: checking the old size and storing the
 * new checkpoint happen under one lock, so two racing requests cannot roll
 * the stored size back. Writes one line per decision to stderr.
 */
int witness_add_checkpoint(struct witness *w, const char *body, size_t len,
    int *http_status, char **resp, size_t *resp_len) WUR;

/*
 * The monitoring retrieval API: the stored checkpoint of the log whose
 * origin hashes to hex (64 lowercase hex digits). ERR_NOTFOUND when there
 * is none, ERR_FORMAT when hex is not such a string.
 */
int witness_checkpoint_by_hash(const struct witness *w, const char *hex,
    char **note, size_t *len) WUR;

/* ---- HTTP server (libmicrohttpd) and client (libcurl). ---- */

/*
 * Splits "ADDR:PORT" or "[IPV6]:PORT" into a malloc'd address and a port.
 */
int witness_parse_listen(const char *s, char **addr, unsigned *port) WUR;

/*
 * Serves POST /add-checkpoint and GET /HEX/checkpoint on addr:port (port 0
 * picks a free port, see witness_server_port) from background threads. w
 * must outlive the server.
 */
int witness_server_start(struct witness *w, const char *addr, unsigned port,
    struct witness_server **out) WUR;
unsigned witness_server_port(const struct witness_server *s);
/* Stops serving, waiting for requests in flight; NULL is a no-op. */
void witness_server_stop(struct witness_server *s);

/*
 * Starts a server, prints "listening on http://ADDR:PORT" to stderr, and
 * blocks until *stop becomes non-zero (stop may be NULL) or SIGTERM or
 * SIGINT arrives; then stops the server and returns ERR_OK.
 */
int witness_serve(struct witness *w, const char *addr, unsigned port,
    volatile sig_atomic_t *stop) WUR;

/*
 * Sends an add-checkpoint request to the witness whose submission prefix
 * is url ("http://host:port" or "https://host/prefix"; "/add-checkpoint" is
 * appended). Only http and https are allowed, redirects are not followed,
 * connecting times out after 5 s and the whole request after 30 s, and
 * a response body over WITNESS_MAX_RESPONSE fails with ERR_TOOBIG.
 * ERR_OK whenever the witness answered, whatever the status: *http_status
 * and *resp (malloc'd, NUL-terminated, may be empty) tell what it said.
 * ERR_NETWORK when it could not be reached; ERR_INVAL for a bad url.
 */
int witness_client_add_checkpoint(const char *url, uint64_t old_size,
    const uint8_t proof[][MERKLE_HASH_LEN], size_t nproof, const char *note,
    size_t note_len, int *http_status, char **resp, size_t *resp_len) WUR;

/* Parses a 409 body ("SIZE\n"). ERR_FORMAT when it is anything else. */
int witness_parse_size(const char *body, size_t len, uint64_t *size) WUR;

/*
 * Checks that a 200 response holds a valid cosignature by witness_vkey on
 * the checkpoint text (the note text, without signatures) and gives its
 * timestamp. Other signature lines in resp are ignored. ERR_NOTFOUND when
 * resp carries no line by that key, ERR_SIGNATURE when it does not verify.
 */
int witness_cosignature_verify(const char *witness_vkey, const char *text,
    size_t text_len, const char *resp, size_t resp_len,
    uint64_t *timestamp) WUR;

#endif
