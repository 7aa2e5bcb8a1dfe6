#include <check.h>
#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "devices/virtio_pci.h"
#include "util/event_loop.h"
#include "util/util.h"

/*
 * virtio-pci driven the way a guest driver drives it: only through BAR0/BAR2
 * accesses and PCI config cycles on a bus. Behind it a fake virtio device
 * (type 24, 56 bytes of config) that records what the transport asks of it,
 * and fake MSI-X ops that record every message sent.
 */

#define DEVICE_ID 24
#define CONFIG_SIZE 56
#define MAX_QSIZE 128
#define QSIZE 8 /* what the driver picks */
#define MSIX_VECTORS 2

/* 64 KiB of guest RAM: the rings of queue 0, then request buffers. */
#define RAM_GPA 0x100000ULL
#define RAM_SIZE 0x10000ULL
#define DESC (RAM_GPA + 0x0000)
#define AVAIL (RAM_GPA + 0x1000)
#define USED (RAM_GPA + 0x2000)
#define TABLE (RAM_GPA + 0x3000)
#define DATA (RAM_GPA + 0x4000)

#define ACK VIRTIO_CONFIG_S_ACKNOWLEDGE
#define DRIVER VIRTIO_CONFIG_S_DRIVER
#define DRIVER_OK VIRTIO_CONFIG_S_DRIVER_OK
#define FEATURES_OK VIRTIO_CONFIG_S_FEATURES_OK
#define NEEDS_RESET VIRTIO_CONFIG_S_NEEDS_RESET
#define FAILED VIRTIO_CONFIG_S_FAILED

#define ISR_QUEUE 1
#define ISR_CONFIG 2
#define MSIX_ENABLE 0x8000

/* BAR0 offset of a field of the common configuration structure. */
#define CC(field) (VIRTIO_PCI_COMMON_OFFSET + offsetof(struct virtio_pci_common_cfg, field))

#define DEV_FEATURE_BIT 1 /* the one device-type feature the fake offers */
#define NEGOTIATED                                                                                 \
	(VIRTIO_FEATURE(VIRTIO_F_VERSION_1) | VIRTIO_FEATURE(VIRTIO_RING_F_INDIRECT_DESC) |      \
	 VIRTIO_FEATURE(DEV_FEATURE_BIT))

/* --- the fake device --- */

struct fake_dev {
	bool refuse_features;
	unsigned features_ok_calls;
	uint64_t features_ok_arg;
	unsigned resets;
	unsigned process_calls;
	unsigned processed; /* chains popped and pushed */
	unsigned last_index;
	bool fail; /* process_queue reports a driver error */
};

static struct fake_dev fake;

static uint64_t fake_features(void *dev)
{
	ck_assert_ptr_eq(dev, &fake);
	return VIRTIO_FEATURE(DEV_FEATURE_BIT);
}

static bool fake_features_ok(void *dev, uint64_t accepted)
{
	ck_assert_ptr_eq(dev, &fake);
	fake.features_ok_calls++;
	fake.features_ok_arg = accepted;
	return !fake.refuse_features;
}

static uint8_t config_byte(unsigned offset)
{
	return (uint8_t)(0x80 + offset);
}

static void fake_read_config(void *dev, unsigned offset, uint8_t *data, unsigned len)
{
	ck_assert_ptr_eq(dev, &fake);
	/* The transport promised: inside config_size. */
	ck_assert_uint_le(offset + len, CONFIG_SIZE);
	for (unsigned i = 0; i < len; i++)
		data[i] = config_byte(offset + i);
}

/* Answers every request: fills its writable buffer with 0xd0 and returns it. */
static int fake_process_queue(void *dev, unsigned index, struct virtqueue *vq, int budget,
			      struct error *err)
{
	struct virtq_chain c;
	int ret = 0, n = 0;

	ck_assert_ptr_eq(dev, &fake);
	fake.process_calls++;
	fake.last_index = index;
	if (fake.fail) {
		error_set(err, "fake: the driver broke the rules");
		return -1;
	}
	while (n < budget && (ret = virtqueue_pop(vq, &c, err)) == 1) {
		uint32_t written = 0;

		if (c.nr_in) {
			uint8_t fill[256];

			written = c.bufs[c.nr_out].len < sizeof(fill) ? c.bufs[c.nr_out].len
								       : sizeof(fill);
			memset(fill, 0xd0, written);
			ck_assert_int_eq(virtqueue_write(vq, &c, fill, written, err), 0);
		}
		if (virtqueue_push(vq, c.head, written, err))
			return -1;
		n++;
	}
	fake.processed += (unsigned)n;
	return ret < 0 ? -1 : n;
}

static void fake_reset(void *dev)
{
	ck_assert_ptr_eq(dev, &fake);
	fake.resets++;
}

static const struct virtio_device_ops fake_ops = {
	.device_id = DEVICE_ID,
	.config_size = CONFIG_SIZE,
	.features = fake_features,
	.features_ok = fake_features_ok,
	.read_config = fake_read_config,
	.process_queue = fake_process_queue,
	.reset = fake_reset,
};

/* --- fake MSI-X delivery and PCI bus --- */

static unsigned msix_fired[MSIX_VECTORS], msix_routed[MSIX_VECTORS];
static uint32_t msix_data[MSIX_VECTORS];
static int msix_tag;

static int fake_route(void *opaque, unsigned vector, uint64_t addr, uint32_t data)
{
	(void)addr;
	ck_assert_ptr_eq(opaque, &msix_tag);
	ck_assert_uint_lt(vector, MSIX_VECTORS);
	msix_routed[vector]++;
	msix_data[vector] = data;
	return 0;
}

static void fake_fire(void *opaque, unsigned vector)
{
	ck_assert_ptr_eq(opaque, &msix_tag);
	ck_assert_uint_lt(vector, MSIX_VECTORS);
	msix_fired[vector]++;
}

static const struct msix_ops fake_msix_ops = { fake_route, fake_fire };

static int intx_level[PCI_INTX_GSI_BASE + PCI_INTX_GSI_COUNT];

static int fake_map_bar(void *bus_opaque, uint64_t addr, uint64_t size, io_handler_fn handler,
			void *opaque, const char *name, struct error *err)
{
	(void)bus_opaque, (void)addr, (void)size, (void)handler, (void)opaque, (void)name,
		(void)err;
	return 0;
}

static void fake_unmap_bar(void *bus_opaque, uint64_t addr, uint64_t size, void *opaque)
{
	(void)bus_opaque, (void)addr, (void)size, (void)opaque;
}

static void fake_set_irq(void *bus_opaque, unsigned gsi, int level)
{
	(void)bus_opaque;
	ck_assert_uint_lt(gsi, PCI_INTX_GSI_BASE + PCI_INTX_GSI_COUNT);
	intx_level[gsi] = level;
}

static const struct pci_bus_ops fake_bus_ops = { fake_map_bar, fake_unmap_bar, fake_set_irq };

/* --- fixture --- */

static struct virtio_pci vp;
static struct guest_mem mem;
static uint8_t *ram;
static struct pci_bus *bus;
static uint8_t devfn;
static unsigned gsi;
static struct event_loop *io_loop; /* only for the tests of the I/O-thread path */

static void setup(void)
{
	struct virtio_pci_env env = { .mem = &mem, .vm_fd = -1, .loop = NULL,
				      .msix_ops = &fake_msix_ops, .msix_opaque = &msix_tag };
	struct error err;
	int slot;

	memset(&fake, 0, sizeof(fake));
	memset(msix_fired, 0, sizeof(msix_fired));
	memset(msix_routed, 0, sizeof(msix_routed));
	memset(intx_level, 0, sizeof(intx_level));
	ram = calloc(1, RAM_SIZE);
	ck_assert_ptr_nonnull(ram);
	memset(&mem, 0, sizeof(mem));
	ck_assert_int_eq(guest_mem_add(&mem, RAM_GPA, RAM_SIZE, ram, &err), 0);
	ck_assert_msg(virtio_pci_init(&vp, "virtio-test", &fake_ops, &fake, 1, MAX_QSIZE, &env,
				      &err) == 0, "virtio_pci_init: %s", err.msg);
	bus = pci_bus_new(&fake_bus_ops, NULL, 0xe0000000ULL, 0xf0000000ULL);
	ck_assert_ptr_nonnull(bus);
	slot = pci_bus_add(bus, &vp.pci, -1, &err);
	ck_assert_int_ge(slot, 0);
	devfn = PCI_DEVFN(slot, 0);
	gsi = pci_intx_gsi((unsigned)slot, 1);
}

static void teardown(void)
{
	pci_bus_remove(&vp.pci);
	pci_bus_free(bus);
	virtio_pci_destroy(&vp);
	if (io_loop)
		event_loop_free(io_loop); /* after the device removed its watches */
	io_loop = NULL;
	free(ram);
}

/* --- driver-side helpers --- */

static uint64_t bar0_read(uint64_t offset, unsigned len)
{
	uint8_t data[8];

	memset(data, 0xa5, sizeof(data)); /* stale bytes must not leak through */
	virtio_pci_bar0_access(&vp, offset, data, len, false);
	return io_data_get(data, len);
}

static void bar0_write(uint64_t offset, unsigned len, uint64_t value)
{
	uint8_t data[8];

	io_data_put(data, len, value);
	virtio_pci_bar0_access(&vp, offset, data, len, true);
}

static uint64_t bar2_read(uint64_t offset, unsigned len)
{
	uint8_t data[8];

	memset(data, 0xa5, sizeof(data));
	virtio_pci_bar2_access(&vp, offset, data, len, false);
	return io_data_get(data, len);
}

static void bar2_write(uint64_t offset, unsigned len, uint64_t value)
{
	uint8_t data[8];

	io_data_put(data, len, value);
	virtio_pci_bar2_access(&vp, offset, data, len, true);
}

static uint32_t cfg_read(unsigned offset, unsigned len)
{
	return pci_bus_config_read(bus, 0, devfn, offset, len);
}

static void cfg_write(unsigned offset, unsigned len, uint32_t value)
{
	pci_bus_config_write(bus, 0, devfn, offset, len, value);
}

static uint8_t status(void)
{
	return (uint8_t)bar0_read(CC(device_status), 1);
}

static void set_status(uint8_t value)
{
	bar0_write(CC(device_status), 1, value);
}

static uint8_t read_isr(void)
{
	return (uint8_t)bar0_read(VIRTIO_PCI_ISR_OFFSET, 1);
}

static void write_driver_features(uint64_t features)
{
	bar0_write(CC(guest_feature_select), 4, 0);
	bar0_write(CC(guest_feature), 4, (uint32_t)features);
	bar0_write(CC(guest_feature_select), 4, 1);
	bar0_write(CC(guest_feature), 4, (uint32_t)(features >> 32));
}

static uint64_t read_driver_features(void)
{
	uint64_t f;

	bar0_write(CC(guest_feature_select), 4, 0);
	f = bar0_read(CC(guest_feature), 4);
	bar0_write(CC(guest_feature_select), 4, 1);
	return f | bar0_read(CC(guest_feature), 4) << 32;
}

/* Steps 1-6 of driver initialization; returns the status read back after FEATURES_OK. */
static uint8_t negotiate(uint64_t features)
{
	cfg_write(PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER); /* pci_set_master() */
	set_status(0);
	set_status(ACK);
	set_status(ACK | DRIVER);
	write_driver_features(features);
	set_status(ACK | DRIVER | FEATURES_OK);
	return status();
}

static void queue_addresses(uint64_t desc, uint64_t avail, uint64_t used)
{
	bar0_write(CC(queue_desc_lo), 4, (uint32_t)desc);
	bar0_write(CC(queue_desc_hi), 4, (uint32_t)(desc >> 32));
	bar0_write(CC(queue_avail_lo), 4, (uint32_t)avail);
	bar0_write(CC(queue_avail_hi), 4, (uint32_t)(avail >> 32));
	bar0_write(CC(queue_used_lo), 4, (uint32_t)used);
	bar0_write(CC(queue_used_hi), 4, (uint32_t)(used >> 32));
}

/* Step 7 for queue 0, with the rings in RAM. */
static void setup_queue(void)
{
	bar0_write(CC(queue_select), 2, 0);
	bar0_write(CC(queue_size), 2, QSIZE);
	queue_addresses(DESC, AVAIL, USED);
	bar0_write(CC(queue_enable), 2, 1);
	ck_assert_uint_eq(bar0_read(CC(queue_enable), 2), 1);
}

/* The whole sequence up to DRIVER_OK. */
static void driver_init(void)
{
	ck_assert_uint_eq(negotiate(NEGOTIATED), ACK | DRIVER | FEATURES_OK);
	setup_queue();
	set_status(ACK | DRIVER | FEATURES_OK | DRIVER_OK);
	ck_assert_uint_eq(status(), ACK | DRIVER | FEATURES_OK | DRIVER_OK);
}

static void *at(uint64_t gpa)
{
	return ram + (gpa - RAM_GPA);
}

static void set_desc(uint64_t table, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	struct virtq_desc d = { addr, len, flags, next };

	memcpy((uint8_t *)at(table) + 16 * i, &d, sizeof(d));
}

static void make_available(uint16_t head)
{
	uint16_t *avail = at(AVAIL);
	uint16_t idx = avail[1];

	avail[2 + idx % QSIZE] = head;
	avail[1] = (uint16_t)(idx + 1);
}

/* A request in descriptors head, head+1: 16 bytes to read, 32 to write. */
static void offer_request(uint16_t head)
{
	uint64_t buf = DATA + 0x100ULL * head;

	set_desc(DESC, head, buf, 16, VIRTQ_DESC_F_NEXT, (uint16_t)(head + 1));
	set_desc(DESC, head + 1u, buf + 0x80, 32, VIRTQ_DESC_F_WRITE, 0);
	make_available(head);
}

static uint16_t used_idx(void)
{
	return ((uint16_t *)at(USED))[1];
}

static uint32_t used_elem(unsigned i, unsigned field)
{
	uint32_t v;

	memcpy(&v, (uint8_t *)at(USED) + 4 + 8 * i + 4 * field, 4);
	return v;
}

static void notify_queue(unsigned index)
{
	/* Linux: iowrite16(queue index, notify base + queue_notify_off * multiplier). */
	bar0_write(VIRTIO_PCI_NOTIFY_OFFSET + index * VIRTIO_PCI_NOTIFY_MULTIPLIER, 2, index);
}

static unsigned msix_cap(void)
{
	return vp.msix.cap;
}

/* Guest enables MSI-X with both table entries programmed and unmasked. */
static void enable_msix(void)
{
	for (unsigned v = 0; v < MSIX_VECTORS; v++) {
		bar2_write(v * 16 + 0, 4, 0xfee00000);
		bar2_write(v * 16 + 4, 4, 0);
		bar2_write(v * 16 + 8, 4, 0x30 + v);
	}
	cfg_write(msix_cap() + PCI_MSIX_FLAGS, 2, MSIX_ENABLE);
	for (unsigned v = 0; v < MSIX_VECTORS; v++)
		bar2_write(v * 16 + 12, 4, 0);
}

/* ======================= PCI identity and capabilities ======================= */

START_TEST(pci_identity)
{
	ck_assert_uint_eq(cfg_read(PCI_VENDOR_ID, 2), 0x1af4);
	ck_assert_uint_eq(cfg_read(PCI_DEVICE_ID, 2), 0x1040 + DEVICE_ID);
	ck_assert_uint_eq(cfg_read(PCI_DEVICE_ID, 2), 0x1058);
	ck_assert_uint_eq(cfg_read(PCI_REVISION_ID, 1), 1); /* non-transitional */
	ck_assert_uint_eq(cfg_read(PCI_SUBSYSTEM_VENDOR_ID, 2), 0x1af4);
	ck_assert_uint_ge(cfg_read(PCI_SUBSYSTEM_ID, 2), 0x40);
	ck_assert_uint_eq(cfg_read(PCI_HEADER_TYPE, 1), PCI_HEADER_TYPE_NORMAL);
	ck_assert(cfg_read(PCI_STATUS, 2) & PCI_STATUS_CAP_LIST);
	ck_assert_uint_eq(cfg_read(PCI_INTERRUPT_PIN, 1), 1); /* INTA for the no-MSI-X case */
	/* BAR0: 64-bit memory, 16 KiB; BAR2: 32-bit memory, 4 KiB (sizing as a BIOS does). */
	ck_assert_uint_eq(cfg_read(PCI_BASE_ADDRESS_0, 4) & 0xf, PCI_BASE_ADDRESS_MEM_TYPE_64);
	cfg_write(PCI_BASE_ADDRESS_0, 4, 0xffffffff);
	ck_assert_uint_eq(cfg_read(PCI_BASE_ADDRESS_0, 4), (uint32_t)~(VIRTIO_PCI_BAR0_SIZE - 1) |
							       PCI_BASE_ADDRESS_MEM_TYPE_64);
	cfg_write(PCI_BASE_ADDRESS_2, 4, 0xffffffff);
	ck_assert_uint_eq(cfg_read(PCI_BASE_ADDRESS_2, 4), (uint32_t)~(VIRTIO_PCI_BAR2_SIZE - 1));
}
END_TEST

struct vcap {
	unsigned offset, len, type, bar;
	uint32_t bar_offset, length;
};

/* Walks the capability list from 0x34 as a driver does, collecting virtio caps in order. */
static unsigned walk_caps(struct vcap *out, unsigned max, unsigned *msix_offset)
{
	unsigned n = 0, guard = 0;

	*msix_offset = 0;
	for (unsigned p = cfg_read(PCI_CAPABILITY_LIST, 1); p; p = cfg_read(p + 1, 1)) {
		ck_assert_uint_lt(++guard, 48); /* no loop */
		ck_assert_uint_ge(p, PCI_CAP_START);
		ck_assert_uint_eq(p % 4, 0);
		if (cfg_read(p, 1) == PCI_CAP_ID_MSIX) {
			*msix_offset = p;
		} else {
			ck_assert_uint_eq(cfg_read(p, 1), PCI_CAP_ID_VNDR);
			ck_assert_uint_lt(n, max);
			out[n++] = (struct vcap){ p, cfg_read(p + 2, 1), cfg_read(p + 3, 1),
						  cfg_read(p + 4, 1), cfg_read(p + 8, 4),
						  cfg_read(p + 12, 4) };
		}
	}
	return n;
}

START_TEST(capability_chain)
{
	struct vcap caps[8];
	unsigned msix, n = walk_caps(caps, 8, &msix);

	ck_assert_uint_eq(n, 5);
	ck_assert_uint_eq(caps[0].type, VIRTIO_PCI_CAP_COMMON_CFG);
	ck_assert_uint_eq(caps[0].len, 16);
	ck_assert_uint_eq(caps[0].bar, 0);
	ck_assert_uint_eq(caps[0].bar_offset, VIRTIO_PCI_COMMON_OFFSET);
	ck_assert_uint_ge(caps[0].length, 56); /* Linux refuses less */
	ck_assert_uint_le(caps[0].length, 0x1000);

	ck_assert_uint_eq(caps[1].type, VIRTIO_PCI_CAP_NOTIFY_CFG);
	ck_assert_uint_eq(caps[1].len, 20);
	ck_assert_uint_eq(caps[1].bar, 0);
	ck_assert_uint_eq(caps[1].bar_offset, VIRTIO_PCI_NOTIFY_OFFSET);
	ck_assert_uint_ge(caps[1].length, 0 * 4 + 2); /* queue 0's 16-bit slot */
	ck_assert_uint_eq(cfg_read(caps[1].offset + 16, 4), 4); /* notify_off_multiplier */

	ck_assert_uint_eq(caps[2].type, VIRTIO_PCI_CAP_ISR_CFG);
	ck_assert_uint_eq(caps[2].bar, 0);
	ck_assert_uint_eq(caps[2].bar_offset, VIRTIO_PCI_ISR_OFFSET);
	ck_assert_uint_ge(caps[2].length, 1);

	ck_assert_uint_eq(caps[3].type, VIRTIO_PCI_CAP_DEVICE_CFG);
	ck_assert_uint_eq(caps[3].bar, 0);
	ck_assert_uint_eq(caps[3].bar_offset, VIRTIO_PCI_DEVICE_OFFSET);
	ck_assert_uint_eq(caps[3].length, CONFIG_SIZE);

	ck_assert_uint_eq(caps[4].type, VIRTIO_PCI_CAP_PCI_CFG);
	ck_assert_uint_eq(caps[4].len, 20);

	/* Every region fits in its BAR. */
	for (unsigned i = 0; i < 4; i++)
		ck_assert_uint_le(caps[i].bar_offset + caps[i].length, VIRTIO_PCI_BAR0_SIZE);

	ck_assert_uint_ne(msix, 0);
	ck_assert_uint_eq(cfg_read(msix + PCI_MSIX_FLAGS, 2) & PCI_MSIX_FLAGS_QSIZE,
			  MSIX_VECTORS - 1);
	ck_assert_uint_eq(cfg_read(msix + PCI_MSIX_TABLE, 4), 0 | VIRTIO_PCI_MSIX_BAR);
	ck_assert_uint_eq(cfg_read(msix + PCI_MSIX_PBA, 4),
			  VIRTIO_PCI_MSIX_PBA_OFFSET | VIRTIO_PCI_MSIX_BAR);
}
END_TEST

/* ======================= features ======================= */

START_TEST(feature_windows)
{
	bar0_write(CC(device_feature_select), 4, 0);
	ck_assert_uint_eq(bar0_read(CC(device_feature_select), 4), 0);
	ck_assert_uint_eq(bar0_read(CC(device_feature), 4),
			  (1u << DEV_FEATURE_BIT) | (1u << VIRTIO_RING_F_INDIRECT_DESC));
	bar0_write(CC(device_feature_select), 4, 1);
	ck_assert_uint_eq(bar0_read(CC(device_feature), 4), 1u << (VIRTIO_F_VERSION_1 - 32));
	bar0_write(CC(device_feature_select), 4, 2);
	ck_assert_uint_eq(bar0_read(CC(device_feature_select), 4), 2);
	ck_assert_uint_eq(bar0_read(CC(device_feature), 4), 0);
	bar0_write(CC(device_feature_select), 4, 0xffffffff);
	ck_assert_uint_eq(bar0_read(CC(device_feature), 4), 0);
	/* device_feature is read-only. */
	bar0_write(CC(device_feature_select), 4, 0);
	bar0_write(CC(device_feature), 4, 0xffffffff);
	ck_assert_uint_eq(bar0_read(CC(device_feature), 4),
			  (1u << DEV_FEATURE_BIT) | (1u << VIRTIO_RING_F_INDIRECT_DESC));
}
END_TEST

START_TEST(driver_features_read_back)
{
	write_driver_features(NEGOTIATED);
	ck_assert_uint_eq(read_driver_features(), NEGOTIATED);
	/* Windows beyond 64 bits hold nothing, and writing them changes nothing. */
	bar0_write(CC(guest_feature_select), 4, 2);
	bar0_write(CC(guest_feature), 4, 0xffffffff);
	ck_assert_uint_eq(bar0_read(CC(guest_feature), 4), 0);
	ck_assert_uint_eq(read_driver_features(), NEGOTIATED);
}
END_TEST

START_TEST(features_ok_refused_without_version_1)
{
	ck_assert_uint_eq(negotiate(VIRTIO_FEATURE(DEV_FEATURE_BIT)), ACK | DRIVER);
	ck_assert_uint_eq(fake.features_ok_calls, 0); /* the transport refused first */
}
END_TEST

START_TEST(features_ok_refused_by_the_device)
{
	fake.refuse_features = true;
	ck_assert_uint_eq(negotiate(NEGOTIATED), ACK | DRIVER);
	ck_assert_uint_eq(fake.features_ok_calls, 1);
	ck_assert_uint_eq(fake.features_ok_arg, NEGOTIATED);
}
END_TEST

START_TEST(features_ok_refused_for_a_bit_not_offered)
{
	ck_assert_uint_eq(negotiate(NEGOTIATED | VIRTIO_FEATURE(2)), ACK | DRIVER);
	ck_assert_uint_eq(negotiate(NEGOTIATED | VIRTIO_FEATURE(VIRTIO_F_RING_PACKED)),
			  ACK | DRIVER);
	ck_assert_uint_eq(fake.features_ok_calls, 0);
}
END_TEST

START_TEST(features_ok_accepted)
{
	ck_assert_uint_eq(negotiate(VIRTIO_FEATURE(VIRTIO_F_VERSION_1)),
			  ACK | DRIVER | FEATURES_OK);
	ck_assert_uint_eq(fake.features_ok_calls, 1);
	ck_assert_uint_eq(fake.features_ok_arg, VIRTIO_FEATURE(VIRTIO_F_VERSION_1));
	ck_assert_uint_eq(negotiate(NEGOTIATED), ACK | DRIVER | FEATURES_OK);
	ck_assert_uint_eq(fake.features_ok_arg, NEGOTIATED);
	virtio_pci_lock(&vp);
	ck_assert(virtio_pci_has_feature(&vp, DEV_FEATURE_BIT));
	ck_assert(virtio_pci_has_feature(&vp, VIRTIO_RING_F_INDIRECT_DESC));
	virtio_pci_unlock(&vp);
}
END_TEST

/* A driver that fixes its feature set may try FEATURES_OK again. */
START_TEST(features_ok_retry_after_refusal)
{
	ck_assert_uint_eq(negotiate(VIRTIO_FEATURE(DEV_FEATURE_BIT)), ACK | DRIVER);
	write_driver_features(NEGOTIATED);
	set_status(ACK | DRIVER | FEATURES_OK);
	ck_assert_uint_eq(status(), ACK | DRIVER | FEATURES_OK);
}
END_TEST

START_TEST(driver_features_fixed_after_features_ok)
{
	ck_assert_uint_eq(negotiate(VIRTIO_FEATURE(VIRTIO_F_VERSION_1)),
			  ACK | DRIVER | FEATURES_OK);
	write_driver_features(NEGOTIATED);
	ck_assert_uint_eq(read_driver_features(), VIRTIO_FEATURE(VIRTIO_F_VERSION_1));
	virtio_pci_lock(&vp);
	ck_assert(!virtio_pci_has_feature(&vp, VIRTIO_RING_F_INDIRECT_DESC));
	virtio_pci_unlock(&vp);
	/* Writing FEATURES_OK again does not re-validate (or change) anything. */
	set_status(ACK | DRIVER | FEATURES_OK);
	ck_assert_uint_eq(fake.features_ok_calls, 1);
}
END_TEST

/* ======================= queues ======================= */

START_TEST(queue_registers_after_reset)
{
	set_status(0);
	ck_assert_uint_eq(bar0_read(CC(num_queues), 2), 1);
	ck_assert_uint_eq(bar0_read(CC(queue_select), 2), 0);
	ck_assert_uint_eq(bar0_read(CC(queue_size), 2), MAX_QSIZE);
	ck_assert_uint_eq(bar0_read(CC(queue_enable), 2), 0);
	ck_assert_uint_eq(bar0_read(CC(queue_msix_vector), 2), MSIX_NO_VECTOR);
	ck_assert_uint_eq(bar0_read(CC(msix_config), 2), MSIX_NO_VECTOR);
	ck_assert_uint_eq(bar0_read(CC(queue_notify_off), 2), 0);
	ck_assert_uint_eq(bar0_read(CC(queue_desc_lo), 4), 0);
	ck_assert_uint_eq(bar0_read(CC(queue_used_hi), 4), 0);
	/* The driver may pick a smaller size. */
	bar0_write(CC(queue_size), 2, QSIZE);
	ck_assert_uint_eq(bar0_read(CC(queue_size), 2), QSIZE);
}
END_TEST

START_TEST(absent_queue_reads_size_zero)
{
	bar0_write(CC(queue_select), 2, 1);
	ck_assert_uint_eq(bar0_read(CC(queue_select), 2), 1);
	ck_assert_uint_eq(bar0_read(CC(queue_size), 2), 0); /* 0 = no such queue */
	/* Writes to an absent queue go nowhere. */
	bar0_write(CC(queue_size), 2, QSIZE);
	bar0_write(CC(queue_desc_lo), 4, 0x1000);
	bar0_write(CC(queue_msix_vector), 2, 0);
	bar0_write(CC(queue_enable), 2, 1);
	ck_assert_uint_eq(bar0_read(CC(queue_size), 2), 0);
	ck_assert_uint_eq(bar0_read(CC(queue_desc_lo), 4), 0);
	ck_assert_uint_eq(bar0_read(CC(queue_enable), 2), 0);
	bar0_write(CC(queue_select), 2, 0xffff);
	ck_assert_uint_eq(bar0_read(CC(queue_size), 2), 0);
	/* Queue 0 was not touched. */
	bar0_write(CC(queue_select), 2, 0);
	ck_assert_uint_eq(bar0_read(CC(queue_size), 2), MAX_QSIZE);
	ck_assert_uint_eq(bar0_read(CC(queue_desc_lo), 4), 0);
	ck_assert_uint_eq(bar0_read(CC(queue_msix_vector), 2), MSIX_NO_VECTOR);
}
END_TEST

START_TEST(queue_address_halves_read_back)
{
	queue_addresses(0x123456789abcdef0ULL, 0x0fedcba987654320ULL, 0x1111222233334440ULL);
	ck_assert_uint_eq(bar0_read(CC(queue_desc_lo), 4), 0x9abcdef0);
	ck_assert_uint_eq(bar0_read(CC(queue_desc_hi), 4), 0x12345678);
	ck_assert_uint_eq(bar0_read(CC(queue_avail_lo), 4), 0x87654320);
	ck_assert_uint_eq(bar0_read(CC(queue_avail_hi), 4), 0x0fedcba9);
	ck_assert_uint_eq(bar0_read(CC(queue_used_lo), 4), 0x33334440);
	ck_assert_uint_eq(bar0_read(CC(queue_used_hi), 4), 0x11112222);
	/* One half at a time leaves the other alone. */
	bar0_write(CC(queue_desc_hi), 4, 0);
	ck_assert_uint_eq(bar0_read(CC(queue_desc_lo), 4), 0x9abcdef0);
	/* A 64-bit access (other guests do that) covers both halves. */
	bar0_write(CC(queue_used_lo), 8, 0xaaaabbbbccccdd00ULL);
	ck_assert_uint_eq(bar0_read(CC(queue_used_lo), 8), 0xaaaabbbbccccdd00ULL);
	ck_assert_uint_eq(bar0_read(CC(queue_used_hi), 4), 0xaaaabbbb);
}
END_TEST

START_TEST(enabled_queue_is_frozen)
{
	driver_init();
	/* Size and addresses of an enabled queue cannot change under the device. */
	bar0_write(CC(queue_size), 2, 4);
	bar0_write(CC(queue_desc_lo), 4, 0x5000);
	ck_assert_uint_eq(bar0_read(CC(queue_size), 2), QSIZE);
	ck_assert_uint_eq(bar0_read(CC(queue_desc_lo), 4), (uint32_t)DESC);
	/* Writing 0 to queue_enable does not disable it (only a reset does). */
	bar0_write(CC(queue_enable), 2, 0);
	ck_assert_uint_eq(bar0_read(CC(queue_enable), 2), 1);
}
END_TEST

START_TEST(rings_outside_ram_need_reset)
{
	ck_assert_uint_eq(negotiate(NEGOTIATED), ACK | DRIVER | FEATURES_OK);
	set_status(ACK | DRIVER | FEATURES_OK | DRIVER_OK);
	ck_assert_uint_eq(read_isr(), 0);
	bar0_write(CC(queue_size), 2, QSIZE);
	queue_addresses(DESC, AVAIL, RAM_GPA + RAM_SIZE); /* used ring past the end of RAM */
	bar0_write(CC(queue_enable), 2, 1);
	ck_assert_uint_eq(bar0_read(CC(queue_enable), 2), 0);
	ck_assert(status() & NEEDS_RESET);
	/* DRIVER_OK was set and MSI-X is off: a config interrupt through ISR bit 1 and INTx. */
	ck_assert_int_eq(intx_level[gsi], 1);
	ck_assert_uint_eq(read_isr(), ISR_CONFIG);
	ck_assert_int_eq(intx_level[gsi], 0); /* reading the ISR deasserts */
	ck_assert_uint_eq(read_isr(), 0);
}
END_TEST

START_TEST(bad_queue_before_driver_ok_needs_reset_quietly)
{
	uint8_t generation = (uint8_t)bar0_read(CC(config_generation), 1);

	ck_assert_uint_eq(negotiate(NEGOTIATED), ACK | DRIVER | FEATURES_OK);
	bar0_write(CC(queue_size), 2, MAX_QSIZE * 2); /* above the maximum */
	queue_addresses(DESC, AVAIL, USED);
	bar0_write(CC(queue_enable), 2, 1);
	ck_assert_uint_eq(bar0_read(CC(queue_enable), 2), 0);
	ck_assert(status() & NEEDS_RESET);
	ck_assert_uint_ne(bar0_read(CC(config_generation), 1), generation);
	/* No interrupt before DRIVER_OK. */
	ck_assert_int_eq(intx_level[gsi], 0);
	ck_assert_uint_eq(read_isr(), 0);
}
END_TEST

START_TEST(queue_size_not_a_power_of_two_needs_reset)
{
	ck_assert_uint_eq(negotiate(NEGOTIATED), ACK | DRIVER | FEATURES_OK);
	bar0_write(CC(queue_size), 2, 6);
	queue_addresses(DESC, AVAIL, USED);
	bar0_write(CC(queue_enable), 2, 1);
	ck_assert_uint_eq(bar0_read(CC(queue_enable), 2), 0);
	ck_assert(status() & NEEDS_RESET);
}
END_TEST

/* ======================= requests and interrupts ======================= */

START_TEST(no_guest_memory_access_without_bus_master)
{
	driver_init();
	cfg_write(PCI_COMMAND, 2, PCI_COMMAND_MEMORY); /* Bus Master off, as before kexec */
	offer_request(0);
	notify_queue(0);
	ck_assert_uint_eq(fake.processed, 0);
	ck_assert_uint_eq(used_idx(), 0);
	/* Set again, the waiting request is served. */
	cfg_write(PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	ck_assert_uint_eq(fake.processed, 1);
	ck_assert_uint_eq(used_idx(), 1);
}
END_TEST

START_TEST(request_processed_after_notify)
{
	uint8_t *reply = at(DATA + 0x80);

	driver_init();
	ck_assert_uint_eq(fake.processed, 0); /* nothing was queued yet at DRIVER_OK */
	offer_request(0);
	notify_queue(0);
	ck_assert_uint_eq(fake.processed, 1);
	ck_assert_uint_eq(fake.last_index, 0);
	ck_assert_uint_eq(used_idx(), 1);
	ck_assert_uint_eq(used_elem(0, 0), 0);	/* id: the head */
	ck_assert_uint_eq(used_elem(0, 1), 32); /* len: bytes written */
	ck_assert_uint_eq(reply[0], 0xd0);
	ck_assert_uint_eq(reply[31], 0xd0);
	ck_assert_uint_eq(reply[32], 0); /* not past the buffer */
	/* Without MSI-X: ISR bit 0 and INTx, both until the ISR is read. */
	ck_assert_int_eq(intx_level[gsi], 1);
	ck_assert(cfg_read(PCI_STATUS, 2) & PCI_STATUS_INTERRUPT);
	ck_assert_uint_eq(read_isr(), ISR_QUEUE);
	ck_assert_int_eq(intx_level[gsi], 0);
	ck_assert(!(cfg_read(PCI_STATUS, 2) & PCI_STATUS_INTERRUPT));
	ck_assert_uint_eq(read_isr(), 0); /* read-to-clear */

	/* A second request, notified the same way. */
	offer_request(2);
	notify_queue(0);
	ck_assert_uint_eq(used_idx(), 2);
	ck_assert_uint_eq(used_elem(1, 0), 2);
	ck_assert_uint_eq(read_isr(), ISR_QUEUE);
}
END_TEST

START_TEST(isr_is_read_only_and_only_byte_zero_clears)
{
	driver_init();
	offer_request(0);
	notify_queue(0);
	bar0_write(VIRTIO_PCI_ISR_OFFSET, 1, 0); /* writes ignored */
	ck_assert_uint_eq(bar0_read(VIRTIO_PCI_ISR_OFFSET + 1, 1), 0);
	ck_assert_int_eq(intx_level[gsi], 1);
	ck_assert_uint_eq(read_isr(), ISR_QUEUE);
}
END_TEST

START_TEST(no_interrupt_when_driver_suppresses_it)
{
	driver_init();
	((uint16_t *)at(AVAIL))[0] = VRING_AVAIL_F_NO_INTERRUPT;
	offer_request(0);
	notify_queue(0);
	ck_assert_uint_eq(used_idx(), 1);
	ck_assert_int_eq(intx_level[gsi], 0);
	ck_assert_uint_eq(read_isr(), 0);
}
END_TEST

START_TEST(notify_for_absent_queue_is_ignored)
{
	unsigned calls;

	driver_init();
	calls = fake.process_calls;
	offer_request(0);
	notify_queue(1);
	bar0_write(VIRTIO_PCI_NOTIFY_OFFSET + 0x800, 2, 0);
	ck_assert_uint_eq(fake.process_calls, calls);
	ck_assert_uint_eq(used_idx(), 0);
	/* Reads of the notify region return 0. */
	ck_assert_uint_eq(bar0_read(VIRTIO_PCI_NOTIFY_OFFSET, 2), 0);
}
END_TEST

START_TEST(nothing_processed_before_driver_ok)
{
	ck_assert_uint_eq(negotiate(NEGOTIATED), ACK | DRIVER | FEATURES_OK);
	setup_queue();
	offer_request(0);
	notify_queue(0);
	ck_assert_uint_eq(fake.process_calls, 0);
	ck_assert_uint_eq(used_idx(), 0);
	ck_assert_uint_eq(read_isr(), 0);
	/* DRIVER_OK picks up what the driver queued already. */
	set_status(ACK | DRIVER | FEATURES_OK | DRIVER_OK);
	ck_assert_uint_eq(fake.processed, 1);
	ck_assert_uint_eq(used_idx(), 1);
	ck_assert_uint_eq(read_isr(), ISR_QUEUE);
}
END_TEST

/* Indirect descriptors reach the virtqueue only when negotiated. */
START_TEST(indirect_descriptors_follow_negotiation)
{
	ck_assert_uint_eq(negotiate(VIRTIO_FEATURE(VIRTIO_F_VERSION_1)),
			  ACK | DRIVER | FEATURES_OK);
	setup_queue();
	set_status(ACK | DRIVER | FEATURES_OK | DRIVER_OK);
	set_desc(TABLE, 0, DATA, 16, VIRTQ_DESC_F_NEXT, 1);
	set_desc(TABLE, 1, DATA + 0x80, 8, VIRTQ_DESC_F_WRITE, 0);
	set_desc(DESC, 0, TABLE, 32, VIRTQ_DESC_F_INDIRECT, 0);
	make_available(0);
	notify_queue(0);
	ck_assert(status() & NEEDS_RESET);
	ck_assert_uint_eq(used_idx(), 0);

	/* After a reset, with INDIRECT_DESC negotiated, the same request is fine. */
	memset(at(AVAIL), 0, 0x1000);
	memset(at(USED), 0, 0x1000);
	driver_init();
	make_available(0);
	notify_queue(0);
	ck_assert_uint_eq(status() & NEEDS_RESET, 0);
	ck_assert_uint_eq(used_idx(), 1);
	ck_assert_uint_eq(used_elem(0, 1), 8);
}
END_TEST

START_TEST(device_error_needs_reset_until_reset)
{
	const uint8_t live = ACK | DRIVER | FEATURES_OK | DRIVER_OK;
	unsigned calls;

	driver_init();
	bar0_write(CC(msix_config), 2, 0);
	bar0_write(CC(queue_msix_vector), 2, 1);
	fake.fail = true;
	offer_request(0);
	calls = fake.process_calls;
	notify_queue(0);
	ck_assert_uint_eq(fake.process_calls, calls + 1);
	ck_assert_uint_eq(status(), live | NEEDS_RESET);
	ck_assert_uint_eq(read_isr(), ISR_CONFIG); /* config interrupt, not a queue one */

	/* The driver cannot clear NEEDS_RESET by writing the status... */
	set_status(live);
	ck_assert_uint_eq(status(), live | NEEDS_RESET);
	set_status(live | FAILED);
	ck_assert_uint_eq(status(), live | FAILED | NEEDS_RESET);
	/* ...and the broken device processes nothing more. */
	fake.fail = false;
	notify_queue(0);
	ck_assert_uint_eq(fake.process_calls, calls + 1);

	/* Reset: back to the initial state, and the device hears about it. */
	fake.resets = 0;
	set_status(0);
	ck_assert_uint_eq(fake.resets, 1);
	ck_assert_uint_eq(status(), 0);
	ck_assert_uint_eq(read_driver_features(), 0);
	bar0_write(CC(queue_select), 2, 0);
	ck_assert_uint_eq(bar0_read(CC(queue_enable), 2), 0);
	ck_assert_uint_eq(bar0_read(CC(queue_size), 2), MAX_QSIZE);
	ck_assert_uint_eq(bar0_read(CC(queue_desc_lo), 4), 0);
	ck_assert_uint_eq(bar0_read(CC(queue_avail_lo), 4), 0);
	ck_assert_uint_eq(bar0_read(CC(queue_used_lo), 4), 0);
	ck_assert_uint_eq(bar0_read(CC(queue_msix_vector), 2), MSIX_NO_VECTOR);
	ck_assert_uint_eq(bar0_read(CC(msix_config), 2), MSIX_NO_VECTOR);
	ck_assert_uint_eq(read_isr(), 0);
	ck_assert_int_eq(intx_level[gsi], 0);

	/* And the device works again after a fresh initialization. */
	memset(at(AVAIL), 0, 0x1000);
	memset(at(USED), 0, 0x1000);
	driver_init();
	offer_request(0);
	notify_queue(0);
	ck_assert_uint_eq(used_idx(), 1);
	ck_assert_uint_eq(status(), live);
}
END_TEST

START_TEST(reset_drops_a_pending_intx)
{
	driver_init();
	offer_request(0);
	notify_queue(0);
	ck_assert_int_eq(intx_level[gsi], 1);
	set_status(0);
	ck_assert_int_eq(intx_level[gsi], 0);
	ck_assert_uint_eq(read_isr(), 0);
}
END_TEST

/* The fixture's device again, this time with an I/O thread serving its queue. */
static void reinit_with_io_thread(void)
{
	struct virtio_pci_env env = { .mem = &mem, .vm_fd = -1, .msix_ops = &fake_msix_ops,
				      .msix_opaque = &msix_tag };
	struct error err;

	pci_bus_remove(&vp.pci);
	virtio_pci_destroy(&vp);
	io_loop = event_loop_new(&err);
	ck_assert_msg(io_loop != NULL, "event_loop_new: %s", err.msg);
	ck_assert_msg(event_loop_start(io_loop, &err) == 0, "%s", err.msg);
	env.loop = io_loop;
	ck_assert_msg(virtio_pci_init(&vp, "virtio-test", &fake_ops, &fake, 1, MAX_QSIZE, &env,
				      &err) == 0, "virtio_pci_init: %s", err.msg);
	ck_assert_int_ge(pci_bus_add(bus, &vp.pci, devfn >> 3, &err), 0);
}

/* Waits (bounded) for the I/O thread to have handled n requests. */
static bool wait_processed(unsigned n)
{
	struct timespec ms = { 0, 1000000L };

	for (unsigned i = 0; i < 5000; i++) {
		unsigned done;

		/* The I/O thread updates fake.* and raises the interrupt under the device lock. */
		virtio_pci_lock(&vp);
		done = fake.processed;
		virtio_pci_unlock(&vp);
		if (done >= n)
			return true;
		nanosleep(&ms, NULL);
	}
	return false;
}

START_TEST(requests_processed_on_the_io_thread)
{
	reinit_with_io_thread();
	ck_assert_uint_eq(negotiate(NEGOTIATED), ACK | DRIVER | FEATURES_OK);
	setup_queue();
	offer_request(0);
	/* Queued before DRIVER_OK: DRIVER_OK hands the queue to the I/O thread. */
	set_status(ACK | DRIVER | FEATURES_OK | DRIVER_OK);
	ck_assert(wait_processed(1));
	ck_assert_uint_eq(used_idx(), 1);
	ck_assert_int_eq(intx_level[gsi], 1);
	ck_assert_uint_eq(read_isr(), ISR_QUEUE);
	/* A notify write (no ioeventfd without KVM) goes through the eventfd too. */
	offer_request(2);
	notify_queue(0);
	ck_assert(wait_processed(2));
	ck_assert_uint_eq(used_idx(), 2);
	ck_assert_uint_eq(used_elem(1, 0), 2);
	ck_assert_uint_eq(read_isr(), ISR_QUEUE);
}
END_TEST

/* A device serves a bounded number of buffers per turn; the rest follows on the next turns. */
START_TEST(a_full_queue_is_served_in_bounded_turns)
{
	reinit_with_io_thread();
	vp.requests_per_notify = 2;
	ck_assert_uint_eq(negotiate(NEGOTIATED), ACK | DRIVER | FEATURES_OK);
	setup_queue();
	for (uint16_t head = 0; head < 8; head += 2)
		offer_request(head);
	offer_request(0); /* a fifth request, reusing the first chain */
	set_status(ACK | DRIVER | FEATURES_OK | DRIVER_OK);
	ck_assert(wait_processed(5));
	ck_assert_uint_eq(used_idx(), 5);
	/* Turns of 2, 2 and 1 (a full turn asks for another). */
	ck_assert_uint_eq(fake.process_calls, 3);
}
END_TEST

START_TEST(init_rejects_bad_queue_geometry)
{
	struct virtio_pci_env env = { .mem = &mem, .vm_fd = -1, .msix_ops = &fake_msix_ops };
	static const struct { unsigned queues; uint16_t size; } bad[] = {
		{ 0, 128 }, { VIRTIO_PCI_MAX_QUEUES + 1, 128 }, { 1, 0 }, { 1, 100 },
	};
	struct virtio_pci *other = calloc(1, sizeof(*other));
	struct error err;

	ck_assert_ptr_nonnull(other);
	for (unsigned i = 0; i < ARRAY_SIZE(bad); i++)
		ck_assert_int_eq(virtio_pci_init(other, "bad", &fake_ops, &fake, bad[i].queues,
						 bad[i].size, &env, &err), -1);
	ck_assert_int_eq(virtio_pci_init(other, "good", &fake_ops, &fake, VIRTIO_PCI_MAX_QUEUES,
					 256, &env, &err), 0);
	virtio_pci_destroy(other);
	free(other);
}
END_TEST

/* ======================= MSI-X ======================= */

START_TEST(vector_registers_check_the_table_size)
{
	static const struct { uint16_t written, read; } cases[] = {
		{ 0, 0 }, { 1, 1 }, { 2, MSIX_NO_VECTOR }, { 0x7ff, MSIX_NO_VECTOR },
		{ MSIX_NO_VECTOR, MSIX_NO_VECTOR },
	};

	for (unsigned i = 0; i < ARRAY_SIZE(cases); i++) {
		bar0_write(CC(msix_config), 2, cases[i].written);
		ck_assert_uint_eq(bar0_read(CC(msix_config), 2), cases[i].read);
		bar0_write(CC(queue_msix_vector), 2, cases[i].written);
		ck_assert_uint_eq(bar0_read(CC(queue_msix_vector), 2), cases[i].read);
	}
}
END_TEST

START_TEST(queue_interrupt_through_msix)
{
	driver_init();
	enable_msix();
	ck_assert(cfg_read(msix_cap() + PCI_MSIX_FLAGS, 2) & MSIX_ENABLE);
	bar0_write(CC(msix_config), 2, 0);
	bar0_write(CC(queue_msix_vector), 2, 1);
	offer_request(0);
	notify_queue(0);
	ck_assert_uint_eq(used_idx(), 1);
	ck_assert_uint_eq(msix_fired[1], 1);
	ck_assert_uint_eq(msix_data[1], 0x31);
	ck_assert_uint_eq(msix_fired[0], 0);
	/* With MSI-X the ISR and INTx stay out of it. */
	ck_assert_int_eq(intx_level[gsi], 0);
	ck_assert_uint_eq(read_isr(), 0);
}
END_TEST

START_TEST(msix_vector_none_sends_nothing)
{
	driver_init();
	enable_msix();
	offer_request(0);
	notify_queue(0); /* queue vector still 0xFFFF from reset */
	ck_assert_uint_eq(used_idx(), 1);
	ck_assert_uint_eq(msix_fired[0] + msix_fired[1], 0);
	ck_assert_uint_eq(read_isr(), 0);
	ck_assert_int_eq(intx_level[gsi], 0);
}
END_TEST

START_TEST(masked_msix_vector_is_pending)
{
	driver_init();
	enable_msix();
	bar0_write(CC(queue_msix_vector), 2, 1);
	bar2_write(16 + 12, 4, 1); /* mask entry 1 */
	offer_request(0);
	notify_queue(0);
	ck_assert_uint_eq(msix_fired[1], 0);
	ck_assert_uint_eq(bar2_read(VIRTIO_PCI_MSIX_PBA_OFFSET, 4), 1u << 1);
	bar2_write(16 + 12, 4, 0);
	ck_assert_uint_eq(msix_fired[1], 1);
	ck_assert_uint_eq(bar2_read(VIRTIO_PCI_MSIX_PBA_OFFSET, 4), 0);
	/* The function mask bit works through a config write too. */
	cfg_write(msix_cap() + PCI_MSIX_FLAGS, 2, MSIX_ENABLE | PCI_MSIX_FLAGS_MASKALL);
	offer_request(2);
	notify_queue(0);
	ck_assert_uint_eq(msix_fired[1], 1);
	cfg_write(msix_cap() + PCI_MSIX_FLAGS, 2, MSIX_ENABLE);
	ck_assert_uint_eq(msix_fired[1], 2);
}
END_TEST

START_TEST(msix_table_through_bar2)
{
	/* Entries start masked; BAR2 outside the table and PBA reads 0. */
	ck_assert_uint_eq(bar2_read(12, 4), 1);
	ck_assert_uint_eq(bar2_read(16 + 12, 4), 1);
	bar2_write(16 + 8, 4, 0x4321);
	ck_assert_uint_eq(bar2_read(16 + 8, 4), 0x4321);
	ck_assert_uint_eq(bar2_read(2 * 16, 4), 0); /* past the 2-entry table */
	ck_assert_uint_eq(bar2_read(0x400, 4), 0);
	ck_assert_uint_eq(bar2_read(0xffc, 4), 0);
}
END_TEST

/* ======================= config changes and device config ======================= */

/* A config change from a thread that must not wait (QMP): the generation at once (with the
 * fields), the interrupt when the lock is free, else from the holder (a request being
 * served) as it lets go, once. */
START_TEST(config_change_async_waits_for_the_lock_holder)
{
	driver_init();
	uint8_t gen = (uint8_t)bar0_read(CC(config_generation), 1);

	virtio_pci_config_updated(&vp);
	virtio_pci_config_interrupt_async(&vp); /* lock free: now */
	ck_assert_uint_eq(bar0_read(CC(config_generation), 1), (uint8_t)(gen + 1));
	ck_assert_uint_eq(read_isr(), ISR_CONFIG);

	virtio_pci_lock(&vp); /* a request being served */
	virtio_pci_config_updated(&vp);
	virtio_pci_config_interrupt_async(&vp);
	virtio_pci_config_interrupt_async(&vp); /* two before it ends: one interrupt */
	ck_assert_uint_eq(vp.generation, (uint8_t)(gen + 2)); /* the generation did not wait */
	ck_assert_int_eq(intx_level[gsi], 0);
	virtio_pci_unlock(&vp);
	ck_assert_int_eq(intx_level[gsi], 1);
	ck_assert_uint_eq(read_isr(), ISR_CONFIG);
	ck_assert_uint_eq(read_isr(), 0);
}
END_TEST

START_TEST(config_change_without_msix)
{
	uint8_t gen = (uint8_t)bar0_read(CC(config_generation), 1);

	/* Before DRIVER_OK: a new generation but no interrupt. */
	virtio_pci_lock(&vp);
	virtio_pci_config_changed(&vp);
	virtio_pci_unlock(&vp);
	ck_assert_uint_eq(bar0_read(CC(config_generation), 1), (uint8_t)(gen + 1));
	ck_assert_uint_eq(read_isr(), 0);
	ck_assert_int_eq(intx_level[gsi], 0);

	driver_init();
	gen = (uint8_t)bar0_read(CC(config_generation), 1);
	virtio_pci_lock(&vp);
	virtio_pci_config_changed(&vp);
	virtio_pci_unlock(&vp);
	ck_assert_uint_eq(bar0_read(CC(config_generation), 1), (uint8_t)(gen + 1));
	ck_assert_int_eq(intx_level[gsi], 1);
	ck_assert_uint_eq(read_isr(), ISR_CONFIG);
	ck_assert_int_eq(intx_level[gsi], 0);
	/* config_generation is read-only. */
	bar0_write(CC(config_generation), 1, 0x77);
	ck_assert_uint_eq(bar0_read(CC(config_generation), 1), (uint8_t)(gen + 1));
}
END_TEST

START_TEST(config_change_with_msix)
{
	driver_init();
	enable_msix();
	bar0_write(CC(msix_config), 2, 0);
	virtio_pci_lock(&vp);
	virtio_pci_config_changed(&vp);
	virtio_pci_unlock(&vp);
	ck_assert_uint_eq(msix_fired[0], 1);
	ck_assert_uint_eq(msix_data[0], 0x30);
	ck_assert_uint_eq(msix_fired[1], 0);
	ck_assert_uint_eq(read_isr(), 0);
	/* No MSI-X message (a memory write) while Bus Master is off. */
	cfg_write(PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	virtio_pci_lock(&vp);
	virtio_pci_config_changed(&vp);
	virtio_pci_unlock(&vp);
	ck_assert_uint_eq(msix_fired[0], 1);
	cfg_write(PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	/* config vector 0xFFFF: nothing. */
	bar0_write(CC(msix_config), 2, MSIX_NO_VECTOR);
	virtio_pci_lock(&vp);
	virtio_pci_config_changed(&vp);
	virtio_pci_unlock(&vp);
	ck_assert_uint_eq(msix_fired[0], 1);
	ck_assert_uint_eq(read_isr(), 0);
}
END_TEST

START_TEST(device_config_reads)
{
	for (unsigned o = 0; o < CONFIG_SIZE; o++)
		ck_assert_uint_eq(bar0_read(VIRTIO_PCI_DEVICE_OFFSET + o, 1), config_byte(o));
	ck_assert_uint_eq(bar0_read(VIRTIO_PCI_DEVICE_OFFSET + 4, 4),
			  0x87868584u); /* little-endian */
	ck_assert_uint_eq(bar0_read(VIRTIO_PCI_DEVICE_OFFSET + 8, 8), 0x8f8e8d8c8b8a8988ULL);
	ck_assert_uint_eq(bar0_read(VIRTIO_PCI_DEVICE_OFFSET + CONFIG_SIZE - 2, 2), 0xb7b6);
	/* Past config_size (or straddling its end): zeros, and read_config is not asked. */
	ck_assert_uint_eq(bar0_read(VIRTIO_PCI_DEVICE_OFFSET + CONFIG_SIZE, 4), 0);
	ck_assert_uint_eq(bar0_read(VIRTIO_PCI_DEVICE_OFFSET + CONFIG_SIZE - 2, 4), 0);
	ck_assert_uint_eq(bar0_read(VIRTIO_PCI_DEVICE_OFFSET + 0xffc, 4), 0);
	/* Writes are ignored. */
	bar0_write(VIRTIO_PCI_DEVICE_OFFSET, 4, 0);
	ck_assert_uint_eq(bar0_read(VIRTIO_PCI_DEVICE_OFFSET, 4), 0x83828180u);
}
END_TEST

START_TEST(unimplemented_bar0_reads_zero)
{
	ck_assert_uint_eq(bar0_read(CC(queue_used_hi) + 4, 4), 0);  /* after the struct */
	ck_assert_uint_eq(bar0_read(0x40, 4), 0);
	ck_assert_uint_eq(bar0_read(0xffc, 4), 0);
	ck_assert_uint_eq(bar0_read(0x3e, 4), 0);		    /* straddles the end of common */
	ck_assert_uint_eq(bar0_read(VIRTIO_PCI_BAR0_SIZE, 4), 0); /* past the BAR */
	bar0_write(0x40, 4, 0xffffffff);
	bar0_write(VIRTIO_PCI_BAR0_SIZE + 0x14, 1, 0xff);
	ck_assert_uint_eq(status(), 0);
}
END_TEST

/* ======================= the PCI_CFG window ======================= */

static unsigned pci_cfg_cap(void)
{
	struct vcap caps[8];
	unsigned msix, n = walk_caps(caps, 8, &msix);

	for (unsigned i = 0; i < n; i++)
		if (caps[i].type == VIRTIO_PCI_CAP_PCI_CFG)
			return caps[i].offset;
	ck_abort_msg("no PCI_CFG capability");
	return 0;
}

static void window(unsigned cap, uint8_t bar, uint32_t offset, uint32_t length)
{
	cfg_write(cap + 4, 1, bar);
	cfg_write(cap + 8, 4, offset);
	cfg_write(cap + 12, 4, length);
}

START_TEST(pci_cfg_window_reads_and_writes_bar0)
{
	unsigned cap = pci_cfg_cap();

	/* The driver-chosen fields read back. */
	window(cap, 0, (uint32_t)CC(num_queues), 2);
	ck_assert_uint_eq(cfg_read(cap + 4, 1), 0);
	ck_assert_uint_eq(cfg_read(cap + 8, 4), CC(num_queues));
	ck_assert_uint_eq(cfg_read(cap + 12, 4), 2);
	ck_assert_uint_eq(cfg_read(cap + 16, 4), 1);
	ck_assert_uint_eq(cfg_read(cap + 16, 2), 1);

	/* A write through the window reaches the common config. */
	window(cap, 0, (uint32_t)CC(device_feature_select), 4);
	cfg_write(cap + 16, 4, 1);
	ck_assert_uint_eq(bar0_read(CC(device_feature_select), 4), 1);
	window(cap, 0, (uint32_t)CC(device_feature), 4);
	ck_assert_uint_eq(cfg_read(cap + 16, 4), 1u << (VIRTIO_F_VERSION_1 - 32));

	/* Device config, one byte. */
	window(cap, 0, VIRTIO_PCI_DEVICE_OFFSET + 5, 1);
	ck_assert_uint_eq(cfg_read(cap + 16, 1), config_byte(5));

	/* Status through the window: write and read back. */
	window(cap, 0, (uint32_t)CC(device_status), 1);
	cfg_write(cap + 16, 1, ACK);
	ck_assert_uint_eq(status(), ACK);
	ck_assert_uint_eq(cfg_read(cap + 16, 1), ACK);
}
END_TEST

START_TEST(pci_cfg_window_reaches_bar2)
{
	unsigned cap = pci_cfg_cap();

	window(cap, VIRTIO_PCI_MSIX_BAR, 12, 4); /* entry 0 vector control */
	ck_assert_uint_eq(cfg_read(cap + 16, 4), 1);
	cfg_write(cap + 16, 4, 0);
	ck_assert_uint_eq(bar2_read(12, 4), 0);
}
END_TEST

START_TEST(pci_cfg_window_rejects_bad_geometry)
{
	unsigned cap = pci_cfg_cap();

	/* Length 3, misaligned offsets, a narrower access than length: no BAR access. */
	window(cap, 0, (uint32_t)CC(device_status), 3);
	cfg_write(cap + 16, 4, ACK);
	ck_assert_uint_eq(status(), 0);
	window(cap, 0, (uint32_t)CC(queue_select) + 1, 2);
	cfg_write(cap + 16, 2, 1);
	ck_assert_uint_eq(bar0_read(CC(queue_select), 2), 0);
	window(cap, 0, (uint32_t)CC(device_feature_select), 4);
	cfg_write(cap + 16, 2, 1);
	ck_assert_uint_eq(bar0_read(CC(device_feature_select), 4), 0);
	/* Unimplemented BARs and offsets outside the BAR do nothing. */
	window(cap, 1, 0, 4);
	cfg_write(cap + 16, 4, 1);
	window(cap, 0, VIRTIO_PCI_BAR0_SIZE + (uint32_t)CC(device_status), 1);
	cfg_write(cap + 16, 1, ACK);
	ck_assert_uint_eq(status(), 0);
}
END_TEST

/* Reading the ISR through the window acknowledges it like a BAR read. */
START_TEST(pci_cfg_window_isr_read_clears)
{
	unsigned cap = pci_cfg_cap();

	driver_init();
	offer_request(0);
	notify_queue(0);
	window(cap, 0, VIRTIO_PCI_ISR_OFFSET, 1);
	ck_assert_uint_eq(cfg_read(cap + 16, 1), ISR_QUEUE);
	ck_assert_int_eq(intx_level[gsi], 0);
	ck_assert_uint_eq(read_isr(), 0);
}
END_TEST

Suite *suite_main(void)
{
	Suite *suite = suite_create("virtio_pci");
	TCase *pci = tcase_create("pci");
	TCase *features = tcase_create("features");
	TCase *queues = tcase_create("queues");
	TCase *requests = tcase_create("requests");
	TCase *msix = tcase_create("msix");
	TCase *config = tcase_create("config");
	TCase *window_tc = tcase_create("pci_cfg window");

	tcase_add_checked_fixture(pci, setup, teardown);
	tcase_add_test(pci, pci_identity);
	tcase_add_test(pci, capability_chain);
	suite_add_tcase(suite, pci);

	tcase_add_checked_fixture(features, setup, teardown);
	tcase_add_test(features, feature_windows);
	tcase_add_test(features, driver_features_read_back);
	tcase_add_test(features, features_ok_refused_without_version_1);
	tcase_add_test(features, features_ok_refused_by_the_device);
	tcase_add_test(features, features_ok_refused_for_a_bit_not_offered);
	tcase_add_test(features, features_ok_accepted);
	tcase_add_test(features, features_ok_retry_after_refusal);
	tcase_add_test(features, driver_features_fixed_after_features_ok);
	suite_add_tcase(suite, features);

	tcase_add_checked_fixture(queues, setup, teardown);
	tcase_add_test(queues, queue_registers_after_reset);
	tcase_add_test(queues, absent_queue_reads_size_zero);
	tcase_add_test(queues, queue_address_halves_read_back);
	tcase_add_test(queues, enabled_queue_is_frozen);
	tcase_add_test(queues, rings_outside_ram_need_reset);
	tcase_add_test(queues, bad_queue_before_driver_ok_needs_reset_quietly);
	tcase_add_test(queues, queue_size_not_a_power_of_two_needs_reset);
	suite_add_tcase(suite, queues);

	tcase_add_checked_fixture(requests, setup, teardown);
	tcase_add_test(requests, request_processed_after_notify);
	tcase_add_test(requests, no_guest_memory_access_without_bus_master);
	tcase_add_test(requests, isr_is_read_only_and_only_byte_zero_clears);
	tcase_add_test(requests, no_interrupt_when_driver_suppresses_it);
	tcase_add_test(requests, notify_for_absent_queue_is_ignored);
	tcase_add_test(requests, nothing_processed_before_driver_ok);
	tcase_add_test(requests, indirect_descriptors_follow_negotiation);
	tcase_add_test(requests, device_error_needs_reset_until_reset);
	tcase_add_test(requests, reset_drops_a_pending_intx);
	tcase_add_test(requests, requests_processed_on_the_io_thread);
	tcase_add_test(requests, a_full_queue_is_served_in_bounded_turns);
	tcase_add_test(requests, init_rejects_bad_queue_geometry);
	suite_add_tcase(suite, requests);

	tcase_add_checked_fixture(msix, setup, teardown);
	tcase_add_test(msix, vector_registers_check_the_table_size);
	tcase_add_test(msix, queue_interrupt_through_msix);
	tcase_add_test(msix, msix_vector_none_sends_nothing);
	tcase_add_test(msix, masked_msix_vector_is_pending);
	tcase_add_test(msix, msix_table_through_bar2);
	suite_add_tcase(suite, msix);

	tcase_add_checked_fixture(config, setup, teardown);
	tcase_add_test(config, config_change_without_msix);
	tcase_add_test(config, config_change_async_waits_for_the_lock_holder);
	tcase_add_test(config, config_change_with_msix);
	tcase_add_test(config, device_config_reads);
	tcase_add_test(config, unimplemented_bar0_reads_zero);
	suite_add_tcase(suite, config);

	tcase_add_checked_fixture(window_tc, setup, teardown);
	tcase_add_test(window_tc, pci_cfg_window_reads_and_writes_bar0);
	tcase_add_test(window_tc, pci_cfg_window_reaches_bar2);
	tcase_add_test(window_tc, pci_cfg_window_rejects_bad_geometry);
	tcase_add_test(window_tc, pci_cfg_window_isr_read_clears);
	suite_add_tcase(suite, window_tc);
	return suite;
}
