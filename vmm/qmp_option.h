/*
 * The -qmp option's text, parsed into what vmm/qmp_server.c listens on. Apart
 * from the server so that the command line needs no socket code.
 */
#ifndef TIDE_QMP_OPTION_H
#define TIDE_QMP_OPTION_H

#include <stdbool.h>

#include "util/error.h"

struct qmp_server_config {
	char *path; /* owned; NULL when listen_fd is given */
	int listen_fd; /* a listening socket tide inherited (-chardev socket,fd=N), or -1 */
	bool wait; /* wait=on: hold the guest until the first client connects */
};

/*
 * Parses the -qmp argument (QEMU's spelling: unix:PATH,server=on,wait=off; the
 * bare "server" and "nowait" flags too). Only a listening unix socket is offered.
 */
int qmp_server_parse(const char *arg, struct qmp_server_config *cfg, struct error *err);

#endif
