/*
 * Address-range dispatch for port I/O and MMIO exits: devices register
 * [base, base+len) with a handler; the vCPU loop hands every access here.
 */
#ifndef TIDE_IO_BUS_H
#define TIDE_IO_BUS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * offset is relative to the registered base; data holds len (1, 2, 4 or 8)
 * little-endian bytes: filled by the handler on reads, given on writes.
 */
typedef void (*io_handler_fn)(void *opaque, uint64_t offset, uint8_t *data, unsigned len,
			      bool is_write);

struct io_range {
	uint64_t base;
	uint64_t len;
	io_handler_fn handler;
	void *opaque;
	const char *name;
};

struct io_bus {
	const char *name; /* "pio" or "mmio", for messages */
	pthread_rwlock_t lock;
	struct io_range *ranges; /* sorted by base, never overlapping */
	size_t count;
	size_t capacity;
};

void io_bus_init(struct io_bus *bus, const char *name);
void io_bus_destroy(struct io_bus *bus);
/* Returns 0, or -1 with err set when the range is empty, wraps or overlaps another. */
struct error;
int io_bus_register(struct io_bus *bus, uint64_t base, uint64_t len, io_handler_fn handler,
		    void *opaque, const char *name, struct error *err);
/* Removes the range that starts at base and belongs to opaque; returns -1 if none does. */
int io_bus_unregister(struct io_bus *bus, uint64_t base, void *opaque);
/*
 * Calls the handler of the range holding addr. Returns false when no range
 * holds the whole access; reads are then all ones, as on a PC with nothing there.
 */
bool io_bus_dispatch(struct io_bus *bus, uint64_t addr, uint8_t *data, unsigned len, bool is_write);

/* Little-endian helpers for handlers. */
static inline uint64_t io_data_get(const uint8_t *data, unsigned len)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < len && i < 8; i++)
		v |= (uint64_t)data[i] << (8 * i);
	return v;
}

static inline void io_data_put(uint8_t *data, unsigned len, uint64_t v)
{
	for (unsigned i = 0; i < len && i < 8; i++)
		data[i] = (uint8_t)(v >> (8 * i));
}

#endif
