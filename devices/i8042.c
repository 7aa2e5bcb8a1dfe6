#include "devices/i8042.h"

#include <pthread.h>
#include <stdlib.h>

#include "devices/board.h"
#include "devices/device.h"
#include "devices/io_bus.h"

#define REPLY_QUEUE 8

/* Control register (command byte) bits touched by the port enable/disable commands. */
#define CTR_KBD_DISABLE 0x10
#define CTR_AUX_DISABLE 0x20
#define CTR_DEFAULT 0x05 /* keyboard interrupt enabled, system flag (POST passed) */

struct i8042 {
	pthread_mutex_t lock;
	void (*reset)(void *opaque);
	void *reset_opaque;

	uint8_t ctr;
	uint8_t outport;
	uint8_t pending_cmd; /* command waiting for its data byte on port 0x60, or 0 */
	uint8_t data;	     /* last byte read, returned again when nothing is queued */
	uint8_t queue[REPLY_QUEUE];
	unsigned head, count;

	struct board *board; /* set by i8042_realize() for its cleanup */
};

static void queue_reply(struct i8042 *kbc, uint8_t byte)
{
	/* Replies are one byte per command; a guest that never reads just loses the oldest. */
	if (kbc->count == REPLY_QUEUE) {
		kbc->head = (kbc->head + 1) % REPLY_QUEUE;
		kbc->count--;
	}
	kbc->queue[(kbc->head + kbc->count++) % REPLY_QUEUE] = byte;
}

/* Writes the output port; returns true when bit 0 (reset line) is driven low. */
static bool write_outport(struct i8042 *kbc, uint8_t value)
{
	kbc->outport = value | I8042_OUTPORT_RESET; /* the line springs back once the CPU resets */
	return !(value & I8042_OUTPORT_RESET);
}

/* Returns true when the command resets the CPU. Locked. */
static bool command(struct i8042 *kbc, uint8_t cmd)
{
	kbc->pending_cmd = 0;
	switch (cmd) {
	case I8042_CMD_READ_CTR:
		queue_reply(kbc, kbc->ctr);
		break;
	case I8042_CMD_WRITE_CTR:
	case I8042_CMD_WRITE_OUTPORT:
		kbc->pending_cmd = cmd;
		break;
	case I8042_CMD_SELF_TEST:
		queue_reply(kbc, 0x55);
		break;
	case I8042_CMD_AUX_TEST:
	case I8042_CMD_KBD_TEST:
		queue_reply(kbc, 0x00); /* interface test passed */
		break;
	case I8042_CMD_AUX_DISABLE:
		kbc->ctr |= CTR_AUX_DISABLE;
		break;
	case I8042_CMD_AUX_ENABLE:
		kbc->ctr &= ~CTR_AUX_DISABLE;
		break;
	case I8042_CMD_KBD_DISABLE:
		kbc->ctr |= CTR_KBD_DISABLE;
		break;
	case I8042_CMD_KBD_ENABLE:
		kbc->ctr &= ~CTR_KBD_DISABLE;
		break;
	case I8042_CMD_READ_OUTPORT:
		queue_reply(kbc, kbc->outport);
		break;
	default:
		/* 0xF0-0xFF pulse output port bits 0-3 whose command bit is 0; bit 0 is reset. */
		if ((cmd & 0xf0) == 0xf0)
			return !(cmd & I8042_OUTPORT_RESET);
		break; /* anything else: no reply, as a controller without that feature */
	}
	return false;
}

void i8042_cmd_io(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write)
{
	struct i8042 *kbc = opaque;
	bool reset = false;

	(void)offset;
	(void)len; /* registered with length 1 */
	pthread_mutex_lock(&kbc->lock);
	if (is_write)
		reset = command(kbc, data[0]);
	else
		data[0] = I8042_STR_SYSFLAG | (kbc->count ? I8042_STR_OBF : 0);
	pthread_mutex_unlock(&kbc->lock);
	if (reset && kbc->reset)
		kbc->reset(kbc->reset_opaque);
}

void i8042_data_io(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write)
{
	struct i8042 *kbc = opaque;
	bool reset = false;

	(void)offset;
	(void)len;
	pthread_mutex_lock(&kbc->lock);
	if (!is_write) {
		if (kbc->count) {
			kbc->data = kbc->queue[kbc->head];
			kbc->head = (kbc->head + 1) % REPLY_QUEUE;
			kbc->count--;
		}
		data[0] = kbc->data;
	} else if (kbc->pending_cmd == I8042_CMD_WRITE_CTR) {
		kbc->ctr = data[0];
		kbc->pending_cmd = 0;
	} else if (kbc->pending_cmd == I8042_CMD_WRITE_OUTPORT) {
		reset = write_outport(kbc, data[0]);
		kbc->pending_cmd = 0;
	}
	/* Otherwise a byte for the keyboard, which is not there: dropped. */
	pthread_mutex_unlock(&kbc->lock);
	if (reset && kbc->reset)
		kbc->reset(kbc->reset_opaque);
}

struct i8042 *i8042_new(void (*reset)(void *opaque), void *reset_opaque)
{
	struct i8042 *kbc = calloc(1, sizeof(*kbc));

	if (!kbc)
		return NULL;
	pthread_mutex_init(&kbc->lock, NULL);
	kbc->reset = reset;
	kbc->reset_opaque = reset_opaque;
	kbc->ctr = CTR_DEFAULT;
	kbc->outport = I8042_OUTPORT_RESET | I8042_OUTPORT_A20;
	return kbc;
}

void i8042_free(struct i8042 *kbc)
{
	if (!kbc)
		return;
	pthread_mutex_destroy(&kbc->lock);
	free(kbc);
}

/* --- on a board --- */

static void guest_reset(void *opaque)
{
	struct board *b = opaque;

	b->ops->guest_reset(b);
}

static void i8042_destroy(void *opaque)
{
	struct i8042 *kbc = opaque;

	io_bus_unregister(kbc->board->pio, I8042_CMD_PORT, kbc);
	io_bus_unregister(kbc->board->pio, I8042_DATA_PORT, kbc);
	i8042_free(kbc);
}

static int i8042_realize(struct board *b, void *config, struct error *err)
{
	const struct board_device_place *at = config;
	struct i8042 *kbc = i8042_new(guest_reset, b);

	(void)at; /* the ports are the i8042's own */
	if (!kbc)
		return error_set(err, "i8042: out of memory");
	kbc->board = b;
	if (io_bus_register(b->pio, I8042_DATA_PORT, 1, i8042_data_io, kbc, "i8042", err))
		goto fail;
	if (io_bus_register(b->pio, I8042_CMD_PORT, 1, i8042_cmd_io, kbc, "i8042", err)) {
		io_bus_unregister(b->pio, I8042_DATA_PORT, kbc);
		goto fail;
	}
	if (b->ops->add_cleanup(b, i8042_destroy, kbc)) {
		error_set(err, "i8042: cannot register its teardown");
		io_bus_unregister(b->pio, I8042_CMD_PORT, kbc);
		io_bus_unregister(b->pio, I8042_DATA_PORT, kbc);
		goto fail;
	}
	return 0;
fail:
	i8042_free(kbc);
	return -1;
}

static const struct device_type i8042_type = {
	.name = "i8042",
	.kind = TYPE_BOARD,
	.realize = i8042_realize,
};
DEVICE_TYPE_REGISTER(i8042_type)
