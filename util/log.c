#include "util/log.h"
#include "util/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

enum log_level log_threshold = LOG_WARN;
bool log_timestamps;

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

/* One fprintf per line keeps lines from different threads whole. */
static void emit(const char *level, const char *line)
{
	char stamp[96] = "";

	if (log_timestamps) { /* QEMU's -msg timestamp=on: UTC, microseconds */
		struct timespec now;
		struct tm tm;

		clock_gettime(CLOCK_REALTIME, &now);
		gmtime_r(&now.tv_sec, &tm);
		snprintf(stamp, sizeof(stamp), "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			 tm.tm_sec, now.tv_nsec / 1000);
	}
	fprintf(stderr, "%stide: %s%s%s\n", stamp, level ? level : "", level ? ": " : "", line);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	if (level > log_threshold)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	emit(level_names[level], line);
}

void log_fatal(const char *msg)
{
	emit(NULL, msg);
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
