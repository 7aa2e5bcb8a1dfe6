/* Scenario "vmem_follow": a virtio-mem driver that follows requested_size,
 * as Linux's does, for the host to resize through QMP.
 *
 * Plugs blocks upward from the start of the region while plugged <
 * min(requested, usable), unplugs from the top while plugged > requested, in
 * requests of at most 128 MiB (a Linux memory block). Checks as it goes:
 *  - every block it plugs reads zeros (sampled every 64 KiB and the last word),
 *    then gets a marker at the same places: a block unplugged and plugged again
 *    must read zeros, not its old markers;
 *  - block 0 holds a full pattern from its plug to its unplug;
 *  - each time plugged == requested: block 0's pattern and every plugged
 *    block's markers are intact (resizes of other blocks did not touch them).
 * Lines:
 *   # vmem follow: ready block_size=0x.. region_size=0x..
 *   # vmem follow: reached requested=0x.. plugged=0x.. checks=ok|bad
 * BUSY is retried. Ends when a line arrives on the serial port; passes when
 * every request was answered ACK (or BUSY) and every check held.
 */
#include "io.h"
#include "memtest.h"
#include "virtio_mem.h"

#define SAMPLE_STRIDE (64 * 1024)
#define CHUNK_BYTES (128ull << 20)

static uint64_t failures;

/*
 * The sampled words of [a, a + size): every 64 KiB and the last one. fresh: each
 * must read zero and then gets its own address as a marker; otherwise each must
 * hold its marker. False (after a line) on the first word that does not.
 */
static bool check_samples(uint64_t a, uint64_t size, bool fresh)
{
	for (uint64_t off = 0; off < size; off += SAMPLE_STRIDE) {
		uint64_t at = off + SAMPLE_STRIDE < size ? off : size - 8;
		volatile uint64_t *w = (volatile uint64_t *)(uintptr_t)(a + at);
		uint64_t want = fresh ? 0 : a + at;

		if (*w != want) {
			tg_printf("# vmem follow: %s 0x%llx reads 0x%llx, expected 0x%llx\n",
				  fresh ? "freshly plugged" : "plugged", (unsigned long long)(a + at),
				  (unsigned long long)*w, (unsigned long long)want);
			return false;
		}
		*w = a + at;
		if (at != off) { /* the last stride's start, then the last word */
			w = (volatile uint64_t *)(uintptr_t)(a + off);
			want = fresh ? 0 : a + off;
			if (*w != want) {
				tg_printf("# vmem follow: 0x%llx reads 0x%llx, expected 0x%llx\n",
					  (unsigned long long)(a + off), (unsigned long long)*w,
					  (unsigned long long)want);
				return false;
			}
			*w = a + off;
		}
	}
	return true;
}

/* One request, BUSY retried; false (counted) on anything but ACK. */
static bool request(uint16_t type, uint64_t addr, uint64_t nb)
{
	for (;;) {
		uint16_t rt = 0xFFFF, st;
		enum vpci_rc rc = vmem_request(type, addr, (uint16_t)nb, &rt, &st);

		if (rc == VPCI_DONE && rt == VMEM_RESP_ACK)
			return true;
		if (rc == VPCI_DONE && rt == VMEM_RESP_BUSY)
			continue;
		failures++;
		tg_printf("# vmem follow: %s addr=0x%llx nb_blocks=%llu -> %s\n",
			  type == VMEM_REQ_PLUG ? "PLUG" : "UNPLUG", (unsigned long long)addr,
			  (unsigned long long)nb, vmem_outcome(rc, rt));
		return false;
	}
}

static void check_plugged_memory(uint64_t base, uint64_t bs, uint64_t nplugged)
{
	struct memtest_result r = { 0 };
	bool ok = true;

	if (nplugged) {
		memtest_verify(base, bs, MEMTEST_DEFAULT_SEED, &r);
		if (r.bad_words) {
			tg_printf("# vmem follow: block 0 pattern: %llu bad words, first at 0x%llx\n",
				  (unsigned long long)r.bad_words,
				  (unsigned long long)r.first_bad_addr);
			ok = false;
		}
	}
	for (uint64_t i = 1; i < nplugged && ok; i++)
		ok = check_samples(base + i * bs, bs, false);
	if (!ok)
		failures++;
	tg_printf("# vmem follow: reached requested=0x%llx plugged=0x%llx checks=%s\n",
		  (unsigned long long)vmem_cfg.requested_size,
		  (unsigned long long)(nplugged * bs), ok ? "ok" : "bad");
}

enum tg_result scenario_vmem_follow(void)
{
	uint64_t bs, base, nplugged = 0, chunk, last_reported = ~0ull;

	if (!vmem_open())
		return TG_FAIL;
	bs = vmem_cfg.block_size;
	base = vmem_cfg.addr;
	chunk = CHUNK_BYTES / bs ? CHUNK_BYTES / bs : 1;
	if (chunk > VMEM_MAX_BLOCKS_PER_REQ)
		chunk = VMEM_MAX_BLOCKS_PER_REQ;
	tg_printf("# vmem follow: ready block_size=0x%llx region_size=0x%llx\n",
		  (unsigned long long)bs, (unsigned long long)vmem_cfg.region_size);
	while (serial_try_getc() < 0) {
		uint64_t want, limit;

		if (!vmem_read_config(&vmem_cfg))
			return TG_FAIL;
		want = vmem_cfg.requested_size / bs;
		limit = vmem_cfg.usable_region_size / bs;
		if (want > limit)
			want = limit;
		if (nplugged < want) {
			uint64_t n = want - nplugged < chunk ? want - nplugged : chunk;
			uint64_t a = base + nplugged * bs;

			if (!request(VMEM_REQ_PLUG, a, n))
				return TG_FAIL;
			for (uint64_t i = 0; i < n; i++)
				if (!check_samples(a + i * bs, bs, true))
					failures++;
			if (nplugged == 0)
				memtest_fill(base, bs, MEMTEST_DEFAULT_SEED);
			nplugged += n;
		} else if (nplugged > want) {
			uint64_t n = nplugged - want < chunk ? nplugged - want : chunk;

			if (!request(VMEM_REQ_UNPLUG, base + (nplugged - n) * bs, n))
				return TG_FAIL;
			nplugged -= n;
		} else if (vmem_cfg.requested_size != last_reported &&
			   nplugged * bs == vmem_cfg.requested_size) {
			/* The config may have moved on since it was read: read it once more. */
			if (!vmem_read_config(&vmem_cfg))
				return TG_FAIL;
			if (vmem_cfg.requested_size / bs != nplugged)
				continue;
			check_plugged_memory(base, bs, nplugged);
			last_reported = vmem_cfg.requested_size;
		} else {
			for (volatile int spin = 0; spin < 20000; spin++)
				cpu_relax();
		}
	}
	tg_printf("# vmem follow: done, failures=%llu\n", (unsigned long long)failures);
	return failures ? TG_FAIL : TG_PASS;
}
