/*
 * Conventional PCI: bus 0 with up to 32 single-function devices, type-0
 * headers with a 256-byte config space, memory BARs and capability lists,
 * reached through configuration mechanism #1 (ports 0xCF8/0xCFC, see
 * x86-boot.md section 5). No KVM in here: the bus maps BARs and drives INTx
 * through the callbacks it was created with (pci_host.c wires them to a
 * machine), so unit tests can observe both.
 *
 * A device embeds struct pci_device, calls pci_device_init(), declares its
 * BARs and capabilities, then pci_bus_add(). Its owner calls
 * pci_bus_remove() before freeing it.
 *
 * Locking: the bus lock serializes config transactions (0xCF8/0xCFC, BAR
 * mapping, the config_read/config_write hooks run under it); each device's
 * lock is a leaf protecting its config bytes and INTx state. Hooks may use
 * the pci_config_* accessors and pci_set_irq(); device code must not call
 * pci_bus_* functions while holding a lock that a hook takes.
 */
#ifndef TIDE_DEVICES_PCI_H
#define TIDE_DEVICES_PCI_H

#include <linux/pci_regs.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/error.h"
#include "devices/io_bus.h"

#define PCI_MAX_SLOTS 32
#define PCI_NUM_BARS 6
#define PCI_CONFIG_SIZE PCI_CFG_SPACE_SIZE /* 256 */
#define PCI_CAP_START 0x40		   /* first byte after the type-0 header */

/* Ports of configuration mechanism #1 */
#define PCI_CONFIG_ADDRESS_PORT 0xcf8
#define PCI_CONFIG_DATA_PORT 0xcfc
#define PCI_CONFIG_PORTS_LEN 8 /* 0xCF8-0xCFF, one range for pci_config_io() */
#define PCI_CONFIG_ENABLE 0x80000000u

/* INTx: pin p of slot s raises GSI 16 + (s + p - 1) % 8 (IOAPIC pins 16-23). */
#define PCI_INTX_GSI_BASE 16
#define PCI_INTX_GSI_COUNT 8

#define PCI_DEVFN(slot, fn) ((uint8_t)(((slot) << 3) | (fn)))

struct pci_bus;
struct pci_device;

struct pci_bus_ops {
	/* Make [addr, addr+size) reach handler(opaque, ...); 0, or -1 with err (e.g. overlap). */
	int (*map_bar)(void *bus_opaque, uint64_t addr, uint64_t size, io_handler_fn handler,
		       void *opaque, const char *name, struct error *err);
	void (*unmap_bar)(void *bus_opaque, uint64_t addr, uint64_t size, void *opaque);
	/* Level of a shared INTx GSI: 1 while any device on it asserts. NULL: no INTx. */
	void (*set_irq)(void *bus_opaque, unsigned gsi, int level);
};

struct pci_bar {
	uint64_t size; /* 0: not implemented (or the upper half of a 64-bit BAR) */
	bool is_64bit;
	io_handler_fn handler;
	void *opaque;
	/* owned by the bus */
	bool mapped;
	uint64_t mapped_addr;
	uint64_t failed_addr; /* last address that could not be mapped */
	bool unmapped_warned; /* a guest moving a BAR around must not flood the log */
};

/* Called after the generic write, with the value as the guest wrote it. */
typedef void (*pci_config_write_fn)(struct pci_device *dev, unsigned offset, unsigned len,
				    uint32_t value);
/* May replace *value, which holds what the generic read produced. */
typedef void (*pci_config_read_fn)(struct pci_device *dev, unsigned offset, unsigned len,
				   uint32_t *value);
/* A BAR was mapped at addr (mapped true) or unmapped from addr, e.g. to move ioeventfds. */
typedef void (*pci_bar_map_fn)(struct pci_device *dev, unsigned bar, uint64_t addr, bool mapped);

struct pci_device {
	const char *name;
	uint8_t config[PCI_CONFIG_SIZE];
	uint8_t wmask[PCI_CONFIG_SIZE];	 /* bits the guest may write */
	uint8_t w1cmask[PCI_CONFIG_SIZE]; /* bits the guest clears by writing 1 */
	struct pci_bar bars[PCI_NUM_BARS];

	/* optional hooks, set by the device before pci_bus_add() */
	pci_config_read_fn config_read;
	pci_config_write_fn config_write;
	pci_bar_map_fn bar_map;
	void *opaque; /* for the device's own use */

	/* owned by the PCI layer */
	pthread_mutex_t lock;
	struct pci_bus *bus;
	uint8_t slot, fn;
	unsigned cap_next; /* where the next capability goes */
	unsigned cap_last; /* offset of the last capability, 0 when none */
	bool intx_level;   /* what the device asked for with pci_set_irq() */
	bool intx_asserted; /* intx_level and not disabled by the command register */
};

/* --- device side --- */

/* Zeroes dev and sets up a type-0 header; class_code is 24 bits (class << 16 | sub << 8 | pi). */
void pci_device_init(struct pci_device *dev, const char *name, uint16_t vendor,
		     uint16_t device, uint32_t class_code, uint8_t revision);
/* Releases what pci_device_init() set up; the device must not be on a bus. */
void pci_device_destroy(struct pci_device *dev);
void pci_set_subsystem(struct pci_device *dev, uint16_t vendor, uint16_t id);
/* The device signals INTA; the interrupt line register gets its GSI on pci_bus_add(). */
void pci_use_intx(struct pci_device *dev);

/*
 * Declares memory BAR bar (0-5; a 64-bit BAR also takes bar+1) of size bytes
 * (a power of two >= 16), served by handler(opaque, offset in BAR, ...).
 * Only before pci_bus_add(), which assigns its address. 0 or -1 with err.
 */
int pci_declare_bar(struct pci_device *dev, unsigned bar, uint64_t size, bool is_64bit,
		    io_handler_fn handler, void *opaque, struct error *err);
/* The address currently programmed in the BAR (whether decoding is on or not). */
uint64_t pci_bar_address(struct pci_device *dev, unsigned bar);

/*
 * Appends a capability of size bytes (>= 2): writes cap_id and a zero next
 * pointer, links it after the last one (or from 0x34) and sets the
 * capability-list status bit. Returns its offset, or -1 when it does not fit.
 * The body is read-only to the guest until pci_config_set_wmask() says otherwise.
 */
int pci_add_capability(struct pci_device *dev, uint8_t cap_id, unsigned size);

/* Raw little-endian access to the device's own config space (len 1, 2 or 4). */
uint32_t pci_config_get(struct pci_device *dev, unsigned offset, unsigned len);
void pci_config_set(struct pci_device *dev, unsigned offset, unsigned len, uint32_t value);
void pci_config_set_wmask(struct pci_device *dev, unsigned offset, unsigned len, uint32_t mask);

/* Drives the device's INTx pin (level-triggered; gated by command bit INTX_DISABLE). */
void pci_set_irq(struct pci_device *dev, int level);
/* GSI that INTx pin (1 = INTA) of slot raises. */
unsigned pci_intx_gsi(unsigned slot, unsigned pin);

/* --- bus side --- */

/* BARs are pre-assigned in [mmio_start, mmio_end), naturally aligned. */
struct pci_bus *pci_bus_new(const struct pci_bus_ops *ops, void *opaque, uint64_t mmio_start,
			    uint64_t mmio_end);
/* Unmaps the BARs of devices still on the bus, then frees it (not the devices). */
void pci_bus_free(struct pci_bus *bus);

/* Puts dev in slot (-1: the first free one) as function 0; returns the slot or -1 with err. */
int pci_bus_add(struct pci_bus *bus, struct pci_device *dev, int slot, struct error *err);
void pci_bus_remove(struct pci_device *dev);
/* Calls fn for each device, by slot (e.g. to describe INTx routing in the MP table). */
void pci_bus_foreach(struct pci_bus *bus, void (*fn)(struct pci_device *dev, void *opaque),
		     void *opaque);

/*
 * Config access as the guest does it: bus number, devfn, offset, len 1/2/4
 * with offset + len <= 256. Absent functions read all ones and ignore writes.
 */
uint32_t pci_bus_config_read(struct pci_bus *bus, uint8_t bus_nr, uint8_t devfn, unsigned offset,
			     unsigned len);
void pci_bus_config_write(struct pci_bus *bus, uint8_t bus_nr, uint8_t devfn, unsigned offset,
			  unsigned len, uint32_t value);

/*
 * io_handler_fn for ports 0xCF8-0xCFF (opaque = the bus): dword CONFIG_ADDRESS
 * at 0xCF8, CONFIG_DATA at 0xCFC-0xCFF. Other accesses to 0xCF8-0xCFB go to
 * the legacy handler if one is set (the reset control register at 0xCF9),
 * else read all ones; accesses that straddle 0xCFC are dropped.
 */
void pci_config_io(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write);
/* handler gets offsets relative to 0xCF8. */
void pci_bus_set_legacy_port(struct pci_bus *bus, io_handler_fn handler, void *opaque);

#endif
