/* Scenario "pattern": fill all RAM above the guest image with an
 * address-derived pattern, then verify it.
 *
 * Options: pattern_mb=N (limit in MiB, 0 = all RAM, default 0),
 *          seed=N (pattern seed).
 * Markers for host-side timing:
 *   # pattern start bytes=N
 *   # pattern done bytes=N write_tsc=C verify_tsc=C
 */
#include "io.h"
#include "memtest.h"

#define MAX_REGIONS TG_MAX_MEMMAP

struct region {
	uint64_t addr, len;
};

enum tg_result scenario_pattern(void)
{
	static struct region reg[MAX_REGIONS];
	unsigned nreg = 0;
	uint64_t floor = ((uintptr_t)__image_end + 4095) & ~4095ull;
	uint64_t limit = cmdline_get_u64("pattern_mb", 0) << 20;
	uint64_t seed = cmdline_get_u64("seed", MEMTEST_DEFAULT_SEED);
	uint64_t total = 0, t0, t1, t2;
	struct memtest_result res = { 0 };
	bool ok = true;

	for (uint32_t i = 0; i < tg_boot.nr_memmap && nreg < MAX_REGIONS; i++) {
		const struct hvm_memmap_table_entry *e = &tg_boot.memmap[i];
		uint64_t lo = e->addr, hi = e->addr + e->size;

		if (e->type != E820_RAM)
			continue;
		if (lo < floor)
			lo = floor;
		lo = (lo + 4095) & ~4095ull;
		hi &= ~4095ull;
		if (hi <= lo)
			continue;
		if (limit && total + (hi - lo) > limit)
			hi = lo + (limit - total);
		if (hi <= lo)
			break;
		if (!paging_is_mapped(lo, hi - lo) && !paging_map_identity(lo, hi - lo)) {
			tg_printf("# pattern region addr=0x%llx size=0x%llx cannot be mapped\n",
				  (unsigned long long)lo, (unsigned long long)(hi - lo));
			ok = false;
			continue;
		}
		reg[nreg].addr = lo;
		reg[nreg].len = hi - lo;
		total += hi - lo;
		tg_printf("# pattern region addr=0x%llx size=0x%llx\n", (unsigned long long)lo,
			  (unsigned long long)(hi - lo));
		nreg++;
	}
	if (!total) {
		tg_printf("# pattern: no RAM above the image (end 0x%llx)\n",
			  (unsigned long long)floor);
		return TG_FAIL;
	}

	tg_printf("# pattern start bytes=%llu\n", (unsigned long long)total);
	t0 = rdtsc();
	for (unsigned i = 0; i < nreg; i++)
		memtest_fill(reg[i].addr, reg[i].len, seed);
	t1 = rdtsc();
	for (unsigned i = 0; i < nreg; i++)
		memtest_verify(reg[i].addr, reg[i].len, seed, &res);
	t2 = rdtsc();
	tg_printf("# pattern done bytes=%llu write_tsc=%llu verify_tsc=%llu\n",
		  (unsigned long long)total, (unsigned long long)(t1 - t0),
		  (unsigned long long)(t2 - t1));

	if (res.bad_words) {
		tg_printf("# pattern mismatch: %llu bad words, first at 0x%llx expected=0x%016llx "
			  "found=0x%016llx\n",
			  (unsigned long long)res.bad_words, (unsigned long long)res.first_bad_addr,
			  (unsigned long long)res.expected, (unsigned long long)res.found);
		ok = false;
	}
	return ok ? TG_PASS : TG_FAIL;
}
