/* Scenario "vmem_flood": a guest that keeps the virtio-mem queue full.
 *
 * Puts the same STATE request (block 0) in every free slot of the queue and notifies,
 * again as soon as the device has used any, until a line arrives on the serial port
 * (the host measures QMP meanwhile; looked at every 4096 rounds) or
 * vmem_flood_requests=N requests went in. Then it waits for the device to answer
 * the rest. Prints
 *   # vmem flood: queue of N, flooding
 *   # vmem flood: requests=N
 * Pass: all answered, the device never needed a reset.
 */
#include "io.h"
#include "virtio_mem.h"

enum tg_result scenario_vmem_flood(void)
{
	static struct virtio_mem_req req __attribute__((aligned(64)));
	static struct virtio_mem_resp resp __attribute__((aligned(64)));
	uint64_t limit = cmdline_get_u64("vmem_flood_requests", 0), requests = 0;
	uint64_t t0;

	if (!vmem_open())
		return TG_FAIL;
	req = (struct virtio_mem_req){ .type = VMEM_REQ_STATE, .addr = vmem_cfg.addr,
				       .nb_blocks = 1 };
	vpci_set_desc(&vmem_dev, 0, (uint64_t)(uintptr_t)&req, sizeof(req), VRING_DESC_F_NEXT, 1);
	vpci_set_desc(&vmem_dev, 1, (uint64_t)(uintptr_t)&resp, sizeof(resp), VRING_DESC_F_WRITE, 0);
	tg_printf("# vmem flood: queue of %u, flooding\n", vmem_dev.qsize);
	for (uint64_t round = 1; !limit || requests < limit; round++) {
		requests += (uint64_t)vpci_refill(&vmem_dev, 0);
		if (round % 4096 == 0) {
			if (vpci_status(&vmem_dev) & VIRTIO_STATUS_NEEDS_RESET) {
				tg_printf("# vmem flood: NEEDS_RESET\n");
				return TG_FAIL;
			}
			if (serial_try_getc() >= 0)
				break;
		}
	}
	t0 = rdtsc();
	while (!vpci_drained(&vmem_dev)) {
		if (rdtsc() - t0 > vpci_timeout_cycles) {
			tg_printf("# vmem flood: the device stopped answering\n");
			return TG_FAIL;
		}
		cpu_relax();
	}
	tg_printf("# vmem flood: requests=%llu\n", (unsigned long long)requests);
	return resp.type == VMEM_RESP_ACK ? TG_PASS : TG_FAIL;
}
