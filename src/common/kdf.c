/*
 * kdf.c - Argon2id through libargon2, its work area in huge pages.
 */
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <argon2.h>

#include "common/kdf.h"
#include "common/banned.h"

#define HUGE_PAGE	(2u << 20)
#ifdef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE_ MADV_POPULATE_WRITE
#else
#define MADV_POPULATE_WRITE_ 23	/* <linux/mman.h>, not in glibc 2.36 */
#endif

/*
 * libargon2's allocation callback: an anonymous mapping whose start is
 * 2 MiB aligned, so that the kernel can back all of it with huge pages.
 * The unaligned head and tail of the over-sized mapping are given back,
 * leaving exactly [mem, mem + n) for area_free to unmap.
 */
static int
area_alloc(uint8_t **mem, size_t bytes)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	/* Whole pages (libargon2 asks for whole 4-block segments anyway):
	 * munmap of the tail needs an aligned address. */
	size_t n = (bytes + page - 1) / page * page, len = n + HUGE_PAGE;
	uint8_t *raw, *start;

	*mem = NULL;
	if (bytes == 0 || n < bytes || len < n)
		return ARGON2_MEMORY_ALLOCATION_ERROR;
	raw = mmap(NULL, len, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (raw == MAP_FAILED)
		return ARGON2_MEMORY_ALLOCATION_ERROR;
	start = (uint8_t *)(((uintptr_t)raw + HUGE_PAGE - 1) &
	    ~(uintptr_t)(HUGE_PAGE - 1));
	if (start > raw)
		munmap(raw, (size_t)(start - raw));
	if (raw + len > start + n)
		munmap(start + n, (size_t)(raw + len - (start + n)));
	/* Advice only: without THP (or with "never") it stays 4 KiB pages. */
	if (n >= HUGE_PAGE)
		(void)madvise(start, n, MADV_HUGEPAGE);
	(void)madvise(start, n, MADV_DONTDUMP);
	/*
	 * Fault it all in with one call (Linux 5.14; older kernels say
	 * EINVAL and Argon2's first pass faults it in instead).
	 */
	(void)madvise(start, n, MADV_POPULATE_WRITE_);
	*mem = start;
	return ARGON2_OK;
}

/*
 * libargon2 has wiped the area (clear_internal_memory) before this;
 * munmap rounds n up to the pages area_alloc mapped.
 */
static void
area_free(uint8_t *mem, size_t n)
{
	if (mem != NULL)
		munmap(mem, n);
}

/* A thread per lane, up to the CPUs online: the result is the same. */
static uint32_t
threads_for(uint32_t lanes)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		n = 1;
	return (long)lanes < n ? lanes : (uint32_t)n;
}

int
kdf_argon2id(uint8_t *out, size_t outlen, const void *pass, size_t passlen,
    const uint8_t *salt, size_t saltlen, const struct kdf_params *p)
{
	argon2_context c;
	int r;

	if (out == NULL || p == NULL || salt == NULL ||
	    (pass == NULL && passlen > 0) || outlen < KDF_OUT_MIN ||
	    outlen > UINT32_MAX || saltlen < KDF_SALT_MIN ||
	    saltlen > UINT32_MAX || passlen > UINT32_MAX ||
	    p->secretlen > UINT32_MAX || p->adlen > UINT32_MAX ||
	    p->t < 1 || p->lanes < 1 || p->lanes > ARGON2_MAX_LANES ||
	    p->m_kib / 8 < p->lanes)
		return ERR_INVAL;
	memset(&c, 0, sizeof(c));
	c.out = out;
	c.outlen = (uint32_t)outlen;
	/* libargon2 only reads these (ARGON2_FLAG_CLEAR_* are not set). */
	c.pwd = (uint8_t *)(uintptr_t)(passlen > 0 ? pass : "");
	c.pwdlen = (uint32_t)passlen;
	c.salt = (uint8_t *)(uintptr_t)salt;
	c.saltlen = (uint32_t)saltlen;
	c.secret = (uint8_t *)(uintptr_t)p->secret;
	c.secretlen = (uint32_t)p->secretlen;
	c.ad = (uint8_t *)(uintptr_t)p->ad;
	c.adlen = (uint32_t)p->adlen;
	c.t_cost = p->t;
	c.m_cost = p->m_kib;
	c.lanes = p->lanes;
	c.threads = threads_for(p->lanes);
	c.version = ARGON2_VERSION_13;
	c.allocate_cbk = area_alloc;
	c.free_cbk = area_free;
	c.flags = ARGON2_DEFAULT_FLAGS;
	r = argon2_ctx(&c, Argon2_id);
	switch (r) {
	case ARGON2_OK:
		return ERR_OK;
	case ARGON2_MEMORY_ALLOCATION_ERROR:
		return ERR_NOMEM;
	case ARGON2_THREAD_FAIL:
		return ERR_NOMEM;
	case ARGON2_INCORRECT_PARAMETER:
	case ARGON2_INCORRECT_TYPE:
		return ERR_INTERNAL;
	default:
		/* Every other code names a parameter out of range. */
		return ERR_INVAL;
	}
}
