/*
 * Memslot manager for one device region: the region is ONE host mapping, split
 * into equal aliased KVM memslots on 128 MiB boundaries. A slot is in KVM only
 * while the guest may use it (a block in it is plugged); the rest cost nothing.
 * KVM itself is behind memslot_ops so tests can record exactly what happens.
 */
#ifndef TIDE_MEMSLOTS_H
#define TIDE_MEMSLOTS_H

#include <stdbool.h>
#include <stdint.h>

#include "mm/plug_bitmap.h"
#include "vmm/error.h"

#define MEMSLOT_MIN_SIZE (128ULL << 20)
#define MEMSLOT_MAX_PER_DEVICE 1024

/* KVM slot ids are shared by everything in a VM; the lowest free id is reused first. */
struct slot_id_pool {
	uint64_t *used; /* one bit per id */
	uint32_t capacity;
	uint32_t first_free_hint;
};

int slot_id_pool_init(struct slot_id_pool *pool, uint32_t capacity);
void slot_id_pool_free(struct slot_id_pool *pool);
/* Marks an id taken by someone else (boot RAM). */
void slot_id_pool_reserve(struct slot_id_pool *pool, uint32_t id);
int slot_id_alloc(struct slot_id_pool *pool, uint32_t *id, struct error *err);
void slot_id_release(struct slot_id_pool *pool, uint32_t id);

struct memslot_ops {
	/* KVM_SET_USER_MEMORY_REGION: size 0 deletes the slot. */
	int (*set_region)(void *opaque, uint32_t id, uint64_t gpa, uint64_t size, void *hva,
			  struct error *err);
	/* Host protection of a slot's range: PROT_NONE while it is out of KVM. NULL: none. */
	int (*protect)(void *opaque, void *hva, uint64_t size, bool accessible, struct error *err);
};

struct memslot_counters {
	uint64_t maps;
	uint64_t unmaps;
};

struct memslot_region {
	const char *name; /* for the log lines: the owning device */
	uint64_t gpa;
	uint64_t size;
	uint8_t *hva;
	uint64_t slot_size;
	uint32_t nr_slots;
	int64_t *kvm_id; /* per slot: the KVM slot id, or -1 while unmapped */
	uint32_t nr_mapped;
	struct memslot_counters counters;
	struct slot_id_pool *pool;
	const struct memslot_ops *ops;
	void *ops_opaque;
};

/*
 * Slot size for a device: a multiple of the granule max(128 MiB, block_size),
 * the smallest that tiles size with at most max_slots equal slots; nr_slots
 * > 0 asks for that many instead (memslots=N). size must be a multiple of the
 * granule.
 */
int memslot_pick_size(uint64_t size, uint64_t block_size, uint32_t nr_slots, uint32_t max_slots,
		      uint64_t *slot_size, struct error *err);

/*
 * How many memslots all devices together may use: what KVM offers
 * (KVM_CAP_NR_MEMSLOTS) less boot RAM's, at most max_for_devices.
 */
int memslot_device_budget(int kvm_nr_memslots, uint32_t boot_slots, uint32_t max_for_devices,
			  uint32_t *budget, struct error *err);

int memslot_region_init(struct memslot_region *r, uint64_t gpa, uint64_t size, void *hva,
			uint64_t slot_size, struct slot_id_pool *pool, const struct memslot_ops *ops,
			void *ops_opaque, struct error *err);
/* Unmaps every slot still in KVM and frees the bookkeeping. */
void memslot_region_destroy(struct memslot_region *r);

/* Puts every slot overlapping [offset, offset+len) into KVM (one ioctl per slot). */
int memslot_map_range(struct memslot_region *r, uint64_t offset, uint64_t len, struct error *err);
/*
 * Takes out of KVM every slot overlapping [offset, offset+len) that holds no
 * plugged block any more (bitmap of blocks of block_size from the region start).
 */
int memslot_unmap_unplugged(struct memslot_region *r, uint64_t offset, uint64_t len,
			    const struct plug_bitmap *plugged, uint64_t block_size,
			    struct error *err);
bool memslot_is_mapped(const struct memslot_region *r, uint32_t slot);

#endif
