/*
 * proto.h - the vault's receive protocol: what a backup agent may say to
 * `bulwark vault receive`, the forced command of its SSH key.
 *
 * The protocol is append-only by construction: there is no message that
 * lists, reads, renames or removes anything. An agent can send a pack,
 * send a snapshot manifest that refers to packs it sent, and say goodbye.
 *
 * Frames, both ways: u8 type, u32 length (big-endian), length bytes.
 *
 *   agent -> vault
 *	HELLO 0x01  "BWRP", u8 version (1), the host name (must be the
 *		    one the forced command names)
 *	PACK  0x02  the pack's name (64 lowercase hex digits), then its
 *		    bytes; length covers both
 *	SNAP  0x03  a signed manifest (manifest.h)
 *	BYE   0x04  empty
 *   vault -> agent, one reply per request, in order
 *	OK    0x81  HELLO: vault key ID (16), u64 quota left (all ones
 *		    when there is no quota); PACK: u8 1 if the vault already
 *		    had it, else 0; SNAP: u64 the vault's receive time;
 *		    BYE: empty
 *	ERR   0x82  a one-line reason (UTF-8); the vault then closes
 *
 * An OK to a PACK or SNAP means durable: the agent may record it in its
 * cache. Every acceptance and refusal is in the vault's audit log.
 */
#ifndef BULWARK_VAULT_PROTO_H
#define BULWARK_VAULT_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define VP_HELLO	0x01
#define VP_PACK		0x02
#define VP_SNAP		0x03
#define VP_BYE		0x04
#define VP_OK		0x81
#define VP_ERR		0x82

#define VP_MAGIC	"BWRP"
#define VP_VERSION	1
#define VP_HEAD_LEN	5
#define VP_REPLY_MAX	4096	/* largest OK or ERR payload */
#define VP_QUOTA_NONE	UINT64_MAX

/* Writes a frame header. */
int vp_send_head(int fd, uint8_t type, uint32_t len) WUR;
/* Writes a whole frame. */
int vp_send(int fd, uint8_t type, const void *p, size_t len) WUR;
/*
 * Reads exactly n bytes. ERR_IO on a read error, ERR_FORMAT when the
 * stream ends first (*got, when not NULL, says how many came).
 */
int vp_read_full(int fd, void *p, size_t n) WUR;
/* Reads a frame header. ERR_NOTFOUND at a clean end of stream. */
int vp_read_head(int fd, uint8_t *type, uint32_t *len) WUR;
/* Decodes the VP_HEAD_LEN bytes of a frame header. */
void vp_head_decode(const uint8_t h[VP_HEAD_LEN], uint8_t *type,
    uint32_t *len);
/*
 * Reads one reply (OK or ERR) into buf (VP_REPLY_MAX + 1 bytes; an ERR
 * text is NUL-terminated). ERR_FORMAT for anything else.
 */
int vp_read_reply(int fd, uint8_t *type, uint8_t *buf, size_t *len) WUR;

#endif
