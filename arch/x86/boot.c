#include "arch/x86/boot.h"

#include <inttypes.h>
#include <string.h>

#include "arch/x86/e820.h"
#include "arch/x86/layout.h"
#include "mm/guest_mem.h"
#include "util/util.h"

int boot_place_high(uint64_t lo, uint64_t hi, uint64_t size, const struct boot_range *busy,
		    unsigned nr_busy, uint64_t *start)
{
	uint64_t top = hi;

	if (size == 0)
		return -1;
	/*
	 * Each round either succeeds or lowers top to the start of a busy range
	 * that can then no longer overlap: at most nr_busy + 1 rounds.
	 */
	for (;;) {
		uint64_t s;
		unsigned i;

		if (top < lo || top - lo < size)
			return -1;
		s = ALIGN_DOWN(top - size, BOOT_PAGE_SIZE);
		if (s < lo)
			return -1;
		for (i = 0; i < nr_busy; i++)
			if (s < busy[i].end && busy[i].start < s + size)
				break;
		if (i == nr_busy) {
			*start = s;
			return 0;
		}
		top = busy[i].start;
	}
}

int boot_write_cmdline(struct guest_mem *mem, const char *cmdline, uint64_t max_len,
		       struct error *err)
{
	size_t len = strlen(cmdline);

	if (len > LAYOUT_CMDLINE_MAX - 1)
		return error_set(err, "kernel command line is %zu bytes, tide allows at most %llu",
				 len, LAYOUT_CMDLINE_MAX - 1);
	if (len > max_len)
		return error_set(err, "kernel command line is %zu bytes, the kernel accepts at "
				      "most %" PRIu64,
				 len, max_len);
	if (guest_mem_write(mem, LAYOUT_CMDLINE, cmdline, len + 1, err))
		return error_prefix(err, "kernel command line");
	return 0;
}

int boot_low_ram_end(const struct e820_table *e820, uint64_t *end, struct error *err)
{
	for (unsigned i = 0; i < e820->nr && i < E820_MAX_ENTRIES; i++) {
		const struct e820_entry *e = &e820->entries[i];

		if (e->type == E820_RAM && e->addr <= LAYOUT_HIGH_MEMORY &&
		    LAYOUT_HIGH_MEMORY - e->addr < e->size && e->size <= UINT64_MAX - e->addr) {
			*end = e->addr + e->size;
			return 0;
		}
	}
	return error_set(err, "the e820 map has no RAM at 1 MiB to load the kernel into");
}
