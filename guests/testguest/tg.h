/* Tide test guest: shared declarations. */
#ifndef TG_H
#define TG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TG_NORETURN __attribute__((noreturn))
#define TG_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define TG_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---- lib.c: string and number helpers -------------------------------- */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
void *memmove(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
/* Parse an unsigned number (decimal, or hex with 0x prefix; base 16 forces
 * hex without prefix).  Returns the number of characters consumed (0 on
 * error). */
size_t tg_parse_u64(const char *s, size_t len, int base, uint64_t *out);

/* ---- serial.c: polled 16550 at 0x3F8 ------------------------------------ */
void serial_init(void);
void serial_putc(char c);
/* Received byte, or -1 when none is waiting (LSR.DR clear). */
int serial_try_getc(void);
/* Polls for one line (ends at CR or LF; leading CR/LF skipped; no timeout). Keeps at most
 * cap - 1 bytes, NUL-terminated; returns how many it kept. */
size_t serial_read_line(char *buf, size_t cap);

/* ---- printf.c ----------------------------------------------------------- */
/* %s %c %d %i %u %x %X %p %%, length l/ll/z, flags '-' '0', width (or *). */
int tg_printf(const char *fmt, ...) TG_PRINTF(1, 2);
int tg_vprintf(const char *fmt, va_list ap);

/* ---- pvh.c: struct hvm_start_info --------------------------------------- */
#define HVM_START_MAGIC 0x336ec578u

struct hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	/* version >= 1 */
	uint64_t memmap_paddr;
	uint32_t memmap_entries;
	uint32_t reserved;
};

struct hvm_memmap_table_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
	uint32_t reserved;
};

#define E820_RAM 1

#define TG_MAX_MEMMAP 128
#define TG_MAX_CMDLINE 1024

/* Copy of everything the guest needs from start_info, taken at startup so
 * that later tests may overwrite any RAM outside the guest image. */
struct tg_boot {
	uint64_t si_paddr;
	bool si_valid;		/* magic matched */
	uint32_t version, flags, nr_modules;
	uint64_t modlist_paddr, cmdline_paddr, rsdp_paddr, memmap_paddr;
	uint32_t memmap_entries;	/* as reported */
	uint32_t nr_memmap;		/* copied (<= TG_MAX_MEMMAP) */
	struct hvm_memmap_table_entry memmap[TG_MAX_MEMMAP];
	char cmdline[TG_MAX_CMDLINE];
	bool cmdline_truncated;
};

extern struct tg_boot tg_boot;
void pvh_init(const struct hvm_start_info *si);

/* ---- cmdline.c: "key=value key2=value2 ..." ----------------------------- */
/* Find key; returns pointer to the value (not NUL-terminated) and its length
 * in *len, or NULL when absent.  A bare word "key" yields an empty value. */
const char *cmdline_get(const char *key, size_t *len);
uint64_t cmdline_get_u64(const char *key, uint64_t dflt);

/* ---- paging.c: the identity map ----------------------------------------- */
struct tg_paging {
	uint64_t cr3;
	bool gbpages;		/* the stub chose the 1 GiB-page tables */
	uint64_t static_limit;	/* usable identity map [0, static_limit) from link time */
	unsigned phys_bits;	/* MAXPHYADDR from CPUID 0x80000008 (via the stub) */
	uint64_t phys_limit;	/* 1 << phys_bits */
};
extern struct tg_paging tg_paging;
void paging_init(uint64_t cr3, uint32_t cpuid_80000008_eax);
/* Software walk: is [addr, addr+size) identity-mapped? */
bool paging_is_mapped(uint64_t addr, uint64_t size);
/* Extend the identity map (U/W, 2 MiB or 1 GiB pages) to cover
 * [addr, addr+size), from CPL3, using a fixed pool of table pages in .bss.
 * Returns false if the pool is exhausted or the range reaches 2^phys_bits
 * (or 128 TiB, the top of the lower canonical half). */
bool paging_map_identity(uint64_t addr, uint64_t size);

/* ---- pci.c: configuration mechanism #1 (0xCF8/0xCFC) -------------------- */
uint32_t pci_read32(uint8_t bus, uint8_t dev, uint8_t fn, uint8_t reg);
uint16_t pci_read16(uint8_t bus, uint8_t dev, uint8_t fn, uint8_t reg);
uint8_t pci_read8(uint8_t bus, uint8_t dev, uint8_t fn, uint8_t reg);
void pci_write32(uint8_t bus, uint8_t dev, uint8_t fn, uint8_t reg, uint32_t v);
void pci_write16(uint8_t bus, uint8_t dev, uint8_t fn, uint8_t reg, uint16_t v);
void pci_write8(uint8_t bus, uint8_t dev, uint8_t fn, uint8_t reg, uint8_t v);

/* ---- main.c: runner and exit -------------------------------------------- */
enum tg_result { TG_PASS = 0, TG_FAIL = 1, TG_SKIP = 2 };

struct tg_scenario {
	const char *name;
	enum tg_result (*run)(void);
	const char *help;
};

/* Ends the VM: code 0 = all passed.  x86 (pvh.c): writes `code` to the
 * isa-debug-exit port 0xF4 (VMM exits (code<<1)|1).  arm64 (arm64/boot.c):
 * PSCI SYSTEM_OFF whatever the code (tide exits 0; the TAP output tells). */
TG_NORETURN void tg_exit(unsigned code);

/* Runs the scenarios named by tests= and prints their TAP lines, then calls
 * tg_exit() (main.c).  The entry calls it once the console and tg_boot are
 * set up and the "TAP version 13" header is out. */
TG_NORETURN void tg_run(void);

/* x86 entry from start.S, at CPL3 (pvh.c). */
void tg_main(const struct hvm_start_info *si, uint64_t cr3, uint32_t cpuid_80000008_eax);

/* Guest image bounds (linker symbols), incl. stacks, page tables, .bss. */
extern char __image_start[], __image_end[];

/* ---- scenarios (one file each) ------------------------------------------ */
enum tg_result scenario_memmap(void);
enum tg_result scenario_pattern(void);
enum tg_result scenario_pci(void);
enum tg_result scenario_exit(void);
enum tg_result scenario_highmem(void);
enum tg_result scenario_reset(void);
enum tg_result scenario_input(void);
enum tg_result scenario_vmem_config(void);
enum tg_result scenario_vmem_features(void);
enum tg_result scenario_vmem_plug(void);
enum tg_result scenario_vmem_errors(void);
enum tg_result scenario_vmem_unplug_all(void);
enum tg_result scenario_vmem_reset(void);
enum tg_result scenario_vmem_rings(void);
enum tg_result scenario_kvmclock(void);
enum tg_result scenario_vmem_malformed(void);
enum tg_result scenario_vmem_rss(void);
enum tg_result scenario_vmem_hostile(void);
enum tg_result scenario_vmem_internal(void);
enum tg_result scenario_vmem_flood(void);
enum tg_result scenario_vmem_fragment(void);
enum tg_result scenario_vmem_bench(void);
enum tg_result scenario_vmem_follow(void);

#endif
