#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/boot_cpu.h"
#include "arch/x86/layout.h"
#include "arch_test.h"
#include "util/util.h"

static struct guest_mem mem;
static uint8_t *ram;

static void setup(void)
{
	ram = test_mem_low(&mem, 1 << 20);
}

static void teardown(void)
{
	free(ram);
}

static uint64_t q(uint64_t gpa)
{
	uint64_t v;

	memcpy(&v, ram + gpa, 8);
	return v;
}

/* Software page walk of the tables in ram; returns the physical address or ~0. */
static uint64_t walk(uint64_t va)
{
	uint64_t e = q(LAYOUT_PML4 + ((va >> 39) & 511) * 8);

	if (!(e & 1))
		return ~0ULL;
	e = q((e & ~0xfffULL) + ((va >> 30) & 511) * 8);
	if (!(e & 1))
		return ~0ULL;
	ck_assert_msg(!(e & 0x80), "unexpected 1 GiB page");
	e = q((e & ~0xfffULL) + ((va >> 21) & 511) * 8);
	if (!(e & 1))
		return ~0ULL;
	ck_assert_msg(e & 0x80, "2 MiB page expected");
	ck_assert_msg(e & 2, "writable expected");
	return (e & ~0x1fffffULL & ((1ULL << 52) - 1)) | (va & 0x1fffff);
}

START_TEST(linux64_tables)
{
	struct error err = { "" };
	static const uint64_t probes[] = { 0, 0x7000, 0x100200, 0x1234567, 0xbfffffff,
					   0xfee00000, 0xffffffff };

	memset(ram + LAYOUT_PML4, 0xff, 0x6000); /* stale contents must be overwritten */
	ck_assert_int_eq(x86_write_boot_tables(&mem, BOOT_LINUX64, &err), 0);
	ck_assert_uint_eq(q(LAYOUT_GDT + 0), 0);
	ck_assert_uint_eq(q(LAYOUT_GDT + 8), 0);
	ck_assert_uint_eq(q(LAYOUT_GDT + 16), 0x00af9b000000ffffULL);
	ck_assert_uint_eq(q(LAYOUT_GDT + 24), 0x00cf93000000ffffULL);

	ck_assert_uint_eq(q(LAYOUT_PML4), LAYOUT_PDPT | 3);
	for (unsigned i = 1; i < 512; i++)
		ck_assert_uint_eq(q(LAYOUT_PML4 + i * 8), 0);
	for (unsigned i = 0; i < 4; i++)
		ck_assert_uint_eq(q(LAYOUT_PDPT + i * 8), (LAYOUT_PD + i * 0x1000) | 3);
	for (unsigned i = 4; i < 512; i++)
		ck_assert_uint_eq(q(LAYOUT_PDPT + i * 8), 0);
	ck_assert_uint_eq(q(LAYOUT_PD), 0x83);
	ck_assert_uint_eq(q(LAYOUT_PD + 8), 0x200083);
	ck_assert_uint_eq(q(LAYOUT_PD + 3 * 0x1000 + 511 * 8), 0xffe00083);

	for (size_t i = 0; i < ARRAY_SIZE(probes); i++)
		ck_assert_uint_eq(walk(probes[i]), probes[i]);
	ck_assert_uint_eq(walk(1ULL << 32), ~0ULL); /* only 0-4 GiB is mapped */
}
END_TEST

START_TEST(pvh_tables)
{
	struct error err = { "" };

	memset(ram + LAYOUT_PML4, 0xab, 0x1000);
	ck_assert_int_eq(x86_write_boot_tables(&mem, BOOT_PVH32, &err), 0);
	ck_assert_uint_eq(q(LAYOUT_GDT + 16), 0x00cf9b000000ffffULL);
	ck_assert_uint_eq(q(LAYOUT_GDT + 24), 0x00cf93000000ffffULL);
	ck_assert_uint_eq(q(LAYOUT_GDT + 32), 0x00008b0000000067ULL);
	ck_assert_uint_eq(ram[LAYOUT_PML4], 0xab); /* paging is off: no page tables */
	ck_assert_int_eq(x86_write_boot_tables(&mem, (enum boot_mode)7, &err), -1);
}
END_TEST

START_TEST(tables_need_ram)
{
	struct guest_mem small;
	struct error err = { "" };
	void *buf = test_mem_low(&small, 0xa000); /* ends inside the page tables */

	ck_assert_int_eq(x86_write_boot_tables(&small, BOOT_LINUX64, &err), -1);
	ck_assert_err_has(err, "boot tables");
	free(buf);
}
END_TEST

START_TEST(segments_from_descriptors)
{
	struct kvm_segment cs = x86_segment_from_desc(GDT_CODE64, 0x10);
	struct kvm_segment cs32 = x86_segment_from_desc(GDT_CODE32, 0x10);
	struct kvm_segment ds = x86_segment_from_desc(GDT_DATA, 0x18);
	struct kvm_segment tr = x86_segment_from_desc(GDT_TSS32, 0x20);
	struct kvm_segment odd = x86_segment_from_desc(0x12c3456789abcdefULL, 8);

	ck_assert_uint_eq(cs.base, 0);
	ck_assert_uint_eq(cs.limit, 0xffffffff); /* 0xFFFFF pages, scaled by G */
	ck_assert_uint_eq(cs.selector, 0x10);
	ck_assert_uint_eq(cs.type, 11);
	ck_assert_uint_eq(cs.present, 1);
	ck_assert_uint_eq(cs.dpl, 0);
	ck_assert_uint_eq(cs.db, 0);
	ck_assert_uint_eq(cs.s, 1);
	ck_assert_uint_eq(cs.l, 1);
	ck_assert_uint_eq(cs.g, 1);
	ck_assert_uint_eq(cs.unusable, 0);

	ck_assert_uint_eq(cs32.l, 0);
	ck_assert_uint_eq(cs32.db, 1);
	ck_assert_uint_eq(cs32.type, 11);

	ck_assert_uint_eq(ds.type, 3);
	ck_assert_uint_eq(ds.db, 1);
	ck_assert_uint_eq(ds.l, 0);
	ck_assert_uint_eq(ds.g, 1);
	ck_assert_uint_eq(ds.limit, 0xffffffff);

	ck_assert_uint_eq(tr.type, 11);
	ck_assert_uint_eq(tr.s, 0);
	ck_assert_uint_eq(tr.present, 1);
	ck_assert_uint_eq(tr.g, 0);
	ck_assert_uint_eq(tr.limit, 0x67);
	ck_assert_uint_eq(tr.base, 0);

	/* Base and limit bits are picked from their split fields. */
	ck_assert_uint_eq(odd.base, 0x126789ab);
	ck_assert_uint_eq(odd.g, 1);
	ck_assert_uint_eq(odd.db, 1);
	ck_assert_uint_eq(odd.limit, 0x3cdeffff);
}
END_TEST

START_TEST(linux64_sregs_and_regs)
{
	struct kvm_sregs s;
	struct kvm_regs r;
	const struct boot_entry e = { BOOT_LINUX64, 0x100200, 0x7000 };

	memset(&s, 0, sizeof(s));
	s.tr.selector = 0x1234; /* reset value from KVM_GET_SREGS must survive */
	s.cr0 = 0x60000010;
	x86_boot_sregs(&s, BOOT_LINUX64);
	ck_assert_uint_eq(s.cr0, 0x80000011);
	ck_assert_uint_eq(s.cr3, LAYOUT_PML4);
	ck_assert_uint_eq(s.cr4, 0x20);
	ck_assert_uint_eq(s.efer, 0x500);
	ck_assert_uint_eq(s.gdt.base, LAYOUT_GDT);
	ck_assert_uint_eq(s.gdt.limit, 31);
	ck_assert_uint_eq(s.cs.selector, 0x10);
	ck_assert_uint_eq(s.cs.l, 1);
	ck_assert_uint_eq(s.ds.selector, 0x18);
	ck_assert_uint_eq(s.es.selector, 0x18);
	ck_assert_uint_eq(s.fs.selector, 0x18);
	ck_assert_uint_eq(s.gs.selector, 0x18);
	ck_assert_uint_eq(s.ss.selector, 0x18);
	ck_assert_uint_eq(s.ss.type, 3);
	ck_assert_uint_eq(s.tr.selector, 0x1234);

	memset(&r, 0xff, sizeof(r));
	x86_boot_regs(&r, &e);
	ck_assert_uint_eq(r.rip, 0x100200);
	ck_assert_uint_eq(r.rsi, 0x7000);
	ck_assert_uint_eq(r.rsp, LAYOUT_BOOT_STACK);
	ck_assert_uint_eq(r.rflags, 2);
	ck_assert_uint_eq(r.rax, 0);
	ck_assert_uint_eq(r.rbx, 0);
}
END_TEST

START_TEST(pvh_sregs_and_regs)
{
	struct kvm_sregs s;
	struct kvm_regs r;
	const struct boot_entry e = { BOOT_PVH32, 0x1000040, 0x7000 };

	memset(&s, 0, sizeof(s));
	s.cr0 = 0x60000010;
	s.cr3 = 0x1000;
	x86_boot_sregs(&s, BOOT_PVH32);
	ck_assert_uint_eq(s.cr0, 0x11);
	ck_assert_uint_eq(s.cr3, 0);
	ck_assert_uint_eq(s.cr4, 0);
	ck_assert_uint_eq(s.efer, 0);
	ck_assert_uint_eq(s.gdt.base, LAYOUT_GDT);
	ck_assert_uint_eq(s.gdt.limit, 39);
	ck_assert_uint_eq(s.cs.selector, 0x10);
	ck_assert_uint_eq(s.cs.db, 1);
	ck_assert_uint_eq(s.cs.l, 0);
	ck_assert_uint_eq(s.cs.limit, 0xffffffff);
	ck_assert_uint_eq(s.ds.selector, 0x18);
	ck_assert_uint_eq(s.ss.selector, 0x18);
	ck_assert_uint_eq(s.ss.db, 1);
	ck_assert_uint_eq(s.tr.selector, 0x20);
	ck_assert_uint_eq(s.tr.type, 11);
	ck_assert_uint_eq(s.tr.s, 0);
	ck_assert_uint_eq(s.tr.limit, 0x67);

	memset(&r, 0xff, sizeof(r));
	x86_boot_regs(&r, &e);
	ck_assert_uint_eq(r.rip, 0x1000040);
	ck_assert_uint_eq(r.rbx, 0x7000);
	ck_assert_uint_eq(r.rsi, 0);
	ck_assert_uint_eq(r.rflags, 2);
}
END_TEST

START_TEST(lapic_lints)
{
	struct kvm_lapic_state lapic;
	uint32_t lint0 = 0x00010700 | 0x4, lint1 = 0x00010000, v; /* masked, junk mode */

	memset(&lapic, 0, sizeof(lapic));
	memcpy(lapic.regs + 0x350, &lint0, 4);
	memcpy(lapic.regs + 0x360, &lint1, 4);
	x86_lapic_set_lints(&lapic);
	memcpy(&v, lapic.regs + 0x350, 4);
	ck_assert_uint_eq((v >> 8) & 7, 7); /* ExtINT */
	ck_assert_uint_eq(v & ~0x700u, 0x00010004);
	memcpy(&v, lapic.regs + 0x360, 4);
	ck_assert_uint_eq((v >> 8) & 7, 4); /* NMI */
	ck_assert_uint_eq(v & ~0x700u, 0x00010000);
}
END_TEST

START_TEST(ioctls_fail_cleanly)
{
	struct error err = { "" };
	const struct boot_entry e = { BOOT_LINUX64, 0x100200, 0x7000 };

	ck_assert_int_eq(x86_setup_boot_cpu(-1, &mem, &e, &err), -1);
	ck_assert_err_has(err, "KVM_GET_SREGS");
	ck_assert_int_eq(x86_setup_lapic(-1, &err), -1);
	ck_assert_err_has(err, "KVM_GET_LAPIC");
}
END_TEST

Suite *suite_main(void)
{
	Suite *s = suite_create("boot_cpu");
	TCase *tc = tcase_create("boot_cpu");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, linux64_tables);
	tcase_add_test(tc, pvh_tables);
	tcase_add_test(tc, tables_need_ram);
	tcase_add_test(tc, segments_from_descriptors);
	tcase_add_test(tc, linux64_sregs_and_regs);
	tcase_add_test(tc, pvh_sregs_and_regs);
	tcase_add_test(tc, lapic_lints);
	tcase_add_test(tc, ioctls_fail_cleanly);
	suite_add_tcase(s, tc);
	return s;
}
