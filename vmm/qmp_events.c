#include "vmm/qmp_events.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "devices/memory_device.h"
#include "util/event_loop.h"
#include "util/event_throttle.h"
#include "util/log.h"
#include "vmm/qmp.h"
#include "vmm/qmp_server.h"
#include "util/util.h"

static const struct qmp_arg shutdown_data[] = {
	{ "guest", "bool", false }, { "reason", "str", false }, QMP_ARGS_END
};
static const struct qmp_arg size_change_data[] = {
	{ "id", "str", true }, { "size", "size", false }, { "qom-path", "str", false }, QMP_ARGS_END
};

const struct qmp_event_info qmp_event_infos[] = {
	{ "SHUTDOWN", shutdown_data },
	{ "RESET", shutdown_data },
	{ "STOP", NULL },
	{ "RESUME", NULL },
	{ "MEMORY_DEVICE_SIZE_CHANGE", size_change_data },
	{ NULL, NULL },
};

static pthread_mutex_t events_lock = PTHREAD_MUTEX_INITIALIZER;
static struct qmp_server *events_server;
static struct event_loop *events_loop;
static int timer_fd = -1;
static struct event_watch *timer_watch;
static struct memory_device_events *held_back; /* sizes the rate limit holds back */

/* Caller holds events_lock. */
static void send_locked(const char *name, struct json_object *data)
{
	struct json_object *ev, *ts;
	struct timeval now;

	if (!events_server) {
		json_object_put(data);
		return;
	}
	gettimeofday(&now, NULL); /* QEMU stamps events with the wall clock */
	ev = json_object_new_object();
	ts = json_object_new_object();
	json_object_object_add(ts, "seconds", json_object_new_int64(now.tv_sec));
	json_object_object_add(ts, "microseconds", json_object_new_int64(now.tv_usec));
	json_object_object_add(ev, "timestamp", ts);
	json_object_object_add(ev, "event", json_object_new_string(name));
	if (data)
		json_object_object_add(ev, "data", data);
	qmp_server_broadcast(events_server,
			     json_object_to_json_string_ext(ev, QMP_JSON_FLAGS));
	json_object_put(ev);
}

void qmp_event_send(const char *name, struct json_object *data)
{
	pthread_mutex_lock(&events_lock);
	send_locked(name, data);
	pthread_mutex_unlock(&events_lock);
}

static void send_size_change_locked(const struct memory_device_events *sc, uint64_t size)
{
	struct json_object *data = json_object_new_object();

	if (sc->has_id)
		json_object_object_add(data, "id", json_object_new_string(sc->id));
	json_object_object_add(data, "size", json_object_new_uint64(size));
	json_object_object_add(data, "qom-path", json_object_new_string(sc->qom_path));
	send_locked("MEMORY_DEVICE_SIZE_CHANGE", data);
}

/* Caller holds events_lock: the timer fires when the earliest held-back size is due. */
static void arm_timer_locked(void)
{
	uint64_t due = 0;
	struct itimerspec its = { { 0, 0 }, { 0, 0 } };

	for (const struct memory_device_events *e = held_back; e; e = e->next_pending) {
		uint64_t at = e->throttle.last_sent_ns + e->throttle.interval_ns;

		if (!due || at < due)
			due = at;
	}
	if (due) {
		its.it_value.tv_sec = (time_t)(due / 1000000000ULL);
		its.it_value.tv_nsec = (long)(due % 1000000000ULL);
		if (!its.it_value.tv_sec && !its.it_value.tv_nsec)
			its.it_value.tv_nsec = 1; /* zero would disarm it */
	}
	if (timer_fd >= 0 && timerfd_settime(timer_fd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
		log_warn("QMP: timerfd_settime: %s", strerror(errno));
}

static void timer_expired(void *opaque)
{
	uint64_t expirations, now, size;
	struct memory_device_events **link = &held_back;

	(void)opaque;
	if (read(timer_fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		log_warn("QMP: timerfd: %s", strerror(errno));
	pthread_mutex_lock(&events_lock);
	now = monotonic_ns();
	while (*link) {
		struct memory_device_events *e = *link;

		if (event_throttle_flush(&e->throttle, now, &size))
			send_size_change_locked(e, size);
		if (e->throttle.pending) {
			link = &e->next_pending;
			continue;
		}
		*link = e->next_pending; /* sent: off the list */
		e->pending = false;
	}
	arm_timer_locked();
	pthread_mutex_unlock(&events_lock);
}

/* Caller holds events_lock. */
static void offer_size_locked(struct memory_device_events *e, uint64_t size, bool final)
{
	uint64_t flush_at;

	if (!events_server)
		return;
	if (!e->throttle.interval_ns)
		event_throttle_init(&e->throttle, QMP_SIZE_CHANGE_INTERVAL_NS);
	e->last_size = size;
	if (event_throttle_offer(&e->throttle, monotonic_ns(), size, final, &flush_at)) {
		send_size_change_locked(e, size);
	} else {
		if (!e->pending) {
			e->pending = true;
			e->next_pending = held_back;
			held_back = e;
		}
		arm_timer_locked();
	}
}

void qmp_event_memory_device_size_change(struct memory_device_events *e, uint64_t size,
					 bool final)
{
	pthread_mutex_lock(&events_lock);
	offer_size_locked(e, size, final);
	pthread_mutex_unlock(&events_lock);
}

void qmp_event_memory_device_added(struct memory_device_events *e, const char *id,
				   const char *qom_path)
{
	pthread_mutex_lock(&events_lock);
	e->has_id = id != NULL;
	snprintf(e->id, sizeof(e->id), "%s", id ? id : "");
	snprintf(e->qom_path, sizeof(e->qom_path), "%s", qom_path);
	pthread_mutex_unlock(&events_lock);
}

void qmp_event_memory_device_unplugged(struct memory_device_events *e)
{
	pthread_mutex_lock(&events_lock);
	if (e->last_size)
		offer_size_locked(e, 0, true); /* nothing follows until the guest boots again */
	pthread_mutex_unlock(&events_lock);
}

int qmp_events_start(struct qmp_server *server, struct event_loop *loop, struct error *err)
{
	timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (timer_fd < 0)
		return error_set(err, "timerfd_create: %s", strerror(errno));
	timer_watch = event_loop_add_fd(loop, timer_fd, timer_expired, NULL, err);
	if (!timer_watch) {
		close(timer_fd);
		timer_fd = -1;
		return -1;
	}
	pthread_mutex_lock(&events_lock);
	events_server = server;
	events_loop = loop;
	pthread_mutex_unlock(&events_lock);
	return 0;
}

void qmp_events_stop(void)
{
	pthread_mutex_lock(&events_lock);
	events_server = NULL;
	pthread_mutex_unlock(&events_lock);
	if (timer_watch)
		event_loop_remove(events_loop, timer_watch);
	timer_watch = NULL;
	if (timer_fd >= 0)
		close(timer_fd);
	timer_fd = -1;
	pthread_mutex_lock(&events_lock);
	/* The devices' configs, freed after this, keep their own state; none stays queued. */
	while (held_back) {
		struct memory_device_events *e = held_back;

		held_back = e->next_pending;
		e->pending = false;
		e->next_pending = NULL;
	}
	pthread_mutex_unlock(&events_lock);
}
