/* One thread per vCPU, looping on KVM_RUN and handing exits to the I/O buses. */
#ifndef TIDE_VCPU_H
#define TIDE_VCPU_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "util/error.h"

struct board;
struct run_state;
struct kvm_run;

struct vcpu {
	struct board *board;	/* its buses and memory */
	struct run_state *rs;	/* stop, park and the memslot gate */
	unsigned index;
	int fd;
	struct kvm_run *run;
	size_t run_size;
	pthread_t thread;
	bool thread_started;
	_Atomic int tid; /* the thread's id once it runs (QMP's query-cpus-fast), else 0 */
};

/* Creates the KVM vCPU (id = index = initial APIC ID) and maps its kvm_run. */
int vcpu_create(struct vcpu *vcpu, int vm_fd, struct board *board, struct run_state *rs,
		unsigned index, int mmap_size, struct error *err);
int vcpu_start(struct vcpu *vcpu, struct error *err);
/* Makes KVM_RUN return now or at its next entry; the thread then sees the stop request. */
void vcpu_kick(struct vcpu *vcpu);
void vcpu_join(struct vcpu *vcpu);
void vcpu_destroy(struct vcpu *vcpu);

/* Installs the kick signal handler; call once before starting any vCPU. */
int vcpu_init_signals(struct error *err);

#endif
