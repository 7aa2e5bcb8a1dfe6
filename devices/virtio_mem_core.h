/*
 * virtio-mem request handling, without the transport: validation and
 * responses exactly as the spec prescribes (virtio-mem.md §4-§6), the plug
 * bitmap as the single source of truth, memslots and discard in the order
 * that never lets the guest re-fault discarded memory.
 */
#ifndef TIDE_VIRTIO_MEM_CORE_H
#define TIDE_VIRTIO_MEM_CORE_H

#include <stdbool.h>
#include <stdint.h>

#include "mm/backend.h"
#include "mm/memslots.h"
#include "mm/plug_bitmap.h"

enum vmem_req_type { VMEM_REQ_PLUG, VMEM_REQ_UNPLUG, VMEM_REQ_UNPLUG_ALL, VMEM_REQ_STATE };
enum vmem_resp_type { VMEM_RESP_ACK, VMEM_RESP_NACK, VMEM_RESP_BUSY, VMEM_RESP_ERROR };
enum vmem_state_type { VMEM_STATE_PLUGGED, VMEM_STATE_UNPLUGGED, VMEM_STATE_MIXED };

/* Usable-region slack beyond requested_size: QEMU's 2 x the 128 MiB Linux memory block. */
#define VMEM_USABLE_EXTENT (256ULL << 20)

struct vmem_req {
	uint16_t type;
	uint64_t addr;
	uint16_t nb_blocks;
};

struct vmem_counters {
	uint64_t plug_requests, unplug_requests, unplug_all_requests, state_requests;
	uint64_t bytes_plugged, bytes_unplugged;
	uint64_t errors, nacks, busy;
};

struct vmem_core {
	uint64_t addr;
	uint64_t region_size;
	uint64_t block_size;
	uint64_t requested_size;
	uint64_t usable_size;
	struct plug_bitmap plugged;
	struct memslot_region *slots;	  /* which parts of the region are in KVM */
	struct memory_backend *backend;	  /* where unplugged memory is given back */
	/*
	 * Without UNPLUGGED_INACCESSIBLE the driver may read unplugged blocks of
	 * the usable region, so their memslots stay mapped (reading zeros).
	 */
	bool keep_usable_mapped;
	bool prealloc; /* prealloc=on: a plug backs its blocks with host memory first */
	struct vmem_counters counters;
};

/* usable = min(region, align_up(requested + 256 MiB, block)), 0 when nothing is requested. */
uint64_t vmem_usable_for(uint64_t requested, uint64_t region_size, uint64_t block_size);

int vmem_core_init(struct vmem_core *c, uint64_t addr, uint64_t region_size, uint64_t block_size,
		   uint64_t requested, struct memslot_region *slots, struct memory_backend *backend,
		   struct error *err);
void vmem_core_destroy(struct vmem_core *c);

static inline uint64_t vmem_plugged_size(const struct vmem_core *c)
{
	return c->plugged.nr_plugged * c->block_size;
}

/* Answers one request; *state is set for an ACKed STATE. */
enum vmem_resp_type vmem_handle(struct vmem_core *c, const struct vmem_req *req, uint16_t *state);

/*
 * A new requested_size (QMP's qom-set). The usable region only grows here.
 * Returns 1 when the config changed (the transport then raises a config
 * interrupt), 0 when it did not, -1 with err when the size is not a block
 * multiple or above the region (nothing changes then).
 */
int vmem_set_requested(struct vmem_core *c, uint64_t requested, struct error *err);

/*
 * FEATURES_OK: a legacy driver (it did not accept UNPLUGGED_INACCESSIBLE) may
 * read unplugged memory, so every slot of the usable region is mapped for it;
 * for one that did, slots holding no plugged block leave KVM (a device reset
 * may bring either after the other). -1 with err: FEATURES_OK is refused and
 * no slot without a plugged block stays mapped.
 */
int vmem_set_legacy_driver(struct vmem_core *c, bool legacy, struct error *err);

#endif
