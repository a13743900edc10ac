/*
 * inpipe.c - the agent's stream, read ahead by a thread of its own
 * (inpipe.h).
 *
 * A ring of bytes [head, head + len) modulo cap. The thread appends
 * after the last byte and the caller takes from head, each outside the
 * lock on its own part of the ring; the lock guards the indices. The
 * thread waits in poll() on the input and on a pipe of its own, so that
 * inpipe_free() can stop it at any time.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vault/inpipe.h"
#include "common/banned.h"

struct inpipe {
	int fd;
	int stop[2];			/* written to by inpipe_free() */
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t data;		/* the caller: bytes, end or error */
	pthread_cond_t room;		/* the thread: space in the ring */
	uint8_t *ring;
	size_t cap;
	/* Under mu. */
	size_t head, len;
	int ended;			/* the input ended (read gave 0) */
	int err;			/* a read error's errno, 0: none */
	int quit;
};

/* The free span after the last byte, contiguous; 0 when full. */
static size_t
free_span(const struct inpipe *in, size_t *at)
{
	size_t tail = (in->head + in->len) % in->cap;

	*at = tail;
	if (in->len == in->cap)
		return 0;
	return tail >= in->head ? in->cap - tail : in->head - tail;
}

static void *
reader_main(void *arg)
{
	struct inpipe *in = arg;
	struct pollfd p[2] = {
		{ .fd = in->fd, .events = POLLIN },
		{ .fd = in->stop[0], .events = POLLIN },
	};
	size_t at, span;
	ssize_t r;

	for (;;) {
		pthread_mutex_lock(&in->mu);
		if (in->len == 0)
			in->head = 0;	/* whole reads while the caller keeps up */
		while ((span = free_span(in, &at)) == 0 && !in->quit)
			pthread_cond_wait(&in->room, &in->mu);
		int quit = in->quit;
		pthread_mutex_unlock(&in->mu);
		if (quit)
			break;
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			r = -1;
		} else if (p[1].revents != 0) {
			break;
		} else {
			r = read(in->fd, in->ring + at, span);
			if (r < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
		}
		pthread_mutex_lock(&in->mu);
		if (r > 0)
			in->len += (size_t)r;
		else if (r == 0)
			in->ended = 1;
		else
			in->err = errno != 0 ? errno : EIO;
		pthread_cond_signal(&in->data);
		pthread_mutex_unlock(&in->mu);
		if (r <= 0)
			break;
	}
	return NULL;
}

/* Frees what inpipe_new() made, once the thread is gone or was never. */
static void
release(struct inpipe *in)
{
	close(in->stop[0]);
	close(in->stop[1]);
	pthread_cond_destroy(&in->room);
	pthread_cond_destroy(&in->data);
	pthread_mutex_destroy(&in->mu);
	free(in->ring);
	free(in);
}

int
inpipe_new(int fd, size_t cap, struct inpipe **out)
{
	struct inpipe *in;
	pthread_condattr_t ca;

	*out = NULL;
	if ((in = calloc(1, sizeof(*in))) == NULL)
		return ERR_NOMEM;
	in->fd = fd;
	in->cap = cap != 0 ? cap : INPIPE_RING;
	if ((in->ring = malloc(in->cap)) == NULL) {
		free(in);
		return ERR_NOMEM;
	}
	if (pipe2(in->stop, O_CLOEXEC) != 0) {
		free(in->ring);
		free(in);
		return ERR_NOMEM;
	}
	pthread_mutex_init(&in->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&in->data, &ca);
	pthread_condattr_destroy(&ca);
	pthread_cond_init(&in->room, NULL);
	if (pthread_create(&in->thread, NULL, reader_main, in) != 0) {
		release(in);
		return ERR_NOMEM;
	}
	*out = in;
	return ERR_OK;
}

/* With mu held: waits for something to read; ERR_NETWORK on timeout. */
static int
wait_locked(struct inpipe *in, int timeout_ms)
{
	struct timespec until;

	if (timeout_ms > 0) {
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += timeout_ms / 1000;
		until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
	}
	while (in->len == 0 && !in->ended && in->err == 0) {
		if (timeout_ms <= 0)
			pthread_cond_wait(&in->data, &in->mu);
		else if (pthread_cond_timedwait(&in->data, &in->mu,
		    &until) == ETIMEDOUT && in->len == 0 && !in->ended &&
		    in->err == 0)
			return ERR_NETWORK;
	}
	return ERR_OK;
}

int
inpipe_read(struct inpipe *in, void *p, size_t n, int timeout_ms)
{
	uint8_t *dst = p;
	size_t got = 0;

	while (got < n) {
		pthread_mutex_lock(&in->mu);
		if (wait_locked(in, timeout_ms) != ERR_OK) {
			pthread_mutex_unlock(&in->mu);
			return ERR_NETWORK;
		}
		if (in->len == 0) {
			int err = in->err;
			pthread_mutex_unlock(&in->mu);
			if (err != 0)
				return ERR_IO;
			return got == 0 ? ERR_NOTFOUND : ERR_FORMAT;
		}
		size_t k = n - got, head = in->head;
		if (k > in->len)
			k = in->len;
		if (k > in->cap - head)
			k = in->cap - head;
		pthread_mutex_unlock(&in->mu);
		/* [head, head + k) is the caller's until head moves. */
		memcpy(dst + got, in->ring + head, k);
		got += k;
		pthread_mutex_lock(&in->mu);
		in->head = (head + k) % in->cap;
		in->len -= k;
		pthread_cond_signal(&in->room);
		pthread_mutex_unlock(&in->mu);
	}
	return ERR_OK;
}

void
inpipe_free(struct inpipe *in)
{
	ssize_t w;

	if (in == NULL)
		return;
	pthread_mutex_lock(&in->mu);
	in->quit = 1;
	pthread_cond_signal(&in->room);
	pthread_mutex_unlock(&in->mu);
	do
		w = write(in->stop[1], "q", 1);
	while (w < 0 && errno == EINTR);
	pthread_join(in->thread, NULL);
	release(in);
}
