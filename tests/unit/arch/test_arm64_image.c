/* arch/arm64/image.c: the Image header and where kernel, initrd and device tree go. */
#include <check.h>
#include <stdint.h>
#include <string.h>

#include "arch/arm64/image.h"
#include "arch_test.h"
#include "util/size.h"

#define RAM_BASE 0x80000000ULL

static void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* A header as Linux 6.1 writes it: text_offset 0, image_size, flags (LE, 4K, anywhere). */
static void make_header(uint8_t *h, uint64_t text_offset, uint64_t image_size, uint64_t flags)
{
	memset(h, 0, 64);
	put_le64(h + 8, text_offset);
	put_le64(h + 16, image_size);
	put_le64(h + 24, flags);
	memcpy(h + 56, "ARM\x64", 4);
}

START_TEST(modern_header)
{
	uint8_t image[4096];
	struct arm64_image_info info;
	struct error err = { "" };

	make_header(image, 0, 40 * MiB, 0xa);
	ck_assert_msg(arm64_image_parse(image, sizeof(image), &info, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(info.text_offset, 0);
	ck_assert_uint_eq(info.image_size, 40 * MiB);
}
END_TEST

START_TEST(old_header_means_0x80000)
{
	uint8_t image[4096];
	struct arm64_image_info info;
	struct error err = { "" };

	make_header(image, 0x1234, 0, 0);
	ck_assert_int_eq(arm64_image_parse(image, sizeof(image), &info, &err), 0);
	ck_assert_uint_eq(info.text_offset, 0x80000);
	ck_assert_uint_eq(info.image_size, sizeof(image));
}
END_TEST

START_TEST(bad_headers)
{
	uint8_t image[4096];
	struct arm64_image_info info;
	struct error err = { "" };

	make_header(image, 0, 8 * MiB, 0);
	ck_assert_int_eq(arm64_image_parse(image, 63, &info, &err), -1);
	ck_assert_err_has(err, "not an arm64 Linux Image");
	image[56] = 'X';
	ck_assert_int_eq(arm64_image_parse(image, sizeof(image), &info, &err), -1);
	ck_assert_err_has(err, "magic");
	make_header(image, 0, 8 * MiB, 1);
	ck_assert_int_eq(arm64_image_parse(image, sizeof(image), &info, &err), -1);
	ck_assert_err_has(err, "big-endian");
	make_header(image, 0x123, 8 * MiB, 0);
	ck_assert_int_eq(arm64_image_parse(image, sizeof(image), &info, &err), -1);
	ck_assert_err_has(err, "text_offset");
	make_header(image, 2 * MiB, 8 * MiB, 0);
	ck_assert_int_eq(arm64_image_parse(image, sizeof(image), &info, &err), -1);
	make_header(image, 0, 1024, 0);
	ck_assert_int_eq(arm64_image_parse(image, sizeof(image), &info, &err), -1);
	ck_assert_err_has(err, "needs 1024 bytes");
}
END_TEST

START_TEST(layout_kernel_low_tree_top_initrd_below)
{
	const struct arm64_image_info info = { .text_offset = 0, .image_size = 40 * MiB };
	struct arm64_boot_layout at;
	struct error err = { "" };

	ck_assert_msg(arm64_boot_layout(&info, 30 * MiB, 10 * MiB + 5, RAM_BASE, 512 * MiB, &at,
					&err) == 0,
		      "%s", err.msg);
	ck_assert_uint_eq(at.kernel, RAM_BASE);
	ck_assert_uint_eq(at.kernel_end, RAM_BASE + 40 * MiB);
	ck_assert_uint_eq(at.fdt, RAM_BASE + 510 * MiB);
	ck_assert_uint_eq(at.initrd % 4096, 0);
	ck_assert_uint_le(at.initrd_end, at.fdt);
	ck_assert_uint_eq(at.initrd_end - at.initrd, 10 * MiB + 5);
	ck_assert_uint_ge(at.initrd, at.kernel_end);
	/* No initrd: an empty range. */
	ck_assert_int_eq(arm64_boot_layout(&info, 30 * MiB, 0, RAM_BASE, 512 * MiB, &at, &err), 0);
	ck_assert_uint_eq(at.initrd, at.initrd_end);
	/* An odd RAM size: the tree still starts 2 MiB aligned and inside RAM. */
	ck_assert_int_eq(arm64_boot_layout(&info, 30 * MiB, 0, RAM_BASE, 511 * MiB, &at, &err), 0);
	ck_assert_uint_eq(at.fdt, RAM_BASE + 508 * MiB);
}
END_TEST

START_TEST(layout_too_little_ram)
{
	const struct arm64_image_info info = { .text_offset = 0, .image_size = 40 * MiB };
	struct arm64_boot_layout at;
	struct error err = { "" };

	ck_assert_int_eq(arm64_boot_layout(&info, 30 * MiB, 0, RAM_BASE, 3 * MiB, &at, &err), -1);
	ck_assert_err_has(err, "-m is too small");
	ck_assert_int_eq(arm64_boot_layout(&info, 30 * MiB, 0, RAM_BASE, 40 * MiB, &at, &err), -1);
	ck_assert_err_has(err, "-m is too small");
	ck_assert_int_eq(
		arm64_boot_layout(&info, 30 * MiB, 30 * MiB, RAM_BASE, 64 * MiB, &at, &err), -1);
	ck_assert_err_has(err, "initrd");
	/* image_size is the file's word: a huge one is refused, not added until it wraps. */
	const struct arm64_image_info huge = { .text_offset = 0, .image_size = UINT64_MAX - 4095 };

	ck_assert_int_eq(arm64_boot_layout(&huge, 30 * MiB, 1, RAM_BASE, 512 * MiB, &at, &err), -1);
	ck_assert_err_has(err, "-m is too small");
}
END_TEST

Suite *suite_main(void)
{
	Suite *s = suite_create("arm64_image");
	TCase *tc = tcase_create("image");

	tcase_add_test(tc, modern_header);
	tcase_add_test(tc, old_header_means_0x80000);
	tcase_add_test(tc, bad_headers);
	tcase_add_test(tc, layout_kernel_low_tree_top_initrd_below);
	tcase_add_test(tc, layout_too_little_ram);
	suite_add_tcase(s, tc);
	return s;
}
