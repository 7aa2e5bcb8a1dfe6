/* The QMP commands of a management stack's probe (vmm/qmp_probe.c); ctx is the vm_config. */
#ifndef TIDE_QMP_PROBE_H
#define TIDE_QMP_PROBE_H

#include "vmm/qmp.h"

#define QMP_PROBE_COMMAND(name)                                                                    \
	int name(void *ctx, struct json_object *args, struct json_object **ret,                     \
		 struct qmp_error *err)

QMP_PROBE_COMMAND(qmp_query_target);
QMP_PROBE_COMMAND(qmp_query_kvm);
QMP_PROBE_COMMAND(qmp_query_uuid);
QMP_PROBE_COMMAND(qmp_query_migrate_capabilities);
QMP_PROBE_COMMAND(qmp_qom_list_types);
QMP_PROBE_COMMAND(qmp_device_list_properties);
QMP_PROBE_COMMAND(qmp_qom_list_properties);
QMP_PROBE_COMMAND(qmp_query_machines);
QMP_PROBE_COMMAND(qmp_query_command_line_options);

#endif
