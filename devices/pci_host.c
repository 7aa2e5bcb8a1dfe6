#include "devices/pci_host.h"

#include <stdlib.h>

#include "devices/device.h"
#include "devices/board.h"
#include "devices/io_bus.h"

struct pci_host {
	struct board *board;
	struct pci_bus *bus;
	struct pci_device bridge;
};

void pci_host_bridge_init(struct pci_device *dev)
{
	/*
	 * 440FX rather than Q35's MCH (0x29C0): it is a conventional PCI host
	 * bridge with a 256-byte config space, which is all this bus offers.
	 */
	pci_device_init(dev, "pci-host", PCI_HOST_VENDOR, PCI_HOST_DEVICE, PCI_HOST_CLASS,
			PCI_HOST_REVISION);
	pci_set_subsystem(dev, 0x1af4, 0x1100); /* Red Hat / QEMU, as on QEMU's pc machine */
}

static int mmio_map(void *opaque, uint64_t addr, uint64_t size, io_handler_fn handler,
		    void *handler_opaque, const char *name, struct error *err)
{
	struct board *b = opaque;

	return io_bus_register(b->mmio, addr, size, handler, handler_opaque, name, err);
}

static void mmio_unmap(void *opaque, uint64_t addr, uint64_t size, void *handler_opaque)
{
	struct board *b = opaque;

	(void)size;
	io_bus_unregister(b->mmio, addr, handler_opaque);
}

static void intx_set(void *opaque, unsigned gsi, int level)
{
	struct board *b = opaque;

	b->ops->irq_set(b, gsi, level);
}

static const struct pci_bus_ops board_pci_ops = {
	.map_bar = mmio_map,
	.unmap_bar = mmio_unmap,
	.set_irq = intx_set,
};

static void pci_host_destroy(void *opaque)
{
	struct pci_host *host = opaque;
	struct board *b = host->board;

	io_bus_unregister(b->pio, PCI_CONFIG_ADDRESS_PORT, host->bus);
	if (b->pci == host->bus)
		b->pci = NULL;
	pci_bus_free(host->bus);
	pci_device_destroy(&host->bridge);
	free(host);
}

static int pci_host_realize(struct board *b, void *config, struct error *err)
{
	const struct board_device_place *at = config;
	struct pci_host *host = calloc(1, sizeof(*host));

	if (!host)
		return error_set(err, "PCI host: out of memory");
	host->board = b;
	pci_host_bridge_init(&host->bridge);
	host->bus = pci_bus_new(&board_pci_ops, b, at->base, at->base + at->size);
	if (!host->bus) {
		error_set(err, "PCI host: out of memory");
		goto fail;
	}
	if (pci_bus_add(host->bus, &host->bridge, 0, err) < 0)
		goto fail;
	if (io_bus_register(b->pio, PCI_CONFIG_ADDRESS_PORT, PCI_CONFIG_PORTS_LEN, pci_config_io,
			    host->bus, "pci-config", err))
		goto fail;
	if (b->ops->add_cleanup(b, pci_host_destroy, host)) {
		io_bus_unregister(b->pio, PCI_CONFIG_ADDRESS_PORT, host->bus);
		error_set(err, "PCI host: cannot register its teardown");
		goto fail;
	}
	b->pci = host->bus;
	return 0;
fail:
	pci_bus_free(host->bus);
	pci_device_destroy(&host->bridge);
	free(host);
	return -1;
}

static const struct device_type pci_host_type = {
	.name = "pci-host",
	.kind = TYPE_BOARD,
	.realize = pci_host_realize,
};
DEVICE_TYPE_REGISTER(pci_host_type)
