#include "devices/virtqueue.h"
#include "util/util.h"

#include <string.h>

#define AVAIL_IDX 1 /* u16 index into vq->avail */
#define AVAIL_RING 2
#define USED_IDX_OFFSET 2
#define USED_RING_OFFSET 4

int virtqueue_enable(struct virtqueue *vq, const struct guest_mem *mem, uint16_t size,
		     uint64_t desc_gpa, uint64_t avail_gpa, uint64_t used_gpa, bool indirect_ok,
		     struct error *err)
{
	memset(vq, 0, sizeof(*vq));
	if (!is_power_of_2(size))
		return error_set(err, "queue size %u is not a power of two", size);
	if (desc_gpa % 16 || avail_gpa % 2 || used_gpa % 4)
		return error_set(err, "queue rings are misaligned");
	/* Enabling runs on a vCPU thread: whether the memory is plugged is the device
	 * worker's to ask, at each pop and push. */
	if (!guest_mem_covers(mem, desc_gpa, 16ULL * size) ||
	    !guest_mem_covers(mem, avail_gpa, 6 + 2ULL * size) ||
	    !guest_mem_covers(mem, used_gpa, 6 + 8ULL * size))
		return error_set(err, "queue rings are not in guest RAM");
	vq->mem = mem;
	vq->size = size;
	vq->indirect_ok = indirect_ok;
	vq->desc_gpa = desc_gpa;
	vq->avail_gpa = avail_gpa;
	vq->used_gpa = used_gpa;
	return 0;
}

static int fail(struct virtqueue *vq, struct error *err, const char *why, unsigned value)
{
	vq->broken = true;
	return error_set(err, "virtqueue: %s (%u)", why, value);
}

/* Translates the three rings for this pop or push. */
static int map_rings(struct virtqueue *vq, struct error *err)
{
	vq->desc = guest_mem_ptr(vq->mem, vq->desc_gpa, 16ULL * vq->size);
	vq->avail = guest_mem_ptr(vq->mem, vq->avail_gpa, 6 + 2ULL * vq->size);
	vq->used = guest_mem_ptr(vq->mem, vq->used_gpa, 6 + 8ULL * vq->size);
	if (vq->desc && vq->avail && vq->used)
		return 0;
	vq->broken = true;
	return error_set(err, "virtqueue: the queue's rings are no longer in guest RAM (unplugged?)");
}

/* Appends one descriptor's buffer, enforcing readable-before-writable. */
static int add_buf(struct virtqueue *vq, struct virtq_chain *c, const struct virtq_desc *d,
		   struct error *err)
{
	if (c->nr_out + c->nr_in == VIRTQ_MAX_CHAIN)
		return fail(vq, err, "chain longer than the device accepts", VIRTQ_MAX_CHAIN);
	if (!(d->flags & VIRTQ_DESC_F_WRITE) && c->nr_in)
		return fail(vq, err, "readable buffer after a writable one", c->head);
	/* A zero-length buffer is legal wherever it points: nothing is ever accessed there. */
	if (d->len && !guest_mem_ptr(vq->mem, d->addr, d->len))
		return fail(vq, err, "buffer outside guest RAM in chain", c->head);
	c->bufs[c->nr_out + c->nr_in] = (struct virtq_buf){ d->addr, d->len };
	if (d->flags & VIRTQ_DESC_F_WRITE)
		c->nr_in++;
	else
		c->nr_out++;
	return 0;
}

/* Walks an indirect table: its own entries, no further indirection, bounded by its length. */
static int walk_indirect(struct virtqueue *vq, struct virtq_chain *c, const struct virtq_desc *d,
			 struct error *err)
{
	const struct virtq_desc *table;
	uint32_t count;
	uint16_t i = 0;

	if (!vq->indirect_ok)
		return fail(vq, err, "indirect descriptor without VIRTIO_F_INDIRECT_DESC", c->head);
	if (d->flags & VIRTQ_DESC_F_NEXT)
		return fail(vq, err, "indirect descriptor with NEXT set", c->head);
	if (d->len == 0 || d->len % sizeof(*table) || d->len / sizeof(*table) > VIRTQ_MAX_SIZE)
		return fail(vq, err, "bad indirect table length", d->len);
	count = d->len / sizeof(*table);
	table = guest_mem_ptr(vq->mem, d->addr, d->len);
	if (!table)
		return fail(vq, err, "indirect table outside guest RAM", c->head);
	for (uint32_t walked = 0;; walked++) {
		struct virtq_desc e;

		if (walked == count)
			return fail(vq, err, "loop in indirect table", c->head);
		memcpy(&e, &table[i], sizeof(e)); /* one snapshot: the guest may change it */
		if (e.flags & VIRTQ_DESC_F_INDIRECT)
			return fail(vq, err, "nested indirect table", c->head);
		if (add_buf(vq, c, &e, err))
			return -1;
		if (!(e.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		if (e.next >= count)
			return fail(vq, err, "indirect next out of range", e.next);
		i = e.next;
	}
}

int virtqueue_pop(struct virtqueue *vq, struct virtq_chain *c, struct error *err)
{
	uint16_t avail_idx, head, i;

	if (vq->broken)
		return error_set(err, "virtqueue: broken");
	if (map_rings(vq, err))
		return -1;
	avail_idx = __atomic_load_n(&vq->avail[AVAIL_IDX], __ATOMIC_ACQUIRE);
	if (avail_idx == vq->last_avail)
		return 0;
	if ((uint16_t)(avail_idx - vq->last_avail) > vq->size)
		return fail(vq, err, "available index moved by more than the queue size",
			    (uint16_t)(avail_idx - vq->last_avail));
	head = vq->avail[AVAIL_RING + vq->last_avail % vq->size];
	if (head >= vq->size)
		return fail(vq, err, "head out of range", head);
	vq->last_avail++;
	memset(c, 0, sizeof(*c));
	c->head = head;
	i = head;
	for (unsigned walked = 0;; walked++) {
		struct virtq_desc d;

		if (walked == vq->size)
			return fail(vq, err, "loop in descriptor chain", head);
		memcpy(&d, &vq->desc[i], sizeof(d));
		/* Zero or more direct descriptors, then at most one indirect one, which ends
		 * the chain (it may not have NEXT): the spec's device requirement. */
		if (d.flags & VIRTQ_DESC_F_INDIRECT)
			return walk_indirect(vq, c, &d, err) ? -1 : 1;
		if (add_buf(vq, c, &d, err))
			return -1;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 1;
		if (d.next >= vq->size)
			return fail(vq, err, "next out of range", d.next);
		i = d.next;
	}
}

size_t virtqueue_read(struct virtqueue *vq, const struct virtq_chain *chain, void *dst,
		      size_t len)
{
	size_t total = 0;

	for (unsigned i = 0; i < chain->nr_out; i++) {
		const struct virtq_buf *b = &chain->bufs[i];
		size_t n = total < len ? (b->len < len - total ? b->len : len - total) : 0;
		const void *src = n ? guest_mem_ptr(vq->mem, b->gpa, b->len) : NULL;

		/* Checked at pop, on this thread, with nothing in between: src is there. */
		if (src)
			memcpy((uint8_t *)dst + total, src, n);
		else if (n)
			memset((uint8_t *)dst + total, 0, n);
		total += b->len;
	}
	return total;
}

size_t virtqueue_writable_room(const struct virtq_chain *chain)
{
	size_t total = 0;

	for (unsigned i = chain->nr_out; i < chain->nr_out + chain->nr_in; i++)
		total += chain->bufs[i].len;
	return total;
}

int virtqueue_write(struct virtqueue *vq, const struct virtq_chain *chain, const void *src,
		    size_t len, struct error *err)
{
	size_t total = 0;

	for (unsigned i = chain->nr_out; i < chain->nr_out + chain->nr_in && total < len; i++) {
		const struct virtq_buf *b = &chain->bufs[i];
		size_t n = b->len < len - total ? b->len : len - total;
		void *dst = n ? guest_mem_ptr(vq->mem, b->gpa, b->len) : NULL;

		/* The request itself may have unplugged the memory its answer was to go to. */
		if (n && !dst)
			return fail(vq, err, "response buffer no longer in guest RAM (unplugged?) in chain",
				    chain->head);
		if (n)
			memcpy(dst, (const uint8_t *)src + total, n);
		total += n;
	}
	return 0;
}

int virtqueue_push(struct virtqueue *vq, uint16_t head, uint32_t written, struct error *err)
{
	uint8_t *elem;
	uint32_t id = head;

	if (map_rings(vq, err))
		return -1;
	elem = vq->used + USED_RING_OFFSET + 8u * (vq->used_idx % vq->size);
	memcpy(elem, &id, 4);
	memcpy(elem + 4, &written, 4);
	vq->used_idx++;
	/* The element must be visible before the index that publishes it. */
	__atomic_store_n((uint16_t *)(vq->used + USED_IDX_OFFSET), vq->used_idx, __ATOMIC_RELEASE);
	return 0;
}

bool virtqueue_wants_interrupt(const struct virtqueue *vq)
{
	/* avail->flags (the first u16); read after the used index was published. */
	return !(__atomic_load_n(&vq->avail[0], __ATOMIC_ACQUIRE) & 1);
}
