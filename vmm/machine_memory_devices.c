/* The machine's memory devices: their QOM paths, in realize order, and their events. */
#include <stdio.h>
#include <stdlib.h>

#include "devices/memory_device.h"
#include "vmm/machine.h"
#include "vmm/qmp_events.h"

void machine_add_memory_device(struct machine *m, struct memory_device *md)
{
	struct memory_device **tail = &m->memory_devices;

	if (md->id)
		snprintf(md->qom_path, sizeof(md->qom_path), "/machine/peripheral/%s", md->id);
	else
		snprintf(md->qom_path, sizeof(md->qom_path), "/machine/peripheral-anon/device[%u]",
			 m->nr_anonymous_devices++);
	while (*tail)
		tail = &(*tail)->next;
	md->next = NULL;
	*tail = md;
	if (md->events)
		qmp_event_memory_device_added(md->events, md->id, md->qom_path);
}

/* The size-change state of each memory device: it outlives the devices (their configs own it). */
struct memory_device_events **machine_memory_device_events(struct machine *m, size_t *count)
{
	struct memory_device_events **list;
	size_t n = 0;

	for (struct memory_device *md = m->memory_devices; md; md = md->next)
		n++;
	list = calloc(n ? n : 1, sizeof(*list));
	*count = 0;
	if (!list)
		return NULL; /* the size-0 events are lost, nothing else */
	for (struct memory_device *md = m->memory_devices; md; md = md->next)
		if (md->events)
			list[(*count)++] = md->events;
	return list;
}
