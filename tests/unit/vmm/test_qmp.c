#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/qmp.h"
#include "util/util.h"

/* A server command for the tests: "echo" returns its "text" argument; "fail" always fails. */
static int cmd_echo(void *ctx, struct json_object *args, struct json_object **ret,
		    struct qmp_error *err)
{
	(void)ctx, (void)err;
	*ret = json_object_new_string(qmp_arg_str(args, "text"));
	return 0;
}

static int cmd_fail(void *ctx, struct json_object *args, struct json_object **ret,
		    struct qmp_error *err)
{
	(void)ctx, (void)args, (void)ret;
	return qmp_error_set(err, "GenericError", "it failed");
}

static const struct qmp_arg echo_args[] = { { "text", "str", false }, QMP_ARGS_END };
static const struct qmp_command commands[] = { { "echo", cmd_echo, echo_args },
					       { "fail", cmd_fail, NULL } };
static const struct qmp_engine engine = { .commands = commands, .nr_commands = 2 };
static struct qmp_session session;
static char line[1024];

/* Sends text as a client would; returns the reply line. */
static const char *send_text(const char *text)
{
	enum json_tokener_error jerr;
	struct json_object *msg = json_tokener_parse_verbose(text, &jerr);
	char *r = qmp_handle(&engine, &session, msg,
			     jerr == json_tokener_success ? NULL : json_tokener_error_desc(jerr));

	json_object_put(msg);
	ck_assert_ptr_nonnull(r);
	snprintf(line, sizeof(line), "%s", r);
	free(r);
	return line;
}

static void setup(void)
{
	memset(&session, 0, sizeof(session));
}

START_TEST(greeting_is_qemus_shape)
{
	char *g = qmp_greeting();
	char expected[256];

	/* QEMU's version tide follows (libvirt needs 4.2 or later), tide's in package. */
	snprintf(expected, sizeof(expected),
		 "{ \"QMP\": { \"version\": { \"qemu\": { \"major\": 7, \"minor\": 2, \"micro\": "
		 "0 }, \"package\": \"tide %s\" }, \"capabilities\": [ ] } }",
		 TIDE_VERSION);
	ck_assert_str_eq(g, expected);
	free(g);
}
END_TEST

START_TEST(negotiation_comes_first)
{
	ck_assert_str_eq(send_text("{\"execute\": \"echo\", \"arguments\": {\"text\": \"x\"}}"),
			 "{ \"error\": { \"class\": \"CommandNotFound\", \"desc\": \"Expecting "
			 "capabilities negotiation with 'qmp_capabilities'\" } }");
	ck_assert(!session.command_mode);
	/* Tide offers no capability; arguments QEMU does not take are refused. */
	ck_assert_str_eq(send_text("{\"execute\": \"qmp_capabilities\", \"arguments\": "
				   "{\"enable\": [\"oob\"]}}"),
			 "{ \"error\": { \"class\": \"GenericError\", \"desc\": \"Capability "
			 "'oob' not available\" } }");
	ck_assert_str_eq(send_text("{\"execute\": \"qmp_capabilities\", \"arguments\": "
				   "{\"bogus\": 1}}"),
			 "{ \"error\": { \"class\": \"GenericError\", \"desc\": \"Parameter "
			 "'bogus' is unexpected\" } }");
	ck_assert(!session.command_mode);
	ck_assert_str_eq(send_text("{\"execute\": \"qmp_capabilities\", \"arguments\": "
				   "{\"enable\": []}, \"id\": 1}"),
			 "{ \"return\": { }, \"id\": 1 }");
	ck_assert(session.command_mode);
	ck_assert_str_eq(send_text("{\"execute\": \"qmp_capabilities\"}"),
			 "{ \"error\": { \"class\": \"CommandNotFound\", \"desc\": \"Capabilities "
			 "negotiation is already complete, command ignored\" } }");
}
END_TEST

START_TEST(commands_and_ids)
{
	session.command_mode = true;
	ck_assert_str_eq(send_text("{\"execute\": \"echo\", \"arguments\": {\"text\": \"hi\"}, "
				   "\"id\": {\"any\": [\"json\"]}}"),
			 "{ \"return\": \"hi\", \"id\": { \"any\": [ \"json\" ] } }");
	ck_assert_str_eq(send_text("{\"execute\": \"fail\", \"id\": \"f\"}"),
			 "{ \"error\": { \"class\": \"GenericError\", \"desc\": \"it failed\" }, "
			 "\"id\": \"f\" }");
	ck_assert_str_eq(send_text("{\"execute\": \"nope\", \"id\": 7}"),
			 "{ \"error\": { \"class\": \"CommandNotFound\", \"desc\": \"The command "
			 "nope has not been found\" }, \"id\": 7 }");
	ck_assert_str_eq(send_text("{\"execute\": \"query-commands\"}"),
			 "{ \"return\": [ { \"name\": \"qmp_capabilities\" }, { \"name\": "
			 "\"query-version\" }, { \"name\": \"query-commands\" }, { \"name\": "
			 "\"query-qmp-schema\" }, { \"name\": \"echo\" }, { \"name\": \"fail\" } ] }");
	ck_assert_ptr_nonnull(strstr(send_text("{\"execute\": \"query-version\"}"),
				     "\"package\": \"tide "));
	ck_assert_str_eq(send_text("{\"execute\": \"query-version\", \"arguments\": {\"x\": 1}}"),
			 "{ \"error\": { \"class\": \"GenericError\", \"desc\": \"Parameter "
			 "'x' is unexpected\" } }");
	/* An id of null comes back as null. */
	ck_assert_str_eq(send_text("{\"execute\": \"fail\", \"id\": null}"),
			 "{ \"error\": { \"class\": \"GenericError\", \"desc\": \"it failed\" }, "
			 "\"id\": null }");
}
END_TEST

/* Every class of bad input gets an error object (and the session stays usable). */
START_TEST(bad_input)
{
	static const struct {
		const char *in, *desc;
	} cases[] = {
		{ "[1, 2]", "QMP input must be a JSON object" },
		{ "null", "QMP input must be a JSON object" },
		{ "{\"arguments\": {}}", "QMP input lacks member 'execute'" },
		{ "{\"execute\": 3}", "QMP input member 'execute' must be a string" },
		{ "{\"execute\": \"echo\", \"arguments\": [1]}",
		  "QMP input member 'arguments' must be an object" },
		{ "{\"execute\": \"echo\", \"extra\": 1}", "QMP input member 'extra' is unexpected" },
		{ "{\"execute\": \"echo\"}", "Parameter 'text' is missing" },
		{ "{\"execute\": \"echo\", \"arguments\": {\"text\": 5}}",
		  "Invalid parameter type for 'text', expected: string" },
		{ "{\"execute\": \"echo\", \"arguments\": {\"text\": \"a\", \"b\": 1}}",
		  "Parameter 'b' is unexpected" },
	};

	session.command_mode = true;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char expected[512];

		snprintf(expected, sizeof(expected),
			 "{ \"error\": { \"class\": \"GenericError\", \"desc\": \"%s\" } }",
			 cases[i].desc);
		ck_assert_str_eq(send_text(cases[i].in), expected);
	}
	ck_assert_ptr_nonnull(strstr(send_text("{\"execute\": "), "JSON parse error, "));
	ck_assert_ptr_nonnull(strstr(send_text("nonsense"), "JSON parse error, "));
	ck_assert_str_eq(send_text("{\"execute\": \"echo\", \"id\": NaN}"),
			 "{ \"error\": { \"class\": \"GenericError\", \"desc\": \"JSON parse error, "
			 "NaN and Infinity are not JSON\" } }");
	ck_assert_str_eq(send_text("{\"execute\": \"echo\", \"arguments\": {\"text\": \"ok\"}}"),
			 "{ \"return\": \"ok\" }");
}
END_TEST

/* The argument list decides, in QEMU's order: listed ones (missing, type), then extras. */
START_TEST(arguments_are_checked_against_the_list)
{
	static const struct qmp_arg list[] = {
		{ "path", "str", false }, { "on", "bool", true },   { "n", "int", true },
		{ "size", "size", true }, { "names", "[str]", true }, { "value", "any", true },
		QMP_ARGS_END,
	};
	static const struct {
		const char *args, *desc; /* desc NULL: accepted */
	} cases[] = {
		{ "{\"path\": \"p\"}", NULL },
		{ "{\"path\": \"p\", \"on\": true, \"n\": -1, \"size\": 5, \"names\": [], "
		  "\"value\": {}}",
		  NULL },
		{ "{\"x\": 1}", "Parameter 'path' is missing" },
		{ "{\"path\": 1, \"x\": 1}", "Invalid parameter type for 'path', expected: string" },
		{ "{\"path\": \"p\", \"on\": 1}", "Invalid parameter type for 'on', expected: boolean" },
		{ "{\"path\": \"p\", \"n\": \"1\"}", "Invalid parameter type for 'n', expected: integer" },
		{ "{\"path\": \"p\", \"size\": 1.5}", "Invalid parameter type for 'size', expected: size" },
		{ "{\"path\": \"p\", \"names\": \"a\"}",
		  "Invalid parameter type for 'names', expected: array" },
		{ "{\"path\": \"p\", \"x\": 1}", "Parameter 'x' is unexpected" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct json_object *args = json_tokener_parse(cases[i].args);
		struct qmp_error err = { NULL, "" };
		int r = qmp_args_check(args, list, &err);

		ck_assert_msg(r == (cases[i].desc ? -1 : 0), "%s", cases[i].args);
		if (cases[i].desc)
			ck_assert_str_eq(err.desc, cases[i].desc);
		json_object_put(args);
	}
}
END_TEST

static struct json_object *schema_entity(struct json_object *schema, const char *name)
{
	for (size_t i = 0; i < json_object_array_length(schema); i++) {
		struct json_object *e = json_object_array_get_idx(schema, i);

		if (!strcmp(json_object_get_string(json_object_object_get(e, "name")), name))
			return e;
	}
	return NULL;
}

static const char *member_string(struct json_object *o, const char *key)
{
	return json_object_get_string(json_object_object_get(o, key));
}

/* query-qmp-schema describes every command with the arguments its table lists, and events. */
START_TEST(schema_is_made_from_the_tables)
{
	static const struct qmp_arg stop_data[] = { { "why", "str", true }, QMP_ARGS_END };
	static const struct qmp_event_info events[] = { { "HALT", stop_data }, { NULL, NULL } };
	static const struct qmp_engine with_events = {
		.commands = commands, .nr_commands = 2, .events = events
	};
	struct json_object *schema = qmp_schema(&with_events), *echo, *args, *members, *member;
	struct json_object *halt, *caps;

	echo = schema_entity(schema, "echo");
	ck_assert_ptr_nonnull(echo);
	ck_assert_str_eq(member_string(echo, "meta-type"), "command");
	ck_assert_str_eq(member_string(echo, "ret-type"), "any");
	args = schema_entity(schema, member_string(echo, "arg-type"));
	ck_assert_str_eq(member_string(args, "meta-type"), "object");
	members = json_object_object_get(args, "members");
	ck_assert_int_eq(json_object_array_length(members), 1);
	member = json_object_array_get_idx(members, 0);
	ck_assert_str_eq(member_string(member, "name"), "text");
	ck_assert_str_eq(member_string(member, "type"), "str");
	ck_assert(!json_object_object_get_ex(member, "default", NULL)); /* required */
	/* A command without arguments takes the empty object type. */
	args = schema_entity(schema, member_string(schema_entity(schema, "fail"), "arg-type"));
	ck_assert_int_eq(json_object_array_length(json_object_object_get(args, "members")), 0);
	/* The built-in commands are there, qmp_capabilities with its optional list. */
	caps = schema_entity(schema, "qmp_capabilities");
	ck_assert_ptr_nonnull(caps);
	member = json_object_array_get_idx(
		json_object_object_get(schema_entity(schema, member_string(caps, "arg-type")),
				       "members"),
		0);
	ck_assert_str_eq(member_string(member, "type"), "[str]");
	ck_assert(json_object_object_get_ex(member, "default", NULL)); /* optional */
	ck_assert_str_eq(member_string(schema_entity(schema, "[str]"), "element-type"), "str");
	ck_assert_ptr_nonnull(schema_entity(schema, "query-qmp-schema"));
	halt = schema_entity(schema, "HALT");
	ck_assert_str_eq(member_string(halt, "meta-type"), "event");
	ck_assert_ptr_nonnull(schema_entity(schema, member_string(halt, "arg-type")));
	ck_assert_str_eq(member_string(schema_entity(schema, "str"), "json-type"), "string");
	ck_assert_ptr_null(schema_entity(schema, "device_add")); /* tide has none */
	json_object_put(schema);
}
END_TEST

/* What json-c would read silently wrong is found in the message's text. */
START_TEST(text_json_c_reads_wrongly)
{
	static const struct {
		const char *text, *why; /* why NULL: nothing wrong */
	} cases[] = {
		{ "{\"path\": \"vm0\\u0000x\"}", "\\u0000 is not supported" },
		{ "{'path': 'vm0\\u0000'}", "\\u0000 is not supported" },
		{ "{\"exe\\u0000cute\": 1}", "\\u0000 is not supported" },
		{ "{\"path\": \"a\\\\u0000\"}", NULL }, /* a backslash, then u0000 */
		{ "{\"path\": \"\\\"\\u0000\"}", "\\u0000 is not supported" },
		{ "{\"value\": 99999999999999999999999999}",
		  "integer 99999999999999999999999999 is out of range" },
		{ "{\"value\": 18446744073709551616}", "integer 18446744073709551616 is out of range" },
		{ "{\"value\": 18446744073709551615}", NULL },
		{ "{\"value\": -9223372036854775808}", NULL },
		{ "{\"value\": -9223372036854775809}", "integer -9223372036854775809 is out of range" },
		{ "{\"value\": 1e400, \"x\": 123456789012345678901234567890.5}", NULL },
		{ "{\"id\": \"123456789012345678901234567890\"}", NULL },
		{ "[1234567890123456789012345678901234567890123456789]",
		  "integer 1234567890123456789012345678901234567890... is out of range" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char why[96] = "";
		bool found = qmp_text_unsupported(cases[i].text, strlen(cases[i].text), why,
						  sizeof(why));

		ck_assert_msg(found == (cases[i].why != NULL), "%s: %s", cases[i].text, why);
		if (found)
			ck_assert_str_eq(why, cases[i].why);
	}
}
END_TEST

Suite *suite_main(void)
{
	Suite *s = suite_create("qmp");
	TCase *tc = tcase_create("engine");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, greeting_is_qemus_shape);
	tcase_add_test(tc, negotiation_comes_first);
	tcase_add_test(tc, commands_and_ids);
	tcase_add_test(tc, bad_input);
	tcase_add_test(tc, text_json_c_reads_wrongly);
	tcase_add_test(tc, arguments_are_checked_against_the_list);
	tcase_add_test(tc, schema_is_made_from_the_tables);
	suite_add_tcase(s, tc);
	return s;
}
