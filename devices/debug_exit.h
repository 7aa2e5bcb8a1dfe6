/*
 * isa-debug-exit (QEMU semantics): a guest write of V to the port range
 * makes tide exit with status (V << 1) | 1. Registered as a -device type:
 *   -device isa-debug-exit[,iobase=0x501][,iosize=0x02]
 */
#ifndef TIDE_DEVICES_DEBUG_EXIT_H
#define TIDE_DEVICES_DEBUG_EXIT_H

#include <stdbool.h>
#include <stdint.h>

#define DEBUG_EXIT_DEFAULT_IOBASE 0x501
#define DEBUG_EXIT_DEFAULT_IOSIZE 0x02

struct debug_exit_config {
	uint16_t iobase;
	uint8_t iosize; /* 1, 2 or 4 */
};

/* The core: a write hands the exit status to request_exit. */
struct debug_exit {
	void (*request_exit)(void *opaque, int status);
	void *opaque;
};

/* QEMU's exit((val << 1) | 1) for the value the guest wrote (the OS keeps the low 8 bits). */
int debug_exit_status(uint64_t value);
/* io_handler_fn (opaque = struct debug_exit): writes exit, reads return all ones. */
void debug_exit_io(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write);

#endif
