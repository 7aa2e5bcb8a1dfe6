/* What the command line's option tables share (vmm/cmdline.c and the files it walks). */
#ifndef TIDE_CMDLINE_INTERNAL_H
#define TIDE_CMDLINE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "util/error.h"
#include "vmm/config.h"

/* One parse in progress. */
struct cmdline_state {
	struct vm_config *cfg;
	FILE *out;
	bool done; /* a help or version text was printed */
	bool serial_given;
};

struct cmdline_option {
	const char *name; /* without the leading dash(es) */
	const char *arg;  /* NULL: takes no argument */
	const char *help;
	int (*handle)(struct cmdline_state *st, const char *arg, struct error *err);
};

struct cmdline_table {
	const struct cmdline_option *options;
	size_t count;
};

/* The options a management stack such as libvirt passes (vmm/cmdline_management.c). */
extern const struct cmdline_table cmdline_management_table;
/* -add-fd, -chardev and -mon (vmm/cmdline_chardev.c). */
extern const struct cmdline_table cmdline_chardev_table;

#endif
