/*
 * Split virtqueues (virtio 1.x, section 2.7) read from guest memory with every
 * guest-controlled field checked: ring placement, heads, next links, chain
 * length, buffer addresses and lengths, direction order, indirect tables.
 * A queue that breaks the rules is marked broken; the transport then sets
 * DEVICE_NEEDS_RESET.
 */
#ifndef TIDE_VIRTQUEUE_H
#define TIDE_VIRTQUEUE_H

#include <stdbool.h>
#include <stdint.h>

#include "mm/guest_mem.h"
#include "vmm/error.h"

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

struct virtq_buf {
	uint8_t *hva;
	uint32_t len;
};

/* One request: device-readable buffers first, then device-writable ones. */
struct virtq_chain {
	uint16_t head;
	unsigned nr_out; /* readable */
	unsigned nr_in;	 /* writable, after the readable ones in bufs[] */
	struct virtq_buf bufs[VIRTQ_MAX_CHAIN];
};

struct virtqueue {
	const struct guest_mem *mem;
	uint16_t size;
	bool indirect_ok; /* VIRTIO_F_INDIRECT_DESC negotiated */
	struct virtq_desc *desc;
	uint16_t *avail; /* flags, idx, ring[size], used_event */
	uint8_t *used;	 /* flags, idx, ring[size] of {u32 id, u32 len}, avail_event */
	uint16_t last_avail;
	uint16_t used_idx;
	bool broken;
};

/* Checks size (power of two, 1..32768), alignment and that all three rings lie in RAM. */
int virtqueue_enable(struct virtqueue *vq, const struct guest_mem *mem, uint16_t size,
		     uint64_t desc_gpa, uint64_t avail_gpa, uint64_t used_gpa, bool indirect_ok,
		     struct error *err);
/*
 * Takes the next available request: 1 with chain filled, 0 when there is none,
 * -1 (and the queue broken) when the guest broke a rule; err says which.
 */
int virtqueue_pop(struct virtqueue *vq, struct virtq_chain *chain, struct error *err);
/* Returns a request to the guest with the number of bytes written into it. */
void virtqueue_push(struct virtqueue *vq, uint16_t head, uint32_t written);
/* Without EVENT_IDX: the driver wants an interrupt unless it set VIRTQ_AVAIL_F_NO_INTERRUPT. */
bool virtqueue_wants_interrupt(const struct virtqueue *vq);

#endif
