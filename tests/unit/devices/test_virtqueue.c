#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "devices/virtqueue.h"

/* 64 KiB of "guest RAM" at GPA 0x10000: rings at fixed places, data buffers above. */
#define RAM_GPA 0x10000ULL
#define RAM_SIZE 0x10000ULL
#define DESC 0x10000ULL
#define AVAIL 0x11000ULL
#define USED 0x12000ULL
#define TABLE 0x13000ULL
#define DATA 0x14000ULL
#define QSIZE 8

static uint8_t *ram;
static struct guest_mem mem;
static struct virtqueue vq;

static void *at(uint64_t gpa)
{
	return ram + (gpa - RAM_GPA);
}

static void set_desc(uint64_t table, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	struct virtq_desc d = { addr, len, flags, next };

	memcpy((uint8_t *)at(table) + 16 * i, &d, sizeof(d));
}

static void offer(uint16_t head)
{
	uint16_t *avail = at(AVAIL);
	uint16_t idx = avail[1];

	avail[2 + idx % QSIZE] = head;
	avail[1] = (uint16_t)(idx + 1);
}

static void setup(void)
{
	struct error err;

	ram = calloc(1, RAM_SIZE);
	memset(&mem, 0, sizeof(mem));
	ck_assert_int_eq(guest_mem_add(&mem, RAM_GPA, RAM_SIZE, ram, &err), 0);
	ck_assert_int_eq(virtqueue_enable(&vq, &mem, QSIZE, DESC, AVAIL, USED, true, &err), 0);
}

static void teardown(void)
{
	free(ram);
}

static const char *pop_error(void)
{
	static struct error err;
	struct virtq_chain c;

	err.msg[0] = '\0';
	ck_assert_int_eq(virtqueue_pop(&vq, &c, &err), -1);
	ck_assert(vq.broken);
	return err.msg;
}

START_TEST(request_and_response)
{
	struct virtq_chain c;
	struct error err;
	uint8_t *used = at(USED);
	uint32_t id, len;

	ck_assert_int_eq(virtqueue_pop(&vq, &c, &err), 0); /* empty */
	set_desc(DESC, 3, DATA, 24, VIRTQ_DESC_F_NEXT, 5);
	set_desc(DESC, 5, DATA + 0x100, 10, VIRTQ_DESC_F_WRITE, 0);
	offer(3);
	ck_assert_int_eq(virtqueue_pop(&vq, &c, &err), 1);
	ck_assert_uint_eq(c.head, 3);
	ck_assert_uint_eq(c.nr_out, 1);
	ck_assert_uint_eq(c.nr_in, 1);
	ck_assert_uint_eq(c.bufs[0].gpa, DATA);
	ck_assert_uint_eq(c.bufs[0].len, 24);
	ck_assert_uint_eq(c.bufs[1].gpa, DATA + 0x100);
	ck_assert_int_eq(virtqueue_pop(&vq, &c, &err), 0);
	ck_assert_int_eq(virtqueue_push(&vq, 3, 10, &err), 0);
	memcpy(&id, used + 4, 4);
	memcpy(&len, used + 8, 4);
	ck_assert_uint_eq(id, 3);
	ck_assert_uint_eq(len, 10);
	ck_assert_uint_eq(((uint16_t *)used)[1], 1);
}
END_TEST

START_TEST(indirect_table)
{
	struct virtq_chain c;
	struct error err;

	set_desc(TABLE, 0, DATA, 24, VIRTQ_DESC_F_NEXT, 2);
	set_desc(TABLE, 2, DATA + 0x40, 8, VIRTQ_DESC_F_WRITE, 0);
	set_desc(DESC, 0, TABLE, 3 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	offer(0);
	ck_assert_int_eq(virtqueue_pop(&vq, &c, &err), 1);
	ck_assert_uint_eq(c.nr_out, 1);
	ck_assert_uint_eq(c.nr_in, 1);
	ck_assert_uint_eq(c.bufs[1].gpa, DATA + 0x40);
}
END_TEST

/* The spec's device requirement: zero or more direct descriptors, then one indirect. */
START_TEST(direct_descriptors_then_an_indirect_table)
{
	struct virtq_chain c;
	struct error err;

	set_desc(TABLE, 0, DATA + 0x40, 8, VIRTQ_DESC_F_WRITE, 0);
	set_desc(DESC, 0, DATA, 24, VIRTQ_DESC_F_NEXT, 1);
	set_desc(DESC, 1, TABLE, 16, VIRTQ_DESC_F_INDIRECT, 0);
	offer(0);
	ck_assert_int_eq(virtqueue_pop(&vq, &c, &err), 1);
	ck_assert_uint_eq(c.nr_out, 1);
	ck_assert_uint_eq(c.nr_in, 1);
	ck_assert_uint_eq(c.bufs[0].gpa, DATA);
	ck_assert_uint_eq(c.bufs[1].gpa, DATA + 0x40);
}
END_TEST

START_TEST(read_and_write_through_the_chain)
{
	struct virtq_chain c;
	struct error err;
	uint8_t in[32], out[12] = "0123456789a";

	memset(at(DATA), 0x11, 8);
	memset(at(DATA + 0x20), 0x22, 16);
	/* 8 + 16 readable bytes in two buffers, then 4 + 0 + 16 writable ones. */
	set_desc(DESC, 0, DATA, 8, VIRTQ_DESC_F_NEXT, 1);
	set_desc(DESC, 1, DATA + 0x20, 16, VIRTQ_DESC_F_NEXT, 2);
	set_desc(DESC, 2, DATA + 0x100, 4, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 3);
	/* A zero-length buffer may point anywhere: nothing is accessed there. */
	set_desc(DESC, 3, 0xdead0000, 0, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 4);
	set_desc(DESC, 4, DATA + 0x200, 16, VIRTQ_DESC_F_WRITE, 0);
	offer(0);
	ck_assert_int_eq(virtqueue_pop(&vq, &c, &err), 1);
	memset(in, 0, sizeof(in));
	ck_assert_uint_eq(virtqueue_read(&vq, &c, in, 12), 24);
	ck_assert_uint_eq(in[7], 0x11);
	ck_assert_uint_eq(in[8], 0x22);
	ck_assert_uint_eq(in[12], 0); /* only the 12 bytes asked for */
	ck_assert_uint_eq(virtqueue_writable_room(&c), 20);
	ck_assert_int_eq(virtqueue_write(&vq, &c, out, sizeof(out), &err), 0);
	ck_assert_int_eq(memcmp(at(DATA + 0x100), "0123", 4), 0);
	ck_assert_int_eq(memcmp(at(DATA + 0x200), "456789a", 8), 0);
}
END_TEST

START_TEST(malformed_chains_break_the_queue)
{
	struct virtq_chain c;
	struct error err;

	/* A loop. */
	set_desc(DESC, 0, DATA, 8, VIRTQ_DESC_F_NEXT, 1);
	set_desc(DESC, 1, DATA, 8, VIRTQ_DESC_F_NEXT, 0);
	offer(0);
	ck_assert_str_eq(pop_error(), "virtqueue: loop in descriptor chain (0)");
	ck_assert_int_eq(virtqueue_pop(&vq, &c, &err), -1); /* stays broken */
}
END_TEST

#define BROKEN_CASE(name, expected, ...)                                                           \
	START_TEST(name)                                                                           \
	{                                                                                          \
		__VA_ARGS__;                                                                       \
		ck_assert_str_eq(pop_error(), expected);                                           \
	}                                                                                          \
	END_TEST

BROKEN_CASE(next_out_of_range, "virtqueue: next out of range (8)",
	    set_desc(DESC, 0, DATA, 8, VIRTQ_DESC_F_NEXT, QSIZE); offer(0))
BROKEN_CASE(head_out_of_range, "virtqueue: head out of range (9)", offer(9))
BROKEN_CASE(buffer_outside_ram, "virtqueue: buffer outside guest RAM in chain (0)",
	    set_desc(DESC, 0, RAM_GPA + RAM_SIZE - 4, 8, 0, 0); offer(0))
BROKEN_CASE(length_overflow, "virtqueue: buffer outside guest RAM in chain (0)",
	    set_desc(DESC, 0, UINT64_MAX - 2, 16, 0, 0); offer(0))
BROKEN_CASE(readable_after_writable, "virtqueue: readable buffer after a writable one (0)",
	    set_desc(DESC, 0, DATA, 8, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	    set_desc(DESC, 1, DATA, 8, 0, 0); offer(0))
BROKEN_CASE(avail_index_jump, "virtqueue: available index moved by more than the queue size (9)",
	    ((uint16_t *)at(AVAIL))[1] = QSIZE + 1)
BROKEN_CASE(indirect_with_next, "virtqueue: indirect descriptor with NEXT set (0)",
	    set_desc(DESC, 0, TABLE, 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 1); offer(0))
BROKEN_CASE(indirect_bad_length, "virtqueue: bad indirect table length (20)",
	    set_desc(DESC, 0, TABLE, 20, VIRTQ_DESC_F_INDIRECT, 0); offer(0))
BROKEN_CASE(nested_indirect, "virtqueue: nested indirect table (0)",
	    set_desc(TABLE, 0, TABLE, 16, VIRTQ_DESC_F_INDIRECT, 0);
	    set_desc(DESC, 0, TABLE, 16, VIRTQ_DESC_F_INDIRECT, 0); offer(0))
BROKEN_CASE(indirect_loop, "virtqueue: loop in indirect table (0)",
	    set_desc(TABLE, 0, DATA, 8, VIRTQ_DESC_F_NEXT, 1);
	    set_desc(TABLE, 1, DATA, 8, VIRTQ_DESC_F_NEXT, 0);
	    set_desc(DESC, 0, TABLE, 32, VIRTQ_DESC_F_INDIRECT, 0); offer(0))
BROKEN_CASE(indirect_after_a_direct_one_with_next, "virtqueue: indirect descriptor with NEXT set (0)",
	    set_desc(DESC, 0, DATA, 8, VIRTQ_DESC_F_NEXT, 1);
	    set_desc(DESC, 1, TABLE, 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 2); offer(0))
BROKEN_CASE(zero_length_indirect_table_far_away, "virtqueue: bad indirect table length (0)",
	    set_desc(DESC, 0, 0xdead0000, 0, VIRTQ_DESC_F_INDIRECT, 0); offer(0))

BROKEN_CASE(indirect_zero_length, "virtqueue: bad indirect table length (0)",
	    set_desc(DESC, 0, TABLE, 0, VIRTQ_DESC_F_INDIRECT, 0); offer(0))
BROKEN_CASE(indirect_table_outside_ram, "virtqueue: indirect table outside guest RAM (0)",
	    set_desc(DESC, 0, RAM_GPA + RAM_SIZE - 16, 32, VIRTQ_DESC_F_INDIRECT, 0); offer(0))
BROKEN_CASE(indirect_next_out_of_range, "virtqueue: indirect next out of range (2)",
	    set_desc(TABLE, 0, DATA, 8, VIRTQ_DESC_F_NEXT, 2);
	    set_desc(DESC, 0, TABLE, 32, VIRTQ_DESC_F_INDIRECT, 0); offer(0))

/* An indirect table may hold more buffers than the device takes in one chain. */
START_TEST(chain_longer_than_the_device_accepts)
{
	for (unsigned i = 0; i <= VIRTQ_MAX_CHAIN; i++)
		set_desc(TABLE, i, DATA, 8, VIRTQ_DESC_F_NEXT, (uint16_t)(i + 1));
	set_desc(TABLE, VIRTQ_MAX_CHAIN, DATA, 8, 0, 0);
	set_desc(DESC, 0, TABLE, (VIRTQ_MAX_CHAIN + 1) * 16, VIRTQ_DESC_F_INDIRECT, 0);
	offer(0);
	ck_assert_str_eq(pop_error(), "virtqueue: chain longer than the device accepts (64)");
}
END_TEST

START_TEST(indirect_needs_the_feature)
{
	struct error err;

	ck_assert_int_eq(virtqueue_enable(&vq, &mem, QSIZE, DESC, AVAIL, USED, false, &err), 0);
	set_desc(DESC, 0, TABLE, 16, VIRTQ_DESC_F_INDIRECT, 0);
	offer(0);
	ck_assert_str_eq(pop_error(),
			 "virtqueue: indirect descriptor without VIRTIO_F_INDIRECT_DESC (0)");
}
END_TEST

START_TEST(enable_checks_the_rings)
{
	struct error err = { "" };

	ck_assert_int_eq(virtqueue_enable(&vq, &mem, 6, DESC, AVAIL, USED, true, &err), -1);
	ck_assert_str_eq(err.msg, "queue size 6 is not a power of two");
	ck_assert_int_eq(virtqueue_enable(&vq, &mem, 0, DESC, AVAIL, USED, true, &err), -1);
	ck_assert_int_eq(virtqueue_enable(&vq, &mem, QSIZE, DESC + 8, AVAIL, USED, true, &err), -1);
	ck_assert_str_eq(err.msg, "queue rings are misaligned");
	ck_assert_int_eq(virtqueue_enable(&vq, &mem, 8192, DESC, AVAIL, USED, true, &err), -1);
	ck_assert_str_eq(err.msg, "queue rings are not in guest RAM");
	ck_assert_int_eq(virtqueue_enable(&vq, &mem, QSIZE, 0x1000, AVAIL, USED, true, &err), -1);
}
END_TEST

/* A second "RAM" region that comes and goes, like a virtio-mem device's (its first 4 KiB
 * pages are the blocks; plugged[] says which are plugged). */
#define HOT_GPA 0x100000ULL
#define HOT_SIZE 0x4000ULL
static uint8_t hot[HOT_SIZE];
static bool plugged[HOT_SIZE / 0x1000];

static bool hot_usable(void *opaque, uint64_t offset, uint64_t len)
{
	ck_assert_ptr_eq(opaque, hot);
	for (uint64_t b = offset / 0x1000; b <= (offset + len - 1) / 0x1000; b++)
		if (!plugged[b])
			return false;
	return true;
}

START_TEST(hotplugged_memory_is_ram_while_plugged)
{
	struct virtq_chain c;
	struct error err;
	uint16_t *avail = (uint16_t *)(hot + 0x1000);
	struct virtq_desc d = { HOT_GPA + 0x2000, 8, VIRTQ_DESC_F_WRITE, 0 };

	ck_assert_int_eq(guest_mem_add_hotplug(&mem, HOT_GPA, HOT_SIZE, hot, hot_usable, hot, &err),
			 0);
	memset(plugged, 0, sizeof(plugged));
	/* Rings in the hotplugged region: desc at +0, avail at +0x1000, used at +0x3000. */
	ck_assert(guest_mem_covers(&mem, HOT_GPA, HOT_SIZE));
	ck_assert(!guest_mem_in_boot_ram(&mem, HOT_GPA, 8));
	ck_assert_ptr_null(guest_mem_ptr(&mem, HOT_GPA, 8)); /* unplugged: not RAM */
	ck_assert_int_eq(virtqueue_enable(&vq, &mem, QSIZE, HOT_GPA, HOT_GPA + 0x1000,
					  HOT_GPA + 0x3000, false, &err), 0);
	memcpy(hot, &d, sizeof(d));
	avail[2] = 0;
	avail[1] = 1;
	memset(plugged, 1, sizeof(plugged));
	ck_assert_ptr_eq(guest_mem_ptr(&mem, HOT_GPA + 8, 8), hot + 8);
	ck_assert_int_eq(virtqueue_pop(&vq, &c, &err), 1);
	ck_assert_int_eq(virtqueue_write(&vq, &c, "answer", 7, &err), 0);
	ck_assert_str_eq((char *)hot + 0x2000, "answer");
	ck_assert_int_eq(virtqueue_push(&vq, c.head, 7, &err), 0);
	/* The same request again, its answer's block unplugged by the request itself. */
	avail[3] = 0;
	avail[1] = 2;
	ck_assert_int_eq(virtqueue_pop(&vq, &c, &err), 1);
	plugged[2] = false;
	ck_assert_int_eq(virtqueue_write(&vq, &c, "answer", 7, &err), -1);
	ck_assert(vq.broken);
	/* And with the used ring gone. */
	plugged[2] = true;
	ck_assert_int_eq(virtqueue_enable(&vq, &mem, QSIZE, HOT_GPA, HOT_GPA + 0x1000,
					  HOT_GPA + 0x3000, false, &err), 0);
	avail[1] = 3;
	vq.last_avail = 2;
	ck_assert_int_eq(virtqueue_pop(&vq, &c, &err), 1);
	plugged[3] = false;
	ck_assert_int_eq(virtqueue_push(&vq, c.head, 0, &err), -1);
	ck_assert_str_eq(err.msg, "virtqueue: the queue's rings are no longer in guest RAM (unplugged?)");
	ck_assert(vq.broken);
}
END_TEST

Suite *suite_main(void)
{
	Suite *s = suite_create("virtqueue");
	TCase *tc = tcase_create("split");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, request_and_response);
	tcase_add_test(tc, indirect_table);
	tcase_add_test(tc, malformed_chains_break_the_queue);
	tcase_add_test(tc, next_out_of_range);
	tcase_add_test(tc, head_out_of_range);
	tcase_add_test(tc, buffer_outside_ram);
	tcase_add_test(tc, length_overflow);
	tcase_add_test(tc, readable_after_writable);
	tcase_add_test(tc, avail_index_jump);
	tcase_add_test(tc, indirect_with_next);
	tcase_add_test(tc, indirect_bad_length);
	tcase_add_test(tc, nested_indirect);
	tcase_add_test(tc, indirect_loop);
	tcase_add_test(tc, indirect_after_a_direct_one_with_next);
	tcase_add_test(tc, zero_length_indirect_table_far_away);
	tcase_add_test(tc, direct_descriptors_then_an_indirect_table);
	tcase_add_test(tc, read_and_write_through_the_chain);
	tcase_add_test(tc, hotplugged_memory_is_ram_while_plugged);
	tcase_add_test(tc, indirect_needs_the_feature);
	tcase_add_test(tc, indirect_zero_length);
	tcase_add_test(tc, indirect_table_outside_ram);
	tcase_add_test(tc, indirect_next_out_of_range);
	tcase_add_test(tc, chain_longer_than_the_device_accepts);
	tcase_add_test(tc, enable_checks_the_rings);
	suite_add_tcase(s, tc);
	return s;
}
