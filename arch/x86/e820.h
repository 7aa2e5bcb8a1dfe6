/* The e820 memory map the guest sees (x86-boot.md sections 1 and 2). */
#ifndef TIDE_X86_E820_H
#define TIDE_X86_E820_H

#include <stdint.h>

#include "util/error.h"

#define E820_MAX_ENTRIES 128 /* what fits in boot_params */

#define E820_RAM 1
#define E820_RESERVED 2

/* Less RAM than this cannot hold a kernel above 1 MiB plus its working space. */
#define E820_MIN_RAM (8ULL << 20)

struct e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
} __attribute__((packed));

struct e820_table {
	unsigned nr;
	struct e820_entry entries[E820_MAX_ENTRIES];
};

/*
 * Tide's map for ram_size bytes of boot RAM: RAM [0, 0x9FC00), reserved MP
 * table area [0x9FC00, 0xA0000), reserved BIOS area [0xF0000, 1 MiB), RAM
 * [1 MiB, min(ram_size, 3 GiB)), and the rest of the RAM from 4 GiB up.
 */
int e820_build(struct e820_table *t, uint64_t ram_size, struct error *err);

/* Appends one entry; -1 when the table is full or the range is empty or wraps. */
int e820_add(struct e820_table *t, uint64_t addr, uint64_t size, uint32_t type,
	     struct error *err);

/* Offsets inside Linux's struct boot_params (the 4 KiB zero page). */
#define BOOT_PARAMS_E820_ENTRIES 0x1e8
#define BOOT_PARAMS_E820_TABLE 0x2d0
#define BOOT_PARAMS_SIZE 4096

/* Writes the count and the entries into a zero page of BOOT_PARAMS_SIZE bytes. */
void e820_write_boot_params(const struct e820_table *t, void *zero_page);

#endif
