/*
 * What a kernel loader hands to the vCPU setup: how to enter the guest, and
 * the few placement helpers both loaders (bzImage, PVH ELF) share.
 */
#ifndef TIDE_X86_BOOT_H
#define TIDE_X86_BOOT_H

#include <stdint.h>

#include "util/error.h"

struct guest_mem;
struct e820_table;

enum boot_mode {
	BOOT_LINUX64, /* Linux 64-bit boot protocol: long mode, rsi = zero page */
	BOOT_PVH32,   /* Xen PVH ABI: 32-bit protected mode, paging off, ebx = start_info */
};

struct boot_entry {
	enum boot_mode mode;
	uint64_t entry_gpa;
	uint64_t boot_info_gpa; /* rsi for Linux (zero page), ebx for PVH (start_info) */
};

/* A guest-physical range [start, end) that a placement must avoid. */
struct boot_range {
	uint64_t start;
	uint64_t end;
};

#define BOOT_PAGE_SIZE 4096ULL

/*
 * Highest page-aligned start for size bytes inside [lo, hi) that overlaps none
 * of the busy ranges; -1 when there is no such place.
 */
int boot_place_high(uint64_t lo, uint64_t hi, uint64_t size, const struct boot_range *busy,
		    unsigned nr_busy, uint64_t *start);

/*
 * Copies the NUL-terminated command line to LAYOUT_CMDLINE. max_len is the
 * longest accepted length without the NUL (the kernel's own limit).
 */
int boot_write_cmdline(struct guest_mem *mem, const char *cmdline, uint64_t max_len,
		       struct error *err);

/* End of low RAM: the end of the e820 RAM entry that holds LAYOUT_HIGH_MEMORY (1 MiB). */
int boot_low_ram_end(const struct e820_table *e820, uint64_t *end, struct error *err);

#endif
