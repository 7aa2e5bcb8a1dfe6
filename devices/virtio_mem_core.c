#include "devices/virtio_mem_core.h"

#include <inttypes.h>
#include <linux/virtio_mem.h>
#include <string.h>

#include "util/util.h"

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
	if (!is_power_of_2(block_size) || addr % block_size ||
	    region_size % block_size || requested % block_size || requested > region_size)
		return error_set(err, "virtio-mem: inconsistent geometry");
	if (slots && slots->part_size % block_size)
		return error_set(err, "virtio-mem: memslot parts are not block multiples");
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

/* ---- memslots: exactly one per run of plugged blocks inside each part ---- */

static bool block_plugged(const struct vmem_core *c, uint64_t block)
{
	return plug_bitmap_all_set(&c->plugged, block, 1);
}

/* The blocks [*start, *end) of part p. */
static void part_blocks(const struct vmem_core *c, uint32_t p, uint64_t *start, uint64_t *end)
{
	uint64_t per_part = c->slots->part_size / c->block_size;

	*start = (uint64_t)p * per_part;
	*end = *start + per_part;
}

/* The next run of plugged blocks of part p at or after block from, cut at the part's end. */
static bool next_run_in_part(const struct vmem_core *c, uint32_t p, uint64_t from,
			     uint64_t *first, uint64_t *count)
{
	uint64_t start, end;

	part_blocks(c, p, &start, &end);
	if (from >= end || !plug_bitmap_next_run(&c->plugged, from, first, count) ||
	    *first >= end)
		return false;
	if (*first + *count > end)
		*count = end - *first;
	return true;
}

static uint32_t runs_in_part(const struct vmem_core *c, uint32_t p)
{
	uint64_t start, end, first, count;
	uint32_t runs = 0;

	part_blocks(c, p, &start, &end);
	for (uint64_t from = start; next_run_in_part(c, p, from, &first, &count);
	     from = first + count)
		runs++;
	return runs;
}

/* Whether memslot s is exactly one whole run of plugged blocks of its part. */
static bool slot_is_run(const struct vmem_core *c, const struct memslot *s)
{
	uint64_t first = s->offset / c->block_size, count = s->size / c->block_size;
	uint64_t start, end;

	part_blocks(c, (uint32_t)(s->offset / c->slots->part_size), &start, &end);
	return plug_bitmap_all_set(&c->plugged, first, count) &&
	       (first == start || !block_plugged(c, first - 1)) &&
	       (first + count == end || !block_plugged(c, first + count));
}

/*
 * Brings KVM in line with the bitmap for parts p0..p1: memslots that are not a whole run
 * go, then runs without one get one (all removals first: a budget that is full before
 * and after a change still fits during it).
 */
static int apply_runs(struct vmem_core *c, uint32_t p0, uint32_t p1, struct error *err)
{
	struct memslot_region *r = c->slots;

	for (uint32_t p = p0; p <= p1; p++) {
		bool refilled = runs_in_part(c, p) > 0;

		for (uint32_t i = memslot_first_in_part(r, p);
		     i < r->nr_slots && r->slots[i].offset / r->part_size == p;) {
			if (slot_is_run(c, &r->slots[i]))
				i++;
			else if (memslot_unmap(r, i, refilled, err))
				return -1;
		}
	}
	for (uint32_t p = p0; p <= p1; p++) {
		uint64_t start, end, run, len;

		part_blocks(c, p, &start, &end);
		for (uint64_t from = start; next_run_in_part(c, p, from, &run, &len);
		     from = run + len) {
			if (!memslot_covers(r, run * c->block_size, len * c->block_size) &&
			    memslot_map(r, run * c->block_size, len * c->block_size, err))
				return -1;
		}
	}
	return 0;
}

static void set_blocks(struct vmem_core *c, uint64_t first, uint64_t count, bool plugged)
{
	if (plugged)
		plug_bitmap_set(&c->plugged, first, count);
	else
		plug_bitmap_clear(&c->plugged, first, count);
}

/*
 * Plugs (plugged true) or unplugs blocks [first, first + count) in the bitmap and brings
 * KVM in line: one memslot per run of plugged blocks in each part. A memslot that still
 * covers plugged blocks (a run that grew or split) is replaced while the vCPUs are held
 * out of the guest, so no access to plugged memory ever misses. When it fails, bitmap and
 * memslots are put back as they were before the vCPUs run again. Refused with nothing
 * tried (*over_budget) when the runs would need more memslots than the region's budget.
 */
static int change_blocks(struct vmem_core *c, uint64_t first, uint64_t count, bool plugged,
			 bool *over_budget, struct error *err)
{
	struct memslot_region *r = c->slots;
	uint32_t p0, p1;
	int64_t slots_after, parts_mapped_after;
	bool pause = false;
	int ret;

	*over_budget = false;
	set_blocks(c, first, count, plugged);
	if (!r)
		return 0;
	p0 = (uint32_t)(first * c->block_size / r->part_size);
	p1 = (uint32_t)(((first + count) * c->block_size - 1) / r->part_size);
	slots_after = r->nr_slots;
	parts_mapped_after = r->parts_mapped;
	for (uint32_t p = p0; p <= p1; p++) {
		uint32_t have = r->part_slots[p], want = runs_in_part(c, p);
		uint32_t i0 = memslot_first_in_part(r, p);

		slots_after += (int64_t)want - have;
		parts_mapped_after += (int64_t)(want > 0) - (have > 0);
		for (uint32_t i = i0; i < i0 + have; i++)
			pause |= !slot_is_run(c, &r->slots[i]) &&
				 plug_bitmap_count(&c->plugged, r->slots[i].offset / c->block_size,
						   r->slots[i].size / c->block_size);
	}
	/* The first run of a part is always possible; runs beyond it draw on the budget. */
	if (slots_after - parts_mapped_after > (int64_t)(r->max_slots - r->nr_parts)) {
		set_blocks(c, first, count, !plugged);
		*over_budget = true;
		return error_set(err, "the plugged blocks would need %" PRId64 " memslots, %" PRId64
				      " of them for holes inside parts; the budget for holes is %u",
				 slots_after, slots_after - parts_mapped_after,
				 r->max_slots - r->nr_parts);
	}
	if (pause)
		memslot_pause_guest(r, true);
	ret = apply_runs(c, p0, p1, err);
	if (ret) {
		struct error again;

		/* Going back may replace a memslot the failed step left: hold the vCPUs for it. */
		if (!pause)
			memslot_pause_guest(r, true);
		pause = true;
		set_blocks(c, first, count, !plugged);
		if (apply_runs(c, p0, p1, &again))
			log_error("virtio-mem: memslots for blocks %" PRIu64 "+%" PRIu64
				  " could not be restored: %s",
				  first, count, again.msg);
	}
	if (pause)
		memslot_pause_guest(r, false);
	return ret;
}

/* Around host work that may take long (the state lock's comment in virtio_mem_core.h). */
static void host_work_begin(struct vmem_core *c)
{
	if (c->unlock)
		c->unlock(c->lock_opaque);
}

static void host_work_end(struct vmem_core *c)
{
	if (c->relock)
		c->relock(c->lock_opaque);
}

/*
 * One discard per part: each range then has one protection, its part's (read-write while
 * the part holds a memslot, else PROT_NONE). *done: how much was discarded before a failure.
 * Host work: it runs with the state lock let go (the bitmap and memslots it reads stay put).
 */
static int discard_by_part(struct vmem_core *c, uint64_t offset, uint64_t len, uint64_t *done,
			   struct error *err)
{
	uint64_t part = c->slots ? c->slots->part_size : len;
	int ret = 0;

	*done = 0;
	host_work_begin(c);
	while (*done < len) {
		uint64_t n = part - (offset + *done) % part;

		if (n > len - *done)
			n = len - *done;
		bool accessible = !c->slots ||
				  memslot_part_accessible(c->slots, (uint32_t)((offset + *done) / part));

		ret = memory_backend_discard(c->backend, offset + *done, n, accessible, err);
		if (ret)
			break;
		*done += n;
	}
	host_work_end(c);
	return ret;
}

/*
 * Plug order: bitmap and memslots (the part made read-write first), then prealloc. When
 * a step fails the blocks are unplugged again, KVM back as it was, and the guest gets BUSY.
 */
static enum vmem_resp_type plug(struct vmem_core *c, uint64_t first, uint64_t count)
{
	uint64_t offset = first * c->block_size, len = count * c->block_size, done;
	struct error err, ignored;
	bool over_budget;

	if (vmem_plugged_size(c) + len > c->requested_size)
		return VMEM_RESP_NACK;
	if (!plug_bitmap_all_clear(&c->plugged, first, count))
		return VMEM_RESP_ERROR;
	if (change_blocks(c, first, count, true, &over_budget, &err)) {
		log_limited(&c->log_limit, LOG_WARN, "virtio-mem: plug: %s", err.msg);
		c->counters.busy_memslot_budget += over_budget;
		return VMEM_RESP_BUSY;
	}
	/* QEMU's prealloc=on: memory the host cannot back now is not plugged (BUSY). */
	int populated = 0;

	if (c->prealloc && c->backend) {
		host_work_begin(c);
		populated = memory_backend_populate(c->backend, offset, len, 1, &err);
		host_work_end(c);
	}
	if (populated) {
		log_limited(&c->log_limit, LOG_WARN, "virtio-mem: plug: %s", err.msg);
		if (change_blocks(c, first, count, false, &over_budget, &ignored))
			log_error("virtio-mem: blocks %" PRIu64 "+%" PRIu64 " that could not be "
				  "preallocated stay plugged: %s",
				  first, count, ignored.msg);
		else
			discard_by_part(c, offset, len, &done, &ignored);
		return VMEM_RESP_BUSY;
	}
	c->counters.bytes_plugged += len;
	return VMEM_RESP_ACK;
}

/*
 * Unplug order: bitmap and memslots, then discard: the guest can no longer reach the
 * memory when it is discarded, so it never faults discarded pages back in. When a step
 * fails the blocks not discarded yet are plugged and mapped again, their data intact, and
 * the guest gets BUSY; *released says how many blocks did go.
 */
static int release(struct vmem_core *c, uint64_t first, uint64_t count, uint64_t *released,
		   bool *over_budget, struct error *err)
{
	uint64_t offset = first * c->block_size, len = count * c->block_size, done = 0;
	struct error again;
	bool ignored;

	*released = 0;
	if (change_blocks(c, first, count, false, over_budget, err))
		return -1;
	if (c->backend && discard_by_part(c, offset, len, &done, err)) {
		*released = done / c->block_size;
		if (change_blocks(c, first + *released, count - *released, true, &ignored, &again))
			log_error("virtio-mem: blocks %" PRIu64 "+%" PRIu64 " not given back could "
				  "not be plugged again: %s",
				  first + *released, count - *released, again.msg);
		return -1;
	}
	*released = count;
	return 0;
}

static enum vmem_resp_type unplug(struct vmem_core *c, uint64_t first, uint64_t count)
{
	struct error err;
	uint64_t released;
	bool over_budget;
	int ret;

	if (!plug_bitmap_all_set(&c->plugged, first, count))
		return VMEM_RESP_ERROR;
	ret = release(c, first, count, &released, &over_budget, &err);
	c->counters.bytes_unplugged += released * c->block_size;
	if (ret) {
		log_limited(&c->log_limit, LOG_WARN, "virtio-mem: unplug: %s", err.msg);
		c->counters.busy_memslot_budget += over_budget;
		return VMEM_RESP_BUSY;
	}
	return VMEM_RESP_ACK;
}

/* Run by run (a whole run never needs a new memslot); a run that fails stops here with BUSY. */
static enum vmem_resp_type unplug_all(struct vmem_core *c)
{
	uint64_t first, count, from = 0;
	struct error err;
	bool over_budget;

	while (plug_bitmap_next_run(&c->plugged, from, &first, &count)) {
		uint64_t released;
		int ret = release(c, first, count, &released, &over_budget, &err);

		from = first + count;
		c->counters.bytes_unplugged += released * c->block_size;
		if (ret) {
			log_limited(&c->log_limit, LOG_WARN, "virtio-mem: unplug all: %s", err.msg);
			return VMEM_RESP_BUSY;
		}
	}
	/* The one place besides reset where the usable region may shrink (no config interrupt). */
	c->usable_size = vmem_usable_for(c->requested_size, c->region_size, c->block_size);
	return VMEM_RESP_ACK;
}

static enum vmem_resp_type state(struct vmem_core *c, uint64_t first, uint64_t count,
				 uint16_t *out)
{
	static const uint16_t states[] = {
		[PLUG_STATE_PLUGGED] = VMEM_STATE_PLUGGED,
		[PLUG_STATE_UNPLUGGED] = VMEM_STATE_UNPLUGGED,
		[PLUG_STATE_MIXED] = VMEM_STATE_MIXED,
	};

	*out = states[plug_bitmap_state(&c->plugged, first, count)];
	return VMEM_RESP_ACK;
}

struct vmem_result vmem_handle(struct vmem_core *c, const struct vmem_req *req)
{
	struct vmem_result result = { .resp = VMEM_RESP_ERROR };
	uint64_t plugged = c->plugged.nr_plugged, usable = c->usable_size;
	uint64_t first, count;

	switch (req->type) {
	case VMEM_REQ_PLUG:
		c->counters.plug_requests++;
		if (range_ok(c, req, &first, &count))
			result.resp = plug(c, first, count);
		break;
	case VMEM_REQ_UNPLUG:
		c->counters.unplug_requests++;
		if (range_ok(c, req, &first, &count))
			result.resp = unplug(c, first, count);
		break;
	case VMEM_REQ_UNPLUG_ALL:
		c->counters.unplug_all_requests++;
		result.resp = unplug_all(c);
		break;
	case VMEM_REQ_STATE:
		c->counters.state_requests++;
		if (range_ok(c, req, &first, &count))
			result.resp = state(c, first, count, &result.state);
		break;
	}
	c->counters.errors += result.resp == VMEM_RESP_ERROR;
	c->counters.nacks += result.resp == VMEM_RESP_NACK;
	c->counters.busy += result.resp == VMEM_RESP_BUSY;
	result.plugged_size_changed = plugged != c->plugged.nr_plugged;
	result.usable_size_changed = usable != c->usable_size;
	return result;
}

int vmem_set_requested(struct vmem_core *c, uint64_t requested, struct error *err)
{
	uint64_t usable = vmem_usable_for(requested, c->region_size, c->block_size);
	int changed = requested != c->requested_size;

	if (requested % c->block_size)
		return error_set(err, "requested-size %" PRIu64 " is not a multiple of block-size %"
				      PRIu64, requested, c->block_size);
	if (requested > c->region_size)
		return error_set(err, "requested-size %" PRIu64 " is above the device size %" PRIu64,
				 requested, c->region_size);
	if (usable > c->usable_size) {
		c->usable_size = usable;
		changed = 1;
	}
	c->requested_size = requested;
	return changed;
}

bool vmem_range_plugged(const struct vmem_core *c, uint64_t offset, uint64_t len)
{
	uint64_t first = offset / c->block_size;

	if (offset >= c->region_size || len > c->region_size - offset)
		return false;
	return plug_bitmap_all_set(&c->plugged, first,
				   (offset + (len ? len - 1 : 0)) / c->block_size - first + 1);
}

bool vmem_guest_access(struct vmem_core *c, uint64_t offset, uint8_t *data, unsigned len,
		       bool is_write)
{
	if (vmem_range_plugged(c, offset, len)) {
		/* The vCPU exited before a memslot swap, or a failed one left the blocks out of
		 * KVM: plugged memory is memory, reached through the host mapping if it can be. */
		uint32_t p0 = c->slots ? (uint32_t)(offset / c->slots->part_size) : 0;
		uint32_t p1 = c->slots ? (uint32_t)((offset + len - 1) / c->slots->part_size) : 0;

		if (!c->backend || (c->slots && (!memslot_part_accessible(c->slots, p0) ||
						 !memslot_part_accessible(c->slots, p1))))
			return false;
		if (is_write)
			memcpy(c->backend->hva + offset, data, len);
		else
			memcpy(data, c->backend->hva + offset, len);
		return true;
	}
	if (is_write) {
		c->counters.unplugged_writes++;
	} else {
		c->counters.unplugged_reads++;
		memset(data, c->unplugged_readable && offset < c->usable_size ? 0 : 0xff, len);
	}
	log_limited(&c->log_limit, LOG_WARN,
		    "virtio-mem at 0x%" PRIx64 ": the guest %s unplugged memory at 0x%" PRIx64
		    " (%s; %" PRIu64 " reads, %" PRIu64 " writes so far)",
		    c->addr, is_write ? "wrote to" : "read", c->addr + offset,
		    is_write ? "dropped" : "no memory there", c->counters.unplugged_reads,
		    c->counters.unplugged_writes);
	return true;
}

/* --- one request off the virtqueue: the framing, the answer, the response --- */

#define REQ_SIZE 24
#define RESP_SIZE 10

int vmem_serve_request(struct vmem_core *c, struct virtqueue *vq, struct vmem_result *result,
		       uint16_t *type, struct error *err)
{
	struct virtio_mem_req raw;
	struct virtio_mem_resp resp = { 0 };
	struct virtq_chain chain;
	struct vmem_req req;
	size_t readable;
	int ret = virtqueue_pop(vq, &chain, err);

	if (ret != 1)
		return ret;
	readable = virtqueue_read(vq, &chain, &raw, sizeof(raw));
	if (readable < REQ_SIZE)
		return error_set(err, "request of %zu bytes, virtio-mem needs %d", readable,
				 REQ_SIZE);
	if (virtqueue_writable_room(&chain) < RESP_SIZE)
		return error_set(err, "response room of %zu bytes, virtio-mem needs %d",
				 virtqueue_writable_room(&chain), RESP_SIZE);
	/* PLUG, UNPLUG and STATE share one layout; UNPLUG_ALL ignores it. */
	req = (struct vmem_req){ .type = raw.type,
				 .addr = raw.u.plug.addr,
				 .nb_blocks = raw.u.plug.nb_blocks };
	*result = vmem_handle(c, &req);
	*type = raw.type;
	resp.type = (uint16_t)result->resp;
	if (result->resp == VMEM_RESP_ACK && raw.type == VIRTIO_MEM_REQ_STATE)
		resp.u.state.state = result->state;
	if (virtqueue_write(vq, &chain, &resp, RESP_SIZE, err) ||
	    virtqueue_push(vq, chain.head, RESP_SIZE, err))
		return -1;
	return 1;
}
