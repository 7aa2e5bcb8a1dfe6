/*
 * -device virtio-mem-pci: the virtio-mem device on the virtio-pci transport.
 * A request travels: ioeventfd -> device worker thread -> virtio_pci.c (queue
 * checks) -> vmem_process_queue() here (the per-turn budget, what changed) ->
 * virtio_mem_core.c (framing, rules; virtqueue.c for the ring, mm/plug_bitmap.c)
 * -> mm/memslots.c (KVM memslots) and mm/backend*.c (discard).
 * docs/architecture.md follows it file by file.
 */
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <linux/virtio_mem.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/pci.h"
#include "devices/virtio_mem_config.h"
#include "devices/virtio_mem_core.h"
#include "devices/virtio_pci.h"
#include "mm/memslots.h"
#include "devices/device.h"
#include "util/latency.h"
#include "util/log.h"
#include "devices/board.h"
#include "devices/io_bus.h"
#include "devices/memory_device.h"
#include "util/util.h"

#define TYPE_NAME "virtio-mem-pci"
#define VIRTIO_ID_MEM 24
#define QUEUE_SIZE 128

struct virtio_mem {
	struct virtio_pci vp;
	struct board *board;
	struct vmem_config *cfg; /* requested_size follows resizes, so a reboot keeps it (QEMU) */
	char name[96];
	struct memslot_region slots;
	bool slots_ready;
	/*
	 * Guards core (bitmap, sizes, counters) and slots. The transport's lock is held
	 * through a whole request; this one only while the state changes (the core lets it go
	 * for prealloc and discards), so QMP and vCPU exits never wait behind host work.
	 * Order: the transport's lock first.
	 */
	pthread_mutex_t state_lock;
	bool state_lock_ready;
	/*
	 * The plugged size as of the last answered request: what QMP, its events and the
	 * driver's config read see. The bitmap may be ahead while a request is in flight
	 * (blocks being preallocated or discarded); only x-query-virtio-mem shows that.
	 */
	uint64_t answered_size;
	struct vmem_core core;
	bool core_ready;
	bool transport_ready;
	bool region_registered; /* on the MMIO bus: accesses to blocks KVM does not map */
	struct latency_log plug_ns, unplug_ns;
	struct memory_device memdev; /* what QMP sees */
	struct memslot_kvm_target kvm_target; /* the memslots' VM and backend */
};

static void state_lock(void *opaque)
{
	pthread_mutex_lock(&((struct virtio_mem *)opaque)->state_lock);
}

static void state_unlock(void *opaque)
{
	pthread_mutex_unlock(&((struct virtio_mem *)opaque)->state_lock);
}

/* ---- virtio device ops ---- */

static uint64_t vmem_features(void *opaque)
{
	struct virtio_mem *vm = opaque;

	if (vm->cfg->unplugged_inaccessible == ON_OFF_AUTO_OFF)
		return 0;
	return VIRTIO_FEATURE(VIRTIO_MEM_F_UNPLUGGED_INACCESSIBLE);
}

/* A driver that did not promise to leave unplugged memory alone may read it (as zeros). */
static bool vmem_features_ok(void *opaque, uint64_t accepted)
{
	struct virtio_mem *vm = opaque;
	bool inaccessible = accepted & VIRTIO_FEATURE(VIRTIO_MEM_F_UNPLUGGED_INACCESSIBLE);

	if (vm->cfg->unplugged_inaccessible == ON_OFF_AUTO_ON && !inaccessible) {
		log_info("%s: driver did not accept UNPLUGGED_INACCESSIBLE "
			 "(unplugged-inaccessible=on): refusing FEATURES_OK",
			 vm->name);
		state_lock(vm);
		vm->core.counters.features_refused++;
		state_unlock(vm);
		return false;
	}
	state_lock(vm);
	vm->core.unplugged_readable = !inaccessible;
	state_unlock(vm);
	return true;
}

static void vmem_read_config(void *opaque, unsigned offset, uint8_t *data, unsigned len)
{
	struct virtio_mem *vm = opaque;

	state_lock(vm);
	struct virtio_mem_config c = {
		.block_size = vm->core.block_size,
		.node_id = (uint16_t)vm->cfg->node,
		.addr = vm->core.addr,
		.region_size = vm->core.region_size,
		.usable_region_size = vm->core.usable_size,
		.plugged_size = vm->answered_size,
		.requested_size = vm->core.requested_size,
	};
	state_unlock(vm);

	memcpy(data, (uint8_t *)&c + offset, len);
}

static int vmem_process_queue(void *opaque, unsigned index, struct virtqueue *vq, int budget,
			      struct error *err)
{
	struct virtio_mem *vm = opaque;
	struct vmem_result result;
	uint64_t start = monotonic_ns();
	uint16_t type;
	int done = 0, ret = 0;

	(void)index;
	while (done < budget) {
		uint64_t plugged, requested;
		bool resized;

		state_lock(vm);
		ret = vmem_serve_request(&vm->core, vq, &result, &type, err);
		/* Also after a broken chain (ret -1): the bitmap is the truth, and QMP hears it. */
		plugged = vmem_plugged_size(&vm->core);
		resized = plugged != vm->answered_size;
		vm->answered_size = plugged;
		requested = vm->core.requested_size;
		/* plugged_size and usable_region_size are config fields: a new generation. */
		if (resized || (ret == 1 && result.usable_size_changed))
			virtio_pci_config_updated(&vm->vp);
		state_unlock(vm);
		if (resized)
			vm->board->ops->memory_device_resized(vm->board, &vm->memdev, plugged,
							      plugged == requested);
		if (ret != 1)
			break;
		done++;
		if (type == VIRTIO_MEM_REQ_PLUG)
			latency_record(&vm->plug_ns, monotonic_ns() - start);
		else if (type == VIRTIO_MEM_REQ_UNPLUG)
			latency_record(&vm->unplug_ns, monotonic_ns() - start);
		start = monotonic_ns();
	}
	return ret < 0 ? -1 : done;
}

static void vmem_reset(void *opaque)
{
	/* Device reset keeps every block as it is (virtio-mem.md §7); the transport forgets the ring. */
	(void)opaque;
}

/*
 * QMP's qom-set requested-size: a block multiple up to the device size, or an error and
 * nothing changes. A change raises a config interrupt, and the new size survives a
 * reboot, as in QEMU. Requests being served keep the size they were checked against; the
 * interrupt goes once they are answered (virtio_pci_config_interrupt_async), the reply at
 * once.
 */
static int set_requested_size(struct virtio_mem *vm, uint64_t size, struct error *err)
{
	int changed;

	state_lock(vm);
	changed = vmem_set_requested(&vm->core, size, err);
	if (changed > 0) {
		vm->cfg->requested_size = size;
		virtio_pci_config_updated(&vm->vp); /* with the fields, under the state lock */
	}
	state_unlock(vm);
	if (changed > 0)
		virtio_pci_config_interrupt_async(&vm->vp);
	if (changed < 0)
		return error_prefix(err, "%s", vm->name);
	return 0;
}

/* ---- what QMP sees (devices/memory_device.h) ---- */

static void vmem_status(void *opaque, struct memory_device_status *out)
{
	struct virtio_mem *vm = opaque;

	state_lock(vm);
	*out = (struct memory_device_status){
		.memaddr = vm->core.addr,
		.requested_size = vm->core.requested_size,
		.size = vm->answered_size,
		.max_size = vm->core.region_size,
		.block_size = vm->core.block_size,
		.node = vm->cfg->node,
		.usable_size = vm->core.usable_size,
	};
	state_unlock(vm);
}

static int vmem_qmp_set_requested_size(void *opaque, uint64_t size, struct error *err)
{
	return set_requested_size(opaque, size, err);
}

/* Lists stop here: a 1 TiB device has 8192 memslots and a fragmented bitmap many runs. */
#define DEBUG_LIST_MAX 256

static void add_u64(struct json_object *obj, const char *key, uint64_t v)
{
	json_object_object_add(obj, key, json_object_new_uint64(v));
}

static void vmem_debug_info(void *opaque, struct json_object *obj)
{
	struct virtio_mem *vm = opaque;
	const struct vmem_core *c = &vm->core;
	const struct vmem_counters *n = &c->counters;
	struct json_object *runs = json_object_new_array(), *slots = json_object_new_array();
	struct json_object *counters = json_object_new_object();
	uint64_t from = 0, first, count, nr_runs = 0;

	state_lock(vm);
	add_u64(obj, "usable-region-size", c->usable_size);
	add_u64(obj, "plugged-blocks", c->plugged.nr_plugged);
	while (plug_bitmap_next_run(&c->plugged, from, &first, &count)) {
		if (nr_runs++ < DEBUG_LIST_MAX) {
			struct json_object *r = json_object_new_object();

			add_u64(r, "addr", c->addr + first * c->block_size);
			add_u64(r, "size", count * c->block_size);
			json_object_array_add(runs, r);
		}
		from = first + count;
	}
	add_u64(obj, "plugged-runs", nr_runs);
	json_object_object_add(obj, "plugged-ranges", runs);
	add_u64(obj, "memslot-size", vm->slots.part_size);
	add_u64(obj, "memslots", vm->slots.nr_parts);
	add_u64(obj, "memslots-mapped", vm->slots.parts_mapped);
	add_u64(obj, "kvm-memslots", vm->slots.nr_slots);
	add_u64(obj, "kvm-memslots-max", vm->slots.max_slots);
	for (uint32_t i = 0; i < vm->slots.nr_parts; i++) {
		if (memslot_part_mapped(&vm->slots, i) &&
		    json_object_array_length(slots) < DEBUG_LIST_MAX)
			json_object_array_add(slots, json_object_new_uint64(i));
	}
	json_object_object_add(obj, "mapped-memslots", slots);
	json_object_object_add(obj, "dynamic-memslots",
			       json_object_new_boolean(vm->cfg->dynamic_memslots));
	add_u64(obj, "queue-notify-address", virtio_pci_queue_notify_address(&vm->vp, 0));
	/* Whether the driver took MSI-X (irqfds, and on arm64 the ITS) rather than INTx. */
	json_object_object_add(obj, "msix-enabled",
			       json_object_new_boolean(msix_enabled(&vm->vp.msix)));
	add_u64(counters, "plug-requests", n->plug_requests);
	add_u64(counters, "unplug-requests", n->unplug_requests);
	add_u64(counters, "unplug-all-requests", n->unplug_all_requests);
	add_u64(counters, "state-requests", n->state_requests);
	add_u64(counters, "bytes-plugged", n->bytes_plugged);
	add_u64(counters, "bytes-unplugged", n->bytes_unplugged);
	add_u64(counters, "errors", n->errors);
	add_u64(counters, "nacks", n->nacks);
	add_u64(counters, "busy", n->busy);
	add_u64(counters, "memslot-maps", vm->slots.counters.maps);
	add_u64(counters, "memslot-unmaps", vm->slots.counters.unmaps);
	add_u64(counters, "memslot-guest-pauses", vm->slots.counters.guest_pauses);
	add_u64(counters, "busy-memslot-budget", n->busy_memslot_budget);
	add_u64(counters, "unplugged-reads", n->unplugged_reads);
	add_u64(counters, "unplugged-writes", n->unplugged_writes);
	add_u64(counters, "features-refused", n->features_refused);
	add_u64(counters, "log-lines-suppressed", c->log_limit.total_suppressed);
	state_unlock(vm);
	json_object_object_add(obj, "counters", counters);
}

static const struct memory_device_ops vmem_memory_device_ops = {
	.type = "virtio-mem",
	.qom_type = TYPE_NAME,
	.status = vmem_status,
	.set_requested_size = vmem_qmp_set_requested_size,
	.debug_info = vmem_debug_info,
};

static const struct virtio_device_ops vmem_ops = {
	.device_id = VIRTIO_ID_MEM,
	.config_size = sizeof(struct virtio_mem_config),
	.features = vmem_features,
	.features_ok = vmem_features_ok,
	.read_config = vmem_read_config,
	.process_queue = vmem_process_queue,
	.reset = vmem_reset,
};

/* ---- -device virtio-mem-pci ---- */

static void *vmem_parse(struct opts *opts, struct error *err)
{
	struct vmem_config *vc = malloc(sizeof(*vc));

	if (!vc) {
		error_set(err, "%s: out of memory", opts->option);
		return NULL;
	}
	if (vmem_config_parse(vc, opts, err) || opts_finish(opts, TYPE_NAME, err)) {
		free(vc);
		return NULL;
	}
	return vc;
}

static const struct device_type vmem_type;

static int vmem_check(const struct device_check_env *env, struct error *err)
{
	struct vmem_config *configs[64];
	unsigned count = 0;

	for (size_t i = 0; i < env->count; i++) {
		struct device_instance *d = &env->instances[i];
		struct vmem_config *vc = d->config;

		if (d->type != &vmem_type)
			continue;
		if (count == ARRAY_SIZE(configs))
			return error_set(err, TYPE_NAME ": at most %zu devices",
					 ARRAY_SIZE(configs));
		snprintf(vc->id, sizeof(vc->id), "%s", d->id ? d->id : vc->memdev);
		vc->has_id = d->id != NULL;
		configs[count++] = vc;
	}
	return vmem_config_resolve(configs, count, env, err);
}

static void log_summary(struct virtio_mem *vm)
{
	const struct vmem_counters *c = &vm->core.counters;

	log_info("%s: requests plug=%" PRIu64 " unplug=%" PRIu64 " unplug_all=%" PRIu64
		 " state=%" PRIu64 "; plugged %" PRIu64 " B, unplugged %" PRIu64
		 " B; errors=%" PRIu64 " nacks=%" PRIu64 " busy=%" PRIu64
		 "; memslots mapped=%u maps=%" PRIu64 " unmaps=%" PRIu64 " guest_pauses=%" PRIu64
		 "; unplugged reads=%" PRIu64 " writes=%" PRIu64,
		 vm->name, c->plug_requests, c->unplug_requests, c->unplug_all_requests,
		 c->state_requests, c->bytes_plugged, c->bytes_unplugged, c->errors, c->nacks,
		 c->busy, vm->slots.nr_slots, vm->slots.counters.maps, vm->slots.counters.unmaps,
		 vm->slots.counters.guest_pauses, c->unplugged_reads, c->unplugged_writes);
	if (vm->plug_ns.count || vm->unplug_ns.count)
		log_info("%s: request time in tide (ns): plug n=%" PRIu64 " median=%" PRIu64
			 " p99=%" PRIu64 "; unplug n=%" PRIu64 " median=%" PRIu64 " p99=%" PRIu64,
			 vm->name, vm->plug_ns.count, latency_percentile(&vm->plug_ns, 50),
			 latency_percentile(&vm->plug_ns, 99), vm->unplug_ns.count,
			 latency_percentile(&vm->unplug_ns, 50),
			 latency_percentile(&vm->unplug_ns, 99));
}

/* Undoes whatever realize got to, in reverse. */
static void vmem_free(struct virtio_mem *vm)
{
	if (vm->region_registered)
		io_bus_unregister(vm->board->mmio, vm->cfg->memaddr, vm);
	if (vm->transport_ready) {
		pci_bus_remove(&vm->vp.pci);
		virtio_pci_destroy(&vm->vp);
	}
	if (vm->core_ready)
		vmem_core_destroy(&vm->core);
	if (vm->state_lock_ready)
		pthread_mutex_destroy(&vm->state_lock);
	if (vm->slots_ready)
		memslot_region_destroy(&vm->slots);
	/* A system reset gives everything back: the next boot maps fresh, zeroed memory. */
	memory_backend_unmap(vm->cfg->backend);
	free(vm);
}

/* Teardown, before any device goes: this one's queues may reach other devices' blocks. */
static void vmem_quiesce(void *opaque)
{
	struct virtio_mem *vm = opaque;

	virtio_pci_stop_queues(&vm->vp);
}

static void vmem_destroy(void *opaque)
{
	struct virtio_mem *vm = opaque;

	log_summary(vm);
	vmem_free(vm);
}

/*
 * Memslots beyond one per part that a device may hold: runs of plugged blocks with unplugged
 * ones between them inside a part. Each costs the host a few KiB of kernel memory; a guest
 * that fragments more gets BUSY (docs/virtio-mem.md, "The memory bound").
 */
#define VMEM_HOLE_MEMSLOTS 1024

static int setup_memslots(struct virtio_mem *vm, struct board *b, struct error *err)
{
	const struct vmem_config *vc = vm->cfg;
	struct memory_backend *backend = vc->backend;
	uint64_t part_size = vc->slot_size; /* checked by vmem_config_resolve() */
	uint32_t parts = (uint32_t)(vc->size / part_size);
	uint32_t holes = vc->dynamic_memslots ? VMEM_HOLE_MEMSLOTS : 0;

	if (b->ops->reserve_memslots(b, parts, &holes, vm->name, err) ||
	    memslot_region_init(&vm->slots, vc->memaddr, vc->size, backend->hva, part_size,
				parts + holes, b->slot_ids, &memslot_kvm_ops, &vm->kvm_target,
				err))
		return -1;
	vm->slots.name = vm->name;
	vm->slots_ready = true;
	log_info("%s: %" PRIu64 " bytes at 0x%" PRIx64 " in %u memslots of %" PRIu64 " MiB (%s)",
		 vm->name, vc->size, vc->memaddr, vm->slots.nr_parts, part_size >> 20,
		 vc->dynamic_memslots ? "mapped as blocks are plugged" : "all mapped now");
	if (!vc->dynamic_memslots) {
		log_warn("%s: dynamic-memslots=off maps the whole region: the guest can make the "
			 "host back all of it, plugged or not (kept for comparison with QEMU)",
			 vm->name);
		return memslot_map(&vm->slots, 0, vc->size, err);
	}
	/* Out of KVM, out of reach: every part starts unmapped and PROT_NONE. */
	return memslot_kvm_ops.protect(NULL, backend->hva, vc->size, false, err);
}

/*
 * MMIO exits inside the region (vCPU thread): a vCPU touched a block KVM does not map.
 * Takes the state lock, so a memslot change in progress on the device worker finishes
 * first (a prealloc or discard in progress does not hold it).
 */
static void vmem_region_access(void *opaque, uint64_t offset, uint8_t *data, unsigned len,
			       bool is_write)
{
	struct virtio_mem *vm = opaque;

	bool served;

	state_lock(vm);
	served = vmem_guest_access(&vm->core, offset, data, len, is_write);
	state_unlock(vm);
	if (!served) {
		log_error("%s: plugged memory at 0x%" PRIx64 " is out of the host's reach",
			  vm->name, vm->cfg->memaddr + offset);
		vm->board->ops->guest_internal_error(vm->board);
	}
}

/* guest_mem asks (the device worker, for virtqueues): may a device use [offset, offset+len)
 * of the region? Only that thread changes the bitmap. */
static bool vmem_usable(void *opaque, uint64_t offset, uint64_t len)
{
	return vmem_range_plugged(&((const struct virtio_mem *)opaque)->core, offset, len);
}

static int vmem_realize(struct board *b, void *config, struct error *err)
{
	struct vmem_config *vc = config;
	struct virtio_mem *vm = calloc(1, sizeof(*vm));
	struct virtio_pci_env env = {
		.mem = b->mem,
		.vm_fd = b->vm_fd,
		.loop = b->device_loop ? b->device_loop : b->loop,
		.routes = b->msi_routes,
	};

	if (!vm)
		return error_set(err, "out of memory");
	vm->board = b;
	vm->cfg = vc;
	snprintf(vm->name, sizeof(vm->name), TYPE_NAME " %s", vc->id);
	if (b->phys_addr_limit && vc->memaddr + vc->size > b->phys_addr_limit) {
		error_set(err, "%s: region 0x%" PRIx64 "-0x%" PRIx64 " ends above what the vCPUs can "
			       "address (0x%" PRIx64 "); lower maxmem or the device size",
			  vc->id, vc->memaddr, vc->memaddr + vc->size, b->phys_addr_limit);
		free(vm);
		return -1;
	}
	vm->kvm_target = (struct memslot_kvm_target){ b->vm_fd, vc->backend, b->hold_vcpus,
						      b->hold_opaque };
	vc->backend->vm_fd = b->vm_fd; /* a guest_memfd belongs to this VM */
	if (memory_backend_map(vc->backend, err)) {
		free(vm);
		return -1;
	}
	/*
	 * Unplugged memory reads zeros, also where the backend starts with data (a
	 * file): give it all back first, as QEMU does (a shared file is punched, a
	 * private mapping gets zero memory and the file is left alone).
	 */
	if (vc->backend->starts_with_data &&
	    memory_backend_discard(vc->backend, 0, vc->size, true, err)) {
		memory_backend_unmap(vc->backend);
		free(vm);
		return -1;
	}
	vm->state_lock_ready = pthread_mutex_init(&vm->state_lock, NULL) == 0;
	if (!vm->state_lock_ready) {
		error_set(err, "%s: cannot create its lock", vc->id);
		goto fail;
	}
	if (setup_memslots(vm, b, err) ||
	    vmem_core_init(&vm->core, vc->memaddr, vc->size, vc->block_size, vc->requested_size,
			   vc->dynamic_memslots ? &vm->slots : NULL, vc->backend, err))
		goto fail;
	vm->core_ready = true;
	vm->core.prealloc = vc->prealloc;
	vm->core.unlock = state_unlock;
	vm->core.relock = state_lock;
	vm->core.lock_opaque = vm;
	/* Plugged memory is RAM for every device too (virtio-mem.md: "exactly like RAM"). */
	if (guest_mem_add_hotplug(b->mem, vc->memaddr, vc->size, vc->backend->hva,
				  vmem_usable, vm, err))
		goto fail;
	if (virtio_pci_init(&vm->vp, vm->name, &vmem_ops, vm, 1, QUEUE_SIZE, &env, err))
		goto fail;
	vm->transport_ready = true;
	if (vc->dynamic_memslots &&
	    io_bus_register(b->mmio, vc->memaddr, vc->size, vmem_region_access, vm, vm->name, err))
		goto fail;
	vm->region_registered = vc->dynamic_memslots;
	if (pci_bus_add(b->pci, &vm->vp.pci, vc->pci_slot, err) < 0)
		goto fail;
	if (b->ops->add_cleanup(b, vmem_destroy, vm)) {
		error_set(err, "cannot register the teardown");
		goto fail;
	}
	if (b->ops->add_quiesce(b, vmem_quiesce, vm)) {
		error_set(err, "cannot register the teardown");
		return -1; /* vmem_destroy is registered: the teardown frees vm */
	}
	vm->memdev = (struct memory_device){ .ops = &vmem_memory_device_ops,
					     .opaque = vm,
					     .id = vc->has_id ? vc->id : NULL,
					     .memdev = vc->memdev,
					     .events = &vc->events };
	b->ops->add_memory_device(b, &vm->memdev);
	return 0;
fail:
	vmem_free(vm);
	return -1;
}

/* What vmem_parse() (devices/virtio_mem_config.c) takes. */
static const struct type_property vmem_props[] = {
	{ "memdev", "link<memory-backend>", "the memory backend behind the device" },
	{ "requested-size", "size", "how much the guest is asked to plug" },
	{ "block-size", "size", "the unit of plugging" },
	{ "memaddr", "uint64", "guest-physical address of the device's region" },
	{ "node", "uint32", "the guest NUMA node (tide has node 0)" },
	{ "addr", "int32", "PCI slot and function (slot.function)" },
	{ "bus", "str", "the PCI bus (tide has one: pci.0)" },
	{ "unplugged-inaccessible", "OnOffAuto", "unplugged memory cannot be read" },
	{ "dynamic-memslots", "bool", "map only the memslots that hold plugged blocks" },
	{ "memslots", "uint32", "how many memslot parts (0: tide's choice)" },
	{ "prealloc", "bool", "preallocate memory as the guest plugs it" },
	{ NULL, NULL, NULL },
};

static const struct device_type vmem_type = {
	.name = TYPE_NAME,
	.kind = TYPE_DEVICE,
	.help = "memdev=ID [requested-size=SIZE] [block-size=SIZE] [memaddr=GPA] [addr=SLOT] "
		"[unplugged-inaccessible=on|off|auto] [dynamic-memslots=on|off] [memslots=N] "
		"[prealloc=on|off] "
		"[node=0]: memory the guest plugs and unplugs in blocks",
	.props = vmem_props,
	.parse = vmem_parse,
	.check = vmem_check,
	.realize = vmem_realize,
	.free_config = free,
};

DEVICE_TYPE_REGISTER(vmem_type)
