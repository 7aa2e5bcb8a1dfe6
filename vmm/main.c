/* tide: parse the command line, then run the machine until it exits (rebuilding it on reset). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "arch/arch.h"
#include "mm/backend.h"
#include "vmm/chardev.h"
#include "vmm/cmdline.h"
#include "vmm/cmdline_chardev.h"
#include "vmm/daemon.h"
#include "util/event_loop.h"
#include "util/log.h"
#include "vmm/host_kvm.h"
#include "vmm/machine.h"
#include "vmm/qmp_commands.h"
#include "vmm/qmp_events.h"
#include "vmm/qmp_server.h"
#include "vmm/sandbox.h"
#include "vmm/vcpu.h"

/* SIGINT/SIGTERM are read through a signalfd, so no thread may take them asynchronously. */
/*
 * Descriptors inherited from whoever started tide (a shell's, a manager's) have no
 * business in a VMM that runs a guest: only stdin, stdout and stderr stay, and those an
 * option hands over (-add-fd, -chardev socket,fd=N).
 */
static int close_inherited_fds(const struct vm_config *cfg, struct error *err)
{
	unsigned from = 3;

	for (unsigned fd = 3; fd < 65536; fd++) {
		if (!cmdline_keeps_fd(cfg, (int)fd))
			continue;
		if (fd > from && close_range(from, fd - 1, 0) < 0 && errno != ENOSYS)
			return error_set(err, "cannot close inherited file descriptors: %s",
					 strerror(errno));
		from = fd + 1;
	}
	if (close_range(from, ~0U, 0) == 0)
		return 0;
	if (errno != ENOSYS)
		return error_set(err, "cannot close inherited file descriptors: %s",
				 strerror(errno));
	for (long fd = 3, max = sysconf(_SC_OPEN_MAX); fd < max && fd < 65536; fd++)
		if (!cmdline_keeps_fd(cfg, (int)fd))
			close((int)fd); /* EBADF for most: nothing was open there */
	return 0;
}

static int block_stop_signals(struct error *err)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGUSR1); /* the vCPU kick; vCPU threads unblock it for themselves */
	if (pthread_sigmask(SIG_BLOCK, &set, NULL))
		return error_set(err, "cannot block signals");
	/* A console reader that goes away must not kill the VM: writes then fail with EPIPE. */
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		return error_set(err, "cannot ignore SIGPIPE: %s", strerror(errno));
	return vcpu_init_signals(err);
}

/*
 * What needs the host's filesystem is opened once, before tide confines itself: /dev/kvm
 * and the files of -object backends (a reset builds a new VM from them).
 */
static int open_host_resources(struct vm_config *cfg, struct error *err)
{
	arch_probe_host();
	(void)host_thp_size(); /* read once, kept */
	if (host_kvm_open(err)) {
		if (!cfg->machine_none)
			return -1;
		err->msg[0] = '\0'; /* a probe without KVM: query-kvm says it is absent */
	}
	if (cfg->dumpdtb) {
		cfg->dumpdtb_fd = open(cfg->dumpdtb, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (cfg->dumpdtb_fd < 0)
			return error_set(err, "-machine dumpdtb=%s: %s", cfg->dumpdtb,
					 strerror(errno));
	}
	for (size_t i = 0; i < cfg->nr_devices; i++) {
		const struct device_instance *d = &cfg->devices[i];

		if (d->type->open && d->type->open(d->config, err))
			return -1;
	}
	return 0;
}

/* Every other thread starts confined, with its own seccomp filter. */
static void start_prealloc_worker(void)
{
	sandbox_enter_thread_or_die(SANDBOX_PREALLOC);
}

static void start_io_thread(void)
{
	sandbox_enter_thread_or_die(SANDBOX_IO);
}

/*
 * Guest work yields to the control plane: on a busy host (2 cores, a vCPU and this thread
 * running) the I/O thread that answers QMP preempts it. Lowering one's own priority needs
 * no privilege; before the filter, which does not list setpriority.
 */
#define DEVICE_THREAD_NICE 10

static void start_device_thread(void)
{
	if (setpriority(PRIO_PROCESS, (id_t)gettid(), DEVICE_THREAD_NICE) < 0)
		log_warn("device worker: setpriority: %s (it keeps the I/O thread's priority)",
			 strerror(errno));
	sandbox_enter_thread_or_die(SANDBOX_DEVICE);
}

/* -qmp: the socket is bound before tide confines itself, and served by the I/O thread. */
static struct qmp_server *start_qmp(const struct vm_config *cfg, struct event_loop *loop,
				    struct qmp_engine *engine, struct error *err)
{
	struct qmp_server *server;

	if (!cfg->has_qmp)
		return NULL;
	qmp_commands_engine(engine, cfg);
	server = qmp_server_new(&cfg->qmp, loop, engine, err);
	if (!server)
		return NULL;
	if (qmp_events_start(server, loop, err)) {
		qmp_server_free(server);
		return NULL;
	}
	/* Commands that arrive between two machines wait for the next one. */
	machine_on_current_change(qmp_server_wake, server);
	return server;
}

static void stop_qmp(struct qmp_server *server)
{
	machine_no_more();
	if (!server)
		return;
	machine_on_current_change(NULL, NULL);
	qmp_events_stop();
	qmp_server_free(server);
}

int main(int argc, char **argv)
{
	struct vm_config cfg;
	struct error err = { "" };
	struct chardev *console = NULL;
	struct event_loop *loop = NULL, *device_loop = NULL;
	struct qmp_server *qmp = NULL;
	struct qmp_engine engine;
	enum machine_stop stop;
	bool go_on;
	int status = 1;

	log_start_clock();
	switch (cmdline_parse(argc, argv, &cfg, stdout, &err)) {
	case CMDLINE_DONE:
		cmdline_free(&cfg);
		return 0;
	case CMDLINE_ERROR:
		log_fatal(err.msg);
		cmdline_free(&cfg);
		return 1;
	case CMDLINE_RUN:
		break;
	}
	if (close_inherited_fds(&cfg, &err) || (cfg.daemonize && daemon_begin(&err)) ||
	    (cfg.pidfile && daemon_write_pidfile(cfg.pidfile, &err)) ||
	    (cfg.kernel && arch_read_boot_files(cfg.kernel, cfg.initrd, &cfg.boot, &err)) ||
	    block_stop_signals(&err) || sandbox_seccomp_init(cfg.sandbox.seccomp, &err))
		goto fail;
	memory_backend_set_worker_start(start_prealloc_worker);
	console = cfg.serial_fd >= 0 ? chardev_open_fd(cfg.serial_fd, &err)
				     : chardev_open(cfg.serial, cfg.serial_path, &err);
	if (!console)
		goto fail;
	loop = event_loop_new(&err);
	/* Guest work (virtio-mem requests) has its own thread: QMP never waits behind it. */
	if (loop)
		device_loop = event_loop_new(&err);
	if (!device_loop || open_host_resources(&cfg, &err))
		goto fail;
	event_loop_set_thread_start(loop, start_io_thread);
	event_loop_set_thread_start(device_loop, start_device_thread);
	qmp = start_qmp(&cfg, loop, &engine, &err);
	if (cfg.has_qmp && !qmp)
		goto fail;
	/* Set up: what follows needs no privilege, and no other thread exists yet. */
	if (sandbox_confine_process(&cfg.sandbox, &err))
		goto fail;
	if (cfg.sandbox.chroot_dir) { /* their paths name other files in here */
		if (qmp)
			qmp_server_forget_path(qmp);
		daemon_forget_pidfile_path();
	}
	/* Detached once confinement worked: what fails later goes to /dev/null, as in QEMU. */
	if (daemon_ready(&err))
		goto fail;
	if (event_loop_start(loop, &err) || event_loop_start(device_loop, &err) ||
	    chardev_start_input(console, machine_quit_current, NULL, &err) ||
	    sandbox_enter_thread(SANDBOX_MAIN, &err))
		goto fail;
	/* wait=on: SIGINT/SIGTERM while waiting ends tide as QEMU does, status 0. */
	go_on = !qmp || !cfg.qmp.wait || qmp_server_wait_for_client(qmp);
	status = 0;
	if (cfg.start_paused)
		machine_start_paused();
	while (go_on) {
		err.msg[0] = '\0';
		stop = machine_run(&cfg, console, loop, device_loop, &status, &err);
		if (err.msg[0])
			goto fail;
		go_on = stop == MACHINE_RESET;
	}
	stop_qmp(qmp);
	event_loop_free(device_loop);
	event_loop_free(loop);
	chardev_close(console);
	host_kvm_close();
	arch_free_boot_files(&cfg.boot);
	cmdline_free(&cfg);
	daemon_end();
	return status;
fail:
	log_fatal(err.msg);
	if (loop)
		stop_qmp(qmp);
	event_loop_free(device_loop);
	event_loop_free(loop);
	if (console)
		chardev_close(console);
	host_kvm_close();
	arch_free_boot_files(&cfg.boot);
	cmdline_free(&cfg);
	daemon_end();
	return 1;
}
