/* Tide test guest, x86: PVH start_info parsing, the entry into the runner and
 * the exit through isa-debug-exit.
 *
 * Everything needed later (memory map, command line) is copied into .bss at
 * startup, so tests may freely overwrite RAM outside the guest image (the
 * VMM may have put start_info, the memory map or the command line there).
 */
#include "io.h"
#include "tg.h"

#define DEBUG_EXIT_PORT 0xF4

_Static_assert(sizeof(struct hvm_start_info) == 56, "hvm_start_info layout");
_Static_assert(sizeof(struct hvm_memmap_table_entry) == 24, "memmap entry layout");

struct tg_boot tg_boot;

void pvh_init(const struct hvm_start_info *si)
{
	struct tg_boot *b = &tg_boot;

	b->si_paddr = (uint64_t)(uintptr_t)si;
	if (!si || si->magic != HVM_START_MAGIC)
		return;
	b->si_valid = true;
	b->version = si->version;
	b->flags = si->flags;
	b->nr_modules = si->nr_modules;
	b->modlist_paddr = si->modlist_paddr;
	b->cmdline_paddr = si->cmdline_paddr;
	b->rsdp_paddr = si->rsdp_paddr;

	if (si->cmdline_paddr) {
		const char *c = (const char *)(uintptr_t)si->cmdline_paddr;
		size_t n = 0;

		while (c[n] && n < TG_MAX_CMDLINE - 1) {
			b->cmdline[n] = c[n];
			n++;
		}
		b->cmdline[n] = '\0';
		b->cmdline_truncated = c[n] != '\0';
	}

	if (si->version >= 1 && si->memmap_paddr) {
		const struct hvm_memmap_table_entry *e =
			(const struct hvm_memmap_table_entry *)(uintptr_t)si->memmap_paddr;
		uint32_t n = si->memmap_entries;

		b->memmap_paddr = si->memmap_paddr;
		b->memmap_entries = n;
		if (n > TG_MAX_MEMMAP)
			n = TG_MAX_MEMMAP;
		for (uint32_t i = 0; i < n; i++)
			b->memmap[i] = e[i];
		b->nr_memmap = n;
	}
}

/* Entered at CPL3 from start.S as tg_main(start_info, cr3, cpuid 0x80000008 eax). */
void tg_main(const struct hvm_start_info *si, uint64_t cr3, uint32_t cpuid_80000008_eax)
{
	serial_init();
	pvh_init(si);
	paging_init(cr3, cpuid_80000008_eax);

	tg_printf("TAP version 13\n");
	tg_printf("# tide-testguest: start_info=0x%llx%s cmdline=\"%s\"\n",
		  (unsigned long long)(uintptr_t)si, tg_boot.si_valid ? "" : " (bad magic)",
		  tg_boot.cmdline);
	tg_run();
}

TG_NORETURN void tg_exit(unsigned code)
{
	outb(DEBUG_EXIT_PORT, (uint8_t)code);
	tg_printf("# tide-testguest: port 0x%x did not stop the VM; forcing a triple fault\n",
		  DEBUG_EXIT_PORT);
	/* ud2 raises #UD, which has no gate (the IDT holds #GP only, and the #GP
	 * handler turns hlt into an x87 load) -> triple fault -> VM shutdown.  Loop in
	 * case even that does not stop us. */
	for (;;)
		__asm__ volatile("ud2");
}
