/* MSI-X vectors backed by KVM: one MSI route (GSI) and one irqfd per vector. */
#ifndef TIDE_MSIX_KVM_H
#define TIDE_MSIX_KVM_H

#include "devices/msix.h"
#include "devices/msi_routes.h"

struct pci_device;

struct msix_kvm {
	struct msi_routes *routes;
	const struct pci_device *dev; /* whose requester id the messages carry */
	int vm_fd;
	unsigned nr_vectors;
	unsigned gsi[MSIX_MAX_VECTORS];
	int irqfd[MSIX_MAX_VECTORS]; /* -1 when not set up */
};

extern const struct msix_ops msix_kvm_ops; /* opaque: struct msix_kvm */

int msix_kvm_init(struct msix_kvm *k, struct msi_routes *routes, int vm_fd,
		  const struct pci_device *dev, unsigned nr_vectors, struct error *err);
void msix_kvm_destroy(struct msix_kvm *k);

#endif
