#include "vmm/qmp_server.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
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

/* An event waiting for the loop thread to hand it to the clients. */
struct pending_line {
	char *line;
	struct pending_line *next;
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

/* ---- one client: output ---- */

static void client_close(struct qmp_client *c, const char *why);
static void client_writable(void *opaque);

/* Writes what the socket takes now; arms a write watch for the rest. -1: c was closed. */
static int client_flush(struct qmp_client *c)
{
	size_t done = 0;

	while (done < c->out_len) {
		ssize_t n = send(c->fd, c->out + done, c->out_len - done, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n < 0) {
			client_close(c, strerror(errno));
			return -1;
		}
		done += (size_t)n;
	}
	memmove(c->out, c->out + done, c->out_len - done);
	c->out_len -= done;
	if (c->out_len && !c->write_watch) {
		struct error err;

		c->write_watch = event_loop_add_fd_events(c->server->loop, c->fd, POLLOUT,
							  client_writable, c, &err);
		if (!c->write_watch) {
			client_close(c, err.msg);
			return -1;
		}
	} else if (!c->out_len && c->write_watch) {
		event_loop_remove(c->server->loop, c->write_watch);
		c->write_watch = NULL;
	}
	return 0;
}

/* Queues one line (a newline is added) and writes what it can. Returns -1 if c was closed. */
static int client_send(struct qmp_client *c, const char *line)
{
	size_t len = strlen(line);

	if (c->out_len + len + 1 > QMP_MAX_OUTPUT) {
		client_close(c, "it reads nothing (too much output waiting)");
		return -1;
	}
	if (c->out_len + len + 1 > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 4096;
		char *grown;

		while (cap < c->out_len + len + 1)
			cap *= 2;
		grown = realloc(c->out, cap);
		if (!grown) {
			client_close(c, "out of memory for its output");
			return -1;
		}
		c->out = grown;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, line, len);
	c->out[c->out_len + len] = '\n';
	c->out_len += len + 1;
	return 0;
}

static void client_writable(void *opaque)
{
	struct qmp_client *c = opaque;
	struct qmp_server *s = c->server;

	pthread_mutex_lock(&s->clients_lock);
	if (!s->shutting_down)
		client_flush(c);
	pthread_mutex_unlock(&s->clients_lock);
}

static void client_free(struct qmp_client *c)
{
	json_object_put(c->held);
	free(c->unparsed);
	free(c->text);
	json_tokener_free(c->tokener);
	free(c->out);
	free(c);
}

/* Caller holds clients_lock, on the loop thread. */
static void client_close(struct qmp_client *c, const char *why)
{
	struct qmp_server *s = c->server;

	log_info("QMP client %u disconnected: %s", c->number, why);
	for (struct qmp_client **p = &s->clients; *p; p = &(*p)->next) {
		if (*p == c) {
			*p = c->next;
			s->nr_clients--;
			break;
		}
	}
	event_loop_remove(s->loop, c->read_watch);
	event_loop_remove(s->loop, c->write_watch);
	if (close(c->fd))
		log_warn("QMP client %u: close: %s", c->number, strerror(errno));
	client_free(c);
}

/* ---- one client: input ---- */

/* Input one callback takes from a client before it lets the others (and the guest's I/O) run. */
#define READ_BUDGET (64 * 1024)

static void wake_server(struct qmp_server *s)
{
	uint64_t one = 1;

	if (write(s->event_fd, &one, sizeof(one)) != sizeof(one))
		log_warn("QMP: cannot wake the I/O thread: %s", strerror(errno));
}

static bool engine_ready(const struct qmp_engine *e)
{
	return !e->ready || e->ready(e->ctx);
}

/* Answers one parsed message (or a parse error). Returns -1 if c was closed. */
static int client_answer(struct qmp_client *c, struct json_object *msg, const char *parse_error)
{
	char *reply = qmp_handle(c->server->engine, &c->session, msg, parse_error);
	int ret;

	if (!reply) {
		client_close(c, "out of memory for a reply");
		return -1;
	}
	ret = client_send(c, reply);
	free(reply);
	return ret;
}

/* Keeps len bytes of input for when the held message has run. -1 if c was closed. */
static int keep_unparsed(struct qmp_client *c, const char *buf, size_t len)
{
	char *grown;

	if (!len)
		return 0;
	grown = realloc(c->unparsed, c->unparsed_len + len);
	if (!grown) {
		client_close(c, "out of memory for its input");
		return -1;
	}
	memcpy(grown + c->unparsed_len, buf, len);
	c->unparsed = grown;
	c->unparsed_len += len;
	return 0;
}

/* Keeps the bytes of the message being parsed (at most QMP_MAX_MESSAGE and a read). */
static int keep_text(struct qmp_client *c, const char *buf, size_t len)
{
	if (c->text_len + len > c->text_cap) {
		size_t cap = (c->text_len + len) * 2;
		char *grown = realloc(c->text, cap);

		if (!grown) {
			client_close(c, "out of memory for its input");
			return -1;
		}
		c->text = grown;
		c->text_cap = cap;
	}
	memcpy(c->text + c->text_len, buf, len);
	c->text_len += len;
	return 0;
}

/*
 * Feeds len bytes to the client's JSON stream. Returns -1 if c was closed; a
 * message that must wait for a machine is held with the rest of buf kept.
 */
static int client_parse(struct qmp_client *c, const char *buf, size_t len)
{
	while (len) {
		struct json_object *msg;
		enum json_tokener_error jerr;
		size_t used;

		if (c->held)
			return keep_unparsed(c, buf, len);
		if (c->skip_line) {
			const char *nl = memchr(buf, '\n', len);

			if (!nl)
				return 0;
			c->skip_line = false;
			len -= (size_t)(nl + 1 - buf);
			buf = nl + 1;
			continue;
		}
		msg = json_tokener_parse_ex(c->tokener, buf, (int)len);
		jerr = json_tokener_get_error(c->tokener);
		used = jerr == json_tokener_continue ? len : json_tokener_get_parse_end(c->tokener);
		if (used == 0)
			used = 1; /* json-c always consumes what it judged; never spin */
		if (used > len)
			used = len;
		c->message_bytes += used;
		if (keep_text(c, buf, used)) {
			json_object_put(msg);
			return -1;
		}
		buf += used;
		len -= used;
		/*
		 * Whitespace between messages counts too: a stream of it is garbage as well. A
		 * message that ends in the same read as it crosses the limit is refused too.
		 */
		if (c->message_bytes > QMP_MAX_MESSAGE) {
			char desc[96];

			json_object_put(msg);
			snprintf(desc, sizeof(desc), "message exceeds %u bytes", QMP_MAX_MESSAGE);
			if (client_answer(c, NULL, desc) == 0 && client_flush(c) == 0)
				client_close(c, desc);
			return -1;
		}
		if (jerr == json_tokener_continue)
			return 0;
		c->message_bytes = 0;
		json_tokener_reset(c->tokener);
		if (jerr == json_tokener_success) {
			char why[96];
			bool unsupported = qmp_text_unsupported(c->text, c->text_len, why,
								sizeof(why));

			c->text_len = 0;
			if (unsupported) {
				json_object_put(msg);
				if (client_answer(c, NULL, why))
					return -1;
				continue;
			}
		}
		c->text_len = 0;
		if (jerr != json_tokener_success) {
			c->skip_line = true;
			/* The byte json-c stopped at is consumed already: skip from here. */
			if (client_answer(c, NULL, json_tokener_error_desc(jerr)))
				return -1;
			continue;
		}
		if (!engine_ready(c->server->engine)) {
			c->held = msg; /* the server's wake-up pass runs it */
			continue;
		}
		if (client_answer(c, msg, NULL)) {
			json_object_put(msg);
			return -1;
		}
		json_object_put(msg);
	}
	return 0;
}

/*
 * Runs a held message once commands may run, then the input kept after it, then
 * reads the socket: at most READ_BUDGET per call (the rest on the next wake-up).
 * Caller holds clients_lock. -1 if c was closed.
 */
static int client_service(struct qmp_client *c)
{
	size_t budget = READ_BUDGET;
	char buf[4096];

	if (c->held) {
		struct json_object *msg = c->held;
		char *rest = c->unparsed;
		size_t rest_len = c->unparsed_len;
		int ret;

		if (!engine_ready(c->server->engine))
			return 0;
		c->held = NULL;
		c->unparsed = NULL;
		c->unparsed_len = 0;
		ret = client_answer(c, msg, NULL);
		json_object_put(msg);
		if (ret == 0)
			ret = client_parse(c, rest, rest_len);
		free(rest);
		if (ret)
			return -1;
		if (c->held)
			return client_flush(c);
	}
	c->more_input = false;
	while (!c->held) {
		ssize_t n;

		if (budget == 0) {
			c->more_input = true;
			wake_server(c->server);
			break;
		}
		n = recv(c->fd, buf, sizeof(buf) < budget ? sizeof(buf) : budget, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			client_close(c, n == 0 ? "connection closed" : strerror(errno));
			return -1;
		}
		budget -= (size_t)n;
		if (client_parse(c, buf, (size_t)n))
			return -1;
	}
	return client_flush(c);
}

static void client_readable(void *opaque)
{
	struct qmp_client *c = opaque;
	struct qmp_server *s = c->server;

	pthread_mutex_lock(&s->clients_lock);
	/* A client with a held message reads nothing until it runs (the wake-up pass). */
	if (!s->shutting_down && !c->held)
		client_service(c);
	pthread_mutex_unlock(&s->clients_lock);
}

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
		c->read_watch = event_loop_add_fd(s->loop, fd, client_readable, c, &err);
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
		if (greeting && client_send(c, greeting) == 0)
			client_flush(c);
		else if (!greeting)
			client_close(c, "out of memory for the greeting");
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
static void deliver_events(void *opaque)
{
	struct qmp_server *s = opaque;
	struct pending_line *lines;
	uint64_t count;

	if (read(s->event_fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		log_warn("QMP: event eventfd: %s", strerror(errno));
	pthread_mutex_lock(&s->events_lock);
	lines = s->pending;
	s->pending = NULL;
	s->pending_tail = &s->pending;
	pthread_mutex_unlock(&s->events_lock);

	pthread_mutex_lock(&s->clients_lock);
	while (lines) {
		struct pending_line *l = lines;
		struct qmp_client *c = s->shutting_down ? NULL : s->clients;

		while (c) {
			struct qmp_client *next = c->next; /* c may be closed */

			/* QEMU sends events only to clients out of negotiation mode. */
			if (c->session.command_mode && client_send(c, l->line) == 0)
				client_flush(c);
			c = next;
		}
		lines = l->next;
		free(l->line);
		free(l);
	}
	for (struct qmp_client *c = s->shutting_down ? NULL : s->clients, *next; c; c = next) {
		next = c->next;
		if (c->held || c->more_input)
			client_service(c);
	}
	pthread_mutex_unlock(&s->clients_lock);
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
	if (listen_on(s, cfg->path, err))
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
	log_info("QMP: listening on %s", s->path);
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
			struct iovec iov[2] = { { l->line, strlen(l->line) }, { "\n", 1 } };
			struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2 };

			if (sendmsg(c->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
				break;
		}
		close(c->fd);
		client_free(c);
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
