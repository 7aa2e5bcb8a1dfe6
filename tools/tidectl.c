/*
 * tidectl: a small QMP client for tide's control socket (and QEMU's).
 *
 *   tidectl -s SOCK info
 *   tidectl -s SOCK resize ID SIZE [--wait [--timeout S]]
 *   tidectl -s SOCK watch
 *   tidectl -s SOCK raw JSON
 *
 * JSON is json-c's, as in tide. Exit status: 0 done, 1 failed (or timed out),
 * 2 bad usage.
 */
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "util/size.h"
#include "util/util.h"

#define JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

struct conn {
	int fd;
	json_tokener *tok;
	char buf[65536];
	size_t len, off; /* unparsed input: buf[off, len) */
	int next_id;
	bool closed; /* the server closed the connection */
	/* Events that arrive while a command waits for its reply. */
	void (*on_event)(struct json_object *event, void *opaque);
	void *opaque;
	/* When set (now_s() time), a reply not there by then calls on_timeout, which exits. */
	double deadline;
	void (*on_timeout)(void *opaque);
};

static double now_s(void)
{
	return (double)monotonic_ns() / 1e9;
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("tidectl: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

/*
 * The next message, waiting at most timeout_ms (-1: forever). NULL on timeout;
 * dies when the connection ends or sends something that is not JSON.
 */
static struct json_object *conn_read(struct conn *c, int timeout_ms)
{
	double deadline = timeout_ms < 0 ? 0 : now_s() + timeout_ms / 1000.0;

	for (;;) {
		struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
		ssize_t n;
		int wait_ms = -1;

		while (c->off < c->len) {
			struct json_object *msg =
				json_tokener_parse_ex(c->tok, c->buf + c->off, (int)(c->len - c->off));
			enum json_tokener_error jerr = json_tokener_get_error(c->tok);

			if (jerr == json_tokener_continue) {
				c->off = c->len;
				break;
			}
			if (jerr != json_tokener_success)
				die("the server sent something that is not JSON: %s",
				    json_tokener_error_desc(jerr));
			c->off += json_tokener_get_parse_end(c->tok);
			json_tokener_reset(c->tok);
			return msg;
		}
		c->off = c->len = 0;
		if (timeout_ms >= 0) {
			double left = deadline - now_s();

			if (left <= 0)
				return NULL;
			wait_ms = (int)(left * 1000) + 1;
		}
		n = poll(&pfd, 1, wait_ms);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("poll: %s", strerror(errno));
		if (n == 0)
			return NULL;
		n = read(c->fd, c->buf, sizeof(c->buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("read: %s", strerror(errno));
		if (n == 0) {
			c->closed = true; /* callers that need more say so */
			return NULL;
		}
		c->len = (size_t)n;
	}
}

static bool is_event(struct json_object *msg)
{
	return json_object_object_get_ex(msg, "event", NULL);
}

static void write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("cannot send to tide: %s", strerror(errno));
		p += n;
		len -= (size_t)n;
	}
}

static void conn_send(struct conn *c, struct json_object *msg)
{
	const char *text = json_object_to_json_string_ext(msg, JSON_FLAGS);

	write_all(c->fd, text, strlen(text));
	write_all(c->fd, "\n", 1);
}

/* Sends msg (an "id" is added when it has none) and returns the reply; events go to on_event. */
static struct json_object *conn_exchange(struct conn *c, struct json_object *msg)
{
	struct json_object *reply;

	if (!json_object_object_get_ex(msg, "id", NULL))
		json_object_object_add(msg, "id", json_object_new_int(++c->next_id));
	conn_send(c, msg);
	for (;;) {
		double left = c->deadline ? c->deadline - now_s() : 0;

		if (c->deadline && left <= 0)
			c->on_timeout(c->opaque);
		/* Poll a day at a time at most: int milliseconds. */
		reply = conn_read(c, c->deadline ? (int)((left < 86400 ? left : 86400) * 1000) + 1
						 : -1);
		if (!reply && !c->closed)
			continue; /* the deadline passed: on_timeout says so */
		if (!reply)
			die("the connection closed before the reply");
		if (!is_event(reply))
			return reply;
		if (c->on_event)
			c->on_event(reply, c->opaque);
		json_object_put(reply);
	}
}

/* A command's "return" (the caller puts the reply); an error reply dies with its text. */
static struct json_object *conn_command(struct conn *c, const char *name, struct json_object *args,
					struct json_object **reply)
{
	struct json_object *msg = json_object_new_object(), *ret, *error, *desc;

	json_object_object_add(msg, "execute", json_object_new_string(name));
	if (args)
		json_object_object_add(msg, "arguments", args);
	*reply = conn_exchange(c, msg);
	json_object_put(msg);
	if (json_object_object_get_ex(*reply, "error", &error)) {
		json_object_object_get_ex(error, "desc", &desc);
		die("%s: %s", name, desc ? json_object_get_string(desc) : "error");
	}
	if (!json_object_object_get_ex(*reply, "return", &ret))
		die("%s: the reply has neither return nor error", name);
	return ret;
}

static void conn_open(struct conn *c, const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct json_object *greeting, *reply;

	memset(c, 0, sizeof(*c));
	if (strlen(path) >= sizeof(addr.sun_path))
		die("%s: socket path too long", path);
	memcpy(addr.sun_path, path, strlen(path) + 1);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		die("socket: %s", strerror(errno));
	if (connect(c->fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		die("cannot connect to %s: %s", path, strerror(errno));
	c->tok = json_tokener_new();
	if (!c->tok)
		die("out of memory");
	greeting = conn_read(c, 10000);
	if (!greeting || !json_object_object_get_ex(greeting, "QMP", NULL))
		die("%s: no QMP greeting", path);
	json_object_put(greeting);
	conn_command(c, "qmp_capabilities", NULL, &reply);
	json_object_put(reply);
}

static void conn_close(struct conn *c)
{
	json_tokener_free(c->tok);
	close(c->fd);
}

static uint64_t get_u64(struct json_object *obj, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(obj, key, &v) ? json_object_get_uint64(v) : 0;
}

static const char *get_str(struct json_object *obj, const char *key, const char *dflt)
{
	struct json_object *v;

	return json_object_object_get_ex(obj, key, &v) ? json_object_get_string(v) : dflt;
}

static const char *human(uint64_t bytes, char *buf, unsigned len)
{
	return format_size(bytes, buf, len);
}

/* ---- info ---- */

/* Entries of a command's list reply; anything else is not a server tidectl knows. */
static size_t list_length(struct json_object *ret, const char *command)
{
	if (!json_object_is_type(ret, json_type_array))
		die("%s answered %s, not a list", command,
		    json_object_to_json_string_ext(ret, JSON_FLAGS));
	return json_object_array_length(ret);
}

static int cmd_info(struct conn *c)
{
	struct json_object *reply, *ret;
	char a[32], b[32], d[32], e[32];
	size_t n;

	ret = conn_command(c, "query-name", NULL, &reply);
	if (get_str(ret, "name", NULL))
		printf("name:           %s\n", get_str(ret, "name", ""));
	json_object_put(reply);
	ret = conn_command(c, "query-status", NULL, &reply);
	printf("status:         %s\n", get_str(ret, "status", "?"));
	json_object_put(reply);
	ret = conn_command(c, "query-memory-size-summary", NULL, &reply);
	printf("base memory:    %s\n", human(get_u64(ret, "base-memory"), a, sizeof(a)));
	printf("plugged memory: %s\n", human(get_u64(ret, "plugged-memory"), a, sizeof(a)));
	json_object_put(reply);
	ret = conn_command(c, "query-memory-devices", NULL, &reply);
	n = list_length(ret, "query-memory-devices");
	for (size_t i = 0; i < n; i++) {
		struct json_object *dev = json_object_array_get_idx(ret, i), *data;

		if (!json_object_object_get_ex(dev, "data", &data))
			continue;
		printf("%s (%s, %s at 0x%" PRIx64 "): plugged %s, requested %s, max %s, "
		       "block %s\n",
		       get_str(data, "id", "(no id)"), get_str(dev, "type", "?"),
		       get_str(data, "memdev", "?"), get_u64(data, "memaddr"),
		       human(get_u64(data, "size"), a, sizeof(a)),
		       human(get_u64(data, "requested-size"), b, sizeof(b)),
		       human(get_u64(data, "max-size"), d, sizeof(d)),
		       human(get_u64(data, "block-size"), e, sizeof(e)));
	}
	json_object_put(reply);
	return 0;
}

/* ---- resize ---- */

struct resize_watch {
	const char *id;
	uint64_t size, target;
	bool changed, tty;
	double timeout;
};

static void resize_timed_out(void *opaque)
{
	const struct resize_watch *w = opaque;
	char a[32], b[32];

	if (w->tty)
		putchar('\n');
	fprintf(stderr,
		"tidectl: timed out after %.0f s: %s plugged %s (%" PRIu64 " bytes) of %s "
		"requested\n",
		w->timeout, w->id, human(w->size, a, sizeof(a)), w->size,
		human(w->target, b, sizeof(b)));
	exit(1);
}

static void resize_on_event(struct json_object *ev, void *opaque)
{
	struct resize_watch *w = opaque;
	struct json_object *data;

	if (strcmp(get_str(ev, "event", ""), "MEMORY_DEVICE_SIZE_CHANGE") ||
	    !json_object_object_get_ex(ev, "data", &data) ||
	    strcmp(get_str(data, "id", ""), w->id))
		return;
	w->size = get_u64(data, "size");
	w->changed = true;
}

/* The device's plugged size, by query-memory-devices (events are rate-limited). */
static uint64_t query_size(struct conn *c, const char *id)
{
	struct json_object *reply, *ret = conn_command(c, "query-memory-devices", NULL, &reply);
	size_t n = list_length(ret, "query-memory-devices");
	uint64_t size = 0;
	bool found = false;

	for (size_t i = 0; i < n && !found; i++) {
		struct json_object *data;

		if (json_object_object_get_ex(json_object_array_get_idx(ret, i), "data", &data) &&
		    !strcmp(get_str(data, "id", ""), id)) {
			size = get_u64(data, "size");
			found = true;
		}
	}
	json_object_put(reply);
	if (!found)
		die("no memory device with id '%s'", id);
	return size;
}

static void show_progress(const char *id, uint64_t start, uint64_t size, uint64_t target,
			  bool tty)
{
	char a[32], b[32];

	if (!tty) {
		printf("%s: plugged %s of %s requested\n", id, human(size, a, sizeof(a)),
		       human(target, b, sizeof(b)));
	} else {
		uint64_t span = start > target ? start - target : target - start;
		uint64_t done = start > target ? (start > size ? start - size : 0)
					       : (size > start ? size - start : 0);
		int width = 30, filled = span ? (int)((double)done / (double)span * width) : width;

		if (filled > width)
			filled = width;
		printf("\r%s: [%.*s%*s] %s / %s  ", id, filled, "##############################",
		       width - filled, "", human(size, a, sizeof(a)), human(target, b, sizeof(b)));
	}
	fflush(stdout);
}

static int cmd_resize(struct conn *c, const char *id, uint64_t target, bool wait, double timeout)
{
	struct json_object *args = json_object_new_object(), *reply;
	bool tty = isatty(STDOUT_FILENO);
	struct resize_watch w = { .id = id, .target = target, .tty = tty, .timeout = timeout };
	double start = now_s(), last_poll = 0;
	uint64_t first;
	char a[32], b[32];
	char path[160];

	snprintf(path, sizeof(path), "/machine/peripheral/%s", id);
	json_object_object_add(args, "path", json_object_new_string(path));
	json_object_object_add(args, "property", json_object_new_string("requested-size"));
	json_object_object_add(args, "value", json_object_new_uint64(target));
	c->on_event = resize_on_event;
	c->opaque = &w;
	/* --timeout bounds the whole wait, replies included (tide may hold commands a while). */
	if (wait && timeout > 0) {
		c->deadline = start + timeout;
		c->on_timeout = resize_timed_out;
	}
	conn_command(c, "qom-set", args, &reply);
	json_object_put(reply);
	if (!wait) {
		printf("%s: requested-size set to %s\n", id, human(target, a, sizeof(a)));
		return 0;
	}
	first = w.size = query_size(c, id);
	show_progress(id, first, w.size, target, tty);
	while (w.size != target) {
		double left = timeout > 0 ? start + timeout - now_s() : 1.0;
		struct json_object *ev;
		uint64_t before = w.size;

		if (left <= 0)
			resize_timed_out(&w);
		ev = conn_read(c, left < 1.0 ? (int)(left * 1000) + 1 : 1000);
		if (c->closed) {
			if (tty)
				putchar('\n');
			die("the connection closed (tide exited?) with %s plugged %s (%" PRIu64
			    " bytes) of %s requested",
			    id, human(w.size, a, sizeof(a)), w.size, human(target, b, sizeof(b)));
		}
		if (ev) {
			if (is_event(ev))
				resize_on_event(ev, &w);
			json_object_put(ev);
		}
		/* Events are rate-limited to one a second: look for ourselves as often. */
		if (now_s() - last_poll >= 1.0) {
			w.size = query_size(c, id);
			last_poll = now_s();
		}
		if (w.size != before)
			show_progress(id, first, w.size, target, tty);
	}
	if (tty)
		putchar('\n');
	printf("%s: plugged %s = requested, after %.1f s\n", id, human(w.size, a, sizeof(a)),
	       now_s() - start);
	return 0;
}

/* ---- watch, raw ---- */

static int cmd_watch(struct conn *c)
{
	for (;;) {
		struct json_object *msg = conn_read(c, -1);

		if (!msg)
			return 0; /* tide went away */
		printf("%s\n", json_object_to_json_string_ext(msg, JSON_FLAGS));
		fflush(stdout);
		json_object_put(msg);
	}
}

static int cmd_raw(struct conn *c, const char *text)
{
	enum json_tokener_error jerr;
	struct json_object *msg = json_tokener_parse_verbose(text, &jerr), *reply;
	int status;

	if (!msg || !json_object_is_type(msg, json_type_object)) {
		fprintf(stderr, "tidectl: raw: not a JSON object: %s\n",
			msg ? "another JSON value" : json_tokener_error_desc(jerr));
		json_object_put(msg);
		return 2;
	}
	reply = conn_exchange(c, msg);
	printf("%s\n", json_object_to_json_string_ext(reply, JSON_FLAGS));
	status = json_object_object_get_ex(reply, "error", NULL) ? 1 : 0;
	json_object_put(reply);
	json_object_put(msg);
	return status;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: tidectl -s SOCKET COMMAND\n"
		"  info                                devices, sizes and run state\n"
		"  resize ID SIZE [--wait [--timeout S]]\n"
		"                                      set requested-size (SIZE: 512M, 2G, bytes);\n"
		"                                      --wait returns once plugged == requested\n"
		"                                      (exit 1 with the size reached on timeout)\n"
		"  watch                               print events as they come (JSON lines)\n"
		"  raw JSON                            send one QMP command, print the reply\n"
		"SOCKET defaults to $TIDE_QMP_SOCKET.\n");
}

static int bad_usage(const char *fmt, const char *arg)
{
	fputs("tidectl: ", stderr);
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	usage(stderr);
	return 2;
}

int main(int argc, char **argv)
{
	const char *sock = getenv("TIDE_QMP_SOCKET"), *pos[3];
	unsigned npos = 0;
	bool wait = false;
	double timeout = 0;
	struct conn c;
	int status;

	/* A closed socket is reported where it is noticed, not by a silent SIGPIPE death. */
	signal(SIGPIPE, SIG_IGN);
	/* Options may come anywhere: tidectl -s S resize vm0 2G --wait --timeout 60. */
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(a, "-s") || !strcmp(a, "--socket")) {
			if (++i == argc)
				return bad_usage("%s needs a socket path", a);
			sock = argv[i];
		} else if (!strcmp(a, "--wait")) {
			wait = true;
		} else if (!strcmp(a, "--timeout")) {
			char *end;

			if (++i == argc)
				return bad_usage("%s needs a number of seconds", a);
			timeout = strtod(argv[i], &end);
			/* A year at most: the wait is counted in int milliseconds (and inf is no
			 * number of seconds). */
			if (*end || !(timeout > 0) || timeout > 366 * 86400.0)
				return bad_usage("--timeout: '%s' is not a number of seconds in "
						 "(0, 31622400]",
						 argv[i]);
		} else if (a[0] == '-' && a[1]) {
			return bad_usage("unknown option '%s'", a);
		} else if (npos == 3) {
			return bad_usage("too many arguments ('%s')", a);
		} else {
			pos[npos++] = a;
		}
	}
	if (!sock)
		return bad_usage("%s", "no socket: give -s SOCKET (or set TIDE_QMP_SOCKET)");
	if (!npos)
		return bad_usage("%s", "no command");
	if ((wait || timeout > 0) && strcmp(pos[0], "resize"))
		return bad_usage("--wait and --timeout go with resize, not %s", pos[0]);
	if (timeout > 0 && !wait)
		return bad_usage("%s", "--timeout needs --wait");
	if (!strcmp(pos[0], "info") || !strcmp(pos[0], "watch")) {
		if (npos != 1)
			return bad_usage("%s takes no arguments", pos[0]);
	} else if (!strcmp(pos[0], "resize")) {
		if (npos != 3)
			return bad_usage("%s", "usage: resize ID SIZE [--wait [--timeout S]]");
	} else if (!strcmp(pos[0], "raw")) {
		if (npos != 2)
			return bad_usage("%s", "usage: raw JSON");
	} else {
		return bad_usage("unknown command '%s'", pos[0]);
	}
	if (!strcmp(pos[0], "resize")) {
		struct error err;
		uint64_t size;

		if (parse_size(pos[2], 1, &size, &err))
			return bad_usage("resize: %s", err.msg);
		conn_open(&c, sock);
		status = cmd_resize(&c, pos[1], size, wait, timeout);
	} else {
		conn_open(&c, sock);
		if (!strcmp(pos[0], "info"))
			status = cmd_info(&c);
		else if (!strcmp(pos[0], "watch"))
			status = cmd_watch(&c);
		else
			status = cmd_raw(&c, pos[1]);
	}
	conn_close(&c);
	return status;
}
