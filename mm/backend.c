#include "mm/backend.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "vmm/config.h"
#include "vmm/device.h"
#include "util/log.h"
#include "util/size.h"
#include "util/util.h"

/* The numbers of <numaif.h> (libnuma's header is not a dependency; mbind is a plain syscall). */
enum { POLICY_DEFAULT = 0, POLICY_PREFERRED = 1, POLICY_BIND = 2, POLICY_INTERLEAVE = 3 };
#define MAX_HOST_NODES 64

static int host_has_node(unsigned node)
{
	char path[64];

	snprintf(path, sizeof(path), "/sys/devices/system/node/node%u", node);
	return access(path, F_OK) == 0;
}

/* host-nodes=N or N-M (QEMU's list syntax for one range), policy=...: QEMU's rules. */
static int parse_numa(struct memory_backend *b, struct opts *opts, struct error *err)
{
	static const char *const policies[] = { "default", "preferred", "bind", "interleave" };
	const char *nodes = opts_take(opts, "host-nodes"), *policy = opts_take(opts, "policy");
	unsigned first, last;
	char tail;

	b->policy = POLICY_DEFAULT;
	if (policy) {
		size_t i;

		for (i = 0; i < 4 && strcmp(policy, policies[i]); i++)
			;
		if (i == 4)
			return error_set(err, "%s: property 'policy' must be default, preferred, bind "
					      "or interleave, not '%s'",
					 opts->option, policy);
		b->policy = (int)i;
	}
	if (!nodes) {
		if (b->policy == POLICY_BIND || b->policy == POLICY_INTERLEAVE)
			return error_set(err, "%s: policy=%s needs host-nodes", opts->option, policy);
		return 0;
	}
	if (sscanf(nodes, "%u-%u%c", &first, &last, &tail) != 2) {
		if (sscanf(nodes, "%u%c", &first, &tail) != 1)
			return error_set(err, "%s: host-nodes '%s' is not N or N-M", opts->option,
					 nodes);
		last = first;
	}
	if (first > last || last >= MAX_HOST_NODES)
		return error_set(err, "%s: host-nodes '%s': nodes go from 0 to %d, low to high",
				 opts->option, nodes, MAX_HOST_NODES - 1);
	if (b->policy == POLICY_DEFAULT)
		return error_set(err, "%s: host-nodes must be empty for policy default, or you "
				      "should explicitly specify a policy other than default",
				 opts->option);
	for (unsigned n = first; n <= last; n++) {
		if (!host_has_node(n))
			return error_set(err, "%s: host-nodes: this host has no NUMA node %u",
					 opts->option, n);
		b->host_nodes |= 1UL << n;
	}
	return 0;
}

int memory_backend_parse_common(struct memory_backend *b, struct opts *opts, bool share_default,
				struct error *err)
{
	long page = sysconf(_SC_PAGESIZE);

	const char *size = opts_take(opts, "size");

	if (!size)
		return error_set(err, "%s: %s needs size=SIZE", opts->option, b->type_name);
	if (parse_size(size, 1, &b->size, err))
		return error_prefix(err, "%s: property 'size'", opts->option);
	if (opts_take_bool(opts, "share", &b->share, share_default, err) ||
	    opts_take_bool(opts, "reserve", &b->reserve, true, err) ||
	    opts_take_bool(opts, "merge", &b->merge, true, err) ||
	    opts_take_bool(opts, "dump", &b->dump, true, err) ||
	    opts_take_bool(opts, "prealloc", &b->prealloc, false, err) ||
	    opts_take_u64(opts, "prealloc-threads", &b->prealloc_threads, 1, err) ||
	    parse_numa(b, opts, err))
		return -1;
	if (b->prealloc_threads == 0 || b->prealloc_threads > 64)
		return error_set(err, "%s: prealloc-threads must be 1..64", opts->option);
	b->page_size = (uint64_t)page;
	if (b->size == 0 || b->size % (uint64_t)page)
		return error_set(err, "%s: %s size must be a non-zero multiple of %ld bytes",
				 opts->option, b->type_name, page);
	return 0;
}

void *memory_backend_new_sized(struct opts *opts, const struct memory_backend_ops *ops,
			       const char *type_name, bool share_default, size_t struct_size,
			       struct error *err)
{
	struct memory_backend *b = calloc(1, struct_size);

	if (!b) {
		error_set(err, "out of memory");
		return NULL;
	}
	b->ops = ops;
	b->type_name = type_name;
	b->fd = -1;
	if (!opts_take(opts, "id")) {
		error_set(err, "%s: %s needs id=ID", opts->option, type_name);
		free(b);
		return NULL;
	}
	if (memory_backend_parse_common(b, opts, share_default, err)) {
		free(b);
		return NULL;
	}
	return b;
}

void *memory_backend_new(struct opts *opts, const struct memory_backend_ops *ops,
			 const char *type_name, bool share_default, struct error *err)
{
	return memory_backend_new_sized(opts, ops, type_name, share_default,
					sizeof(struct memory_backend), err);
}

void memory_backend_free(void *config)
{
	struct memory_backend *b = config;

	if (!b)
		return;
	memory_backend_unmap(b);
	if (b->ops->finalize)
		b->ops->finalize(b);
	free(b);
}

int backend_parse_onoffauto(const char *text, enum backend_onoffauto *out)
{
	static const struct {
		const char *name;
		enum backend_onoffauto value;
	} names[] = { { "on", BACKEND_ON }, { "off", BACKEND_OFF }, { "auto", BACKEND_AUTO } };

	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		if (!strcmp(text, names[i].name)) {
			*out = names[i].value;
			return 0;
		}
	}
	return -1;
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
		return error_set(err, "%s: cannot preallocate %llu bytes: %s", b->type_name,
				 (unsigned long long)len, strerror(error));
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
		return error_set(err, "discard 0x%llx+0x%llx is outside the %llu-byte backend",
				 (unsigned long long)offset, (unsigned long long)len,
				 (unsigned long long)b->size);
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

struct memory_backend *memory_backend_find(const struct vm_config *cfg, const char *id,
					   const char *who, struct error *err)
{
	for (size_t i = 0; i < cfg->nr_devices; i++) {
		const struct device_instance *d = &cfg->devices[i];
		struct memory_backend *b = d->config;

		if (d->type->kind != TYPE_OBJECT || !d->id || strcmp(d->id, id) ||
		    strncmp(d->type->name, "memory-backend-", 15))
			continue;
		if (b->used_by) {
			error_set(err, "%s: memory backend '%s' is already %s's", who, id, b->used_by);
			return NULL;
		}
		b->used_by = who;
		return b;
	}
	error_set(err, "%s: '%s' is not a memory backend object (-object memory-backend-*,id=%s)",
		  who, id, id);
	return NULL;
}
