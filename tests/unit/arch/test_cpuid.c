#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arch/x86/cpuid.h"
#include "arch_test.h"
#include "util/util.h"

#define SIG_INDEX KVM_CPUID_FLAG_SIGNIFCANT_INDEX
#define BIT(n) (1u << (n))

static struct kvm_cpuid2 *c;

static void add(uint32_t fn, uint32_t idx, uint32_t flags, uint32_t eax, uint32_t ebx,
		uint32_t ecx, uint32_t edx)
{
	c->entries[c->nent++] = (struct kvm_cpuid_entry2){
		.function = fn, .index = idx, .flags = flags,
		.eax = eax, .ebx = ebx, .ecx = ecx, .edx = edx,
	};
}

static void vendor(const char *v)
{
	uint32_t ebx, edx, ecx;

	memcpy(&ebx, v, 4);
	memcpy(&edx, v + 4, 4);
	memcpy(&ecx, v + 8, 4);
	add(0, 0, 0, 0x1f, ebx, ecx, edx);
}

/* Roughly what KVM_GET_SUPPORTED_CPUID returns on a modern host. */
static void make_table(const char *cpu_vendor, bool leaf_b_core_level)
{
	c = calloc(1, sizeof(*c) + 64 * sizeof(c->entries[0]));
	ck_assert_ptr_nonnull(c);
	vendor(cpu_vendor);
	/* leaf 1: EBX low half = brand/clflush, stale APIC ID 0x77 in [31:24] */
	add(1, 0, 0, 0x000a0f12, 0x77000800,
	    BIT(0) | BIT(9) | BIT(12) | BIT(13) | BIT(19) | BIT(20) | BIT(21) | BIT(23) |
		    BIT(25) | BIT(26) | BIT(28) | BIT(29) | BIT(30),
	    0x178bfbff);
	add(4, 0, SIG_INDEX, 0x00000121, 0x01c0003f, 0x3f, 0); /* L1d */
	add(4, 1, SIG_INDEX, 0x00000122, 0x01c0003f, 0x3f, 0); /* L1i */
	add(4, 2, SIG_INDEX, 0x00000143, 0x01c0003f, 0x3ff, 0); /* L2 */
	add(4, 3, SIG_INDEX, 0x00000163, 0x03c0003f, 0x3fff, 0); /* L3 */
	add(4, 4, SIG_INDEX, 0, 0, 0, 0);                         /* end */
	add(7, 0, SIG_INDEX, 1,
	    BIT(0) | BIT(3) | BIT(5) | BIT(7) | BIT(8) | BIT(9) | BIT(10) | BIT(14) | BIT(16) |
		    BIT(17) | BIT(18) | BIT(20) | BIT(30) | BIT(31),
	    BIT(2) | BIT(3) | BIT(4), BIT(4) | BIT(18));
	add(7, 1, SIG_INDEX, BIT(4) | BIT(5), 0, 0, 0);
	add(0xb, 0, SIG_INDEX, 0, 0, 0, 0x55);
	if (leaf_b_core_level)
		add(0xb, 1, SIG_INDEX, 0, 0, 0, 0x55);
	add(0xd, 0, SIG_INDEX, 0x2e7, 0x988, 0xa88, 0);
	add(0xd, 1, SIG_INDEX, BIT(0) | BIT(1) | BIT(2) | BIT(3), 0, 0, 0);
	add(0xd, 2, SIG_INDEX, 0x100, 0x240, 0, 0);
	/* KVM's paravirt leaves: CLOCKSOURCE2, ASYNC_PF, STEAL_TIME, PV_EOI, PV_UNHALT,
	 * PV_TLB_FLUSH, PV_SEND_IPI, PV_SCHED_YIELD, ... (0x40000001 EAX). */
	add(0x40000000, 0, 0, 0x40000001, 0x4b4d564b, 0x564b4d56, 0x4d);
	add(0x40000001, 0, 0, 0x01007afb, 0, 0, 0);
	add(0x80000000, 0, 0, 0x80000021, 0, 0, 0);
	add(0x80000001, 0, 0, 0, 0, BIT(0) | BIT(5) | BIT(6) | BIT(11) | BIT(16) | BIT(22),
	    BIT(11) | BIT(20) | BIT(26) | BIT(27) | BIT(29));
	add(0x80000008, 0, 0, 0x3030, 0, 0x7007, 0);
	add(0x8000001d, 0, SIG_INDEX, 0x00004121, 0x01c0003f, 0x3f, 0);  /* L1d, 2 threads */
	add(0x8000001d, 1, SIG_INDEX, 0x00004143, 0x01c0003f, 0x3ff, 0); /* L2, 2 threads */
	add(0x8000001d, 2, SIG_INDEX, 0x0003c163, 0x03c0003f, 0x3fff, 0); /* L3, 16 threads */
	add(0x8000001d, 3, SIG_INDEX, 0, 0, 0, 0);
	add(0x8000001e, 0, 0, 0x55, 0x155, 0x300, 0);
}

static void free_table(void)
{
	free(c);
	c = NULL;
}

static struct kvm_cpuid_entry2 *entry(uint32_t fn, uint32_t idx)
{
	struct kvm_cpuid_entry2 *e = cpuid_find(c, fn, idx);

	ck_assert_msg(e != NULL, "no CPUID leaf 0x%x.%u", fn, idx);
	return e;
}

static bool has(const char *name)
{
	const struct cpuid_feature *f = cpuid_feature_find(name);

	ck_assert_msg(f != NULL, "feature %s missing from the table", name);
	return *cpuid_reg_ptr(entry(f->leaf, f->subleaf), f->reg) & BIT(f->bit);
}

START_TEST(find)
{
	make_table("GenuineIntel", true);
	ck_assert_uint_eq(entry(4, 3)->eax, 0x163);
	ck_assert_uint_eq(entry(1, 0)->eax, 0x000a0f12);
	ck_assert_ptr_null(cpuid_find(c, 0xd, 5));
	ck_assert_ptr_null(cpuid_find(c, 0x1f, 0));
	/* An index-free leaf answers subleaf 0, never a missing subleaf 1. */
	ck_assert_ptr_nonnull(cpuid_find(c, 0x80000008, 0));
	ck_assert_ptr_null(cpuid_find(c, 0x80000008, 1));
	ck_assert(!cpuid_is_amd(c));
	free_table();
	make_table("AuthenticAMD", true);
	ck_assert(cpuid_is_amd(c));
	free_table();
}
END_TEST

START_TEST(topology_four_vcpus)
{
	make_table("GenuineIntel", true);
	ck_assert_int_eq(cpuid_set_vcpu_topology(c, 2, 4), 0);
	ck_assert_uint_eq(entry(1, 0)->ebx >> 24, 2);
	ck_assert_uint_eq((entry(1, 0)->ebx >> 16) & 0xff, 4);
	ck_assert_uint_eq(entry(1, 0)->ebx & 0xffff, 0x0800); /* untouched */
	ck_assert(entry(1, 0)->edx & BIT(28));               /* HTT */
	ck_assert(entry(1, 0)->ecx & BIT(31));               /* hypervisor */
	/* leaf 4: 4 cores; L1/L2 private, L3 shared; cache description kept. */
	for (unsigned i = 0; i < 4; i++) {
		static const uint32_t cache[] = { 0x121, 0x122, 0x143, 0x163 };
		uint32_t eax = entry(4, i)->eax;

		ck_assert_uint_eq(eax >> 26, 3);
		ck_assert_uint_eq((eax >> 14) & 0xfff, i == 3 ? 3 : 0);
		ck_assert_uint_eq(eax & 0x3fff, cache[i]);
	}
	ck_assert_uint_eq(entry(4, 4)->eax, 0);
	/* leaf 0xB: SMT level of 1 thread, core level of 4, x2APIC ID 2. */
	ck_assert_uint_eq(entry(0xb, 0)->eax, 0);
	ck_assert_uint_eq(entry(0xb, 0)->ebx, 1);
	ck_assert_uint_eq(entry(0xb, 0)->ecx, 0x100);
	ck_assert_uint_eq(entry(0xb, 0)->edx, 2);
	ck_assert_uint_eq(entry(0xb, 1)->eax, 2);
	ck_assert_uint_eq(entry(0xb, 1)->ebx, 4);
	ck_assert_uint_eq(entry(0xb, 1)->ecx, 0x201);
	ck_assert_uint_eq(entry(0xb, 1)->edx, 2);
	/* Intel: 0x8000_0008 ECX is reserved and stays as KVM gave it. */
	ck_assert_uint_eq(entry(0x80000008, 0)->ecx, 0x7007);
	free_table();
}
END_TEST

START_TEST(topology_one_and_three_vcpus)
{
	make_table("GenuineIntel", true);
	ck_assert_int_eq(cpuid_set_vcpu_topology(c, 0, 1), 0);
	ck_assert_uint_eq(entry(1, 0)->ebx >> 24, 0);
	ck_assert_uint_eq((entry(1, 0)->ebx >> 16) & 0xff, 1);
	ck_assert(!(entry(1, 0)->edx & BIT(28)));
	ck_assert_uint_eq(entry(4, 3)->eax >> 26, 0);
	ck_assert_uint_eq(entry(0xb, 1)->eax, 0);
	ck_assert_uint_eq(entry(0xb, 1)->ebx, 1);
	free_table();

	make_table("GenuineIntel", true);
	ck_assert_int_eq(cpuid_set_vcpu_topology(c, 2, 3), 0);
	ck_assert_uint_eq((entry(1, 0)->ebx >> 16) & 0xff, 4); /* addressable IDs: power of 2 */
	ck_assert_uint_eq(entry(0xb, 1)->eax, 2);               /* 2 bits of core ID */
	ck_assert_uint_eq(entry(0xb, 1)->ebx, 3);               /* 3 cores really there */
	ck_assert_uint_eq(entry(4, 0)->eax >> 26, 3);
	free_table();
}
END_TEST

START_TEST(topology_invalid)
{
	make_table("GenuineIntel", true);
	ck_assert_int_eq(cpuid_set_vcpu_topology(c, 4, 4), -1);
	ck_assert_int_eq(cpuid_set_vcpu_topology(c, 0, 0), -1);
	ck_assert_int_eq(cpuid_set_vcpu_topology(c, 0, 256), -1);
	ck_assert_uint_eq(entry(1, 0)->ebx >> 24, 0x77); /* untouched */
	free_table();
}
END_TEST

START_TEST(topology_without_core_level)
{
	/* KVM only reports 0xB.0 (zeroed): blank it so Linux falls back to leaves 1/4. */
	make_table("GenuineIntel", false);
	ck_assert_int_eq(cpuid_set_vcpu_topology(c, 1, 2), 0);
	ck_assert_uint_eq(entry(0xb, 0)->ebx, 0);
	ck_assert_uint_eq(entry(0xb, 0)->ecx & 0xff00, 0);
	ck_assert_uint_eq(entry(0xb, 0)->edx, 1);
	ck_assert_uint_eq(entry(1, 0)->ebx >> 24, 1);
	free_table();
}
END_TEST

START_TEST(topology_amd)
{
	make_table("AuthenticAMD", true);
	ck_assert_int_eq(cpuid_set_vcpu_topology(c, 5, 6), 0);
	ck_assert_uint_eq(entry(0x80000008, 0)->ecx & 0xff, 5);         /* NC = cores - 1 */
	ck_assert_uint_eq((entry(0x80000008, 0)->ecx >> 12) & 0xf, 3);  /* 3 bits of core ID */
	ck_assert_uint_eq(entry(0x80000008, 0)->ecx & 0xf0000, 0);      /* other bits kept */
	ck_assert_uint_eq(entry(0x8000001e, 0)->eax, 5);
	ck_assert_uint_eq(entry(0x8000001e, 0)->ebx & 0xff, 5);        /* core ID */
	ck_assert_uint_eq((entry(0x8000001e, 0)->ebx >> 8) & 0xff, 0); /* 1 thread per core */
	ck_assert_uint_eq(entry(0x8000001e, 0)->ecx, 0);
	ck_assert_uint_eq(entry(1, 0)->ebx >> 24, 5);
	/* Cache sharing: host's SMT siblings gone, L3 shared by the 8 addressable IDs. */
	ck_assert_uint_eq((entry(0x8000001d, 0)->eax >> 14) & 0xfff, 0);
	ck_assert_uint_eq((entry(0x8000001d, 1)->eax >> 14) & 0xfff, 0);
	ck_assert_uint_eq((entry(0x8000001d, 2)->eax >> 14) & 0xfff, 7);
	ck_assert_uint_eq(entry(0x8000001d, 2)->eax & 0x3fff, 0x163);
	ck_assert_uint_eq(entry(0x8000001d, 2)->eax >> 26, 0); /* no core count on AMD */
	free_table();
}
END_TEST

START_TEST(feature_names)
{
	static const char *const names[] = {
		"xsave", "xsaveopt", "xsavec", "xsaves", "xgetbv1", "avx", "avx2", "avx512f",
		"avx512dq", "avx512bw", "avx512vl", "avx512cd", "fma", "f16c", "cx16", "smap",
		"smep", "fsgsbase", "popcnt", "erms", "fsrm", "pdpe1gb", "x2apic", "rdrand",
		"rdseed", "aes", "pcid", "invpcid", "la57", "pku", "ospke", "umip", "rdtscp",
		"tsc-deadline", "hypervisor", "mpx", "pconfig", "sse4.2", "sha-ni",
	};
	const struct cpuid_feature *f;

	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		ck_assert_msg(cpuid_feature_find(names[i]) != NULL, "%s missing", names[i]);
	f = cpuid_feature_find("avx2");
	ck_assert_uint_eq(f->leaf, 7);
	ck_assert_uint_eq(f->subleaf, 0);
	ck_assert_int_eq(f->reg, CPUID_EBX);
	ck_assert_uint_eq(f->bit, 5);
	f = cpuid_feature_find("xsaves");
	ck_assert_uint_eq(f->leaf, 0xd);
	ck_assert_uint_eq(f->subleaf, 1);
	ck_assert_uint_eq(f->bit, 3);
	f = cpuid_feature_find("pdpe1gb");
	ck_assert_uint_eq(f->leaf, 0x80000001);
	ck_assert_int_eq(f->reg, CPUID_EDX);
	ck_assert_uint_eq(f->bit, 26);
	ck_assert_ptr_null(cpuid_feature_find("foo"));
	ck_assert_ptr_null(cpuid_feature_find(""));
}
END_TEST

START_TEST(apply_feature)
{
	struct error err = { "" };

	make_table("GenuineIntel", true);
	ck_assert_int_eq(cpuid_apply_feature(c, "foo", true, &err), -1);
	ck_assert_str_eq(err.msg, "unknown CPU feature 'foo'");
	ck_assert_int_eq(cpuid_apply_feature(c, "foo", false, &err), -1);

	ck_assert(has("avx2"));
	ck_assert_int_eq(cpuid_apply_feature(c, "avx2", false, &err), 0);
	ck_assert(!has("avx2"));
	ck_assert(has("smep")); /* neighbours untouched */
	ck_assert_int_eq(cpuid_apply_feature(c, "avx2", true, &err), -1);
	ck_assert_str_eq(err.msg, "CPU feature 'avx2' is not supported by this host's KVM");
	ck_assert_int_eq(cpuid_apply_feature(c, "smep", true, &err), 0);
	ck_assert(has("smep"));
	/* la57 is not in the table above: "on" fails, "off" is fine. */
	ck_assert_int_eq(cpuid_apply_feature(c, "la57", true, &err), -1);
	ck_assert_err_has(err, "not supported");
	ck_assert_int_eq(cpuid_apply_feature(c, "la57", false, &err), 0);
	ck_assert_int_eq(cpuid_apply_feature(c, "hypervisor", false, &err), -1);
	ck_assert_err_has(err, "always on");
	free_table();
}
END_TEST

START_TEST(apply_feature_from_supported)
{
	struct error err = { "" };
	struct kvm_cpuid2 *supported;
	size_t size;

	make_table("GenuineIntel", true);
	size = sizeof(*c) + c->nent * sizeof(c->entries[0]);
	supported = malloc(size);
	ck_assert_ptr_nonnull(supported);
	memcpy(supported, c, size);
	cpuid_hide_for_emulator(c);
	ck_assert(!has("popcnt"));
	/* An explicit +popcnt after hiding brings it back, because KVM supports it. */
	ck_assert_int_eq(cpuid_apply_feature_from(c, supported, "popcnt", true, &err), 0);
	ck_assert(has("popcnt"));
	ck_assert_int_eq(cpuid_apply_feature_from(c, supported, "la57", true, &err), -1);
	ck_assert_err_has(err, "not supported");
	free(supported);
	free_table();
}
END_TEST

START_TEST(vmm_features)
{
	make_table("GenuineIntel", true);
	ck_assert(!has("hypervisor"));
	cpuid_add_vmm_features(c, false);
	ck_assert(has("hypervisor"));
	ck_assert(!has("tsc-deadline"));
	cpuid_add_vmm_features(c, true);
	ck_assert(has("tsc-deadline"));
	free_table();
}
END_TEST

START_TEST(hide_for_emulator)
{
	static const char *const hidden[] = {
		"xsave", "avx", "fma", "f16c", "cx16", "popcnt", "avx2", "avx512f", "avx512dq",
		"avx512bw", "mpx", "fsgsbase", "smap", "erms", "fsrm", "pku", "ospke", "avx-vnni",
		"avx512-bf16", "xsaveopt", "xsavec", "xgetbv1", "xsaves", "xop", "fma4",
	};
	static const char *const kept[] = {
		"sse4.2", "ssse3", "aes", "x2apic", "rdrand", "smep", "bmi1", "bmi2", "invpcid",
		"rdseed", "pconfig", "lm", "nx", "pdpe1gb", "rdtscp", "abm", "topoext", "umip",
	};
	unsigned n;

	make_table("GenuineIntel", true);
	n = cpuid_hide_for_emulator(c);
	for (size_t i = 0; i < ARRAY_SIZE(hidden); i++)
		ck_assert_msg(!has(hidden[i]), "%s still visible", hidden[i]);
	for (size_t i = 0; i < ARRAY_SIZE(kept); i++)
		ck_assert_msg(has(kept[i]), "%s was hidden", kept[i]);
	/* Leaf 0xD: only x87 + SSE remain, in a 576-byte legacy area. */
	ck_assert_uint_eq(entry(0xd, 0)->eax, 3);
	ck_assert_uint_eq(entry(0xd, 0)->ebx, 576);
	ck_assert_uint_eq(entry(0xd, 0)->ecx, 576);
	ck_assert_uint_eq(entry(0xd, 0)->edx, 0);
	ck_assert_uint_eq(entry(0xd, 1)->eax, 0);
	ck_assert_uint_eq(entry(0xd, 2)->eax, 0);
	ck_assert_uint_eq(entry(0xd, 2)->ebx, 0);
	/* KVM PV features that are hypercalls (7, 11, 13) go; the rest stays. */
	ck_assert_uint_eq(entry(0x40000001, 0)->eax, 0x01007afb & ~(BIT(7) | BIT(11) | BIT(13)));
	/*
	 * Bits that were set and got cleared: leaf 1 ECX 12,13,23,26,28,29 (6);
	 * 7.0 EBX 0,5,9,14,16,17,20,30,31 (9); 7.0 ECX 3,4 (2); 7.0 EDX 4 (1);
	 * 7.1 EAX 4,5 (2); 0x8000_0001 ECX 11,16 (2); 0x4000_0001 EAX 7,11,13 (3);
	 * 0xD.0 EAX 0x2e4 (5); 0xD.1 (4).
	 */
	ck_assert_uint_eq(n, 6 + 9 + 2 + 1 + 2 + 2 + 3 + 5 + 4);
	ck_assert_uint_eq(cpuid_hide_for_emulator(c), 0); /* idempotent */
	free_table();
}
END_TEST

START_TEST(emulating_host_detection)
{
	char root[64], p[128];

	strcpy(root, "/tmp/tide-test-sysfs-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(root));
	ck_assert(!host_kvm_is_emulating_at(root));
	snprintf(p, sizeof(p), "%s/module", root);
	ck_assert_int_eq(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/module/kvm_pvm", root);
	ck_assert_int_eq(mkdir(p, 0755), 0);
	ck_assert(host_kvm_is_emulating_at(root));
	ck_assert_int_eq(rmdir(p), 0);
	/* A plain file of that name is not a loaded module. */
	fclose(fopen(p, "w"));
	ck_assert(!host_kvm_is_emulating_at(root));
	unlink(p);
	snprintf(p, sizeof(p), "%s/module", root);
	rmdir(p);
	rmdir(root);
	ck_assert(!host_kvm_is_emulating_at("/nonexistent-sysfs"));
}
END_TEST

Suite *suite_main(void)
{
	Suite *s = suite_create("cpuid");
	TCase *tc = tcase_create("cpuid");

	tcase_add_test(tc, find);
	tcase_add_test(tc, topology_four_vcpus);
	tcase_add_test(tc, topology_one_and_three_vcpus);
	tcase_add_test(tc, topology_invalid);
	tcase_add_test(tc, topology_without_core_level);
	tcase_add_test(tc, topology_amd);
	tcase_add_test(tc, feature_names);
	tcase_add_test(tc, apply_feature);
	tcase_add_test(tc, apply_feature_from_supported);
	tcase_add_test(tc, vmm_features);
	tcase_add_test(tc, hide_for_emulator);
	tcase_add_test(tc, emulating_host_detection);
	suite_add_tcase(s, tc);
	return s;
}
