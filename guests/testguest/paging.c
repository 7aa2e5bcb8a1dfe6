/* Tide test guest: the identity map built by start.S, and extending it.
 *
 * start.S maps [0, 1 TiB) with 1 GiB pages when the CPU has pdpe1gb, else
 * [0, 64 GiB) with 2 MiB pages, all U=1/RW=1.  Because the tables are
 * themselves user-accessible, CPL3 code can add mappings beyond that
 * (e.g. for a virtio-mem region above RAM): it fills a fresh table page
 * from a pool in .bss and only then links it into a not-present entry.
 * Turning an entry from not-present to present needs no TLB invalidation
 * (non-present entries are never cached), so no CPL0 instruction is needed.
 * Entries that are already present are never modified.
 *
 * Addresses at or above 2^MAXPHYADDR (CPUID 0x80000008 EAX[7:0], read by
 * the stub at CPL0) are treated as unmappable: the pre-built 1 GiB tables
 * do contain entries up to 1 TiB, but on a CPU with fewer physical address
 * bits those entries have reserved bits set and must not be used.
 */
#include "io.h"
#include "tg.h"

#define PTE_P 0x001ull
#define PTE_RW 0x002ull
#define PTE_US 0x004ull
#define PTE_PS 0x080ull
#define PTE_TABLE (PTE_P | PTE_RW | PTE_US)
#define PTE_LARGE (PTE_P | PTE_RW | PTE_US | PTE_PS)
#define PTE_ADDR 0x000FFFFFFFFFF000ull

#define SZ_2M (1ull << 21)
#define SZ_1G (1ull << 30)
#define VA_LIMIT (1ull << 47)	/* 4-level paging, lower half only */

#define POOL_PAGES 64

extern uint64_t pml4_1g[], pml4_2m[];

struct tg_paging tg_paging;

static uint64_t pool[POOL_PAGES][512] __attribute__((aligned(4096)));
static unsigned pool_used;

void paging_init(uint64_t cr3, uint32_t cpuid_80000008_eax)
{
	unsigned bits = cpuid_80000008_eax & 0xff;

	/* 36 bits is the architectural default when the leaf is missing/bogus. */
	if (bits < 32 || bits > 52)
		bits = 36;
	tg_paging.phys_bits = bits;
	tg_paging.phys_limit = 1ull << bits;
	tg_paging.cr3 = cr3 & PTE_ADDR;
	tg_paging.gbpages = tg_paging.cr3 == (uint64_t)(uintptr_t)pml4_1g;
	tg_paging.static_limit = tg_paging.gbpages ? 1024 * SZ_1G : 64 * SZ_1G;
	if (tg_paging.static_limit > tg_paging.phys_limit)
		tg_paging.static_limit = tg_paging.phys_limit;
}

static volatile uint64_t *table(uint64_t entry)
{
	return (volatile uint64_t *)(uintptr_t)(entry & PTE_ADDR);
}

/* Size of the identity-mapped page containing addr, 0 if not mapped (or
 * mapped somewhere else). */
static uint64_t walk(uint64_t addr)
{
	volatile uint64_t *t = table(tg_paging.cr3);
	uint64_t e;

	if (addr >= VA_LIMIT || addr >= tg_paging.phys_limit)
		return 0;
	e = t[(addr >> 39) & 511];
	if (!(e & PTE_P))
		return 0;
	e = table(e)[(addr >> 30) & 511];
	if (!(e & PTE_P))
		return 0;
	if (e & PTE_PS)
		return (e & PTE_ADDR & ~(SZ_1G - 1)) == (addr & ~(SZ_1G - 1)) ? SZ_1G : 0;
	e = table(e)[(addr >> 21) & 511];
	if (!(e & PTE_P))
		return 0;
	if (e & PTE_PS)
		return (e & PTE_ADDR & ~(SZ_2M - 1)) == (addr & ~(SZ_2M - 1)) ? SZ_2M : 0;
	e = table(e)[(addr >> 12) & 511];
	if (!(e & PTE_P))
		return 0;
	return (e & PTE_ADDR) == (addr & PTE_ADDR) ? 4096 : 0;
}

bool paging_is_mapped(uint64_t addr, uint64_t size)
{
	uint64_t end = addr + size;

	if (end < addr)
		return false;
	while (addr < end) {
		uint64_t pg = walk(addr);

		if (!pg)
			return false;
		addr = (addr & ~(pg - 1)) + pg;
		if (!addr)
			break;
	}
	return true;
}

static uint64_t *pool_alloc(void)
{
	uint64_t *p;

	if (pool_used >= POOL_PAGES)
		return NULL;
	p = pool[pool_used++];
	memset(p, 0, 4096);
	return p;
}

/* Link a fully built table page into a not-present entry. */
static void link_entry(volatile uint64_t *slot, uint64_t val)
{
	barrier();
	*slot = val;
	barrier();
}

/* Map the 1 GiB-aligned region containing addr (whole region). */
static bool map_gib(uint64_t addr)
{
	volatile uint64_t *pml4 = table(tg_paging.cr3);
	volatile uint64_t *pml4e = &pml4[(addr >> 39) & 511];
	volatile uint64_t *pdpte;
	uint64_t base = addr & ~(SZ_1G - 1);

	if (!(*pml4e & PTE_P)) {
		uint64_t *pdpt = pool_alloc();

		if (!pdpt)
			return false;
		link_entry(pml4e, (uint64_t)(uintptr_t)pdpt | PTE_TABLE);
	}
	pdpte = &table(*pml4e)[(addr >> 30) & 511];
	if (*pdpte & PTE_P)
		return true;	/* present already (partly mapped PD): leave it */
	if (tg_paging.gbpages) {
		link_entry(pdpte, base | PTE_LARGE);
	} else {
		uint64_t *pd = pool_alloc();

		if (!pd)
			return false;
		for (unsigned i = 0; i < 512; i++)
			pd[i] = (base + i * SZ_2M) | PTE_LARGE;
		link_entry(pdpte, (uint64_t)(uintptr_t)pd | PTE_TABLE);
	}
	return true;
}

bool paging_map_identity(uint64_t addr, uint64_t size)
{
	uint64_t end = addr + size;

	/* Entries pointing at or above MAXPHYADDR would have reserved bits set
	 * and fault (= triple fault) on use. */
	if (end < addr || end > VA_LIMIT || end > tg_paging.phys_limit)
		return false;
	for (uint64_t a = addr & ~(SZ_1G - 1); a < end; a += SZ_1G) {
		if (paging_is_mapped(a > addr ? a : addr,
				     (a + SZ_1G < end ? a + SZ_1G : end) - (a > addr ? a : addr)))
			continue;
		if (!map_gib(a))
			return false;
	}
	return paging_is_mapped(addr, size);
}
