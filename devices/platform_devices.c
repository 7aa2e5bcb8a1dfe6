#include "devices/platform_devices.h"

#include "devices/i8042.h"
#include "devices/pci_host.h"
#include "devices/reset_cf9.h"
#include "devices/serial.h"

#define COM1_BASE 0x3f8
#define COM1_GSI 4

int platform_devices_create(struct machine *m, struct error *err)
{
	/* The host bridge first: 0xCF9 lies inside CONFIG_ADDRESS and is served through the bus. */
	if (pci_host_create(m, err) || reset_cf9_create(m, err) ||
	    serial_create(m, COM1_BASE, COM1_GSI, err) || i8042_create(m, err))
		return -1;
	return 0;
}
