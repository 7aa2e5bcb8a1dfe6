/*
 * -object memory-backend-{ram,memfd,file,guest-memfd}: QEMU's properties, parsed into
 * the arguments of mm/'s backend constructors. Errors about an option's value name the
 * option ("-object: ..."); what a constructor finds on the host names the type.
 */
#include "vmm/object_memory_backend.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mm/backend.h"
#include "util/size.h"
#include "util/util.h"
#include "vmm/config.h"
#include "devices/device.h"

/* host-nodes=N or N-M (QEMU's list syntax for one range), policy=...: QEMU's rules. */
static int take_numa(struct memory_backend_props *p, struct opts *opts, struct error *err)
{
	static const char *const policies[] = { [POLICY_DEFAULT] = "default",
						[POLICY_PREFERRED] = "preferred",
						[POLICY_BIND] = "bind",
						[POLICY_INTERLEAVE] = "interleave" };
	const char *nodes = opts_take(opts, "host-nodes"), *policy = opts_take(opts, "policy");
	unsigned first, last;
	char tail;

	if (policy) {
		size_t i;

		for (i = 0; i < ARRAY_SIZE(policies) && strcmp(policy, policies[i]); i++)
			;
		if (i == ARRAY_SIZE(policies))
			return error_set(err, "%s: property 'policy' must be default, preferred, bind "
					      "or interleave, not '%s'",
					 opts->option, policy);
		p->policy = (int)i;
	}
	if (!nodes) {
		if (p->policy == POLICY_BIND || p->policy == POLICY_INTERLEAVE)
			return error_set(err, "%s: policy=%s needs host-nodes", opts->option, policy);
		return 0;
	}
	if (sscanf(nodes, "%u-%u%c", &first, &last, &tail) != 2) {
		if (sscanf(nodes, "%u%c", &first, &tail) != 1)
			return error_set(err, "%s: host-nodes '%s' is not N or N-M", opts->option,
					 nodes);
		last = first;
	}
	if (first > last || last >= MAX_HOST_NODES)
		return error_set(err, "%s: host-nodes '%s': nodes go from 0 to %d, low to high",
				 opts->option, nodes, MAX_HOST_NODES - 1);
	if (p->policy == POLICY_DEFAULT)
		return error_set(err, "%s: host-nodes must be empty for policy default, or you "
				      "should explicitly specify a policy other than default",
				 opts->option);
	for (unsigned n = first; n <= last; n++)
		p->host_nodes |= 1UL << n;
	return 0;
}

/* id, size and the properties every backend type has. */
static int take_common(struct memory_backend_props *p, struct opts *opts, const char *type_name,
		       bool share_default, struct error *err)
{
	const char *size;

	memory_backend_props_default(p, share_default);
	if (!opts_take(opts, "id"))
		return error_set(err, "%s: %s needs id=ID", opts->option, type_name);
	size = opts_take(opts, "size");
	if (!size)
		return error_set(err, "%s: %s needs size=SIZE", opts->option, type_name);
	if (parse_size(size, 1, &p->size, err))
		return error_prefix(err, "%s: property 'size'", opts->option);
	p->dump_set = opts_has(opts, "dump");
	if (opts_take_bool(opts, "share", &p->share, share_default, err) ||
	    opts_take_bool(opts, "reserve", &p->reserve, true, err) ||
	    opts_take_bool(opts, "merge", &p->merge, true, err) ||
	    opts_take_bool(opts, "dump", &p->dump, true, err) ||
	    opts_take_bool(opts, "prealloc", &p->prealloc, false, err) ||
	    opts_take_u64(opts, "prealloc-threads", &p->prealloc_threads, 1, err) ||
	    take_numa(p, opts, err))
		return -1;
	if (memory_backend_check_props(p, type_name, err))
		return error_prefix(err, "%s", opts->option);
	return 0;
}

static void *named(struct memory_backend *b, struct opts *opts, struct error *err)
{
	if (!b)
		error_prefix(err, "%s", opts->option);
	return b;
}

static void *ram_parse(struct opts *opts, struct error *err)
{
	struct memory_backend_props p;

	if (take_common(&p, opts, "memory-backend-ram", false, err))
		return NULL;
	return named(memory_backend_ram_new(&p, err), opts, err);
}

static void *memfd_parse(struct opts *opts, struct error *err)
{
	struct memory_backend_props p;
	bool hugetlb, seal;
	const char *hugetlbsize;
	uint64_t page;

	if (take_common(&p, opts, "memory-backend-memfd", true, err) ||
	    opts_take_bool(opts, "hugetlb", &hugetlb, false, err) ||
	    opts_take_bool(opts, "seal", &seal, true, err))
		return NULL;
	/* Refused without hugetlb=on whatever its value, as QEMU does, before it is read. */
	hugetlbsize = opts_take(opts, "hugetlbsize");
	if (hugetlbsize && !hugetlb) {
		error_set(err, "%s: memory-backend-memfd hugetlbsize needs hugetlb=on", opts->option);
		return NULL;
	}
	if (hugetlbsize && parse_size(hugetlbsize, 1, &page, err)) {
		error_prefix(err, "%s: property 'hugetlbsize'", opts->option);
		return NULL;
	}
	return named(memory_backend_memfd_new(&p, hugetlb, hugetlbsize ? &page : NULL, seal, err),
		     opts, err);
}

static void *guest_memfd_parse(struct opts *opts, struct error *err)
{
	struct memory_backend_props p;

	if (take_common(&p, opts, "memory-backend-guest-memfd", true, err))
		return NULL;
	return named(memory_backend_guest_memfd_new(&p, err), opts, err);
}

/* The file's own checks (modes, the file itself) name the type, as QEMU's do. */
static void *file_parse(struct opts *opts, struct error *err)
{
	struct memory_backend_props p;
	struct memory_backend_file_args args = { 0 };
	long page = sysconf(_SC_PAGESIZE);

	if (take_common(&p, opts, "memory-backend-file", false, err))
		return NULL;
	args.path = opts_take(opts, "mem-path");
	if (!args.path || !*args.path) {
		error_set(err, "%s: memory-backend-file needs mem-path=PATH", opts->option);
		return NULL;
	}
	if (opts_take_on_off_auto(opts, "rom", &args.rom, err) ||
	    opts_take_bool(opts, "readonly", &args.readonly, false, err) ||
	    opts_take_bool(opts, "discard-data", &args.discard_data, false, err) ||
	    opts_take_size(opts, "align", &args.align, (uint64_t)page, err))
		return NULL;
	if (args.align < (uint64_t)page || !is_power_of_2(args.align)) {
		error_set(err, "%s: memory-backend-file align must be a power of two of at least %ld",
			  opts->option, page);
		return NULL;
	}
	return memory_backend_file_new(&p, &args, err);
}

/* Once, at start: what a reset maps again, even under -run-with chroot= or user=. */
static int backend_open(void *config, struct error *err)
{
	return memory_backend_open(config, err);
}

/* What take_common() and host_nodes() read, for every backend type. */
#define COMMON_PROPS                                                                               \
	{ "size", "size", "size of the memory region in bytes" },                                 \
	{ "share", "bool", "mark the memory as private to QEMU or shared" },                      \
	{ "reserve", "bool", "reserve swap space (or huge pages) if applicable" },               \
	{ "merge", "bool", "mark memory as mergeable (KSM)" },                                    \
	{ "dump", "bool", "include memory in a core dump" },                                      \
	{ "prealloc", "bool", "preallocate memory" },                                             \
	{ "prealloc-threads", "uint32", "number of CPU threads to use for prealloc" },           \
	{ "host-nodes", "uint16List", "binds memory to the list of NUMA host nodes" },           \
	{ "policy", "HostMemPolicy", "set the NUMA policy" }

static const struct type_property ram_props[] = { COMMON_PROPS, { NULL, NULL, NULL } };
static const struct type_property memfd_props[] = {
	COMMON_PROPS,
	{ "hugetlb", "bool", "use huge pages" },
	{ "hugetlbsize", "size", "huge pages size (ex: 2M, 1G)" },
	{ "seal", "bool", "seal growing & shrinking operations" },
	{ NULL, NULL, NULL },
};
static const struct type_property file_props[] = {
	COMMON_PROPS,
	{ "mem-path", "str", "file to use as the memory" },
	{ "readonly", "bool", "whether to open the backing file read-only" },
	{ "rom", "OnOffAuto", "whether to create read-only memory" },
	{ "discard-data", "bool", "discard the file's data when tide ends" },
	{ "align", "size", "alignment of the mapping" },
	{ NULL, NULL, NULL },
};
static const struct type_property guest_memfd_props[] = { COMMON_PROPS, { NULL, NULL, NULL } };

static const struct device_type memory_backend_ram_type = {
	.name = "memory-backend-ram",
	.kind = TYPE_OBJECT,
	.help = "id=ID,size=SIZE[,share=on|off][,reserve=on|off]: anonymous memory",
	.props = ram_props,
	.parse = ram_parse,
	.free_config = memory_backend_free,
};
DEVICE_TYPE_REGISTER(memory_backend_ram_type)

static const struct device_type memory_backend_memfd_type = {
	.name = "memory-backend-memfd",
	.kind = TYPE_OBJECT,
	.help = "id=ID,size=SIZE[,share=on|off][,hugetlb=on|off][,hugetlbsize=SIZE][,seal=on|off]"
		"[,reserve=on|off]: memfd memory (share=on, seal=on by default)",
	.props = memfd_props,
	.parse = memfd_parse,
	.free_config = memory_backend_free,
};
DEVICE_TYPE_REGISTER(memory_backend_memfd_type)

static const struct device_type memory_backend_file_type = {
	.name = "memory-backend-file",
	.kind = TYPE_OBJECT,
	.help = "id=ID,size=SIZE,mem-path=PATH[,share=on|off][,readonly=on|off][,rom=on|off|auto]"
		"[,discard-data=on|off][,align=SIZE][,reserve=on|off]: a file as memory "
		"(share=off,readonly=on: a template every VM reads and none writes)",
	.props = file_props,
	.parse = file_parse,
	.open = backend_open,
	.free_config = memory_backend_free,
};
DEVICE_TYPE_REGISTER(memory_backend_file_type)

static const struct device_type memory_backend_guest_memfd_type = {
	.name = "memory-backend-guest-memfd",
	.kind = TYPE_OBJECT,
	.help = "id=ID,size=SIZE[,reserve=on|off]: KVM guest_memfd memory (Linux 6.18+)",
	.props = guest_memfd_props,
	.parse = guest_memfd_parse,
	.free_config = memory_backend_free,
};
DEVICE_TYPE_REGISTER(memory_backend_guest_memfd_type)

struct memory_backend *memory_backend_claim(const struct vm_config *cfg, const char *id,
					    const char *who, struct error *err)
{
	struct memory_backend *b = device_instance_find(cfg->devices, cfg->nr_devices,
							TYPE_OBJECT, "memory-backend-", id);

	if (!b) {
		error_set(err, "%s: '%s' is not a memory backend object "
			       "(-object memory-backend-*,id=%s)",
			  who, id, id);
		return NULL;
	}
	if (b->used_by) {
		error_set(err, "%s: memory backend '%s' is already %s's", who, id, b->used_by);
		return NULL;
	}
	b->used_by = who;
	return b;
}

void memory_backends_default_dump(const struct vm_config *cfg)
{
	for (size_t i = 0; i < cfg->nr_devices; i++) {
		const struct device_instance *d = &cfg->devices[i];
		struct memory_backend *b = d->config;

		if (d->type->kind == TYPE_OBJECT && !strncmp(d->type->name, "memory-backend-", 15) &&
		    !b->dump_set)
			b->dump = cfg->dump_guest_core;
	}
}
