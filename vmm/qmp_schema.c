/*
 * query-qmp-schema, made from the engine's own tables: every command with the arguments
 * it checks (struct qmp_arg), every event with its data. QEMU's SchemaInfo shapes: the
 * object types get numbers for names, as in QEMU, so no client depends on them; every
 * command returns "any" (tide describes its arguments, not its replies).
 *
 * libvirt reads features off paths in it (docs/libvirt.md): what tide does not list,
 * libvirt does not use.
 */
#include "vmm/qmp.h"

#include <stdio.h>
#include <string.h>

#include "util/util.h"

/* The built-in types an argument may have, with the JSON type each stands for. */
static const struct {
	const char *name;
	const char *json_type;
} builtin_types[] = {
	{ "str", "string" }, { "int", "int" },	 { "size", "int" },
	{ "bool", "boolean" }, { "any", "value" }, { "null", "null" },
};

#define MAX_ARRAY_TYPES 8

struct schema {
	struct json_object *list;
	unsigned next_type; /* the next object type's number ("0" is the empty one) */
	const char *array_types[MAX_ARRAY_TYPES]; /* "[str]" and the like, each once */
	size_t nr_array_types;
};

/* A list type a member uses gets its own entity, once. */
static void note_array_type(struct schema *s, const char *type)
{
	if (type[0] != '[')
		return;
	for (size_t i = 0; i < s->nr_array_types; i++)
		if (!strcmp(s->array_types[i], type))
			return;
	if (s->nr_array_types < MAX_ARRAY_TYPES)
		s->array_types[s->nr_array_types++] = type;
}

static void add_entity(struct schema *s, const char *name, const char *meta_type,
		       struct json_object *entity)
{
	json_object_object_add(entity, "name", json_object_new_string(name));
	json_object_object_add(entity, "meta-type", json_object_new_string(meta_type));
	json_object_array_add(s->list, entity);
}

/* An object type with members (an argument list, an event's data); returns its name. */
static const char *add_object_type(struct schema *s, const struct qmp_arg *members, char *name,
				   size_t size)
{
	struct json_object *entity, *list;

	if (!members || !members->name)
		return "0";
	snprintf(name, size, "%u", s->next_type++);
	entity = json_object_new_object();
	list = json_object_new_array();
	for (const struct qmp_arg *m = members; m->name; m++) {
		struct json_object *member = json_object_new_object();

		json_object_object_add(member, "name", json_object_new_string(m->name));
		json_object_object_add(member, "type", json_object_new_string(m->type));
		note_array_type(s, m->type);
		if (m->optional) /* QEMU's mark of an optional member */
			json_object_object_add(member, "default", NULL);
		json_object_array_add(list, member);
	}
	json_object_object_add(entity, "members", list);
	add_entity(s, name, "object", entity);
	return name;
}

static void add_command(const struct qmp_command *cmd, void *opaque)
{
	struct schema *s = opaque;
	struct json_object *entity = json_object_new_object();
	char type_name[16];

	json_object_object_add(entity, "arg-type", json_object_new_string(add_object_type(
							   s, cmd->args, type_name, sizeof(type_name))));
	json_object_object_add(entity, "ret-type", json_object_new_string("any"));
	add_entity(s, cmd->name, "command", entity);
}

struct json_object *qmp_schema(const struct qmp_engine *engine)
{
	struct schema s = { .list = json_object_new_array(), .next_type = 1 };
	struct json_object *entity;

	qmp_foreach_command(engine, add_command, &s);
	for (const struct qmp_event_info *e = engine->events; e && e->name; e++) {
		char type_name[16];

		entity = json_object_new_object();
		json_object_object_add(entity, "arg-type",
				       json_object_new_string(add_object_type(
					       &s, e->data, type_name, sizeof(type_name))));
		add_entity(&s, e->name, "event", entity);
	}
	entity = json_object_new_object();
	json_object_object_add(entity, "members", json_object_new_array());
	add_entity(&s, "0", "object", entity);
	for (size_t i = 0; i < s.nr_array_types; i++) {
		char element[32];

		snprintf(element, sizeof(element), "%.*s", (int)strlen(s.array_types[i]) - 2,
			 s.array_types[i] + 1);
		entity = json_object_new_object();
		json_object_object_add(entity, "element-type", json_object_new_string(element));
		add_entity(&s, s.array_types[i], "array", entity);
	}
	for (size_t i = 0; i < ARRAY_SIZE(builtin_types); i++) {
		entity = json_object_new_object();
		json_object_object_add(entity, "json-type",
				       json_object_new_string(builtin_types[i].json_type));
		add_entity(&s, builtin_types[i].name, "builtin", entity);
	}
	return s.list;
}
