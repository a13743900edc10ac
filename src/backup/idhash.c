/*
 * idhash.c - the chunk IDs of a batch of chunks, on two threads
 * (idhash.h).
 *
 * The caller posts a batch and hashes from it at once; the helper, once
 * awake, takes chunks from the same counter. Chunks run from 256 KiB to
 * 4 MiB, so taking them one at a time balances the two. A batch the
 * caller finished before the helper woke up is closed by the caller, so
 * that it never waits for a wake-up that brings no work.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "backup/idhash.h"
#include "common/banned.h"

struct idhash {
	const uint8_t *key;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t posted;		/* the helper: a batch, or quit */
	pthread_cond_t finished;	/* the caller: the helper is done */
	/* The batch, written under mu before gen moves. */
	const uint8_t *const *p;
	const size_t *n;
	uint8_t (*ids)[CHUNK_ID_LEN];
	size_t count;
	atomic_size_t next;		/* the next chunk to take */
	/* Under mu. */
	uint64_t gen;			/* batches posted */
	uint64_t claimed;		/* batches taken up or closed */
	int busy;			/* the helper is in a batch */
	int quit;
};

/* Hashes chunks of the batch until none is left. */
static void
take(struct idhash *h)
{
	size_t i;

	while ((i = atomic_fetch_add(&h->next, 1)) < h->count)
		chunk_id(h->key, h->p[i], h->n[i], h->ids[i]);
}

static void *
helper_main(void *arg)
{
	struct idhash *h = arg;

	pthread_mutex_lock(&h->mu);
	for (;;) {
		while (h->claimed == h->gen && !h->quit)
			pthread_cond_wait(&h->posted, &h->mu);
		if (h->quit)
			break;
		h->claimed = h->gen;
		h->busy = 1;
		pthread_mutex_unlock(&h->mu);
		take(h);
		pthread_mutex_lock(&h->mu);
		h->busy = 0;
		pthread_cond_signal(&h->finished);
	}
	pthread_mutex_unlock(&h->mu);
	return NULL;
}

int
idhash_new(const uint8_t key[CHUNK_ID_KEY_LEN], struct idhash **out)
{
	struct idhash *h;

	*out = NULL;
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return ERR_NOMEM;
	h->key = key;
	atomic_init(&h->next, 0);
	pthread_mutex_init(&h->mu, NULL);
	pthread_cond_init(&h->posted, NULL);
	pthread_cond_init(&h->finished, NULL);
	if (pthread_create(&h->thread, NULL, helper_main, h) != 0) {
		pthread_cond_destroy(&h->finished);
		pthread_cond_destroy(&h->posted);
		pthread_mutex_destroy(&h->mu);
		free(h);
		return ERR_NOMEM;
	}
	*out = h;
	return ERR_OK;
}

void
idhash_run(struct idhash *h, const uint8_t *const *p, const size_t *n,
    size_t count, uint8_t (*ids)[CHUNK_ID_LEN])
{
	if (count < 2) {
		for (size_t i = 0; i < count; i++)
			chunk_id(h->key, p[i], n[i], ids[i]);
		return;
	}
	pthread_mutex_lock(&h->mu);
	h->p = p;
	h->n = n;
	h->ids = ids;
	h->count = count;
	atomic_store(&h->next, 0);
	h->gen++;
	pthread_cond_signal(&h->posted);
	pthread_mutex_unlock(&h->mu);

	take(h);

	pthread_mutex_lock(&h->mu);
	if (h->claimed != h->gen)
		h->claimed = h->gen;	/* all done before the helper woke */
	else
		while (h->busy)
			pthread_cond_wait(&h->finished, &h->mu);
	pthread_mutex_unlock(&h->mu);
}

void
idhash_free(struct idhash *h)
{
	if (h == NULL)
		return;
	pthread_mutex_lock(&h->mu);
	h->quit = 1;
	pthread_cond_signal(&h->posted);
	pthread_mutex_unlock(&h->mu);
	pthread_join(h->thread, NULL);
	pthread_cond_destroy(&h->finished);
	pthread_cond_destroy(&h->posted);
	pthread_mutex_destroy(&h->mu);
	free(h);
}
