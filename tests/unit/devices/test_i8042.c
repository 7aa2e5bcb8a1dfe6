#include <check.h>

#include "devices/i8042.h"
#include "devices/reset_cf9.h"

static unsigned resets;
static struct i8042 *kbc;

static uint8_t status(void)
{
	uint8_t v = 0;

	i8042_cmd_io(kbc, 0, &v, 1, false);
	return v;
}

static void command(uint8_t cmd)
{
	i8042_cmd_io(kbc, 0, &cmd, 1, true);
}

static uint8_t data_read(void)
{
	uint8_t v = 0;

	i8042_data_io(kbc, 0, &v, 1, false);
	return v;
}

static void data_write(uint8_t v)
{
	i8042_data_io(kbc, 0, &v, 1, true);
}

/* Also proves the callback runs without the controller's lock: it touches the controller. */
static void fake_reset(void *opaque)
{
	ck_assert_ptr_eq(opaque, &resets);
	(void)status();
	resets++;
}

static void setup(void)
{
	resets = 0;
	kbc = i8042_new(fake_reset, &resets);
	ck_assert_ptr_nonnull(kbc);
}

static void teardown(void)
{
	i8042_free(kbc);
}

/* Sends cmd and expects exactly one reply byte. */
static uint8_t reply_of(uint8_t cmd)
{
	uint8_t v;

	command(cmd);
	ck_assert_uint_eq(status(), I8042_STR_SYSFLAG | I8042_STR_OBF);
	v = data_read();
	ck_assert_uint_eq(status(), I8042_STR_SYSFLAG);
	return v;
}

START_TEST(status_idle)
{
	ck_assert_uint_eq(status(), I8042_STR_SYSFLAG); /* no OBF, never IBF */
}
END_TEST

START_TEST(control_register)
{
	ck_assert_uint_eq(reply_of(I8042_CMD_READ_CTR), 0x05);
	command(I8042_CMD_WRITE_CTR);
	ck_assert_uint_eq(status(), I8042_STR_SYSFLAG); /* no reply to 0x60 itself */
	data_write(0x47);
	ck_assert_uint_eq(reply_of(I8042_CMD_READ_CTR), 0x47);
	data_write(0x11); /* no command pending: a keyboard byte, dropped */
	ck_assert_uint_eq(status(), I8042_STR_SYSFLAG);
	ck_assert_uint_eq(reply_of(I8042_CMD_READ_CTR), 0x47);
}
END_TEST

START_TEST(self_tests)
{
	ck_assert_uint_eq(reply_of(I8042_CMD_SELF_TEST), 0x55);
	ck_assert_uint_eq(reply_of(I8042_CMD_AUX_TEST), 0x00);
	ck_assert_uint_eq(reply_of(I8042_CMD_KBD_TEST), 0x00);
}
END_TEST

START_TEST(port_enable_commands_have_no_reply)
{
	static const uint8_t cmds[] = { I8042_CMD_AUX_DISABLE, I8042_CMD_AUX_ENABLE,
					I8042_CMD_KBD_DISABLE, I8042_CMD_KBD_ENABLE };

	for (unsigned i = 0; i < sizeof(cmds); i++) {
		command(cmds[i]);
		ck_assert_uint_eq(status(), I8042_STR_SYSFLAG);
	}
	command(I8042_CMD_KBD_DISABLE);
	ck_assert_uint_eq(reply_of(I8042_CMD_READ_CTR) & 0x10, 0x10);
	command(I8042_CMD_KBD_ENABLE);
	ck_assert_uint_eq(reply_of(I8042_CMD_READ_CTR) & 0x10, 0);
	ck_assert_uint_eq(resets, 0);
}
END_TEST

START_TEST(replies_queue_in_order)
{
	command(I8042_CMD_SELF_TEST);
	command(I8042_CMD_READ_CTR);
	ck_assert_uint_eq(data_read(), 0x55);
	ck_assert_uint_eq(status() & I8042_STR_OBF, I8042_STR_OBF);
	ck_assert_uint_eq(data_read(), 0x05);
	ck_assert_uint_eq(status() & I8042_STR_OBF, 0);
}
END_TEST

START_TEST(output_port)
{
	ck_assert_uint_eq(reply_of(I8042_CMD_READ_OUTPORT),
			  I8042_OUTPORT_RESET | I8042_OUTPORT_A20);
	command(I8042_CMD_WRITE_OUTPORT);
	data_write(I8042_OUTPORT_RESET); /* A20 off, reset line high: no reset */
	ck_assert_uint_eq(resets, 0);
	ck_assert_uint_eq(reply_of(I8042_CMD_READ_OUTPORT), I8042_OUTPORT_RESET);
	command(I8042_CMD_WRITE_OUTPORT);
	data_write(I8042_OUTPORT_A20); /* bit 0 clear: reset */
	ck_assert_uint_eq(resets, 1);
	data_write(0x00); /* the command was consumed: plain keyboard byte */
	ck_assert_uint_eq(resets, 1);
}
END_TEST

START_TEST(reset_command)
{
	command(I8042_CMD_RESET);
	ck_assert_uint_eq(resets, 1);
	ck_assert_uint_eq(status(), I8042_STR_SYSFLAG);
	command(0xff); /* pulses no line */
	ck_assert_uint_eq(resets, 1);
	command(I8042_CMD_RESET);
	ck_assert_uint_eq(resets, 2);
}
END_TEST

/* --- port 0xCF9 --- */

static uint8_t cf9_read(struct reset_cf9 *rc)
{
	uint8_t v = 0xaa;

	reset_cf9_io(rc, 0, &v, 1, false);
	return v;
}

static void cf9_write(struct reset_cf9 *rc, uint8_t v)
{
	reset_cf9_io(rc, 0, &v, 1, true);
}

static void cf9_reset(void *opaque)
{
	++*(unsigned *)opaque;
}

START_TEST(cf9_reset_control)
{
	unsigned count = 0;
	struct reset_cf9 *rc = reset_cf9_new(cf9_reset, &count);

	ck_assert_uint_eq(cf9_read(rc), 0);
	/* Linux: cf9 = inb(0xcf9) & ~6; outb(cf9 | 2); outb(cf9 | 6) */
	cf9_write(rc, RESET_CF9_SYS_RST);
	ck_assert_uint_eq(count, 0);
	ck_assert_uint_eq(cf9_read(rc), RESET_CF9_SYS_RST);
	cf9_write(rc, RESET_CF9_SYS_RST | RESET_CF9_RST_CPU);
	ck_assert_uint_eq(count, 1);
	ck_assert_uint_eq(cf9_read(rc), RESET_CF9_SYS_RST); /* RST_CPU self-clears */
	cf9_write(rc, RESET_CF9_FULL_RST);
	ck_assert_uint_eq(count, 1);
	ck_assert_uint_eq(cf9_read(rc), RESET_CF9_FULL_RST);
	reset_cf9_free(rc);
}
END_TEST

Suite *suite_main(void)
{
	Suite *suite = suite_create("i8042");
	TCase *tc = tcase_create("controller");
	TCase *cf9 = tcase_create("cf9");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, status_idle);
	tcase_add_test(tc, control_register);
	tcase_add_test(tc, self_tests);
	tcase_add_test(tc, port_enable_commands_have_no_reply);
	tcase_add_test(tc, replies_queue_in_order);
	tcase_add_test(tc, output_port);
	tcase_add_test(tc, reset_command);
	suite_add_tcase(suite, tc);
	tcase_add_test(cf9, cf9_reset_control);
	suite_add_tcase(suite, cf9);
	return suite;
}
