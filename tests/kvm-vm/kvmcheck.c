/*
 * kvmcheck: the smallest proof that /dev/kvm inside the test VM works.
 *
 * Built statically by run.sh into the VM's initramfs.  Opens /dev/kvm, checks
 * the API version, creates a VM and one vCPU, and prints one line:
 *
 *   kvm-vm: /dev/kvm ready (kvm_amd): API 12, KVM_CREATE_VM ok, ...
 *
 * Exit status 0 on success, 1 (with a "kvm-vm: ..." line naming the failing
 * step) otherwise.
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
	printf("kvm-vm: /dev/kvm NOT usable: %s: %s\n", what, strerror(errno));
	return 1;
}

int main(int argc, char **argv)
{
	const char *module = argc > 1 ? argv[1] : "kvm";
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		return fail("open /dev/kvm");

	int api = ioctl(kvm, KVM_GET_API_VERSION, 0);
	if (api != KVM_API_VERSION) {
		printf("kvm-vm: /dev/kvm NOT usable: KVM API %d, want %d\n", api,
		       KVM_API_VERSION);
		return 1;
	}

	int vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0)
		return fail("KVM_CREATE_VM");
	int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	if (vcpu < 0)
		return fail("KVM_CREATE_VCPU");

	printf("kvm-vm: /dev/kvm ready (%s): API %d, KVM_CREATE_VM ok, "
	       "KVM_CREATE_VCPU ok, max vCPUs %d, in-kernel irqchip %s\n",
	       module, api, ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS),
	       ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_IRQCHIP) > 0 ? "yes" : "no");
	close(vcpu);
	close(vm);
	close(kvm);
	return 0;
}
