#include "devices/virtio_mem_core.h"

#include <string.h>

#include "vmm/log.h"

uint64_t vmem_usable_for(uint64_t requested, uint64_t region_size, uint64_t block_size)
{
	uint64_t usable;

	if (requested == 0)
		return 0;
	usable = requested + VMEM_USABLE_EXTENT;
	usable = (usable + block_size - 1) / block_size * block_size;
	return usable < region_size ? usable : region_size;
}

int vmem_core_init(struct vmem_core *c, uint64_t addr, uint64_t region_size, uint64_t block_size,
		   uint64_t requested, struct memslot_region *slots, struct memory_backend *backend,
		   struct error *err)
{
	memset(c, 0, sizeof(*c));
	if (!block_size || (block_size & (block_size - 1)) || addr % block_size ||
	    region_size % block_size || requested % block_size || requested > region_size)
		return error_set(err, "virtio-mem: inconsistent geometry");
	if (plug_bitmap_init(&c->plugged, region_size / block_size))
		return error_set(err, "virtio-mem: out of memory for the plug bitmap");
	c->addr = addr;
	c->region_size = region_size;
	c->block_size = block_size;
	c->requested_size = requested;
	c->usable_size = vmem_usable_for(requested, region_size, block_size);
	c->slots = slots;
	c->backend = backend;
	return 0;
}

void vmem_core_destroy(struct vmem_core *c)
{
	plug_bitmap_free(&c->plugged);
	memset(c, 0, sizeof(*c));
}

/* ERROR unless [addr, addr + nb_blocks blocks) is aligned, non-empty and inside the usable region. */
static bool range_ok(const struct vmem_core *c, const struct vmem_req *req, uint64_t *first,
		     uint64_t *count)
{
	uint64_t size = (uint64_t)req->nb_blocks * c->block_size; /* u16 * power of two: no overflow */

	if (req->nb_blocks == 0 || req->addr % c->block_size || req->addr < c->addr)
		return false;
	if (req->addr - c->addr > c->usable_size || size > c->usable_size - (req->addr - c->addr))
		return false;
	*first = (req->addr - c->addr) / c->block_size;
	*count = req->nb_blocks;
	return true;
}

static int discard_by_slot(struct vmem_core *c, uint64_t offset, uint64_t len, uint64_t *done,
			   struct error *err);

/*
 * Plug order: memslot (and host access) first, then the bitmap. A memslot that
 * fails to map answers BUSY, and slots this request mapped are unmapped again.
 */
static enum vmem_resp_type plug(struct vmem_core *c, uint64_t first, uint64_t count)
{
	uint64_t offset = first * c->block_size, len = count * c->block_size;
	struct error err, ignored;

	if (vmem_plugged_size(c) + len > c->requested_size)
		return VMEM_RESP_NACK;
	if (!plug_bitmap_all_clear(&c->plugged, first, count))
		return VMEM_RESP_ERROR;
	if ((c->slots && memslot_map_range(c->slots, offset, len, &err)) ||
	    (c->prealloc && c->backend &&
	     memory_backend_populate(c->backend, offset, len, 1, &err))) {
		/* QEMU's prealloc=on: memory the host cannot back now is not plugged (BUSY). */
		log_warn("virtio-mem: plug: %s", err.msg);
		if (c->slots && !c->keep_usable_mapped)
			memslot_unmap_unplugged(c->slots, offset, len, &c->plugged, c->block_size,
						&ignored);
		if (c->backend && c->prealloc) {
			uint64_t done;

			/* Slot by slot: one that still holds plugged blocks stays read-write. */
			discard_by_slot(c, offset, len, &done, &ignored);
		}
		return VMEM_RESP_BUSY;
	}
	plug_bitmap_set(&c->plugged, first, count);
	c->counters.bytes_plugged += len;
	return VMEM_RESP_ACK;
}

/*
 * One discard per memslot: each range then has one protection (mapped or PROT_NONE).
 * *done: how much was discarded before a failure.
 */
static int discard_by_slot(struct vmem_core *c, uint64_t offset, uint64_t len, uint64_t *done,
			   struct error *err)
{
	uint64_t slot = c->slots ? c->slots->slot_size : len;

	*done = 0;
	while (*done < len) {
		uint64_t n = slot - (offset + *done) % slot;

		if (n > len - *done)
			n = len - *done;
		/* A mapped memslot's range is read-write; an unmapped one's PROT_NONE. */
		bool accessible = !c->slots ||
				  memslot_is_mapped(c->slots, (uint32_t)((offset + *done) / slot));

		if (memory_backend_discard(c->backend, offset + *done, n, accessible, err))
			return -1;
		*done += n;
	}
	return 0;
}

/*
 * Unplug order: bitmap, then the memslot if it became empty (and its host range
 * protected), then discard. The guest can no longer reach the memory when it
 * is discarded, so it never faults discarded pages back in. When a step fails
 * the blocks not discarded yet are plugged and mapped again, their data intact,
 * and the guest gets BUSY; *released says how many blocks did go.
 */
static int release(struct vmem_core *c, uint64_t first, uint64_t count, uint64_t *released,
		   struct error *err)
{
	uint64_t offset = first * c->block_size, len = count * c->block_size, done = 0;
	struct error again;

	*released = 0;
	plug_bitmap_clear(&c->plugged, first, count);
	if (c->slots && !c->keep_usable_mapped &&
	    memslot_unmap_unplugged(c->slots, offset, len, &c->plugged, c->block_size, err))
		goto undo;
	if (c->backend && discard_by_slot(c, offset, len, &done, err))
		goto undo;
	*released = count;
	return 0;
undo:
	*released = done / c->block_size;
	offset += done;
	len -= done;
	plug_bitmap_set(&c->plugged, first + *released, count - *released);
	if (c->slots && memslot_map_range(c->slots, offset, len, &again))
		log_error("virtio-mem: plugged blocks at offset 0x%llx are out of the guest's "
			  "reach: %s",
			  (unsigned long long)offset, again.msg);
	return -1;
}

static enum vmem_resp_type unplug(struct vmem_core *c, uint64_t first, uint64_t count)
{
	struct error err;
	uint64_t released;
	int ret;

	if (!plug_bitmap_all_set(&c->plugged, first, count))
		return VMEM_RESP_ERROR;
	ret = release(c, first, count, &released, &err);
	c->counters.bytes_unplugged += released * c->block_size;
	if (ret) {
		log_warn("virtio-mem: unplug: %s", err.msg);
		return VMEM_RESP_BUSY;
	}
	return VMEM_RESP_ACK;
}

/* Where the first memslot wholly past the usable region starts. */
static uint64_t slots_past_usable(const struct vmem_core *c)
{
	uint64_t slot = c->slots->slot_size;

	return (c->usable_size + slot - 1) / slot * slot;
}

/* A legacy driver's slots past a shrunk usable region are out of its reach now. */
static void unmap_beyond_usable(struct vmem_core *c)
{
	uint64_t from;
	struct error err;

	if (!c->slots || !c->keep_usable_mapped)
		return;
	from = slots_past_usable(c);
	if (from < c->region_size &&
	    memslot_unmap_unplugged(c->slots, from, c->region_size - from, &c->plugged,
				    c->block_size, &err))
		log_warn("virtio-mem: unplug all: %s", err.msg);
}

/* Run by run; a run that fails stops here with BUSY (the driver retries, the rest stays). */
static enum vmem_resp_type unplug_all(struct vmem_core *c)
{
	uint64_t first, count, from = 0;
	struct error err;

	while (plug_bitmap_next_run(&c->plugged, from, &first, &count)) {
		uint64_t released;
		int ret = release(c, first, count, &released, &err);

		from = first + count;
		c->counters.bytes_unplugged += released * c->block_size;
		if (ret) {
			log_warn("virtio-mem: unplug all: %s", err.msg);
			return VMEM_RESP_BUSY;
		}
	}
	/* The one place besides reset where the usable region may shrink (no config interrupt). */
	c->usable_size = vmem_usable_for(c->requested_size, c->region_size, c->block_size);
	unmap_beyond_usable(c);
	return VMEM_RESP_ACK;
}

enum vmem_resp_type vmem_handle(struct vmem_core *c, const struct vmem_req *req, uint16_t *state)
{
	enum vmem_resp_type resp = VMEM_RESP_ERROR;
	uint64_t first, count;

	switch (req->type) {
	case VMEM_REQ_PLUG:
		c->counters.plug_requests++;
		if (range_ok(c, req, &first, &count))
			resp = plug(c, first, count);
		break;
	case VMEM_REQ_UNPLUG:
		c->counters.unplug_requests++;
		if (range_ok(c, req, &first, &count))
			resp = unplug(c, first, count);
		break;
	case VMEM_REQ_UNPLUG_ALL:
		c->counters.unplug_all_requests++;
		resp = unplug_all(c);
		break;
	case VMEM_REQ_STATE:
		c->counters.state_requests++;
		if (range_ok(c, req, &first, &count)) {
			static const uint16_t states[] = {
				[PLUG_STATE_PLUGGED] = VMEM_STATE_PLUGGED,
				[PLUG_STATE_UNPLUGGED] = VMEM_STATE_UNPLUGGED,
				[PLUG_STATE_MIXED] = VMEM_STATE_MIXED,
			};

			*state = states[plug_bitmap_state(&c->plugged, first, count)];
			resp = VMEM_RESP_ACK;
		}
		break;
	}
	c->counters.errors += resp == VMEM_RESP_ERROR;
	c->counters.nacks += resp == VMEM_RESP_NACK;
	c->counters.busy += resp == VMEM_RESP_BUSY;
	return resp;
}

int vmem_set_requested(struct vmem_core *c, uint64_t requested, struct error *err)
{
	uint64_t usable = vmem_usable_for(requested, c->region_size, c->block_size);
	int changed = requested != c->requested_size;

	if (requested % c->block_size)
		return error_set(err, "requested-size %llu is not a multiple of block-size %llu",
				 (unsigned long long)requested, (unsigned long long)c->block_size);
	if (requested > c->region_size)
		return error_set(err, "requested-size %llu is above the device size %llu",
				 (unsigned long long)requested, (unsigned long long)c->region_size);
	if (usable > c->usable_size) {
		/* A legacy driver may read all of the usable region: its new slots go in first. */
		if (c->slots && c->keep_usable_mapped) {
			uint64_t from = c->usable_size / c->slots->slot_size * c->slots->slot_size;

			if (memslot_map_range(c->slots, from, usable - from, err)) {
				/* Take out what this call mapped: slots wholly past the old region. */
				uint64_t added = slots_past_usable(c);
				struct error ignored;

				if (added < c->region_size)
					memslot_unmap_unplugged(c->slots, added, c->region_size - added,
								&c->plugged, c->block_size, &ignored);
				return error_prefix(err, "growing the usable region");
			}
		}
		c->usable_size = usable;
		changed = 1;
	}
	c->requested_size = requested;
	return changed;
}

int vmem_set_legacy_driver(struct vmem_core *c, bool legacy, struct error *err)
{
	struct error ignored;

	if (!c->slots)
		return 0; /* dynamic-memslots=off: everything is mapped anyway */
	c->keep_usable_mapped = legacy;
	if (!legacy)
		return memslot_unmap_unplugged(c->slots, 0, c->region_size, &c->plugged,
					       c->block_size, err);
	if (c->usable_size && memslot_map_range(c->slots, 0, c->usable_size, err)) {
		/* Refused: leave no slot mapped that holds no plugged block. */
		c->keep_usable_mapped = false;
		memslot_unmap_unplugged(c->slots, 0, c->region_size, &c->plugged, c->block_size,
					&ignored);
		return -1;
	}
	return 0;
}
