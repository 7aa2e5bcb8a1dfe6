/* Tide test guest: address-derived memory pattern (shared by scenarios). */
#ifndef TG_MEMTEST_H
#define TG_MEMTEST_H

#include "tg.h"

#define MEMTEST_DEFAULT_SEED 0x5469646554657374ull /* "TideTest" */

struct memtest_result {
	uint64_t bad_words;
	uint64_t first_bad_addr;
	uint64_t expected;
	uint64_t found;
};

/* Word at address a holds (a * K) ^ seed: unique per address for any seed. */
void memtest_fill(uint64_t addr, uint64_t len, uint64_t seed);
/* Accumulates into *r (first mismatch kept). */
void memtest_verify(uint64_t addr, uint64_t len, uint64_t seed, struct memtest_result *r);

#endif
