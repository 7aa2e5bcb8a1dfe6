/*
 * Devices every machine of an architecture has (a UART, a reset port, a PCI host
 * bridge...). Each type registers itself with BOARD_DEVICE_REGISTER(); the machine
 * creates those its architecture lists (arch_platform_devices()), in that order, at
 * the places the architecture gives. Nothing central names them.
 */
#ifndef TIDE_BOARD_DEVICE_H
#define TIDE_BOARD_DEVICE_H

#include <stdint.h>

#include "util/error.h"

struct machine;

/* Where the architecture puts a device. */
struct board_device_place {
	uint64_t base; /* port or guest-physical address */
	uint64_t size; /* bytes from base (a window, for a bus) */
	unsigned gsi;  /* interrupt line; 0 where it has none */
};

struct board_device_type {
	const char *name;
	/* Creates the device on the machine; it tears itself down with the machine. */
	int (*create)(struct machine *m, const struct board_device_place *at, struct error *err);
	struct board_device_type *next; /* the registry's list */
};

void board_device_register(struct board_device_type *type);
const struct board_device_type *board_device_find(const char *name);

#define BOARD_DEVICE_REGISTER(type)                                                                \
	static void __attribute__((constructor)) register_board_##type(void)                      \
	{                                                                                          \
		board_device_register(&(type));                                                    \
	}

#endif
