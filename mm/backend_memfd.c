/*
 * memory-backend-memfd: a memfd, shared by default as in QEMU; discard = hole
 * punch. hugetlb=on backs it with huge pages (hugetlbsize=, default the host's
 * default huge page size); seal=on (the default, as QEMU) seals its size.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mm/backend.h"
#include "util/size.h"
#include "util/util.h"

#define TYPE_NAME "memory-backend-memfd"

struct memfd_backend {
	struct memory_backend b; /* first: the generic code sees a struct memory_backend */
	bool hugetlb;
	bool seal;
};

/* The host's default huge page size (/proc/meminfo Hugepagesize), 0 when it has none. */
static uint64_t default_huge_page_size(void)
{
	unsigned long long kb = 0;
	char line[128];
	FILE *f = fopen("/proc/meminfo", "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Hugepagesize: %llu kB", &kb) == 1)
			break;
	fclose(f);
	return (uint64_t)kb * 1024;
}

/* Free huge pages of that size (sysfs), -1 when the host does not offer the size. */
static long long free_huge_pages(uint64_t page_size)
{
	char path[96];
	long long n = -1;
	FILE *f;

	snprintf(path, sizeof(path),
		 "/sys/kernel/mm/hugepages/hugepages-%" PRIu64 "kB/free_hugepages",
		 page_size / 1024);
	f = fopen(path, "re");
	if (!f)
		return -1;
	if (fscanf(f, "%lld", &n) != 1)
		n = -1;
	fclose(f);
	return n;
}

static int memfd_map(struct memory_backend *b, struct error *err)
{
	struct memfd_backend *m = (struct memfd_backend *)b;
	int flags = b->share ? MAP_SHARED : MAP_PRIVATE;
	unsigned mfd = MFD_CLOEXEC | (m->seal ? MFD_ALLOW_SEALING : 0);

	/* The page size goes in as log2 at MFD_HUGE_SHIFT, the same encoding as mmap's (26). */
	if (m->hugetlb)
		mfd |= MFD_HUGETLB | ((unsigned)__builtin_ctzll(b->page_size) << MAP_HUGE_SHIFT);
	b->fd = memfd_create("tide-memfd", mfd);
	if (b->fd < 0)
		return error_set(err, TYPE_NAME ": memfd_create: %s", strerror(errno));
	if (ftruncate(b->fd, (off_t)b->size)) {
		error_set(err, TYPE_NAME ": cannot size it to %" PRIu64 " bytes: %s",
			  b->size, strerror(errno));
		goto fail;
	}
	/* Its size never changes again (QEMU's seal=on): nobody can shrink it under the guest. */
	if (m->seal && fcntl(b->fd, F_ADD_SEALS, F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL)) {
		error_set(err, TYPE_NAME ": cannot seal it: %s", strerror(errno));
		goto fail;
	}
	if (memory_backend_map_fd(b, flags, err) == 0)
		return 0;
	if (m->hugetlb && errno == ENOMEM) {
		/* -1 once tide has confined itself: sysfs is no longer opened (docs/security.md). */
		long long avail = free_huge_pages(b->page_size);

		if (avail >= 0)
			error_set(err, TYPE_NAME ": %" PRIu64 " bytes need %" PRIu64 " huge pages of "
					   "%" PRIu64 " KiB; the host has %lld free (raise "
					   "/proc/sys/vm/nr_hugepages)",
				  b->size, b->size / b->page_size, b->page_size / 1024, avail);
		else
			error_set(err, TYPE_NAME ": %" PRIu64 " bytes need %" PRIu64 " huge pages of "
					   "%" PRIu64 " KiB, more than the host has free (raise "
					   "/proc/sys/vm/nr_hugepages)",
				  b->size, b->size / b->page_size, b->page_size / 1024);
	}
	return -1;
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
	if (memory_backend_punch_hole(b, offset, len, err))
		return -1;
	if (!b->share && madvise(b->hva + offset, len, MADV_DONTNEED))
		return error_set(err, TYPE_NAME ": discard: %s", strerror(errno));
	return 0;
}

static const struct memory_backend_ops memfd_ops = { .map = memfd_map, .discard = memfd_discard };

/* hugetlb=on: pages of hugetlbsize (NULL: the host's default), which the host must have. */
static int take_huge_pages(struct memfd_backend *m, const uint64_t *hugetlbsize,
			   struct error *err)
{
	uint64_t page = hugetlbsize ? *hugetlbsize : default_huge_page_size();

	if (!page)
		return error_set(err, TYPE_NAME " hugetlb=on: this host offers no huge pages");
	if (page < 4096 || !is_power_of_2(page))
		return error_set(err, TYPE_NAME " hugetlbsize %" PRIu64 " is not a power of two of "
					       "at least 4 KiB",
				 page);
	if (free_huge_pages(page) < 0)
		return error_set(err, TYPE_NAME " hugetlbsize %" PRIu64 ": the host has no huge "
					       "pages of that size",
				 page);
	if (m->b.size % page)
		return error_set(err, TYPE_NAME " size %" PRIu64 " is not a multiple of the huge "
					       "page size %" PRIu64,
				 m->b.size, page);
	m->b.page_size = page;
	return 0;
}

struct memory_backend *memory_backend_memfd_new(const struct memory_backend_props *props,
						bool hugetlb, const uint64_t *hugetlbsize, bool seal,
						struct error *err)
{
	struct memfd_backend *m;

	if (hugetlbsize && !hugetlb) {
		error_set(err, TYPE_NAME " hugetlbsize needs hugetlb=on");
		return NULL;
	}
	m = (struct memfd_backend *)memory_backend_alloc(props, &memfd_ops, TYPE_NAME, sizeof(*m),
							 err);
	if (!m)
		return NULL;
	m->hugetlb = hugetlb;
	m->seal = seal;
	if (hugetlb && take_huge_pages(m, hugetlbsize, err)) {
		free(m);
		return NULL;
	}
	return &m->b;
}
