/* memory-backend-memfd: a memfd, shared by default as in QEMU; discard = hole punch. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mm/backend.h"
#include "vmm/device.h"

static int memfd_map(struct memory_backend *b, struct error *err)
{
	int flags = b->share ? MAP_SHARED : MAP_PRIVATE;
	void *p;

	b->fd = memfd_create("tide-memfd", MFD_CLOEXEC);
	if (b->fd < 0)
		return error_set(err, "memory-backend-memfd: memfd_create: %s", strerror(errno));
	if (ftruncate(b->fd, (off_t)b->size)) {
		error_set(err, "memory-backend-memfd: cannot size it to %llu bytes: %s",
			  (unsigned long long)b->size, strerror(errno));
		goto fail;
	}
	if (!b->reserve)
		flags |= MAP_NORESERVE;
	p = mmap(NULL, b->size, PROT_READ | PROT_WRITE, flags, b->fd, 0);
	if (p == MAP_FAILED) {
		error_set(err, "memory-backend-memfd: cannot map %llu bytes: %s",
			  (unsigned long long)b->size, strerror(errno));
		goto fail;
	}
	b->hva = p;
	return 0;
fail:
	close(b->fd);
	b->fd = -1;
	return -1;
}

static int memfd_discard(struct memory_backend *b, uint64_t offset, uint64_t len,
                         bool accessible, struct error *err)
{
	(void)accessible; /* both recipes keep the mapping itself */
	/*
	 * A private mapping also needs the hole punch: its copy-on-write faults filled the
	 * file's page cache with zero pages that MADV_DONTNEED alone leaves resident. The
	 * memfd is ours and then only holds zeros, so the punch goes first: if it fails,
	 * the guest's private pages are still there and the unplug can be undone (BUSY).
	 */
	if (fallocate(b->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)offset,
		      (off_t)len))
		return error_set(err, "memory-backend-memfd: hole punch: %s", strerror(errno));
	if (!b->share && madvise(b->hva + offset, len, MADV_DONTNEED))
		return error_set(err, "memory-backend-memfd: discard: %s", strerror(errno));
	return 0;
}

static const struct memory_backend_ops memfd_ops = { .map = memfd_map, .discard = memfd_discard };

static void *memfd_parse(struct opts *opts, struct error *err)
{
	return memory_backend_new(opts, &memfd_ops, "memory-backend-memfd", true, err);
}

static const struct device_type memory_backend_memfd_type = {
	.name = "memory-backend-memfd",
	.kind = TYPE_OBJECT,
	.help = "id=ID,size=SIZE[,share=on|off][,reserve=on|off]: memfd memory (share=on default)",
	.parse = memfd_parse,
	.realize = memory_backend_realize,
	.free_config = memory_backend_free,
};
DEVICE_TYPE_REGISTER(memory_backend_memfd_type)
