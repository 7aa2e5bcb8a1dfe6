#include "vmm/qmp.h"
#include "util/util.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * The version QMP reports: the QEMU release whose interface tide follows (its machine
 * names are pc-i440fx-7.2 and friends; libvirt wants at least 4.2), with tide's own
 * version in "package", where QEMU puts its distribution's.
 */
static struct json_object *version_object(void)
{
	struct json_object *v = json_object_new_object(), *q = json_object_new_object();

	json_object_object_add(q, "major", json_object_new_int(QMP_QEMU_MAJOR));
	json_object_object_add(q, "minor", json_object_new_int(QMP_QEMU_MINOR));
	json_object_object_add(q, "micro", json_object_new_int(QMP_QEMU_MICRO));
	json_object_object_add(v, "qemu", q);
	json_object_object_add(v, "package", json_object_new_string("tide " TIDE_VERSION));
	return v;
}

int qmp_error_set(struct qmp_error *err, const char *class_name, const char *fmt, ...)
{
	va_list ap;

	err->class_name = class_name;
	va_start(ap, fmt);
	vsnprintf(err->desc, sizeof(err->desc), fmt, ap);
	va_end(ap);
	return -1;
}

/* Serializes and frees obj: the one-line reply. */
static char *to_line(struct json_object *obj)
{
	const char *text = json_object_to_json_string_ext(obj, QMP_JSON_FLAGS);
	char *line = strdup(text ? text : "{}");

	json_object_put(obj);
	return line;
}

/* The request's "id", whatever JSON it is (json-c gives null as NULL), goes back as sent. */
static void add_id(struct json_object *r, struct json_object *msg)
{
	struct json_object *id;

	if (msg && json_object_is_type(msg, json_type_object) &&
	    json_object_object_get_ex(msg, "id", &id))
		json_object_object_add(r, "id", json_object_get(id));
}

static char *reply(struct json_object *ret, struct json_object *msg)
{
	struct json_object *r = json_object_new_object();

	json_object_object_add(r, "return", ret ? ret : json_object_new_object());
	add_id(r, msg);
	return to_line(r);
}

static char *error_reply(const struct qmp_error *err, struct json_object *msg)
{
	struct json_object *r = json_object_new_object(), *e = json_object_new_object();

	json_object_object_add(e, "class", json_object_new_string(err->class_name));
	json_object_object_add(e, "desc", json_object_new_string(err->desc));
	json_object_object_add(r, "error", e);
	add_id(r, msg);
	return to_line(r);
}

char *qmp_greeting(void)
{
	struct json_object *g = json_object_new_object(), *qmp = json_object_new_object();

	json_object_object_add(qmp, "version", version_object());
	json_object_object_add(qmp, "capabilities", json_object_new_array());
	json_object_object_add(g, "QMP", qmp);
	return to_line(g);
}

static const struct qmp_command *find_command(const struct qmp_engine *e, const char *name)
{
	for (size_t i = 0; i < e->nr_commands; i++)
		if (strcmp(e->commands[i].name, name) == 0)
			return &e->commands[i];
	return NULL;
}

static const struct qmp_arg capabilities_args[] = { { "enable", "[str]", true }, QMP_ARGS_END };

/* The commands every engine has, ahead of the server's own (qmp_handle runs them itself). */
static const struct qmp_command builtins[] = {
	{ "qmp_capabilities", NULL, capabilities_args },
	{ "query-version", NULL, NULL },
	{ "query-commands", NULL, NULL },
	{ "query-qmp-schema", NULL, NULL },
};

void qmp_foreach_command(const struct qmp_engine *e,
			 void (*fn)(const struct qmp_command *cmd, void *opaque), void *opaque)
{
	for (size_t i = 0; i < ARRAY_SIZE(builtins); i++)
		fn(&builtins[i], opaque);
	for (size_t i = 0; i < e->nr_commands; i++)
		fn(&e->commands[i], opaque);
}

static void list_command(const struct qmp_command *cmd, void *list)
{
	struct json_object *c = json_object_new_object();

	json_object_object_add(c, "name", json_object_new_string(cmd->name));
	json_object_array_add(list, c);
}

static struct json_object *command_list(const struct qmp_engine *e)
{
	struct json_object *list = json_object_new_array();

	qmp_foreach_command(e, list_command, list);
	return list;
}

static const struct qmp_command *find_builtin(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(builtins); i++)
		if (strcmp(builtins[i].name, name) == 0)
			return &builtins[i];
	return NULL;
}

/* The message's envelope: {"execute": NAME, "arguments": {...}, "id": ANY}, nothing else. */
static int check_envelope(struct json_object *msg, const char **name, struct json_object **args,
			  struct qmp_error *err)
{
	struct json_object *execute = NULL;

	if (!json_object_is_type(msg, json_type_object))
		return qmp_error_set(err, "GenericError", "QMP input must be a JSON object");
	json_object_object_foreach(msg, key, value)
	{
		(void)value;
		if (strcmp(key, "execute") && strcmp(key, "arguments") && strcmp(key, "id"))
			return qmp_error_set(err, "GenericError",
					     "QMP input member '%s' is unexpected", key);
	}
	if (!json_object_object_get_ex(msg, "execute", &execute))
		return qmp_error_set(err, "GenericError", "QMP input lacks member 'execute'");
	if (!json_object_is_type(execute, json_type_string))
		return qmp_error_set(err, "GenericError",
				     "QMP input member 'execute' must be a string");
	*name = json_object_get_string(execute);
	if (json_object_object_get_ex(msg, "arguments", args) &&
	    !json_object_is_type(*args, json_type_object))
		return qmp_error_set(err, "GenericError",
				     "QMP input member 'arguments' must be an object");
	return 0;
}

/* qmp_capabilities {"enable": [...]}: tide offers no capability (the greeting lists none). */
static int check_capabilities(struct json_object *args, struct qmp_error *err)
{
	struct json_object *enable, *cap;

	if (qmp_args_check(args, capabilities_args, err))
		return -1;
	if (!json_object_object_get_ex(args, "enable", &enable) ||
	    json_object_array_length(enable) == 0)
		return 0;
	cap = json_object_array_get_idx(enable, 0); /* the first one is already one too many */
	if (!json_object_is_type(cap, json_type_string))
		return qmp_error_set(err, "GenericError",
				     "Invalid parameter type for 'enable', expected: string");
	return qmp_error_set(err, "GenericError", "Capability '%s' not available",
			     json_object_get_string(cap));
}

/* json-c reads NaN and Infinity, which are not JSON (and would go back out in an "id"). */
static bool all_numbers_finite(struct json_object *o)
{
	switch (json_object_get_type(o)) {
	case json_type_double:
		return isfinite(json_object_get_double(o));
	case json_type_array:
		for (size_t i = 0; i < json_object_array_length(o); i++)
			if (!all_numbers_finite(json_object_array_get_idx(o, i)))
				return false;
		return true;
	case json_type_object: {
		json_object_object_foreach(o, key, value)
		{
			(void)key;
			if (!all_numbers_finite(value))
				return false;
		}
		return true;
	}
	default:
		return true;
	}
}

/* Whether the decimal digits [d, d + n) exceed max's (no leading zeros: JSON has none). */
static bool digits_exceed(const char *d, size_t n, const char *max)
{
	size_t max_len = strlen(max);

	return n > max_len || (n == max_len && memcmp(d, max, n) > 0);
}

bool qmp_text_unsupported(const char *text, size_t len, char *why, size_t why_size)
{
	char quote = 0; /* inside a string: its quote (QEMU reads 'single quotes' too) */

	for (size_t i = 0; i < len; i++) {
		char ch = text[i];

		if (quote) {
			if (ch == '\\' && i + 5 < len && text[i + 1] == 'u' &&
			    memcmp(text + i + 2, "0000", 4) == 0) {
				snprintf(why, why_size, "\\u0000 is not supported");
				return true;
			}
			if (ch == '\\')
				i++; /* the escaped character, a quote say */
			else if (ch == quote)
				quote = 0;
		} else if (ch == '"' || ch == '\'') {
			quote = ch;
		} else if (ch == '-' || (ch >= '0' && ch <= '9')) {
			size_t start = i + (ch == '-'), end = start;

			while (end < len && text[end] >= '0' && text[end] <= '9')
				end++;
			if (end < len && (text[end] == '.' || text[end] == 'e' || text[end] == 'E')) {
				/* A floating-point number: json-c reads those as doubles. */
				while (end < len && strchr("0123456789.eE+-", text[end]))
					end++;
			} else if (digits_exceed(text + start, end - start,
						 ch == '-' ? "9223372036854775808"
							   : "18446744073709551615")) {
				snprintf(why, why_size, "integer %.*s%s is out of range",
					 (int)(end - i < 40 ? end - i : 40), text + i,
					 end - i > 40 ? "..." : "");
				return true;
			}
			i = end - 1;
		}
	}
	return false;
}

char *qmp_handle(const struct qmp_engine *engine, struct qmp_session *session,
		 struct json_object *message, const char *parse_error)
{
	struct json_object *args = NULL, *empty, *ret = NULL;
	struct qmp_error err = { "GenericError", "" };
	const struct qmp_command *cmd;
	const char *name = NULL;
	int status;

	if (!message && !parse_error) {
		/* JSON's null: a value, but no message. */
		qmp_error_set(&err, "GenericError", "QMP input must be a JSON object");
		return error_reply(&err, NULL);
	}
	if (!message) {
		qmp_error_set(&err, "GenericError", "JSON parse error, %s", parse_error);
		return error_reply(&err, NULL);
	}
	if (!all_numbers_finite(message)) {
		qmp_error_set(&err, "GenericError", "JSON parse error, NaN and Infinity are not JSON");
		return error_reply(&err, NULL);
	}
	if (check_envelope(message, &name, &args, &err))
		return error_reply(&err, message);
	if (strcmp(name, "qmp_capabilities") == 0) {
		if (session->command_mode) {
			qmp_error_set(&err, "CommandNotFound",
				      "Capabilities negotiation is already complete, command ignored");
			return error_reply(&err, message);
		}
		if (args && check_capabilities(args, &err))
			return error_reply(&err, message);
		session->command_mode = true;
		return reply(NULL, message);
	}
	if (!session->command_mode) {
		qmp_error_set(&err, "CommandNotFound",
			      "Expecting capabilities negotiation with 'qmp_capabilities'");
		return error_reply(&err, message);
	}
	cmd = find_builtin(name);
	if (cmd) {
		/* The built-in queries take no arguments. */
		if (args && qmp_args_check(args, NULL, &err))
			return error_reply(&err, message);
		return reply(!strcmp(name, "query-version")	 ? version_object()
			     : !strcmp(name, "query-commands") ? command_list(engine)
							       : qmp_schema(engine),
			     message);
	}
	cmd = find_command(engine, name);
	if (!cmd) {
		qmp_error_set(&err, "CommandNotFound", "The command %s has not been found", name);
		return error_reply(&err, message);
	}
	empty = args ? NULL : json_object_new_object();
	status = qmp_args_check(args ? args : empty, cmd->args, &err);
	if (!status)
		status = cmd->fn(engine->ctx, args ? args : empty, &ret, &err);
	json_object_put(empty);
	if (status) {
		json_object_put(ret);
		return error_reply(&err, message);
	}
	return reply(ret, message);
}

const char *qmp_arg_str(struct json_object *args, const char *name)
{
	struct json_object *v;

	return json_object_object_get_ex(args, name, &v) ? json_object_get_string(v) : NULL;
}

/* The JSON type a QAPI type name stands for, as QEMU's errors name it; NULL: any. */
static const struct {
	const char *qapi;
	enum json_type json;
	const char *expected;
} arg_types[] = {
	{ "str", json_type_string, "string" },
	{ "bool", json_type_boolean, "boolean" },
	{ "int", json_type_int, "integer" },
	{ "size", json_type_int, "size" },
};

int qmp_args_check(struct json_object *args, const struct qmp_arg *list, struct qmp_error *err)
{
	struct json_object *v;

	for (const struct qmp_arg *a = list; a && a->name; a++) {
		if (!json_object_object_get_ex(args, a->name, &v)) {
			if (!a->optional)
				return qmp_error_set(err, "GenericError", "Parameter '%s' is missing",
						     a->name);
			continue;
		}
		if (a->type[0] == '[' && !json_object_is_type(v, json_type_array))
			return qmp_error_set(err, "GenericError",
					     "Invalid parameter type for '%s', expected: array",
					     a->name);
		for (size_t i = 0; i < ARRAY_SIZE(arg_types); i++)
			if (!strcmp(a->type, arg_types[i].qapi) &&
			    !json_object_is_type(v, arg_types[i].json))
				return qmp_error_set(err, "GenericError",
						     "Invalid parameter type for '%s', expected: %s",
						     a->name, arg_types[i].expected);
	}
	json_object_object_foreach(args, key, value)
	{
		bool known = false;

		(void)value;
		for (const struct qmp_arg *a = list; a && a->name && !known; a++)
			known = strcmp(a->name, key) == 0;
		if (!known)
			return qmp_error_set(err, "GenericError", "Parameter '%s' is unexpected", key);
	}
	return 0;
}
