/*
 * QEMU's rule for QMP events that can come in bursts (MEMORY_DEVICE_SIZE_CHANGE):
 * at most one per interval per source, the last value wins, and the final
 * value always arrives (a held-back value is sent when the interval ends). Tide's one
 * difference: a value the source says is final (a resize has reached its target) goes
 * at once, replacing a held-back one, so a manager learns of the end without waiting
 * out the second. At most one event more per resize; none lost, none out of order.
 * Pure bookkeeping over a clock the caller passes in; vmm/qmp_events.c owns the
 * timer that calls event_throttle_flush().
 */
#ifndef TIDE_EVENT_THROTTLE_H
#define TIDE_EVENT_THROTTLE_H

#include <stdbool.h>
#include <stdint.h>

struct event_throttle {
	uint64_t interval_ns;
	uint64_t last_sent_ns;
	bool sent_once;
	bool pending;
	uint64_t pending_value;
};

void event_throttle_init(struct event_throttle *t, uint64_t interval_ns);

/*
 * A new value at now_ns: true when it is to be sent now; false when it is held
 * back, with *flush_at_ns set to when event_throttle_flush() must run. A final value
 * is always sent now (an earlier held-back one is dropped: it is older).
 */
bool event_throttle_offer(struct event_throttle *t, uint64_t now_ns, uint64_t value, bool final,
			  uint64_t *flush_at_ns);

/* The timer fired at now_ns: true with *value when a held-back value is due now. */
bool event_throttle_flush(struct event_throttle *t, uint64_t now_ns, uint64_t *value);

#endif
