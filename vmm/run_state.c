#include "vmm/run_state.h"

#include <errno.h>
#include <json-c/json.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "util/log.h"
#include "vmm/qmp_events.h"

int run_state_init(struct run_state *rs, struct error *err)
{
	pthread_mutex_init(&rs->stop_lock, NULL);
	pthread_mutex_init(&rs->pause_lock, NULL);
	pthread_cond_init(&rs->pause_cond, NULL);
	pthread_condattr_t monotonic;

	pthread_condattr_init(&monotonic);
	pthread_condattr_setclock(&monotonic, CLOCK_MONOTONIC);
	pthread_cond_init(&rs->all_parked_cond, &monotonic);
	pthread_condattr_destroy(&monotonic);
	pthread_mutex_init(&rs->gate_lock, NULL);
	pthread_cond_init(&rs->gate_cond, NULL);
	rs->stop_eventfd = eventfd(0, EFD_CLOEXEC);
	if (rs->stop_eventfd < 0)
		return error_set(err, "eventfd: %s", strerror(errno));
	return 0;
}

void run_state_destroy(struct run_state *rs)
{
	if (rs->stop_eventfd >= 0)
		close(rs->stop_eventfd);
	rs->stop_eventfd = -1;
	pthread_mutex_destroy(&rs->stop_lock);
	pthread_cond_destroy(&rs->pause_cond);
	pthread_cond_destroy(&rs->all_parked_cond);
	pthread_mutex_destroy(&rs->pause_lock);
	pthread_cond_destroy(&rs->gate_cond);
	pthread_mutex_destroy(&rs->gate_lock);
}

/* SHUTDOWN or RESET with QEMU's {"guest", "reason"} (a ShutdownCause name). */
static void send_stop_event(enum machine_stop kind, bool guest, const char *reason)
{
	struct json_object *data = json_object_new_object();

	json_object_object_add(data, "guest", json_object_new_boolean(guest));
	json_object_object_add(data, "reason", json_object_new_string(reason));
	qmp_event_send(kind == MACHINE_RESET ? "RESET" : "SHUTDOWN", data);
}

void run_state_request_stop(struct run_state *rs, enum machine_stop kind, int status, bool guest,
			    const char *reason)
{
	uint64_t one = 1;

	/* exit_status is written before stop is published, so a reader of stop sees it. */
	pthread_mutex_lock(&rs->stop_lock);
	if (atomic_load(&rs->stop) != MACHINE_RUNNING) {
		pthread_mutex_unlock(&rs->stop_lock);
		return;
	}
	rs->exit_status = status;
	rs->guest_shutdown = guest && kind == MACHINE_EXIT && status == 0;
	atomic_store(&rs->stop, kind);
	pthread_mutex_unlock(&rs->stop_lock);
	/* Parked vCPUs and a QMP stop waiting for them must see the stop too. */
	pthread_mutex_lock(&rs->pause_lock);
	pthread_cond_broadcast(&rs->pause_cond);
	pthread_mutex_unlock(&rs->pause_lock);
	send_stop_event(kind, guest, reason);
	if (write(rs->stop_eventfd, &one, sizeof(one)) != sizeof(one))
		log_error("cannot signal the stop request: %s", strerror(errno));
}

void run_state_request_exit(struct run_state *rs, int status)
{
	run_state_request_stop(rs, MACHINE_EXIT, status, status == 0,
			       status == 0 ? "guest-shutdown" : "host-error");
}

void run_state_guest_reset(struct run_state *rs)
{
	if (rs->no_reboot) {
		log_info("guest reset with -no-reboot: exiting");
		run_state_request_stop(rs, MACHINE_EXIT, 0, true, "guest-reset");
	} else {
		log_info("guest reset: booting again");
		run_state_request_stop(rs, MACHINE_RESET, 0, true, "guest-reset");
	}
}

/* A stop's STOP event goes out once every vCPU has parked (or at cont, if that is first). */
static atomic_bool stop_event_due;

void run_state_expect_stop_event(void)
{
	atomic_store(&stop_event_due, true);
}

void run_state_send_stop_if_due(void)
{
	if (atomic_exchange(&stop_event_due, false))
		qmp_event_send("STOP", NULL);
}

/* pause_lock held, every vCPU parked: kvmclock stops here... */
static void save_clock(struct run_state *rs)
{
	if (rs->clock_saved)
		return;
	memset(&rs->paused_clock, 0, sizeof(rs->paused_clock));
	if (ioctl(rs->vm_fd, KVM_GET_CLOCK, &rs->paused_clock) == 0)
		rs->clock_saved = true;
	else
		log_debug("KVM_GET_CLOCK: %s (guest time runs on while stopped)", strerror(errno));
}

/* ... and goes on from the same value at cont. pause_lock held. */
static void restore_clock(struct run_state *rs)
{
	struct kvm_clock_data data = { .clock = rs->paused_clock.clock };

	if (!rs->clock_saved)
		return;
	rs->clock_saved = false;
	if (ioctl(rs->vm_fd, KVM_SET_CLOCK, &data))
		log_warn("KVM_SET_CLOCK: %s (guest time jumps by the stop)", strerror(errno));
}

/*
 * pause_lock held. Once every vCPU is parked for a stop (the last one to park sees it, or
 * the stop itself when a cont just before woke them and they have not left the park yet),
 * the clock stops and STOP goes out.
 */
static void stopped_if_all_parked(struct run_state *rs)
{
	if (rs->vcpus_parked != rs->nr_vcpus || !atomic_load(&rs->pause_requested))
		return;
	save_clock(rs);
	run_state_send_stop_if_due();
	pthread_cond_broadcast(&rs->all_parked_cond);
}

void run_state_pause(struct run_state *rs)
{
	atomic_store(&rs->pause_requested, true);
	if (rs->kick_vcpus)
		rs->kick_vcpus(rs->kick_opaque);
	pthread_mutex_lock(&rs->pause_lock);
	stopped_if_all_parked(rs);
	pthread_mutex_unlock(&rs->pause_lock);
}

/* A second at most: a vCPU stuck elsewhere (writing to a stalled console) must not hold
 * QMP for longer; its STOP then follows when it parks. */
#define PARK_WAIT_SECONDS 1

void run_state_wait_parked(struct run_state *rs)
{
	struct timespec deadline;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += PARK_WAIT_SECONDS;
	pthread_mutex_lock(&rs->pause_lock);
	while (rs->vcpus_parked != rs->nr_vcpus && atomic_load(&rs->pause_requested) &&
	       atomic_load(&rs->stop) == MACHINE_RUNNING &&
	       pthread_cond_timedwait(&rs->all_parked_cond, &rs->pause_lock, &deadline) == 0)
		;
	pthread_mutex_unlock(&rs->pause_lock);
}

void run_state_resume(struct run_state *rs)
{
	pthread_mutex_lock(&rs->pause_lock);
	restore_clock(rs);
	atomic_store(&rs->pause_requested, false);
	pthread_cond_broadcast(&rs->pause_cond);
	pthread_mutex_unlock(&rs->pause_lock);
}

bool run_state_park(struct run_state *rs)
{
	bool held = false;

	pthread_mutex_lock(&rs->pause_lock);
	rs->vcpus_parked++;
	stopped_if_all_parked(rs);
	while (atomic_load(&rs->pause_requested) && atomic_load(&rs->stop) == MACHINE_RUNNING) {
		held = true;
		pthread_cond_wait(&rs->pause_cond, &rs->pause_lock);
	}
	rs->vcpus_parked--;
	pthread_mutex_unlock(&rs->pause_lock);
	return held && atomic_load(&rs->stop) == MACHINE_RUNNING;
}

void run_state_hold_vcpus(void *run_state, bool hold)
{
	struct run_state *rs = run_state;

	pthread_mutex_lock(&rs->gate_lock);
	if (!hold) {
		if (--rs->gate_holders == 0)
			pthread_cond_broadcast(&rs->gate_cond);
		pthread_mutex_unlock(&rs->gate_lock);
		return;
	}
	rs->gate_holders++;
	/* A vCPU about to enter has immediate_exit set by the kick: it comes straight back.
	 * Kicked under gate_lock: teardown sets vcpus_joining under it before joining. */
	if (!rs->vcpus_joining && rs->kick_vcpus)
		rs->kick_vcpus(rs->kick_opaque);
	while (rs->vcpus_in_guest)
		pthread_cond_wait(&rs->gate_cond, &rs->gate_lock);
	pthread_mutex_unlock(&rs->gate_lock);
}

void run_state_enter_guest(struct run_state *rs)
{
	pthread_mutex_lock(&rs->gate_lock);
	while (rs->gate_holders)
		pthread_cond_wait(&rs->gate_cond, &rs->gate_lock);
	rs->vcpus_in_guest++;
	pthread_mutex_unlock(&rs->gate_lock);
}

void run_state_leave_guest(struct run_state *rs)
{
	pthread_mutex_lock(&rs->gate_lock);
	if (--rs->vcpus_in_guest == 0 && rs->gate_holders)
		pthread_cond_broadcast(&rs->gate_cond);
	pthread_mutex_unlock(&rs->gate_lock);
}

void run_state_end_vcpus(struct run_state *rs)
{
	pthread_mutex_lock(&rs->gate_lock);
	rs->vcpus_joining = true;
	pthread_mutex_unlock(&rs->gate_lock);
	if (rs->kick_vcpus)
		rs->kick_vcpus(rs->kick_opaque);
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
bool run_state_wait(struct run_state *rs, int signal_fd)
{
	struct pollfd fds[2] = {
		{ .fd = rs->stop_eventfd, .events = POLLIN },
		{ .fd = signal_fd, .events = POLLIN },
	};
	bool terminate = false;

	while (!run_state_stopping(rs)) {
		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_error("poll: %s", strerror(errno));
			run_state_request_exit(rs, 1);
			break;
		}
		if ((fds[1].revents & POLLIN) && read_stop_signal(signal_fd)) {
			terminate = true;
			run_state_request_stop(rs, MACHINE_EXIT, 0, false, "host-signal");
		}
	}
	if (!terminate && poll(&fds[1], 1, 0) > 0 && (fds[1].revents & POLLIN))
		terminate = read_stop_signal(signal_fd);
	return terminate;
}

int run_state_signals_fd(struct error *err)
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
