#include "mm/memslots_kvm.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

static int kvm_set_region(void *opaque, uint32_t id, uint64_t gpa, uint64_t size, void *hva,
			  struct error *err)
{
	struct kvm_userspace_memory_region region = {
		.slot = id,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uintptr_t)hva,
	};

	if (ioctl((int)(intptr_t)opaque, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		return error_set(err, "KVM_SET_USER_MEMORY_REGION slot %u gpa 0x%llx size 0x%llx: %s",
				 id, (unsigned long long)gpa, (unsigned long long)size,
				 strerror(errno));
	return 0;
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

const struct memslot_ops memslot_kvm_ops = { kvm_set_region, kvm_protect };
