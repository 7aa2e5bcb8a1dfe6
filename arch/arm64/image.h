/*
 * The arm64 Linux Image format (Documentation/arch/arm64/booting.rst): a 64-byte header
 * with the load offset and the memory the kernel needs, and where the kernel, initrd and
 * device tree go in RAM.
 */
#ifndef TIDE_ARM64_IMAGE_H
#define TIDE_ARM64_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

#define ARM64_IMAGE_MAGIC 0x644d5241u /* "ARM\x64" at offset 56 */
#define ARM64_FDT_MAX (2ULL << 20)    /* booting.rst: the tree is at most 2 MiB */

struct arm64_image_info {
	uint64_t text_offset; /* from a 2 MiB-aligned base */
	uint64_t image_size;  /* memory the kernel uses from its load address, bss included */
};

/* Checks the header (magic, little-endian kernel) and reads its fields. */
int arm64_image_parse(const void *image, size_t len, struct arm64_image_info *info,
		      struct error *err);

/* Where each part goes in RAM [ram_base, ram_base + ram_size). */
struct arm64_boot_layout {
	uint64_t kernel;      /* load address and entry point */
	uint64_t kernel_end;  /* kernel + image_size */
	uint64_t fdt;	      /* 2 MiB-aligned, at the top of RAM */
	uint64_t initrd;      /* below the tree, page-aligned */
	uint64_t initrd_end;  /* == initrd: none */
};

/* The kernel low, the device tree at the top, the initrd right below it. Errors say
 * what does not fit (-m is too small). */
int arm64_boot_layout(const struct arm64_image_info *info, size_t kernel_len, size_t initrd_len,
		      uint64_t ram_base, uint64_t ram_size, struct arm64_boot_layout *out,
		      struct error *err);

#endif
