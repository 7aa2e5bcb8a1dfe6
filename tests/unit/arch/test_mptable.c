#include <check.h>
#include <stdint.h>
#include <string.h>

#include "arch/x86/layout.h"
#include "arch/x86/mptable.h"
#include "arch_test.h"

#define BASE 0x9fc00u
#define SIG 0x000a0f12u
#define FEAT 0x178bfbffu

static uint8_t area[MPTABLE_AREA_SIZE];

static uint16_t rd16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return v;
}

static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s += *p++;
	return s;
}

static int build(unsigned cpus)
{
	struct error err = { "" };
	int n;

	memset(area, 0xcc, sizeof(area));
	n = mptable_write(area, sizeof(area), BASE, cpus, SIG, FEAT, &err);
	ck_assert_msg(n > 0, "%s", err.msg);
	return n;
}

START_TEST(floating_pointer)
{
	int n = build(2);

	ck_assert_int_eq(n, (int)mptable_size(2));
	ck_assert_mem_eq(area, "_MP_", 4);
	ck_assert_uint_eq(rd32(area + 4), BASE + 16);
	ck_assert_uint_eq(area[8], 1);
	ck_assert_uint_eq(area[9], 4);
	ck_assert_uint_eq(sum(area, 16), 0);
	ck_assert_uint_eq(area[11], 0); /* feature1: table present */
	ck_assert_uint_eq(area[12], 0); /* feature2: virtual wire */
}
END_TEST

START_TEST(table_header)
{
	const unsigned cpus = 4;
	int n = build(cpus);
	const uint8_t *t = area + 16;

	ck_assert_mem_eq(t, "PCMP", 4);
	ck_assert_uint_eq(rd16(t + 4), n - 16);
	ck_assert_uint_eq(t[6], 4);
	ck_assert_uint_eq(sum(t, rd16(t + 4)), 0);
	ck_assert_uint_eq(rd16(t + 34), cpus + 2 + 1 + 15 + 2);
	ck_assert_uint_eq(rd32(t + 36), 0xfee00000);
	ck_assert_uint_eq(rd16(t + 40), 0); /* no extended table */
	ck_assert_uint_eq(area[n], 0xcc);   /* nothing written past the end */
}
END_TEST

/* Walks the entries the way Linux's mpparse does, checking each one. */
START_TEST(entries)
{
	const unsigned cpus = 3;
	int n = build(cpus);
	const uint8_t *t = area + 16, *e = t + 44, *end = area + n;
	unsigned procs = 0, buses = 0, ioapics = 0, ints = 0, lints = 0;
	unsigned pins[16];

	memset(pins, 0xff, sizeof(pins));
	while (e < end) {
		switch (e[0]) {
		case 0:
			ck_assert_uint_eq(e[1], procs); /* APIC ID = vCPU index */
			ck_assert_uint_eq(e[2], 0x14);
			ck_assert_uint_eq(e[3], procs == 0 ? 3 : 1);
			ck_assert_uint_eq(rd32(e + 4), SIG);
			ck_assert_uint_eq(rd32(e + 8), FEAT);
			procs++;
			e += 20;
			break;
		case 1:
			ck_assert_uint_eq(e[1], buses);
			ck_assert_mem_eq(e + 2, buses == 0 ? "PCI   " : "ISA   ", 6);
			buses++;
			e += 8;
			break;
		case 2:
			ck_assert_uint_eq(e[1], cpus); /* IOAPIC ID after the CPUs */
			ck_assert_uint_eq(e[2], 0x11);
			ck_assert_uint_eq(e[3], 1);
			ck_assert_uint_eq(rd32(e + 4), 0xfec00000);
			ioapics++;
			e += 8;
			break;
		case 3:
			ck_assert_uint_eq(e[1], 0);         /* INT */
			ck_assert_uint_eq(rd16(e + 2), 0); /* conforming: ISA edge high */
			ck_assert_uint_eq(e[4], 1);         /* ISA bus */
			ck_assert_uint_eq(e[6], cpus);
			ck_assert_uint_lt(e[5], 16);
			pins[e[5]] = e[7];
			ints++;
			e += 8;
			break;
		case 4:
			ck_assert_uint_eq(e[1], lints == 0 ? 3 : 1); /* ExtINT then NMI */
			ck_assert_uint_eq(e[6], 0xff);
			ck_assert_uint_eq(e[7], lints); /* LINT0, LINT1 */
			lints++;
			e += 8;
			break;
		default:
			ck_abort_msg("unknown MP entry type %u", e[0]);
		}
	}
	ck_assert_ptr_eq(e, end);
	ck_assert_uint_eq(procs, cpus);
	ck_assert_uint_eq(buses, 2);
	ck_assert_uint_eq(ioapics, 1);
	ck_assert_uint_eq(ints, 15);
	ck_assert_uint_eq(lints, 2);
	for (unsigned irq = 0; irq < 16; irq++)
		ck_assert_uint_eq(pins[irq], irq == 2 ? 0xffffffffu : irq);
}
END_TEST

START_TEST(cpu_limit)
{
	struct error err = { "" };

	ck_assert_uint_eq(MPTABLE_MAX_CPUS, 40);
	ck_assert_uint_le(mptable_size(MPTABLE_MAX_CPUS), MPTABLE_AREA_SIZE);
	ck_assert_uint_gt(mptable_size(MPTABLE_MAX_CPUS + 1), MPTABLE_AREA_SIZE);
	ck_assert_int_eq(build(MPTABLE_MAX_CPUS), (int)mptable_size(MPTABLE_MAX_CPUS));
	ck_assert_uint_eq(sum(area + 16, rd16(area + 16 + 4)), 0);
	ck_assert_int_eq(mptable_write(area, sizeof(area), BASE, MPTABLE_MAX_CPUS + 1, SIG, FEAT,
				       &err),
			 -1);
	ck_assert_err_has(err, "41 vCPUs do not fit");
	ck_assert_err_has(err, "at most 40");
	ck_assert_int_eq(mptable_write(area, sizeof(area), BASE, 0, SIG, FEAT, &err), -1);
	/* A smaller buffer holds fewer CPUs. */
	ck_assert_int_eq(mptable_write(area, mptable_size(2), BASE, 3, SIG, FEAT, &err), -1);
	ck_assert_int_eq(mptable_write(area, 10, BASE, 1, SIG, FEAT, &err), -1);
}
END_TEST

START_TEST(bad_base)
{
	struct error err = { "" };

	ck_assert_int_eq(mptable_write(area, sizeof(area), BASE + 4, 1, SIG, FEAT, &err), -1);
	ck_assert_err_has(err, "16-byte aligned");
	ck_assert_int_eq(mptable_write(area, sizeof(area), 0xfffffff0u, 1, SIG, FEAT, &err), -1);
}
END_TEST

START_TEST(into_guest_memory)
{
	struct guest_mem mem;
	struct error err = { "" };
	void *buf = test_mem_low(&mem, 1 << 20);
	const uint8_t *fps = (const uint8_t *)buf + LAYOUT_MPTABLE;

	ck_assert_int_eq(mptable_setup(&mem, 2, SIG, FEAT, &err), 0);
	ck_assert_mem_eq(fps, "_MP_", 4);
	ck_assert_uint_eq(rd32(fps + 4), LAYOUT_MPTABLE + 16);
	ck_assert_mem_eq(fps + 16, "PCMP", 4);
	free(buf);

	buf = test_mem_low(&mem, 0x9f000); /* no RAM at 0x9fc00 */
	ck_assert_int_eq(mptable_setup(&mem, 2, SIG, FEAT, &err), -1);
	ck_assert_err_has(err, "not RAM");
	free(buf);
}
END_TEST

Suite *suite_main(void)
{
	Suite *s = suite_create("mptable");
	TCase *tc = tcase_create("mptable");

	tcase_add_test(tc, floating_pointer);
	tcase_add_test(tc, table_header);
	tcase_add_test(tc, entries);
	tcase_add_test(tc, cpu_limit);
	tcase_add_test(tc, bad_base);
	tcase_add_test(tc, into_guest_memory);
	suite_add_tcase(s, tc);
	return s;
}
