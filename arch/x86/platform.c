#include "arch/x86/platform.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "arch/x86/boot.h"
#include "arch/x86/boot_cpu.h"
#include "arch/x86/cpuid.h"
#include "arch/x86/e820.h"
#include "arch/x86/kernel_loader.h"
#include "arch/x86/layout.h"
#include "arch/x86/mptable.h"
#include "devices/platform_devices.h"
#include "util/kvm_compat.h"
#include "util/log.h"
#include "vmm/config.h"
#include "vmm/machine.h"
#include "vmm/vcpu.h"

#define CPUID_MAX_ENTRIES 256

struct x86_platform {
	struct kvm_cpuid2 *cpuid; /* KVM's supported CPUID after -cpu and emulator filtering */
	struct boot_entry boot;
};

void platform_probe_host(void)
{
	(void)host_kvm_is_emulating(); /* it keeps the answer */
}

int platform_read_boot_files(struct vm_config *cfg, struct error *err)
{
	struct boot_files *files = &cfg->boot;

	/* Read errors name the path themselves. */
	if (kernel_read_file(cfg->kernel, &files->kernel, &files->kernel_len, err))
		return error_prefix(err, "-kernel");
	if (kernel_check_image(files->kernel, files->kernel_len, err))
		return error_prefix(err, "-kernel %s", cfg->kernel);
	if (cfg->initrd &&
	    kernel_read_file(cfg->initrd, &files->initrd, &files->initrd_len, err))
		return error_prefix(err, "-initrd");
	return 0;
}

void platform_free_boot_files(struct vm_config *cfg)
{
	free(cfg->boot.kernel);
	free(cfg->boot.initrd);
	memset(&cfg->boot, 0, sizeof(cfg->boot));
}

static struct kvm_cpuid2 *alloc_cpuid(unsigned nent)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + nent * sizeof(c->entries[0]));

	if (c)
		c->nent = nent;
	return c;
}

static struct kvm_cpuid2 *copy_cpuid(const struct kvm_cpuid2 *src)
{
	struct kvm_cpuid2 *c = alloc_cpuid(src->nent);

	if (c)
		memcpy(c->entries, src->entries, src->nent * sizeof(c->entries[0]));
	return c;
}

/* KVM's supported CPUID, then the -cpu overrides, then what the emulator cannot run. */
static int prepare_cpuid(struct machine *m, struct x86_platform *x, struct error *err)
{
	const struct cpu_config *cpu = &m->cfg->cpu;
	struct kvm_cpuid2 *supported;
	unsigned hidden;
	int ret = 0;

	x->cpuid = alloc_cpuid(CPUID_MAX_ENTRIES);
	if (!x->cpuid)
		return error_set(err, "out of memory for CPUID");
	if (ioctl(m->kvm_fd, KVM_GET_SUPPORTED_CPUID, x->cpuid) < 0)
		return error_set(err, "KVM_GET_SUPPORTED_CPUID: %s", strerror(errno));
	cpuid_add_vmm_features(x->cpuid,
			       ioctl(m->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_TSC_DEADLINE_TIMER) > 0);
	/* -cpu +feat is checked against what KVM supports, before the emulator filter. */
	supported = copy_cpuid(x->cpuid);
	if (!supported)
		return error_set(err, "out of memory for CPUID");
	m->emulating_host = host_kvm_is_emulating();
	if (m->emulating_host) {
		hidden = cpuid_hide_for_emulator(x->cpuid);
		log_info("KVM here runs guest kernel code in its instruction emulator (kvm_pvm): "
			 "hiding %u CPUID features it cannot execute (XSAVE and dependants, "
			 "CMPXCHG16B, ...)",
			 hidden);
	}
	/* Explicit -cpu choices come last so that they win over the emulator filter. */
	for (size_t i = 0; i < cpu->nr_drops && !ret; i++)
		ret = cpuid_apply_feature_from(x->cpuid, supported, cpu->feature_drops[i], false, err);
	for (size_t i = 0; i < cpu->nr_adds && !ret; i++)
		ret = cpuid_apply_feature_from(x->cpuid, supported, cpu->feature_adds[i], true, err);
	free(supported);
	return ret ? error_prefix(err, "-cpu") : 0;
}

/* "Y", "1": the parameter file says on. A missing file is neither. */
static int sysfs_flag(const char *path)
{
	char c = 0;
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	if (fread(&c, 1, 1, f) != 1)
		c = 0;
	fclose(f);
	return c == 'Y' || c == 'y' || c == '1';
}

/* KVM shadows the guest's page tables (kvm_pvm, or EPT/NPT turned off) instead of using TDP. */
static bool host_kvm_shadow_paging(void)
{
	return host_kvm_is_emulating() || sysfs_flag("/sys/module/kvm_intel/parameters/ept") == 0 ||
	       sysfs_flag("/sys/module/kvm_amd/parameters/npt") == 0;
}

int platform_create_vm(struct machine *m, struct error *err)
{
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	struct kvm_enable_cap zap = {
		.cap = KVM_CAP_DISABLE_QUIRKS2,
		.args[0] = KVM_X86_QUIRK_SLOT_ZAP_ALL,
	};
	uint64_t identity_map = LAYOUT_KVM_IDENTITY_MAP;
	struct x86_platform *x = calloc(1, sizeof(*x));

	if (!x)
		return error_set(err, "out of memory");
	m->arch = x;
	if (ioctl(m->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)LAYOUT_KVM_TSS) < 0)
		return error_set(err, "KVM_SET_TSS_ADDR: %s", strerror(errno));
	if (ioctl(m->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &identity_map) < 0)
		return error_set(err, "KVM_SET_IDENTITY_MAP_ADDR: %s", strerror(errno));
	/*
	 * With TDP, deleting a memslot need only zap that slot (kvm-api.md §4). With shadow
	 * paging KVM's zap-only-the-slot path is the one it reverted in 2019 for unexplained
	 * guest crashes, and here (kvm_pvm) Linux user processes crashed after virtio-mem
	 * unplugs deleted memslots; zapping everything (the default) they do not.
	 */
	if (!host_kvm_shadow_paging() &&
	    ioctl(m->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_DISABLE_QUIRKS2) > 0 &&
	    ioctl(m->vm_fd, KVM_ENABLE_CAP, &zap) < 0)
		log_debug("disabling KVM_X86_QUIRK_SLOT_ZAP_ALL: %s", strerror(errno));
	if (ioctl(m->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
		return error_set(err, "KVM_CREATE_IRQCHIP: %s", strerror(errno));
	if (ioctl(m->vm_fd, KVM_CREATE_PIT2, &pit) < 0)
		return error_set(err, "KVM_CREATE_PIT2: %s", strerror(errno));
	if (prepare_cpuid(m, x, err))
		return -1;
	/* Guest-physical addresses the vCPUs can reach: CPUID 0x80000008 EAX[7:0]. */
	const struct kvm_cpuid_entry2 *sizes = cpuid_find(x->cpuid, 0x80000008, 0);
	unsigned bits = sizes && (sizes->eax & 0xff) ? sizes->eax & 0xff : 36;

	m->phys_addr_limit = bits >= 64 ? UINT64_MAX : 1ULL << bits;
	return 0;
}

int platform_create_devices(struct machine *m, struct error *err)
{
	return platform_devices_create(m, err);
}

int platform_load_kernel(struct machine *m, struct error *err)
{
	struct x86_platform *x = m->arch;
	struct e820_table e820;
	const struct kvm_cpuid_entry2 *leaf1 = cpuid_find(x->cpuid, 1, 0);
	void *mp_area = guest_mem_ptr(&m->mem, LAYOUT_MPTABLE, LAYOUT_EBDA_END - LAYOUT_MPTABLE);

	if (e820_build(&e820, m->mem.ram_size, err))
		return error_prefix(err, "-m");
	if (kernel_load_image(&m->mem, m->cfg->boot.kernel, m->cfg->boot.kernel_len,
			      m->cfg->boot.initrd, m->cfg->boot.initrd_len, m->cfg->append, &e820,
			      &x->boot, err))
		return error_prefix(err, "-kernel %s", m->cfg->kernel);
	if (!mp_area)
		return error_set(err, "no RAM for the MP table");
	if (mptable_write(mp_area, LAYOUT_EBDA_END - LAYOUT_MPTABLE, LAYOUT_MPTABLE, m->cfg->smp,
			  leaf1 ? leaf1->eax : 0, leaf1 ? leaf1->edx : 0, err) < 0)
		return error_prefix(err, "-smp");
	return 0;
}

int platform_setup_vcpu(struct machine *m, struct vcpu *vcpu, struct error *err)
{
	struct x86_platform *x = m->arch;
	struct kvm_cpuid2 *cpuid = copy_cpuid(x->cpuid);
	int ret;

	if (!cpuid)
		return error_set(err, "out of memory for CPUID");
	if (cpuid_set_vcpu_topology(cpuid, vcpu->index, m->cfg->smp)) {
		free(cpuid);
		return error_set(err, "cannot describe vCPU %u of %u in CPUID", vcpu->index,
				 m->cfg->smp);
	}
	ret = ioctl(vcpu->fd, KVM_SET_CPUID2, cpuid);
	free(cpuid);
	if (ret < 0)
		return error_set(err, "KVM_SET_CPUID2 on vCPU %u: %s", vcpu->index, strerror(errno));
	if (x86_setup_lapic(vcpu->fd, err))
		return -1;
	/* Other vCPUs wait for the guest's INIT/SIPI in the in-kernel LAPIC. */
	if (vcpu->index == 0)
		return x86_setup_boot_cpu(vcpu->fd, &m->mem, &x->boot, err);
	return 0;
}

void platform_destroy(struct machine *m)
{
	struct x86_platform *x = m->arch;

	if (x)
		free(x->cpuid);
	free(x);
	m->arch = NULL;
}
