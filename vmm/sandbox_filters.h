/* The system calls each kind of thread may make (vmm/sandbox_filters.c, docs/security.md). */
#ifndef TIDE_SANDBOX_FILTERS_H
#define TIDE_SANDBOX_FILTERS_H

#include <seccomp.h>
#include <stdbool.h>
#include <stddef.h>

#include "vmm/sandbox.h"

/* Adds the kind's rules to a filter whose default action traps. 0 or -errno. */
int sandbox_filter_add_rules(scmp_filter_ctx ctx, enum sandbox_thread kind);

/* The argument some rule for call nr looks at, or -1 when none does (the SIGSYS message). */
int sandbox_filter_checked_argument(int nr);
/* Argument index of the trapped call, from the signal's saved registers. */
unsigned long sandbox_trapped_argument(void *ucontext, unsigned index);

/* For tests and docs: calls fn for each call the kind may make (name, argument text or NULL). */
void sandbox_filter_foreach(enum sandbox_thread kind,
			    void (*fn)(const char *call, const char *argument, void *opaque),
			    void *opaque);

#endif
