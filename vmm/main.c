/* tide: parse the command line, then run the machine until it exits (rebuilding it on reset). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arch/x86/platform.h"
#include "vmm/chardev.h"
#include "vmm/cmdline.h"
#include "vmm/event_loop.h"
#include "vmm/log.h"
#include "vmm/machine.h"
#include "vmm/qmp_commands.h"
#include "vmm/qmp_events.h"
#include "vmm/qmp_server.h"
#include "vmm/vcpu.h"

/* SIGINT/SIGTERM are read through a signalfd, so no thread may take them asynchronously. */
/*
 * Descriptors inherited from whoever started tide (a shell's, a manager's) have no
 * business in a VMM that runs a guest: only stdin, stdout and stderr stay. No option
 * hands tide a descriptor yet.
 */
static int close_inherited_fds(struct error *err)
{
	if (close_range(3, ~0U, 0) == 0)
		return 0;
	if (errno != ENOSYS)
		return error_set(err, "cannot close inherited file descriptors: %s",
				 strerror(errno));
	for (long fd = 3, max = sysconf(_SC_OPEN_MAX); fd < max && fd < 65536; fd++)
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

/* -qmp: the socket is served before the first machine is built (wait=on waits for a client). */
static struct qmp_server *start_qmp(const struct vm_config *cfg, struct event_loop *loop,
				    struct qmp_engine *engine, bool *go_on, struct error *err)
{
	struct qmp_server *server;

	*go_on = true;
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
	if (cfg->qmp.wait && !qmp_server_wait_for_client(server))
		*go_on = false; /* SIGINT/SIGTERM while waiting: end as QEMU does, status 0 */
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
	struct event_loop *loop = NULL;
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
		fprintf(stderr, "tide: %s\n", err.msg);
		cmdline_free(&cfg);
		return 1;
	case CMDLINE_RUN:
		break;
	}
	if (close_inherited_fds(&err) || platform_read_boot_files(&cfg, &err) ||
	    block_stop_signals(&err))
		goto fail;
	console = chardev_open(cfg.serial, cfg.serial_path, &err);
	if (!console)
		goto fail;
	if (chardev_start_input(console, machine_quit_current, NULL, &err))
		goto fail;
	loop = event_loop_new(&err);
	if (!loop)
		goto fail;
	qmp = start_qmp(&cfg, loop, &engine, &go_on, &err);
	if (cfg.has_qmp && !qmp)
		goto fail;
	status = 0;
	while (go_on) {
		err.msg[0] = '\0';
		stop = machine_run(&cfg, console, loop, &status, &err);
		if (err.msg[0])
			goto fail;
		go_on = stop == MACHINE_RESET;
	}
	stop_qmp(qmp);
	event_loop_free(loop);
	chardev_close(console);
	platform_free_boot_files(&cfg);
	cmdline_free(&cfg);
	return status;
fail:
	fprintf(stderr, "tide: %s\n", err.msg);
	if (loop)
		stop_qmp(qmp);
	event_loop_free(loop);
	if (console)
		chardev_close(console);
	platform_free_boot_files(&cfg);
	cmdline_free(&cfg);
	return 1;
}
