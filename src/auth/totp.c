/*
 * totp.c - RFC 6238 TOTP on top of liboath, with seeds in sodium_malloc
 * memory, constant-time comparison and replay refusal (see totp.h).
 */
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <liboath/oath.h>
#include <sodium.h>

#include "auth/totp.h"
#include "common/banned.h"

_Static_assert(sizeof(time_t) == 8, "64-bit time_t");
_Static_assert(TOTP_CODE_BUFSZ > TOTP_DIGITS, "code buffer");

/*
 * Latest time accepted: far past any real clock, and low enough that the
 * window's last step times TOTP_PERIOD still fits in a time_t.
 */
#define TOTP_TIME_MAX (INT64_MAX - 4 * TOTP_PERIOD * (TOTP_WINDOW + 1))

#define SEED_ALIGN _Alignof(max_align_t)

/* The whole struct lives in one sodium_malloc block. */
struct totp_seed {
	size_t len;
	uint8_t key[TOTP_SEED_MAX_LEN];	/* secret */
};

static pthread_once_t lib_once = PTHREAD_ONCE_INIT;
static int lib_status = ERR_INTERNAL;

static void
lib_init_once(void)
{
	if (sodium_init() < 0 || oath_init() != OATH_OK)
		lib_status = ERR_CRYPTO;
	else
		lib_status = ERR_OK;
}

static int
lib_init(void)
{
	if (pthread_once(&lib_once, lib_init_once) != 0)
		return ERR_INTERNAL;
	return lib_status;
}

/* An empty seed block, or NULL. Callers set len and key. */
static struct totp_seed *
seed_alloc(void)
{
	size_t size = (sizeof(struct totp_seed) + SEED_ALIGN - 1) /
	    SEED_ALIGN * SEED_ALIGN;
	struct totp_seed *seed;

	/*
	 * sodium_malloc ends the block at a guard page, so it is aligned
	 * only when its size is a multiple of the alignment.
	 */
	if ((seed = sodium_malloc(size)) == NULL)
		return NULL;
	sodium_memzero(seed, size);
	return seed;
}

void
totp_seed_free(struct totp_seed *seed)
{
	sodium_free(seed);	/* wipes; NULL is a no-op */
}

void
totp_str_free_secret(char *s)
{
	if (s == NULL)
		return;
	sodium_memzero(s, strlen(s));
	free(s);
}

int
totp_seed_generate_secret(struct totp_seed **seedp)
{
	struct totp_seed *seed = NULL;
	int r = ERR_INTERNAL;

	if (seedp == NULL)
		return ERR_INVAL;
	*seedp = NULL;
	if ((r = lib_init()) != ERR_OK)
		goto out;
	if ((seed = seed_alloc()) == NULL) {
		r = ERR_NOMEM;
		goto out;
	}
	randombytes_buf(seed->key, TOTP_SEED_LEN);
	seed->len = TOTP_SEED_LEN;
	*seedp = seed;
	seed = NULL;
	r = ERR_OK;
 out:
	totp_seed_free(seed);
	return r;
}

int
totp_seed_from_bytes_secret(const uint8_t *key, size_t len,
    struct totp_seed **seedp)
{
	struct totp_seed *seed = NULL;
	int r = ERR_INTERNAL;

	if (seedp == NULL)
		return ERR_INVAL;
	*seedp = NULL;
	if (key == NULL || len == 0 || len > TOTP_SEED_MAX_LEN) {
		r = ERR_INVAL;
		goto out;
	}
	if ((r = lib_init()) != ERR_OK)
		goto out;
	if ((seed = seed_alloc()) == NULL) {
		r = ERR_NOMEM;
		goto out;
	}
	memcpy(seed->key, key, len);
	seed->len = len;
	*seedp = seed;
	seed = NULL;
	r = ERR_OK;
 out:
	totp_seed_free(seed);
	return r;
}

int
totp_seed_from_base32_secret(const char *b32, size_t len,
    struct totp_seed **seedp)
{
	char *raw = NULL;
	size_t raw_len = 0;
	int r = ERR_INTERNAL, o;

	if (seedp == NULL)
		return ERR_INVAL;
	*seedp = NULL;
	if (b32 == NULL || len == 0) {
		r = ERR_INVAL;
		goto out;
	}
	if ((r = lib_init()) != ERR_OK)
		goto out;
	/* liboath malloc's raw; it is wiped below, whatever happens. */
	o = oath_base32_decode(b32, len, &raw, &raw_len);
	if (o == OATH_MALLOC_ERROR) {
		r = ERR_NOMEM;
		goto out;
	} else if (o != OATH_OK) {
		r = ERR_FORMAT;
		goto out;
	}
	r = totp_seed_from_bytes_secret((const uint8_t *)raw, raw_len, seedp);
 out:
	if (raw != NULL) {
		sodium_memzero(raw, raw_len);
		free(raw);
	}
	return r;
}

int
totp_seed_base32_secret(const struct totp_seed *seed, char **b32p)
{
	char *enc = NULL, *s = NULL;
	size_t enc_len = 0, n;
	int r = ERR_INTERNAL, o;

	if (b32p == NULL)
		return ERR_INVAL;
	*b32p = NULL;
	if (seed == NULL) {
		r = ERR_INVAL;
		goto out;
	}
	if ((r = lib_init()) != ERR_OK)
		goto out;
	o = oath_base32_encode((const char *)seed->key, seed->len, &enc,
	    &enc_len);
	if (o == OATH_MALLOC_ERROR) {
		r = ERR_NOMEM;
		goto out;
	} else if (o != OATH_OK || enc == NULL) {
		r = ERR_CRYPTO;
		goto out;
	}
	/* Authenticator apps and oathtool want it without '=' padding. */
	for (n = 0; n < enc_len && enc[n] != '='; n++)
		;
	if ((s = malloc(n + 1)) == NULL) {
		r = ERR_NOMEM;
		goto out;
	}
	memcpy(s, enc, n);
	s[n] = '\0';
	*b32p = s;
	r = ERR_OK;
 out:
	if (enc != NULL) {
		sodium_memzero(enc, enc_len);
		free(enc);
	}
	return r;
}

int
totp_step_at(time_t now, uint64_t *stepp)
{
	if (stepp == NULL)
		return ERR_INVAL;
	*stepp = 0;
	if (now < 0 || now > TOTP_TIME_MAX)
		return ERR_RANGE;
	*stepp = (uint64_t)now / TOTP_PERIOD;
	return ERR_OK;
}

int
totp_code_parse(const char *s, size_t len, char code[TOTP_DIGITS + 1])
{
	size_t i;

	if (code == NULL)
		return ERR_INVAL;
	code[0] = '\0';
	if (s == NULL)
		return ERR_INVAL;
	if (len != TOTP_DIGITS)
		return ERR_FORMAT;
	for (i = 0; i < TOTP_DIGITS; i++) {
		if (s[i] < '0' || s[i] > '9')
			return ERR_FORMAT;
	}
	memcpy(code, s, TOTP_DIGITS);
	code[TOTP_DIGITS] = '\0';
	return ERR_OK;
}

/* The code of seed for time now (in range), digits long, into out. */
static int
code_at(const struct totp_seed *seed, time_t now, unsigned digits, char *out)
{
	int o;

	o = oath_totp_generate2((const char *)seed->key, seed->len, now,
	    TOTP_PERIOD, OATH_TOTP_DEFAULT_START_TIME, digits, 0, out);
	return o == OATH_OK ? ERR_OK : ERR_CRYPTO;
}

int
totp_code_generate(const struct totp_seed *seed, time_t now,
    unsigned digits, char *out, size_t outsz)
{
	uint64_t step;
	int r = ERR_INTERNAL;

	if (out != NULL && outsz > 0)
		out[0] = '\0';
	if (seed == NULL || out == NULL || digits < 6 || digits > 8 ||
	    outsz < digits + 1)
		return ERR_INVAL;
	if ((r = totp_step_at(now, &step)) != ERR_OK ||
	    (r = lib_init()) != ERR_OK)
		return r;
	if ((r = code_at(seed, now, digits, out)) != ERR_OK)
		out[0] = '\0';
	return r;
}

int
totp_verify(const struct totp_seed *seed, const char *s, size_t len,
    time_t now, uint64_t last_step, uint64_t *stepp)
{
	char code[TOTP_DIGITS + 1], cand[TOTP_DIGITS + 1];
	uint64_t step, c, first, eq, fresh, hit_new = 0, hit_old = 0, found = 0;
	int r = ERR_INTERNAL;

	if (stepp != NULL)
		*stepp = 0;
	if (seed == NULL || s == NULL || stepp == NULL)
		return ERR_INVAL;
	if ((r = totp_code_parse(s, len, code)) != ERR_OK)
		goto out;
	if ((r = totp_step_at(now, &step)) != ERR_OK)
		goto out;
	if ((r = lib_init()) != ERR_OK)
		goto out;

	/*
	 * Compute and compare the code of every step in the window, without
	 * stopping at a match and without branching on one, so that the
	 * time taken does not tell which step (if any) matched. Of several
	 * matches the latest step wins: storing it refuses the same digits
	 * for every step they matched.
	 */
	first = step >= TOTP_WINDOW ? step - TOTP_WINDOW : 0;
	for (c = first; c <= step + TOTP_WINDOW; c++) {
		if ((r = code_at(seed, (time_t)(c * TOTP_PERIOD), TOTP_DIGITS,
		    cand)) != ERR_OK)
			goto out;
		eq = (uint64_t)(sodium_memcmp(cand, code, TOTP_DIGITS) == 0);
		fresh = (uint64_t)(c > last_step);
		hit_new |= eq & fresh;
		hit_old |= eq & (fresh ^ 1);
		found ^= (found ^ c) & (0 - (eq & fresh));
	}
	if (hit_new) {
		*stepp = found;
		r = ERR_OK;
	} else if (hit_old)
		r = ERR_CONFLICT;
	else
		r = ERR_DENIED;
 out:
	sodium_memzero(code, sizeof(code));
	sodium_memzero(cand, sizeof(cand));
	return r;
}
