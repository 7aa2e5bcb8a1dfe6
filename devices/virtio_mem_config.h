/*
 * -device virtio-mem-pci properties (QEMU's names) and every check on them:
 * per device at parse time, and across devices and backends once the whole
 * command line is known. The -device type itself is in virtio_mem.c.
 */
#ifndef TIDE_VIRTIO_MEM_CONFIG_H
#define TIDE_VIRTIO_MEM_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "mm/backend.h"
#include "devices/device.h"
#include "devices/memory_device.h"
#include "util/opts.h"

struct vmem_config {
	char memdev[64];
	uint64_t requested_size;
	uint64_t block_size;
	uint64_t node;
	uint64_t memaddr; /* 0: placed by tide */
	int pci_slot;	  /* -1: first free */
	enum on_off_auto unplugged_inaccessible;
	bool dynamic_memslots;
	bool prealloc; /* QEMU's prealloc=on: plugs are backed at once or answered BUSY */
	uint64_t memslots; /* 0: chosen from the size */
	/* Filled by vmem_config_resolve(): */
	char id[64]; /* id= of the -device, or the memdev when it has none (for messages) */
	bool has_id; /* id= was given (QMP shows a device without one by QOM path only) */
	struct memory_backend *backend;
	uint64_t size;
	uint64_t slot_size; /* the region's memslot size (the whole region with dynamic-memslots=off) */
	struct memory_device_events events; /* QMP's size-change events: they outlive resets */
};

/*
 * block-size is a power of two of at least the THP size and the backend's page
 * size (the rule; QEMU takes the larger of the two as its default and
 * accepts down to 1 MiB): a block is then discarded and mapped in whole pages
 * and never splits a transparent huge page.
 */
int vmem_check_block_size(uint64_t block_size, uint64_t thp_size, const struct memory_backend *b,
			  const char *memdev, struct error *err);

/* block-size when none is given: the larger of the THP size and the backend's page size. */
uint64_t vmem_default_block_size(uint64_t thp_size, const struct memory_backend *b);

/* Parses and checks one device's own properties (block_size stays 0 when none is given:
 * vmem_config_resolve() sets the default once the backend is known). */
int vmem_config_parse(struct vmem_config *vc, struct opts *opts, struct error *err);

/*
 * Resolves memdev against the -object backends of cfg and checks what needs
 * the whole picture: backend exists and is used once, size and requested-size
 * against block-size, the memslot split, memaddr alignment and overlaps,
 * everything under maxmem.
 * configs[i] belongs to the i-th virtio-mem device of the command line.
 */
int vmem_config_resolve(struct vmem_config **configs, unsigned count,
			const struct device_check_env *env, struct error *err);

#endif
