/*
 * The virtio-pci common configuration structure (virtio 1.x §4.1.4.3): what
 * the driver reads there, and what each field it writes does (feature
 * negotiation, the status state machine, queue set-up). Interrupts, queue
 * processing and the rest of BAR0 are virtio_pci.c's.
 */
#include "devices/virtio_pci.h"

#include <inttypes.h>
#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>
#include <stddef.h>
#include <string.h>

#include "devices/virtio_pci_internal.h"
#include "util/log.h"
#include "util/util.h"

/* ---- reset ---- */

void virtio_pci_queue_reset(struct virtio_pci_queue *q)
{
	q->size = q->max_size;
	q->msix_vector = MSIX_NO_VECTOR;
	q->enabled = false;
	q->desc = q->driver = q->device = 0;
	memset(&q->vq, 0, sizeof(q->vq));
}

static struct virtio_pci_queue *selected_queue(struct virtio_pci *vp)
{
	return vp->queue_select < vp->nr_queues ? &vp->queues[vp->queue_select] : NULL;
}

static void device_reset(struct virtio_pci *vp)
{
	vp->ops->reset(vp->dev);
	vp->status = 0;
	vp->accepted = 0;
	vp->device_feature_select = vp->driver_feature_select = 0;
	vp->config_vector = MSIX_NO_VECTOR;
	vp->queue_select = 0;
	vp->isr = 0;
	pci_set_irq(&vp->pci, 0);
	for (unsigned i = 0; i < vp->nr_queues; i++)
		virtio_pci_queue_reset(&vp->queues[i]);
}

/* ---- what a write to each field does ---- */

static bool features_acceptable(struct virtio_pci *vp)
{
	if (vp->accepted & ~vp->offered) {
		log_info("%s: driver accepted features 0x%" PRIx64 " that were not offered",
			 vp->name, vp->accepted & ~vp->offered);
		return false;
	}
	if (!(vp->accepted & VIRTIO_FEATURE(VIRTIO_F_VERSION_1))) {
		log_info("%s: driver did not accept VIRTIO_F_VERSION_1", vp->name);
		return false;
	}
	return vp->ops->features_ok(vp->dev, vp->accepted);
}

static void set_status(struct virtio_pci *vp, uint32_t value, unsigned arg)
{
	uint8_t old = vp->status, new = (uint8_t)value;

	(void)arg;
	if (new == 0) {
		device_reset(vp);
		return;
	}
	if ((new & VIRTIO_CONFIG_S_FEATURES_OK) && !(old & VIRTIO_CONFIG_S_FEATURES_OK) &&
	    !features_acceptable(vp))
		new &= (uint8_t)~VIRTIO_CONFIG_S_FEATURES_OK; /* the driver sees it did not stick */
	/* Only the device sets NEEDS_RESET, and only a reset clears it. */
	new = (uint8_t)((new & ~VIRTIO_CONFIG_S_NEEDS_RESET) | (old & VIRTIO_CONFIG_S_NEEDS_RESET));
	vp->status = new;
	if ((new & VIRTIO_CONFIG_S_DRIVER_OK) && !(old & VIRTIO_CONFIG_S_DRIVER_OK))
		for (unsigned i = 0; i < vp->nr_queues; i++)
			if (vp->queues[i].enabled)
				virtio_pci_kick_queue_locked(vp, &vp->queues[i]);
}

static void set_device_feature_select(struct virtio_pci *vp, uint32_t value, unsigned arg)
{
	(void)arg;
	vp->device_feature_select = value;
}

static void set_driver_feature_select(struct virtio_pci *vp, uint32_t value, unsigned arg)
{
	(void)arg;
	vp->driver_feature_select = value;
}

static void set_driver_feature(struct virtio_pci *vp, uint32_t value, unsigned arg)
{
	unsigned shift = 32 * vp->driver_feature_select;

	(void)arg;
	/* Fixed once FEATURES_OK is set; windows beyond 64 bits hold nothing we offer. */
	if ((vp->status & VIRTIO_CONFIG_S_FEATURES_OK) || vp->driver_feature_select > 1)
		return;
	vp->accepted = (vp->accepted & ~(0xffffffffULL << shift)) | ((uint64_t)value << shift);
}

/* Reads back 0xFFFF for a vector the device cannot use, which is how drivers learn it failed. */
static uint16_t checked_vector(struct virtio_pci *vp, uint32_t value)
{
	return value < vp->msix.nr_vectors ? (uint16_t)value : MSIX_NO_VECTOR;
}

static void set_config_vector(struct virtio_pci *vp, uint32_t value, unsigned arg)
{
	(void)arg;
	vp->config_vector = checked_vector(vp, value);
}

static void set_queue_select(struct virtio_pci *vp, uint32_t value, unsigned arg)
{
	(void)arg;
	vp->queue_select = (uint16_t)value;
}

static void set_queue_size(struct virtio_pci *vp, uint32_t value, unsigned arg)
{
	struct virtio_pci_queue *q = selected_queue(vp);

	(void)arg;
	if (q && !q->enabled)
		q->size = (uint16_t)value; /* checked when the queue is enabled */
}

static void set_queue_vector(struct virtio_pci *vp, uint32_t value, unsigned arg)
{
	struct virtio_pci_queue *q = selected_queue(vp);

	(void)arg;
	if (q)
		q->msix_vector = checked_vector(vp, value);
}

static void set_queue_enable(struct virtio_pci *vp, uint32_t value, unsigned arg)
{
	struct virtio_pci_queue *q = selected_queue(vp);
	struct error err;

	(void)arg;
	if (!q || q->enabled || value != 1)
		return; /* drivers never write 0 (spec §4.1.4.3.2) */
	if (q->size > q->max_size) {
		virtio_pci_set_needs_reset(vp, "queue size above the maximum");
		return;
	}
	if (virtqueue_enable(&q->vq, vp->env.mem, q->size, q->desc, q->driver, q->device,
			     virtio_pci_has_feature(vp, VIRTIO_RING_F_INDIRECT_DESC), &err)) {
		virtio_pci_set_needs_reset(vp, err.msg);
		return;
	}
	q->enabled = true;
}

enum ring_part { RING_DESC, RING_DRIVER, RING_DEVICE };

/* arg: ring part * 2 + half (0 low, 1 high). */
static void set_queue_address(struct virtio_pci *vp, uint32_t value, unsigned arg)
{
	struct virtio_pci_queue *q = selected_queue(vp);
	uint64_t *addr, shift = 32 * (arg & 1);

	if (!q || q->enabled)
		return;
	addr = (uint64_t *[]){ &q->desc, &q->driver, &q->device }[arg / 2];
	*addr = (*addr & ~(0xffffffffULL << shift)) | ((uint64_t)value << shift);
}

/* ---- the structure ---- */

#define COMMON(field) offsetof(struct virtio_pci_common_cfg, field)
#define COMMON_SIZE(field) sizeof(((struct virtio_pci_common_cfg *)0)->field)

/* The fields a driver may write, and what a write does. */
static const struct common_field {
	unsigned offset, size;
	void (*set)(struct virtio_pci *vp, uint32_t value, unsigned arg);
	unsigned arg;
} writable_fields[] = {
#define FIELD(name, fn, arg) { COMMON(name), COMMON_SIZE(name), fn, arg }
	FIELD(device_feature_select, set_device_feature_select, 0),
	FIELD(guest_feature_select, set_driver_feature_select, 0),
	FIELD(guest_feature, set_driver_feature, 0),
	FIELD(msix_config, set_config_vector, 0),
	FIELD(device_status, set_status, 0),
	FIELD(queue_size, set_queue_size, 0),
	FIELD(queue_msix_vector, set_queue_vector, 0),
	FIELD(queue_enable, set_queue_enable, 0),
	FIELD(queue_desc_lo, set_queue_address, RING_DESC * 2),
	FIELD(queue_desc_hi, set_queue_address, RING_DESC * 2 + 1),
	FIELD(queue_avail_lo, set_queue_address, RING_DRIVER * 2),
	FIELD(queue_avail_hi, set_queue_address, RING_DRIVER * 2 + 1),
	FIELD(queue_used_lo, set_queue_address, RING_DEVICE * 2),
	FIELD(queue_used_hi, set_queue_address, RING_DEVICE * 2 + 1),
	/* Last: a wide write that also covers queue fields meant the queue selected before it. */
	FIELD(queue_select, set_queue_select, 0),
#undef FIELD
};

/* The common configuration structure as the driver would read it now. */
static void common_snapshot(struct virtio_pci *vp, uint8_t out[VIRTIO_PCI_COMMON_CFG_SIZE])
{
	struct virtio_pci_common_cfg c = { 0 };
	struct virtio_pci_queue *q = selected_queue(vp);

	c.device_feature_select = vp->device_feature_select;
	if (vp->device_feature_select < 2)
		c.device_feature = (uint32_t)(vp->offered >> (32 * vp->device_feature_select));
	c.guest_feature_select = vp->driver_feature_select;
	if (vp->driver_feature_select < 2)
		c.guest_feature = (uint32_t)(vp->accepted >> (32 * vp->driver_feature_select));
	c.msix_config = vp->config_vector;
	c.num_queues = (uint16_t)vp->nr_queues;
	c.device_status = vp->status;
	c.config_generation = vp->generation;
	c.queue_select = vp->queue_select;
	if (q) {
		c.queue_size = q->size;
		c.queue_msix_vector = q->msix_vector;
		c.queue_enable = q->enabled;
		c.queue_notify_off = (uint16_t)q->index;
		c.queue_desc_lo = (uint32_t)q->desc;
		c.queue_desc_hi = (uint32_t)(q->desc >> 32);
		c.queue_avail_lo = (uint32_t)q->driver;
		c.queue_avail_hi = (uint32_t)(q->driver >> 32);
		c.queue_used_lo = (uint32_t)q->device;
		c.queue_used_hi = (uint32_t)(q->device >> 32);
	}
	memset(out, 0, VIRTIO_PCI_COMMON_CFG_SIZE);
	memcpy(out, &c, sizeof(c));
}

void virtio_pci_common_access(struct virtio_pci *vp, uint64_t offset, uint8_t *data,
			      unsigned len, bool is_write)
{
	uint8_t cfg[VIRTIO_PCI_COMMON_CFG_SIZE];

	if (offset >= VIRTIO_PCI_COMMON_CFG_SIZE || len > VIRTIO_PCI_COMMON_CFG_SIZE - offset) {
		if (!is_write)
			memset(data, 0, len);
		return;
	}
	common_snapshot(vp, cfg);
	if (!is_write) {
		memcpy(data, cfg + offset, len);
		return;
	}
	/* Merge the written bytes, then apply each writable field they touched. */
	memcpy(cfg + offset, data, len);
	for (size_t i = 0; i < ARRAY_SIZE(writable_fields); i++) {
		const struct common_field *f = &writable_fields[i];
		uint32_t value = 0;

		if (f->offset >= offset + len || f->offset + f->size <= offset)
			continue;
		memcpy(&value, cfg + f->offset, f->size);
		f->set(vp, value, f->arg);
	}
}
