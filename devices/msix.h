/*
 * MSI-X for a PCI function (virtio-pci-modern.md §5): the capability, the
 * vector table and pending-bit array (served from a BAR), masking and
 * delivery. Messages reach the guest through msix_ops, which the KVM side
 * (msix_kvm.c) implements with a GSI route and an irqfd per vector; unit
 * tests record them instead.
 *
 * Locking: the owner serializes every call (virtio-pci holds its device lock).
 */
#ifndef TIDE_MSIX_H
#define TIDE_MSIX_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/pci.h"

#define MSIX_MAX_VECTORS 64 /* the pending bits fit one word */
#define MSIX_ENTRY_SIZE 16
#define MSIX_NO_VECTOR 0xffff

struct msix_ops {
	/* Points vector at the message (called when it changed since the last delivery). */
	int (*route)(void *opaque, unsigned vector, uint64_t addr, uint32_t data);
	/* Sends the vector's routed message. */
	void (*fire)(void *opaque, unsigned vector);
};

struct msix_entry {
	uint32_t addr_lo, addr_hi, data, ctrl;
};

struct msix {
	struct pci_device *pci;
	unsigned cap;	   /* offset of the capability in config space */
	unsigned nr_vectors;
	uint64_t table_offset, pba_offset; /* inside the BAR */
	struct msix_entry table[MSIX_MAX_VECTORS];
	uint64_t pending;
	bool routed[MSIX_MAX_VECTORS];
	struct msix_entry routed_msg[MSIX_MAX_VECTORS];
	const struct msix_ops *ops;
	void *opaque;
};

/*
 * Adds the capability to pci (before pci_bus_add) for nr_vectors (1..64)
 * entries: table at table_offset and PBA at pba_offset of BAR bar. Every entry
 * starts masked, MSI-X disabled. -1 with err when the capability does not fit.
 */
int msix_init(struct msix *x, struct pci_device *pci, unsigned nr_vectors, unsigned bar,
	      uint64_t table_offset, uint64_t pba_offset, const struct msix_ops *ops,
	      void *opaque, struct error *err);

/* Bytes of BAR space the table and PBA need from table_offset (a multiple of 4 KiB is wise). */
static inline uint64_t msix_table_bytes(unsigned nr_vectors)
{
	return (uint64_t)nr_vectors * MSIX_ENTRY_SIZE;
}

/* BAR access inside [table_offset, ...) or [pba_offset, pba_offset + 8); others are ignored. */
bool msix_bar_access(struct msix *x, uint64_t offset, uint8_t *data, unsigned len,
		     bool is_write);
/* After a config write: enable and function-mask bits may have changed. */
void msix_config_written(struct msix *x);
bool msix_enabled(const struct msix *x);
/* Sends vector now, or marks it pending while it (or the function) is masked. */
void msix_notify(struct msix *x, unsigned vector);
/* PCI reset: disabled, every entry masked, nothing pending. */
void msix_reset(struct msix *x);

#endif
