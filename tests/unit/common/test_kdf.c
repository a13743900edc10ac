/*
 * test_kdf.c - Argon2id (common/kdf.h) against RFC 9106's known answer,
 * against libsodium's crypto_pwhash (which wrapped every admin key
 * export before kdf.c existed, so both must agree bit for bit), and its
 * refusals.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "common/kdf.h"
#include "common/banned.h"

/* RFC 9106, section 5.3: Argon2id, version 0x13, 32 KiB, 3 passes,
 * 4 lanes, password 32 x 0x01, salt 16 x 0x02, secret 8 x 0x03,
 * associated data 12 x 0x04, 32-byte tag. */
static void
test_rfc9106_vector(void **state)
{
	static const uint8_t want[32] = {
		0x0d, 0x64, 0x0d, 0xf5, 0x8d, 0x78, 0x76, 0x6c,
		0x08, 0xc0, 0x37, 0xa3, 0x4a, 0x8b, 0x53, 0xc9,
		0xd0, 0x1e, 0xf0, 0x45, 0x2d, 0x75, 0xb6, 0x5e,
		0xb5, 0x25, 0x20, 0xe9, 0x6b, 0x01, 0xe6, 0x59,
	};
	uint8_t pass[32], salt[16], secret[8], ad[12], out[32];
	struct kdf_params p = {
		.t = 3, .m_kib = 32, .lanes = 4,
		.secret = secret, .secretlen = sizeof(secret),
		.ad = ad, .adlen = sizeof(ad),
	};

	(void)state;
	memset(pass, 0x01, sizeof(pass));
	memset(salt, 0x02, sizeof(salt));
	memset(secret, 0x03, sizeof(secret));
	memset(ad, 0x04, sizeof(ad));
	assert_int_equal(kdf_argon2id(out, sizeof(out), pass, sizeof(pass),
	    salt, sizeof(salt), &p), ERR_OK);
	assert_memory_equal(out, want, sizeof(want));
}

/* One lane, no secret: what libsodium computes, at sizes on both sides
 * of the 2 MiB where kdf.c asks for huge pages. */
static void
test_same_as_libsodium(void **state)
{
	static const uint32_t mibs[] = { 1, 8, 33 };
	const char *pass = "correct horse battery staple";
	uint8_t salt[crypto_pwhash_SALTBYTES], a[32], b[32];

	(void)state;
	for (size_t i = 0; i < sizeof(mibs) / sizeof(mibs[0]); i++) {
		struct kdf_params p = { .t = 2, .m_kib = mibs[i] << 10,
		    .lanes = 1 };

		randombytes_buf(salt, sizeof(salt));
		assert_int_equal(crypto_pwhash(a, sizeof(a), pass,
		    strlen(pass), salt, p.t, (size_t)p.m_kib << 10,
		    crypto_pwhash_ALG_ARGON2ID13), 0);
		assert_int_equal(kdf_argon2id(b, sizeof(b), pass,
		    strlen(pass), salt, sizeof(salt), &p), ERR_OK);
		assert_memory_equal(a, b, sizeof(a));
		/* Another salt, another key. */
		salt[0] ^= 1;
		assert_int_equal(kdf_argon2id(b, sizeof(b), pass,
		    strlen(pass), salt, sizeof(salt), &p), ERR_OK);
		assert_memory_not_equal(a, b, sizeof(a));
	}
}

/* The process's mapped address space in KiB (VmSize). */
static long
vm_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kib = -1;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmSize: %ld kB", &kib) == 1)
			break;
	fclose(f);
	assert_true(kib > 0);
	return kib;
}

/*
 * kdf.c maps each work area with 2 MiB to spare and gives back the
 * unaligned head and tail: 20 derivations must leave the address space as
 * they found it (a tail kept would be up to 2 MiB each; 1 MiB of slack is
 * for the allocator). Sizes under one huge page, and over one but not a
 * whole number of them.
 */
static void
test_no_leaked_mappings(void **state)
{
	static const uint32_t kibs[] = { 64, 3 * 1024 + 4 };
	uint8_t salt[16] = { 7 }, out[32];
	long before;

	(void)state;
	for (size_t i = 0; i < sizeof(kibs) / sizeof(kibs[0]); i++) {
		struct kdf_params p = { .t = 1, .m_kib = kibs[i], .lanes = 1 };

		/* Once first: the allocator and libargon2 settle. */
		assert_int_equal(kdf_argon2id(out, sizeof(out), "x", 1, salt,
		    sizeof(salt), &p), ERR_OK);
		before = vm_kib();
		for (int k = 0; k < 20; k++)
			assert_int_equal(kdf_argon2id(out, sizeof(out), "x", 1,
			    salt, sizeof(salt), &p), ERR_OK);
		assert_in_range(vm_kib(), 0, before + 1024);
	}
}

static void
test_refusals(void **state)
{
	uint8_t salt[16] = { 0 }, out[32];
	struct kdf_params p = { .t = 1, .m_kib = 64, .lanes = 1 };

	(void)state;
	/* The empty passphrase is a passphrase; a short salt is not. */
	assert_int_equal(kdf_argon2id(out, sizeof(out), "", 0, salt,
	    sizeof(salt), &p), ERR_OK);
	assert_int_equal(kdf_argon2id(out, sizeof(out), "x", 1, salt, 7, &p),
	    ERR_INVAL);
	p.t = 0;
	assert_int_equal(kdf_argon2id(out, sizeof(out), "x", 1, salt,
	    sizeof(salt), &p), ERR_INVAL);
	p.t = 1;
	p.lanes = 0;
	assert_int_equal(kdf_argon2id(out, sizeof(out), "x", 1, salt,
	    sizeof(salt), &p), ERR_INVAL);
	p.lanes = 1;
	p.m_kib = 4;	/* fewer than 8 KiB per lane */
	assert_int_equal(kdf_argon2id(out, sizeof(out), "x", 1, salt,
	    sizeof(salt), &p), ERR_INVAL);
	p.m_kib = 64;
	assert_int_equal(kdf_argon2id(out, 3, "x", 1, salt, sizeof(salt), &p),
	    ERR_INVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc9106_vector),
		cmocka_unit_test(test_same_as_libsodium),
		cmocka_unit_test(test_no_leaked_mappings),
		cmocka_unit_test(test_refusals),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
