/*
 * The one central struct: a KVM VM with its memory, buses, vCPUs and the
 * state every device may need. Everything else receives a struct machine *.
 */
#ifndef TIDE_MACHINE_H
#define TIDE_MACHINE_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "mm/guest_mem.h"
#include "mm/memslots.h"
#include "devices/msi_routes.h"
#include "vmm/chardev.h"
#include "vmm/config.h"
#include "devices/io_bus.h"

struct vcpu;
struct pci_bus;
struct event_loop;
struct memory_device;
struct arch_vm;

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
	uint32_t device_slots_left;	  /* device parts may still take (at most 2048) */
	uint32_t kvm_slots_left;	  /* what KVM has left after boot RAM and the devices */
	struct msi_routes msi_routes;
	bool msi_routes_ready; /* initialized: destroyed at teardown */
	struct event_loop *loop;	  /* the I/O thread, owned by main, outlives resets */
	struct io_bus pio;
	struct io_bus mmio;
	struct pci_bus *pci;

	struct arch_vm *arch; /* the architecture's own state (arch/arch.h) */
	unsigned nr_vcpus;
	struct vcpu *vcpus;

	_Atomic int stop;	/* enum machine_stop; the first request wins */
	int exit_status;
	pthread_mutex_t stop_lock; /* makes exit_status and stop one update */
	int stop_eventfd;	/* written on a stop request; machine_run() waits on it */

	/* QMP's stop: vCPUs park before their next KVM_RUN until cont (or a stop request). */
	_Atomic bool pause_requested;
	pthread_mutex_t pause_lock;
	pthread_cond_t pause_cond; /* a vCPU parked, or the pause or the machine ended */
	unsigned vcpus_parked;
	/* kvmclock as the stop found it, put back at cont (QEMU's rule: guest time stands
	 * still while the VM is stopped). Under pause_lock. */
	struct kvm_clock_data paused_clock;
	bool clock_saved;

	/*
	 * Memslot replacements: while holders is not 0, no vCPU enters KVM_RUN, and the
	 * holder waits until none is inside it (QEMU's accel_ioctl_inhibit).
	 */
	pthread_mutex_t gate_lock;
	pthread_cond_t gate_cond;
	unsigned gate_holders;
	unsigned vcpus_in_guest;
	bool vcpus_joining; /* teardown: no more kicks (a joined thread cannot take a signal) */

	/* What QMP's query-memory-devices lists, in realize order. */
	struct memory_device *memory_devices;
	unsigned nr_anonymous_devices; /* numbers /machine/peripheral-anon/device[N] */

	/* Devices realized on this machine register a teardown to run in reverse order, and
	 * may register a quiesce step, run for every device before any teardown. */
	struct machine_cleanup *cleanups;
	struct machine_cleanup *quiesces;
};

/* Ask the machine to stop: the first request wins; vCPUs are kicked out of KVM_RUN. */
void machine_request_exit(struct machine *m, int status);
void machine_request_reset(struct machine *m);
/* A guest-initiated reset: exits 0 with -no-reboot, otherwise resets. */
void machine_guest_reset(struct machine *m);

/* Ctrl-A x on the console, QMP's quit, system_reset: on whichever machine is running. */
void machine_quit_current(void *unused);
void machine_quit_current_from_qmp(void);
/* QMP's system_reset: rebuilds the machine (with -no-reboot it exits, as QEMU does). */
void machine_reset_current_from_qmp(void);

/*
 * QMP's stop and cont. The state outlives resets (a stopped VM stays stopped
 * through system_reset, as in QEMU). stop returns at once; the vCPUs park at
 * their next exit and the last one to park sends STOP. cont sends RESUME.
 */
void machine_stop_from_qmp(void);
/* -1 when the VM stopped on an internal error: only a system_reset brings it back. */
int machine_cont_from_qmp(void);

/*
 * A vCPU hit what KVM cannot run (an internal error: an instruction it cannot emulate,
 * say on memory that is not there; or KVM_RUN's EFAULT). As QEMU does, the VM stops
 * (STOP), its run state is internal-error, and tide goes on serving QMP; cont is refused
 * until a system_reset, after which the rebuilt VM waits, stopped, for cont.
 */
void machine_guest_internal_error(struct machine *m);
/* QMP's query-status: "running", "paused" or "internal-error". */
const char *machine_run_state(void);

/*
 * vCPU threads call this before KVM_RUN when pause_requested is set. True when the vCPU
 * was held by a stop and goes on now (it then tells the guest's kvmclock it was paused).
 */
bool machine_vcpu_park(struct machine *m);

/*
 * Holds every vCPU outside KVM_RUN (hold true) until released (hold false): a device
 * that replaces a memslot covering memory the guest uses does it meanwhile. Returns
 * once no vCPU is in the guest. opaque: the machine (a memslot_kvm_target callback).
 */
void machine_hold_vcpus(void *machine, bool hold);
/* vCPU threads around KVM_RUN: enter waits while a holder holds. */
void machine_vcpu_enter_guest(struct machine *m);
void machine_vcpu_leave_guest(struct machine *m);

/*
 * The running machine for a QMP command, NULL (and nothing held) while none is. A machine
 * is held until machine_release_current(): it is not torn down meanwhile.
 */
struct machine *machine_acquire_current(void);
void machine_release_current(void);
/*
 * True when commands may run: a machine is current, or none will be again. Between
 * two machines (start-up, a reset) the QMP server holds its clients' commands and
 * runs them when the listener says the current machine changed (it is called under
 * tide's lock for the current machine: it may only wake someone up).
 */
bool machine_current_ready(void);
void machine_on_current_change(void (*fn)(void *), void *opaque);
/* machine_run() publishes its machine here (NULL before teardown); unit tests a fake one. */
void machine_set_current(struct machine *m);
/* main: no machine follows; held commands run (and find none). */
void machine_no_more(void);

/* A memory device registers with its machine at realize (it names its QOM path). */
void machine_add_memory_device(struct machine *m, struct memory_device *md);
/* The device's plugged size changed: MEMORY_DEVICE_SIZE_CHANGE (rate-limited). */
void machine_memory_device_size_changed(struct machine *m, struct memory_device *md,
					uint64_t size);

/* ISA-style interrupt lines through the in-kernel irqchip (KVM_IRQ_LINE). */
int machine_irq_set(struct machine *m, unsigned gsi, int level);

/*
 * Devices take memslots here: parts (one memslot each when fully plugged; at most 2048 for
 * all devices) and holes (memslots beyond one per part, for runs of plugged blocks with
 * unplugged ones between them). -1 with err when the cap or KVM has too few left for the
 * parts; *holes is lowered to what KVM has left beside them.
 */
int machine_reserve_device_slots(struct machine *m, uint32_t parts, uint32_t *holes,
				 const char *who, struct error *err);

/* Runs fn(opaque) when the machine is torn down (reset or exit), last registered first. */
int machine_add_cleanup(struct machine *m, void (*fn)(void *), void *opaque);
/*
 * Runs fn(opaque) at teardown once the vCPUs are gone and before any cleanup: a device
 * stops its I/O-thread work there, since that work may reach another device's memory
 * (plugged virtio-mem blocks are RAM for every device).
 */
int machine_add_quiesce(struct machine *m, void (*fn)(void *), void *opaque);

/*
 * /dev/kvm is opened once, before tide gives up its privileges, and stays open for every
 * machine (a reset builds a new VM from it).
 */
int machine_open_kvm(struct error *err);
void machine_close_kvm(void);

/* Builds the VM from cfg, runs it until a stop request, tears it down. Returns the stop kind. */
enum machine_stop machine_run(const struct vm_config *cfg, struct chardev *console,
			      struct event_loop *loop, int *exit_status, struct error *err);

#endif
