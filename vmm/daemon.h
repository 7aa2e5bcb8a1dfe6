/* -daemonize and -pidfile (vmm/daemon.c). */
#ifndef TIDE_DAEMON_H
#define TIDE_DAEMON_H

#include "util/error.h"

/*
 * -daemonize, before any thread exists: forks; the parent waits until the child calls
 * daemon_ready() (exit 0) or ends (its status). Returns in the child only.
 */
int daemon_begin(struct error *err);
/* The child is ready (set up and confined): the parent exits 0, and stdin/out/err become
 * /dev/null. No-op without -daemonize. */
int daemon_ready(struct error *err);
/* Writes getpid() to path and keeps it locked until daemon_end(). */
int daemon_write_pidfile(const char *path, struct error *err);
/* After a chroot the path names another file: daemon_end() leaves it. */
void daemon_forget_pidfile_path(void);
/* Removes the pid file; a child that never got ready lets its parent report the exit. */
void daemon_end(void);

#endif
