/* memory-backend-ram: anonymous memory; discard = MADV_DONTNEED. */
#include <inttypes.h>
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "mm/backend.h"

static int ram_map(struct memory_backend *b, struct error *err)
{
	int flags = (b->share ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS;
	void *p;

	if (!b->reserve)
		flags |= MAP_NORESERVE;
	p = mmap(NULL, b->size, PROT_READ | PROT_WRITE, flags, -1, 0);
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
