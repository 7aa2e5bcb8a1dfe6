/* Tide test guest: minimal polling driver for modern virtio-over-PCI
 * devices (virtio 1.x PCI transport, one split virtqueue, no interrupts).
 *
 * Device-agnostic: virtio_mem.c builds on it.  Besides what a normal
 * driver needs it exposes raw primitives (arbitrary descriptors, arbitrary
 * avail-index steps) so tests can build deliberately malformed queues.
 */
#ifndef TG_VIRTIO_PCI_H
#define TG_VIRTIO_PCI_H

#include "io.h"
#include "tg.h"

/* Virtio vendor capability cfg_type values (the array index in caps[]). */
#define VPCI_CAP_COMMON 1
#define VPCI_CAP_NOTIFY 2
#define VPCI_CAP_ISR 3
#define VPCI_CAP_DEVICE 4
#define VPCI_CAP_PCI_CFG 5
#define VPCI_NCAPS 6

/* device_status bits */
#define VIRTIO_STATUS_ACK 0x01
#define VIRTIO_STATUS_DRIVER 0x02
#define VIRTIO_STATUS_DRIVER_OK 0x04
#define VIRTIO_STATUS_FEATURES_OK 0x08
#define VIRTIO_STATUS_NEEDS_RESET 0x40
#define VIRTIO_STATUS_FAILED 0x80

/* Transport feature bits */
#define VIRTIO_F_INDIRECT_DESC (1ull << 28)
#define VIRTIO_F_EVENT_IDX (1ull << 29)
#define VIRTIO_F_VERSION_1 (1ull << 32)

/* ISR bits */
#define VIRTIO_ISR_QUEUE 0x01
#define VIRTIO_ISR_CONFIG 0x02

/* Split-ring descriptor flags */
#define VRING_DESC_F_NEXT 1
#define VRING_DESC_F_WRITE 2
#define VRING_DESC_F_INDIRECT 4

/* Our queue never has more entries than this (one request in flight). */
#define VQ_MAX 16

struct vring_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct vpci_cap {
	bool present;
	uint8_t cfg_off;	/* offset of the capability in PCI config space */
	uint8_t bar;
	uint32_t offset, length;
};

enum vpci_bar_type { BAR_NONE, BAR_MEM32, BAR_MEM64, BAR_IO, BAR_HIGH_HALF };

struct vpci_dev {
	bool found;		/* a function with the right IDs exists */
	bool ok;		/* ... and COMMON/NOTIFY/ISR/DEVICE are usable */
	bool broken;		/* a request timed out or hit NEEDS_RESET; cleared by setup */
	uint8_t bus, dev, fn;
	uint16_t vendor, device;
	uint8_t revision;
	uint64_t bar_addr[6], bar_size[6];
	enum vpci_bar_type bar_type[6];
	bool bar_assigned[6];	/* we assigned it (firmware left it 0) */
	struct vpci_cap caps[VPCI_NCAPS];
	uint32_t notify_mult;
	uint8_t msix_cap;	/* config offset of the MSI-X cap, 0 = none */
	uint16_t msix_table_size;
	volatile uint8_t *common, *isr, *devcfg, *notify;
	/* queue 0 */
	uint16_t qmax, qsize, notify_off;
	volatile uint16_t *notify_addr;
	uint16_t avail_idx;	/* avail->idx as last published */
	uint16_t used_seen;	/* used->idx consumed so far */
};

/* Result of waiting for the device. */
enum vpci_rc {
	VPCI_DONE = 0,		/* a used element arrived */
	VPCI_TIMEOUT,		/* nothing within vpci_timeout_cycles */
	VPCI_NEEDS_RESET,	/* device_status got DEVICE_NEEDS_RESET while waiting */
	VPCI_BAD_USED,		/* used element for the wrong head, or wrong len */
	VPCI_BROKEN,		/* not sent: the queue is already broken */
};

struct vpci_used {
	uint32_t id, len;
};

/* Spin bound for every wait (rdtsc cycles; set from vmem_timeout=). */
extern uint64_t vpci_timeout_cycles;

/* Find vendor:device on bus 0 (only in `slot` when slot >= 0), size and
 * (if unassigned) assign its BARs, walk the capabilities, enable memory
 * decode + bus mastering, identity-map the BARs.  Returns d->found; d->ok
 * tells whether the transport is usable.  Problems are printed. */
bool vpci_probe(struct vpci_dev *d, uint16_t vendor, uint16_t device, int slot);

uint8_t vpci_status(struct vpci_dev *d);
void vpci_set_status(struct vpci_dev *d, uint8_t s);
/* Write 0 and poll until the status reads 0 (bounded). */
bool vpci_reset(struct vpci_dev *d);
uint64_t vpci_get_features(struct vpci_dev *d);
void vpci_set_features(struct vpci_dev *d, uint64_t f);
/* Add FEATURES_OK to the status; true if it reads back set. */
bool vpci_features_ok(struct vpci_dev *d);
uint16_t vpci_num_queues(struct vpci_dev *d);
/* Queue 0: size min(device max, want, VQ_MAX), zeroed rings in .bss,
 * addresses written, queue_enable = 1.  Clears d->broken. */
bool vpci_setup_queue(struct vpci_dev *d, uint16_t want);
/* Rings for the next vpci_setup_queue(): VPCI_RINGS_SIZE bytes at area (4 KiB aligned),
 * or NULL for the default ones in .bss. */
#define VPCI_RINGS_SIZE 4096
void vpci_place_rings(void *area);
void vpci_driver_ok(struct vpci_dev *d);
void vpci_notify(struct vpci_dev *d);
/* Reading ISR clears it (device side). */
uint8_t vpci_isr(struct vpci_dev *d);

/* Device-specific configuration (64-bit fields as two 32-bit reads). */
uint8_t vpci_cfg_generation(struct vpci_dev *d);
uint16_t vpci_cfg16(struct vpci_dev *d, unsigned off);
uint32_t vpci_cfg32(struct vpci_dev *d, unsigned off);
uint64_t vpci_cfg64(struct vpci_dev *d, unsigned off);

/* Raw queue access for tests: descriptor i of queue 0 (i < VQ_MAX). */
void vpci_set_desc(struct vpci_dev *d, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
		   uint16_t next);
/* Put `head` in the next avail slot(s), advance avail->idx by `step` (1 for
 * a normal request; more builds an over-long jump, every skipped slot also
 * holding `head`), notify, and wait for one used element. */
enum vpci_rc vpci_submit(struct vpci_dev *d, uint16_t head, uint16_t step, struct vpci_used *u);
/* A guest that keeps its queue full: puts `head` in every slot the device has used since
 * the last call and notifies; returns how many it added. vpci_drained: all used. */
int vpci_refill(struct vpci_dev *d, uint16_t head);
bool vpci_drained(struct vpci_dev *d);
/* The normal case: descriptor 0 = out (device-readable) -> descriptor 1 =
 * in (device-writable); checks that the used element names head 0. */
enum vpci_rc vpci_request(struct vpci_dev *d, const void *out, uint32_t out_len, void *in,
			  uint32_t in_len, struct vpci_used *u);

const char *vpci_rc_name(enum vpci_rc rc);

/* Full barrier, ordering RAM and device accesses (io.h). */
static inline void vpci_mb(void)
{
	tg_mb();
}

#endif
