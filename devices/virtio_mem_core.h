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
#include "devices/virtqueue.h"
#include "util/log.h"

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
	uint64_t busy_memslot_budget; /* BUSY because the plugged runs needed too many memslots */
	/* vCPU accesses to unplugged blocks (MMIO exits): reads answered, writes dropped. */
	uint64_t unplugged_reads, unplugged_writes;
	uint64_t features_refused; /* FEATURES_OK refused: no UNPLUGGED_INACCESSIBLE with =on */
};

struct vmem_core {
	uint64_t addr;
	uint64_t region_size;
	uint64_t block_size;
	uint64_t requested_size;
	uint64_t usable_size;
	struct plug_bitmap plugged;
	/*
	 * Which blocks KVM maps: one memslot per run of plugged blocks inside each part of
	 * the region, nothing else (NULL with dynamic-memslots=off: all of it, always).
	 */
	struct memslot_region *slots;
	struct memory_backend *backend; /* where unplugged memory is given back */
	/*
	 * The driver did not accept UNPLUGGED_INACCESSIBLE: it may read unplugged blocks of
	 * the usable region, and they read zeros (through MMIO exits: never mapped).
	 */
	bool unplugged_readable;
	bool prealloc; /* prealloc=on: a plug backs its blocks with host memory first */
	/*
	 * The device's state lock, held by whoever serves a request. Host work that can take
	 * long (prealloc, discards) runs with it let go: QMP and the vCPUs are served
	 * meanwhile, and see the bitmap and memslots as the request already left them (blocks
	 * being plugged are plugged and mapped; blocks being unplugged are neither). Only the
	 * one thread that serves requests changes them, so nothing moves under that work.
	 * NULL: no lock (unit tests, fuzzers).
	 */
	void (*unlock)(void *opaque);
	void (*relock)(void *opaque);
	void *lock_opaque;
	struct vmem_counters counters;
	struct log_limit log_limit; /* what the guest can make tide log */
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

/* What one request did: the response, and which config fields it changed. */
struct vmem_result {
	enum vmem_resp_type resp;
	uint16_t state; /* for an ACKed STATE */
	bool plugged_size_changed;
	bool usable_size_changed;
};

struct vmem_result vmem_handle(struct vmem_core *c, const struct vmem_req *req);

/*
 * A new requested_size (QMP's qom-set). The usable region only grows here.
 * Returns 1 when the config changed (the transport then raises a config
 * interrupt), 0 when it did not, -1 with err when the size is not a block
 * multiple or above the region (nothing changes then).
 */
int vmem_set_requested(struct vmem_core *c, uint64_t requested, struct error *err);

/* Whether [offset, offset + len) of the region lies in it and is all plugged (len 0: the
 * block at offset). Devices reach plugged memory only; so do vCPU exits served by tide. */
bool vmem_range_plugged(const struct vmem_core *c, uint64_t offset, uint64_t len);

/*
 * A vCPU touched [offset, offset + len) of the region where KVM maps nothing (an MMIO
 * exit; len <= 8). An unplugged block: a read gives zeros where the driver may read it
 * (unplugged_readable, inside the usable region), else all ones as where nothing is on
 * a PC; a write is dropped; both are counted. A plugged block (the vCPU raced a memslot
 * being replaced): the access goes to the memory. False when it cannot (plugged memory
 * the host cannot reach: the VM must stop rather than lose the access). Caller holds
 * the device lock.
 */
bool vmem_guest_access(struct vmem_core *c, uint64_t offset, uint8_t *data, unsigned len,
		       bool is_write);

/*
 * One virtio-mem request off its virtqueue: the framing (24 readable bytes, 10 writable),
 * the core's answer, the response written and the chain given back. The device
 * (virtio_mem.c) and its fuzz target serve requests through it alike.
 *
 * 1 with *result and *type (the request's type) when a request was served, 0 when the
 * queue is empty, -1 with err when the driver broke the transport's rules (a framing
 * error is not an ERROR response: QEMU's virtio_error, the device needs a reset).
 */
int vmem_serve_request(struct vmem_core *c, struct virtqueue *vq, struct vmem_result *result,
		       uint16_t *type, struct error *err);

#endif
