/* The in-kernel GICv3 with its ITS (KVM_CREATE_DEVICE), for MSIs with device ids. */
#ifndef TIDE_ARM64_GIC_H
#define TIDE_ARM64_GIC_H

#include <stdbool.h>

#include "util/error.h"

struct arm64_gic {
	int gic_fd;
	int its_fd; /* -1: no ITS */
};

/* Distributor, redistributors for max_vcpus, ITS: before any vCPU exists. */
int arm64_gic_create(struct arm64_gic *gic, int vm_fd, unsigned max_vcpus, struct error *err);
/* Once every vCPU exists: KVM sizes and starts the GIC (and its ITS). */
int arm64_gic_init(struct arm64_gic *gic, struct error *err);
void arm64_gic_destroy(struct arm64_gic *gic);

#endif
