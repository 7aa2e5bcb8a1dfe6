/*
 * Least privilege: tide needs no capability to run a VM once it is set up (it opens
 * /dev/kvm, the VM, memory and files as their owner). Capabilities and no_new_privs are
 * per thread in Linux, so every thread drops them for itself: main once the first VM is
 * built, the threads that start earlier (I/O, console input) when they start; the vCPU
 * and prealloc threads are created afterwards and inherit the empty sets.
 */
#ifndef TIDE_SANDBOX_H
#define TIDE_SANDBOX_H

#include "vmm/error.h"

/*
 * The calling thread ends up with empty effective, permitted, inheritable and ambient
 * sets, an empty bounding set (where it may still change it: CAP_SETPCAP), and
 * PR_SET_NO_NEW_PRIVS. Idempotent.
 */
int sandbox_drop_thread_privileges(struct error *err);

#endif
