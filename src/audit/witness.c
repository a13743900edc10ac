/*
 * witness.c - the C2SP tlog-witness core: state on disk, request parsing
 * and the add-checkpoint decision. HTTP lives in witness_http.c.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "audit/checkpoint.h"
#include "audit/merkle.h"
#include "audit/note.h"
#include "audit/witness.h"
#include "common/encoding.h"
#include "common/fsutil.h"
#include "common/sha256.h"
#include "common/banned.h"

#define KEY_FILE "witness.key"
#define PUB_FILE "witness.pub"
#define LOCK_FILE "lock"
#define LOGS_DIR "logs"
/* Key files are one short line; anything longer is not ours. */
#define KEY_FILE_MAX 4096
#define HEX_LEN (2 * SHA256_LEN)
/* U+2014 EM DASH, which starts every signature line of a signed note. */
#define EM_DASH "\xe2\x80\x94"

struct witness {
	char *dir;
	int lock_fd;
	struct note_signer *signer;
	char *vkey;
	int quiet;
	/*
	 * Held from reading a log's stored size to storing its new
	 * checkpoint, so that racing requests cannot roll the log back
	 * (tlog-witness, add-checkpoint, last paragraph).
	 */
	pthread_mutex_t mu;
};

/* What a request's origin resolves to on disk. */
struct log_state {
	char dir[PATH_MAX];		/* DIR/logs/HEX */
	struct note_verifier *v;	/* the log's key */
	uint64_t size;			/* of the stored checkpoint, 0 if none */
	uint8_t root[MERKLE_HASH_LEN];
};

static int
path_join(char *buf, size_t sz, const char *a, const char *b)
{
	int n = snprintf(buf, sz, "%s/%s", a, b);

	if (n < 0 || (size_t)n >= sz)
		return ERR_TOOBIG;
	return ERR_OK;
}

static void
origin_hex(const char *origin, char hex[HEX_LEN + 1])
{
	uint8_t h[SHA256_LEN];

	sha256(origin, strlen(origin), h);
	sodium_bin2hex(hex, HEX_LEN + 1, h, sizeof(h));
}

static int
log_dir(const char *dir, const char *hex, char *buf, size_t sz)
{
	int n = snprintf(buf, sz, "%s/%s/%s", dir, LOGS_DIR, hex);

	if (n < 0 || (size_t)n >= sz)
		return ERR_TOOBIG;
	return ERR_OK;
}

static int
is_hex_name(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return i == HEX_LEN;
}

/*
 * An origin line is any non-empty text without a newline (tlog-checkpoint);
 * we also refuse control characters so that it prints safely in logs.
 */
static int
valid_origin(const char *origin)
{
	size_t len = strlen(origin);

	if (len == 0 || len > WITNESS_MAX_ORIGIN)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)origin[i];

		if (c < 0x20 || c == 0x7f)
			return 0;
	}
	return 1;
}

/* Key names per signed-note: non-empty, no whitespace and no '+'. */
static int
valid_name(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > 255)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c <= 0x20 || c == 0x7f || c == '+')
			return 0;
	}
	return 1;
}

/*
 * Reads a one-line file (text and "\n") into a malloc'd string without the
 * newline. ERR_FORMAT when it holds anything else.
 */
static int
read_line_file(const char *path, size_t max, char **out)
{
	char *buf = NULL;
	size_t len;
	int r;

	*out = NULL;
	if ((r = fs_read_file(path, max, &buf, &len)) != ERR_OK)
		return r;
	if (len < 2 || buf[len - 1] != '\n' || memchr(buf, '\n', len - 1) != NULL ||
	    memchr(buf, '\0', len) != NULL) {
		sodium_memzero(buf, len);
		free(buf);
		return ERR_FORMAT;
	}
	buf[len - 1] = '\0';
	*out = buf;
	return ERR_OK;
}

/* Writes s and a newline to path atomically. */
static int
write_line_file(const char *path, const char *s, mode_t mode, int flags)
{
	size_t len = strlen(s);
	char *buf;
	int r;

	if ((buf = malloc(len + 1)) == NULL)
		return ERR_NOMEM;
	memcpy(buf, s, len);
	buf[len] = '\n';
	r = fs_write_atomic(path, buf, len + 1, mode, flags);
	free(buf);
	return r;
}

static int
lock_dir(const char *dir, int *fdp)
{
	char path[PATH_MAX];
	int fd, r;

	*fdp = -1;
	if ((r = path_join(path, sizeof(path), dir, LOCK_FILE)) != ERR_OK)
		return r;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return errno == ENOENT ? ERR_NOTFOUND : ERR_IO;
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		r = errno == EWOULDBLOCK ? ERR_LOCKED : ERR_IO;
		close(fd);
		return r;
	}
	*fdp = fd;
	return ERR_OK;
}

/* One hash in canonical standard base64 (44 characters). */
static int
decode_hash(const char *s, size_t len, uint8_t out[MERKLE_HASH_LEN])
{
	size_t n = 0;

	if (len != 44 || enc_base64_decode(s, len, out, MERKLE_HASH_LEN,
	    &n) != ERR_OK || n != MERKLE_HASH_LEN)
		return ERR_FORMAT;
	return ERR_OK;
}

int
witness_request_parse(const char *body, size_t len, struct witness_request *out)
{
	const char *p = body, *end = body + len, *nl;
	int r;

	memset(out, 0, sizeof(*out));
	if (len > WITNESS_MAX_BODY)
		return ERR_TOOBIG;
	if (body == NULL)
		return ERR_FORMAT;
	/* tlog-witness, add-checkpoint: "old <size>\n", canonical decimal. */
	if ((nl = memchr(p, '\n', len)) == NULL || nl - p < 5 ||
	    memcmp(p, "old ", 4) != 0)
		return ERR_FORMAT;
	if ((r = enc_u64_parse(p + 4, (size_t)(nl - p - 4), &out->old_size)) != ERR_OK)
		return r;
	p = nl + 1;
	/* Zero or more proof lines, then an empty line. */
	for (;;) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL) {
			memset(out, 0, sizeof(*out));
			return ERR_FORMAT;
		}
		if (nl == p)
			break;
		if (out->nproof == WITNESS_MAX_PROOF) {
			memset(out, 0, sizeof(*out));
			return ERR_TOOBIG;
		}
		if ((r = decode_hash(p, (size_t)(nl - p),
		    out->proof[out->nproof])) != ERR_OK) {
			memset(out, 0, sizeof(*out));
			return r;
		}
		out->nproof++;
		p = nl + 1;
	}
	p = nl + 1;
	if (p == end) {
		memset(out, 0, sizeof(*out));
		return ERR_FORMAT;
	}
	out->note = p;
	out->note_len = (size_t)(end - p);
	return ERR_OK;
}

int
witness_request_format(uint64_t old_size, const uint8_t proof[][MERKLE_HASH_LEN],
    size_t nproof, const char *note, size_t note_len, char **out, size_t *len)
{
	const size_t b64 = sodium_base64_ENCODED_LEN(MERKLE_HASH_LEN,
	    sodium_base64_VARIANT_ORIGINAL);
	char *buf;
	size_t cap, off;
	int n;

	*out = NULL;
	*len = 0;
	if (nproof > WITNESS_MAX_PROOF)
		return ERR_TOOBIG;
	if (note == NULL || note_len == 0)
		return ERR_INVAL;
	if (note_len > WITNESS_MAX_BODY)
		return ERR_TOOBIG;
	cap = 32 + nproof * b64 + 1 + note_len + 1;
	if ((buf = malloc(cap)) == NULL)
		return ERR_NOMEM;
	n = snprintf(buf, cap, "old %" PRIu64 "\n", old_size);
	if (n < 0 || (size_t)n >= cap) {
		free(buf);
		return ERR_INTERNAL;
	}
	off = (size_t)n;
	for (size_t i = 0; i < nproof; i++) {
		sodium_bin2base64(buf + off, b64, proof[i], MERKLE_HASH_LEN,
		    sodium_base64_VARIANT_ORIGINAL);
		off += b64 - 1;
		buf[off++] = '\n';
	}
	buf[off++] = '\n';
	memcpy(buf + off, note, note_len);
	off += note_len;
	buf[off] = '\0';
	*out = buf;
	*len = off;
	return ERR_OK;
}

int
witness_parse_size(const char *body, size_t len, uint64_t *size)
{
	*size = 0;
	if (body == NULL || len < 2 || body[len - 1] != '\n')
		return ERR_FORMAT;
	return enc_u64_parse(body, len - 1, size);
}

int
witness_init(const char *dir, const char *name, char **vkeyp)
{
	char keypath[PATH_MAX], pubpath[PATH_MAX], logspath[PATH_MAX];
	char *skey = NULL, *vkey = NULL, *buf = NULL;
	size_t skey_len = 0;
	int lock_fd = -1, r = ERR_INTERNAL;

	*vkeyp = NULL;
	if (sodium_init() < 0)
		return ERR_CRYPTO;
	if (!valid_name(name))
		return ERR_FORMAT;
	if ((r = path_join(keypath, sizeof(keypath), dir, KEY_FILE)) != ERR_OK ||
	    (r = path_join(pubpath, sizeof(pubpath), dir, PUB_FILE)) != ERR_OK ||
	    (r = path_join(logspath, sizeof(logspath), dir, LOGS_DIR)) != ERR_OK)
		return r;
	if ((r = fs_mkdirs(dir, 0700)) != ERR_OK)
		return r;
	if ((r = lock_dir(dir, &lock_fd)) != ERR_OK)
		return r;
	if (access(keypath, F_OK) == 0) {
		r = ERR_EXISTS;
		goto out;
	}
	if ((r = note_keygen(name, NOTE_ALG_COSIGNATURE_V1, &skey, &vkey)) != ERR_OK)
		goto out;
	/* The key file's contents are as secret as the key. */
	skey_len = strlen(skey);
	if ((buf = sodium_malloc(skey_len + 1)) == NULL) {
		r = ERR_NOMEM;
		goto out;
	}
	memcpy(buf, skey, skey_len);
	buf[skey_len] = '\n';
	if ((r = fs_write_atomic(keypath, buf, skey_len + 1, 0600,
	    FS_EXCL)) != ERR_OK)
		goto out;
	if ((r = write_line_file(pubpath, vkey, 0644, 0)) != ERR_OK)
		goto out;
	if ((r = fs_mkdirs(logspath, 0700)) != ERR_OK ||
	    (r = fs_sync_dir(dir)) != ERR_OK)
		goto out;
	*vkeyp = vkey;
	vkey = NULL;
	r = ERR_OK;
 out:
	sodium_free(buf);
	note_key_free_secret(skey);
	free(vkey);
	if (lock_fd >= 0)
		close(lock_fd);
	return r;
}

int
witness_read_vkey(const char *dir, char **vkeyp)
{
	char path[PATH_MAX];
	struct note_verifier *v = NULL;
	char *vkey = NULL;
	int r;

	*vkeyp = NULL;
	if ((r = path_join(path, sizeof(path), dir, PUB_FILE)) != ERR_OK)
		return r;
	if ((r = read_line_file(path, KEY_FILE_MAX, &vkey)) != ERR_OK)
		return r;
	if ((r = note_verifier_from_vkey(vkey, &v)) != ERR_OK)
		goto out;
	if (note_verifier_alg(v) != NOTE_ALG_COSIGNATURE_V1) {
		r = ERR_UNSUPPORTED;
		goto out;
	}
	*vkeyp = vkey;
	vkey = NULL;
	r = ERR_OK;
 out:
	note_verifier_free(v);
	free(vkey);
	return r;
}

int
witness_add_log(const char *dir, const char *origin, const char *log_vkey)
{
	char path[PATH_MAX], ldir[PATH_MAX], hex[HEX_LEN + 1];
	struct note_verifier *v = NULL;
	int r = ERR_INTERNAL;

	if (!valid_origin(origin))
		return ERR_FORMAT;
	if ((r = note_verifier_from_vkey(log_vkey, &v)) != ERR_OK)
		return r;
	/* Checkpoints are signed by the log with Ed25519 (DESIGN.md). */
	if (note_verifier_alg(v) != NOTE_ALG_ED25519) {
		r = ERR_UNSUPPORTED;
		goto out;
	}
	if ((r = path_join(path, sizeof(path), dir, KEY_FILE)) != ERR_OK)
		goto out;
	if (access(path, F_OK) != 0) {
		r = ERR_NOTFOUND;
		goto out;
	}
	origin_hex(origin, hex);
	if ((r = log_dir(dir, hex, ldir, sizeof(ldir))) != ERR_OK)
		goto out;
	if ((r = fs_mkdirs(ldir, 0700)) != ERR_OK)
		goto out;
	if ((r = path_join(path, sizeof(path), ldir, "key")) != ERR_OK)
		goto out;
	if (access(path, F_OK) == 0) {
		r = ERR_EXISTS;
		goto out;
	}
	/*
	 * The origin first, the key last: a log counts as configured once
	 * its key file exists, so a crash in between leaves nothing half
	 * set up for the server to trip over, and a retry completes it.
	 */
	if ((r = path_join(path, sizeof(path), ldir, "origin")) != ERR_OK)
		goto out;
	if ((r = write_line_file(path, origin, 0644, 0)) != ERR_OK)
		goto out;
	if ((r = path_join(path, sizeof(path), ldir, "key")) != ERR_OK)
		goto out;
	if ((r = write_line_file(path, log_vkey, 0644, FS_EXCL)) != ERR_OK)
		goto out;
	r = ERR_OK;
 out:
	note_verifier_free(v);
	return r;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void
witness_origins_free(char **origins, size_t n)
{
	if (origins == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free(origins[i]);
	free(origins);
}

int
witness_origins(const char *dir, char ***originsp, size_t *np)
{
	char path[PATH_MAX], ldir[PATH_MAX];
	char **list = NULL, *origin = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d = NULL;
	int r = ERR_INTERNAL;

	*originsp = NULL;
	*np = 0;
	if ((r = path_join(path, sizeof(path), dir, LOGS_DIR)) != ERR_OK)
		return r;
	if ((d = opendir(path)) == NULL)
		return errno == ENOENT ? ERR_NOTFOUND : ERR_IO;
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (!is_hex_name(de->d_name))
			continue;
		if ((r = log_dir(dir, de->d_name, ldir, sizeof(ldir))) != ERR_OK ||
		    (r = path_join(path, sizeof(path), ldir, "key")) != ERR_OK)
			goto out;
		if (access(path, F_OK) != 0)
			continue;	/* add-log did not finish */
		if ((r = path_join(path, sizeof(path), ldir, "origin")) != ERR_OK)
			goto out;
		if ((r = read_line_file(path, WITNESS_MAX_ORIGIN + 1,
		    &origin)) != ERR_OK)
			goto out;
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 8;
			char **nl = realloc(list, ncap * sizeof(*list));

			if (nl == NULL) {
				r = ERR_NOMEM;
				goto out;
			}
			list = nl;
			cap = ncap;
		}
		list[n++] = origin;
		origin = NULL;
	}
	if (errno != 0) {
		r = ERR_IO;
		goto out;
	}
	if (n > 1)
		qsort(list, n, sizeof(*list), cmp_str);
	*originsp = list;
	*np = n;
	list = NULL;
	n = 0;
	r = ERR_OK;
 out:
	free(origin);
	witness_origins_free(list, n);
	closedir(d);
	return r;
}

int
witness_latest(const char *dir, const char *origin, char **note, size_t *len,
    int *refused)
{
	char path[PATH_MAX], ldir[PATH_MAX], hex[HEX_LEN + 1];
	int r;

	*note = NULL;
	*len = 0;
	if (refused != NULL)
		*refused = 0;
	if (!valid_origin(origin))
		return ERR_NOTFOUND;
	origin_hex(origin, hex);
	if ((r = log_dir(dir, hex, ldir, sizeof(ldir))) != ERR_OK ||
	    (r = path_join(path, sizeof(path), ldir, "key")) != ERR_OK)
		return r;
	if (access(path, F_OK) != 0)
		return ERR_NOTFOUND;
	if (refused != NULL) {
		if ((r = path_join(path, sizeof(path), ldir, "refused")) != ERR_OK)
			return r;
		*refused = access(path, F_OK) == 0;
	}
	if ((r = path_join(path, sizeof(path), ldir, "checkpoint")) != ERR_OK)
		return r;
	r = fs_read_file(path, NOTE_MAX_LEN, note, len);
	if (r == ERR_NOTFOUND)
		return ERR_OK;
	return r;
}

int
witness_checkpoint_by_hash(const struct witness *w, const char *hex,
    char **note, size_t *len)
{
	char path[PATH_MAX], ldir[PATH_MAX];
	int r;

	*note = NULL;
	*len = 0;
	if (!is_hex_name(hex))
		return ERR_FORMAT;
	if ((r = log_dir(w->dir, hex, ldir, sizeof(ldir))) != ERR_OK ||
	    (r = path_join(path, sizeof(path), ldir, "checkpoint")) != ERR_OK)
		return r;
	return fs_read_file(path, NOTE_MAX_LEN, note, len);
}

int
witness_open(const char *dir, struct witness **out)
{
	char keypath[PATH_MAX];
	struct witness *w = NULL;
	struct stat st;
	char *skey = NULL;
	int r = ERR_INTERNAL;

	*out = NULL;
	if (sodium_init() < 0)
		return ERR_CRYPTO;
	if ((r = path_join(keypath, sizeof(keypath), dir, KEY_FILE)) != ERR_OK)
		return r;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return ERR_NOMEM;
	w->lock_fd = -1;
	if (pthread_mutex_init(&w->mu, NULL) != 0) {
		free(w);
		return ERR_INTERNAL;
	}
	if ((w->dir = strdup(dir)) == NULL) {
		r = ERR_NOMEM;
		goto out;
	}
	if (stat(keypath, &st) != 0) {
		r = errno == ENOENT ? ERR_NOTFOUND : ERR_IO;
		goto out;
	}
	/* Like ssh with private keys: a key others could read is refused. */
	if ((st.st_mode & 077) != 0) {
		r = ERR_DENIED;
		goto out;
	}
	if ((r = lock_dir(dir, &w->lock_fd)) != ERR_OK)
		goto out;
	if ((r = read_line_file(keypath, KEY_FILE_MAX, &skey)) != ERR_OK)
		goto out;
	r = note_signer_from_skey(skey, &w->signer);
	sodium_memzero(skey, strlen(skey));
	if (r != ERR_OK)
		goto out;
	if (note_signer_alg(w->signer) != NOTE_ALG_COSIGNATURE_V1) {
		r = ERR_UNSUPPORTED;
		goto out;
	}
	if ((r = note_signer_vkey(w->signer, &w->vkey)) != ERR_OK)
		goto out;
	*out = w;
	w = NULL;
	r = ERR_OK;
 out:
	free(skey);
	witness_free(w);
	return r;
}

void
witness_free(struct witness *w)
{
	if (w == NULL)
		return;
	note_signer_free(w->signer);
	free(w->vkey);
	free(w->dir);
	if (w->lock_fd >= 0)
		close(w->lock_fd);
	pthread_mutex_destroy(&w->mu);
	free(w);
}

const char *
witness_vkey(const struct witness *w)
{
	return w->vkey;
}

const char *
witness_name(const struct witness *w)
{
	return note_signer_name(w->signer);
}

void
witness_set_quiet(struct witness *w, int quiet)
{
	w->quiet = quiet;
}

int
witness_is_quiet(const struct witness *w)
{
	return w->quiet;
}

static void
log_state_release(struct log_state *ls)
{
	note_verifier_free(ls->v);
	ls->v = NULL;
}

/*
 * Resolves origin to its configured key and its stored checkpoint.
 * ERR_NOTFOUND when the origin is not configured; any other error means
 * the state on disk is unreadable or corrupt, and nothing may be cosigned.
 */
static int
log_state_load(const char *dir, const char *origin, struct log_state *ls)
{
	char path[PATH_MAX], hex[HEX_LEN + 1];
	struct checkpoint cp;
	struct note *n = NULL;
	char *s = NULL, *stored = NULL;
	size_t stored_len = 0;
	int r = ERR_INTERNAL;

	memset(ls, 0, sizeof(*ls));
	memset(&cp, 0, sizeof(cp));
	if (!valid_origin(origin))
		return ERR_NOTFOUND;
	origin_hex(origin, hex);
	if ((r = log_dir(dir, hex, ls->dir, sizeof(ls->dir))) != ERR_OK)
		return r;
	if ((r = path_join(path, sizeof(path), ls->dir, "key")) != ERR_OK)
		return r;
	if ((r = read_line_file(path, KEY_FILE_MAX, &s)) != ERR_OK)
		return r;
	if ((r = note_verifier_from_vkey(s, &ls->v)) != ERR_OK)
		goto out;
	free(s);
	s = NULL;
	/* The directory name is a hash: make sure it is this origin's. */
	if ((r = path_join(path, sizeof(path), ls->dir, "origin")) != ERR_OK)
		goto out;
	if ((r = read_line_file(path, WITNESS_MAX_ORIGIN + 1, &s)) != ERR_OK) {
		if (r == ERR_NOTFOUND)
			r = ERR_FORMAT;
		goto out;
	}
	if (strcmp(s, origin) != 0) {
		r = ERR_MISMATCH;
		goto out;
	}
	if ((r = path_join(path, sizeof(path), ls->dir, "checkpoint")) != ERR_OK)
		goto out;
	r = fs_read_file(path, NOTE_MAX_LEN, &stored, &stored_len);
	if (r == ERR_NOTFOUND) {
		/* Never cosigned: the stored size is zero. */
		ls->size = 0;
		r = ERR_OK;
		goto out;
	}
	if (r != ERR_OK)
		goto out;
	if ((r = note_parse(stored, stored_len, &n)) != ERR_OK ||
	    (r = checkpoint_parse(n->text, n->text_len, &cp)) != ERR_OK) {
		if (r != ERR_NOMEM)
			r = ERR_FORMAT;
		goto out;
	}
	if (strcmp(cp.origin, origin) != 0) {
		r = ERR_MISMATCH;
		goto out;
	}
	ls->size = cp.size;
	memcpy(ls->root, cp.root, MERKLE_HASH_LEN);
	r = ERR_OK;
 out:
	checkpoint_release(&cp);
	note_free(n);
	free(stored);
	free(s);
	if (r != ERR_OK)
		log_state_release(ls);
	return r;
}

/*
 * Checks the log's signatures on n. Every signature line whose name and
 * key hash match the log's key must verify, and at least one must be there
 * (tlog-witness, add-checkpoint: 403 otherwise). Each is checked on its own,
 * so the index of a good one can be returned for storing. Lines by other
 * keys are ignored, as the spec requires.
 */
static int
verify_log_signature(const struct note *n, const struct note_verifier *v,
    size_t *idx)
{
	const char *name = note_verifier_name(v);
	uint32_t keyhash = note_verifier_keyhash(v);
	int found = 0, r;

	*idx = 0;
	for (size_t i = 0; i < n->nsigs; i++) {
		struct note one;

		if (n->sigs[i].keyhash != keyhash ||
		    strcmp(n->sigs[i].name, name) != 0)
			continue;
		one.text = n->text;
		one.text_len = n->text_len;
		one.sigs = &n->sigs[i];
		one.nsigs = 1;
		if ((r = note_verify(&one, v, NULL)) != ERR_OK) {
			if (r == ERR_NOMEM || r == ERR_CRYPTO ||
			    r == ERR_INTERNAL)
				return r;
			return ERR_SIGNATURE;
		}
		if (!found) {
			*idx = i;
			found = 1;
		}
	}
	return found ? ERR_OK : ERR_NOTFOUND;
}

/* "— NAME BASE64(keyhash || sig)\n" for a parsed signature, malloc'd. */
static int
signature_line(const struct note_sig *s, char **out)
{
	size_t raw_len, b64_len, cap;
	uint8_t *raw = NULL;
	char *line = NULL;
	int n, r = ERR_INTERNAL;

	*out = NULL;
	if (s->sig_len > NOTE_MAX_LEN)
		return ERR_TOOBIG;
	raw_len = 4 + s->sig_len;
	b64_len = sodium_base64_ENCODED_LEN(raw_len,
	    sodium_base64_VARIANT_ORIGINAL);
	cap = sizeof(EM_DASH) + 1 + strlen(s->name) + 1 + b64_len + 1;
	if ((raw = malloc(raw_len)) == NULL || (line = malloc(cap)) == NULL) {
		r = ERR_NOMEM;
		goto out;
	}
	raw[0] = (uint8_t)(s->keyhash >> 24);
	raw[1] = (uint8_t)(s->keyhash >> 16);
	raw[2] = (uint8_t)(s->keyhash >> 8);
	raw[3] = (uint8_t)s->keyhash;
	if (s->sig_len > 0)
		memcpy(raw + 4, s->sig, s->sig_len);
	n = snprintf(line, cap, EM_DASH " %s ", s->name);
	if (n < 0 || (size_t)n >= cap)
		goto out;
	sodium_bin2base64(line + n, cap - (size_t)n, raw, raw_len,
	    sodium_base64_VARIANT_ORIGINAL);
	n += (int)(b64_len - 1);
	line[n++] = '\n';
	line[n] = '\0';
	*out = line;
	line = NULL;
	r = ERR_OK;
 out:
	free(raw);
	free(line);
	return r;
}

/*
 * The checkpoint as the witness stores and serves it (tlog-witness,
 * monitor retrieval): the text, the log's signature it verified and its
 * own cosignature.
 */
static int
stored_note(const struct note *n, size_t sig_idx, const char *cosig,
    char **out, size_t *len)
{
	char *logsig = NULL, *buf = NULL;
	size_t a, b, c;
	int r;

	*out = NULL;
	*len = 0;
	if ((r = signature_line(&n->sigs[sig_idx], &logsig)) != ERR_OK)
		return r;
	a = n->text_len;
	b = strlen(logsig);
	c = strlen(cosig);
	if ((buf = malloc(a + 1 + b + c + 1)) == NULL) {
		free(logsig);
		return ERR_NOMEM;
	}
	memcpy(buf, n->text, a);
	buf[a] = '\n';
	memcpy(buf + a + 1, logsig, b);
	memcpy(buf + a + 1 + b, cosig, c);
	buf[a + 1 + b + c] = '\0';
	free(logsig);
	*out = buf;
	*len = a + 1 + b + c;
	return ERR_OK;
}

static int
text_reply(const char *msg, char **out, size_t *len)
{
	size_t n = strlen(msg);

	*out = NULL;
	*len = 0;
	if ((*out = malloc(n + 2)) == NULL)
		return ERR_NOMEM;
	memcpy(*out, msg, n);
	(*out)[n] = '\n';
	(*out)[n + 1] = '\0';
	*len = n + 1;
	return ERR_OK;
}

/* Copies untrusted text for a log line, escaping what could mislead. */
static void
escape(const char *s, char *buf, size_t sz)
{
	size_t o = 0;

	for (size_t i = 0; s[i] != '\0' && o + 5 < sz; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
			int n = snprintf(buf + o, sz - o, "\\x%02x", c);

			if (n < 0)
				break;
			o += (size_t)n;
		} else {
			buf[o++] = (char)c;
		}
		if (i >= 200) {
			if (o + 4 < sz) {
				memcpy(buf + o, "...", 3);
				o += 3;
			}
			break;
		}
	}
	buf[o] = '\0';
}

int
witness_add_checkpoint(struct witness *w, const char *body, size_t len,
    int *http_status, char **resp, size_t *resp_len)
{
	struct witness_request req;
	struct checkpoint cp;
	struct log_state ls;
	struct note *n = NULL;
	char *out = NULL, *cosig = NULL, *stored = NULL;
	char path[PATH_MAX], origin_esc[1024], old_s[24], size_s[24];
	size_t out_len = 0, stored_len = 0, sig_idx = 0;
	uint8_t empty[MERKLE_HASH_LEN];
	const char *why = "internal error";
	int status = 500, locked = 0, have_ls = 0, refused = 0, r = ERR_INTERNAL;
	time_t now;

	*http_status = 500;
	*resp = NULL;
	*resp_len = 0;
	memset(&cp, 0, sizeof(cp));
	memset(&ls, 0, sizeof(ls));
	memset(&req, 0, sizeof(req));
	snprintf(origin_esc, sizeof(origin_esc), "-");
	snprintf(old_s, sizeof(old_s), "-");
	snprintf(size_s, sizeof(size_s), "-");

	/* tlog-witness, add-checkpoint: the body's shape. */
	if (len > WITNESS_MAX_BODY) {
		status = 413;
		why = "request body too large";
		goto decided;
	}
	if (witness_request_parse(body, len, &req) != ERR_OK) {
		status = 400;
		why = "malformed add-checkpoint request";
		goto decided;
	}
	snprintf(old_s, sizeof(old_s), "%" PRIu64, req.old_size);
	if ((r = note_parse(req.note, req.note_len, &n)) != ERR_OK) {
		if (r == ERR_NOMEM)
			goto out;
		status = 400;
		why = "malformed checkpoint note";
		goto decided;
	}
	if ((r = checkpoint_parse(n->text, n->text_len, &cp)) != ERR_OK) {
		if (r == ERR_NOMEM)
			goto out;
		status = 400;
		why = "malformed checkpoint";
		goto decided;
	}
	escape(cp.origin, origin_esc, sizeof(origin_esc));
	snprintf(size_s, sizeof(size_s), "%" PRIu64, cp.size);

	/*
	 * From here to storing the new checkpoint the log's state must not
	 * change under us.
	 */
	if (pthread_mutex_lock(&w->mu) != 0) {
		r = ERR_INTERNAL;
		goto out;
	}
	locked = 1;
	/* "If the checkpoint origin is unknown ... 404 Not Found". */
	if ((r = log_state_load(w->dir, cp.origin, &ls)) != ERR_OK) {
		if (r != ERR_NOTFOUND)
			goto out;
		status = 404;
		why = "unknown log origin";
		goto decided;
	}
	have_ls = 1;
	/*
	 * "403 Forbidden if either no signature from a trusted key for the
	 * origin is present, or ... the signature itself fails to verify".
	 */
	if ((r = verify_log_signature(n, ls.v, &sig_idx)) != ERR_OK) {
		if (r != ERR_NOTFOUND && r != ERR_SIGNATURE)
			goto out;
		status = 403;
		why = r == ERR_SIGNATURE ? "invalid signature by the log's key" :
		    "checkpoint is not signed by the log's key";
		goto decided;
	}
	/* "The old size MUST be equal to or lower than the checkpoint size." */
	if (req.old_size > cp.size) {
		status = 400;
		why = "old size is larger than the checkpoint size";
		goto decided;
	}
	/*
	 * "If it doesn't match, ... 409 Conflict", with the size of the
	 * latest cosigned checkpoint as the body.
	 */
	if (req.old_size != ls.size) {
		char buf[32];

		snprintf(buf, sizeof(buf), "%" PRIu64, ls.size);
		if ((r = text_reply(buf, &out, &out_len)) != ERR_OK)
			goto out;
		status = 409;
		why = "old size does not match the witness's";
		goto decided;
	}
	/* "A checkpoint of size zero MUST have the root hash of the empty tree". */
	merkle_empty_root(empty);
	if (cp.size == 0 && sodium_memcmp(cp.root, empty, MERKLE_HASH_LEN) != 0) {
		status = 422;
		why = "size 0 checkpoint without the empty tree's root";
		refused = 1;
		goto decided;
	}
	if (req.old_size == 0) {
		/* "If the old size is zero, the consistency proof MUST be empty". */
		if (req.nproof != 0) {
			status = 422;
			why = "consistency proof from old size 0 is not empty";
			refused = 1;
			goto decided;
		}
	} else if (merkle_verify_consistency(ls.size, cp.size, ls.root, cp.root,
	    (const uint8_t (*)[MERKLE_HASH_LEN])req.proof, req.nproof) != ERR_OK) {
		/*
		 * "If a Merkle Consistency Proof doesn't verify" or "the old
		 * size matches the checkpoint size" and the roots differ:
		 * 422. merkle_verify_consistency covers both, since equal
		 * sizes need an empty proof and equal roots.
		 */
		status = 422;
		why = cp.size == ls.size ?
		    "same size as the cosigned checkpoint but a different root: "
		    "the log forked or was rewritten" :
		    "consistency proof does not verify: the log forked or was "
		    "rewritten";
		refused = 1;
		goto decided;
	}
	if (cp.size < ls.size) {
		/* Unreachable after the checks above; never roll back. */
		r = ERR_INTERNAL;
		goto out;
	}

	/*
	 * All checks passed: cosign, store, and only then answer ("The
	 * witness MUST persist the new checkpoint before responding").
	 * The timestamp must not be zero.
	 */
	if ((now = time(NULL)) <= 0) {
		r = ERR_INTERNAL;
		goto out;
	}
	if ((r = note_signature_line(w->signer, n->text, n->text_len,
	    (uint64_t)now, &cosig)) != ERR_OK)
		goto out;
	if ((r = stored_note(n, sig_idx, cosig, &stored, &stored_len)) != ERR_OK)
		goto out;
	if ((r = path_join(path, sizeof(path), ls.dir, "checkpoint")) != ERR_OK)
		goto out;
	if ((r = fs_write_atomic(path, stored, stored_len, 0644, 0)) != ERR_OK)
		goto out;
	out = cosig;
	out_len = strlen(cosig);
	cosig = NULL;
	status = 200;
	why = "cosigned";

 decided:
	/*
	 * "If the origin is known, and the signature is valid, the witness
	 * MAY log the request even if the checkpoint fails one of the
	 * consistency checks": keep the last such request as evidence.
	 */
	if (refused && have_ls) {
		if (path_join(path, sizeof(path), ls.dir, "refused") != ERR_OK ||
		    fs_write_atomic(path, body, len, 0644, 0) != ERR_OK) {
			if (!w->quiet)
				fprintf(stderr, "witness: origin \"%s\": could "
				    "not save the refused checkpoint as "
				    "evidence\n", origin_esc);
		}
	}
	if (out == NULL && (r = text_reply(why, &out, &out_len)) != ERR_OK)
		goto out;
	*http_status = status;
	*resp = out;
	*resp_len = out_len;
	out = NULL;
	r = ERR_OK;
 out:
	if (locked)
		pthread_mutex_unlock(&w->mu);
	if (r != ERR_OK) {
		status = 500;
		why = err_str(r);
	}
	if (!w->quiet)
		fprintf(stderr, "witness: add-checkpoint origin \"%s\" old %s "
		    "size %s: %d %s%s\n", origin_esc, old_s, size_s, status, why,
		    refused ? " (refused checkpoint kept as evidence)" : "");
	if (have_ls)
		log_state_release(&ls);
	checkpoint_release(&cp);
	note_free(n);
	free(out);
	free(cosig);
	free(stored);
	return r;
}

int
witness_cosignature_verify(const char *witness_vkey, const char *text,
    size_t text_len, const char *resp, size_t resp_len, uint64_t *timestamp)
{
	struct note_verifier *v = NULL;
	struct note *n = NULL;
	char *msg = NULL;
	int r = ERR_INTERNAL;

	if (timestamp != NULL)
		*timestamp = 0;
	if (text_len == 0 || text[text_len - 1] != '\n' ||
	    text_len > NOTE_MAX_LEN || resp_len > WITNESS_MAX_RESPONSE)
		return ERR_FORMAT;
	if ((r = note_verifier_from_vkey(witness_vkey, &v)) != ERR_OK)
		return r;
	if (note_verifier_alg(v) != NOTE_ALG_COSIGNATURE_V1) {
		r = ERR_UNSUPPORTED;
		goto out;
	}
	/* "the client MAY concatenate it to the checkpoint" (tlog-witness). */
	if ((msg = malloc(text_len + 1 + resp_len)) == NULL) {
		r = ERR_NOMEM;
		goto out;
	}
	memcpy(msg, text, text_len);
	msg[text_len] = '\n';
	memcpy(msg + text_len + 1, resp, resp_len);
	if ((r = note_parse(msg, text_len + 1 + resp_len, &n)) != ERR_OK)
		goto out;
	r = note_verify(n, v, timestamp);
 out:
	note_free(n);
	free(msg);
	note_verifier_free(v);
	return r;
}
