/* KVM GSI routing: the irqchip's default entries (the architecture's) plus MSI routes. */
#include "devices/msi_routes.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "util/log.h"

int msi_routes_init(struct msi_routes *r, int vm_fd, const struct kvm_irq_routing_entry *fixed,
		    unsigned nr_fixed, unsigned first_gsi, struct error *err)
{
	memset(r, 0, sizeof(*r));
	if (nr_fixed > MSI_ROUTES_MAX_FIXED)
		return error_set(err, "%u fixed GSI routes, at most %d", nr_fixed,
				 MSI_ROUTES_MAX_FIXED);
	r->vm_fd = vm_fd;
	r->first_gsi = first_gsi;
	memcpy(r->fixed, fixed, nr_fixed * sizeof(*fixed));
	r->nr_fixed = nr_fixed;
	/* Asked once the irqchip exists: arm64 answers 1 when the VM has an ITS. */
	r->needs_devid = ioctl(vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MSI_DEVID) > 0;
	pthread_mutex_init(&r->lock, NULL);
	return 0;
}

void msi_routes_destroy(struct msi_routes *r)
{
	pthread_mutex_destroy(&r->lock);
}

int msi_route_alloc(struct msi_routes *r, unsigned *gsi, struct error *err)
{
	pthread_mutex_lock(&r->lock);
	for (unsigned i = 0; i < MSI_ROUTES_MAX; i++) {
		if (!r->routes[i].used) {
			r->routes[i] = (struct msi_route){ .used = true };
			pthread_mutex_unlock(&r->lock);
			*gsi = r->first_gsi + i;
			return 0;
		}
	}
	pthread_mutex_unlock(&r->lock);
	return error_set(err, "all %d MSI routes are in use", MSI_ROUTES_MAX);
}

static struct msi_route *route_of(struct msi_routes *r, unsigned gsi)
{
	if (gsi < r->first_gsi || gsi - r->first_gsi >= MSI_ROUTES_MAX)
		return NULL;
	return &r->routes[gsi - r->first_gsi];
}

/* Caller holds the lock. */
static int commit(struct msi_routes *r, struct error *err)
{
	size_t max = MSI_ROUTES_MAX_FIXED + MSI_ROUTES_MAX;
	struct kvm_irq_routing *table =
		calloc(1, sizeof(*table) + max * sizeof(struct kvm_irq_routing_entry));
	unsigned n;
	int ret = 0;

	if (!table)
		return error_set(err, "out of memory for the GSI routing table");
	memcpy(table->entries, r->fixed, r->nr_fixed * sizeof(r->fixed[0]));
	n = r->nr_fixed;
	for (unsigned i = 0; i < MSI_ROUTES_MAX; i++) {
		const struct msi_route *route = &r->routes[i];

		if (!route->used || !route->valid)
			continue;
		table->entries[n++] = (struct kvm_irq_routing_entry){
			.gsi = r->first_gsi + i,
			.type = KVM_IRQ_ROUTING_MSI,
			.flags = r->needs_devid ? KVM_MSI_VALID_DEVID : 0,
			.u.msi = { .address_lo = (uint32_t)route->addr,
				   .address_hi = (uint32_t)(route->addr >> 32),
				   .data = route->data,
				   .devid = r->needs_devid ? route->devid : 0 },
		};
	}
	table->nr = n;
	if (ioctl(r->vm_fd, KVM_SET_GSI_ROUTING, table) < 0)
		ret = error_set(err, "KVM_SET_GSI_ROUTING (%u entries): %s", n, strerror(errno));
	free(table);
	return ret;
}

void msi_route_free(struct msi_routes *r, unsigned gsi)
{
	struct msi_route *route = route_of(r, gsi);
	struct error err;

	if (!route)
		return;
	pthread_mutex_lock(&r->lock);
	if (route->valid) {
		route->valid = false;
		if (commit(r, &err))
			log_warn("%s", err.msg);
	}
	route->used = false;
	pthread_mutex_unlock(&r->lock);
}

int msi_route_set(struct msi_routes *r, unsigned gsi, uint64_t addr, uint32_t data,
		  uint32_t devid, struct error *err)
{
	struct msi_route *route = route_of(r, gsi);
	struct msi_route old;
	int ret;

	if (!route || !route->used)
		return error_set(err, "GSI %u is not an allocated MSI route", gsi);
	pthread_mutex_lock(&r->lock);
	old = *route;
	route->valid = true;
	route->addr = addr;
	route->data = data;
	route->devid = devid;
	ret = commit(r, err);
	if (ret)
		*route = old;
	pthread_mutex_unlock(&r->lock);
	return ret;
}
