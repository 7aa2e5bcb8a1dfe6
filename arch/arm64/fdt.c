/*
 * The arm64 guest's device tree, written in order with libfdt's sequential-write API: a
 * node's properties precede its children, so the phandles are fixed up front.
 */
#include <assert.h>
#include <inttypes.h>
#include <libfdt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "arch/arm64/fdt.h"
#include "util/util.h"

/* The root's interrupt-parent is written before the GIC node exists. */
enum { PHANDLE_GIC = 1, PHANDLE_ITS = 2 };

/* GIC interrupt specifiers: <type number flags> (arm,gic-v3 binding). */
#define GIC_SPI 0
#define GIC_PPI 1
#define IRQ_EDGE_RISING 1
#define IRQ_LEVEL_HIGH 4
/* INTx: devices/pci.h sends pin p of slot s to line base + (s + p - 1) % 8, so the map
 * repeats every 8 slots. */
#define PCI_INTX_SLOTS 8

/* phys.hi of a PCI address: space code and prefetchable bit (PCI bus binding). */
#define PCI_MEM32 0x02000000u
#define PCI_MEM64_PREF 0x43000000u

/* Stops at the first libfdt error (a negative FDT_ERR_*); arm64_fdt_build reports it. */
#define TRY(call)                      \
	do {                           \
		int r_ = (call);       \
		if (r_ < 0)            \
			return r_;     \
	} while (0)

/* A property value built cell by cell, big-endian as the tree stores it. */
struct cells {
	fdt32_t c[PCI_INTX_SLOTS * 4 * 10]; /* the largest: pci interrupt-map, 10 cells each */
	unsigned n;
};

static void cell(struct cells *p, uint32_t v)
{
	assert(p->n < ARRAY_SIZE(p->c));
	p->c[p->n++] = cpu_to_fdt32(v);
}

static void cell64(struct cells *p, uint64_t v)
{
	cell(p, v >> 32);
	cell(p, (uint32_t)v);
}

static int put(void *fdt, const char *name, const struct cells *p)
{
	return fdt_property(fdt, name, p->c, p->n * sizeof(fdt32_t));
}

static int put_u32s(void *fdt, const char *name, const uint32_t *v, unsigned n)
{
	struct cells c = { .n = 0 };

	for (unsigned i = 0; i < n; i++)
		cell(&c, v[i]);
	return put(fdt, name, &c);
}

/* reg under a parent with #address-cells = #size-cells = 2. */
static int put_reg(void *fdt, const struct fdt_range *r, unsigned nr)
{
	struct cells c = { .n = 0 };

	for (unsigned i = 0; i < nr; i++) {
		cell64(&c, r[i].base);
		cell64(&c, r[i].size);
	}
	return put(fdt, "reg", &c);
}

/* "name@unit-address": the unit address is the first reg address, in hex. */
static int begin_node_at(void *fdt, const char *name, uint64_t addr)
{
	char buf[64];

	snprintf(buf, sizeof(buf), "%s@%" PRIx64, name, addr);
	return fdt_begin_node(fdt, buf);
}

static int cpus_node(void *fdt, const struct arm64_fdt_config *cfg)
{
	TRY(fdt_begin_node(fdt, "cpus"));
	TRY(fdt_property_cell(fdt, "#address-cells", 1));
	TRY(fdt_property_cell(fdt, "#size-cells", 0));
	for (unsigned i = 0; i < cfg->nr_cpus; i++) {
		/* KVM's MPIDR for vCPU i: Aff0 = i % 16, Aff1 = i / 16. */
		uint32_t mpidr = ((i >> 4) << 8) | (i & 0xf);

		TRY(begin_node_at(fdt, "cpu", mpidr));
		TRY(fdt_property_string(fdt, "device_type", "cpu"));
		TRY(fdt_property_string(fdt, "compatible", "arm,arm-v8"));
		TRY(fdt_property_string(fdt, "enable-method", "psci"));
		TRY(fdt_property_cell(fdt, "reg", mpidr));
		TRY(fdt_end_node(fdt));
	}
	return fdt_end_node(fdt);
}

static int gic_node(void *fdt, const struct arm64_fdt_config *cfg)
{
	const struct fdt_range regs[] = { cfg->gic_dist, cfg->gic_redist };

	TRY(begin_node_at(fdt, "intc", cfg->gic_dist.base));
	TRY(fdt_property_string(fdt, "compatible", "arm,gic-v3"));
	TRY(fdt_property_cell(fdt, "#interrupt-cells", 3));
	TRY(fdt_property(fdt, "interrupt-controller", NULL, 0));
	TRY(put_reg(fdt, regs, ARRAY_SIZE(regs)));
	/* The ITS child sits in the same address space: empty ranges, same cell sizes. */
	TRY(fdt_property_cell(fdt, "#address-cells", 2));
	TRY(fdt_property_cell(fdt, "#size-cells", 2));
	TRY(fdt_property(fdt, "ranges", NULL, 0));
	TRY(fdt_property_cell(fdt, "phandle", PHANDLE_GIC));
	if (cfg->gic_its.size) {
		TRY(begin_node_at(fdt, "its", cfg->gic_its.base));
		TRY(fdt_property_string(fdt, "compatible", "arm,gic-v3-its"));
		TRY(fdt_property(fdt, "msi-controller", NULL, 0));
		TRY(fdt_property_cell(fdt, "#msi-cells", 1));
		TRY(put_reg(fdt, &cfg->gic_its, 1));
		TRY(fdt_property_cell(fdt, "phandle", PHANDLE_ITS));
		TRY(fdt_end_node(fdt));
	}
	return fdt_end_node(fdt);
}

static int timer_node(void *fdt)
{
	/* The architected PPIs in the binding's order: secure, non-secure, virtual, hyp. */
	static const uint32_t irqs[] = { GIC_PPI, 13, IRQ_LEVEL_HIGH, GIC_PPI, 14, IRQ_LEVEL_HIGH,
					 GIC_PPI, 11, IRQ_LEVEL_HIGH, GIC_PPI, 10, IRQ_LEVEL_HIGH };

	TRY(fdt_begin_node(fdt, "timer"));
	TRY(fdt_property_string(fdt, "compatible", "arm,armv8-timer"));
	TRY(fdt_property(fdt, "always-on", NULL, 0));
	TRY(put_u32s(fdt, "interrupts", irqs, ARRAY_SIZE(irqs)));
	return fdt_end_node(fdt);
}

static int uart_node(void *fdt, const struct arm64_fdt_config *cfg)
{
	/* Edge: tide's 16550 pulses its line on each new condition (as on a PC's ISA bus). */
	const uint32_t irq[] = { GIC_SPI, cfg->uart_spi, IRQ_EDGE_RISING };

	TRY(begin_node_at(fdt, "serial", cfg->uart.base));
	TRY(fdt_property_string(fdt, "compatible", "ns16550a"));
	TRY(put_reg(fdt, &cfg->uart, 1));
	TRY(fdt_property_cell(fdt, "clock-frequency", 1843200));
	TRY(fdt_property_cell(fdt, "reg-shift", 0));
	TRY(fdt_property_cell(fdt, "reg-io-width", 1));
	TRY(put_u32s(fdt, "interrupts", irq, ARRAY_SIZE(irq)));
	return fdt_end_node(fdt);
}

/* One ranges entry: the window is identity-mapped, PCI address = CPU address. */
static void pci_range(struct cells *c, uint32_t space, const struct fdt_range *r)
{
	cell(c, space);
	cell64(c, r->base);
	cell64(c, r->base);
	cell64(c, r->size);
}

static int pci_node(void *fdt, const struct arm64_fdt_config *cfg)
{
	/* ECAM spends 1 MiB per bus (32 devices x 8 functions x 4 KiB). */
	const uint32_t bus_range[] = { 0, (uint32_t)(cfg->pci_ecam.size >> 20) - 1 };
	/* INTx: match on the low 3 bits of the device number (phys.hi bits 13:11) and the pin. */
	static const uint32_t map_mask[] = { 0x3800, 0, 0, 7 };
	/* Every requester id goes to the ITS as its own device id. */
	static const uint32_t msi_map[] = { 0, PHANDLE_ITS, 0, 0x10000 };
	struct cells c = { .n = 0 };

	TRY(begin_node_at(fdt, "pcie", cfg->pci_ecam.base));
	TRY(fdt_property_string(fdt, "compatible", "pci-host-ecam-generic"));
	TRY(fdt_property_string(fdt, "device_type", "pci"));
	TRY(fdt_property_cell(fdt, "#address-cells", 3));
	TRY(fdt_property_cell(fdt, "#size-cells", 2));
	TRY(fdt_property_cell(fdt, "#interrupt-cells", 1));
	TRY(put_reg(fdt, &cfg->pci_ecam, 1));
	TRY(put_u32s(fdt, "bus-range", bus_range, ARRAY_SIZE(bus_range)));
	TRY(fdt_property_cell(fdt, "linux,pci-domain", 0));
	TRY(fdt_property(fdt, "dma-coherent", NULL, 0));

	pci_range(&c, PCI_MEM32, &cfg->pci_mmio32);
	if (cfg->pci_mmio64.size)
		pci_range(&c, PCI_MEM64_PREF, &cfg->pci_mmio64);
	TRY(put(fdt, "ranges", &c));

	/* The usual swizzle; the parent unit address is the GIC's two (zero) address cells. */
	TRY(put_u32s(fdt, "interrupt-map-mask", map_mask, ARRAY_SIZE(map_mask)));
	c.n = 0;
	for (unsigned slot = 0; slot < PCI_INTX_SLOTS; slot++) {
		for (unsigned pin = 1; pin <= 4; pin++) {
			cell(&c, slot << 11);
			cell(&c, 0);
			cell(&c, 0);
			cell(&c, pin);
			cell(&c, PHANDLE_GIC);
			cell64(&c, 0);
			cell(&c, GIC_SPI);
			cell(&c, cfg->pci_intx_spi_base + (slot + pin - 1) % PCI_INTX_SLOTS);
			cell(&c, IRQ_LEVEL_HIGH);
		}
	}
	TRY(put(fdt, "interrupt-map", &c));

	if (cfg->gic_its.size)
		TRY(put_u32s(fdt, "msi-map", msi_map, ARRAY_SIZE(msi_map)));
	return fdt_end_node(fdt);
}

static int chosen_node(void *fdt, const struct arm64_fdt_config *cfg)
{
	char path[64];

	TRY(fdt_begin_node(fdt, "chosen"));
	if (cfg->bootargs)
		TRY(fdt_property_string(fdt, "bootargs", cfg->bootargs));
	snprintf(path, sizeof(path), "/serial@%" PRIx64, cfg->uart.base);
	TRY(fdt_property_string(fdt, "stdout-path", path));
	if (cfg->initrd_end > cfg->initrd_start) {
		TRY(fdt_property_u64(fdt, "linux,initrd-start", cfg->initrd_start));
		TRY(fdt_property_u64(fdt, "linux,initrd-end", cfg->initrd_end));
	}
	return fdt_end_node(fdt);
}

static int build(void *fdt, int size, const struct arm64_fdt_config *cfg)
{
	TRY(fdt_create(fdt, size));
	TRY(fdt_finish_reservemap(fdt));
	TRY(fdt_begin_node(fdt, ""));
	TRY(fdt_property_cell(fdt, "#address-cells", 2));
	TRY(fdt_property_cell(fdt, "#size-cells", 2));
	TRY(fdt_property_string(fdt, "compatible", "linux,dummy-virt"));
	TRY(fdt_property_string(fdt, "model", "tide"));
	TRY(fdt_property_cell(fdt, "interrupt-parent", PHANDLE_GIC));

	TRY(cpus_node(fdt, cfg));
	for (unsigned i = 0; i < ARRAY_SIZE(cfg->ram); i++) {
		if (!cfg->ram[i].size)
			continue;
		TRY(begin_node_at(fdt, "memory", cfg->ram[i].base));
		TRY(fdt_property_string(fdt, "device_type", "memory"));
		TRY(put_reg(fdt, &cfg->ram[i], 1));
		TRY(fdt_end_node(fdt));
	}
	TRY(fdt_begin_node(fdt, "psci"));
	TRY(fdt_property_string(fdt, "compatible", "arm,psci-0.2"));
	TRY(fdt_property_string(fdt, "method", "hvc"));
	TRY(fdt_end_node(fdt));
	TRY(gic_node(fdt, cfg));
	TRY(timer_node(fdt));
	TRY(uart_node(fdt, cfg));
	TRY(pci_node(fdt, cfg));
	TRY(chosen_node(fdt, cfg));
	TRY(fdt_end_node(fdt));
	return fdt_finish(fdt);
}

int arm64_fdt_build(const struct arm64_fdt_config *cfg, size_t max_len, void **blob, size_t *len,
		    struct error *err)
{
	void *fdt, *shrunk;
	int r;

	if (!cfg->nr_cpus)
		return error_set(err, "device tree: no cpus");
	/* bus-range needs whole buses, and there are at most 256 of them. */
	if (cfg->pci_ecam.size < (1u << 20) || cfg->pci_ecam.size > (256u << 20) ||
	    cfg->pci_ecam.size % (1u << 20))
		return error_set(err, "device tree: ECAM size %#" PRIx64 " is not 1..256 buses",
				 cfg->pci_ecam.size);
	if (max_len > INT_MAX) /* libfdt counts in int */
		max_len = INT_MAX;

	fdt = malloc(max_len ? max_len : 1);
	if (!fdt)
		return error_set(err, "device tree: out of memory (%zu bytes)", max_len);
	r = build(fdt, (int)max_len, cfg);
	if (r < 0) {
		free(fdt);
		return error_set(err, "device tree (at most %zu bytes): %s", max_len,
				 fdt_strerror(r));
	}
	/* fdt_finish already moved the strings up against the structure: this is the size. */
	*len = fdt_totalsize(fdt);
	shrunk = realloc(fdt, *len);
	*blob = shrunk ? shrunk : fdt;
	return 0;
}
