/*
 * QEMU's character-device options as a management stack passes them (vmm/cmdline_chardev.c):
 * -add-fd hands tide open files, -chardev names a backend, -mon makes one the QMP monitor,
 * and -device isa-serial,chardev=ID puts the serial port on one. Tide has two places for
 * a chardev: the QMP monitor (a listening socket it inherits) and the serial port (a file).
 */
#ifndef TIDE_CMDLINE_CHARDEV_H
#define TIDE_CMDLINE_CHARDEV_H

#include <stdbool.h>
#include <stddef.h>

#include "util/error.h"
#include "vmm/config_chardevs.h"

struct vm_config;
struct opts;

/* -device isa-serial,chardev=ID[,id=ID][,index=0]: the serial port (COM1) on a chardev. */
int cmdline_serial_device(struct vm_config *cfg, struct opts *opts, struct error *err);
/* Once every option is read: the monitor and the serial port find their chardevs. */
int cmdline_resolve_chardevs(struct vm_config *cfg, struct error *err);
/* Whether fd was handed to tide by an option (main keeps it open). */
bool cmdline_keeps_fd(const struct vm_config *cfg, int fd);
void cmdline_chardevs_free(struct cmdline_chardevs *c);

#endif
