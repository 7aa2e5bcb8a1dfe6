#include <check.h>
#include <stdio.h>
#include <string.h>

#include "mm/memslots.h"
#include "util/size.h"

#define BLOCK (2 * MiB)

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

static int pauses;

static void fake_pause(void *opaque, bool pause)
{
	(void)opaque;
	record(pause ? "pause%.0llu%.0llu%.0llu; " : "resume%.0llu%.0llu%.0llu; ", 0, 0, 0);
	pauses += pause;
}

static const struct memslot_ops fake_ops = { fake_set_region, fake_protect, fake_pause };

static struct slot_id_pool pool;
static struct memslot_region region;

/*
 * A 1 GiB device at 4 GiB (hva 0 is fine: the fake never touches memory): 8 parts of
 * 128 MiB, at most 12 memslots at once.
 */
static void setup(void)
{
	struct error err;
	uint32_t boot_ram[2];

	calls[0] = '\0';
	fail_next_set = 0;
	pauses = 0;
	ck_assert_int_eq(slot_id_pool_init(&pool, 32764), 0);
	ck_assert_int_eq(slot_id_alloc(&pool, &boot_ram[0], &err), 0); /* boot RAM's first */
	ck_assert_int_eq(slot_id_alloc(&pool, &boot_ram[1], &err), 0);
	ck_assert_uint_eq(boot_ram[0] + boot_ram[1], 0 + 1);
	ck_assert_int_eq(memslot_region_init(&region, 4 * GiB, GiB, NULL, 128 * MiB, 12, &pool,
					     &fake_ops, calls, &err), 0);
	ck_assert_uint_eq(region.nr_parts, 8);
}

static void teardown(void)
{
	memslot_region_destroy(&region);
	slot_id_pool_free(&pool);
}

static void map(uint64_t offset, uint64_t size)
{
	struct error err;

	ck_assert_int_eq(memslot_map(&region, offset, size, &err), 0);
}

/* The index of the memslot at offset. */
static uint32_t slot_at(uint64_t offset)
{
	for (uint32_t i = 0; i < region.nr_slots; i++)
		if (region.slots[i].offset == offset)
			return i;
	ck_abort_msg("no memslot at %llu", (unsigned long long)offset);
	return 0;
}

static void unmap(uint64_t offset)
{
	struct error err;

	ck_assert_int_eq(memslot_unmap(&region, slot_at(offset), false, &err), 0);
}

/* A part is read-write while it holds a memslot, PROT_NONE again once it holds none. */
START_TEST(parts_are_accessible_while_they_hold_a_memslot)
{
	map(0, 2 * MiB);
	map(8 * MiB, 4 * MiB); /* same part: no second mprotect */
	map(130 * MiB, 2 * MiB);
	ck_assert_str_eq(calls, "rw 0M+128M; add 2 @4096M +2M; add 3 @4104M +4M; "
				"rw 128M+128M; add 4 @4226M +2M; ");
	ck_assert_uint_eq(region.nr_slots, 3);
	ck_assert_uint_eq(region.parts_mapped, 2);
	ck_assert_uint_eq(region.part_slots[0], 2);
	calls[0] = '\0';
	unmap(0);
	unmap(8 * MiB);
	ck_assert_str_eq(calls, "del 2 @4096M; del 3 @4104M; none 0M+128M; ");
	ck_assert_uint_eq(region.parts_mapped, 1);
	ck_assert(!memslot_part_mapped(&region, 0));
	ck_assert(memslot_part_mapped(&region, 1));
	ck_assert_uint_eq(region.counters.maps, 3);
	ck_assert_uint_eq(region.counters.unmaps, 2);
}
END_TEST

START_TEST(slots_stay_sorted_and_cover_what_they_map)
{
	map(200 * MiB, 2 * MiB);
	map(0, 128 * MiB);
	map(128 * MiB, 8 * MiB);
	ck_assert_uint_eq(region.slots[0].offset, 0);
	ck_assert_uint_eq(region.slots[1].offset, 128 * MiB);
	ck_assert_uint_eq(region.slots[2].offset, 200 * MiB);
	ck_assert_uint_eq(memslot_first_in_part(&region, 1), 1);
	ck_assert_uint_eq(memslot_first_in_part(&region, 2), 3); /* none there: past the end */
	/* Adjacent memslots across a part boundary cover a range together; a gap does not. */
	ck_assert(memslot_covers(&region, 120 * MiB, 16 * MiB));
	ck_assert(!memslot_covers(&region, 120 * MiB, 17 * MiB));
	ck_assert(memslot_covers(&region, 200 * MiB, 4096));
	ck_assert(!memslot_covers(&region, 202 * MiB, 4096));
	ck_assert(!memslot_covers(&region, GiB, 4096));
	ck_assert(!memslot_covers(&region, 0, 0));
}
END_TEST

START_TEST(bad_memslots_are_refused)
{
	struct error err = { "" };

	map(0, 4 * MiB);
	ck_assert_int_eq(memslot_map(&region, 2 * MiB, 4 * MiB, &err), -1); /* overlaps */
	ck_assert_str_eq(err.msg, "memslot 0x200000+0x400000 overlaps another");
	ck_assert_int_eq(memslot_map(&region, 126 * MiB, 4 * MiB, &err), -1); /* two parts */
	ck_assert_str_eq(err.msg, "memslot 0x7e00000+0x400000 is not page-aligned inside one "
				  "part of the region");
	ck_assert_int_eq(memslot_map(&region, GiB, 4096, &err), -1);
	ck_assert_int_eq(memslot_map(&region, 64 * MiB, 100, &err), -1);
	ck_assert_int_eq(memslot_map(&region, 64 * MiB, 0, &err), -1);
	ck_assert_int_eq(memslot_map(&region, 4096, UINT64_MAX, &err), -1);
	ck_assert_uint_eq(region.nr_slots, 1);
	/* The region's budget: 12 memslots at once. */
	for (uint64_t i = 1; i < 12; i++)
		map(i * 4 * MiB, 2 * MiB);
	ck_assert_int_eq(memslot_map(&region, 100 * MiB, 2 * MiB, &err), -1);
	ck_assert_str_eq(err.msg, "all 12 memslots of the region are in use");
	ck_assert_int_eq(memslot_region_init(&(struct memslot_region){ 0 }, 0, GiB, NULL,
					     128 * MiB, 7, &pool, &fake_ops, calls, &err), -1);
	ck_assert_str_eq(err.msg, "7 memslots cannot cover 8 parts");
}
END_TEST

START_TEST(failed_add_rolls_back)
{
	struct error err;

	fail_next_set = 1;
	ck_assert_int_eq(memslot_map(&region, 0, BLOCK, &err), -1);
	ck_assert_str_eq(err.msg, "EEXIST");
	/* The part went accessible for the add and back to PROT_NONE when it failed. */
	ck_assert_str_eq(calls, "rw 0M+128M; none 0M+128M; ");
	ck_assert_uint_eq(region.nr_slots, 0);
	ck_assert_uint_eq(region.parts_mapped, 0);
	map(0, BLOCK); /* the id it had taken is free again */
	ck_assert_uint_eq(region.slots[0].kvm_id, 2);
}
END_TEST

START_TEST(pause_is_handed_to_the_ops_and_counted)
{
	memslot_pause_guest(&region, true);
	memslot_pause_guest(&region, false);
	ck_assert_str_eq(calls, "pause; resume; ");
	ck_assert_uint_eq(region.counters.guest_pauses, 1);
}
END_TEST

START_TEST(destroy_unmaps_what_is_left)
{
	map(0, BLOCK);
	map(512 * MiB, 128 * MiB);
	calls[0] = '\0';
	memslot_region_destroy(&region);
	ck_assert_str_eq(calls, "del 3 @4608M; none 512M+128M; del 2 @4096M; none 0M+128M; ");
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
	tcase_add_test(tc, parts_are_accessible_while_they_hold_a_memslot);
	tcase_add_test(tc, slots_stay_sorted_and_cover_what_they_map);
	tcase_add_test(tc, bad_memslots_are_refused);
	tcase_add_test(tc, failed_add_rolls_back);
	tcase_add_test(tc, pause_is_handed_to_the_ops_and_counted);
	tcase_add_test(tc, destroy_unmaps_what_is_left);
	tcase_add_test(tc, slot_size_choice);
	tcase_add_test(tc, slot_ids_are_reused_lowest_first);
	tcase_add_test(tc, device_budget_is_kvms_limit_less_boot_ram);
	suite_add_tcase(s, tc);
	return s;
}
