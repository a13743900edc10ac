#include <stdlib.h>
#include <string.h>

#include "common/fault.h"
#include "common/banned.h"

#ifdef BULWARK_FAULT_INJECTION
int
fault_hit(const char *op)
{
	static unsigned long count;
	const char *spec = getenv("BULWARK_FAULT");
	size_t oplen = strlen(op);
	char *end;
	unsigned long n;

	if (spec == NULL || strncmp(spec, op, oplen) != 0 || spec[oplen] != ':')
		return 0;
	n = strtoul(spec + oplen + 1, &end, 10);
	if (*end != '\0' || n == 0)
		return 0;
	return ++count == n;
}
#else
/* Keep the translation unit non-empty for -Wpedantic compilers. */
typedef int fault_unused;
#endif
