/* CPUID feature bits by QEMU name, and what an emulating host must not offer. */
#include "arch/x86/cpuid.h"
#include "util/util.h"

#include <string.h>

#define F(n, l, s, r, b) { .name = n, .leaf = l, .subleaf = s, .reg = CPUID_##r, .bit = b }

static const struct cpuid_feature features[] = {
	/* leaf 1 */
	F("pni", 1, 0, ECX, 0), F("sse3", 1, 0, ECX, 0), F("pclmulqdq", 1, 0, ECX, 1),
	F("monitor", 1, 0, ECX, 3), F("vmx", 1, 0, ECX, 5), F("ssse3", 1, 0, ECX, 9),
	F("fma", 1, 0, ECX, 12), F("cx16", 1, 0, ECX, 13), F("pdcm", 1, 0, ECX, 15),
	F("pcid", 1, 0, ECX, 17), F("sse4.1", 1, 0, ECX, 19), F("sse4.2", 1, 0, ECX, 20),
	F("x2apic", 1, 0, ECX, 21), F("movbe", 1, 0, ECX, 22), F("popcnt", 1, 0, ECX, 23),
	F("tsc-deadline", 1, 0, ECX, 24), F("aes", 1, 0, ECX, 25), F("xsave", 1, 0, ECX, 26),
	F("osxsave", 1, 0, ECX, 27), F("avx", 1, 0, ECX, 28), F("f16c", 1, 0, ECX, 29),
	F("rdrand", 1, 0, ECX, 30), F("hypervisor", 1, 0, ECX, 31),
	F("pse", 1, 0, EDX, 3), F("tsc", 1, 0, EDX, 4), F("msr", 1, 0, EDX, 5),
	F("pae", 1, 0, EDX, 6), F("cx8", 1, 0, EDX, 8), F("apic", 1, 0, EDX, 9),
	F("sep", 1, 0, EDX, 11), F("mtrr", 1, 0, EDX, 12), F("pge", 1, 0, EDX, 13),
	F("cmov", 1, 0, EDX, 15), F("pat", 1, 0, EDX, 16), F("clflush", 1, 0, EDX, 19),
	F("mmx", 1, 0, EDX, 23), F("fxsr", 1, 0, EDX, 24), F("sse", 1, 0, EDX, 25),
	F("sse2", 1, 0, EDX, 26), F("ht", 1, 0, EDX, 28),
	/* leaf 7 subleaf 0 */
	F("fsgsbase", 7, 0, EBX, 0), F("tsc-adjust", 7, 0, EBX, 1), F("bmi1", 7, 0, EBX, 3),
	F("hle", 7, 0, EBX, 4), F("avx2", 7, 0, EBX, 5), F("smep", 7, 0, EBX, 7),
	F("bmi2", 7, 0, EBX, 8), F("erms", 7, 0, EBX, 9), F("invpcid", 7, 0, EBX, 10),
	F("rtm", 7, 0, EBX, 11), F("mpx", 7, 0, EBX, 14), F("avx512f", 7, 0, EBX, 16),
	F("avx512dq", 7, 0, EBX, 17), F("rdseed", 7, 0, EBX, 18), F("adx", 7, 0, EBX, 19),
	F("smap", 7, 0, EBX, 20), F("avx512ifma", 7, 0, EBX, 21),
	F("clflushopt", 7, 0, EBX, 23), F("clwb", 7, 0, EBX, 24), F("avx512pf", 7, 0, EBX, 26),
	F("avx512er", 7, 0, EBX, 27), F("avx512cd", 7, 0, EBX, 28), F("sha-ni", 7, 0, EBX, 29),
	F("avx512bw", 7, 0, EBX, 30), F("avx512vl", 7, 0, EBX, 31),
	F("avx512vbmi", 7, 0, ECX, 1), F("umip", 7, 0, ECX, 2), F("pku", 7, 0, ECX, 3),
	F("ospke", 7, 0, ECX, 4), F("waitpkg", 7, 0, ECX, 5), F("avx512vbmi2", 7, 0, ECX, 6),
	F("gfni", 7, 0, ECX, 8), F("vaes", 7, 0, ECX, 9), F("vpclmulqdq", 7, 0, ECX, 10),
	F("avx512vnni", 7, 0, ECX, 11), F("avx512bitalg", 7, 0, ECX, 12),
	F("avx512-vpopcntdq", 7, 0, ECX, 14), F("la57", 7, 0, ECX, 16), F("rdpid", 7, 0, ECX, 22),
	F("cldemote", 7, 0, ECX, 25), F("movdiri", 7, 0, ECX, 27), F("movdir64b", 7, 0, ECX, 28),
	F("avx512-4vnniw", 7, 0, EDX, 2), F("avx512-4fmaps", 7, 0, EDX, 3),
	F("fsrm", 7, 0, EDX, 4), F("avx512-vp2intersect", 7, 0, EDX, 8),
	F("md-clear", 7, 0, EDX, 10), F("serialize", 7, 0, EDX, 14), F("pconfig", 7, 0, EDX, 18),
	F("amx-bf16", 7, 0, EDX, 22), F("avx512-fp16", 7, 0, EDX, 23),
	F("amx-tile", 7, 0, EDX, 24), F("amx-int8", 7, 0, EDX, 25), F("spec-ctrl", 7, 0, EDX, 26),
	F("stibp", 7, 0, EDX, 27), F("arch-capabilities", 7, 0, EDX, 29),
	F("ssbd", 7, 0, EDX, 31),
	/* leaf 7 subleaf 1 */
	F("avx-vnni", 7, 1, EAX, 4), F("avx512-bf16", 7, 1, EAX, 5), F("fzrm", 7, 1, EAX, 10),
	F("fsrs", 7, 1, EAX, 11), F("fsrc", 7, 1, EAX, 12), F("amx-fp16", 7, 1, EAX, 21),
	F("avx-ifma", 7, 1, EAX, 23),
	/* leaf 0xD subleaf 1 */
	F("xsaveopt", 0xd, 1, EAX, 0), F("xsavec", 0xd, 1, EAX, 1), F("xgetbv1", 0xd, 1, EAX, 2),
	F("xsaves", 0xd, 1, EAX, 3), F("xfd", 0xd, 1, EAX, 4),
	/* leaf 0x8000_0001 */
	F("lahf-lm", 0x80000001, 0, ECX, 0), F("svm", 0x80000001, 0, ECX, 2),
	F("abm", 0x80000001, 0, ECX, 5), F("sse4a", 0x80000001, 0, ECX, 6),
	F("misalignsse", 0x80000001, 0, ECX, 7), F("3dnowprefetch", 0x80000001, 0, ECX, 8),
	F("xop", 0x80000001, 0, ECX, 11), F("fma4", 0x80000001, 0, ECX, 16),
	F("tbm", 0x80000001, 0, ECX, 21), F("topoext", 0x80000001, 0, ECX, 22),
	F("syscall", 0x80000001, 0, EDX, 11), F("nx", 0x80000001, 0, EDX, 20),
	F("pdpe1gb", 0x80000001, 0, EDX, 26), F("rdtscp", 0x80000001, 0, EDX, 27),
	F("lm", 0x80000001, 0, EDX, 29),
};

const struct cpuid_feature *cpuid_feature_find(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(features); i++)
		if (strcmp(features[i].name, name) == 0)
			return &features[i];
	return NULL;
}

int cpuid_apply_feature_from(struct kvm_cpuid2 *c, const struct kvm_cpuid2 *supported,
			     const char *name, bool on, struct error *err)
{
	const struct cpuid_feature *f = cpuid_feature_find(name);
	struct kvm_cpuid_entry2 *e, *s;
	uint32_t bit;

	if (!f)
		return error_set(err, "unknown CPU feature '%s'", name);
	if (!on && strcmp(name, "hypervisor") == 0)
		return error_set(err, "CPU feature 'hypervisor' is always on in tide");
	e = cpuid_find(c, f->leaf, f->subleaf);
	bit = 1u << f->bit;
	if (!on) {
		if (e) /* no leaf: already off */
			*cpuid_reg_ptr(e, f->reg) &= ~bit;
		return 0;
	}
	s = cpuid_find(supported, f->leaf, f->subleaf);
	if (!e || !s || !(*cpuid_reg_ptr(s, f->reg) & bit))
		return error_set(err, "CPU feature '%s' is not supported by this host's KVM", name);
	*cpuid_reg_ptr(e, f->reg) |= bit;
	return 0;
}

int cpuid_apply_feature(struct kvm_cpuid2 *c, const char *name, bool on, struct error *err)
{
	return cpuid_apply_feature_from(c, c, name, on, err);
}

/*
 * What a guest must not see when KVM runs its kernel code through KVM's
 * instruction emulator (kvm_pvm): the emulator has no XSAVE/XRSTOR and no
 * VEX/EVEX instructions, so everything with XSAVE-managed state goes; plus
 * the single instructions it rejects.
 */
struct hidden {
	uint32_t leaf, subleaf;
	enum cpuid_reg reg;
	uint32_t mask;
};

#define B(n) (1u << (n))

static const struct hidden hidden_for_emulator[] = {
	/* XSAVE, OSXSAVE: XSAVE/XRSTOR are not emulated. AVX, FMA, F16C: VEX, AVX state.
	 * CX16: the emulator refuses 16-byte CMPXCHG16B. POPCNT: not emulated (Linux
	 * falls back to a software hweight). */
	{ 1, 0, CPUID_ECX, B(26) | B(27) | B(28) | B(12) | B(29) | B(13) | B(23) },
	/* AVX2, AVX-512 F/DQ/IFMA/PF/ER/CD/BW/VL: VEX/EVEX. MPX: bound registers are
	 * XSAVE state. FSGSBASE: RD/WR{FS,GS}BASE are not emulated. SMAP: STAC/CLAC are
	 * not emulated. ERMS: "rep movsb" is emulated one byte per iteration; without
	 * it Linux copies eight bytes per iteration. */
	{ 7, 0, CPUID_EBX, B(5) | B(16) | B(17) | B(21) | B(26) | B(27) | B(28) | B(30) | B(31) |
			   B(14) | B(0) | B(20) | B(9) },
	/* AVX-512 VBMI/VBMI2/VNNI/BITALG/VPOPCNTDQ, VAES, VPCLMULQDQ: VEX/EVEX.
	 * PKU, OSPKE: PKRU is XSAVE state. */
	{ 7, 0, CPUID_ECX, B(1) | B(6) | B(11) | B(12) | B(14) | B(9) | B(10) | B(3) | B(4) },
	/* AVX-512 4VNNIW/4FMAPS/VP2INTERSECT/FP16, AMX BF16/TILE/INT8: EVEX and XSAVE
	 * state. FSRM: same reason as ERMS. */
	{ 7, 0, CPUID_EDX, B(2) | B(3) | B(8) | B(23) | B(22) | B(24) | B(25) | B(4) },
	/* AVX-VNNI, AVX512-BF16, AMX-FP16, AVX-IFMA: VEX/EVEX, AMX. */
	{ 7, 1, CPUID_EAX, B(4) | B(5) | B(21) | B(23) },
	/* XOP, FMA4 (AMD): VEX-like encodings on AVX state. */
	{ 0x80000001, 0, CPUID_ECX, B(11) | B(16) },
	/* KVM's PV_UNHALT, PV_SEND_IPI, PV_SCHED_YIELD: each is a hypercall, and a
	 * hypercall from emulated kernel code never completes there (measured: a
	 * Linux guest's second vCPU re-executed the VMCALL of its first PV IPI
	 * forever). Without them Linux kicks, IPIs and yields through the APIC. */
	{ 0x40000001, 0, CPUID_EAX, B(7) | B(11) | B(13) },
};

static unsigned clear_bits(uint32_t *reg, uint32_t mask)
{
	unsigned n = (unsigned)__builtin_popcount(*reg & mask);

	*reg &= ~mask;
	return n;
}

/* Leaf 0xD: only the legacy x87/SSE area (512-byte FXSAVE image + 64-byte header). */
static unsigned hide_xsave_leaf(struct kvm_cpuid2 *c)
{
	unsigned n = 0;

	for (uint32_t i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		if (e->function != 0xd)
			continue;
		if (e->index == 0) {
			n += clear_bits(&e->eax, ~(B(0) | B(1)));
			n += clear_bits(&e->edx, ~0u);
			e->ebx = e->ecx = 512 + 64;
		} else {
			if (e->index == 1)
				n += clear_bits(&e->eax, ~0u); /* XSAVEOPT/XSAVEC/XGETBV1/XSAVES/XFD */
			e->eax = e->ebx = e->ecx = e->edx = 0;
		}
	}
	return n;
}

unsigned cpuid_hide_for_emulator(struct kvm_cpuid2 *c)
{
	unsigned n = 0;

	for (size_t i = 0; i < ARRAY_SIZE(hidden_for_emulator); i++) {
		const struct hidden *h = &hidden_for_emulator[i];
		struct kvm_cpuid_entry2 *e = cpuid_find(c, h->leaf, h->subleaf);

		if (e)
			n += clear_bits(cpuid_reg_ptr(e, h->reg), h->mask);
	}
	return n + hide_xsave_leaf(c);
}
