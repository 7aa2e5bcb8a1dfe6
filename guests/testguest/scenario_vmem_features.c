/* Scenario "vmem_features": feature negotiation of the virtio-mem device.
 *
 * Prints "# vmem features offered=0x..." and one line per attempt:
 *   # vmem features attempt NAME accepted=0x.. features_ok=0|1 expected=0|1|any
 * Attempts (device reset before each):
 *   no_version_1   everything we know except VERSION_1   -> must not stick
 *   no_ui          VERSION_1 without UNPLUGGED_INACCESSIBLE -> must not
 *                  stick when vmem_ui=on; just printed with auto; skipped
 *                  when the feature is not offered
 *   normal         VERSION_1 (+ UNPLUGGED_INACCESSIBLE if offered) -> sticks
 * Pass: VERSION_1 offered, bit 1 offered iff vmem_ui=on (auto: any), and
 * every attempt as expected.  The device is left reset.
 */
#include "virtio_mem.h"

enum expect { EXPECT_NO, EXPECT_YES, EXPECT_ANY };

static bool attempt(const char *name, uint64_t accept, enum expect want)
{
	struct vpci_dev *d = &vmem_dev;
	bool stuck;

	if (!vpci_reset(d))
		return false;
	vpci_set_status(d, VIRTIO_STATUS_ACK);
	vpci_set_status(d, VIRTIO_STATUS_ACK | VIRTIO_STATUS_DRIVER);
	(void)vpci_get_features(d);	/* a driver reads before it writes */
	vpci_set_features(d, accept);
	stuck = vpci_features_ok(d);
	tg_printf("# vmem features attempt %s accepted=0x%llx features_ok=%d expected=%s\n", name,
		  (unsigned long long)accept, stuck,
		  want == EXPECT_YES ? "1" : want == EXPECT_NO ? "0" : "any");
	return want == EXPECT_ANY || stuck == (want == EXPECT_YES);
}

enum tg_result scenario_vmem_features(void)
{
	struct vpci_dev *d = &vmem_dev;
	const uint64_t ui = VIRTIO_MEM_F_UNPLUGGED_INACCESSIBLE;
	uint64_t offered;
	size_t len;
	const char *v = cmdline_get("vmem_ui", &len);
	enum expect ui_mode = EXPECT_ANY;
	bool ok = true;

	if (v && len == 2 && !memcmp(v, "on", 2))
		ui_mode = EXPECT_YES;
	else if (v && len == 3 && !memcmp(v, "off", 3))
		ui_mode = EXPECT_NO;
	else if (v && !(len == 4 && !memcmp(v, "auto", 4))) {
		tg_printf("# vmem features: vmem_ui must be on, off or auto\n");
		return TG_FAIL;
	}
	if (!vmem_find() || !d->ok)
		return TG_FAIL;
	if (!vpci_reset(d))
		return TG_FAIL;
	offered = vpci_get_features(d);
	tg_printf("# vmem features offered=0x%llx version_1=%d unplugged_inaccessible=%d "
		  "acpi_pxm=%d indirect_desc=%d event_idx=%d\n",
		  (unsigned long long)offered, !!(offered & VIRTIO_F_VERSION_1), !!(offered & ui),
		  !!(offered & VIRTIO_MEM_F_ACPI_PXM), !!(offered & VIRTIO_F_INDIRECT_DESC),
		  !!(offered & VIRTIO_F_EVENT_IDX));
	if (!(offered & VIRTIO_F_VERSION_1)) {
		tg_printf("# vmem features: VERSION_1 (bit 32) not offered\n");
		ok = false;
	}
	if (ui_mode != EXPECT_ANY && !!(offered & ui) != (ui_mode == EXPECT_YES)) {
		tg_printf("# vmem features: UNPLUGGED_INACCESSIBLE offered=%d but vmem_ui=%.*s\n",
			  !!(offered & ui), (int)len, v);
		ok = false;
	}

	ok &= attempt("no_version_1", offered & ui, EXPECT_NO);
	if (offered & ui)
		ok &= attempt("no_ui", VIRTIO_F_VERSION_1,
			      ui_mode == EXPECT_YES ? EXPECT_NO : EXPECT_ANY);
	else
		tg_printf("# vmem features attempt no_ui skipped (bit 1 not offered)\n");
	ok &= attempt("normal", VIRTIO_F_VERSION_1 | (offered & ui), EXPECT_YES);
	ok &= vpci_reset(d);
	return ok ? TG_PASS : TG_FAIL;
}
