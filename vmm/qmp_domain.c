/*
 * The QMP a management stack sends while it starts a domain (libvirt's order, in
 * docs/libvirt.md): the vCPUs and their threads, the chardevs, the devices under
 * /machine/peripheral, and the things tide has none of (iothreads, block devices), which
 * are empty lists. ctx is the vm_config.
 */
#include "vmm/qmp_domain.h"

#include <stdio.h>
#include <string.h>

#include "arch/arch.h"
#include "devices/memory_device.h"
#include "vmm/config.h"
#include "vmm/machine.h"
#include "vmm/vcpu.h"

static int empty_list(void *ctx, struct json_object *args, struct json_object **ret,
		      struct qmp_error *err)
{
	(void)ctx, (void)args, (void)err;
	*ret = json_object_new_array();
	return 0;
}

/* Tide has no iothread objects, block devices or block nodes. */
QMP_DOMAIN_COMMAND(qmp_query_iothreads)
{
	return empty_list(ctx, args, ret, err);
}

QMP_DOMAIN_COMMAND(qmp_query_block)
{
	return empty_list(ctx, args, ret, err);
}

QMP_DOMAIN_COMMAND(qmp_query_named_block_nodes)
{
	return empty_list(ctx, args, ret, err);
}

/*
 * Tide has no migration, so a capability has nothing to change: "events" (MIGRATION
 * events, which never come) may be turned on, any capability off; the rest are refused.
 */
QMP_DOMAIN_COMMAND(qmp_migrate_set_capabilities)
{
	struct json_object *list = json_object_object_get(args, "capabilities");

	(void)ctx, (void)ret;
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		struct json_object *c = json_object_array_get_idx(list, i), *name, *state;

		if (!json_object_is_type(c, json_type_object) ||
		    !json_object_object_get_ex(c, "capability", &name) ||
		    !json_object_is_type(name, json_type_string) ||
		    !json_object_object_get_ex(c, "state", &state) ||
		    !json_object_is_type(state, json_type_boolean))
			return qmp_error_set(err, "GenericError",
					     "Invalid parameter type for 'capabilities', expected: "
					     "MigrationCapabilityStatus");
		if (json_object_get_boolean(state) && strcmp(json_object_get_string(name), "events"))
			return qmp_error_set(err, "GenericError",
					     "Capability '%s' is not available: tide has no migration",
					     json_object_get_string(name));
	}
	return 0;
}

/* The vCPUs' QOM paths, as QEMU's PC puts them (the first devices it creates). */
static void cpu_path(char *buf, size_t size, unsigned index)
{
	snprintf(buf, size, "/machine/unattached/device[%u]", index);
}

static struct json_object *cpu_props(unsigned index)
{
	struct json_object *props = json_object_new_object();

	/* Each vCPU is a socket of its own (-smp). */
	json_object_object_add(props, "socket-id", json_object_new_int((int)index));
	json_object_object_add(props, "core-id", json_object_new_int(0));
	json_object_object_add(props, "thread-id", json_object_new_int(0));
	return props;
}

struct machine *qmp_acquire_machine(struct qmp_error *err)
{
	struct machine *m = machine_acquire_current();

	if (!m)
		qmp_error_set(err, "GenericError", "No machine is running (tide is exiting)");
	return m;
}

QMP_DOMAIN_COMMAND(qmp_query_cpus_fast)
{
	struct machine *m = qmp_acquire_machine(err);
	char path[64];

	(void)ctx, (void)args;
	if (!m)
		return -1;
	*ret = json_object_new_array();
	for (unsigned i = 0; i < m->nr_vcpus; i++) {
		struct json_object *cpu = json_object_new_object();

		cpu_path(path, sizeof(path), i);
		json_object_object_add(cpu, "cpu-index", json_object_new_int((int)i));
		json_object_object_add(cpu, "qom-path", json_object_new_string(path));
		json_object_object_add(cpu, "thread-id",
				       json_object_new_int(atomic_load(&m->vcpus[i].tid)));
		json_object_object_add(cpu, "props", cpu_props(i));
		json_object_object_add(cpu, "target", json_object_new_string(arch_layout.qemu_target));
		json_object_array_add(*ret, cpu);
	}
	machine_release_current();
	return 0;
}

/* Every vCPU slot is filled at start (no hotplug), so each names its vCPU. */
QMP_DOMAIN_COMMAND(qmp_query_hotpluggable_cpus)
{
	const struct vm_config *cfg = ctx;
	char path[64];

	(void)args, (void)err;
	*ret = json_object_new_array();
	for (unsigned i = 0; !cfg->machine_none && i < cfg->smp; i++) {
		struct json_object *cpu = json_object_new_object();

		cpu_path(path, sizeof(path), i);
		json_object_object_add(cpu, "type", json_object_new_string(arch_layout.cpu_type));
		json_object_object_add(cpu, "vcpus-count", json_object_new_int(1));
		json_object_object_add(cpu, "props", cpu_props(i));
		json_object_object_add(cpu, "qom-path", json_object_new_string(path));
		json_object_array_add(*ret, cpu);
	}
	return 0;
}

static void add_chardev(struct json_object *list, const char *label, const char *filename)
{
	struct json_object *c = json_object_new_object();

	json_object_object_add(c, "label", json_object_new_string(label));
	json_object_object_add(c, "filename", json_object_new_string(filename));
	json_object_object_add(c, "frontend-open", json_object_new_boolean(true));
	json_object_array_add(list, c);
}

/* The -chardev devices in use: the monitor's socket and the serial port's file. */
QMP_DOMAIN_COMMAND(qmp_query_chardev)
{
	const struct vm_config *cfg = ctx;
	char filename[300];

	(void)args, (void)err;
	*ret = json_object_new_array();
	for (size_t i = 0; i < cfg->chardevs.count; i++) {
		const struct cmdline_chardev *c = &cfg->chardevs.list[i];

		if (c->socket)
			snprintf(filename, sizeof(filename), "unix:fd=%d,server=on", c->fd);
		else
			snprintf(filename, sizeof(filename), "file:%s", c->path);
		add_chardev(*ret, c->id, filename);
	}
	return 0;
}

/* qom-list /machine/peripheral: the devices given an id (tide's memory devices). */
int qmp_domain_list_peripherals(struct json_object **ret, struct qmp_error *err)
{
	struct machine *m = qmp_acquire_machine(err);
	char type[96];

	if (!m)
		return -1;
	*ret = json_object_new_array();
	for (struct memory_device *md = m->memory_devices; md; md = md->next) {
		struct json_object *child;

		if (!md->id)
			continue;
		child = json_object_new_object();
		snprintf(type, sizeof(type), "child<%s>", md->ops->qom_type);
		json_object_object_add(child, "name", json_object_new_string(md->id));
		json_object_object_add(child, "type", json_object_new_string(type));
		json_object_array_add(*ret, child);
	}
	machine_release_current();
	return 0;
}
