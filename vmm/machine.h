/*
 * The one central struct: a KVM VM with its memory, buses, vCPUs and the
 * state every device may need. Everything else receives a struct machine *.
 */
#ifndef TIDE_MACHINE_H
#define TIDE_MACHINE_H

#include <stdbool.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "mm/guest_mem.h"
#include "mm/memslots.h"
#include "vmm/msi_routes.h"
#include "vmm/chardev.h"
#include "vmm/config.h"
#include "vmm/io_bus.h"

struct vcpu;
struct pci_bus;
struct event_loop;

#define MACHINE_MAX_DEVICE_SLOTS 2048

enum machine_stop {
	MACHINE_RUNNING,
	MACHINE_EXIT,  /* leave tide with exit_status */
	MACHINE_RESET, /* rebuild the VM and boot again */
};

struct machine {
	const struct vm_config *cfg;
	struct chardev *console; /* owned by main, outlives resets */

	int kvm_fd;
	int vm_fd;
	bool emulating_host; /* kvm_pvm: guest kernel code runs in KVM's emulator */
	uint64_t phys_addr_limit; /* first guest-physical address the vCPUs cannot reach */

	struct guest_mem mem;
	struct slot_id_pool slot_ids;	  /* KVM memslot ids; boot RAM holds the first ones */
	uint32_t device_slots_left;	  /* memslots devices may still take (at most 2048) */
	struct msi_routes msi_routes;
	struct event_loop *loop;	  /* the I/O thread, owned by main, outlives resets */
	struct io_bus pio;
	struct io_bus mmio;
	struct pci_bus *pci;

	void *arch; /* the architecture's own state (arch/x86/platform.c) */
	unsigned nr_vcpus;
	struct vcpu *vcpus;

	_Atomic int stop;	/* enum machine_stop; the first request wins */
	int exit_status;
	pthread_mutex_t stop_lock; /* makes exit_status and stop one update */
	int stop_eventfd;	/* written on a stop request; machine_run() waits on it */

	/* Devices realized on this machine register a teardown to run in reverse order. */
	struct machine_cleanup *cleanups;
};

/* Ask the machine to stop: the first request wins; vCPUs are kicked out of KVM_RUN. */
void machine_request_exit(struct machine *m, int status);
void machine_request_reset(struct machine *m);
/* A guest-initiated reset: exits 0 with -no-reboot, otherwise resets. */
void machine_guest_reset(struct machine *m);

/* ISA-style interrupt lines through the in-kernel irqchip (KVM_IRQ_LINE). */
int machine_irq_set(struct machine *m, unsigned gsi, int level);
/* Edge interrupt: raise then lower. */
int machine_irq_pulse(struct machine *m, unsigned gsi);

/* Devices take memslots here: -1 with err when KVM (or the 2048 cap) has too few left. */
int machine_reserve_device_slots(struct machine *m, uint32_t count, const char *who,
				 struct error *err);

/* Runs fn(opaque) when the machine is torn down (reset or exit), last registered first. */
int machine_add_cleanup(struct machine *m, void (*fn)(void *), void *opaque);

/* Ctrl-A x on the console: ends whichever machine is running, with status 0. */
void machine_quit_current(void *unused);

/* Builds the VM from cfg, runs it until a stop request, tears it down. Returns the stop kind. */
enum machine_stop machine_run(const struct vm_config *cfg, struct chardev *console,
			      struct event_loop *loop, int *exit_status, struct error *err);

#endif
