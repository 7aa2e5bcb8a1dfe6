#include "arch/x86/mptable.h"

#include <string.h>

#include "mm/guest_mem.h"

#define MP_FPS_SIZE 16
#define MP_HEADER_SIZE 44
#define MP_ENTRY_SIZE 8

enum { MP_PROCESSOR, MP_BUS, MP_IOAPIC, MP_INTSRC, MP_LINTSRC };
enum { MP_INT, MP_NMI, MP_SMI, MP_EXTINT };

#define MP_BUS_PCI 0
#define MP_BUS_ISA 1
#define MP_APIC_VERSION 0x14
#define MP_IOAPIC_VERSION 0x11
#define MP_CPU_ENABLED 1
#define MP_CPU_BSP 2
#define MP_ALL_LAPICS 0xff

_Static_assert(MPTABLE_FIXED_SIZE + MPTABLE_MAX_CPUS * MPTABLE_CPU_SIZE <= MPTABLE_AREA_SIZE,
	       "MPTABLE_MAX_CPUS does not fit");

/* A cursor over the output buffer; the callers have checked the size beforehand. */
struct mp_writer {
	uint8_t *buf;
	size_t pos;
};

static uint8_t *mp_take(struct mp_writer *w, size_t len)
{
	uint8_t *p = w->buf + w->pos;

	w->pos += len;
	return p;
}

static void put16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, sizeof(v)); /* x86 is little-endian, like the MP spec */
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, sizeof(v));
}

static uint8_t mp_checksum(const uint8_t *p, size_t len)
{
	uint8_t sum = 0;

	for (size_t i = 0; i < len; i++)
		sum += p[i];
	return (uint8_t)-sum;
}

size_t mptable_size(unsigned nr_cpus)
{
	return MPTABLE_FIXED_SIZE + (size_t)nr_cpus * MPTABLE_CPU_SIZE;
}

static void mp_processor(struct mp_writer *w, unsigned apic_id, uint32_t signature,
			 uint32_t features)
{
	uint8_t *e = mp_take(w, MPTABLE_CPU_SIZE);

	e[0] = MP_PROCESSOR;
	e[1] = (uint8_t)apic_id;
	e[2] = MP_APIC_VERSION;
	e[3] = MP_CPU_ENABLED | (apic_id == 0 ? MP_CPU_BSP : 0);
	put32(e + 4, signature);
	put32(e + 8, features);
}

static void mp_bus(struct mp_writer *w, uint8_t id, const char type[6])
{
	uint8_t *e = mp_take(w, MP_ENTRY_SIZE);

	e[0] = MP_BUS;
	e[1] = id;
	memcpy(e + 2, type, 6);
}

/* I/O (type 3) and local (type 4) interrupt assignments share one layout. */
static void mp_irq(struct mp_writer *w, uint8_t entry_type, uint8_t irq_type, uint8_t src_irq,
		   uint8_t dst_id, uint8_t dst_pin)
{
	uint8_t *e = mp_take(w, MP_ENTRY_SIZE);

	e[0] = entry_type;
	e[1] = irq_type;
	put16(e + 2, 0); /* polarity and trigger conform to the bus: ISA edge, active high */
	e[4] = MP_BUS_ISA;
	e[5] = src_irq;
	e[6] = dst_id;
	e[7] = dst_pin;
}

int mptable_write(void *buf, size_t buf_len, uint32_t base_gpa, unsigned nr_cpus,
		  uint32_t cpu_signature, uint32_t cpu_features, struct error *err)
{
	size_t size, max_cpus;
	struct mp_writer w = { buf, 0 };
	uint8_t *fps, *hdr, *e;
	unsigned ioapic_id = nr_cpus;

	max_cpus = buf_len < MPTABLE_FIXED_SIZE ? 0 : (buf_len - MPTABLE_FIXED_SIZE) / MPTABLE_CPU_SIZE;
	if (max_cpus > 254) /* APIC IDs are 8 bits, 0xFF is the broadcast ID */
		max_cpus = 254;
	if (nr_cpus == 0)
		return error_set(err, "MP table: no vCPUs");
	if (nr_cpus > max_cpus)
		return error_set(err, "%u vCPUs do not fit in the %zu-byte MP table area (at most %zu)",
				 nr_cpus, buf_len, max_cpus);
	if (base_gpa % 16)
		return error_set(err, "MP floating pointer at 0x%x is not 16-byte aligned", base_gpa);
	size = mptable_size(nr_cpus);
	if (size > UINT32_MAX - base_gpa)
		return error_set(err, "MP table at 0x%x wraps the 32-bit address space", base_gpa);
	memset(buf, 0, size);

	fps = mp_take(&w, MP_FPS_SIZE);
	memcpy(fps, "_MP_", 4);
	put32(fps + 4, base_gpa + MP_FPS_SIZE); /* the table follows the pointer */
	fps[8] = 1;                             /* length in 16-byte units */
	fps[9] = 4;                             /* spec revision 1.4 */
	/* feature1 = 0: a table is present; feature2 = 0: virtual-wire mode, no IMCR */

	hdr = mp_take(&w, MP_HEADER_SIZE);
	memcpy(hdr, "PCMP", 4);
	hdr[6] = 4;
	memcpy(hdr + 8, "TIDE    ", 8);
	memcpy(hdr + 16, "TIDE VM     ", 12);
	put32(hdr + 36, (uint32_t)LAYOUT_LAPIC);

	for (unsigned i = 0; i < nr_cpus; i++)
		mp_processor(&w, i, cpu_signature, cpu_features);
	mp_bus(&w, MP_BUS_PCI, "PCI   ");
	mp_bus(&w, MP_BUS_ISA, "ISA   ");

	e = mp_take(&w, MP_ENTRY_SIZE);
	e[0] = MP_IOAPIC;
	e[1] = (uint8_t)ioapic_id;
	e[2] = MP_IOAPIC_VERSION;
	e[3] = 1; /* usable */
	put32(e + 4, (uint32_t)LAYOUT_IOAPIC);

	/* Identity, as KVM routes GSI n to IOAPIC pin n; IRQ 2 is the PIC cascade. */
	for (unsigned irq = 0; irq < 16; irq++)
		if (irq != 2)
			mp_irq(&w, MP_INTSRC, MP_INT, (uint8_t)irq, (uint8_t)ioapic_id, (uint8_t)irq);
	mp_irq(&w, MP_LINTSRC, MP_EXTINT, 0, MP_ALL_LAPICS, 0);
	mp_irq(&w, MP_LINTSRC, MP_NMI, 0, MP_ALL_LAPICS, 1);

	put16(hdr + 4, (uint16_t)(w.pos - MP_FPS_SIZE));           /* base table length */
	put16(hdr + 34, (uint16_t)(nr_cpus + 2 + 1 + 15 + 2));     /* entry count */
	hdr[7] = mp_checksum(hdr, w.pos - MP_FPS_SIZE);
	fps[10] = mp_checksum(fps, MP_FPS_SIZE);
	return (int)w.pos;
}

int mptable_setup(struct guest_mem *mem, unsigned nr_cpus, uint32_t cpu_signature,
		  uint32_t cpu_features, struct error *err)
{
	void *area = guest_mem_ptr(mem, LAYOUT_MPTABLE, MPTABLE_AREA_SIZE);

	if (!area)
		return error_set(err, "MP table area 0x%llx+0x%llx is not RAM", LAYOUT_MPTABLE,
				 MPTABLE_AREA_SIZE);
	if (mptable_write(area, MPTABLE_AREA_SIZE, (uint32_t)LAYOUT_MPTABLE, nr_cpus, cpu_signature,
			  cpu_features, err) < 0)
		return -1;
	return 0;
}
