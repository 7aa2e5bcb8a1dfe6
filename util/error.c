#include "util/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int error_set(struct error *err, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return -1;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -1;
}

int error_prefix(struct error *err, const char *fmt, ...)
{
	char prefix[256];
	char joined[sizeof(prefix) + sizeof(err->msg) + 2];
	size_t len;
	va_list ap;

	if (!err)
		return -1;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	snprintf(joined, sizeof(joined), "%s: %s", prefix, err->msg);
	/* Cut to the message size by hand: the joined text may be longer, and that is fine. */
	len = strnlen(joined, sizeof(err->msg) - 1);
	memcpy(err->msg, joined, len);
	err->msg[len] = '\0';
	return -1;
}
