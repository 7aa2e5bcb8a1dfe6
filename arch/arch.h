/*
 * The one interface between an architecture and the rest of tide. Everything outside
 * arch/ includes this header and no other from arch/; each architecture implements it
 * in arch/<name>/ (x86 and arm64). What it owns: the guest-physical layout, reading and
 * loading the kernel, the VM's interrupt controller and CPU model, each vCPU's set-up,
 * the default GSI routes, and which platform devices a machine has and where.
 */
#ifndef TIDE_ARCH_H
#define TIDE_ARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/device.h"
#include "mm/guest_mem.h"
#include "util/error.h"

struct kvm_irq_routing_entry;

/* -cpu: the model and the features added or dropped (QEMU's +feat, -feat, feat=on|off). */
struct cpu_config {
	const char *model;   /* "host" (default) or "max": both mean KVM's supported CPUID */
	char **feature_adds;  /* "+feat" / "feat=on" */
	size_t nr_adds;
	char **feature_drops; /* "-feat" / "feat=off" */
	size_t nr_drops;
};

/* Kernel and initrd read at start-up, checked once, loaded again on every reset. */
struct boot_files {
	void *kernel;
	size_t kernel_len;
	void *initrd; /* NULL: none */
	size_t initrd_len;
};

/* The guest-physical map the architecture gives a machine. */
/*
 * A machine type in QEMU's names: the versioned name management tools are given (libvirt
 * writes it on the command line), the alias that resolves to it, and the family prefix
 * whose other versions are taken as the same machine (tide has one per architecture).
 */
struct arch_machine_type {
	const char *name;   /* "pc-i440fx-7.2" */
	const char *alias;  /* "pc" */
	const char *family; /* "pc-i440fx-" */
};

struct arch_layout {
	struct guest_ram_layout ram; /* where boot RAM goes */
	uint64_t mmio32_start;	     /* the 32-bit PCI BAR window, [start, end) */
	uint64_t mmio32_end;
	uint64_t device_memory_align; /* the device memory (virtio-mem) area starts aligned so */
	unsigned max_vcpus;	      /* -smp's limit (x86: one MP table entry each) */
	const char *max_vcpus_why;    /* what sets it, for -smp's error */
	const struct arch_machine_type *machine_types; /* what -machine type= takes; NULL name ends */
	const char *machine_description;  /* what they name, for -machine's error */
	const char *qemu_target;	  /* QMP's query-target: QEMU's name of the architecture */
	const char *cpu_type;		  /* QEMU's type name of tide's vCPU (-cpu host) */
	bool has_device_tree;		  /* -machine dumpdtb= has something to write */
};
extern const struct arch_layout arch_layout;

/* A device every machine of the architecture has, at a fixed place (a TYPE_BOARD device type, devices/device.h). */
struct arch_platform_device {
	const char *type;
	struct board_device_place at;
};
/* In the order they are created; *count is set. */
const struct arch_platform_device *arch_platform_devices(size_t *count);

/* Reads what the architecture needs to know of the host (sysfs), once, before tide confines
 * itself. */
void arch_probe_host(void);
/* Reads -kernel and -initrd and checks the kernel's format. Errors name the option. */
int arch_read_boot_files(const char *kernel, const char *initrd, struct boot_files *files,
			 struct error *err);
void arch_free_boot_files(struct boot_files *files);
/* Whether the kernel is in a format the architecture boots (the error says why not). */
int arch_check_kernel(const void *image, size_t len, struct error *err);

/* One VM's architecture state (CPUID, the boot entry). */
struct arch_vm;

/* KVM_CREATE_VM's type argument (arm64: the guest-physical address size), or -1 with err. */
int arch_kvm_vm_type(int kvm_fd, struct error *err);

/* What the architecture found out while creating the VM, for the machine to act on. */
struct arch_vm_facts {
	uint64_t phys_addr_limit; /* first guest-physical address the vCPUs cannot reach */
};

/* Interrupt controller and timers, the CPU model (cpu), before any memory or device. */
struct arch_vm *arch_vm_create(int kvm_fd, int vm_fd, const struct cpu_config *cpu,
			       struct arch_vm_facts *facts, struct error *err);
/* What the kernel boots with beside its files. */
struct arch_boot_config {
	const char *kernel_name; /* -kernel, for errors */
	const char *append;	 /* command line */
	unsigned nr_vcpus;
	uint64_t device_area_start; /* the device memory (virtio-mem) area, [start, end) */
	uint64_t device_area_end;
	int dumpdtb_fd; /* -machine dumpdtb=FILE, open: the device tree is written there too; -1 */
};
/* Boot tables, kernel, initrd and command line into guest memory. */
int arch_vm_load_kernel(struct arch_vm *a, struct guest_mem *mem, const struct boot_files *boot,
			const struct arch_boot_config *cfg, struct error *err);
/* CPUID with this vCPU's topology, local interrupt pins, and the boot registers on vCPU 0. */
int arch_vcpu_setup(struct arch_vm *a, int vcpu_fd, unsigned index, unsigned nr_vcpus,
		    struct guest_mem *mem, struct error *err);
/* Once every vCPU is set up: what needs them all (arm64: the GIC's initialisation). */
int arch_vcpus_ready(struct arch_vm *a, struct error *err);
/* The vCPU goes on after a stop (QMP stop, then cont): what the guest should know of it. */
void arch_vcpu_resumed(int vcpu_fd, unsigned index);
/* The registers that say where a vCPU is, in one line for an error log ("" if unreadable). */
void arch_vcpu_describe(int vcpu_fd, char *buf, size_t len);
void arch_vm_destroy(struct arch_vm *a);

/* KVM_IRQ_LINE's irq field for a board interrupt line (x86: the GSI; arm64: an SPI). */
uint32_t arch_irq_line(unsigned gsi);

/*
 * GSI routing: KVM_SET_GSI_ROUTING replaces the whole table, so devices/msi_routes.c
 * writes the irqchip's default entries from here (at most max; returns how many) before
 * its MSI routes, which take GSIs from *first_msi_gsi up.
 */
unsigned arch_irqchip_routes(struct kvm_irq_routing_entry *entries, unsigned max,
			     unsigned *first_msi_gsi);

#endif
