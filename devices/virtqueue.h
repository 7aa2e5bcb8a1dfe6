/*
 * Split virtqueues (virtio 1.x, section 2.7) read from guest memory with every
 * guest-controlled field checked: ring placement, heads, next links, chain
 * length, buffer addresses and lengths, direction order, indirect tables.
 * Rings and buffers may lie in boot RAM or in plugged virtio-mem memory.
 * A queue that breaks the rules is marked broken; the transport then sets
 * DEVICE_NEEDS_RESET.
 */
#ifndef TIDE_VIRTQUEUE_H
#define TIDE_VIRTQUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mm/guest_mem.h"
#include "util/error.h"

#define VIRTQ_MAX_SIZE 32768
#define VIRTQ_MAX_CHAIN 64 /* buffers one request may use; far above what virtio-mem needs */

#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2
#define VIRTQ_DESC_F_INDIRECT 4

struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
} __attribute__((packed));

/* A guest buffer, kept as a guest address: the memory behind it may be unplugged while the
 * request is served (virtio-mem), so it is translated again at each access. */
struct virtq_buf {
	uint64_t gpa;
	uint32_t len;
};

/* One request: device-readable buffers first, then device-writable ones. */
struct virtq_chain {
	uint16_t head;
	unsigned nr_out; /* readable */
	unsigned nr_in;	 /* writable, after the readable ones in bufs[] */
	struct virtq_buf bufs[VIRTQ_MAX_CHAIN];
};

/*
 * The rings are translated at each pop and push, not once at enable: they may lie in
 * plugged virtio-mem memory, which the guest can unplug. A ring or buffer that is no
 * longer RAM breaks the queue. Pops and pushes run on the I/O thread, where hotplugged
 * memory changes (guest_mem.h).
 */
struct virtqueue {
	const struct guest_mem *mem;
	uint16_t size;
	bool indirect_ok; /* VIRTIO_F_INDIRECT_DESC negotiated */
	uint64_t desc_gpa, avail_gpa, used_gpa;
	struct virtq_desc *desc; /* translations of the last pop or push */
	uint16_t *avail;	 /* flags, idx, ring[size], used_event */
	uint8_t *used;		 /* flags, idx, ring[size] of {u32 id, u32 len}, avail_event */
	uint16_t last_avail;
	uint16_t used_idx;
	bool broken;
};

/* Checks size (power of two, 1..32768), alignment and that all three rings lie in guest
 * memory (plugged or not: that is checked at each use). */
int virtqueue_enable(struct virtqueue *vq, const struct guest_mem *mem, uint16_t size,
		     uint64_t desc_gpa, uint64_t avail_gpa, uint64_t used_gpa, bool indirect_ok,
		     struct error *err);
/*
 * Takes the next available request: 1 with chain filled, 0 when there is none,
 * -1 (and the queue broken) when the guest broke a rule; err says which.
 */
int virtqueue_pop(struct virtqueue *vq, struct virtq_chain *chain, struct error *err);
/*
 * Copies up to len bytes out of the chain's readable buffers into dst; returns how many
 * readable bytes the chain has in all (more or fewer than len).
 */
size_t virtqueue_read(struct virtqueue *vq, const struct virtq_chain *chain, void *dst,
		      size_t len);
/* Bytes of device-writable room in the chain. */
size_t virtqueue_writable_room(const struct virtq_chain *chain);
/* Writes len bytes (at most the room) into the chain's writable buffers; -1 (queue broken)
 * when a buffer is no longer RAM. */
int virtqueue_write(struct virtqueue *vq, const struct virtq_chain *chain, const void *src,
		    size_t len, struct error *err);
/* Returns a request to the guest with the number of bytes written into it; -1 (queue
 * broken) when the used ring is no longer RAM. */
int virtqueue_push(struct virtqueue *vq, uint16_t head, uint32_t written, struct error *err);
/* Without EVENT_IDX: the driver wants an interrupt unless it set VIRTQ_AVAIL_F_NO_INTERRUPT.
 * Call right after a successful push (it reads the ring that push translated). */
bool virtqueue_wants_interrupt(const struct virtqueue *vq);

#endif
