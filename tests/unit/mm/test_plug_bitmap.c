#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "mm/plug_bitmap.h"

START_TEST(ranges_across_word_boundaries_and_both_ends)
{
	struct plug_bitmap bm;

	ck_assert_int_eq(plug_bitmap_init(&bm, 200), 0);
	ck_assert(plug_bitmap_all_clear(&bm, 0, 200));
	plug_bitmap_set(&bm, 60, 10); /* straddles words 0 and 1 */
	ck_assert_uint_eq(bm.nr_plugged, 10);
	ck_assert(plug_bitmap_all_set(&bm, 60, 10));
	ck_assert(!plug_bitmap_all_set(&bm, 59, 10));
	ck_assert(!plug_bitmap_all_set(&bm, 61, 10));
	ck_assert(plug_bitmap_all_clear(&bm, 0, 60));
	ck_assert(plug_bitmap_all_clear(&bm, 70, 130));
	ck_assert_int_eq(plug_bitmap_state(&bm, 50, 20), PLUG_STATE_MIXED);
	ck_assert_int_eq(plug_bitmap_state(&bm, 63, 2), PLUG_STATE_PLUGGED);
	ck_assert_int_eq(plug_bitmap_state(&bm, 128, 64), PLUG_STATE_UNPLUGGED);
	/* First and last block, and a whole-bitmap range. */
	plug_bitmap_set(&bm, 0, 1);
	plug_bitmap_set(&bm, 199, 1);
	ck_assert(plug_bitmap_all_set(&bm, 199, 1));
	ck_assert_uint_eq(plug_bitmap_count(&bm, 0, 200), 12);
	plug_bitmap_set(&bm, 0, 200);
	ck_assert_uint_eq(bm.nr_plugged, 200);
	ck_assert_int_eq(plug_bitmap_state(&bm, 0, 200), PLUG_STATE_PLUGGED);
	plug_bitmap_clear(&bm, 64, 64); /* exactly word 1 */
	ck_assert_uint_eq(bm.nr_plugged, 136);
	ck_assert(plug_bitmap_all_clear(&bm, 64, 64));
	ck_assert(plug_bitmap_all_set(&bm, 0, 64));
	ck_assert(plug_bitmap_all_set(&bm, 128, 72));
	plug_bitmap_clear_all(&bm);
	ck_assert_uint_eq(bm.nr_plugged, 0);
	ck_assert(plug_bitmap_all_clear(&bm, 0, 200));
	plug_bitmap_free(&bm);
}
END_TEST

START_TEST(setting_twice_counts_once)
{
	struct plug_bitmap bm;

	ck_assert_int_eq(plug_bitmap_init(&bm, 64), 0);
	plug_bitmap_set(&bm, 0, 32);
	plug_bitmap_set(&bm, 16, 32);
	ck_assert_uint_eq(bm.nr_plugged, 48);
	plug_bitmap_clear(&bm, 40, 24);
	ck_assert_uint_eq(bm.nr_plugged, 40);
	plug_bitmap_free(&bm);
}
END_TEST

/* Random operations against a byte-per-block reference. */
START_TEST(matches_a_naive_reference)
{
	enum { N = 1000 };
	struct plug_bitmap bm;
	unsigned char ref[N];
	unsigned seed = 12345;

	memset(ref, 0, sizeof(ref));
	ck_assert_int_eq(plug_bitmap_init(&bm, N), 0);
	for (int round = 0; round < 3000; round++) {
		unsigned first = (unsigned)rand_r(&seed) % N;
		unsigned count = 1 + (unsigned)rand_r(&seed) % (N - first);
		unsigned op = (unsigned)rand_r(&seed) % 3;
		unsigned set = 0;

		if (op == 0) {
			plug_bitmap_set(&bm, first, count);
			memset(ref + first, 1, count);
		} else if (op == 1) {
			plug_bitmap_clear(&bm, first, count);
			memset(ref + first, 0, count);
		}
		for (unsigned i = first; i < first + count; i++)
			set += ref[i];
		ck_assert_uint_eq(plug_bitmap_count(&bm, first, count), set);
		ck_assert(plug_bitmap_all_set(&bm, first, count) == (set == count));
		ck_assert(plug_bitmap_all_clear(&bm, first, count) == (set == 0));
		/* The next plugged run from `first`, against a scan of the reference. */
		{
			uint64_t run_first = 0, run_count = 0;
			unsigned a = first, b;

			while (a < N && !ref[a])
				a++;
			for (b = a; b < N && ref[b]; b++)
				;
			ck_assert(plug_bitmap_next_run(&bm, first, &run_first, &run_count) ==
				  (a < N));
			if (a < N) {
				ck_assert_uint_eq(run_first, a);
				ck_assert_uint_eq(run_count, b - a);
			}
		}
	}
	ck_assert_uint_eq(bm.nr_plugged, plug_bitmap_count(&bm, 0, N));
	plug_bitmap_free(&bm);
}
END_TEST

START_TEST(a_terabyte_of_2mib_blocks)
{
	struct plug_bitmap bm;
	const uint64_t blocks = (1ULL << 40) / (2ULL << 20);

	ck_assert_int_eq(plug_bitmap_init(&bm, blocks), 0);
	plug_bitmap_set(&bm, blocks - 512, 512); /* the last GiB */
	ck_assert_uint_eq(bm.nr_plugged, 512);
	ck_assert(plug_bitmap_all_clear(&bm, 0, blocks - 512));
	ck_assert(plug_bitmap_all_set(&bm, blocks - 512, 512));
	plug_bitmap_free(&bm);
}
END_TEST

Suite *suite_main(void)
{
	Suite *s = suite_create("plug_bitmap");
	TCase *tc = tcase_create("ranges");

	tcase_add_test(tc, ranges_across_word_boundaries_and_both_ends);
	tcase_add_test(tc, setting_twice_counts_once);
	tcase_add_test(tc, matches_a_naive_reference);
	tcase_add_test(tc, a_terabyte_of_2mib_blocks);
	suite_add_tcase(s, tc);
	return s;
}
