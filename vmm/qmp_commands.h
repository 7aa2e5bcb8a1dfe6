/* The commands of tide's QMP socket (vmm/qmp_commands.c), as an engine for the server. */
#ifndef TIDE_QMP_COMMANDS_H
#define TIDE_QMP_COMMANDS_H

#include "vmm/config.h"
#include "vmm/qmp.h"

void qmp_commands_engine(struct qmp_engine *engine, const struct vm_config *cfg);

#endif
