#include "vmm/cmdline.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"
#include "util/opts.h"
#include "vmm/cmdline_internal.h"
#include "vmm/cmdline_chardev.h"
#include "vmm/cmdline_machine.h"
#include "vmm/object_memory_backend.h"
#include "vmm/qmp_option.h"
#include "util/size.h"
#include "util/util.h"

#define DEFAULT_RAM_SIZE (128 * MiB) /* QEMU's default */

static int set_string(const char **field, const char *option, const char *arg, struct error *err)
{
	if (!*arg)
		return error_set(err, "-%s: empty argument", option);
	*field = arg;
	return 0;
}

static int opt_kernel(struct cmdline_state *st, const char *arg, struct error *err)
{
	return set_string(&st->cfg->kernel, "kernel", arg, err);
}

static int opt_initrd(struct cmdline_state *st, const char *arg, struct error *err)
{
	return set_string(&st->cfg->initrd, "initrd", arg, err);
}

static int opt_append(struct cmdline_state *st, const char *arg, struct error *err)
{
	st->cfg->append = arg; /* an empty command line is legal */
	(void)err;
	return 0;
}

/* The machine's shape: vmm/cmdline_machine.c parses these into cfg. */
static int opt_memory(struct cmdline_state *st, const char *arg, struct error *err)
{
	return cmdline_parse_memory(st->cfg, arg, err);
}

static int opt_smp(struct cmdline_state *st, const char *arg, struct error *err)
{
	return cmdline_parse_smp(st->cfg, arg, err);
}

static int opt_cpu(struct cmdline_state *st, const char *arg, struct error *err)
{
	return cmdline_parse_cpu(st->cfg, arg, err);
}

static int opt_numa(struct cmdline_state *st, const char *arg, struct error *err)
{
	return cmdline_parse_numa(st->cfg, arg, err);
}

static int opt_machine(struct cmdline_state *st, const char *arg, struct error *err)
{
	return cmdline_parse_machine(st->cfg, arg, err);
}

static int opt_serial(struct cmdline_state *st, const char *arg, struct error *err)
{
	if (st->serial_given)
		return error_set(err, "-serial: only one serial port (COM1) is supported "
				      "(-serial or -device isa-serial, once)");
	st->serial_given = true;
	return chardev_parse(arg, &st->cfg->serial, &st->cfg->serial_path, err);
}

static int opt_nographic(struct cmdline_state *st, const char *arg, struct error *err)
{
	(void)arg;
	(void)err;
	st->cfg->nographic = true; /* tide has no display: the console is the serial port */
	return 0;
}

static int opt_no_reboot(struct cmdline_state *st, const char *arg, struct error *err)
{
	(void)arg;
	(void)err;
	st->cfg->no_reboot = true;
	return 0;
}

static void print_type(const struct device_type *type, void *opaque)
{
	fprintf(opaque, "  %-22s %s\n", type->name, type->help);
}

/* -device TYPE,props and -object TYPE,props: the type parses its own properties. */
/* QEMU's rule for ids, so /machine/peripheral/ID and QMP's id name one device each. */
static bool id_wellformed(const char *id)
{
	size_t len = strlen(id);

	if (len == 0 || len > CMDLINE_ID_MAX || !isalpha((unsigned char)id[0]))
		return false;
	for (size_t i = 1; i < len; i++)
		if (!isalnum((unsigned char)id[i]) && !strchr("-._", id[i]))
			return false;
	return true;
}

static int add_instance(struct cmdline_state *st, const char *option, enum type_kind kind,
			const char *implied, const char *arg, struct error *err)
{
	struct vm_config *cfg = st->cfg;
	const struct device_type *type;
	struct device_instance *grown, *inst;
	struct opts opts;
	const char *name, *id;
	int ret = -1;

	if (opts_parse(&opts, option, arg, implied, err))
		return -1;
	name = opts_take(&opts, implied);
	if (name && strcmp(name, "help") == 0) {
		fprintf(st->out, "Available %s types:\n", kind == TYPE_DEVICE ? "device" : "object");
		device_type_foreach(kind, print_type, st->out);
		st->done = true;
		ret = 0;
		goto out;
	}
	if (!name) {
		error_set(err, "%s: missing type (try %s help)", option, option);
		goto out;
	}
	/* The serial port is the board's; QEMU's -device spelling puts it on a -chardev. */
	if (kind == TYPE_DEVICE && !strcmp(name, "isa-serial")) {
		if (st->serial_given && !cfg->chardevs.serial)
			error_set(err, "-device isa-serial: tide has one serial port (COM1), and "
				       "-serial already set it");
		else
			ret = cmdline_serial_device(cfg, &opts, err);
		st->serial_given = true;
		goto out;
	}
	type = device_type_find(name, kind);
	if (!type) {
		error_set(err, "%s: unknown type '%s' (try %s help)", option, name, option);
		goto out;
	}
	id = opts_take(&opts, "id");
	if (id && !id_wellformed(id)) {
		error_set(err, "%s: id '%s' is not an identifier (letters, digits, '-', '.', '_', "
			       "starting with a letter, at most %d characters)",
			  option, id, CMDLINE_ID_MAX);
		goto out;
	}
	for (size_t i = 0; id && i < cfg->nr_devices; i++) {
		if (cfg->devices[i].id && strcmp(cfg->devices[i].id, id) == 0) {
			error_set(err, "%s: id '%s' is already in use", option, id);
			goto out;
		}
	}
	grown = realloc(cfg->devices, (cfg->nr_devices + 1) * sizeof(*grown));
	if (!grown) {
		error_set(err, "%s: out of memory", option);
		goto out;
	}
	cfg->devices = grown;
	inst = &cfg->devices[cfg->nr_devices];
	*inst = (struct device_instance){ .type = type };
	inst->config = type->parse(&opts, err);
	if (!inst->config)
		goto out;
	if (opts_finish(&opts, name, err) || (id && !(inst->id = strdup(id)))) {
		if (!err->msg[0])
			error_set(err, "%s: out of memory", option);
		type->free_config(inst->config);
		goto out;
	}
	cfg->nr_devices++;
	ret = 0;
out:
	opts_free(&opts);
	return ret;
}

static int opt_device(struct cmdline_state *st, const char *arg, struct error *err)
{
	return add_instance(st, "-device", TYPE_DEVICE, "driver", arg, err);
}

static int opt_object(struct cmdline_state *st, const char *arg, struct error *err)
{
	return add_instance(st, "-object", TYPE_OBJECT, "qom-type", arg, err);
}

static int opt_verbose(struct cmdline_state *st, const char *arg, struct error *err)
{
	(void)st;
	(void)arg;
	(void)err;
	log_threshold = log_threshold >= LOG_INFO ? LOG_DEBUG : LOG_INFO;
	return 0;
}

/* -qmp unix:PATH,server=on[,wait=off]: one control socket (vmm/qmp_option.c parses it). */
static int opt_qmp(struct cmdline_state *st, const char *arg, struct error *err)
{
	if (st->cfg->has_qmp || st->cfg->chardevs.monitor)
		return error_set(err, "-qmp: tide serves one QMP socket; give -qmp or -mon once");
	if (qmp_server_parse(arg, &st->cfg->qmp, err))
		return -1;
	st->cfg->has_qmp = true;
	return 0;
}

/* -name [guest=]NAME: what QMP's query-name answers. */
static int opt_name(struct cmdline_state *st, const char *arg, struct error *err)
{
	struct opts opts;
	const char *name;
	bool debug_threads;
	int ret = -1;

	if (!*arg)
		return error_set(err, "-name: empty name");
	if (opts_parse(&opts, "-name", arg, "guest", err))
		return -1;
	name = opts_take(&opts, "guest");
	/* Tide names its threads always (tide-vcpu, tide-io, ...). */
	if (opts_take_bool(&opts, "debug-threads", &debug_threads, true, err) ||
	    opts_finish(&opts, "-name", err))
		goto out;
	if (!name || !*name) {
		error_set(err, "-name: empty name");
		goto out;
	}
	ret = opts_keep_string(&st->cfg->name, name, "-name", err);
out:
	opts_free(&opts);
	return ret;
}

/* -run-with user=USER[:GROUP],chroot=DIR (QEMU 9's spelling of -runas and -chroot). */
static int opt_run_with(struct cmdline_state *st, const char *arg, struct error *err)
{
	struct opts opts;
	const char *user, *dir;
	int ret = -1;

	if (opts_parse(&opts, "-run-with", arg, NULL, err))
		return -1;
	user = opts_take(&opts, "user");
	dir = opts_take(&opts, "chroot");
	if (opts_finish(&opts, "-run-with (user= and chroot= are supported)", err))
		goto out;
	if (!user && !dir) {
		error_set(err, "-run-with: give user=USER[:GROUP] or chroot=DIR");
		goto out;
	}
	if (user && sandbox_parse_user(&st->cfg->sandbox, user, err)) {
		error_prefix(err, "-run-with");
		goto out;
	}
	if (dir && sandbox_parse_chroot(&st->cfg->sandbox, dir, err)) {
		error_prefix(err, "-run-with");
		goto out;
	}
	ret = 0;
out:
	opts_free(&opts);
	return ret;
}

static int opt_runas(struct cmdline_state *st, const char *arg, struct error *err)
{
	if (sandbox_parse_user(&st->cfg->sandbox, arg, err))
		return error_prefix(err, "-runas");
	return 0;
}

static int opt_chroot(struct cmdline_state *st, const char *arg, struct error *err)
{
	if (sandbox_parse_chroot(&st->cfg->sandbox, arg, err))
		return error_prefix(err, "-chroot");
	return 0;
}

static int opt_sandbox(struct cmdline_state *st, const char *arg, struct error *err)
{
	return sandbox_parse_option(&st->cfg->sandbox, arg, err);
}

static int opt_version(struct cmdline_state *st, const char *arg, struct error *err);
static int opt_help(struct cmdline_state *st, const char *arg, struct error *err);

static const struct cmdline_option options[] = {
	{ "kernel", "PATH", "bzImage or ELF kernel with a PVH entry note (x86), Image (arm64)",
	  opt_kernel },
	{ "initrd", "PATH", "initial ramdisk", opt_initrd },
	{ "append", "STR", "kernel command line", opt_append },
	{ "m", "[size=]SIZE[,maxmem=SIZE][,slots=N]", "boot RAM (default 128M; bare number = MiB)",
	  opt_memory },
	{ "smp", "[cpus=]N", "number of vCPUs (default 1)", opt_smp },
	{ "machine", "[type=]pc|q35|virt[,accel=kvm][,memory-backend=ID][,dumpdtb=FILE]",
	  "the PC (x86) or virt (arm64); memory-backend= takes boot RAM from an -object; "
	  "dumpdtb= writes virt's device tree and exits", opt_machine },
	{ "M", "TYPE[,...]", "same as -machine", opt_machine },
	{ "numa", "node[,nodeid=0][,cpus=0-N][,memdev=ID]",
	  "the guest's one NUMA node; memdev= takes boot RAM from an -object", opt_numa },
	{ "cpu", "host|max[,+feat|-feat|feat=on|off]...", "CPU model and feature overrides",
	  opt_cpu },
	{ "serial", "stdio|file:PATH|none", "the UART's backend (default stdio)", opt_serial },
	{ "nographic", NULL, "accepted for QEMU compatibility (tide has no display)",
	  opt_nographic },
	{ "no-reboot", NULL, "exit (status 0) when the guest reboots", opt_no_reboot },
	{ "device", "TYPE[,prop=value...]", "add a device (-device help lists types)", opt_device },
	{ "object", "TYPE[,prop=value...]", "add an object (-object help lists types)", opt_object },
	{ "qmp", "unix:PATH,server=on[,wait=off]",
	  "QMP control socket (QEMU's protocol; wait=on, the default, waits for a client)",
	  opt_qmp },
	{ "name", "[guest=]NAME[,debug-threads=on]", "the VM's name (QMP query-name)", opt_name },
	{ "run-with", "user=USER[:GROUP][,chroot=DIR]",
	  "once set up, run as that user, inside that directory", opt_run_with },
	{ "runas", "USER[:GROUP]", "same as -run-with user=", opt_runas },
	{ "chroot", "DIR", "same as -run-with chroot=", opt_chroot },
	{ "sandbox", "on|off", "seccomp filters on every thread (default on)", opt_sandbox },
	{ "verbose", NULL, "log more (info; twice: debug)", opt_verbose },
	{ "version", NULL, "print the version and exit", opt_version },
	{ "help", NULL, "print this help and exit", opt_help },
	{ "h", NULL, "same as -help", opt_help },
};

/* This file's options, then the ones a management stack passes (vmm/cmdline_management.c). */
static const struct cmdline_table own_table = { options, ARRAY_SIZE(options) };
static const struct cmdline_table *const tables[] = { &own_table, &cmdline_management_table,
							 &cmdline_chardev_table };

static int opt_version(struct cmdline_state *st, const char *arg, struct error *err)
{
	(void)arg;
	(void)err;
	fprintf(st->out, "tide version %s\n", TIDE_VERSION);
	st->done = true;
	return 0;
}

static int opt_help(struct cmdline_state *st, const char *arg, struct error *err)
{
	(void)arg;
	(void)err;
	fprintf(st->out, "Usage: tide -kernel PATH [options]\n\n"
			 "Options (QEMU spelling; one or two leading dashes):\n");
	for (size_t t = 0; t < ARRAY_SIZE(tables); t++) {
		for (size_t i = 0; i < tables[t]->count; i++) {
			const struct cmdline_option *o = &tables[t]->options[i];
			char left[64];

			snprintf(left, sizeof(left), "-%s%s%s", o->name, o->arg ? " " : "",
				 o->arg ? o->arg : "");
			fprintf(st->out, "  %-40s %s\n", left, o->help);
		}
	}
	fprintf(st->out, "\nSizes take K, M, G or T suffixes (binary units).\n"
			 "With -nographic or -serial stdio, Ctrl-A x quits.\n");
	st->done = true;
	return 0;
}

void cmdline_foreach_option(void (*fn)(const char *name, void *opaque), void *opaque)
{
	for (size_t t = 0; t < ARRAY_SIZE(tables); t++)
		for (size_t i = 0; i < tables[t]->count; i++)
			fn(tables[t]->options[i].name, opaque);
}

static const struct cmdline_option *find_option(const char *word)
{
	if (word[0] != '-')
		return NULL;
	word += word[1] == '-' ? 2 : 1;
	for (size_t t = 0; t < ARRAY_SIZE(tables); t++)
		for (size_t i = 0; i < tables[t]->count; i++)
			if (strcmp(tables[t]->options[i].name, word) == 0)
				return &tables[t]->options[i];
	return NULL;
}

static void set_defaults(struct vm_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->ram_size = DEFAULT_RAM_SIZE;
	cfg->smp = 1;
	cfg->dumpdtb_fd = -1;
	cfg->serial = CHARDEV_STDIO;
	cfg->serial_fd = -1;
	cfg->qmp.listen_fd = -1;
	cfg->numa_cpus_last = -1;
	cfg->cpu.model = "host";
	cfg->dump_guest_core = true; /* QEMU's default */
	sandbox_config_defaults(&cfg->sandbox);
}

/* Each type with a check() runs it once, in the order its first instance appeared. */
static int check_instances(struct vm_config *cfg, struct error *err)
{
	const struct device_check_env env = {
		.instances = cfg->devices,
		.count = cfg->nr_devices,
		.device_area_start = cfg->device_area_start,
		.device_area_end = cfg->device_area_end,
	};

	for (size_t i = 0; i < cfg->nr_devices; i++) {
		const struct device_type *type = cfg->devices[i].type;
		bool seen = false;

		for (size_t j = 0; j < i; j++)
			seen |= cfg->devices[j].type == type;
		if (!seen && type->check && type->check(&env, err))
			return -1;
	}
	return 0;
}

enum cmdline_result cmdline_parse(int argc, char **argv, struct vm_config *cfg, FILE *out,
				  struct error *err)
{
	struct cmdline_state st = { .cfg = cfg, .out = out };

	set_defaults(cfg);
	err->msg[0] = '\0';
	for (int i = 1; i < argc; i++) {
		const struct cmdline_option *opt = find_option(argv[i]);
		const char *arg = NULL;

		if (!opt) {
			error_set(err, argv[i][0] == '-' ? "unknown option '%s' (see --help)"
							 : "unexpected argument '%s' (see --help)",
				  argv[i]);
			return CMDLINE_ERROR;
		}
		if (opt->arg) {
			if (i + 1 >= argc) {
				error_set(err, "-%s: missing argument %s", opt->name, opt->arg);
				return CMDLINE_ERROR;
			}
			arg = argv[++i];
		}
		if (opt->handle(&st, arg, err))
			return CMDLINE_ERROR;
		if (st.done)
			return CMDLINE_DONE;
	}
	if (cfg->accel_tcg && !cfg->machine_none) {
		error_set(err, "tide runs on KVM only: accel=tcg is for -machine none");
		return CMDLINE_ERROR;
	}
	if (cfg->machine_none && (cfg->nr_devices || cfg->dumpdtb || cfg->numa_node_given ||
				  cfg->chardevs.serial)) {
		error_set(err, "-machine none has no guest: it takes no -device, -object, -numa "
			       "or dumpdtb=");
		return CMDLINE_ERROR;
	}
	if (!cfg->kernel && !cfg->machine_none) {
		error_set(err, "no kernel given: use -kernel PATH (see --help)");
		return CMDLINE_ERROR;
	}
	if (cmdline_resolve_chardevs(cfg, err))
		return CMDLINE_ERROR;
	if (cfg->numa_cpus_last >= 0 && (unsigned)cfg->numa_cpus_last != cfg->smp - 1) {
		error_set(err, "-numa: cpus=0-%d must name every vCPU (0-%u): tide's guest has one "
			       "node",
			  cfg->numa_cpus_last, cfg->smp - 1);
		return CMDLINE_ERROR;
	}
	if ((cfg->nodefaults && !st.serial_given) || cfg->machine_none)
		cfg->serial = CHARDEV_NONE;
	if (cfg->daemonize && cfg->serial == CHARDEV_STDIO) {
		error_set(err, "-daemonize: the serial port cannot be on stdio once tide detaches "
			       "(use -serial file:PATH, -serial none or -nodefaults)");
		return CMDLINE_ERROR;
	}
	memory_backends_default_dump(cfg);
	/* Boot RAM's size first: the device memory area (virtio-mem) lies above it. */
	if (cmdline_resolve_ram_backend(cfg, err))
		return CMDLINE_ERROR;
	cmdline_place_device_area(cfg);
	if (check_instances(cfg, err))
		return CMDLINE_ERROR;
	return CMDLINE_RUN;
}

static void free_strings(char **list, size_t count)
{
	for (size_t i = 0; i < count; i++)
		free(list[i]);
	free(list);
}

void cmdline_free(struct vm_config *cfg)
{
	for (size_t i = 0; i < cfg->nr_devices; i++) {
		cfg->devices[i].type->free_config(cfg->devices[i].config);
		free(cfg->devices[i].id);
	}
	free(cfg->devices);
	free_strings(cfg->cpu.feature_adds, cfg->cpu.nr_adds);
	free_strings(cfg->cpu.feature_drops, cfg->cpu.nr_drops);
	free(cfg->name);
	free(cfg->qmp.path);
	free(cfg->ram_backend_id);
	if (cfg->dumpdtb && cfg->dumpdtb_fd >= 0) /* opened only for a dumpdtb= */
		close(cfg->dumpdtb_fd);
	free(cfg->dumpdtb);
	sandbox_config_free(&cfg->sandbox);
	cmdline_chardevs_free(&cfg->chardevs);
	set_defaults(cfg);
}
