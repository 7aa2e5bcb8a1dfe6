/* A one-line error message that travels back to whoever can report it. */
#ifndef TIDE_ERROR_H
#define TIDE_ERROR_H

#include <stdbool.h>

struct error {
	char msg[512];
};

/* Sets the message (printf-style) and returns -1 so callers can `return error_set(...)`. */
int error_set(struct error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prefixes an already-set message with more context: "prefix: old message". */
int error_prefix(struct error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
