/*
 * The bus: slots, config transactions (configuration mechanism #1 and
 * pci_bus_config_*), INTx sharing and BARs. The config space rules of one
 * function are pci_config.c's.
 */
#include "devices/pci.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "devices/pci_internal.h"
#include "util/log.h"
#include "util/util.h"

#define BAR_MIN_ALIGN 4096 /* keep every BAR on its own pages */
#define BAR_FLAG_BITS 0xfu  /* memory/IO, type and prefetch bits: read-only */

struct pci_bus {
	pthread_mutex_t lock; /* config transactions, devices[], BAR mappings */
	const struct pci_bus_ops *ops;
	void *opaque;
	uint32_t config_address;
	struct pci_device *devices[PCI_MAX_SLOTS];
	uint64_t mmio_next, mmio_end;

	io_handler_fn legacy_handler;
	void *legacy_opaque;

	pthread_mutex_t irq_lock; /* leaf: INTx assertion counts */
	unsigned intx_count[PCI_INTX_GSI_COUNT];
};

/* --- BARs: declaration and sizing; the bus assigns and maps them --- */

int pci_declare_bar(struct pci_device *dev, unsigned bar, uint64_t size, bool is_64bit,
		    io_handler_fn handler, void *opaque, struct error *err)
{
	unsigned reg = PCI_BASE_ADDRESS_0 + 4 * bar;
	uint64_t mask = ~(size - 1);

	if (dev->bus)
		return error_set(err, "%s: BAR %u declared after the device joined the bus",
				 dev->name, bar);
	if (bar >= PCI_NUM_BARS || (is_64bit && bar + 1 >= PCI_NUM_BARS))
		return error_set(err, "%s: no %sBAR %u", dev->name, is_64bit ? "64-bit " : "", bar);
	if (dev->bars[bar].size || (bar > 0 && dev->bars[bar - 1].is_64bit) ||
	    (is_64bit && dev->bars[bar + 1].size))
		return error_set(err, "%s: BAR %u is already in use", dev->name, bar);
	if (size < 16 || !is_power_of_2(size) || (!is_64bit && size > (1ULL << 31)))
		return error_set(err, "%s: BAR %u size 0x%" PRIx64
				 " is not a power of two between 16 bytes and %s",
				 dev->name, bar, size, is_64bit ? "2^63" : "2 GiB");
	if (!handler)
		return error_set(err, "%s: BAR %u has no handler", dev->name, bar);

	dev->bars[bar] = (struct pci_bar){ .size = size, .is_64bit = is_64bit,
					   .handler = handler, .opaque = opaque };
	pthread_mutex_lock(&dev->lock);
	pci_le_put(dev->config, reg, 4, is_64bit ? PCI_BASE_ADDRESS_MEM_TYPE_64 : 0);
	pci_le_put(dev->wmask, reg, 4, (uint32_t)mask & ~BAR_FLAG_BITS);
	if (is_64bit) {
		pci_le_put(dev->config, reg + 4, 4, 0);
		pci_le_put(dev->wmask, reg + 4, 4, (uint32_t)(mask >> 32));
	}
	pthread_mutex_unlock(&dev->lock);
	return 0;
}

/* Locked by dev->lock. */
static uint64_t bar_address_locked(struct pci_device *dev, unsigned bar)
{
	unsigned reg = PCI_BASE_ADDRESS_0 + 4 * bar;
	uint64_t addr = pci_le_get(dev->config, reg, 4) & ~BAR_FLAG_BITS;

	if (dev->bars[bar].is_64bit)
		addr |= (uint64_t)pci_le_get(dev->config, reg + 4, 4) << 32;
	return addr;
}

uint64_t pci_bar_address(struct pci_device *dev, unsigned bar)
{
	uint64_t addr;

	if (bar >= PCI_NUM_BARS || !dev->bars[bar].size)
		return 0;
	pthread_mutex_lock(&dev->lock);
	addr = bar_address_locked(dev, bar);
	pthread_mutex_unlock(&dev->lock);
	return addr;
}

/* --- INTx --- */

unsigned pci_intx_gsi(unsigned slot, unsigned pin)
{
	return PCI_INTX_GSI_BASE + (slot + pin - 1) % PCI_INTX_GSI_COUNT;
}

static void intx_account(struct pci_bus *bus, unsigned gsi, bool assert)
{
	unsigned *count = &bus->intx_count[gsi - PCI_INTX_GSI_BASE];

	pthread_mutex_lock(&bus->irq_lock);
	if (assert)
		++*count;
	else if (*count)
		--*count;
	/* The line is shared: it moves only when the first device asserts or the last lets go. */
	if (bus->ops->set_irq && *count == (assert ? 1u : 0u))
		bus->ops->set_irq(bus->opaque, gsi, assert);
	pthread_mutex_unlock(&bus->irq_lock);
}

/* Re-evaluates the pin after pci_set_irq() or a command register change. Locked by dev->lock. */
static void intx_refresh_locked(struct pci_device *dev)
{
	unsigned pin = dev->config[PCI_INTERRUPT_PIN];
	bool disabled = pci_le_get(dev->config, PCI_COMMAND, 2) & PCI_COMMAND_INTX_DISABLE;
	bool asserted = dev->intx_level && !disabled && pin;

	if (asserted == dev->intx_asserted)
		return;
	dev->intx_asserted = asserted;
	if (dev->bus)
		intx_account(dev->bus, pci_intx_gsi(dev->slot, pin), asserted);
}

void pci_set_irq(struct pci_device *dev, int level)
{
	pthread_mutex_lock(&dev->lock);
	dev->intx_level = level != 0;
	if (level)
		dev->config[PCI_STATUS] |= PCI_STATUS_INTERRUPT;
	else
		dev->config[PCI_STATUS] &= ~PCI_STATUS_INTERRUPT;
	intx_refresh_locked(dev);
	pthread_mutex_unlock(&dev->lock);
}

/* --- BAR mapping (bus lock held) --- */

static bool bar_placement_valid(const struct pci_bar *bar, uint64_t addr)
{
	uint64_t last = addr + bar->size - 1;
	uint64_t top = bar->is_64bit ? UINT64_MAX : 0xffffffffu;

	/* 0 is "unassigned"; a BAR ending at the very top is the sizing pattern, not a place. */
	return addr != 0 && last > addr && last < top;
}

static void unmap_bar(struct pci_bus *bus, struct pci_device *dev, unsigned i)
{
	struct pci_bar *bar = &dev->bars[i];

	if (!bar->mapped)
		return;
	bus->ops->unmap_bar(bus->opaque, bar->mapped_addr, bar->size, bar->opaque);
	bar->mapped = false;
	if (dev->bar_map)
		dev->bar_map(dev, i, bar->mapped_addr, false);
}

/* Where the BAR should be decoded, or false when it should not be. */
static bool bar_wanted(struct pci_device *dev, unsigned i, uint64_t *addr)
{
	struct pci_bar *bar = &dev->bars[i];
	bool enabled;

	pthread_mutex_lock(&dev->lock);
	enabled = pci_le_get(dev->config, PCI_COMMAND, 2) & PCI_COMMAND_MEMORY;
	*addr = bar_address_locked(dev, i);
	pthread_mutex_unlock(&dev->lock);
	if (!enabled)
		return false;
	if (!bar_placement_valid(bar, *addr)) {
		if (!bar->unmapped_warned)
			log_info("PCI 00:%02x.%x %s: BAR %u at 0x%" PRIx64 " is not a valid place",
				 dev->slot, dev->fn, dev->name, i, *addr);
		bar->unmapped_warned = true;
		bar->failed_addr = *addr;
		return false;
	}
	return true;
}

static void map_bar(struct pci_bus *bus, struct pci_device *dev, unsigned i, uint64_t addr)
{
	struct pci_bar *bar = &dev->bars[i];
	struct error err;

	if (bus->ops->map_bar(bus->opaque, addr, bar->size, bar->handler, bar->opaque, dev->name,
			      &err)) {
		if (!bar->unmapped_warned)
			log_warn("PCI 00:%02x.%x %s: BAR %u left unmapped: %s", dev->slot, dev->fn,
				 dev->name, i, err.msg);
		bar->unmapped_warned = true;
		bar->failed_addr = addr;
		return;
	}
	bar->mapped = true;
	bar->mapped_addr = addr;
	bar->failed_addr = 0;
	if (dev->bar_map)
		dev->bar_map(dev, i, addr, true);
}

/*
 * Brings every BAR's mapping in line with its register and the memory-space
 * bit. Unmapping everything that moved first lets two BARs trade places, and
 * a BAR that could not be mapped (overlap) is retried on every change.
 */
static void update_mappings(struct pci_bus *bus)
{
	uint64_t addr;

	for (unsigned s = 0; s < PCI_MAX_SLOTS; s++) {
		struct pci_device *dev = bus->devices[s];

		for (unsigned i = 0; dev && i < PCI_NUM_BARS; i++) {
			struct pci_bar *bar = &dev->bars[i];

			if (bar->mapped && (!bar_wanted(dev, i, &addr) || addr != bar->mapped_addr))
				unmap_bar(bus, dev, i);
		}
	}
	for (unsigned s = 0; s < PCI_MAX_SLOTS; s++) {
		struct pci_device *dev = bus->devices[s];

		for (unsigned i = 0; dev && i < PCI_NUM_BARS; i++)
			if (dev->bars[i].size && !dev->bars[i].mapped && bar_wanted(dev, i, &addr))
				map_bar(bus, dev, i, addr);
	}
}

/* --- config transactions (bus lock held) --- */

static bool overlaps(unsigned offset, unsigned len, unsigned start, unsigned size)
{
	return offset < start + size && start < offset + len;
}

static struct pci_device *find_locked(struct pci_bus *bus, uint8_t bus_nr, uint8_t devfn)
{
	struct pci_device *dev = bus_nr == 0 ? bus->devices[devfn >> 3] : NULL;

	return dev && dev->fn == (devfn & 7) ? dev : NULL;
}

static uint32_t config_read_locked(struct pci_bus *bus, uint8_t bus_nr, uint8_t devfn,
				   unsigned offset, unsigned len)
{
	struct pci_device *dev = find_locked(bus, bus_nr, devfn);
	uint32_t v;

	if (!dev || !pci_config_access_valid(offset, len))
		return len >= 4 ? 0xffffffffu : (1u << (8 * len)) - 1;
	v = pci_config_get(dev, offset, len);
	if (dev->config_read)
		dev->config_read(dev, offset, len, &v);
	return v;
}

static void config_write_locked(struct pci_bus *bus, uint8_t bus_nr, uint8_t devfn,
				unsigned offset, unsigned len, uint32_t value)
{
	struct pci_device *dev = find_locked(bus, bus_nr, devfn);
	uint32_t old_command, command;

	if (!dev || !pci_config_access_valid(offset, len))
		return;
	pthread_mutex_lock(&dev->lock);
	old_command = pci_le_get(dev->config, PCI_COMMAND, 2);
	pci_config_guest_write_locked(dev, offset, len, value);
	command = pci_le_get(dev->config, PCI_COMMAND, 2);
	if ((old_command ^ command) & PCI_COMMAND_INTX_DISABLE)
		intx_refresh_locked(dev);
	pthread_mutex_unlock(&dev->lock);

	if (overlaps(offset, len, PCI_COMMAND, 2) ||
	    overlaps(offset, len, PCI_BASE_ADDRESS_0, 4 * PCI_NUM_BARS))
		update_mappings(bus);
	if (dev->config_write)
		dev->config_write(dev, offset, len, value);
}

uint32_t pci_bus_config_read(struct pci_bus *bus, uint8_t bus_nr, uint8_t devfn, unsigned offset,
			     unsigned len)
{
	uint32_t v;

	pthread_mutex_lock(&bus->lock);
	v = config_read_locked(bus, bus_nr, devfn, offset, len);
	pthread_mutex_unlock(&bus->lock);
	return v;
}

void pci_bus_config_write(struct pci_bus *bus, uint8_t bus_nr, uint8_t devfn, unsigned offset,
			  unsigned len, uint32_t value)
{
	pthread_mutex_lock(&bus->lock);
	config_write_locked(bus, bus_nr, devfn, offset, len, value);
	pthread_mutex_unlock(&bus->lock);
}

/* --- configuration mechanism #1 --- */

void pci_config_io(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write)
{
	struct pci_bus *bus = opaque;
	io_handler_fn legacy;
	void *legacy_opaque;

	if (offset >= PCI_CONFIG_PORTS_LEN || len > PCI_CONFIG_PORTS_LEN - offset ||
	    (offset < 4 && offset + len > 4)) {
		/* straddles CONFIG_ADDRESS and CONFIG_DATA, or runs past 0xCFF */
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	pthread_mutex_lock(&bus->lock);
	if (offset == 0 && len == 4) {
		if (is_write)
			bus->config_address = (uint32_t)io_data_get(data, 4);
		else
			io_data_put(data, 4, bus->config_address);
	} else if (offset >= 4) {
		uint32_t addr = bus->config_address;
		uint8_t bus_nr = (addr >> 16) & 0xff, devfn = (addr >> 8) & 0xff;
		unsigned reg = (addr & 0xfc) + (unsigned)(offset - 4);

		if (!(addr & PCI_CONFIG_ENABLE)) {
			if (!is_write)
				memset(data, 0xff, len);
		} else if (is_write) {
			config_write_locked(bus, bus_nr, devfn, reg, len,
					    (uint32_t)io_data_get(data, len));
		} else {
			io_data_put(data, len, config_read_locked(bus, bus_nr, devfn, reg, len));
		}
	} else {
		/* Byte/word access to 0xCF8-0xCFB is not CONFIG_ADDRESS (Linux writes 0xCFB). */
		legacy = bus->legacy_handler;
		legacy_opaque = bus->legacy_opaque;
		pthread_mutex_unlock(&bus->lock);
		if (legacy)
			legacy(legacy_opaque, offset, data, len, is_write);
		else if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	pthread_mutex_unlock(&bus->lock);
}

void pci_bus_set_legacy_port(struct pci_bus *bus, io_handler_fn handler, void *opaque)
{
	pthread_mutex_lock(&bus->lock);
	bus->legacy_handler = handler;
	bus->legacy_opaque = opaque;
	pthread_mutex_unlock(&bus->lock);
}

/* --- the bus --- */

struct pci_bus *pci_bus_new(const struct pci_bus_ops *ops, void *opaque, uint64_t mmio_start,
			    uint64_t mmio_end)
{
	struct pci_bus *bus = calloc(1, sizeof(*bus));

	if (!bus)
		return NULL;
	pthread_mutex_init(&bus->lock, NULL);
	pthread_mutex_init(&bus->irq_lock, NULL);
	bus->ops = ops;
	bus->opaque = opaque;
	bus->mmio_next = mmio_start;
	bus->mmio_end = mmio_end;
	return bus;
}

/* Assigns addresses to every declared BAR, all or none. Bus lock held. */
static int assign_bars(struct pci_bus *bus, struct pci_device *dev, struct error *err)
{
	uint64_t addrs[PCI_NUM_BARS] = { 0 };
	uint64_t next = bus->mmio_next;

	for (unsigned i = 0; i < PCI_NUM_BARS; i++) {
		uint64_t size = dev->bars[i].size;
		uint64_t align = size > BAR_MIN_ALIGN ? size : BAR_MIN_ALIGN;
		uint64_t addr = ALIGN_UP((uint64_t)next, align);

		if (!size)
			continue;
		if (addr < next || addr > bus->mmio_end || size > bus->mmio_end - addr)
			return error_set(err, "%s: no room for BAR %u (0x%" PRIx64
					 " bytes) in the PCI MMIO window", dev->name, i, size);
		addrs[i] = addr;
		next = addr + size;
	}
	pthread_mutex_lock(&dev->lock);
	for (unsigned i = 0; i < PCI_NUM_BARS; i++) {
		unsigned reg = PCI_BASE_ADDRESS_0 + 4 * i;

		if (!dev->bars[i].size)
			continue;
		pci_le_put(dev->config, reg, 4,
			   (uint32_t)addrs[i] | (pci_le_get(dev->config, reg, 4) & BAR_FLAG_BITS));
		if (dev->bars[i].is_64bit)
			pci_le_put(dev->config, reg + 4, 4, (uint32_t)(addrs[i] >> 32));
	}
	pthread_mutex_unlock(&dev->lock);
	bus->mmio_next = next;
	return 0;
}

int pci_bus_add(struct pci_bus *bus, struct pci_device *dev, int slot, struct error *err)
{
	unsigned pin;

	pthread_mutex_lock(&bus->lock);
	if (dev->bus) {
		error_set(err, "%s is already on a PCI bus", dev->name);
		goto fail;
	}
	if (slot == -1) {
		for (slot = 0; slot < PCI_MAX_SLOTS && bus->devices[slot]; slot++)
			;
		if (slot == PCI_MAX_SLOTS) {
			error_set(err, "%s: all %d PCI slots are in use", dev->name, PCI_MAX_SLOTS);
			goto fail;
		}
	} else if (slot < 0 || slot >= PCI_MAX_SLOTS) {
		error_set(err, "%s: PCI slot %d is out of range (0-%d)", dev->name, slot,
			  PCI_MAX_SLOTS - 1);
		goto fail;
	} else if (bus->devices[slot]) {
		error_set(err, "%s: PCI slot %d is already used by %s", dev->name, slot,
			  bus->devices[slot]->name);
		goto fail;
	}
	if (assign_bars(bus, dev, err))
		goto fail;

	bus->devices[slot] = dev;
	pthread_mutex_lock(&dev->lock);
	dev->bus = bus;
	dev->slot = (uint8_t)slot;
	dev->fn = 0;
	pin = dev->config[PCI_INTERRUPT_PIN];
	if (pin) {
		/* What firmware would leave in the line register; Linux takes the MP table. */
		dev->config[PCI_INTERRUPT_LINE] = (uint8_t)pci_intx_gsi(slot, pin);
		if (dev->intx_asserted)
			intx_account(bus, pci_intx_gsi(slot, pin), true);
	}
	pthread_mutex_unlock(&dev->lock);
	update_mappings(bus); /* no-op unless the device enabled memory decoding itself */
	pthread_mutex_unlock(&bus->lock);
	return slot;
fail:
	pthread_mutex_unlock(&bus->lock);
	return -1;
}

/* Bus lock held. */
static void detach_locked(struct pci_bus *bus, struct pci_device *dev)
{
	unsigned pin;

	for (unsigned i = 0; i < PCI_NUM_BARS; i++)
		unmap_bar(bus, dev, i);
	bus->devices[dev->slot] = NULL;
	pthread_mutex_lock(&dev->lock);
	pin = dev->config[PCI_INTERRUPT_PIN];
	if (pin && dev->intx_asserted)
		intx_account(bus, pci_intx_gsi(dev->slot, pin), false);
	dev->bus = NULL;
	pthread_mutex_unlock(&dev->lock);
}

void pci_bus_remove(struct pci_device *dev)
{
	struct pci_bus *bus = dev->bus;

	if (!bus)
		return;
	pthread_mutex_lock(&bus->lock);
	detach_locked(bus, dev);
	pthread_mutex_unlock(&bus->lock);
}

void pci_bus_foreach(struct pci_bus *bus, void (*fn)(struct pci_device *dev, void *opaque),
		     void *opaque)
{
	struct pci_device *devices[PCI_MAX_SLOTS];

	/* A copy, so fn may use the bus (config accesses) without deadlocking. */
	pthread_mutex_lock(&bus->lock);
	memcpy(devices, bus->devices, sizeof(devices));
	pthread_mutex_unlock(&bus->lock);
	for (unsigned s = 0; s < PCI_MAX_SLOTS; s++)
		if (devices[s])
			fn(devices[s], opaque);
}

void pci_bus_free(struct pci_bus *bus)
{
	if (!bus)
		return;
	pthread_mutex_lock(&bus->lock);
	for (unsigned s = 0; s < PCI_MAX_SLOTS; s++)
		if (bus->devices[s])
			detach_locked(bus, bus->devices[s]);
	pthread_mutex_unlock(&bus->lock);
	pthread_mutex_destroy(&bus->irq_lock);
	pthread_mutex_destroy(&bus->lock);
	free(bus);
}
