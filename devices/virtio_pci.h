/*
 * virtio over PCI, modern only (virtio-pci-modern.md): the common, notify,
 * ISR, device-config and PCI_CFG capabilities and MSI-X, in front of a
 * virtio device described by struct virtio_device_ops. The transport owns
 * feature negotiation, the status state machine, queue setup and interrupts;
 * the device only answers requests and describes its config.
 *
 * BAR0 (64-bit, 16 KiB): common cfg @0x0000, ISR @0x1000, device cfg @0x2000,
 * notify @0x3000 (queue q at +4q). BAR2 (32-bit, 4 KiB): MSI-X table @0, PBA @0x800.
 *
 * Threads: vCPUs access the BARs; queue notifications arrive through an
 * ioeventfd per queue and are processed on the event loop's I/O thread.
 * One lock per device serializes both.
 */
#ifndef TIDE_VIRTIO_PCI_H
#define TIDE_VIRTIO_PCI_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/msix.h"
#include "devices/msix_kvm.h"
#include "devices/pci.h"
#include "devices/virtqueue.h"
#include "util/log.h"

/*
 * The budget of one process_queue call: a guest that keeps its queue full cannot hold the
 * I/O thread. When a call uses it all, the queue is served again after the I/O thread's
 * other work (QMP, other devices).
 */
#define VIRTIO_PCI_REQUESTS_PER_NOTIFY 64

#define VIRTIO_PCI_VENDOR 0x1af4
#define VIRTIO_PCI_DEVICE_BASE 0x1040
#define VIRTIO_PCI_MAX_QUEUES 4

#define VIRTIO_FEATURE(bit) (1ULL << (bit))

struct event_loop;
struct event_watch;
struct msi_routes;

struct virtio_device_ops {
	uint16_t device_id; /* virtio device ID (virtio-mem: 24) */
	unsigned config_size;
	/* Device-type feature bits offered; the transport adds its own. */
	uint64_t (*features)(void *dev);
	/* The driver's accepted set (transport bits checked already); false refuses FEATURES_OK. */
	bool (*features_ok)(void *dev, uint64_t accepted);
	/* Reads device config bytes [offset, offset+len), inside config_size. */
	void (*read_config)(void *dev, unsigned offset, uint8_t *data, unsigned len);
	/*
	 * Handles what the driver queued on vq, at most budget buffers: the number of buffers
	 * returned, or -1 with err when the driver broke the rules (the transport then sets
	 * DEVICE_NEEDS_RESET).
	 */
	int (*process_queue)(void *dev, unsigned index, struct virtqueue *vq, int budget,
			     struct error *err);
	/* Device reset (the driver wrote status 0). */
	void (*reset)(void *dev);
};

struct virtio_pci_queue {
	struct virtio_pci *vp;
	unsigned index;
	uint16_t max_size, size, msix_vector;
	bool enabled;
	uint64_t desc, driver, device;
	struct virtqueue vq;
	int notify_fd;		   /* eventfd: ioeventfd target, watched by the I/O thread */
	struct event_watch *watch;
	/* 0 when not registered with KVM; written under the bus lock, read by QMP under none. */
	_Atomic uint64_t ioeventfd_addr;
};

/* What the transport needs from the machine; unit tests pass vm_fd -1 and no loop. */
struct virtio_pci_env {
	const struct guest_mem *mem;
	int vm_fd;		   /* -1: no ioeventfds, no KVM MSI routes */
	struct event_loop *loop;   /* NULL: notifications are processed on the writing thread */
	struct msi_routes *routes; /* with vm_fd >= 0 */
	const struct msix_ops *msix_ops; /* used when vm_fd < 0 */
	void *msix_opaque;
};

struct virtio_pci {
	struct pci_device pci;
	pthread_mutex_t lock;
	atomic_bool config_change_pending; /* virtio_pci_config_interrupt_async(), not raised yet */
	const struct virtio_device_ops *ops;
	void *dev;
	struct virtio_pci_env env;
	const char *name;

	uint64_t offered, accepted;
	uint32_t device_feature_select, driver_feature_select;
	uint8_t status, isr;
	/* Any thread may bump it: a device changes config fields under its own lock (QMP). */
	_Atomic uint8_t generation;
	uint16_t config_vector, queue_select;
	unsigned nr_queues;
	struct virtio_pci_queue queues[VIRTIO_PCI_MAX_QUEUES];
	unsigned pci_cfg_cap;
	struct log_limit log_limit; /* the warnings a driver can cause */
	int requests_per_notify;    /* VIRTIO_PCI_REQUESTS_PER_NOTIFY (tests set less) */

	struct msix msix;
	struct msix_kvm msix_kvm;
};

/* Sets up the PCI function, capabilities, BARs, MSI-X and notification eventfds. */
int virtio_pci_init(struct virtio_pci *vp, const char *name, const struct virtio_device_ops *ops,
		    void *dev, unsigned nr_queues, uint16_t queue_size,
		    const struct virtio_pci_env *env, struct error *err);
/* No queue is processed after this returns (one being processed is waited for). */
void virtio_pci_stop_queues(struct virtio_pci *vp);
/* The device must be off the bus (pci_bus_remove). */
void virtio_pci_destroy(struct virtio_pci *vp);

/* Where the guest's notifications of queue i reach an ioeventfd (0: none, they trap). */
uint64_t virtio_pci_queue_notify_address(struct virtio_pci *vp, unsigned i);

void virtio_pci_lock(struct virtio_pci *vp);
void virtio_pci_unlock(struct virtio_pci *vp);
/* Device config changed (caller holds the lock): new generation and a config interrupt. */
void virtio_pci_config_changed(struct virtio_pci *vp);
/*
 * From any thread without the lock, never waiting for it (QMP while a request is served):
 * the config interrupt, raised now when the lock is free, else by its holder as it lets
 * go. The caller has bumped the generation (virtio_pci_config_updated) already, together
 * with the fields, under the device's own lock: a driver's multi-read sees both or neither.
 */
void virtio_pci_config_interrupt_async(struct virtio_pci *vp);
/* A config field changed: new generation, no interrupt (any thread). */
void virtio_pci_config_updated(struct virtio_pci *vp);
/* The negotiated features (caller holds the lock). */
static inline bool virtio_pci_has_feature(const struct virtio_pci *vp, unsigned bit)
{
	return vp->accepted & VIRTIO_FEATURE(bit);
}

/* BAR handlers (io_handler_fn, opaque = struct virtio_pci), exported for unit tests. */
void virtio_pci_bar0_access(void *opaque, uint64_t offset, uint8_t *data, unsigned len,
			    bool is_write);
void virtio_pci_bar2_access(void *opaque, uint64_t offset, uint8_t *data, unsigned len,
			    bool is_write);

#define VIRTIO_PCI_COMMON_OFFSET 0x0000
#define VIRTIO_PCI_ISR_OFFSET 0x1000
#define VIRTIO_PCI_DEVICE_OFFSET 0x2000
#define VIRTIO_PCI_NOTIFY_OFFSET 0x3000
#define VIRTIO_PCI_NOTIFY_MULTIPLIER 4
#define VIRTIO_PCI_BAR0_SIZE 0x4000
#define VIRTIO_PCI_MSIX_BAR 2
#define VIRTIO_PCI_MSIX_PBA_OFFSET 0x800
#define VIRTIO_PCI_BAR2_SIZE 0x1000

#endif
