/* Scenario "vmem_fragment": the most fragmenting guest there is.
 *
 * Plugs every other block from the start of the region, one request each, until the
 * device answers something other than ACK (tide: BUSY once the plugged runs would need
 * more memslots than its budget), or the usable region or requested size ends. With
 * vmem_wait=1 it then waits for a line (the host samples its mappings), and unplugs all.
 * Prints
 *   # vmem fragment: runs=N then RESP
 * Pass: the first refusal is BUSY (or none came), and UNPLUG_ALL is ACKed.
 */
#include "virtio_mem.h"

enum tg_result scenario_vmem_fragment(void)
{
	uint64_t block, runs = 0;
	const char *outcome = "none";
	bool busy = true;

	if (!vmem_open())
		return TG_FAIL;
	block = vmem_cfg.block_size;
	for (uint64_t off = 0; off + block <= vmem_cfg.usable_region_size &&
			       (runs + 1) * block <= vmem_cfg.requested_size;
	     off += 2 * block, runs++) {
		uint16_t resp, state;
		enum vpci_rc rc = vmem_request(VMEM_REQ_PLUG, vmem_cfg.addr + off, 1, &resp, &state);

		if (rc != VPCI_DONE || resp != VMEM_RESP_ACK) {
			outcome = vmem_outcome(rc, resp);
			busy = rc == VPCI_DONE && resp == VMEM_RESP_BUSY;
			break;
		}
	}
	tg_printf("# vmem fragment: runs=%llu then %s\n", (unsigned long long)runs, outcome);
	if (cmdline_get_u64("vmem_wait", 0) == 1) {
		tg_printf("# vmem fragment: waiting\n");
		vmem_wait_line();
	}
	return vmem_expect("fragment unplug all", VMEM_REQ_UNPLUG_ALL, 0, 0, VMEM_RESP_ACK, -1) &&
			       busy
		       ? TG_PASS
		       : TG_FAIL;
}
