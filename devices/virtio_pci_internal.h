/*
 * What the two halves of the virtio-pci transport share, and nothing else
 * includes: the common configuration structure (devices/virtio_pci_common.c)
 * and the transport's set-up, notifications, ISR, device config and MSI-X
 * (devices/virtio_pci.c). A header of its own, not including virtio_pci.h,
 * so that neither .c includes the other's. All of it runs under the
 * device lock.
 */
#ifndef TIDE_DEVICES_VIRTIO_PCI_INTERNAL_H
#define TIDE_DEVICES_VIRTIO_PCI_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#define VIRTIO_PCI_COMMON_CFG_SIZE 0x40

struct virtio_pci;
struct virtio_pci_queue;

/* virtio_pci_common.c: the common cfg region of BAR0 (offset inside the region). */
void virtio_pci_common_access(struct virtio_pci *vp, uint64_t offset, uint8_t *data,
			      unsigned len, bool is_write);
/* The queue as a device reset leaves it (and as set-up first makes it). */
void virtio_pci_queue_reset(struct virtio_pci_queue *q);

/* virtio_pci.c: the driver broke the transport rules (DEVICE_NEEDS_RESET). */
void virtio_pci_set_needs_reset(struct virtio_pci *vp, const char *why);
/* Hands a queue to the I/O thread (or processes it here when there is none). */
void virtio_pci_kick_queue_locked(struct virtio_pci *vp, struct virtio_pci_queue *q);

#endif
