#include "devices/device.h"

#include <stdlib.h>
#include <string.h>

/* Filled by constructors before main(); a fixed bound keeps registration allocation-free. */
#define MAX_DEVICE_TYPES 64

static const struct device_type *registry[MAX_DEVICE_TYPES];
static size_t registry_count;

void device_type_register(const struct device_type *type)
{
	if (registry_count == MAX_DEVICE_TYPES)
		abort(); /* a build-time mistake: raise MAX_DEVICE_TYPES */
	registry[registry_count++] = type;
}

const struct device_type *device_type_find(const char *name, enum type_kind kind)
{
	for (size_t i = 0; i < registry_count; i++)
		if (registry[i]->kind == kind && strcmp(registry[i]->name, name) == 0)
			return registry[i];
	return NULL;
}

static int by_name(const void *a, const void *b)
{
	return strcmp((*(const struct device_type *const *)a)->name,
		      (*(const struct device_type *const *)b)->name);
}

void device_type_foreach(enum type_kind kind, void (*fn)(const struct device_type *, void *),
			 void *opaque)
{
	const struct device_type *sorted[MAX_DEVICE_TYPES];

	memcpy(sorted, registry, registry_count * sizeof(*sorted));
	qsort(sorted, registry_count, sizeof(*sorted), by_name);
	for (size_t i = 0; i < registry_count; i++)
		if (sorted[i]->kind == kind)
			fn(sorted[i], opaque);
}

void *device_instance_find(const struct device_instance *instances, size_t count,
			   enum type_kind kind, const char *type_prefix, const char *id)
{
	for (size_t i = 0; i < count; i++) {
		const struct device_instance *d = &instances[i];

		if (d->type->kind == kind && d->id && strcmp(d->id, id) == 0 &&
		    strncmp(d->type->name, type_prefix, strlen(type_prefix)) == 0)
			return d->config;
	}
	return NULL;
}
