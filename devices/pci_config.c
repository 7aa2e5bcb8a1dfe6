/*
 * One function's config space: the type-0 header, which bits the guest may
 * write or clear, and the capability list. The bus, INTx and BAR mapping
 * are pci.c's.
 */
#include "devices/pci.h"

#include <string.h>

#include "devices/pci_internal.h"

#define COMMAND_WRITABLE (PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE)
#define STATUS_W1C                                                                              \
	(PCI_STATUS_PARITY | PCI_STATUS_SIG_TARGET_ABORT | PCI_STATUS_REC_TARGET_ABORT |        \
	 PCI_STATUS_REC_MASTER_ABORT | PCI_STATUS_SIG_SYSTEM_ERROR | PCI_STATUS_DETECTED_PARITY)

/* --- accesses (the raw ones for the device, the guest's through the masks) --- */

bool pci_config_access_valid(unsigned offset, unsigned len)
{
	return (len == 1 || len == 2 || len == 4) && offset < PCI_CONFIG_SIZE &&
	       len <= PCI_CONFIG_SIZE - offset;
}

uint32_t pci_config_get(struct pci_device *dev, unsigned offset, unsigned len)
{
	uint32_t v;

	if (!pci_config_access_valid(offset, len))
		return 0xffffffffu;
	pthread_mutex_lock(&dev->lock);
	v = pci_le_get(dev->config, offset, len);
	pthread_mutex_unlock(&dev->lock);
	return v;
}

void pci_config_set(struct pci_device *dev, unsigned offset, unsigned len, uint32_t value)
{
	if (!pci_config_access_valid(offset, len))
		return;
	pthread_mutex_lock(&dev->lock);
	pci_le_put(dev->config, offset, len, value);
	pthread_mutex_unlock(&dev->lock);
}

void pci_config_set_wmask(struct pci_device *dev, unsigned offset, unsigned len, uint32_t mask)
{
	if (!pci_config_access_valid(offset, len))
		return;
	pthread_mutex_lock(&dev->lock);
	pci_le_put(dev->wmask, offset, len, mask);
	pthread_mutex_unlock(&dev->lock);
}

void pci_config_guest_write_locked(struct pci_device *dev, unsigned offset, unsigned len,
				   uint32_t value)
{
	for (unsigned i = 0; i < len; i++) {
		unsigned o = offset + i;
		uint8_t b = (uint8_t)(value >> (8 * i));

		dev->config[o] = (dev->config[o] & ~dev->wmask[o]) | (b & dev->wmask[o]);
		dev->config[o] &= ~(b & dev->w1cmask[o]);
	}
}

/* --- device setup --- */

void pci_device_init(struct pci_device *dev, const char *name, uint16_t vendor,
		     uint16_t device, uint32_t class_code, uint8_t revision)
{
	memset(dev, 0, sizeof(*dev));
	pthread_mutex_init(&dev->lock, NULL);
	dev->name = name;
	pci_le_put(dev->config, PCI_VENDOR_ID, 2, vendor);
	pci_le_put(dev->config, PCI_DEVICE_ID, 2, device);
	dev->config[PCI_REVISION_ID] = revision;
	pci_le_put(dev->config, PCI_CLASS_PROG, 3, class_code);
	dev->config[PCI_HEADER_TYPE] = PCI_HEADER_TYPE_NORMAL;

	pci_le_put(dev->wmask, PCI_COMMAND, 2, COMMAND_WRITABLE);
	pci_le_put(dev->w1cmask, PCI_STATUS, 2, STATUS_W1C);
	dev->wmask[PCI_CACHE_LINE_SIZE] = 0xff;
	dev->wmask[PCI_LATENCY_TIMER] = 0xff;
	dev->wmask[PCI_INTERRUPT_LINE] = 0xff;
	dev->cap_next = PCI_CAP_START;
}

void pci_device_destroy(struct pci_device *dev)
{
	pthread_mutex_destroy(&dev->lock);
}

void pci_set_subsystem(struct pci_device *dev, uint16_t vendor, uint16_t id)
{
	pci_config_set(dev, PCI_SUBSYSTEM_VENDOR_ID, 2, vendor);
	pci_config_set(dev, PCI_SUBSYSTEM_ID, 2, id);
}

void pci_use_intx(struct pci_device *dev)
{
	pci_config_set(dev, PCI_INTERRUPT_PIN, 1, 1);
}

/* --- capabilities --- */

int pci_add_capability(struct pci_device *dev, uint8_t cap_id, unsigned size)
{
	unsigned offset;

	pthread_mutex_lock(&dev->lock);
	offset = (dev->cap_next + 3) & ~3u; /* capabilities are dword aligned */
	if (size < 2 || offset >= PCI_CONFIG_SIZE || size > PCI_CONFIG_SIZE - offset) {
		pthread_mutex_unlock(&dev->lock);
		return -1;
	}
	memset(&dev->config[offset], 0, size);
	dev->config[offset] = cap_id;
	if (dev->cap_last)
		dev->config[dev->cap_last + 1] = (uint8_t)offset;
	else
		dev->config[PCI_CAPABILITY_LIST] = (uint8_t)offset;
	dev->config[PCI_STATUS] |= PCI_STATUS_CAP_LIST;
	dev->cap_last = offset;
	dev->cap_next = offset + size;
	pthread_mutex_unlock(&dev->lock);
	return (int)offset;
}
