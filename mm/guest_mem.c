#include "mm/guest_mem.h"

#include <inttypes.h>
#include <errno.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "mm/backend.h"
#include "mm/memslots.h"
#include "util/log.h"

void guest_mem_split(const struct guest_ram_layout *layout, uint64_t ram_size,
		     uint64_t *low_size, uint64_t *high_size)
{
	uint64_t low_max = layout->low_end - layout->base;

	*low_size = ram_size < low_max ? ram_size : low_max;
	*high_size = ram_size - *low_size;
}

static int add_region(struct guest_mem *mem, struct mem_region region, struct error *err)
{
	uint64_t gpa = region.gpa, size = region.size;

	if (mem->count == GUEST_MEM_MAX_REGIONS)
		return error_set(err, "too many guest memory regions");
	if (size == 0 || gpa + size < gpa)
		return error_set(err, "guest memory region at 0x%" PRIx64 " is empty or wraps",
				 gpa);
	for (unsigned i = 0; i < mem->count; i++) {
		const struct mem_region *r = &mem->regions[i];

		if (gpa < r->gpa + r->size && r->gpa < gpa + size)
			return error_set(err, "guest memory region at 0x%" PRIx64 " overlaps one "
					      "at 0x%" PRIx64,
					 gpa, r->gpa);
	}
	mem->regions[mem->count++] = region;
	return 0;
}

int guest_mem_add(struct guest_mem *mem, uint64_t gpa, uint64_t size, void *hva,
		  struct error *err)
{
	return add_region(mem, (struct mem_region){ .gpa = gpa, .size = size, .hva = hva }, err);
}

int guest_mem_add_hotplug(struct guest_mem *mem, uint64_t gpa, uint64_t size, void *hva,
			  mem_region_usable_fn usable, void *opaque, struct error *err)
{
	return add_region(mem, (struct mem_region){ .gpa = gpa, .size = size, .hva = hva,
						    .usable = usable, .opaque = opaque },
			  err);
}

/* The region holding all of [gpa, gpa+len), or NULL. */
static const struct mem_region *region_of(const struct guest_mem *mem, uint64_t gpa,
					  uint64_t len)
{
	for (unsigned i = 0; i < mem->count; i++) {
		const struct mem_region *r = &mem->regions[i];

		/* Written to avoid overflow: gpa - r->gpa only once gpa >= r->gpa. */
		if (gpa >= r->gpa && gpa - r->gpa <= r->size && len <= r->size - (gpa - r->gpa))
			return r;
	}
	return NULL;
}

void *guest_mem_ptr(const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	const struct mem_region *r = region_of(mem, gpa, len);

	if (!r || (r->usable && !r->usable(r->opaque, gpa - r->gpa, len)))
		return NULL;
	return r->hva + (gpa - r->gpa);
}

bool guest_mem_covers(const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	return region_of(mem, gpa, len) != NULL;
}

bool guest_mem_in_boot_ram(const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	const struct mem_region *r = region_of(mem, gpa, len);

	return r && !r->usable;
}

int guest_mem_write(const struct guest_mem *mem, uint64_t gpa, const void *src, size_t len,
		    struct error *err)
{
	void *dst = guest_mem_ptr(mem, gpa, len);

	if (!dst)
		return error_set(err, "guest range 0x%" PRIx64 "+0x%zx is not RAM", gpa,
				 len);
	memcpy(dst, src, len);
	return 0;
}

/* hva: where the backend put it, or NULL for an anonymous mapping of its own. */
static int map_ram_region(struct guest_mem *mem, int vm_fd, struct slot_id_pool *slot_ids,
			  uint64_t gpa, uint64_t size, void *hva, struct error *err)
{
	bool own = !hva;
	uint32_t slot;

	/* NORESERVE: boot RAM is committed as the guest touches it, like QEMU's default. */
	if (own) {
		hva = mmap(NULL, size, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (hva == MAP_FAILED)
			return error_set(err, "cannot map %" PRIu64 " bytes of guest RAM: %s",
					 size, strerror(errno));
		if (madvise(hva, size, MADV_HUGEPAGE) && errno != EINVAL)
			log_debug("madvise(MADV_HUGEPAGE) on guest RAM: %s", strerror(errno));
		if (!mem->dump && madvise(hva, size, MADV_DONTDUMP))
			log_debug("madvise(MADV_DONTDUMP) on guest RAM: %s", strerror(errno));
	}
	if (guest_mem_add(mem, gpa, size, hva, err)) {
		if (own)
			munmap(hva, size);
		return -1;
	}
	/* The VM goes away with its memslots: the ids are not given back one by one. */
	if (slot_id_alloc(slot_ids, &slot, err) ||
	    kvm_set_memslot(vm_fd, slot, gpa, size, hva, own ? NULL : mem->backend, err))
		return error_prefix(err, "boot RAM at 0x%" PRIx64, gpa);
	return 0;
}

int guest_mem_create_ram(struct guest_mem *mem, int vm_fd, struct slot_id_pool *slot_ids,
			 const struct guest_ram_layout *layout, uint64_t ram_size, struct memory_backend *backend,
			 bool dump, struct error *err)
{
	uint8_t *base = NULL;

	memset(mem, 0, sizeof(*mem));
	mem->ram_size = ram_size;
	mem->dump = dump;
	guest_mem_split(layout, ram_size, &mem->low_size, &mem->high_size);
	if (backend) {
		backend->vm_fd = vm_fd; /* a guest_memfd belongs to this VM */
		if (memory_backend_map(backend, err))
			return error_prefix(err, "boot RAM");
		mem->backend = backend;
		base = backend->hva;
	}
	if (map_ram_region(mem, vm_fd, slot_ids, layout->base, mem->low_size, base, err))
		return -1;
	if (mem->high_size && map_ram_region(mem, vm_fd, slot_ids, layout->high_base, mem->high_size,
					     base ? base + mem->low_size : NULL, err))
		return -1;
	return 0;
}

void guest_mem_destroy(struct guest_mem *mem)
{
	for (unsigned i = 0; i < mem->count && !mem->backend; i++)
		if (!mem->regions[i].usable && munmap(mem->regions[i].hva, mem->regions[i].size))
			log_warn("munmap of guest RAM failed: %s", strerror(errno));
	if (mem->backend)
		memory_backend_unmap(mem->backend);
	memset(mem, 0, sizeof(*mem));
}
