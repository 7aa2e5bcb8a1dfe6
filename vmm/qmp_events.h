/*
 * QMP events: {"timestamp": {"seconds", "microseconds"}, "event": NAME, "data": ...}
 * to every client of the QMP socket, from any thread. Without a socket they go
 * nowhere. MEMORY_DEVICE_SIZE_CHANGE follows QEMU's rate limit: one per second
 * per device, the last size wins and the final size always arrives.
 */
#ifndef TIDE_QMP_EVENTS_H
#define TIDE_QMP_EVENTS_H

#include <json-c/json.h>
#include <stdint.h>

#include "util/error.h"
#include "vmm/qmp.h"

struct qmp_server;
struct event_loop;

#define QMP_SIZE_CHANGE_INTERVAL_NS 1000000000ULL

/* Events go to server from now on; the rate limit's timer runs on loop. */
int qmp_events_start(struct qmp_server *server, struct event_loop *loop, struct error *err);
/* Before the server is freed: no more events; sizes held back are dropped. */
void qmp_events_stop(void);

/* Sends NAME with data (taken over; NULL: no "data" member, as QEMU's STOP). */
/* Every event tide sends, with its data members (for query-qmp-schema). */
extern const struct qmp_event_info qmp_event_infos[];

void qmp_event_send(const char *name, struct json_object *data);

/*
 * A device's plugged size is now size (the event names it by e->qom_path, and by e->id
 * where it has one: QEMU leaves the member out otherwise). final: it is what was requested,
 * so the event goes out at once rather than within QEMU's one-per-second throttle.
 */
struct memory_device_events;
void qmp_event_memory_device_size_change(struct memory_device_events *e, uint64_t size,
					 bool final);
/* A device was realized: its events name it so (id NULL: none, as QEMU leaves it out). */
void qmp_event_memory_device_added(struct memory_device_events *e, const char *id,
				   const char *qom_path);
/* A reset tore the device down, which unplugged everything: size 0 if it was last seen with
 * more. */
void qmp_event_memory_device_unplugged(struct memory_device_events *e);

#endif
