/* Tide test guest: minimal polling driver for modern virtio-over-PCI
 * devices (see virtio_pci.h).
 *
 * Everything polls at CPL3.  Without MSI-X enabled the device sets ISR bits
 * and raises INTx, but IF stays 0 and nothing routes it, so the guest never
 * takes an interrupt; it watches the used ring and device_status instead.
 * Every wait is bounded by rdtsc so a dead device gives a failure, not a hang.
 */
#include "io.h"
#include "virtio_pci.h"

#define PCI_COMMAND 0x04
#define PCI_STATUS 0x06
#define PCI_REVISION 0x08
#define PCI_HEADER_TYPE 0x0E
#define PCI_BAR0 0x10
#define PCI_CAP_PTR 0x34
#define PCI_CMD_MEM 0x2
#define PCI_CMD_MASTER 0x4
#define PCI_STATUS_CAP_LIST 0x10
#define PCI_CAP_ID_VNDR 0x09
#define PCI_CAP_ID_MSIX 0x11

/* Common configuration structure offsets (virtio 1.2 §4.1.4.3). */
#define VC_DFSELECT 0x00
#define VC_DF 0x04
#define VC_GFSELECT 0x08
#define VC_GF 0x0C
#define VC_NUMQ 0x12
#define VC_STATUS 0x14
#define VC_GEN 0x15
#define VC_QSELECT 0x16
#define VC_QSIZE 0x18
#define VC_QENABLE 0x1C
#define VC_QNOFF 0x1E
#define VC_QDESC 0x20
#define VC_QAVAIL 0x28
#define VC_QUSED 0x30

/* Fallback window for BARs the firmware left at 0 (per architecture, io.h).
 * Tide pre-assigns BARs and QEMU's firmware assigns them, so this is rarely
 * used. */
#define BAR_WINDOW_START TG_BAR_WINDOW_START
#define BAR_WINDOW_END TG_BAR_WINDOW_END

/* Default wait bound: ~3 s at 2-3 GHz.  The TSC frequency is unknown
 * (CPUID is off limits at CPL3), so this is deliberately generous. */
uint64_t vpci_timeout_cycles = 8000000000ull;

struct vring_avail {
	uint16_t flags, idx, ring[VQ_MAX], used_event;
};

struct vring_used {
	uint16_t flags, idx;
	struct {
		uint32_t id, len;
	} ring[VQ_MAX];
	uint16_t avail_event;
};

/* The rings of queue 0, in .bss (anything above the image may be
 * overwritten by other scenarios).  Alignment: desc 16, avail 2, used 4. */
struct vq_rings {
	struct vring_desc desc[VQ_MAX];
	struct vring_avail avail __attribute__((aligned(64)));
	struct vring_used used __attribute__((aligned(64)));
};
_Static_assert(sizeof(struct vq_rings) <= VPCI_RINGS_SIZE, "VPCI_RINGS_SIZE too small");

static struct vq_rings vq __attribute__((aligned(4096)));

/* Where the next vpci_setup_queue() puts the rings (vpci_place_rings). */
static struct vq_rings *rings = &vq;
static volatile struct vring_desc *vq_desc = vq.desc;
static volatile struct vring_avail *vq_avail = &vq.avail;
static volatile struct vring_used *vq_used = &vq.used;

void vpci_place_rings(void *area)
{
	rings = area ? area : &vq;
	vq_desc = rings->desc;
	vq_avail = &rings->avail;
	vq_used = &rings->used;
}

static uint64_t bar_next = BAR_WINDOW_START;

static uint8_t r8(volatile uint8_t *b, unsigned off)
{
	return mmio_read8(b + off);
}

static uint16_t r16(volatile uint8_t *b, unsigned off)
{
	return mmio_read16(b + off);
}

static uint32_t r32(volatile uint8_t *b, unsigned off)
{
	return mmio_read32(b + off);
}

static void w8(volatile uint8_t *b, unsigned off, uint8_t v)
{
	mmio_write8(b + off, v);
}

static void w16(volatile uint8_t *b, unsigned off, uint16_t v)
{
	mmio_write16(b + off, v);
}

static void w32(volatile uint8_t *b, unsigned off, uint32_t v)
{
	mmio_write32(b + off, v);
}

/* 64-bit common-config fields: two 32-bit halves, low first (§4.1.3). */
static void w64(volatile uint8_t *b, unsigned off, uint64_t v)
{
	w32(b, off, (uint32_t)v);
	w32(b, off + 4, (uint32_t)(v >> 32));
}

static uint64_t lowest_bit(uint64_t v)
{
	return v & (~v + 1);
}

/* Size every BAR (decode off meanwhile, as Linux does) and remember its
 * address and type. */
static void size_bars(struct vpci_dev *d)
{
	uint16_t cmd = pci_read16(d->bus, d->dev, d->fn, PCI_COMMAND);

	pci_write16(d->bus, d->dev, d->fn, PCI_COMMAND, cmd & ~(PCI_CMD_MEM | 1));
	for (unsigned i = 0; i < 6; i++) {
		uint8_t reg = PCI_BAR0 + 4 * i;
		uint32_t orig = pci_read32(d->bus, d->dev, d->fn, reg), sz, hi = 0, sz_hi = 0;

		pci_write32(d->bus, d->dev, d->fn, reg, 0xFFFFFFFFu);
		sz = pci_read32(d->bus, d->dev, d->fn, reg);
		pci_write32(d->bus, d->dev, d->fn, reg, orig);
		if (!sz)
			continue;	/* unimplemented */
		if (orig & 1) {
			d->bar_type[i] = BAR_IO;
			d->bar_addr[i] = orig & ~3u;
			d->bar_size[i] = lowest_bit(sz & ~3u) & 0xFFFF;
			continue;
		}
		if (((orig >> 1) & 3) == 2 && i < 5) {
			hi = pci_read32(d->bus, d->dev, d->fn, reg + 4);
			pci_write32(d->bus, d->dev, d->fn, reg + 4, 0xFFFFFFFFu);
			sz_hi = pci_read32(d->bus, d->dev, d->fn, reg + 4);
			pci_write32(d->bus, d->dev, d->fn, reg + 4, hi);
			d->bar_type[i] = BAR_MEM64;
			d->bar_type[i + 1] = BAR_HIGH_HALF;
		} else {
			d->bar_type[i] = BAR_MEM32;
			sz_hi = 0xFFFFFFFFu;	/* so the size math below stays 32-bit */
		}
		d->bar_addr[i] = ((uint64_t)hi << 32) | (orig & ~0xFu);
		d->bar_size[i] = lowest_bit(((uint64_t)sz_hi << 32) | (sz & ~0xFu));
		if (d->bar_type[i] == BAR_MEM32)
			d->bar_size[i] &= 0xFFFFFFFFull;
		if (d->bar_type[i] == BAR_MEM64)
			i++;
	}
	pci_write16(d->bus, d->dev, d->fn, PCI_COMMAND, cmd);
}

/* Give unassigned memory BARs an address in the 32-bit fallback window. */
static void assign_bars(struct vpci_dev *d)
{
	for (unsigned i = 0; i < 6; i++) {
		uint64_t sz = d->bar_size[i], a;
		uint8_t reg = PCI_BAR0 + 4 * i;

		if ((d->bar_type[i] != BAR_MEM32 && d->bar_type[i] != BAR_MEM64) || !sz ||
		    d->bar_addr[i])
			continue;
		a = (bar_next + sz - 1) & ~(sz - 1);
		if (a + sz > BAR_WINDOW_END) {
			tg_printf("# virtio-pci: no room to assign bar%u (size 0x%llx)\n", i,
				  (unsigned long long)sz);
			continue;
		}
		bar_next = a + sz;
		pci_write32(d->bus, d->dev, d->fn, reg,
			    (uint32_t)a | (pci_read32(d->bus, d->dev, d->fn, reg) & 0xFu));
		if (d->bar_type[i] == BAR_MEM64)
			pci_write32(d->bus, d->dev, d->fn, reg + 4, 0);
		d->bar_addr[i] = a;
		d->bar_assigned[i] = true;
	}
}

/*
 * vpci_bar0=A1,A2,...: the n-th probe moves BAR0 to An before using it, as an
 * OS may (the device must follow, notifications included).
 */
static void move_bar0_if_asked(struct vpci_dev *d)
{
	static unsigned probes;
	const char *list, *end;
	size_t len, n;
	uint64_t a = 0;
	uint16_t cmd;

	list = cmdline_get("vpci_bar0", &len);
	if (!list)
		return;
	end = list + len;
	for (unsigned i = 0; i <= probes; i++) {
		if (list >= end)
			return; /* no address for this probe */
		n = tg_parse_u64(list, (size_t)(end - list), 0, &a);
		if (!n)
			return;
		list += n;
		if (list < end && *list == ',')
			list++;
	}
	probes++;
	if (!a || (d->bar_type[0] != BAR_MEM32 && d->bar_type[0] != BAR_MEM64))
		return;
	cmd = pci_read16(d->bus, d->dev, d->fn, PCI_COMMAND);
	pci_write16(d->bus, d->dev, d->fn, PCI_COMMAND, cmd & (uint16_t)~PCI_CMD_MEM);
	pci_write32(d->bus, d->dev, d->fn, PCI_BAR0,
		    (uint32_t)a | (pci_read32(d->bus, d->dev, d->fn, PCI_BAR0) & 0xFu));
	if (d->bar_type[0] == BAR_MEM64)
		pci_write32(d->bus, d->dev, d->fn, PCI_BAR0 + 4, (uint32_t)(a >> 32));
	pci_write16(d->bus, d->dev, d->fn, PCI_COMMAND, cmd);
	d->bar_addr[0] = a;
	tg_printf("# virtio-pci: bar0 moved to 0x%llx\n", (unsigned long long)a);
}

static void walk_caps(struct vpci_dev *d)
{
	uint8_t ptr;
	unsigned guard = 0;

	if (!(pci_read16(d->bus, d->dev, d->fn, PCI_STATUS) & PCI_STATUS_CAP_LIST)) {
		tg_printf("# virtio-pci: status register has no capability list bit\n");
		return;
	}
	/* 48 caps of 4 bytes fill the 192 bytes of config space after the
	 * header; more means the list loops. */
	for (ptr = pci_read8(d->bus, d->dev, d->fn, PCI_CAP_PTR) & 0xFC; ptr && guard < 48;
	     guard++) {
		uint8_t id = pci_read8(d->bus, d->dev, d->fn, ptr);
		uint8_t next = pci_read8(d->bus, d->dev, d->fn, ptr + 1) & 0xFC;

		if (id == PCI_CAP_ID_VNDR) {
			uint8_t type = pci_read8(d->bus, d->dev, d->fn, ptr + 3);
			uint8_t bar = pci_read8(d->bus, d->dev, d->fn, ptr + 4);

			/* The first cap of each type is the preferred one. */
			if (type >= 1 && type < VPCI_NCAPS && !d->caps[type].present && bar <= 5) {
				struct vpci_cap *c = &d->caps[type];

				c->present = true;
				c->cfg_off = ptr;
				c->bar = bar;
				c->offset = pci_read32(d->bus, d->dev, d->fn, ptr + 8);
				c->length = pci_read32(d->bus, d->dev, d->fn, ptr + 12);
				if (type == VPCI_CAP_NOTIFY)	/* notify_off_multiplier */
					d->notify_mult =
						pci_read32(d->bus, d->dev, d->fn, ptr + 16);
			}
		} else if (id == PCI_CAP_ID_MSIX && !d->msix_cap) {
			d->msix_cap = ptr;
			d->msix_table_size =
				(pci_read16(d->bus, d->dev, d->fn, ptr + 2) & 0x7FF) + 1;
		}
		ptr = next;
	}
}

static const char *const cap_names[VPCI_NCAPS] = {
	"?", "common", "notify", "isr", "device", "pci_cfg",
};

/* MMIO pointer for a capability's structure, NULL if it does not fit in
 * an implemented memory BAR. */
static volatile uint8_t *cap_ptr(struct vpci_dev *d, unsigned type, uint32_t min_len)
{
	struct vpci_cap *c = &d->caps[type];
	uint64_t base, size;

	if (!c->present) {
		tg_printf("# virtio-pci: no %s capability\n", cap_names[type]);
		return NULL;
	}
	if (d->bar_type[c->bar] != BAR_MEM32 && d->bar_type[c->bar] != BAR_MEM64) {
		tg_printf("# virtio-pci: %s cap points at bar%u which is not a memory BAR\n",
			  cap_names[type], c->bar);
		return NULL;
	}
	base = d->bar_addr[c->bar];
	size = d->bar_size[c->bar];
	if (!base || (uint64_t)c->offset + c->length > size || c->length < min_len) {
		tg_printf("# virtio-pci: %s cap bar%u offset=0x%x length=0x%x does not fit "
			  "(bar addr=0x%llx size=0x%llx, need length >= 0x%x)\n",
			  cap_names[type], c->bar, c->offset, c->length, (unsigned long long)base,
			  (unsigned long long)size, min_len);
		return NULL;
	}
	if (!paging_map_identity(base, size)) {
		tg_printf("# virtio-pci: cannot identity-map bar%u at 0x%llx\n", c->bar,
			  (unsigned long long)base);
		return NULL;
	}
	return (volatile uint8_t *)(uintptr_t)(base + c->offset);
}

static bool find_fn(struct vpci_dev *d, uint16_t vendor, uint16_t device, int slot)
{
	for (unsigned dev = 0; dev < 32; dev++) {
		uint32_t id0;
		unsigned nfn;

		if (slot >= 0 && (int)dev != slot)
			continue;
		id0 = pci_read32(0, dev, 0, 0);
		if ((id0 & 0xFFFF) == 0xFFFF || (id0 & 0xFFFF) == 0)
			continue;
		nfn = (pci_read8(0, dev, 0, PCI_HEADER_TYPE) & 0x80) ? 8 : 1;
		for (unsigned fn = 0; fn < nfn; fn++) {
			uint32_t id = fn ? pci_read32(0, dev, fn, 0) : id0;

			if ((id & 0xFFFF) == vendor && (id >> 16) == device) {
				d->bus = 0;
				d->dev = dev;
				d->fn = fn;
				d->vendor = vendor;
				d->device = device;
				return true;
			}
		}
	}
	return false;
}

bool vpci_probe(struct vpci_dev *d, uint16_t vendor, uint16_t device, int slot)
{
	memset(d, 0, sizeof(*d));
	if (!find_fn(d, vendor, device, slot))
		return false;
	d->found = true;
	d->revision = pci_read8(d->bus, d->dev, d->fn, PCI_REVISION);
	size_bars(d);
	move_bar0_if_asked(d);
	assign_bars(d);
	walk_caps(d);
	pci_write16(d->bus, d->dev, d->fn, PCI_COMMAND,
		    pci_read16(d->bus, d->dev, d->fn, PCI_COMMAND) | PCI_CMD_MEM | PCI_CMD_MASTER);

	/* Minimum lengths: common cfg up to queue_device (0x38), ISR 1 byte,
	 * notify 2 bytes (checked per queue later). */
	d->common = cap_ptr(d, VPCI_CAP_COMMON, 0x38);
	d->notify = cap_ptr(d, VPCI_CAP_NOTIFY, 2);
	d->isr = cap_ptr(d, VPCI_CAP_ISR, 1);
	d->devcfg = cap_ptr(d, VPCI_CAP_DEVICE, 1);
	d->ok = d->common && d->notify && d->isr && d->devcfg;
	return true;
}

uint8_t vpci_status(struct vpci_dev *d)
{
	return r8(d->common, VC_STATUS);
}

void vpci_set_status(struct vpci_dev *d, uint8_t s)
{
	w8(d->common, VC_STATUS, s);
}

bool vpci_reset(struct vpci_dev *d)
{
	uint64_t t0 = rdtsc();

	vpci_set_status(d, 0);
	/* The device may finish the reset asynchronously (§4.1.4.3.2). */
	while (vpci_status(d) != 0) {
		if (rdtsc() - t0 > vpci_timeout_cycles) {
			tg_printf("# virtio-pci: status still 0x%x after reset\n", vpci_status(d));
			return false;
		}
		cpu_relax();
	}
	return true;
}

uint64_t vpci_get_features(struct vpci_dev *d)
{
	uint32_t lo, hi;

	w32(d->common, VC_DFSELECT, 0);
	lo = r32(d->common, VC_DF);
	w32(d->common, VC_DFSELECT, 1);
	hi = r32(d->common, VC_DF);
	return ((uint64_t)hi << 32) | lo;
}

void vpci_set_features(struct vpci_dev *d, uint64_t f)
{
	w32(d->common, VC_GFSELECT, 0);
	w32(d->common, VC_GF, (uint32_t)f);
	w32(d->common, VC_GFSELECT, 1);
	w32(d->common, VC_GF, (uint32_t)(f >> 32));
}

bool vpci_features_ok(struct vpci_dev *d)
{
	vpci_set_status(d, vpci_status(d) | VIRTIO_STATUS_FEATURES_OK);
	/* The device keeps the bit only if it accepts the feature set. */
	return vpci_status(d) & VIRTIO_STATUS_FEATURES_OK;
}

uint16_t vpci_num_queues(struct vpci_dev *d)
{
	return r16(d->common, VC_NUMQ);
}

bool vpci_setup_queue(struct vpci_dev *d, uint16_t want)
{
	uint16_t n;
	uint64_t noff;

	w16(d->common, VC_QSELECT, 0);
	d->qmax = r16(d->common, VC_QSIZE);
	if (!d->qmax) {
		tg_printf("# virtio-pci: queue 0 absent (queue_size 0)\n");
		return false;
	}
	n = d->qmax < want ? d->qmax : want;
	if (n > VQ_MAX)
		n = VQ_MAX;
	while (n & (n - 1))	/* split rings need a power of two */
		n &= n - 1;
	d->qsize = n;

	/* Fresh rings: the device starts again from index 0 after a reset. */
	memset(rings, 0, sizeof(*rings));
	vpci_mb();
	d->avail_idx = 0;
	d->used_seen = 0;

	w16(d->common, VC_QSIZE, n);
	w64(d->common, VC_QDESC, (uint64_t)(uintptr_t)vq_desc);
	w64(d->common, VC_QAVAIL, (uint64_t)(uintptr_t)vq_avail);
	w64(d->common, VC_QUSED, (uint64_t)(uintptr_t)vq_used);
	d->notify_off = r16(d->common, VC_QNOFF);
	noff = (uint64_t)d->notify_off * d->notify_mult;
	if (noff + 2 > d->caps[VPCI_CAP_NOTIFY].length) {
		tg_printf("# virtio-pci: notify address off=%u*%u outside the notify cap "
			  "(length 0x%x)\n",
			  d->notify_off, d->notify_mult, d->caps[VPCI_CAP_NOTIFY].length);
		return false;
	}
	d->notify_addr = (volatile uint16_t *)(d->notify + noff);
	w16(d->common, VC_QENABLE, 1);
	d->broken = false;
	return true;
}

void vpci_driver_ok(struct vpci_dev *d)
{
	vpci_set_status(d, vpci_status(d) | VIRTIO_STATUS_DRIVER_OK);
}

void vpci_notify(struct vpci_dev *d)
{
	mmio_write16(d->notify_addr, 0);	/* the queue index, 16-bit write */
}

uint8_t vpci_isr(struct vpci_dev *d)
{
	return r8(d->isr, 0);
}

uint8_t vpci_cfg_generation(struct vpci_dev *d)
{
	return r8(d->common, VC_GEN);
}

uint16_t vpci_cfg16(struct vpci_dev *d, unsigned off)
{
	return r16(d->devcfg, off);
}

uint32_t vpci_cfg32(struct vpci_dev *d, unsigned off)
{
	return r32(d->devcfg, off);
}

uint64_t vpci_cfg64(struct vpci_dev *d, unsigned off)
{
	uint32_t lo = r32(d->devcfg, off);

	return ((uint64_t)r32(d->devcfg, off + 4) << 32) | lo;
}

void vpci_set_desc(struct vpci_dev *d, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
		   uint16_t next)
{
	(void)d;
	vq_desc[i % VQ_MAX].addr = addr;
	vq_desc[i % VQ_MAX].len = len;
	vq_desc[i % VQ_MAX].flags = flags;
	vq_desc[i % VQ_MAX].next = next;
}

/* Poll for the next used element.  device_status is read only every 256
 * spins: each read is a VM exit, and the used ring normally answers first. */
static enum vpci_rc wait_used(struct vpci_dev *d, struct vpci_used *u)
{
	uint64_t t0 = rdtsc();

	for (unsigned spin = 0;; spin++) {
		if (vq_used->idx != d->used_seen) {
			unsigned slot = d->used_seen % d->qsize;

			vpci_mb();	/* read the element only after seeing idx */
			u->id = vq_used->ring[slot].id;
			u->len = vq_used->ring[slot].len;
			d->used_seen++;
			/* Rings in memory the device gave up on (unplugged) read as nothing: all
			 * ones. The device then says it needs a reset. */
			if (u->id >= d->qsize && (vpci_status(d) & VIRTIO_STATUS_NEEDS_RESET)) {
				d->broken = true;
				return VPCI_NEEDS_RESET;
			}
			return VPCI_DONE;
		}
		if ((spin & 255) == 255) {
			if (vpci_status(d) & VIRTIO_STATUS_NEEDS_RESET) {
				d->broken = true;
				return VPCI_NEEDS_RESET;
			}
			if (rdtsc() - t0 > vpci_timeout_cycles) {
				d->broken = true;
				return VPCI_TIMEOUT;
			}
		}
		cpu_relax();
	}
}

enum vpci_rc vpci_submit(struct vpci_dev *d, uint16_t head, uint16_t step, struct vpci_used *u)
{
	u->id = u->len = 0xFFFFFFFFu;
	if (d->broken)
		return VPCI_BROKEN;
	for (uint16_t i = 0; i < step && i < d->qsize; i++)
		vq_avail->ring[(uint16_t)(d->avail_idx + i) % d->qsize] = head;
	vpci_mb();	/* descriptors and ring entries before the index */
	d->avail_idx += step;
	vq_avail->idx = d->avail_idx;
	vpci_mb();	/* the index before the notification */
	vpci_notify(d);
	return wait_used(d, u);
}

int vpci_refill(struct vpci_dev *d, uint16_t head)
{
	uint16_t used = vq_used->idx;
	uint16_t add = (uint16_t)(d->qsize - (uint16_t)(d->avail_idx - used));

	d->used_seen = used;
	if (!add)
		return 0;
	for (uint16_t i = 0; i < add; i++)
		vq_avail->ring[(uint16_t)(d->avail_idx + i) % d->qsize] = head;
	vpci_mb();
	d->avail_idx += add;
	vq_avail->idx = d->avail_idx;
	vpci_mb();
	vpci_notify(d);
	return add;
}

bool vpci_drained(struct vpci_dev *d)
{
	d->used_seen = vq_used->idx;
	return d->used_seen == d->avail_idx;
}

enum vpci_rc vpci_request(struct vpci_dev *d, const void *out, uint32_t out_len, void *in,
			  uint32_t in_len, struct vpci_used *u)
{
	enum vpci_rc rc;

	vpci_set_desc(d, 0, (uint64_t)(uintptr_t)out, out_len, VRING_DESC_F_NEXT, 1);
	vpci_set_desc(d, 1, (uint64_t)(uintptr_t)in, in_len, VRING_DESC_F_WRITE, 0);
	rc = vpci_submit(d, 0, 1, u);
	if (rc == VPCI_DONE && u->id != 0) {
		tg_printf("# virtio-pci: used element id=%u, expected head 0\n", u->id);
		d->broken = true;
		return VPCI_BAD_USED;
	}
	return rc;
}

const char *vpci_rc_name(enum vpci_rc rc)
{
	switch (rc) {
	case VPCI_DONE:
		return "DONE";
	case VPCI_TIMEOUT:
		return "TIMEOUT";
	case VPCI_NEEDS_RESET:
		return "DEVICE_NEEDS_RESET";
	case VPCI_BAD_USED:
		return "BAD_USED";
	case VPCI_BROKEN:
		return "NOT_SENT";	/* the queue was already broken */
	}
	return "?";
}
