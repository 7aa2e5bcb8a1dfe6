#include "mm/backend.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/log.h"
#include "util/size.h"
#include "util/util.h"

static int host_has_node(unsigned node)
{
	char path[64];

	snprintf(path, sizeof(path), "/sys/devices/system/node/node%u", node);
	return access(path, F_OK) == 0;
}

void memory_backend_props_default(struct memory_backend_props *props, bool share)
{
	*props = (struct memory_backend_props){
		.share = share,
		.reserve = true,
		.merge = true,
		.dump = true,
		.prealloc_threads = 1,
		.policy = POLICY_DEFAULT,
	};
}

int memory_backend_check_props(const struct memory_backend_props *props, const char *type_name,
			       struct error *err)
{
	long page = sysconf(_SC_PAGESIZE);

	for (unsigned n = 0; n < MAX_HOST_NODES; n++)
		if ((props->host_nodes & (1UL << n)) && !host_has_node(n))
			return error_set(err, "host-nodes: this host has no NUMA node %u", n);
	if (props->prealloc_threads == 0 || props->prealloc_threads > 64)
		return error_set(err, "prealloc-threads must be 1..64");
	if (props->size == 0 || props->size % (uint64_t)page)
		return error_set(err, "%s size must be a non-zero multiple of %ld bytes", type_name,
				 page);
	return 0;
}

struct memory_backend *memory_backend_alloc(const struct memory_backend_props *props,
					    const struct memory_backend_ops *ops,
					    const char *type_name, size_t struct_size,
					    struct error *err)
{
	struct memory_backend *b;

	if (memory_backend_check_props(props, type_name, err))
		return NULL;
	b = calloc(1, struct_size);
	if (!b) {
		error_set(err, "out of memory");
		return NULL;
	}
	b->ops = ops;
	b->type_name = type_name;
	b->fd = -1;
	b->size = props->size;
	b->share = props->share;
	b->reserve = props->reserve;
	b->merge = props->merge;
	b->dump = props->dump;
	b->dump_set = props->dump_set;
	b->prealloc = props->prealloc;
	b->prealloc_threads = props->prealloc_threads;
	b->policy = props->policy;
	b->host_nodes = props->host_nodes;
	b->page_size = (uint64_t)sysconf(_SC_PAGESIZE);
	return b;
}

int memory_backend_map_fd(struct memory_backend *b, int map_flags, struct error *err)
{
	void *p = mmap(NULL, b->size, PROT_READ | PROT_WRITE,
		       map_flags | (b->reserve ? 0 : MAP_NORESERVE), b->fd, 0);
	int map_errno = errno;

	if (p != MAP_FAILED) {
		b->hva = p;
		return 0;
	}
	error_set(err, "%s: cannot map %" PRIu64 " bytes: %s", b->type_name, b->size,
		  strerror(map_errno));
	close(b->fd);
	b->fd = -1;
	errno = map_errno;
	return -1;
}

int memory_backend_punch_hole(struct memory_backend *b, uint64_t offset, uint64_t len,
			      struct error *err)
{
	if (fallocate(b->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)offset,
		      (off_t)len))
		return error_set(err, "%s: hole punch: %s", b->type_name, strerror(errno));
	return 0;
}

int memory_backend_open(struct memory_backend *b, struct error *err)
{
	return b->ops->open ? b->ops->open(b, err) : 0;
}

void memory_backend_free(void *backend)
{
	struct memory_backend *b = backend;

	if (!b)
		return;
	memory_backend_unmap(b);
	if (b->ops->finalize)
		b->ops->finalize(b);
	free(b);
}

/* Read once: after set-up tide opens nothing (docs/security.md). */
uint64_t host_thp_size(void)
{
	static uint64_t cached;
	unsigned long long size = 0;
	FILE *f;

	if (cached)
		return cached;
	f = fopen("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size", "re");
	if (f) {
		if (fscanf(f, "%llu", &size) != 1)
			size = 0;
		fclose(f);
	}
	/* A power of two of at least a page, or the x86-64 value. */
	if (size < 4096 || !is_power_of_2(size))
		size = 2ULL << 20;
	cached = size;
	return size;
}

struct populate_part {
	uint8_t *start;
	uint64_t len;
	int error; /* errno, 0: done */
};

static void (*worker_start_hook)(void);

void memory_backend_set_worker_start(void (*fn)(void))
{
	worker_start_hook = fn;
}

static void populate_part(struct populate_part *p)
{
	/* One call faults the whole range in, as if written (MADV_POPULATE_WRITE, Linux 5.14). */
	if (madvise(p->start, p->len, MADV_POPULATE_WRITE))
		p->error = errno;
}

static void *populate_thread(void *arg)
{
	if (worker_start_hook)
		worker_start_hook();
	populate_part(arg);
	return NULL;
}

int memory_backend_populate(struct memory_backend *b, uint64_t offset, uint64_t len,
			    unsigned threads, struct error *err)
{
	struct populate_part parts[64];
	pthread_t ids[64];
	bool running[64] = { false };
	unsigned count = 0;
	uint64_t chunk;
	int error = 0;

	if (threads == 0 || threads > 64)
		threads = 1;
	/* Whole pages per thread: split on the backend's page size. */
	chunk = (len / threads + b->page_size - 1) / b->page_size * b->page_size;
	for (uint64_t at = 0; at < len; at += chunk)
		parts[count++] = (struct populate_part){ b->hva + offset + at,
							 chunk < len - at ? chunk : len - at, 0 };
	/* The others in threads, the first here; a thread that cannot start is done here too. */
	for (unsigned i = 1; i < count; i++)
		running[i] = pthread_create(&ids[i], NULL, populate_thread, &parts[i]) == 0;
	for (unsigned i = 0; i < count; i++) {
		if (running[i])
			pthread_join(ids[i], NULL);
		else
			populate_part(&parts[i]);
		if (parts[i].error && !error)
			error = parts[i].error;
	}
	if (error)
		return error_set(err, "%s: cannot preallocate %" PRIu64 " bytes: %s", b->type_name,
				 len, strerror(error));
	return 0;
}

/* Caller checks the return of mbind: the policy must hold or the user is told. */
static long mbind_range(void *addr, uint64_t len, int mode, const unsigned long *mask)
{
	/* MPOL_MF_STRICT | MPOL_MF_MOVE (QEMU's): pages already there move, or mbind fails. */
	return syscall(SYS_mbind, addr, len, mode, mask, mask ? MAX_HOST_NODES + 1 : 0, 1 | 2);
}

int memory_backend_apply_settings(struct memory_backend *b, uint64_t offset, uint64_t len,
				  struct error *err)
{
	uint8_t *p = b->hva + offset;

	/*
	 * Transparent huge pages, as QEMU asks for all guest RAM: they matter where the host's
	 * THP mode is "madvise". hugetlb memory has its own pages; a mapping that cannot take
	 * the hint (guest_memfd, a file system without large folios) answers EINVAL.
	 */
	if (b->page_size == (uint64_t)sysconf(_SC_PAGESIZE) && madvise(p, len, MADV_HUGEPAGE) &&
	    errno != EINVAL)
		log_debug("%s: MADV_HUGEPAGE: %s", b->type_name, strerror(errno));
	/* KSM and core dumps: hints; a kernel without KSM refuses MERGEABLE, which costs nothing. */
	if (b->merge && madvise(p, len, MADV_MERGEABLE))
		log_debug("%s: MADV_MERGEABLE: %s", b->type_name, strerror(errno));
	if (!b->dump && madvise(p, len, MADV_DONTDUMP))
		log_warn("%s: MADV_DONTDUMP: %s", b->type_name, strerror(errno));
	if (b->policy != POLICY_DEFAULT && mbind_range(p, len, b->policy, &b->host_nodes) < 0)
		return error_set(err, "%s: mbind (host-nodes policy): %s", b->type_name,
				 strerror(errno));
	return 0;
}

int memory_backend_map(struct memory_backend *b, struct error *err)
{
	if (b->hva)
		return 0;
	if (b->ops->map(b, err))
		return -1;
	if (memory_backend_apply_settings(b, 0, b->size, err))
		goto fail;
	if (b->prealloc &&
	    memory_backend_populate(b, 0, b->size, (unsigned)b->prealloc_threads, err))
		goto fail;
	return 0;
fail:
	memory_backend_unmap(b);
	return -1;
}

int memory_backend_discard(struct memory_backend *b, uint64_t offset, uint64_t len,
			   bool accessible, struct error *err)
{
	if (!b->hva || len == 0 || offset > b->size || len > b->size - offset)
		return error_set(err, "discard 0x%" PRIx64 "+0x%" PRIx64 " is outside the "
				      "%" PRIu64 "-byte backend",
				 offset, len,
				 b->size);
	if (b->rom)
		return error_set(err, "%s: read-only memory is never discarded", b->type_name);
	return b->ops->discard(b, offset, len, accessible, err);
}

void memory_backend_unmap(struct memory_backend *b)
{
	if (b->hva && b->ops->unmap)
		b->ops->unmap(b);
	if (b->hva && munmap(b->hva, b->size))
		log_warn("munmap of a %s: %s", b->type_name, strerror(errno));
	if (b->fd >= 0 && close(b->fd))
		log_warn("close of a %s: %s", b->type_name, strerror(errno));
	b->hva = NULL;
	b->fd = -1;
}
