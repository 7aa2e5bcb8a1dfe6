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

#include "util/event_loop.h"
#include "vmm/event_throttle.h"
#include "util/log.h"
#include "vmm/qmp.h"
#include "vmm/qmp_server.h"
#include "util/util.h"

#define MAX_THROTTLED_DEVICES 64

/* One device's MEMORY_DEVICE_SIZE_CHANGE state, by QOM path (devices are rebuilt on reset). */
struct size_change {
	char qom_path[96];
	char id[64];
	bool has_id;
	uint64_t last_size; /* the last size offered (sent or held back) */
	struct event_throttle throttle;
};

static pthread_mutex_t events_lock = PTHREAD_MUTEX_INITIALIZER;
static struct qmp_server *events_server;
static struct event_loop *events_loop;
static int timer_fd = -1;
static struct event_watch *timer_watch;
static struct size_change size_changes[MAX_THROTTLED_DEVICES];
static unsigned nr_size_changes;

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

static void send_size_change_locked(const struct size_change *sc, uint64_t size)
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

	for (unsigned i = 0; i < nr_size_changes; i++) {
		const struct event_throttle *t = &size_changes[i].throttle;
		uint64_t at = t->last_sent_ns + t->interval_ns;

		if (t->pending && (!due || at < due))
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

	(void)opaque;
	if (read(timer_fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		log_warn("QMP: timerfd: %s", strerror(errno));
	pthread_mutex_lock(&events_lock);
	now = monotonic_ns();
	for (unsigned i = 0; i < nr_size_changes; i++)
		if (event_throttle_flush(&size_changes[i].throttle, now, &size))
			send_size_change_locked(&size_changes[i], size);
	arm_timer_locked();
	pthread_mutex_unlock(&events_lock);
}

static struct size_change *find_size_change_locked(const char *id, const char *qom_path)
{
	struct size_change *sc;

	for (unsigned i = 0; i < nr_size_changes; i++)
		if (!strcmp(size_changes[i].qom_path, qom_path))
			return &size_changes[i];
	if (nr_size_changes == MAX_THROTTLED_DEVICES)
		return NULL;
	sc = &size_changes[nr_size_changes++];
	snprintf(sc->qom_path, sizeof(sc->qom_path), "%s", qom_path);
	sc->has_id = id != NULL;
	snprintf(sc->id, sizeof(sc->id), "%s", id ? id : "");
	event_throttle_init(&sc->throttle, QMP_SIZE_CHANGE_INTERVAL_NS);
	return sc;
}

/* Caller holds events_lock. */
static void offer_size_locked(struct size_change *sc, uint64_t size)
{
	uint64_t flush_at;

	sc->last_size = size;
	if (event_throttle_offer(&sc->throttle, monotonic_ns(), size, &flush_at))
		send_size_change_locked(sc, size);
	else
		arm_timer_locked();
}

void qmp_event_memory_device_size_change(const char *id, const char *qom_path, uint64_t size)
{
	struct size_change *sc;

	pthread_mutex_lock(&events_lock);
	if (!events_server)
		goto out;
	sc = find_size_change_locked(id, qom_path);
	if (!sc) {
		log_warn("QMP: more than %d memory devices; %s's size change not sent",
			 MAX_THROTTLED_DEVICES, qom_path);
		goto out;
	}
	offer_size_locked(sc, size);
out:
	pthread_mutex_unlock(&events_lock);
}

void qmp_event_memory_devices_reset(void)
{
	pthread_mutex_lock(&events_lock);
	for (unsigned i = 0; events_server && i < nr_size_changes; i++)
		if (size_changes[i].last_size)
			offer_size_locked(&size_changes[i], 0);
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
	nr_size_changes = 0;
}
