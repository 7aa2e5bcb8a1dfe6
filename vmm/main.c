/* tide: parse the command line, then run the machine until it exits (rebuilding it on reset). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/platform.h"
#include "vmm/chardev.h"
#include "vmm/cmdline.h"
#include "vmm/event_loop.h"
#include "vmm/log.h"
#include "vmm/machine.h"
#include "vmm/vcpu.h"

/* SIGINT/SIGTERM are read through a signalfd, so no thread may take them asynchronously. */
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

int main(int argc, char **argv)
{
	struct vm_config cfg;
	struct error err = { "" };
	struct chardev *console = NULL;
	struct event_loop *loop = NULL;
	enum machine_stop stop;
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
	if (platform_read_boot_files(&cfg, &err) || block_stop_signals(&err))
		goto fail;
	console = chardev_open(cfg.serial, cfg.serial_path, &err);
	if (!console)
		goto fail;
	if (chardev_start_input(console, machine_quit_current, NULL, &err))
		goto fail;
	loop = event_loop_new(&err);
	if (!loop)
		goto fail;
	do {
		err.msg[0] = '\0';
		stop = machine_run(&cfg, console, loop, &status, &err);
		if (err.msg[0])
			goto fail;
	} while (stop == MACHINE_RESET);
	event_loop_free(loop);
	chardev_close(console);
	platform_free_boot_files(&cfg);
	cmdline_free(&cfg);
	return status;
fail:
	fprintf(stderr, "tide: %s\n", err.msg);
	event_loop_free(loop);
	if (console)
		chardev_close(console);
	platform_free_boot_files(&cfg);
	cmdline_free(&cfg);
	return 1;
}
