/*
 * memory-backend-guest-memfd: memory from KVM's guest_memfd (Linux 6.18+),
 * created with MMAP | INIT_SHARED so that tide can map it (kvm-api.md §5);
 * memslots bind it with KVM_SET_USER_MEMORY_REGION2 at the offset they alias.
 * A guest_memfd belongs to one VM: each machine (re)start creates a new one.
 * Discard = hole punch.
 */
#include <inttypes.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mm/backend.h"
#include "util/kvm_compat.h"

#define TYPE_NAME "memory-backend-guest-memfd"
#define NEEDED_FLAGS (GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED)

static int gmem_map(struct memory_backend *b, struct error *err)
{
	struct kvm_create_guest_memfd create = { .size = b->size, .flags = NEEDED_FLAGS };
	int flags;

	/* Asked of the VM fd: what guest_memfd offers depends on the VM type. */
	if (ioctl(b->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_GUEST_MEMFD) <= 0)
		return error_set(err, TYPE_NAME ": this host's KVM has no guest_memfd "
					      "(KVM_CAP_GUEST_MEMFD)");
	flags = ioctl(b->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_GUEST_MEMFD_FLAGS);
	if (flags < 0 || ((uint64_t)flags & NEEDED_FLAGS) != NEEDED_FLAGS)
		return error_set(err, TYPE_NAME ": this host's guest_memfd cannot be mapped by tide: "
					      "KVM_CAP_GUEST_MEMFD_FLAGS is %d, tide needs MMAP | "
					      "INIT_SHARED (3; Linux 6.18 and later)",
				 flags < 0 ? 0 : flags);
	b->fd = ioctl(b->vm_fd, KVM_CREATE_GUEST_MEMFD, &create);
	if (b->fd < 0)
		return error_set(err, TYPE_NAME ": KVM_CREATE_GUEST_MEMFD of %" PRIu64 " bytes: %s",
				 b->size, strerror(errno));
	if (fcntl(b->fd, F_SETFD, FD_CLOEXEC) < 0) {
		error_set(err, TYPE_NAME ": FD_CLOEXEC: %s", strerror(errno));
		goto fail;
	}
	return memory_backend_map_fd(b, MAP_SHARED, err);
fail:
	close(b->fd);
	b->fd = -1;
	return -1;
}

static int gmem_discard(struct memory_backend *b, uint64_t offset, uint64_t len, bool accessible,
			struct error *err)
{
	(void)accessible; /* the punch frees the pages and zaps the guest's mappings */
	return memory_backend_punch_hole(b, offset, len, err);
}

static const struct memory_backend_ops gmem_ops = { .map = gmem_map, .discard = gmem_discard };

struct memory_backend *memory_backend_guest_memfd_new(const struct memory_backend_props *props,
						      struct error *err)
{
	struct memory_backend *b;

	if (!props->share) {
		error_set(err, TYPE_NAME " is always shared with KVM: share=off is not possible");
		return NULL;
	}
	b = memory_backend_alloc(props, &gmem_ops, TYPE_NAME, sizeof(*b), err);
	if (b)
		b->guest_memfd = true;
	return b;
}
