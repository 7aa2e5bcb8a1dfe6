/*
 * The virtio-pci transport around its common configuration structure
 * (virtio_pci_common.c): set-up, queue notifications and interrupts, the
 * ISR, device config and notify regions, the PCI config hooks and MSI-X.
 */
#include "devices/virtio_pci.h"

#include <inttypes.h>
#include <errno.h>
#include <stdatomic.h>
#include <linux/kvm.h>
#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>
#include <stddef.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "devices/virtio_pci_internal.h"
#include "util/event_loop.h"
#include "util/log.h"
#include "util/util.h"

#define CLASS_OTHER 0xff0000 /* QEMU's class for virtio-mem-pci */
#define SUBSYSTEM_ID 0x1100
#define MSIX_VECTORS 2 /* one per queue plus config is all Linux asks of virtio-mem */
#define ISR_QUEUE 1
#define ISR_CONFIG 2

/* Transport features Tide implements for every device. */
#define TRANSPORT_FEATURES \
	(VIRTIO_FEATURE(VIRTIO_F_VERSION_1) | VIRTIO_FEATURE(VIRTIO_RING_F_INDIRECT_DESC))

static bool has_status(const struct virtio_pci *vp, uint8_t bits)
{
	return (vp->status & bits) == bits;
}

void virtio_pci_lock(struct virtio_pci *vp)
{
	pthread_mutex_lock(&vp->lock);
}

static void send_config_interrupt(struct virtio_pci *vp);

void virtio_pci_unlock(struct virtio_pci *vp)
{
	pthread_mutex_unlock(&vp->lock);
	/* A config interrupt posted while the lock was held: whoever lets go raises it. */
	atomic_thread_fence(memory_order_seq_cst);
	while (atomic_load(&vp->config_change_pending) && pthread_mutex_trylock(&vp->lock) == 0) {
		if (atomic_exchange(&vp->config_change_pending, false))
			send_config_interrupt(vp);
		pthread_mutex_unlock(&vp->lock);
		atomic_thread_fence(memory_order_seq_cst);
	}
}

/* ---- interrupts ---- */

/* PCI Bus Master Enable: without it the device must not touch guest memory (Linux clears
 * it before kexec so the next kernel's memory is left alone). */
static bool bus_master_enabled(struct virtio_pci *vp)
{
	return pci_config_get(&vp->pci, PCI_COMMAND, 2) & PCI_COMMAND_MASTER;
}

static void raise_intx(struct virtio_pci *vp, uint8_t isr_bit)
{
	vp->isr |= isr_bit;
	pci_set_irq(&vp->pci, 1);
}

static void send_config_interrupt(struct virtio_pci *vp)
{
	if (!has_status(vp, VIRTIO_CONFIG_S_DRIVER_OK))
		return;
	if (msix_enabled(&vp->msix)) {
		/* An MSI-X message is a memory write: none without Bus Master (QEMU drops it). */
		if (vp->config_vector != MSIX_NO_VECTOR && bus_master_enabled(vp))
			msix_notify(&vp->msix, vp->config_vector);
	} else {
		raise_intx(vp, ISR_CONFIG);
	}
}

static void send_queue_interrupt(struct virtio_pci *vp, struct virtio_pci_queue *q)
{
	if (msix_enabled(&vp->msix)) {
		if (q->msix_vector != MSIX_NO_VECTOR)
			msix_notify(&vp->msix, q->msix_vector);
	} else {
		raise_intx(vp, ISR_QUEUE);
	}
}

void virtio_pci_config_updated(struct virtio_pci *vp)
{
	vp->generation++;
}

void virtio_pci_config_changed(struct virtio_pci *vp)
{
	/* A new generation tells a driver in the middle of a multi-read to read again. */
	vp->generation++;
	send_config_interrupt(vp);
}

void virtio_pci_config_interrupt_async(struct virtio_pci *vp)
{
	atomic_store(&vp->config_change_pending, true);
	atomic_thread_fence(memory_order_seq_cst);
	if (pthread_mutex_trylock(&vp->lock) == 0)
		virtio_pci_unlock(vp); /* raises it */
}

/* The driver broke the transport rules: DEVICE_NEEDS_RESET, never a crash (spec §2.1.2). */
void virtio_pci_set_needs_reset(struct virtio_pci *vp, const char *why)
{
	/* A driver may break the rules and reset in a loop: a few lines a second at most. */
	log_limited(&vp->log_limit, LOG_WARN, "%s: device needs reset: %s", vp->name, why);
	vp->status |= VIRTIO_CONFIG_S_NEEDS_RESET;
	vp->generation++;
	send_config_interrupt(vp);
}

/* ---- queues ---- */

static void process_queue_locked(struct virtio_pci *vp, struct virtio_pci_queue *q)
{
	struct error err;
	int done;

	/* Work found while Bus Master is off waits until it is set again (config_write_hook). */
	if (!has_status(vp, VIRTIO_CONFIG_S_DRIVER_OK) ||
	    (vp->status & VIRTIO_CONFIG_S_NEEDS_RESET) || !q->enabled || !bus_master_enabled(vp))
		return;
	done = vp->ops->process_queue(vp->dev, q->index, &q->vq, vp->requests_per_notify, &err);
	if (done < 0)
		virtio_pci_set_needs_reset(vp, err.msg);
	else if (done > 0 && virtqueue_wants_interrupt(&q->vq))
		send_queue_interrupt(vp, q);
	/* A full batch: the rest is served after the loop's other work (other queues, devices). */
	if (done == vp->requests_per_notify)
		virtio_pci_kick_queue_locked(vp, q);
}

/* The device's loop thread (env.loop): the queue's eventfd fired (through KVM's ioeventfd
 * or a notify write). */
static void queue_notified(void *opaque)
{
	struct virtio_pci_queue *q = opaque;
	uint64_t count;

	if (read(q->notify_fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		log_warn("%s: queue %u eventfd: %s", q->vp->name, q->index, strerror(errno));
	virtio_pci_lock(q->vp);
	process_queue_locked(q->vp, q);
	virtio_pci_unlock(q->vp);
}

/* Hands a queue to its loop thread (or processes it here when there is none; lock held). */
void virtio_pci_kick_queue_locked(struct virtio_pci *vp, struct virtio_pci_queue *q)
{
	uint64_t one = 1;

	if (!vp->env.loop) {
		process_queue_locked(vp, q);
		return;
	}
	if (write(q->notify_fd, &one, sizeof(one)) != sizeof(one))
		log_warn("%s: queue %u eventfd: %s", vp->name, q->index, strerror(errno));
}

/* ---- the other regions of BAR0 ---- */

static void isr_access(struct virtio_pci *vp, uint64_t offset, uint8_t *data, unsigned len,
		       bool is_write)
{
	if (is_write)
		return;
	memset(data, 0, len);
	if (offset == 0) {
		/* Reading acknowledges: the bits clear and INTx drops. */
		data[0] = vp->isr;
		vp->isr = 0;
		pci_set_irq(&vp->pci, 0);
	}
}

static void device_cfg_access(struct virtio_pci *vp, uint64_t offset, uint8_t *data, unsigned len,
			      bool is_write)
{
	if (is_write)
		return; /* virtio-mem's config is read-only; a write changes nothing */
	memset(data, 0, len);
	if (offset < vp->ops->config_size && len <= vp->ops->config_size - offset)
		vp->ops->read_config(vp->dev, (unsigned)offset, data, len);
}

static void notify_access(struct virtio_pci *vp, uint64_t offset, uint8_t *data, unsigned len,
			  bool is_write)
{
	uint64_t index = offset / VIRTIO_PCI_NOTIFY_MULTIPLIER;

	/* Normally KVM's ioeventfd takes these writes; other widths end up here. */
	if (!is_write) {
		memset(data, 0, len);
		return;
	}
	if (index < vp->nr_queues)
		virtio_pci_kick_queue_locked(vp, &vp->queues[index]);
}

static const struct bar0_region {
	uint64_t offset, size;
	void (*access)(struct virtio_pci *vp, uint64_t offset, uint8_t *data, unsigned len,
		       bool is_write);
} bar0_regions[] = {
	{ VIRTIO_PCI_COMMON_OFFSET, 0x1000, virtio_pci_common_access },
	{ VIRTIO_PCI_ISR_OFFSET, 0x1000, isr_access },
	{ VIRTIO_PCI_DEVICE_OFFSET, 0x1000, device_cfg_access },
	{ VIRTIO_PCI_NOTIFY_OFFSET, 0x1000, notify_access },
};

void virtio_pci_bar0_access(void *opaque, uint64_t offset, uint8_t *data, unsigned len,
			    bool is_write)
{
	struct virtio_pci *vp = opaque;

	for (size_t i = 0; i < ARRAY_SIZE(bar0_regions); i++) {
		const struct bar0_region *r = &bar0_regions[i];

		if (offset >= r->offset && offset - r->offset < r->size) {
			virtio_pci_lock(vp);
			r->access(vp, offset - r->offset, data, len, is_write);
			virtio_pci_unlock(vp);
			return;
		}
	}
	if (!is_write)
		memset(data, 0, len);
}

void virtio_pci_bar2_access(void *opaque, uint64_t offset, uint8_t *data, unsigned len,
			    bool is_write)
{
	struct virtio_pci *vp = opaque;
	bool handled;

	virtio_pci_lock(vp);
	handled = msix_bar_access(&vp->msix, offset, data, len, is_write);
	virtio_pci_unlock(vp);
	if (!handled && !is_write)
		memset(data, 0, len);
}

/* ---- PCI config hooks ---- */

#define PCI_CFG_BAR 4
#define PCI_CFG_OFFSET 8
#define PCI_CFG_LENGTH 12
#define PCI_CFG_DATA 16

/* VIRTIO_PCI_CAP_PCI_CFG: a window into the BARs through config space (spec §4.1.4.9). */
static void pci_cfg_window(struct virtio_pci *vp, unsigned offset, unsigned len, uint32_t *value,
			   bool is_write)
{
	unsigned cap = vp->pci_cfg_cap;
	uint32_t bar = pci_config_get(&vp->pci, cap + PCI_CFG_BAR, 1);
	uint32_t bar_offset = pci_config_get(&vp->pci, cap + PCI_CFG_OFFSET, 4);
	uint32_t length = pci_config_get(&vp->pci, cap + PCI_CFG_LENGTH, 4);
	uint8_t data[4] = { 0 };

	if (offset != cap + PCI_CFG_DATA || (length != 1 && length != 2 && length != 4) ||
	    length > len || bar_offset % length)
		return;
	if (is_write)
		memcpy(data, value, length);
	if (bar == 0 && bar_offset < VIRTIO_PCI_BAR0_SIZE)
		virtio_pci_bar0_access(vp, bar_offset, data, length, is_write);
	else if (bar == VIRTIO_PCI_MSIX_BAR && bar_offset < VIRTIO_PCI_BAR2_SIZE)
		virtio_pci_bar2_access(vp, bar_offset, data, length, is_write);
	if (!is_write) {
		*value = 0;
		memcpy(value, data, length);
	}
}

static void config_read_hook(struct pci_device *dev, unsigned offset, unsigned len,
			     uint32_t *value)
{
	pci_cfg_window(dev->opaque, offset, len, value, false);
}

static void config_write_hook(struct pci_device *dev, unsigned offset, unsigned len,
			      uint32_t value)
{
	struct virtio_pci *vp = dev->opaque;

	pci_cfg_window(vp, offset, len, &value, true);
	if (offset < vp->msix.cap + PCI_CAP_MSIX_SIZEOF && offset + len > vp->msix.cap) {
		virtio_pci_lock(vp);
		msix_config_written(&vp->msix);
		virtio_pci_unlock(vp);
	}
	if (offset < PCI_COMMAND + 2 && offset + len > PCI_COMMAND) {
		/*
		 * The lock waits out a request being served: once a write that clears Bus
		 * Master returns, the device is done with guest memory. One that sets it
		 * serves what waited meanwhile.
		 */
		virtio_pci_lock(vp);
		for (unsigned i = 0; i < vp->nr_queues && bus_master_enabled(vp); i++)
			if (vp->queues[i].enabled)
				virtio_pci_kick_queue_locked(vp, &vp->queues[i]);
		virtio_pci_unlock(vp);
	}
}

uint64_t virtio_pci_queue_notify_address(struct virtio_pci *vp, unsigned i)
{
	return i < vp->nr_queues ? atomic_load(&vp->queues[i].ioeventfd_addr) : 0;
}

/* Moves each queue's ioeventfd with BAR0 (called under the bus lock). */
static void bar_map_hook(struct pci_device *dev, unsigned bar, uint64_t addr, bool mapped)
{
	struct virtio_pci *vp = dev->opaque;

	if (bar != 0 || vp->env.vm_fd < 0)
		return;
	for (unsigned i = 0; i < vp->nr_queues; i++) {
		struct virtio_pci_queue *q = &vp->queues[i];
		struct kvm_ioeventfd req = {
			.len = 2,
			.fd = q->notify_fd,
		};

		if (!mapped && q->ioeventfd_addr) {
			req.addr = q->ioeventfd_addr;
			req.flags = KVM_IOEVENTFD_FLAG_DEASSIGN;
			if (ioctl(vp->env.vm_fd, KVM_IOEVENTFD, &req) < 0)
				log_warn("%s: removing the ioeventfd of queue %u: %s", vp->name, i,
					 strerror(errno));
			q->ioeventfd_addr = 0;
		} else if (mapped) {
			req.addr = addr + VIRTIO_PCI_NOTIFY_OFFSET + i * VIRTIO_PCI_NOTIFY_MULTIPLIER;
			/* Without it, notifications still work through notify_access(). */
			if (ioctl(vp->env.vm_fd, KVM_IOEVENTFD, &req) < 0) {
				log_warn("%s: ioeventfd for queue %u: %s", vp->name, i,
					 strerror(errno));
			} else {
				q->ioeventfd_addr = req.addr;
				log_info("%s: queue %u notifications at 0x%" PRIx64, vp->name, i,
					 (uint64_t)req.addr);
			}
		}
	}
}

/* ---- set-up ---- */

static int add_virtio_cap(struct virtio_pci *vp, uint8_t cfg_type, unsigned size, uint8_t bar,
			  uint32_t offset, uint32_t length, struct error *err)
{
	int cap = pci_add_capability(&vp->pci, PCI_CAP_ID_VNDR, size);

	if (cap < 0)
		return error_set(err, "%s: no room for virtio capability %u", vp->name, cfg_type);
	pci_config_set(&vp->pci, (unsigned)cap + 2, 1, size); /* cap_len */
	pci_config_set(&vp->pci, (unsigned)cap + 3, 1, cfg_type);
	pci_config_set(&vp->pci, (unsigned)cap + PCI_CFG_BAR, 1, bar);
	pci_config_set(&vp->pci, (unsigned)cap + PCI_CFG_OFFSET, 4, offset);
	pci_config_set(&vp->pci, (unsigned)cap + PCI_CFG_LENGTH, 4, length);
	return cap;
}

static int add_capabilities(struct virtio_pci *vp, struct error *err)
{
	int cap;

	if (add_virtio_cap(vp, VIRTIO_PCI_CAP_COMMON_CFG, 16, 0, VIRTIO_PCI_COMMON_OFFSET,
			   VIRTIO_PCI_COMMON_CFG_SIZE, err) < 0)
		return -1;
	cap = add_virtio_cap(vp, VIRTIO_PCI_CAP_NOTIFY_CFG, 20, 0, VIRTIO_PCI_NOTIFY_OFFSET,
			     vp->nr_queues * VIRTIO_PCI_NOTIFY_MULTIPLIER, err);
	if (cap < 0)
		return -1;
	pci_config_set(&vp->pci, (unsigned)cap + 16, 4, VIRTIO_PCI_NOTIFY_MULTIPLIER);
	if (add_virtio_cap(vp, VIRTIO_PCI_CAP_ISR_CFG, 16, 0, VIRTIO_PCI_ISR_OFFSET, 1, err) < 0 ||
	    add_virtio_cap(vp, VIRTIO_PCI_CAP_DEVICE_CFG, 16, 0, VIRTIO_PCI_DEVICE_OFFSET,
			   vp->ops->config_size, err) < 0)
		return -1;
	cap = add_virtio_cap(vp, VIRTIO_PCI_CAP_PCI_CFG, 20, 0, 0, 0, err);
	if (cap < 0)
		return -1;
	vp->pci_cfg_cap = (unsigned)cap;
	/* The driver picks the BAR, offset and length of the window, then moves data through it. */
	pci_config_set_wmask(&vp->pci, vp->pci_cfg_cap + PCI_CFG_BAR, 1, 0xff);
	pci_config_set_wmask(&vp->pci, vp->pci_cfg_cap + PCI_CFG_OFFSET, 4, 0xffffffff);
	pci_config_set_wmask(&vp->pci, vp->pci_cfg_cap + PCI_CFG_LENGTH, 4, 0xffffffff);
	pci_config_set_wmask(&vp->pci, vp->pci_cfg_cap + PCI_CFG_DATA, 4, 0xffffffff);
	return 0;
}

static int setup_msix(struct virtio_pci *vp, struct error *err)
{
	const struct msix_ops *ops = vp->env.msix_ops;
	void *opaque = vp->env.msix_opaque;

	if (vp->env.vm_fd >= 0) {
		if (msix_kvm_init(&vp->msix_kvm, vp->env.routes, vp->env.vm_fd, &vp->pci, MSIX_VECTORS,
				  err))
			return -1;
		ops = &msix_kvm_ops;
		opaque = &vp->msix_kvm;
	}
	return msix_init(&vp->msix, &vp->pci, MSIX_VECTORS, VIRTIO_PCI_MSIX_BAR, 0,
			 VIRTIO_PCI_MSIX_PBA_OFFSET, ops, opaque, err);
}

static int setup_queues(struct virtio_pci *vp, uint16_t queue_size, struct error *err)
{
	for (unsigned i = 0; i < vp->nr_queues; i++) {
		struct virtio_pci_queue *q = &vp->queues[i];

		q->vp = vp;
		q->index = i;
		q->max_size = queue_size;
		virtio_pci_queue_reset(q);
		q->notify_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (q->notify_fd < 0)
			return error_set(err, "%s: eventfd: %s", vp->name, strerror(errno));
		if (vp->env.loop) {
			q->watch = event_loop_add_fd(vp->env.loop, q->notify_fd, queue_notified, q,
						     err);
			if (!q->watch)
				return -1;
		}
	}
	return 0;
}

int virtio_pci_init(struct virtio_pci *vp, const char *name, const struct virtio_device_ops *ops,
		    void *dev, unsigned nr_queues, uint16_t queue_size,
		    const struct virtio_pci_env *env, struct error *err)
{
	memset(vp, 0, sizeof(*vp));
	for (unsigned i = 0; i < VIRTIO_PCI_MAX_QUEUES; i++)
		vp->queues[i].notify_fd = -1;
	pthread_mutex_init(&vp->lock, NULL);
	vp->name = name;
	vp->requests_per_notify = VIRTIO_PCI_REQUESTS_PER_NOTIFY;
	vp->ops = ops;
	vp->dev = dev;
	vp->env = *env;
	vp->msix_kvm.nr_vectors = 0;
	if (nr_queues == 0 || nr_queues > VIRTIO_PCI_MAX_QUEUES || !queue_size ||
	    !is_power_of_2(queue_size))
		return error_set(err, "%s: bad queue geometry", name);
	vp->nr_queues = nr_queues;
	vp->offered = ops->features(dev) | TRANSPORT_FEATURES;
	vp->config_vector = MSIX_NO_VECTOR;

	pci_device_init(&vp->pci, name, VIRTIO_PCI_VENDOR, VIRTIO_PCI_DEVICE_BASE + ops->device_id,
			CLASS_OTHER, 1);
	pci_set_subsystem(&vp->pci, VIRTIO_PCI_VENDOR, SUBSYSTEM_ID);
	pci_use_intx(&vp->pci);
	vp->pci.opaque = vp;
	vp->pci.config_read = config_read_hook;
	vp->pci.config_write = config_write_hook;
	vp->pci.bar_map = bar_map_hook;
	if (pci_declare_bar(&vp->pci, 0, VIRTIO_PCI_BAR0_SIZE, true, virtio_pci_bar0_access, vp,
			    err) ||
	    pci_declare_bar(&vp->pci, VIRTIO_PCI_MSIX_BAR, VIRTIO_PCI_BAR2_SIZE, false,
			    virtio_pci_bar2_access, vp, err) ||
	    add_capabilities(vp, err) || setup_msix(vp, err) || setup_queues(vp, queue_size, err)) {
		virtio_pci_destroy(vp);
		return -1;
	}
	return 0;
}

void virtio_pci_stop_queues(struct virtio_pci *vp)
{
	for (unsigned i = 0; i < vp->nr_queues; i++) {
		struct virtio_pci_queue *q = &vp->queues[i];

		if (q->watch)
			event_loop_remove(vp->env.loop, q->watch);
		q->watch = NULL;
	}
}

void virtio_pci_destroy(struct virtio_pci *vp)
{
	virtio_pci_stop_queues(vp);
	for (unsigned i = 0; i < vp->nr_queues; i++) {
		struct virtio_pci_queue *q = &vp->queues[i];

		if (q->notify_fd >= 0)
			close(q->notify_fd);
		q->notify_fd = -1;
	}
	if (vp->env.vm_fd >= 0)
		msix_kvm_destroy(&vp->msix_kvm);
	if (vp->pci.name)
		pci_device_destroy(&vp->pci);
	pthread_mutex_destroy(&vp->lock);
}
