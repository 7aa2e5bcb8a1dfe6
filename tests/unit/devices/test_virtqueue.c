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
	ck_assert_ptr_eq(c.bufs[0].hva, at(DATA));
	ck_assert_uint_eq(c.bufs[0].len, 24);
	ck_assert_ptr_eq(c.bufs[1].hva, at(DATA + 0x100));
	ck_assert_int_eq(virtqueue_pop(&vq, &c, &err), 0);
	virtqueue_push(&vq, 3, 10);
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
	ck_assert_ptr_eq(c.bufs[1].hva, at(DATA + 0x40));
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
BROKEN_CASE(indirect_inside_chain, "virtqueue: indirect descriptor inside a chain (0)",
	    set_desc(DESC, 0, DATA, 8, VIRTQ_DESC_F_NEXT, 1);
	    set_desc(DESC, 1, TABLE, 16, VIRTQ_DESC_F_INDIRECT, 0); offer(0))

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
	tcase_add_test(tc, indirect_inside_chain);
	tcase_add_test(tc, indirect_needs_the_feature);
	tcase_add_test(tc, indirect_zero_length);
	tcase_add_test(tc, indirect_table_outside_ram);
	tcase_add_test(tc, indirect_next_out_of_range);
	tcase_add_test(tc, chain_longer_than_the_device_accepts);
	tcase_add_test(tc, enable_checks_the_rings);
	suite_add_tcase(s, tc);
	return s;
}
