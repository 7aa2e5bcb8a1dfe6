/*
 * The PCI host bridges a board can have: "pci-host" (a PC's, config mechanism #1 on ports
 * 0xCF8-0xCFF) and "pci-host-ecam" (config space memory-mapped, PCIe's ECAM, as the
 * generic host Linux binds to "pci-host-ecam-generic"). Both make the board's one bus.
 */
#include "devices/pci_host.h"

#include <stdlib.h>
#include <string.h>

#include "devices/device.h"
#include "devices/board.h"
#include "devices/io_bus.h"

struct pci_host {
	struct board *board;
	struct pci_bus *bus;
	struct pci_device bridge;
	struct io_bus *config_bus; /* where its config access lives (ports or MMIO) */
	uint64_t config_base;
};

/* How a host bridge looks at 00:00.0 and how the guest reaches config space. */
struct pci_host_kind {
	const char *name;
	uint16_t vendor, device;
	uint8_t revision;
	bool ecam;
};

static const struct pci_host_kind pc_host = {
	/* 440FX rather than Q35's MCH (0x29C0): it is a conventional PCI host bridge with a
	 * 256-byte config space, which is all this bus offers. */
	"pci-host", PCI_HOST_VENDOR, PCI_HOST_DEVICE, PCI_HOST_REVISION, false,
};

static const struct pci_host_kind ecam_host = {
	/* QEMU's generic PCIe host bridge (gpex), what Linux sees on a virt machine. */
	"pci-host-ecam", PCI_HOST_ECAM_VENDOR, PCI_HOST_ECAM_DEVICE, 0, true,
};

static void bridge_init(struct pci_device *dev, const struct pci_host_kind *kind)
{
	pci_device_init(dev, kind->name, kind->vendor, kind->device, PCI_HOST_CLASS,
			kind->revision);
	pci_set_subsystem(dev, 0x1af4, 0x1100); /* Red Hat / QEMU, as on QEMU's machines */
}

void pci_host_bridge_init(struct pci_device *dev)
{
	bridge_init(dev, &pc_host);
}

/* ECAM: bus << 20 | devfn << 12 | register; one aligned access of 1, 2 or 4 bytes. */
void pci_ecam_io(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write)
{
	struct pci_bus *bus = opaque;
	uint8_t bus_nr = (uint8_t)(offset >> 20), devfn = (uint8_t)(offset >> 12);
	unsigned reg = offset & 0xfff;

	if ((len != 1 && len != 2 && len != 4) || (reg & (len - 1)) || offset >> 28) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	/* Past the 256 bytes a conventional function has, the bus answers all-ones: no
	 * extended capabilities. */
	if (is_write)
		pci_bus_config_write(bus, bus_nr, devfn, reg, len, (uint32_t)io_data_get(data, len));
	else
		io_data_put(data, len, pci_bus_config_read(bus, bus_nr, devfn, reg, len));
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

static void pci_host_free(struct pci_host *host)
{
	pci_bus_free(host->bus);
	pci_device_destroy(&host->bridge);
	free(host);
}

static void pci_host_destroy(void *opaque)
{
	struct pci_host *host = opaque;
	struct board *b = host->board;

	io_bus_unregister(host->config_bus, host->config_base, host->bus);
	if (b->pci == host->bus)
		b->pci = NULL;
	pci_host_free(host);
}

/*
 * The bus and its bridge. BARs start out in window (tide places them as firmware would;
 * a guest may move them); config access goes through the place's range (ECAM) or the
 * config ports.
 */
static int pci_host_create(struct board *b, const struct pci_host_kind *kind,
			   const struct board_device_place *at, uint64_t window_base,
			   uint64_t window_size, struct error *err)
{
	struct pci_host *host = calloc(1, sizeof(*host));

	if (!host)
		return error_set(err, "%s: out of memory", kind->name);
	host->board = b;
	bridge_init(&host->bridge, kind);
	host->bus = pci_bus_new(&board_pci_ops, b, window_base, window_base + window_size);
	if (!host->bus) {
		error_set(err, "%s: out of memory", kind->name);
		goto fail;
	}
	if (pci_bus_add(host->bus, &host->bridge, 0, err) < 0)
		goto fail;
	if (kind->ecam) {
		host->config_bus = b->mmio;
		host->config_base = at->base;
		if (io_bus_register(b->mmio, at->base, at->size, pci_ecam_io, host->bus, "pci-ecam",
				    err))
			goto fail;
	} else {
		host->config_bus = b->pio;
		host->config_base = PCI_CONFIG_ADDRESS_PORT;
		if (io_bus_register(b->pio, PCI_CONFIG_ADDRESS_PORT, PCI_CONFIG_PORTS_LEN,
				    pci_config_io, host->bus, "pci-config", err))
			goto fail;
	}
	if (b->ops->add_cleanup(b, pci_host_destroy, host)) {
		io_bus_unregister(host->config_bus, host->config_base, host->bus);
		error_set(err, "%s: cannot register its teardown", kind->name);
		goto fail;
	}
	b->pci = host->bus;
	return 0;
fail:
	pci_host_free(host);
	return -1;
}

/* The place is the BAR window; config goes through the ports. */
static int pci_host_realize(struct board *b, void *config, struct error *err)
{
	const struct board_device_place *at = config;

	return pci_host_create(b, &pc_host, at, at->base, at->size, err);
}

/* The place is the ECAM range; the BAR window is its second range. */
static int pci_host_ecam_realize(struct board *b, void *config, struct error *err)
{
	const struct board_device_place *at = config;

	return pci_host_create(b, &ecam_host, at, at->window_base, at->window_size, err);
}

static const struct device_type pci_host_type = {
	.name = "pci-host",
	.kind = TYPE_BOARD,
	.realize = pci_host_realize,
};
DEVICE_TYPE_REGISTER(pci_host_type)

static const struct device_type pci_host_ecam_type = {
	.name = "pci-host-ecam",
	.kind = TYPE_BOARD,
	.realize = pci_host_ecam_realize,
};
DEVICE_TYPE_REGISTER(pci_host_ecam_type)
