#include "mm/memslots_kvm.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "util/kvm_compat.h"

int kvm_set_memslot(int vm_fd, uint32_t slot, uint64_t gpa, uint64_t size, void *hva,
		    const struct memory_backend *backend, struct error *err)
{
	if (backend && backend->guest_memfd) {
		/* guest_memfd: the slot also binds the same offset of the file (kvm-api.md §5). */
		struct kvm_userspace_memory_region2 region = {
			.slot = slot,
			.flags = size ? KVM_MEM_GUEST_MEMFD : 0,
			.guest_phys_addr = gpa,
			.memory_size = size,
			.userspace_addr = (uintptr_t)hva,
			.guest_memfd_offset = size ? (uint64_t)((uint8_t *)hva - backend->hva) : 0,
			.guest_memfd = size ? (uint32_t)backend->fd : 0,
		};

		if (ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION2, &region) < 0)
			return error_set(err, "KVM_SET_USER_MEMORY_REGION2 (guest_memfd) slot %u gpa "
					      "0x%llx size 0x%llx: %s",
					 slot, (unsigned long long)gpa, (unsigned long long)size,
					 strerror(errno));
		return 0;
	}
	struct kvm_userspace_memory_region region = {
		.slot = slot,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uintptr_t)hva,
	};

	if (ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		return error_set(err, "KVM_SET_USER_MEMORY_REGION slot %u gpa 0x%llx size 0x%llx: %s",
				 slot, (unsigned long long)gpa, (unsigned long long)size,
				 strerror(errno));
	return 0;
}

static int kvm_set_region(void *opaque, uint32_t id, uint64_t gpa, uint64_t size, void *hva,
			  struct error *err)
{
	const struct memslot_kvm_target *t = opaque;

	return kvm_set_memslot(t->vm_fd, id, gpa, size, hva, t->backend, err);
}

/* Out of KVM, the range is PROT_NONE too: no stray host access can fault it back in. */
static int kvm_protect(void *opaque, void *hva, uint64_t size, bool accessible, struct error *err)
{
	(void)opaque;
	if (mprotect(hva, size, accessible ? PROT_READ | PROT_WRITE : PROT_NONE))
		return error_set(err, "mprotect %p+0x%llx: %s", hva, (unsigned long long)size,
				 strerror(errno));
	return 0;
}

static void kvm_pause_guest(void *opaque, bool pause)
{
	const struct memslot_kvm_target *t = opaque;

	if (t && t->hold_vcpus)
		t->hold_vcpus(t->hold_opaque, pause);
}

const struct memslot_ops memslot_kvm_ops = { kvm_set_region, kvm_protect, kvm_pause_guest };
