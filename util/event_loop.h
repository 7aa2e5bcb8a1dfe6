/*
 * Tide's I/O thread: one event loop, built on io_uring (liburing), that runs
 * callbacks when file descriptors become readable. Queue notifications
 * (ioeventfds) are handled here rather than on vCPU threads, and the QMP
 * socket (vmm/qmp_server.c) is served on the same loop.
 *
 * Watches may be added and removed from any thread. Callbacks run on the loop
 * thread one at a time; they may remove watches (their own included).
 */
#ifndef TIDE_EVENT_LOOP_H
#define TIDE_EVENT_LOOP_H

#include "util/error.h"

struct event_loop;
struct event_watch;

/* Called on the loop thread when fd is readable; it must consume the event (read the fd). */
typedef void (*event_fn)(void *opaque);

/*
 * Creates the loop, whose thread event_loop_start() starts: watches added in between wait
 * for it. NULL with err when io_uring is unavailable.
 */
struct event_loop *event_loop_new(struct error *err);
/* fn runs first on the loop's thread (tide gives it its seccomp filter); call before start. */
void event_loop_set_thread_start(struct event_loop *loop, void (*fn)(void));
int event_loop_start(struct event_loop *loop, struct error *err);

/*
 * The loop's ring: io_uring operations bypass seccomp, so it is created disabled,
 * restricted to the operations the loop submits (poll add and remove, nop; no register
 * operation), then enabled. Another opcode completes with -EACCES.
 */
struct io_uring;
int event_loop_ring_init(struct io_uring *ring, unsigned entries, struct error *err);
/* Stops the thread and frees the loop; every watch must have been removed. */
void event_loop_free(struct event_loop *loop);

struct event_watch *event_loop_add_fd(struct event_loop *loop, int fd, event_fn fn, void *opaque,
				      struct error *err);
/* The same for other poll events: POLLOUT, for output waiting on a full socket. */
struct event_watch *event_loop_add_fd_events(struct event_loop *loop, int fd, unsigned events,
					     event_fn fn, void *opaque, struct error *err);
/*
 * After this returns, fn is not running and will not be called again (from
 * another thread it waits for a running callback to finish). Does not close fd.
 */
void event_loop_remove(struct event_loop *loop, struct event_watch *watch);

#endif
