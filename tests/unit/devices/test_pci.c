#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/layout.h"
#include "devices/pci.h"
#include "devices/pci_host.h"
#include "devices/io_bus.h"

/*
 * The fake machine: BARs are mapped on a real io_bus (so overlaps fail as
 * they would in tide) and every map/unmap is counted; INTx levels recorded.
 */
static struct io_bus mmio, pio;
static unsigned maps, unmaps;
static uint64_t last_map_addr, last_unmap_addr;
static int gsi_level[24];
static unsigned irq_calls;

static int fake_map(void *bus_opaque, uint64_t addr, uint64_t size, io_handler_fn handler,
		    void *opaque, const char *name, struct error *err)
{
	ck_assert_ptr_eq(bus_opaque, &mmio);
	if (io_bus_register(&mmio, addr, size, handler, opaque, name, err))
		return -1;
	maps++;
	last_map_addr = addr;
	return 0;
}

static void fake_unmap(void *bus_opaque, uint64_t addr, uint64_t size, void *opaque)
{
	(void)size;
	ck_assert_ptr_eq(bus_opaque, &mmio);
	ck_assert_int_eq(io_bus_unregister(&mmio, addr, opaque), 0);
	unmaps++;
	last_unmap_addr = addr;
}

static void fake_set_irq(void *bus_opaque, unsigned gsi, int level)
{
	ck_assert_ptr_eq(bus_opaque, &mmio);
	ck_assert_uint_lt(gsi, 24);
	gsi_level[gsi] = level;
	irq_calls++;
}

static const struct pci_bus_ops fake_ops = { fake_map, fake_unmap, fake_set_irq };

static struct pci_bus *bus;
static struct pci_device host;

/* A BAR handler that records the last access. */
struct bar_log {
	uint64_t offset;
	uint64_t value;
	unsigned len;
	bool is_write;
	unsigned count;
};

static void bar_handler(void *opaque, uint64_t offset, uint8_t *data, unsigned len,
			bool is_write)
{
	struct bar_log *log = opaque;

	log->offset = offset;
	log->len = len;
	log->is_write = is_write;
	log->count++;
	if (is_write)
		log->value = io_data_get(data, len);
	else
		io_data_put(data, len, 0xabcd0000 + offset);
}

static void setup(void)
{
	struct error err;

	maps = unmaps = irq_calls = 0;
	memset(gsi_level, 0, sizeof(gsi_level));
	io_bus_init(&mmio, "mmio");
	io_bus_init(&pio, "pio");
	bus = pci_bus_new(&fake_ops, &mmio, LAYOUT_MMIO32_START, LAYOUT_MMIO32_END);
	ck_assert_ptr_nonnull(bus);
	pci_host_bridge_init(&host);
	ck_assert_int_eq(pci_bus_add(bus, &host, 0, &err), 0);
	ck_assert_int_eq(io_bus_register(&pio, PCI_CONFIG_ADDRESS_PORT, PCI_CONFIG_PORTS_LEN,
					 pci_config_io, bus, "pci-config", &err), 0);
}

static void teardown(void)
{
	pci_bus_free(bus);
	pci_device_destroy(&host);
	io_bus_destroy(&pio);
	io_bus_destroy(&mmio);
}

/* Port I/O through the dispatcher, as a vCPU exit would do it. */
static uint32_t in(uint16_t port, unsigned len)
{
	uint8_t data[4] = { 0x5a, 0x5a, 0x5a, 0x5a };

	io_bus_dispatch(&pio, port, data, len, false);
	return (uint32_t)io_data_get(data, len);
}

static void out(uint16_t port, unsigned len, uint32_t v)
{
	uint8_t data[4];

	io_data_put(data, len, v);
	io_bus_dispatch(&pio, port, data, len, true);
}

static uint32_t cfg_addr(unsigned bus_nr, unsigned slot, unsigned fn, unsigned offset)
{
	return PCI_CONFIG_ENABLE | bus_nr << 16 | slot << 11 | fn << 8 | (offset & 0xfc);
}

static uint32_t cfg_read(unsigned slot, unsigned offset, unsigned len)
{
	out(PCI_CONFIG_ADDRESS_PORT, 4, cfg_addr(0, slot, 0, offset));
	return in(PCI_CONFIG_DATA_PORT + (offset & 3), len);
}

static void cfg_write(unsigned slot, unsigned offset, unsigned len, uint32_t v)
{
	out(PCI_CONFIG_ADDRESS_PORT, 4, cfg_addr(0, slot, 0, offset));
	out(PCI_CONFIG_DATA_PORT + (offset & 3), len, v);
}

static uint64_t mmio_read(uint64_t addr, unsigned len, bool *hit)
{
	uint8_t data[8];

	*hit = io_bus_dispatch(&mmio, addr, data, len, false);
	return io_data_get(data, len);
}

START_TEST(config_address_reads_back)
{
	out(PCI_CONFIG_ADDRESS_PORT, 4, 0x80000000);
	ck_assert_uint_eq(in(PCI_CONFIG_ADDRESS_PORT, 4), 0x80000000);
	out(PCI_CONFIG_ADDRESS_PORT, 4, 0x8001fa54);
	ck_assert_uint_eq(in(PCI_CONFIG_ADDRESS_PORT, 4), 0x8001fa54);
	/* Linux's probe writes a byte to 0xCFB first: not CONFIG_ADDRESS. */
	out(0xcfb, 1, 0x01);
	out(0xcf8, 2, 0x1234);
	ck_assert_uint_eq(in(PCI_CONFIG_ADDRESS_PORT, 4), 0x8001fa54);
	ck_assert_uint_eq(in(0xcf8, 1), 0xff);
	ck_assert_uint_eq(in(0xcfa, 2), 0xffff);
}
END_TEST

START_TEST(disabled_or_absent_reads_ones)
{
	/* Enable bit clear: all ones, writes ignored. */
	out(PCI_CONFIG_ADDRESS_PORT, 4, cfg_addr(0, 0, 0, 0) & ~PCI_CONFIG_ENABLE);
	ck_assert_uint_eq(in(PCI_CONFIG_DATA_PORT, 4), 0xffffffff);
	out(PCI_CONFIG_ADDRESS_PORT, 4, (cfg_addr(0, 0, 0, PCI_COMMAND) & ~PCI_CONFIG_ENABLE));
	out(PCI_CONFIG_DATA_PORT, 2, PCI_COMMAND_MASTER);
	ck_assert_uint_eq(cfg_read(0, PCI_COMMAND, 2), 0);
	/* No device: vendor 0xFFFF. */
	ck_assert_uint_eq(cfg_read(5, PCI_VENDOR_ID, 2), 0xffff);
	ck_assert_uint_eq(cfg_read(31, PCI_VENDOR_ID, 4), 0xffffffff);
	ck_assert_uint_eq(cfg_read(5, 0x3f, 1), 0xff);
	out(PCI_CONFIG_ADDRESS_PORT, 4, cfg_addr(1, 0, 0, 0)); /* bus 1 */
	ck_assert_uint_eq(in(PCI_CONFIG_DATA_PORT, 2), 0xffff);
	out(PCI_CONFIG_ADDRESS_PORT, 4, cfg_addr(0, 0, 1, 0)); /* function 1 of the host */
	ck_assert_uint_eq(in(PCI_CONFIG_DATA_PORT, 2), 0xffff);
	cfg_write(5, PCI_COMMAND, 2, 0xffff); /* harmless */
	ck_assert_uint_eq(pci_bus_config_read(bus, 0, PCI_DEVFN(5, 0), 0, 4), 0xffffffff);
}
END_TEST

START_TEST(host_bridge_identity)
{
	ck_assert_uint_eq(cfg_read(0, PCI_VENDOR_ID, 2), 0x8086);
	ck_assert_uint_eq(cfg_read(0, PCI_DEVICE_ID, 2), 0x1237);
	ck_assert_uint_eq(cfg_read(0, PCI_CLASS_REVISION, 4) >> 8, 0x060000);
	ck_assert_uint_eq(cfg_read(0, PCI_CLASS_DEVICE, 2), 0x0600); /* what Linux checks */
	ck_assert_uint_eq(cfg_read(0, PCI_HEADER_TYPE, 1), 0); /* type 0, single function */
}
END_TEST

START_TEST(every_width_at_every_offset)
{
	for (unsigned reg = 0; reg < PCI_CONFIG_SIZE; reg += 4) {
		uint32_t dword = cfg_read(0, reg, 4);

		ck_assert_uint_eq(dword, pci_config_get(&host, reg, 4));
		for (unsigned k = 0; k < 4; k++)
			ck_assert_uint_eq(cfg_read(0, reg + k, 1), (dword >> (8 * k)) & 0xff);
		for (unsigned k = 0; k < 3; k++)
			ck_assert_uint_eq(cfg_read(0, reg + k, 2), (dword >> (8 * k)) & 0xffff);
	}
	ck_assert_uint_eq(cfg_read(0, 0, 4), 0x12378086);
	ck_assert_uint_eq(cfg_read(0, 1, 2), 0x3780);
	ck_assert_uint_eq(cfg_read(0, 3, 1), 0x12);
}
END_TEST

START_TEST(straddling_accesses_are_rejected)
{
	uint8_t data[4] = { 0, 0, 0, 0 };

	out(PCI_CONFIG_ADDRESS_PORT, 4, cfg_addr(0, 0, 0, 0));
	/* Beyond 0xCFF: not ours at all. */
	ck_assert(!io_bus_dispatch(&pio, 0xcfe, data, 4, false));
	ck_assert_uint_eq(io_data_get(data, 4), 0xffffffff);
	ck_assert(!io_bus_dispatch(&pio, 0xcff, data, 2, false));
	/* Across CONFIG_ADDRESS / CONFIG_DATA: dropped. */
	ck_assert_uint_eq(in(0xcfa, 4), 0xffffffff);
	out(0xcfa, 4, 0);
	ck_assert_uint_eq(in(PCI_CONFIG_ADDRESS_PORT, 4), cfg_addr(0, 0, 0, 0));
	ck_assert_uint_eq(in(PCI_CONFIG_DATA_PORT, 2), 0x8086);
	/* The internal entry points refuse ranges past 256 and odd widths. */
	ck_assert_uint_eq(pci_bus_config_read(bus, 0, 0, 0xfe, 4), 0xffffffff);
	ck_assert_uint_eq(pci_bus_config_read(bus, 0, 0, 0x00, 3), 0xffffff);
	pci_bus_config_write(bus, 0, 0, 0xff, 2, 0xffff);
}
END_TEST

START_TEST(read_only_bytes)
{
	const uint32_t id = cfg_read(0, 0, 4), class = cfg_read(0, PCI_CLASS_REVISION, 4);

	cfg_write(0, PCI_VENDOR_ID, 4, 0xffffffff);
	cfg_write(0, PCI_VENDOR_ID, 1, 0);
	ck_assert_uint_eq(cfg_read(0, 0, 4), id);
	cfg_write(0, PCI_CLASS_REVISION, 4, 0);
	ck_assert_uint_eq(cfg_read(0, PCI_CLASS_REVISION, 4), class);
	cfg_write(0, PCI_HEADER_TYPE, 1, 0x80);
	ck_assert_uint_eq(cfg_read(0, PCI_HEADER_TYPE, 1), 0);
	cfg_write(0, PCI_SUBSYSTEM_VENDOR_ID, 4, 0);
	ck_assert_uint_eq(cfg_read(0, PCI_SUBSYSTEM_VENDOR_ID, 2), 0x1af4);
	cfg_write(0, PCI_CAPABILITY_LIST, 1, 0x40);
	ck_assert_uint_eq(cfg_read(0, PCI_CAPABILITY_LIST, 1), 0);
	cfg_write(0, PCI_INTERRUPT_PIN, 1, 1);
	ck_assert_uint_eq(cfg_read(0, PCI_INTERRUPT_PIN, 1), 0);
	cfg_write(0, PCI_ROM_ADDRESS, 4, 0xffffffff); /* no expansion ROM */
	ck_assert_uint_eq(cfg_read(0, PCI_ROM_ADDRESS, 4), 0);
	cfg_write(0, 0x80, 4, 0xffffffff); /* device-specific area, nothing there */
	ck_assert_uint_eq(cfg_read(0, 0x80, 4), 0);

	/* Command: only memory, bus master and INTx disable. Status: read-only here. */
	cfg_write(0, PCI_COMMAND, 4, 0xffffffff);
	ck_assert_uint_eq(cfg_read(0, PCI_COMMAND, 2),
			  PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE);
	ck_assert_uint_eq(cfg_read(0, PCI_STATUS, 2), 0);
	cfg_write(0, PCI_COMMAND, 2, 0);
	ck_assert_uint_eq(cfg_read(0, PCI_COMMAND, 2), 0);

	/* Plain read/write registers. */
	cfg_write(0, PCI_CACHE_LINE_SIZE, 1, 0x10);
	ck_assert_uint_eq(cfg_read(0, PCI_CACHE_LINE_SIZE, 1), 0x10);
	cfg_write(0, PCI_INTERRUPT_LINE, 1, 0x0b);
	ck_assert_uint_eq(cfg_read(0, PCI_INTERRUPT_LINE, 1), 0x0b);
}
END_TEST

START_TEST(status_error_bits_are_write_one_to_clear)
{
	pci_config_set(&host, PCI_STATUS, 2, PCI_STATUS_REC_MASTER_ABORT | PCI_STATUS_CAP_LIST);
	cfg_write(0, PCI_STATUS, 2, 0); /* writing 0 clears nothing */
	ck_assert_uint_eq(cfg_read(0, PCI_STATUS, 2),
			  PCI_STATUS_REC_MASTER_ABORT | PCI_STATUS_CAP_LIST);
	cfg_write(0, PCI_STATUS, 2, 0xffff);
	ck_assert_uint_eq(cfg_read(0, PCI_STATUS, 2), PCI_STATUS_CAP_LIST);
}
END_TEST

/* A device with BAR0 32-bit 4 KiB, BAR2 64-bit 16 KiB, BAR5 32-bit 16 bytes. */
static struct pci_device dev;
static struct bar_log blog0, blog2, blog5;

static void add_test_device(struct pci_device *d, int slot, struct bar_log *l0,
			    struct bar_log *l2, struct bar_log *l5)
{
	struct error err;

	pci_device_init(d, "testdev", 0x1af4, 0x1058, 0xff0000, 1);
	ck_assert_int_eq(pci_declare_bar(d, 0, 0x1000, false, bar_handler, l0, &err), 0);
	ck_assert_int_eq(pci_declare_bar(d, 2, 0x4000, true, bar_handler, l2, &err), 0);
	ck_assert_int_eq(pci_declare_bar(d, 5, 16, false, bar_handler, l5, &err), 0);
	ck_assert_int_eq(pci_bus_add(bus, d, slot, &err), slot == -1 ? 1 : slot);
}

START_TEST(bar_preassignment)
{
	uint64_t a0, a2, a5;

	add_test_device(&dev, 3, &blog0, &blog2, &blog5);
	a0 = pci_bar_address(&dev, 0);
	a2 = pci_bar_address(&dev, 2);
	a5 = pci_bar_address(&dev, 5);
	ck_assert_uint_ge(a0, LAYOUT_MMIO32_START);
	ck_assert_uint_le(a2 + 0x4000, LAYOUT_MMIO32_END);
	ck_assert_uint_eq(a0 % 0x1000, 0);
	ck_assert_uint_eq(a2 % 0x4000, 0);
	ck_assert_uint_eq(a5 % 16, 0);
	ck_assert(a0 + 0x1000 <= a2 || a2 + 0x4000 <= a0);
	ck_assert(a5 + 16 <= a0 || a5 >= a2 + 0x4000);
	ck_assert_uint_eq(cfg_read(3, PCI_BASE_ADDRESS_0, 4), a0);
	ck_assert_uint_eq(cfg_read(3, PCI_BASE_ADDRESS_2, 4), (uint32_t)a2 | 0x4);
	ck_assert_uint_eq(cfg_read(3, PCI_BASE_ADDRESS_3, 4), a2 >> 32);
	ck_assert_uint_eq(cfg_read(3, PCI_BASE_ADDRESS_1, 4), 0); /* not implemented */
	ck_assert_uint_eq(maps, 0); /* memory decoding is off until the guest enables it */
	pci_bus_remove(&dev);
	pci_device_destroy(&dev);
}
END_TEST

START_TEST(bar_sizing)
{
	uint32_t saved0, saved2, saved3;

	add_test_device(&dev, 3, &blog0, &blog2, &blog5);
	saved0 = cfg_read(3, PCI_BASE_ADDRESS_0, 4);
	saved2 = cfg_read(3, PCI_BASE_ADDRESS_2, 4);
	saved3 = cfg_read(3, PCI_BASE_ADDRESS_3, 4);

	cfg_write(3, PCI_BASE_ADDRESS_0, 4, 0xffffffff);
	ck_assert_uint_eq(cfg_read(3, PCI_BASE_ADDRESS_0, 4), 0xfffff000);
	cfg_write(3, PCI_BASE_ADDRESS_0, 4, saved0);
	ck_assert_uint_eq(cfg_read(3, PCI_BASE_ADDRESS_0, 4), saved0);

	/* 64-bit: low dword keeps the type bits, upper dword sizes the high half. */
	cfg_write(3, PCI_BASE_ADDRESS_2, 4, 0xffffffff);
	cfg_write(3, PCI_BASE_ADDRESS_3, 4, 0xffffffff);
	ck_assert_uint_eq(cfg_read(3, PCI_BASE_ADDRESS_2, 4), 0xffffc004);
	ck_assert_uint_eq(cfg_read(3, PCI_BASE_ADDRESS_3, 4), 0xffffffff);
	cfg_write(3, PCI_BASE_ADDRESS_2, 4, saved2);
	cfg_write(3, PCI_BASE_ADDRESS_3, 4, saved3);
	ck_assert_uint_eq(cfg_read(3, PCI_BASE_ADDRESS_2, 4), saved2);
	ck_assert_uint_eq(cfg_read(3, PCI_BASE_ADDRESS_3, 4), saved3);

	cfg_write(3, PCI_BASE_ADDRESS_5, 4, 0xffffffff);
	ck_assert_uint_eq(cfg_read(3, PCI_BASE_ADDRESS_5, 4), 0xfffffff0);
	cfg_write(3, PCI_BASE_ADDRESS_1, 4, 0xffffffff);
	ck_assert_uint_eq(cfg_read(3, PCI_BASE_ADDRESS_1, 4), 0);
	cfg_write(3, PCI_BASE_ADDRESS_4, 4, 0xffffffff);
	ck_assert_uint_eq(cfg_read(3, PCI_BASE_ADDRESS_4, 4), 0);
	/* Byte-wise sizing works too. */
	cfg_write(3, PCI_BASE_ADDRESS_0 + 1, 1, 0xff);
	ck_assert_uint_eq(cfg_read(3, PCI_BASE_ADDRESS_0, 4), (saved0 & 0xffff00ff) | 0xf000);
	ck_assert_uint_eq(maps, 0);
	pci_bus_remove(&dev);
	pci_device_destroy(&dev);
}
END_TEST

START_TEST(bar_64bit_larger_than_4g)
{
	struct pci_device big;
	struct error err;
	struct bar_log l;
	struct pci_bus *wide = pci_bus_new(&fake_ops, &mmio, 0x400000000ULL, 0x1000000000ULL);

	pci_device_init(&big, "big", 0x1af4, 0x1058, 0xff0000, 1);
	ck_assert_int_eq(pci_declare_bar(&big, 0, 8ULL << 30, true, bar_handler, &l, &err), 0);
	ck_assert_int_eq(pci_bus_add(wide, &big, 2, &err), 2);
	ck_assert_uint_eq(pci_bar_address(&big, 0), 0x400000000ULL);
	pci_bus_config_write(wide, 0, PCI_DEVFN(2, 0), PCI_BASE_ADDRESS_0, 4, 0xffffffff);
	pci_bus_config_write(wide, 0, PCI_DEVFN(2, 0), PCI_BASE_ADDRESS_1, 4, 0xffffffff);
	ck_assert_uint_eq(pci_bus_config_read(wide, 0, PCI_DEVFN(2, 0), PCI_BASE_ADDRESS_0, 4),
			  0x00000004);
	ck_assert_uint_eq(pci_bus_config_read(wide, 0, PCI_DEVFN(2, 0), PCI_BASE_ADDRESS_1, 4),
			  0xfffffffe);
	pci_bus_remove(&big);
	pci_bus_free(wide);
	pci_device_destroy(&big);
}
END_TEST

START_TEST(bar_declaration_errors)
{
	struct pci_device d;
	struct error err;
	struct bar_log l;

	pci_device_init(&d, "d", 0x1af4, 0x1058, 0xff0000, 1);
	ck_assert_int_eq(pci_declare_bar(&d, 0, 8, false, bar_handler, &l, &err), -1);
	ck_assert_int_eq(pci_declare_bar(&d, 0, 0x3000, false, bar_handler, &l, &err), -1);
	ck_assert_int_eq(pci_declare_bar(&d, 6, 0x1000, false, bar_handler, &l, &err), -1);
	ck_assert_int_eq(pci_declare_bar(&d, 5, 0x1000, true, bar_handler, &l, &err), -1);
	ck_assert_int_eq(pci_declare_bar(&d, 0, 0x1000, false, NULL, &l, &err), -1);
	ck_assert_int_eq(pci_declare_bar(&d, 0, 1ULL << 32, false, bar_handler, &l, &err), -1);
	ck_assert_int_eq(pci_declare_bar(&d, 1, 0x1000, true, bar_handler, &l, &err), 0);
	ck_assert_int_eq(pci_declare_bar(&d, 2, 0x1000, false, bar_handler, &l, &err), -1);
	ck_assert_int_eq(pci_declare_bar(&d, 1, 0x1000, false, bar_handler, &l, &err), -1);
	ck_assert_int_eq(pci_declare_bar(&d, 0, 0x1000, true, bar_handler, &l, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "BAR 0"));
	/* Too big for the window: adding fails and leaves the slot free. */
	ck_assert_int_eq(pci_declare_bar(&d, 4, 1ULL << 31, false, bar_handler, &l, &err), 0);
	ck_assert_int_eq(pci_bus_add(bus, &d, 4, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "no room"));
	ck_assert_uint_eq(cfg_read(4, PCI_VENDOR_ID, 2), 0xffff);
	pci_device_destroy(&d);
}
END_TEST

START_TEST(bar_map_unmap_move)
{
	uint64_t a0, a2, target;
	bool hit;

	add_test_device(&dev, 3, &blog0, &blog2, &blog5);
	a0 = pci_bar_address(&dev, 0);
	a2 = pci_bar_address(&dev, 2);

	ck_assert_uint_eq(mmio_read(a0, 4, &hit), 0xffffffff); /* not decoded yet */
	ck_assert(!hit);
	cfg_write(3, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	ck_assert_uint_eq(maps, 3);
	ck_assert_uint_eq(mmio_read(a0 + 0x10, 4, &hit), 0xabcd0010);
	ck_assert(hit);
	ck_assert_uint_eq(blog0.offset, 0x10);
	ck_assert_uint_eq(mmio_read(a2 + 0x3ffc, 4, &hit), 0xabcd3ffc);
	ck_assert_uint_eq(blog2.count, 1);

	/* Clearing the memory bit unmaps everything; setting it maps again. */
	cfg_write(3, PCI_COMMAND, 2, PCI_COMMAND_MASTER);
	ck_assert_uint_eq(unmaps, 3);
	mmio_read(a0, 4, &hit);
	ck_assert(!hit);
	cfg_write(3, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	ck_assert_uint_eq(maps, 6);

	/* Move BAR0 while decoding: unmapped at the old place, mapped at the new. */
	target = 0xd0000000;
	cfg_write(3, PCI_BASE_ADDRESS_0, 4, (uint32_t)target);
	ck_assert_uint_eq(unmaps, 4);
	ck_assert_uint_eq(last_unmap_addr, a0);
	ck_assert_uint_eq(maps, 7);
	ck_assert_uint_eq(last_map_addr, target);
	mmio_read(a0, 4, &hit);
	ck_assert(!hit);
	ck_assert_uint_eq(mmio_read(target + 4, 4, &hit), 0xabcd0004);
	ck_assert(hit);

	/* Move the 64-bit BAR above 4 GiB, dword by dword as Linux does. */
	cfg_write(3, PCI_BASE_ADDRESS_2, 4, 0x00004004);
	cfg_write(3, PCI_BASE_ADDRESS_3, 4, 0x1);
	ck_assert_uint_eq(pci_bar_address(&dev, 2), 0x100004000ULL);
	ck_assert_uint_eq(last_map_addr, 0x100004000ULL);
	ck_assert_uint_eq(mmio_read(0x100004008ULL, 2, &hit), 0x0008);
	ck_assert(hit);
	mmio_read(a2, 4, &hit);
	ck_assert(!hit);
	/* Rewriting the same address changes nothing. */
	maps = unmaps = 0;
	cfg_write(3, PCI_BASE_ADDRESS_3, 4, 0x1);
	cfg_write(3, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	ck_assert_uint_eq(maps + unmaps, 0);

	pci_bus_remove(&dev);
	ck_assert_uint_eq(unmaps, 3);
	ck_assert_uint_eq(mmio.count, 0);
	pci_device_destroy(&dev);
}
END_TEST

START_TEST(bad_placement_never_crashes)
{
	struct pci_device other;
	struct bar_log l0 = { 0 }, l2 = { 0 }, l5 = { 0 };
	uint64_t a0, b0;
	bool hit;

	add_test_device(&dev, 3, &blog0, &blog2, &blog5);
	add_test_device(&other, 4, &l0, &l2, &l5);
	a0 = pci_bar_address(&dev, 0);
	b0 = pci_bar_address(&other, 0);
	cfg_write(3, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	cfg_write(4, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	ck_assert_uint_eq(maps, 6);

	/* other's BAR0 onto dev's BAR0: left unmapped. */
	cfg_write(4, PCI_BASE_ADDRESS_0, 4, (uint32_t)a0);
	ck_assert_uint_eq(mmio_read(a0, 4, &hit), 0xabcd0000);
	ck_assert_uint_eq(blog0.count, 1);
	ck_assert_uint_eq(l0.count, 0);
	mmio_read(b0, 4, &hit);
	ck_assert(!hit);
	/* Once dev's BAR0 moves away (to other's old place), other's BAR0 gets its spot. */
	cfg_write(3, PCI_BASE_ADDRESS_0, 4, (uint32_t)b0);
	mmio_read(a0, 4, &hit);
	ck_assert(hit);
	ck_assert_uint_eq(l0.count, 1);
	mmio_read(b0, 4, &hit);
	ck_assert(hit);
	ck_assert_uint_eq(blog0.count, 2);

	/* The sizing pattern and address 0 are never decoded. */
	cfg_write(3, PCI_BASE_ADDRESS_0, 4, 0xffffffff);
	mmio_read(0xfffff000, 4, &hit);
	ck_assert(!hit);
	cfg_write(3, PCI_BASE_ADDRESS_0, 4, 0);
	mmio_read(0, 4, &hit);
	ck_assert(!hit);
	cfg_write(3, PCI_BASE_ADDRESS_2, 4, 0xffffffff);
	cfg_write(3, PCI_BASE_ADDRESS_3, 4, 0xffffffff);
	cfg_write(3, PCI_BASE_ADDRESS_5, 4, 0xfffffff0);
	ck_assert_uint_eq(mmio.count, 3); /* other's three BARs only */

	pci_bus_remove(&other);
	pci_bus_remove(&dev);
	ck_assert_uint_eq(mmio.count, 0);
	pci_device_destroy(&other);
	pci_device_destroy(&dev);
}
END_TEST

static unsigned map_events;
static void count_bar_map(struct pci_device *d, unsigned bar, uint64_t addr, bool mapped)
{
	ck_assert_ptr_eq(d, &dev);
	ck_assert_uint_eq(bar, 0);
	ck_assert_uint_eq(addr, pci_bar_address(d, 0));
	map_events += mapped ? 1 : 100;
}

START_TEST(bar_map_hook)
{
	struct error err;

	pci_device_init(&dev, "hooked", 0x1af4, 0x1058, 0xff0000, 1);
	dev.bar_map = count_bar_map;
	ck_assert_int_eq(pci_declare_bar(&dev, 0, 0x1000, false, bar_handler, &blog0, &err), 0);
	ck_assert_int_eq(pci_bus_add(bus, &dev, -1, &err), 1);
	map_events = 0;
	cfg_write(1, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	ck_assert_uint_eq(map_events, 1);
	cfg_write(1, PCI_COMMAND, 2, 0);
	ck_assert_uint_eq(map_events, 101);
	pci_bus_remove(&dev);
	pci_device_destroy(&dev);
}
END_TEST

START_TEST(capability_list)
{
	struct pci_device d;
	struct error err;
	unsigned off, chain[4], n = 0;

	pci_device_init(&d, "caps", 0x1af4, 0x1058, 0xff0000, 1);
	ck_assert_uint_eq(pci_config_get(&d, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST, 0);
	ck_assert_int_eq(pci_add_capability(&d, 0x09, 16), 0x40);
	ck_assert_int_eq(pci_add_capability(&d, 0x09, 20), 0x50);
	ck_assert_int_eq(pci_add_capability(&d, 0x09, 17), 0x64);
	ck_assert_int_eq(pci_add_capability(&d, 0x11, 12), 0x78); /* dword aligned after 0x75 */
	ck_assert_int_eq(pci_add_capability(&d, 0x05, 200), -1);  /* does not fit */
	ck_assert_int_eq(pci_add_capability(&d, 0x05, 1), -1);
	pci_config_set(&d, 0x78 + 2, 2, 0x0001);	       /* MSI-X table size 2 */
	pci_config_set_wmask(&d, 0x78 + 2, 2, 0xc000); /* enable + function mask */
	ck_assert_int_eq(pci_bus_add(bus, &d, 7, &err), 7);

	/* Walk it as a guest does. */
	ck_assert_uint_eq(cfg_read(7, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST, PCI_STATUS_CAP_LIST);
	for (off = cfg_read(7, PCI_CAPABILITY_LIST, 1); off; off = cfg_read(7, off + 1, 1)) {
		ck_assert_uint_lt(n, 4);
		chain[n++] = off;
	}
	ck_assert_uint_eq(n, 4);
	ck_assert_uint_eq(chain[0], 0x40);
	ck_assert_uint_eq(chain[1], 0x50);
	ck_assert_uint_eq(chain[2], 0x64);
	ck_assert_uint_eq(chain[3], 0x78);
	ck_assert_uint_eq(cfg_read(7, 0x40, 1), 0x09);
	ck_assert_uint_eq(cfg_read(7, 0x78, 1), 0x11);

	/* Capability bodies are read-only unless the device opened bits. */
	cfg_write(7, 0x40, 4, 0xffffffff);
	ck_assert_uint_eq(cfg_read(7, 0x40, 2), 0x5009);
	cfg_write(7, 0x78, 4, 0xffffffff);
	ck_assert_uint_eq(cfg_read(7, 0x78, 4), 0xc0010011);
	cfg_write(7, 0x7a, 2, 0x0000);
	ck_assert_uint_eq(cfg_read(7, 0x7a, 2), 0x0001);
	pci_bus_remove(&d);
	pci_device_destroy(&d);
}
END_TEST

START_TEST(slots)
{
	/* static: they stay on the bus until teardown's pci_bus_free() */
	static struct pci_device many[PCI_MAX_SLOTS], extra;
	struct error err;

	pci_device_init(&many[0], "first", 0x1af4, 0x1058, 0xff0000, 1);
	ck_assert_int_eq(pci_bus_add(bus, &many[0], -1, &err), 1); /* the host has slot 0 */
	pci_device_init(&many[1], "second", 0x1af4, 0x1058, 0xff0000, 1);
	ck_assert_int_eq(pci_bus_add(bus, &many[1], 1, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "slot 1 is already used by first"));
	ck_assert_int_eq(pci_bus_add(bus, &many[1], 32, &err), -1);
	ck_assert_int_eq(pci_bus_add(bus, &many[1], -2, &err), -1);
	ck_assert_int_eq(pci_bus_add(bus, &many[0], 9, &err), -1); /* already on the bus */
	ck_assert_int_eq(pci_bus_add(bus, &many[1], 31, &err), 31);
	for (int i = 2; i < PCI_MAX_SLOTS - 1; i++) {
		pci_device_init(&many[i], "filler", 0x1af4, 0x1058, 0xff0000, 1);
		ck_assert_int_eq(pci_bus_add(bus, &many[i], -1, &err), i);
	}
	pci_device_init(&extra, "extra", 0x1af4, 0x1058, 0xff0000, 1);
	ck_assert_int_eq(pci_bus_add(bus, &extra, -1, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "in use"));
	/* Removing one frees its slot. */
	pci_bus_remove(&many[5]);
	ck_assert_uint_eq(cfg_read(5, PCI_VENDOR_ID, 2), 0xffff);
	ck_assert_int_eq(pci_bus_add(bus, &extra, -1, &err), 5);
	ck_assert_uint_eq(cfg_read(5, PCI_VENDOR_ID, 2), 0x1af4);
	/* pci_bus_free() in teardown detaches the rest. */
}
END_TEST

static unsigned writes_seen;
static void hook_write(struct pci_device *d, unsigned offset, unsigned len, uint32_t value)
{
	/* Runs after the generic write: the masked result is already there. */
	writes_seen++;
	ck_assert_uint_eq(offset, 0x44);
	ck_assert_uint_eq(len, 2);
	ck_assert_uint_eq(value, 0xffff);
	ck_assert_uint_eq(pci_config_get(d, 0x44, 2), 0x00f0);
}

static void hook_read(struct pci_device *d, unsigned offset, unsigned len, uint32_t *value)
{
	(void)d;
	if (offset == 0x48 && len == 4)
		*value = 0xfeedface;
}

START_TEST(config_hooks)
{
	struct pci_device d;
	struct error err;

	pci_device_init(&d, "hooks", 0x1af4, 0x1058, 0xff0000, 1);
	d.config_write = hook_write;
	d.config_read = hook_read;
	ck_assert_int_eq(pci_add_capability(&d, 0x09, 16), 0x40);
	pci_config_set_wmask(&d, 0x44, 2, 0x00f0);
	ck_assert_int_eq(pci_bus_add(bus, &d, 2, &err), 2);
	writes_seen = 0;
	cfg_write(2, 0x44, 2, 0xffff);
	ck_assert_uint_eq(writes_seen, 1);
	ck_assert_uint_eq(cfg_read(2, 0x48, 4), 0xfeedface);
	ck_assert_uint_eq(cfg_read(2, 0x48, 2), 0);
	pci_bus_remove(&d);
	pci_device_destroy(&d);
}
END_TEST

START_TEST(intx_routing)
{
	struct pci_device a, b;
	struct error err;
	unsigned gsi;

	pci_device_init(&a, "a", 0x1af4, 0x1058, 0xff0000, 1);
	pci_device_init(&b, "b", 0x1af4, 0x1058, 0xff0000, 1);
	pci_use_intx(&a);
	pci_use_intx(&b);
	ck_assert_int_eq(pci_bus_add(bus, &a, 3, &err), 3);
	ck_assert_int_eq(pci_bus_add(bus, &b, 11, &err), 11); /* same GSI as slot 3 */
	gsi = pci_intx_gsi(3, 1);
	ck_assert_uint_eq(gsi, 19);
	ck_assert_uint_eq(pci_intx_gsi(11, 1), 19);
	ck_assert_uint_eq(cfg_read(3, PCI_INTERRUPT_PIN, 1), 1);
	ck_assert_uint_eq(cfg_read(3, PCI_INTERRUPT_LINE, 1), 19);

	pci_set_irq(&a, 1);
	ck_assert_int_eq(gsi_level[gsi], 1);
	ck_assert_uint_eq(cfg_read(3, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT, PCI_STATUS_INTERRUPT);
	pci_set_irq(&b, 1); /* shared line already up */
	ck_assert_uint_eq(irq_calls, 1);
	pci_set_irq(&a, 0);
	ck_assert_int_eq(gsi_level[gsi], 1); /* b still asserts */
	pci_set_irq(&b, 0);
	ck_assert_int_eq(gsi_level[gsi], 0);
	ck_assert_uint_eq(irq_calls, 2);

	/* INTx disable masks the pin but not the status bit. */
	pci_set_irq(&a, 1);
	ck_assert_int_eq(gsi_level[gsi], 1);
	cfg_write(3, PCI_COMMAND, 2, PCI_COMMAND_INTX_DISABLE);
	ck_assert_int_eq(gsi_level[gsi], 0);
	ck_assert_uint_eq(cfg_read(3, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT, PCI_STATUS_INTERRUPT);
	cfg_write(3, PCI_COMMAND, 2, 0);
	ck_assert_int_eq(gsi_level[gsi], 1);
	pci_bus_remove(&a); /* leaving the bus lets go of the line */
	ck_assert_int_eq(gsi_level[gsi], 0);
	pci_bus_remove(&b);
	pci_device_destroy(&a);
	pci_device_destroy(&b);
}
END_TEST

struct legacy_log {
	uint64_t offset;
	unsigned len, count;
	uint8_t value;
};

static void legacy_port(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write)
{
	struct legacy_log *l = opaque;

	l->offset = offset;
	l->len = len;
	l->count++;
	if (is_write)
		l->value = data[0];
	else
		data[0] = 0x42;
}

START_TEST(legacy_port_at_cf9)
{
	struct legacy_log l = { 0 };

	pci_bus_set_legacy_port(bus, legacy_port, &l);
	out(0xcf9, 1, 0x06);
	ck_assert_uint_eq(l.count, 1);
	ck_assert_uint_eq(l.offset, 1);
	ck_assert_uint_eq(l.value, 0x06);
	ck_assert_uint_eq(in(0xcf9, 1), 0x42);
	out(PCI_CONFIG_ADDRESS_PORT, 4, 0x80000000); /* dwords stay CONFIG_ADDRESS */
	ck_assert_uint_eq(in(PCI_CONFIG_ADDRESS_PORT, 4), 0x80000000);
	ck_assert_uint_eq(l.count, 2);
	in(0xcfa, 4); /* straddling: nobody */
	ck_assert_uint_eq(l.count, 2);
	pci_bus_set_legacy_port(bus, NULL, NULL);
	ck_assert_uint_eq(in(0xcf9, 1), 0xff);
}
END_TEST

static unsigned foreach_count;
static void count_device(struct pci_device *d, void *opaque)
{
	(void)d;
	ck_assert_ptr_eq(opaque, &foreach_count);
	foreach_count++;
}

START_TEST(foreach_devices)
{
	foreach_count = 0;
	add_test_device(&dev, -1, &blog0, &blog2, &blog5);
	pci_bus_foreach(bus, count_device, &foreach_count);
	ck_assert_uint_eq(foreach_count, 2);
	pci_bus_remove(&dev);
	pci_device_destroy(&dev);
}
END_TEST

Suite *suite_main(void)
{
	Suite *suite = suite_create("pci");
	TCase *conf = tcase_create("config mechanism");
	TCase *bars = tcase_create("bars");
	TCase *misc = tcase_create("caps, slots, hooks, intx");

	tcase_add_checked_fixture(conf, setup, teardown);
	tcase_add_test(conf, config_address_reads_back);
	tcase_add_test(conf, disabled_or_absent_reads_ones);
	tcase_add_test(conf, host_bridge_identity);
	tcase_add_test(conf, every_width_at_every_offset);
	tcase_add_test(conf, straddling_accesses_are_rejected);
	tcase_add_test(conf, read_only_bytes);
	tcase_add_test(conf, status_error_bits_are_write_one_to_clear);
	tcase_add_test(conf, legacy_port_at_cf9);
	suite_add_tcase(suite, conf);

	tcase_add_checked_fixture(bars, setup, teardown);
	tcase_add_test(bars, bar_preassignment);
	tcase_add_test(bars, bar_sizing);
	tcase_add_test(bars, bar_64bit_larger_than_4g);
	tcase_add_test(bars, bar_declaration_errors);
	tcase_add_test(bars, bar_map_unmap_move);
	tcase_add_test(bars, bad_placement_never_crashes);
	tcase_add_test(bars, bar_map_hook);
	suite_add_tcase(suite, bars);

	tcase_add_checked_fixture(misc, setup, teardown);
	tcase_add_test(misc, capability_list);
	tcase_add_test(misc, slots);
	tcase_add_test(misc, config_hooks);
	tcase_add_test(misc, intx_routing);
	tcase_add_test(misc, foreach_devices);
	suite_add_tcase(suite, misc);
	return suite;
}
