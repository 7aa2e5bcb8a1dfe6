#include "arch/arm64/gic.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "arch/arm64/layout.h"

/* SGIs and PPIs (32), then the SPIs the board uses: UART, INTx, and spare. */
#define GIC_NR_IRQS 128

static int set_attr(int fd, uint32_t group, uint64_t attr, const void *value, const char *what,
		    struct error *err)
{
	struct kvm_device_attr a = { .group = group, .attr = attr, .addr = (uintptr_t)value };

	if (ioctl(fd, KVM_SET_DEVICE_ATTR, &a) < 0)
		return error_set(err, "GICv3: %s: %s", what, strerror(errno));
	return 0;
}

static int create_device(int vm_fd, uint32_t type, const char *what, struct error *err)
{
	struct kvm_create_device dev = { .type = type };

	if (ioctl(vm_fd, KVM_CREATE_DEVICE, &dev) < 0)
		return error_set(err, "KVM_CREATE_DEVICE (%s): %s%s", what, strerror(errno),
				 errno == ENODEV ? " (this host's KVM offers no GICv3)" : "");
	return (int)dev.fd;
}

int arm64_gic_create(struct arm64_gic *gic, int vm_fd, unsigned max_vcpus, struct error *err)
{
	uint64_t dist = ARM64_GIC_DIST, redist = ARM64_GIC_REDIST, its = ARM64_GIC_ITS;

	gic->its_fd = -1;
	if (max_vcpus * ARM64_GIC_REDIST_PER_CPU > ARM64_GIC_REDIST_MAX)
		return error_set(err, "GICv3: room for %llu redistributors, not %u",
				 ARM64_GIC_REDIST_MAX / ARM64_GIC_REDIST_PER_CPU, max_vcpus);
	gic->gic_fd = create_device(vm_fd, KVM_DEV_TYPE_ARM_VGIC_V3, "GICv3", err);
	if (gic->gic_fd < 0)
		return -1;
	if (set_attr(gic->gic_fd, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V3_ADDR_TYPE_DIST, &dist,
		     "distributor address", err) ||
	    set_attr(gic->gic_fd, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V3_ADDR_TYPE_REDIST, &redist,
		     "redistributor address", err))
		goto fail;
	/* The ITS turns a device's MSI writes (with its requester id) into LPIs. */
	gic->its_fd = create_device(vm_fd, KVM_DEV_TYPE_ARM_VGIC_ITS, "GICv3 ITS", err);
	if (gic->its_fd < 0 ||
	    set_attr(gic->its_fd, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_ITS_ADDR_TYPE, &its,
		     "ITS address", err))
		goto fail;
	return 0;
fail:
	arm64_gic_destroy(gic);
	return -1;
}

int arm64_gic_init(struct arm64_gic *gic, struct error *err)
{
	uint32_t nr_irqs = GIC_NR_IRQS;

	if (set_attr(gic->gic_fd, KVM_DEV_ARM_VGIC_GRP_NR_IRQS, 0, &nr_irqs, "number of IRQs",
		     err) ||
	    set_attr(gic->gic_fd, KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_VGIC_CTRL_INIT, NULL,
		     "init", err))
		return -1;
	return set_attr(gic->its_fd, KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_VGIC_CTRL_INIT, NULL,
			"ITS init", err);
}

void arm64_gic_destroy(struct arm64_gic *gic)
{
	if (gic->its_fd >= 0)
		close(gic->its_fd);
	if (gic->gic_fd >= 0)
		close(gic->gic_fd);
	gic->its_fd = gic->gic_fd = -1;
}
