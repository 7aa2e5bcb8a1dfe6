#include "arch/x86/cpuid.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define LEAF1_ECX_HYPERVISOR (1u << 31)
#define LEAF1_ECX_TSC_DEADLINE (1u << 24)
#define LEAF1_EDX_HTT (1u << 28)

#define TOPO_LEVEL_INVALID 0
#define TOPO_LEVEL_SMT 1
#define TOPO_LEVEL_CORE 2

struct kvm_cpuid_entry2 *cpuid_find(const struct kvm_cpuid2 *c, uint32_t leaf, uint32_t subleaf)
{
	/* Callers own c; the const only lets lookups in a read-only table share this. */
	struct kvm_cpuid_entry2 *entries = (struct kvm_cpuid_entry2 *)c->entries;

	for (uint32_t i = 0; i < c->nent; i++)
		if (entries[i].function == leaf && entries[i].index == subleaf)
			return &entries[i];
	/* A leaf KVM marks index-free answers every subleaf; only fall back for subleaf 0
	 * so a missing subleaf 1 is never mistaken for subleaf 0. */
	for (uint32_t i = 0; subleaf == 0 && i < c->nent; i++)
		if (entries[i].function == leaf &&
		    !(entries[i].flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX))
			return &entries[i];
	return NULL;
}

uint32_t *cpuid_reg_ptr(struct kvm_cpuid_entry2 *e, enum cpuid_reg reg)
{
	switch (reg) {
	case CPUID_EAX:
		return &e->eax;
	case CPUID_EBX:
		return &e->ebx;
	case CPUID_ECX:
		return &e->ecx;
	case CPUID_EDX:
		break;
	}
	return &e->edx;
}

bool cpuid_is_amd(const struct kvm_cpuid2 *c)
{
	struct kvm_cpuid_entry2 *e = cpuid_find(c, 0, 0);
	char vendor[13];

	if (!e)
		return false;
	memcpy(vendor, &e->ebx, 4);
	memcpy(vendor + 4, &e->edx, 4);
	memcpy(vendor + 8, &e->ecx, 4);
	vendor[12] = '\0';
	return strcmp(vendor, "AuthenticAMD") == 0 || strcmp(vendor, "HygonGenuine") == 0;
}

/* Bits needed to number n items: ceil(log2(n)), 0 for n = 1. */
static unsigned id_bits(unsigned n)
{
	unsigned bits = 0;

	while ((1u << bits) < n)
		bits++;
	return bits;
}

static void set_field(uint32_t *reg, unsigned shift, uint32_t mask, uint32_t value)
{
	*reg = (*reg & ~(mask << shift)) | ((value & mask) << shift);
}

static void topology_leaf1(struct kvm_cpuid2 *c, unsigned apic_id, unsigned nr)
{
	struct kvm_cpuid_entry2 *e = cpuid_find(c, 1, 0);
	unsigned ids = 1u << id_bits(nr);

	if (!e)
		return;
	e->ecx |= LEAF1_ECX_HYPERVISOR;
	set_field(&e->ebx, 24, 0xff, apic_id);
	set_field(&e->ebx, 16, 0xff, ids > 255 ? 255 : ids); /* addressable logical IDs */
	if (nr > 1)
		e->edx |= LEAF1_EDX_HTT;
	else
		e->edx &= ~LEAF1_EDX_HTT;
}

/*
 * Leaf 4 (Intel) and 0x8000_001D (AMD) describe one cache per subleaf with
 * the same EAX layout. One thread per core: L1/L2 are private, L3 is shared
 * by the socket. Leaf 4 also carries the core count.
 */
static void topology_cache_leaf(struct kvm_cpuid_entry2 *e, unsigned nr)
{
	unsigned ids = (1u << id_bits(nr)) - 1;
	unsigned level = (e->eax >> 5) & 7;

	if ((e->eax & 0x1f) == 0) /* no cache at this subleaf */
		return;
	set_field(&e->eax, 14, 0xfff, level >= 3 ? ids : 0);
	if (e->function == 4)
		set_field(&e->eax, 26, 0x3f, ids > 63 ? 63 : ids);
}

/* Leaves 0xB and 0x1F: x2APIC ID and the SMT and core levels. */
static void topology_ext_leaf(struct kvm_cpuid_entry2 *e, unsigned apic_id, unsigned nr,
			      bool has_core_level)
{
	e->edx = apic_id;
	if (e->index == 0 && has_core_level) {
		e->eax = 0; /* one thread per core: no SMT bits in the APIC ID */
		e->ebx = 1;
		e->ecx = (TOPO_LEVEL_SMT << 8) | 0;
	} else if (e->index == 1 && has_core_level) {
		e->eax = id_bits(nr);
		e->ebx = nr;
		e->ecx = (TOPO_LEVEL_CORE << 8) | 1;
	} else {
		e->eax = 0;
		e->ebx = 0;
		e->ecx = (TOPO_LEVEL_INVALID << 8) | (e->index & 0xff);
	}
}

static void topology_amd(struct kvm_cpuid2 *c, unsigned apic_id, unsigned nr)
{
	struct kvm_cpuid_entry2 *e = cpuid_find(c, 0x80000008, 0);

	if (e) {
		set_field(&e->ecx, 12, 0xf, id_bits(nr)); /* ApicIdCoreIdSize */
		set_field(&e->ecx, 0, 0xff, nr - 1);       /* NC: cores - 1 */
	}
	e = cpuid_find(c, 0x8000001e, 0);
	if (e) {
		e->eax = apic_id;        /* extended APIC ID */
		e->ebx = apic_id & 0xff; /* core ID, one thread per core */
		e->ecx = 0;              /* node 0, one node */
	}
}

static bool has_subleaf(const struct kvm_cpuid2 *c, uint32_t leaf, uint32_t subleaf)
{
	for (uint32_t i = 0; i < c->nent; i++)
		if (c->entries[i].function == leaf && c->entries[i].index == subleaf)
			return true;
	return false;
}

int cpuid_set_vcpu_topology(struct kvm_cpuid2 *c, unsigned vcpu_index, unsigned nr_vcpus)
{
	/* Without a core level (subleaf 1) the leaf is blanked: Linux then uses leaves 1 and 4. */
	bool core_level[2] = { has_subleaf(c, 0xb, 1), has_subleaf(c, 0x1f, 1) };

	if (nr_vcpus == 0 || nr_vcpus > 255 || vcpu_index >= nr_vcpus)
		return -1;
	topology_leaf1(c, vcpu_index, nr_vcpus);
	for (uint32_t i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		if (e->function == 4 || e->function == 0x8000001d)
			topology_cache_leaf(e, nr_vcpus);
		else if (e->function == 0xb)
			topology_ext_leaf(e, vcpu_index, nr_vcpus, core_level[0]);
		else if (e->function == 0x1f)
			topology_ext_leaf(e, vcpu_index, nr_vcpus, core_level[1]);
	}
	if (cpuid_is_amd(c))
		topology_amd(c, vcpu_index, nr_vcpus);
	return 0;
}

void cpuid_add_vmm_features(struct kvm_cpuid2 *c, bool tsc_deadline)
{
	struct kvm_cpuid_entry2 *e = cpuid_find(c, 1, 0);

	if (!e)
		return;
	e->ecx |= LEAF1_ECX_HYPERVISOR;
	if (tsc_deadline)
		e->ecx |= LEAF1_ECX_TSC_DEADLINE;
}

bool host_kvm_is_emulating_at(const char *sysfs_root)
{
	char path[4096];
	struct stat st;

	if (snprintf(path, sizeof(path), "%s/module/kvm_pvm", sysfs_root) >= (int)sizeof(path))
		return false;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Read once: after set-up tide opens nothing (docs/security.md), and sysfs may be out of view. */
bool host_kvm_is_emulating(void)
{
	static int emulating = -1;

	if (emulating < 0)
		emulating = host_kvm_is_emulating_at("/sys");
	return emulating;
}
