#include "util/log.h"
#include "util/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

enum log_level log_threshold = LOG_WARN;

static uint64_t start_ns;

void log_start_clock(void)
{
	start_ns = monotonic_ns();
}

double log_elapsed_ms(void)
{
	return (double)(monotonic_ns() - start_ns) / 1e6;
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

void log_limited(struct log_limit *limit, enum log_level level, const char *fmt, ...)
{
	double now = log_elapsed_ms();
	char line[1024];
	va_list ap;

	if (level > log_threshold)
		return;
	if (now - limit->window_start_ms >= 1000.0 || limit->window_start_ms > now) {
		limit->window_start_ms = now;
		limit->lines_in_window = 0;
	}
	if (limit->lines_in_window >= LOG_LIMIT_BURST) {
		limit->suppressed++;
		limit->total_suppressed++;
		return;
	}
	limit->lines_in_window++;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (limit->suppressed)
		log_msg(level, "%s (%llu more like it suppressed)", line, limit->suppressed);
	else
		log_msg(level, "%s", line);
	limit->suppressed = 0;
}
