#include "mm/memslots.h"

#include <stdlib.h>
#include <string.h>

#include "vmm/log.h"

int slot_id_pool_init(struct slot_id_pool *pool, uint32_t capacity)
{
	memset(pool, 0, sizeof(*pool));
	pool->used = calloc((capacity + 63) / 64 + 1, sizeof(*pool->used));
	if (!pool->used)
		return -1;
	pool->capacity = capacity;
	return 0;
}

void slot_id_pool_free(struct slot_id_pool *pool)
{
	free(pool->used);
	memset(pool, 0, sizeof(*pool));
}

static bool id_used(const struct slot_id_pool *pool, uint32_t id)
{
	return pool->used[id / 64] & (1ULL << (id % 64));
}

void slot_id_pool_reserve(struct slot_id_pool *pool, uint32_t id)
{
	if (id < pool->capacity)
		pool->used[id / 64] |= 1ULL << (id % 64);
}

int slot_id_alloc(struct slot_id_pool *pool, uint32_t *id, struct error *err)
{
	for (uint32_t i = pool->first_free_hint; i < pool->capacity; i++) {
		if (!id_used(pool, i)) {
			slot_id_pool_reserve(pool, i);
			pool->first_free_hint = i + 1;
			*id = i;
			return 0;
		}
	}
	return error_set(err, "all %u KVM memory slots are in use", pool->capacity);
}

void slot_id_release(struct slot_id_pool *pool, uint32_t id)
{
	if (id >= pool->capacity)
		return;
	pool->used[id / 64] &= ~(1ULL << (id % 64));
	if (id < pool->first_free_hint)
		pool->first_free_hint = id;
}

static bool is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

int memslot_pick_size(uint64_t size, uint64_t block_size, uint32_t nr_slots, uint32_t max_slots,
		      uint64_t *slot_size, struct error *err)
{
	uint64_t s = block_size > MEMSLOT_MIN_SIZE ? block_size : MEMSLOT_MIN_SIZE;

	if (!is_pow2(block_size))
		return error_set(err, "block size %llu is not a power of two",
				 (unsigned long long)block_size);
	if (size == 0 || size % s)
		return error_set(err, "size %llu is not a multiple of the %llu-byte memslot granule",
				 (unsigned long long)size, (unsigned long long)s);
	if (nr_slots) {
		if (nr_slots > max_slots)
			return error_set(err, "memslots=%u is above the limit of %u", nr_slots,
					 max_slots);
		/* The slots must tile the region in equal granule multiples. */
		if (size % nr_slots || (size / nr_slots) % s)
			return error_set(err,
					 "memslots=%u does not split %llu bytes into equal slots "
					 "of a multiple of %llu bytes",
					 nr_slots, (unsigned long long)size, (unsigned long long)s);
		*slot_size = size / nr_slots;
		return 0;
	}
	/*
	 * The most slots (so the smallest ones) that tile the region in equal granule
	 * multiples without exceeding max_slots. Usually a power of two, but a region of
	 * 1025 granules, say, gets 205 slots of 5 granules.
	 */
	for (uint64_t n = size / s < max_slots ? size / s : max_slots; n >= 1; n--) {
		if ((size / s) % n == 0) {
			*slot_size = size / n;
			return 0;
		}
	}
	return error_set(err, "no memslot size fits"); /* not reached: n = 1 always divides */
}

int memslot_device_budget(int kvm_nr_memslots, uint32_t boot_slots, uint32_t max_for_devices,
			  uint32_t *budget, struct error *err)
{
	if (kvm_nr_memslots <= (int64_t)boot_slots)
		return error_set(err, "KVM offers %d memslots, boot RAM alone needs %u",
				 kvm_nr_memslots, boot_slots);
	*budget = (uint32_t)kvm_nr_memslots - boot_slots;
	if (*budget > max_for_devices)
		*budget = max_for_devices;
	return 0;
}

int memslot_region_init(struct memslot_region *r, uint64_t gpa, uint64_t size, void *hva,
			uint64_t slot_size, struct slot_id_pool *pool, const struct memslot_ops *ops,
			void *ops_opaque, struct error *err)
{
	memset(r, 0, sizeof(*r));
	if (slot_size == 0 || size % slot_size || gpa % MEMSLOT_MIN_SIZE)
		return error_set(err, "memslots of %llu bytes do not tile 0x%llx+0x%llx on 128 MiB "
				      "boundaries",
				 (unsigned long long)slot_size, (unsigned long long)gpa,
				 (unsigned long long)size);
	r->kvm_id = malloc((size / slot_size) * sizeof(*r->kvm_id));
	if (!r->kvm_id)
		return error_set(err, "out of memory for memslots");
	r->gpa = gpa;
	r->size = size;
	r->hva = hva;
	r->slot_size = slot_size;
	r->nr_slots = (uint32_t)(size / slot_size);
	for (uint32_t i = 0; i < r->nr_slots; i++)
		r->kvm_id[i] = -1;
	r->pool = pool;
	r->ops = ops;
	r->ops_opaque = ops_opaque;
	return 0;
}

bool memslot_is_mapped(const struct memslot_region *r, uint32_t slot)
{
	return slot < r->nr_slots && r->kvm_id[slot] >= 0;
}

static int protect(struct memslot_region *r, uint32_t slot, bool accessible, struct error *err)
{
	if (!r->ops->protect)
		return 0;
	return r->ops->protect(r->ops_opaque, r->hva + (uint64_t)slot * r->slot_size, r->slot_size,
			       accessible, err);
}

/* Plug order: make the host range accessible, then add the slot (rolled back on failure). */
static int map_slot(struct memslot_region *r, uint32_t slot, struct error *err)
{
	uint64_t offset = (uint64_t)slot * r->slot_size;
	uint32_t id;

	if (slot_id_alloc(r->pool, &id, err))
		return -1;
	if (protect(r, slot, true, err))
		goto release;
	if (r->ops->set_region(r->ops_opaque, id, r->gpa + offset, r->slot_size, r->hva + offset,
			       err)) {
		struct error ignored;

		protect(r, slot, false, &ignored);
		goto release;
	}
	r->kvm_id[slot] = id;
	r->nr_mapped++;
	r->counters.maps++;
	log_info("%s: memslot %u mapped: gpa 0x%llx size 0x%llx kvm slot %u (%u mapped)",
		 r->name ? r->name : "memslots", slot, (unsigned long long)(r->gpa + offset),
		 (unsigned long long)r->slot_size, id, r->nr_mapped);
	return 0;
release:
	slot_id_release(r->pool, id);
	return -1;
}

/* Unplug order: remove the slot, then protect the host range (the caller discards after). */
static int unmap_slot(struct memslot_region *r, uint32_t slot, struct error *err)
{
	uint32_t id = (uint32_t)r->kvm_id[slot];

	if (r->ops->set_region(r->ops_opaque, id, r->gpa + (uint64_t)slot * r->slot_size, 0, NULL,
			       err))
		return -1;
	r->kvm_id[slot] = -1;
	r->nr_mapped--;
	r->counters.unmaps++;
	slot_id_release(r->pool, id);
	log_info("%s: memslot %u unmapped: gpa 0x%llx kvm slot %u (%u mapped)",
		 r->name ? r->name : "memslots", slot,
		 (unsigned long long)(r->gpa + (uint64_t)slot * r->slot_size), id, r->nr_mapped);
	return protect(r, slot, false, err);
}

static int slot_span(const struct memslot_region *r, uint64_t offset, uint64_t len,
		     uint32_t *first, uint32_t *last, struct error *err)
{
	if (len == 0 || offset >= r->size || len > r->size - offset)
		return error_set(err, "range 0x%llx+0x%llx is outside the region",
				 (unsigned long long)offset, (unsigned long long)len);
	*first = (uint32_t)(offset / r->slot_size);
	*last = (uint32_t)((offset + len - 1) / r->slot_size);
	return 0;
}

int memslot_map_range(struct memslot_region *r, uint64_t offset, uint64_t len, struct error *err)
{
	uint32_t first = 0, last = 0;

	if (slot_span(r, offset, len, &first, &last, err))
		return -1;
	for (uint32_t s = first; s <= last; s++)
		if (!memslot_is_mapped(r, s) && map_slot(r, s, err))
			return -1;
	return 0;
}

int memslot_unmap_unplugged(struct memslot_region *r, uint64_t offset, uint64_t len,
			    const struct plug_bitmap *plugged, uint64_t block_size,
			    struct error *err)
{
	uint64_t blocks_per_slot = r->slot_size / block_size;
	uint32_t first = 0, last = 0;

	if (slot_span(r, offset, len, &first, &last, err))
		return -1;
	for (uint32_t s = first; s <= last; s++) {
		if (!memslot_is_mapped(r, s) ||
		    !plug_bitmap_all_clear(plugged, s * blocks_per_slot, blocks_per_slot))
			continue;
		if (unmap_slot(r, s, err))
			return -1;
	}
	return 0;
}

void memslot_region_destroy(struct memslot_region *r)
{
	struct error ignored;

	for (uint32_t s = 0; r->kvm_id && s < r->nr_slots; s++)
		if (memslot_is_mapped(r, s))
			unmap_slot(r, s, &ignored);
	free(r->kvm_id);
	memset(r, 0, sizeof(*r));
}
