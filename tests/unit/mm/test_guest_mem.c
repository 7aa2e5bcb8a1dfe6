#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/layout.h"
#include "mm/guest_mem.h"
#include "util/size.h"

START_TEST(split_around_the_pci_hole)
{
	const struct guest_ram_layout pc = { .low_end = LAYOUT_PCI_HOLE_START, .high_base = LAYOUT_4G };
	const struct guest_ram_layout *layout = &pc;
	uint64_t low, high;

	guest_mem_split(layout, 512 * MiB, &low, &high);
	ck_assert_uint_eq(low, 512 * MiB);
	ck_assert_uint_eq(high, 0);
	guest_mem_split(layout, 3 * GiB, &low, &high);
	ck_assert_uint_eq(low, 3 * GiB);
	ck_assert_uint_eq(high, 0);
	guest_mem_split(layout, 4 * GiB, &low, &high);
	ck_assert_uint_eq(low, LAYOUT_PCI_HOLE_START);
	ck_assert_uint_eq(high, GiB);
}
END_TEST

START_TEST(pointers_only_for_ranges_inside_one_region)
{
	static uint8_t low[0x10000], high[0x1000];
	struct guest_mem mem = { 0 };
	struct error err;

	ck_assert_int_eq(guest_mem_add(&mem, 0, sizeof(low), low, &err), 0);
	ck_assert_int_eq(guest_mem_add(&mem, LAYOUT_4G, sizeof(high), high, &err), 0);
	ck_assert_ptr_eq(guest_mem_ptr(&mem, 0x100, 16), low + 0x100);
	ck_assert_ptr_eq(guest_mem_ptr(&mem, 0, sizeof(low)), low);
	ck_assert_ptr_eq(guest_mem_ptr(&mem, sizeof(low), 0), low + sizeof(low));
	ck_assert_ptr_null(guest_mem_ptr(&mem, sizeof(low) - 8, 16)); /* runs past the end */
	ck_assert_ptr_null(guest_mem_ptr(&mem, sizeof(low), 1));
	ck_assert_ptr_eq(guest_mem_ptr(&mem, LAYOUT_4G + 8, 8), high + 8);
	/* Lengths and addresses that would overflow an end computation. */
	ck_assert_ptr_null(guest_mem_ptr(&mem, 0x10, UINT64_MAX));
	ck_assert_ptr_null(guest_mem_ptr(&mem, UINT64_MAX, 2));
	ck_assert_ptr_null(guest_mem_ptr(&mem, LAYOUT_4G - 1, 2)); /* straddles the hole */
}
END_TEST

START_TEST(writes_check_bounds_and_overlaps_are_refused)
{
	static uint8_t ram[0x2000];
	struct guest_mem mem = { 0 };
	struct error err = { "" };
	const char text[] = "tide";

	ck_assert_int_eq(guest_mem_add(&mem, 0x1000, sizeof(ram), ram, &err), 0);
	ck_assert_int_eq(guest_mem_write(&mem, 0x1000, text, sizeof(text), &err), 0);
	ck_assert_str_eq((char *)ram, "tide");
	ck_assert_int_eq(guest_mem_write(&mem, 0x2ffe, text, sizeof(text), &err), -1);
	ck_assert_str_eq(err.msg, "guest range 0x2ffe+0x5 is not RAM");
	ck_assert_int_eq(guest_mem_add(&mem, 0x2000, 0x1000, ram, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "overlaps"));
	ck_assert_int_eq(guest_mem_add(&mem, 0x9000, 0, ram, &err), -1);
	ck_assert_int_eq(guest_mem_add(&mem, UINT64_MAX - 0xfff, 0x2000, ram, &err), -1);
	ck_assert_uint_eq(mem.count, 1);
}
END_TEST

Suite *suite_main(void)
{
	Suite *s = suite_create("guest_mem");
	TCase *tc = tcase_create("map");

	tcase_add_test(tc, split_around_the_pci_hole);
	tcase_add_test(tc, pointers_only_for_ranges_inside_one_region);
	tcase_add_test(tc, writes_check_bounds_and_overlaps_are_refused);
	suite_add_tcase(s, tc);
	return s;
}
