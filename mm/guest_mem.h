/*
 * Guest physical memory map: which host mapping backs which guest-physical
 * range. Boot RAM is split around the 32-bit PCI hole.
 */
#ifndef TIDE_GUEST_MEM_H
#define TIDE_GUEST_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

#define GUEST_MEM_MAX_REGIONS 64 /* boot RAM and a region per virtio-mem device */

/*
 * Whether [offset, offset+len) of a hotplugged region is usable (plugged) now. Asked on
 * the I/O thread only, which is where hotplugged memory changes; at teardown every
 * device's queues stop (the board's add_quiesce) before any device's memory goes.
 */
typedef bool (*mem_region_usable_fn)(void *opaque, uint64_t offset, uint64_t len);

struct mem_region {
	uint64_t gpa;
	uint64_t size;
	uint8_t *hva;
	mem_region_usable_fn usable; /* NULL: boot RAM, always there */
	void *opaque;
};

struct guest_mem {
	struct mem_region regions[GUEST_MEM_MAX_REGIONS];
	unsigned count;
	uint64_t ram_size;  /* boot RAM in bytes (-m) */
	uint64_t low_size;  /* part from the layout's base (x86: below the PCI hole) */
	uint64_t high_size; /* part from 4 GiB up */
	struct memory_backend *backend; /* boot RAM's backend (-machine memory-backend), or NULL */
	bool dump; /* anonymous boot RAM goes in core dumps */
};

/*
 * Where boot RAM goes (the architecture's choice): from base up to low_end, the rest from
 * high_base up (x86: from 0, around the 32-bit PCI hole; arm64: from 2 GiB, in one piece).
 */
struct guest_ram_layout {
	uint64_t base;
	uint64_t low_end;
	uint64_t high_base;
};

/* Low/high split of boot RAM: low = min(ram, low_end - base), high = the rest. */
void guest_mem_split(const struct guest_ram_layout *layout, uint64_t ram_size,
		     uint64_t *low_size, uint64_t *high_size);

/* Records a host mapping for [gpa, gpa+size); no KVM involved (unit tests use malloc'd buffers). */
int guest_mem_add(struct guest_mem *mem, uint64_t gpa, uint64_t size, void *hva,
		  struct error *err);

/*
 * Records memory that the guest plugs and unplugs while it runs (a virtio-mem device's
 * region, mapped and unmapped by the device): devices may use it wherever usable() says
 * it is plugged. The mapping stays its owner's (guest_mem_destroy leaves it alone).
 */
int guest_mem_add_hotplug(struct guest_mem *mem, uint64_t gpa, uint64_t size, void *hva,
			  mem_region_usable_fn usable, void *opaque, struct error *err);

/*
 * Host pointer for [gpa, gpa+len) when the whole range lies in one region (and, in a
 * hotplugged one, is plugged: call that on the I/O thread), else NULL.
 */
void *guest_mem_ptr(const struct guest_mem *mem, uint64_t gpa, uint64_t len);

/* Whether [gpa, gpa+len) lies in one region, plugged or not (any thread). */
bool guest_mem_covers(const struct guest_mem *mem, uint64_t gpa, uint64_t len);

/* Whether [gpa, gpa+len) lies in boot RAM (any thread). */
bool guest_mem_in_boot_ram(const struct guest_mem *mem, uint64_t gpa, uint64_t len);

/* Copies into guest memory; -1 with err when the range is not all RAM. */
int guest_mem_write(const struct guest_mem *mem, uint64_t gpa, const void *src, size_t len,
		    struct error *err);

/*
 * Boot RAM: anonymous mapping(s), or backend's one mapping split around the PCI
 * hole, added to mem and registered as KVM memslots whose ids come from slot_ids
 * (the VM's one pool). A backend is unmapped again by guest_mem_destroy (a reset
 * then maps it fresh).
 */
struct memory_backend;
struct slot_id_pool;
int guest_mem_create_ram(struct guest_mem *mem, int vm_fd, struct slot_id_pool *slot_ids,
			 const struct guest_ram_layout *layout, uint64_t ram_size, struct memory_backend *backend,
			 bool dump, struct error *err);
void guest_mem_destroy(struct guest_mem *mem);

#endif
