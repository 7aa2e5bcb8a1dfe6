/*
 * Registry of device types: -device and -object types, and the board's own devices
 * (a UART, a reset port, a PCI host bridge: those the architecture lists in
 * arch_platform_devices()). Each type lives in its own file and registers itself with
 * DEVICE_TYPE_REGISTER(); nothing central lists them. Options are parsed (and every
 * error reported) before anything starts; realize() then builds the device on the
 * board of each machine (re)start.
 */
#ifndef TIDE_DEVICE_H
#define TIDE_DEVICE_H

#include <stdbool.h>

#include "util/error.h"
#include "util/opts.h"

#include <stddef.h>
#include <stdint.h>

struct board;

enum type_kind {
	TYPE_DEVICE, /* -device */
	TYPE_OBJECT, /* -object */
	TYPE_BOARD,  /* created on every machine; realize() gets a struct board_device_place */
};

/* Where the architecture puts a board device. */
struct board_device_place {
	uint64_t base; /* port or guest-physical address; 0 where the type has its own */
	uint64_t size; /* bytes from base (a window, for a bus) */
	unsigned gsi;  /* interrupt line; 0 where it has none */
	uint64_t window_base; /* a second range (the ECAM host's BAR window); 0 where none */
	uint64_t window_size;
	bool mmio;	      /* base is on the MMIO bus rather than a port (a UART) */
};

struct device_instance;

/* What check() sees: every -device and -object, and where device memory may go. */
struct device_check_env {
	struct device_instance *instances; /* in command-line order */
	size_t count;
	uint64_t device_area_start; /* the device memory (virtio-mem) area, [start, end) */
	uint64_t device_area_end;
};

/*
 * A property a type takes on the command line, as QMP's device-list-properties and
 * qom-list-properties show it (QEMU's type names: "size", "bool", "str", "uint64", ...).
 */
struct type_property {
	const char *name;
	const char *type;
	const char *description;
};

struct device_type {
	const char *name;
	enum type_kind kind;
	const char *help; /* one line: properties and meaning, for -device help */
	const struct type_property *props; /* what parse() takes; NULL name ends; NULL: none */
	/* Validates the options and returns a config to realize later, or NULL with err set. */
	void *(*parse)(struct opts *opts, struct error *err);
	/*
	 * Optional: once the whole command line is parsed, checks what needs every
	 * device and object (e.g. a memdev reference). Called once per type in use.
	 */
	int (*check)(const struct device_check_env *env, struct error *err);
	/*
	 * Optional: opens what it needs from the host's filesystem, once, before tide gives
	 * up its privileges and (with -run-with chroot=) its view of the filesystem; realize()
	 * on a later reset can then no longer open anything by path.
	 */
	int (*open)(void *config, struct error *err);
	/* Optional: builds the device on the board; may run again after a reset. (A memory
	 * backend has nothing to build: the device that takes it maps it.) */
	int (*realize)(struct board *board, void *config, struct error *err);
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

/* The config of the instance of that kind whose type name begins with type_prefix and whose
 * id= is id, or NULL. */
void *device_instance_find(const struct device_instance *instances, size_t count,
			   enum type_kind kind, const char *type_prefix, const char *id);

#endif
