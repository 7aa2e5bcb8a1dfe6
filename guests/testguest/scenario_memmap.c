/* Scenario "memmap": print the PVH start_info, command line and memory map.
 * Pass: start_info magic is right, there is at least one RAM (type 1)
 * entry, and the guest image lies inside one RAM entry. */
#include "tg.h"

enum tg_result scenario_memmap(void)
{
	const struct tg_boot *b = &tg_boot;
	uint64_t img_lo = (uintptr_t)__image_start, img_hi = (uintptr_t)__image_end;
	unsigned ram = 0;
	bool inside = false;
	uint64_t ram_total = 0;

	if (!b->si_valid) {
		tg_printf("# start_info at 0x%llx has a bad magic\n",
			  (unsigned long long)b->si_paddr);
		return TG_FAIL;
	}
	tg_printf("# start_info paddr=0x%llx version=%u flags=0x%x nr_modules=%u "
		  "modlist=0x%llx rsdp=0x%llx\n",
		  (unsigned long long)b->si_paddr, b->version, b->flags, b->nr_modules,
		  (unsigned long long)b->modlist_paddr, (unsigned long long)b->rsdp_paddr);
	tg_printf("# cmdline paddr=0x%llx \"%s\"%s\n", (unsigned long long)b->cmdline_paddr,
		  b->cmdline, b->cmdline_truncated ? " (truncated)" : "");
	tg_printf("# memmap paddr=0x%llx entries=%u\n", (unsigned long long)b->memmap_paddr,
		  b->memmap_entries);
	if (b->memmap_entries > b->nr_memmap)
		tg_printf("# memmap: only the first %u entries are used\n", b->nr_memmap);

	for (uint32_t i = 0; i < b->nr_memmap; i++) {
		const struct hvm_memmap_table_entry *e = &b->memmap[i];

		tg_printf("# memmap addr=0x%llx size=0x%llx type=%u\n",
			  (unsigned long long)e->addr, (unsigned long long)e->size, e->type);
		if (e->type != E820_RAM)
			continue;
		ram++;
		ram_total += e->size;
		if (e->addr <= img_lo && img_hi <= e->addr + e->size)
			inside = true;
	}
	tg_printf("# image start=0x%llx end=0x%llx (%s RAM)\n", (unsigned long long)img_lo,
		  (unsigned long long)img_hi, inside ? "inside" : "NOT inside");
	tg_printf("# ram entries=%u total=0x%llx (%llu MiB)\n", ram,
		  (unsigned long long)ram_total, (unsigned long long)(ram_total >> 20));
	tg_printf("# paging %s pages, identity map [0, 0x%llx), phys_bits=%u\n",
		  tg_paging.gbpages ? "1GiB" : "2MiB",
		  (unsigned long long)tg_paging.static_limit, tg_paging.phys_bits);
	if (b->version < 1)
		tg_printf("# start_info version %u has no memory map\n", b->version);
	return ram && inside ? TG_PASS : TG_FAIL;
}
