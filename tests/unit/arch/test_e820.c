#include <check.h>
#include <string.h>

#include "arch/x86/boot.h"
#include "arch/x86/e820.h"
#include "arch/x86/layout.h"
#include "arch_test.h"
#include "util/size.h"

static void entry_is(const struct e820_table *t, unsigned i, uint64_t addr, uint64_t size,
		     uint32_t type)
{
	ck_assert_uint_lt(i, t->nr);
	ck_assert_uint_eq(t->entries[i].addr, addr);
	ck_assert_uint_eq(t->entries[i].size, size);
	ck_assert_uint_eq(t->entries[i].type, type);
}

static void low_layout_is(const struct e820_table *t)
{
	entry_is(t, 0, 0, 0x9fc00, E820_RAM);
	entry_is(t, 1, 0x9fc00, 0x400, E820_RESERVED);
	entry_is(t, 2, 0xf0000, 0x10000, E820_RESERVED);
}

START_TEST(small_ram)
{
	struct e820_table t;
	struct error err = { "" };

	ck_assert_int_eq(e820_build(&t, 64 * MiB, &err), 0);
	ck_assert_uint_eq(t.nr, 4);
	low_layout_is(&t);
	entry_is(&t, 3, 1 * MiB, 63 * MiB, E820_RAM);
}
END_TEST

START_TEST(ram_up_to_the_hole)
{
	struct e820_table t;
	struct error err = { "" };

	ck_assert_int_eq(e820_build(&t, 3 * GiB, &err), 0);
	ck_assert_uint_eq(t.nr, 4);
	entry_is(&t, 3, 1 * MiB, 3 * GiB - 1 * MiB, E820_RAM);
}
END_TEST

START_TEST(ram_above_4g)
{
	struct e820_table t;
	struct error err = { "" };

	ck_assert_int_eq(e820_build(&t, 4 * GiB + 512 * MiB, &err), 0);
	ck_assert_uint_eq(t.nr, 5);
	low_layout_is(&t);
	/* The 1 GiB hole [3 GiB, 4 GiB) is not RAM: the rest moves above 4 GiB. */
	entry_is(&t, 3, 1 * MiB, 0xc0000000 - 1 * MiB, E820_RAM);
	entry_is(&t, 4, 4 * GiB, 1 * GiB + 512 * MiB, E820_RAM);
	for (unsigned i = 0; i < t.nr; i++) {
		uint64_t end = t.entries[i].addr + t.entries[i].size;

		ck_assert(end <= LAYOUT_PCI_HOLE_START || t.entries[i].addr >= LAYOUT_4G);
	}
}
END_TEST

START_TEST(minimum_ram)
{
	struct e820_table t;
	struct error err = { "" };

	ck_assert_int_eq(e820_build(&t, E820_MIN_RAM, &err), 0);
	entry_is(&t, 3, 1 * MiB, E820_MIN_RAM - 1 * MiB, E820_RAM);
	ck_assert_int_eq(e820_build(&t, E820_MIN_RAM - 1, &err), -1);
	ck_assert_err_has(err, "at least 8 MiB");
	ck_assert_int_eq(e820_build(&t, 0, &err), -1);
	ck_assert_int_eq(e820_build(&t, 2 * MiB, &err), -1);
}
END_TEST

START_TEST(absurd_ram)
{
	struct e820_table t;
	struct error err = { "" };

	ck_assert_int_eq(e820_build(&t, UINT64_MAX, &err), -1);
	ck_assert_err_has(err, "do not fit");
}
END_TEST

START_TEST(table_full)
{
	struct e820_table t = { .nr = 0 };
	struct error err = { "" };

	for (unsigned i = 0; i < E820_MAX_ENTRIES; i++)
		ck_assert_int_eq(e820_add(&t, i * 0x1000ULL, 0x1000, E820_RAM, &err), 0);
	ck_assert_int_eq(e820_add(&t, 1ULL << 40, 0x1000, E820_RAM, &err), -1);
	ck_assert_err_has(err, "full");
	t.nr = 0;
	ck_assert_int_eq(e820_add(&t, 0, 0, E820_RAM, &err), -1);
	ck_assert_int_eq(e820_add(&t, UINT64_MAX - 10, 100, E820_RAM, &err), -1);
}
END_TEST

START_TEST(boot_params_layout)
{
	struct e820_table t;
	struct error err = { "" };
	uint8_t zp[BOOT_PARAMS_SIZE];
	uint64_t addr, size;
	uint32_t type;

	ck_assert_uint_eq(sizeof(struct e820_entry), 20);
	ck_assert_int_eq(e820_build(&t, 5 * GiB, &err), 0);
	memset(zp, 0, sizeof(zp));
	e820_write_boot_params(&t, zp);
	ck_assert_uint_eq(zp[0x1e8], 5);
	/* Entry 4 at 0x2d0 + 4 * 20: {u64 addr, u64 size, u32 type}. */
	memcpy(&addr, zp + 0x2d0 + 80, 8);
	memcpy(&size, zp + 0x2d0 + 88, 8);
	memcpy(&type, zp + 0x2d0 + 96, 4);
	ck_assert_uint_eq(addr, 4 * GiB);
	ck_assert_uint_eq(size, 2 * GiB);
	ck_assert_uint_eq(type, E820_RAM);
	ck_assert_uint_eq(zp[0x2d0 + 100], 0); /* nothing past the last entry */
	ck_assert_uint_eq(zp[0x1ef], 0);       /* sentinel stays 0 */
}
END_TEST

START_TEST(low_ram_end)
{
	struct e820_table t;
	struct error err = { "" };
	uint64_t end = 0;

	ck_assert_int_eq(e820_build(&t, 8 * GiB, &err), 0);
	ck_assert_int_eq(boot_low_ram_end(&t, &end, &err), 0);
	ck_assert_uint_eq(end, LAYOUT_PCI_HOLE_START);
	t.nr = 3; /* no RAM at 1 MiB */
	ck_assert_int_eq(boot_low_ram_end(&t, &end, &err), -1);
	ck_assert_err_has(err, "no RAM at 1 MiB");
}
END_TEST

START_TEST(place_high)
{
	const struct boot_range busy[] = { { 0x3000000, 0x3100000 }, { 0x2f00000, 0x2f80000 } };
	uint64_t start = 0;

	/* Highest page-aligned start below hi. */
	ck_assert_int_eq(boot_place_high(0x100000, 0x4000000, 0x1800, NULL, 0, &start), 0);
	ck_assert_uint_eq(start, 0x4000000 - 0x2000);
	/* Busy ranges push it down, past both. */
	ck_assert_int_eq(boot_place_high(0x100000, 0x3100000, 0x100000, busy, 2, &start), 0);
	ck_assert_uint_eq(start, 0x2f00000 - 0x100000);
	/* Too big. */
	ck_assert_int_eq(boot_place_high(0x100000, 0x200000, 0x100001, NULL, 0, &start), -1);
	ck_assert_int_eq(boot_place_high(0x300000, 0x200000, 1, NULL, 0, &start), -1);
	ck_assert_int_eq(boot_place_high(0x100000, 0x200000, 0, NULL, 0, &start), -1);
}
END_TEST

Suite *suite_main(void)
{
	Suite *s = suite_create("e820");
	TCase *tc = tcase_create("e820");

	tcase_add_test(tc, small_ram);
	tcase_add_test(tc, ram_up_to_the_hole);
	tcase_add_test(tc, ram_above_4g);
	tcase_add_test(tc, minimum_ram);
	tcase_add_test(tc, absurd_ram);
	tcase_add_test(tc, table_full);
	tcase_add_test(tc, boot_params_layout);
	tcase_add_test(tc, low_ram_end);
	tcase_add_test(tc, place_high);
	suite_add_tcase(s, tc);
	return s;
}
