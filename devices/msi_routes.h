/*
 * MSI routes in KVM's GSI routing table. KVM_SET_GSI_ROUTING replaces the
 * whole table, so one owner per VM keeps it: the irqchip's default entries
 * (the architecture's, given at init) plus one MSI entry per route that a
 * device allocated. Devices deliver through an irqfd bound to the route's GSI.
 */
#ifndef TIDE_MSI_ROUTES_H
#define TIDE_MSI_ROUTES_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/error.h"

#define MSI_ROUTES_MAX 1024
#define MSI_ROUTES_MAX_FIXED 64 /* the irqchip's own entries (x86: 24 IOAPIC + 16 PIC pins) */

struct msi_route {
	bool used;
	bool valid; /* has a message; until then the GSI has no entry and fires nowhere */
	uint64_t addr;
	uint32_t data;
	uint32_t devid; /* the requester id (bus << 8 | devfn), for an irqchip that asks (ITS) */
};

struct msi_routes {
	int vm_fd;
	unsigned first_gsi; /* above the irqchip's pins */
	struct kvm_irq_routing_entry fixed[MSI_ROUTES_MAX_FIXED];
	unsigned nr_fixed;
	bool needs_devid; /* KVM_CAP_MSI_DEVID: the irqchip (arm64's ITS) tells devices apart */
	pthread_mutex_t lock;
	struct msi_route routes[MSI_ROUTES_MAX];
};

/* fixed: the irqchip's default entries, kept in every table; MSI routes from first_gsi up. */
int msi_routes_init(struct msi_routes *r, int vm_fd, const struct kvm_irq_routing_entry *fixed,
		    unsigned nr_fixed, unsigned first_gsi, struct error *err);
void msi_routes_destroy(struct msi_routes *r);
/* Reserves a GSI for an MSI route (no entry in KVM until msi_route_set()). */
int msi_route_alloc(struct msi_routes *r, unsigned *gsi, struct error *err);
void msi_route_free(struct msi_routes *r, unsigned gsi);
/* Points the GSI at an MSI message from device devid (one KVM_SET_GSI_ROUTING). */
int msi_route_set(struct msi_routes *r, unsigned gsi, uint64_t addr, uint32_t data,
		  uint32_t devid, struct error *err);

#endif
