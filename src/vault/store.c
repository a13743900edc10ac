/*
 * store.c - the vault directory (layout in store.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <signal.h>

#include <jansson.h>
#include <sodium.h>

#include "audit/entry.h"
#include "audit/log.h"
#include "common/encoding.h"
#include "common/fsutil.h"
#include "common/fault.h"
#include "common/sha256.h"
#include "vault/store.h"
#include "common/endian.h"
#include "common/banned.h"

#define CONF_MAX 4096
#define HOST_FILE_MAX (VAULT_SSH_KEY_MAX + 1024)
#define RECEIVED_LINE_MAX (PACK_NAME_HEX_LEN + 1 + 20 + 1)
/*
 * Uploads are written with O_DIRECT, from an aligned buffer of this many
 * bytes: a pack is written once and read again only by a restore or a
 * check, so it has no business in the page cache. Copying it there cost
 * more CPU than anything else the receiver does (up to 4 s per GB on a VM
 * whose host backs freed guest pages lazily), and evicted what the
 * machine was using. Where the file system refuses O_DIRECT, or refuses
 * one of its writes, the upload goes on through the page cache.
 */
#define DIRECT_BUF	(4u << 20)
#define DIRECT_ALIGN	4096u	/* covers every block size Linux uses */

struct vault {
	char *dir;
	uint8_t pk[PACK_PK_LEN];
	uint8_t key_id[PACK_KEY_ID_LEN];
};

struct vault_upload {
	struct vault *v;
	char tmp[4096];
	int fd;
	int direct;		/* fd is O_DIRECT */
	uint8_t *buf;		/* DIRECT_BUF bytes, aligned; NULL: buffered */
	size_t buffered;	/* bytes in buf not yet written */
	uint64_t size;		/* bytes received */
	uint64_t written;	/* bytes in the file */
	struct sha256_ctx h;
};

static char *
path_join(const char *a, const char *b, const char *c)
{
	char *p = NULL;

	if (c != NULL) {
		if (asprintf(&p, "%s/%s/%s", a, b, c) < 0)
			return NULL;
	} else if (asprintf(&p, "%s/%s", a, b) < 0) {
		return NULL;
	}
	return p;
}

static int
write_new_file(const char *path, const char *text, mode_t mode)
{
	return fs_write_atomic(path, text, strlen(text), mode, FS_EXCL);
}

/* ---- Create and open ------------------------------------------------- */

static int
dir_is_empty_or_missing(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int empty = 1;

	if (d == NULL)
		return errno == ENOENT;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			empty = 0;
	closedir(d);
	return empty;
}

int
vault_create(const char *dir, const uint8_t pk[PACK_PK_LEN],
    const uint8_t repo_secret[REPO_SECRET_LEN], const char *origin,
    char **log_vkey, char *why, size_t whylen)
{
	static const struct {
		const char *name;
		mode_t mode;
	} subdirs[] = {
		{ "hosts", 0755 }, { "packs", 0755 }, { "received", 0755 },
		{ "snapshots", 0755 }, { "tmp", 0700 },
		{ "keys", 0711 },	/* repo.key in it is root's, 0600 */
	};
	char *p = NULL, *pk64 = NULL, *rk64 = NULL, text[256];
	int rc;

	*log_vkey = NULL;
	if (!dir_is_empty_or_missing(dir)) {
		err_why(why, whylen, "%s exists and is not empty", dir);
		return ERR_EXISTS;
	}
	if ((rc = fs_mkdirs(dir, 0755)) != ERR_OK) {
		err_why(why, whylen, "cannot create %s", dir);
		return rc;
	}
	rc = ERR_NOMEM;
	if ((pk64 = enc_base64_encode(pk, PACK_PK_LEN)) == NULL ||
	    (rk64 = enc_base64_encode(repo_secret, REPO_SECRET_LEN)) == NULL)
		goto out;
	for (size_t i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
		free(p);
		if ((p = path_join(dir, subdirs[i].name, NULL)) == NULL)
			goto out;
		if (mkdir(p, subdirs[i].mode) != 0) {
			rc = ERR_IO;
			goto out;
		}
	}
	free(p);
	if ((p = path_join(dir, "keys", "repo.key")) == NULL)
		goto out;
	snprintf(text, sizeof(text), "repo-key %s\n", rk64);
	rc = write_new_file(p, text, 0600);
	sodium_memzero(text, sizeof(text));
	if (rc != ERR_OK)
		goto out;
	free(p);
	if ((p = path_join(dir, "log", NULL)) == NULL) {
		rc = ERR_NOMEM;
		goto out;
	}
	if ((rc = audit_log_create(p, origin, log_vkey)) != ERR_OK) {
		err_why(why, whylen, "cannot create the audit log in %s", p);
		goto out;
	}
	free(p);
	if ((p = path_join(dir, "vault.conf", NULL)) == NULL) {
		rc = ERR_NOMEM;
		goto out;
	}
	/* Last, so that a vault.conf means a complete vault. */
	snprintf(text, sizeof(text), "%s\nvault-key %s\n", VAULT_MAGIC, pk64);
	if ((rc = write_new_file(p, text, 0644)) != ERR_OK)
		goto out;
	rc = fs_sync_dir(dir);
out:
	if (rc != ERR_OK && why != NULL && why[0] == '\0')
		err_why(why, whylen, "cannot write the vault in %s", dir);
	free(p);
	free(pk64);
	if (rk64 != NULL)
		sodium_memzero(rk64, strlen(rk64));
	free(rk64);
	return rc;
}

int
vault_open(const char *dir, struct vault **out, char *why, size_t whylen)
{
	char *p, *text = NULL;
	size_t len, got;
	struct vault *v;
	int rc;

	*out = NULL;
	if ((p = path_join(dir, "vault.conf", NULL)) == NULL)
		return ERR_NOMEM;
	rc = fs_read_file(p, CONF_MAX, &text, &len);
	free(p);
	if (rc != ERR_OK) {
		err_why(why, whylen, "%s is not a vault (no readable "
		    "vault.conf; bulwark vault init makes one)", dir);
		return rc;
	}
	const char *want = VAULT_MAGIC "\nvault-key ";
	size_t wl = strlen(want);
	if ((v = calloc(1, sizeof(*v))) == NULL) {
		free(text);
		return ERR_NOMEM;
	}
	if (len < wl + 2 || memcmp(text, want, wl) != 0 ||
	    text[len - 1] != '\n' ||
	    enc_base64_decode(text + wl, len - wl - 1, v->pk, sizeof(v->pk),
	    &got) != ERR_OK || got != sizeof(v->pk)) {
		err_why(why, whylen, "%s/vault.conf is malformed", dir);
		free(text);
		free(v);
		return ERR_FORMAT;
	}
	free(text);
	if ((rc = pack_vault_key_id(v->pk, v->key_id)) != ERR_OK ||
	    (v->dir = strdup(dir)) == NULL) {
		free(v);
		return rc != ERR_OK ? rc : ERR_NOMEM;
	}
	*out = v;
	return ERR_OK;
}

void
vault_close(struct vault *v)
{
	if (v == NULL)
		return;
	free(v->dir);
	free(v);
}

const char *
vault_dir(const struct vault *v)
{
	return v->dir;
}

const uint8_t *
vault_pk(const struct vault *v)
{
	return v->pk;
}

const uint8_t *
vault_key_id(const struct vault *v)
{
	return v->key_id;
}

int
vault_repo_secret(const struct vault *v, uint8_t out[REPO_SECRET_LEN])
{
	char *p = path_join(v->dir, "keys", "repo.key"), *text = NULL;
	size_t len, got;
	int rc;

	if (p == NULL)
		return ERR_NOMEM;
	rc = fs_read_file(p, CONF_MAX, &text, &len);
	free(p);
	if (rc != ERR_OK)
		return errno == EACCES ? ERR_DENIED : rc;
	rc = ERR_FORMAT;
	if (len > 10 && memcmp(text, "repo-key ", 9) == 0 &&
	    text[len - 1] == '\n' &&
	    enc_base64_decode(text + 9, len - 10, out, REPO_SECRET_LEN,
	    &got) == ERR_OK && got == REPO_SECRET_LEN)
		rc = ERR_OK;
	sodium_memzero(text, len);
	free(text);
	return rc;
}

/* ---- Hosts ------------------------------------------------------------ */

static char *
host_path(const struct vault *v, const char *sub, const char *name)
{
	if (!backup_host_name_ok(name))
		return NULL;
	return path_join(v->dir, sub, name);
}

int
vault_host_add(struct vault *v, const struct vault_host *h)
{
	char *p, *pk64, *text = NULL;
	int rc;

	if (!backup_host_name_ok(h->name) ||
	    memchr(h->ssh_key, '\n', strnlen(h->ssh_key,
	    sizeof(h->ssh_key))) != NULL ||
	    strnlen(h->ssh_key, sizeof(h->ssh_key)) == sizeof(h->ssh_key))
		return ERR_INVAL;
	if ((p = host_path(v, "hosts", h->name)) == NULL)
		return ERR_NOMEM;
	if ((pk64 = enc_base64_encode(h->sign_pk, sizeof(h->sign_pk))) == NULL ||
	    asprintf(&text, "sign-key %s\nquota %llu\nssh-key %s\n", pk64,
	    (unsigned long long)h->quota, h->ssh_key) < 0) {
		free(p);
		free(pk64);
		return ERR_NOMEM;
	}
	rc = write_new_file(p, text, 0644);
	free(p);
	free(pk64);
	free(text);
	return rc;
}

/* Reads "KEY VALUE\n" at *pos; the value is NUL-terminated in place. */
static int
take_line(char *text, size_t len, size_t *pos, const char *key, char **val)
{
	size_t kl = strlen(key);
	char *line = text + *pos, *nl;

	if (*pos >= len || len - *pos < kl + 2 ||
	    memcmp(line, key, kl) != 0 || line[kl] != ' ')
		return ERR_FORMAT;
	if ((nl = memchr(line, '\n', len - *pos)) == NULL ||
	    memchr(line, '\0', (size_t)(nl - line)) != NULL)
		return ERR_FORMAT;
	*nl = '\0';
	*val = line + kl + 1;
	*pos = (size_t)(nl - text) + 1;
	return ERR_OK;
}

int
vault_host_get(const struct vault *v, const char *name,
    struct vault_host *out)
{
	char *p, *text = NULL, *val;
	size_t len, pos = 0, got;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!backup_host_name_ok(name))
		return ERR_NOTFOUND;
	if ((p = host_path(v, "hosts", name)) == NULL)
		return ERR_NOMEM;
	rc = fs_read_file(p, HOST_FILE_MAX, &text, &len);
	free(p);
	if (rc != ERR_OK)
		return rc;
	snprintf(out->name, sizeof(out->name), "%s", name);
	rc = ERR_FORMAT;
	if (take_line(text, len, &pos, "sign-key", &val) != ERR_OK ||
	    enc_base64_decode(val, strlen(val), out->sign_pk,
	    sizeof(out->sign_pk), &got) != ERR_OK || got != MANIFEST_PK_LEN)
		goto out;
	if (take_line(text, len, &pos, "quota", &val) != ERR_OK ||
	    enc_u64_parse(val, strlen(val), &out->quota) != ERR_OK)
		goto out;
	if (take_line(text, len, &pos, "ssh-key", &val) != ERR_OK ||
	    strlen(val) >= sizeof(out->ssh_key) || pos != len)
		goto out;
	memcpy(out->ssh_key, val, strlen(val) + 1);
	rc = ERR_OK;
out:
	free(text);
	return rc;
}

/* ---- Packs ------------------------------------------------------------- */

static int
hex_of_len(const char *s, size_t n)
{
	if (strlen(s) != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

static int
name_ok(const char *name)
{
	return hex_of_len(name, PACK_NAME_HEX_LEN);
}

int
vault_pack_name_ok(const char *name)
{
	return name_ok(name);
}

int
vault_pack_path(const struct vault *v, const char *name, char *buf,
    size_t cap)
{
	int n;

	if (!name_ok(name))
		return ERR_FORMAT;
	n = snprintf(buf, cap, "%s/packs/%.2s/%s", v->dir, name, name);
	return n < 0 || (size_t)n >= cap ? ERR_TOOBIG : ERR_OK;
}

int
vault_pack_open(const struct vault *v, const char *name)
{
	char path[4096];
	struct stat st;
	int fd, rc;

	if ((rc = vault_pack_path(v, name, path, sizeof(path))) != ERR_OK)
		return rc;
	/*
	 * A pack is a regular file; O_NONBLOCK so that a FIFO in its place
	 * (a tampered vault or copy) is refused instead of blocking open().
	 */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW |
	    O_NONBLOCK)) < 0)
		return errno == ENOENT ? ERR_NOTFOUND : ERR_IO;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		errno = EINVAL;
		return ERR_FORMAT;
	}
	return fd;
}

static int
cmp_name(const void *a, const void *b)
{
	return strcmp(a, b);
}

int
vault_pack_list(const struct vault *v, char (**names)[PACK_NAME_HEX_LEN + 1],
    size_t *n)
{
	char *top = path_join(v->dir, "packs", NULL);
	char (*list)[PACK_NAME_HEX_LEN + 1] = NULL;
	size_t cap = 0, cnt = 0;
	DIR *d, *sd;
	struct dirent *e, *f;
	int rc = ERR_OK;

	*names = NULL;
	*n = 0;
	if (top == NULL)
		return ERR_NOMEM;
	if ((d = opendir(top)) == NULL) {
		free(top);
		return ERR_IO;
	}
	while (rc == ERR_OK && (e = readdir(d)) != NULL) {
		if (strlen(e->d_name) != 2 || e->d_name[0] == '.')
			continue;
		char *sub = path_join(top, e->d_name, NULL);
		if (sub == NULL || (sd = opendir(sub)) == NULL) {
			free(sub);
			rc = sub == NULL ? ERR_NOMEM : ERR_IO;
			break;
		}
		while ((f = readdir(sd)) != NULL) {
			if (!name_ok(f->d_name) ||
			    memcmp(f->d_name, e->d_name, 2) != 0)
				continue;
			if (cnt == cap) {
				size_t nc = cap ? cap * 2 : 256;
				void *nl = realloc(list, nc * sizeof(*list));
				if (nl == NULL) {
					rc = ERR_NOMEM;
					break;
				}
				list = nl;
				cap = nc;
			}
			memcpy(list[cnt++], f->d_name, PACK_NAME_HEX_LEN + 1);
		}
		closedir(sd);
		free(sub);
	}
	closedir(d);
	free(top);
	if (rc != ERR_OK) {
		free(list);
		return rc;
	}
	if (cnt > 1)
		qsort(list, cnt, sizeof(*list), cmp_name);
	*names = list;
	*n = cnt;
	return ERR_OK;
}

int
vault_upload_begin(struct vault *v, struct vault_upload **out)
{
	static unsigned counter;
	struct vault_upload *u = calloc(1, sizeof(*u));

	*out = NULL;
	if (u == NULL)
		return ERR_NOMEM;
	u->v = v;
	snprintf(u->tmp, sizeof(u->tmp), "%s/tmp/upload.%ld.%u", v->dir,
	    (long)getpid(), counter++);
	u->fd = open(u->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
	    O_DIRECT, 0600);
	if (u->fd >= 0) {
		u->direct = 1;
	} else if (errno == EINVAL) {
		u->fd = open(u->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
		    0600);
	}
	if (u->fd < 0) {
		free(u);
		return ERR_IO;
	}
	if (u->direct && posix_memalign((void **)&u->buf, DIRECT_ALIGN,
	    DIRECT_BUF) != 0)
		u->buf = NULL;
	sha256_init(&u->h);
	*out = u;
	return ERR_OK;
}

/* Leaves direct I/O for the rest of the upload: the page cache it is. */
static int
upload_buffered(struct vault_upload *u)
{
	int fl = fcntl(u->fd, F_GETFL);

	if (fl < 0 || fcntl(u->fd, F_SETFL, fl & ~O_DIRECT) != 0)
		return ERR_IO;
	u->direct = 0;
	return ERR_OK;
}

/* Writes n bytes of buf at the end of the file, direct when it can. */
static int
upload_put(struct vault_upload *u, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w;

		/* Tests refuse a direct write as a file system would. */
		if (u->direct && fault_hit("direct")) {
			errno = EINVAL;
			w = -1;
		} else {
			w = pwrite(u->fd, p, n, (off_t)u->written);
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EINVAL && u->direct) {
			if (upload_buffered(u) != ERR_OK)
				return ERR_IO;
			continue;
		}
		if (w <= 0)
			return ERR_IO;
		p += w;
		n -= (size_t)w;
		u->written += (uint64_t)w;
	}
	return ERR_OK;
}

/*
 * Writes what buf holds: all of it when it is a multiple of the
 * alignment, else (at the end) the aligned part direct and the tail
 * through the page cache.
 */
static int
upload_flush(struct vault_upload *u)
{
	size_t head = u->buffered / DIRECT_ALIGN * DIRECT_ALIGN;
	int rc;

	if (head > 0 && (rc = upload_put(u, u->buf, head)) != ERR_OK)
		return rc;
	if (head < u->buffered) {
		if (u->direct && (rc = upload_buffered(u)) != ERR_OK)
			return rc;
		if ((rc = upload_put(u, u->buf + head, u->buffered - head)) !=
		    ERR_OK)
			return rc;
	}
	u->buffered = 0;
	return ERR_OK;
}

int
vault_upload_write(struct vault_upload *u, const void *p, size_t n)
{
	const uint8_t *b = p;
	int rc;

	if (u->fd < 0)
		return ERR_INVAL;
	if (u->size + n > PACK_MAX_SIZE)
		return ERR_TOOBIG;
	sha256_update(&u->h, p, n);
	u->size += n;
	if (u->buf == NULL)
		return upload_put(u, b, n);
	while (n > 0) {
		size_t step = DIRECT_BUF - u->buffered;

		if (step > n)
			step = n;
		memcpy(u->buf + u->buffered, b, step);
		u->buffered += step;
		b += step;
		n -= step;
		if (u->buffered == DIRECT_BUF &&
		    (rc = upload_flush(u)) != ERR_OK)
			return rc;
	}
	return ERR_OK;
}

/* Appends "NAME SIZE\n" to received/HOST and makes it durable. */
static int
received_append(struct vault *v, const char *host, const char *name,
    uint64_t size)
{
	char *p = host_path(v, "received", host), line[RECEIVED_LINE_MAX + 1];
	struct stat st;
	int fd, rc, created;

	if (p == NULL)
		return ERR_NOMEM;
	created = access(p, F_OK) != 0;
	fd = open(p, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	free(p);
	if (fd < 0)
		return ERR_IO;
	/*
	 * A crash may have torn the last line. It was never acknowledged
	 * (the acknowledgement follows the fdatasync of a whole line), so it
	 * goes: cut the file back to its last newline before adding.
	 */
	if (fstat(fd, &st) == 0 && st.st_size > 0) {
		char tail[RECEIVED_LINE_MAX + 1];
		off_t from = st.st_size > (off_t)sizeof(tail) ?
		    st.st_size - (off_t)sizeof(tail) : 0;
		ssize_t got = pread(fd, tail, (size_t)(st.st_size - from), from);
		int rfd = -1;
		if (got <= 0) {
			/* O_APPEND descriptors can be read only when O_RDWR. */
			p = host_path(v, "received", host);
			rfd = p != NULL ? open(p, O_RDONLY | O_CLOEXEC) : -1;
			free(p);
			got = rfd >= 0 ? pread(rfd, tail,
			    (size_t)(st.st_size - from), from) : -1;
			if (rfd >= 0)
				close(rfd);
		}
		if (got <= 0) {
			close(fd);
			return ERR_IO;
		}
		if (tail[got - 1] != '\n') {
			off_t keep = from;
			for (ssize_t i = got; i-- > 0;)
				if (tail[i] == '\n') {
					keep = from + i + 1;
					break;
				}
			if (ftruncate(fd, keep) != 0) {
				close(fd);
				return ERR_IO;
			}
		}
	}
	int n = snprintf(line, sizeof(line), "%s %llu\n", name,
	    (unsigned long long)size);
	rc = fs_write_all(fd, line, (size_t)n);
	if (rc == ERR_OK)
		rc = fs_sync(fd, 0);
	close(fd);
	if (rc == ERR_OK && created) {
		char *d = path_join(v->dir, "received", NULL);
		rc = d != NULL ? fs_sync_dir(d) : ERR_NOMEM;
		free(d);
	}
	return rc;
}

static int
check_upload(struct vault_upload *u, const char *name)
{
	uint8_t h[SHA256_LEN], want[SHA256_LEN];
	struct pack_info info;
	size_t got;
	int rc;

	sha256_final(&u->h, h);
	if (!name_ok(name) ||
	    sodium_hex2bin(want, sizeof(want), name, PACK_NAME_HEX_LEN, NULL,
	    &got, NULL) != 0 || got != sizeof(want))
		return ERR_FORMAT;
	if (sodium_memcmp(h, want, sizeof(h)) != 0)
		return ERR_MISMATCH;
	/* Read back what the disk holds, not what was sent. */
	int rfd = open(u->tmp, O_RDONLY | O_CLOEXEC);
	if (rfd < 0)
		return ERR_IO;
	rc = pack_check_structure_fd(rfd, &info);
	close(rfd);
	if (rc != ERR_OK)
		return rc;
	if (info.size != u->size)
		return ERR_FORMAT;
	if (memcmp(info.key_id, u->v->key_id, PACK_KEY_ID_LEN) != 0)
		return ERR_NOTFOUND;
	return ERR_OK;
}

uint64_t
vault_upload_size(const struct vault_upload *u)
{
	return u->size;
}

int
vault_upload_commit(struct vault_upload *u, const char *name,
    const char *host, int listed, int *existed)
{
	char final[4096], sub[4096], top[4096];
	int rc;

	*existed = 0;
	if (u->fd < 0)
		return ERR_INVAL;
	if ((u->buf != NULL && (rc = upload_flush(u)) != ERR_OK) ||
	    (rc = check_upload(u, name)) != ERR_OK)
		goto fail;
	if (fchmod(u->fd, 0444) != 0 || (rc = fs_sync(u->fd, 1)) != ERR_OK) {
		rc = ERR_IO;
		goto fail;
	}
	close(u->fd);
	u->fd = -1;
	if ((rc = vault_pack_path(u->v, name, final, sizeof(final))) != ERR_OK)
		goto fail;
	/* final is DIR/packs/XX/NAME: sub is its directory, top sub's. */
	memcpy(sub, final, sizeof(sub));
	*strrchr(sub, '/') = '\0';
	memcpy(top, sub, sizeof(top));
	*strrchr(top, '/') = '\0';
	if (mkdir(sub, 0755) != 0 && errno != EEXIST) {
		rc = ERR_IO;
		goto fail;
	}
	/*
	 * Synced even when another receive made sub: that one may not have
	 * synced yet, and this one acknowledges on its own. Clean, it is
	 * cheap.
	 */
	if ((rc = fs_sync_dir(top)) != ERR_OK)
		goto fail;
	/* link() never replaces: what is in the vault stays as it is. */
	if (link(u->tmp, final) != 0) {
		if (errno != EEXIST) {
			rc = ERR_IO;
			goto fail;
		}
		*existed = 1;
	}
	unlink(u->tmp);
	u->tmp[0] = '\0';
	/* Even if it existed: its writer may not have synced it yet. */
	if ((rc = fs_sync_dir(sub)) != ERR_OK)
		return rc;
	/* Sent again: the list keeps one line per pack, however often. */
	return listed ? ERR_OK : received_append(u->v, host, name, u->size);
fail:
	if (u->fd >= 0) {
		close(u->fd);
		u->fd = -1;
	}
	if (u->tmp[0] != '\0') {
		unlink(u->tmp);
		u->tmp[0] = '\0';
	}
	return rc;
}

/* Is "NAME.tmp.PID" a temporary file whose writer is gone? */
static int
dead_tmp(const char *name)
{
	const char *t = strstr(name, ".tmp.");
	char *end;
	long pid;

	if (t == NULL)
		return 0;
	errno = 0;
	pid = strtol(t + 5, &end, 10);
	if (errno != 0 || *end != '\0' || pid <= 0 || pid == (long)getpid())
		return 0;
	return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

/* Snapshot records whose write was cut short (fs_write_atomic's temp). */
static void
sweep_snapshot_tmp(struct vault *v, size_t *removed)
{
	char *top = path_join(v->dir, "snapshots", NULL);
	struct dirent *e, *f;
	DIR *d, *hd;

	if (top == NULL || (d = opendir(top)) == NULL) {
		free(top);
		return;
	}
	while ((e = readdir(d)) != NULL) {
		if (!backup_host_name_ok(e->d_name))
			continue;
		char *hp = path_join(top, e->d_name, NULL);
		if (hp != NULL && (hd = opendir(hp)) != NULL) {
			while ((f = readdir(hd)) != NULL)
				if (dead_tmp(f->d_name) &&
				    unlinkat(dirfd(hd), f->d_name, 0) == 0)
					(*removed)++;
			closedir(hd);
		}
		free(hp);
	}
	closedir(d);
	free(top);
}

int
vault_tmp_sweep(struct vault *v, size_t *removed)
{
	char *dir = path_join(v->dir, "tmp", NULL);
	struct dirent *e;
	DIR *d;

	*removed = 0;
	if (dir == NULL)
		return ERR_NOMEM;
	if ((d = opendir(dir)) == NULL) {
		free(dir);
		return ERR_IO;
	}
	while ((e = readdir(d)) != NULL) {
		long pid;
		unsigned n;
		char extra;
		if (sscanf(e->d_name, "upload.%ld.%u%c", &pid, &n, &extra) != 2 ||
		    pid <= 0 || pid == (long)getpid())
			continue;
		/* Its writer is gone: nothing was acknowledged from it. */
		if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		if (unlinkat(dirfd(d), e->d_name, 0) == 0)
			(*removed)++;
	}
	closedir(d);
	free(dir);
	sweep_snapshot_tmp(v, removed);
	return ERR_OK;
}

void
vault_upload_abort(struct vault_upload *u)
{
	if (u == NULL)
		return;
	if (u->fd >= 0)
		close(u->fd);
	if (u->tmp[0] != '\0')
		unlink(u->tmp);
	free(u->buf);
	free(u);
}

/* ---- Received lists ---------------------------------------------------- */

static int
parse_received_line(const char *line, size_t len,
    char name[PACK_NAME_HEX_LEN + 1], uint64_t *size)
{
	if (len < PACK_NAME_HEX_LEN + 2 || line[PACK_NAME_HEX_LEN] != ' ')
		return ERR_FORMAT;
	memcpy(name, line, PACK_NAME_HEX_LEN);
	name[PACK_NAME_HEX_LEN] = '\0';
	if (!name_ok(name))
		return ERR_FORMAT;
	if (enc_u64_parse(line + PACK_NAME_HEX_LEN + 1,
	    len - PACK_NAME_HEX_LEN - 1, size) != ERR_OK ||
	    *size > PACK_MAX_SIZE)
		return ERR_FORMAT;
	return ERR_OK;
}

struct name_size {
	char name[PACK_NAME_HEX_LEN + 1];
	uint64_t size;
};

static int
cmp_ns(const void *a, const void *b)
{
	return strcmp(((const struct name_size *)a)->name,
	    ((const struct name_size *)b)->name);
}

int
vault_received_load(const struct vault *v, const char *host,
    struct vault_received *out)
{
	char *p = host_path(v, "received", host), *text = NULL;
	struct name_size *ns = NULL;
	size_t len, pos = 0, cnt = 0, cap = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	if (p == NULL)
		return backup_host_name_ok(host) ? ERR_NOMEM : ERR_INVAL;
	rc = fs_read_file(p, (size_t)1 << 30, &text, &len);
	free(p);
	if (rc == ERR_NOTFOUND)
		return ERR_OK;
	if (rc != ERR_OK)
		return rc;
	while (pos < len) {
		const char *line = text + pos;
		const char *nl = memchr(line, '\n', len - pos);
		if (nl == NULL)
			break;	/* a line torn by a crash: never acknowledged */
		size_t ll = (size_t)(nl - line);
		pos += ll + 1;
		if (cnt == cap) {
			size_t nc = cap ? cap * 2 : 64;
			void *nn = realloc(ns, nc * sizeof(*ns));
			if (nn == NULL) {
				rc = ERR_NOMEM;
				goto fail;
			}
			ns = nn;
			cap = nc;
		}
		if (ll == 0 && pos == len)
			break;
		if (parse_received_line(line, ll, ns[cnt].name,
		    &ns[cnt].size) != ERR_OK) {
			rc = ERR_FORMAT;
			goto fail;
		}
		cnt++;
	}
	free(text);
	text = NULL;
	if (cnt > 1)
		qsort(ns, cnt, sizeof(*ns), cmp_ns);
	out->names = malloc((cnt ? cnt : 1) * sizeof(*out->names));
	out->sizes = malloc((cnt ? cnt : 1) * sizeof(*out->sizes));
	if (out->names == NULL || out->sizes == NULL) {
		rc = ERR_NOMEM;
		goto fail;
	}
	/* The same pack sent twice counts once. */
	for (size_t i = 0; i < cnt; i++) {
		if (out->n > 0 && strcmp(out->names[out->n - 1],
		    ns[i].name) == 0)
			continue;
		memcpy(out->names[out->n], ns[i].name, PACK_NAME_HEX_LEN + 1);
		out->sizes[out->n] = ns[i].size;
		out->total += vault_quota_charge(ns[i].size);
		out->n++;
	}
	free(ns);
	return ERR_OK;
fail:
	free(text);
	free(ns);
	vault_received_free(out);
	return rc;
}

uint64_t
vault_quota_charge(uint64_t size)
{
	uint64_t b = VAULT_QUOTA_BLOCK;

	return size > UINT64_MAX - b ? UINT64_MAX : (size + b - 1) / b * b;
}

int
vault_host_lock(const struct vault *v, const char *host, int wait_ms,
    int *fdp)
{
	char *top = path_join(v->dir, "locks", NULL), *path = NULL;
	int fd = -1, rc = ERR_NOMEM, waited = 0;

	*fdp = -1;
	if (top == NULL || (path = host_path(v, "locks", host)) == NULL)
		goto out;
	/* Vaults made before the lock have no locks/ yet. */
	if (mkdir(top, 0700) != 0 && errno != EEXIST) {
		rc = ERR_IO;
		goto out;
	}
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    0600)) < 0) {
		rc = ERR_IO;
		goto out;
	}
	while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		if ((errno != EWOULDBLOCK && errno != EINTR) ||
		    waited >= wait_ms) {
			rc = errno == EWOULDBLOCK ? ERR_LOCKED : ERR_IO;
			close(fd);
			goto out;
		}
		usleep(100 * 1000);
		waited += 100;
	}
	*fdp = fd;
	rc = ERR_OK;
out:
	free(top);
	free(path);
	return rc;
}

int
vault_snapshot_charges(const struct vault *v, const char *host,
    uint64_t *bytes)
{
	char *dir = host_path(v, "snapshots", host);
	struct dirent *de;
	struct stat st;
	DIR *d;

	*bytes = 0;
	if (dir == NULL)
		return ERR_NOMEM;
	if ((d = opendir(dir)) == NULL) {
		free(dir);
		return errno == ENOENT ? ERR_OK : ERR_IO;
	}
	free(dir);
	while ((de = readdir(d)) != NULL) {
		/* Records and their temporary files alike take room. */
		if (de->d_name[0] == '.' || fstatat(dirfd(d), de->d_name, &st,
		    AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
			continue;
		*bytes += vault_quota_charge((uint64_t)st.st_size);
	}
	closedir(d);
	return ERR_OK;
}

int
vault_received_has(const struct vault_received *r, const char *name)
{
	return r->n > 0 && bsearch(name, r->names, r->n, sizeof(*r->names),
	    cmp_name) != NULL;
}

void
vault_received_free(struct vault_received *r)
{
	free(r->names);
	free(r->sizes);
	memset(r, 0, sizeof(*r));
}

/* ---- Snapshots -------------------------------------------------------- */

int
vault_snapshot_put(struct vault *v, const char *host, const uint8_t *mf,
    size_t len, uint64_t received)
{
	struct manifest *m = NULL;
	char id[MANIFEST_ID_HEX_LEN + 1], *dir = NULL, *path = NULL;
	uint8_t *rec = NULL;
	int rc, made;

	if ((rc = manifest_parse_unverified(mf, len, &m)) != ERR_OK)
		return rc;
	manifest_id_hex(m, id);
	manifest_free(m);
	rc = ERR_NOMEM;
	if ((dir = host_path(v, "snapshots", host)) == NULL ||
	    (path = path_join(dir, id, NULL)) == NULL ||
	    (rec = malloc(VAULT_SNAP_HEADER_LEN + len)) == NULL)
		goto out;
	made = mkdir(dir, 0755) == 0;
	if (!made && errno != EEXIST) {
		rc = ERR_IO;
		goto out;
	}
	if (made) {
		char *top = path_join(v->dir, "snapshots", NULL);
		rc = top != NULL ? fs_sync_dir(top) : ERR_NOMEM;
		free(top);
		if (rc != ERR_OK)
			goto out;
	}
	memcpy(rec, VAULT_SNAP_MAGIC, 4);
	be_put32(rec + 4, 1);
	be_put64(rec + 8, received);
	memcpy(rec + VAULT_SNAP_HEADER_LEN, mf, len);
	rc = fs_write_atomic(path, rec, VAULT_SNAP_HEADER_LEN + len, 0444,
	    FS_EXCL);
out:
	free(dir);
	free(path);
	free(rec);
	return rc;
}

static int
is_snapshot_id(const char *s)
{
	return hex_of_len(s, MANIFEST_ID_HEX_LEN);
}

static int
load_snapshot(const struct vault *v, const char *host, const char *file,
    struct vault_snapshot *s, const char **why)
{
	struct vault_host h;
	char *path = NULL, *text = NULL;
	size_t len;
	int rc;

	memset(s, 0, sizeof(*s));
	*why = "cannot read it";
	if ((path = path_join(v->dir, "snapshots", host)) == NULL)
		return ERR_NOMEM;
	char *full = path_join(path, file, NULL);
	free(path);
	if (full == NULL)
		return ERR_NOMEM;
	rc = fs_read_file(full, VAULT_SNAP_HEADER_LEN + VAULT_MANIFEST_MAX,
	    &text, &len);
	free(full);
	if (rc != ERR_OK)
		return rc;
	const uint8_t *b = (const uint8_t *)text;
	*why = "not a snapshot record";
	if (len < VAULT_SNAP_HEADER_LEN || memcmp(b, VAULT_SNAP_MAGIC, 4) != 0 ||
	    b[4] != 0 || b[5] != 0 || b[6] != 0 || b[7] != 1) {
		free(text);
		return ERR_FORMAT;
	}
	*why = "its host is not enrolled";
	if ((rc = vault_host_get(v, host, &h)) != ERR_OK) {
		free(text);
		return rc;
	}
	*why = "its manifest does not verify with the host's key";
	rc = manifest_parse_verify(b + VAULT_SNAP_HEADER_LEN,
	    len - VAULT_SNAP_HEADER_LEN, h.sign_pk, &s->m);
	if (rc != ERR_OK) {
		free(text);
		return rc;
	}
	manifest_id_hex(s->m, s->id);
	*why = "it is filed under another host or ID";
	if (strcmp(s->m->host, host) != 0 || strcmp(s->id, file) != 0) {
		manifest_free(s->m);
		s->m = NULL;
		free(text);
		return ERR_FORMAT;
	}
	snprintf(s->host, sizeof(s->host), "%s", host);
	s->received = be_get64(b + 8);
	s->rawlen = len - VAULT_SNAP_HEADER_LEN;
	memmove(text, text + VAULT_SNAP_HEADER_LEN, s->rawlen);
	s->raw = (uint8_t *)text;
	return ERR_OK;
}

static int
cmp_snap(const void *a, const void *b)
{
	const struct vault_snapshot *x = a, *y = b;

	if (x->received != y->received)
		return x->received < y->received ? -1 : 1;
	return strcmp(x->id, y->id);
}

int
vault_snapshot_each(const struct vault *v,
    int (*fn)(struct vault_snapshot *s, void *arg), void *arg,
    void (*bad)(const char *, const char *, void *), void *bad_arg)
{
	char *top = path_join(v->dir, "snapshots", NULL);
	DIR *d, *hd;
	struct dirent *e, *f;
	int rc = ERR_OK;

	if (top == NULL)
		return ERR_NOMEM;
	if ((d = opendir(top)) == NULL) {
		free(top);
		return ERR_IO;
	}
	while (rc == ERR_OK && (e = readdir(d)) != NULL) {
		if (!backup_host_name_ok(e->d_name))
			continue;
		char *hp = path_join(top, e->d_name, NULL);
		if (hp == NULL || (hd = opendir(hp)) == NULL) {
			free(hp);
			continue;
		}
		while (rc == ERR_OK && (f = readdir(hd)) != NULL) {
			struct vault_snapshot s;
			const char *why;
			/*
			 * Records are named by their 32-hex ID; anything else
			 * is the temporary file of a write a crash cut short
			 * (never acknowledged; the next receive sweeps it).
			 */
			if (!is_snapshot_id(f->d_name))
				continue;
			memset(&s, 0, sizeof(s));
			int r = load_snapshot(v, e->d_name, f->d_name, &s,
			    &why);
			if (r == ERR_OK) {
				rc = fn(&s, arg);
				manifest_free(s.m);
				free(s.raw);
			} else if (r == ERR_NOMEM) {
				rc = r;
			} else if (bad != NULL) {
				char where[1024];
				snprintf(where, sizeof(where),
				    "%s/%s/%s", top, e->d_name, f->d_name);
				bad(where, why, bad_arg);
			}
		}
		closedir(hd);
		free(hp);
	}
	closedir(d);
	free(top);
	return rc;
}

/* Collects what vault_snapshot_each hands out: the list's own walk. */
struct snap_list {
	struct vault_snapshot *list;
	size_t n, cap;
};

static int
snap_append(struct vault_snapshot *s, void *arg)
{
	struct snap_list *l = arg;
	struct vault_snapshot *c;

	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 64;
		void *nl = realloc(l->list, nc * sizeof(*l->list));

		if (nl == NULL)
			return ERR_NOMEM;
		l->list = nl;
		l->cap = nc;
	}
	c = &l->list[l->n++];
	*c = *s;
	s->m = NULL;	/* taken */
	s->raw = NULL;
	return ERR_OK;
}

int
vault_snapshot_list(const struct vault *v, struct vault_snapshot **out,
    size_t *n, void (*bad)(const char *, const char *, void *), void *arg)
{
	struct snap_list l = { NULL, 0, 0 };
	int rc;

	*out = NULL;
	*n = 0;
	if ((rc = vault_snapshot_each(v, snap_append, &l, bad, arg)) !=
	    ERR_OK) {
		vault_snapshots_free(l.list, l.n);
		return rc;
	}
	if (l.n > 1)
		qsort(l.list, l.n, sizeof(*l.list), cmp_snap);
	*out = l.list;
	*n = l.n;
	return ERR_OK;
}

void
vault_snapshots_free(struct vault_snapshot *s, size_t n)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		manifest_free(s[i].m);
		free(s[i].raw);
	}
	free(s);
}

/* vault_snapshot_get's walk: the first match kept, later ones counted. */
struct snap_get {
	const char *host, *prefix;
	size_t plen, matches;
	struct vault_snapshot *out;
};

static int
snap_get_one(struct vault_snapshot *s, void *arg)
{
	struct snap_get *g = arg;

	if (strncmp(s->id, g->prefix, g->plen) != 0 ||
	    (g->host != NULL && strcmp(s->host, g->host) != 0))
		return 0;
	if (g->matches++ == 0) {
		*g->out = *s;
		s->m = NULL;	/* taken */
		s->raw = NULL;
	}
	return 0;
}

void
vault_snapshot_release(struct vault_snapshot *s)
{
	if (s == NULL)
		return;
	manifest_free(s->m);
	free(s->raw);
	memset(s, 0, sizeof(*s));
}

int
vault_snapshot_get(const struct vault *v, const char *host,
    const char *prefix, struct vault_snapshot *out,
    void (*bad)(const char *, const char *, void *), void *bad_arg)
{
	struct snap_get g = { host, prefix, strlen(prefix), 0, out };
	int rc;

	memset(out, 0, sizeof(*out));
	if (g.plen < 4 || g.plen > MANIFEST_ID_HEX_LEN)
		return ERR_NOTFOUND;
	rc = vault_snapshot_each(v, snap_get_one, &g, bad, bad_arg);
	if (rc == ERR_OK && g.matches == 0)
		rc = ERR_NOTFOUND;
	else if (rc == ERR_OK && g.matches > 1)
		rc = ERR_CONFLICT;
	if (rc != ERR_OK)
		vault_snapshot_release(out);
	return rc;
}


/* ---- Audit ------------------------------------------------------------ */

static int
set_str(json_t *o, const char *key, const char *v)
{
	if (v == NULL || v[0] == '\0')
		return 0;
	return json_object_set_new(o, key, json_string(v));
}

static uid_t owner_uid;
static gid_t owner_gid;

static int
chown_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)flag;
	(void)f;
	if (st->st_uid == owner_uid)
		return 0;
	return lchown(path, owner_uid, owner_gid) == 0 ? 0 : -1;
}

/*
 * Root (vault init and enroll) appending to a vault that belongs to its
 * SSH user must leave the log writable by that user's receives.
 */
static int
log_owner(const struct vault *v, const char *logdir)
{
	struct stat st;

	if (geteuid() != 0 || stat(v->dir, &st) != 0 || st.st_uid == 0)
		return ERR_OK;
	owner_uid = st.st_uid;
	owner_gid = st.st_gid;
	return nftw(logdir, chown_one, 16, FTW_PHYS) == 0 ? ERR_OK : ERR_IO;
}

int
vault_audit(struct vault *v, const char *actor, const char *source,
    const char *action, const char *decision, const char *target,
    const char *detail_json)
{
	struct audit_log *log = NULL;
	char now[40], *text = NULL, *canon = NULL, *dir = NULL, why[256];
	size_t clen;
	uint64_t idx;
	json_t *o = json_object(), *det = NULL;
	int rc = ERR_NOMEM;

	if (o == NULL)
		goto out;
	if (detail_json != NULL &&
	    (det = json_loads(detail_json, 0, NULL)) == NULL) {
		rc = ERR_INVAL;
		goto out;
	}
	if (set_str(o, "actor", actor) || set_str(o, "source", source) ||
	    set_str(o, "action", action) || set_str(o, "decision", decision) ||
	    set_str(o, "target", target) ||
	    (det != NULL && json_object_set(o, "detail", det) != 0))
		goto out;
	if ((text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS)) == NULL)
		goto out;
	entry_time_now(now, sizeof(now));
	if ((rc = entry_canonicalize(text, strlen(text), now, &canon, &clen,
	    why, sizeof(why))) != ERR_OK)
		goto out;
	if ((dir = path_join(v->dir, "log", NULL)) == NULL) {
		rc = ERR_NOMEM;
		goto out;
	}
	/* One writer at a time; other hosts' receives take turns. */
	for (int tries = 0; tries < 600; tries++) {
		rc = audit_log_open(dir, &log, why, sizeof(why));
		if (rc != ERR_LOCKED)
			break;
		struct timespec ts = { 0, 50 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	if (rc != ERR_OK)
		goto out;
	const char *e = canon;
	rc = audit_log_append(log, &e, &clen, 1, &idx);
	audit_log_close(log);
	if (rc == ERR_OK)
		rc = log_owner(v, dir);
out:
	json_decref(o);
	json_decref(det);
	free(text);
	free(canon);
	free(dir);
	return rc;
}
