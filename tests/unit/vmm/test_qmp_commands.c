/* tide's QMP commands (vmm/qmp_commands.c) on a fake machine with fake memory devices. */
#include <check.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "vmm/machine.h"
#include "devices/memory_device.h"
#include "vmm/qmp_commands.h"
#include "util/util.h"

#define MiB (1ULL << 20)
#define GiB (1ULL << 30)

/* A memory device that keeps its numbers and checks requested-size as virtio-mem does. */
struct fake_device {
	struct memory_device md;
	struct memory_device_status st;
	unsigned sets;
};

static void fake_status(void *opaque, struct memory_device_status *out)
{
	*out = ((struct fake_device *)opaque)->st;
}

static int fake_set(void *opaque, uint64_t size, struct error *err)
{
	struct fake_device *f = opaque;

	if (size % f->st.block_size)
		return error_set(err, "requested-size %llu is not a multiple of block-size",
				 (unsigned long long)size);
	if (size > f->st.max_size)
		return error_set(err, "requested-size %llu is above the device size",
				 (unsigned long long)size);
	f->st.requested_size = size;
	f->sets++;
	return 0;
}

static void fake_debug(void *opaque, struct json_object *obj)
{
	(void)opaque;
	json_object_object_add(obj, "fake-counter", json_object_new_int(42));
}

static const struct memory_device_ops fake_ops = {
	.type = "virtio-mem",
	.qom_type = "virtio-mem-pci",
	.status = fake_status,
	.set_requested_size = fake_set,
	.debug_info = fake_debug,
};

static struct machine *m;
static struct vm_config cfg;
static struct fake_device dev0, anon;
static struct qmp_engine engine;
static struct qmp_session session;
static char line[4096];

static void add_device(struct fake_device *f, const char *id, uint64_t memaddr)
{
	f->st = (struct memory_device_status){ .memaddr = memaddr, .size = 64 * MiB,
					       .requested_size = 64 * MiB, .max_size = GiB,
					       .block_size = 2 * MiB };
	f->md = (struct memory_device){ .ops = &fake_ops, .opaque = f, .id = id, .memdev = "mem0" };
	f->sets = 0;
	machine_add_memory_device(m, &f->md);
}

static void setup(void)
{
	m = calloc(1, sizeof(*m));
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(run_state_init(&m->rs, NULL), 0);
	memset(&cfg, 0, sizeof(cfg));
	cfg.ram_size = 256 * MiB;
	cfg.name = "unit";
	m->cfg = &cfg;
	add_device(&dev0, "vm0", 4 * GiB);
	add_device(&anon, NULL, 5 * GiB);
	machine_set_current(m);
	qmp_commands_engine(&engine, &cfg);
	session.command_mode = true;
}

static void teardown(void)
{
	machine_set_current(NULL);
	run_state_destroy(&m->rs);
	free(m);
}

static const char *run(const char *text)
{
	enum json_tokener_error jerr;
	struct json_object *msg = json_tokener_parse_verbose(text, &jerr);
	char *r;

	ck_assert_msg(msg != NULL, "test input is not JSON: %s", text);
	r = qmp_handle(&engine, &session, msg, NULL);
	json_object_put(msg);
	ck_assert_ptr_nonnull(r);
	snprintf(line, sizeof(line), "%s", r);
	free(r);
	return line;
}

static void assert_error(const char *text, const char *cls, const char *desc)
{
	char expected[1024];

	snprintf(expected, sizeof(expected),
		 "{ \"error\": { \"class\": \"%s\", \"desc\": \"%s\" } }", cls, desc);
	ck_assert_str_eq(run(text), expected);
}

START_TEST(status_and_name)
{
	ck_assert_str_eq(run("{\"execute\": \"query-status\"}"),
			 "{ \"return\": { \"status\": \"running\", \"singlestep\": false, "
			 "\"running\": true } }");
	ck_assert_str_eq(run("{\"execute\": \"query-name\"}"),
			 "{ \"return\": { \"name\": \"unit\" } }");
	cfg.name = NULL;
	ck_assert_str_eq(run("{\"execute\": \"query-name\"}"), "{ \"return\": { } }");
	assert_error("{\"execute\": \"query-status\", \"arguments\": {\"x\": 1}}", "GenericError",
		     "Parameter 'x' is unexpected");
}
END_TEST

START_TEST(memory_devices_as_qemu_lists_them)
{
	ck_assert_str_eq(
		run("{\"execute\": \"query-memory-devices\"}"),
		"{ \"return\": [ { \"type\": \"virtio-mem\", \"data\": { \"id\": \"vm0\", "
		"\"memaddr\": 4294967296, \"requested-size\": 67108864, \"size\": 67108864, "
		"\"max-size\": 1073741824, \"block-size\": 2097152, \"node\": 0, "
		"\"memdev\": \"/objects/mem0\" } }, { \"type\": \"virtio-mem\", \"data\": { "
		"\"memaddr\": 5368709120, \"requested-size\": 67108864, \"size\": 67108864, "
		"\"max-size\": 1073741824, \"block-size\": 2097152, \"node\": 0, "
		"\"memdev\": \"/objects/mem0\" } } ] }");
	ck_assert_str_eq(run("{\"execute\": \"query-memory-size-summary\"}"),
			 "{ \"return\": { \"base-memory\": 268435456, \"plugged-memory\": "
			 "134217728 } }");
	ck_assert_str_eq(anon.md.qom_path, "/machine/peripheral-anon/device[0]");
	ck_assert_str_eq(dev0.md.qom_path, "/machine/peripheral/vm0");
}
END_TEST

START_TEST(qom_get_set_list)
{
	ck_assert_str_eq(run("{\"execute\": \"qom-get\", \"arguments\": {\"path\": "
			     "\"/machine/peripheral/vm0\", \"property\": \"block-size\"}}"),
			 "{ \"return\": 2097152 }");
	ck_assert_str_eq(run("{\"execute\": \"qom-get\", \"arguments\": {\"path\": \"vm0\", "
			     "\"property\": \"memdev\"}}"),
			 "{ \"return\": \"/objects/mem0\" }");
	ck_assert_str_eq(run("{\"execute\": \"qom-get\", \"arguments\": {\"path\": "
			     "\"/machine/peripheral-anon/device[0]\", \"property\": \"memaddr\"}}"),
			 "{ \"return\": 5368709120 }");
	ck_assert_str_eq(run("{\"execute\": \"qom-set\", \"arguments\": {\"path\": \"vm0\", "
			     "\"property\": \"requested-size\", \"value\": 536870912}, \"id\": 3}"),
			 "{ \"return\": { }, \"id\": 3 }");
	ck_assert_uint_eq(dev0.st.requested_size, 512 * MiB);
	ck_assert_uint_eq(anon.st.requested_size, 64 * MiB);
	ck_assert_ptr_nonnull(strstr(run("{\"execute\": \"qom-list\", \"arguments\": {\"path\": "
					 "\"vm0\"}}"),
				     "{ \"name\": \"requested-size\", \"type\": \"size\" }"));
}
END_TEST

/* Every refusal leaves requested-size as it was and names what is wrong. */
START_TEST(bad_arguments_change_nothing)
{
	static const struct {
		const char *in, *cls, *desc;
	} cases[] = {
		{ "{\"execute\": \"qom-get\", \"arguments\": {\"property\": \"size\"}}",
		  "GenericError", "Parameter 'path' is missing" },
		{ "{\"execute\": \"qom-get\", \"arguments\": {\"path\": \"vm0\"}}", "GenericError",
		  "Parameter 'property' is missing" },
		{ "{\"execute\": \"qom-get\", \"arguments\": {\"path\": [], \"property\": \"size\"}}",
		  "GenericError", "Invalid parameter type for 'path', expected: string" },
		{ "{\"execute\": \"qom-get\", \"arguments\": {\"path\": \"vm9\", \"property\": "
		  "\"size\"}}",
		  "DeviceNotFound", "Device 'vm9' not found" },
		{ "{\"execute\": \"qom-get\", \"arguments\": {\"path\": \"vm0\", \"property\": "
		  "\"size\", \"x\": 0}}",
		  "GenericError", "Parameter 'x' is unexpected" },
		{ "{\"execute\": \"qom-get\", \"arguments\": {\"path\": \"vm0\", \"property\": "
		  "\"colour\"}}",
		  "GenericError", "Property 'virtio-mem-pci.colour' not found" },
		{ "{\"execute\": \"qom-set\", \"arguments\": {\"path\": \"vm0\", \"property\": "
		  "\"requested-size\"}}",
		  "GenericError", "Parameter 'value' is missing" },
		{ "{\"execute\": \"qom-set\", \"arguments\": {\"path\": \"vm0\", \"property\": "
		  "\"requested-size\", \"value\": \"1G\"}}",
		  "GenericError", "Invalid parameter type for 'requested-size', expected: size" },
		{ "{\"execute\": \"qom-set\", \"arguments\": {\"path\": \"vm0\", \"property\": "
		  "\"requested-size\", \"value\": 1.5}}",
		  "GenericError", "Invalid parameter type for 'requested-size', expected: size" },
		{ "{\"execute\": \"qom-set\", \"arguments\": {\"path\": \"vm0\", \"property\": "
		  "\"requested-size\", \"value\": -2097152}}",
		  "GenericError", "Parameter 'requested-size' expects a size (not negative)" },
		{ "{\"execute\": \"qom-set\", \"arguments\": {\"path\": \"vm0\", \"property\": "
		  "\"requested-size\", \"value\": 3145728}}",
		  "GenericError", "requested-size 3145728 is not a multiple of block-size" },
		{ "{\"execute\": \"qom-set\", \"arguments\": {\"path\": \"vm0\", \"property\": "
		  "\"requested-size\", \"value\": 2147483648}}",
		  "GenericError", "requested-size 2147483648 is above the device size" },
		{ "{\"execute\": \"qom-set\", \"arguments\": {\"path\": \"vm0\", \"property\": "
		  "\"block-size\", \"value\": 0}}",
		  "GenericError", "Property 'virtio-mem-pci.block-size' is not writable" },
		{ "{\"execute\": \"qom-list\", \"arguments\": {\"path\": \"vm9\"}}", "DeviceNotFound",
		  "Device 'vm9' not found" },
		{ "{\"execute\": \"stop\", \"arguments\": {\"now\": true}}", "GenericError",
		  "Parameter 'now' is unexpected" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		assert_error(cases[i].in, cases[i].cls, cases[i].desc);
	ck_assert_uint_eq(dev0.sets, 0);
	ck_assert_uint_eq(dev0.st.requested_size, 64 * MiB);
	ck_assert_int_eq(atomic_load(&m->rs.stop), MACHINE_RUNNING);
	ck_assert_str_eq(machine_run_state(), "running");
}
END_TEST

START_TEST(stop_cont_reset_quit)
{
	ck_assert_str_eq(run("{\"execute\": \"stop\"}"), "{ \"return\": { } }");
	ck_assert_str_eq(machine_run_state(), "paused");
	ck_assert(atomic_load(&m->rs.pause_requested));
	ck_assert_ptr_nonnull(strstr(run("{\"execute\": \"query-status\"}"), "\"paused\""));
	ck_assert_str_eq(run("{\"execute\": \"cont\"}"), "{ \"return\": { } }");
	ck_assert(!atomic_load(&m->rs.pause_requested));
	ck_assert_str_eq(run("{\"execute\": \"system_reset\"}"), "{ \"return\": { } }");
	ck_assert_int_eq(atomic_load(&m->rs.stop), MACHINE_RESET);
}
END_TEST

/* As QEMU: an internal error stops the VM; cont needs a system_reset first. */
START_TEST(internal_error_stops_until_a_reset)
{
	machine_guest_internal_error(m);
	ck_assert(atomic_load(&m->rs.pause_requested));
	ck_assert_str_eq(run("{\"execute\": \"query-status\"}"),
			 "{ \"return\": { \"status\": \"internal-error\", \"singlestep\": false, "
			 "\"running\": false } }");
	assert_error("{\"execute\": \"cont\"}", "GenericError",
		     "Resetting the Virtual Machine is required");
	ck_assert(atomic_load(&m->rs.pause_requested));
	ck_assert_str_eq(run("{\"execute\": \"system_reset\"}"), "{ \"return\": { } }");
	ck_assert_int_eq(atomic_load(&m->rs.stop), MACHINE_RESET);
}
END_TEST

START_TEST(quit_ends_the_machine)
{
	ck_assert_str_eq(run("{\"execute\": \"quit\"}"), "{ \"return\": { } }");
	ck_assert_int_eq(atomic_load(&m->rs.stop), MACHINE_EXIT);
	ck_assert_int_eq(m->rs.exit_status, 0);
}
END_TEST

START_TEST(reset_with_no_reboot_exits)
{
	cfg.no_reboot = true; /* QEMU: -no-reboot turns system_reset into a shutdown */
	run("{\"execute\": \"system_reset\"}");
	ck_assert_int_eq(atomic_load(&m->rs.stop), MACHINE_EXIT);
}
END_TEST

START_TEST(x_query_virtio_mem_adds_the_devices_own)
{
	const char *r = run("{\"execute\": \"x-query-virtio-mem\"}");

	ck_assert_ptr_nonnull(strstr(r, "\"qom-path\": \"/machine/peripheral/vm0\""));
	ck_assert_ptr_nonnull(strstr(r, "\"fake-counter\": 42"));
}
END_TEST

START_TEST(no_machine_is_an_error)
{
	machine_set_current(NULL);
	ck_assert(!machine_current_ready());
	machine_no_more();
	ck_assert(machine_current_ready());
	assert_error("{\"execute\": \"query-memory-devices\"}", "GenericError",
		     "No machine is running (tide is exiting)");
	assert_error("{\"execute\": \"qom-set\", \"arguments\": {\"path\": \"vm0\", \"property\": "
		     "\"requested-size\", \"value\": 0}}",
		     "GenericError",
		     "No machine is running (tide is exiting)");
	ck_assert_uint_eq(dev0.sets, 0);
}
END_TEST

/* What libvirt's probe asks (vmm/qmp_probe.c): true of tide, errors QEMU gives otherwise. */
START_TEST(probe_commands)
{
	const char *types, *props;

#if defined(__x86_64__)
	ck_assert_str_eq(run("{\"execute\": \"query-target\"}"),
			 "{ \"return\": { \"arch\": \"x86_64\" } }");
	ck_assert_ptr_nonnull(strstr(run("{\"execute\": \"query-machines\"}"),
				     "{ \"name\": \"pc-i440fx-7.2\", \"alias\": \"pc\", "
				     "\"is-default\": true, \"cpu-max\": 40, "));
	ck_assert_ptr_nonnull(strstr(line, "{ \"name\": \"none\", \"is-default\": false"));
#endif
	/* No /dev/kvm was opened in this test program. */
	ck_assert_str_eq(run("{\"execute\": \"query-kvm\"}"),
			 "{ \"return\": { \"enabled\": false, \"present\": false } }");
	ck_assert_str_eq(run("{\"execute\": \"query-uuid\"}"),
			 "{ \"return\": { \"UUID\": \"00000000-0000-0000-0000-000000000000\" } }");
	strcpy(cfg.uuid, "3197655d-70bc-4786-95e9-9035b0316078");
	ck_assert_str_eq(run("{\"execute\": \"query-uuid\"}"),
			 "{ \"return\": { \"UUID\": \"3197655d-70bc-4786-95e9-9035b0316078\" } }");
	ck_assert_str_eq(run("{\"execute\": \"query-migrate-capabilities\"}"), "{ \"return\": [ ] }");
	types = run("{\"execute\": \"qom-list-types\"}");
	ck_assert_ptr_nonnull(strstr(types, "{ \"name\": \"virtio-mem-pci\", \"parent\": \"device\" }"));
	ck_assert_ptr_nonnull(strstr(types, "{ \"name\": \"memory-backend-memfd\", \"parent\": "
					    "\"memory-backend\" }"));
	ck_assert_ptr_nonnull(strstr(types, "{ \"name\": \"secret\", \"parent\": \"object\" }"));
	ck_assert_ptr_null(strstr(types, "virtio-blk"));
	types = run("{\"execute\": \"qom-list-types\", \"arguments\": {\"implements\": "
		    "\"memory-backend\"}}");
	ck_assert_ptr_null(strstr(types, "virtio-mem-pci"));
	ck_assert_ptr_nonnull(strstr(types, "memory-backend-ram"));
	/* Every type is an object. */
	ck_assert_ptr_nonnull(strstr(run("{\"execute\": \"qom-list-types\", \"arguments\": "
					 "{\"implements\": \"object\"}}"),
				     "\"virtio-mem-pci\""));
	ck_assert_ptr_nonnull(strstr(run("{\"execute\": \"qom-list-types\", \"arguments\": "
					 "{\"abstract\": true}}"),
				     "{ \"name\": \"memory-backend\", \"parent\": \"object\" }"));
	props = run("{\"execute\": \"device-list-properties\", \"arguments\": {\"typename\": "
		    "\"virtio-mem-pci\"}}");
	ck_assert_ptr_nonnull(strstr(props, "{ \"name\": \"prealloc\", \"type\": \"bool\", "));
	ck_assert_ptr_nonnull(strstr(props, "{ \"name\": \"memdev\", \"type\": "
					    "\"link<memory-backend>\", "));
	assert_error("{\"execute\": \"device-list-properties\", \"arguments\": {\"typename\": "
		     "\"virtio-blk-pci\"}}",
		     "DeviceNotFound", "Device 'virtio-blk-pci' not found");
	/* A backend is an object, not a device. */
	assert_error("{\"execute\": \"device-list-properties\", \"arguments\": {\"typename\": "
		     "\"memory-backend-file\"}}",
		     "DeviceNotFound", "Device 'memory-backend-file' not found");
	ck_assert_ptr_nonnull(strstr(run("{\"execute\": \"qom-list-properties\", \"arguments\": "
					 "{\"typename\": \"memory-backend-file\"}}"),
				     "{ \"name\": \"mem-path\", \"type\": \"str\", "));
	ck_assert_str_eq(run("{\"execute\": \"qom-list-properties\", \"arguments\": {\"typename\": "
			     "\"none-machine\"}}"),
			 "{ \"return\": [ ] }");
	assert_error("{\"execute\": \"qom-list-properties\", \"arguments\": {\"typename\": "
		     "\"max-x86_64-cpu\"}}",
		     "DeviceNotFound", "Class 'max-x86_64-cpu' not found");
	assert_error("{\"execute\": \"qom-list-properties\"}", "GenericError",
		     "Parameter 'typename' is missing");
	ck_assert_str_eq(run("{\"execute\": \"query-command-line-options\", \"arguments\": "
			     "{\"option\": \"sandbox\"}}"),
			 "{ \"return\": [ { \"option\": \"sandbox\", \"parameters\": [ ] } ] }");
	ck_assert_ptr_nonnull(strstr(run("{\"execute\": \"query-command-line-options\"}"),
				     "{ \"option\": \"daemonize\", \"parameters\": [ ] }"));
	assert_error("{\"execute\": \"query-command-line-options\", \"arguments\": {\"option\": "
		     "\"spice\"}}",
		     "GenericError", "Invalid option name: spice");
}
END_TEST

/* What libvirt sends while it starts a domain (vmm/qmp_domain.c). */
START_TEST(domain_start_commands)
{
	struct cmdline_chardev chardevs[] = {
		{ .id = "charmonitor", .socket = true, .fd = 28 },
		{ .id = "charserial0", .fd = -1, .path = "/dev/fdset/0", .append = true },
	};

	ck_assert_str_eq(run("{\"execute\": \"migrate-set-capabilities\", \"arguments\": "
			     "{\"capabilities\": [{\"capability\": \"events\", \"state\": true}, "
			     "{\"capability\": \"xbzrle\", \"state\": false}]}}"),
			 "{ \"return\": { } }");
	assert_error("{\"execute\": \"migrate-set-capabilities\", \"arguments\": {\"capabilities\": "
		     "[{\"capability\": \"postcopy-ram\", \"state\": true}]}}",
		     "GenericError", "Capability 'postcopy-ram' is not available: tide has no migration");
	assert_error("{\"execute\": \"migrate-set-capabilities\", \"arguments\": {\"capabilities\": "
		     "[{\"capability\": \"events\"}]}}",
		     "GenericError",
		     "Invalid parameter type for 'capabilities', expected: MigrationCapabilityStatus");
	assert_error("{\"execute\": \"migrate-set-capabilities\", \"arguments\": {\"capabilities\": "
		     "5}}",
		     "GenericError", "Invalid parameter type for 'capabilities', expected: array");
	cfg.chardevs.list = chardevs;
	cfg.chardevs.count = 2;
	ck_assert_str_eq(run("{\"execute\": \"query-chardev\"}"),
			 "{ \"return\": [ { \"label\": \"charmonitor\", \"filename\": "
			 "\"unix:fd=28,server=on\", \"frontend-open\": true }, { \"label\": "
			 "\"charserial0\", \"filename\": \"file:/dev/fdset/0\", \"frontend-open\": "
			 "true } ] }");
	cfg.chardevs.list = NULL;
	cfg.chardevs.count = 0;
	cfg.smp = 2;
	ck_assert_ptr_nonnull(strstr(run("{\"execute\": \"query-hotpluggable-cpus\"}"),
				     "\"props\": { \"socket-id\": 1, \"core-id\": 0, \"thread-id\": 0 "
				     "}, \"qom-path\": \"/machine/unattached/device[1]\" }"));
	ck_assert_str_eq(run("{\"execute\": \"query-cpus-fast\"}"), "{ \"return\": [ ] }");
	ck_assert_str_eq(run("{\"execute\": \"query-iothreads\"}"), "{ \"return\": [ ] }");
	ck_assert_str_eq(run("{\"execute\": \"query-block\"}"), "{ \"return\": [ ] }");
	ck_assert_str_eq(run("{\"execute\": \"query-named-block-nodes\", \"arguments\": "
			     "{\"flat\": true}}"),
			 "{ \"return\": [ ] }");
	/* Only devices with an id are under /machine/peripheral. */
	ck_assert_str_eq(run("{\"execute\": \"qom-list\", \"arguments\": {\"path\": "
			     "\"/machine/peripheral\"}}"),
			 "{ \"return\": [ { \"name\": \"vm0\", \"type\": \"child<virtio-mem-pci>\" "
			 "} ] }");
}
END_TEST

/* -S: query-status says "prelaunch" until cont. */
START_TEST(prelaunch_until_cont)
{
	machine_start_paused();
	ck_assert_str_eq(machine_run_state(), "prelaunch");
	run("{\"execute\": \"cont\"}");
	ck_assert_str_eq(machine_run_state(), "running");
}
END_TEST

Suite *suite_main(void)
{
	Suite *s = suite_create("qmp_commands");
	TCase *tc = tcase_create("commands");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, status_and_name);
	tcase_add_test(tc, memory_devices_as_qemu_lists_them);
	tcase_add_test(tc, qom_get_set_list);
	tcase_add_test(tc, bad_arguments_change_nothing);
	tcase_add_test(tc, stop_cont_reset_quit);
	tcase_add_test(tc, internal_error_stops_until_a_reset);
	tcase_add_test(tc, quit_ends_the_machine);
	tcase_add_test(tc, reset_with_no_reboot_exits);
	tcase_add_test(tc, x_query_virtio_mem_adds_the_devices_own);
	tcase_add_test(tc, no_machine_is_an_error);
	tcase_add_test(tc, probe_commands);
	tcase_add_test(tc, domain_start_commands);
	tcase_add_test(tc, prelaunch_until_cont);
	suite_add_tcase(s, tc);
	return s;
}
