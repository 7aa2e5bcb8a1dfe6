/*
 * The boot vCPU's state at the kernel entry (x86-boot.md section 3, Xen PVH
 * ABI): GDT, identity page tables, segment and control registers, and the
 * LAPIC LINT pins. The guest-memory and register-image parts are separate
 * from the ioctls so they can be tested without /dev/kvm.
 */
#ifndef TIDE_X86_BOOT_CPU_H
#define TIDE_X86_BOOT_CPU_H

#include <linux/kvm.h>
#include <stdint.h>

#include "arch/x86/boot.h"
#include "util/error.h"

struct guest_mem;

#define BOOT_CS_SELECTOR 0x10
#define BOOT_DS_SELECTOR 0x18
#define BOOT_TSS_SELECTOR 0x20 /* PVH only */

#define GDT_CODE64 0x00af9b000000ffffULL /* long mode code, execute/read */
#define GDT_CODE32 0x00cf9b000000ffffULL /* 4 GiB flat 32-bit code */
#define GDT_DATA 0x00cf93000000ffffULL   /* 4 GiB flat read/write data */
#define GDT_TSS32 0x00008b0000000067ULL  /* busy 32-bit TSS, base 0, limit 0x67 */

#define LAPIC_LVT_LINT0 0x350
#define LAPIC_LVT_LINT1 0x360
#define LAPIC_MODE_NMI 4
#define LAPIC_MODE_EXTINT 7

/*
 * Writes the GDT at LAYOUT_GDT for mode and, for BOOT_LINUX64, page tables at
 * LAYOUT_PML4/PDPT/PD identity-mapping 0-4 GiB with 2 MiB pages.
 */
int x86_write_boot_tables(struct guest_mem *mem, enum boot_mode mode, struct error *err);

/* The kvm_segment KVM wants for a GDT descriptor (limit scaled by G). */
struct kvm_segment x86_segment_from_desc(uint64_t desc, uint16_t selector);

/* Edits sregs (as read by KVM_GET_SREGS) / fills regs for the entry. */
void x86_boot_sregs(struct kvm_sregs *sregs, enum boot_mode mode);
void x86_boot_regs(struct kvm_regs *regs, const struct boot_entry *entry);

/* LVT LINT0 = ExtINT, LINT1 = NMI in a KVM_GET_LAPIC register image. */
void x86_lapic_set_lints(struct kvm_lapic_state *lapic);

/* Boot vCPU only: tables, KVM_SET_SREGS and KVM_SET_REGS for entry. */
int x86_setup_boot_cpu(int vcpu_fd, struct guest_mem *mem, const struct boot_entry *entry,
		       struct error *err);

/* Every vCPU: LINT0 = ExtINT, LINT1 = NMI, as firmware would (KVM_GET/SET_LAPIC). */
int x86_setup_lapic(int vcpu_fd, struct error *err);

#endif
