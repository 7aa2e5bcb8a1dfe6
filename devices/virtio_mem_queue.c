#include "devices/virtio_mem_queue.h"

#include <linux/virtio_mem.h>

#define REQ_SIZE 24
#define RESP_SIZE 10

int vmem_serve_request(struct vmem_core *c, struct virtqueue *vq, struct vmem_result *result,
		       uint16_t *type, struct error *err)
{
	struct virtio_mem_req raw;
	struct virtio_mem_resp resp = { 0 };
	struct virtq_chain chain;
	struct vmem_req req;
	size_t readable;
	int ret = virtqueue_pop(vq, &chain, err);

	if (ret != 1)
		return ret;
	readable = virtqueue_read(vq, &chain, &raw, sizeof(raw));
	if (readable < REQ_SIZE)
		return error_set(err, "request of %zu bytes, virtio-mem needs %d", readable,
				 REQ_SIZE);
	if (virtqueue_writable_room(&chain) < RESP_SIZE)
		return error_set(err, "response room of %zu bytes, virtio-mem needs %d",
				 virtqueue_writable_room(&chain), RESP_SIZE);
	/* PLUG, UNPLUG and STATE share one layout; UNPLUG_ALL ignores it. */
	req = (struct vmem_req){ .type = raw.type,
				 .addr = raw.u.plug.addr,
				 .nb_blocks = raw.u.plug.nb_blocks };
	*result = vmem_handle(c, &req);
	*type = raw.type;
	resp.type = (uint16_t)result->resp;
	if (result->resp == VMEM_RESP_ACK && raw.type == VIRTIO_MEM_REQ_STATE)
		resp.u.state.state = result->state;
	if (virtqueue_write(vq, &chain, &resp, RESP_SIZE, err) ||
	    virtqueue_push(vq, chain.head, RESP_SIZE, err))
		return -1;
	return 1;
}
