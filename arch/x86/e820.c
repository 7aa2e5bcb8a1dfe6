#include "arch/x86/e820.h"

#include <inttypes.h>
#include <string.h>

#include "arch/arch.h"
#include "arch/x86/layout.h"
#include "mm/guest_mem.h"

int e820_add(struct e820_table *t, uint64_t addr, uint64_t size, uint32_t type,
	     struct error *err)
{
	if (t->nr >= E820_MAX_ENTRIES)
		return error_set(err, "e820 table is full (%d entries)", E820_MAX_ENTRIES);
	if (size == 0 || addr + size < addr)
		return error_set(err, "e820 range 0x%" PRIx64 "+0x%" PRIx64 " is empty or wraps",
				 addr, size);
	t->entries[t->nr++] = (struct e820_entry){ .addr = addr, .size = size, .type = type };
	return 0;
}

int e820_build(struct e820_table *t, uint64_t ram_size, struct error *err)
{
	uint64_t low, high;

	memset(t, 0, sizeof(*t));
	if (ram_size < E820_MIN_RAM)
		return error_set(err, "%" PRIu64 " bytes of RAM is too little to boot: at least "
				      "%" PRIu64 " MiB needed",
				 ram_size, (uint64_t)(E820_MIN_RAM >> 20));
	guest_mem_split(&arch_layout.ram, ram_size, &low, &high);
	if (high > UINT64_MAX - LAYOUT_4G)
		return error_set(err, "%" PRIu64 " bytes of RAM do not fit the guest-physical "
				      "address space",
				 ram_size);

	if (e820_add(t, 0, LAYOUT_MPTABLE, E820_RAM, err) ||
	    e820_add(t, LAYOUT_MPTABLE, LAYOUT_EBDA_END - LAYOUT_MPTABLE, E820_RESERVED, err) ||
	    e820_add(t, LAYOUT_BIOS_START, LAYOUT_HIGH_MEMORY - LAYOUT_BIOS_START, E820_RESERVED,
		     err) ||
	    e820_add(t, LAYOUT_HIGH_MEMORY, low - LAYOUT_HIGH_MEMORY, E820_RAM, err))
		return -1;
	if (high && e820_add(t, LAYOUT_4G, high, E820_RAM, err))
		return -1;
	return 0;
}

void e820_write_boot_params(const struct e820_table *t, void *zero_page)
{
	uint8_t *bp = zero_page;
	unsigned nr = t->nr < E820_MAX_ENTRIES ? t->nr : E820_MAX_ENTRIES;

	bp[BOOT_PARAMS_E820_ENTRIES] = (uint8_t)nr;
	memcpy(bp + BOOT_PARAMS_E820_TABLE, t->entries, nr * sizeof(struct e820_entry));
}
