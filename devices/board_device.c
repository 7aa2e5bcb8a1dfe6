#include "devices/board_device.h"

#include <string.h>

static struct board_device_type *board_device_types;

void board_device_register(struct board_device_type *type)
{
	type->next = board_device_types;
	board_device_types = type;
}

const struct board_device_type *board_device_find(const char *name)
{
	for (const struct board_device_type *t = board_device_types; t; t = t->next)
		if (strcmp(t->name, name) == 0)
			return t;
	return NULL;
}
