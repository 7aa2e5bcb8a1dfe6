#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "devices/virtio_mem_core.h"
#include "util/size.h"

#define ADDR (4 * GiB)
#define REGION GiB
#define BLOCK (2 * MiB)

/*
 * Fake KVM for the memslot manager: counts adds and deletes and logs them in ioctls as
 * "+O:S" (a memslot at offset O MiB of the region, S MiB long) and "-O"; "[" and "]" are
 * the vCPUs held out of the guest and let in again. events logs everything in order:
 * those, host protection of parts ("rwN", "noneN") and discards ("dN"/"DN", by the part
 * the range starts in). fail_set_region_in fails the Nth next ioctl (1 = the next one);
 * fail_discard fails discards.
 */
static int adds, dels, fail_set_region_in;
static bool fail_discard;
static int discards_until_failure; /* > 0: that many discards work, then fail_discard is set */
static char ioctls[1024], events[2048];

static void log_to(char *log, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void log_to(char *log, size_t size, const char *fmt, ...)
{
	size_t used = strlen(log);
	va_list ap;

	snprintf(log + used, size - used, used ? " " : "");
	used = strlen(log);
	va_start(ap, fmt);
	vsnprintf(log + used, size - used, fmt, ap);
	va_end(ap);
}

static void log_both(const char *fmt, unsigned long long a, unsigned long long b)
{
	char one[64];

	snprintf(one, sizeof(one), fmt, a, b);
	log_to(ioctls, sizeof(ioctls), "%s", one);
	log_to(events, sizeof(events), "%s", one);
}

static int fake_set_region(void *opaque, uint32_t id, uint64_t gpa, uint64_t size, void *hva,
			   struct error *err)
{
	(void)opaque, (void)id, (void)hva;
	if (fail_set_region_in && --fail_set_region_in == 0)
		return error_set(err, "injected KVM_SET_USER_MEMORY_REGION failure");
	if (size)
		adds++;
	else
		dels++;
	if (size)
		log_both("+%llu:%llu", (gpa - ADDR) >> 20, size >> 20);
	else
		log_both("-%llu%.0llu", (gpa - ADDR) >> 20, 0);
	return 0;
}

static int fake_protect(void *opaque, void *hva, uint64_t size, bool accessible, struct error *err)
{
	(void)opaque, (void)size, (void)err;
	log_to(events, sizeof(events), accessible ? "rw%llu" : "none%llu",
	       (unsigned long long)((uintptr_t)hva / (128 * MiB)));
	return 0;
}

static void fake_pause(void *opaque, bool pause)
{
	(void)opaque;
	log_both(pause ? "[%.0llu%.0llu" : "]%.0llu%.0llu", 0, 0);
}

static const struct memslot_ops fake_ops = { fake_set_region, fake_protect, fake_pause };

static struct slot_id_pool pool;
static struct memslot_region slots;
static struct memory_backend backend;
static void *region_mapping; /* backend.hva lies in it, block-aligned */
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
	/* 8 parts, and room for 4 memslots beyond one per part (holes). */
	ck_assert_int_eq(memslot_region_init(&slots, ADDR, REGION, NULL, 128 * MiB, 8 + 4, &pool,
					     &fake_ops, NULL, &err), 0);
	backend = (struct memory_backend){ .ops = &anon_ops, .size = REGION, .fd = -1,
					   .page_size = 4096, .type_name = "fake" };
	/* Block-aligned, as tide's backends are huge-page aligned: where THP is "always", a
	 * huge page would otherwise straddle two blocks. */
	region_mapping = mmap(NULL, REGION + BLOCK, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ck_assert_ptr_ne(region_mapping, MAP_FAILED);
	backend.hva = (uint8_t *)(((uintptr_t)region_mapping + BLOCK - 1) & ~(uintptr_t)(BLOCK - 1));
	/* The fake KVM hands slots an hva of NULL; the backend is what holds the memory. */
	ck_assert_int_eq(vmem_core_init(&core, ADDR, REGION, BLOCK, 512 * MiB, &slots, &backend,
					&err), 0);
}

static void teardown(void)
{
	vmem_core_destroy(&core);
	memslot_region_destroy(&slots);
	munmap(region_mapping, REGION + BLOCK);
	slot_id_pool_free(&pool);
}

static struct vmem_result last; /* what the last req() returned */

static enum vmem_resp_type req(uint16_t type, uint64_t addr, uint16_t nb, uint16_t *state)
{
	struct vmem_req r = { type, addr, nb };

	last = vmem_handle(&core, &r);
	if (state)
		*state = last.state;
	return last.resp;
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
	ck_assert(!last.plugged_size_changed && last.usable_size_changed);
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
	ck_assert(last.plugged_size_changed && !last.usable_size_changed);
	/* Block 0 is still plugged: its memslot shrinks to it, swapped with the vCPUs out. */
	ck_assert_str_eq(ioctls, "+0:128 [ -0 +0:2 ]");
	ck_assert_uint_eq(backend.hva[BLOCK], 0); /* discarded */
	ck_assert_uint_eq(backend.hva[0], 0x5a);  /* plugged data untouched */
	ck_assert_int_eq(req(VMEM_REQ_UNPLUG, ADDR, 1, NULL), VMEM_RESP_ACK);
	ck_assert_int_eq(dels, 2);
	ck_assert_int_eq(req(VMEM_REQ_STATE, ADDR, 64, &state), VMEM_RESP_ACK);
	ck_assert_uint_eq(state, VMEM_STATE_UNPLUGGED);
	ck_assert(!last.plugged_size_changed && !last.usable_size_changed);
	ck_assert_int_eq(req(VMEM_REQ_PLUG, ADDR, 1, NULL), VMEM_RESP_ACK);
	ck_assert_uint_eq(backend.hva[0], 0);
	ck_assert_str_eq(ioctls, "+0:128 [ -0 +0:2 ] -0 +0:2");
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
	ck_assert_uint_eq(slots.nr_slots, 2);
	ck_assert_int_eq(req(VMEM_REQ_UNPLUG_ALL, 0, 0, NULL), VMEM_RESP_ACK);
	ck_assert(last.plugged_size_changed && !last.usable_size_changed);
	ck_assert_uint_eq(vmem_plugged_size(&core), 0);
	ck_assert_uint_eq(slots.nr_slots, 0);
	ck_assert_uint_eq(core.counters.bytes_unplugged, 256 * MiB);
	ck_assert_int_eq(req(VMEM_REQ_UNPLUG_ALL, 0, 0, NULL), VMEM_RESP_ACK); /* nothing plugged */
	ck_assert_str_eq(ioctls, "+0:128 +256:128 -0 -256");
}
END_TEST

/* Unplug: bitmap, memslot out of KVM, host range protected, and only then discarded. */
START_TEST(unplug_removes_and_protects_before_discarding)
{
	ck_assert_int_eq(req(VMEM_REQ_PLUG, ADDR, 2, NULL), VMEM_RESP_ACK);
	ck_assert_int_eq(req(VMEM_REQ_UNPLUG, ADDR + BLOCK, 1, NULL), VMEM_RESP_ACK);
	ck_assert_int_eq(req(VMEM_REQ_UNPLUG, ADDR, 1, NULL), VMEM_RESP_ACK);
	/* Plug: accessible, then into KVM. The first unplug shrinks the memslot to block 0, so
	 * its discard sees a read-write part; the second empties the part: PROT_NONE (D). */
	ck_assert_str_eq(events, "rw0 +0:4 [ -0 +0:2 ] d0 -0 none0 D0");
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

/* The device's state lock, as the core sees it: U when let go, L when taken again. */
static bool state_locked;

static void hook_unlock(void *opaque)
{
	(void)opaque;
	ck_assert(state_locked);
	state_locked = false;
	log_to(events, sizeof(events), "U");
}

static void hook_relock(void *opaque)
{
	(void)opaque;
	ck_assert(!state_locked);
	state_locked = true;
	log_to(events, sizeof(events), "L");
}

/*
 * Prealloc and discards run with the state lock let go (QMP and vCPUs go on meanwhile),
 * after the bitmap and memslots changed under it: a plug is mapped before it is backed, an
 * unplug unmapped and protected before it is discarded.
 */
START_TEST(long_host_work_runs_without_the_state_lock)
{
	core.unlock = hook_unlock;
	core.relock = hook_relock;
	state_locked = true;
	core.prealloc = true;
	ck_assert_int_eq(req(VMEM_REQ_PLUG, ADDR, 2, NULL), VMEM_RESP_ACK);
	ck_assert_str_eq(events, "rw0 +0:4 U L");
	ck_assert_uint_eq(resident_pages(backend.hva, 2 * BLOCK), 2 * BLOCK / 4096);
	events[0] = '\0';
	ck_assert_int_eq(req(VMEM_REQ_UNPLUG, ADDR, 2, NULL), VMEM_RESP_ACK);
	ck_assert_str_eq(events, "-0 none0 U D0 L");
	events[0] = '\0';
	ck_assert_int_eq(req(VMEM_REQ_STATE, ADDR, 2, NULL), VMEM_RESP_ACK);
	ck_assert_str_eq(events, ""); /* quick requests keep it */
	ck_assert(state_locked);
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
	/* The whole part: it leaves KVM, the discard fails, it comes back. */
	ck_assert_int_eq(req(VMEM_REQ_UNPLUG, ADDR, 64, NULL), VMEM_RESP_BUSY);
	ck_assert_str_eq(events, "rw0 +0:128 [ -0 +0:2 +4:124 ] [ -0 -4 +0:128 ] "
				 "-0 none0 rw0 +0:128");
	ck_assert_int_eq(req(VMEM_REQ_STATE, ADDR, 64, &state), VMEM_RESP_ACK);
	ck_assert_uint_eq(state, VMEM_STATE_PLUGGED);
	ck_assert_uint_eq(vmem_plugged_size(&core), 128 * MiB);
	ck_assert(memslot_covers(&slots, 0, 128 * MiB));
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
	ck_assert_str_eq(ioctls, "+126:2 +128:2 -126 -128 +128:2"); /* part 1's back */
	ck_assert_uint_eq(core.counters.bytes_unplugged, BLOCK);
}
END_TEST

/* A PLUG whose second memslot cannot be added answers BUSY and leaves no slot behind. */
START_TEST(failed_memslot_answers_busy_and_maps_nothing)
{
	fail_set_region_in = 2;
	ck_assert_int_eq(req(VMEM_REQ_PLUG, ADDR + 126 * MiB, 2, NULL), VMEM_RESP_BUSY);
	/* Taken back with the vCPUs held: a failed step never lets them run half-way. */
	ck_assert_str_eq(ioctls, "+126:2 [ -126 ]");
	ck_assert_uint_eq(slots.nr_slots, 0);
	ck_assert_uint_eq(vmem_plugged_size(&core), 0);
	ck_assert_uint_eq(core.counters.busy, 1);
	ck_assert_uint_eq(core.counters.busy_memslot_budget, 0);
	ck_assert_int_eq(req(VMEM_REQ_PLUG, ADDR + 126 * MiB, 2, NULL), VMEM_RESP_ACK);
	ck_assert_uint_eq(slots.nr_slots, 2);
}
END_TEST

/* Exactly which memslots go in and out of KVM, for a sequence of requests. */
START_TEST(memslots_follow_a_plug_unplug_sequence)
{
	ck_assert_int_eq(req(VMEM_REQ_PLUG, ADDR + MiB, 2, NULL), VMEM_RESP_ERROR); /* misaligned: no ioctl */
	ck_assert_int_eq(req(VMEM_REQ_PLUG, ADDR + 126 * MiB, 2, NULL), VMEM_RESP_ACK); /* parts 0+1 */
	ck_assert_int_eq(req(VMEM_REQ_PLUG, ADDR + 300 * MiB, 1, NULL), VMEM_RESP_ACK); /* part 2 */
	ck_assert_int_eq(req(VMEM_REQ_PLUG, ADDR + 310 * MiB, 1, NULL), VMEM_RESP_ACK); /* a 2nd run */
	ck_assert_int_eq(req(VMEM_REQ_UNPLUG, ADDR + 300 * MiB, 1, NULL), VMEM_RESP_ACK);
	ck_assert_int_eq(req(VMEM_REQ_UNPLUG, ADDR + 126 * MiB, 1, NULL), VMEM_RESP_ACK);
	ck_assert_int_eq(req(VMEM_REQ_UNPLUG, ADDR + 310 * MiB, 1, NULL), VMEM_RESP_ACK);
	ck_assert_int_eq(req(VMEM_REQ_PLUG, ADDR + 600 * MiB, 1, NULL), VMEM_RESP_ACK); /* part 4 */
	ck_assert_int_eq(req(VMEM_REQ_UNPLUG_ALL, 0, 0, NULL), VMEM_RESP_ACK);
	/* A memslot holding no plugged block goes without holding the vCPUs out. */
	ck_assert_str_eq(ioctls, "+126:2 +128:2 +300:2 +310:2 -300 -126 -310 +600:2 -128 -600");
	ck_assert_uint_eq(slots.nr_slots, 0);
}
END_TEST

/* Runs grow and merge (plug) and split (unplug); a memslot covering plugged blocks is only
 * swapped with the vCPUs held out, and every run has exactly one memslot. */
START_TEST(memslots_are_the_runs_of_plugged_blocks)
{
	ck_assert_int_eq(req(VMEM_REQ_PLUG, ADDR, 2, NULL), VMEM_RESP_ACK);
	ck_assert_int_eq(req(VMEM_REQ_PLUG, ADDR + 8 * MiB, 2, NULL), VMEM_RESP_ACK);
	ck_assert_int_eq(req(VMEM_REQ_PLUG, ADDR + 4 * MiB, 2, NULL), VMEM_RESP_ACK); /* joins */
	ck_assert_str_eq(ioctls, "+0:4 +8:4 [ -0 -8 +0:12 ]");
	ck_assert_uint_eq(slots.nr_slots, 1);
	ioctls[0] = '\0';
	ck_assert_int_eq(req(VMEM_REQ_UNPLUG, ADDR + 4 * MiB, 1, NULL), VMEM_RESP_ACK); /* splits */
	ck_assert_str_eq(ioctls, "[ -0 +0:4 +6:6 ]");
	ck_assert_uint_eq(slots.nr_slots, 2);
	ck_assert_uint_eq(slots.counters.guest_pauses, 2);
	/* Only plugged blocks are in KVM. */
	ck_assert(memslot_covers(&slots, 0, 4 * MiB));
	ck_assert(!memslot_covers(&slots, 4 * MiB, 4096));
	ck_assert(memslot_covers(&slots, 6 * MiB, 6 * MiB));
	ck_assert(!memslot_covers(&slots, 12 * MiB, 4096));
}
END_TEST

/*
 * The memory bound's other half: the memslots a guest can make tide hold. Beyond one per
 * part, the region has 4 for holes here; a request that would need a fifth gets BUSY and
 * changes nothing. A plug or unplug that needs no more memslots still works.
 */
START_TEST(fragmenting_beyond_the_memslot_budget_answers_busy)
{
	/* Part 0: blocks 0, 2, 4, 6, 8: five runs, four holes. */
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(req(VMEM_REQ_PLUG, ADDR + i * 2 * BLOCK, 1, NULL), VMEM_RESP_ACK);
	ck_assert_uint_eq(slots.nr_slots, 5);
	adds = dels = 0;
	ck_assert_int_eq(req(VMEM_REQ_PLUG, ADDR + 10 * BLOCK, 1, NULL), VMEM_RESP_BUSY);
	ck_assert_int_eq(adds + dels, 0);
	ck_assert_uint_eq(vmem_plugged_size(&core), 5 * BLOCK);
	ck_assert_uint_eq(core.counters.busy_memslot_budget, 1);
	/* The first run of another part draws on no budget; joining runs gives some back. */
	ck_assert_int_eq(req(VMEM_REQ_PLUG, ADDR + 128 * MiB, 1, NULL), VMEM_RESP_ACK);
	ck_assert_int_eq(req(VMEM_REQ_PLUG, ADDR + BLOCK, 1, NULL), VMEM_RESP_ACK);
	ck_assert_uint_eq(slots.nr_slots, 5);
	/* Unplugging the middle of a run would split it: at the budget, BUSY. */
	ck_assert_int_eq(req(VMEM_REQ_PLUG, ADDR + 10 * BLOCK, 1, NULL), VMEM_RESP_ACK);
	ck_assert_int_eq(req(VMEM_REQ_UNPLUG, ADDR + BLOCK, 1, NULL), VMEM_RESP_BUSY);
	ck_assert_uint_eq(core.counters.busy_memslot_budget, 2);
	ck_assert(memslot_covers(&slots, 0, 3 * BLOCK));
	/* Unplugging a whole run frees one; UNPLUG_ALL needs none. */
	ck_assert_int_eq(req(VMEM_REQ_UNPLUG, ADDR + 10 * BLOCK, 1, NULL), VMEM_RESP_ACK);
	ck_assert_int_eq(req(VMEM_REQ_UNPLUG, ADDR + BLOCK, 1, NULL), VMEM_RESP_ACK);
	ck_assert_int_eq(req(VMEM_REQ_UNPLUG_ALL, 0, 0, NULL), VMEM_RESP_ACK);
	ck_assert_uint_eq(slots.nr_slots, 0);
}
END_TEST

static uint64_t access(uint64_t offset, bool is_write, uint64_t value)
{
	uint8_t data[8];

	memcpy(data, &value, sizeof(data));
	ck_assert(vmem_guest_access(&core, offset, data, 8, is_write));
	memcpy(&value, data, sizeof(data));
	return value;
}

/*
 * A vCPU touching an unplugged block (an MMIO exit): reads give all ones (nothing there),
 * or zeros for a driver that may read unplugged memory inside the usable region; writes
 * are dropped and take no host memory. Both are counted.
 */
START_TEST(guest_access_to_unplugged_blocks_is_answered_and_dropped)
{
	ck_assert_uint_eq(access(4 * MiB, false, 0), UINT64_MAX);
	ck_assert_uint_eq(access(4 * MiB, true, 0x1122334455667788ULL), 0x1122334455667788ULL);
	ck_assert_uint_eq(resident_pages(backend.hva + 4 * MiB, 4096), 0);
	ck_assert_uint_eq(access(4 * MiB, false, 0), UINT64_MAX);
	core.unplugged_readable = true;
	ck_assert_uint_eq(access(4 * MiB, false, 7), 0);
	ck_assert_uint_eq(access(800 * MiB, false, 7), UINT64_MAX); /* past the usable region */
	ck_assert_uint_eq(core.counters.unplugged_reads, 4);
	ck_assert_uint_eq(core.counters.unplugged_writes, 1);
	ck_assert_uint_eq(resident_pages(backend.hva + 4 * MiB, 4096), 0);
	/* A plugged block (the vCPU raced a memslot swap) is memory. */
	ck_assert_int_eq(req(VMEM_REQ_PLUG, ADDR, 1, NULL), VMEM_RESP_ACK);
	access(8, true, 42);
	ck_assert_uint_eq(access(8, false, 0), 42);
	ck_assert_uint_eq(*(uint64_t *)(backend.hva + 8), 42);
	ck_assert_uint_eq(core.counters.unplugged_writes, 1);
	/* Plugged memory whose part the host cannot reach (PROT_NONE) stops the VM, not lost. */
	slots.part_accessible[0] = false;
	{
		uint8_t data[8] = { 0 };

		ck_assert(!vmem_guest_access(&core, 8, data, 8, true));
	}
	slots.part_accessible[0] = true;
	/* Straddling into an unplugged block is an unplugged access. */
	core.unplugged_readable = false;
	ck_assert_uint_eq(access(BLOCK - 4, false, 0), UINT64_MAX);
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
	tcase_add_test(tc, long_host_work_runs_without_the_state_lock);
	tcase_add_test(tc, errors_nacks_and_state);
	tcase_add_test(tc, unplug_all);
	tcase_add_test(tc, unplug_removes_and_protects_before_discarding);
	tcase_add_test(tc, failed_discard_answers_busy_and_keeps_the_blocks);
	tcase_add_test(tc, failed_memslot_answers_busy_and_maps_nothing);
	tcase_add_test(tc, discard_failing_midway_keeps_what_was_not_discarded);
	tcase_add_test(tc, memslots_follow_a_plug_unplug_sequence);
	tcase_add_test(tc, memslots_are_the_runs_of_plugged_blocks);
	tcase_add_test(tc, fragmenting_beyond_the_memslot_budget_answers_busy);
	tcase_add_test(tc, guest_access_to_unplugged_blocks_is_answered_and_dropped);
	suite_add_tcase(s, tc);
	return s;
}
