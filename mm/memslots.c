#include "mm/memslots.h"

#include <errno.h>
#include <inttypes.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "mm/backend.h"
#include "util/kvm_compat.h"
#include "util/log.h"
#include "util/util.h"

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

static void take_id(struct slot_id_pool *pool, uint32_t id)
{
	if (id < pool->capacity)
		pool->used[id / 64] |= 1ULL << (id % 64);
}

int slot_id_alloc(struct slot_id_pool *pool, uint32_t *id, struct error *err)
{
	for (uint32_t i = pool->first_free_hint; i < pool->capacity; i++) {
		if (!id_used(pool, i)) {
			take_id(pool, i);
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

int memslot_pick_size(uint64_t size, uint64_t block_size, uint32_t nr_parts, uint32_t max_parts,
		      uint64_t *part_size, struct error *err)
{
	uint64_t s = block_size > MEMSLOT_MIN_SIZE ? block_size : MEMSLOT_MIN_SIZE;

	if (!is_power_of_2(block_size))
		return error_set(err, "block size %" PRIu64 " is not a power of two",
				 block_size);
	if (size == 0 || size % s)
		return error_set(err, "size %" PRIu64 " is not a multiple of the %" PRIu64 "-byte "
				      "memslot granule",
				 size, s);
	if (nr_parts) {
		if (nr_parts > max_parts)
			return error_set(err, "memslots=%u is above the limit of %u", nr_parts,
					 max_parts);
		/* The slots must tile the region in equal granule multiples. */
		if (size % nr_parts || (size / nr_parts) % s)
			return error_set(err,
					 "memslots=%u does not split %" PRIu64 " bytes into equal "
					 "slots of a multiple of %" PRIu64 " bytes",
					 nr_parts, size, s);
		*part_size = size / nr_parts;
		return 0;
	}
	/*
	 * The most slots (so the smallest ones) that tile the region in equal granule
	 * multiples without exceeding max_parts. Usually a power of two, but a region of
	 * 1025 granules, say, gets 205 slots of 5 granules.
	 */
	for (uint64_t n = size / s < max_parts ? size / s : max_parts; n >= 1; n--) {
		if ((size / s) % n == 0) {
			*part_size = size / n;
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

void memslot_budget_init(struct memslot_budget *b, uint32_t kvm_left)
{
	b->device_left = MEMSLOT_MAX_DEVICE_SLOTS;
	b->kvm_left = kvm_left;
}

int memslot_budget_take(struct memslot_budget *b, uint32_t parts, uint32_t *holes,
			const char *who, struct error *err)
{
	uint32_t want_holes = holes ? *holes : 0;

	if (parts > b->device_left)
		return error_set(err, "%s needs %u memslots but only %u are left (at most %d for "
				      "all devices); use fewer or larger memslots (memslots=N)",
				 who, parts, b->device_left, MEMSLOT_MAX_DEVICE_SLOTS);
	if (parts > b->kvm_left)
		return error_set(err, "%s needs %u memslots but only %u are left (KVM's limit less "
				      "boot RAM, at most %d for all devices); use fewer or larger "
				      "memslots (memslots=N)",
				 who, parts, b->kvm_left, MEMSLOT_MAX_DEVICE_SLOTS);
	if (want_holes > b->kvm_left - parts) {
		log_warn("%s: KVM has memslots for %u holes left, not %u: a guest that fragments "
			 "its blocks more gets BUSY sooner",
			 who, b->kvm_left - parts, want_holes);
		want_holes = b->kvm_left - parts;
	}
	b->device_left -= parts;
	if (b->kvm_left != UINT32_MAX)
		b->kvm_left -= parts + want_holes;
	if (holes)
		*holes = want_holes;
	return 0;
}

int memslot_region_init(struct memslot_region *r, uint64_t gpa, uint64_t size, void *hva,
			uint64_t part_size, uint32_t max_slots, struct slot_id_pool *pool,
			const struct memslot_ops *ops, void *ops_opaque, struct error *err)
{
	memset(r, 0, sizeof(*r));
	if (part_size == 0 || size % part_size || gpa % MEMSLOT_MIN_SIZE)
		return error_set(err, "memslots of %" PRIu64 " bytes do not tile 0x%" PRIx64
				      "+0x%" PRIx64 " on 128 MiB boundaries",
				 part_size, gpa, size);
	if (max_slots < size / part_size)
		return error_set(err, "%u memslots cannot cover %" PRIu64 " parts", max_slots,
				 size / part_size);
	r->nr_parts = (uint32_t)(size / part_size);
	r->part_slots = calloc(r->nr_parts, sizeof(*r->part_slots));
	r->part_accessible = calloc(r->nr_parts, sizeof(*r->part_accessible));
	r->slots = calloc(max_slots, sizeof(*r->slots));
	if (!r->part_slots || !r->part_accessible || !r->slots) {
		free(r->part_slots);
		free(r->part_accessible);
		free(r->slots);
		memset(r, 0, sizeof(*r));
		return error_set(err, "out of memory for memslots");
	}
	r->gpa = gpa;
	r->size = size;
	r->hva = hva;
	r->part_size = part_size;
	r->max_slots = max_slots;
	r->pool = pool;
	r->ops = ops;
	r->ops_opaque = ops_opaque;
	return 0;
}

bool memslot_part_mapped(const struct memslot_region *r, uint32_t part)
{
	return part < r->nr_parts && r->part_slots[part] > 0;
}

bool memslot_part_accessible(const struct memslot_region *r, uint32_t part)
{
	return part < r->nr_parts && r->part_accessible[part];
}

/* Index of the first memslot that ends after offset (r->nr_slots if none). */
static uint32_t first_ending_after(const struct memslot_region *r, uint64_t offset)
{
	uint32_t lo = 0, hi = r->nr_slots;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (r->slots[mid].offset + r->slots[mid].size <= offset)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

uint32_t memslot_first_in_part(const struct memslot_region *r, uint32_t part)
{
	return first_ending_after(r, (uint64_t)part * r->part_size);
}

bool memslot_covers(const struct memslot_region *r, uint64_t offset, uint64_t len)
{
	uint64_t end = offset + len;

	if (len == 0 || offset >= r->size || len > r->size - offset)
		return false;
	/* Adjacent memslots (across parts) may cover one range together. */
	for (uint32_t i = first_ending_after(r, offset); i < r->nr_slots && offset < end; i++) {
		if (r->slots[i].offset > offset)
			return false;
		offset = r->slots[i].offset + r->slots[i].size;
	}
	return offset >= end;
}

static int protect_part(struct memslot_region *r, uint32_t part, bool accessible,
			struct error *err)
{
	if (r->part_accessible[part] == accessible)
		return 0;
	if (r->ops->protect && r->ops->protect(r->ops_opaque,
					       r->hva + (uint64_t)part * r->part_size,
					       r->part_size, accessible, err))
		return -1;
	r->part_accessible[part] = accessible;
	return 0;
}

void memslot_pause_guest(struct memslot_region *r, bool pause)
{
	if (r->ops->pause_guest)
		r->ops->pause_guest(r->ops_opaque, pause);
	r->counters.guest_pauses += pause;
}

/* Plug order: make the part accessible, then add the memslot (rolled back on failure). */
int memslot_map(struct memslot_region *r, uint64_t offset, uint64_t size, struct error *err)
{
	uint32_t part = (uint32_t)(offset / r->part_size), i, id;

	if (size == 0 || offset >= r->size || size > r->size - offset ||
	    (offset + size - 1) / r->part_size != part || (offset | size) % 4096)
		return error_set(err, "memslot 0x%" PRIx64 "+0x%" PRIx64
				      " is not page-aligned inside one part of the region",
				 offset, size);
	i = first_ending_after(r, offset);
	if (i < r->nr_slots && r->slots[i].offset < offset + size)
		return error_set(err, "memslot 0x%" PRIx64 "+0x%" PRIx64 " overlaps another",
				 offset, size);
	if (r->nr_slots == r->max_slots)
		return error_set(err, "all %u memslots of the region are in use", r->max_slots);
	if (slot_id_alloc(r->pool, &id, err))
		return -1;
	if (protect_part(r, part, true, err))
		goto release;
	if (r->ops->set_region(r->ops_opaque, id, r->gpa + offset, size, r->hva + offset, err)) {
		struct error ignored;

		if (!r->part_slots[part])
			protect_part(r, part, false, &ignored);
		goto release;
	}
	memmove(&r->slots[i + 1], &r->slots[i], (r->nr_slots - i) * sizeof(r->slots[0]));
	r->slots[i] = (struct memslot){ offset, size, id };
	r->nr_slots++;
	r->parts_mapped += r->part_slots[part]++ == 0;
	r->counters.maps++;
	log_info("%s: memslot mapped: gpa 0x%" PRIx64 " size 0x%" PRIx64 " kvm slot %u "
		 "(part %u; %u memslots)",
		 r->name ? r->name : "memslots", r->gpa + offset, size, id, part, r->nr_slots);
	return 0;
release:
	slot_id_release(r->pool, id);
	return -1;
}

/* Unplug order: remove the memslot, then protect an emptied part (the caller discards after). */
int memslot_unmap(struct memslot_region *r, uint32_t i, bool refilled, struct error *err)
{
	struct memslot s = r->slots[i];
	uint32_t part = (uint32_t)(s.offset / r->part_size);

	if (r->ops->set_region(r->ops_opaque, s.kvm_id, r->gpa + s.offset, 0, NULL, err))
		return -1;
	memmove(&r->slots[i], &r->slots[i + 1], (r->nr_slots - i - 1) * sizeof(r->slots[0]));
	r->nr_slots--;
	r->parts_mapped -= --r->part_slots[part] == 0;
	r->counters.unmaps++;
	slot_id_release(r->pool, s.kvm_id);
	log_info("%s: memslot unmapped: gpa 0x%" PRIx64 " size 0x%" PRIx64 " kvm slot %u "
		 "(part %u; %u memslots)",
		 r->name ? r->name : "memslots", r->gpa + s.offset, s.size, s.kvm_id, part,
		 r->nr_slots);
	return r->part_slots[part] || refilled ? 0 : protect_part(r, part, false, err);
}

void memslot_region_destroy(struct memslot_region *r)
{
	struct error ignored;

	while (r->slots && r->nr_slots)
		if (memslot_unmap(r, r->nr_slots - 1, false, &ignored))
			break; /* KVM refused: the VM goes away with its slots anyway */
	free(r->slots);
	free(r->part_slots);
	free(r->part_accessible);
	memset(r, 0, sizeof(*r));
}

/* --- memslot_ops for a real VM: KVM_SET_USER_MEMORY_REGION(2) and mprotect() --- */

int kvm_set_memslot(int vm_fd, uint32_t slot, uint64_t gpa, uint64_t size, void *hva,
		    const struct memory_backend *backend, struct error *err)
{
	if (backend && backend->guest_memfd) {
		/* guest_memfd: the slot also binds the same offset of the file (kvm-api.md §5). */
		struct kvm_userspace_memory_region2 region = {
			.slot = slot,
			.flags = size ? KVM_MEM_GUEST_MEMFD : 0,
			.guest_phys_addr = gpa,
			.memory_size = size,
			.userspace_addr = (uintptr_t)hva,
			.guest_memfd_offset = size ? (uint64_t)((uint8_t *)hva - backend->hva) : 0,
			.guest_memfd = size ? (uint32_t)backend->fd : 0,
		};

		if (ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION2, &region) < 0)
			return error_set(err, "KVM_SET_USER_MEMORY_REGION2 (guest_memfd) slot %u gpa "
					      "0x%" PRIx64 " size 0x%" PRIx64 ": %s",
					 slot, gpa, size,
					 strerror(errno));
		return 0;
	}
	struct kvm_userspace_memory_region region = {
		.slot = slot,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uintptr_t)hva,
	};

	if (ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		return error_set(err, "KVM_SET_USER_MEMORY_REGION slot %u gpa 0x%" PRIx64 " size "
				      "0x%" PRIx64 ": %s",
				 slot, gpa, size,
				 strerror(errno));
	return 0;
}

static int kvm_set_region(void *opaque, uint32_t id, uint64_t gpa, uint64_t size, void *hva,
			  struct error *err)
{
	const struct memslot_kvm_target *t = opaque;

	return kvm_set_memslot(t->vm_fd, id, gpa, size, hva, t->backend, err);
}

/* Out of KVM, the range is PROT_NONE too: no stray host access can fault it back in. */
static int kvm_protect(void *opaque, void *hva, uint64_t size, bool accessible, struct error *err)
{
	(void)opaque;
	if (mprotect(hva, size, accessible ? PROT_READ | PROT_WRITE : PROT_NONE))
		return error_set(err, "mprotect %p+0x%" PRIx64 ": %s", hva, size,
				 strerror(errno));
	return 0;
}

static void kvm_pause_guest(void *opaque, bool pause)
{
	const struct memslot_kvm_target *t = opaque;

	if (t && t->hold_vcpus)
		t->hold_vcpus(t->hold_opaque, pause);
}

const struct memslot_ops memslot_kvm_ops = { kvm_set_region, kvm_protect, kvm_pause_guest };
