/*
 * Memory backends: where a device's one big mapping comes from, and how a range
 * of it is given back to the host (discard). Each backend type lives in its own
 * file with its own recipe (ram, memfd, file, guest_memfd) and constructor; the
 * -object command-line glue that builds them is vmm/object_memory_backend.c.
 */
#ifndef TIDE_BACKEND_H
#define TIDE_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"
#include "util/opts.h" /* enum on_off_auto */

struct memory_backend;

struct memory_backend_ops {
	/* Creates the mapping: b->hva (and b->fd where there is one). */
	int (*map)(struct memory_backend *b, struct error *err);
	/*
	 * Gives [offset, offset+len) back to the host; later reads see zeros. accessible:
	 * the range is mapped read-write now (false: PROT_NONE), for a backend that must
	 * put new memory there.
	 */
	int (*discard)(struct memory_backend *b, uint64_t offset, uint64_t len, bool accessible,
		       struct error *err);
	/* Optional: undoes map where munmap(hva, size) is not all of it. */
	void (*unmap)(struct memory_backend *b);
	/* Optional: at exit, once (memory_backend_free). */
	void (*finalize)(struct memory_backend *b);
	/* Optional: opens what it needs by path, once, before tide confines itself. */
	int (*open)(struct memory_backend *b, struct error *err);
};

/* NUMA policies, the numbers of <numaif.h> (libnuma's header is not a dependency). */
enum { POLICY_DEFAULT = 0, POLICY_PREFERRED = 1, POLICY_BIND = 2, POLICY_INTERLEAVE = 3 };
#define MAX_HOST_NODES 64

/* What every backend type takes (QEMU's properties of the same names). */
struct memory_backend_props {
	uint64_t size;
	bool share;
	bool reserve;
	bool merge;
	bool dump;
	bool dump_set; /* dump= was given (otherwise the machine decides) */
	bool prealloc;
	uint64_t prealloc_threads;
	int policy;		  /* POLICY_* */
	unsigned long host_nodes; /* bit N: host NUMA node N */
};

/* QEMU's defaults; share's depends on the type (memfd and guest_memfd share). */
void memory_backend_props_default(struct memory_backend_props *props, bool share);

/*
 * The constructors check props and their own arguments against the host; NULL with err
 * (naming the type) when something does not fit. free with memory_backend_free().
 */
struct memory_backend *memory_backend_ram_new(const struct memory_backend_props *props,
					      struct error *err);
/* hugetlbsize: with hugetlb only; NULL for the host's default huge page size. */
struct memory_backend *memory_backend_memfd_new(const struct memory_backend_props *props,
						bool hugetlb, const uint64_t *hugetlbsize, bool seal,
						struct error *err);
struct memory_backend *memory_backend_guest_memfd_new(const struct memory_backend_props *props,
						      struct error *err);
struct memory_backend_file_args {
	const char *path;
	bool readonly;
	enum on_off_auto rom;
	bool discard_data;
	uint64_t align; /* 0: the host page size */
};
struct memory_backend *memory_backend_file_new(const struct memory_backend_props *props,
					       const struct memory_backend_file_args *args,
					       struct error *err);
/*
 * For a type's map(): mmap()s all of b->fd read-write with map_flags (MAP_SHARED or
 * MAP_PRIVATE; MAP_NORESERVE is added with reserve=off) into b->hva. On failure the fd is
 * closed and -1 returned with err set and errno kept, for a type that says more.
 */
int memory_backend_map_fd(struct memory_backend *b, int map_flags, struct error *err);
/* For a type's discard(): punches [offset, offset+len) out of b->fd. */
int memory_backend_punch_hole(struct memory_backend *b, uint64_t offset, uint64_t len,
			      struct error *err);
/* ops->open where the type has one (a file backend opens its file). */
int memory_backend_open(struct memory_backend *b, struct error *err);

struct memory_backend {
	const struct memory_backend_ops *ops;
	const char *type_name;
	uint64_t size;
	bool share;   /* MAP_SHARED */
	bool reserve; /* off: MAP_NORESERVE, for devices larger than host RAM */
	uint64_t page_size; /* the host page size backing it (huge pages: theirs) */
	bool rom;     /* mapped read-only (a file backend with readonly=on, rom on) */
	bool starts_with_data; /* a fresh mapping may not read zeros (a file's contents) */
	bool merge;   /* KSM may merge it (QEMU's default) */
	bool dump;    /* in core dumps (QEMU's default) */
	bool dump_set; /* dump= was given; otherwise the machine's dump-guest-core decides */
	bool prealloc; /* populated at start, by prealloc_threads threads */
	uint64_t prealloc_threads;
	int policy;   /* MPOL_DEFAULT, MPOL_PREFERRED, MPOL_BIND, MPOL_INTERLEAVE */
	unsigned long host_nodes; /* bit N: host NUMA node N */
	const char *used_by; /* what took it: boot RAM or a virtio-mem device (one user only) */
	bool guest_memfd; /* fd is a guest_memfd: memslots bind it (REGION2) */
	int vm_fd;    /* the VM a guest_memfd belongs to; set before mapping */
	int fd;	      /* -1 for anonymous memory */
	uint8_t *hva; /* NULL until mapped */
};

/* Maps it, then applies merge, dump, the NUMA policy and prealloc. */
int memory_backend_map(struct memory_backend *b, struct error *err);
/* merge, dump and the NUMA policy on [offset, offset+len) (a backend that maps anew calls it). */
int memory_backend_apply_settings(struct memory_backend *b, uint64_t offset, uint64_t len,
				  struct error *err);
/* Backs [offset, offset+len) with host memory now (prealloc; virtio-mem's prealloc=on plugs). */
int memory_backend_populate(struct memory_backend *b, uint64_t offset, uint64_t len,
			    unsigned threads, struct error *err);
/* fn runs first in every prealloc worker thread (tide gives it its seccomp filter). */
void memory_backend_set_worker_start(void (*fn)(void));
/* The host's transparent huge page size (sysfs), 2 MiB where it cannot be read. */
uint64_t host_thp_size(void);
int memory_backend_discard(struct memory_backend *b, uint64_t offset, uint64_t len,
			   bool accessible, struct error *err);
/* memory-backend-file's share/readonly/rom rules (mm/backend_file.c), QEMU's errors. */
int file_backend_check_modes(bool share, bool readonly, enum on_off_auto rom,
			     bool *rom_out, struct error *err);
/* Unmaps and closes; the backend can be mapped again (after a reset). */
void memory_backend_unmap(struct memory_backend *b);
/* The checks every constructor makes on props (they do not name the option). */
int memory_backend_check_props(const struct memory_backend_props *props, const char *type_name,
			       struct error *err);
/*
 * For a type's constructor: a backend of struct_size bytes (a type's struct begins with a
 * struct memory_backend) with props checked, or NULL with err.
 */
struct memory_backend *memory_backend_alloc(const struct memory_backend_props *props,
					    const struct memory_backend_ops *ops,
					    const char *type_name, size_t struct_size,
					    struct error *err);
/* Unmaps, finalizes and frees (a void * so that it can be a config's free function). */
void memory_backend_free(void *backend);

#endif
