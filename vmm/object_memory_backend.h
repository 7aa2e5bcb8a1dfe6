/* The -object memory-backend-* types (registered by vmm/object_memory_backend.c) and lookups. */
#ifndef TIDE_OBJECT_MEMORY_BACKEND_H
#define TIDE_OBJECT_MEMORY_BACKEND_H

#include "util/error.h"

struct memory_backend;
struct vm_config;

/* -machine dump-guest-core= decides for the backends not given dump= (QEMU's rule). */
void memory_backends_default_dump(const struct vm_config *cfg);
/* The -object memory backend with that id, taken by who (one user per backend): NULL with err saying why not. */
struct memory_backend *memory_backend_claim(const struct vm_config *cfg, const char *id,
					    const char *who, struct error *err);

#endif
