/* Scenario "vmem_plug": the basic plug/unplug cycle of a virtio-mem device.
 *
 * Plugs vmem_blocks= blocks (default 4) at the start of the region with one
 * request, checks STATE and plugged_size, writes and verifies the
 * address-derived pattern (after checking that the fresh blocks read 0), unplugs (STATE, plugged_size), plugs again and
 * requires every 8-byte word to read 0 (no stale data after unplug), then
 * unplugs again (with vmem_keep=1 it writes the pattern again and leaves the
 * blocks plugged instead, for system-reset tests).  Prints
 *   # vmem plug: blocks=N addr=0x.. bytes=N
 *   # vmem plug: first plug reads zeros
 *   # vmem plug: pattern ok|bad
 *   # vmem plug: replug nonzero_words=N
 * SKIP when the blocks do not fit requested_size.
 */
#include "virtio_mem.h"

enum tg_result scenario_vmem_plug(void)
{
	uint64_t nb, a, size;

	if (!vmem_open())
		return TG_FAIL;
	nb = vmem_opt_blocks("plug", 1);
	if (!nb)
		return TG_SKIP;
	a = vmem_cfg.addr;
	size = nb * vmem_cfg.block_size;
	tg_printf("# vmem plug: blocks=%llu addr=0x%llx bytes=%llu\n", (unsigned long long)nb,
		  (unsigned long long)a, (unsigned long long)size);

	/* Touch memory only after an ACK: unplugged memory may be inaccessible. */
	if (!vmem_change_range(VMEM_REQ_PLUG, a, nb) ||
	    !vmem_state_is("state after plug", a, nb, VMEM_STATE_PLUGGED) ||
	    !vmem_check_plugged("after plug", size))
		return TG_FAIL;
	/* A freshly plugged block reads zeros, also after a reboot that found data in it. */
	if (vmem_count_nonzero("first plug", a, size)) {
		tg_printf("# vmem plug: first plug is not zero\n");
		return TG_FAIL;
	}
	tg_printf("# vmem plug: first plug reads zeros\n");
	vmem_fill(a, size);
	if (!vmem_verify("plug pattern", a, size)) {
		tg_printf("# vmem plug: pattern bad\n");
		return TG_FAIL;
	}
	tg_printf("# vmem plug: pattern ok\n");

	if (!vmem_change_range(VMEM_REQ_UNPLUG, a, nb) ||
	    !vmem_state_is("state after unplug", a, nb, VMEM_STATE_UNPLUGGED) ||
	    !vmem_check_plugged("after unplug", 0))
		return TG_FAIL;

	if (!vmem_change_range(VMEM_REQ_PLUG, a, nb) || !vmem_check_plugged("after replug", size))
		return TG_FAIL;
	uint64_t nz = vmem_count_nonzero("replug", a, size);

	tg_printf("# vmem plug: replug nonzero_words=%llu\n", (unsigned long long)nz);
	if (cmdline_get_u64("vmem_keep", 0) == 1) {
		vmem_fill(a, size);
		tg_printf("# vmem plug: kept %llu blocks plugged\n", (unsigned long long)nb);
		return nz ? TG_FAIL : TG_PASS;
	}
	if (!vmem_change_range(VMEM_REQ_UNPLUG, a, nb) || !vmem_check_plugged("final unplug", 0))
		return TG_FAIL;
	return nz ? TG_FAIL : TG_PASS;
}
