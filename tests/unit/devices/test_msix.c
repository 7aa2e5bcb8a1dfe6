#include <check.h>
#include <string.h>

#include "devices/msix.h"

/*
 * A PCI function with 4 MSI-X vectors: table at 0x100 and PBA at 0x800 of
 * BAR 2. The fake msix_ops record every route and fire, in order.
 */
#define VECTORS 4
#define TABLE 0x100
#define PBA 0x800
#define BAR 2
#define CTRL_ENABLE 0x8000
#define CTRL_FUNCTION_MASK 0x4000

struct call {
	char kind; /* 'r'oute or 'f'ire */
	unsigned vector;
	uint64_t addr;
	uint32_t data;
};

static struct call calls[64];
static unsigned nr_calls;
static int route_result;
static struct pci_device pci;
static struct msix msix;
static int opaque_tag;

static int fake_route(void *opaque, unsigned vector, uint64_t addr, uint32_t data)
{
	ck_assert_ptr_eq(opaque, &opaque_tag);
	ck_assert_uint_lt(nr_calls, 64);
	calls[nr_calls++] = (struct call){ 'r', vector, addr, data };
	return route_result;
}

static void fake_fire(void *opaque, unsigned vector)
{
	ck_assert_ptr_eq(opaque, &opaque_tag);
	ck_assert_uint_lt(nr_calls, 64);
	calls[nr_calls++] = (struct call){ 'f', vector, 0, 0 };
}

static const struct msix_ops fake_ops = { fake_route, fake_fire };

static unsigned fires(unsigned vector)
{
	unsigned n = 0;

	for (unsigned i = 0; i < nr_calls; i++)
		n += calls[i].kind == 'f' && calls[i].vector == vector;
	return n;
}

static unsigned routes(unsigned vector)
{
	unsigned n = 0;

	for (unsigned i = 0; i < nr_calls; i++)
		n += calls[i].kind == 'r' && calls[i].vector == vector;
	return n;
}

static void setup(void)
{
	struct error err;

	nr_calls = 0;
	route_result = 0;
	pci_device_init(&pci, "msix-test", 0x1234, 0x5678, 0xff0000, 1);
	ck_assert_int_eq(msix_init(&msix, &pci, VECTORS, BAR, TABLE, PBA, &fake_ops, &opaque_tag,
				   &err), 0);
}

static void teardown(void)
{
	pci_device_destroy(&pci);
}

/* BAR accesses as the guest makes them. */
static uint32_t bar_read(uint64_t offset, unsigned len)
{
	uint8_t data[8];

	memset(data, 0xa5, sizeof(data));
	ck_assert(msix_bar_access(&msix, offset, data, len, false));
	return (uint32_t)io_data_get(data, len);
}

static void bar_write(uint64_t offset, unsigned len, uint32_t value)
{
	uint8_t data[8] = { 0 };

	io_data_put(data, len, value);
	ck_assert(msix_bar_access(&msix, offset, data, len, true));
}

static uint64_t entry(unsigned v, unsigned field)
{
	return TABLE + (uint64_t)v * MSIX_ENTRY_SIZE + field;
}

static void program(unsigned v, uint64_t addr, uint32_t data)
{
	bar_write(entry(v, 0), 4, (uint32_t)addr);
	bar_write(entry(v, 4), 4, (uint32_t)(addr >> 32));
	bar_write(entry(v, 8), 4, data);
}

static void set_vector_masked(unsigned v, bool masked)
{
	bar_write(entry(v, 12), 4, masked);
}

/* The guest writes Message Control (the generic write plus the device's hook). */
static void write_control(uint16_t value)
{
	uint16_t ro = (uint16_t)pci_config_get(&pci, msix.cap + PCI_MSIX_FLAGS, 2) &
		      ~(CTRL_ENABLE | CTRL_FUNCTION_MASK);

	pci_config_set(&pci, msix.cap + PCI_MSIX_FLAGS, 2,
		       ro | (value & (CTRL_ENABLE | CTRL_FUNCTION_MASK)));
	msix_config_written(&msix);
}

static uint32_t pba(void)
{
	return bar_read(PBA, 4);
}

START_TEST(capability_in_config_space)
{
	unsigned cap = msix.cap;

	ck_assert_uint_eq(pci_config_get(&pci, PCI_CAPABILITY_LIST, 1), cap);
	ck_assert_uint_eq(pci_config_get(&pci, cap, 1), PCI_CAP_ID_MSIX);
	ck_assert_uint_eq(pci_config_get(&pci, cap + 1, 1), 0); /* last capability */
	/* Table size is N-1; enable and function mask start clear. */
	ck_assert_uint_eq(pci_config_get(&pci, cap + PCI_MSIX_FLAGS, 2), VECTORS - 1);
	ck_assert_uint_eq(pci_config_get(&pci, cap + PCI_MSIX_TABLE, 4), TABLE | BAR);
	ck_assert_uint_eq(pci_config_get(&pci, cap + PCI_MSIX_PBA, 4), PBA | BAR);
	/* Only enable and function mask are guest-writable in Message Control. */
	ck_assert_uint_eq(pci.wmask[cap + PCI_MSIX_FLAGS], 0);
	ck_assert_uint_eq(pci.wmask[cap + PCI_MSIX_FLAGS + 1], 0xc0);
	ck_assert_uint_eq(pci.wmask[cap + PCI_MSIX_TABLE], 0);
	ck_assert(!msix_enabled(&msix));
}
END_TEST

START_TEST(bad_geometry_is_refused)
{
	struct pci_device other;
	struct msix x;
	struct error err;

	pci_device_init(&other, "bad", 0x1234, 0x5678, 0xff0000, 1);
	ck_assert_int_eq(msix_init(&x, &other, 0, BAR, 0, PBA, &fake_ops, NULL, &err), -1);
	ck_assert_int_eq(msix_init(&x, &other, MSIX_MAX_VECTORS + 1, BAR, 0, PBA, &fake_ops, NULL,
				   &err), -1);
	ck_assert_int_eq(msix_init(&x, &other, 2, BAR, 4, PBA, &fake_ops, NULL, &err), -1);
	ck_assert_int_eq(msix_init(&x, &other, 2, BAR, 0, PBA + 4, &fake_ops, NULL, &err), -1);
	/* Nothing was added to config space by the refused attempts. */
	ck_assert_uint_eq(pci_config_get(&other, PCI_CAPABILITY_LIST, 1), 0);
	ck_assert_int_eq(msix_init(&x, &other, MSIX_MAX_VECTORS, BAR, 0, PBA, &fake_ops, NULL,
				   &err), 0);
	pci_device_destroy(&other);
}
END_TEST

START_TEST(entries_start_masked)
{
	for (unsigned v = 0; v < VECTORS; v++) {
		ck_assert_uint_eq(bar_read(entry(v, 0), 4), 0);
		ck_assert_uint_eq(bar_read(entry(v, 4), 4), 0);
		ck_assert_uint_eq(bar_read(entry(v, 8), 4), 0);
		ck_assert_uint_eq(bar_read(entry(v, 12), 4), 1);
	}
	ck_assert_uint_eq(pba(), 0);
}
END_TEST

START_TEST(disabled_msix_never_fires)
{
	program(0, 0xfee00000, 0x41);
	set_vector_masked(0, false);
	msix_notify(&msix, 0);
	ck_assert_uint_eq(nr_calls, 0);
	/* Nor is it remembered: enabling later sends nothing. */
	ck_assert_uint_eq(pba(), 0);
	write_control(CTRL_ENABLE);
	ck_assert_uint_eq(nr_calls, 0);
}
END_TEST

START_TEST(unmasked_vector_fires_its_message)
{
	program(1, 0x1fee01000ULL, 0x42);
	set_vector_masked(1, false);
	write_control(CTRL_ENABLE);
	ck_assert(msix_enabled(&msix));
	msix_notify(&msix, 1);
	ck_assert_uint_eq(nr_calls, 2);
	ck_assert_int_eq(calls[0].kind, 'r');
	ck_assert_uint_eq(calls[0].vector, 1);
	ck_assert_uint_eq(calls[0].addr, 0x1fee01000ULL); /* both address halves */
	ck_assert_uint_eq(calls[0].data, 0x42);
	ck_assert_int_eq(calls[1].kind, 'f');
	ck_assert_uint_eq(calls[1].vector, 1);
	ck_assert_uint_eq(pba(), 0);
}
END_TEST

START_TEST(masked_vector_is_pending_until_unmasked)
{
	program(2, 0xfee00000, 0x43);
	write_control(CTRL_ENABLE);
	msix_notify(&msix, 2); /* still masked from reset */
	ck_assert_uint_eq(nr_calls, 0);
	ck_assert_uint_eq(pba(), 1u << 2);
	ck_assert_uint_eq(bar_read(PBA, 1), 1u << 2); /* byte reads of the PBA too */
	msix_notify(&msix, 2); /* a second event while pending is not a second message */
	set_vector_masked(2, false);
	ck_assert_uint_eq(fires(2), 1);
	ck_assert_uint_eq(pba(), 0);
	/* Once delivered, unmasking again sends nothing. */
	set_vector_masked(2, true);
	set_vector_masked(2, false);
	ck_assert_uint_eq(fires(2), 1);
}
END_TEST

START_TEST(pending_bits_of_high_vectors)
{
	struct pci_device big;
	struct msix x;
	struct error err;
	uint8_t data[8];

	pci_device_init(&big, "big", 0x1234, 0x5678, 0xff0000, 1);
	ck_assert_int_eq(msix_init(&x, &big, MSIX_MAX_VECTORS, BAR, 0, 0x800, &fake_ops,
				   &opaque_tag, &err), 0);
	pci_config_set(&big, x.cap + PCI_MSIX_FLAGS, 2, CTRL_ENABLE);
	msix_notify(&x, 63);
	msix_notify(&x, 33);
	msix_notify(&x, 64); /* out of range: ignored */
	ck_assert(msix_bar_access(&x, 0x800 + 4, data, 4, false));
	ck_assert_uint_eq(io_data_get(data, 4), (1u << 31) | (1u << 1));
	ck_assert(msix_bar_access(&x, 0x800, data, 8, false));
	ck_assert_uint_eq(io_data_get(data, 8), (1ULL << 63) | (1ULL << 33));
	ck_assert_uint_eq(nr_calls, 0);
	pci_device_destroy(&big);
}
END_TEST

START_TEST(function_mask_holds_every_vector)
{
	for (unsigned v = 0; v < 2; v++) {
		program(v, 0xfee00000, 0x50 + v);
		set_vector_masked(v, false);
	}
	write_control(CTRL_ENABLE | CTRL_FUNCTION_MASK);
	msix_notify(&msix, 0);
	msix_notify(&msix, 1);
	ck_assert_uint_eq(nr_calls, 0);
	ck_assert_uint_eq(pba(), 3);
	/* Table writes while the function is masked do not flush either. */
	program(1, 0xfee00000, 0x61);
	ck_assert_uint_eq(nr_calls, 0);
	write_control(CTRL_ENABLE);
	ck_assert_uint_eq(fires(0), 1);
	ck_assert_uint_eq(fires(1), 1);
	ck_assert_uint_eq(pba(), 0);
	/* The message is read at send time: vector 1 carries its new data. */
	for (unsigned i = 0; i < nr_calls; i++)
		if (calls[i].kind == 'r' && calls[i].vector == 1)
			ck_assert_uint_eq(calls[i].data, 0x61);
}
END_TEST

START_TEST(pending_survives_disable_and_fires_on_reenable)
{
	program(0, 0xfee00000, 0x41);
	write_control(CTRL_ENABLE);
	msix_notify(&msix, 0);
	ck_assert_uint_eq(pba(), 1);
	write_control(0);
	set_vector_masked(0, false); /* unmasked while disabled: nothing can be sent */
	ck_assert_uint_eq(nr_calls, 0);
	write_control(CTRL_ENABLE);
	ck_assert_uint_eq(fires(0), 1);
	ck_assert_uint_eq(pba(), 0);
}
END_TEST

START_TEST(route_only_when_the_message_changes)
{
	program(0, 0xfee00000, 0x41);
	set_vector_masked(0, false);
	write_control(CTRL_ENABLE);
	msix_notify(&msix, 0);
	msix_notify(&msix, 0);
	msix_notify(&msix, 0);
	ck_assert_uint_eq(routes(0), 1);
	ck_assert_uint_eq(fires(0), 3);

	/* Rewriting the same values is not a change. */
	program(0, 0xfee00000, 0x41);
	msix_notify(&msix, 0);
	ck_assert_uint_eq(routes(0), 1);

	bar_write(entry(0, 8), 4, 0x42); /* new data */
	msix_notify(&msix, 0);
	ck_assert_uint_eq(routes(0), 2);
	ck_assert_uint_eq(calls[nr_calls - 2].data, 0x42);
	bar_write(entry(0, 0), 4, 0xfee01000); /* new address low */
	msix_notify(&msix, 0);
	ck_assert_uint_eq(routes(0), 3);
	bar_write(entry(0, 4), 4, 1); /* new address high */
	msix_notify(&msix, 0);
	ck_assert_uint_eq(routes(0), 4);
	ck_assert_uint_eq(calls[nr_calls - 2].addr, 0x1fee01000ULL);
	/* Masking does not change the message. */
	set_vector_masked(0, true);
	set_vector_masked(0, false);
	msix_notify(&msix, 0);
	ck_assert_uint_eq(routes(0), 4);
	ck_assert_uint_eq(fires(0), 8);
	/* Vectors are routed separately. */
	ck_assert_uint_eq(routes(1), 0);
}
END_TEST

START_TEST(failed_route_drops_the_message_and_retries)
{
	program(0, 0xfee00000, 0x41);
	set_vector_masked(0, false);
	write_control(CTRL_ENABLE);
	route_result = -1;
	msix_notify(&msix, 0);
	ck_assert_uint_eq(routes(0), 1);
	ck_assert_uint_eq(fires(0), 0); /* never fire an unrouted vector */
	route_result = 0;
	msix_notify(&msix, 0); /* the same message is routed again, not assumed routed */
	ck_assert_uint_eq(routes(0), 2);
	ck_assert_uint_eq(fires(0), 1);
}
END_TEST

START_TEST(table_dwords_at_their_offsets)
{
	/* Every dword of every entry is its own register; of Vector Control (12) only the
	 * mask bit is defined, the reserved bits read as zero. */
	for (unsigned v = 0; v < VECTORS; v++)
		for (unsigned f = 0; f < 16; f += 4)
			bar_write(entry(v, f), 4, 0x10000000u * (v + 1) + f + (f == 12));
	for (unsigned v = 0; v < VECTORS; v++)
		for (unsigned f = 0; f < 16; f += 4)
			ck_assert_uint_eq(bar_read(entry(v, f), 4),
					  f == 12 ? 1 : 0x10000000u * (v + 1) + f);
	bar_write(entry(0, 12), 4, 0xfffffffe);
	ck_assert_uint_eq(bar_read(entry(0, 12), 4), 0);
	/* Little-endian bytes and words inside a dword, and a qword over two dwords. */
	ck_assert_uint_eq(bar_read(entry(1, 8) + 1, 1), 0x00);
	ck_assert_uint_eq(bar_read(entry(1, 8) + 3, 1), 0x20);
	ck_assert_uint_eq(bar_read(entry(1, 8), 1), 0x08);
	bar_write(entry(2, 0), 2, 0xbeef);
	ck_assert_uint_eq(bar_read(entry(2, 0), 4), 0x3000beef);
	{
		uint8_t q[8];

		io_data_put(q, 8, 0x0000000123456780ULL);
		ck_assert(msix_bar_access(&msix, entry(3, 0), q, 8, true));
		memset(q, 0, sizeof(q));
		ck_assert(msix_bar_access(&msix, entry(3, 0), q, 8, false));
		ck_assert_uint_eq(io_data_get(q, 8), 0x0000000123456780ULL);
		ck_assert_uint_eq(bar_read(entry(3, 4), 4), 1);
	}
}
END_TEST

START_TEST(out_of_range_accesses_are_ignored)
{
	uint8_t data[4] = { 1, 2, 3, 4 };

	/* Before the table, between table and PBA, after the PBA: not ours. */
	ck_assert(!msix_bar_access(&msix, TABLE - 4, data, 4, true));
	ck_assert(!msix_bar_access(&msix, TABLE + VECTORS * MSIX_ENTRY_SIZE, data, 4, true));
	ck_assert(!msix_bar_access(&msix, PBA + 8, data, 4, false));
	ck_assert_uint_eq(data[0], 1); /* untouched */
	/* A write past the last entry must not land in the routing state behind the table. */
	ck_assert(!msix_bar_access(&msix, entry(VECTORS, 0), data, 4, true));
	for (unsigned v = 0; v < VECTORS; v++)
		ck_assert_uint_eq(bar_read(entry(v, 0), 4), 0);
	/* The PBA is read-only. */
	bar_write(PBA, 4, 0xffffffff);
	ck_assert_uint_eq(pba(), 0);
	/* Vector numbers beyond the table do nothing. */
	write_control(CTRL_ENABLE);
	msix_notify(&msix, VECTORS);
	msix_notify(&msix, MSIX_MAX_VECTORS);
	msix_notify(&msix, MSIX_NO_VECTOR);
	ck_assert_uint_eq(nr_calls, 0);
	ck_assert_uint_eq(pba(), 0);
}
END_TEST

/*
 * Reads that msix_bar_access() claims (returns true for) but cannot serve,
 * because they run past the end of the table or the PBA, must still fill the
 * buffer: it is the guest's MMIO read result (kvm_run data), and before the
 * fix it kept whatever bytes were there.
 */
START_TEST(straddling_reads_return_zero)
{
	uint8_t data[8];

	for (unsigned v = 0; v < VECTORS; v++)
		program(v, 0xffffffff, 0xffffffff);
	write_control(CTRL_ENABLE);
	msix_notify(&msix, 0); /* vector 0 masked: PBA bit 0 set */

	memset(data, 0xa5, sizeof(data));
	ck_assert(msix_bar_access(&msix, entry(VECTORS - 1, 12), data, 8, false));
	ck_assert_uint_eq(io_data_get(data, 8), 0);
	memset(data, 0xa5, sizeof(data));
	ck_assert(msix_bar_access(&msix, PBA + 4, data, 8, false));
	ck_assert_uint_eq(io_data_get(data, 8), 0);
	/* A write straddling the end of the table is dropped whole. */
	memset(data, 0, sizeof(data));
	ck_assert(msix_bar_access(&msix, entry(VECTORS - 1, 12), data, 8, true));
	ck_assert_uint_eq(bar_read(entry(VECTORS - 1, 12), 4), 1); /* still masked */
}
END_TEST

START_TEST(reset_masks_disables_and_forgets)
{
	program(0, 0xfee00000, 0x41);
	program(1, 0xfee00000, 0x42);
	set_vector_masked(0, false);
	write_control(CTRL_ENABLE | CTRL_FUNCTION_MASK);
	msix_notify(&msix, 1);
	ck_assert_uint_eq(pba(), 2);

	msix_reset(&msix);
	ck_assert(!msix_enabled(&msix));
	/* Table size survives; enable and function mask do not. */
	ck_assert_uint_eq(pci_config_get(&pci, msix.cap + PCI_MSIX_FLAGS, 2), VECTORS - 1);
	ck_assert_uint_eq(pba(), 0);
	for (unsigned v = 0; v < VECTORS; v++) {
		ck_assert_uint_eq(bar_read(entry(v, 0), 4), 0);
		ck_assert_uint_eq(bar_read(entry(v, 8), 4), 0);
		ck_assert_uint_eq(bar_read(entry(v, 12), 4), 1);
	}
	/* The pending vector 1 is gone: unmasking after re-enable sends nothing. */
	write_control(CTRL_ENABLE);
	set_vector_masked(1, false);
	ck_assert_uint_eq(nr_calls, 0);
}
END_TEST

Suite *suite_main(void)
{
	Suite *suite = suite_create("msix");
	TCase *tc = tcase_create("msix");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, capability_in_config_space);
	tcase_add_test(tc, bad_geometry_is_refused);
	tcase_add_test(tc, entries_start_masked);
	tcase_add_test(tc, disabled_msix_never_fires);
	tcase_add_test(tc, unmasked_vector_fires_its_message);
	tcase_add_test(tc, masked_vector_is_pending_until_unmasked);
	tcase_add_test(tc, pending_bits_of_high_vectors);
	tcase_add_test(tc, function_mask_holds_every_vector);
	tcase_add_test(tc, pending_survives_disable_and_fires_on_reenable);
	tcase_add_test(tc, route_only_when_the_message_changes);
	tcase_add_test(tc, failed_route_drops_the_message_and_retries);
	tcase_add_test(tc, table_dwords_at_their_offsets);
	tcase_add_test(tc, out_of_range_accesses_are_ignored);
	tcase_add_test(tc, straddling_reads_return_zero);
	tcase_add_test(tc, reset_masks_disables_and_forgets);
	suite_add_tcase(suite, tc);
	return suite;
}
