/*
 * The QMP commands tide serves (besides the engine's qmp_capabilities,
 * query-version and query-commands), in QEMU's names and shapes. Each
 * validates all of its arguments before it changes anything.
 */
#include "vmm/qmp_commands.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "vmm/machine.h"
#include "vmm/qmp_events.h"
#include "vmm/qmp_domain.h"
#include "vmm/qmp_probe.h"
#include "vmm/qmp_server.h"
#include "devices/memory_device.h"
#include "util/util.h"

static int cmd_query_status(void *ctx, struct json_object *args, struct json_object **ret,
			    struct qmp_error *err)
{
	const char *state = machine_run_state();

	(void)ctx;
	(void)args;
	(void)err;
	*ret = json_object_new_object();
	json_object_object_add(*ret, "status", json_object_new_string(state));
	json_object_object_add(*ret, "singlestep", json_object_new_boolean(false));
	json_object_object_add(*ret, "running",
			       json_object_new_boolean(strcmp(state, "running") == 0));
	return 0;
}

static int cmd_query_name(void *ctx, struct json_object *args, struct json_object **ret,
			  struct qmp_error *err)
{
	const struct vm_config *cfg = ctx;

	(void)args;
	(void)err;
	*ret = json_object_new_object();
	if (cfg->name)
		json_object_object_add(*ret, "name", json_object_new_string(cfg->name));
	return 0;
}

/* QEMU names a backend by its QOM path. */
static struct json_object *memdev_path(const struct memory_device *md)
{
	char path[96];

	snprintf(path, sizeof(path), "/objects/%s", md->memdev);
	return json_object_new_string(path);
}

/* VirtioMEMDeviceInfo, members in QEMU's order. */
static struct json_object *device_info(const struct memory_device *md)
{
	struct memory_device_status st;
	struct json_object *data = json_object_new_object();

	md->ops->status(md->opaque, &st);
	if (md->id)
		json_object_object_add(data, "id", json_object_new_string(md->id));
	json_object_object_add(data, "memaddr", json_object_new_uint64(st.memaddr));
	json_object_object_add(data, "requested-size", json_object_new_uint64(st.requested_size));
	json_object_object_add(data, "size", json_object_new_uint64(st.size));
	json_object_object_add(data, "max-size", json_object_new_uint64(st.max_size));
	json_object_object_add(data, "block-size", json_object_new_uint64(st.block_size));
	json_object_object_add(data, "node", json_object_new_uint64(st.node));
	json_object_object_add(data, "memdev", memdev_path(md));
	return data;
}

/* A command that lists every memory device of the running machine, an entry each. */
static int list_memory_devices(struct json_object **ret, struct qmp_error *err,
			       struct json_object *(*entry)(struct memory_device *md))
{
	struct machine *m;

	m = qmp_acquire_machine(err);
	if (!m)
		return -1;
	*ret = json_object_new_array();
	for (struct memory_device *md = m->memory_devices; md; md = md->next)
		json_object_array_add(*ret, entry(md));
	machine_release_current();
	return 0;
}

/* QEMU's MemoryDeviceInfo: {"type": "virtio-mem", "data": VirtioMEMDeviceInfo}. */
static struct json_object *memory_device_entry(struct memory_device *md)
{
	struct json_object *entry = json_object_new_object();

	json_object_object_add(entry, "type", json_object_new_string(md->ops->type));
	json_object_object_add(entry, "data", device_info(md));
	return entry;
}

static int cmd_query_memory_devices(void *ctx, struct json_object *args, struct json_object **ret,
				    struct qmp_error *err)
{
	(void)ctx;
	(void)args;
	return list_memory_devices(ret, err, memory_device_entry);
}

static int cmd_query_memory_size_summary(void *ctx, struct json_object *args,
					 struct json_object **ret, struct qmp_error *err)
{
	const struct vm_config *cfg = ctx;
	uint64_t plugged = 0;
	struct machine *m;

	(void)args;
	m = qmp_acquire_machine(err);
	if (!m)
		return -1;
	for (struct memory_device *md = m->memory_devices; md; md = md->next) {
		struct memory_device_status st;

		md->ops->status(md->opaque, &st);
		plugged += st.size;
	}
	machine_release_current();
	*ret = json_object_new_object();
	json_object_object_add(*ret, "base-memory", json_object_new_uint64(cfg->ram_size));
	json_object_object_add(*ret, "plugged-memory", json_object_new_uint64(plugged));
	return 0;
}

/* ---- qom-get / qom-set / qom-list on a memory device ---- */

/* By QOM path (/machine/peripheral/ID) or, as QEMU's partial paths allow, by its id. */
static struct memory_device *find_device(struct machine *m, const char *path)
{
	for (struct memory_device *md = m->memory_devices; md; md = md->next)
		if (!strcmp(path, md->qom_path) || (md->id && !strcmp(path, md->id)))
			return md;
	return NULL;
}

enum prop_kind { PROP_U64, PROP_STRING };

struct qom_prop {
	const char *name;
	const char *type; /* as qom-list shows it */
	bool writable;
	size_t offset; /* into struct memory_device_status, for PROP_U64 */
	enum prop_kind kind;
};

#define U64_PROP(n, t, w, field) { n, t, w, offsetof(struct memory_device_status, field), PROP_U64 }

static const struct qom_prop device_props[] = {
	{ "type", "string", false, 0, PROP_STRING },
	U64_PROP("memaddr", "uint64", false, memaddr),
	U64_PROP("node", "uint32", false, node),
	U64_PROP("requested-size", "size", true, requested_size),
	U64_PROP("size", "size", false, size),
	U64_PROP("block-size", "size", false, block_size),
	{ "memdev", "link<memory-backend>", false, 0, PROP_STRING },
};

static const struct qom_prop *find_prop(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(device_props); i++)
		if (!strcmp(device_props[i].name, name))
			return &device_props[i];
	return NULL;
}

/*
 * Looks up path and property for qom-get/qom-set. On success the current machine
 * is held (the caller releases it); on failure it is released and err is set.
 */
static int lookup_prop(struct json_object *args, struct memory_device **md,
		       const struct qom_prop **prop, struct qmp_error *err)
{
	const char *path = qmp_arg_str(args, "path");
	const char *property = qmp_arg_str(args, "property");
	struct machine *m;

	m = qmp_acquire_machine(err);
	if (!m)
		return -1;
	*md = find_device(m, path);
	if (!*md) {
		machine_release_current();
		return qmp_error_set(err, "DeviceNotFound", "Device '%s' not found", path);
	}
	*prop = find_prop(property);
	if (!*prop) {
		qmp_error_set(err, "GenericError", "Property '%s.%s' not found",
			      (*md)->ops->qom_type, property);
		machine_release_current();
		return -1;
	}
	return 0;
}

static struct json_object *prop_value(const struct memory_device *md, const struct qom_prop *p)
{
	struct memory_device_status st;

	if (p->kind == PROP_STRING)
		return !strcmp(p->name, "type") ? json_object_new_string(md->ops->qom_type)
						: memdev_path(md);
	md->ops->status(md->opaque, &st);
	return json_object_new_uint64(*(const uint64_t *)((const char *)&st + p->offset));
}

static int cmd_qom_get(void *ctx, struct json_object *args, struct json_object **ret,
		       struct qmp_error *err)
{
	const struct qom_prop *prop;
	struct memory_device *md;

	(void)ctx;
	if (lookup_prop(args, &md, &prop, err))
		return -1;
	*ret = prop_value(md, prop);
	machine_release_current();
	return 0;
}

static int cmd_qom_set(void *ctx, struct json_object *args, struct json_object **ret,
		       struct qmp_error *err)
{
	struct json_object *value = json_object_object_get(args, "value");
	const struct qom_prop *prop;
	struct memory_device *md;
	struct error derr;

	(void)ctx;
	(void)ret;
	if (lookup_prop(args, &md, &prop, err))
		return -1;
	if (!prop->writable) {
		qmp_error_set(err, "GenericError", "Property '%s.%s' is not writable",
			      md->ops->qom_type, prop->name);
		goto fail;
	}
	/* json-c keeps integers above INT64_MAX as uint64; a negative one is no size. */
	if (!json_object_is_type(value, json_type_int)) {
		qmp_error_set(err, "GenericError", "Invalid parameter type for '%s', expected: size",
			      prop->name);
		goto fail;
	}
	if (json_object_get_int64(value) < 0) {
		qmp_error_set(err, "GenericError", "Parameter '%s' expects a size (not negative)",
			      prop->name);
		goto fail;
	}
	if (md->ops->set_requested_size(md->opaque, json_object_get_uint64(value), &derr)) {
		qmp_error_set(err, "GenericError", "%s", derr.msg);
		goto fail;
	}
	machine_release_current();
	return 0;
fail:
	machine_release_current();
	return -1;
}

static int cmd_qom_list(void *ctx, struct json_object *args, struct json_object **ret,
			struct qmp_error *err)
{
	const char *path = qmp_arg_str(args, "path");
	struct machine *m;

	(void)ctx;
	if (!strcmp(path, "/machine/peripheral"))
		return qmp_domain_list_peripherals(ret, err);
	m = qmp_acquire_machine(err);
	if (!m)
		return -1;
	if (!find_device(m, path)) {
		machine_release_current();
		return qmp_error_set(err, "DeviceNotFound", "Device '%s' not found", path);
	}
	machine_release_current();
	*ret = json_object_new_array();
	for (size_t i = 0; i < ARRAY_SIZE(device_props); i++) {
		struct json_object *p = json_object_new_object();

		json_object_object_add(p, "name", json_object_new_string(device_props[i].name));
		json_object_object_add(p, "type", json_object_new_string(device_props[i].type));
		json_object_array_add(*ret, p);
	}
	return 0;
}

/* ---- run state ---- */

/* stop, cont, system_reset, quit: no arguments, one machine action, {} back. */
#define ACTION_COMMAND(name, action)                                                               \
	static int name(void *ctx, struct json_object *args, struct json_object **ret,             \
			struct qmp_error *err)                                                     \
	{                                                                                          \
		(void)ctx;                                                                         \
		(void)args;                                                                        \
		(void)ret;                                                                         \
		(void)err;                                                                         \
		action();                                                                          \
		return 0;                                                                          \
	}

/* STOP (sent once the vCPUs have parked) and RESUME come before the reply, as in QEMU. */
static void stop_then_reply(void)
{
	machine_stop_from_qmp();
	qmp_server_events_before_reply();
}
ACTION_COMMAND(cmd_stop, stop_then_reply)

static int cmd_cont(void *ctx, struct json_object *args, struct json_object **ret,
		    struct qmp_error *err)
{
	(void)ctx;
	(void)args;
	(void)ret;
	if (machine_cont_from_qmp())
		return qmp_error_set(err, "GenericError", "Resetting the Virtual Machine is required");
	qmp_server_events_before_reply();
	return 0;
}
ACTION_COMMAND(cmd_system_reset, machine_reset_current_from_qmp)
ACTION_COMMAND(cmd_quit, machine_quit_current_from_qmp)

/* ---- tide's own ---- */

/* VirtioMEMDeviceInfo with the QOM path, the plug bitmap summary, memslots and counters. */
static struct json_object *virtio_mem_debug_entry(struct memory_device *md)
{
	struct json_object *d = device_info(md);

	json_object_object_add(d, "qom-path", json_object_new_string(md->qom_path));
	md->ops->debug_info(md->opaque, d);
	return d;
}

static int cmd_x_query_virtio_mem(void *ctx, struct json_object *args, struct json_object **ret,
				  struct qmp_error *err)
{
	(void)ctx;
	(void)args;
	return list_memory_devices(ret, err, virtio_mem_debug_entry);
}

static const struct qmp_arg path_arg[] = { { "path", "str", false }, QMP_ARGS_END };
static const struct qmp_arg qom_get_args[] = {
	{ "path", "str", false }, { "property", "str", false }, QMP_ARGS_END
};
static const struct qmp_arg qom_set_args[] = {
	{ "path", "str", false }, { "property", "str", false }, { "value", "any", false }, QMP_ARGS_END
};

static const struct qmp_arg list_types_args[] = {
	{ "implements", "str", true }, { "abstract", "bool", true }, QMP_ARGS_END
};
static const struct qmp_arg typename_arg[] = { { "typename", "str", false }, QMP_ARGS_END };
static const struct qmp_arg machines_args[] = { { "compat-props", "bool", true }, QMP_ARGS_END };
static const struct qmp_arg option_arg[] = { { "option", "str", true }, QMP_ARGS_END };
static const struct qmp_arg capabilities_arg[] = { { "capabilities", "[any]", false },
						   QMP_ARGS_END };
static const struct qmp_arg flat_arg[] = { { "flat", "bool", true }, QMP_ARGS_END };

static const struct qmp_command commands[] = {
	{ "query-status", cmd_query_status, NULL },
	{ "query-name", cmd_query_name, NULL },
	{ "query-memory-devices", cmd_query_memory_devices, NULL },
	{ "query-memory-size-summary", cmd_query_memory_size_summary, NULL },
	{ "qom-get", cmd_qom_get, qom_get_args },
	{ "qom-set", cmd_qom_set, qom_set_args },
	{ "qom-list", cmd_qom_list, path_arg },
	{ "stop", cmd_stop, NULL },
	{ "cont", cmd_cont, NULL },
	{ "system_reset", cmd_system_reset, NULL },
	{ "quit", cmd_quit, NULL },
	{ "x-query-virtio-mem", cmd_x_query_virtio_mem, NULL },
	/* What a management stack probes (vmm/qmp_probe.c). */
	{ "query-target", qmp_query_target, NULL },
	{ "query-kvm", qmp_query_kvm, NULL },
	{ "query-uuid", qmp_query_uuid, NULL },
	{ "query-migrate-capabilities", qmp_query_migrate_capabilities, NULL },
	{ "qom-list-types", qmp_qom_list_types, list_types_args },
	{ "device-list-properties", qmp_device_list_properties, typename_arg },
	{ "qom-list-properties", qmp_qom_list_properties, typename_arg },
	{ "query-machines", qmp_query_machines, machines_args },
	{ "query-command-line-options", qmp_query_command_line_options, option_arg },
	/* What a management stack sends as it starts a domain (vmm/qmp_domain.c). */
	{ "migrate-set-capabilities", qmp_migrate_set_capabilities, capabilities_arg },
	{ "query-chardev", qmp_query_chardev, NULL },
	{ "query-hotpluggable-cpus", qmp_query_hotpluggable_cpus, NULL },
	{ "query-cpus-fast", qmp_query_cpus_fast, NULL },
	{ "query-iothreads", qmp_query_iothreads, NULL },
	{ "query-named-block-nodes", qmp_query_named_block_nodes, flat_arg },
	{ "query-block", qmp_query_block, NULL },
};

static bool commands_ready(void *ctx)
{
	(void)ctx;
	return machine_current_ready();
}

void qmp_commands_engine(struct qmp_engine *engine, const struct vm_config *cfg)
{
	*engine = (struct qmp_engine){
		.commands = commands,
		.nr_commands = ARRAY_SIZE(commands),
		.events = qmp_event_infos,
		.ctx = (void *)cfg,
		.ready = commands_ready,
	};
}
