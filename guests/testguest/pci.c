/* Tide test guest: PCI configuration mechanism #1 (ports 0xCF8/0xCFC). */
#include "io.h"
#include "tg.h"

#define PCI_CONFIG_ADDRESS 0xCF8
#define PCI_CONFIG_DATA 0xCFC

static void pci_select(uint8_t bus, uint8_t dev, uint8_t fn, uint8_t reg)
{
	outl(PCI_CONFIG_ADDRESS, 0x80000000u | ((uint32_t)bus << 16) |
				 ((uint32_t)(dev & 31) << 11) |
				 ((uint32_t)(fn & 7) << 8) | (reg & 0xFCu));
}

uint32_t pci_read32(uint8_t bus, uint8_t dev, uint8_t fn, uint8_t reg)
{
	pci_select(bus, dev, fn, reg);
	return inl(PCI_CONFIG_DATA);
}

uint16_t pci_read16(uint8_t bus, uint8_t dev, uint8_t fn, uint8_t reg)
{
	pci_select(bus, dev, fn, reg);
	return inw(PCI_CONFIG_DATA + (reg & 2));
}

uint8_t pci_read8(uint8_t bus, uint8_t dev, uint8_t fn, uint8_t reg)
{
	pci_select(bus, dev, fn, reg);
	return inb(PCI_CONFIG_DATA + (reg & 3));
}

void pci_write32(uint8_t bus, uint8_t dev, uint8_t fn, uint8_t reg, uint32_t v)
{
	pci_select(bus, dev, fn, reg);
	outl(PCI_CONFIG_DATA, v);
}

void pci_write16(uint8_t bus, uint8_t dev, uint8_t fn, uint8_t reg, uint16_t v)
{
	pci_select(bus, dev, fn, reg);
	outw(PCI_CONFIG_DATA + (reg & 2), v);
}

void pci_write8(uint8_t bus, uint8_t dev, uint8_t fn, uint8_t reg, uint8_t v)
{
	pci_select(bus, dev, fn, reg);
	outb(PCI_CONFIG_DATA + (reg & 3), v);
}
