#include "util/latency.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static int compare_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

uint64_t latency_percentile(const struct latency_log *l, unsigned pct)
{
	uint64_t kept = l->count < LATENCY_SAMPLES ? l->count : LATENCY_SAMPLES;
	uint64_t sorted[LATENCY_SAMPLES], rank;

	if (kept == 0)
		return 0;
	if (pct > 100)
		pct = 100;
	memcpy(sorted, l->ns, kept * sizeof(sorted[0]));
	qsort(sorted, kept, sizeof(sorted[0]), compare_u64);
	rank = (kept * pct + 99) / 100; /* nearest rank: ceil(pct/100 * n), at least 1 */
	return sorted[rank ? rank - 1 : 0];
}
