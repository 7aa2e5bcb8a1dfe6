#include <check.h>
#include <string.h>

#include "util/opts.h"

START_TEST(implied_key_and_pairs)
{
	struct opts o;
	struct error err;
	uint64_t v;
	bool b;

	ck_assert_int_eq(opts_parse(&o, "-device", "isa-debug-exit,iobase=0xf4,iosize=4,x=on",
				    "driver", &err), 0);
	ck_assert_uint_eq(o.count, 4);
	ck_assert_str_eq(opts_take(&o, "driver"), "isa-debug-exit");
	ck_assert_int_eq(opts_take_u64(&o, "iobase", &v, 0, &err), 0);
	ck_assert_uint_eq(v, 0xf4);
	ck_assert_int_eq(opts_take_size(&o, "iosize", &v, 0, &err), 0);
	ck_assert_uint_eq(v, 4);
	ck_assert_int_eq(opts_take_bool(&o, "x", &b, false, &err), 0);
	ck_assert(b);
	ck_assert_int_eq(opts_take_u64(&o, "absent", &v, 77, &err), 0);
	ck_assert_uint_eq(v, 77);
	ck_assert_int_eq(opts_finish(&o, "isa-debug-exit", &err), 0);
	opts_free(&o);
}
END_TEST

START_TEST(escaped_commas_and_last_wins)
{
	struct opts o;
	struct error err;

	ck_assert_int_eq(opts_parse(&o, "-object", "x,path=/a,,b,id=1,id=2", "qom-type", &err), 0);
	ck_assert_str_eq(opts_take(&o, "path"), "/a,b");
	ck_assert_str_eq(opts_take(&o, "id"), "2");
	opts_free(&o);
}
END_TEST

START_TEST(errors_name_the_key)
{
	struct opts o;
	struct error err = { "" };
	uint64_t v;
	bool b;

	ck_assert_int_eq(opts_parse(&o, "-device", "dev,novalue", "driver", &err), -1);
	ck_assert_str_eq(err.msg, "-device: 'novalue' is not key=value");
	ck_assert_int_eq(opts_parse(&o, "-device", "dev,=3", "driver", &err), -1);
	ck_assert_int_eq(opts_parse(&o, "-m", "", "size", &err), -1);
	ck_assert_int_eq(opts_parse(&o, "-x", "a", NULL, &err), -1);

	ck_assert_int_eq(opts_parse(&o, "-device", "dev,iobase=zz,on=maybe,size=3Q,extra=1",
				    "driver", &err), 0);
	ck_assert_int_eq(opts_take_u64(&o, "iobase", &v, 0, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "-device: property 'iobase'"));
	ck_assert_int_eq(opts_take_bool(&o, "on", &b, false, &err), -1);
	ck_assert_str_eq(err.msg, "-device: property 'on' must be on or off, not 'maybe'");
	ck_assert_int_eq(opts_take_size(&o, "size", &v, 0, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "property 'size'"));
	opts_take(&o, "driver");
	ck_assert_int_eq(opts_finish(&o, "dev", &err), -1);
	ck_assert_str_eq(err.msg, "-device: dev has no property 'extra'");
	opts_free(&o);
}
END_TEST

Suite *suite_main(void)
{
	Suite *s = suite_create("opts");
	TCase *tc = tcase_create("parse");

	tcase_add_test(tc, implied_key_and_pairs);
	tcase_add_test(tc, escaped_commas_and_last_wins);
	tcase_add_test(tc, errors_name_the_key);
	suite_add_tcase(s, tc);
	return s;
}
