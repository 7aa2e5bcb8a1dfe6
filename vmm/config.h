/* What the command line asked for; parsed and validated before anything starts. */
#ifndef TIDE_CONFIG_H
#define TIDE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch/arch.h"
#include "vmm/chardev.h"
#include "vmm/config_chardevs.h"
#include "devices/device.h"
#include "vmm/qmp_server.h"
#include "vmm/sandbox.h"

struct memory_backend;

struct vm_config {
	const char *kernel;
	const char *initrd;
	const char *append;
	uint64_t ram_size;
	bool ram_size_given; /* -m was on the command line */
	char *ram_backend_id; /* -machine memory-backend=ID (owned) */
	struct memory_backend *ram_backend; /* resolved from it, or NULL: anonymous boot RAM */
	uint64_t maxmem; /* 0 = no device memory area */
	/* The device memory (virtio-mem) area, [start, end): placed by cmdline_parse(). */
	uint64_t device_area_start;
	uint64_t device_area_end;
	uint64_t mem_slots;
	unsigned smp;
	bool numa_node_given; /* -numa node */
	int numa_cpus_last;   /* its cpus=0-N: N; -1 when not given */
	enum chardev_kind serial;
	const char *serial_path;
	int serial_fd; /* the serial port's file from -add-fd, or -1 */
	struct cmdline_chardevs chardevs; /* -add-fd, -chardev, -mon, -device isa-serial */
	char *name; /* -name: what query-name answers (owned) */
	bool has_qmp;
	struct qmp_server_config qmp;
	bool no_reboot;
	bool no_shutdown;  /* -no-shutdown: a guest's poweroff stops the VM instead of exiting */
	bool machine_none; /* -machine none: no guest, QMP only (a management tool's probe) */
	bool accel_tcg;	   /* -machine none,accel=tcg: what query-kvm answers (nothing runs) */
	bool start_paused; /* -S: the vCPUs wait for QMP's cont */
	bool daemonize;	   /* -daemonize: detach once the QMP socket listens */
	const char *pidfile; /* -pidfile: tide's pid goes there */
	bool dump_guest_core; /* -machine dump-guest-core: guest memory in tide's core dumps */
	bool nodefaults;   /* -nodefaults: no serial port unless one is asked for */
	char uuid[37];	   /* -uuid, as given (query-uuid); "" when none */
	char *dumpdtb;	 /* -machine dumpdtb=FILE (arm64): write the device tree, then exit (owned) */
	int dumpdtb_fd; /* opened before tide confines itself; -1: none */
	bool nographic;
	struct cpu_config cpu;
	struct boot_files boot;
	struct sandbox_config sandbox; /* -run-with, -runas, -chroot, -sandbox */
	struct device_instance *devices; /* -object then -device, in command-line order */
	size_t nr_devices;
};

#endif
