#include "vmm/vcpu.h"

#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "arch/arch.h"
#include "util/kvm_compat.h"
#include "util/log.h"
#include "devices/board.h"
#include "devices/io_bus.h"
#include "mm/guest_mem.h"
#include "vmm/run_state.h"
#include "vmm/sandbox.h"
#include "util/util.h"

#define VCPU_KICK_SIGNAL SIGUSR1

/* What the run loop does after an exit. */
enum exit_action { EXIT_CONTINUE, EXIT_STOP };

typedef enum exit_action (*exit_handler_fn)(struct vcpu *vcpu);

static void kick_handler(int sig)
{
	(void)sig; /* only there to interrupt KVM_RUN with EINTR */
}

int vcpu_init_signals(struct error *err)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = kick_handler;
	sigemptyset(&sa.sa_mask);
	if (sigaction(VCPU_KICK_SIGNAL, &sa, NULL))
		return error_set(err, "sigaction: %s", strerror(errno));
	return 0;
}

int vcpu_create(struct vcpu *vcpu, int vm_fd, struct board *board, struct run_state *rs,
		unsigned index, int mmap_size, struct error *err)
{
	memset(vcpu, 0, sizeof(*vcpu));
	vcpu->board = board;
	vcpu->rs = rs;
	vcpu->index = index;
	vcpu->fd = ioctl(vm_fd, KVM_CREATE_VCPU, (unsigned long)index);
	if (vcpu->fd < 0)
		return error_set(err, "KVM_CREATE_VCPU %u: %s", index, strerror(errno));
	vcpu->run_size = (size_t)mmap_size;
	vcpu->run = mmap(NULL, vcpu->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu->fd, 0);
	if (vcpu->run == MAP_FAILED) {
		vcpu->run = NULL;
		return error_set(err, "mmap of vCPU %u run area: %s", index, strerror(errno));
	}
	return 0;
}

static enum exit_action handle_io(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	bool is_write = run->io.direction == KVM_EXIT_IO_OUT;

	/* count > 1 is a rep ins/outs: one access per element. */
	for (uint32_t i = 0; i < run->io.count; i++, data += run->io.size)
		io_bus_dispatch(vcpu->board->pio, run->io.port, data, run->io.size, is_write);
	return EXIT_CONTINUE;
}

static enum exit_action handle_mmio(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	struct board *b = vcpu->board;
	uint64_t gpa = run->mmio.phys_addr;
	unsigned len = run->mmio.len;

	if (len == 0 || len > sizeof(run->mmio.data))
		return EXIT_CONTINUE;
	if (!io_bus_dispatch(b->mmio, gpa, run->mmio.data, len, run->mmio.is_write) &&
	    guest_mem_in_boot_ram(b->mem, gpa, len))
		/* A fault on memory KVM could not map (kvm-api.md §9: comes as an MMIO exit). */
		log_warn("vCPU %u: access to guest RAM at 0x%" PRIx64 " could not be mapped",
			 vcpu->index, gpa);
	return EXIT_CONTINUE;
}

static void dump_registers(struct vcpu *vcpu, enum log_level level)
{
	char regs[256];

	arch_vcpu_describe(vcpu->fd, regs, sizeof(regs));
	if (regs[0])
		log_msg(level, "vCPU %u: %s", vcpu->index, regs);
}

static enum exit_action handle_internal_error(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;

	log_error("vCPU %u: KVM internal error, suberror %u%s", vcpu->index,
		  run->internal.suberror,
		  run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION
			  ? " (instruction emulation failed: the guest ran an instruction "
			    "this host's KVM cannot emulate)"
			  : "");
	dump_registers(vcpu, LOG_ERROR);
	log_error("vCPU %u: the VM stops (run state internal-error); system_reset starts it again",
		  vcpu->index);
	vcpu->board->ops->guest_internal_error(vcpu->board);
	return EXIT_CONTINUE; /* parks at the top of the loop until the machine goes */
}

static enum exit_action handle_fail_entry(struct vcpu *vcpu)
{
	log_error("vCPU %u: KVM could not enter the guest (hardware reason "
		  "0x%" PRIx64 ")", vcpu->index,
		  (uint64_t)vcpu->run->fail_entry.hardware_entry_failure_reason);
	dump_registers(vcpu, LOG_ERROR);
	run_state_request_exit(vcpu->rs, 1);
	return EXIT_STOP;
}

static enum exit_action handle_shutdown(struct vcpu *vcpu)
{
	/* A triple fault: how a PC without firmware reboots (Linux reboot=t). */
	log_info("vCPU %u: triple fault, resetting", vcpu->index);
	dump_registers(vcpu, LOG_DEBUG); /* where it died, for -verbose -verbose */
	run_state_guest_reset(vcpu->rs);
	return EXIT_STOP;
}

static enum exit_action handle_system_event(struct vcpu *vcpu)
{
	switch (vcpu->run->system_event.type) {
	case KVM_SYSTEM_EVENT_SHUTDOWN:
		run_state_request_exit(vcpu->rs, 0);
		break;
	case KVM_SYSTEM_EVENT_RESET:
		run_state_guest_reset(vcpu->rs);
		break;
	default:
		log_error("vCPU %u: guest crashed (system event %u)", vcpu->index,
			  vcpu->run->system_event.type);
		run_state_request_exit(vcpu->rs, 1);
	}
	return EXIT_STOP;
}

static enum exit_action handle_ignored(struct vcpu *vcpu)
{
	(void)vcpu; /* KVM_EXIT_INTR / HLT: just look at the stop flag and re-enter */
	return EXIT_CONTINUE;
}

static const exit_handler_fn exit_handlers[] = {
	[KVM_EXIT_IO] = handle_io,
	[KVM_EXIT_MMIO] = handle_mmio,
	[KVM_EXIT_HLT] = handle_ignored,
	[KVM_EXIT_INTR] = handle_ignored,
	[KVM_EXIT_SHUTDOWN] = handle_shutdown,
	[KVM_EXIT_FAIL_ENTRY] = handle_fail_entry,
	[KVM_EXIT_INTERNAL_ERROR] = handle_internal_error,
	[KVM_EXIT_SYSTEM_EVENT] = handle_system_event,
};

static bool should_stop(struct vcpu *vcpu)
{
	return run_state_stopping(vcpu->rs);
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *vcpu = arg;
	sigset_t unblock;

	atomic_store(&vcpu->tid, (int)gettid());
	sandbox_enter_thread_or_die(SANDBOX_VCPU);
	sigemptyset(&unblock);
	sigaddset(&unblock, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &unblock, NULL);

	/* tide's own set-up cost, for bench/boot_time.py: start to the guest's first instruction. */
	if (vcpu->index == 0)
		log_info("vCPU 0 enters the guest %.1f ms after tide started", log_elapsed_ms());
	while (!should_stop(vcpu)) {
		uint32_t reason;
		int ret;

		if (atomic_load(&vcpu->rs->pause_requested)) {
			if (run_state_park(vcpu->rs))
				arch_vcpu_resumed(vcpu->fd, vcpu->index);
			continue;
		}
		run_state_enter_guest(vcpu->rs);
		ret = ioctl(vcpu->fd, KVM_RUN, 0) < 0 ? errno : 0;
		run_state_leave_guest(vcpu->rs);
		if (ret) {
			errno = ret;
			if (errno == EINTR || errno == EAGAIN) {
				vcpu->run->immediate_exit = 0;
				/*
				 * The clear must be visible before pause_requested is read: else a
				 * kick between the read and the clear is lost and the vCPU re-enters
				 * KVM_RUN (an idle guest then never parks).
				 */
				atomic_thread_fence(memory_order_seq_cst);
				continue;
			}
			log_error("vCPU %u: KVM_RUN: %s", vcpu->index, strerror(errno));
			dump_registers(vcpu, LOG_ERROR);
			if (errno == EFAULT || errno == ENOSYS) {
				/* Memory KVM could not reach for the guest (kvm-api.md 9.1), or on
				 * arm64 an MMIO access KVM cannot decode (no instruction syndrome,
				 * e.g. a load with writeback): the VM stops with an internal error;
				 * tide goes on, and system_reset starts it again. */
				vcpu->board->ops->guest_internal_error(vcpu->board);
				continue;
			}
			run_state_request_exit(vcpu->rs, 1);
			break;
		}
		reason = vcpu->run->exit_reason;
		if (reason >= ARRAY_SIZE(exit_handlers) ||
		    !exit_handlers[reason]) {
			log_error("vCPU %u: unexpected KVM exit reason %u", vcpu->index, reason);
			dump_registers(vcpu, LOG_ERROR);
			run_state_request_exit(vcpu->rs, 1);
			break;
		}
		if (exit_handlers[reason](vcpu) == EXIT_STOP)
			break;
	}
	return NULL;
}

int vcpu_start(struct vcpu *vcpu, struct error *err)
{
	int ret = pthread_create(&vcpu->thread, NULL, vcpu_thread, vcpu);

	if (ret)
		return error_set(err, "cannot start vCPU %u thread: %s", vcpu->index, strerror(ret));
	vcpu->thread_started = true;
	/* Its thread id is the first thing it stores: QMP's query-cpus-fast reports it (libvirt
	 * pins and places vCPU threads by it), so it is known once the vCPU is started. */
	while (!atomic_load(&vcpu->tid))
		sched_yield();
	return 0;
}

void vcpu_kick(struct vcpu *vcpu)
{
	if (!vcpu->thread_started)
		return;
	/* immediate_exit closes the race with a signal that lands just before KVM_RUN. */
	vcpu->run->immediate_exit = 1;
	pthread_kill(vcpu->thread, VCPU_KICK_SIGNAL);
}

void vcpu_join(struct vcpu *vcpu)
{
	if (vcpu->thread_started) {
		pthread_join(vcpu->thread, NULL);
		vcpu->thread_started = false;
	}
}

void vcpu_destroy(struct vcpu *vcpu)
{
	if (vcpu->run && munmap(vcpu->run, vcpu->run_size))
		log_warn("munmap of vCPU run area: %s", strerror(errno));
	if (vcpu->fd >= 0 && close(vcpu->fd))
		log_warn("close of vCPU fd: %s", strerror(errno));
	vcpu->run = NULL;
	vcpu->fd = -1;
}
