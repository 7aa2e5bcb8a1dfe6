/*
 * memslot_ops for a real VM: KVM_SET_USER_MEMORY_REGION (REGION2 for a
 * guest_memfd backend) and mprotect(). opaque: a struct memslot_kvm_target.
 */
#ifndef TIDE_MEMSLOTS_KVM_H
#define TIDE_MEMSLOTS_KVM_H

#include "mm/backend.h"
#include "mm/memslots.h"

extern const struct memslot_ops memslot_kvm_ops;

/*
 * Where memslots go: the VM, the backend whose mapping they alias (NULL: anonymous), and
 * who holds the vCPUs out of the guest while a memslot is replaced (NULL: nobody runs).
 */
struct memslot_kvm_target {
	int vm_fd;
	const struct memory_backend *backend;
	void (*hold_vcpus)(void *opaque, bool hold);
	void *hold_opaque;
};

/*
 * One memslot: [gpa, gpa+size) -> hva (size 0 deletes it). hva lies in backend's
 * mapping when backend is set; a guest_memfd backend binds the same offset of its file.
 */
int kvm_set_memslot(int vm_fd, uint32_t slot, uint64_t gpa, uint64_t size, void *hva,
		    const struct memory_backend *backend, struct error *err);

#endif
