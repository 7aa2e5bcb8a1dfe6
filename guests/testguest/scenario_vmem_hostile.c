/* Scenario "vmem_hostile": a guest that attacks the memory bound.
 *
 * Plugs the first block of each of vmem_parts= parts (default 8) of vmem_part=
 * bytes (default 128 MiB, tide's memslot part), then writes one word every
 * vmem_stride= bytes (default 256 KiB) over the unplugged rest of those parts,
 * and reads each word back. Tide must drop the writes (they would take host
 * memory the guest was not given) and answer the reads with all ones, as where
 * nothing is on a PC, or with zeros when the driver did not accept
 * UNPLUGGED_INACCESSIBLE (it may read unplugged memory). The plugged blocks
 * keep what the guest wrote to them. Then it unplugs everything (with
 * vmem_hostile_reset=1: resets the device first, checks the plugged blocks kept
 * their data, and sends UNPLUG_ALL), plugs every block of the first part (so
 * also the ones it wrote to while unplugged), checks that they read zeros, and
 * unplugs them. With vmem_wait=1 it waits for a line before the attack, after
 * it and after the unplug (the host samples its memory). Prints
 *   # vmem hostile: plugged=N writes=N reads=N expect=0x..
 *   # vmem hostile: unplugged reads mismatches=N
 *   # vmem hostile: plugged blocks intact=0|1
 *   # vmem hostile: replug nonzero_words=N
 * Pass: every request ACKed, every read as expected, replugged blocks zero.
 */
#include "virtio_mem.h"

enum tg_result scenario_vmem_hostile(void)
{
	uint64_t part = cmdline_get_u64("vmem_part", 128ull << 20);
	uint64_t parts = cmdline_get_u64("vmem_parts", 8);
	uint64_t stride = cmdline_get_u64("vmem_stride", 256ull << 10);
	uint64_t block, a, writes = 0, mismatches = 0, expect, nz, bad_plugged = 0;

	if (!vmem_open())
		return TG_FAIL;
	block = vmem_cfg.block_size;
	a = vmem_cfg.addr;
	if (!part || part % block || stride < 8 || stride % 8 || parts * part > vmem_cfg.usable_region_size ||
	    parts * block > vmem_cfg.requested_size) {
		tg_printf("# vmem hostile: %llu parts of 0x%llx do not fit the usable region or "
			  "requested size\n", (unsigned long long)parts, (unsigned long long)part);
		return TG_SKIP;
	}
	for (uint64_t p = 0; p < parts; p++) {
		if (!vmem_change_range(VMEM_REQ_PLUG, a + p * part, 1))
			return TG_FAIL;
		*(volatile uint64_t *)(uintptr_t)(a + p * part) = a + p * part;
	}
	if (cmdline_get_u64("vmem_wait", 0) == 1) {
		tg_printf("# vmem hostile: plugged, waiting\n");
		vmem_wait_line();
	}
	expect = vmem_unplugged_inaccessible ? ~0ull : 0;
	for (uint64_t p = 0; p < parts; p++)
		for (uint64_t off = block; off < part; off += stride, writes++)
			*(volatile uint64_t *)(uintptr_t)(a + p * part + off) = a + p * part + off;
	for (uint64_t p = 0; p < parts; p++) {
		for (uint64_t off = block; off < part; off += stride) {
			uint64_t v = *(volatile uint64_t *)(uintptr_t)(a + p * part + off);

			if (v != expect && mismatches++ < 4)
				tg_printf("# vmem hostile: read 0x%llx at 0x%llx\n",
					  (unsigned long long)v,
					  (unsigned long long)(a + p * part + off));
		}
		bad_plugged += *(volatile uint64_t *)(uintptr_t)(a + p * part) != a + p * part;
	}
	tg_printf("# vmem hostile: plugged=%llu writes=%llu reads=%llu expect=0x%llx\n",
		  (unsigned long long)(parts * block), (unsigned long long)writes,
		  (unsigned long long)writes, (unsigned long long)expect);
	tg_printf("# vmem hostile: unplugged reads mismatches=%llu\n",
		  (unsigned long long)mismatches);
	tg_printf("# vmem hostile: plugged blocks intact=%d\n", bad_plugged == 0);
	if (cmdline_get_u64("vmem_wait", 0) == 1) {
		tg_printf("# vmem hostile: waiting\n");
		vmem_wait_line();
	}
	if (cmdline_get_u64("vmem_hostile_reset", 0) == 1) {
		/* A device reset keeps every block and its data; UNPLUG_ALL then gives all back. */
		if (!vmem_init())
			return TG_FAIL;
		for (uint64_t p = 0; p < parts; p++)
			bad_plugged += *(volatile uint64_t *)(uintptr_t)(a + p * part) !=
				       a + p * part;
		tg_printf("# vmem hostile: after a device reset plugged blocks intact=%d\n",
			  bad_plugged == 0);
		if (!vmem_expect("hostile unplug all", VMEM_REQ_UNPLUG_ALL, 0, 0, VMEM_RESP_ACK,
				 -1) ||
		    !vmem_check_plugged("hostile unplug all", 0))
			return TG_FAIL;
	} else {
		for (uint64_t p = 0; p < parts; p++)
			if (!vmem_change_range(VMEM_REQ_UNPLUG, a + p * part, 1))
				return TG_FAIL;
	}
	if (cmdline_get_u64("vmem_wait", 0) == 1) {
		tg_printf("# vmem hostile: unplugged, waiting\n");
		vmem_wait_line();
	}
	if (part > vmem_cfg.requested_size) {
		tg_printf("# vmem hostile: requested size below one part: no replug\n");
		return mismatches || bad_plugged ? TG_FAIL : TG_PASS;
	}
	if (!vmem_change_range(VMEM_REQ_PLUG, a, part / block))
		return TG_FAIL;
	nz = vmem_count_nonzero("hostile replug", a, part);
	tg_printf("# vmem hostile: replug nonzero_words=%llu\n", (unsigned long long)nz);
	if (!vmem_change_range(VMEM_REQ_UNPLUG, a, part / block) ||
	    !vmem_check_plugged("hostile end", 0))
		return TG_FAIL;
	return mismatches || bad_plugged || nz ? TG_FAIL : TG_PASS;
}
