#include <check.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "devices/virtio_mem_core.h"
#include "vmm/size.h"

#define ADDR (4 * GiB)
#define REGION GiB
#define BLOCK (2 * MiB)

/*
 * Fake KVM for the memslot manager: counts adds and deletes and logs them as "+N"/"-N" (slot N)
 * in ioctls. events logs everything in order: those, host protection ("rwN", "noneN") and
 * discards ("dN", by the slot the range starts in). fail_set_region_in fails the Nth next
 * ioctl (1 = the next one); fail_discard fails discards.
 */
static int adds, dels, fail_set_region_in;
static bool fail_discard;
static int discards_until_failure; /* > 0: that many discards work, then fail_discard is set */
static char ioctls[512], events[1024];

static void log_to(char *log, size_t size, const char *fmt, unsigned long long slot)
{
	size_t used = strlen(log);

	snprintf(log + used, size - used, used ? " " : "");
	used = strlen(log);
	snprintf(log + used, size - used, fmt, slot);
}

static int fake_set_region(void *opaque, uint32_t id, uint64_t gpa, uint64_t size, void *hva,
			   struct error *err)
{
	unsigned long long slot = (gpa - ADDR) / (128 * MiB);

	(void)opaque, (void)id, (void)hva;
	if (fail_set_region_in && --fail_set_region_in == 0)
		return error_set(err, "injected KVM_SET_USER_MEMORY_REGION failure");
	if (size)
		adds++;
	else
		dels++;
	log_to(ioctls, sizeof(ioctls), size ? "+%llu" : "-%llu", slot);
	log_to(events, sizeof(events), size ? "+%llu" : "-%llu", slot);
	return 0;
}

static int fake_protect(void *opaque, void *hva, uint64_t size, bool accessible, struct error *err)
{
	(void)opaque, (void)size, (void)err;
	log_to(events, sizeof(events), accessible ? "rw%llu" : "none%llu",
	       (unsigned long long)((uintptr_t)hva / (128 * MiB)));
	return 0;
}

static const struct memslot_ops fake_ops = { fake_set_region, fake_protect };

static struct slot_id_pool pool;
static struct memslot_region slots;
static struct memory_backend backend;
static struct vmem_core core;
static struct error set_err; /* what vmem_set_requested() said last */

static int discard(struct memory_backend *b, uint64_t offset, uint64_t len, bool accessible,
		   struct error *err)
{
	if (discards_until_failure && --discards_until_failure == 0)
		fail_discard = true;
	else if (fail_discard)
		return error_set(err, "injected discard failure");
	/* d: the range is read-write (its slot mapped); D: it is PROT_NONE. */
	log_to(events, sizeof(events), accessible ? "d%llu" : "D%llu",
	       (unsigned long long)(offset / (128 * MiB)));
	return madvise(b->hva + offset, len, MADV_DONTNEED);
}

static const struct memory_backend_ops anon_ops = { .discard = discard };

static void setup(void)
{
	struct error err;

	adds = dels = fail_set_region_in = discards_until_failure = 0;
	fail_discard = false;
	ioctls[0] = events[0] = '\0';
	ck_assert_int_eq(slot_id_pool_init(&pool, 100), 0);
	ck_assert_int_eq(memslot_region_init(&slots, ADDR, REGION, NULL, 128 * MiB, &pool,
					     &fake_ops, NULL, &err), 0);
	backend = (struct memory_backend){ .ops = &anon_ops, .size = REGION, .fd = -1,
					   .page_size = 4096, .type_name = "fake" };
	backend.hva = mmap(NULL, REGION, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ck_assert_ptr_ne(backend.hva, MAP_FAILED);
	/* The fake KVM hands slots an hva of NULL; the backend is what holds the memory. */
	ck_assert_int_eq(vmem_core_init(&core, ADDR, REGION, BLOCK, 512 * MiB, &slots, &backend,
					&err), 0);
}

static void teardown(void)
{
	vmem_core_destroy(&core);
	memslot_region_destroy(&slots);
	munmap(backend.hva, REGION);
	slot_id_pool_free(&pool);
}

static enum vmem_resp_type req(uint16_t type, uint64_t addr, uint16_t nb, uint16_t *state)
{
	struct vmem_req r = { type, addr, nb };
	uint16_t ignored;

	return vmem_handle(&core, &r, state ? state : &ignored);
}

START_TEST(usable_region_policy)
{
	ck_assert_uint_eq(vmem_usable_for(0, REGION, BLOCK), 0);
	ck_assert_uint_eq(vmem_usable_for(512 * MiB, REGION, BLOCK), 768 * MiB);
	ck_assert_uint_eq(vmem_usable_for(900 * MiB, REGION, BLOCK), REGION); /* capped */
	ck_assert_uint_eq(vmem_usable_for(2 * MiB, 64 * GiB, GiB), GiB);     /* block-aligned */
	ck_assert_uint_eq(core.usable_size, 768 * MiB);
	/* Growing requested grows usable (config change); shrinking keeps it. */
	ck_assert_int_eq(vmem_set_requested(&core, 600 * MiB, &set_err), 1);
	ck_assert_uint_eq(core.usable_size, 856 * MiB);
	ck_assert_int_eq(vmem_set_requested(&core, 0, &set_err), 1);
	ck_assert_uint_eq(core.usable_size, 856 * MiB);
	ck_assert_int_eq(vmem_set_requested(&core, 0, &set_err), 0);
	/* QMP's bad sizes: refused, nothing changes. */
	ck_assert_int_eq(vmem_set_requested(&core, 3 * MiB, &set_err), -1);
	ck_assert_str_eq(set_err.msg, "requested-size 3145728 is not a multiple of block-size 2097152");
	ck_assert_int_eq(vmem_set_requested(&core, REGION + BLOCK, &set_err), -1);
	ck_assert_str_eq(set_err.msg, "requested-size 1075838976 is above the device size 1073741824");
	ck_assert_uint_eq(core.requested_size, 0);
	ck_assert_uint_eq(core.usable_size, 856 * MiB);
	/* UNPLUG_ALL is where it may shrink. */
	ck_assert_int_eq(req(VMEM_REQ_UNPLUG_ALL, 0, 0, NULL), VMEM_RESP_ACK);
	ck_assert_uint_eq(core.usable_size, 0);
}
END_TEST

START_TEST(plug_write_unplug_replug_reads_zero)
{
	uint16_t state = 99;

	ck_assert_int_eq(req(VMEM_REQ_PLUG, ADDR, 64, NULL), VMEM_RESP_ACK); /* 128 MiB */
	ck_assert_uint_eq(vmem_plugged_size(&core), 128 * MiB);
	ck_assert_int_eq(adds, 1);
	memset(backend.hva, 0x5a, 128 * MiB);
	ck_assert_int_eq(req(VMEM_REQ_STATE, ADDR, 64, &state), VMEM_RESP_ACK);
	ck_assert_uint_eq(state, VMEM_STATE_PLUGGED);
	ck_assert_int_eq(req(VMEM_REQ_STATE, ADDR, 65, &state), VMEM_RESP_ACK);
	ck_assert_uint_eq(state, VMEM_STATE_MIXED);
	ck_assert_int_eq(req(VMEM_REQ_UNPLUG, ADDR + BLOCK, 63, NULL), VMEM_RESP_ACK);
	ck_assert_int_eq(dels, 0); /* block 0 still plugged: the slot stays */
	ck_assert_uint_eq(backend.hva[BLOCK], 0); /* discarded */
	ck_assert_uint_eq(backend.hva[0], 0x5a);  /* plugged data untouched */
	ck_assert_int_eq(req(VMEM_REQ_UNPLUG, ADDR, 1, NULL), VMEM_RESP_ACK);
	ck_assert_int_eq(dels, 1);
	ck_assert_int_eq(req(VMEM_REQ_STATE, ADDR, 64, &state), VMEM_RESP_ACK);
	ck_assert_uint_eq(state, VMEM_STATE_UNPLUGGED);
	ck_assert_int_eq(req(VMEM_REQ_PLUG, ADDR, 1, NULL), VMEM_RESP_ACK);
	ck_assert_uint_eq(backend.hva[0], 0);
	ck_assert_uint_eq(core.counters.bytes_plugged, 130 * MiB);
	ck_assert_uint_eq(core.counters.bytes_unplugged, 128 * MiB);
}
END_TEST

START_TEST(errors_nacks_and_state)
{
	ck_assert_int_eq(req(VMEM_REQ_PLUG, ADDR + 4096, 1, NULL), VMEM_RESP_ERROR); /* misaligned */
	ck_assert_int_eq(req(VMEM_REQ_PLUG, ADDR, 0, NULL), VMEM_RESP_ERROR);	   /* empty */
	ck_assert_int_eq(req(VMEM_REQ_PLUG, ADDR - BLOCK, 1, NULL), VMEM_RESP_ERROR); /* below */
	/* Past the usable region (768 MiB), though inside the device. */
	ck_assert_int_eq(req(VMEM_REQ_PLUG, ADDR + 768 * MiB, 1, NULL), VMEM_RESP_ERROR);
	ck_assert_int_eq(req(VMEM_REQ_STATE, ADDR + 767 * MiB - MiB, 2, NULL), VMEM_RESP_ERROR);
	/* addr near the top of the address space: no overflow into a "valid" range. */
	ck_assert_int_eq(req(VMEM_REQ_PLUG, UINT64_MAX - BLOCK + 1, 65535, NULL), VMEM_RESP_ERROR);
	ck_assert_int_eq(req(VMEM_REQ_UNPLUG, ADDR, 1, NULL), VMEM_RESP_ERROR); /* not plugged */
	ck_assert_int_eq(req(VMEM_REQ_PLUG, ADDR, 256, NULL), VMEM_RESP_ACK);	 /* 512 MiB */
	ck_assert_int_eq(req(VMEM_REQ_PLUG, ADDR, 1, NULL), VMEM_RESP_NACK);	 /* over requested */
	ck_assert_int_eq(vmem_set_requested(&core, 768 * MiB, &set_err), 1);
	ck_assert_int_eq(req(VMEM_REQ_PLUG, ADDR + 510 * MiB, 2, NULL), VMEM_RESP_ERROR); /* plugged */
	ck_assert_int_eq(req(VMEM_REQ_UNPLUG, ADDR + 510 * MiB, 2, NULL), VMEM_RESP_ERROR); /* mixed */
	ck_assert_int_eq(req(7, ADDR, 1, NULL), VMEM_RESP_ERROR); /* unknown type */
	ck_assert_uint_eq(core.counters.errors, 10);
	ck_assert_uint_eq(core.counters.nacks, 1);
	ck_assert_uint_eq(vmem_plugged_size(&core), 512 * MiB);
}
END_TEST

START_TEST(unplug_all)
{
	ck_assert_int_eq(req(VMEM_REQ_PLUG, ADDR, 64, NULL), VMEM_RESP_ACK);
	ck_assert_int_eq(req(VMEM_REQ_PLUG, ADDR + 256 * MiB, 64, NULL), VMEM_RESP_ACK);
	ck_assert_uint_eq(slots.nr_mapped, 2);
	ck_assert_int_eq(req(VMEM_REQ_UNPLUG_ALL, 0, 0, NULL), VMEM_RESP_ACK);
	ck_assert_uint_eq(vmem_plugged_size(&core), 0);
	ck_assert_uint_eq(slots.nr_mapped, 0);
	ck_assert_uint_eq(core.counters.bytes_unplugged, 256 * MiB);
	ck_assert_int_eq(req(VMEM_REQ_UNPLUG_ALL, 0, 0, NULL), VMEM_RESP_ACK); /* nothing plugged */
	ck_assert_str_eq(ioctls, "+0 +2 -0 -2");
}
END_TEST

/* Unplug: bitmap, memslot out of KVM, host range protected, and only then discarded. */
START_TEST(unplug_removes_and_protects_before_discarding)
{
	ck_assert_int_eq(req(VMEM_REQ_PLUG, ADDR, 2, NULL), VMEM_RESP_ACK);
	ck_assert_int_eq(req(VMEM_REQ_UNPLUG, ADDR + BLOCK, 1, NULL), VMEM_RESP_ACK);
	ck_assert_int_eq(req(VMEM_REQ_UNPLUG, ADDR, 1, NULL), VMEM_RESP_ACK);
	/* Plug: accessible, then into KVM. The first unplug keeps the slot (block 0 is in it), so
	 * its discard sees a read-write range; the second empties it: PROT_NONE (D). */
	ck_assert_str_eq(events, "rw0 +0 d0 -0 none0 D0");
}
END_TEST

/* Pages of [p, p+len) resident in RAM. */
static uint64_t resident_pages(const uint8_t *p, uint64_t len)
{
	static unsigned char vec[2048];
	uint64_t n = 0;

	ck_assert_uint_le(len / 4096, sizeof(vec));
	ck_assert_int_eq(mincore((void *)p, len, vec), 0);
	for (uint64_t i = 0; i < len / 4096; i++)
		n += vec[i] & 1;
	return n;
}

/* QEMU's prealloc=on: a plug is backed before it is ACKed; memory the host cannot back is BUSY. */
START_TEST(prealloc_backs_plugs_or_answers_busy)
{
	core.prealloc = true;
	ck_assert_int_eq(req(VMEM_REQ_PLUG, ADDR, 2, NULL), VMEM_RESP_ACK);
	ck_assert_uint_eq(resident_pages(backend.hva, 2 * BLOCK), 2 * BLOCK / 4096);
	/* A range the host cannot write (here: made read-only) cannot be preallocated. */
	ck_assert_int_eq(mprotect(backend.hva + 2 * BLOCK, BLOCK, PROT_READ), 0);
	ck_assert_int_eq(req(VMEM_REQ_PLUG, ADDR + 2 * BLOCK, 1, NULL), VMEM_RESP_BUSY);
	ck_assert_uint_eq(vmem_plugged_size(&core), 2 * BLOCK);
	ck_assert_int_eq(mprotect(backend.hva + 2 * BLOCK, BLOCK, PROT_READ | PROT_WRITE), 0);
	ck_assert_int_eq(req(VMEM_REQ_PLUG, ADDR + 2 * BLOCK, 1, NULL), VMEM_RESP_ACK);
	core.prealloc = false;
	ck_assert_int_eq(req(VMEM_REQ_PLUG, ADDR + 3 * BLOCK, 1, NULL), VMEM_RESP_ACK);
	ck_assert_uint_eq(resident_pages(backend.hva + 3 * BLOCK, BLOCK), 0); /* not touched */
}
END_TEST

/* A discard that fails leaves the blocks plugged, mapped and intact, and answers BUSY. */
START_TEST(failed_discard_answers_busy_and_keeps_the_blocks)
{
	uint16_t state = 99;

	ck_assert_int_eq(req(VMEM_REQ_PLUG, ADDR, 64, NULL), VMEM_RESP_ACK);
	memset(backend.hva, 0x5a, 128 * MiB);
	fail_discard = true;
	ck_assert_int_eq(req(VMEM_REQ_UNPLUG, ADDR + BLOCK, 1, NULL), VMEM_RESP_BUSY);
	/* The whole slot: it leaves KVM, the discard fails, it comes back. */
	ck_assert_int_eq(req(VMEM_REQ_UNPLUG, ADDR, 64, NULL), VMEM_RESP_BUSY);
	ck_assert_str_eq(events, "rw0 +0 -0 none0 rw0 +0");
	ck_assert_int_eq(req(VMEM_REQ_STATE, ADDR, 64, &state), VMEM_RESP_ACK);
	ck_assert_uint_eq(state, VMEM_STATE_PLUGGED);
	ck_assert_uint_eq(vmem_plugged_size(&core), 128 * MiB);
	ck_assert(memslot_is_mapped(&slots, 0));
	ck_assert_uint_eq(backend.hva[BLOCK], 0x5a);
	ck_assert_uint_eq(backend.hva[128 * MiB - 1], 0x5a);
	ck_assert_uint_eq(core.counters.busy, 2);
	ck_assert_uint_eq(core.counters.bytes_unplugged, 0);
	/* UNPLUG_ALL too; once discards work again the retry succeeds. */
	ck_assert_int_eq(req(VMEM_REQ_UNPLUG_ALL, 0, 0, NULL), VMEM_RESP_BUSY);
	ck_assert_uint_eq(vmem_plugged_size(&core), 128 * MiB);
	ck_assert_uint_eq(core.usable_size, 768 * MiB);
	fail_discard = false;
	ck_assert_int_eq(req(VMEM_REQ_UNPLUG, ADDR + BLOCK, 1, NULL), VMEM_RESP_ACK);
	ck_assert_int_eq(req(VMEM_REQ_UNPLUG_ALL, 0, 0, NULL), VMEM_RESP_ACK);
	ck_assert_uint_eq(vmem_plugged_size(&core), 0);
	ck_assert_uint_eq(backend.hva[0], 0);
}
END_TEST

/* A discard that fails in the second memslot of an UNPLUG: the first slot's blocks are gone. */
START_TEST(discard_failing_midway_keeps_what_was_not_discarded)
{
	uint16_t state = 99;

	ck_assert_int_eq(req(VMEM_REQ_PLUG, ADDR + 126 * MiB, 2, NULL), VMEM_RESP_ACK);
	memset(backend.hva + 126 * MiB, 0x5a, 4 * MiB);
	discards_until_failure = 1; /* slot 0's discard works, slot 1's fails */
	ck_assert_int_eq(req(VMEM_REQ_UNPLUG, ADDR + 126 * MiB, 2, NULL), VMEM_RESP_BUSY);
	ck_assert_int_eq(req(VMEM_REQ_STATE, ADDR + 126 * MiB, 1, &state), VMEM_RESP_ACK);
	ck_assert_uint_eq(state, VMEM_STATE_UNPLUGGED);
	ck_assert_int_eq(req(VMEM_REQ_STATE, ADDR + 128 * MiB, 1, &state), VMEM_RESP_ACK);
	ck_assert_uint_eq(state, VMEM_STATE_PLUGGED);
	ck_assert_uint_eq(backend.hva[128 * MiB], 0x5a); /* not discarded: intact */
	ck_assert_str_eq(ioctls, "+0 +1 -0 -1 +1");	   /* slot 1 back, slot 0 stays out */
	ck_assert_uint_eq(core.counters.bytes_unplugged, BLOCK);
}
END_TEST

/* A PLUG whose second memslot cannot be added answers BUSY and leaves no slot behind. */
START_TEST(failed_memslot_answers_busy_and_maps_nothing)
{
	fail_set_region_in = 2;
	ck_assert_int_eq(req(VMEM_REQ_PLUG, ADDR + 126 * MiB, 2, NULL), VMEM_RESP_BUSY);
	ck_assert_str_eq(ioctls, "+0 -0");
	ck_assert_uint_eq(slots.nr_mapped, 0);
	ck_assert_uint_eq(vmem_plugged_size(&core), 0);
	ck_assert_uint_eq(core.counters.busy, 1);
	ck_assert_int_eq(req(VMEM_REQ_PLUG, ADDR + 126 * MiB, 2, NULL), VMEM_RESP_ACK);
	ck_assert_uint_eq(slots.nr_mapped, 2);
}
END_TEST

/* Exactly which memslots go in and out of KVM, for a sequence of requests. */
START_TEST(memslots_follow_a_plug_unplug_sequence)
{
	ck_assert_int_eq(req(VMEM_REQ_PLUG, ADDR + MiB, 2, NULL), VMEM_RESP_ERROR); /* misaligned: no ioctl */
	ck_assert_int_eq(req(VMEM_REQ_PLUG, ADDR + 126 * MiB, 2, NULL), VMEM_RESP_ACK); /* slots 0+1 */
	ck_assert_int_eq(req(VMEM_REQ_PLUG, ADDR + 300 * MiB, 1, NULL), VMEM_RESP_ACK); /* slot 2 */
	ck_assert_int_eq(req(VMEM_REQ_PLUG, ADDR + 310 * MiB, 1, NULL), VMEM_RESP_ACK); /* slot 2 */
	ck_assert_int_eq(req(VMEM_REQ_UNPLUG, ADDR + 300 * MiB, 1, NULL), VMEM_RESP_ACK);
	ck_assert_int_eq(req(VMEM_REQ_UNPLUG, ADDR + 126 * MiB, 1, NULL), VMEM_RESP_ACK); /* slot 0 empty */
	ck_assert_int_eq(req(VMEM_REQ_UNPLUG, ADDR + 310 * MiB, 1, NULL), VMEM_RESP_ACK); /* slot 2 empty */
	ck_assert_int_eq(req(VMEM_REQ_PLUG, ADDR + 600 * MiB, 1, NULL), VMEM_RESP_ACK); /* slot 4 */
	ck_assert_int_eq(req(VMEM_REQ_UNPLUG_ALL, 0, 0, NULL), VMEM_RESP_ACK);
	ck_assert_str_eq(ioctls, "+0 +1 +2 -0 -2 +4 -1 -4");
	ck_assert_uint_eq(slots.nr_mapped, 0);
}
END_TEST

/* A driver without UNPLUGGED_INACCESSIBLE may read unplugged memory: its slots stay mapped. */
START_TEST(legacy_driver_keeps_usable_slots_mapped)
{
	struct error err;

	ck_assert_int_eq(memslot_map_range(&slots, 0, core.usable_size, &err), 0);
	core.keep_usable_mapped = true;
	ck_assert_int_eq(req(VMEM_REQ_PLUG, ADDR, 64, NULL), VMEM_RESP_ACK);
	memset(backend.hva, 0x5a, 128 * MiB);
	ck_assert_int_eq(req(VMEM_REQ_UNPLUG, ADDR, 64, NULL), VMEM_RESP_ACK);
	ck_assert_str_eq(ioctls, "+0 +1 +2 +3 +4 +5");
	ck_assert_uint_eq(backend.hva[0], 0); /* still discarded: reads zeros */
	/* UNPLUG_ALL shrinks the usable region to 128 + 256 MiB: slots 3-5 leave its reach. */
	ck_assert_int_eq(vmem_set_requested(&core, 128 * MiB, &set_err), 1);
	ck_assert_int_eq(req(VMEM_REQ_UNPLUG_ALL, 0, 0, NULL), VMEM_RESP_ACK);
	ck_assert_uint_eq(core.usable_size, 384 * MiB);
	ck_assert_str_eq(ioctls, "+0 +1 +2 +3 +4 +5 -3 -4 -5");
	/* Growing it again (700 + 256 MiB) maps the slots it reaches now, before the interrupt. */
	ck_assert_int_eq(vmem_set_requested(&core, 700 * MiB, &set_err), 1);
	ck_assert_uint_eq(core.usable_size, 956 * MiB);
	ck_assert_str_eq(ioctls, "+0 +1 +2 +3 +4 +5 -3 -4 -5 +3 +4 +5 +6 +7");
	/* Back to 384 MiB (UNPLUG_ALL), then a growth whose second new slot fails: refused,
	 * nothing changes, the slot it did add leaves again, the old usable slots stay. */
	ck_assert_int_eq(vmem_set_requested(&core, 128 * MiB, &set_err), 1);
	ck_assert_int_eq(req(VMEM_REQ_UNPLUG_ALL, 0, 0, NULL), VMEM_RESP_ACK);
	ioctls[0] = '\0';
	fail_set_region_in = 2;
	ck_assert_int_eq(vmem_set_requested(&core, 700 * MiB, &set_err), -1);
	ck_assert_str_eq(set_err.msg, "growing the usable region: injected "
				      "KVM_SET_USER_MEMORY_REGION failure");
	ck_assert_str_eq(ioctls, "+3 -3");
	ck_assert_uint_eq(core.usable_size, 384 * MiB);
	ck_assert_uint_eq(core.requested_size, 128 * MiB);
	ck_assert(memslot_is_mapped(&slots, 2));
}
END_TEST

/* FEATURES_OK with and without UNPLUGGED_INACCESSIBLE, one after the other (a device reset between). */
START_TEST(features_ok_maps_for_legacy_drivers_and_unmaps_after)
{
	struct error err;

	ck_assert_int_eq(req(VMEM_REQ_PLUG, ADDR, 1, NULL), VMEM_RESP_ACK);
	ck_assert_int_eq(vmem_set_legacy_driver(&core, true, &err), 0);
	ck_assert_str_eq(ioctls, "+0 +1 +2 +3 +4 +5"); /* the 768 MiB usable region */
	ck_assert_int_eq(vmem_set_legacy_driver(&core, false, &err), 0);
	ck_assert_str_eq(ioctls, "+0 +1 +2 +3 +4 +5 -1 -2 -3 -4 -5"); /* slot 0 holds a block */
	/* The third slot cannot be added: refused, and the two it added leave again. */
	fail_set_region_in = 3;
	ck_assert_int_eq(vmem_set_legacy_driver(&core, true, &err), -1);
	ck_assert(!core.keep_usable_mapped);
	ck_assert_str_eq(ioctls, "+0 +1 +2 +3 +4 +5 -1 -2 -3 -4 -5 +1 +2 -1 -2");
	ck_assert_uint_eq(slots.nr_mapped, 1);
}
END_TEST

Suite *suite_main(void)
{
	Suite *s = suite_create("virtio_mem_core");
	TCase *tc = tcase_create("requests");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, usable_region_policy);
	tcase_add_test(tc, plug_write_unplug_replug_reads_zero);
	tcase_add_test(tc, prealloc_backs_plugs_or_answers_busy);
	tcase_add_test(tc, errors_nacks_and_state);
	tcase_add_test(tc, unplug_all);
	tcase_add_test(tc, unplug_removes_and_protects_before_discarding);
	tcase_add_test(tc, failed_discard_answers_busy_and_keeps_the_blocks);
	tcase_add_test(tc, failed_memslot_answers_busy_and_maps_nothing);
	tcase_add_test(tc, discard_failing_midway_keeps_what_was_not_discarded);
	tcase_add_test(tc, memslots_follow_a_plug_unplug_sequence);
	tcase_add_test(tc, legacy_driver_keeps_usable_slots_mapped);
	tcase_add_test(tc, features_ok_maps_for_legacy_drivers_and_unmaps_after);
	suite_add_tcase(s, tc);
	return s;
}
