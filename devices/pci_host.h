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
 * Creates m->pci: BARs in [LAYOUT_MMIO32_START, LAYOUT_MMIO32_END) mapped on
 * m->mmio, INTx through machine_irq_set(), the config ports on m->pio and the
 * host bridge at 00:00.0. Torn down by a machine cleanup (which clears m->pci).
 */
#endif
