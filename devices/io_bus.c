#include "devices/io_bus.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

void io_bus_init(struct io_bus *bus, const char *name)
{
	memset(bus, 0, sizeof(*bus));
	bus->name = name;
	pthread_rwlock_init(&bus->lock, NULL);
}

void io_bus_destroy(struct io_bus *bus)
{
	free(bus->ranges);
	pthread_rwlock_destroy(&bus->lock);
	memset(bus, 0, sizeof(*bus));
}

/* Index of the first range whose end lies above addr (the only candidate to hold addr). */
static size_t first_ending_after(const struct io_bus *bus, uint64_t addr)
{
	size_t lo = 0, hi = bus->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct io_range *r = &bus->ranges[mid];

		if (r->base + r->len - 1 < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int io_bus_register(struct io_bus *bus, uint64_t base, uint64_t len, io_handler_fn handler,
		    void *opaque, const char *name, struct error *err)
{
	size_t pos;
	int ret = 0;

	if (len == 0 || base + (len - 1) < base)
		return error_set(err, "%s range for %s at 0x%" PRIx64 " is empty or wraps",
				 bus->name, name, base);
	pthread_rwlock_wrlock(&bus->lock);
	pos = first_ending_after(bus, base);
	if (pos < bus->count && bus->ranges[pos].base <= base + (len - 1)) {
		const struct io_range *other = &bus->ranges[pos];

		ret = error_set(err, "%s range 0x%" PRIx64 "-0x%" PRIx64 " of %s overlaps %s at "
				     "0x%" PRIx64 "-0x%" PRIx64,
				bus->name, base, base + len - 1, name, other->name, other->base,
				other->base + other->len - 1);
		goto out;
	}
	if (bus->count == bus->capacity) {
		size_t cap = bus->capacity ? bus->capacity * 2 : 16;
		struct io_range *grown = realloc(bus->ranges, cap * sizeof(*grown));

		if (!grown) {
			ret = error_set(err, "out of memory registering %s", name);
			goto out;
		}
		bus->ranges = grown;
		bus->capacity = cap;
	}
	memmove(&bus->ranges[pos + 1], &bus->ranges[pos], (bus->count - pos) * sizeof(*bus->ranges));
	bus->ranges[pos] = (struct io_range){ base, len, handler, opaque, name };
	bus->count++;
out:
	pthread_rwlock_unlock(&bus->lock);
	return ret;
}

int io_bus_unregister(struct io_bus *bus, uint64_t base, void *opaque)
{
	int ret = -1;

	pthread_rwlock_wrlock(&bus->lock);
	for (size_t i = 0; i < bus->count; i++) {
		if (bus->ranges[i].base == base && bus->ranges[i].opaque == opaque) {
			memmove(&bus->ranges[i], &bus->ranges[i + 1],
				(bus->count - i - 1) * sizeof(*bus->ranges));
			bus->count--;
			ret = 0;
			break;
		}
	}
	pthread_rwlock_unlock(&bus->lock);
	return ret;
}

bool io_bus_dispatch(struct io_bus *bus, uint64_t addr, uint8_t *data, unsigned len, bool is_write)
{
	struct io_range hit;
	bool found = false;
	size_t pos;

	pthread_rwlock_rdlock(&bus->lock);
	pos = first_ending_after(bus, addr);
	if (pos < bus->count) {
		const struct io_range *r = &bus->ranges[pos];

		if (r->base <= addr && addr - r->base + len <= r->len) {
			hit = *r;
			found = true;
		}
	}
	pthread_rwlock_unlock(&bus->lock);
	/* Called without the lock so a handler may move its own or another range (PCI BARs). */
	if (found)
		hit.handler(hit.opaque, addr - hit.base, data, len, is_write);
	else if (!is_write)
		memset(data, 0xff, len);
	return found;
}
