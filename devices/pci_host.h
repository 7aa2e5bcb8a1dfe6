/*
 * The PCI host: configuration mechanism #1 on ports 0xCF8-0xCFF and a host
 * bridge at 00:00.0, which Linux's pci_sanity_check() looks for.
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


/* Sets up dev as the host bridge (core, for unit tests too); add it at slot 0. */
void pci_host_bridge_init(struct pci_device *dev);

/*
 * The board device "pci-host" creates the board's PCI bus: BARs in the window the
 * architecture gives, mapped on the MMIO bus, INTx through the board's irq_set, the
 * config ports on the port bus and the host bridge at 00:00.0. Torn down by a board
 * cleanup (which clears the board's pci).
 */
#endif
