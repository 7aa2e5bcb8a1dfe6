/* Reading a whole regular file (kernels, initrds). */
#ifndef TIDE_UTIL_FILE_H
#define TIDE_UTIL_FILE_H

#include <stddef.h>

#include "util/error.h"

/* The whole of path into a new buffer (*data, *len; the caller frees it). Errors name the
 * path; a directory, a special file or an empty file are errors too. */
int file_read_all(const char *path, void **data, size_t *len, struct error *err);

#endif
