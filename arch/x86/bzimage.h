/*
 * Linux bzImage with the 64-bit boot protocol (x86-boot.md section 1):
 * header checks, the zero page, kernel at 1 MiB, command line and initrd.
 */
#ifndef TIDE_X86_BZIMAGE_H
#define TIDE_X86_BZIMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch/x86/boot.h"
#include "util/error.h"

struct guest_mem;
struct e820_table;

/* The setup-header fields the loader uses, validated against the file. */
struct bzimage_info {
	uint16_t version;      /* boot protocol, e.g. 0x020f */
	uint8_t loadflags;
	uint16_t xloadflags;
	uint64_t setup_size;   /* (setup_sects + 1) * 512: file offset of the protected-mode kernel */
	uint64_t kernel_size;  /* protected-mode kernel bytes to copy (syssize * 16) */
	uint64_t header_end;   /* the setup header to copy is [0x1F1, header_end) */
	uint32_t init_size;    /* RAM the kernel needs from its runtime start */
	uint32_t cmdline_size; /* longest command line without the NUL */
	uint32_t initrd_addr_max;
	uint32_t kernel_alignment;
	bool relocatable;
	uint64_t pref_address;
};

/* True when the image has the boot sector signature and a "HdrS" setup header. */
bool bzimage_probe(const void *image, size_t len);

/* Checks the header against the file and what tide needs; fills info. */
int bzimage_parse(const void *image, size_t len, struct bzimage_info *info, struct error *err);

/*
 * End of the RAM the kernel uses when loaded at load: the copied image and
 * init_size bytes from where the kernel runs (boot.rst "runtime start").
 */
uint64_t bzimage_kernel_end(const struct bzimage_info *info, uint64_t load);

/*
 * Loads the kernel at LAYOUT_HIGH_MEMORY, writes the zero page at
 * LAYOUT_ZERO_PAGE (setup header, e820, command line, initrd), the command
 * line (NULL = "") at LAYOUT_CMDLINE, and the initrd (initrd_len 0 = none)
 * page-aligned as high as low RAM and initrd_addr_max allow. out gets the
 * 64-bit entry (load + 0x200) and the zero page address.
 */
int bzimage_load(struct guest_mem *mem, const void *image, size_t len, const void *initrd,
		 size_t initrd_len, const char *cmdline, const struct e820_table *e820,
		 struct boot_entry *out, struct error *err);

#endif
