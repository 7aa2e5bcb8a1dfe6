/* -qmp parsing (vmm/qmp_option.c) and the QMP server (vmm/qmp_server.c, qmp_server_client.c). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/qmp_option.h"
#include "util/util.h"

static struct qmp_server_config cfg;
static struct error err;

static int parse(const char *arg)
{
	free(cfg.path);
	memset(&cfg, 0, sizeof(cfg));
	err.msg[0] = '\0';
	return qmp_server_parse(arg, &cfg, &err);
}

static void teardown(void)
{
	free(cfg.path);
	cfg.path = NULL;
}

START_TEST(qemu_spellings)
{
	ck_assert_int_eq(parse("unix:/run/tide.sock,server=on,wait=off"), 0);
	ck_assert_str_eq(cfg.path, "/run/tide.sock");
	ck_assert(!cfg.wait);
	ck_assert_int_eq(parse("unix:/run/tide.sock,server=on"), 0);
	ck_assert(cfg.wait); /* QEMU waits for a client unless told not to */
	ck_assert_int_eq(parse("unix:/run/tide.sock,server,nowait"), 0);
	ck_assert(!cfg.wait);
	ck_assert_int_eq(parse("unix:/tmp/a,,b.sock,server=on,wait=on"), 0);
	ck_assert_str_eq(cfg.path, "/tmp/a,b.sock");
	ck_assert(cfg.wait);
	ck_assert_int_eq(parse("unix:/tmp/server,server=on,wait=no"), 0);
	ck_assert_str_eq(cfg.path, "/tmp/server");
}
END_TEST

START_TEST(refusals)
{
	static const struct {
		const char *arg, *msg;
	} cases[] = {
		{ "tcp:127.0.0.1:4444,server=on", "-qmp: 'tcp:127.0.0.1:4444,server=on': tide offers "
						  "only unix:PATH,server=on[,wait=off]" },
		{ "unix:/tmp/q.sock", "-qmp: tide listens for QMP clients and never connects out: "
				      "add server=on" },
		{ "unix:/tmp/q.sock,server=off", "-qmp: tide listens for QMP clients and never "
						 "connects out: add server=on" },
		{ "unix:,server=on", "-qmp: unix: needs a socket path" },
		{ "unix:/tmp/q.sock,server=on,wait=later", "-qmp: property 'wait' must be on or off, "
							   "not 'later'" },
		{ "unix:/tmp/q.sock,server=on,reconnect=1", "-qmp: the QMP socket has no property "
							    "'reconnect'" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		ck_assert_int_eq(parse(cases[i].arg), -1);
		ck_assert_str_eq(err.msg, cases[i].msg);
		ck_assert_ptr_null(cfg.path);
	}
	{
		char longpath[200] = "unix:/";

		memset(longpath + 6, 'x', 120);
		strcpy(longpath + 126, ",server=on");
		ck_assert_int_eq(parse(longpath), -1);
		ck_assert_ptr_nonnull(strstr(err.msg, "is longer than a unix socket allows (107)"));
	}
}
END_TEST

Suite *suite_main(void)
{
	Suite *s = suite_create("qmp_server");
	TCase *tc = tcase_create("parse");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, qemu_spellings);
	tcase_add_test(tc, refusals);
	suite_add_tcase(s, tc);
	return s;
}
