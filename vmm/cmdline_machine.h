/*
 * The options that shape the machine (-m, -smp, -cpu, -machine), parsed into
 * cfg for vmm/cmdline.c: apart from the rest of the command line because they
 * alone know the PC's limits (MP table, memory slots) and boot RAM's backend.
 */
#ifndef TIDE_CMDLINE_MACHINE_H
#define TIDE_CMDLINE_MACHINE_H

#include "vmm/config.h"
#include "util/error.h"

int cmdline_parse_memory(struct vm_config *cfg, const char *arg, struct error *err);
int cmdline_parse_smp(struct vm_config *cfg, const char *arg, struct error *err);
int cmdline_parse_cpu(struct vm_config *cfg, const char *arg, struct error *err);
int cmdline_parse_machine(struct vm_config *cfg, const char *arg, struct error *err);
/* -numa node,nodeid=0[,cpus=0-N][,memdev=ID]: the guest's one node (memdev: boot RAM). */
int cmdline_parse_numa(struct vm_config *cfg, const char *arg, struct error *err);
/* accel=kvm, or a list of choices (kvm:tcg); -machine none takes tcg too (nothing runs). */
int cmdline_parse_accel(struct vm_config *cfg, const char *accel, struct error *err);

/* Once every option is read: boot RAM from -machine memory-backend=ID, checked against -m. */
int cmdline_resolve_ram_backend(struct vm_config *cfg, struct error *err);
/* Places the device memory (virtio-mem) area from boot RAM's size and maxmem (vm_config). */
void cmdline_place_device_area(struct vm_config *cfg);

#endif
