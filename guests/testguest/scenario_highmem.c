/* Scenario "highmem": pattern-test memory at an address given on the
 * command line, typically above the static identity map (e.g. a virtio-mem
 * or pc-dimm region that is not in the PVH memory map).
 *
 * Option: highmem=ADDR[:SIZE] (numbers decimal or 0x-hex; SIZE default
 * 2 MiB; both rounded to 4 KiB).  Without the option: SKIP.
 * The identity map is extended from CPL3 as needed (see paging.c).
 */
#include "io.h"
#include "memtest.h"

enum tg_result scenario_highmem(void)
{
	size_t len, n;
	const char *v = cmdline_get("highmem", &len);
	uint64_t addr, size = 2ull << 20, seed;
	uint64_t t0, t1, t2;
	struct memtest_result res = { 0 };

	if (!v) {
		tg_printf("# highmem: no highmem=ADDR[:SIZE] option\n");
		return TG_SKIP;
	}
	n = tg_parse_u64(v, len, 10, &addr);
	if (!n || (n < len && (v[n] != ':' ||
			       tg_parse_u64(v + n + 1, len - n - 1, 10, &size) != len - n - 1))) {
		tg_printf("# highmem: cannot parse \"%.*s\"\n", (int)len, v);
		return TG_FAIL;
	}
	addr &= ~4095ull;
	size = (size + 4095) & ~4095ull;
	seed = cmdline_get_u64("seed", MEMTEST_DEFAULT_SEED);

	tg_printf("# highmem addr=0x%llx size=0x%llx mapped=%d\n", (unsigned long long)addr,
		  (unsigned long long)size, paging_is_mapped(addr, size));
	if (!paging_map_identity(addr, size)) {
		tg_printf("# highmem: cannot identity-map the range\n");
		return TG_FAIL;
	}
	tg_printf("# highmem start bytes=%llu\n", (unsigned long long)size);
	t0 = rdtsc();
	memtest_fill(addr, size, seed);
	t1 = rdtsc();
	memtest_verify(addr, size, seed, &res);
	t2 = rdtsc();
	tg_printf("# highmem done bytes=%llu write_tsc=%llu verify_tsc=%llu\n",
		  (unsigned long long)size, (unsigned long long)(t1 - t0),
		  (unsigned long long)(t2 - t1));
	if (res.bad_words) {
		tg_printf("# highmem mismatch: %llu bad words, first at 0x%llx expected=0x%016llx "
			  "found=0x%016llx\n",
			  (unsigned long long)res.bad_words, (unsigned long long)res.first_bad_addr,
			  (unsigned long long)res.expected, (unsigned long long)res.found);
		return TG_FAIL;
	}
	return TG_PASS;
}
