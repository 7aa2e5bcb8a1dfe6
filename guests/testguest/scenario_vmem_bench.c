/* Scenario "vmem_bench": latency of virtio-mem PLUG and UNPLUG requests.
 *
 * vmem_bench_iters=K times (default 100, at most 10000): PLUG
 * vmem_bench_blocks=N blocks (default 1) at the start of the region, then
 * UNPLUG them, each timed with rdtsc around the whole request (build,
 * notify, device work, poll).  Cycles are TSC ticks; the TSC frequency is
 * not printed (it needs CPUID, which is off limits at CPL3).  Output:
 *   # vmem bench plug blocks=N iters=K
 *   # vmem bench plug cycles c c c ...        (16 values per line)
 *   # vmem bench unplug blocks=N iters=K
 *   # vmem bench unplug cycles c c c ...
 *   # vmem bench summary OP blocks=N iters=K median=C p99=C min=C max=C
 * median = sorted[(K-1)/2], p99 = sorted[ceil(0.99*K)-1].
 * With vmem_bench_pin=1 one more block, right after the measured ones, stays
 * plugged throughout: small requests then find their memslot already mapped.
 * Pass: every request ACKed.  SKIP when N blocks exceed requested_size.
 */
#include "io.h"
#include "virtio_mem.h"

#define MAX_ITERS 10000
#define PER_LINE 16

static uint64_t plug_cyc[MAX_ITERS], unplug_cyc[MAX_ITERS];

static void print_list(const char *op, uint16_t nb, unsigned k, const uint64_t *v)
{
	tg_printf("# vmem bench %s blocks=%u iters=%u\n", op, nb, k);
	for (unsigned i = 0; i < k; i += PER_LINE) {
		tg_printf("# vmem bench %s cycles", op);
		for (unsigned j = i; j < k && j < i + PER_LINE; j++)
			tg_printf(" %llu", (unsigned long long)v[j]);
		tg_printf("\n");
	}
}

/* Shell sort, in place (K is small; no libc qsort here). */
static void sort(uint64_t *v, unsigned n)
{
	for (unsigned gap = n / 2; gap; gap /= 2)
		for (unsigned i = gap; i < n; i++) {
			uint64_t x = v[i];
			unsigned j = i;

			for (; j >= gap && v[j - gap] > x; j -= gap)
				v[j] = v[j - gap];
			v[j] = x;
		}
}

static void summary(const char *op, uint16_t nb, unsigned k, uint64_t *v)
{
	sort(v, k);
	tg_printf("# vmem bench summary %s blocks=%u iters=%u median=%llu p99=%llu min=%llu "
		  "max=%llu\n",
		  op, nb, k, (unsigned long long)v[(k - 1) / 2],
		  (unsigned long long)v[(99 * k + 99) / 100 - 1], (unsigned long long)v[0],
		  (unsigned long long)v[k - 1]);
}

static bool timed(uint16_t type, uint16_t nb, uint64_t *cycles)
{
	uint16_t rt = 0xFFFF, st;
	uint64_t t0 = rdtsc();
	enum vpci_rc rc = vmem_request(type, vmem_cfg.addr, nb, &rt, &st);

	*cycles = rdtsc() - t0;
	if (rc == VPCI_DONE && rt == VMEM_RESP_ACK)
		return true;
	tg_printf("# vmem bench: %s of %u blocks -> %s\n",
		  type == VMEM_REQ_PLUG ? "PLUG" : "UNPLUG", nb, vmem_outcome(rc, rt));
	return false;
}

enum tg_result scenario_vmem_bench(void)
{
	uint64_t nb = cmdline_get_u64("vmem_bench_blocks", 1);
	uint64_t k = cmdline_get_u64("vmem_bench_iters", 100);

	if (!vmem_open())
		return TG_FAIL;
	if (!k || k > MAX_ITERS || !nb || nb > VMEM_MAX_BLOCKS_PER_REQ ||
	    nb * vmem_cfg.block_size > vmem_cfg.requested_size) {
		tg_printf("# vmem bench: need 1 <= vmem_bench_iters <= %u and 1 <= "
			  "vmem_bench_blocks <= min(65535, requested_size/block_size)\n",
			  MAX_ITERS);
		return TG_SKIP;
	}
	if (cmdline_get_u64("vmem_bench_pin", 0) == 1) {
		uint16_t rt = 0xFFFF, st;
		enum vpci_rc rc = vmem_request(VMEM_REQ_PLUG, vmem_cfg.addr + nb * vmem_cfg.block_size,
					       1, &rt, &st);

		if (rc != VPCI_DONE || rt != VMEM_RESP_ACK) {
			tg_printf("# vmem bench: pin -> %s\n", vmem_outcome(rc, rt));
			return TG_FAIL;
		}
	}
	for (unsigned i = 0; i < k; i++)
		if (!timed(VMEM_REQ_PLUG, (uint16_t)nb, &plug_cyc[i]) ||
		    !timed(VMEM_REQ_UNPLUG, (uint16_t)nb, &unplug_cyc[i]))
			return TG_FAIL;
	print_list("plug", (uint16_t)nb, (unsigned)k, plug_cyc);
	print_list("unplug", (uint16_t)nb, (unsigned)k, unplug_cyc);
	summary("plug", (uint16_t)nb, (unsigned)k, plug_cyc);
	summary("unplug", (uint16_t)nb, (unsigned)k, unplug_cyc);
	return TG_PASS;
}
