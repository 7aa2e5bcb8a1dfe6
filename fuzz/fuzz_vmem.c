/*
 * libFuzzer target: a virtio-mem device behind its virtqueue, in fake guest memory. The
 * first 16 KiB of the input are the guest's boot RAM (rings at fixed places, descriptors,
 * requests: all the guest's to write); the rest is a script of what happens next: the
 * queue is served (as the device serves it, through vmem_serve_request), reset or moved,
 * requested-size changes, a vCPU touches the region. After every step the invariants of
 * the memory bound are checked: the bitmap's count, and KVM holding exactly one memslot per
 * run of plugged blocks inside each part and nothing else (a fake KVM records them).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "fuzz/fuzz_input.h"
#include "devices/virtio_mem_core.h"
#include "mm/backend.h"
#include "mm/memslots.h"
#include "util/log.h"

#define RAM_SIZE (16u << 10)
#define REGION_GPA (4ULL << 30)
#define REGION_SIZE (1ULL << 30)
#define PART (128ULL << 20)
#define BLOCK (2ULL << 20)
#define HOLES 16

static int fake_set_region(void *opaque, uint32_t id, uint64_t gpa, uint64_t size, void *hva,
			   struct error *err)
{
	(void)opaque, (void)id, (void)gpa, (void)size, (void)hva, (void)err;
	return 0;
}

static const struct memslot_ops fake_kvm = { fake_set_region, NULL, NULL };

/* Discards nothing for real: the region is never written where it is not plugged. */
static int fake_discard(struct memory_backend *b, uint64_t offset, uint64_t len,
			bool accessible, struct error *err)
{
	(void)b, (void)offset, (void)len, (void)accessible, (void)err;
	return 0;
}

static const struct memory_backend_ops backend_ops = { .discard = fake_discard };

static uint8_t *region; /* the device's host mapping, reserved once */

static bool range_plugged(void *opaque, uint64_t offset, uint64_t len)
{
	return vmem_range_plugged(opaque, offset, len);
}

static void check_invariants(const struct vmem_core *c, const struct memslot_region *r)
{
	uint64_t counted = plug_bitmap_count(&c->plugged, 0, c->plugged.nr_blocks);
	uint64_t from = 0, first, count;
	uint32_t runs = 0;

	if (counted != c->plugged.nr_plugged || r->nr_slots > r->max_slots)
		__builtin_trap();
	/* Every run (cut at part edges) has its memslot, exactly. */
	while (plug_bitmap_next_run(&c->plugged, from, &first, &count)) {
		for (uint64_t b = first; b < first + count;) {
			uint64_t part_end = (b * BLOCK / PART + 1) * PART / BLOCK;
			uint64_t end = first + count < part_end ? first + count : part_end;

			if (!memslot_covers(r, b * BLOCK, (end - b) * BLOCK))
				__builtin_trap();
			runs++;
			b = end;
		}
		from = first + count;
	}
	if (runs != r->nr_slots)
		__builtin_trap(); /* a memslot over unplugged memory, or two over one run */
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	log_threshold = LOG_ERROR; /* refusals are the point here, not news */
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t ram[RAM_SIZE] __attribute__((aligned(4096)));
	struct memory_backend backend = { .ops = &backend_ops, .size = REGION_SIZE, .fd = -1,
					  .page_size = 4096, .type_name = "fuzz" };
	const uint8_t *p = data + (size < RAM_SIZE ? size : RAM_SIZE), *end = data + size;
	struct slot_id_pool pool;
	struct memslot_region slots;
	struct vmem_core core;
	struct guest_mem mem = { 0 };
	struct virtqueue vq;
	struct error err;

	if (!region) {
		region = mmap(NULL, REGION_SIZE, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (region == MAP_FAILED)
			abort();
	}
	backend.hva = region;
	memset(ram, 0, sizeof(ram));
	memcpy(ram, data, size < RAM_SIZE ? size : RAM_SIZE);
	if (slot_id_pool_init(&pool, 4096) ||
	    memslot_region_init(&slots, REGION_GPA, REGION_SIZE, region, PART,
				REGION_SIZE / PART + HOLES, &pool, &fake_kvm, NULL, &err) ||
	    vmem_core_init(&core, REGION_GPA, REGION_SIZE, BLOCK, 256ULL << 20, &slots, &backend,
			   &err) ||
	    guest_mem_add(&mem, 0, RAM_SIZE, ram, &err) ||
	    guest_mem_add_hotplug(&mem, REGION_GPA, REGION_SIZE, region, range_plugged, &core,
				  &err))
		abort();
	memset(&vq, 0, sizeof(vq));
	vq.broken = true;
	while (p < end) {
		switch (fuzz_take(&p, end, 1) % 5) {
		case 0: { /* the driver (re)enables the queue, rings where it says */
			uint16_t qsize = (uint16_t)(1u << (fuzz_take(&p, end, 1) % 9));
			uint64_t desc = fuzz_take(&p, end, 2) & ~15ULL, avail = fuzz_take(&p, end, 2) & ~1ULL;
			uint64_t used = fuzz_take(&p, end, 2) & ~3ULL;

			if (virtqueue_enable(&vq, &mem, qsize, desc, avail, used, fuzz_take(&p, end, 1) & 1,
					     &err))
				vq.broken = true;
			break;
		}
		case 1: { /* a notification: one turn's worth of requests */
			struct vmem_result result;
			uint16_t type;

			for (int n = 0; !vq.broken && n < 64; n++) {
				int ret = vmem_serve_request(&core, &vq, &result, &type, &err);

				if (ret < 0)
					vq.broken = true; /* DEVICE_NEEDS_RESET */
				if (ret != 1)
					break;
			}
			break;
		}
		case 2: /* QMP's qom-set requested-size */
			vmem_set_requested(&core, fuzz_take(&p, end, 4) * BLOCK % (REGION_SIZE + BLOCK),
					   &err);
			break;
		case 3: { /* a vCPU touches the region where KVM maps nothing */
			uint64_t offset = fuzz_take(&p, end, 4) % REGION_SIZE;
			uint8_t bytes[8] = { 0 };

			if (!memslot_covers(&slots, offset & ~7ULL, 8))
				vmem_guest_access(&core, offset & ~7ULL, bytes, 8, fuzz_take(&p, end, 1) & 1);
			break;
		}
		case 4: /* the driver writes to its RAM: a byte of a ring or a request */
			ram[fuzz_take(&p, end, 2) % RAM_SIZE] = (uint8_t)fuzz_take(&p, end, 1);
			break;
		}
		check_invariants(&core, &slots);
	}
	vmem_core_destroy(&core);
	memslot_region_destroy(&slots);
	slot_id_pool_free(&pool);
	return 0;
}
