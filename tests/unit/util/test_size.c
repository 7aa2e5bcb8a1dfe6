#include <check.h>

#include "util/size.h"

static uint64_t size_ok(const char *s, uint64_t unit)
{
	struct error err = { "" };
	uint64_t v = 0;

	ck_assert_msg(parse_size(s, unit, &v, &err) == 0, "'%s' rejected: %s", s, err.msg);
	return v;
}

static const char *size_bad(const char *s, uint64_t unit)
{
	static struct error err;
	uint64_t v = 12345;

	err.msg[0] = '\0';
	ck_assert_msg(parse_size(s, unit, &v, &err) == -1, "'%s' accepted", s);
	ck_assert_uint_eq(v, 12345); /* untouched on error */
	return err.msg;
}

START_TEST(suffixes)
{
	ck_assert_uint_eq(size_ok("1024", 1), 1024);
	ck_assert_uint_eq(size_ok("4k", 1), 4096);
	ck_assert_uint_eq(size_ok("4K", 1), 4096);
	ck_assert_uint_eq(size_ok("512M", 1), 512ULL << 20);
	ck_assert_uint_eq(size_ok("2G", 1), 2ULL << 30);
	ck_assert_uint_eq(size_ok("1T", 1), 1ULL << 40);
	ck_assert_uint_eq(size_ok("1P", 1), 1ULL << 50);
	ck_assert_uint_eq(size_ok("1E", 1), 1ULL << 60);
	ck_assert_uint_eq(size_ok("7B", 1), 7);
	ck_assert_uint_eq(size_ok("0x1000", 1), 0x1000);
}
END_TEST

START_TEST(default_unit_and_fractions)
{
	ck_assert_uint_eq(size_ok("512", MiB), 512ULL << 20); /* -m 512 */
	ck_assert_uint_eq(size_ok("1.5G", 1), 3ULL << 29);
	/* Long fractions, exact to the byte (rounded down). */
	ck_assert_uint_eq(size_ok("1.123456789012G", 1), 1206302541ULL);
	ck_assert_uint_eq(size_ok("9.99999999999999P", 1), 11258999068426228ULL);
	ck_assert_uint_eq(size_ok("0.5K", 1), 512);
	ck_assert_uint_eq(size_ok("1.5", MiB), 3ULL << 19);
	ck_assert_uint_eq(size_ok("15E", 1), 15ULL << 60);
}
END_TEST

START_TEST(rejections)
{
	ck_assert_str_eq(size_bad("", 1), "empty size");
	ck_assert_ptr_nonnull(strstr(size_bad("12Q", 1), "invalid suffix"));
	ck_assert_ptr_nonnull(strstr(size_bad("12MB", 1), "invalid suffix"));
	ck_assert_ptr_nonnull(strstr(size_bad("abc", 1), "not a number"));
	ck_assert_ptr_nonnull(strstr(size_bad("-1", 1), "not a number"));
	ck_assert_ptr_nonnull(strstr(size_bad("16E", 1), "too large"));
	ck_assert_ptr_nonnull(strstr(size_bad("99999999999999999999", 1), "too large"));
	ck_assert_ptr_nonnull(strstr(size_bad("1.5", 1), "fraction of a byte"));
	ck_assert_ptr_nonnull(strstr(size_bad("0x10M", 1), "hexadecimal"));
	ck_assert_ptr_nonnull(strstr(size_bad(".", 1), "not a number"));
}
END_TEST

START_TEST(u64_and_format)
{
	struct error err;
	uint64_t v;
	char buf[32];

	ck_assert_int_eq(parse_u64("0xf4", &v, &err), 0);
	ck_assert_uint_eq(v, 0xf4);
	ck_assert_int_eq(parse_u64("42", &v, &err), 0);
	ck_assert_uint_eq(v, 42);
	ck_assert_int_eq(parse_u64("42x", &v, &err), -1);
	ck_assert_int_eq(parse_u64("", &v, &err), -1);
	ck_assert_int_eq(parse_u64("-3", &v, &err), -1);
	ck_assert_int_eq(parse_u64("0x10000000000000000", &v, &err), -1);
	ck_assert_str_eq(format_size(512 * MiB, buf, sizeof(buf)), "512 MiB");
	ck_assert_str_eq(format_size(1536 * MiB, buf, sizeof(buf)), "1536 MiB");
	ck_assert_str_eq(format_size(GiB, buf, sizeof(buf)), "1 GiB");
	ck_assert_str_eq(format_size(1000, buf, sizeof(buf)), "1000 B");
}
END_TEST

Suite *suite_main(void)
{
	Suite *s = suite_create("size");
	TCase *tc = tcase_create("parse");

	tcase_add_test(tc, suffixes);
	tcase_add_test(tc, default_unit_and_fractions);
	tcase_add_test(tc, rejections);
	tcase_add_test(tc, u64_and_format);
	suite_add_tcase(s, tc);
	return s;
}
