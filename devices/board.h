/*
 * The board: what a device is realized on. A VM's buses, guest memory, interrupt routes
 * and I/O thread, and the services of the machine that owns them (requests to stop or
 * reset, teardown hooks, vCPU holds, the memslot budget, QMP's memory devices, the
 * console). vmm/machine.c provides one per machine; devices/ sees no more of the machine
 * than this, and nothing of the command line or of an architecture.
 */
#ifndef TIDE_BOARD_H
#define TIDE_BOARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

struct board;
struct event_loop;
struct guest_mem;
struct io_bus;
struct memory_device;
struct msi_routes;
struct pci_bus;
struct slot_id_pool;

/* Console input for a device: returns how many bytes it took (the rest is offered again). */
typedef size_t (*board_console_receive_fn)(void *opaque, const uint8_t *buf, size_t len);

struct board_ops {
	/* An ISA-style interrupt line (KVM_IRQ_LINE); the machine reports its failures. */
	void (*irq_set)(struct board *b, unsigned gsi, int level);
	/* The guest asked for a reset: with -no-reboot tide exits 0, otherwise it resets. */
	void (*guest_reset)(struct board *b);
	/* Stop the machine and leave tide with status (the first request wins). */
	void (*request_exit)(struct board *b, int status);
	/* What KVM cannot run: the VM stops with QMP's internal-error run state. */
	void (*guest_internal_error)(struct board *b);
	/* fn(opaque) at teardown, last registered first; quiesce steps run before any. */
	int (*add_cleanup)(struct board *b, void (*fn)(void *), void *opaque);
	int (*add_quiesce)(struct board *b, void (*fn)(void *), void *opaque);
	/*
	 * Memslots for a device: parts (one each when fully plugged) and holes (beyond one
	 * per part). -1 with err when too few are left for the parts; *holes is lowered to
	 * what KVM has left beside them.
	 */
	int (*reserve_memslots)(struct board *b, uint32_t parts, uint32_t *holes, const char *who,
				struct error *err);
	/* QMP's query-memory-devices lists it from now on. */
	void (*add_memory_device)(struct board *b, struct memory_device *md);
	/* Its plugged size changed: QMP's MEMORY_DEVICE_SIZE_CHANGE (rate-limited, except a
	 * final size: the one requested). */
	void (*memory_device_resized)(struct board *b, struct memory_device *md, uint64_t size,
				      bool final);
	/* The console: output, and where its input goes (NULL fn: nowhere). */
	void (*console_write)(struct board *b, const uint8_t *buf, size_t len);
	void (*console_set_receiver)(struct board *b, board_console_receive_fn fn, void *opaque);
};

struct board {
	const struct board_ops *ops;
	int vm_fd;
	uint64_t phys_addr_limit; /* first guest-physical address the vCPUs cannot reach */
	struct guest_mem *mem;
	struct slot_id_pool *slot_ids; /* KVM memslot ids, one pool per VM */
	struct io_bus *pio;
	struct io_bus *mmio;
	struct msi_routes *msi_routes;
	struct event_loop *loop; /* the I/O thread */
	/*
	 * The device worker thread, for guest requests whose host work can take long
	 * (virtio-mem: prealloc, discard, memslots); NULL: the I/O thread does it.
	 */
	struct event_loop *device_loop;
	struct pci_bus *pci;	 /* set by the PCI host bridge; NULL without one */
	/*
	 * Holds every vCPU outside KVM_RUN until released (a memslot_kvm_target callback, so
	 * a memslot swap goes straight to the machine's run state).
	 */
	void (*hold_vcpus)(void *opaque, bool hold);
	void *hold_opaque;
};

#endif
