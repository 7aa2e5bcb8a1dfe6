#include "devices/reset_cf9.h"

#include <pthread.h>
#include <stdlib.h>

#include "devices/pci.h"
#include "devices/board.h"
#include "devices/device.h"
#include "devices/io_bus.h"

#define RCR_STORED (RESET_CF9_SYS_RST | RESET_CF9_FULL_RST)

struct reset_cf9 {
	pthread_mutex_t lock;
	uint8_t rcr;
	void (*reset)(void *opaque);
	void *reset_opaque;

	struct board *board; /* set by reset_cf9_realize() */
	bool via_pci;
};

void reset_cf9_io(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write)
{
	struct reset_cf9 *rc = opaque;
	bool reset = false;

	if (offset != 0 || len != 1) {
		if (!is_write)
			for (unsigned i = 0; i < len; i++)
				data[i] = 0xff;
		return;
	}
	pthread_mutex_lock(&rc->lock);
	if (is_write) {
		rc->rcr = data[0] & RCR_STORED;
		reset = data[0] & RESET_CF9_RST_CPU;
	} else {
		data[0] = rc->rcr; /* RST_CPU is self-clearing */
	}
	pthread_mutex_unlock(&rc->lock);
	if (reset && rc->reset)
		rc->reset(rc->reset_opaque);
}

struct reset_cf9 *reset_cf9_new(void (*reset)(void *opaque), void *reset_opaque)
{
	struct reset_cf9 *rc = calloc(1, sizeof(*rc));

	if (!rc)
		return NULL;
	pthread_mutex_init(&rc->lock, NULL);
	rc->reset = reset;
	rc->reset_opaque = reset_opaque;
	return rc;
}

void reset_cf9_free(struct reset_cf9 *rc)
{
	if (!rc)
		return;
	pthread_mutex_destroy(&rc->lock);
	free(rc);
}

/* --- on a board --- */

/* The PCI host hands over byte accesses to 0xCF8-0xCFB with offsets from 0xCF8. */
static void legacy_port_io(void *opaque, uint64_t offset, uint8_t *data, unsigned len,
			   bool is_write)
{
	uint64_t base = RESET_CF9_PORT - PCI_CONFIG_ADDRESS_PORT;

	if (offset == base) {
		reset_cf9_io(opaque, 0, data, len, is_write);
	} else if (!is_write) {
		for (unsigned i = 0; i < len; i++)
			data[i] = 0xff;
	}
}

static void guest_reset(void *opaque)
{
	struct board *b = opaque;

	b->ops->guest_reset(b);
}

static void reset_cf9_destroy(void *opaque)
{
	struct reset_cf9 *rc = opaque;

	if (!rc->via_pci)
		io_bus_unregister(rc->board->pio, RESET_CF9_PORT, rc);
	else if (rc->board->pci)
		pci_bus_set_legacy_port(rc->board->pci, NULL, NULL);
	reset_cf9_free(rc);
}

static int reset_cf9_realize(struct board *b, void *config, struct error *err)
{
	const struct board_device_place *at = config;
	struct reset_cf9 *rc = reset_cf9_new(guest_reset, b);

	(void)at; /* 0xCF9, inside CONFIG_ADDRESS: see reset_cf9.h */
	if (!rc)
		return error_set(err, "reset control register: out of memory");
	rc->board = b;
	rc->via_pci = b->pci != NULL;
	if (rc->via_pci)
		pci_bus_set_legacy_port(b->pci, legacy_port_io, rc);
	else if (io_bus_register(b->pio, RESET_CF9_PORT, 1, reset_cf9_io, rc, "reset-cf9", err))
		goto fail;
	if (b->ops->add_cleanup(b, reset_cf9_destroy, rc)) {
		error_set(err, "reset control register: cannot register its teardown");
		if (rc->via_pci)
			pci_bus_set_legacy_port(b->pci, NULL, NULL);
		else
			io_bus_unregister(b->pio, RESET_CF9_PORT, rc);
		goto fail;
	}
	return 0;
fail:
	reset_cf9_free(rc);
	return -1;
}

static const struct device_type reset_cf9_type = {
	.name = "reset-cf9",
	.kind = TYPE_BOARD,
	.realize = reset_cf9_realize,
};
DEVICE_TYPE_REGISTER(reset_cf9_type)
