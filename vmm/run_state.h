/*
 * One machine's run state, where its vCPU threads and the rest of tide meet: stop
 * requests (exit or reset; the first one wins), QMP's stop and cont (vCPUs park, and
 * guest time stands still), and the gate that holds every vCPU out of KVM_RUN while a
 * device replaces a memslot. It knows nothing of how vCPUs are made: it kicks them
 * through the callback the machine gives it.
 */
#ifndef TIDE_RUN_STATE_H
#define TIDE_RUN_STATE_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "util/error.h"

enum machine_stop {
	MACHINE_RUNNING,
	MACHINE_EXIT,  /* leave tide with exit_status */
	MACHINE_RESET, /* rebuild the VM and boot again */
};

struct run_state {
	int vm_fd;	/* kvmclock is read and set through it */
	bool no_reboot; /* a guest reset exits instead */
	unsigned nr_vcpus;
	/* Makes every vCPU leave KVM_RUN now or at its next entry (vcpu_kick on each). */
	void (*kick_vcpus)(void *opaque);
	void *kick_opaque;

	_Atomic int stop; /* enum machine_stop; the first request wins */
	int exit_status;
	bool guest_shutdown; /* that request was the guest powering off (status 0) */
	pthread_mutex_t stop_lock; /* makes exit_status and stop one update */
	int stop_eventfd;	   /* written on a stop request; the machine waits on it */

	/* QMP's stop: vCPUs park before their next KVM_RUN until cont (or a stop request). */
	_Atomic bool pause_requested;
	pthread_mutex_t pause_lock;
	pthread_cond_t pause_cond; /* a vCPU parked, or the pause or the machine ended */
	pthread_cond_t all_parked_cond; /* every vCPU is parked (CLOCK_MONOTONIC waits) */
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
};

int run_state_init(struct run_state *rs, struct error *err);
void run_state_destroy(struct run_state *rs);

/*
 * Asks the machine to stop, with QEMU's SHUTDOWN or RESET event ({"guest", "reason"}: a
 * ShutdownCause name). Only the first request counts.
 */
void run_state_request_stop(struct run_state *rs, enum machine_stop kind, int status, bool guest,
			    const char *reason);
/* Status 0 is the guest powering off; anything else is tide giving up on it. */
void run_state_request_exit(struct run_state *rs, int status);
/* A guest-initiated reset: exits 0 with -no-reboot, otherwise resets. */
void run_state_guest_reset(struct run_state *rs);
static inline bool run_state_stopping(struct run_state *rs)
{
	return atomic_load(&rs->stop) != MACHINE_RUNNING;
}

/* QMP's stop on this machine: the vCPUs park at their next exit; the last one sends STOP. */
void run_state_pause(struct run_state *rs);
/* Until every vCPU has parked (and STOP has gone out), a second at most: QEMU sends STOP
 * before the stop command's reply. Not on a vCPU thread (it would wait for itself). */
void run_state_wait_parked(struct run_state *rs);
/* cont: the clock goes on where it stopped and the vCPUs leave the park. */
void run_state_resume(struct run_state *rs);
/*
 * vCPU threads call this before KVM_RUN when pause_requested is set. True when the vCPU
 * was held by a stop and goes on now (it then tells the guest's kvmclock it was paused).
 */
bool run_state_park(struct run_state *rs);
/* STOP goes out once every vCPU has parked, or at cont if that comes first (process-wide:
 * a stop between two machines counts for the next). */
void run_state_expect_stop_event(void);
void run_state_send_stop_if_due(void);

/*
 * Holds every vCPU outside KVM_RUN (hold true) until released (hold false): a device
 * that replaces a memslot covering memory the guest uses does it meanwhile. Returns
 * once no vCPU is in the guest. A memslot_kvm_target callback: run_state is the struct
 * run_state.
 */
void run_state_hold_vcpus(void *run_state, bool hold);
/* vCPU threads around KVM_RUN: enter waits while a holder holds. */
void run_state_enter_guest(struct run_state *rs);
void run_state_leave_guest(struct run_state *rs);
/* A signalfd for SIGINT and SIGTERM (blocked in every thread), or -1 with err. */
int run_state_signals_fd(struct error *err);
/*
 * The machine's main thread waits here for a stop request or a signal on signal_fd.
 * Returns true when a signal asked tide to end: that wins over a guest reset requested
 * at the same moment, or tide would reboot on.
 */
bool run_state_wait(struct run_state *rs, int signal_fd);
/* Teardown, before the vCPU threads are joined: kicks them out for the last time. */
void run_state_end_vcpus(struct run_state *rs);

#endif
