/*
 * The guest's CPUID, edited in a struct kvm_cpuid2 that the caller filled
 * with KVM_GET_SUPPORTED_CPUID. Order for each boot:
 *   cpuid_add_vmm_features()        hypervisor, tsc-deadline for older KVMs
 *   keep a copy as "supported"
 *   cpuid_hide_for_emulator()       when host_kvm_is_emulating()
 *   cpuid_apply_feature_from()      per -cpu -f/+f, so explicit choices win
 *   per vCPU, on a copy: cpuid_set_vcpu_topology(), then KVM_SET_CPUID2
 */
#ifndef TIDE_X86_CPUID_H
#define TIDE_X86_CPUID_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/error.h"

enum cpuid_reg { CPUID_EAX, CPUID_EBX, CPUID_ECX, CPUID_EDX };

/* One CPUID feature bit under its QEMU name. */
struct cpuid_feature {
	const char *name;
	uint32_t leaf;
	uint32_t subleaf;
	enum cpuid_reg reg;
	uint8_t bit;
};

/* The entry for leaf/subleaf (for subleaf 0 also an index-free entry of the leaf), or NULL. */
struct kvm_cpuid_entry2 *cpuid_find(const struct kvm_cpuid2 *c, uint32_t leaf, uint32_t subleaf);

/* Pointer to one register of an entry. */
uint32_t *cpuid_reg_ptr(struct kvm_cpuid_entry2 *e, enum cpuid_reg reg);

/* True for AuthenticAMD / HygonGenuine in leaf 0. */
bool cpuid_is_amd(const struct kvm_cpuid2 *c);

/*
 * Topology of vCPU vcpu_index among nr_vcpus (1..255): one socket, one thread
 * per core, APIC ID = vcpu_index. Leaf 1 (initial APIC ID, logical count,
 * HTT, and the hypervisor bit), leaves 4 / 0x8000_001D (cores, cache
 * sharing), 0xB/0x1F (x2APIC ID, SMT and core levels) and on AMD 0x8000_0008
 * (NC) and 0x8000_001E. Only edits entries that exist; a 0xB/0x1F without subleaf 1
 * is blanked so Linux uses leaves 1 and 4. -1 when the arguments are invalid.
 */
int cpuid_set_vcpu_topology(struct kvm_cpuid2 *c, unsigned vcpu_index, unsigned nr_vcpus);

/*
 * Bits KVM before 6.12 leaves out of KVM_GET_SUPPORTED_CPUID although it
 * supports them: hypervisor (leaf 1 ECX[31]) always, tsc-deadline when
 * KVM_CAP_TSC_DEADLINE_TIMER says the in-kernel LAPIC has it.
 */
void cpuid_add_vmm_features(struct kvm_cpuid2 *c, bool tsc_deadline);

/* The feature named name (QEMU spelling), or NULL. */
const struct cpuid_feature *cpuid_feature_find(const char *name);

/*
 * Turns one named feature on or off. "On" needs the bit set in supported
 * (KVM_GET_SUPPORTED_CPUID's table, possibly after cpuid_add_vmm_features())
 * and then also sets it in c; this lets an explicit +feature undo
 * cpuid_hide_for_emulator() on c. "hypervisor" cannot be turned off.
 */
int cpuid_apply_feature_from(struct kvm_cpuid2 *c, const struct kvm_cpuid2 *supported,
			     const char *name, bool on, struct error *err);
/* cpuid_apply_feature_from(c, c, ...): "on" only checks that c has the bit. */
int cpuid_apply_feature(struct kvm_cpuid2 *c, const char *name, bool on, struct error *err);

/*
 * For hosts where KVM runs guest kernel code in its instruction emulator:
 * hides XSAVE and everything that needs XSAVE state, and the instructions the
 * emulator cannot run (see cpuid_features.c). Returns the bits cleared.
 */
unsigned cpuid_hide_for_emulator(struct kvm_cpuid2 *c);

/* True when /sys/module/kvm_pvm exists: KVM is the PVM software backend. */
bool host_kvm_is_emulating(void);
/* The same under another sysfs root (unit tests). */
bool host_kvm_is_emulating_at(const char *sysfs_root);

#endif
