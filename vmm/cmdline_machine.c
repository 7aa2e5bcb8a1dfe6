#include "vmm/cmdline_machine.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arch.h"
#include "mm/backend.h"
#include "util/opts.h"
#include "vmm/object_memory_backend.h"
#include "util/size.h"


/* QEMU's ACPI_MAX_RAM_SLOTS: -m slots= above it is "unsupported amount of memory slots". */
#define MAX_MEMORY_SLOTS 256

/* -m [size=]SIZE[,slots=N][,maxmem=SIZE]; a bare number is in MiB, as in QEMU. */
int cmdline_parse_memory(struct vm_config *cfg, const char *arg, struct error *err)
{
	struct opts opts;
	const char *size;
	int ret = -1;

	if (opts_parse(&opts, "-m", arg, "size", err))
		return -1;
	size = opts_take(&opts, "size");
	if (size && parse_size(size, MiB, &cfg->ram_size, err)) {
		error_prefix(err, "-m");
		goto out;
	}
	/* -m maxmem=4G alone keeps the size open (QEMU). Several -m merge, as QEMU's do: each
	 * sets what it names and keeps the rest. */
	cfg->ram_size_given |= size != NULL;
	if (opts_take_u64(&opts, "slots", &cfg->mem_slots, cfg->mem_slots, err) ||
	    opts_take_size(&opts, "maxmem", &cfg->maxmem, cfg->maxmem, err) ||
	    opts_finish(&opts, "memory", err))
		goto out;
	/* Tide has no DIMM slots (virtio-mem needs none), but takes QEMU's values and limit. */
	if (cfg->mem_slots > MAX_MEMORY_SLOTS) {
		error_set(err, "-m: slots=%" PRIu64 " is more than the %d memory slots a PC may "
			       "have",
			  cfg->mem_slots, MAX_MEMORY_SLOTS);
		goto out;
	}
	if (cfg->ram_size == 0 || cfg->ram_size % (4 * KiB)) {
		error_set(err, "-m: memory size must be a non-zero multiple of 4 KiB");
		goto out;
	}
	if (cfg->maxmem && cfg->maxmem < cfg->ram_size) {
		error_set(err, "-m: maxmem (%" PRIu64 " bytes) is below the memory size "
			       "(%" PRIu64 " bytes)",
			  cfg->maxmem, cfg->ram_size);
		goto out;
	}
	if (cfg->maxmem % (4 * KiB)) {
		error_set(err, "-m: maxmem must be a multiple of 4 KiB");
		goto out;
	}
	ret = 0;
out:
	opts_free(&opts);
	return ret;
}

/* -smp [cpus=]N; topology keys QEMU has are refused rather than silently ignored. */
int cmdline_parse_smp(struct vm_config *cfg, const char *arg, struct error *err)
{
	struct opts opts;
	uint64_t cpus, sockets, dies, cores, threads, maxcpus;
	int ret = -1;

	if (opts_parse(&opts, "-smp", arg, "cpus", err))
		return -1;
	if (opts_take_u64(&opts, "cpus", &cpus, 1, err) ||
	    opts_take_u64(&opts, "sockets", &sockets, 0, err) ||
	    opts_take_u64(&opts, "dies", &dies, 1, err) ||
	    opts_take_u64(&opts, "cores", &cores, 1, err) ||
	    opts_take_u64(&opts, "threads", &threads, 1, err) ||
	    opts_take_u64(&opts, "maxcpus", &maxcpus, cpus, err) ||
	    opts_finish(&opts, "-smp", err))
		goto out;
	/* Each vCPU is a socket of its own in tide's MP table: a topology must say just that
	 * (libvirt's default, sockets=N,cores=1,threads=1). */
	if ((sockets && sockets != cpus) || dies != 1 || cores != 1 || threads != 1) {
		error_set(err, "-smp: tide gives each vCPU a socket of its own "
			       "(sockets=%" PRIu64 ",dies=1,cores=1,threads=1)",
			  cpus);
		goto out;
	}
	if (maxcpus != cpus) {
		error_set(err, "-smp: tide has no vCPU hotplug (maxcpus=%" PRIu64 ")", cpus);
		goto out;
	}
	if (cpus < 1 || cpus > arch_layout.max_vcpus) {
		error_set(err, "-smp: %" PRIu64 " CPUs requested, must be 1..%d (%s %d)", cpus,
			  (int)arch_layout.max_vcpus, arch_layout.max_vcpus_why,
			  (int)arch_layout.max_vcpus);
		goto out;
	}
	cfg->smp = (unsigned)cpus;
	ret = 0;
out:
	opts_free(&opts);
	return ret;
}

static int push_string(char ***list, size_t *count, const char *s)
{
	char **grown = realloc(*list, (*count + 1) * sizeof(*grown));

	if (!grown)
		return -1;
	*list = grown;
	grown[*count] = strdup(s);
	if (!grown[*count])
		return -1;
	(*count)++;
	return 0;
}

/* -cpu host|max[,+feat][,-feat][,feat=on|off]: features are checked against KVM at start. */
int cmdline_parse_cpu(struct vm_config *cfg, const char *arg, struct error *err)
{
	struct cpu_config *cpu = &cfg->cpu;
	const char *comma = strchr(arg, ',');
	size_t model_len = comma ? (size_t)(comma - arg) : strlen(arg);

	if (model_len == 4 && strncmp(arg, "host", 4) == 0)
		cpu->model = "host";
	else if (model_len == 3 && strncmp(arg, "max", 3) == 0)
		cpu->model = "max";
	else
		return error_set(err, "-cpu: unknown CPU model '%.*s' (tide offers host and max)",
				 (int)model_len, arg);
	while (comma) {
		const char *item = comma + 1;
		char feature[64];
		size_t len;
		bool on;

		comma = strchr(item, ',');
		len = comma ? (size_t)(comma - item) : strlen(item);
		if (len == 0 || len >= sizeof(feature))
			return error_set(err, "-cpu: bad feature '%.*s'", (int)len, item);
		memcpy(feature, item, len);
		feature[len] = '\0';
		if (feature[0] == '+' || feature[0] == '-') {
			on = feature[0] == '+';
			memmove(feature, feature + 1, len);
		} else {
			char *eq = strchr(feature, '=');

			if (!eq || (strcmp(eq + 1, "on") && strcmp(eq + 1, "off")))
				return error_set(err,
						 "-cpu: feature '%s' must be +name, -name, name=on or "
						 "name=off",
						 feature);
			on = strcmp(eq + 1, "on") == 0;
			*eq = '\0';
			/* QEMU leaves out what a migration could not keep; tide migrates nothing,
			 * and its host model is the same either way. */
			if (!strcmp(feature, "migratable"))
				continue;
		}
		if (!feature[0])
			return error_set(err, "-cpu: empty feature name");
		if (on ? push_string(&cpu->feature_adds, &cpu->nr_adds, feature)
		       : push_string(&cpu->feature_drops, &cpu->nr_drops, feature))
			return error_set(err, "-cpu: out of memory");
	}
	return 0;
}

/* A version number after a family's prefix: digits, a dot, digits ("7.2", "10.0"). */
static bool is_version(const char *v)
{
	size_t major = strspn(v, "0123456789"), minor;

	if (!major || v[major] != '.')
		return false;
	minor = strspn(v + major + 1, "0123456789");
	return minor && !v[major + 1 + minor];
}

/* A machine tide is: its name, its alias, or another version of its family. */
static bool is_machine_type(const char *type)
{
	for (const struct arch_machine_type *t = arch_layout.machine_types; t->name; t++)
		if (!strcmp(type, t->name) || !strcmp(type, t->alias) ||
		    (!strncmp(type, t->family, strlen(t->family)) &&
		     is_version(type + strlen(t->family))))
			return true;
	return false;
}

/*
 * accel=kvm, or QEMU's list of choices in order (kvm:tcg): tide runs on KVM. A machine
 * without a guest (none, a management tool's probe) takes tcg too, as nothing runs.
 */
int cmdline_parse_accel(struct vm_config *cfg, const char *accel, struct error *err)
{
	char list[64], *save = NULL;

	if (strlen(accel) >= sizeof(list))
		return error_set(err, "accel=%s is too long", accel);
	strcpy(list, accel);
	for (char *a = strtok_r(list, ":", &save); a; a = strtok_r(NULL, ":", &save)) {
		if (!strcmp(a, "kvm")) {
			cfg->accel_tcg = false;
			return 0;
		}
		if (!strcmp(a, "tcg")) { /* for -machine none only: checked once all is read */
			cfg->accel_tcg = true;
			return 0;
		}
	}
	return error_set(err, "tide runs on KVM only (accel=kvm), not '%s'", accel);
}

/*
 * -machine [type=]NAME[,accel=kvm][,memory-backend=ID][,dumpdtb=FILE]: tide has one machine
 * per architecture (x86: a PC, which answers to pc and q35; arm64: virt).
 */
int cmdline_parse_machine(struct vm_config *cfg, const char *arg, struct error *err)
{
	struct opts opts;
	const char *type, *accel, *backend, *dumpdtb, *usb;
	int ret = -1;

	if (opts_parse(&opts, "-machine", arg, "type", err))
		return -1;
	type = opts_take(&opts, "type");
	accel = opts_take(&opts, "accel");
	backend = opts_take(&opts, "memory-backend");
	dumpdtb = opts_take(&opts, "dumpdtb");
	usb = opts_take(&opts, "usb");
	if (opts_take_bool(&opts, "dump-guest-core", &cfg->dump_guest_core, cfg->dump_guest_core,
			   err) ||
	    opts_finish(&opts, "the machine", err))
		goto out;
	if (type && strcmp(type, "none") && !is_machine_type(type)) {
		error_set(err, "-machine: tide has one machine type, %s, not '%s'",
			  arch_layout.machine_description, type);
		goto out;
	}
	if (type)
		cfg->machine_none = !strcmp(type, "none");
	if (accel && cmdline_parse_accel(cfg, accel, err)) {
		error_prefix(err, "-machine");
		goto out;
	}
	if (usb && strcmp(usb, "off")) {
		error_set(err, "-machine: tide has no USB controller (usb=off), not usb=%s", usb);
		goto out;
	}
	if (dumpdtb && !arch_layout.has_device_tree) {
		error_set(err, "-machine dumpdtb: this machine boots without a device tree");
		goto out;
	}
	if (dumpdtb && !*dumpdtb) {
		error_set(err, "-machine dumpdtb: needs a file name");
		goto out;
	}
	if (backend && cfg->numa_node_given && cfg->ram_backend_id) {
		error_set(err, "-machine: memory-backend= and -numa memdev= both name boot RAM; "
			       "give one");
		goto out;
	}
	if ((backend && opts_keep_string(&cfg->ram_backend_id, backend, "-machine", err)) ||
	    (dumpdtb && opts_keep_string(&cfg->dumpdtb, dumpdtb, "-machine", err)))
		goto out;
	ret = 0;
out:
	opts_free(&opts);
	return ret;
}

/* Boot RAM from -machine memory-backend=ID: -m must match it, or take its size (QEMU). */
int cmdline_resolve_ram_backend(struct vm_config *cfg, struct error *err)
{
	struct memory_backend *b;

	if (!cfg->ram_backend_id)
		return 0;
	b = memory_backend_claim(cfg, cfg->ram_backend_id, "boot RAM", err);
	if (!b)
		return error_prefix(err, "-machine memory-backend");
	if (b->rom)
		return error_set(err, "-machine memory-backend: '%s' is read-only memory (rom); "
				      "boot RAM must be writable (rom=off gives a private copy)",
				 cfg->ram_backend_id);
	if (cfg->ram_size_given && cfg->ram_size != b->size)
		return error_set(err, "-machine memory-backend: '%s' is %" PRIu64 " bytes but -m "
				      "asks for %" PRIu64 "; they must be equal (or leave out -m)",
				 cfg->ram_backend_id, b->size, cfg->ram_size);
	if (cfg->maxmem && cfg->maxmem < b->size)
		return error_set(err, "-machine memory-backend: '%s' (%" PRIu64 " bytes) is above "
				      "maxmem",
				 cfg->ram_backend_id, b->size);
	cfg->ram_size = b->size;
	cfg->ram_backend = b;
	return 0;
}

/*
 * The device memory area: after boot RAM, aligned as the architecture asks, maxmem - ram
 * bytes long.
 */
void cmdline_place_device_area(struct vm_config *cfg)
{
	const struct arch_layout *l = &arch_layout;
	uint64_t ram_end;
	uint64_t align = l->device_memory_align;
	uint64_t len = cfg->maxmem > cfg->ram_size ? cfg->maxmem - cfg->ram_size : 0;
	uint64_t *start = &cfg->device_area_start;

	/* RAM in one piece ends at base + ram; around a hole, at high_base + its high part
	 * (x86: at 4 GiB or above, whatever the size). */
	bool in_one_piece = l->ram.high_base == l->ram.low_end;
	uint64_t from = in_one_piece ? l->ram.base : l->ram.high_base;
	uint64_t low, high, above;

	guest_mem_split(&l->ram, cfg->ram_size, &low, &high);
	above = in_one_piece ? cfg->ram_size : high;
	ram_end = above > UINT64_MAX - from ? UINT64_MAX : from + above;
	*start = ram_end > UINT64_MAX - align ? UINT64_MAX - align + 1
					      : (ram_end + align - 1) / align * align;
	cfg->device_area_end = len > UINT64_MAX - *start ? UINT64_MAX : *start + len;
}

/* cpus=0 or cpus=0-N: the range must start at vCPU 0 (checked against -smp at the end). */
static int parse_cpu_range(const char *cpus, int *last, struct error *err)
{
	unsigned first, end;
	char tail;

	if (sscanf(cpus, "%u-%u%c", &first, &end, &tail) != 2) {
		if (sscanf(cpus, "%u%c", &first, &tail) != 1)
			return error_set(err, "-numa: cpus=%s is not N or N-M", cpus);
		end = first;
	}
	if (first != 0 || end < first || end > 4096)
		return error_set(err, "-numa: cpus=%s: the one node holds every vCPU, from 0", cpus);
	*last = (int)end;
	return 0;
}

/*
 * -numa node[,nodeid=0][,cpus=0-N][,memdev=ID]: tide's guest has one NUMA node, which holds
 * every vCPU and boot RAM; memdev= takes boot RAM from a backend, as -machine
 * memory-backend= does (libvirt's spelling).
 */
int cmdline_parse_numa(struct vm_config *cfg, const char *arg, struct error *err)
{
	struct opts opts;
	const char *type, *cpus, *memdev;
	uint64_t nodeid;
	int ret = -1;

	if (opts_parse(&opts, "-numa", arg, "type", err))
		return -1;
	type = opts_take(&opts, "type");
	cpus = opts_take(&opts, "cpus");
	memdev = opts_take(&opts, "memdev");
	if (opts_take_u64(&opts, "nodeid", &nodeid, 0, err) || opts_finish(&opts, "-numa", err))
		goto out;
	if (!type || strcmp(type, "node")) {
		error_set(err, "-numa: tide takes -numa node only");
		goto out;
	}
	if (nodeid != 0 || cfg->numa_node_given) {
		error_set(err, "-numa: tide's guest has one NUMA node (nodeid=0)");
		goto out;
	}
	cfg->numa_node_given = true;
	if (cpus && parse_cpu_range(cpus, &cfg->numa_cpus_last, err))
		goto out;
	if (memdev && cfg->ram_backend_id) {
		error_set(err, "-numa: memdev= and -machine memory-backend= both name boot RAM; "
			       "give one");
		goto out;
	}
	if (memdev && opts_keep_string(&cfg->ram_backend_id, memdev, "-numa", err))
		goto out;
	ret = 0;
out:
	opts_free(&opts);
	return ret;
}
