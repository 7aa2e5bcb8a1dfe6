/* Scenario "vmem_errors": every virtio-mem request rule gets the response
 * the spec prescribes (§5.15.6), one line per case:
 *   # vmem error-case NAME: got X expected Y ok|FAIL
 * X/Y are ACK, NACK, BUSY, ERROR (STATE answers add " state=S"), or a
 * transport outcome (DEVICE_NEEDS_RESET, TIMEOUT).
 *
 * Range rules (misaligned, nb_blocks 0, past the usable region, below
 * addr, wrapping past 2^64) are tried with PLUG, UNPLUG and STATE; then
 * state rules (PLUG of plugged, UNPLUG of unplugged, STATE MIXED), the
 * requested_size limit (NACK; needs usable > requested), an unknown
 * request type (ERROR or DEVICE_NEEDS_RESET both accepted; the latter is
 * followed by a re-init), and a final UNPLUG_ALL.  Linux stops using a
 * device after an ERROR, but the device itself must keep working, so the
 * cases run back to back.  Needs requested_size >= 2 blocks, else SKIP.
 */
#include "virtio_mem.h"

#define REQ_UNKNOWN 7

static bool one(const char *name, uint16_t type, uint64_t addr, uint16_t nb, uint16_t want,
		int want_state)
{
	uint16_t rt = 0xFFFF, st = 0xFFFF;
	enum vpci_rc rc = vmem_request(type, addr, nb, &rt, &st);
	bool ok = rc == VPCI_DONE && rt == want && (want_state < 0 || st == want_state);

	tg_printf("# vmem error-case %s: got %s", name, vmem_outcome(rc, rt));
	if (rc == VPCI_DONE && rt == VMEM_RESP_ACK && type == VMEM_REQ_STATE)
		tg_printf(" state=%s", vmem_state_name(st));
	tg_printf(" expected %s", vmem_resp_name(want));
	if (want_state >= 0)
		tg_printf(" state=%s", vmem_state_name((uint16_t)want_state));
	tg_printf(" %s\n", ok ? "ok" : "FAIL");
	if (rc == VPCI_NEEDS_RESET || rc == VPCI_TIMEOUT) {
		/* Not expected here, but keep going so every rule gets a line;
		 * a re-init does not change plug state. */
		tg_printf("# vmem error-case %s: re-initializing the device\n", name);
		(void)vmem_init();
	}
	return ok;
}

/* The five range rules, each as PLUG, UNPLUG and STATE. */
static bool range_rules(void)
{
	const uint64_t bs = vmem_cfg.block_size, a = vmem_cfg.addr;
	const uint64_t mis = bs > 4096 ? 4096 : bs / 2;
	const struct {
		const char *name;
		uint64_t addr;
		uint16_t nb;
	} rules[] = {
		{ "misaligned", a + mis, 1 },
		{ "zero-blocks", a, 0 },
		{ "past-usable", a + vmem_cfg.usable_region_size - bs, 2 },
		{ "below-addr", a - bs, 2 },
		{ "wrap-2^64", 0 - bs, 2 },	/* aligned, but addr + 2 blocks wraps */
	};
	static const struct {
		const char *suffix;
		uint16_t type;
	} types[] = {
		{ "plug", VMEM_REQ_PLUG },
		{ "unplug", VMEM_REQ_UNPLUG },
		{ "state", VMEM_REQ_STATE },
	};
	bool ok = true;

	for (unsigned r = 0; r < TG_ARRAY_SIZE(rules); r++) {
		for (unsigned t = 0; t < TG_ARRAY_SIZE(types); t++) {
			char name[48];
			size_t n = strlen(rules[r].name), m = strlen(types[t].suffix);

			memcpy(name, rules[r].name, n);
			name[n] = '-';
			memcpy(name + n + 1, types[t].suffix, m + 1);
			ok &= one(name, types[t].type, rules[r].addr, rules[r].nb, VMEM_RESP_ERROR,
				  -1);
		}
	}
	return ok && vmem_check_plugged("after range rules", 0);
}

/* Block 0 plugged, block 1 not. */
static bool state_rules(void)
{
	const uint64_t bs = vmem_cfg.block_size, a = vmem_cfg.addr;
	bool ok;

	ok = one("setup-plug", VMEM_REQ_PLUG, a, 1, VMEM_RESP_ACK, -1);
	ok &= one("plug-plugged", VMEM_REQ_PLUG, a, 1, VMEM_RESP_ERROR, -1);
	ok &= one("plug-partly-plugged", VMEM_REQ_PLUG, a, 2, VMEM_RESP_ERROR, -1);
	ok &= one("state-plugged", VMEM_REQ_STATE, a, 1, VMEM_RESP_ACK, VMEM_STATE_PLUGGED);
	ok &= one("state-unplugged", VMEM_REQ_STATE, a + bs, 1, VMEM_RESP_ACK,
		  VMEM_STATE_UNPLUGGED);
	ok &= one("state-mixed", VMEM_REQ_STATE, a, 2, VMEM_RESP_ACK, VMEM_STATE_MIXED);
	ok &= one("unplug-unplugged", VMEM_REQ_UNPLUG, a + bs, 1, VMEM_RESP_ERROR, -1);
	ok &= one("unplug-partly-unplugged", VMEM_REQ_UNPLUG, a, 2, VMEM_RESP_ERROR, -1);
	/* Refused requests must not have changed anything. */
	ok &= vmem_check_plugged("after state rules", bs);
	ok &= one("setup-unplug", VMEM_REQ_UNPLUG, a, 1, VMEM_RESP_ACK, -1);
	return ok && vmem_check_plugged("after setup-unplug", 0);
}

/* Fill requested_size, then one more block must be NACKed. */
static bool nack_rule(void)
{
	const uint64_t bs = vmem_cfg.block_size, a = vmem_cfg.addr, r = vmem_cfg.requested_size;
	bool ok;

	if (vmem_cfg.usable_region_size <= r) {
		tg_printf("# vmem error-case plug-over-requested: skipped (usable_region_size "
			  "0x%llx <= requested_size 0x%llx)\n",
			  (unsigned long long)vmem_cfg.usable_region_size, (unsigned long long)r);
		return true;
	}
	if (!vmem_change_range(VMEM_REQ_PLUG, a, r / bs) || !vmem_check_plugged("fill", r))
		return false;
	ok = one("plug-over-requested", VMEM_REQ_PLUG, a + r, 1, VMEM_RESP_NACK, -1);
	return vmem_check_plugged("after NACK", r) && ok;
}

static bool unknown_type(void)
{
	uint16_t rt = 0xFFFF, st;
	enum vpci_rc rc = vmem_request(REQ_UNKNOWN, vmem_cfg.addr, 1, &rt, &st);
	bool err = rc == VPCI_DONE && rt == VMEM_RESP_ERROR;
	bool nr = rc == VPCI_NEEDS_RESET;

	tg_printf("# vmem error-case unknown-type: got %s expected ERROR|DEVICE_NEEDS_RESET %s\n",
		  vmem_outcome(rc, rt), err || nr ? "ok" : "FAIL");
	if (nr) {
		/* Like a driver would: reset and start over (plug state stays). */
		tg_printf("# vmem error-case unknown-type: re-initializing the device\n");
		return vmem_init();
	}
	return err;
}

enum tg_result scenario_vmem_errors(void)
{
	bool ok;

	if (!vmem_open())
		return TG_FAIL;
	if (vmem_cfg.requested_size < 2 * vmem_cfg.block_size) {
		tg_printf("# vmem errors: requested_size 0x%llx < 2 blocks\n",
			  (unsigned long long)vmem_cfg.requested_size);
		return TG_SKIP;
	}
	ok = range_rules();
	ok &= state_rules();
	ok &= nack_rule();
	ok &= unknown_type();
	ok &= one("unplug-all", VMEM_REQ_UNPLUG_ALL, 0, 0, VMEM_RESP_ACK, -1);
	ok &= vmem_check_plugged("after unplug-all", 0);
	return ok ? TG_PASS : TG_FAIL;
}
