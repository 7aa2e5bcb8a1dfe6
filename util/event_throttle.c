#include "util/event_throttle.h"

#include <string.h>

void event_throttle_init(struct event_throttle *t, uint64_t interval_ns)
{
	memset(t, 0, sizeof(*t));
	t->interval_ns = interval_ns;
}

static bool interval_over(const struct event_throttle *t, uint64_t now_ns)
{
	return !t->sent_once || now_ns - t->last_sent_ns >= t->interval_ns;
}

bool event_throttle_offer(struct event_throttle *t, uint64_t now_ns, uint64_t value, bool final,
			  uint64_t *flush_at_ns)
{
	if (final || (!t->pending && interval_over(t, now_ns))) {
		t->pending = false; /* a held-back value is older than this one */
		t->sent_once = true;
		t->last_sent_ns = now_ns;
		return true;
	}
	/* Held back: a later value replaces an earlier one. */
	t->pending = true;
	t->pending_value = value;
	*flush_at_ns = t->last_sent_ns + t->interval_ns;
	return false;
}

bool event_throttle_flush(struct event_throttle *t, uint64_t now_ns, uint64_t *value)
{
	if (!t->pending || !interval_over(t, now_ns))
		return false;
	t->pending = false;
	t->sent_once = true;
	t->last_sent_ns = now_ns;
	*value = t->pending_value;
	return true;
}
