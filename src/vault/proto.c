/*
 * proto.c - framing of the vault's receive protocol (proto.h).
 */
#include <errno.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "vault/proto.h"
#include "common/endian.h"
#include "common/banned.h"

int
vp_send_head(int fd, uint8_t type, uint32_t len)
{
	uint8_t h[VP_HEAD_LEN] = { type };

	be_put32(h + 1, len);
	return fs_write_all(fd, h, sizeof(h));
}

int
vp_send(int fd, uint8_t type, const void *p, size_t len)
{
	int rc;

	if (len > UINT32_MAX)
		return ERR_TOOBIG;
	if ((rc = vp_send_head(fd, type, (uint32_t)len)) != ERR_OK)
		return rc;
	return len > 0 ? fs_write_all(fd, p, len) : ERR_OK;
}

int
vp_read_full(int fd, void *p, size_t n)
{
	uint8_t *b = p;

	while (n > 0) {
		ssize_t r = read(fd, b, n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return ERR_IO;
		}
		if (r == 0)
			return ERR_FORMAT;
		b += r;
		n -= (size_t)r;
	}
	return ERR_OK;
}

int
vp_read_head(int fd, uint8_t *type, uint32_t *len)
{
	uint8_t h[VP_HEAD_LEN];
	ssize_t r;

	do
		r = read(fd, h, 1);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return ERR_IO;
	if (r == 0)
		return ERR_NOTFOUND;
	int rc = vp_read_full(fd, h + 1, VP_HEAD_LEN - 1);
	if (rc != ERR_OK)
		return rc;
	vp_head_decode(h, type, len);
	return ERR_OK;
}

void
vp_head_decode(const uint8_t h[VP_HEAD_LEN], uint8_t *type, uint32_t *len)
{
	*type = h[0];
	*len = be_get32(h + 1);
}

int
vp_read_reply(int fd, uint8_t *type, uint8_t *buf, size_t *len)
{
	uint32_t n;
	int rc;

	*len = 0;
	if ((rc = vp_read_head(fd, type, &n)) != ERR_OK)
		return rc == ERR_NOTFOUND ? ERR_FORMAT : rc;
	if ((*type != VP_OK && *type != VP_ERR) || n > VP_REPLY_MAX)
		return ERR_FORMAT;
	if ((rc = vp_read_full(fd, buf, n)) != ERR_OK)
		return rc;
	buf[n] = '\0';
	*len = n;
	return ERR_OK;
}
