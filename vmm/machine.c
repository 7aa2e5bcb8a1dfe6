#include "vmm/machine.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "arch/arch.h"
#include "devices/board.h"
#include "devices/device.h"
#include "vmm/run_state.h"
#include "util/log.h"
#include "vmm/sandbox.h"
#include "devices/memory_device.h"
#include "vmm/host_kvm.h"
#include "vmm/qmp_events.h"
#include "vmm/vcpu.h"

struct machine_cleanup {
	void (*fn)(void *);
	void *opaque;
	struct machine_cleanup *next;
};


static int push_cleanup(struct machine_cleanup **list, void (*fn)(void *), void *opaque)
{
	struct machine_cleanup *c = malloc(sizeof(*c));

	if (!c)
		return -1;
	*c = (struct machine_cleanup){ fn, opaque, *list };
	*list = c;
	return 0;
}


/* Runs and frees a list, first entry first. */
static void run_cleanups(struct machine_cleanup **list)
{
	while (*list) {
		struct machine_cleanup *c = *list;

		*list = c->next;
		c->fn(c->opaque);
		free(c);
	}
}

/* --- the board: what the machine offers its devices (devices/board.h) --- */

static struct machine *machine_of(struct board *b)
{
	return (struct machine *)((char *)b - offsetof(struct machine, board));
}

static void board_irq_set(struct board *b, unsigned gsi, int level)
{
	struct kvm_irq_level irq = { .irq = arch_irq_line(gsi), .level = level };

	if (ioctl(machine_of(b)->vm_fd, KVM_IRQ_LINE, &irq) < 0)
		log_warn("KVM_IRQ_LINE gsi %u level %d: %s", gsi, level, strerror(errno));
}

static void board_guest_reset(struct board *b)
{
	run_state_guest_reset(&machine_of(b)->rs);
}

static void board_request_exit(struct board *b, int status)
{
	run_state_request_exit(&machine_of(b)->rs, status);
}

static void board_guest_internal_error(struct board *b)
{
	machine_guest_internal_error(machine_of(b));
}

static int board_add_cleanup(struct board *b, void (*fn)(void *), void *opaque)
{
	return push_cleanup(&machine_of(b)->cleanups, fn, opaque);
}

static int board_add_quiesce(struct board *b, void (*fn)(void *), void *opaque)
{
	return push_cleanup(&machine_of(b)->quiesces, fn, opaque);
}

static int board_reserve_memslots(struct board *b, uint32_t parts, uint32_t *holes,
				  const char *who, struct error *err)
{
	return memslot_budget_take(&machine_of(b)->slot_budget, parts, holes, who, err);
}

static void board_add_memory_device(struct board *b, struct memory_device *md)
{
	machine_add_memory_device(machine_of(b), md);
}

static void board_memory_device_resized(struct board *b, struct memory_device *md,
					uint64_t size, bool final)
{
	(void)b;
	if (md->events)
		qmp_event_memory_device_size_change(md->events, size, final);
}

static void board_console_write(struct board *b, const uint8_t *buf, size_t len)
{
	struct machine *m = machine_of(b);

	if (m->console)
		chardev_write(m->console, buf, len);
}

static void board_console_set_receiver(struct board *b, board_console_receive_fn fn,
				       void *opaque)
{
	struct machine *m = machine_of(b);

	if (m->console)
		chardev_set_receiver(m->console, fn, opaque);
}

static const struct board_ops machine_board_ops = {
	.irq_set = board_irq_set,
	.guest_reset = board_guest_reset,
	.request_exit = board_request_exit,
	.guest_internal_error = board_guest_internal_error,
	.add_cleanup = board_add_cleanup,
	.add_quiesce = board_add_quiesce,
	.reserve_memslots = board_reserve_memslots,
	.add_memory_device = board_add_memory_device,
	.memory_device_resized = board_memory_device_resized,
	.console_write = board_console_write,
	.console_set_receiver = board_console_set_receiver,
};

static void board_init(struct machine *m)
{
	m->board = (struct board){
		.ops = &machine_board_ops,
		.vm_fd = -1,
		.mem = &m->mem,
		.slot_ids = &m->slot_ids,
		.pio = &m->pio,
		.mmio = &m->mmio,
		.msi_routes = &m->msi_routes,
		.loop = m->loop,
		.device_loop = m->device_loop,
		.hold_vcpus = run_state_hold_vcpus,
		.hold_opaque = &m->rs,
	};
}

static void kick_vcpus(void *machine)
{
	struct machine *m = machine;

	for (unsigned i = 0; i < m->nr_vcpus; i++)
		vcpu_kick(&m->vcpus[i]);
}

static int create_vm(struct machine *m, struct error *err)
{
	m->kvm_fd = host_kvm();
	if (m->kvm_fd < 0)
		return error_set(err, "/dev/kvm is not open");
	int type = arch_kvm_vm_type(m->kvm_fd, err);

	if (type < 0)
		return -1;
	m->vm_fd = ioctl(m->kvm_fd, KVM_CREATE_VM, (unsigned long)type);
	if (m->vm_fd < 0)
		return error_set(err, "KVM_CREATE_VM: %s", strerror(errno));
	m->rs.vm_fd = m->board.vm_fd = m->vm_fd;
	return 0;
}

/* The devices every machine of the architecture has, where it puts them. */
static int create_board_devices(struct machine *m, struct error *err)
{
	size_t count;
	const struct arch_platform_device *devices = arch_platform_devices(&count);

	for (size_t i = 0; i < count; i++) {
		const struct device_type *type = device_type_find(devices[i].type, TYPE_BOARD);

		struct board_device_place at = devices[i].at;

		if (!type)
			return error_set(err, "no board device type '%s'", devices[i].type);
		if (type->realize(&m->board, &at, err)) /* its errors name it */
			return -1;
	}
	return 0;
}

static int init_gsi_routes(struct machine *m, struct error *err)
{
	struct kvm_irq_routing_entry fixed[MSI_ROUTES_MAX_FIXED];
	unsigned first_msi_gsi;
	unsigned n = arch_irqchip_routes(fixed, MSI_ROUTES_MAX_FIXED, &first_msi_gsi);

	if (msi_routes_init(&m->msi_routes, m->vm_fd, fixed, n, first_msi_gsi, err))
		return -1;
	m->msi_routes_ready = true;
	return 0;
}

static int realize_devices(struct machine *m, struct error *err)
{
	for (size_t i = 0; i < m->cfg->nr_devices; i++) {
		const struct device_instance *d = &m->cfg->devices[i];

		if (d->type->realize && d->type->realize(&m->board, d->config, err))
			return error_prefix(err, "%s", d->type->name);
	}
	return 0;
}

static int create_vcpus(struct machine *m, struct error *err)
{
	int mmap_size = ioctl(m->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);

	if (mmap_size <= 0)
		return error_set(err, "KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno));
	m->vcpus = calloc(m->cfg->smp, sizeof(*m->vcpus));
	if (!m->vcpus)
		return error_set(err, "out of memory for vCPUs");
	for (unsigned i = 0; i < m->cfg->smp; i++) {
		m->vcpus[i].fd = -1;
		m->nr_vcpus = m->rs.nr_vcpus = i + 1;
		if (vcpu_create(&m->vcpus[i], m->vm_fd, &m->board, &m->rs, i, mmap_size, err))
			return -1;
		if (arch_vcpu_setup(m->arch, m->vcpus[i].fd, i, m->cfg->smp, &m->mem, err))
			return -1;
	}
	return 0;
}

/* Every KVM memslot id, boot RAM's included, comes from one pool of what KVM offers. */
static int init_memslot_ids(struct machine *m, struct error *err)
{
	int max = ioctl(m->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_MEMSLOTS);

	if (max <= 0)
		return error_set(err, "KVM offers no memslots (KVM_CAP_NR_MEMSLOTS is %d)", max);
	if (slot_id_pool_init(&m->slot_ids, (uint32_t)max))
		return error_set(err, "out of memory for memslot ids");
	return 0;
}

/* Boot RAM took its memslots; devices share the rest (budget.kvm_left). */
static int init_device_slot_budget(struct machine *m, struct error *err)
{
	uint32_t kvm_left;

	if (memslot_device_budget((int)m->slot_ids.capacity, m->mem.count, UINT32_MAX, &kvm_left,
				  err))
		return -1;
	memslot_budget_init(&m->slot_budget, kvm_left);
	return 0;
}

static int machine_build(struct machine *m, struct error *err)
{
	struct arch_vm_facts facts = { 0 };

	const struct arch_boot_config boot = {
		.kernel_name = m->cfg->kernel,
		.append = m->cfg->append,
		.nr_vcpus = m->cfg->smp,
		.device_area_start = m->cfg->device_area_start,
		.device_area_end = m->cfg->device_area_end,
		.dumpdtb_fd = m->cfg->dumpdtb_fd,
	};

	if (create_vm(m, err))
		return -1;
	/* The irqchip first: the GSI routes point into it (and on arm64 its ITS decides
	 * whether MSIs carry a device id). */
	m->arch = arch_vm_create(m->kvm_fd, m->vm_fd, &m->cfg->cpu, &facts, err);
	if (!m->arch)
		return -1;
	if (init_gsi_routes(m, err))
		return -1;
	m->board.phys_addr_limit = facts.phys_addr_limit;
	if (init_memslot_ids(m, err) ||
	    guest_mem_create_ram(&m->mem, m->vm_fd, &m->slot_ids, &arch_layout.ram, m->cfg->ram_size,
				 m->cfg->ram_backend, m->cfg->dump_guest_core, err) ||
	    init_device_slot_budget(m, err))
		return -1;
	/* vCPUs before devices: arm64's GIC is initialised once they all exist, and KVM takes
	 * a device's irqfds only after that. */
	if (arch_vm_load_kernel(m->arch, &m->mem, &m->cfg->boot, &boot, err) ||
	    create_vcpus(m, err) || arch_vcpus_ready(m->arch, err))
		return -1;
	return create_board_devices(m, err) || realize_devices(m, err) ? -1 : 0;
}

static void machine_teardown(struct machine *m)
{
	/* A vCPU blocked writing to a stalled console reader must still come back. */
	chardev_abort_output(m->console, true);
	run_state_end_vcpus(&m->rs);
	for (unsigned i = 0; i < m->nr_vcpus; i++)
		vcpu_join(&m->vcpus[i]);
	chardev_abort_output(m->console, false);
	run_cleanups(&m->quiesces);
	run_cleanups(&m->cleanups);
	for (unsigned i = 0; i < m->nr_vcpus; i++)
		vcpu_destroy(&m->vcpus[i]);
	free(m->vcpus);
	arch_vm_destroy(m->arch);
	m->arch = NULL;
	slot_id_pool_free(&m->slot_ids);
	if (m->msi_routes_ready)
		msi_routes_destroy(&m->msi_routes);
	if (m->vm_fd >= 0)
		close(m->vm_fd);
	guest_mem_destroy(&m->mem);
	io_bus_destroy(&m->pio);
	io_bus_destroy(&m->mmio);
}

/*
 * The running machine, for the console's Ctrl-A x and QMP commands. A command
 * holds current_lock while it works on the machine; main clears current_machine
 * (taking the lock) before it tears a machine down.
 */
static struct machine *current_machine;
static bool no_more_machines;
static bool vm_paused; /* QMP stop/cont; outlives resets */
static bool vm_prelaunch; /* -S: paused before the first cont */
static bool vm_shut_down; /* -no-shutdown: the guest powered off; no guest until a reset */
static bool vm_reset_requested; /* system_reset on this machine: it wins over -no-shutdown */
static bool vm_internal_error; /* stopped by an internal error: cont needs a reset first */
static pthread_mutex_t current_lock = PTHREAD_MUTEX_INITIALIZER;
static void (*current_listener)(void *);
static void *current_listener_opaque;

struct machine *machine_acquire_current(void)
{
	pthread_mutex_lock(&current_lock);
	if (!current_machine)
		pthread_mutex_unlock(&current_lock);
	return current_machine;
}

void machine_release_current(void)
{
	pthread_mutex_unlock(&current_lock);
}

bool machine_current_ready(void)
{
	bool ready;

	pthread_mutex_lock(&current_lock);
	ready = current_machine || no_more_machines;
	pthread_mutex_unlock(&current_lock);
	return ready;
}

void machine_on_current_change(void (*fn)(void *), void *opaque)
{
	pthread_mutex_lock(&current_lock);
	current_listener = fn;
	current_listener_opaque = opaque;
	pthread_mutex_unlock(&current_lock);
}

static void notify_current_change_locked(void)
{
	if (current_listener)
		current_listener(current_listener_opaque);
}

void machine_no_more(void)
{
	pthread_mutex_lock(&current_lock);
	no_more_machines = true;
	notify_current_change_locked();
	pthread_mutex_unlock(&current_lock);
}

void machine_quit_current(void *unused)
{
	(void)unused;
	pthread_mutex_lock(&current_lock);
	if (current_machine)
		run_state_request_stop(&current_machine->rs, MACHINE_EXIT, 0, false, "host-ui");
	pthread_mutex_unlock(&current_lock);
}

void machine_quit_current_from_qmp(void)
{
	pthread_mutex_lock(&current_lock);
	if (current_machine)
		run_state_request_stop(&current_machine->rs, MACHINE_EXIT, 0, false,
				       "host-qmp-quit");
	pthread_mutex_unlock(&current_lock);
}

void machine_reset_current_from_qmp(void)
{
	pthread_mutex_lock(&current_lock);
	vm_shut_down = false; /* the next machine has a guest again; it starts paused */
	vm_reset_requested = true;
	if (current_machine)
		run_state_request_stop(&current_machine->rs,
				       current_machine->cfg->no_reboot ? MACHINE_EXIT : MACHINE_RESET,
				       0, false, "host-qmp-system-reset");
	pthread_mutex_unlock(&current_lock);
}

void machine_set_current(struct machine *m)
{
	pthread_mutex_lock(&current_lock);
	current_machine = m;
	notify_current_change_locked();
	pthread_mutex_unlock(&current_lock);
}

/*
 * STOP goes out when the last vCPU has parked, and as QEMU sends it before the reply, the
 * command waits for that, a second at most (one may be stuck writing to a stalled console:
 * its STOP then follows the reply).
 */
void machine_stop_from_qmp(void)
{
	pthread_mutex_lock(&current_lock);
	if (!vm_paused) {
		vm_paused = true;
		run_state_expect_stop_event();
		if (current_machine) {
			run_state_pause(&current_machine->rs);
			run_state_wait_parked(&current_machine->rs);
		} else
			run_state_send_stop_if_due(); /* between two machines: the next one starts parked */
	}
	pthread_mutex_unlock(&current_lock);
}

int machine_cont_from_qmp(void)
{
	pthread_mutex_lock(&current_lock);
	if (vm_internal_error || vm_shut_down) {
		pthread_mutex_unlock(&current_lock);
		return -1;
	}
	if (vm_paused) {
		vm_paused = false;
		vm_prelaunch = false;
		run_state_send_stop_if_due(); /* a stop the vCPUs had not reached yet still happened */
		if (current_machine)
			run_state_resume(&current_machine->rs);
		qmp_event_send("RESUME", NULL);
	}
	pthread_mutex_unlock(&current_lock);
	return 0;
}

void machine_start_paused(void)
{
	pthread_mutex_lock(&current_lock);
	vm_paused = vm_prelaunch = true; /* no STOP: nothing ran yet (QEMU's -S) */
	pthread_mutex_unlock(&current_lock);
}

void machine_guest_internal_error(struct machine *m)
{
	pthread_mutex_lock(&current_lock);
	/* A machine already on its way out (a reset, an exit) is not stopped for it. */
	if (!vm_internal_error && m == current_machine &&
	    !run_state_stopping(&m->rs)) {
		vm_internal_error = true;
		if (!vm_paused) {
			vm_paused = true;
			run_state_expect_stop_event();
		}
		run_state_pause(&m->rs);
	}
	pthread_mutex_unlock(&current_lock);
}

const char *machine_run_state(void)
{
	const char *state;

	pthread_mutex_lock(&current_lock);
	state = vm_internal_error ? "internal-error"
		: vm_shut_down	  ? "shutdown"
		: vm_prelaunch	  ? "prelaunch"
		: vm_paused	  ? "paused"
				  : "running";
	pthread_mutex_unlock(&current_lock);
	return state;
}

enum machine_stop machine_run(const struct vm_config *cfg, struct chardev *console,
			      struct event_loop *loop, struct event_loop *device_loop,
			      int *exit_status, struct error *err)
{
	struct machine *m = calloc(1, sizeof(*m));
	enum machine_stop result = MACHINE_EXIT;
	int signal_fd = -1;
	struct memory_device_events **resized_by_reset = NULL; /* kept by the devices' configs */
	size_t nr_resized = 0;
	bool guestless, stopped;

	*exit_status = 1;
	if (!m) {
		error_set(err, "out of memory");
		return MACHINE_EXIT;
	}
	m->cfg = cfg;
	m->console = console;
	m->loop = loop;
	m->device_loop = device_loop;
	m->kvm_fd = m->vm_fd = -1;
	m->rs.vm_fd = -1;
	m->rs.no_reboot = cfg->no_reboot;
	m->rs.kick_vcpus = kick_vcpus;
	m->rs.kick_opaque = m;
	io_bus_init(&m->pio, "port I/O");
	io_bus_init(&m->mmio, "MMIO");
	board_init(m);
	if (run_state_init(&m->rs, err))
		goto out;
	signal_fd = run_state_signals_fd(err);
	/* -machine none, or a guest that powered off under -no-shutdown: no VM, only the run
	 * state that QMP (quit, system_reset) and signals end. */
	pthread_mutex_lock(&current_lock);
	guestless = cfg->machine_none || vm_shut_down;
	pthread_mutex_unlock(&current_lock);
	if (signal_fd < 0 || (!guestless && machine_build(m, err)))
		goto out;
	if (cfg->dumpdtb) { /* as QEMU: the device tree is written, and nothing runs */
		*exit_status = 0;
		goto out;
	}
	/* A machine built while stopped (system_reset after stop) starts stopped. */
	pthread_mutex_lock(&current_lock);
	atomic_store(&m->rs.pause_requested, vm_paused);
	vm_internal_error = false; /* a new VM: it waits, stopped, for cont */
	vm_reset_requested = false;
	current_machine = m;
	notify_current_change_locked();
	pthread_mutex_unlock(&current_lock);
	for (unsigned i = 0; i < m->nr_vcpus; i++) {
		if (vcpu_start(&m->vcpus[i], err)) {
			run_state_request_exit(&m->rs, 1);
			break;
		}
	}
	if (run_state_wait(&m->rs, signal_fd)) {
		result = MACHINE_EXIT;
		*exit_status = 0;
	} else {
		result = atomic_load(&m->rs.stop);
		*exit_status = m->rs.exit_status;
		if (result == MACHINE_EXIT && m->rs.guest_shutdown && cfg->no_shutdown) {
			/* QEMU's -no-shutdown: the VM stops instead; tide waits without a guest,
			 * unless a system_reset came meanwhile (it lost to the guest's request). */
			pthread_mutex_lock(&current_lock);
			stopped = !vm_reset_requested;
			if (stopped)
				vm_shut_down = vm_paused = true;
			pthread_mutex_unlock(&current_lock);
			if (stopped)
				qmp_event_send("STOP", NULL); /* after SHUTDOWN, as QEMU sends them */
			result = MACHINE_RESET;
		}
	}
	machine_set_current(NULL);
out:
	if (signal_fd >= 0)
		close(signal_fd);
	if (result == MACHINE_RESET)
		resized_by_reset = machine_memory_device_events(m, &nr_resized);
	machine_teardown(m);
	/* After teardown no late request can plug anything: everything is unplugged now. */
	for (size_t i = 0; i < nr_resized; i++)
		qmp_event_memory_device_unplugged(resized_by_reset[i]);
	free(resized_by_reset);
	run_state_destroy(&m->rs);
	free(m);
	return result;
}
