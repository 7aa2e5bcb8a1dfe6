#include "devices/virtio_mem_config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "mm/memslots.h"
#include "util/size.h"
#include "util/util.h"

/*
 * [bus=pci.0,]addr=SLOT[.FN] as in QEMU (hex slot); only function 0 exists on tide's one
 * root bus, which answers to QEMU's names for it (pci.0 on a PC, pcie.0 on q35 and virt).
 */
static int take_pci_addr(struct opts *opts, int *slot, struct error *err)
{
	const char *v = opts_take(opts, "addr"), *bus = opts_take(opts, "bus");
	unsigned s, fn = 0;
	char tail;

	*slot = -1;
	if (bus && strcmp(bus, "pci.0") && strcmp(bus, "pcie.0"))
		return error_set(err, "%s: bus '%s': tide has one PCI bus, pci.0", opts->option,
				 bus);
	if (!v)
		return 0;
	if (sscanf(v, "%x%c", &s, &tail) != 1 && sscanf(v, "%x.%x%c", &s, &fn, &tail) != 2)
		return error_set(err, "%s: addr '%s' is not SLOT or SLOT.FN", opts->option, v);
	if (s == 0 || s > 31)
		return error_set(err, "%s: addr slot 0x%x is not in 1..0x1f (0 is the host bridge)",
				 opts->option, s);
	if (fn != 0)
		return error_set(err, "%s: addr function %u: only function 0 is supported",
				 opts->option, fn);
	*slot = (int)s;
	return 0;
}

int vmem_config_parse(struct vmem_config *vc, struct opts *opts, struct error *err)
{
	const char *memdev = opts_take(opts, "memdev");
	const char *o = opts->option;
	uint64_t thp = host_thp_size(), block;

	memset(vc, 0, sizeof(*vc));
	if (!memdev || !*memdev)
		return error_set(err, "%s: virtio-mem-pci needs memdev=ID", o);
	if (strlen(memdev) >= sizeof(vc->memdev))
		return error_set(err, "%s: memdev id '%s' is too long", o, memdev);
	strcpy(vc->memdev, memdev);
	if (opts_take_size(opts, "requested-size", &vc->requested_size, 0, err) ||
	    opts_take_size(opts, "block-size", &vc->block_size, 0, err) ||
	    opts_take_u64(opts, "node", &vc->node, 0, err) ||
	    opts_take_u64(opts, "memaddr", &vc->memaddr, 0, err) ||
	    take_pci_addr(opts, &vc->pci_slot, err) ||
	    opts_take_on_off_auto(opts, "unplugged-inaccessible", &vc->unplugged_inaccessible, err) ||
	    opts_take_bool(opts, "dynamic-memslots", &vc->dynamic_memslots, true, err) ||
	    opts_take_bool(opts, "prealloc", &vc->prealloc, false, err) ||
	    opts_take_u64(opts, "memslots", &vc->memslots, 0, err))
		return -1;
	/* Unset (0) until the backend is known: its page size may raise the default. */
	block = vc->block_size ? vc->block_size : thp;
	if (!is_power_of_2(block) || block < thp)
		return error_set(err, "%s: block-size %" PRIu64 " must be a power of two of at "
				      "least %" PRIu64 " "
				      "(the THP size)",
				 o, block, thp);
	if (vc->requested_size % block)
		return error_set(err, "%s: requested-size %" PRIu64 " is not a multiple of "
				      "block-size %" PRIu64,
				 o, vc->requested_size, block);
	if (vc->memaddr % block || vc->memaddr % (128ULL << 20))
		return error_set(err, "%s: memaddr 0x%" PRIx64 " must be aligned to 128 MiB and to "
				      "block-size",
				 o, vc->memaddr);
	if (opts_take(opts, "memslots") && (vc->memslots < 1 || vc->memslots > 1024))
		return error_set(err, "%s: memslots=%" PRIu64 " is outside 1..1024", o,
				 vc->memslots);
	if (vc->node != 0)
		return error_set(err, "%s: node=%" PRIu64 ": tide has one NUMA node (0)", o,
				 vc->node);
	return 0;
}

uint64_t vmem_default_block_size(uint64_t thp_size, const struct memory_backend *b)
{
	return b->page_size > thp_size ? b->page_size : thp_size;
}

int vmem_check_block_size(uint64_t block_size, uint64_t thp_size, const struct memory_backend *b,
			  const char *memdev, struct error *err)
{
	if (!is_power_of_2(block_size) || block_size < thp_size)
		return error_set(err, "virtio-mem-pci: block-size %" PRIu64 " must be a power of "
				      "two of at least %" PRIu64 " (the THP size)",
				 block_size, thp_size);
	if (block_size < b->page_size)
		return error_set(err, "virtio-mem-pci: block-size %" PRIu64 " is below the "
				      "%" PRIu64 "-byte pages "
				      "of memdev '%s'",
				 block_size, b->page_size,
				 memdev);
	return 0;
}

/* How the region splits into memslots; every problem is found here, before KVM is opened. */
static int resolve_memslots(struct vmem_config *vc, struct error *err)
{
	if (!vc->dynamic_memslots) {
		if (vc->memslots)
			return error_set(err, "virtio-mem-pci: memdev '%s': memslots=%" PRIu64 " "
					      "needs dynamic-memslots=on (off maps the region as one "
					      "memslot)",
					 vc->memdev, vc->memslots);
		vc->slot_size = vc->size;
		return 0;
	}
	if (memslot_pick_size(vc->size, vc->block_size, (uint32_t)vc->memslots,
			      MEMSLOT_MAX_PER_DEVICE, &vc->slot_size, err))
		return error_prefix(err, "virtio-mem-pci: memdev '%s'", vc->memdev);
	return 0;
}

int vmem_config_resolve(struct vmem_config **configs, unsigned count,
			const struct device_check_env *env, struct error *err)
{
	uint64_t area_start = env->device_area_start, area_end = env->device_area_end;
	uint64_t next = area_start;
	struct memslot_budget budget;
	char who[96];

	memslot_budget_init(&budget, UINT32_MAX); /* KVM's own limit is checked at realize */

	for (unsigned i = 0; i < count; i++) {
		struct vmem_config *vc = configs[i];

		vc->backend = device_instance_find(env->instances, env->count, TYPE_OBJECT,
						   "memory-backend-", vc->memdev);
		if (!vc->backend)
			return error_set(err, "virtio-mem-pci: memdev '%s' is not a memory backend "
					      "object",
					 vc->memdev);
		for (unsigned j = 0; j < i; j++)
			if (configs[j]->backend == vc->backend)
				return error_set(err, "virtio-mem-pci: memdev '%s' is used twice",
						 vc->memdev);
		if (vc->backend->used_by)
			return error_set(err, "virtio-mem-pci: memdev '%s' is already %s", vc->memdev,
					 vc->backend->used_by);
		vc->backend->used_by = "virtio-mem-pci";
		if (vc->backend->prealloc)
			return error_set(err, "virtio-mem-pci: memdev '%s' has prealloc=on, which "
					      "would back memory nobody plugged; use the device's "
					      "prealloc=on (plugs are backed as they come)",
					 vc->memdev);
		if (vc->backend->rom)
			return error_set(err, "virtio-mem-pci: memdev '%s' is read-only memory "
					      "(rom): plugged memory must be writable; use "
					      "rom=off for a private copy",
					 vc->memdev);
		if (!vc->block_size)
			vc->block_size = vmem_default_block_size(host_thp_size(), vc->backend);
		if (vmem_check_block_size(vc->block_size, host_thp_size(), vc->backend, vc->memdev,
					  err))
			return -1;
		if (vc->requested_size % vc->block_size || vc->memaddr % vc->block_size)
			return error_set(err, "virtio-mem-pci: requested-size %" PRIu64 " and "
					      "memaddr 0x%" PRIx64 " must be multiples of block-size "
					      "%" PRIu64 " (memdev '%s')",
					 vc->requested_size, vc->memaddr, vc->block_size,
					 vc->memdev);
		vc->size = vc->backend->size;
		if (vc->size % vc->block_size)
			return error_set(err, "virtio-mem-pci: memdev '%s' size %" PRIu64 " is "
					      "not a multiple of block-size %" PRIu64,
					 vc->memdev, vc->size, vc->block_size);
		if (vc->requested_size > vc->size)
			return error_set(err, "virtio-mem-pci: requested-size %" PRIu64 " is "
					      "above the size "
					      "of memdev '%s' (%" PRIu64 ")",
					 vc->requested_size, vc->memdev,
					 vc->size);
		if (resolve_memslots(vc, err))
			return -1;
		snprintf(who, sizeof(who), "virtio-mem-pci %s", vc->id[0] ? vc->id : vc->memdev);
		if (memslot_budget_take(&budget, (uint32_t)(vc->size / vc->slot_size), NULL, who,
					err))
			return -1;
		if (!vc->memaddr) {
			/* Next free place, aligned for 128 MiB memslots and the block size. */
			uint64_t align = vc->block_size > (128ULL << 20) ? vc->block_size
									 : (128ULL << 20);

			vc->memaddr = (next + align - 1) / align * align;
		}
		if (vc->memaddr < area_start || vc->memaddr > area_end ||
		    vc->size > area_end - vc->memaddr)
			return error_set(err, "virtio-mem-pci: memdev '%s' (%" PRIu64 " bytes at "
					      "0x%" PRIx64 ") "
					      "does not fit in the device memory area "
					      "0x%" PRIx64 "-0x%" PRIx64 " "
					      "(raise -m maxmem)",
					 vc->memdev, vc->size, vc->memaddr, area_start, area_end);
		for (unsigned j = 0; j < i; j++) {
			const struct vmem_config *o = configs[j];

			if (vc->memaddr < o->memaddr + o->size && o->memaddr < vc->memaddr + vc->size)
				return error_set(err, "virtio-mem-pci: memaddr 0x%" PRIx64 " "
						      "overlaps memdev "
						      "'%s'",
						 vc->memaddr, o->memdev);
		}
		if (vc->memaddr + vc->size > next)
			next = vc->memaddr + vc->size;
	}
	return 0;
}
