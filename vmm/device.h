/*
 * Registry of -device and -object types. Each type lives in its own file and
 * registers itself with DEVICE_TYPE_REGISTER(); nothing central lists them.
 * Options are parsed (and every error reported) before anything starts;
 * realize() then builds the device on each machine (re)start.
 */
#ifndef TIDE_DEVICE_H
#define TIDE_DEVICE_H

#include <stdbool.h>

#include "util/error.h"
#include "util/opts.h"

struct machine;
struct vm_config;

enum type_kind { TYPE_DEVICE, TYPE_OBJECT };

struct device_type {
	const char *name;
	enum type_kind kind;
	const char *help; /* one line: properties and meaning, for -device help */
	/* Validates the options and returns a config to realize later, or NULL with err set. */
	void *(*parse)(struct opts *opts, struct error *err);
	/*
	 * Optional: once the whole command line is parsed, checks what needs every
	 * device and object (e.g. a memdev reference). Called once per type in use.
	 */
	int (*check)(struct vm_config *cfg, struct error *err);
	/*
	 * Optional: opens what it needs from the host's filesystem, once, before tide gives
	 * up its privileges and (with -run-with chroot=) its view of the filesystem; realize()
	 * on a later reset can then no longer open anything by path.
	 */
	int (*open)(void *config, struct error *err);
	/* Optional: builds the device in the machine; may run again after a reset. (A memory
	 * backend has nothing to build: the device that takes it maps it.) */
	int (*realize)(struct machine *machine, void *config, struct error *err);
	void (*free_config)(void *config);
};

void device_type_register(const struct device_type *type);
const struct device_type *device_type_find(const char *name, enum type_kind kind);
/* Calls fn for every registered type of the kind, sorted by name. */
void device_type_foreach(enum type_kind kind, void (*fn)(const struct device_type *, void *),
			 void *opaque);

#define DEVICE_TYPE_REGISTER(type)                                                                 \
	static void __attribute__((constructor)) register_##type(void)                            \
	{                                                                                          \
		device_type_register(&(type));                                                     \
	}

/* A parsed -device or -object: its type, the config it produced, and its id= if any. */
struct device_instance {
	const struct device_type *type;
	void *config;
	char *id;
};

#endif
