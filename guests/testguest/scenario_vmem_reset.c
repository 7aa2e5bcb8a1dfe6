/* Scenario "vmem_reset": a *device* reset must not touch plug state or
 * the contents of plugged memory (virtio spec §5.15.5.2).
 *
 * Plugs vmem_blocks= blocks (default 4), writes the pattern, resets the
 * device (status 0) and re-initializes it fully, then requires the same
 * plugged_size, STATE PLUGGED and the pattern intact; finally UNPLUG_ALL.
 *   # vmem reset: plugged_size before=0x.. after=0x..
 *   # vmem reset: pattern ok|bad
 */
#include "virtio_mem.h"

enum tg_result scenario_vmem_reset(void)
{
	uint64_t nb, a, size, before;
	bool ok;

	if (!vmem_open())
		return TG_FAIL;
	nb = vmem_opt_blocks("reset", 1);
	if (!nb)
		return TG_SKIP;
	a = vmem_cfg.addr;
	size = nb * vmem_cfg.block_size;
	if (!vmem_change_range(VMEM_REQ_PLUG, a, nb) || !vmem_check_plugged("after plug", size))
		return TG_FAIL;
	vmem_fill(a, size);
	before = vmem_cfg.plugged_size;

	if (!vmem_init())	/* includes the reset: write 0, wait for 0 */
		return TG_FAIL;
	tg_printf("# vmem reset: plugged_size before=0x%llx after=0x%llx\n",
		  (unsigned long long)before, (unsigned long long)vmem_cfg.plugged_size);
	ok = vmem_cfg.plugged_size == before;
	ok &= vmem_state_is("state after reset", a, nb, VMEM_STATE_PLUGGED);
	/* Read the memory only if it is still plugged (else it may be gone). */
	if (!ok) {
		tg_printf("# vmem reset: pattern not checked\n");
	} else if (vmem_verify("pattern after reset", a, size)) {
		tg_printf("# vmem reset: pattern ok\n");
	} else {
		tg_printf("# vmem reset: pattern bad\n");
		ok = false;
	}
	ok &= vmem_expect("unplug_all", VMEM_REQ_UNPLUG_ALL, 0, 0, VMEM_RESP_ACK, -1) &&
	      vmem_check_plugged("after unplug_all", 0);
	return ok ? TG_PASS : TG_FAIL;
}
