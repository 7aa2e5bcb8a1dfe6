/* Tide test guest: address-derived memory pattern fill and verify. */
#include "memtest.h"

#define MEMTEST_K 0x9E3779B97F4A7C15ull	/* odd: a*K is a bijection */

void memtest_fill(uint64_t addr, uint64_t len, uint64_t seed)
{
	volatile uint64_t *p = (volatile uint64_t *)(uintptr_t)addr;
	uint64_t n = len / 8, m = addr * MEMTEST_K;

	for (uint64_t i = 0; i < n; i++) {
		p[i] = m ^ seed;
		m += 8 * MEMTEST_K;
	}
}

void memtest_verify(uint64_t addr, uint64_t len, uint64_t seed, struct memtest_result *r)
{
	volatile uint64_t *p = (volatile uint64_t *)(uintptr_t)addr;
	uint64_t n = len / 8, m = addr * MEMTEST_K;

	for (uint64_t i = 0; i < n; i++) {
		uint64_t v = p[i];

		if (v != (m ^ seed)) {
			if (!r->bad_words++) {
				r->first_bad_addr = addr + i * 8;
				r->expected = m ^ seed;
				r->found = v;
			}
		}
		m += 8 * MEMTEST_K;
	}
}
