/* Helpers shared by the arch/x86 unit tests: guest memory over malloc'd buffers. */
#ifndef TIDE_TEST_ARCH_H
#define TIDE_TEST_ARCH_H

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "mm/guest_mem.h"
#include "util/error.h"

/* Asserts that err holds a message containing sub. */
#define ck_assert_err_has(err, sub)                                                            \
	ck_assert_msg(strstr((err).msg, (sub)) != NULL, "error \"%s\" lacks \"%s\"", (err).msg, \
		      (sub))

/* Guest RAM [0, size) over a zeroed buffer; free the result after the test. */
static inline void *test_mem_low(struct guest_mem *mem, uint64_t size)
{
	struct error err = { "" };
	void *buf = calloc(1, size);

	ck_assert_ptr_nonnull(buf);
	memset(mem, 0, sizeof(*mem));
	ck_assert_msg(guest_mem_add(mem, 0, size, buf, &err) == 0, "%s", err.msg);
	return buf;
}

#endif
