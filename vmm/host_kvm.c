#include "vmm/host_kvm.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static int host_kvm_fd = -1;

int host_kvm_open(struct error *err)
{
	int version, fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return error_set(err, "cannot open /dev/kvm: %s", strerror(errno));
	version = ioctl(fd, KVM_GET_API_VERSION, 0);
	if (version != KVM_API_VERSION) {
		close(fd);
		return error_set(err, "/dev/kvm speaks KVM API %d, tide needs %d", version,
				 KVM_API_VERSION);
	}
	host_kvm_fd = fd;
	return 0;
}

void host_kvm_close(void)
{
	if (host_kvm_fd >= 0)
		close(host_kvm_fd);
	host_kvm_fd = -1;
}

int host_kvm(void)
{
	return host_kvm_fd;
}
