#include <check.h>

#include "util/event_throttle.h"

#define MS 1000000ULL

START_TEST(one_per_second_last_value_wins_final_value_arrives)
{
	struct event_throttle t;
	uint64_t flush_at = 0, value = 0;

	event_throttle_init(&t, 1000 * MS);
	ck_assert(event_throttle_offer(&t, 5000 * MS, 100, false, &flush_at)); /* the first goes at once */
	ck_assert(!event_throttle_offer(&t, 5100 * MS, 200, false, &flush_at)); /* held back */
	ck_assert_uint_eq(flush_at, 6000 * MS);
	ck_assert(!event_throttle_offer(&t, 5900 * MS, 300, false, &flush_at)); /* replaces 200 */
	ck_assert(!event_throttle_flush(&t, 5999 * MS, &value));	   /* too early */
	ck_assert(event_throttle_flush(&t, 6000 * MS, &value));
	ck_assert_uint_eq(value, 300);
	ck_assert(!event_throttle_flush(&t, 9000 * MS, &value)); /* nothing left */
	/* After a quiet interval the next value goes at once again. */
	ck_assert(event_throttle_offer(&t, 7000 * MS, 400, false, &flush_at));
	/* A value inside the interval after a flush waits for the next second. */
	ck_assert(!event_throttle_offer(&t, 7500 * MS, 500, false, &flush_at));
	ck_assert_uint_eq(flush_at, 8000 * MS);
	/* Even past the interval, a pending value is not overtaken by a newer one sent at once. */
	ck_assert(!event_throttle_offer(&t, 8100 * MS, 600, false, &flush_at));
	ck_assert(event_throttle_flush(&t, 8100 * MS, &value));
	ck_assert_uint_eq(value, 600);
}
END_TEST

/* A final value (the resize reached its target) goes at once, even inside the second; a
 * held-back older value is dropped, never sent after it; the second starts again. */
START_TEST(final_value_goes_at_once)
{
	struct event_throttle t;
	uint64_t flush_at = 0, value = 0;

	event_throttle_init(&t, 1000 * MS);
	ck_assert(event_throttle_offer(&t, 5000 * MS, 100, false, &flush_at));
	ck_assert(!event_throttle_offer(&t, 5100 * MS, 200, false, &flush_at)); /* held */
	ck_assert(event_throttle_offer(&t, 5200 * MS, 300, true, &flush_at));	/* at once */
	ck_assert(!event_throttle_flush(&t, 6200 * MS, &value)); /* 200 never follows 300 */
	/* The next intermediate value waits a second from the final one. */
	ck_assert(!event_throttle_offer(&t, 5300 * MS, 250, false, &flush_at));
	ck_assert_uint_eq(flush_at, 6200 * MS);
	/* A final one right after a final one goes too (a second resize). */
	ck_assert(event_throttle_offer(&t, 5301 * MS, 0, true, &flush_at));
	ck_assert(!event_throttle_flush(&t, 7000 * MS, &value));
	/* The first value is final and nothing was sent yet: it goes at once as ever. */
	event_throttle_init(&t, 1000 * MS);
	ck_assert(event_throttle_offer(&t, 1 * MS, 7, true, &flush_at));
}
END_TEST

Suite *suite_main(void)
{
	Suite *s = suite_create("event_throttle");
	TCase *tc = tcase_create("throttle");

	tcase_add_test(tc, one_per_second_last_value_wins_final_value_arrives);
	tcase_add_test(tc, final_value_goes_at_once);
	suite_add_tcase(s, tc);
	return s;
}
