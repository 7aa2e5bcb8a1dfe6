/* Small idioms every layer uses, written once. */
#ifndef TIDE_UTIL_H
#define TIDE_UTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* align must be a power of two. */
#define ALIGN_DOWN(x, align) ((x) & ~((__typeof__(x))(align) - 1))
#define ALIGN_UP(x, align) ALIGN_DOWN((x) + (__typeof__(x))(align) - 1, align)

static inline bool is_power_of_2(uint64_t x)
{
	return x && !(x & (x - 1));
}

/* CLOCK_MONOTONIC in nanoseconds: durations, deadlines and throttles. */
static inline uint64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#endif
