#include <check.h>
#include <stdlib.h>

#include "util/latency.h"
#include "util/util.h"

/* The log is 32 KiB: keep it off the test's stack. */
static struct latency_log *log_new(void)
{
	struct latency_log *l = calloc(1, sizeof(*l));

	ck_assert_ptr_nonnull(l);
	return l;
}

START_TEST(empty_log_reports_zero)
{
	struct latency_log *l = log_new();

	ck_assert_uint_eq(latency_percentile(l, 0), 0);
	ck_assert_uint_eq(latency_percentile(l, 50), 0);
	ck_assert_uint_eq(latency_percentile(l, 100), 0);
	free(l);
}
END_TEST

START_TEST(single_sample_is_every_percentile)
{
	struct latency_log *l = log_new();

	latency_record(l, 777);
	ck_assert_uint_eq(latency_percentile(l, 0), 777);
	ck_assert_uint_eq(latency_percentile(l, 1), 777);
	ck_assert_uint_eq(latency_percentile(l, 50), 777);
	ck_assert_uint_eq(latency_percentile(l, 100), 777);
	free(l);
}
END_TEST

/* Nearest rank: the ceil(pct/100 * n)-th smallest sample, recorded out of order on purpose. */
START_TEST(nearest_rank_on_ten_samples)
{
	static const uint64_t shuffled[] = { 70, 10, 100, 40, 90, 20, 60, 30, 80, 50 };
	struct latency_log *l = log_new();

	for (unsigned i = 0; i < 10; i++)
		latency_record(l, shuffled[i]);
	ck_assert_uint_eq(l->count, 10);
	ck_assert_uint_eq(latency_percentile(l, 0), 10);   /* rank 0 clamps to the minimum */
	ck_assert_uint_eq(latency_percentile(l, 1), 10);   /* ceil(0.1) = 1 */
	ck_assert_uint_eq(latency_percentile(l, 10), 10);  /* exactly rank 1 */
	ck_assert_uint_eq(latency_percentile(l, 11), 20);  /* ceil(1.1) = 2 */
	ck_assert_uint_eq(latency_percentile(l, 50), 50);  /* rank 5, not an interpolated 55 */
	ck_assert_uint_eq(latency_percentile(l, 51), 60);
	ck_assert_uint_eq(latency_percentile(l, 90), 90);
	ck_assert_uint_eq(latency_percentile(l, 99), 100); /* ceil(9.9) = 10 */
	ck_assert_uint_eq(latency_percentile(l, 100), 100);
	ck_assert_uint_eq(latency_percentile(l, 250), 100); /* above 100 is treated as 100 */
	free(l);
}
END_TEST

START_TEST(nearest_rank_on_hundred_samples)
{
	struct latency_log *l = log_new();

	/* 1..100 in descending order: the p-th percentile is p itself. */
	for (uint64_t v = 100; v >= 1; v--)
		latency_record(l, v);
	for (unsigned p = 1; p <= 100; p++)
		ck_assert_uint_eq(latency_percentile(l, p), p);
	free(l);
}
END_TEST

START_TEST(percentile_does_not_modify_the_log)
{
	struct latency_log *l = log_new();

	latency_record(l, 3);
	latency_record(l, 1);
	latency_record(l, 2);
	ck_assert_uint_eq(latency_percentile(l, 50), 2);
	/* Sorting happens on a copy: the ring keeps recording order. */
	ck_assert_uint_eq(l->ns[0], 3);
	ck_assert_uint_eq(l->ns[1], 1);
	ck_assert_uint_eq(l->ns[2], 2);
	free(l);
}
END_TEST

/* Past LATENCY_SAMPLES the oldest samples are overwritten and no longer count. */
START_TEST(ring_keeps_the_newest_samples)
{
	struct latency_log *l = log_new();

	/* Old, huge samples first, then LATENCY_SAMPLES small ones that must replace them all. */
	for (unsigned i = 0; i < 100; i++)
		latency_record(l, 1000000 + i);
	for (unsigned i = 1; i <= LATENCY_SAMPLES; i++)
		latency_record(l, i);
	ck_assert_uint_eq(l->count, LATENCY_SAMPLES + 100);
	ck_assert_uint_eq(latency_percentile(l, 100), LATENCY_SAMPLES);
	ck_assert_uint_eq(latency_percentile(l, 0), 1);
	ck_assert_uint_eq(latency_percentile(l, 50), LATENCY_SAMPLES / 2);

	/* One more sample evicts the oldest remaining one (1). */
	latency_record(l, LATENCY_SAMPLES + 1);
	ck_assert_uint_eq(latency_percentile(l, 0), 2);
	ck_assert_uint_eq(latency_percentile(l, 100), LATENCY_SAMPLES + 1);
	free(l);
}
END_TEST

/* A full ring whose slots all take part, not just the first `count % N`. */
START_TEST(full_ring_uses_every_slot)
{
	struct latency_log *l = log_new();

	for (unsigned i = 0; i < LATENCY_SAMPLES + 1; i++)
		latency_record(l, i < LATENCY_SAMPLES ? 500 : 7);
	/* kept = 4096 samples: one 7 and 4095 x 500. */
	ck_assert_uint_eq(latency_percentile(l, 0), 7);
	ck_assert_uint_eq(latency_percentile(l, 50), 500);
	ck_assert_uint_eq(latency_percentile(l, 100), 500);
	free(l);
}
END_TEST

START_TEST(clock_is_monotonic)
{
	uint64_t a = monotonic_ns(), b = monotonic_ns();

	ck_assert_uint_gt(a, 0);
	ck_assert_uint_ge(b, a);
}
END_TEST

Suite *suite_main(void)
{
	Suite *suite = suite_create("latency");
	TCase *tc = tcase_create("percentiles");

	tcase_add_test(tc, empty_log_reports_zero);
	tcase_add_test(tc, single_sample_is_every_percentile);
	tcase_add_test(tc, nearest_rank_on_ten_samples);
	tcase_add_test(tc, nearest_rank_on_hundred_samples);
	tcase_add_test(tc, percentile_does_not_modify_the_log);
	tcase_add_test(tc, ring_keeps_the_newest_samples);
	tcase_add_test(tc, full_ring_uses_every_slot);
	tcase_add_test(tc, clock_is_monotonic);
	suite_add_tcase(suite, tc);
	return suite;
}
