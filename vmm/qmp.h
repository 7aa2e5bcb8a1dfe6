/*
 * QMP, QEMU's JSON control protocol, as a pure engine: one parsed message in,
 * one reply out, no sockets (the server on the I/O thread feeds it). JSON is
 * json-c's (Debian libjson-c-dev), so tide never parses JSON by hand.
 *
 * Shapes follow QEMU byte for byte where tide shares a command with it:
 * greeting {"QMP": {"version": ..., "capabilities": []}}, capabilities
 * negotiation first, {"return": ...} or {"error": {"class", "desc"}}, and the
 * client's "id" echoed in either.
 */
#ifndef TIDE_QMP_H
#define TIDE_QMP_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

/* The QEMU release whose interface tide follows, as query-version reports it. */
#define QMP_QEMU_MAJOR 7
#define QMP_QEMU_MINOR 2
#define QMP_QEMU_MICRO 0

/* What ends every line tide sends: QEMU's monitor writes "\r\n", and libvirt reads up to it. */
#define QMP_LINE_END "\r\n"
#define QMP_LINE_END_LEN 2

/* How every QMP line is written: one line, and "/" as it is (QEMU does not escape it). */
#define QMP_JSON_FLAGS (JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE)

/* A failed command: QEMU's error class ("GenericError", "CommandNotFound", ...) and text. */
struct qmp_error {
	const char *class_name;
	char desc[256];
};

int qmp_error_set(struct qmp_error *err, const char *class_name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * A command: args is the "arguments" object (never NULL; empty when absent).
 * On success it sets *ret to the return value (NULL: {}) and returns 0; on
 * failure -1 with err set, and nothing may have changed.
 */
typedef int (*qmp_command_fn)(void *ctx, struct json_object *args, struct json_object **ret,
			      struct qmp_error *err);

/*
 * One argument of a command or member of an event, in QAPI's type names: "str", "int",
 * "size", "bool", "any", or "[str]" for a list. The engine checks a command's arguments
 * against its list before the command runs, and query-qmp-schema is made from the lists.
 */
struct qmp_arg {
	const char *name;
	const char *type;
	bool optional;
};
#define QMP_ARGS_END { NULL, NULL, false }

struct qmp_command {
	const char *name;
	qmp_command_fn fn;
	const struct qmp_arg *args; /* ends with a NULL name; NULL: takes no argument */
};

/* An event the server may send, for the schema (its data members; NULL: none). */
struct qmp_event_info {
	const char *name;
	const struct qmp_arg *data;
};

/* What a server serves: its command table (besides qmp_capabilities) and their context. */
struct qmp_engine {
	const struct qmp_command *commands;
	size_t nr_commands;
	const struct qmp_event_info *events; /* ends with a NULL name; NULL: none */
	void *ctx;
	/* Optional: false while commands cannot run yet (the server then holds them). */
	bool (*ready)(void *ctx);
};

/* One client's session: negotiation mode until qmp_capabilities. */
struct qmp_session {
	bool command_mode;
};

/* The greeting a new client gets first (a new string; the caller frees it). */
char *qmp_greeting(void);

/*
 * Handles one message the client sent (already parsed; NULL when it was not
 * JSON, with parse_error saying why). Returns the reply as one line without
 * the trailing newline (a new string; the caller frees it).
 */
char *qmp_handle(const struct qmp_engine *engine, struct qmp_session *session,
		 struct json_object *message, const char *parse_error);

/*
 * What json-c reads without a word but wrongly, found in a message's text: a \u0000 in a
 * string (C strings end there: "vm0\u0000x" would name vm0; QEMU refuses it too) and an
 * integer beyond 64 bits (json-c saturates it). Writes why into why and returns true.
 */
bool qmp_text_unsupported(const char *text, size_t len, char *why, size_t why_size);

/*
 * Checks args against a command's argument list, in QEMU's order and words: each listed
 * argument in turn (missing, then of the wrong type), then any member not listed.
 */
int qmp_args_check(struct json_object *args, const struct qmp_arg *list, struct qmp_error *err);

/* Every command an engine answers: the built-in ones first, then its table. */
void qmp_foreach_command(const struct qmp_engine *engine,
			 void (*fn)(const struct qmp_command *cmd, void *opaque), void *opaque);

/* query-qmp-schema's answer for an engine: SchemaInfo entries (vmm/qmp_schema.c). */
struct json_object *qmp_schema(const struct qmp_engine *engine);

/* A string argument the engine has checked (qmp_args_check); NULL when it is absent. */
const char *qmp_arg_str(struct json_object *args, const char *name);

#endif
