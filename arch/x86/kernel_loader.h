/* Reads the kernel and initrd files and picks the loader from the kernel's contents. */
#ifndef TIDE_X86_KERNEL_LOADER_H
#define TIDE_X86_KERNEL_LOADER_H

#include <stddef.h>

#include "arch/x86/boot.h"
#include "util/error.h"

struct guest_mem;
struct e820_table;

/*
 * Loads a kernel image (a bzImage, or an ELF kernel with a PVH entry note)
 * with an optional initrd (initrd_len 0 = none) and command line (NULL = "")
 * into guest memory described by e820; the loader is picked from the contents.
 */
int kernel_load_image(struct guest_mem *mem, const void *kernel, size_t kernel_len,
		      const void *initrd, size_t initrd_len, const char *cmdline,
		      const struct e820_table *e820, struct boot_entry *out, struct error *err);

/*
 * Checks that image is a kernel tide can boot (header and structure), without
 * loading it: lets the command line fail before a VM exists.
 */
int kernel_check_image(const void *image, size_t len, struct error *err);

#endif
