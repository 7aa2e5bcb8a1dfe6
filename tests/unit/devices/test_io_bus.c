#include <check.h>
#include <string.h>

#include "util/error.h"
#include "devices/io_bus.h"

struct recorder {
	uint64_t offset;
	unsigned len;
	bool is_write;
	uint64_t value;
	int calls;
};

static void record(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write)
{
	struct recorder *r = opaque;

	r->offset = offset;
	r->len = len;
	r->is_write = is_write;
	r->calls++;
	if (is_write)
		r->value = io_data_get(data, len);
	else
		io_data_put(data, len, 0x1122334455667788ULL);
}

START_TEST(dispatch_hits_the_right_range)
{
	struct io_bus bus;
	struct recorder a = { 0 }, b = { 0 };
	struct error err;
	uint8_t data[8] = { 0x34, 0x12 };

	io_bus_init(&bus, "pio");
	ck_assert_int_eq(io_bus_register(&bus, 0x3f8, 8, record, &a, "serial", &err), 0);
	ck_assert_int_eq(io_bus_register(&bus, 0x60, 1, record, &b, "kbd", &err), 0);
	ck_assert(io_bus_dispatch(&bus, 0x3fb, data, 2, true));
	ck_assert_int_eq(a.calls, 1);
	ck_assert_uint_eq(a.offset, 3);
	ck_assert_uint_eq(a.value, 0x1234);
	ck_assert(io_bus_dispatch(&bus, 0x60, data, 1, false));
	ck_assert_int_eq(b.calls, 1);
	ck_assert_uint_eq(data[0], 0x88);
	io_bus_destroy(&bus);
}
END_TEST

START_TEST(unclaimed_reads_are_all_ones)
{
	struct io_bus bus;
	struct recorder a = { 0 };
	struct error err;
	uint8_t data[4] = { 0 };

	io_bus_init(&bus, "pio");
	ck_assert_int_eq(io_bus_register(&bus, 0x100, 4, record, &a, "dev", &err), 0);
	ck_assert(!io_bus_dispatch(&bus, 0x2f8, data, 4, false));
	ck_assert_uint_eq(io_data_get(data, 4), 0xffffffff);
	/* An access that runs past the end of a range is not the range's. */
	ck_assert(!io_bus_dispatch(&bus, 0x102, data, 4, false));
	ck_assert(!io_bus_dispatch(&bus, 0xff, data, 2, true));
	ck_assert_int_eq(a.calls, 0);
	io_bus_destroy(&bus);
}
END_TEST

START_TEST(overlaps_are_rejected)
{
	struct io_bus bus;
	struct recorder a = { 0 };
	struct error err = { "" };

	io_bus_init(&bus, "MMIO");
	ck_assert_int_eq(io_bus_register(&bus, 0x1000, 0x100, record, &a, "one", &err), 0);
	ck_assert_int_eq(io_bus_register(&bus, 0x10ff, 1, record, &a, "two", &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "overlaps one"));
	ck_assert_int_eq(io_bus_register(&bus, 0xf00, 0x101, record, &a, "three", &err), -1);
	ck_assert_int_eq(io_bus_register(&bus, 0, 0x10000, record, &a, "four", &err), -1);
	ck_assert_int_eq(io_bus_register(&bus, 0x5000, 0, record, &a, "empty", &err), -1);
	ck_assert_int_eq(io_bus_register(&bus, UINT64_MAX, 2, record, &a, "wrap", &err), -1);
	/* Adjacent ranges on both sides are fine. */
	ck_assert_int_eq(io_bus_register(&bus, 0xf00, 0x100, record, &a, "below", &err), 0);
	ck_assert_int_eq(io_bus_register(&bus, 0x1100, 0x100, record, &a, "above", &err), 0);
	ck_assert_uint_eq(bus.count, 3);
	io_bus_destroy(&bus);
}
END_TEST

START_TEST(unregister_and_move)
{
	struct io_bus bus;
	struct recorder a = { 0 }, other = { 0 };
	struct error err;
	uint8_t data[4];

	io_bus_init(&bus, "MMIO");
	ck_assert_int_eq(io_bus_register(&bus, 0xc0000000, 0x1000, record, &a, "bar", &err), 0);
	ck_assert_int_eq(io_bus_unregister(&bus, 0xc0000000, &other), -1); /* not its owner */
	ck_assert_int_eq(io_bus_unregister(&bus, 0xc0000000, &a), 0);
	ck_assert(!io_bus_dispatch(&bus, 0xc0000000, data, 4, false));
	ck_assert_int_eq(io_bus_register(&bus, 0xd0000000, 0x1000, record, &a, "bar", &err), 0);
	ck_assert(io_bus_dispatch(&bus, 0xd0000ffc, data, 4, false));
	ck_assert_uint_eq(a.offset, 0xffc);
	io_bus_destroy(&bus);
}
END_TEST

START_TEST(many_ranges_stay_sorted)
{
	struct io_bus bus;
	struct recorder r[40];
	struct error err;
	uint8_t data[1];

	memset(r, 0, sizeof(r));
	io_bus_init(&bus, "pio");
	/* Insert in a scrambled order; dispatch must find each one. */
	for (unsigned i = 0; i < 40; i++) {
		unsigned k = (i * 17) % 40;

		ck_assert_int_eq(io_bus_register(&bus, k * 0x10, 0x10, record, &r[k], "r", &err), 0);
	}
	for (unsigned k = 0; k < 40; k++) {
		ck_assert(io_bus_dispatch(&bus, k * 0x10 + 5, data, 1, true));
		ck_assert_int_eq(r[k].calls, 1);
	}
	io_bus_destroy(&bus);
}
END_TEST

Suite *suite_main(void)
{
	Suite *s = suite_create("io_bus");
	TCase *tc = tcase_create("dispatch");

	tcase_add_test(tc, dispatch_hits_the_right_range);
	tcase_add_test(tc, unclaimed_reads_are_all_ones);
	tcase_add_test(tc, overlaps_are_rejected);
	tcase_add_test(tc, unregister_and_move);
	tcase_add_test(tc, many_ranges_stay_sorted);
	suite_add_tcase(s, tc);
	return s;
}
