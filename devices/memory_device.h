/*
 * What the control socket sees of a memory device (QEMU's TYPE_MEMORY_DEVICE):
 * a device registers one with its machine, and QMP's query-memory-devices,
 * qom-get/qom-set and MEMORY_DEVICE_SIZE_CHANGE go through it. virtio-mem is
 * the only kind today.
 */
#ifndef TIDE_MEMORY_DEVICE_H
#define TIDE_MEMORY_DEVICE_H

#include <stdbool.h>
#include <stdint.h>

#include "util/error.h"
#include "util/event_throttle.h"

struct json_object;

/* QEMU's VirtioMEMDeviceInfo, plus what x-query-virtio-mem adds. */
struct memory_device_status {
	uint64_t memaddr;
	uint64_t requested_size;
	uint64_t size; /* plugged */
	uint64_t max_size;
	uint64_t block_size;
	uint64_t node;
	uint64_t usable_size;
};

struct memory_device_ops {
	const char *type; /* query-memory-devices' "type" ("virtio-mem") */
	const char *qom_type; /* qom-list's "type" property ("virtio-mem-pci") */
	/* Each takes the device's own lock. */
	void (*status)(void *opaque, struct memory_device_status *out);
	int (*set_requested_size)(void *opaque, uint64_t size, struct error *err);
	/* x-query-virtio-mem: the plug bitmap summary, memslots and counters into obj. */
	void (*debug_info)(void *opaque, struct json_object *obj);
};

/*
 * A device's MEMORY_DEVICE_SIZE_CHANGE state, under QEMU's rate limit (one per second,
 * the last size wins, the final size always arrives). The device's config owns it, so
 * that it outlives resets; vmm/qmp_events.c sends from it, under its lock.
 */
struct memory_device_events {
	struct event_throttle throttle;
	uint64_t last_size;  /* the last size offered (sent or held back) */
	bool has_id;
	char id[64];
	char qom_path[96];
	bool pending;	     /* on qmp_events.c's list of sizes held back */
	struct memory_device_events *next_pending;
};

struct memory_device {
	const struct memory_device_ops *ops;
	void *opaque;
	const char *id;	    /* id= of the -device; NULL when it has none */
	const char *memdev; /* the backend's id */
	char qom_path[96];  /* /machine/peripheral/ID or /machine/peripheral-anon/device[N] */
	struct memory_device_events *events; /* the device's (it outlives the device) */
	struct memory_device *next;
};

#endif
