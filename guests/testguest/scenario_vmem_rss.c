/* Scenario "vmem_rss": plug memory, touch it, unplug it, so the host can
 * measure its own memory use (RSS of the VMM) at each step.
 *
 * Plugs vmem_blocks= blocks (default 4) from the start of the region
 * (requests of <= 65535 blocks), writes one word in every 4 KiB page, and
 * prints "# vmem rss: plugged bytes=N".  With vmem_wait=1 it then prints
 * "# vmem rss: waiting" and blocks until a line arrives on the serial port
 * (the host samples meanwhile).  Then it unplugs the same ranges, prints
 * "# vmem rss: unplugged", and waits again with vmem_wait=1.
 * Pass: every request ACKed.  SKIP when the blocks exceed requested_size.
 */
#include "virtio_mem.h"

static void wait_if_asked(void)
{
	if (cmdline_get_u64("vmem_wait", 0) != 1)
		return;
	tg_printf("# vmem rss: waiting\n");
	vmem_wait_line();
}

enum tg_result scenario_vmem_rss(void)
{
	uint64_t nb, a, size;

	if (!vmem_open())
		return TG_FAIL;
	nb = vmem_opt_blocks("rss", 1);
	if (!nb)
		return TG_SKIP;
	a = vmem_cfg.addr;
	size = nb * vmem_cfg.block_size;
	if (!vmem_change_range(VMEM_REQ_PLUG, a, nb))
		return TG_FAIL;
	/* One write per page is enough to make the host back it. */
	for (uint64_t off = 0; off < size; off += 4096)
		*(volatile uint64_t *)(uintptr_t)(a + off) = a + off;
	tg_printf("# vmem rss: plugged bytes=%llu\n", (unsigned long long)size);
	wait_if_asked();
	if (!vmem_change_range(VMEM_REQ_UNPLUG, a, nb) || !vmem_check_plugged("rss unplug", 0))
		return TG_FAIL;
	tg_printf("# vmem rss: unplugged\n");
	wait_if_asked();
	return TG_PASS;
}
