#include "devices/msix_kvm.h"

#include <errno.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "devices/pci.h"
#include "util/log.h"

static int irqfd_assign(struct msix_kvm *k, unsigned v, bool assign, struct error *err)
{
	struct kvm_irqfd req = {
		.fd = (uint32_t)k->irqfd[v],
		.gsi = k->gsi[v],
		.flags = assign ? 0 : KVM_IRQFD_FLAG_DEASSIGN,
	};

	if (ioctl(k->vm_fd, KVM_IRQFD, &req) < 0)
		return error_set(err, "KVM_IRQFD for GSI %u: %s", k->gsi[v], strerror(errno));
	return 0;
}

int msix_kvm_init(struct msix_kvm *k, struct msi_routes *routes, int vm_fd,
		  const struct pci_device *dev, unsigned nr_vectors, struct error *err)
{
	memset(k, 0, sizeof(*k));
	k->routes = routes;
	k->dev = dev;
	k->vm_fd = vm_fd;
	for (unsigned v = 0; v < MSIX_MAX_VECTORS; v++)
		k->irqfd[v] = -1;
	for (unsigned v = 0; v < nr_vectors; v++) {
		if (msi_route_alloc(routes, &k->gsi[v], err))
			goto fail;
		k->nr_vectors = v + 1;
		k->irqfd[v] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (k->irqfd[v] < 0) {
			error_set(err, "eventfd for an MSI-X vector: %s", strerror(errno));
			goto fail;
		}
		if (irqfd_assign(k, v, true, err)) {
			close(k->irqfd[v]);
			k->irqfd[v] = -1;
			goto fail;
		}
	}
	return 0;
fail:
	msix_kvm_destroy(k);
	return -1;
}

void msix_kvm_destroy(struct msix_kvm *k)
{
	struct error err;

	for (unsigned v = 0; v < k->nr_vectors; v++) {
		if (k->irqfd[v] >= 0) {
			if (irqfd_assign(k, v, false, &err))
				log_warn("%s", err.msg);
			close(k->irqfd[v]);
			k->irqfd[v] = -1;
		}
		msi_route_free(k->routes, k->gsi[v]);
	}
	k->nr_vectors = 0;
}

static int kvm_route(void *opaque, unsigned v, uint64_t addr, uint32_t data)
{
	struct msix_kvm *k = opaque;
	struct error err;

	if (v >= k->nr_vectors)
		return -1;
	/* Bus 0, where every device sits: the requester id is its devfn. */
	if (msi_route_set(k->routes, k->gsi[v], addr, data, PCI_DEVFN(k->dev->slot, k->dev->fn),
			  &err)) {
		log_warn("MSI-X vector %u: %s", v, err.msg);
		return -1;
	}
	return 0;
}

static void kvm_fire(void *opaque, unsigned v)
{
	struct msix_kvm *k = opaque;
	uint64_t one = 1;

	if (v < k->nr_vectors && write(k->irqfd[v], &one, sizeof(one)) != sizeof(one))
		log_warn("MSI-X vector %u: irqfd write: %s", v, strerror(errno));
}

const struct msix_ops msix_kvm_ops = { kvm_route, kvm_fire };
