/* memslot_ops for a real VM: KVM_SET_USER_MEMORY_REGION and mprotect(). opaque: the vm fd. */
#ifndef TIDE_MEMSLOTS_KVM_H
#define TIDE_MEMSLOTS_KVM_H

#include "mm/memslots.h"

extern const struct memslot_ops memslot_kvm_ops;

/* The vm fd as memslot_ops opaque (KVM fds are small non-negative ints). */
static inline void *memslot_kvm_opaque(int vm_fd)
{
	return (void *)(intptr_t)vm_fd;
}

#endif
