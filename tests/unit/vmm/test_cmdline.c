#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mm/backend.h"
#include "vmm/cmdline.h"
#include "vmm/cmdline_chardev.h"
#include "util/size.h"

/* A device type of the test's own, to exercise registration and property errors. */
struct probe_config {
	uint64_t level;
};

static void *probe_parse(struct opts *opts, struct error *err)
{
	struct probe_config *c = calloc(1, sizeof(*c));

	if (!c || opts_take_u64(opts, "level", &c->level, 1, err)) {
		free(c);
		return NULL;
	}
	return c;
}

static int probe_realize(struct board *b, void *config, struct error *err)
{
	(void)b;
	(void)config;
	(void)err;
	return 0;
}

static const struct device_type probe_type = {
	.name = "test-probe",
	.kind = TYPE_DEVICE,
	.help = "a unit-test device",
	.parse = probe_parse,
	.realize = probe_realize,
	.free_config = free,
};
DEVICE_TYPE_REGISTER(probe_type)

#define ARGV(...) ((char *[]){ "tide", __VA_ARGS__, NULL })
#define ARGC(...) ((int)(sizeof((char *[]){ "tide", __VA_ARGS__ }) / sizeof(char *)))
#define PARSE(cfg, err, ...) cmdline_parse(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), cfg, out, err)

static FILE *out;

static void setup(void)
{
	out = fopen("/dev/null", "w");
}

static void teardown(void)
{
	fclose(out);
}

static const char *parse_error(int argc, char **argv)
{
	static struct error err;
	struct vm_config cfg;

	ck_assert_int_eq(cmdline_parse(argc, argv, &cfg, out, &err), CMDLINE_ERROR);
	cmdline_free(&cfg);
	return err.msg;
}

#define ERROR_OF(...) parse_error(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__))

START_TEST(qemu_style_line)
{
	struct vm_config cfg;
	struct error err;

	ck_assert_int_eq(PARSE(&cfg, &err, "-kernel", "bz", "-initrd", "rd", "-append",
			       "console=ttyS0", "-m", "512M,maxmem=65G", "-smp", "2", "-serial",
			       "file:/tmp/x", "-nographic", "-no-reboot", "--device",
			       "test-probe,level=3,id=p0"),
			 CMDLINE_RUN);
	ck_assert_str_eq(cfg.kernel, "bz");
	ck_assert_str_eq(cfg.initrd, "rd");
	ck_assert_str_eq(cfg.append, "console=ttyS0");
	ck_assert_uint_eq(cfg.ram_size, 512 * MiB);
	ck_assert_uint_eq(cfg.maxmem, 65 * GiB);
	ck_assert_uint_eq(cfg.smp, 2);
	ck_assert_int_eq(cfg.serial, CHARDEV_FILE);
	ck_assert_str_eq(cfg.serial_path, "/tmp/x");
	ck_assert(cfg.no_reboot);
	ck_assert_uint_eq(cfg.nr_devices, 1);
	ck_assert_str_eq(cfg.devices[0].id, "p0");
	ck_assert_uint_eq(((struct probe_config *)cfg.devices[0].config)->level, 3);
	cmdline_free(&cfg);
}
END_TEST

START_TEST(defaults)
{
	struct vm_config cfg;
	struct error err;

	ck_assert_int_eq(PARSE(&cfg, &err, "-kernel", "k"), CMDLINE_RUN);
	ck_assert_uint_eq(cfg.ram_size, 128 * MiB);
	ck_assert_uint_eq(cfg.smp, 1);
	ck_assert_int_eq(cfg.serial, CHARDEV_STDIO);
	ck_assert(!cfg.no_reboot);
	ck_assert_ptr_null(cfg.append);
	cmdline_free(&cfg);
	ck_assert_int_eq(PARSE(&cfg, &err, "-kernel", "k", "-m", "1024"), CMDLINE_RUN);
	ck_assert_uint_eq(cfg.ram_size, GiB); /* bare number: MiB */
	cmdline_free(&cfg);
	ck_assert_int_eq(PARSE(&cfg, &err, "-kernel", "k", "-m", "size=2G", "-smp", "cpus=3"),
			 CMDLINE_RUN);
	ck_assert_uint_eq(cfg.ram_size, 2 * GiB);
	ck_assert_uint_eq(cfg.smp, 3);
	cmdline_free(&cfg);
}
END_TEST

START_TEST(help_and_version)
{
	struct vm_config cfg;
	struct error err;

	ck_assert_int_eq(PARSE(&cfg, &err, "--help"), CMDLINE_DONE);
	cmdline_free(&cfg);
	ck_assert_int_eq(PARSE(&cfg, &err, "--version"), CMDLINE_DONE);
	cmdline_free(&cfg);
	ck_assert_int_eq(PARSE(&cfg, &err, "-device", "help"), CMDLINE_DONE);
	cmdline_free(&cfg);
}
END_TEST

START_TEST(each_error_names_the_option)
{
	ck_assert_str_eq(ERROR_OF("-bogus"), "unknown option '-bogus' (see --help)");
	ck_assert_str_eq(ERROR_OF("stray"), "unexpected argument 'stray' (see --help)");
	ck_assert_str_eq(ERROR_OF("-kernel"), "-kernel: missing argument PATH");
	ck_assert_str_eq(ERROR_OF("-kernel", ""), "-kernel: empty argument");
	ck_assert_str_eq(ERROR_OF("-m", "512M"), "no kernel given: use -kernel PATH (see --help)");
	ck_assert_ptr_nonnull(strstr(ERROR_OF("-kernel", "k", "-m", "12Q"), "-m: size '12Q'"));
	ck_assert_str_eq(ERROR_OF("-kernel", "k", "-m", "0"),
			 "-m: memory size must be a non-zero multiple of 4 KiB");
	ck_assert_str_eq(ERROR_OF("-kernel", "k", "-m", "1G,slots=99999999999"),
			 "-m: slots=99999999999 is more than the 256 memory slots a PC may have");
	ck_assert_str_eq(ERROR_OF("-kernel", "k", "-m", "1G,slots=257,maxmem=2G"),
			 "-m: slots=257 is more than the 256 memory slots a PC may have");
	ck_assert_str_eq(ERROR_OF("-kernel", "k", "-m", "1G,maxmem=512M"),
			 "-m: maxmem (536870912 bytes) is below the memory size (1073741824 bytes)");
	ck_assert_str_eq(ERROR_OF("-kernel", "k", "-m", "1G,speed=9"),
			 "-m: memory has no property 'speed'");
#if defined(__x86_64__)
	ck_assert_str_eq(ERROR_OF("-kernel", "k", "-smp", "0"),
			 "-smp: 0 CPUs requested, must be 1..40 (the MP table holds 40)");
	ck_assert_str_eq(ERROR_OF("-kernel", "k", "-smp", "41"),
			 "-smp: 41 CPUs requested, must be 1..40 (the MP table holds 40)");
#else
	ck_assert_str_eq(ERROR_OF("-kernel", "k", "-smp", "124"),
			 "-smp: 124 CPUs requested, must be 1..123 (the GIC's redistributor space "
			 "holds 123)");
#endif
	ck_assert_ptr_nonnull(strstr(ERROR_OF("-kernel", "k", "-smp", "two"), "-smp: property 'cpus'"));
	ck_assert_str_eq(ERROR_OF("-kernel", "k", "-smp", "2,sockets=1,cores=2"),
			 "-smp: tide gives each vCPU a socket of its own "
			 "(sockets=2,dies=1,cores=1,threads=1)");
	ck_assert_str_eq(ERROR_OF("-kernel", "k", "-smp", "2,maxcpus=4"),
			 "-smp: tide has no vCPU hotplug (maxcpus=2)");
	ck_assert_str_eq(ERROR_OF("-kernel", "k", "-smp", "2,books=2"),
			 "-smp: -smp has no property 'books'");
	ck_assert_ptr_nonnull(strstr(ERROR_OF("-kernel", "k", "-serial", "tcp:1"), "-serial"));
	ck_assert_str_eq(ERROR_OF("-kernel", "k", "-serial", "stdio", "-serial", "none"),
			 "-serial: only one serial port (COM1) is supported (-serial or -device "
			 "isa-serial, once)");
	ck_assert_str_eq(ERROR_OF("-kernel", "k", "-device", "nosuch"),
			 "-device: unknown type 'nosuch' (try -device help)");
	ck_assert_str_eq(ERROR_OF("-kernel", "k", "-device", "test-probe,colour=red"),
			 "-device: test-probe has no property 'colour'");
	ck_assert_ptr_nonnull(strstr(ERROR_OF("-kernel", "k", "-device", "test-probe,level=x"),
				     "property 'level'"));
	ck_assert_str_eq(ERROR_OF("-kernel", "k", "-device", "test-probe,id=a", "-device",
				  "test-probe,id=a"),
			 "-device: id 'a' is already in use");
	/* QEMU's identifiers: a letter, then letters, digits, '-', '.', '_'. */
	ck_assert_str_eq(ERROR_OF("-kernel", "k", "-device", "test-probe,id=9a"),
			 "-device: id '9a' is not an identifier (letters, digits, '-', '.', '_', "
			 "starting with a letter, at most 63 characters)");
	ck_assert_ptr_nonnull(strstr(ERROR_OF("-kernel", "k", "-device", "test-probe,id="),
				     "is not an identifier"));
	ck_assert_ptr_nonnull(strstr(ERROR_OF("-kernel", "k", "-device", "test-probe,id=a/b"),
				     "is not an identifier"));
	ck_assert_ptr_nonnull(strstr(
		ERROR_OF("-kernel", "k", "-device",
			 "test-probe,id=a123456789012345678901234567890123456789012345678901234567890123"),
		"at most 63 characters"));
	ck_assert_str_eq(ERROR_OF("-kernel", "k", "-object", "test-probe"),
			 "-object: unknown type 'test-probe' (try -object help)");
	ck_assert_str_eq(ERROR_OF("-kernel", "k", "-cpu", "pentium"),
			 "-cpu: unknown CPU model 'pentium' (tide offers host and max)");
	ck_assert_str_eq(ERROR_OF("-kernel", "k", "-cpu", "host,xsave"),
			 "-cpu: feature 'xsave' must be +name, -name, name=on or name=off");
	ck_assert_str_eq(ERROR_OF("-kernel", "k", "-qmp", "unix:/a,server=on", "-qmp",
				  "unix:/b,server=on"),
			 "-qmp: tide serves one QMP socket; give -qmp or -mon once");
	ck_assert_str_eq(ERROR_OF("-kernel", "k", "-qmp", "stdio"),
			 "-qmp: 'stdio': tide offers only unix:PATH,server=on[,wait=off]");
	ck_assert_str_eq(ERROR_OF("-kernel", "k", "-name", ""), "-name: empty name");
#if defined(__x86_64__)
	ck_assert_str_eq(ERROR_OF("-kernel", "k", "-machine", "virt"),
			 "-machine: tide has one machine type, a PC without firmware (pc, q35 and their "
			 "versions are taken as it), not 'virt'");
	ck_assert_str_eq(ERROR_OF("-kernel", "k", "-machine", "pc,dumpdtb=x.dtb"),
			 "-machine dumpdtb: this machine boots without a device tree");
#else
	ck_assert_str_eq(ERROR_OF("-kernel", "k", "-machine", "pc"),
			 "-machine: tide has one machine type, virt, an arm64 board without "
			 "firmware, not 'pc'");
	ck_assert_str_eq(ERROR_OF("-kernel", "k", "-machine", "virt,dumpdtb="),
			 "-machine dumpdtb: needs a file name");
#endif
	ck_assert_str_eq(ERROR_OF("-kernel", "k", "-machine", "memory-backend=ram0"),
			 "-machine memory-backend: boot RAM: 'ram0' is not a memory backend object "
			 "(-object memory-backend-*,id=ram0)");
	ck_assert_str_eq(ERROR_OF("-kernel", "k", "-name", "vm,threads=on"),
			 "-name: -name has no property 'threads'");
}
END_TEST

START_TEST(qmp_and_name)
{
	struct vm_config cfg;
	struct error err;

	ck_assert_int_eq(PARSE(&cfg, &err, "-kernel", "k", "-qmp",
			       "unix:/run/t.sock,server=on,wait=off", "-name", "guest=web1"),
			 CMDLINE_RUN);
	ck_assert(cfg.has_qmp);
	ck_assert_str_eq(cfg.qmp.path, "/run/t.sock");
	ck_assert(!cfg.qmp.wait);
	ck_assert_str_eq(cfg.name, "web1");
	cmdline_free(&cfg);
	/* -m with only maxmem leaves the size to -machine memory-backend (QEMU). */
	ck_assert_int_eq(PARSE(&cfg, &err, "-kernel", "k", "-object",
			       "memory-backend-ram,id=r,size=256M", "-machine", "memory-backend=r",
			       "-m", "maxmem=4G"),
			 CMDLINE_RUN);
	ck_assert_uint_eq(cfg.ram_size, 256 * MiB);
	ck_assert_ptr_nonnull(cfg.ram_backend);
	cmdline_free(&cfg);
	/* Several -m merge (QEMU): each sets what it names. */
	ck_assert_int_eq(PARSE(&cfg, &err, "-kernel", "k", "-m", "1G,maxmem=8G", "-m", "2G"),
			 CMDLINE_RUN);
	ck_assert_uint_eq(cfg.ram_size, 2 * GiB);
	ck_assert_uint_eq(cfg.maxmem, 8 * GiB);
	cmdline_free(&cfg);
	ck_assert_str_eq(ERROR_OF("-kernel", "k", "-object", "memory-backend-ram,id=r,size=1G",
				  "-machine", "memory-backend=r", "-m", "2G", "-m", "maxmem=8G"),
			 "-machine memory-backend: 'r' is 1073741824 bytes but -m asks for "
			 "2147483648; they must be equal (or leave out -m)");
	ck_assert_int_eq(PARSE(&cfg, &err, "-kernel", "k", "-name", "db"), CMDLINE_RUN);
	ck_assert(!cfg.has_qmp);
	ck_assert_str_eq(cfg.name, "db");
	cmdline_free(&cfg);
}
END_TEST

START_TEST(cpu_features)
{
	struct vm_config cfg;
	struct error err;

	ck_assert_int_eq(PARSE(&cfg, &err, "-kernel", "k", "-cpu", "host,-xsave,+pdpe1gb,avx=off,x2apic=on"),
			 CMDLINE_RUN);
	ck_assert_uint_eq(cfg.cpu.nr_drops, 2);
	ck_assert_str_eq(cfg.cpu.feature_drops[0], "xsave");
	ck_assert_str_eq(cfg.cpu.feature_drops[1], "avx");
	ck_assert_uint_eq(cfg.cpu.nr_adds, 2);
	ck_assert_str_eq(cfg.cpu.feature_adds[0], "pdpe1gb");
	ck_assert_str_eq(cfg.cpu.feature_adds[1], "x2apic");
	cmdline_free(&cfg);
}
END_TEST

/* The architecture's machine, by its alias. */
#if defined(__x86_64__)
#define MACHINE "pc"
#else
#define MACHINE "virt"
#endif

/* libvirt's probe: no guest, QMP only, detached, paused. */
START_TEST(probe_line)
{
	struct vm_config cfg;
	struct error err;

	ck_assert_int_eq(PARSE(&cfg, &err, "-S", "-no-user-config", "-nodefaults", "-nographic",
			       "-machine", "none,accel=kvm:tcg", "-qmp",
			       "unix:/run/p.sock,server=on,wait=off", "-pidfile", "/run/p.pid",
			       "-daemonize"),
			 CMDLINE_RUN);
	ck_assert(cfg.machine_none && cfg.start_paused && cfg.daemonize && !cfg.accel_tcg);
	ck_assert_str_eq(cfg.pidfile, "/run/p.pid");
	ck_assert_int_eq(cfg.serial, CHARDEV_NONE);
	cmdline_free(&cfg);
	ck_assert_int_eq(PARSE(&cfg, &err, "-machine", "none,accel=tcg"), CMDLINE_RUN);
	ck_assert(cfg.accel_tcg);
	cmdline_free(&cfg);
	ck_assert_str_eq(ERROR_OF("-kernel", "k", "-machine", MACHINE ",accel=tcg"),
			 "tide runs on KVM only: accel=tcg is for -machine none");
	ck_assert_str_eq(ERROR_OF("-kernel", "k", "-machine", MACHINE ",accel=xen"),
			 "-machine: tide runs on KVM only (accel=kvm), not 'xen'");
	/* In any order, as QEMU reads them. */
	ck_assert_int_eq(PARSE(&cfg, &err, "-accel", "tcg", "-machine", "none"), CMDLINE_RUN);
	ck_assert(cfg.accel_tcg && cfg.machine_none);
	cmdline_free(&cfg);
	ck_assert_str_eq(ERROR_OF("-machine", "none,accel=tcg", "-machine", MACHINE, "-kernel", "k"),
			 "tide runs on KVM only: accel=tcg is for -machine none");
	ck_assert_str_eq(ERROR_OF("-machine", "none", "-device", "test-probe"),
			 "-machine none has no guest: it takes no -device, -object, -numa or "
			 "dumpdtb=");
	ck_assert_str_eq(ERROR_OF("-kernel", "k", "-daemonize"),
			 "-daemonize: the serial port cannot be on stdio once tide detaches (use "
			 "-serial file:PATH, -serial none or -nodefaults)");
	ck_assert_str_eq(ERROR_OF("-kernel", "k", "-pidfile", ""), "-pidfile: empty file name");
	ck_assert_str_eq(ERROR_OF("-machine", MACHINE),
			 "no kernel given: use -kernel PATH (see --help)");
}
END_TEST

/* What libvirt generates for a domain: each option taken for what tide is, or refused. */
START_TEST(management_options)
{
	static const struct {
		const char *option, *arg, *error;
	} refused[] = {
		{ "-uuid", "3197655d-70bc-4786-95e9", "-uuid: '3197655d-70bc-4786-95e9' is not a UUID "
						      "(8-4-4-4-12 hexadecimal digits)" },
		{ "-uuid", "3197655d-70bc-4786-95e9-9035b031607g",
		  "-uuid: '3197655d-70bc-4786-95e9-9035b031607g' is not a UUID (8-4-4-4-12 "
		  "hexadecimal digits)" },
		{ "-display", "sdl", "-display: type=sdl is not supported: tide has no display "
				     "(type=none)" },
		{ "-rtc", "base=localtime", "-rtc: base=localtime is not supported: the guest's clock "
					   "follows the host's (base=utc)" },
		{ "-boot", "strict=off", "-boot: strict=off is not supported: tide boots only its "
					 "-kernel (strict=on)" },
		{ "-overcommit", "mem-lock=on", "-overcommit: mem-lock=on is not supported: tide does "
						"not lock guest memory (mem-lock=off)" },
		{ "-audiodev", "pa,id=a", "-audiodev: driver=pa is not supported: tide has no sound "
					  "device (driver=none)" },
		{ "-audiodev", "none", "-audiodev: needs id=ID" },
		{ "-audiodev", "{\"id\": \"a\", \"driver\": \"none\", \"timer-period\": 5}",
		  "-audiodev: 'timer-period' is not supported with driver=none" },
		{ "-audiodev", "{\"id\": \"a\", \"driver\": \"alsa\"}",
		  "-audiodev: driver=alsa is not supported: tide has no sound device (driver=none)" },
		{ "-audiodev", "{nope", "-audiodev: '{nope' is not a JSON object" },
		{ "-msg", "timestamp=maybe", "-msg: property 'timestamp' must be on or off, not 'maybe'" },
		{ "-accel", "hvf", "-accel: tide runs on KVM only (accel=kvm), not 'hvf'" },
		{ "-accel", "tcg", "tide runs on KVM only: accel=tcg is for -machine none" },
		{ "-machine", MACHINE ",usb=on",
		  "-machine: tide has no USB controller (usb=off), not usb=on" },
#if defined(__x86_64__)
		{ "-machine", "pc-i440fx-seven", "-machine: tide has one machine type, a PC without "
						 "firmware (pc, q35 and their versions are taken "
						 "as it), not 'pc-i440fx-seven'" },
#endif
		{ "-numa", "node,nodeid=1", "-numa: tide's guest has one NUMA node (nodeid=0)" },
		{ "-numa", "dist,src=0,dst=0,val=10", "-numa: -numa has no property 'src'" },
		{ "-numa", "node,cpus=1-2", "-numa: cpus=1-2: the one node holds every vCPU, from 0" },
		{ "-object", "secret,id=s", "-object: secret needs one of file=PATH and data=TEXT" },
		{ "-object", "secret,id=s,data=x,format=hex",
		  "-object: secret format must be raw or base64, not 'hex'" },
	};

	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		char *argv[] = { "tide", "-kernel", "k", (char *)refused[i].option,
				 (char *)refused[i].arg, NULL };
		const char *msg = parse_error(5, argv);

		ck_assert_msg(!strcmp(msg, refused[i].error), "%s %s: %s", refused[i].option,
			      refused[i].arg, msg);
	}
#if defined(__x86_64__)
	struct vm_config cfg;
	struct error err;

	ck_assert_int_eq(PARSE(&cfg, &err, "-name", "guest=d,debug-threads=on", "-S", "-object",
			       "secret,id=masterKey0,format=raw,data=abc", "-machine",
			       "pc-i440fx-7.2,usb=off,dump-guest-core=off", "-accel", "kvm", "-cpu",
			       "host,migratable=on", "-m", "size=262144k,slots=1,maxmem=4194304k",
			       "-overcommit", "mem-lock=off", "-smp", "2,sockets=2,cores=1,threads=1",
			       "-object", "memory-backend-ram,id=ram-node0,size=268435456", "-numa",
			       "node,nodeid=0,cpus=0-1,memdev=ram-node0", "-uuid",
			       "3197655d-70bc-4786-95e9-9035b0316078", "-display", "none",
			       "-no-user-config", "-nodefaults", "-rtc", "base=utc", "-no-shutdown",
			       "-no-acpi", "-boot", "strict=on", "-kernel", "k", "-object",
			       "memory-backend-ram,id=vm,reserve=off,size=1G", "-object",
			       "memory-backend-ram,id=kept,dump=on,size=1G", "-audiodev",
			       "{\"id\":\"audio1\",\"driver\":\"none\"}", "-msg", "timestamp=off"),
			 CMDLINE_RUN);
	ck_assert(cfg.start_paused && cfg.no_shutdown && !cfg.dump_guest_core);
	ck_assert_uint_eq(cfg.smp, 2);
	ck_assert_uint_eq(cfg.ram_size, 256 * MiB);
	ck_assert_str_eq(cfg.ram_backend_id, "ram-node0");
	ck_assert_str_eq(cfg.uuid, "3197655d-70bc-4786-95e9-9035b0316078");
	ck_assert_uint_eq(cfg.cpu.nr_adds + cfg.cpu.nr_drops, 0); /* migratable is no feature */
	/* dump-guest-core=off reaches the backends that did not say dump= themselves. */
	ck_assert(!((struct memory_backend *)cfg.devices[1].config)->dump);
	ck_assert(!((struct memory_backend *)cfg.devices[2].config)->dump);
	ck_assert(((struct memory_backend *)cfg.devices[3].config)->dump);
	cmdline_free(&cfg);
	ck_assert_str_eq(ERROR_OF("-kernel", "k", "-object", "memory-backend-ram,id=r,size=1G",
				  "-machine", "memory-backend=r", "-numa", "node,memdev=r"),
			 "-numa: memdev= and -machine memory-backend= both name boot RAM; give one");
	ck_assert_str_eq(ERROR_OF("-kernel", "k", "-smp", "1", "-numa", "node,cpus=0-1"),
			 "-numa: cpus=0-1 must name every vCPU (0-0): tide's guest has one node");
#endif
}
END_TEST

/* -add-fd, -chardev, -mon and -device isa-serial, as libvirt joins them. */
START_TEST(chardevs_and_inherited_fds)
{
	struct vm_config cfg;
	struct error err;
	int sock[2], file;
	char mon[64], add_fd[64], bad_fd[64];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sock), 0);
	file = dup(sock[1]);
	snprintf(mon, sizeof(mon), "socket,id=charmonitor,fd=%d,server=on,wait=off", sock[0]);
	snprintf(add_fd, sizeof(add_fd), "set=3,fd=%d,opaque=serial0-source", file);
	ck_assert_int_eq(PARSE(&cfg, &err, "-kernel", "k", "-chardev", mon, "-mon",
			       "chardev=charmonitor,id=monitor,mode=control", "-add-fd", add_fd,
			       "-chardev", "file,id=charserial0,path=/dev/fdset/3,append=on",
			       "-device", "isa-serial,chardev=charserial0,id=serial0,index=0"),
			 CMDLINE_RUN);
	ck_assert(cfg.has_qmp && !cfg.qmp.wait && !cfg.qmp.path);
	ck_assert_int_eq(cfg.qmp.listen_fd, sock[0]);
	ck_assert_int_eq(cfg.serial, CHARDEV_FILE);
	ck_assert_int_eq(cfg.serial_fd, file);
	ck_assert(cmdline_keeps_fd(&cfg, sock[0]) && cmdline_keeps_fd(&cfg, file));
	ck_assert(!cmdline_keeps_fd(&cfg, sock[1]));
	cmdline_free(&cfg);
	/* A chardev file by path is the serial port's file, as -serial file: is. */
	ck_assert_int_eq(PARSE(&cfg, &err, "-kernel", "k", "-chardev", "file,id=c,path=/tmp/s.log",
			       "-device", "isa-serial,chardev=c"),
			 CMDLINE_RUN);
	ck_assert_str_eq(cfg.serial_path, "/tmp/s.log");
	cmdline_free(&cfg);
	snprintf(bad_fd, sizeof(bad_fd), "set=0,fd=%d", 1000);
	ck_assert_str_eq(ERROR_OF("-kernel", "k", "-add-fd", bad_fd),
			 "-add-fd: fd=1000 is not a descriptor tide was given");
	ck_assert_str_eq(ERROR_OF("-kernel", "k", "-add-fd", "set=0"), "-add-fd: needs fd=N");
	snprintf(bad_fd, sizeof(bad_fd), "set=5000000000,fd=%d", file);
	ck_assert_str_eq(ERROR_OF("-kernel", "k", "-add-fd", bad_fd),
			 "-add-fd: set=5000000000 is out of range");
	snprintf(bad_fd, sizeof(bad_fd), "set=0,fd=%d", 70000);
	ck_assert_str_eq(ERROR_OF("-kernel", "k", "-add-fd", bad_fd),
			 "-add-fd: fd=70000 is not a descriptor tide was given");
	ck_assert_str_eq(ERROR_OF("-kernel", "k", "-chardev", "file,id=f,path=/dev/fdset/",
				  "-device", "isa-serial,chardev=f"),
			 "-chardev file: /dev/fdset/ is not /dev/fdset/N");
	ck_assert_str_eq(ERROR_OF("-kernel", "k", "-device", "isa-serial,chardev=f", "-device",
				  "isa-serial,chardev=g"),
			 "-device isa-serial: tide has one serial port");
	ck_assert_str_eq(ERROR_OF("-kernel", "k", "-chardev", "tcp,id=t"),
			 "-chardev: backend 'tcp' is not supported (socket with fd=, or file)");
	ck_assert_str_eq(ERROR_OF("-kernel", "k", "-chardev", "file,path=/x"),
			 "-chardev: needs id=ID");
	ck_assert_str_eq(ERROR_OF("-kernel", "k", "-chardev", "socket,id=s,path=/x,server=on"),
			 "-chardev socket: needs fd=N");
	snprintf(mon, sizeof(mon), "socket,id=m,fd=%d,server=on", sock[0]);
	ck_assert_str_eq(ERROR_OF("-kernel", "k", "-chardev", mon),
			 "-chardev socket: tide takes a socket it listens on without waiting "
			 "(fd=N,server=on,wait=off)");
	ck_assert_str_eq(ERROR_OF("-kernel", "k", "-mon", "chardev=m"),
			 "-mon: tide's monitor speaks QMP only (mode=control), not 'readline'");
	ck_assert_str_eq(ERROR_OF("-kernel", "k", "-mon", "chardev=m,mode=control"),
			 "-mon: no -chardev with id 'm'");
	ck_assert_str_eq(ERROR_OF("-kernel", "k", "-chardev", "file,id=f,path=/x", "-mon",
				  "chardev=f,mode=control"),
			 "-mon: chardev 'f' is not a socket");
	ck_assert_str_eq(ERROR_OF("-kernel", "k", "-qmp", "unix:/a,server=on", "-mon",
				  "chardev=f,mode=control"),
			 "-mon: tide serves one QMP monitor");
	ck_assert_str_eq(ERROR_OF("-kernel", "k", "-chardev", "file,id=f,path=/dev/fdset/9",
				  "-device", "isa-serial,chardev=f"),
			 "-chardev file: /dev/fdset/9 names no -add-fd set");
	ck_assert_str_eq(ERROR_OF("-kernel", "k", "-chardev", "file,id=f,path=/x,append=on",
				  "-device", "isa-serial,chardev=f"),
			 "-chardev file: append=on is supported for /dev/fdset/N paths (tide "
			 "truncates a file it opens)");
	ck_assert_str_eq(ERROR_OF("-kernel", "k", "-device", "isa-serial,chardev=f,index=1"),
			 "-device isa-serial: tide has one serial port (index=0)");
	ck_assert_str_eq(ERROR_OF("-kernel", "k", "-device", "isa-serial"),
			 "-device isa-serial: needs chardev=ID");
	ck_assert_str_eq(ERROR_OF("-kernel", "k", "-serial", "none", "-device",
				  "isa-serial,chardev=f"),
			 "-device isa-serial: tide has one serial port (COM1), and -serial already "
			 "set it");
	ck_assert_str_eq(ERROR_OF("-kernel", "k", "-chardev", "file,id=f,path=/x", "-chardev",
				  "file,id=f,path=/y"),
			 "-chardev: id 'f' is already in use");
	close(sock[0]);
	close(sock[1]);
	close(file);
}
END_TEST

Suite *suite_main(void)
{
	Suite *s = suite_create("cmdline");
	TCase *tc = tcase_create("parse");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, qemu_style_line);
	tcase_add_test(tc, defaults);
	tcase_add_test(tc, help_and_version);
	tcase_add_test(tc, each_error_names_the_option);
	tcase_add_test(tc, cpu_features);
	tcase_add_test(tc, qmp_and_name);
	tcase_add_test(tc, probe_line);
	tcase_add_test(tc, management_options);
	tcase_add_test(tc, chardevs_and_inherited_fds);
	suite_add_tcase(s, tc);
	return s;
}
