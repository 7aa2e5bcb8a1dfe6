#include "vmm/machine.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "arch/arch.h"
#include "devices/board_device.h"
#include "util/log.h"
#include "vmm/sandbox.h"
#include "devices/memory_device.h"
#include "vmm/qmp_events.h"
#include "vmm/vcpu.h"

struct machine_cleanup {
	void (*fn)(void *);
	void *opaque;
	struct machine_cleanup *next;
};

/* SHUTDOWN or RESET with QEMU's {"guest", "reason"} (a ShutdownCause name). */
static void send_stop_event(enum machine_stop kind, bool guest, const char *reason)
{
	struct json_object *data = json_object_new_object();

	json_object_object_add(data, "guest", json_object_new_boolean(guest));
	json_object_object_add(data, "reason", json_object_new_string(reason));
	qmp_event_send(kind == MACHINE_RESET ? "RESET" : "SHUTDOWN", data);
}

static void request_stop(struct machine *m, enum machine_stop kind, int status, bool guest,
			 const char *reason)
{
	uint64_t one = 1;

	/* exit_status is written before stop is published, so a reader of stop sees it. */
	pthread_mutex_lock(&m->stop_lock);
	if (atomic_load(&m->stop) != MACHINE_RUNNING) {
		pthread_mutex_unlock(&m->stop_lock);
		return;
	}
	m->exit_status = status;
	atomic_store(&m->stop, kind);
	pthread_mutex_unlock(&m->stop_lock);
	/* Parked vCPUs and a QMP stop waiting for them must see the stop too. */
	pthread_mutex_lock(&m->pause_lock);
	pthread_cond_broadcast(&m->pause_cond);
	pthread_mutex_unlock(&m->pause_lock);
	send_stop_event(kind, guest, reason);
	if (write(m->stop_eventfd, &one, sizeof(one)) != sizeof(one))
		log_error("cannot signal the stop request: %s", strerror(errno));
}

/* Status 0 is the guest powering off; anything else is tide giving up on it. */
void machine_request_exit(struct machine *m, int status)
{
	request_stop(m, MACHINE_EXIT, status, status == 0, status == 0 ? "guest-shutdown"
								       : "host-error");
}

void machine_request_reset(struct machine *m)
{
	request_stop(m, MACHINE_RESET, 0, true, "guest-reset");
}

void machine_guest_reset(struct machine *m)
{
	if (m->cfg->no_reboot) {
		log_info("guest reset with -no-reboot: exiting");
		request_stop(m, MACHINE_EXIT, 0, true, "guest-reset");
	} else {
		log_info("guest reset: booting again");
		machine_request_reset(m);
	}
}

int machine_irq_set(struct machine *m, unsigned gsi, int level)
{
	struct kvm_irq_level irq = { .irq = gsi, .level = level };

	if (ioctl(m->vm_fd, KVM_IRQ_LINE, &irq) < 0) {
		log_warn("KVM_IRQ_LINE gsi %u level %d: %s", gsi, level, strerror(errno));
		return -1;
	}
	return 0;
}

static int push_cleanup(struct machine_cleanup **list, void (*fn)(void *), void *opaque)
{
	struct machine_cleanup *c = malloc(sizeof(*c));

	if (!c)
		return -1;
	*c = (struct machine_cleanup){ fn, opaque, *list };
	*list = c;
	return 0;
}

int machine_add_cleanup(struct machine *m, void (*fn)(void *), void *opaque)
{
	return push_cleanup(&m->cleanups, fn, opaque);
}

int machine_add_quiesce(struct machine *m, void (*fn)(void *), void *opaque)
{
	return push_cleanup(&m->quiesces, fn, opaque);
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

/* /dev/kvm, opened once: every machine (one per reset) creates its VM from it. */
static int host_kvm_fd = -1;

int machine_open_kvm(struct error *err)
{
	int version, fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return error_set(err, "cannot open /dev/kvm: %s", strerror(errno));
	version = ioctl(fd, KVM_GET_API_VERSION, 0);
	if (version != KVM_API_VERSION) {
		close(fd);
		return error_set(err, "/dev/kvm speaks KVM API %d, tide needs %d", version,
				 KVM_API_VERSION);
	}
	host_kvm_fd = fd;
	return 0;
}

void machine_close_kvm(void)
{
	if (host_kvm_fd >= 0)
		close(host_kvm_fd);
	host_kvm_fd = -1;
}

static int create_vm(struct machine *m, struct error *err)
{
	if (host_kvm_fd < 0)
		return error_set(err, "/dev/kvm is not open");
	m->kvm_fd = host_kvm_fd;
	m->vm_fd = ioctl(m->kvm_fd, KVM_CREATE_VM, 0UL);
	if (m->vm_fd < 0)
		return error_set(err, "KVM_CREATE_VM: %s", strerror(errno));
	return 0;
}

/* The devices every machine of the architecture has, where it puts them. */
static int create_board_devices(struct machine *m, struct error *err)
{
	size_t count;
	const struct arch_platform_device *devices = arch_platform_devices(&count);

	for (size_t i = 0; i < count; i++) {
		const struct board_device_type *type = board_device_find(devices[i].type);

		if (!type)
			return error_set(err, "no board device type '%s'", devices[i].type);
		if (type->create(m, &devices[i].at, err))
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

		if (d->type->realize && d->type->realize(m, d->config, err))
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
		m->nr_vcpus = i + 1;
		if (vcpu_create(&m->vcpus[i], m, i, mmap_size, err))
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

/* Boot RAM took its memslots; device parts share at most 2048 of the rest. */
static int init_device_slot_budget(struct machine *m, struct error *err)
{
	int max = (int)m->slot_ids.capacity;

	if (memslot_device_budget(max, m->mem.count, MACHINE_MAX_DEVICE_SLOTS,
				  &m->device_slots_left, err) ||
	    memslot_device_budget(max, m->mem.count, UINT32_MAX, &m->kvm_slots_left, err))
		return -1;
	return 0;
}

int machine_reserve_device_slots(struct machine *m, uint32_t parts, uint32_t *holes,
				 const char *who, struct error *err)
{
	if (parts > m->device_slots_left || parts > m->kvm_slots_left)
		return error_set(err, "%s needs %u memslots but only %u are left (KVM's limit less "
				      "boot RAM, at most %d for all devices); use fewer or larger "
				      "memslots (memslots=N)",
				 who, parts,
				 m->device_slots_left < m->kvm_slots_left ? m->device_slots_left
									  : m->kvm_slots_left,
				 MACHINE_MAX_DEVICE_SLOTS);
	if (*holes > m->kvm_slots_left - parts) {
		log_warn("%s: KVM has memslots for %u holes left, not %u: a guest that fragments "
			 "its blocks more gets BUSY sooner",
			 who, m->kvm_slots_left - parts, *holes);
		*holes = m->kvm_slots_left - parts;
	}
	m->device_slots_left -= parts;
	m->kvm_slots_left -= parts + *holes;
	return 0;
}

void machine_hold_vcpus(void *machine, bool hold)
{
	struct machine *m = machine;

	pthread_mutex_lock(&m->gate_lock);
	if (!hold) {
		if (--m->gate_holders == 0)
			pthread_cond_broadcast(&m->gate_cond);
		pthread_mutex_unlock(&m->gate_lock);
		return;
	}
	m->gate_holders++;
	/* A vCPU about to enter has immediate_exit set by the kick: it comes straight back.
	 * Kicked under gate_lock: teardown sets vcpus_joining under it before joining. */
	for (unsigned i = 0; i < m->nr_vcpus && !m->vcpus_joining; i++)
		vcpu_kick(&m->vcpus[i]);
	while (m->vcpus_in_guest)
		pthread_cond_wait(&m->gate_cond, &m->gate_lock);
	pthread_mutex_unlock(&m->gate_lock);
}

void machine_vcpu_enter_guest(struct machine *m)
{
	pthread_mutex_lock(&m->gate_lock);
	while (m->gate_holders)
		pthread_cond_wait(&m->gate_cond, &m->gate_lock);
	m->vcpus_in_guest++;
	pthread_mutex_unlock(&m->gate_lock);
}

void machine_vcpu_leave_guest(struct machine *m)
{
	pthread_mutex_lock(&m->gate_lock);
	if (--m->vcpus_in_guest == 0 && m->gate_holders)
		pthread_cond_broadcast(&m->gate_cond);
	pthread_mutex_unlock(&m->gate_lock);
}

static int machine_build(struct machine *m, struct error *err)
{
	struct arch_vm_facts facts = { 0 };

	if (create_vm(m, err))
		return -1;
	if (init_gsi_routes(m, err))
		return -1;
	m->arch = arch_vm_create(m->kvm_fd, m->vm_fd, &m->cfg->cpu, &facts, err);
	if (!m->arch)
		return -1;
	m->emulating_host = facts.emulating_host;
	m->phys_addr_limit = facts.phys_addr_limit;
	if (init_memslot_ids(m, err) ||
	    guest_mem_create_ram(&m->mem, m->vm_fd, &m->slot_ids, &arch_layout.ram, m->cfg->ram_size,
				 m->cfg->ram_backend, err) ||
	    init_device_slot_budget(m, err))
		return -1;
	if (create_board_devices(m, err) || realize_devices(m, err))
		return -1;
	if (arch_vm_load_kernel(m->arch, &m->mem, &m->cfg->boot, m->cfg->kernel, m->cfg->append,
				m->cfg->smp, err))
		return -1;
	return create_vcpus(m, err);
}

static void machine_teardown(struct machine *m)
{
	/* A vCPU blocked writing to a stalled console reader must still come back. */
	chardev_abort_output(m->console, true);
	pthread_mutex_lock(&m->gate_lock);
	m->vcpus_joining = true;
	pthread_mutex_unlock(&m->gate_lock);
	for (unsigned i = 0; i < m->nr_vcpus; i++)
		vcpu_kick(&m->vcpus[i]);
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
	if (m->stop_eventfd >= 0)
		close(m->stop_eventfd);
	io_bus_destroy(&m->pio);
	io_bus_destroy(&m->mmio);
}

static bool read_stop_signal(int signal_fd)
{
	struct signalfd_siginfo info;

	if (read(signal_fd, &info, sizeof(info)) != sizeof(info))
		return false;
	/* QEMU ends with status 0 when told to terminate, and so do we. */
	log_warn("terminating on signal %u", info.ssi_signo);
	return true;
}

/*
 * Waits for a stop request or SIGINT/SIGTERM (blocked in every thread, read
 * here). Returns true when a signal asked tide to end: that wins over a guest
 * reset requested at the same moment, or tide would reboot on.
 */
static bool wait_for_stop(struct machine *m, int signal_fd)
{
	struct pollfd fds[2] = {
		{ .fd = m->stop_eventfd, .events = POLLIN },
		{ .fd = signal_fd, .events = POLLIN },
	};
	bool terminate = false;

	while (atomic_load(&m->stop) == MACHINE_RUNNING) {
		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_error("poll: %s", strerror(errno));
			machine_request_exit(m, 1);
			break;
		}
		if ((fds[1].revents & POLLIN) && read_stop_signal(signal_fd)) {
			terminate = true;
			request_stop(m, MACHINE_EXIT, 0, false, "host-signal");
		}
	}
	if (!terminate && poll(&fds[1], 1, 0) > 0 && (fds[1].revents & POLLIN))
		terminate = read_stop_signal(signal_fd);
	return terminate;
}

static int stop_signals_fd(struct error *err)
{
	sigset_t set;
	int fd;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	fd = signalfd(-1, &set, SFD_CLOEXEC);
	if (fd < 0)
		return error_set(err, "signalfd: %s", strerror(errno));
	return fd;
}

/*
 * The running machine, for the console's Ctrl-A x and QMP commands. A command
 * holds current_lock while it works on the machine; main clears current_machine
 * (taking the lock) before it tears a machine down.
 */
static struct machine *current_machine;
static bool no_more_machines;
static bool vm_paused; /* QMP stop/cont; outlives resets */
static bool vm_internal_error; /* stopped by an internal error: cont needs a reset first */
static pthread_mutex_t current_lock = PTHREAD_MUTEX_INITIALIZER;
static void (*current_listener)(void *);
static void *current_listener_opaque;
/* A stop's STOP event goes out once every vCPU has parked (or at cont, if that is first). */
static atomic_bool stop_event_due;

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
		request_stop(current_machine, MACHINE_EXIT, 0, false, "host-ui");
	pthread_mutex_unlock(&current_lock);
}

void machine_quit_current_from_qmp(void)
{
	pthread_mutex_lock(&current_lock);
	if (current_machine)
		request_stop(current_machine, MACHINE_EXIT, 0, false, "host-qmp-quit");
	pthread_mutex_unlock(&current_lock);
}

void machine_reset_current_from_qmp(void)
{
	pthread_mutex_lock(&current_lock);
	if (current_machine)
		request_stop(current_machine,
			     current_machine->cfg->no_reboot ? MACHINE_EXIT : MACHINE_RESET, 0, false,
			     "host-qmp-system-reset");
	pthread_mutex_unlock(&current_lock);
}

void machine_set_current(struct machine *m)
{
	pthread_mutex_lock(&current_lock);
	current_machine = m;
	notify_current_change_locked();
	pthread_mutex_unlock(&current_lock);
}

static void send_stop_if_due(void)
{
	if (atomic_exchange(&stop_event_due, false))
		qmp_event_send("STOP", NULL);
}

/* pause_lock held, every vCPU parked: kvmclock stops here... */
static void save_clock(struct machine *m)
{
	if (m->clock_saved)
		return;
	memset(&m->paused_clock, 0, sizeof(m->paused_clock));
	if (ioctl(m->vm_fd, KVM_GET_CLOCK, &m->paused_clock) == 0)
		m->clock_saved = true;
	else
		log_debug("KVM_GET_CLOCK: %s (guest time runs on while stopped)", strerror(errno));
}

/* ... and goes on from the same value at cont. pause_lock held. */
static void restore_clock(struct machine *m)
{
	struct kvm_clock_data data = { .clock = m->paused_clock.clock };

	if (!m->clock_saved)
		return;
	m->clock_saved = false;
	if (ioctl(m->vm_fd, KVM_SET_CLOCK, &data))
		log_warn("KVM_SET_CLOCK: %s (guest time jumps by the stop)", strerror(errno));
}

/*
 * pause_lock held. Once every vCPU is parked for a stop (the last one to park sees it, or
 * the stop itself when a cont just before woke them and they have not left the park yet),
 * the clock stops and STOP goes out.
 */
static void stopped_if_all_parked(struct machine *m)
{
	if (m->vcpus_parked != m->nr_vcpus || !atomic_load(&m->pause_requested))
		return;
	save_clock(m);
	send_stop_if_due();
}

/* Caller holds current_lock. The vCPUs park at their next exit; the last one sends STOP. */
static void pause_vcpus(struct machine *m)
{
	atomic_store(&m->pause_requested, true);
	for (unsigned i = 0; i < m->nr_vcpus; i++)
		vcpu_kick(&m->vcpus[i]);
	pthread_mutex_lock(&m->pause_lock);
	stopped_if_all_parked(m);
	pthread_mutex_unlock(&m->pause_lock);
}

static void resume_vcpus(struct machine *m)
{
	pthread_mutex_lock(&m->pause_lock);
	restore_clock(m);
	atomic_store(&m->pause_requested, false);
	pthread_cond_broadcast(&m->pause_cond);
	pthread_mutex_unlock(&m->pause_lock);
}

bool machine_vcpu_park(struct machine *m)
{
	bool held = false;

	pthread_mutex_lock(&m->pause_lock);
	m->vcpus_parked++;
	stopped_if_all_parked(m);
	while (atomic_load(&m->pause_requested) && atomic_load(&m->stop) == MACHINE_RUNNING) {
		held = true;
		pthread_cond_wait(&m->pause_cond, &m->pause_lock);
	}
	m->vcpus_parked--;
	pthread_mutex_unlock(&m->pause_lock);
	return held && atomic_load(&m->stop) == MACHINE_RUNNING;
}

/*
 * Never waits for the vCPUs (one may be stuck writing to a stalled console):
 * STOP follows when the last one has parked, as QEMU sends it once they have.
 */
void machine_stop_from_qmp(void)
{
	pthread_mutex_lock(&current_lock);
	if (!vm_paused) {
		vm_paused = true;
		atomic_store(&stop_event_due, true);
		if (current_machine)
			pause_vcpus(current_machine);
		else
			send_stop_if_due(); /* between two machines: the next one starts parked */
	}
	pthread_mutex_unlock(&current_lock);
}

int machine_cont_from_qmp(void)
{
	pthread_mutex_lock(&current_lock);
	if (vm_internal_error) {
		pthread_mutex_unlock(&current_lock);
		return -1;
	}
	if (vm_paused) {
		vm_paused = false;
		send_stop_if_due(); /* a stop the vCPUs had not reached yet still happened */
		if (current_machine)
			resume_vcpus(current_machine);
		qmp_event_send("RESUME", NULL);
	}
	pthread_mutex_unlock(&current_lock);
	return 0;
}

void machine_guest_internal_error(struct machine *m)
{
	pthread_mutex_lock(&current_lock);
	/* A machine already on its way out (a reset, an exit) is not stopped for it. */
	if (!vm_internal_error && m == current_machine &&
	    atomic_load(&m->stop) == MACHINE_RUNNING) {
		vm_internal_error = true;
		if (!vm_paused) {
			vm_paused = true;
			atomic_store(&stop_event_due, true);
		}
		pause_vcpus(m);
	}
	pthread_mutex_unlock(&current_lock);
}

const char *machine_run_state(void)
{
	const char *state;

	pthread_mutex_lock(&current_lock);
	state = vm_internal_error ? "internal-error" : vm_paused ? "paused" : "running";
	pthread_mutex_unlock(&current_lock);
	return state;
}

void machine_add_memory_device(struct machine *m, struct memory_device *md)
{
	struct memory_device **tail = &m->memory_devices;

	if (md->id)
		snprintf(md->qom_path, sizeof(md->qom_path), "/machine/peripheral/%s", md->id);
	else
		snprintf(md->qom_path, sizeof(md->qom_path), "/machine/peripheral-anon/device[%u]",
			 m->nr_anonymous_devices++);
	while (*tail)
		tail = &(*tail)->next;
	md->next = NULL;
	*tail = md;
}

void machine_memory_device_size_changed(struct machine *m, struct memory_device *md,
					uint64_t size)
{
	(void)m;
	qmp_event_memory_device_size_change(md->id, md->qom_path, size);
}

enum machine_stop machine_run(const struct vm_config *cfg, struct chardev *console,
			      struct event_loop *loop, int *exit_status, struct error *err)
{
	struct machine *m = calloc(1, sizeof(*m));
	enum machine_stop result = MACHINE_EXIT;
	int signal_fd = -1;

	*exit_status = 1;
	if (!m) {
		error_set(err, "out of memory");
		return MACHINE_EXIT;
	}
	m->cfg = cfg;
	m->console = console;
	m->loop = loop;
	m->kvm_fd = m->vm_fd = -1;
	pthread_mutex_init(&m->stop_lock, NULL);
	pthread_mutex_init(&m->pause_lock, NULL);
	pthread_cond_init(&m->pause_cond, NULL);
	pthread_mutex_init(&m->gate_lock, NULL);
	pthread_cond_init(&m->gate_cond, NULL);
	io_bus_init(&m->pio, "port I/O");
	io_bus_init(&m->mmio, "MMIO");
	m->stop_eventfd = eventfd(0, EFD_CLOEXEC);
	if (m->stop_eventfd < 0) {
		error_set(err, "eventfd: %s", strerror(errno));
		goto out;
	}
	signal_fd = stop_signals_fd(err);
	if (signal_fd < 0 || machine_build(m, err))
		goto out;
	/* A machine built while stopped (system_reset after stop) starts stopped. */
	pthread_mutex_lock(&current_lock);
	atomic_store(&m->pause_requested, vm_paused);
	vm_internal_error = false; /* a new VM: it waits, stopped, for cont */
	current_machine = m;
	notify_current_change_locked();
	pthread_mutex_unlock(&current_lock);
	for (unsigned i = 0; i < m->nr_vcpus; i++) {
		if (vcpu_start(&m->vcpus[i], err)) {
			machine_request_exit(m, 1);
			break;
		}
	}
	if (wait_for_stop(m, signal_fd)) {
		result = MACHINE_EXIT;
		*exit_status = 0;
	} else {
		result = atomic_load(&m->stop);
		*exit_status = m->exit_status;
	}
	machine_set_current(NULL);
out:
	if (signal_fd >= 0)
		close(signal_fd);
	machine_teardown(m);
	/* After teardown no late request can plug anything: everything is unplugged now. */
	if (result == MACHINE_RESET)
		qmp_event_memory_devices_reset();
	pthread_mutex_destroy(&m->stop_lock);
	pthread_cond_destroy(&m->pause_cond);
	pthread_mutex_destroy(&m->pause_lock);
	pthread_cond_destroy(&m->gate_cond);
	pthread_mutex_destroy(&m->gate_lock);
	free(m);
	return result;
}
