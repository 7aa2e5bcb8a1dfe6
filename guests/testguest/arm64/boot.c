/* Tide test guest, arm64: from the entry to the runner, the device tree, the
 * exit through PSCI and the exception report.
 *
 * What the x86 guest takes from PVH's start_info, this one takes from the
 * flattened device tree Tide passes in x0: the command line (/chosen/bootargs)
 * and the RAM (the memory nodes' reg), copied into tg_boot (as E820_RAM
 * entries, so that pattern, memmap and vmem_malformed's addr_ram_end read them
 * as on x86).  si_paddr is the tree's address and si_valid its magic check.
 */
#include "io.h"
#include "tg.h"
#include "virtio_pci.h"
#include "arm64/arm64.h"

#define FDT_MAGIC 0xd00dfeedu
#define FDT_BEGIN_NODE 1
#define FDT_END_NODE 2
#define FDT_PROP 3
#define FDT_NOP 4
#define FDT_END 9

#define PSCI_SYSTEM_OFF 0x84000008u
#define PSCI_SYSTEM_RESET 0x84000009u

/* The default wait bound (vmem_timeout=), in counter ticks: 10 s.  Generous,
 * as the timer runs in real time and nested virtualization is slow. */
#define TIMEOUT_SECONDS 10

struct tg_boot tg_boot;

static uint32_t be32(const void *p)
{
	const uint8_t *b = p;

	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* A reg cell group of n (1 or 2) big-endian cells. */
static uint64_t cells(const uint8_t *p, uint32_t n)
{
	return n == 2 ? (uint64_t)be32(p) << 32 | be32(p + 4) : be32(p);
}

static bool prefix(const char *s, const char *pre)
{
	while (*pre)
		if (*s++ != *pre++)
			return false;
	return true;
}

static void add_memory(const uint8_t *reg, uint32_t len, uint32_t ac, uint32_t sc)
{
	struct tg_boot *b = &tg_boot;
	uint32_t step = 4 * (ac + sc);

	for (uint32_t off = 0; step && off + step <= len; off += step) {
		b->memmap_entries++;
		if (b->nr_memmap == TG_MAX_MEMMAP)
			continue;
		b->memmap[b->nr_memmap++] = (struct hvm_memmap_table_entry){
			.addr = cells(reg + off, ac),
			.size = cells(reg + off + 4 * ac, sc),
			.type = E820_RAM,
		};
	}
}

/*
 * One pass over the structure block.  Only the root's and its children's
 * properties matter: #address-cells/#size-cells of the root (read before the
 * children, as dtc and libfdt write properties before subnodes), reg of
 * "memory" nodes, bootargs of /chosen.
 */
static void fdt_read(const uint8_t *fdt)
{
	struct tg_boot *b = &tg_boot;
	uint32_t total = be32(fdt + 4), off_struct = be32(fdt + 8), off_strings = be32(fdt + 12);
	uint32_t size_struct = be32(fdt + 36);
	const uint8_t *p = fdt + off_struct, *end = p + size_struct;
	const char *strings = (const char *)fdt + off_strings;
	uint32_t ac = 2, sc = 1, depth = 0;
	bool chosen = false, memory = false;

	if (off_struct >= total || size_struct > total - off_struct)
		return;
	while (p + 4 <= end) {
		uint32_t tag = be32(p);

		p += 4;
		if (tag == FDT_BEGIN_NODE) {
			const char *name = (const char *)p;

			depth++;
			if (depth == 2) {
				chosen = !strcmp(name, "chosen");
				memory = prefix(name, "memory@") || !strcmp(name, "memory");
			}
			p += (strlen(name) + 1 + 3) & ~3ul;
		} else if (tag == FDT_END_NODE) {
			if (!depth--)
				return;
		} else if (tag == FDT_PROP) {
			uint32_t len = be32(p), nameoff = be32(p + 4);
			const uint8_t *val = p + 8;
			const char *name = strings + nameoff;

			p = val + ((len + 3) & ~3u);
			if (depth == 1 && !strcmp(name, "#address-cells") && len == 4)
				ac = be32(val);
			else if (depth == 1 && !strcmp(name, "#size-cells") && len == 4)
				sc = be32(val);
			else if (depth == 2 && memory && !strcmp(name, "reg") && ac && ac <= 2 &&
				 sc && sc <= 2)
				add_memory(val, len, ac, sc);
			else if (depth == 2 && chosen && !strcmp(name, "bootargs") && len) {
				const char *c = (const char *)val;
				size_t n = 0;

				while (n < len && c[n] && n < TG_MAX_CMDLINE - 1) {
					b->cmdline[n] = c[n];
					n++;
				}
				b->cmdline[n] = '\0';
				b->cmdline_truncated = n < len && c[n];
				b->cmdline_paddr = (uint64_t)(uintptr_t)c;
			}
		} else if (tag == FDT_END) {
			return;
		} else if (tag != FDT_NOP) {
			return;	/* a corrupt tree: keep what was read */
		}
	}
}

static uint64_t psci(uint64_t fn)
{
	register uint64_t x0 __asm__("x0") = fn;

	/* PSCI 0.2 through hvc (the tree's psci node says method = "hvc"). */
	__asm__ volatile("hvc #0" : "+r"(x0) : : "x1", "x2", "x3", "memory");
	return x0;
}

TG_NORETURN void tg_exit(unsigned code)
{
	/* No isa-debug-exit here: the exit status is Tide's for SYSTEM_OFF (0); the
	 * TAP lines say how it went.  Keep the code visible in the log. */
	tg_printf("# tide-testguest: exit code %u, PSCI SYSTEM_OFF\n", code);
	psci(PSCI_SYSTEM_OFF);
	tg_printf("# tide-testguest: SYSTEM_OFF returned\n");
	for (;;)
		__asm__ volatile("wfi");
}

/* Only SYSTEM_RESET: kbd, cf9 and triple (reset_via=) are PC mechanisms. */
TG_NORETURN void tg_arm64_reset(void)
{
	psci(PSCI_SYSTEM_RESET);
	tg_printf("# tide-testguest: SYSTEM_RESET returned\n");
	tg_exit(1);
}

/* From start.S's vectors: n is the vector (0-3 current EL with SP_EL0, 4-7
 * with SP_ELx, ...; within each: sync, IRQ, FIQ, SError). */
TG_NORETURN void tg_arm64_exception(uint64_t n, uint64_t esr, uint64_t elr, uint64_t far)
{
	static const char *const kind[4] = { "sync", "irq", "fiq", "serror" };

	tg_printf("# tide-testguest: unexpected %s exception (vector %llu) esr=0x%llx "
		  "(class 0x%llx) elr=0x%llx far=0x%llx\n",
		  kind[n & 3], (unsigned long long)n, (unsigned long long)esr,
		  (unsigned long long)(esr >> 26), (unsigned long long)elr,
		  (unsigned long long)far);
	tg_printf("not ok - exception\n");
	tg_exit(1);
}

void tg_arm64_main(const uint8_t *fdt)
{
	uint64_t mmfr0, ttbr0;
	static const unsigned pa_bits[8] = { 32, 36, 40, 42, 44, 48, 52, 52 };

	serial_init();
	tg_boot.si_paddr = (uint64_t)(uintptr_t)fdt;
	if (fdt && be32(fdt) == FDT_MAGIC) {
		tg_boot.si_valid = true;
		tg_boot.version = 1;	/* memmap's "has a memory map" */
		tg_boot.memmap_paddr = tg_boot.si_paddr;
		fdt_read(fdt);
	}
	__asm__ volatile("mrs %0, id_aa64mmfr0_el1" : "=r"(mmfr0));
	__asm__ volatile("mrs %0, ttbr0_el1" : "=r"(ttbr0));
	paging_init(ttbr0, pa_bits[mmfr0 & 7]);
	vpci_timeout_cycles = cntfrq() * TIMEOUT_SECONDS;

	tg_printf("TAP version 13\n");
	tg_printf("# tide-testguest: dtb=0x%llx%s cmdline=\"%s\"\n",
		  (unsigned long long)(uintptr_t)fdt, tg_boot.si_valid ? "" : " (bad magic)",
		  tg_boot.cmdline);
	tg_run();
}
