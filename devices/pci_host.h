/*
 * The PCI host: a host bridge at 00:00.0 (which Linux's pci_sanity_check() looks for), and
 * config space through mechanism #1 on ports 0xCF8-0xCFF (a PC) or ECAM (arm64's virt).
 */
#ifndef TIDE_DEVICES_PCI_HOST_H
#define TIDE_DEVICES_PCI_HOST_H

#include "devices/pci.h"
#include "util/error.h"

/* An Intel 440FX PMC (82441FX), the host bridge of QEMU's "pc" machine. */
#define PCI_HOST_VENDOR 0x8086
#define PCI_HOST_DEVICE 0x1237
#define PCI_HOST_CLASS 0x060000 /* bridge, host bridge */
#define PCI_HOST_REVISION 0x02
/* QEMU's generic PCIe host bridge (gpex), behind ECAM. */
#define PCI_HOST_ECAM_VENDOR 0x1b36
#define PCI_HOST_ECAM_DEVICE 0x0008
#define PCI_ECAM_BYTES_PER_BUS (1u << 20)


/* Sets up dev as the PC's host bridge (core, for unit tests too); add it at slot 0. */
void pci_host_bridge_init(struct pci_device *dev);
/* ECAM accesses to bus (opaque: struct pci_bus), offset from the ECAM base. */
void pci_ecam_io(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write);

/*
 * The board device "pci-host" creates the board's PCI bus: BARs in the window the
 * architecture gives, mapped on the MMIO bus, INTx through the board's irq_set, the
 * config ports on the port bus and the host bridge at 00:00.0. "pci-host-ecam" does the
 * same with config space at its place on the MMIO bus and BARs in the place's window.
 * Torn down by a board cleanup (which clears the board's pci).
 */
#endif
