/*
 * What the QMP server's two halves share, and nothing else includes: the
 * listener, event queue and set-up (vmm/qmp_server.c) and one client's input
 * and output (vmm/qmp_server_client.c). A header of its own, so that neither
 * .c includes the other's.
 */
#ifndef TIDE_QMP_SERVER_INTERNAL_H
#define TIDE_QMP_SERVER_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "vmm/qmp.h"

struct event_loop;
struct event_watch;
struct pending_line; /* qmp_server.c's */

struct qmp_client {
	struct qmp_server *server;
	int fd;
	unsigned number; /* for log lines */
	struct event_watch *read_watch;
	struct event_watch *write_watch; /* only while output is waiting */
	json_tokener *tokener;
	struct qmp_session session;
	size_t message_bytes; /* of the message being parsed */
	char *text;	      /* that message's bytes, for what json-c reads wrongly */
	size_t text_len, text_cap;
	bool skip_line;	      /* after a parse error: drop input up to the next newline */
	/*
	 * A message that waits for a machine (between two machines, at start-up or in
	 * a reset), the input after it, and whether the socket may hold more than
	 * one callback's share: all served from the server's wake-up pass.
	 */
	struct json_object *held;
	char *unparsed;
	size_t unparsed_len;
	bool more_input;
	char *out;
	size_t out_len, out_cap;
	struct qmp_client *next;
};

struct qmp_server {
	struct event_loop *loop;
	const struct qmp_engine *engine;
	char *path;
	bool leave_socket; /* chrooted: path names another file now */
	int listen_fd;
	struct event_watch *listen_watch;
	unsigned clients_served;

	/*
	 * clients_lock: held by every loop-thread callback that touches clients, and by
	 * qmp_server_free(). Never taken by event senders, who may hold device locks.
	 */
	pthread_mutex_t clients_lock;
	struct qmp_client *clients;
	unsigned nr_clients;
	bool shutting_down;

	/* events_lock: a leaf lock (senders hold device locks). */
	pthread_mutex_t events_lock;
	pthread_cond_t first_client;
	bool had_client;
	struct pending_line *pending, **pending_tail;
	int event_fd;
	struct event_watch *event_watch;
};

/*
 * In vmm/qmp_server_client.c. Those returning int return -1 when they closed
 * (and freed) c. On the loop thread with clients_lock held, except the read
 * callback, which takes the lock, and qmp_client_free.
 */
/* Writes what the socket takes now; the rest goes when it is writable. */
int qmp_client_flush(struct qmp_client *c);
/*
 * Events queued by any thread go to every client now (clients_lock held, loop thread), so
 * that a command's reply can follow the events its work raised. Every client but self is
 * flushed. -1 if self was closed.
 */
int qmp_server_send_events_locked(struct qmp_server *s, struct qmp_client *self);
/* Queues one line; a newline is added. */
int qmp_client_send(struct qmp_client *c, const char *line);
/* Unlinks c from its server, logs why, closes and frees it. */
void qmp_client_close(struct qmp_client *c, const char *why);
/* Frees c's memory alone: the caller closed its socket and took it off the list. */
void qmp_client_free(struct qmp_client *c);
/* Runs a held message, then reads (the server's wake-up pass). */
int qmp_client_service(struct qmp_client *c);
/* The read watch's callback; it takes clients_lock itself. */
void qmp_client_readable(void *opaque);

#endif
