/*
 * The x86 PC that tide builds around a VM: irqchip and PIT, CPUID, the
 * legacy devices every guest expects, the boot tables and the kernel.
 * machine.c calls these in this order; each returns 0 or -1 with err set.
 */
#ifndef TIDE_X86_PLATFORM_H
#define TIDE_X86_PLATFORM_H

#include "util/error.h"

struct machine;
struct vcpu;

/* Reads -kernel and -initrd into cfg->boot and checks the kernel's format. */
struct vm_config;
int platform_read_boot_files(struct vm_config *cfg, struct error *err);
void platform_free_boot_files(struct vm_config *cfg);
/* Reads what the platform needs to know of the host (sysfs), once, before tide confines itself. */
void platform_probe_host(void);

/* TSS and identity-map pages, in-kernel irqchip and PIT, KVM's CPUID (filtered). */
int platform_create_vm(struct machine *m, struct error *err);
/* COM1, i8042, reset port, PCI host bridge. */
int platform_create_devices(struct machine *m, struct error *err);
/* e820, kernel + initrd + command line, MP table. */
int platform_load_kernel(struct machine *m, struct error *err);
/* CPUID with this vCPU's topology, LAPIC LINT pins, boot registers on vCPU 0. */
int platform_setup_vcpu(struct machine *m, struct vcpu *vcpu, struct error *err);
void platform_destroy(struct machine *m);

#endif
