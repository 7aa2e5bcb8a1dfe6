/*
 * The QMP commands a management stack probes a binary with before it runs a guest
 * (libvirt's capability probe, docs/libvirt.md): what tide is, which machines, devices
 * and options it has. Each answers what is true of tide; what tide lacks is an empty list
 * or the error QEMU gives for a name it does not know.
 */
#include "vmm/qmp_probe.h"

#include <string.h>

#include "arch/arch.h"
#include "devices/device.h"
#include "util/util.h"
#include "vmm/cmdline.h"
#include "vmm/config.h"
#include "vmm/host_kvm.h"

int qmp_query_target(void *ctx, struct json_object *args, struct json_object **ret,
		     struct qmp_error *err)
{
	(void)ctx, (void)args, (void)err;
	*ret = json_object_new_object();
	json_object_object_add(*ret, "arch", json_object_new_string(arch_layout.qemu_target));
	return 0;
}

/* KVM is present when /dev/kvm opened; enabled unless a probe asked for tcg alone. */
int qmp_query_kvm(void *ctx, struct json_object *args, struct json_object **ret,
		  struct qmp_error *err)
{
	const struct vm_config *cfg = ctx;
	bool present = host_kvm() >= 0;

	(void)args, (void)err;
	*ret = json_object_new_object();
	json_object_object_add(*ret, "enabled", json_object_new_boolean(present && !cfg->accel_tcg));
	json_object_object_add(*ret, "present", json_object_new_boolean(present));
	return 0;
}

int qmp_query_uuid(void *ctx, struct json_object *args, struct json_object **ret,
		   struct qmp_error *err)
{
	const struct vm_config *cfg = ctx;

	(void)args, (void)err;
	*ret = json_object_new_object();
	json_object_object_add(*ret, "UUID",
			       json_object_new_string(cfg->uuid[0] ? cfg->uuid
								   : "00000000-0000-0000-0000-000000000000"));
	return 0;
}

/* Tide has no migration: no capability to list, and none to set. */
int qmp_query_migrate_capabilities(void *ctx, struct json_object *args, struct json_object **ret,
				   struct qmp_error *err)
{
	(void)ctx, (void)args, (void)err;
	*ret = json_object_new_array();
	return 0;
}

/* ---- types: what -device and -object take, the machines and the vCPU ---- */

struct type_list {
	struct json_object *list;
	const char *implements; /* NULL: every type */
};

static void add_type(const char *name, const char *parent, void *opaque)
{
	struct type_list *l = opaque;
	struct json_object *t;

	/* Every type is an object; the others are their direct parents here. */
	if (l->implements && strcmp(l->implements, "object") && strcmp(l->implements, parent))
		return;
	t = json_object_new_object();
	json_object_object_add(t, "name", json_object_new_string(name));
	json_object_object_add(t, "parent", json_object_new_string(parent));
	json_object_array_add(l->list, t);
}

/* A device's parent is "device"; a backend's is "memory-backend" (QEMU's names). */
static const char *type_parent(const struct device_type *type)
{
	if (type->kind != TYPE_OBJECT)
		return "device";
	return strncmp(type->name, "memory-backend-", 15) ? "object" : "memory-backend";
}

static void add_device_type(const struct device_type *type, void *opaque)
{
	add_type(type->name, type_parent(type), opaque);
}

/* The types that are not -device or -object types: the machines and the vCPU. Their
 * options are not properties (qom-list-properties lists none). */
static void foreach_machine_or_cpu_type(void (*fn)(const char *name, const char *parent,
						   void *opaque),
					void *opaque)
{
	char name[64];

	for (const struct arch_machine_type *t = arch_layout.machine_types; t->name; t++) {
		snprintf(name, sizeof(name), "%s-machine", t->name);
		fn(name, "machine", opaque);
	}
	fn("none-machine", "machine", opaque);
	fn(arch_layout.cpu_type, "cpu", opaque);
}

int qmp_qom_list_types(void *ctx, struct json_object *args, struct json_object **ret,
		       struct qmp_error *err)
{
	struct type_list l = { json_object_new_array(), qmp_arg_str(args, "implements") };

	(void)ctx, (void)err;
	if (json_object_get_boolean(json_object_object_get(args, "abstract"))) {
		/* The abstract parents the concrete types name. */
		add_type("device", "object", &l);
		add_type("memory-backend", "object", &l);
		add_type("machine", "object", &l);
	}
	device_type_foreach(TYPE_DEVICE, add_device_type, &l);
	device_type_foreach(TYPE_BOARD, add_device_type, &l);
	device_type_foreach(TYPE_OBJECT, add_device_type, &l);
	foreach_machine_or_cpu_type(add_type, &l);
	*ret = l.list;
	return 0;
}

static const struct device_type *find_type(const char *name)
{
	const struct device_type *type = device_type_find(name, TYPE_DEVICE);

	if (!type)
		type = device_type_find(name, TYPE_OBJECT);
	if (!type)
		type = device_type_find(name, TYPE_BOARD);
	return type;
}

static struct json_object *property_list(const struct type_property *props)
{
	struct json_object *list = json_object_new_array();

	for (const struct type_property *p = props; p && p->name; p++) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "name", json_object_new_string(p->name));
		json_object_object_add(o, "type", json_object_new_string(p->type));
		if (p->description)
			json_object_object_add(o, "description",
					       json_object_new_string(p->description));
		json_object_array_add(list, o);
	}
	return list;
}

struct type_search {
	const char *name;
	bool found;
};

static void match_type(const char *name, const char *parent, void *opaque)
{
	struct type_search *s = opaque;

	(void)parent;
	s->found |= !strcmp(name, s->name);
}

/* Shared by both: a type tide has lists the properties its parser takes. */
static int list_properties(struct json_object *args, bool objects_too, struct json_object **ret,
			   struct qmp_error *err)
{
	const char *name = qmp_arg_str(args, "typename");
	const struct device_type *type = find_type(name);

	if (type && (objects_too || type->kind != TYPE_OBJECT)) {
		*ret = property_list(type->props);
		return 0;
	}
	if (objects_too) {
		struct type_search search = { name, false };

		foreach_machine_or_cpu_type(match_type, &search);
		if (search.found) {
			*ret = json_object_new_array();
			return 0;
		}
	}
	return qmp_error_set(err, "DeviceNotFound", objects_too ? "Class '%s' not found"
							     : "Device '%s' not found",
			     name);
}

int qmp_device_list_properties(void *ctx, struct json_object *args, struct json_object **ret,
			       struct qmp_error *err)
{
	(void)ctx;
	return list_properties(args, false, ret, err);
}

int qmp_qom_list_properties(void *ctx, struct json_object *args, struct json_object **ret,
			    struct qmp_error *err)
{
	(void)ctx;
	return list_properties(args, true, ret, err);
}

/* ---- machines and options ---- */

static struct json_object *machine_info(const char *name, const char *alias, bool is_default,
					unsigned cpu_max, bool has_cpu_type)
{
	struct json_object *m = json_object_new_object();

	json_object_object_add(m, "name", json_object_new_string(name));
	if (alias)
		json_object_object_add(m, "alias", json_object_new_string(alias));
	json_object_object_add(m, "is-default", json_object_new_boolean(is_default));
	json_object_object_add(m, "cpu-max", json_object_new_int((int)cpu_max));
	json_object_object_add(m, "hotpluggable-cpus", json_object_new_boolean(false));
	/* Boot RAM comes from a backend (-numa node,memdev= or -machine memory-backend=),
	 * never from -numa's legacy mem=. */
	json_object_object_add(m, "numa-mem-supported", json_object_new_boolean(false));
	json_object_object_add(m, "deprecated", json_object_new_boolean(false));
	if (has_cpu_type)
		json_object_object_add(m, "default-cpu-type",
				       json_object_new_string(arch_layout.cpu_type));
	return m;
}

/* The first machine is the default; "none" is the machine without a guest. */
int qmp_query_machines(void *ctx, struct json_object *args, struct json_object **ret,
		       struct qmp_error *err)
{
	(void)ctx, (void)args, (void)err;
	*ret = json_object_new_array();
	for (const struct arch_machine_type *t = arch_layout.machine_types; t->name; t++)
		json_object_array_add(*ret, machine_info(t->name, t->alias,
							 t == arch_layout.machine_types,
							 arch_layout.max_vcpus, true));
	json_object_array_add(*ret, machine_info("none", NULL, false, 1, false));
	return 0;
}

struct option_list {
	struct json_object *list;
	const char *only;
};

/* Tide's options take their own syntax, not QemuOpts' parameters: listed without them. */
static void add_option(const char *name, void *opaque)
{
	struct option_list *l = opaque;
	struct json_object *o;

	if (l->only && strcmp(l->only, name))
		return;
	o = json_object_new_object();
	json_object_object_add(o, "option", json_object_new_string(name));
	json_object_object_add(o, "parameters", json_object_new_array());
	json_object_array_add(l->list, o);
}

int qmp_query_command_line_options(void *ctx, struct json_object *args, struct json_object **ret,
				   struct qmp_error *err)
{
	struct option_list l = { json_object_new_array(), qmp_arg_str(args, "option") };

	(void)ctx;
	cmdline_foreach_option(add_option, &l);
	if (l.only && json_object_array_length(l.list) == 0) {
		json_object_put(l.list);
		return qmp_error_set(err, "GenericError", "Invalid option name: %s", l.only);
	}
	*ret = l.list;
	return 0;
}
