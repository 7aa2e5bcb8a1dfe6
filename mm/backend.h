/*
 * Memory backends (-object memory-backend-*): where a device's one big mapping
 * comes from, and how a range of it is given back to the host (discard). Each
 * backend type lives in its own file with its own recipe (ram, memfd, file).
 */
#ifndef TIDE_BACKEND_H
#define TIDE_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"
#include "vmm/opts.h"

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
};

enum backend_onoffauto { BACKEND_AUTO, BACKEND_ON, BACKEND_OFF };
/* "on", "off" or "auto": 0, or -1 for anything else. */
int backend_parse_onoffauto(const char *text, enum backend_onoffauto *out);

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

/* The properties every backend has (size, share, reserve), for the type's parse(). */
int memory_backend_parse_common(struct memory_backend *b, struct opts *opts, bool share_default,
				struct error *err);
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
int file_backend_check_modes(bool share, bool readonly, enum backend_onoffauto rom,
			     bool *rom_out, struct error *err);
/* Unmaps and closes; the backend can be mapped again (after a reset). */
void memory_backend_unmap(struct memory_backend *b);
/* The -object parse/free pair for backend types, given the type's ops and defaults. */
void *memory_backend_new(struct opts *opts, const struct memory_backend_ops *ops,
			 const char *type_name, bool share_default, struct error *err);
/* The same for a type whose struct begins with a struct memory_backend (struct_size bytes). */
void *memory_backend_new_sized(struct opts *opts, const struct memory_backend_ops *ops,
			       const char *type_name, bool share_default, size_t struct_size,
			       struct error *err);
void memory_backend_free(void *config);
/* The -object backend with that id, or NULL (with err saying why). */
struct vm_config;
struct memory_backend *memory_backend_find(const struct vm_config *cfg, const char *id,
					   const char *who, struct error *err);

#endif
