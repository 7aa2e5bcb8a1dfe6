#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "vmm/chardev.h"

/* --- parsing --- */

START_TEST(parse_backends)
{
	enum chardev_kind kind;
	const char *path = "unset";
	struct error err;

	ck_assert_int_eq(chardev_parse("stdio", &kind, &path, &err), 0);
	ck_assert_int_eq(kind, CHARDEV_STDIO);
	ck_assert_ptr_null(path);
	ck_assert_int_eq(chardev_parse("none", &kind, &path, &err), 0);
	ck_assert_int_eq(kind, CHARDEV_NONE);
	ck_assert_int_eq(chardev_parse("file:/tmp/con,sole.log", &kind, &path, &err), 0);
	ck_assert_int_eq(kind, CHARDEV_FILE);
	ck_assert_str_eq(path, "/tmp/con,sole.log");
}
END_TEST

START_TEST(parse_errors)
{
	enum chardev_kind kind;
	const char *path;
	struct error err;

	ck_assert_int_eq(chardev_parse("tcp:localhost:4444", &kind, &path, &err), -1);
	ck_assert_str_eq(err.msg, "-serial: unknown backend 'tcp:localhost:4444' "
				  "(use stdio, file:PATH or none)");
	ck_assert_int_eq(chardev_parse("", &kind, &path, &err), -1);
	ck_assert_str_eq(err.msg, "-serial: unknown backend '' (use stdio, file:PATH or none)");
	ck_assert_int_eq(chardev_parse("Stdio", &kind, &path, &err), -1);
	ck_assert_int_eq(chardev_parse("stdio2", &kind, &path, &err), -1);
	ck_assert_int_eq(chardev_parse("file", &kind, &path, &err), -1);
	ck_assert_int_eq(chardev_parse("file:", &kind, &path, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "file:PATH"));
}
END_TEST

/* --- file and none --- */

START_TEST(file_backend_truncates)
{
	char dir[] = "/tmp/tide-chardev-XXXXXX", path[64], buf[64];
	struct stat st;
	struct error err;
	struct chardev *chr;
	int fd;
	ssize_t n;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/out", dir);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "old contents", 12), 12);
	close(fd);

	chr = chardev_open(CHARDEV_FILE, path, &err);
	ck_assert_ptr_nonnull(chr);
	chardev_write(chr, (const uint8_t *)"hello ", 6);
	chardev_write(chr, (const uint8_t *)"world", 5);
	ck_assert_int_eq(chardev_start_input(chr, NULL, NULL, &err), 0); /* no input: fine */
	chardev_close(chr);

	fd = open(path, O_RDONLY);
	n = read(fd, buf, sizeof(buf));
	close(fd);
	ck_assert_int_eq(n, 11);
	ck_assert(memcmp(buf, "hello world", 11) == 0);

	/* A new file is created 0644 (less the umask). */
	umask(022);
	snprintf(path, sizeof(path), "%s/new", dir);
	chr = chardev_open(CHARDEV_FILE, path, &err);
	ck_assert_ptr_nonnull(chr);
	chardev_close(chr);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0644);
	unlink(path);
	snprintf(path, sizeof(path), "%s/out", dir);
	unlink(path);
	rmdir(dir);
}
END_TEST

START_TEST(file_backend_error)
{
	struct error err;

	ck_assert_ptr_null(chardev_open(CHARDEV_FILE, "/nonexistent-dir/x/y", &err));
	ck_assert_ptr_nonnull(strstr(err.msg, "-serial file:/nonexistent-dir/x/y: "));
}
END_TEST

START_TEST(none_discards)
{
	struct error err;
	struct chardev *chr = chardev_open(CHARDEV_NONE, NULL, &err);

	ck_assert_ptr_nonnull(chr);
	chardev_write(chr, (const uint8_t *)"x", 1);
	ck_assert_int_eq(chardev_start_input(chr, NULL, NULL, &err), 0);
	chardev_close(chr);
	chardev_write(NULL, (const uint8_t *)"x", 1);
}
END_TEST

/* --- stdio --- */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static uint8_t got[256];
static size_t got_len;
static int quits;

static size_t per_call_limit; /* 0: take everything */
static int refusals_left;     /* calls that take nothing, like a full FIFO */

static size_t receive(void *opaque, const uint8_t *buf, size_t len)
{
	ck_assert_ptr_eq(opaque, got);
	pthread_mutex_lock(&lock);
	if (refusals_left > 0) {
		refusals_left--;
		pthread_mutex_unlock(&lock);
		return 0;
	}
	if (per_call_limit && len > per_call_limit)
		len = per_call_limit;
	ck_assert_uint_le(got_len + len, sizeof(got));
	memcpy(got + got_len, buf, len);
	got_len += len;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
	return len;
}

static void quit(void *opaque)
{
	ck_assert_ptr_eq(opaque, &quits);
	pthread_mutex_lock(&lock);
	quits++;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
}

/* Waits until got holds len bytes (and quits reaches nquits), at most 5 s. */
static void wait_for(size_t len, int nquits)
{
	struct timespec deadline;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 5;
	pthread_mutex_lock(&lock);
	while ((got_len < len || quits < nquits) &&
	       pthread_cond_timedwait(&cond, &lock, &deadline) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&lock);
}

static int saved_stdin = -1, saved_stdout = -1;

static void setup(void)
{
	got_len = 0;
	quits = 0;
	per_call_limit = 0;
	refusals_left = 0;
	saved_stdin = dup(STDIN_FILENO);
	saved_stdout = dup(STDOUT_FILENO);
}

static void teardown(void)
{
	dup2(saved_stdin, STDIN_FILENO);
	dup2(saved_stdout, STDOUT_FILENO);
	close(saved_stdin);
	close(saved_stdout);
}

START_TEST(stdio_output)
{
	int p[2];
	char buf[16];
	struct error err;
	struct chardev *chr;

	ck_assert_int_eq(pipe(p), 0);
	dup2(p[1], STDOUT_FILENO);
	close(p[1]);
	chr = chardev_open(CHARDEV_STDIO, NULL, &err);
	ck_assert_ptr_nonnull(chr);
	chardev_write(chr, (const uint8_t *)"xyz", 3);
	chardev_close(chr);
	ck_assert_int_eq(read(p[0], buf, sizeof(buf)), 3);
	ck_assert(memcmp(buf, "xyz", 3) == 0);
	close(p[0]);
}
END_TEST

/* A stdio chardev reading a fresh pipe as stdin, feeding receive(); p[1] is the write end. */
static struct chardev *start_pipe_input(int p[2])
{
	struct error err;
	struct chardev *chr;

	ck_assert_int_eq(pipe(p), 0);
	dup2(p[0], STDIN_FILENO);
	close(p[0]);
	chr = chardev_open(CHARDEV_STDIO, NULL, &err);
	ck_assert_ptr_nonnull(chr);
	chardev_set_receiver(chr, receive, got);
	ck_assert_int_eq(chardev_start_input(chr, quit, &quits, &err), 0);
	return chr;
}

START_TEST(stdio_pipe_input_until_eof)
{
	int p[2];
	struct chardev *chr;

	chr = start_pipe_input(p);
	/* Not a terminal: bytes pass through untouched, Ctrl-A included. */
	ck_assert_int_eq(write(p[1], "abc\001x\001\001", 7), 7);
	wait_for(7, 0);
	ck_assert_uint_eq(got_len, 7);
	ck_assert(memcmp(got, "abc\001x\001\001", 7) == 0);
	ck_assert_int_eq(quits, 0);
	close(p[1]); /* EOF ends the input thread, not tide */
	usleep(20000);
	ck_assert_int_eq(quits, 0);
	chardev_close(chr);
}
END_TEST

/* A receiver with no room (a full UART FIFO) gets the bytes again later: none are lost. */
START_TEST(stdio_pipe_input_waits_for_room)
{
	uint8_t sent[200];
	int p[2];
	struct chardev *chr;

	for (size_t i = 0; i < sizeof(sent); i++)
		sent[i] = (uint8_t)('a' + i % 26);
	per_call_limit = 3;
	refusals_left = 5;
	chr = start_pipe_input(p);
	ck_assert_int_eq(write(p[1], sent, sizeof(sent)), (ssize_t)sizeof(sent));
	wait_for(sizeof(sent), 0);
	ck_assert_uint_eq(got_len, sizeof(sent));
	ck_assert(memcmp(got, sent, sizeof(sent)) == 0);
	close(p[1]);
	chardev_close(chr);
}
END_TEST

START_TEST(stdio_close_stops_an_idle_reader)
{
	int p[2];
	struct error err;
	struct chardev *chr;

	chr = start_pipe_input(p);
	ck_assert_int_eq(chardev_start_input(chr, quit, &quits, &err), 0); /* once is enough */
	chardev_close(chr); /* the thread sits in poll(): must return, not hang */
	close(p[1]);
	ck_assert_uint_eq(got_len, 0);
}
END_TEST

START_TEST(stdio_closed_stdin)
{
	struct error err;
	struct chardev *chr;

	close(STDIN_FILENO);
	chr = chardev_open(CHARDEV_STDIO, NULL, &err);
	ck_assert_ptr_nonnull(chr);
	ck_assert_int_eq(chardev_start_input(chr, quit, &quits, &err), 0);
	chardev_close(chr);
}
END_TEST

START_TEST(stdio_unset_receiver_gets_nothing_more)
{
	int p[2];
	struct chardev *chr;

	chr = start_pipe_input(p);
	ck_assert_int_eq(write(p[1], "a", 1), 1);
	wait_for(1, 0);
	chardev_set_receiver(chr, NULL, NULL);
	ck_assert_int_eq(write(p[1], "b", 1), 1);
	usleep(20000);
	chardev_close(chr);
	close(p[1]);
	ck_assert_uint_eq(got_len, 1);
}
END_TEST

static int open_pty(int *slave)
{
	int master = posix_openpt(O_RDWR | O_NOCTTY);

	ck_assert_int_ge(master, 0);
	ck_assert_int_eq(grantpt(master), 0);
	ck_assert_int_eq(unlockpt(master), 0);
	*slave = open(ptsname(master), O_RDWR | O_NOCTTY);
	ck_assert_int_ge(*slave, 0);
	return master;
}

START_TEST(terminal_raw_mode_and_escape)
{
	int slave, master = open_pty(&slave), out[2];
	struct termios before, during, after;
	struct error err;
	struct chardev *chr;
	char help[256];
	ssize_t n;

	ck_assert_int_eq(tcgetattr(slave, &before), 0);
	ck_assert(before.c_lflag & ICANON);
	dup2(slave, STDIN_FILENO);
	ck_assert_int_eq(pipe(out), 0);
	dup2(out[1], STDOUT_FILENO);
	close(out[1]);

	chr = chardev_open(CHARDEV_STDIO, NULL, &err);
	ck_assert_ptr_nonnull(chr);
	chardev_set_receiver(chr, receive, got);
	ck_assert_int_eq(chardev_start_input(chr, quit, &quits, &err), 0);
	ck_assert_int_eq(tcgetattr(slave, &during), 0);
	ck_assert(!(during.c_lflag & (ICANON | ECHO | ISIG)));
	ck_assert(!(during.c_iflag & (ICRNL | IXON)));

	/* C-a C-a sends C-a, C-a z is swallowed, C-a h prints help; escapes may span reads. */
	ck_assert_int_eq(write(master, "ab\001\001c\001zd\001", 9), 9);
	wait_for(5, 0);
	ck_assert_int_eq(write(master, "he\r", 3), 3);
	wait_for(7, 0);
	ck_assert_uint_eq(got_len, 7);
	ck_assert(memcmp(got, "ab\001cde\r", 7) == 0); /* raw: CR is not turned into LF */
	n = read(out[0], help, sizeof(help) - 1);
	ck_assert_int_gt(n, 0);
	help[n] = '\0';
	ck_assert_ptr_nonnull(strstr(help, "C-a x"));
	ck_assert_int_eq(quits, 0);

	/* C-a x quits: bytes before it are delivered, the rest of that read is dropped. */
	ck_assert_int_eq(write(master, "q\001xr", 4), 4);
	wait_for(8, 1);
	ck_assert_int_eq(quits, 1);
	usleep(20000);
	ck_assert_uint_eq(got_len, 8);
	ck_assert_uint_eq(got[7], 'q');
	/* Input goes on: a quit with no machine to stop can be repeated. */
	ck_assert_int_eq(write(master, "s\001x", 3), 3);
	wait_for(9, 2);
	ck_assert_int_eq(quits, 2);
	ck_assert_uint_eq(got[8], 's');

	chardev_close(chr);
	ck_assert_int_eq(tcgetattr(slave, &after), 0);
	ck_assert_uint_eq(after.c_lflag, before.c_lflag);
	ck_assert_uint_eq(after.c_iflag, before.c_iflag);
	close(out[0]);
	close(slave);
	close(master);
}
END_TEST

Suite *suite_main(void)
{
	Suite *suite = suite_create("chardev");
	TCase *parse = tcase_create("parse");
	TCase *files = tcase_create("file and none");
	TCase *stdio = tcase_create("stdio");

	tcase_add_test(parse, parse_backends);
	tcase_add_test(parse, parse_errors);
	suite_add_tcase(suite, parse);
	tcase_add_test(files, file_backend_truncates);
	tcase_add_test(files, file_backend_error);
	tcase_add_test(files, none_discards);
	suite_add_tcase(suite, files);
	tcase_add_checked_fixture(stdio, setup, teardown);
	tcase_add_test(stdio, stdio_output);
	tcase_add_test(stdio, stdio_pipe_input_until_eof);
	tcase_add_test(stdio, stdio_pipe_input_waits_for_room);
	tcase_add_test(stdio, stdio_close_stops_an_idle_reader);
	tcase_add_test(stdio, stdio_closed_stdin);
	tcase_add_test(stdio, stdio_unset_receiver_gets_nothing_more);
	tcase_add_test(stdio, terminal_raw_mode_and_escape);
	suite_add_tcase(suite, stdio);
	return suite;
}
