#include <stdarg.h>
#include <stdio.h>

#include "common/err.h"

const char *
err_str(int r)
{
	switch (r) {
	case ERR_OK:		return "success";
	case ERR_INTERNAL:	return "internal error";
	case ERR_NOMEM:		return "out of memory";
	case ERR_INVAL:		return "invalid argument";
	case ERR_FORMAT:	return "malformed input";
	case ERR_TOOBIG:	return "too large";
	case ERR_IO:		return "input/output error";
	case ERR_NOTFOUND:	return "not found";
	case ERR_EXISTS:	return "already exists";
	case ERR_SIGNATURE:	return "signature does not verify";
	case ERR_PROOF:		return "proof does not verify";
	case ERR_MISMATCH:	return "contents do not match";
	case ERR_CONFLICT:	return "inconsistent state";
	case ERR_LOCKED:	return "locked by another process";
	case ERR_CRYPTO:	return "cryptographic library failure";
	case ERR_NETWORK:	return "network failure";
	case ERR_UNSUPPORTED:	return "not supported";
	case ERR_RANGE:		return "out of range";
	case ERR_DENIED:	return "permission denied";
	}
	return "unknown error";
}

void
err_why(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (why == NULL || whylen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
}
