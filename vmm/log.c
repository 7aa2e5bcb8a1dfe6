#include "vmm/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

enum log_level log_threshold = LOG_WARN;

static struct timespec start_time;

void log_start_clock(void)
{
	clock_gettime(CLOCK_MONOTONIC, &start_time);
}

double log_elapsed_ms(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - start_time.tv_sec) * 1e3 +
	       (double)(now.tv_nsec - start_time.tv_nsec) / 1e6;
}

static const char *const level_names[] = {
	[LOG_ERROR] = "error", [LOG_WARN] = "warning", [LOG_INFO] = "info", [LOG_DEBUG] = "debug",
};

void log_msg(enum log_level level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	if (level > log_threshold)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* One fprintf per line keeps lines from different threads whole. */
	fprintf(stderr, "tide: %s: %s\n", level_names[level], line);
}
