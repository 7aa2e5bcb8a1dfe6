#include "vmm/qmp_server.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "util/event_loop.h"
#include "util/log.h"
#include "vmm/qmp_server_internal.h"

/* An event waiting for the loop thread to hand it to the clients. */
struct pending_line {
	char *line;
	struct pending_line *next;
};

/* ---- the listening socket ---- */

static void accept_client(void *opaque)
{
	struct qmp_server *s = opaque;

	pthread_mutex_lock(&s->clients_lock);
	for (;;) {
		struct qmp_client *c;
		struct error err;
		char *greeting;
		int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				log_warn("QMP: accept: %s", strerror(errno));
			if (errno == EINTR)
				continue;
			break;
		}
		if (s->shutting_down || s->nr_clients >= QMP_MAX_CLIENTS) {
			log_warn("QMP: refusing a client: %u are connected (at most %d)",
				 s->nr_clients, QMP_MAX_CLIENTS);
			close(fd);
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (!c || !(c->tokener = json_tokener_new())) {
			log_warn("QMP: out of memory for a client");
			free(c);
			close(fd);
			continue;
		}
		/* Valid UTF-8 only (json-c would pass invalid bytes on into replies). Not json-c's
		 * strict mode: it refuses the single-quoted strings QEMU's parser takes. */
		json_tokener_set_flags(c->tokener, JSON_TOKENER_VALIDATE_UTF8);
		c->server = s;
		c->fd = fd;
		c->number = ++s->clients_served;
		c->read_watch = event_loop_add_fd(s->loop, fd, qmp_client_readable, c, &err);
		if (!c->read_watch) {
			log_warn("QMP: %s", err.msg);
			json_tokener_free(c->tokener);
			free(c);
			close(fd);
			continue;
		}
		c->next = s->clients;
		s->clients = c;
		s->nr_clients++;
		log_info("QMP client %u connected", c->number);
		greeting = qmp_greeting();
		if (greeting && qmp_client_send(c, greeting) == 0)
			qmp_client_flush(c);
		else if (!greeting)
			qmp_client_close(c, "out of memory for the greeting");
		free(greeting);
		pthread_mutex_lock(&s->events_lock);
		s->had_client = true;
		pthread_cond_broadcast(&s->first_client);
		pthread_mutex_unlock(&s->events_lock);
	}
	pthread_mutex_unlock(&s->clients_lock);
}

/* ---- events ---- */

/*
 * The wake-up pass on the loop thread: events queued by any thread go out, then
 * clients with a held message (a machine may be there now) or input left over.
 */
int qmp_server_send_events_locked(struct qmp_server *s, struct qmp_client *self)
{
	struct pending_line *lines;
	bool self_closed = false;

	pthread_mutex_lock(&s->events_lock);
	lines = s->pending;
	s->pending = NULL;
	s->pending_tail = &s->pending;
	pthread_mutex_unlock(&s->events_lock);
	while (lines) {
		struct pending_line *l = lines;
		struct qmp_client *c = s->shutting_down ? NULL : s->clients;

		while (c) {
			struct qmp_client *next = c->next; /* c may be closed */

			/* QEMU sends events only to clients out of negotiation mode. */
			if (c->session.command_mode) {
				if (qmp_client_send(c, l->line) < 0)
					self_closed |= c == self;
				else if (c != self) /* self's reply flushes it */
					qmp_client_flush(c);
			}
			c = next;
		}
		lines = l->next;
		free(l->line);
		free(l);
	}
	return self_closed ? -1 : 0;
}

static void deliver_events(void *opaque)
{
	struct qmp_server *s = opaque;
	uint64_t count;

	if (read(s->event_fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		log_warn("QMP: event eventfd: %s", strerror(errno));
	pthread_mutex_lock(&s->clients_lock);
	qmp_server_send_events_locked(s, NULL);
	for (struct qmp_client *c = s->shutting_down ? NULL : s->clients, *next; c; c = next) {
		next = c->next;
		if (c->held || c->more_input)
			qmp_client_service(c);
	}
	pthread_mutex_unlock(&s->clients_lock);
}

static void wake_server(struct qmp_server *s)
{
	uint64_t one = 1;

	if (write(s->event_fd, &one, sizeof(one)) != sizeof(one))
		log_warn("QMP: cannot wake the I/O thread: %s", strerror(errno));
}

void qmp_server_wake(void *server)
{
	wake_server(server);
}

void qmp_server_broadcast(struct qmp_server *s, const char *line)
{
	struct pending_line *l = malloc(sizeof(*l));

	if (!l || !(l->line = strdup(line))) {
		log_warn("QMP: out of memory for an event; dropped");
		free(l);
		return;
	}
	l->next = NULL;
	pthread_mutex_lock(&s->events_lock);
	*s->pending_tail = l;
	s->pending_tail = &l->next;
	pthread_mutex_unlock(&s->events_lock);
	wake_server(s);
}

/* ---- set-up ---- */

/* A socket file nobody listens on is stale (a killed tide left it); a live one is in use. */
static int claim_path(const char *path, struct error *err)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, ret;

	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		return error_set(err, "-qmp: %s: %s", path, strerror(errno));
	}
	if (!S_ISSOCK(st.st_mode))
		return error_set(err, "-qmp: %s exists and is not a socket; not replacing it", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return error_set(err, "-qmp: socket: %s", strerror(errno));
	memcpy(addr.sun_path, path, strlen(path) + 1);
	ret = connect(fd, (struct sockaddr *)&addr, sizeof(addr));
	close(fd);
	if (ret == 0)
		return error_set(err, "-qmp: %s is in use: another process listens on it", path);
	if (errno != ECONNREFUSED)
		return error_set(err, "-qmp: %s: cannot tell whether it is in use: %s", path,
				 strerror(errno));
	if (unlink(path) < 0)
		return error_set(err, "-qmp: cannot replace the stale socket %s: %s", path,
				 strerror(errno));
	log_info("QMP: replaced the stale socket %s", path);
	return 0;
}

/*
 * A socket the starter made and listens on (libvirt's monitor: -chardev socket,fd=N):
 * tide owns it from here, and has no path to remove at exit.
 */
static int take_listening_fd(struct qmp_server *s, int fd, struct error *err)
{
	int listening = 0, type = 0, flags;
	socklen_t len = sizeof(listening), type_len = sizeof(type);

	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &type_len) < 0)
		return error_set(err, "QMP monitor fd %d: not a socket (%s)", fd, strerror(errno));
	if (!listening || type != SOCK_STREAM)
		return error_set(err, "QMP monitor fd %d: not a listening stream socket", fd);
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		return error_set(err, "QMP monitor fd %d: fcntl: %s", fd, strerror(errno));
	s->listen_fd = fd;
	return 0;
}

static int listen_on(struct qmp_server *s, const char *path, struct error *err)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	mode_t old_mask;
	int ret;

	if (claim_path(path, err))
		return -1;
	s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->listen_fd < 0)
		return error_set(err, "-qmp: socket: %s", strerror(errno));
	memcpy(addr.sun_path, path, strlen(path) + 1);
	/* Created 0600 from the start: no moment in which others may connect. */
	old_mask = umask(0177);
	ret = bind(s->listen_fd, (struct sockaddr *)&addr, sizeof(addr));
	umask(old_mask);
	if (ret < 0)
		return error_set(err, "-qmp: cannot bind %s: %s", path, strerror(errno));
	s->path = strdup(path);
	if (!s->path)
		return error_set(err, "-qmp: out of memory");
	if (listen(s->listen_fd, 16) < 0)
		return error_set(err, "-qmp: listen on %s: %s", path, strerror(errno));
	return 0;
}

struct qmp_server *qmp_server_new(const struct qmp_server_config *cfg, struct event_loop *loop,
				  const struct qmp_engine *engine, struct error *err)
{
	struct qmp_server *s = calloc(1, sizeof(*s));

	if (!s) {
		error_set(err, "out of memory for the QMP server");
		return NULL;
	}
	s->loop = loop;
	s->engine = engine;
	s->listen_fd = s->event_fd = -1;
	s->pending_tail = &s->pending;
	pthread_mutex_init(&s->clients_lock, NULL);
	pthread_mutex_init(&s->events_lock, NULL);
	pthread_cond_init(&s->first_client, NULL);
	if (cfg->listen_fd >= 0 ? take_listening_fd(s, cfg->listen_fd, err)
				: listen_on(s, cfg->path, err))
		goto fail;
	s->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->event_fd < 0) {
		error_set(err, "eventfd: %s", strerror(errno));
		goto fail;
	}
	s->event_watch = event_loop_add_fd(loop, s->event_fd, deliver_events, s, err);
	if (!s->event_watch)
		goto fail;
	s->listen_watch = event_loop_add_fd(loop, s->listen_fd, accept_client, s, err);
	if (!s->listen_watch)
		goto fail;
	log_info("QMP: listening on %s", s->path ? s->path : "an inherited socket");
	return s;
fail:
	qmp_server_free(s);
	return NULL;
}

void qmp_server_free(struct qmp_server *s)
{
	struct qmp_client *clients;

	if (!s)
		return;
	event_loop_remove(s->loop, s->listen_watch);
	event_loop_remove(s->loop, s->event_watch);
	/* Callbacks that start from now on do nothing; one running now finishes first. */
	pthread_mutex_lock(&s->clients_lock);
	s->shutting_down = true;
	clients = s->clients;
	s->clients = NULL;
	pthread_mutex_unlock(&s->clients_lock);
	while (clients) {
		struct qmp_client *c = clients;

		clients = c->next;
		event_loop_remove(s->loop, c->read_watch);
		event_loop_remove(s->loop, c->write_watch);
		/* What is queued, then the last events (SHUTDOWN after quit), if the client reads. */
		if (c->out_len && send(c->fd, c->out, c->out_len, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
			log_debug("QMP client %u: final output: %s", c->number, strerror(errno));
		for (struct pending_line *l = s->pending; l && c->session.command_mode; l = l->next) {
			struct iovec iov[2] = { { l->line, strlen(l->line) },
						{ (void *)QMP_LINE_END, QMP_LINE_END_LEN } };
			struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2 };

			if (sendmsg(c->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
				break;
		}
		close(c->fd);
		qmp_client_free(c);
	}
	while (s->pending) {
		struct pending_line *l = s->pending;

		s->pending = l->next;
		free(l->line);
		free(l);
	}
	if (s->event_fd >= 0)
		close(s->event_fd);
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	/* A tide that switched users may no longer write the socket's directory. */
	if (s->path && !s->leave_socket && unlink(s->path) < 0)
		log_msg(errno == EACCES || errno == EPERM ? LOG_INFO : LOG_WARN,
			"QMP: cannot remove %s: %s", s->path, strerror(errno));
	free(s->path);
	pthread_cond_destroy(&s->first_client);
	pthread_mutex_destroy(&s->events_lock);
	pthread_mutex_destroy(&s->clients_lock);
	free(s);
}

void qmp_server_forget_path(struct qmp_server *s)
{
	s->leave_socket = true;
}

bool qmp_server_wait_for_client(struct qmp_server *s)
{
	sigset_t pending;
	bool connected;

	log_warn("QMP: waiting for a client on %s (wait=on)", s->path);
	pthread_mutex_lock(&s->events_lock);
	while (!s->had_client) {
		struct timespec deadline;

		/* SIGINT/SIGTERM are blocked everywhere (read later by a signalfd): look for them. */
		if (sigpending(&pending) == 0 &&
		    (sigismember(&pending, SIGINT) == 1 || sigismember(&pending, SIGTERM) == 1))
			break;
		clock_gettime(CLOCK_REALTIME, &deadline);
		deadline.tv_nsec += 100 * 1000 * 1000;
		if (deadline.tv_nsec >= 1000000000L) {
			deadline.tv_sec++;
			deadline.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&s->first_client, &s->events_lock, &deadline);
	}
	connected = s->had_client;
	pthread_mutex_unlock(&s->events_lock);
	return connected;
}
