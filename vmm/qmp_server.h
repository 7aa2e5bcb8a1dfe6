/*
 * -qmp unix:PATH,server=on[,wait=on|off]: the control socket. Clients are
 * served on the I/O thread's event loop, each with its own session and JSON
 * stream (json-c's tokener); replies and events are queued per client and
 * written without blocking, so a client that stops reading never holds up the
 * guest, the vCPUs or other clients (past QMP_MAX_OUTPUT it is disconnected).
 */
#ifndef TIDE_QMP_SERVER_H
#define TIDE_QMP_SERVER_H

#include <stdbool.h>

#include "util/error.h"
#include "vmm/qmp.h"
#include "vmm/qmp_option.h"

struct event_loop;
struct qmp_server;

#define QMP_MAX_CLIENTS 64
/* One message may be this long; a longer one closes the connection (QEMU's own limit is 64 MiB). */
#define QMP_MAX_MESSAGE (1u << 20)
/* Output a client has not read yet; beyond it the client is dropped. */
#define QMP_MAX_OUTPUT (16u << 20)

/*
 * Creates the socket (mode 0600; a stale socket file is replaced, one a live
 * process listens on is an error) and serves it on loop.
 */
struct qmp_server *qmp_server_new(const struct qmp_server_config *cfg, struct event_loop *loop,
				  const struct qmp_engine *engine, struct error *err);
/* Closes every client and the socket, and removes the socket file. */
void qmp_server_free(struct qmp_server *server);

/*
 * wait=on: blocks until a client connects. Returns false when SIGINT or
 * SIGTERM arrived meanwhile (tide then ends as QEMU does, with status 0).
 */
bool qmp_server_wait_for_client(struct qmp_server *server);
/* After a chroot the socket's path names another file: tide leaves the socket at exit. */
void qmp_server_forget_path(struct qmp_server *server);

/*
 * From any thread (it only writes an eventfd): the server looks again at the
 * commands it holds because no machine could run them (machine_on_current_change).
 */
void qmp_server_wake(void *server);

/* From any thread: the line (an event) goes to every client past negotiation. */
void qmp_server_broadcast(struct qmp_server *server, const char *line);

/*
 * For a command's handler (on the I/O thread): the events raised so far, its own among
 * them, go out before its reply, as QEMU sends STOP before stop's reply and RESUME before
 * cont's. Other events (RESET, SHUTDOWN) follow the reply, as QEMU's do.
 */
void qmp_server_events_before_reply(void);

#endif
