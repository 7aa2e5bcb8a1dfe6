/* Logging to stderr with a level; info is off unless -d/--verbose turns it on. */
#ifndef TIDE_LOG_H
#define TIDE_LOG_H

#include <stdbool.h>

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

extern enum log_level log_threshold;
/* -msg timestamp=on: every line starts with the time (UTC), as QEMU's do. */
extern bool log_timestamps;

/* Milliseconds since tide started (log_start_clock() in main). */
void log_start_clock(void);
double log_elapsed_ms(void);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The line tide ends with: "tide: MSG", no level. */
void log_fatal(const char *msg);

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

/*
 * A budget for what a guest can make tide log: at most LOG_LIMIT_BURST lines per second
 * from one source. Lines held back are counted, and the next line let through says how
 * many there were. Not thread-safe: the caller holds the source's lock.
 */
#define LOG_LIMIT_BURST 5

struct log_limit {
	double window_start_ms;
	unsigned lines_in_window;
	unsigned long long suppressed;
	unsigned long long total_suppressed;
};

void log_limited(struct log_limit *limit, enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
