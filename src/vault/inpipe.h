/*
 * inpipe.h - the agent's stream, read ahead by a thread of its own.
 *
 * `vault receive` runs as sshd's forced command: what the agent sends
 * reaches it through a pipe from sshd. While receive hashes a pack and
 * writes it to disk, nobody reads that pipe; it fills, and sshd keeps the
 * rest of the channel window in its own buffer, which OpenSSH grows with
 * recallocarray(): a fresh copy of the whole buffer for every packet.
 * Measured here with a reader that stops now and then: sshd spent twice
 * the CPU of a reader that keeps up, most of it in memmove. An inpipe
 * keeps up: a thread moves whatever the pipe holds into a ring larger than
 * the channel window (2 MiB), and receive reads from the ring.
 *
 * The thread only copies bytes; every decision stays with the caller. One
 * reader of the ring at a time.
 */
#ifndef BULWARK_VAULT_INPIPE_H
#define BULWARK_VAULT_INPIPE_H

#include <stddef.h>

#include "common/err.h"

#define INPIPE_RING	(4u << 20)

struct inpipe;

/*
 * Starts reading fd (left open: it stays the caller's) into a ring of cap
 * bytes (0: INPIPE_RING). ERR_NOMEM if the ring or the thread cannot be
 * made.
 */
int inpipe_new(int fd, size_t cap, struct inpipe **out) WUR;

/*
 * Reads exactly n bytes into p. ERR_OK; ERR_NOTFOUND when the stream
 * ended before the first of them; ERR_FORMAT when it ended inside them;
 * ERR_IO on a read error; ERR_NETWORK when no byte came for timeout_ms
 * (> 0; 0: wait forever).
 */
int inpipe_read(struct inpipe *in, void *p, size_t n, int timeout_ms) WUR;

/* Stops the thread (at once, even if it waits for input) and frees. */
void inpipe_free(struct inpipe *in);

#endif
