/* Tide test guest: port I/O and other tiny CPU helpers.  Port I/O works at
 * CPL3: with IOPL=3 it runs directly, and where the host ignores IOPL
 * (kvm_pvm) start.S's #GP handler performs it.  That handler decodes exactly
 * the encodings these helpers emit: keep them to plain in/out. */
#ifndef TG_IO_H
#define TG_IO_H

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

/*
 * No cpuid() helper on purpose: on kvm_pvm a CPL3 CPUID may fault (CPUID
 * faulting) and a CPL3 fault kills the guest.  The stub does the one CPUID
 * it needs at CPL0 and passes the result on (the choice of page tables).
 */

#endif
