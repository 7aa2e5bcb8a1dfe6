/*
 * What the two halves of the PCI layer share, and nothing else includes:
 * config space rules (devices/pci_config.c) and the bus with its BARs
 * (devices/pci.c). A header of its own, not including pci.h, so that neither
 * .c includes the other's.
 */
#ifndef TIDE_DEVICES_PCI_INTERNAL_H
#define TIDE_DEVICES_PCI_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

struct pci_device;

/* Raw little-endian config bytes (callers hold dev->lock or own the device exclusively). */
static inline uint32_t pci_le_get(const uint8_t *bytes, unsigned offset, unsigned len)
{
	uint32_t v = 0;

	for (unsigned i = 0; i < len; i++)
		v |= (uint32_t)bytes[offset + i] << (8 * i);
	return v;
}

static inline void pci_le_put(uint8_t *bytes, unsigned offset, unsigned len, uint32_t v)
{
	for (unsigned i = 0; i < len; i++)
		bytes[offset + i] = (uint8_t)(v >> (8 * i));
}

/* len 1, 2 or 4, inside the 256-byte config space. */
bool pci_config_access_valid(unsigned offset, unsigned len);

/* A guest's write through the write and write-1-to-clear masks. Locked by dev->lock. */
void pci_config_guest_write_locked(struct pci_device *dev, unsigned offset, unsigned len,
				   uint32_t value);

#endif
