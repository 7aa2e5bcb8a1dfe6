/*
 * Intel MultiProcessor Specification 1.4 tables: how a guest without ACPI
 * finds its CPUs, the IOAPIC and the ISA interrupt routing (x86-boot.md §4).
 */
#ifndef TIDE_X86_MPTABLE_H
#define TIDE_X86_MPTABLE_H

#include <stddef.h>
#include <stdint.h>

#include "arch/x86/layout.h"
#include "util/error.h"

struct guest_mem;

#define MPTABLE_AREA_SIZE (LAYOUT_EBDA_END - LAYOUT_MPTABLE) /* 1 KiB, e820 reserved */

/* Floating pointer, table header, 2 buses, 1 IOAPIC, 15 ISA IRQs, 2 local interrupts. */
#define MPTABLE_FIXED_SIZE (16 + 44 + 8 * (2 + 1 + 15 + 2))
#define MPTABLE_CPU_SIZE 20
/* vCPUs whose processor entries fit in MPTABLE_AREA_SIZE: 40. */
#define MPTABLE_MAX_CPUS ((unsigned)((MPTABLE_AREA_SIZE - MPTABLE_FIXED_SIZE) / MPTABLE_CPU_SIZE))

/* Bytes the floating pointer and the table take for nr_cpus processors. */
size_t mptable_size(unsigned nr_cpus);

/*
 * Builds the floating pointer followed by the table in buf, which the guest
 * will see at base_gpa (16-byte aligned). One processor per vCPU (APIC ID =
 * index, BSP = 0), bus 0 PCI, bus 1 ISA, the IOAPIC (ID nr_cpus, 0xFEC00000),
 * ISA IRQ i -> INTIN i for i = 0, 1, 3..15 (KVM's default GSI routing),
 * ExtINT -> LINT0, NMI -> LINT1. cpu_signature / cpu_features are CPUID.1
 * EAX / EDX. Returns the bytes used, or -1 with err set.
 */
int mptable_write(void *buf, size_t buf_len, uint32_t base_gpa, unsigned nr_cpus,
		  uint32_t cpu_signature, uint32_t cpu_features, struct error *err);

/* mptable_write() into guest memory at LAYOUT_MPTABLE (the 1 KiB below 640 KiB). */
int mptable_setup(struct guest_mem *mem, unsigned nr_cpus, uint32_t cpu_signature,
		  uint32_t cpu_features, struct error *err);

#endif
