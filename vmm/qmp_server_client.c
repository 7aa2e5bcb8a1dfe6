/* One QMP client's input and output: the server's accepted sockets, each served without blocking. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/event_loop.h"
#include "util/log.h"
#include "vmm/qmp_server.h"
#include "vmm/qmp_server_internal.h"

/* ---- one client: output ---- */

static void client_writable(void *opaque);

/* Writes what the socket takes now; arms a write watch for the rest. -1: c was closed. */
int qmp_client_flush(struct qmp_client *c)
{
	size_t done = 0;

	while (done < c->out_len) {
		ssize_t n = send(c->fd, c->out + done, c->out_len - done, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n < 0) {
			qmp_client_close(c, strerror(errno));
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
			qmp_client_close(c, err.msg);
			return -1;
		}
	} else if (!c->out_len && c->write_watch) {
		event_loop_remove(c->server->loop, c->write_watch);
		c->write_watch = NULL;
	}
	return 0;
}

/* Queues one line (a newline is added) and writes what it can. Returns -1 if c was closed. */
int qmp_client_send(struct qmp_client *c, const char *line)
{
	size_t len = strlen(line);

	if (c->out_len + len + QMP_LINE_END_LEN > QMP_MAX_OUTPUT) {
		qmp_client_close(c, "it reads nothing (too much output waiting)");
		return -1;
	}
	if (c->out_len + len + QMP_LINE_END_LEN > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 4096;
		char *grown;

		while (cap < c->out_len + len + QMP_LINE_END_LEN)
			cap *= 2;
		grown = realloc(c->out, cap);
		if (!grown) {
			qmp_client_close(c, "out of memory for its output");
			return -1;
		}
		c->out = grown;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, line, len);
	memcpy(c->out + c->out_len + len, QMP_LINE_END, QMP_LINE_END_LEN);
	c->out_len += len + QMP_LINE_END_LEN;
	return 0;
}

static void client_writable(void *opaque)
{
	struct qmp_client *c = opaque;
	struct qmp_server *s = c->server;

	pthread_mutex_lock(&s->clients_lock);
	if (!s->shutting_down)
		qmp_client_flush(c);
	pthread_mutex_unlock(&s->clients_lock);
}

void qmp_client_free(struct qmp_client *c)
{
	json_object_put(c->held);
	free(c->unparsed);
	free(c->text);
	json_tokener_free(c->tokener);
	free(c->out);
	free(c);
}

/* Caller holds clients_lock, on the loop thread. */
void qmp_client_close(struct qmp_client *c, const char *why)
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
	qmp_client_free(c);
}

/* ---- one client: input ---- */

/* Input one callback takes from a client before it lets the others (and the guest's I/O) run. */
#define READ_BUDGET (64 * 1024)

static bool engine_ready(const struct qmp_engine *e)
{
	return !e->ready || e->ready(e->ctx);
}

/* Set by a command's handler on this (the loop) thread: see qmp_server_events_before_reply. */
static __thread bool events_before_reply;

void qmp_server_events_before_reply(void)
{
	events_before_reply = true;
}

/* Answers one parsed message (or a parse error). Returns -1 if c was closed. */
static int client_answer(struct qmp_client *c, struct json_object *msg, const char *parse_error)
{
	char *reply = qmp_handle(c->server->engine, &c->session, msg, parse_error);
	int ret;

	if (!reply) {
		qmp_client_close(c, "out of memory for a reply");
		return -1;
	}
	if (events_before_reply) {
		events_before_reply = false;
		if (qmp_server_send_events_locked(c->server, c)) {
			free(reply);
			return -1;
		}
	}
	ret = qmp_client_send(c, reply);
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
		qmp_client_close(c, "out of memory for its input");
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
			qmp_client_close(c, "out of memory for its input");
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
			if (client_answer(c, NULL, desc) == 0 && qmp_client_flush(c) == 0)
				qmp_client_close(c, desc);
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
int qmp_client_service(struct qmp_client *c)
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
			return qmp_client_flush(c);
	}
	c->more_input = false;
	while (!c->held) {
		ssize_t n;

		if (budget == 0) {
			c->more_input = true;
			qmp_server_wake(c->server);
			break;
		}
		n = recv(c->fd, buf, sizeof(buf) < budget ? sizeof(buf) : budget, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			qmp_client_close(c, n == 0 ? "connection closed" : strerror(errno));
			return -1;
		}
		budget -= (size_t)n;
		if (client_parse(c, buf, (size_t)n))
			return -1;
	}
	return qmp_client_flush(c);
}

void qmp_client_readable(void *opaque)
{
	struct qmp_client *c = opaque;
	struct qmp_server *s = c->server;

	pthread_mutex_lock(&s->clients_lock);
	/* A client with a held message reads nothing until it runs (the wake-up pass). */
	if (!s->shutting_down && !c->held)
		qmp_client_service(c);
	pthread_mutex_unlock(&s->clients_lock);
}
