/* The legacy devices every PC guest expects, created on each machine (re)start. */
#ifndef TIDE_PLATFORM_DEVICES_H
#define TIDE_PLATFORM_DEVICES_H

#include "util/error.h"

struct machine;

/* COM1 (0x3f8, IRQ 4) on the console, the i8042, the 0xCF9 reset port, the PCI host bridge. */
int platform_devices_create(struct machine *m, struct error *err);

#endif
