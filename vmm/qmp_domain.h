/* The QMP a management stack sends while it starts a domain (vmm/qmp_domain.c). */
#ifndef TIDE_QMP_DOMAIN_H
#define TIDE_QMP_DOMAIN_H

#include "vmm/qmp.h"

#define QMP_DOMAIN_COMMAND(name)                                                                   \
	int name(void *ctx, struct json_object *args, struct json_object **ret,                     \
		 struct qmp_error *err)

QMP_DOMAIN_COMMAND(qmp_query_iothreads);
QMP_DOMAIN_COMMAND(qmp_query_block);
QMP_DOMAIN_COMMAND(qmp_query_named_block_nodes);
QMP_DOMAIN_COMMAND(qmp_migrate_set_capabilities);
QMP_DOMAIN_COMMAND(qmp_query_cpus_fast);
QMP_DOMAIN_COMMAND(qmp_query_hotpluggable_cpus);
QMP_DOMAIN_COMMAND(qmp_query_chardev);

struct machine;

/* The running machine for a command, held until machine_release_current(); NULL with err
 * set when none is (tide is exiting). */
struct machine *qmp_acquire_machine(struct qmp_error *err);

/* qom-list /machine/peripheral's answer. */
int qmp_domain_list_peripherals(struct json_object **ret, struct qmp_error *err);

#endif
