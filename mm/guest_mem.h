/*
 * Guest physical memory map: which host mapping backs which guest-physical
 * range. Boot RAM is split around the 32-bit PCI hole.
 */
#ifndef TIDE_GUEST_MEM_H
#define TIDE_GUEST_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/error.h"

#define GUEST_MEM_MAX_REGIONS 8

struct mem_region {
	uint64_t gpa;
	uint64_t size;
	uint8_t *hva;
};

struct guest_mem {
	struct mem_region regions[GUEST_MEM_MAX_REGIONS];
	unsigned count;
	uint64_t ram_size;  /* boot RAM in bytes (-m) */
	uint64_t low_size;  /* part below the PCI hole */
	uint64_t high_size; /* part from 4 GiB up */
	struct memory_backend *backend; /* boot RAM's backend (-machine memory-backend), or NULL */
};

/* Low/high split of boot RAM: low = min(ram, PCI hole start), high = the rest. */
void guest_mem_split(uint64_t ram_size, uint64_t *low_size, uint64_t *high_size);

/* Records a host mapping for [gpa, gpa+size); no KVM involved (unit tests use malloc'd buffers). */
int guest_mem_add(struct guest_mem *mem, uint64_t gpa, uint64_t size, void *hva,
		  struct error *err);

/* Host pointer for [gpa, gpa+len) when the whole range lies in one region, else NULL. */
void *guest_mem_ptr(const struct guest_mem *mem, uint64_t gpa, uint64_t len);

/* Copies into guest memory; -1 with err when the range is not all RAM. */
int guest_mem_write(const struct guest_mem *mem, uint64_t gpa, const void *src, size_t len,
		    struct error *err);

/*
 * Boot RAM: anonymous mapping(s), or backend's one mapping split around the PCI
 * hole, added to mem and registered as KVM memslots. A backend is unmapped
 * again by guest_mem_destroy (a reset then maps it fresh).
 */
struct memory_backend;
int guest_mem_create_ram(struct guest_mem *mem, int vm_fd, uint64_t ram_size,
			 struct memory_backend *backend, struct error *err);
void guest_mem_destroy(struct guest_mem *mem);

#endif
