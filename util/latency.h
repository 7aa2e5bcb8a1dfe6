/* The last few thousand durations of an operation, for medians and tails in benchmarks. */
#ifndef TIDE_LATENCY_H
#define TIDE_LATENCY_H

#include <stdint.h>

#define LATENCY_SAMPLES 4096

struct latency_log {
	uint64_t ns[LATENCY_SAMPLES]; /* a ring: the newest samples win */
	uint64_t count;		      /* recorded in total */
};

static inline void latency_record(struct latency_log *l, uint64_t ns)
{
	l->ns[l->count++ % LATENCY_SAMPLES] = ns;
}

/* The pct-th percentile (nearest rank) of the samples kept; 0 without samples. */
uint64_t latency_percentile(const struct latency_log *l, unsigned pct);


#endif
