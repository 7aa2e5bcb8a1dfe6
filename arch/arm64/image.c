#include "arch/arm64/image.h"

#include <inttypes.h>
#include <string.h>

#define IMAGE_HEADER_SIZE 64
#define IMAGE_FLAG_BIG_ENDIAN (1u << 0)
#define IMAGE_TEXT_OFFSET_OLD 0x80000 /* kernels before 3.17 leave image_size 0 and mean this */
#define ALIGN_2M (2ULL << 20)
#define PAGE 4096ULL

static uint64_t le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

int arm64_image_parse(const void *image, size_t len, struct arm64_image_info *info,
		      struct error *err)
{
	const uint8_t *h = image;
	uint64_t flags;

	if (len < IMAGE_HEADER_SIZE || (uint32_t)le64(h + 56) != ARM64_IMAGE_MAGIC)
		return error_set(err, "not an arm64 Linux Image (no \"ARM\\x64\" magic at offset 56; "
				      "a vmlinuz may be compressed: boot its uncompressed Image)");
	info->text_offset = le64(h + 8);
	info->image_size = le64(h + 16);
	flags = le64(h + 24);
	if (info->image_size == 0) {
		info->text_offset = IMAGE_TEXT_OFFSET_OLD;
		info->image_size = len;
	}
	if (flags & IMAGE_FLAG_BIG_ENDIAN)
		return error_set(err, "a big-endian arm64 kernel; tide runs little-endian guests");
	if (info->text_offset >= ALIGN_2M || info->text_offset % PAGE)
		return error_set(err, "arm64 Image text_offset 0x%" PRIx64 " is not a page offset "
				      "within 2 MiB", info->text_offset);
	if (info->image_size < len)
		return error_set(err, "arm64 Image says it needs %" PRIu64 " bytes but the file has "
				      "%zu", info->image_size, len);
	return 0;
}

int arm64_boot_layout(const struct arm64_image_info *info, size_t kernel_len, size_t initrd_len,
		      uint64_t ram_base, uint64_t ram_size, struct arm64_boot_layout *out,
		      struct error *err)
{
	uint64_t ram_end = ram_base + ram_size;

	(void)kernel_len; /* image_size covers it (checked by the parse) */
	memset(out, 0, sizeof(*out));
	/* image_size is the file's word: check it before adding it to anything. */
	if (ram_size < 2 * ARM64_FDT_MAX ||
	    info->image_size > ram_size - ARM64_FDT_MAX - info->text_offset)
		return error_set(err, "the kernel needs %" PRIu64 " bytes of RAM beside the 2 MiB "
				      "device tree: -m is too small",
				 info->image_size);
	out->kernel = ram_base + info->text_offset; /* ram_base is 2 MiB aligned */
	out->kernel_end = out->kernel + info->image_size;
	out->fdt = (ram_end - ARM64_FDT_MAX) & ~(ALIGN_2M - 1);
	if (out->fdt < out->kernel_end)
		return error_set(err, "the kernel needs %" PRIu64 " bytes of RAM beside the 2 MiB "
				      "device tree: -m is too small",
				 info->image_size);
	out->initrd = out->initrd_end = out->fdt;
	if (initrd_len) {
		if (initrd_len > out->fdt - out->kernel_end)
			return error_set(err, "the initrd (%zu bytes) does not fit in RAM beside the "
					      "kernel: -m is too small", initrd_len);
		out->initrd = (out->fdt - initrd_len) & ~(PAGE - 1);
		if (out->initrd < out->kernel_end)
			return error_set(err, "the initrd (%zu bytes) does not fit in RAM beside "
					      "the kernel: -m is too small", initrd_len);
		out->initrd_end = out->initrd + initrd_len;
	}
	return 0;
}
