#include "arch/x86/kernel_loader.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arch/x86/bzimage.h"
#include "arch/x86/elf.h"
#include "arch/x86/pvh.h"

int kernel_load_image(struct guest_mem *mem, const void *kernel, size_t kernel_len,
		      const void *initrd, size_t initrd_len, const char *cmdline,
		      const struct e820_table *e820, struct boot_entry *out, struct error *err)
{
	if (bzimage_probe(kernel, kernel_len))
		return bzimage_load(mem, kernel, kernel_len, initrd, initrd_len, cmdline, e820, out,
				    err);
	if (elf_probe(kernel, kernel_len))
		return pvh_load(mem, kernel, kernel_len, initrd, initrd_len, cmdline, e820, out, err);
	return error_set(err, "not a bzImage or an ELF kernel with a PVH note");
}

int kernel_check_image(const void *image, size_t len, struct error *err)
{
	struct bzimage_info info;
	uint64_t entry;

	if (bzimage_probe(image, len))
		return bzimage_parse(image, len, &info, err);
	if (elf_probe(image, len))
		return pvh_find_entry(image, len, &entry, err);
	return error_set(err, "not a bzImage or an ELF kernel with a PVH note");
}
