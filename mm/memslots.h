/*
 * KVM memslots for one device region. The region is ONE host mapping, cut into
 * equal parts on 128 MiB boundaries (QEMU's `memslots=N` counts the parts). A
 * part holds any number of KVM memslots, each aliasing its range of the host
 * mapping; which ones is the caller's decision (virtio_mem_core.c: one per run
 * of plugged blocks). A part that holds no memslot is PROT_NONE on the host.
 * This file only offers the primitives; KVM itself is behind memslot_ops so
 * tests can record exactly what happens.
 */
#ifndef TIDE_MEMSLOTS_H
#define TIDE_MEMSLOTS_H

#include <stdbool.h>
#include <stdint.h>

#include "util/error.h"

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
int slot_id_alloc(struct slot_id_pool *pool, uint32_t *id, struct error *err);
void slot_id_release(struct slot_id_pool *pool, uint32_t id);

struct memslot_ops {
	/* KVM_SET_USER_MEMORY_REGION: size 0 deletes the slot. */
	int (*set_region)(void *opaque, uint32_t id, uint64_t gpa, uint64_t size, void *hva,
			  struct error *err);
	/* Host protection of a part's range: PROT_NONE while it holds no memslot. NULL: none. */
	int (*protect)(void *opaque, void *hva, uint64_t size, bool accessible, struct error *err);
	/*
	 * Holds every vCPU outside the guest (pause true) until called with false: a memslot
	 * that covers plugged memory is only ever replaced while no vCPU can touch it. NULL:
	 * no vCPUs (tests).
	 */
	void (*pause_guest)(void *opaque, bool pause);
};

struct memslot_counters {
	uint64_t maps;
	uint64_t unmaps;
	uint64_t guest_pauses; /* times the vCPUs were held out for a replacement */
};

/* One KVM memslot: [offset, offset + size) of the region, inside one part. */
struct memslot {
	uint64_t offset;
	uint64_t size;
	uint32_t kvm_id;
};

struct memslot_region {
	const char *name; /* for the log lines: the owning device */
	uint64_t gpa;
	uint64_t size;
	uint8_t *hva;
	uint64_t part_size;
	uint32_t nr_parts;
	uint32_t *part_slots;	/* per part: how many memslots it holds */
	bool *part_accessible;	/* per part: read-write on the host (else PROT_NONE) */
	uint32_t parts_mapped;	/* parts holding at least one memslot */
	struct memslot *slots;	/* sorted by offset */
	uint32_t nr_slots;
	uint32_t max_slots;	/* the most KVM memslots this region may hold at once */
	struct memslot_counters counters;
	struct slot_id_pool *pool;
	const struct memslot_ops *ops;
	void *ops_opaque;
};

/*
 * Part size for a device: a multiple of the granule max(128 MiB, block_size),
 * the smallest that tiles size with at most max_parts equal parts; nr_parts
 * > 0 asks for that many instead (memslots=N). size must be a multiple of the
 * granule.
 */
int memslot_pick_size(uint64_t size, uint64_t block_size, uint32_t nr_parts, uint32_t max_parts,
		      uint64_t *part_size, struct error *err);

/*
 * How many memslots all devices together may use: what KVM offers
 * (KVM_CAP_NR_MEMSLOTS) less boot RAM's, at most max_for_devices.
 */
int memslot_device_budget(int kvm_nr_memslots, uint32_t boot_slots, uint32_t max_for_devices,
			  uint32_t *budget, struct error *err);

/* Device parts all devices together may map (one memslot each), whatever KVM offers. */
#define MEMSLOT_MAX_DEVICE_SLOTS 2048

/*
 * What devices may still take: parts (one memslot each when fully plugged; at most
 * MEMSLOT_MAX_DEVICE_SLOTS for all devices) and holes (memslots beyond one per part,
 * for runs of plugged blocks with unplugged ones between them), within what KVM has.
 */
struct memslot_budget {
	uint32_t device_left;
	uint32_t kvm_left; /* UINT32_MAX before KVM is asked */
};

void memslot_budget_init(struct memslot_budget *b, uint32_t kvm_left);
/*
 * The one check: -1 with err when too few are left for the parts; *holes (NULL: none) is
 * lowered, with a warning, to what KVM has left beside them. who names the device.
 */
int memslot_budget_take(struct memslot_budget *b, uint32_t parts, uint32_t *holes,
			const char *who, struct error *err);

/* max_slots: the most memslots the region may hold at once (at least one per part). */
int memslot_region_init(struct memslot_region *r, uint64_t gpa, uint64_t size, void *hva,
			uint64_t part_size, uint32_t max_slots, struct slot_id_pool *pool,
			const struct memslot_ops *ops, void *ops_opaque, struct error *err);
/* Removes every memslot still in KVM and frees the bookkeeping. */
void memslot_region_destroy(struct memslot_region *r);

/*
 * Adds one memslot for [offset, offset + size): page-aligned, inside one part, overlapping
 * no other. The part becomes accessible on the host first if it held none.
 */
int memslot_map(struct memslot_region *r, uint64_t offset, uint64_t size, struct error *err);
/*
 * Removes the memslot at index i of r->slots. A part left with none becomes PROT_NONE,
 * unless refilled: the caller adds another memslot there at once (a run replaced).
 */
int memslot_unmap(struct memslot_region *r, uint32_t i, bool refilled, struct error *err);
/* The memslots inside part p: r->slots[*first, *first + r->part_slots[p]). */
uint32_t memslot_first_in_part(const struct memslot_region *r, uint32_t part);
bool memslot_part_mapped(const struct memslot_region *r, uint32_t part);
/* Whether part's host range is read-write (else PROT_NONE). */
bool memslot_part_accessible(const struct memslot_region *r, uint32_t part);
/* Whether KVM maps [offset, offset + len) of the region, wholly (it may span memslots). */
bool memslot_covers(const struct memslot_region *r, uint64_t offset, uint64_t len);
void memslot_pause_guest(struct memslot_region *r, bool pause);

/*
 * memslot_ops for a real VM: KVM_SET_USER_MEMORY_REGION (REGION2 for a guest_memfd
 * backend) and mprotect(). opaque: a struct memslot_kvm_target.
 */
struct memory_backend;
extern const struct memslot_ops memslot_kvm_ops;

/*
 * Where memslots go: the VM, the backend whose mapping they alias (NULL: anonymous), and
 * who holds the vCPUs out of the guest while a memslot is replaced (NULL: nobody runs).
 */
struct memslot_kvm_target {
	int vm_fd;
	const struct memory_backend *backend;
	void (*hold_vcpus)(void *opaque, bool hold);
	void *hold_opaque;
};

/*
 * One memslot: [gpa, gpa+size) -> hva (size 0 deletes it). hva lies in backend's
 * mapping when backend is set; a guest_memfd backend binds the same offset of its file.
 */
int kvm_set_memslot(int vm_fd, uint32_t slot, uint64_t gpa, uint64_t size, void *hva,
		    const struct memory_backend *backend, struct error *err);

#endif
