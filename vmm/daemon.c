/*
 * -daemonize and -pidfile, as QEMU does them: the process that was started waits until
 * its child is ready (the QMP socket listens, the pid file holds the child's pid), then
 * exits 0; a child that fails first passes its status on. A manager (libvirt's probe)
 * reads the pid file and connects as soon as the command it ran has returned.
 */
#include "vmm/daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int ready_fd = -1; /* the child's end of the pipe to the waiting parent */
static int null_fd = -1;  /* /dev/null, opened before a chroot can hide it */
static int pid_fd = -1;	  /* the pid file, locked while tide runs */
static const char *pid_path;

/* The parent: waits for the child's one byte, or for its exit. Never returns. */
static void wait_for_child(pid_t child, int fd)
{
	char byte;
	ssize_t n;
	int status;

	do
		n = read(fd, &byte, 1);
	while (n < 0 && errno == EINTR);
	if (n == 1)
		_exit(0);
	/* The child ended (or closed the pipe) before it was ready: it said why on stderr. */
	while (waitpid(child, &status, 0) < 0)
		if (errno != EINTR)
			_exit(1);
	_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 1);
}

int daemon_begin(struct error *err)
{
	int fds[2];
	pid_t child;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return error_set(err, "-daemonize: pipe: %s", strerror(errno));
	child = fork();
	if (child < 0) {
		close(fds[0]);
		close(fds[1]);
		return error_set(err, "-daemonize: fork: %s", strerror(errno));
	}
	if (child > 0) {
		close(fds[1]);
		wait_for_child(child, fds[0]);
	}
	close(fds[0]);
	ready_fd = fds[1];
	null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null_fd < 0)
		return error_set(err, "-daemonize: /dev/null: %s", strerror(errno));
	/* Away from the starter's session and terminal. */
	if (setsid() < 0)
		return error_set(err, "-daemonize: setsid: %s", strerror(errno));
	return 0;
}

int daemon_ready(struct error *err)
{
	if (ready_fd < 0)
		return 0;
	if (write(ready_fd, "", 1) != 1)
		return error_set(err, "-daemonize: cannot tell the parent: %s", strerror(errno));
	close(ready_fd);
	ready_fd = -1;
	/* Nobody reads what the parent's terminal would have shown: QEMU's choice. */
	if (dup2(null_fd, STDIN_FILENO) < 0 || dup2(null_fd, STDOUT_FILENO) < 0 ||
	    dup2(null_fd, STDERR_FILENO) < 0)
		return error_set(err, "-daemonize: dup2: %s", strerror(errno));
	close(null_fd);
	null_fd = -1;
	return 0;
}

int daemon_write_pidfile(const char *path, struct error *err)
{
	char line[32];
	int len;

	pid_fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (pid_fd < 0)
		return error_set(err, "-pidfile %s: %s", path, strerror(errno));
	/* A second tide given the same file must not take it over (QEMU locks it too). */
	if (lockf(pid_fd, F_TLOCK, 0) < 0) {
		error_set(err, "-pidfile %s: cannot lock it (%s): is another tide using it?", path,
			  strerror(errno));
		goto fail;
	}
	len = snprintf(line, sizeof(line), "%d\n", (int)getpid());
	if (ftruncate(pid_fd, 0) < 0 || write(pid_fd, line, (size_t)len) != len) {
		error_set(err, "-pidfile %s: cannot write it: %s", path, strerror(errno));
		goto fail;
	}
	pid_path = path;
	return 0;
fail:
	close(pid_fd);
	pid_fd = -1;
	return -1;
}

void daemon_forget_pidfile_path(void)
{
	pid_path = NULL;
}

void daemon_end(void)
{
	if (pid_path && unlink(pid_path) < 0)
		fprintf(stderr, "tide: -pidfile %s: cannot remove it: %s\n", pid_path,
			strerror(errno));
	pid_path = NULL;
	if (pid_fd >= 0)
		close(pid_fd);
	pid_fd = -1;
	if (ready_fd >= 0)
		close(ready_fd); /* never ready: the parent reports the exit status */
	ready_fd = -1;
	if (null_fd >= 0)
		close(null_fd);
	null_fd = -1;
}
