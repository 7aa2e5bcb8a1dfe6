/* Scenario "vmem_config": the virtio-mem-pci device as the guest sees it
 * before any driver work: PCI identity, virtio capabilities, BARs, queue
 * count, and the 56-byte device configuration.
 *
 * Prints
 *   # vmem identity vendor=1af4 device=1058 revision=N
 *   # vmem cap TYPE cfg=0xOO bar=N offset=0x.. length=0x.. [multiplier=M]
 *   # vmem cap msix cfg=0xOO table_size=N
 *   # vmem bar N addr=0x.. size=0x.. mem32|mem64|io [assigned]
 *   # vmem queues num_queues=N
 *   # vmem config block_size=0x.. node_id=N addr=0x.. region_size=0x..
 *                 usable_region_size=0x.. plugged_size=0x.. requested_size=0x..
 * Pass: identity right, all five virtio caps and MSI-X (>= 2 entries)
 * present (MSI-X not required with vmem_msix=0) and inside their BARs,
 * the spec invariants hold, and each of
 * vmem_block= vmem_addr= vmem_region= vmem_usable= vmem_plugged=
 * vmem_requested= that is given matches.
 */
#include "virtio_mem.h"

static const char *const bar_types[] = { "none", "mem32", "mem64", "io", "high" };
static const char *const cap_names[VPCI_NCAPS] = {
	"?", "common", "notify", "isr", "device", "pci_cfg",
};

static bool expect_field(const char *key, const char *name, uint64_t val)
{
	size_t len;
	uint64_t want;

	if (!cmdline_get(key, &len))
		return true;
	want = cmdline_get_u64(key, 0);
	if (val == want)
		return true;
	tg_printf("# vmem config: %s=0x%llx, expected (%s) 0x%llx\n", name,
		  (unsigned long long)val, key, (unsigned long long)want);
	return false;
}

static bool invariant(bool cond, const char *what)
{
	if (!cond)
		tg_printf("# vmem config: invariant violated: %s\n", what);
	return cond;
}

static bool check_config(const struct virtio_mem_config *c)
{
	uint64_t bs = c->block_size, m = bs - 1;
	bool ok = true;

	ok &= invariant(bs && !(bs & m), "block_size is a power of two");
	if (bs && !(bs & m)) {
		ok &= invariant(!(c->addr & m), "addr is a multiple of block_size");
		ok &= invariant(!(c->region_size & m), "region_size is a multiple of block_size");
		ok &= invariant(!(c->usable_region_size & m),
				"usable_region_size is a multiple of block_size");
		ok &= invariant(!(c->plugged_size & m), "plugged_size is a multiple of block_size");
		ok &= invariant(!(c->requested_size & m),
				"requested_size is a multiple of block_size");
	}
	ok &= invariant(c->usable_region_size >= c->requested_size,
			"usable_region_size >= requested_size");
	ok &= invariant(c->usable_region_size <= c->region_size,
			"usable_region_size <= region_size");
	ok &= invariant(c->plugged_size <= c->usable_region_size,
			"plugged_size <= usable_region_size");
	ok &= invariant(c->addr + c->region_size >= c->addr, "addr + region_size does not wrap");

	ok &= expect_field("vmem_block", "block_size", c->block_size);
	ok &= expect_field("vmem_addr", "addr", c->addr);
	ok &= expect_field("vmem_region", "region_size", c->region_size);
	ok &= expect_field("vmem_usable", "usable_region_size", c->usable_region_size);
	ok &= expect_field("vmem_plugged", "plugged_size", c->plugged_size);
	ok &= expect_field("vmem_requested", "requested_size", c->requested_size);
	return ok;
}

enum tg_result scenario_vmem_config(void)
{
	struct vpci_dev *d = &vmem_dev;
	struct virtio_mem_config c;
	bool ok = true;

	if (!vmem_find())
		return TG_FAIL;
	tg_printf("# vmem identity vendor=%04x device=%04x revision=%u\n", d->vendor, d->device,
		  d->revision);
	if (d->revision < 1) {
		tg_printf("# vmem: revision %u < 1 (non-transitional devices should use >= 1)\n",
			  d->revision);
		ok = false;
	}
	for (unsigned i = 0; i < 6; i++) {
		if (d->bar_type[i] == BAR_NONE || d->bar_type[i] == BAR_HIGH_HALF)
			continue;
		tg_printf("# vmem bar %u addr=0x%llx size=0x%llx %s%s\n", i,
			  (unsigned long long)d->bar_addr[i], (unsigned long long)d->bar_size[i],
			  bar_types[d->bar_type[i]], d->bar_assigned[i] ? " assigned" : "");
	}
	for (unsigned t = 1; t < VPCI_NCAPS; t++) {
		const struct vpci_cap *cap = &d->caps[t];

		if (!cap->present) {
			tg_printf("# vmem cap %s MISSING\n", cap_names[t]);
			ok = false;
			continue;
		}
		tg_printf("# vmem cap %s cfg=0x%02x bar=%u offset=0x%x length=0x%x", cap_names[t],
			  cap->cfg_off, cap->bar, cap->offset, cap->length);
		if (t == VPCI_CAP_NOTIFY)
			tg_printf(" multiplier=%u", d->notify_mult);
		tg_printf("\n");
	}
	if (d->msix_cap)
		tg_printf("# vmem cap msix cfg=0x%02x table_size=%u\n", d->msix_cap,
			  d->msix_table_size);
	else
		tg_printf("# vmem cap msix MISSING\n");
	/* vmem_msix=0: do not require MSI-X (QEMU 7.2's virtio-mem-pci has none). */
	if ((!d->msix_cap || d->msix_table_size < 2) && cmdline_get_u64("vmem_msix", 1)) {
		tg_printf("# vmem: need MSI-X with >= 2 vectors (config + queue)\n");
		ok = false;
	}
	if (!d->ok)	/* vpci_probe printed why */
		return TG_FAIL;

	tg_printf("# vmem queues num_queues=%u\n", vpci_num_queues(d));
	if (vpci_num_queues(d) != 1) {
		tg_printf("# vmem: virtio-mem has exactly one queue\n");
		ok = false;
	}
	if (!vmem_read_config(&c))
		return TG_FAIL;
	vmem_print_config("# vmem config", &c);
	ok &= check_config(&c);
	return ok ? TG_PASS : TG_FAIL;
}
