#include "arch/x86/bzimage.h"

#include <inttypes.h>
#include <string.h>

#include "arch/x86/e820.h"
#include "arch/x86/layout.h"
#include "mm/guest_mem.h"
#include "util/util.h"

/* Offsets in the file and in boot_params (the setup header sits at the same place in both). */
#define HDR_SETUP_SECTS 0x1f1
#define HDR_SYSSIZE 0x1f4
#define HDR_VID_MODE 0x1fa
#define HDR_BOOT_FLAG 0x1fe
#define HDR_JUMP 0x200
#define HDR_HEADER 0x202
#define HDR_VERSION 0x206
#define HDR_TYPE_OF_LOADER 0x210
#define HDR_LOADFLAGS 0x211
#define HDR_CODE32_START 0x214
#define HDR_RAMDISK_IMAGE 0x218
#define HDR_RAMDISK_SIZE 0x21c
#define HDR_CMD_LINE_PTR 0x228
#define HDR_INITRD_ADDR_MAX 0x22c
#define HDR_KERNEL_ALIGNMENT 0x230
#define HDR_RELOCATABLE 0x234
#define HDR_XLOADFLAGS 0x236
#define HDR_CMDLINE_SIZE 0x238
#define HDR_SETUP_DATA 0x250
#define HDR_PREF_ADDRESS 0x258
#define HDR_INIT_SIZE 0x260
#define HDR_MIN_LEN 0x264   /* every field above lies before this */
#define HDR_COPY_LIMIT 0x290 /* boot_params.edd_mbr_sig_buffer follows the header */

#define BOOT_FLAG_MAGIC 0xaa55
#define HEADER_MAGIC 0x53726448 /* "HdrS" */
#define MIN_VERSION 0x020c     /* 2.12: xloadflags */
#define LOADED_HIGH (1 << 0)
#define XLF_KERNEL_64 (1 << 0)
#define ENTRY_64_OFFSET 0x200
#define LOADER_UNDEFINED 0xff

static uint8_t get8(const uint8_t *p, size_t off)
{
	return p[off];
}

static uint16_t get16(const uint8_t *p, size_t off)
{
	uint16_t v;

	memcpy(&v, p + off, sizeof(v));
	return v;
}

static uint32_t get32(const uint8_t *p, size_t off)
{
	uint32_t v;

	memcpy(&v, p + off, sizeof(v));
	return v;
}

static uint64_t get64(const uint8_t *p, size_t off)
{
	uint64_t v;

	memcpy(&v, p + off, sizeof(v));
	return v;
}

static void put16(uint8_t *p, size_t off, uint16_t v)
{
	memcpy(p + off, &v, sizeof(v));
}

static void put32(uint8_t *p, size_t off, uint32_t v)
{
	memcpy(p + off, &v, sizeof(v));
}

bool bzimage_probe(const void *image, size_t len)
{
	const uint8_t *p = image;

	return len >= HDR_HEADER + 4 && get16(p, HDR_BOOT_FLAG) == BOOT_FLAG_MAGIC &&
	       get32(p, HDR_HEADER) == HEADER_MAGIC;
}

static int parse_layout(const uint8_t *p, size_t len, struct bzimage_info *info,
			struct error *err)
{
	unsigned setup_sects = get8(p, HDR_SETUP_SECTS);
	uint64_t syssize = get32(p, HDR_SYSSIZE);
	uint64_t header_end = HDR_HEADER + (uint64_t)get8(p, HDR_JUMP + 1);

	if (setup_sects == 0)
		setup_sects = 4; /* boot.rst: 0 means 4 */
	info->setup_size = ((uint64_t)setup_sects + 1) * 512;
	if (info->setup_size >= len)
		return error_set(err, "bzImage setup_sects %u puts the kernel at offset "
				      "0x%" PRIx64 ", "
				 "past the end of the %zu-byte file",
				 setup_sects, info->setup_size, len);
	if (syssize == 0)
		return error_set(err, "bzImage header gives a kernel size (syssize) of 0");
	info->kernel_size = syssize * 16;
	if (info->kernel_size > len - info->setup_size)
		return error_set(err, "bzImage is truncated: the header says %" PRIu64 " kernel "
				      "bytes after offset 0x%" PRIx64 ", the file has %" PRIu64,
				 info->kernel_size, info->setup_size, len - info->setup_size);
	if (info->kernel_size <= ENTRY_64_OFFSET)
		return error_set(err, "bzImage kernel is only %" PRIu64 " bytes, "
				 "too small for the 64-bit entry at 0x%x",
				 info->kernel_size, ENTRY_64_OFFSET);
	/* The setup header is inside the setup sectors (>= 1 KiB), so it is in the file. */
	info->header_end = header_end < HDR_COPY_LIMIT ? header_end : HDR_COPY_LIMIT;
	return 0;
}

static int parse_placement(const uint8_t *p, struct bzimage_info *info, struct error *err)
{
	info->init_size = get32(p, HDR_INIT_SIZE);
	info->cmdline_size = get32(p, HDR_CMDLINE_SIZE);
	info->initrd_addr_max = get32(p, HDR_INITRD_ADDR_MAX);
	info->kernel_alignment = get32(p, HDR_KERNEL_ALIGNMENT);
	info->relocatable = get8(p, HDR_RELOCATABLE) != 0;
	info->pref_address = get64(p, HDR_PREF_ADDRESS);

	if (info->init_size == 0)
		return error_set(err, "bzImage header gives an init_size of 0");
	if (info->pref_address >= LAYOUT_4G)
		return error_set(err, "bzImage pref_address 0x%" PRIx64 " is above 4 GiB",
				 info->pref_address);
	if (info->relocatable) {
		uint32_t a = info->kernel_alignment;

		if (!is_power_of_2(a))
			return error_set(err, "bzImage kernel_alignment 0x%x is not a power of two", a);
	} else if (info->pref_address < LAYOUT_HIGH_MEMORY) {
		return error_set(err, "non-relocatable bzImage wants to run at 0x%" PRIx64 ", "
				      "below 1 MiB",
				 info->pref_address);
	}
	return 0;
}

int bzimage_parse(const void *image, size_t len, struct bzimage_info *info, struct error *err)
{
	const uint8_t *p = image;

	memset(info, 0, sizeof(*info));
	if (len < HDR_VERSION + 2)
		return error_set(err, "not a bzImage: only %zu bytes", len);
	if (get16(p, HDR_BOOT_FLAG) != BOOT_FLAG_MAGIC)
		return error_set(err, "not a bzImage: no 0xAA55 boot signature at 0x1FE");
	if (get32(p, HDR_HEADER) != HEADER_MAGIC)
		return error_set(err, "not a bzImage: no \"HdrS\" setup header at 0x202");
	info->version = get16(p, HDR_VERSION);
	if (info->version < MIN_VERSION)
		return error_set(err, "bzImage boot protocol %u.%02u is too old: "
				 "the 64-bit entry needs 2.12 or later",
				 info->version >> 8, info->version & 0xff);
	if (len < HDR_MIN_LEN)
		return error_set(err, "bzImage is truncated: %zu bytes, the setup header alone needs %u",
				 len, HDR_MIN_LEN);
	info->loadflags = get8(p, HDR_LOADFLAGS);
	info->xloadflags = get16(p, HDR_XLOADFLAGS);
	if (!(info->xloadflags & XLF_KERNEL_64))
		return error_set(err, "bzImage has no 64-bit entry point (XLF_KERNEL_64 not set)");
	if (!(info->loadflags & LOADED_HIGH))
		return error_set(err, "bzImage does not load at 1 MiB (LOADED_HIGH not set)");
	if (parse_layout(p, len, info, err))
		return -1;
	return parse_placement(p, info, err);
}

uint64_t bzimage_kernel_end(const struct bzimage_info *info, uint64_t load)
{
	uint64_t runtime_start, image_end, runtime_end;

	/* boot.rst "kernel runtime start"; values are < 4 GiB, alignments < 2^32: no overflow. */
	if (info->relocatable) {
		uint64_t a = info->kernel_alignment;
		uint64_t start = load > info->pref_address ? load : info->pref_address;

		runtime_start = ALIGN_UP((uint64_t)start, a);
	} else {
		runtime_start = info->pref_address;
	}
	image_end = load + info->kernel_size;
	runtime_end = runtime_start + info->init_size;
	return image_end > runtime_end ? image_end : runtime_end;
}

static int place_initrd(struct guest_mem *mem, const struct bzimage_info *info, uint8_t *zp,
			const void *initrd, size_t initrd_len, uint64_t kernel_end,
			uint64_t low_end, struct error *err)
{
	uint64_t hi = (uint64_t)info->initrd_addr_max + 1;
	uint64_t start;

	if (initrd_len > UINT32_MAX)
		return error_set(err, "initrd is %zu bytes, the boot protocol allows at most 4 GiB - 1",
				 initrd_len);
	if (hi > low_end)
		hi = low_end;
	if (boot_place_high(kernel_end, hi, initrd_len, NULL, 0, &start))
		return error_set(err, "initrd (%zu bytes) does not fit between "
				 "the kernel end 0x%" PRIx64 " and 0x%" PRIx64,
				 initrd_len, kernel_end, hi);
	if (guest_mem_write(mem, start, initrd, initrd_len, err))
		return error_prefix(err, "initrd");
	put32(zp, HDR_RAMDISK_IMAGE, (uint32_t)start);
	put32(zp, HDR_RAMDISK_SIZE, (uint32_t)initrd_len);
	return 0;
}

int bzimage_load(struct guest_mem *mem, const void *image, size_t len, const void *initrd,
		 size_t initrd_len, const char *cmdline, const struct e820_table *e820,
		 struct boot_entry *out, struct error *err)
{
	const uint64_t load = LAYOUT_HIGH_MEMORY;
	const uint8_t *p = image;
	struct bzimage_info info;
	uint64_t low_end, kernel_end;
	uint8_t *zp;

	if (bzimage_parse(image, len, &info, err) || boot_low_ram_end(e820, &low_end, err))
		return -1;
	kernel_end = bzimage_kernel_end(&info, load);
	if (kernel_end > low_end)
		return error_set(err, "kernel needs RAM up to 0x%" PRIx64 " (image %" PRIu64 " "
				      "bytes, init_size %u), "
				 "low RAM ends at 0x%" PRIx64,
				 kernel_end, info.kernel_size,
				 info.init_size, low_end);
	zp = guest_mem_ptr(mem, LAYOUT_ZERO_PAGE, BOOT_PARAMS_SIZE);
	if (!zp)
		return error_set(err, "zero page at 0x%llx is not RAM", LAYOUT_ZERO_PAGE);

	memset(zp, 0, BOOT_PARAMS_SIZE);
	memcpy(zp + HDR_SETUP_SECTS, p + HDR_SETUP_SECTS, info.header_end - HDR_SETUP_SECTS);
	put16(zp, HDR_VID_MODE, 0xffff);
	zp[HDR_TYPE_OF_LOADER] = LOADER_UNDEFINED;
	put32(zp, HDR_CODE32_START, (uint32_t)load);
	put32(zp, HDR_CMD_LINE_PTR, (uint32_t)LAYOUT_CMDLINE);
	memset(zp + HDR_SETUP_DATA, 0, 8); /* no setup_data list, whatever the file says */
	/* Fields the loader owns, not the file: no initrd unless we place one, PC subarch. */
	memset(zp + 0x218, 0, 8);	   /* ramdisk_image, ramdisk_size */
	memset(zp + 0x224, 0, 2);	   /* heap_end_ptr */
	memset(zp + 0x23c, 0, 0x248 - 0x23c); /* hardware_subarch, hardware_subarch_data */
	e820_write_boot_params(e820, zp);

	if (boot_write_cmdline(mem, cmdline ? cmdline : "", info.cmdline_size, err))
		return -1;
	if (guest_mem_write(mem, load, p + info.setup_size, info.kernel_size, err))
		return error_prefix(err, "kernel");
	if (initrd_len &&
	    place_initrd(mem, &info, zp, initrd, initrd_len, kernel_end, low_end, err))
		return -1;

	*out = (struct boot_entry){
		.mode = BOOT_LINUX64,
		.entry_gpa = load + ENTRY_64_OFFSET,
		.boot_info_gpa = LAYOUT_ZERO_PAGE,
	};
	return 0;
}
