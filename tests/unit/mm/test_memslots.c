#include <check.h>
#include <stdio.h>
#include <string.h>

#include "mm/memslots.h"
#include "vmm/size.h"

/* A fake KVM: records every call as text, can be told to fail the next set_region. */
static char calls[4096];
static int fail_next_set;

static void record(const char *fmt, unsigned long long a, unsigned long long b,
		   unsigned long long c)
{
	size_t used = strlen(calls);

	snprintf(calls + used, sizeof(calls) - used, fmt, a, b, c);
}

static int fake_set_region(void *opaque, uint32_t id, uint64_t gpa, uint64_t size, void *hva,
			   struct error *err)
{
	(void)hva;
	ck_assert_ptr_eq(opaque, calls);
	if (fail_next_set) {
		fail_next_set = 0;
		return error_set(err, "EEXIST");
	}
	if (size)
		record("add %llu @%lluM +%lluM; ", id, gpa >> 20, size >> 20);
	else
		record("del %llu @%lluM%.0llu; ", id, gpa >> 20, 0);
	return 0;
}

static int fake_protect(void *opaque, void *hva, uint64_t size, bool accessible, struct error *err)
{
	(void)opaque;
	(void)err;
	record(accessible ? "rw %lluM+%lluM%.0llu; " : "none %lluM+%lluM%.0llu; ",
	       (unsigned long long)((uintptr_t)hva >> 20), size >> 20, 0);
	return 0;
}

static const struct memslot_ops fake_ops = { fake_set_region, fake_protect };

static struct slot_id_pool pool;
static struct plug_bitmap plugged;
static struct memslot_region region;
#define BLOCK (2 * MiB)

/* A 1 GiB device at 4 GiB (hva 0 is fine: the fake never touches memory): 8 slots of 128 MiB. */
static void setup(void)
{
	struct error err;

	calls[0] = '\0';
	fail_next_set = 0;
	ck_assert_int_eq(slot_id_pool_init(&pool, 32764), 0);
	slot_id_pool_reserve(&pool, 0); /* boot RAM */
	slot_id_pool_reserve(&pool, 1);
	ck_assert_int_eq(plug_bitmap_init(&plugged, GiB / BLOCK), 0);
	ck_assert_int_eq(memslot_region_init(&region, 4 * GiB, GiB, NULL, 128 * MiB, &pool,
					     &fake_ops, calls, &err), 0);
	ck_assert_uint_eq(region.nr_slots, 8);
}

static void teardown(void)
{
	memslot_region_destroy(&region);
	plug_bitmap_free(&plugged);
	slot_id_pool_free(&pool);
}

static void plug(uint64_t offset, uint64_t len)
{
	struct error err;

	ck_assert_int_eq(memslot_map_range(&region, offset, len, &err), 0);
	plug_bitmap_set(&plugged, offset / BLOCK, len / BLOCK);
}

static void unplug(uint64_t offset, uint64_t len)
{
	struct error err;

	plug_bitmap_clear(&plugged, offset / BLOCK, len / BLOCK);
	ck_assert_int_eq(memslot_unmap_unplugged(&region, offset, len, &plugged, BLOCK, &err), 0);
}

START_TEST(slots_follow_plugged_blocks)
{
	plug(0, BLOCK); /* first block: slot 0 */
	ck_assert_str_eq(calls, "rw 0M+128M; add 2 @4096M +128M; ");
	calls[0] = '\0';
	plug(BLOCK, BLOCK); /* same slot: nothing to do */
	ck_assert_str_eq(calls, "");
	plug(128 * MiB - BLOCK, 2 * BLOCK); /* straddles slots 0 and 1 */
	ck_assert_str_eq(calls, "rw 128M+128M; add 3 @4224M +128M; ");
	calls[0] = '\0';
	unplug(0, BLOCK); /* slot 0 still holds blocks */
	ck_assert_str_eq(calls, "");
	unplug(BLOCK, BLOCK);
	ck_assert_str_eq(calls, "");
	unplug(128 * MiB - BLOCK, BLOCK); /* slot 0 now empty: remove, then protect */
	ck_assert_str_eq(calls, "del 2 @4096M; none 0M+128M; ");
	ck_assert(!memslot_is_mapped(&region, 0));
	ck_assert(memslot_is_mapped(&region, 1));
	calls[0] = '\0';
	plug(7 * 128 * MiB, BLOCK); /* the freed id 2 is reused */
	ck_assert_str_eq(calls, "rw 896M+128M; add 2 @4992M +128M; ");
	ck_assert_uint_eq(region.nr_mapped, 2);
	ck_assert_uint_eq(region.counters.maps, 3);
	ck_assert_uint_eq(region.counters.unmaps, 1);
}
END_TEST

START_TEST(unplug_all_removes_every_mapped_slot_once)
{
	plug(0, GiB);
	ck_assert_uint_eq(region.nr_mapped, 8);
	calls[0] = '\0';
	unplug(0, GiB);
	ck_assert_uint_eq(region.nr_mapped, 0);
	ck_assert_ptr_nonnull(strstr(calls, "del 9 @4992M; none 896M+128M; "));
	ck_assert_uint_eq(region.counters.unmaps, 8);
}
END_TEST

START_TEST(failed_add_rolls_back)
{
	struct error err = { "" };

	fail_next_set = 1;
	ck_assert_int_eq(memslot_map_range(&region, 0, BLOCK, &err), -1);
	ck_assert_str_eq(err.msg, "EEXIST");
	ck_assert_str_eq(calls, "rw 0M+128M; none 0M+128M; ");
	ck_assert(!memslot_is_mapped(&region, 0));
	calls[0] = '\0';
	plug(0, BLOCK); /* the id was released: 2 again */
	ck_assert_str_eq(calls, "rw 0M+128M; add 2 @4096M +128M; ");
}
END_TEST

START_TEST(ranges_outside_the_region_are_refused)
{
	struct error err;

	ck_assert_int_eq(memslot_map_range(&region, GiB, BLOCK, &err), -1);
	ck_assert_int_eq(memslot_map_range(&region, GiB - BLOCK, 2 * BLOCK, &err), -1);
	ck_assert_int_eq(memslot_map_range(&region, 0, 0, &err), -1);
	ck_assert_int_eq(memslot_map_range(&region, BLOCK, UINT64_MAX, &err), -1);
	ck_assert_str_eq(calls, "");
}
END_TEST

START_TEST(destroy_unmaps_what_is_left)
{
	plug(3 * 128 * MiB, BLOCK);
	calls[0] = '\0';
	memslot_region_destroy(&region);
	ck_assert_str_eq(calls, "del 2 @4480M; none 384M+128M; ");
}
END_TEST

START_TEST(slot_size_choice)
{
	struct error err = { "" };
	uint64_t s;

	ck_assert_int_eq(memslot_pick_size(64 * GiB, 2 * MiB, 0, 1024, &s, &err), 0);
	ck_assert_uint_eq(s, 128 * MiB);
	ck_assert_int_eq(memslot_pick_size(TiB, 2 * MiB, 0, 1024, &s, &err), 0);
	ck_assert_uint_eq(s, GiB); /* 8192 slots of 128 MiB would exceed 1024 */
	ck_assert_int_eq(memslot_pick_size(4 * GiB, GiB, 0, 1024, &s, &err), 0);
	ck_assert_uint_eq(s, GiB); /* never below the block size */
	ck_assert_int_eq(memslot_pick_size(4 * GiB, 2 * MiB, 4, 1024, &s, &err), 0);
	ck_assert_uint_eq(s, GiB); /* memslots=4 */
	ck_assert_int_eq(memslot_pick_size(4 * GiB, 2 * MiB, 3, 1024, &s, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "memslots=3"));
	ck_assert_int_eq(memslot_pick_size(4 * GiB, 2 * MiB, 2000, 1024, &s, &err), -1);
	ck_assert_int_eq(memslot_pick_size(100 * MiB, 2 * MiB, 0, 1024, &s, &err), -1);
	ck_assert_int_eq(memslot_pick_size(GiB, 3 * MiB, 0, 1024, &s, &err), -1);
	/* 1025 granules: no power of two tiles it; 205 slots of 640 MiB do (was a SIGFPE). */
	ck_assert_int_eq(memslot_pick_size(1025 * 128 * MiB, 2 * MiB, 0, 1024, &s, &err), 0);
	ck_assert_uint_eq(s, 5 * 128 * MiB);
	/* A prime number of granules above the limit: one slot for all of it. */
	ck_assert_int_eq(memslot_pick_size(1031 * 128 * MiB, 2 * MiB, 0, 1024, &s, &err), 0);
	ck_assert_uint_eq(s, 1031 * 128 * MiB);
	ck_assert_int_eq(memslot_pick_size(TiB + 128 * MiB, 2 * MiB, 0, 1024, &s, &err), 0);
	ck_assert_uint_eq((TiB + 128 * MiB) % s, 0);
	ck_assert_uint_le((TiB + 128 * MiB) / s, 1024);
	ck_assert_uint_eq(s % (128 * MiB), 0);
	/* 1536 granules: 768 slots of 256 MiB, as doubling gave. */
	ck_assert_int_eq(memslot_pick_size(192 * GiB, 2 * MiB, 0, 1024, &s, &err), 0);
	ck_assert_uint_eq(s, 256 * MiB);
}
END_TEST

START_TEST(device_budget_is_kvms_limit_less_boot_ram)
{
	struct error err = { "" };
	uint32_t budget = 0;

	ck_assert_int_eq(memslot_device_budget(32764, 2, 2048, &budget, &err), 0);
	ck_assert_uint_eq(budget, 2048); /* capped for all devices together */
	ck_assert_int_eq(memslot_device_budget(40, 2, 2048, &budget, &err), 0);
	ck_assert_uint_eq(budget, 38);
	ck_assert_int_eq(memslot_device_budget(2, 2, 2048, &budget, &err), -1);
	ck_assert_str_eq(err.msg, "KVM offers 2 memslots, boot RAM alone needs 2");
	ck_assert_int_eq(memslot_device_budget(-1, 1, 2048, &budget, &err), -1);
}
END_TEST

START_TEST(slot_ids_are_reused_lowest_first)
{
	struct slot_id_pool p;
	struct error err = { "" };
	uint32_t a, b, c;

	ck_assert_int_eq(slot_id_pool_init(&p, 3), 0);
	ck_assert_int_eq(slot_id_alloc(&p, &a, &err), 0);
	ck_assert_int_eq(slot_id_alloc(&p, &b, &err), 0);
	ck_assert_int_eq(slot_id_alloc(&p, &c, &err), 0);
	ck_assert_uint_eq(a + b + c, 0 + 1 + 2);
	ck_assert_int_eq(slot_id_alloc(&p, &a, &err), -1);
	ck_assert_str_eq(err.msg, "all 3 KVM memory slots are in use");
	slot_id_release(&p, 1);
	ck_assert_int_eq(slot_id_alloc(&p, &a, &err), 0);
	ck_assert_uint_eq(a, 1);
	slot_id_pool_free(&p);
}
END_TEST

Suite *suite_main(void)
{
	Suite *s = suite_create("memslots");
	TCase *tc = tcase_create("region");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, slots_follow_plugged_blocks);
	tcase_add_test(tc, unplug_all_removes_every_mapped_slot_once);
	tcase_add_test(tc, failed_add_rolls_back);
	tcase_add_test(tc, ranges_outside_the_region_are_refused);
	tcase_add_test(tc, destroy_unmaps_what_is_left);
	tcase_add_test(tc, slot_size_choice);
	tcase_add_test(tc, slot_ids_are_reused_lowest_first);
	tcase_add_test(tc, device_budget_is_kvms_limit_less_boot_ram);
	suite_add_tcase(s, tc);
	return s;
}
