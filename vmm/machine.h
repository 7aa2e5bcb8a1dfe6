/*
 * The one central struct of vmm/: a KVM VM with its memory, buses, vCPUs and run state.
 * Devices see it through its board (devices/board.h); vCPU threads through the board and
 * the run state (vmm/run_state.h).
 */
#ifndef TIDE_MACHINE_H
#define TIDE_MACHINE_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/board.h"
#include "devices/io_bus.h"
#include "devices/msi_routes.h"
#include "mm/guest_mem.h"
#include "mm/memslots.h"
#include "vmm/chardev.h"
#include "vmm/config.h"
#include "vmm/run_state.h"

struct vcpu;
struct event_loop;
struct memory_device;
struct arch_vm;
struct machine_cleanup;

struct machine {
	const struct vm_config *cfg;
	struct chardev *console; /* owned by main, outlives resets */
	struct event_loop *loop; /* the I/O thread, owned by main, outlives resets */
	struct event_loop *device_loop; /* the device worker thread (guest requests), the same */

	int kvm_fd;
	int vm_fd;
	struct arch_vm *arch; /* the architecture's own state (arch/arch.h) */

	struct board board; /* what devices see of this machine */
	struct run_state rs;

	struct guest_mem mem;
	struct slot_id_pool slot_ids;	  /* KVM memslot ids; boot RAM holds the first ones */
	struct memslot_budget slot_budget; /* what devices may still take */
	struct msi_routes msi_routes;
	bool msi_routes_ready; /* initialized: destroyed at teardown */
	struct io_bus pio;
	struct io_bus mmio;

	unsigned nr_vcpus;
	struct vcpu *vcpus;

	/* What QMP's query-memory-devices lists, in realize order. */
	struct memory_device *memory_devices;
	unsigned nr_anonymous_devices; /* numbers /machine/peripheral-anon/device[N] */

	/* Devices realized on this machine register a teardown to run in reverse order, and
	 * may register a quiesce step, run for every device before any teardown. */
	struct machine_cleanup *cleanups;
	struct machine_cleanup *quiesces;
};

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
/* -S: the first machine waits, stopped, for cont; query-status says "prelaunch" until then. */
void machine_start_paused(void);
/* -1 when the VM stopped on an internal error: only a system_reset brings it back. */
int machine_cont_from_qmp(void);

/*
 * A vCPU hit what KVM cannot run (an internal error: an instruction it cannot emulate,
 * say on memory that is not there; or KVM_RUN's EFAULT). As QEMU does, the VM stops
 * (STOP), its run state is internal-error, and tide goes on serving QMP; cont is refused
 * until a system_reset, after which the rebuilt VM waits, stopped, for cont.
 */
void machine_guest_internal_error(struct machine *m);
/* QMP's query-status: "running", "paused", "prelaunch" or "internal-error". */
const char *machine_run_state(void);

/* A memory device registers with its machine at realize (it names its QOM path). */
void machine_add_memory_device(struct machine *m, struct memory_device *md);
/* The size-change state of each (a new array; it outlives the devices: their configs own it). */
struct memory_device_events **machine_memory_device_events(struct machine *m, size_t *count);

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

/* Builds the VM from cfg, runs it until a stop request, tears it down. Returns the stop kind. */
enum machine_stop machine_run(const struct vm_config *cfg, struct chardev *console,
			      struct event_loop *loop, struct event_loop *device_loop,
			      int *exit_status, struct error *err);

#endif
