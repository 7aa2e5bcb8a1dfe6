/* Scenario "vmem_unplug_all": UNPLUG_ALL clears plugs in separate places.
 *
 * Plugs vmem_blocks= blocks (default 4) at the start of the usable region
 * and as many at its end, fills both with the pattern, sends UNPLUG_ALL:
 * ACK, plugged_size 0, STATE of the whole usable region UNPLUGGED.  Then
 * plugs both ranges again, requires zeros, and UNPLUG_ALLs again.  Prints
 *   # vmem unplug_all: ranges 0x..+0x.. 0x..+0x..
 *   # vmem unplug_all: replug nonzero_words=N
 */
#include "virtio_mem.h"

enum tg_result scenario_vmem_unplug_all(void)
{
	uint64_t nb, bs, a1, a2, size, nz;

	if (!vmem_open())
		return TG_FAIL;
	nb = vmem_opt_blocks("unplug_all", 2);
	if (!nb)
		return TG_SKIP;
	bs = vmem_cfg.block_size;
	size = nb * bs;
	a1 = vmem_cfg.addr;
	/* usable >= requested >= 2 * size, so the ranges do not overlap. */
	a2 = vmem_cfg.addr + vmem_cfg.usable_region_size - size;
	tg_printf("# vmem unplug_all: ranges 0x%llx+0x%llx 0x%llx+0x%llx\n",
		  (unsigned long long)a1, (unsigned long long)size, (unsigned long long)a2,
		  (unsigned long long)size);

	if (!vmem_change_range(VMEM_REQ_PLUG, a1, nb) ||
	    !vmem_change_range(VMEM_REQ_PLUG, a2, nb) ||
	    !vmem_check_plugged("after plug", 2 * size))
		return TG_FAIL;
	vmem_fill(a1, size);
	vmem_fill(a2, size);
	if (!vmem_verify("pattern 1", a1, size) || !vmem_verify("pattern 2", a2, size))
		return TG_FAIL;

	if (!vmem_expect("unplug_all", VMEM_REQ_UNPLUG_ALL, 0, 0, VMEM_RESP_ACK, -1) ||
	    !vmem_check_plugged("after unplug_all", 0) ||
	    !vmem_state_is("state after unplug_all", vmem_cfg.addr,
			   vmem_cfg.usable_region_size / bs, VMEM_STATE_UNPLUGGED))
		return TG_FAIL;

	if (!vmem_change_range(VMEM_REQ_PLUG, a1, nb) || !vmem_change_range(VMEM_REQ_PLUG, a2, nb))
		return TG_FAIL;
	nz = vmem_count_nonzero("replug 1", a1, size) + vmem_count_nonzero("replug 2", a2, size);
	tg_printf("# vmem unplug_all: replug nonzero_words=%llu\n", (unsigned long long)nz);
	if (!vmem_expect("final unplug_all", VMEM_REQ_UNPLUG_ALL, 0, 0, VMEM_RESP_ACK, -1) ||
	    !vmem_check_plugged("final unplug_all", 0))
		return TG_FAIL;
	return nz ? TG_FAIL : TG_PASS;
}
