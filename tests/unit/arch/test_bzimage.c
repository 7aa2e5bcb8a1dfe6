#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/bzimage.h"
#include "arch/x86/e820.h"
#include "arch/x86/kernel_loader.h"
#include "arch/x86/layout.h"
#include "arch_test.h"
#include "util/size.h"

#define SETUP_SECTS 4
#define SETUP_SIZE ((SETUP_SECTS + 1) * 512)
#define KERNEL_SIZE 0x4000
#define INIT_SIZE (4 * MiB)
#define PREF_ADDRESS (16 * MiB)
#define HEADER_END 0x26c

static uint8_t *image;
static size_t image_len;

static void w8(size_t off, uint8_t v)
{
	image[off] = v;
}

static void w16(size_t off, uint16_t v)
{
	memcpy(image + off, &v, 2);
}

static void w32(size_t off, uint32_t v)
{
	memcpy(image + off, &v, 4);
}

static void w64(size_t off, uint64_t v)
{
	memcpy(image + off, &v, 8);
}

static uint32_t r32(const uint8_t *p, size_t off)
{
	uint32_t v;

	memcpy(&v, p + off, 4);
	return v;
}

/* A minimal modern bzImage: setup sectors with the header, then the kernel. */
static void make_image(void)
{
	image_len = SETUP_SIZE + KERNEL_SIZE;
	image = calloc(1, image_len + 4096);
	ck_assert_ptr_nonnull(image);
	w8(0x1f1, SETUP_SECTS);
	w32(0x1f4, KERNEL_SIZE / 16);
	w16(0x1fe, 0xaa55);
	w8(0x200, 0xeb);
	w8(0x201, HEADER_END - 0x202);
	memcpy(image + 0x202, "HdrS", 4);
	w16(0x206, 0x020f);
	w8(0x211, 0x01);              /* LOADED_HIGH */
	w32(0x214, 0x100000);
	w32(0x22c, 0x7fffffff);       /* initrd_addr_max */
	w32(0x230, 0x200000);         /* kernel_alignment */
	w8(0x234, 1);                 /* relocatable */
	w16(0x236, 0x3);              /* XLF_KERNEL_64 | CAN_BE_LOADED_ABOVE_4G */
	w32(0x238, 2047);             /* cmdline_size */
	w64(0x258, PREF_ADDRESS);
	w32(0x260, INIT_SIZE);
	w32(0x268, 0x12345678);       /* kernel_info_offset: last header field */
	w32(0x270, 0xdeadbeef);       /* past the header: must not be copied */
	w64(0x250, 0x12345000);       /* setup_data from the file: must not reach the guest */
	for (size_t i = 0; i < KERNEL_SIZE; i++)
		image[SETUP_SIZE + i] = (uint8_t)(i * 7 + 1);
}

static void free_image(void)
{
	free(image);
	image = NULL;
}

struct vm {
	struct guest_mem mem;
	struct e820_table e820;
	uint8_t *ram;
	uint64_t size;
};

static void vm_init(struct vm *vm, uint64_t ram)
{
	struct error err = { "" };

	vm->size = ram;
	vm->ram = test_mem_low(&vm->mem, ram);
	ck_assert_int_eq(e820_build(&vm->e820, ram, &err), 0);
}

static int load(struct vm *vm, const void *initrd, size_t initrd_len, const char *cmdline,
		struct boot_entry *out, struct error *err)
{
	return bzimage_load(&vm->mem, image, image_len, initrd, initrd_len, cmdline, &vm->e820, out,
			    err);
}

static void expect_parse_error(const char *what)
{
	struct bzimage_info info;
	struct error err = { "" };

	ck_assert_int_eq(bzimage_parse(image, image_len, &info, &err), -1);
	ck_assert_err_has(err, what);
}

START_TEST(probe)
{
	ck_assert(bzimage_probe(image, image_len));
	ck_assert(!bzimage_probe(image, 0x205));
	w16(0x1fe, 0);
	ck_assert(!bzimage_probe(image, image_len));
	w16(0x1fe, 0xaa55);
	image[0x202] = 'X';
	ck_assert(!bzimage_probe(image, image_len));
}
END_TEST

START_TEST(parse_valid)
{
	struct bzimage_info info;
	struct error err = { "" };

	ck_assert_int_eq(bzimage_parse(image, image_len, &info, &err), 0);
	ck_assert_uint_eq(info.version, 0x020f);
	ck_assert_uint_eq(info.setup_size, SETUP_SIZE);
	ck_assert_uint_eq(info.kernel_size, KERNEL_SIZE);
	ck_assert_uint_eq(info.header_end, HEADER_END);
	ck_assert_uint_eq(info.init_size, INIT_SIZE);
	ck_assert_uint_eq(info.cmdline_size, 2047);
	ck_assert_uint_eq(info.initrd_addr_max, 0x7fffffff);
	ck_assert(info.relocatable);
	/* Relocatable: runs at max(load, pref) aligned, needs init_size from there. */
	ck_assert_uint_eq(bzimage_kernel_end(&info, 1 * MiB), PREF_ADDRESS + INIT_SIZE);
}
END_TEST

START_TEST(setup_sects_zero_means_four)
{
	struct bzimage_info info;
	struct error err = { "" };

	w8(0x1f1, 0);
	ck_assert_int_eq(bzimage_parse(image, image_len, &info, &err), 0);
	ck_assert_uint_eq(info.setup_size, 5 * 512);
}
END_TEST

START_TEST(header_copy_is_bounded)
{
	struct bzimage_info info;
	struct error err = { "" };

	w8(0x201, 0xff); /* claims a header up to 0x301: clamp before edd_mbr_sig_buffer */
	ck_assert_int_eq(bzimage_parse(image, image_len, &info, &err), 0);
	ck_assert_uint_eq(info.header_end, 0x290);
}
END_TEST

START_TEST(reject_bad_magic)
{
	w16(0x1fe, 0x55aa);
	expect_parse_error("0xAA55");
	w16(0x1fe, 0xaa55);
	memcpy(image + 0x202, "HdrX", 4);
	expect_parse_error("HdrS");
}
END_TEST

START_TEST(reject_old_version)
{
	w16(0x206, 0x020b);
	expect_parse_error("2.11 is too old");
}
END_TEST

START_TEST(reject_no_64bit)
{
	w16(0x236, 0x2);
	expect_parse_error("XLF_KERNEL_64");
	w16(0x236, 0x1);
	w8(0x211, 0);
	expect_parse_error("LOADED_HIGH");
}
END_TEST

START_TEST(reject_truncated)
{
	struct bzimage_info info;
	struct error err = { "" };

	/* Cut inside the kernel: syssize says more than the file has. */
	ck_assert_int_eq(bzimage_parse(image, image_len - 1, &info, &err), -1);
	ck_assert_err_has(err, "truncated");
	/* Cut inside the setup header. */
	ck_assert_int_eq(bzimage_parse(image, 0x240, &info, &err), -1);
	ck_assert_err_has(err, "truncated");
	ck_assert_int_eq(bzimage_parse(image, 0x100, &info, &err), -1);
	ck_assert_err_has(err, "not a bzImage");
	/* Every length up to the full file fails cleanly (and ASan checks the reads). */
	for (size_t len = 0; len < image_len; len += 7)
		ck_assert_int_eq(bzimage_parse(image, len, &info, &err), -1);
}
END_TEST

START_TEST(reject_setup_past_eof)
{
	w8(0x1f1, 200); /* kernel would start at 201 * 512, past the file */
	expect_parse_error("past the end");
}
END_TEST

START_TEST(reject_bad_sizes)
{
	w32(0x1f4, 0);
	expect_parse_error("syssize");
	w32(0x1f4, 0xffffffff); /* 64 GiB: no overflow, just truncated */
	expect_parse_error("truncated");
	w32(0x1f4, 0x10); /* 256 bytes: no room for the 64-bit entry at 0x200 */
	expect_parse_error("too small");
	w32(0x1f4, KERNEL_SIZE / 16);
	w32(0x260, 0);
	expect_parse_error("init_size");
	w32(0x260, INIT_SIZE);
	w32(0x230, 0x300000);
	expect_parse_error("power of two");
	w32(0x230, 0x200000);
	w64(0x258, 1ULL << 40);
	expect_parse_error("pref_address");
}
END_TEST

START_TEST(load_zero_page_and_kernel)
{
	struct vm vm;
	struct boot_entry entry;
	struct error err = { "" };
	const char *cmdline = "console=ttyS0 reboot=t";
	const uint8_t *zp;

	vm_init(&vm, 64 * MiB);
	memset(vm.ram + LAYOUT_ZERO_PAGE, 0xaa, 4096); /* must be zeroed */
	ck_assert_msg(load(&vm, NULL, 0, cmdline, &entry, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(entry.mode, BOOT_LINUX64);
	ck_assert_uint_eq(entry.entry_gpa, 0x100200);
	ck_assert_uint_eq(entry.boot_info_gpa, LAYOUT_ZERO_PAGE);

	zp = vm.ram + LAYOUT_ZERO_PAGE;
	ck_assert_uint_eq(zp[0], 0);
	ck_assert_uint_eq(zp[0x1ef], 0); /* sentinel */
	/* Setup header copied from the file; the fields tide writes differ from the file. */
	ck_assert_mem_eq(zp + 0x1f1, image + 0x1f1, 0x1fa - 0x1f1);
	ck_assert_mem_eq(zp + 0x202, image + 0x202, 0x210 - 0x202);
	ck_assert_uint_eq(r32(zp, 0x268), 0x12345678);
	ck_assert_uint_eq(r32(zp, 0x270), 0); /* beyond the header: not copied */
	ck_assert_uint_eq(r32(zp, 0x250), 0);
	ck_assert_uint_eq(r32(zp, 0x254), 0);
	ck_assert_uint_eq(zp[0x1fa] | zp[0x1fb] << 8, 0xffff);
	ck_assert_uint_eq(zp[0x210], 0xff);
	ck_assert_uint_eq(r32(zp, 0x214), 0x100000);
	ck_assert_uint_eq(r32(zp, 0x228), LAYOUT_CMDLINE);
	ck_assert_uint_eq(r32(zp, 0x218), 0);
	ck_assert_uint_eq(r32(zp, 0x21c), 0);
	ck_assert_uint_eq(zp[0x1e8], vm.e820.nr);
	ck_assert_mem_eq(zp + 0x2d0, vm.e820.entries, vm.e820.nr * 20);

	ck_assert_str_eq((const char *)vm.ram + LAYOUT_CMDLINE, cmdline);
	ck_assert_mem_eq(vm.ram + 0x100000, image + SETUP_SIZE, KERNEL_SIZE);
	free(vm.ram);
}
END_TEST

START_TEST(load_null_cmdline)
{
	struct vm vm;
	struct boot_entry entry;
	struct error err = { "" };

	vm_init(&vm, 32 * MiB);
	vm.ram[LAYOUT_CMDLINE] = 'x';
	ck_assert_int_eq(load(&vm, NULL, 0, NULL, &entry, &err), 0);
	ck_assert_uint_eq(vm.ram[LAYOUT_CMDLINE], 0);
	ck_assert_uint_eq(r32(vm.ram + LAYOUT_ZERO_PAGE, 0x228), LAYOUT_CMDLINE);
	free(vm.ram);
}
END_TEST

START_TEST(load_initrd_high)
{
	struct vm vm;
	struct boot_entry entry;
	struct error err = { "" };
	size_t len = 3 * MiB + 5;
	uint8_t *initrd = malloc(len);
	uint32_t start, size;

	ck_assert_ptr_nonnull(initrd);
	for (size_t i = 0; i < len; i++)
		initrd[i] = (uint8_t)(i ^ (i >> 8));
	vm_init(&vm, 64 * MiB);
	ck_assert_msg(load(&vm, initrd, len, "", &entry, &err) == 0, "%s", err.msg);
	start = r32(vm.ram + LAYOUT_ZERO_PAGE, 0x218);
	size = r32(vm.ram + LAYOUT_ZERO_PAGE, 0x21c);
	ck_assert_uint_eq(size, len);
	ck_assert_uint_eq(start % 4096, 0);
	ck_assert_uint_le(start + len, 64 * MiB);
	ck_assert_uint_gt(start + len, 64 * MiB - 4096); /* as high as possible */
	ck_assert_uint_ge(start, PREF_ADDRESS + INIT_SIZE);
	ck_assert_mem_eq(vm.ram + start, initrd, len);
	free(vm.ram);

	/* initrd_addr_max below the top of RAM: the last byte stays <= it. */
	w32(0x22c, 0x1ffffff);
	vm_init(&vm, 64 * MiB);
	ck_assert_msg(load(&vm, initrd, len, "", &entry, &err) == 0, "%s", err.msg);
	start = r32(vm.ram + LAYOUT_ZERO_PAGE, 0x218);
	ck_assert_uint_le(start + len - 1, 0x1ffffff);
	ck_assert_uint_eq(start, (0x2000000 - len) & ~4095u);
	free(vm.ram);
	free(initrd);
}
END_TEST

START_TEST(reject_initrd_that_does_not_fit)
{
	struct vm vm;
	struct boot_entry entry;
	struct error err = { "" };
	size_t len = 13 * MiB;
	uint8_t *initrd = calloc(1, len);

	ck_assert_ptr_nonnull(initrd);
	/* 32 MiB RAM, kernel uses up to 20 MiB: 12 MiB left. */
	vm_init(&vm, 32 * MiB);
	ck_assert_int_eq(load(&vm, initrd, len, "", &entry, &err), -1);
	ck_assert_err_has(err, "initrd");
	ck_assert_err_has(err, "does not fit");
	ck_assert_int_eq(load(&vm, initrd, 12 * MiB, "", &entry, &err), 0);
	free(vm.ram);

	/* initrd_addr_max under the kernel's end. */
	w32(0x22c, 0xffffff);
	vm_init(&vm, 64 * MiB);
	ck_assert_int_eq(load(&vm, initrd, 4096, "", &entry, &err), -1);
	ck_assert_err_has(err, "does not fit");
	free(vm.ram);
	free(initrd);
}
END_TEST

START_TEST(reject_kernel_that_does_not_fit)
{
	struct vm vm;
	struct boot_entry entry;
	struct error err = { "" };

	vm_init(&vm, 16 * MiB); /* runs at 16 MiB + 4 MiB init_size */
	ck_assert_int_eq(load(&vm, NULL, 0, "", &entry, &err), -1);
	ck_assert_err_has(err, "low RAM ends at 0x1000000");
	free(vm.ram);
}
END_TEST

START_TEST(reject_long_cmdline)
{
	struct vm vm;
	struct boot_entry entry;
	struct error err = { "" };
	char *cmdline = malloc(LAYOUT_CMDLINE_MAX + 1);

	ck_assert_ptr_nonnull(cmdline);
	vm_init(&vm, 32 * MiB);
	memset(cmdline, 'a', 2048);
	cmdline[2048] = '\0';
	ck_assert_int_eq(load(&vm, NULL, 0, cmdline, &entry, &err), -1);
	ck_assert_err_has(err, "2048 bytes, the kernel accepts at most 2047");
	cmdline[2047] = '\0';
	ck_assert_int_eq(load(&vm, NULL, 0, cmdline, &entry, &err), 0);
	ck_assert_uint_eq(strlen((const char *)vm.ram + LAYOUT_CMDLINE), 2047);

	/* A kernel with a huge cmdline_size still stops at tide's area. */
	w32(0x238, 0xffffffff);
	memset(cmdline, 'b', LAYOUT_CMDLINE_MAX);
	cmdline[LAYOUT_CMDLINE_MAX] = '\0';
	ck_assert_int_eq(load(&vm, NULL, 0, cmdline, &entry, &err), -1);
	ck_assert_err_has(err, "tide allows at most");
	free(vm.ram);
	free(cmdline);
}
END_TEST

START_TEST(dispatch_by_contents)
{
	struct vm vm;
	struct boot_entry entry;
	struct error err = { "" };
	static const uint8_t junk[600] = { 1, 2, 3 };

	vm_init(&vm, 32 * MiB);
	ck_assert_int_eq(kernel_load_image(&vm.mem, image, image_len, NULL, 0, "", &vm.e820,
					   &entry, &err),
			 0);
	ck_assert_int_eq(entry.mode, BOOT_LINUX64);
	ck_assert_int_eq(kernel_load_image(&vm.mem, junk, sizeof(junk), NULL, 0, "", &vm.e820,
					   &entry, &err),
			 -1);
	ck_assert_str_eq(err.msg, "not a bzImage or an ELF kernel with a PVH note");
	free(vm.ram);
}
END_TEST

Suite *suite_main(void)
{
	Suite *s = suite_create("bzimage");
	TCase *tc = tcase_create("bzimage");

	tcase_add_checked_fixture(tc, make_image, free_image);
	tcase_add_test(tc, probe);
	tcase_add_test(tc, parse_valid);
	tcase_add_test(tc, setup_sects_zero_means_four);
	tcase_add_test(tc, header_copy_is_bounded);
	tcase_add_test(tc, reject_bad_magic);
	tcase_add_test(tc, reject_old_version);
	tcase_add_test(tc, reject_no_64bit);
	tcase_add_test(tc, reject_truncated);
	tcase_add_test(tc, reject_setup_past_eof);
	tcase_add_test(tc, reject_bad_sizes);
	tcase_add_test(tc, load_zero_page_and_kernel);
	tcase_add_test(tc, load_null_cmdline);
	tcase_add_test(tc, load_initrd_high);
	tcase_add_test(tc, reject_initrd_that_does_not_fit);
	tcase_add_test(tc, reject_kernel_that_does_not_fit);
	tcase_add_test(tc, reject_long_cmdline);
	tcase_add_test(tc, dispatch_by_contents);
	suite_add_tcase(s, tc);
	return s;
}
