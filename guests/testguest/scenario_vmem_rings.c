/* Scenario "vmem_rings": plugged memory is RAM for the device too (virtio-mem spec:
 * plugged memory behaves exactly like RAM), down to the device's own rings.
 *
 * Plugs the first block, re-initializes the device with its virtqueue rings at the
 * block's start and the request/response buffers 4 KiB in, and asks STATE through them.
 * Then it unplugs that very block: the device cannot write the answer into memory it has
 * just given back (nor use its rings), so it must set DEVICE_NEEDS_RESET, not crash.
 * Back on rings in boot RAM, STATE says the unplug took effect. Prints
 *   # vmem rings: in plugged memory at 0x..: STATE ok
 *   # vmem rings: unplugging them: DEVICE_NEEDS_RESET
 */
#include "virtio_mem.h"

static bool reinit_with(void *rings, void *buffers)
{
	vpci_place_rings(rings);
	vmem_place_buffers(buffers);
	return vmem_init();
}

enum tg_result scenario_vmem_rings(void)
{
	uint16_t type, state;
	enum vpci_rc rc;
	uint64_t a;
	void *block;

	if (!vmem_open())
		return TG_FAIL;
	if (vmem_cfg.requested_size < vmem_cfg.block_size) {
		tg_printf("# vmem rings: requested_size holds no block\n");
		return TG_SKIP;
	}
	a = vmem_cfg.addr;
	block = (void *)(uintptr_t)a;
	if (!vmem_change_range(VMEM_REQ_PLUG, a, 1))
		return TG_FAIL;
	if (!reinit_with(block, (uint8_t *)block + VPCI_RINGS_SIZE) ||
	    !vmem_state_is("state through rings in plugged memory", a, 1, VMEM_STATE_PLUGGED))
		return TG_FAIL;
	tg_printf("# vmem rings: in plugged memory at 0x%llx: STATE ok\n", (unsigned long long)a);

	rc = vmem_request(VMEM_REQ_UNPLUG, a, 1, &type, &state);
	tg_printf("# vmem rings: unplugging them: %s\n", vmem_outcome(rc, type));
	if (rc != VPCI_NEEDS_RESET)
		return TG_FAIL;

	if (!reinit_with(NULL, NULL) ||
	    !vmem_state_is("state after the unplug", a, 1, VMEM_STATE_UNPLUGGED) ||
	    !vmem_check_plugged("after the unplug", 0))
		return TG_FAIL;
	return TG_PASS;
}
