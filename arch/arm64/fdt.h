/*
 * The device tree an arm64 guest boots with, built with libfdt from what the machine
 * has (no .dts, no byte arrays). Linux reads it at x0; -machine dumpdtb=FILE writes it out.
 */
#ifndef TIDE_ARM64_FDT_H
#define TIDE_ARM64_FDT_H

#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

struct fdt_range {
	uint64_t base;
	uint64_t size;
};

struct arm64_fdt_config {
	unsigned nr_cpus;	    /* cpu@0..N-1, "arm,arm-v8", enable-method "psci", reg = KVM's MPIDR */
	struct fdt_range ram[2];    /* memory nodes; size 0: unused */
	struct fdt_range gic_dist;  /* "arm,gic-v3": reg = dist, redist */
	struct fdt_range gic_redist;
	struct fdt_range gic_its;   /* "arm,gic-v3-its" child with msi-controller; size 0: no ITS */
	struct fdt_range uart;      /* "ns16550a", reg-shift 0, reg-io-width 1, clock-frequency 1843200 */
	unsigned uart_spi;          /* SPI number (GIC interrupt = SPI, this, edge rising) */
	struct fdt_range pci_ecam;  /* "pci-host-ecam-generic", device_type "pci", bus-range 0..(size>>20)-1 */
	struct fdt_range pci_mmio32; /* ranges: 32-bit non-prefetchable window, identity-mapped */
	struct fdt_range pci_mmio64; /* ranges: 64-bit prefetchable window; size 0: none */
	unsigned pci_intx_spi_base; /* INTx pin p (1-4) of slot s -> SPI base + (s + p - 1) % 8 */
	const char *bootargs;       /* chosen/bootargs; NULL: none */
	uint64_t initrd_start;      /* chosen/linux,initrd-start/end; end == start: no initrd */
	uint64_t initrd_end;
};

/*
 * Builds the tree into a newly allocated buffer (*blob, *len: the packed size, at most
 * max_len; the caller frees it). The timer node uses the architected PPIs (secure 13,
 * non-secure 14, virtual 11, hypervisor 10); psci is "arm,psci-0.2" with method "hvc";
 * chosen/stdout-path names the uart; the pci node's msi-map sends every requester id
 * to the ITS when there is one.
 */
int arm64_fdt_build(const struct arm64_fdt_config *cfg, size_t max_len, void **blob, size_t *len,
		    struct error *err);

#endif
