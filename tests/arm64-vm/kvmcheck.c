/*
 * kvmcheck: the smallest proof that /dev/kvm inside the arm64 test VM works.
 *
 * Built with aarch64-linux-gnu-gcc -static by run.sh into the VM's
 * initramfs. Opens /dev/kvm, checks the API version, creates a VM, a vCPU
 * (KVM_ARM_VCPU_INIT with the preferred target and PSCI 0.2) and an in-kernel
 * GICv3, and prints one line:
 *
 *   /dev/kvm ready: API 12, IPA 48 bits, vCPU init ok (target 5), vgic-v3 ok, max vCPUs 512
 *
 * Exit status 0 on success, 1 (with a "/dev/kvm NOT usable: ..." line naming
 * the failing step) otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static int fail(const char *what)
{
	printf("/dev/kvm NOT usable: %s: %s\n", what, strerror(errno));
	return 1;
}

int main(void)
{
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		return fail("open /dev/kvm");

	int api = ioctl(kvm, KVM_GET_API_VERSION, 0);
	if (api != KVM_API_VERSION) {
		printf("/dev/kvm NOT usable: KVM API %d, want %d\n", api,
		       KVM_API_VERSION);
		return 1;
	}
	int ipa = ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_ARM_VM_IPA_SIZE);

	int vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0)
		return fail("KVM_CREATE_VM");

	struct kvm_vcpu_init init;
	memset(&init, 0, sizeof(init));
	if (ioctl(vm, KVM_ARM_PREFERRED_TARGET, &init) < 0)
		return fail("KVM_ARM_PREFERRED_TARGET");
	init.features[0] |= 1u << KVM_ARM_VCPU_PSCI_0_2;

	int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	if (vcpu < 0)
		return fail("KVM_CREATE_VCPU");
	if (ioctl(vcpu, KVM_ARM_VCPU_INIT, &init) < 0)
		return fail("KVM_ARM_VCPU_INIT");

	struct kvm_create_device gic = { .type = KVM_DEV_TYPE_ARM_VGIC_V3 };
	if (ioctl(vm, KVM_CREATE_DEVICE, &gic) < 0)
		return fail("KVM_CREATE_DEVICE(VGIC_V3)");

	printf("/dev/kvm ready: API %d, IPA %d bits, vCPU init ok (target %u), "
	       "vgic-v3 ok, max vCPUs %d\n",
	       api, ipa, init.target,
	       ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS));
	close(gic.fd);
	close(vcpu);
	close(vm);
	close(kvm);
	return 0;
}
