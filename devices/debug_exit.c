#include "devices/debug_exit.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "devices/device.h"
#include "devices/board.h"
#include "devices/io_bus.h"

#define TYPE_NAME "isa-debug-exit"

int debug_exit_status(uint64_t value)
{
	return (int)(uint32_t)((value << 1) | 1);
}

void debug_exit_io(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write)
{
	struct debug_exit *de = opaque;

	(void)offset; /* like QEMU, any port of the range and any width */
	if (!is_write) {
		memset(data, 0xff, len);
		return;
	}
	de->request_exit(de->opaque, debug_exit_status(io_data_get(data, len)));
}

static void *debug_exit_parse(struct opts *opts, struct error *err)
{
	struct debug_exit_config *cfg;
	uint64_t iobase, iosize;

	if (opts_take_u64(opts, "iobase", &iobase, DEBUG_EXIT_DEFAULT_IOBASE, err) ||
	    opts_take_u64(opts, "iosize", &iosize, DEBUG_EXIT_DEFAULT_IOSIZE, err))
		return NULL;
	if (iosize != 1 && iosize != 2 && iosize != 4) {
		error_set(err, "%s: " TYPE_NAME ": iosize must be 1, 2 or 4, not %" PRIu64,
			  opts->option, iosize);
		return NULL;
	}
	if (iobase > 0x10000 - iosize) {
		error_set(err, "%s: " TYPE_NAME ": ports 0x%" PRIx64 "+%" PRIu64
			  " do not fit in the I/O space (0-0xffff)", opts->option, iobase, iosize);
		return NULL;
	}
	if (opts_finish(opts, TYPE_NAME, err))
		return NULL;
	cfg = malloc(sizeof(*cfg));
	if (!cfg) {
		error_set(err, "%s: out of memory", opts->option);
		return NULL;
	}
	cfg->iobase = (uint16_t)iobase;
	cfg->iosize = (uint8_t)iosize;
	return cfg;
}

struct debug_exit_instance {
	struct debug_exit core;
	struct board *board;
	uint16_t iobase;
};

static void board_exit(void *opaque, int status)
{
	struct board *b = opaque;

	b->ops->request_exit(b, status);
}

static void debug_exit_destroy(void *opaque)
{
	struct debug_exit_instance *inst = opaque;

	io_bus_unregister(inst->board->pio, inst->iobase, &inst->core);
	free(inst);
}

static int debug_exit_realize(struct board *b, void *config, struct error *err)
{
	const struct debug_exit_config *cfg = config;
	struct debug_exit_instance *inst = calloc(1, sizeof(*inst));

	if (!inst)
		return error_set(err, TYPE_NAME ": out of memory");
	inst->core = (struct debug_exit){ .request_exit = board_exit, .opaque = b };
	inst->board = b;
	inst->iobase = cfg->iobase;
	if (io_bus_register(b->pio, cfg->iobase, cfg->iosize, debug_exit_io, &inst->core,
			    TYPE_NAME, err)) {
		free(inst);
		return -1;
	}
	if (b->ops->add_cleanup(b, debug_exit_destroy, inst)) {
		io_bus_unregister(b->pio, cfg->iobase, &inst->core);
		free(inst);
		return error_set(err, TYPE_NAME ": cannot register its teardown");
	}
	return 0;
}

static const struct type_property debug_exit_props[] = {
	{ "iobase", "uint32", "the I/O port" },
	{ "iosize", "uint32", "the port's width in bytes" },
	{ NULL, NULL, NULL },
};

static const struct device_type debug_exit_type = {
	.name = TYPE_NAME,
	.kind = TYPE_DEVICE,
	.help = "iobase=PORT (default 0x501), iosize=1|2|4 (default 2): "
		"a guest write of V exits with status (V << 1) | 1",
	.props = debug_exit_props,
	.parse = debug_exit_parse,
	.realize = debug_exit_realize,
	.free_config = free,
};

DEVICE_TYPE_REGISTER(debug_exit_type)
