/* Tide test guest, arm64: the helpers ../io.h names (see there).
 *
 * The guest runs at EL1 with the MMU on (start.S): RAM is Normal write-back
 * memory, the board's devices (below 1 GiB) Device-nGnRE.
 *
 * MMIO goes through inline assembly on purpose: KVM can only hand a trapped
 * access to the VMM when the CPU reports it in the syndrome (ESR_EL2.ISV),
 * which excludes load/store pair and writeback addressing.  A plain volatile
 * dereference lets the compiler pick those; "ldr w, [x]" is always decodable.
 */
#ifndef TG_ARM64_IO_H
#define TG_ARM64_IO_H

#include <stdint.h>

static inline uint8_t mmio_read8(volatile void *a)
{
	uint8_t v;

	__asm__ volatile("ldrb %w0, [%1]" : "=r"(v) : "r"(a) : "memory");
	return v;
}

static inline uint16_t mmio_read16(volatile void *a)
{
	uint16_t v;

	__asm__ volatile("ldrh %w0, [%1]" : "=r"(v) : "r"(a) : "memory");
	return v;
}

static inline uint32_t mmio_read32(volatile void *a)
{
	uint32_t v;

	__asm__ volatile("ldr %w0, [%1]" : "=r"(v) : "r"(a) : "memory");
	return v;
}

static inline void mmio_write8(volatile void *a, uint8_t v)
{
	__asm__ volatile("strb %w0, [%1]" : : "rZ"(v), "r"(a) : "memory");
}

static inline void mmio_write16(volatile void *a, uint16_t v)
{
	__asm__ volatile("strh %w0, [%1]" : : "rZ"(v), "r"(a) : "memory");
}

static inline void mmio_write32(volatile void *a, uint32_t v)
{
	__asm__ volatile("str %w0, [%1]" : : "rZ"(v), "r"(a) : "memory");
}

/* The console: Tide's ns16550a on MMIO (reg-shift 0, 8-bit registers). */
#define TG_UART_BASE 0x09000000ul

static inline uint8_t uart_in(unsigned reg)
{
	return mmio_read8((volatile void *)(TG_UART_BASE + reg));
}

static inline void uart_out(unsigned reg, uint8_t v)
{
	mmio_write8((volatile void *)(TG_UART_BASE + reg), v);
}

/* The generic timer's virtual count stands in for the TSC: the timeouts are
 * counted in its ticks (boot.c scales the default to CNTFRQ_EL0). The isb
 * keeps the read from being hoisted above earlier instructions. */
static inline uint64_t rdtsc(void)
{
	uint64_t v;

	__asm__ volatile("isb; mrs %0, cntvct_el0" : "=r"(v) : : "memory");
	return v;
}

static inline uint64_t cntfrq(void)
{
	uint64_t v;

	__asm__ volatile("mrs %0, cntfrq_el0" : "=r"(v));
	return v;
}

static inline void cpu_relax(void)
{
	__asm__ volatile("yield" ::: "memory");
}

static inline void barrier(void)
{
	__asm__ volatile("" ::: "memory");
}

/* Full barrier: RAM (the rings) and device accesses in program order, as
 * virtio needs between filling a ring and notifying, and between seeing the
 * used index and reading the element. */
static inline void tg_mb(void)
{
	__asm__ volatile("dsb sy" ::: "memory");
}

/* Unassigned BARs go to the board's 32-bit PCI window (docs/arm64.md), which
 * start.S maps as Device memory.  Tide assigns every BAR itself, so this is a
 * fallback only. */
#define TG_BAR_WINDOW_START 0x10000000ull
#define TG_BAR_WINDOW_END 0x3eff0000ull

/* Tide's board, from docs/arm64.md. */
#define TG_ECAM_BASE 0x3f000000ul
#define TG_ECAM_BUSES 16

#endif
