/*
 * Host side of the serial console (-serial stdio|file:PATH|none). It lives as
 * long as tide, across guest resets. Bytes typed on stdin go to the frontend
 * set with chardev_set_receiver().
 */
#ifndef TIDE_CHARDEV_H
#define TIDE_CHARDEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

enum chardev_kind { CHARDEV_NONE, CHARDEV_STDIO, CHARDEV_FILE };

struct chardev;

/*
 * Called from the chardev's input thread with bytes from the host; returns how
 * many it took. The rest is offered again once the frontend has room (the
 * guest reads its FIFO), so piped input is not lost.
 */
typedef size_t (*chardev_receive_fn)(void *opaque, const uint8_t *buf, size_t len);

/* Parses the -serial argument ("stdio", "file:PATH", "none"); 0 or -1 with err. */
int chardev_parse(const char *spec, enum chardev_kind *kind, const char **path,
		  struct error *err);
struct chardev *chardev_open(enum chardev_kind kind, const char *path, struct error *err);
/* A file tide was handed open (-add-fd): written from where it stands, closed at the end. */
struct chardev *chardev_open_fd(int fd, struct error *err);
void chardev_close(struct chardev *chr);
/* Writes all bytes (retrying short writes); output errors are reported once and dropped. */
void chardev_write(struct chardev *chr, const uint8_t *buf, size_t len);
/*
 * While set, output that would block is dropped instead: the machine is stopping
 * and its vCPU threads must come back from KVM_RUN and console writes alike.
 */
void chardev_abort_output(struct chardev *chr, bool abort);
void chardev_set_receiver(struct chardev *chr, chardev_receive_fn fn, void *opaque);
/* Stdin input thread: started once the guest runs; Ctrl-A x asks fn_quit to stop tide. */
int chardev_start_input(struct chardev *chr, void (*fn_quit)(void *), void *quit_opaque,
			struct error *err);

#endif
