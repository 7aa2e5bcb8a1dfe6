/* Tide test guest: the per-architecture helpers the shared code uses.
 *
 * Both variants provide the same names: the console UART's registers
 * (uart_in/uart_out), MMIO accessors (mmio_read8..mmio_write32), rdtsc() (a
 * free-running cycle counter for timeouts), cpu_relax(), barrier(), tg_mb()
 * (a full barrier, device accesses included) and the window unassigned PCI
 * BARs are placed in (TG_BAR_WINDOW_START/END).  arm64/io.h has the arm64
 * ones; the rest of this file is x86.
 *
 * x86: port I/O works at CPL3: with IOPL=3 it runs directly, and where the
 * host ignores IOPL (kvm_pvm) start.S's #GP handler performs it.  That
 * handler decodes exactly the encodings these helpers emit: keep them to
 * plain in/out. */
#ifndef TG_IO_H
#define TG_IO_H

#if defined(__aarch64__)
#include "arm64/io.h"
#else

#include <stdint.h>

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port) : "memory");
}

static inline void outw(uint16_t port, uint16_t v)
{
	__asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port) : "memory");
}

static inline void outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port) : "memory");
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;
	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port) : "memory");
	return v;
}

static inline uint16_t inw(uint16_t port)
{
	uint16_t v;
	__asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port) : "memory");
	return v;
}

static inline uint32_t inl(uint16_t port)
{
	uint32_t v;
	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port) : "memory");
	return v;
}

/* rdtsc works at CPL3 as long as CR4.TSD is clear (the stub leaves it clear). */
static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

/* wrmsr faults at CPL3; the stub's #GP handler performs it at CPL0 (start.S). */
static inline void wrmsr(uint32_t msr, uint64_t value)
{
	__asm__ volatile("wrmsr" ::"c"(msr), "a"((uint32_t)value), "d"((uint32_t)(value >> 32))
			 : "memory");
}

static inline void cpu_relax(void)
{
	__asm__ volatile("pause" ::: "memory");
}

static inline void barrier(void)
{
	__asm__ volatile("" ::: "memory");
}

/* Full barrier; fine at CPL3. */
static inline void tg_mb(void)
{
	__asm__ volatile("mfence" ::: "memory");
}

/* MMIO: plain volatile accesses (KVM's emulator decodes any of them). */
static inline uint8_t mmio_read8(volatile void *a)
{
	return *(volatile uint8_t *)a;
}

static inline uint16_t mmio_read16(volatile void *a)
{
	return *(volatile uint16_t *)a;
}

static inline uint32_t mmio_read32(volatile void *a)
{
	return *(volatile uint32_t *)a;
}

static inline void mmio_write8(volatile void *a, uint8_t v)
{
	*(volatile uint8_t *)a = v;
}

static inline void mmio_write16(volatile void *a, uint16_t v)
{
	*(volatile uint16_t *)a = v;
}

static inline void mmio_write32(volatile void *a, uint32_t v)
{
	*(volatile uint32_t *)a = v;
}

/* The console: a 16550 at COM1's ports. */
#define TG_UART_PORT 0x3F8

static inline uint8_t uart_in(unsigned reg)
{
	return inb((uint16_t)(TG_UART_PORT + reg));
}

static inline void uart_out(unsigned reg, uint8_t v)
{
	outb((uint16_t)(TG_UART_PORT + reg), v);
}

/* Fallback window for BARs the firmware left at 0: the usual 32-bit PCI
 * hole, below the IOAPIC. */
#define TG_BAR_WINDOW_START 0xC0000000ull
#define TG_BAR_WINDOW_END 0xFEC00000ull

/*
 * No cpuid() helper on purpose: on kvm_pvm a CPL3 CPUID may fault (CPUID
 * faulting) and a CPL3 fault kills the guest.  The stub does the one CPUID
 * it needs at CPL0 and passes the result on (the choice of page tables).
 */

#endif /* x86 */
#endif
