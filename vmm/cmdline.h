/* The tide command line, spelled like QEMU's for the options both have. */
#ifndef TIDE_CMDLINE_H
#define TIDE_CMDLINE_H

#include <stdio.h>

#include "vmm/config.h"
#include "util/error.h"

/* Longest -device/-object id (it must fit the QOM path and the device's buffers). */
#define CMDLINE_ID_MAX 63

enum cmdline_result {
	CMDLINE_RUN,  /* cfg is complete: start the VM */
	CMDLINE_DONE, /* --help, --version or a "help" listing was printed: exit 0 */
	CMDLINE_ERROR /* err says what is wrong: exit 1 */
};

/* Parses argv into cfg (defaults first). Help and version text go to out. */
enum cmdline_result cmdline_parse(int argc, char **argv, struct vm_config *cfg, FILE *out,
				  struct error *err);
/* Every option tide takes, by name (QMP's query-command-line-options). */
void cmdline_foreach_option(void (*fn)(const char *name, void *opaque), void *opaque);
/* Frees what cmdline_parse allocated in cfg. */
void cmdline_free(struct vm_config *cfg);

#endif
