#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/debug_exit.h"
#include "devices/device.h"
#include "devices/io_bus.h"
#include "util/util.h"

static const struct device_type *type(void)
{
	const struct device_type *t = device_type_find("isa-debug-exit", TYPE_DEVICE);

	ck_assert_ptr_nonnull(t);
	return t;
}

/* Parses like the command line does: the driver key is taken before the type's parse(). */
static struct debug_exit_config *parse(const char *str, struct error *err)
{
	struct opts opts;
	void *cfg;

	memset(err, 0, sizeof(*err));
	ck_assert_int_eq(opts_parse(&opts, "-device", str, "driver", err), 0);
	ck_assert_str_eq(opts_take(&opts, "driver"), "isa-debug-exit");
	cfg = type()->parse(&opts, err);
	opts_free(&opts);
	if (!cfg)
		ck_assert_str_ne(err->msg, "");
	return cfg;
}

START_TEST(defaults)
{
	struct error err;
	struct debug_exit_config *cfg = parse("isa-debug-exit", &err);

	ck_assert_ptr_nonnull(cfg);
	ck_assert_uint_eq(cfg->iobase, 0x501);
	ck_assert_uint_eq(cfg->iosize, 2);
	type()->free_config(cfg);
	ck_assert_ptr_nonnull(type()->help);
	ck_assert_int_eq(type()->kind, TYPE_DEVICE);
}
END_TEST

START_TEST(properties)
{
	struct error err;
	struct debug_exit_config *cfg = parse("isa-debug-exit,iobase=0xf4,iosize=0x04", &err);

	ck_assert_ptr_nonnull(cfg);
	ck_assert_uint_eq(cfg->iobase, 0xf4);
	ck_assert_uint_eq(cfg->iosize, 4);
	type()->free_config(cfg);
	cfg = parse("isa-debug-exit,iobase=0xfffe,iosize=2", &err); /* ends exactly at 0x10000 */
	ck_assert_ptr_nonnull(cfg);
	type()->free_config(cfg);
	cfg = parse("isa-debug-exit,iosize=1", &err);
	ck_assert_ptr_nonnull(cfg);
	ck_assert_uint_eq(cfg->iosize, 1);
	type()->free_config(cfg);
}
END_TEST

START_TEST(bad_iobase)
{
	struct error err;

	ck_assert_ptr_null(parse("isa-debug-exit,iobase=0xffff,iosize=2", &err));
	ck_assert_ptr_nonnull(strstr(err.msg, "0xffff"));
	ck_assert_ptr_null(parse("isa-debug-exit,iobase=0x10000,iosize=1", &err));
	ck_assert_ptr_nonnull(strstr(err.msg, "0x10000"));
	ck_assert_ptr_null(parse("isa-debug-exit,iobase=0xfffffffffffffffe,iosize=4", &err));
	ck_assert_ptr_null(parse("isa-debug-exit,iobase=port", &err));
	ck_assert_ptr_nonnull(strstr(err.msg, "iobase"));
}
END_TEST

START_TEST(bad_iosize)
{
	static const char *const bad[] = { "0", "3", "8", "0x100000001", "two" };
	struct error err;
	char str[64];

	for (unsigned i = 0; i < ARRAY_SIZE(bad); i++) {
		snprintf(str, sizeof(str), "isa-debug-exit,iosize=%s", bad[i]);
		ck_assert_ptr_null(parse(str, &err));
		ck_assert_ptr_nonnull(strstr(err.msg, "iosize"));
	}
}
END_TEST

START_TEST(unknown_property)
{
	struct error err;

	ck_assert_ptr_null(parse("isa-debug-exit,iobase=0xf4,speed=9", &err));
	ck_assert_ptr_nonnull(strstr(err.msg, "'speed'"));
	ck_assert_ptr_nonnull(strstr(err.msg, "isa-debug-exit"));
}
END_TEST

START_TEST(exit_status)
{
	ck_assert_int_eq(debug_exit_status(0), 1);
	ck_assert_int_eq(debug_exit_status(1), 3);
	ck_assert_int_eq(debug_exit_status(0x10), 0x21);
	ck_assert_int_eq(debug_exit_status(0x7f) & 0xff, 0xff);
	/* The OS keeps 8 bits: 0x80 -> 0x101 -> 1, as with QEMU. */
	ck_assert_int_eq(debug_exit_status(0x80), 0x101);
	ck_assert_int_eq(debug_exit_status(0x80) & 0xff, 1);
}
END_TEST

static int exits, last_status;

static void fake_exit(void *opaque, int status)
{
	ck_assert_ptr_eq(opaque, &exits);
	exits++;
	last_status = status;
}

START_TEST(port_access)
{
	struct debug_exit de = { fake_exit, &exits };
	uint8_t data[4] = { 0x02, 0x01, 0xee, 0xee };

	debug_exit_io(&de, 0, data, 4, false); /* reads: all ones, no exit */
	ck_assert_uint_eq(io_data_get(data, 4), 0xffffffffu);
	ck_assert_int_eq(exits, 0);
	io_data_put(data, 2, 0x0102);
	debug_exit_io(&de, 0, data, 2, true); /* the value has the access width */
	ck_assert_int_eq(exits, 1);
	ck_assert_int_eq(last_status, (0x0102 << 1) | 1);
	data[0] = 0x31;
	debug_exit_io(&de, 1, data, 1, true);
	ck_assert_int_eq(exits, 2);
	ck_assert_int_eq(last_status, 0x63);
}
END_TEST

Suite *suite_main(void)
{
	Suite *suite = suite_create("debug_exit");
	TCase *tc = tcase_create("isa-debug-exit");

	tcase_add_test(tc, defaults);
	tcase_add_test(tc, properties);
	tcase_add_test(tc, bad_iobase);
	tcase_add_test(tc, bad_iosize);
	tcase_add_test(tc, unknown_property);
	tcase_add_test(tc, exit_status);
	tcase_add_test(tc, port_access);
	suite_add_tcase(suite, tc);
	return suite;
}
