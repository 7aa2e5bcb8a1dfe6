/*
 * ELF kernels with a PVH entry point (Xen's PVH boot ABI, as Firecracker and
 * Cloud Hypervisor boot vmlinux): segments at their physical addresses,
 * hvm_start_info + memory map + command line + initrd module, 32-bit entry.
 */
#ifndef TIDE_X86_PVH_H
#define TIDE_X86_PVH_H

#include <stddef.h>
#include <stdint.h>

#include "arch/x86/boot.h"
#include "arch/x86/layout.h"
#include "util/error.h"

struct guest_mem;
struct e820_table;

#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define XEN_HVM_START_MAGIC_VALUE 0x336ec578

/* xen/include/public/arch-x86/hvm/start_info.h, version 1. */
struct hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr;
	uint32_t memmap_entries;
	uint32_t reserved;
};

struct hvm_modlist_entry {
	uint64_t paddr;
	uint64_t size;
	uint64_t cmdline_paddr;
	uint64_t reserved;
};

struct hvm_memmap_table_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type; /* e820 types */
	uint32_t reserved;
};

/* The one module (the initrd) goes right after start_info in the zero page. */
#define PVH_MODLIST_GPA (LAYOUT_ZERO_PAGE + 0x40)
/* Memory-map entries that fit between LAYOUT_PVH_MEMMAP and the end of the page. */
#define PVH_MEMMAP_MAX                                                \
	((unsigned)((LAYOUT_ZERO_PAGE + 0x1000 - LAYOUT_PVH_MEMMAP) / \
		    sizeof(struct hvm_memmap_table_entry)))
/* PT_LOAD segments a PVH kernel may have (vmlinux has about five). */
#define PVH_MAX_SEGMENTS 32

/*
 * The PVH entry address from the XEN_ELFNOTE_PHYS32_ENTRY note ("Xen", type
 * 18, 4- or 8-byte value below 4 GiB); errors on malformed ELF or no note.
 */
int pvh_find_entry(const void *image, size_t len, uint64_t *entry, struct error *err);

/*
 * Loads the PT_LOAD segments at their physical addresses (in RAM, at or above
 * 1 MiB), writes start_info at LAYOUT_ZERO_PAGE, the memory map at
 * LAYOUT_PVH_MEMMAP, the command line (NULL = "") at LAYOUT_CMDLINE and the
 * initrd (initrd_len 0 = none) page-aligned as high as possible in low RAM.
 */
int pvh_load(struct guest_mem *mem, const void *image, size_t len, const void *initrd,
	     size_t initrd_len, const char *cmdline, const struct e820_table *e820,
	     struct boot_entry *out, struct error *err);

#endif
