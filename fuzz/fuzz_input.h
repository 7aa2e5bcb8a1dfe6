/* Reading a fuzz input as a script: little-endian fields, zeros once it runs out. */
#ifndef TIDE_FUZZ_INPUT_H
#define TIDE_FUZZ_INPUT_H

#include <stdint.h>

static inline uint64_t fuzz_take(const uint8_t **p, const uint8_t *end, unsigned bytes)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < bytes && *p < end; i++, (*p)++)
		v |= (uint64_t)**p << (8 * i);
	return v;
}

#endif
