/* Tide test guest, arm64: PCI configuration through ECAM (the same accessors
 * as ../pci.c's port-based mechanism #1).  One 4 KiB page per function:
 * bus << 20 | dev << 15 | fn << 12; 1-, 2- and 4-byte accesses are allowed. */
#include "io.h"
#include "tg.h"

static volatile uint8_t *cfg(uint8_t bus, uint8_t dev, uint8_t fn, uint8_t reg)
{
	uintptr_t off = ((uintptr_t)(bus % TG_ECAM_BUSES) << 20) |
			((uintptr_t)(dev & 31) << 15) | ((uintptr_t)(fn & 7) << 12) | reg;

	return (volatile uint8_t *)(TG_ECAM_BASE + off);
}

uint32_t pci_read32(uint8_t bus, uint8_t dev, uint8_t fn, uint8_t reg)
{
	return mmio_read32(cfg(bus, dev, fn, reg & 0xFC));
}

uint16_t pci_read16(uint8_t bus, uint8_t dev, uint8_t fn, uint8_t reg)
{
	return mmio_read16(cfg(bus, dev, fn, reg & 0xFE));
}

uint8_t pci_read8(uint8_t bus, uint8_t dev, uint8_t fn, uint8_t reg)
{
	return mmio_read8(cfg(bus, dev, fn, reg));
}

void pci_write32(uint8_t bus, uint8_t dev, uint8_t fn, uint8_t reg, uint32_t v)
{
	mmio_write32(cfg(bus, dev, fn, reg & 0xFC), v);
}

void pci_write16(uint8_t bus, uint8_t dev, uint8_t fn, uint8_t reg, uint16_t v)
{
	mmio_write16(cfg(bus, dev, fn, reg & 0xFE), v);
}

void pci_write8(uint8_t bus, uint8_t dev, uint8_t fn, uint8_t reg, uint8_t v)
{
	mmio_write8(cfg(bus, dev, fn, reg), v);
}
