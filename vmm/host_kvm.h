/*
 * /dev/kvm is opened once, before tide gives up its privileges, and stays open for every
 * machine (a reset builds a new VM from it).
 */
#ifndef TIDE_HOST_KVM_H
#define TIDE_HOST_KVM_H

#include "util/error.h"

/* Opens /dev/kvm and checks its API version. */
int host_kvm_open(struct error *err);
void host_kvm_close(void);
/* The open /dev/kvm, -1 before host_kvm_open(). */
int host_kvm(void);

#endif
