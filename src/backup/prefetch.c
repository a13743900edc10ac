/*
 * prefetch.c - reading a snapshot's packs into the page cache while the
 * admin key is being unwrapped (restore.h says why).
 *
 * Only posix_fadvise(POSIX_FADV_WILLNEED) on descriptors of the listed
 * packs: the kernel reads them in the background, nothing comes into our
 * memory, and nothing read here is trusted or even looked at. The thread
 * stops at the end of the list, at the budget (half the memory free when
 * it starts, so that it does not push out what the machine is using), or
 * when told to.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backup/restore.h"
#include "common/banned.h"

struct restore_prefetch {
	pthread_t thread;
	const struct vault *v;
	const char (*names)[PACK_NAME_HEX_LEN + 1];	/* m's, borrowed */
	size_t n;
	uint64_t budget;
	atomic_int stop;
	uint64_t requested;	/* bytes asked for; read after the join */
};

static uint64_t
free_memory(void)
{
	long pages = sysconf(_SC_AVPHYS_PAGES), size = sysconf(_SC_PAGESIZE);

	if (pages <= 0 || size <= 0)
		return 0;
	return (uint64_t)pages * (uint64_t)size;
}

static void *
prefetch_main(void *arg)
{
	struct restore_prefetch *p = arg;
	struct stat st;
	size_t i;
	int fd;

	for (i = 0; i < p->n && !atomic_load(&p->stop); i++) {
		if ((fd = vault_pack_open(p->v, p->names[i])) < 0)
			continue;	/* the restore reports it */
		if (fstat(fd, &st) != 0 || st.st_size <= 0) {
			close(fd);
			continue;
		}
		if (p->requested + (uint64_t)st.st_size > p->budget) {
			close(fd);
			break;
		}
		(void)posix_fadvise(fd, 0, 0, POSIX_FADV_WILLNEED);
		p->requested += (uint64_t)st.st_size;
		close(fd);
	}
	return NULL;
}

int
restore_prefetch_start(const struct vault *v, const struct manifest *m,
    uint64_t budget, struct restore_prefetch **out)
{
	struct restore_prefetch *p;

	*out = NULL;
	if (m->npacks == 0)
		return ERR_OK;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return ERR_NOMEM;
	p->names = (const char (*)[PACK_NAME_HEX_LEN + 1])m->packs;
	p->n = m->npacks;
	p->v = v;
	p->budget = budget != 0 ? budget : free_memory() / 2;
	atomic_init(&p->stop, 0);
	if (pthread_create(&p->thread, NULL, prefetch_main, p) != 0) {
		free(p);
		return ERR_INTERNAL;
	}
	*out = p;
	return ERR_OK;
}

uint64_t
restore_prefetch_stop(struct restore_prefetch *p)
{
	uint64_t n;

	if (p == NULL)
		return 0;
	atomic_store(&p->stop, 1);
	(void)pthread_join(p->thread, NULL);
	n = p->requested;
	free(p);
	return n;
}
