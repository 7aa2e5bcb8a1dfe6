/* What -add-fd, -chardev, -mon and -device isa-serial recorded (vm_config's chardevs). */
#ifndef TIDE_CONFIG_CHARDEVS_H
#define TIDE_CONFIG_CHARDEVS_H

#include <stdbool.h>
#include <stddef.h>

/* -add-fd set=N,fd=M: an open descriptor, named /dev/fdset/N in a path. */
struct cmdline_fd {
	unsigned set;
	int fd;
};

/* -chardev socket,id=ID,fd=N,server=on,wait=off or -chardev file,id=ID,path=P[,append=on]. */
struct cmdline_chardev {
	char *id;
	bool socket;
	int fd;	    /* socket: the listening descriptor; -1 for a file */
	char *path; /* file */
	bool append;
};

struct cmdline_chardevs {
	struct cmdline_fd *fds;
	size_t nr_fds;
	struct cmdline_chardev *list;
	size_t count;
	char *monitor; /* -mon chardev=ID */
	char *serial;  /* -device isa-serial,chardev=ID */
};

#endif
