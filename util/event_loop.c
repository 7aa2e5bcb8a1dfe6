#include "util/event_loop.h"

#include <errno.h>
#include <liburing.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/log.h"
#include "util/util.h"

#define RING_ENTRIES 64
/* user_data of requests that are not watches (watches use their address). */
#define TAG_STOP 1
#define TAG_WAKE 3
/* A watch's poll remove: its address with the low bit set (watches are 8-byte aligned). */
#define TAG_REMOVE_BIT 1ULL

/*
 * Polls are armed and removed by the loop thread only. io_uring completes a
 * poll through task work of the thread that submitted it; had another thread
 * submitted it, its completions would wait on that thread (and die with it).
 * Other threads only queue a NOP (it completes at once, on their own call) to
 * wake the loop, which then looks at what the watches want.
 */

struct event_watch {
	int fd;
	unsigned events; /* POLLIN or POLLOUT */
	event_fn fn;
	void *opaque;
	bool armed;	   /* a multishot poll is in the kernel (its last CQE not seen yet) */
	bool remove_sent;  /* its poll remove is submitted (and its CQE not seen yet) */
	bool removing;	   /* no more callbacks; the loop takes the poll out */
	bool failed;	   /* its poll ended with an error (a bad fd): not re-armed */
	bool loop_frees;   /* removed from a callback: the loop thread frees it when idle */
	unsigned busy;	   /* callbacks running */
	struct event_watch *next;
};

struct event_loop {
	struct io_uring ring;
	pthread_mutex_t lock; /* the submission queue and every watch's fields */
	pthread_cond_t idle;  /* a watch stopped being armed or busy */
	pthread_t thread;
	bool started; /* event_loop_start() ran */
	struct event_watch *watches;
	void (*thread_start)(void); /* NULL: nothing */
};

void event_loop_set_thread_start(struct event_loop *loop, void (*fn)(void))
{
	loop->thread_start = fn;
}

/*
 * Caller holds the lock. The ring never fills: at most one request per watch plus
 * a few. Once an SQE is prepared it is as good as sent: liburing has published it,
 * and the kernel takes it with this submit or the next one, so callers record it
 * as sent either way. A failure here (-EAGAIN, -EBUSY: the kernel is short of
 * resources) is retried a few times and logged; only "no SQE at all" is returned.
 */
static int submit_locked(struct event_loop *loop, void (*prep)(struct io_uring_sqe *, void *),
			 void *arg, uint64_t user_data)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&loop->ring);
	int ret;

	if (!sqe) {
		ret = io_uring_submit(&loop->ring);
		if (ret < 0)
			return ret;
		sqe = io_uring_get_sqe(&loop->ring);
		if (!sqe)
			return -EBUSY;
	}
	prep(sqe, arg);
	io_uring_sqe_set_data64(sqe, user_data);
	for (int attempt = 0; attempt < 100; attempt++) {
		ret = io_uring_submit(&loop->ring);
		if (ret >= 0 || (ret != -EAGAIN && ret != -EBUSY && ret != -EINTR))
			break;
		usleep(1000);
	}
	if (ret < 0)
		log_error("event loop: io_uring_submit: %s (the request goes with the next one)",
			  strerror(-ret));
	return 0;
}

static void prep_poll(struct io_uring_sqe *sqe, void *arg)
{
	struct event_watch *w = arg;

	io_uring_prep_poll_multishot(sqe, w->fd, w->events);
}

static void prep_poll_remove(struct io_uring_sqe *sqe, void *arg)
{
	io_uring_prep_poll_remove(sqe, (uint64_t)(uintptr_t)arg);
}

static void prep_nop(struct io_uring_sqe *sqe, void *arg)
{
	(void)arg;
	io_uring_prep_nop(sqe);
}

static int arm_locked(struct event_loop *loop, struct event_watch *w)
{
	int ret = submit_locked(loop, prep_poll, w, (uint64_t)(uintptr_t)w);

	if (ret == 0)
		w->armed = true;
	return ret;
}

static void unlink_locked(struct event_loop *loop, struct event_watch *w)
{
	for (struct event_watch **p = &loop->watches; *p; p = &(*p)->next) {
		if (*p == w) {
			*p = w->next;
			return;
		}
	}
}

/* A watch removed from a callback is freed once its poll is gone and nothing runs it. */
static void maybe_free_locked(struct event_loop *loop, struct event_watch *w)
{
	if (w->loop_frees && !w->armed && !w->busy && !w->remove_sent) {
		unlink_locked(loop, w);
		free(w);
	}
}

static int send_remove_locked(struct event_loop *loop, struct event_watch *w)
{
	int ret = submit_locked(loop, prep_poll_remove, w, (uint64_t)(uintptr_t)w | TAG_REMOVE_BIT);

	w->remove_sent = ret == 0;
	return ret;
}

/*
 * -EALREADY: the poll was completing at that moment and stays armed (seen under
 * load as a remove that never finished): ask again.
 */
static void handle_remove_cqe(struct event_loop *loop, struct event_watch *w, int res)
{
	pthread_mutex_lock(&loop->lock);
	w->remove_sent = false;
	if (res == -EALREADY && w->armed && send_remove_locked(loop, w) < 0)
		log_error("event loop: cannot remove the poll on fd %d", w->fd);
	pthread_cond_broadcast(&loop->idle);
	maybe_free_locked(loop, w);
	pthread_mutex_unlock(&loop->lock);
}

/* On the loop thread: arm what is new, take out the polls of removed watches. */
static void sync_watches_locked(struct event_loop *loop)
{
	for (struct event_watch *w = loop->watches; w; w = w->next) {
		int ret = 0;

		if (!w->removing && !w->armed && !w->failed)
			ret = arm_locked(loop, w);
		else if (w->removing && w->armed && !w->remove_sent)
			ret = send_remove_locked(loop, w);
		if (ret < 0)
			log_error("event loop: fd %d: %s", w->fd, strerror(-ret));
	}
}

/* From any thread but the loop's: the loop wakes up and syncs the watches. */
static int wake_locked(struct event_loop *loop)
{
	int ret = submit_locked(loop, prep_nop, NULL, TAG_WAKE);

	if (ret < 0)
		log_error("event loop: cannot wake the I/O thread: %s", strerror(-ret));
	return ret;
}

static void handle_watch_cqe(struct event_loop *loop, struct event_watch *w, int res,
			     unsigned flags)
{
	pthread_mutex_lock(&loop->lock);
	if (!(flags & IORING_CQE_F_MORE)) {
		/*
		 * The multishot poll ended (removed, or the kernel gave up on it, e.g.
		 * -ECANCELED when the thread that submitted it exited): re-arm it. Not
		 * after a poll error (a bad fd): re-arming would fail again at once and
		 * spin the loop thread forever.
		 */
		w->armed = false;
		if (res < 0 && res != -ECANCELED)
			w->failed = true;
		else if (!w->removing) {
			int ret = arm_locked(loop, w);

			if (ret < 0)
				log_error("event loop: cannot re-arm fd %d: %s", w->fd, strerror(-ret));
		}
	}
	if (res > 0 && !w->removing) {
		w->busy++;
		pthread_mutex_unlock(&loop->lock);
		w->fn(w->opaque);
		pthread_mutex_lock(&loop->lock);
		w->busy--;
	} else if (res < 0 && res != -ECANCELED && res != -ENOENT) {
		log_warn("event loop: poll on fd %d: %s", w->fd, strerror(-res));
	}
	pthread_cond_broadcast(&loop->idle);
	maybe_free_locked(loop, w);
	pthread_mutex_unlock(&loop->lock);
}

static void *loop_thread(void *opaque)
{
	struct event_loop *loop = opaque;

	if (loop->thread_start)
		loop->thread_start();
	for (;;) {
		struct io_uring_cqe *cqe;
		uint64_t tag;
		unsigned flags;
		int res, ret = io_uring_wait_cqe(&loop->ring, &cqe);

		if (ret == -EINTR)
			continue;
		if (ret < 0) {
			log_error("event loop: io_uring_wait_cqe: %s", strerror(-ret));
			return NULL;
		}
		tag = io_uring_cqe_get_data64(cqe);
		res = cqe->res;
		flags = cqe->flags;
		io_uring_cqe_seen(&loop->ring, cqe);
		if (tag == TAG_STOP)
			return NULL;
		if (tag & TAG_REMOVE_BIT && tag > TAG_WAKE) {
			handle_remove_cqe(loop, (struct event_watch *)(uintptr_t)(tag & ~TAG_REMOVE_BIT),
					  res);
			continue;
		}
		if (tag == TAG_WAKE) {
			pthread_mutex_lock(&loop->lock);
			sync_watches_locked(loop);
			pthread_mutex_unlock(&loop->lock);
			continue;
		}
		handle_watch_cqe(loop, (struct event_watch *)(uintptr_t)tag, res, flags);
	}
}

int event_loop_ring_init(struct io_uring *ring, unsigned entries, struct error *err)
{
	/* What the loop submits (prep_poll, prep_poll_remove, prep_nop), and nothing else. */
	static const struct io_uring_restriction allowed[] = {
		{ .opcode = IORING_RESTRICTION_SQE_OP, .sqe_op = IORING_OP_POLL_ADD },
		{ .opcode = IORING_RESTRICTION_SQE_OP, .sqe_op = IORING_OP_POLL_REMOVE },
		{ .opcode = IORING_RESTRICTION_SQE_OP, .sqe_op = IORING_OP_NOP },
	};
	int ret = io_uring_queue_init(entries, ring, IORING_SETUP_R_DISABLED);

	if (ret < 0)
		return error_set(err, "io_uring_queue_init: %s (tide's I/O thread needs io_uring)",
				 strerror(-ret));
	/* Debian's liburing 2.3 declares io_uring_register_restrictions() and
	 * io_uring_enable_rings() but does not export them: the system call itself. */
	if (syscall(__NR_io_uring_register, ring->ring_fd, IORING_REGISTER_RESTRICTIONS, allowed,
		    ARRAY_SIZE(allowed)) < 0 ||
	    syscall(__NR_io_uring_register, ring->ring_fd, IORING_REGISTER_ENABLE_RINGS, NULL,
		    0) < 0) {
		ret = errno;
		io_uring_queue_exit(ring);
		return error_set(err, "io_uring restrictions: %s", strerror(ret));
	}
	return 0;
}

struct event_loop *event_loop_new(struct error *err)
{
	struct event_loop *loop = calloc(1, sizeof(*loop));

	if (!loop) {
		error_set(err, "out of memory for the event loop");
		return NULL;
	}
	if (event_loop_ring_init(&loop->ring, RING_ENTRIES, err)) {
		free(loop);
		return NULL;
	}
	pthread_mutex_init(&loop->lock, NULL);
	pthread_cond_init(&loop->idle, NULL);
	return loop;
}

int event_loop_start(struct event_loop *loop, struct error *err)
{
	int ret = pthread_create(&loop->thread, NULL, loop_thread, loop);

	if (ret)
		return error_set(err, "cannot start the I/O thread: %s", strerror(ret));
	loop->started = true;
	return 0;
}

void event_loop_free(struct event_loop *loop)
{
	int ret;

	if (!loop)
		return;
	if (!loop->started)
		goto free_loop;
	pthread_mutex_lock(&loop->lock);
	ret = submit_locked(loop, prep_nop, NULL, TAG_STOP);
	pthread_mutex_unlock(&loop->lock);
	if (ret < 0) {
		/* Without the stop request the thread never returns: leave it and the loop be. */
		log_error("event loop: cannot stop the I/O thread: %s", strerror(-ret));
		return;
	}
	pthread_join(loop->thread, NULL);
free_loop:
	io_uring_queue_exit(&loop->ring);
	while (loop->watches) {
		struct event_watch *w = loop->watches;

		loop->watches = w->next;
		if (!w->loop_frees)
			log_warn("event loop: fd %d still watched at exit", w->fd);
		free(w);
	}
	pthread_cond_destroy(&loop->idle);
	pthread_mutex_destroy(&loop->lock);
	free(loop);
}

struct event_watch *event_loop_add_fd(struct event_loop *loop, int fd, event_fn fn, void *opaque,
				      struct error *err)
{
	return event_loop_add_fd_events(loop, fd, POLLIN, fn, opaque, err);
}

struct event_watch *event_loop_add_fd_events(struct event_loop *loop, int fd, unsigned events,
					     event_fn fn, void *opaque, struct error *err)
{
	struct event_watch *w = calloc(1, sizeof(*w));
	int ret;

	if (!w) {
		error_set(err, "out of memory for an event watch");
		return NULL;
	}
	*w = (struct event_watch){ .fd = fd, .events = events, .fn = fn, .opaque = opaque };
	pthread_mutex_lock(&loop->lock);
	if (pthread_equal(pthread_self(), loop->thread))
		ret = arm_locked(loop, w);
	else
		ret = wake_locked(loop); /* the loop arms it */
	if (ret == 0) {
		w->next = loop->watches;
		loop->watches = w;
	}
	pthread_mutex_unlock(&loop->lock);
	if (ret < 0) {
		error_set(err, "io_uring poll on fd %d: %s", fd, strerror(-ret));
		free(w);
		return NULL;
	}
	return w;
}

void event_loop_remove(struct event_loop *loop, struct event_watch *w)
{
	bool on_loop_thread = pthread_equal(pthread_self(), loop->thread);

	if (!w)
		return;
	pthread_mutex_lock(&loop->lock);
	w->removing = true;
	if (on_loop_thread) {
		/* Inside a callback: the loop frees it once the kernel let go of it. */
		sync_watches_locked(loop);
		w->loop_frees = true;
		maybe_free_locked(loop, w);
		pthread_mutex_unlock(&loop->lock);
		return;
	}
	if (w->armed)
		wake_locked(loop);
	while (w->armed || w->busy || w->remove_sent)
		pthread_cond_wait(&loop->idle, &loop->lock);
	unlink_locked(loop, w);
	pthread_mutex_unlock(&loop->lock);
	free(w);
}
