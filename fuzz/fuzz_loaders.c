/*
 * libFuzzer target: the kernel loaders' parsers, on the bytes of a would-be kernel image:
 * the check tide makes before anything starts (bzImage or ELF with a PVH note, chosen by
 * content), and each parser on its own.
 */
#include <stddef.h>
#include <stdint.h>

#include "arch/x86/bzimage.h"
#include "arch/x86/kernel_loader.h"
#include "arch/x86/pvh.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bzimage_info info;
	struct error err;
	uint64_t entry;

	kernel_check_image(data, size, &err);
	if (bzimage_probe(data, size))
		bzimage_parse(data, size, &info, &err);
	pvh_find_entry(data, size, &entry, &err);
	return 0;
}
