/*
 * One virtio-mem request off its virtqueue: the framing (24 readable bytes, 10 writable),
 * the core's answer, the response written and the chain given back. Shared by the device
 * (virtio_mem.c) and its fuzz target, so both serve requests the same way.
 */
#ifndef TIDE_VIRTIO_MEM_QUEUE_H
#define TIDE_VIRTIO_MEM_QUEUE_H

#include "devices/virtio_mem_core.h"
#include "devices/virtqueue.h"

/*
 * 1 with *result and *type (the request's type) when a request was served, 0 when the
 * queue is empty, -1 with err when the driver broke the transport's rules (a framing
 * error is not an ERROR response: QEMU's virtio_error, the device needs a reset).
 */
int vmem_serve_request(struct vmem_core *c, struct virtqueue *vq, struct vmem_result *result,
		       uint16_t *type, struct error *err);

#endif
