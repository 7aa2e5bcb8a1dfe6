/* memory-backend-ram: anonymous memory; discard = MADV_DONTNEED. */
#include <inttypes.h>
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "mm/backend.h"
#include "util/log.h"
#include "util/util.h"

/*
 * Maps size bytes of anonymous memory starting on a huge-page boundary (QEMU aligns its RAM
 * the same way). Unaligned, a transparent huge page could straddle two blocks and back an
 * unplugged one with host memory (hosts with THP "always", or kernels before 6.7 that do
 * not align large anonymous mappings themselves).
 */
static void *map_aligned(uint64_t size, uint64_t align, int flags)
{
	uint8_t *p, *aligned;
	uint64_t head, tail;

	if (size > UINT64_MAX - align) {
		errno = ENOMEM;
		return MAP_FAILED;
	}
	p = mmap(NULL, size + align, PROT_READ | PROT_WRITE, flags, -1, 0);
	if (p == MAP_FAILED)
		return MAP_FAILED;
	aligned = (uint8_t *)ALIGN_UP((uintptr_t)p, align);
	head = (uint64_t)(aligned - p);
	tail = align - head;
	/* If trimming failed, the reservation would only stay a little larger. */
	if ((head && munmap(p, head)) || (tail && munmap(aligned + size, tail)))
		log_warn("memory-backend-ram: trimming the aligned mapping: %s", strerror(errno));
	return aligned;
}

static int ram_map(struct memory_backend *b, struct error *err)
{
	int flags = (b->share ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS;
	uint64_t align = host_thp_size();
	void *p;

	if (!b->reserve)
		flags |= MAP_NORESERVE;
	if (align < b->page_size)
		align = b->page_size;
	p = map_aligned(b->size, align, flags);
	if (p == MAP_FAILED)
		return error_set(err, "memory-backend-ram: cannot map %" PRIu64 " bytes: %s%s",
				 b->size, strerror(errno),
				 b->reserve ? " (reserve=off maps more than the host can commit)" : "");
	b->hva = p;
	return 0;
}

static int ram_discard(struct memory_backend *b, uint64_t offset, uint64_t len,
                       bool accessible, struct error *err)
{
	(void)accessible; /* both recipes keep the mapping itself */
	/* Shared anonymous memory is shmem: only a hole punch frees it. */
	int advice = b->share ? MADV_REMOVE : MADV_DONTNEED;
	uint8_t *p = b->hva + offset;

	if (madvise(p, len, advice) == 0)
		return 0;
	/*
	 * Kernels before 6.7 refuse MADV_REMOVE on a range that is not writable, and an
	 * emptied memslot's range is PROT_NONE by now. The guest cannot reach it (its
	 * memslot is gone), so open it for the punch and close it again (the caller
	 * discards memslot by memslot, so the whole range was PROT_NONE).
	 */
	if (errno == EACCES && b->share && mprotect(p, len, PROT_READ | PROT_WRITE) == 0) {
		int punched = madvise(p, len, MADV_REMOVE);
		int saved = errno;

		if (mprotect(p, len, PROT_NONE))
			return error_set(err, "memory-backend-ram: discard: mprotect: %s",
					 strerror(errno));
		if (punched == 0)
			return 0;
		errno = saved;
	}
	return error_set(err, "memory-backend-ram: discard: %s", strerror(errno));
}

static const struct memory_backend_ops ram_ops = { .map = ram_map, .discard = ram_discard };

struct memory_backend *memory_backend_ram_new(const struct memory_backend_props *props,
					      struct error *err)
{
	return memory_backend_alloc(props, &ram_ops, "memory-backend-ram",
				    sizeof(struct memory_backend), err);
}
