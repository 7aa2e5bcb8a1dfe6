/* Tide test guest, arm64: the identity map built by start.S, and extending it
 * (the same interface as ../paging.c).
 *
 * start.S maps [0, 512 GiB) with 1 GiB blocks through one level 1 table (no
 * mapping for [1, 2 GiB), where Tide's board has nothing).  Beyond that,
 * paging_map_identity adds level 1 tables from a pool in .bss, with Normal
 * 1 GiB blocks: what lies up there is device memory (virtio-mem) or RAM for
 * the scenarios; PCI BARs stay in the 32-bit window below 1 GiB (Tide assigns
 * them there, and so does virtio_pci.c).  Entries only ever go from invalid to
 * valid, which needs no TLB maintenance (translation faults are not cached),
 * just a dsb so the walker sees the store before the access that needs it.
 *
 * tg_paging.cr3 holds TTBR0_EL1; gbpages is always true (1 GiB blocks);
 * phys_bits is ID_AA64MMFR0_EL1.PARange (the VM's IPA space may be smaller:
 * Tide uses the largest KVM offers, up to 48 bits).
 */
#include "io.h"
#include "tg.h"

#define DESC_VALID 0x1ull
#define DESC_TYPE_MASK 0x3ull
#define DESC_TABLE 0x3ull
#define DESC_BLOCK 0x1ull
#define DESC_ADDR 0x0000FFFFFFFFF000ull
/* Attribute 1 (Normal write-back), inner shareable, accessed; as start.S. */
#define BLOCK_NORMAL (DESC_BLOCK | (1ull << 2) | (3ull << 8) | (1ull << 10))

#define SZ_1G (1ull << 30)
#define SZ_512G (1ull << 39)
#define VA_LIMIT (1ull << 48) /* T0SZ = 16 */

#define POOL_PAGES 8

struct tg_paging tg_paging;

static uint64_t pool[POOL_PAGES][512] __attribute__((aligned(4096)));
static unsigned pool_used;

/* cr3: TTBR0_EL1; phys_bits: from PARange (boot.c). */
void paging_init(uint64_t cr3, uint32_t phys_bits)
{
	tg_paging.cr3 = cr3 & DESC_ADDR;
	tg_paging.gbpages = true;
	tg_paging.phys_bits = phys_bits;
	tg_paging.phys_limit = phys_bits >= 48 ? VA_LIMIT : 1ull << phys_bits;
	tg_paging.static_limit = SZ_512G < tg_paging.phys_limit ? SZ_512G : tg_paging.phys_limit;
}

static volatile uint64_t *table(uint64_t desc)
{
	return (volatile uint64_t *)(uintptr_t)(desc & DESC_ADDR);
}

/* Bytes mapped from addr to the end of its block, 0 if unmapped. */
static uint64_t mapped_at(uint64_t addr)
{
	uint64_t l0e, l1e;

	if (addr >= tg_paging.phys_limit)
		return 0;
	l0e = table(tg_paging.cr3)[(addr >> 39) & 511];
	if ((l0e & DESC_TYPE_MASK) != DESC_TABLE)
		return 0;
	l1e = table(l0e)[(addr >> 30) & 511];
	if ((l1e & DESC_TYPE_MASK) != DESC_BLOCK)
		return 0;	/* this map has no level 2 tables */
	return SZ_1G - (addr & (SZ_1G - 1));
}

bool paging_is_mapped(uint64_t addr, uint64_t size)
{
	uint64_t end = addr + size;

	if (end < addr)
		return false;
	while (addr < end) {
		uint64_t n = mapped_at(addr);

		if (!n)
			return false;
		if (addr + n < addr)
			return true;	/* the last block of the address space */
		addr += n;
	}
	return true;
}

/* Map the 1 GiB block holding addr (Normal memory), adding a level 1 table if
 * its 512 GiB slot has none. */
static bool map_gib(uint64_t addr)
{
	volatile uint64_t *l0 = table(tg_paging.cr3), *l1;
	unsigned i0 = (addr >> 39) & 511, i1 = (addr >> 30) & 511;

	if ((l0[i0] & DESC_TYPE_MASK) != DESC_TABLE) {
		if (l0[i0] & DESC_VALID)
			return false;	/* a block at level 0 does not exist with 4 KiB pages */
		if (pool_used == POOL_PAGES)
			return false;
		/* The pool is .bss: zero, i.e. all invalid, before it is linked. */
		__asm__ volatile("dsb ishst" ::: "memory");
		l0[i0] = (uint64_t)(uintptr_t)pool[pool_used++] | DESC_TABLE;
	}
	l1 = table(l0[i0]);
	if (!(l1[i1] & DESC_VALID))
		l1[i1] = (addr & ~(SZ_1G - 1)) | BLOCK_NORMAL;
	else if ((l1[i1] & DESC_TYPE_MASK) != DESC_BLOCK)
		return false;
	return true;
}

bool paging_map_identity(uint64_t addr, uint64_t size)
{
	uint64_t end = addr + size;

	if (end < addr || end > VA_LIMIT || end > tg_paging.phys_limit)
		return false;
	for (uint64_t a = addr & ~(SZ_1G - 1); a < end; a += SZ_1G)
		if (!mapped_at(a) && !map_gib(a))
			return false;
	/* The new entries visible to the table walker before any access through them. */
	__asm__ volatile("dsb ish; isb" ::: "memory");
	return paging_is_mapped(addr, size);
}
