#include <check.h>
#include <fcntl.h>
#include <liburing.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "util/event_loop.h"

/* Every wait for a callback is bounded, so a broken loop fails the test instead of hanging it. */
#define WAIT_MS 5000
/* How long we watch for a callback that must not come. */
#define QUIET_MS 100

/*
 * One watched eventfd and what its callback saw. The callback runs on the loop
 * thread, so it records into this struct (under m) and the test thread asserts.
 */
struct probe {
	int fd;
	struct event_loop *loop;
	struct event_watch *watch;
	pthread_mutex_t m;
	pthread_cond_t cond;
	unsigned calls;
	uint64_t consumed;	 /* sum of the eventfd counters read */
	bool running;		 /* inside the callback */
	bool removed;		 /* event_loop_remove() returned: no callback may start now */
	unsigned late_calls;	 /* callbacks that started after removed was set */
	unsigned hold_ms;	 /* the callback lingers this long (to overlap with remove) */
	unsigned remove_self_at; /* the callback removes its own watch on this call (0: never) */
};

static struct event_loop *loop;

static void probe_init(struct probe *p)
{
	memset(p, 0, sizeof(*p));
	p->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	ck_assert_int_ge(p->fd, 0);
	p->loop = loop;
	pthread_mutex_init(&p->m, NULL);
	pthread_cond_init(&p->cond, NULL);
}

static void probe_destroy(struct probe *p)
{
	close(p->fd);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->m);
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void on_readable(void *opaque)
{
	struct probe *p = opaque;
	uint64_t value = 0;
	bool remove_self;

	/* The callback must consume the event. */
	if (read(p->fd, &value, sizeof(value)) != sizeof(value))
		value = 0;
	pthread_mutex_lock(&p->m);
	if (p->removed)
		p->late_calls++;
	p->running = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->m);

	if (p->hold_ms)
		sleep_ms(p->hold_ms);

	pthread_mutex_lock(&p->m);
	p->calls++;
	p->consumed += value;
	p->running = false;
	remove_self = p->remove_self_at && p->calls == p->remove_self_at;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->m);

	if (remove_self) {
		uint64_t one = 1;

		/* An event that is already on its way when the watch goes must be dropped. */
		if (write(p->fd, &one, sizeof(one)) != sizeof(one))
			abort();
		sleep_ms(10);
		event_loop_remove(p->loop, p->watch);
		pthread_mutex_lock(&p->m);
		p->removed = true;
		pthread_mutex_unlock(&p->m);
	}
}

static void deadline_in(struct timespec *ts, unsigned ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* Waits (bounded) until the callback completed at least n times; true if it did. */
static bool wait_calls(struct probe *p, unsigned n, unsigned ms)
{
	struct timespec deadline;
	bool ok;

	deadline_in(&deadline, ms);
	pthread_mutex_lock(&p->m);
	while (p->calls < n)
		if (pthread_cond_timedwait(&p->cond, &p->m, &deadline) == ETIMEDOUT)
			break;
	ok = p->calls >= n;
	pthread_mutex_unlock(&p->m);
	return ok;
}

/* Waits (bounded) until a callback is running. */
static bool wait_running(struct probe *p, unsigned ms)
{
	struct timespec deadline;
	bool ok;

	deadline_in(&deadline, ms);
	pthread_mutex_lock(&p->m);
	while (!p->running)
		if (pthread_cond_timedwait(&p->cond, &p->m, &deadline) == ETIMEDOUT)
			break;
	ok = p->running;
	pthread_mutex_unlock(&p->m);
	return ok;
}

static unsigned calls_of(struct probe *p)
{
	unsigned n;

	pthread_mutex_lock(&p->m);
	n = p->calls;
	pthread_mutex_unlock(&p->m);
	return n;
}

static void kick(struct probe *p, uint64_t value)
{
	ck_assert_int_eq(write(p->fd, &value, sizeof(value)), sizeof(value));
}

static void watch(struct probe *p)
{
	struct error err;

	p->watch = event_loop_add_fd(loop, p->fd, on_readable, p, &err);
	ck_assert_msg(p->watch != NULL, "event_loop_add_fd: %s", err.msg);
}

static void setup(void)
{
	struct error err;

	loop = event_loop_new(&err);
	ck_assert_msg(loop != NULL, "event_loop_new: %s", err.msg);
	ck_assert_msg(event_loop_start(loop, &err) == 0, "%s", err.msg);
}

static void teardown(void)
{
	event_loop_free(loop);
	loop = NULL;
}

/* The ring runs what the loop submits and refuses anything else (issue 11: io_uring
 * bypasses seccomp). */
static int run_one(struct io_uring *ring, void (*prep)(struct io_uring_sqe *))
{
	struct io_uring_cqe *cqe;
	int res;

	prep(io_uring_get_sqe(ring));
	ck_assert_int_eq(io_uring_submit(ring), 1);
	ck_assert_int_eq(io_uring_wait_cqe(ring, &cqe), 0);
	res = cqe->res;
	io_uring_cqe_seen(ring, cqe);
	return res;
}

static void prep_nop(struct io_uring_sqe *sqe)
{
	io_uring_prep_nop(sqe);
}

static void prep_openat(struct io_uring_sqe *sqe)
{
	io_uring_prep_openat(sqe, AT_FDCWD, "/etc/hostname", O_RDONLY, 0);
}

static void prep_read(struct io_uring_sqe *sqe)
{
	static char buf[16];

	io_uring_prep_read(sqe, 0, buf, sizeof(buf), 0);
}

START_TEST(ring_is_restricted_to_the_loops_operations)
{
	struct io_uring ring;
	struct error err;

	ck_assert_msg(event_loop_ring_init(&ring, 8, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(run_one(&ring, prep_nop), 0);
	ck_assert_int_eq(run_one(&ring, prep_openat), -EACCES);
	ck_assert_int_eq(run_one(&ring, prep_read), -EACCES);
	/* Nor may the ring be given files or buffers afterwards. */
	ck_assert_int_lt(io_uring_register_files(&ring, (int[]){ 0 }, 1), 0);
	io_uring_queue_exit(&ring);
}
END_TEST

START_TEST(new_and_free_without_watches)
{
	/* The fixture did it once; do it again on a second loop alongside the first. */
	struct error err;
	struct event_loop *other = event_loop_new(&err);

	ck_assert_msg(other != NULL, "event_loop_new: %s", err.msg);
	ck_assert_msg(event_loop_start(other, &err) == 0, "%s", err.msg);
	event_loop_free(other);
	event_loop_free(NULL); /* documented as a no-op */
}
END_TEST

START_TEST(callback_runs_when_fd_is_written)
{
	struct probe p;

	probe_init(&p);
	watch(&p);
	kick(&p, 5);
	ck_assert(wait_calls(&p, 1, WAIT_MS));
	ck_assert_uint_eq(p.consumed, 5);
	/* The poll is multishot: later writes are served too, not just the first. */
	kick(&p, 2);
	ck_assert(wait_calls(&p, 2, WAIT_MS));
	kick(&p, 3);
	ck_assert(wait_calls(&p, 3, WAIT_MS));
	ck_assert_uint_eq(p.consumed, 10);
	event_loop_remove(loop, p.watch);
	probe_destroy(&p);
}
END_TEST

START_TEST(fd_already_readable_when_added)
{
	struct probe p;

	/* An event that arrived before the watch must not be lost. */
	probe_init(&p);
	kick(&p, 7);
	watch(&p);
	ck_assert(wait_calls(&p, 1, WAIT_MS));
	ck_assert_uint_eq(p.consumed, 7);
	event_loop_remove(loop, p.watch);
	probe_destroy(&p);
}
END_TEST

START_TEST(no_callback_without_an_event)
{
	struct probe p;

	probe_init(&p);
	watch(&p);
	sleep_ms(QUIET_MS);
	ck_assert_uint_eq(calls_of(&p), 0);
	event_loop_remove(loop, p.watch);
	probe_destroy(&p);
}
END_TEST

START_TEST(several_watches_are_independent)
{
	enum { N = 4 };
	struct probe p[N];

	for (unsigned i = 0; i < N; i++) {
		probe_init(&p[i]);
		watch(&p[i]);
	}
	/* Only the written fds get callbacks, each with its own opaque. */
	kick(&p[1], 11);
	kick(&p[3], 33);
	ck_assert(wait_calls(&p[1], 1, WAIT_MS));
	ck_assert(wait_calls(&p[3], 1, WAIT_MS));
	ck_assert_uint_eq(p[1].consumed, 11);
	ck_assert_uint_eq(p[3].consumed, 33);
	sleep_ms(QUIET_MS);
	ck_assert_uint_eq(calls_of(&p[0]), 0);
	ck_assert_uint_eq(calls_of(&p[2]), 0);
	ck_assert_uint_eq(calls_of(&p[1]), 1);

	for (unsigned i = 0; i < N; i++)
		kick(&p[i], 100 + i);
	for (unsigned i = 0; i < N; i++)
		ck_assert(wait_calls(&p[i], i == 1 || i == 3 ? 2 : 1, WAIT_MS));
	ck_assert_uint_eq(p[0].consumed, 100);
	ck_assert_uint_eq(p[2].consumed, 102);
	for (unsigned i = 0; i < N; i++) {
		event_loop_remove(loop, p[i].watch);
		probe_destroy(&p[i]);
	}
}
END_TEST

START_TEST(no_callback_after_remove)
{
	struct probe gone, sentinel;

	probe_init(&gone);
	probe_init(&sentinel);
	watch(&gone);
	watch(&sentinel);
	kick(&gone, 1);
	ck_assert(wait_calls(&gone, 1, WAIT_MS));

	event_loop_remove(loop, gone.watch);
	gone.removed = true; /* the loop no longer knows this probe */
	kick(&gone, 1);
	/* The loop is alive (it serves the sentinel) yet never calls the removed watch. */
	kick(&sentinel, 1);
	ck_assert(wait_calls(&sentinel, 1, WAIT_MS));
	sleep_ms(QUIET_MS);
	ck_assert_uint_eq(calls_of(&gone), 1);
	ck_assert_uint_eq(gone.late_calls, 0);
	event_loop_remove(loop, sentinel.watch);
	probe_destroy(&gone);
	probe_destroy(&sentinel);
}
END_TEST

/* remove() from another thread waits for a callback in progress to return. */
START_TEST(remove_waits_for_a_running_callback)
{
	struct probe p;

	probe_init(&p);
	p.hold_ms = 200;
	watch(&p);
	kick(&p, 1);
	ck_assert(wait_running(&p, WAIT_MS));
	event_loop_remove(loop, p.watch);
	pthread_mutex_lock(&p.m);
	ck_assert(!p.running);
	ck_assert_uint_eq(p.calls, 1);
	p.removed = true;
	pthread_mutex_unlock(&p.m);
	kick(&p, 1);
	sleep_ms(QUIET_MS);
	ck_assert_uint_eq(calls_of(&p), 1);
	ck_assert_uint_eq(p.late_calls, 0);
	probe_destroy(&p);
}
END_TEST

START_TEST(callback_removes_its_own_watch)
{
	struct probe self, other;

	probe_init(&self);
	probe_init(&other);
	self.remove_self_at = 2;
	watch(&self);
	watch(&other);

	kick(&self, 1);
	ck_assert(wait_calls(&self, 1, WAIT_MS));
	kick(&self, 1); /* the second callback removes its own watch */
	ck_assert(wait_calls(&self, 2, WAIT_MS));

	/* Further writes to its fd are ignored; the loop still serves the other watch. */
	for (unsigned i = 1; i <= 3; i++) {
		kick(&self, 1);
		kick(&other, 1);
		ck_assert(wait_calls(&other, i, WAIT_MS));
	}
	sleep_ms(QUIET_MS);
	ck_assert_uint_eq(calls_of(&self), 2);
	ck_assert_uint_eq(self.late_calls, 0);
	event_loop_remove(loop, other.watch);
	probe_destroy(&self);
	probe_destroy(&other);
}
END_TEST

/* A watch removed from its callback and still held by the kernel is freed by event_loop_free. */
START_TEST(free_right_after_self_removal)
{
	struct probe self;

	probe_init(&self);
	self.remove_self_at = 1;
	watch(&self);
	kick(&self, 1);
	ck_assert(wait_calls(&self, 1, WAIT_MS));
	event_loop_free(loop); /* ASan reports a leak or a double free if this goes wrong */
	loop = NULL;
	ck_assert_uint_eq(self.late_calls, 0);
	probe_destroy(&self);
}
END_TEST

static void *add_watch_thread(void *opaque)
{
	watch(opaque);
	return NULL;
}

/*
 * io_uring cancels a thread's requests when it exits (-ECANCELED): a watch
 * added by a short-lived thread must be re-armed by the loop, not lost.
 */
START_TEST(watch_outlives_the_thread_that_added_it)
{
	struct probe p;
	pthread_t adder;

	probe_init(&p);
	ck_assert_int_eq(pthread_create(&adder, NULL, add_watch_thread, &p), 0);
	pthread_join(adder, NULL);
	ck_assert_ptr_nonnull(p.watch);
	sleep_ms(QUIET_MS); /* let the cancellation reach the loop first */
	kick(&p, 1);
	ck_assert(wait_calls(&p, 1, WAIT_MS));
	kick(&p, 1);
	ck_assert(wait_calls(&p, 2, WAIT_MS));
	event_loop_remove(loop, p.watch);
	probe_destroy(&p);
}
END_TEST

static uint64_t process_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * A poll that fails (here: the fd is not open) must not be re-armed in a
 * tight loop. Before the fix the I/O thread spun at 100% CPU, logging
 * "poll on fd ...: Bad file descriptor" tens of thousands of times a second.
 */
START_TEST(failed_poll_does_not_spin)
{
	struct probe p, other;
	int bad_fd;
	uint64_t cpu;
	struct error err;
	struct event_watch *w;

	probe_init(&p);
	probe_init(&other);
	bad_fd = dup(p.fd);
	ck_assert_int_ge(bad_fd, 0);
	close(bad_fd); /* a number that is certainly not open */
	cpu = process_cpu_ns();
	w = event_loop_add_fd(loop, bad_fd, on_readable, &p, &err);
	ck_assert_ptr_nonnull(w); /* the error arrives asynchronously */
	sleep_ms(200);
	cpu = process_cpu_ns() - cpu;
	ck_assert_msg(cpu < 50000000u, "the loop burnt %llu ms of CPU in 200 ms",
		      (unsigned long long)(cpu / 1000000));
	ck_assert_uint_eq(calls_of(&p), 0);
	/* The loop still serves healthy watches and the failed one can be removed. */
	watch(&other);
	kick(&other, 1);
	ck_assert(wait_calls(&other, 1, WAIT_MS));
	event_loop_remove(loop, w);
	event_loop_remove(loop, other.watch);
	probe_destroy(&p);
	probe_destroy(&other);
}
END_TEST

static void *writer_thread(void *opaque)
{
	struct probe *p = opaque;
	uint64_t one = 1;

	for (unsigned i = 0; i < 2000; i++)
		if (write(p->fd, &one, sizeof(one)) != sizeof(one))
			break;
	return NULL;
}

/* Add/remove while another thread hammers the fd: nothing may run after remove returns. */
START_TEST(remove_races_with_events)
{
	struct probe p;

	probe_init(&p);
	for (unsigned round = 0; round < 50; round++) {
		pthread_t writer;

		pthread_mutex_lock(&p.m);
		p.removed = false;
		pthread_mutex_unlock(&p.m);
		watch(&p);
		ck_assert_int_eq(pthread_create(&writer, NULL, writer_thread, &p), 0);
		event_loop_remove(loop, p.watch);
		pthread_mutex_lock(&p.m);
		ck_assert(!p.running);
		p.removed = true;
		pthread_mutex_unlock(&p.m);
		pthread_join(writer, NULL);
	}
	sleep_ms(QUIET_MS);
	ck_assert_uint_eq(p.late_calls, 0);
	probe_destroy(&p);
}
END_TEST

Suite *suite_main(void)
{
	Suite *suite = suite_create("event_loop");
	TCase *tc = tcase_create("watches");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, new_and_free_without_watches);
	tcase_add_test(tc, callback_runs_when_fd_is_written);
	tcase_add_test(tc, fd_already_readable_when_added);
	tcase_add_test(tc, no_callback_without_an_event);
	tcase_add_test(tc, several_watches_are_independent);
	tcase_add_test(tc, no_callback_after_remove);
	tcase_add_test(tc, remove_waits_for_a_running_callback);
	tcase_add_test(tc, callback_removes_its_own_watch);
	tcase_add_test(tc, free_right_after_self_removal);
	tcase_add_test(tc, remove_races_with_events);
	tcase_add_test(tc, watch_outlives_the_thread_that_added_it);
	tcase_add_test(tc, failed_poll_does_not_spin);
	tcase_add_test(tc, ring_is_restricted_to_the_loops_operations);
	suite_add_tcase(suite, tc);
	return suite;
}
