#include <stdlib.h>

#include <sodium.h>

#include "common/encoding.h"
#include "common/banned.h"

int
enc_u64_parse(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;

	*out = 0;
	/* UINT64_MAX has 20 digits. */
	if (len == 0 || len > 20 || (len > 1 && s[0] == '0'))
		return ERR_FORMAT;
	for (size_t i = 0; i < len; i++) {
		unsigned d;

		if (s[i] < '0' || s[i] > '9')
			return ERR_FORMAT;
		d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return ERR_FORMAT;
		v = v * 10 + d;
	}
	*out = v;
	return ERR_OK;
}

int
enc_base64_decode(const char *s, size_t len, uint8_t *out, size_t outmax,
    size_t *outlen)
{
	const char *end = NULL;
	size_t n = 0;

	*outlen = 0;
	if (len == 0 || len % 4 != 0)
		return ERR_FORMAT;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '+' || c == '/' || c == '='))
			return ERR_FORMAT;
	}
	/* libsodium checks the padding and refuses stray bits. */
	if (sodium_base642bin(out, outmax, s, len, NULL, &n, &end,
	    sodium_base64_VARIANT_ORIGINAL) != 0 || end != s + len)
		return ERR_FORMAT;
	*outlen = n;
	return ERR_OK;
}

char *
enc_base64_encode(const uint8_t *p, size_t n)
{
	size_t len = sodium_base64_encoded_len(n,
	    sodium_base64_VARIANT_ORIGINAL);
	char *s = malloc(len);

	if (s != NULL)
		sodium_bin2base64(s, len, p, n, sodium_base64_VARIANT_ORIGINAL);
	return s;
}
