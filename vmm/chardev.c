/*
 * -serial backends. stdio: guest output to stdout; stdin read by a thread
 * that polls it together with an eventfd so chardev_close() can stop it.
 * When stdin is a terminal it is put in raw mode (no echo, no line editing,
 * no signals: Ctrl-C goes to the guest, as with QEMU's -nographic) and
 * QEMU's escape applies: Ctrl-A x quits, Ctrl-A Ctrl-A sends Ctrl-A,
 * Ctrl-A h prints help. The terminal is restored by chardev_close() and,
 * should tide exit without it, by an atexit handler.
 */
#include "vmm/chardev.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <termios.h>
#include <unistd.h>

#include "util/log.h"
#include "vmm/sandbox.h"

#define ESCAPE_CHAR 0x01 /* Ctrl-A */
#define INPUT_CHUNK 256
#define FILE_FLAGS (O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY)

struct chardev {
	enum chardev_kind kind;

	int out_fd; /* -1: output discarded */
	bool own_out_fd;
	pthread_mutex_t write_lock;
	bool write_failed;
	_Atomic bool abort_output; /* see chardev_abort_output() */

	pthread_mutex_t recv_lock; /* held while a receiver runs, so unsetting it is final */
	chardev_receive_fn recv;
	void *recv_opaque;

	int in_fd;
	bool input_running;
	pthread_t input_thread;
	int stop_fd; /* eventfd: chardev_close() wakes the input thread */
	bool in_tty; /* escape processing and raw mode */
	bool escape; /* the last byte was Ctrl-A */
	void (*fn_quit)(void *);
	void *quit_opaque;
};

static const char *errstr(int err, char *buf, size_t len)
{
	return strerror_r(err, buf, len); /* GNU variant: returns the message */
}

/* --- terminal mode, restored at close or exit --- */

static pthread_mutex_t term_lock = PTHREAD_MUTEX_INITIALIZER;
static struct termios term_saved;
static int term_raw_fd = -1;
static pthread_once_t term_atexit_once = PTHREAD_ONCE_INIT;

static void term_restore(void)
{
	pthread_mutex_lock(&term_lock);
	if (term_raw_fd >= 0) {
		while (tcsetattr(term_raw_fd, TCSANOW, &term_saved) && errno == EINTR)
			;
		term_raw_fd = -1;
	}
	pthread_mutex_unlock(&term_lock);
}

static void term_register_atexit(void)
{
	if (atexit(term_restore))
		log_warn("serial: cannot register the terminal restore at exit");
}

/* Returns 0, or -1 when fd cannot be put in raw mode (it is then used as it is). */
static int term_make_raw(int fd)
{
	struct termios tio;
	char buf[128];
	int ret = -1;

	pthread_once(&term_atexit_once, term_register_atexit);
	pthread_mutex_lock(&term_lock);
	if (term_raw_fd >= 0)
		goto out;
	if (tcgetattr(fd, &term_saved)) {
		log_warn("serial: cannot read the terminal mode: %s",
			 errstr(errno, buf, sizeof(buf)));
		goto out;
	}
	tio = term_saved;
	tio.c_iflag &= ~(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
	tio.c_oflag |= OPOST; /* keep "\n" -> "\r\n" for tide's own messages */
	tio.c_lflag &= ~(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
	tio.c_cflag &= ~(CSIZE | PARENB);
	tio.c_cflag |= CS8;
	tio.c_cc[VMIN] = 1;
	tio.c_cc[VTIME] = 0;
	while ((ret = tcsetattr(fd, TCSANOW, &tio)) && errno == EINTR)
		;
	if (ret) {
		log_warn("serial: cannot put the terminal in raw mode: %s",
			 errstr(errno, buf, sizeof(buf)));
		goto out;
	}
	term_raw_fd = fd;
out:
	pthread_mutex_unlock(&term_lock);
	return ret;
}

/* --- parsing and opening --- */

int chardev_parse(const char *spec, enum chardev_kind *kind, const char **path,
		  struct error *err)
{
	*path = NULL;
	if (strcmp(spec, "stdio") == 0) {
		*kind = CHARDEV_STDIO;
	} else if (strcmp(spec, "none") == 0) {
		*kind = CHARDEV_NONE;
	} else if (strncmp(spec, "file:", 5) == 0) {
		if (spec[5] == '\0')
			return error_set(err, "-serial: file: needs a path (file:PATH)");
		*kind = CHARDEV_FILE;
		*path = spec + 5;
	} else {
		return error_set(err, "-serial: unknown backend '%s' (use %s)", spec,
				 "stdio, file:PATH or none");
	}
	return 0;
}

struct chardev *chardev_open(enum chardev_kind kind, const char *path, struct error *err)
{
	struct chardev *chr = calloc(1, sizeof(*chr));
	char buf[128];

	if (!chr) {
		error_set(err, "-serial: out of memory");
		return NULL;
	}
	chr->kind = kind;
	chr->out_fd = -1;
	chr->in_fd = -1;
	chr->stop_fd = -1;
	switch (kind) {
	case CHARDEV_STDIO:
		chr->out_fd = STDOUT_FILENO;
		break;
	case CHARDEV_FILE:
		/* Truncated like QEMU's file backend. */
		do
			chr->out_fd = open(path, FILE_FLAGS, 0644);
		while (chr->out_fd < 0 && errno == EINTR);
		if (chr->out_fd < 0) {
			error_set(err, "-serial file:%s: %s", path,
				  errstr(errno, buf, sizeof(buf)));
			free(chr);
			return NULL;
		}
		chr->own_out_fd = true;
		break;
	case CHARDEV_NONE:
		break;
	}
	pthread_mutex_init(&chr->write_lock, NULL);
	pthread_mutex_init(&chr->recv_lock, NULL);
	return chr;
}

struct chardev *chardev_open_fd(int fd, struct error *err)
{
	struct chardev *chr;
	int flags = fcntl(fd, F_GETFL);

	/* vCPU threads write the console: a full non-blocking pipe would make them poll. */
	if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0) {
		error_set(err, "serial port fd %d: %s", fd, strerror(errno));
		return NULL;
	}
	chr = chardev_open(CHARDEV_NONE, NULL, err);
	if (!chr)
		return NULL;
	chr->kind = CHARDEV_FILE;
	chr->out_fd = fd;
	chr->own_out_fd = true;
	return chr;
}

/* --- output --- */

/* Writes everything or fails; waits out a non-blocking fd that is full. */
static int write_all(struct chardev *chr, int fd, const uint8_t *buf, size_t len, int *err)
{
	/* The vCPU kick interrupts a blocked write with EINTR; the flag then ends it. */
	while (len && !atomic_load(&chr->abort_output)) {
		ssize_t n = write(fd, buf, len);

		if (n > 0) {
			buf += n;
			len -= (size_t)n;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct pollfd p = { .fd = fd, .events = POLLOUT };

			if (poll(&p, 1, -1) < 0 && errno != EINTR) {
				*err = errno;
				return -1;
			}
		} else {
			*err = n < 0 ? errno : EIO;
			return -1;
		}
	}
	return 0;
}

void chardev_abort_output(struct chardev *chr, bool abort)
{
	atomic_store(&chr->abort_output, abort);
}

void chardev_write(struct chardev *chr, const uint8_t *buf, size_t len)
{
	char msg[128];
	int err;

	if (!chr || chr->out_fd < 0 || !len)
		return;
	pthread_mutex_lock(&chr->write_lock);
	if (!chr->write_failed && write_all(chr, chr->out_fd, buf, len, &err)) {
		chr->write_failed = true;
		log_warn("serial output: %s; further output is dropped",
			 errstr(err, msg, sizeof(msg)));
	}
	pthread_mutex_unlock(&chr->write_lock);
}

/* --- input --- */

void chardev_set_receiver(struct chardev *chr, chardev_receive_fn fn, void *opaque)
{
	pthread_mutex_lock(&chr->recv_lock);
	chr->recv = fn;
	chr->recv_opaque = opaque;
	pthread_mutex_unlock(&chr->recv_lock);
}

/* How long terminal input waits for a guest that reads nothing, so Ctrl-A x still gets through. */
#define TTY_INPUT_PATIENCE_MS 1000
#define INPUT_RETRY_MS 2

/*
 * Offers buf to the receiver until it has taken all of it. A full FIFO (or no
 * receiver, between a reset and the next boot) is waited out: for as long as it
 * takes with piped input, at most TTY_INPUT_PATIENCE_MS without progress on a
 * terminal. chardev_close() ends the wait.
 */
static void deliver(struct chardev *chr, const uint8_t *buf, size_t len)
{
	unsigned waited_ms = 0;

	while (len) {
		struct pollfd stop = { .fd = chr->stop_fd, .events = POLLIN };
		size_t taken = 0;

		pthread_mutex_lock(&chr->recv_lock);
		if (chr->recv)
			taken = chr->recv(chr->recv_opaque, buf, len);
		pthread_mutex_unlock(&chr->recv_lock);
		if (taken > len)
			taken = len;
		buf += taken;
		len -= taken;
		waited_ms = taken ? 0 : waited_ms;
		if (!len || (chr->in_tty && waited_ms >= TTY_INPUT_PATIENCE_MS))
			return;
		if (poll(&stop, 1, INPUT_RETRY_MS) > 0)
			return; /* chardev_close() */
		waited_ms += INPUT_RETRY_MS;
	}
}

static void print_escape_help(struct chardev *chr)
{
	static const char help[] = "\r\nC-a h    print this help\r\n"
				   "C-a x    exit tide\r\n"
				   "C-a C-a  send C-a\r\n";

	chardev_write(chr, (const uint8_t *)help, sizeof(help) - 1);
}

/*
 * Forwards buf, handling the Ctrl-A escape on a terminal. After Ctrl-A x the
 * rest of buf is dropped; reading goes on, so a quit that found no machine to
 * stop (between a reset and the next boot) can be repeated.
 */
static void process_input(struct chardev *chr, const uint8_t *buf, size_t len)
{
	uint8_t out[INPUT_CHUNK];
	size_t n = 0;

	if (!chr->in_tty) {
		deliver(chr, buf, len);
		return;
	}
	for (size_t i = 0; i < len; i++) {
		uint8_t c = buf[i];

		if (!chr->escape) {
			if (c == ESCAPE_CHAR)
				chr->escape = true;
			else
				out[n++] = c;
			continue;
		}
		chr->escape = false;
		if (c == ESCAPE_CHAR) {
			out[n++] = c;
		} else if (c == 'x' && chr->fn_quit) {
			deliver(chr, out, n);
			fprintf(stderr, "tide: terminated by C-a x\n");
			chr->fn_quit(chr->quit_opaque);
			return;
		} else if (c == 'h' || c == '?') {
			deliver(chr, out, n);
			n = 0;
			print_escape_help(chr);
		} /* any other key after C-a is swallowed, as QEMU does */
	}
	deliver(chr, out, n);
}

static void *input_thread(void *opaque)
{
	struct chardev *chr = opaque;
	uint8_t buf[INPUT_CHUNK];
	char msg[128];

	sandbox_enter_thread_or_die(SANDBOX_CONSOLE);
	for (;;) {
		struct pollfd fds[2] = {
			{ .fd = chr->in_fd, .events = POLLIN },
			{ .fd = chr->stop_fd, .events = POLLIN },
		};
		ssize_t n;

		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_warn("serial input: poll: %s", errstr(errno, msg, sizeof(msg)));
			break;
		}
		if (fds[1].revents)
			break; /* chardev_close() */
		if (fds[0].revents & POLLNVAL)
			break; /* stdin is closed */
		if (!fds[0].revents)
			continue;
		n = read(chr->in_fd, buf, sizeof(buf));
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
				continue;
			/* EIO: the terminal hung up */
			log_info("serial input: %s; input stops", errstr(errno, msg, sizeof(msg)));
			break;
		}
		if (n == 0)
			break; /* EOF: the guest keeps running without input */
		process_input(chr, buf, (size_t)n);
	}
	return NULL;
}

int chardev_start_input(struct chardev *chr, void (*fn_quit)(void *), void *quit_opaque,
			struct error *err)
{
	sigset_t all, old;
	char msg[128];
	int ret;

	if (chr->kind != CHARDEV_STDIO || chr->input_running)
		return 0;
	chr->in_fd = STDIN_FILENO;
	if (fcntl(chr->in_fd, F_GETFD) < 0)
		return 0; /* stdin closed: nothing to read */
	chr->fn_quit = fn_quit;
	chr->quit_opaque = quit_opaque;
	chr->in_tty = isatty(chr->in_fd);
	if (chr->in_tty) {
		pid_t fg = tcgetpgrp(chr->in_fd);

		/* Reading or re-moding the terminal from the background would stop tide. */
		if (fg != -1 && fg != getpgrp()) {
			log_info("serial: stdin is a terminal we do not control; no input");
			return 0;
		}
		if (term_make_raw(chr->in_fd))
			chr->in_tty = false;
	}
	chr->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (chr->stop_fd < 0) {
		error_set(err, "serial input: eventfd: %s", errstr(errno, msg, sizeof(msg)));
		goto fail;
	}
	/* Signals are for the main and vCPU threads, never for this one. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = pthread_create(&chr->input_thread, NULL, input_thread, chr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret) {
		error_set(err, "serial input: cannot start its thread: %s",
			  errstr(ret, msg, sizeof(msg)));
		goto fail;
	}
	chr->input_running = true;
	return 0;
fail:
	if (chr->stop_fd >= 0)
		close(chr->stop_fd);
	chr->stop_fd = -1;
	if (chr->in_tty)
		term_restore();
	return -1;
}

static void stop_input(struct chardev *chr)
{
	uint64_t one = 1;
	char msg[128];

	if (!chr->input_running)
		return;
	while (write(chr->stop_fd, &one, sizeof(one)) < 0) {
		if (errno != EINTR) {
			/* Cannot happen with a fresh eventfd; the join would hang, so leave it. */
			log_error("serial input: cannot stop its thread: %s",
				  errstr(errno, msg, sizeof(msg)));
			return;
		}
	}
	pthread_join(chr->input_thread, NULL);
	chr->input_running = false;
	close(chr->stop_fd);
	chr->stop_fd = -1;
}

void chardev_close(struct chardev *chr)
{
	if (!chr)
		return;
	stop_input(chr);
	if (chr->in_tty)
		term_restore();
	if (chr->input_running)
		return; /* the thread could not be stopped: leak rather than free under it */
	if (chr->own_out_fd && close(chr->out_fd) && errno != EINTR)
		log_warn("serial output: closing the file failed");
	pthread_mutex_destroy(&chr->recv_lock);
	pthread_mutex_destroy(&chr->write_lock);
	free(chr);
}
