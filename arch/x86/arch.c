/* x86 behind arch/arch.h: a PC with an in-kernel irqchip and PIT, KVM's CPUID, PVH or bzImage boot. */
#include "arch/arch.h"

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
#include "util/kvm_compat.h"
#include "util/log.h"
#include "util/util.h"

#define CPUID_MAX_ENTRIES 256

struct arch_vm {
	struct kvm_cpuid2 *cpuid; /* KVM's supported CPUID after -cpu and emulator filtering */
	struct boot_entry boot;
};

const struct arch_layout arch_layout = {
	.ram = { .low_end = LAYOUT_PCI_HOLE_START, .high_base = LAYOUT_4G },
	.mmio32_start = LAYOUT_MMIO32_START,
	.mmio32_end = LAYOUT_MMIO32_END,
	.device_memory_align = LAYOUT_DEVICE_MEMORY_ALIGN,
	.max_vcpus = MPTABLE_MAX_CPUS, /* every vCPU needs an entry in the MP table */
	.max_vcpus_why = "the MP table holds",
	.machine_types = (const struct arch_machine_type[]){
		{ "pc-i440fx-7.2", "pc", "pc-i440fx-" },
		{ "pc-q35-7.2", "q35", "pc-q35-" },
		{ NULL, NULL, NULL },
	},
	.machine_description = "a PC without firmware (pc, q35 and their versions are taken as it)",
	.qemu_target = "x86_64",
	.cpu_type = "host-x86_64-cpu",
	.has_device_tree = false,
};

/* The PC's devices. The host bridge first: 0xCF9 lies inside CONFIG_ADDRESS, and the reset
 * port is served through the bus when there is one. */
static const struct arch_platform_device pc_devices[] = {
	{ "pci-host", { .base = LAYOUT_MMIO32_START,
			.size = LAYOUT_MMIO32_END - LAYOUT_MMIO32_START } },
	{ "reset-cf9", { 0 } }, /* port 0xCF9, its own */
	{ "isa-serial", { .base = 0x3f8, .size = 8, .gsi = 4 } }, /* COM1 */
	{ "i8042", { 0 } },	/* ports 0x60 and 0x64, its own */
};

const struct arch_platform_device *arch_platform_devices(size_t *count)
{
	*count = ARRAY_SIZE(pc_devices);
	return pc_devices;
}

#define IOAPIC_PINS 24
#define PIC_PINS 16

/*
 * The table KVM_CREATE_IRQCHIP starts with: GSI n goes to IOAPIC pin n, and
 * GSIs 0-15 also to the PIC (master for 0-7, slave for 8-15).
 */
unsigned arch_irqchip_routes(struct kvm_irq_routing_entry *e, unsigned max,
			     unsigned *first_msi_gsi)
{
	unsigned n = 0;

	for (unsigned gsi = 0; gsi < IOAPIC_PINS && n < max; gsi++) {
		e[n++] = (struct kvm_irq_routing_entry){
			.gsi = gsi,
			.type = KVM_IRQ_ROUTING_IRQCHIP,
			.u.irqchip = { .irqchip = KVM_IRQCHIP_IOAPIC, .pin = gsi },
		};
		if (gsi < PIC_PINS && n < max)
			e[n++] = (struct kvm_irq_routing_entry){
				.gsi = gsi,
				.type = KVM_IRQ_ROUTING_IRQCHIP,
				.u.irqchip = { .irqchip = gsi < 8 ? KVM_IRQCHIP_PIC_MASTER
								  : KVM_IRQCHIP_PIC_SLAVE,
					       .pin = gsi % 8 },
			};
	}
	*first_msi_gsi = IOAPIC_PINS;
	return n;
}

void arch_probe_host(void)
{
	(void)host_kvm_is_emulating(); /* it keeps the answer */
}

int arch_check_kernel(const void *image, size_t len, struct error *err)
{
	return kernel_check_image(image, len, err);
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
static int prepare_cpuid(int kvm_fd, const struct cpu_config *cpu, struct arch_vm *x,
			 struct error *err)
{
	struct kvm_cpuid2 *supported;
	unsigned hidden;
	int ret = 0;

	x->cpuid = alloc_cpuid(CPUID_MAX_ENTRIES);
	if (!x->cpuid)
		return error_set(err, "out of memory for CPUID");
	if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, x->cpuid) < 0)
		return error_set(err, "KVM_GET_SUPPORTED_CPUID: %s", strerror(errno));
	cpuid_add_vmm_features(x->cpuid,
			       ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_TSC_DEADLINE_TIMER) > 0);
	/* -cpu +feat is checked against what KVM supports, before the emulator filter. */
	supported = copy_cpuid(x->cpuid);
	if (!supported)
		return error_set(err, "out of memory for CPUID");
	if (host_kvm_is_emulating()) {
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

struct arch_vm *arch_vm_create(int kvm_fd, int vm_fd, const struct cpu_config *cpu,
			       struct arch_vm_facts *facts, struct error *err)
{
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	struct kvm_enable_cap zap = {
		.cap = KVM_CAP_DISABLE_QUIRKS2,
		.args[0] = KVM_X86_QUIRK_SLOT_ZAP_ALL,
	};
	uint64_t identity_map = LAYOUT_KVM_IDENTITY_MAP;
	struct arch_vm *x = calloc(1, sizeof(*x));

	if (!x) {
		error_set(err, "out of memory");
		return NULL;
	}
	if (ioctl(vm_fd, KVM_SET_TSS_ADDR, (unsigned long)LAYOUT_KVM_TSS) < 0) {
		error_set(err, "KVM_SET_TSS_ADDR: %s", strerror(errno));
		goto fail;
	}
	if (ioctl(vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &identity_map) < 0) {
		error_set(err, "KVM_SET_IDENTITY_MAP_ADDR: %s", strerror(errno));
		goto fail;
	}
	/*
	 * With TDP, deleting a memslot need only zap that slot (kvm-api.md §4). With shadow
	 * paging KVM's zap-only-the-slot path is the one it reverted in 2019 for unexplained
	 * guest crashes, and here (kvm_pvm) Linux user processes crashed after virtio-mem
	 * unplugs deleted memslots; zapping everything (the default) they do not.
	 */
	if (!host_kvm_shadow_paging() &&
	    ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_DISABLE_QUIRKS2) > 0 &&
	    ioctl(vm_fd, KVM_ENABLE_CAP, &zap) < 0)
		log_debug("disabling KVM_X86_QUIRK_SLOT_ZAP_ALL: %s", strerror(errno));
	if (ioctl(vm_fd, KVM_CREATE_IRQCHIP, 0) < 0) {
		error_set(err, "KVM_CREATE_IRQCHIP: %s", strerror(errno));
		goto fail;
	}
	if (ioctl(vm_fd, KVM_CREATE_PIT2, &pit) < 0) {
		error_set(err, "KVM_CREATE_PIT2: %s", strerror(errno));
		goto fail;
	}
	if (prepare_cpuid(kvm_fd, cpu, x, err))
		goto fail;
	/* Guest-physical addresses the vCPUs can reach: CPUID 0x80000008 EAX[7:0]. */
	const struct kvm_cpuid_entry2 *sizes = cpuid_find(x->cpuid, 0x80000008, 0);
	unsigned bits = sizes && (sizes->eax & 0xff) ? sizes->eax & 0xff : 36;

	facts->phys_addr_limit = bits >= 64 ? UINT64_MAX : 1ULL << bits;
	return x;
fail:
	arch_vm_destroy(x);
	return NULL;
}

int arch_kvm_vm_type(int kvm_fd, struct error *err)
{
	(void)kvm_fd;
	(void)err;
	return 0; /* KVM_X86_DEFAULT_VM */
}

uint32_t arch_irq_line(unsigned gsi)
{
	return gsi;
}

int arch_vm_load_kernel(struct arch_vm *x, struct guest_mem *mem, const struct boot_files *boot,
			const struct arch_boot_config *cfg, struct error *err)
{
	struct e820_table e820;
	const struct kvm_cpuid_entry2 *leaf1 = cpuid_find(x->cpuid, 1, 0);
	void *mp_area = guest_mem_ptr(mem, LAYOUT_MPTABLE, LAYOUT_EBDA_END - LAYOUT_MPTABLE);

	if (e820_build(&e820, mem->ram_size, err))
		return error_prefix(err, "-m");
	if (kernel_load_image(mem, boot->kernel, boot->kernel_len, boot->initrd, boot->initrd_len,
			      cfg->append, &e820, &x->boot, err))
		return error_prefix(err, "-kernel %s", cfg->kernel_name);
	if (!mp_area)
		return error_set(err, "no RAM for the MP table");
	if (mptable_write(mp_area, LAYOUT_EBDA_END - LAYOUT_MPTABLE, LAYOUT_MPTABLE, cfg->nr_vcpus,
			  leaf1 ? leaf1->eax : 0, leaf1 ? leaf1->edx : 0, err) < 0)
		return error_prefix(err, "-smp");
	return 0;
}

int arch_vcpu_setup(struct arch_vm *x, int vcpu_fd, unsigned index, unsigned nr_vcpus,
		    struct guest_mem *mem, struct error *err)
{
	struct kvm_cpuid2 *cpuid = copy_cpuid(x->cpuid);
	int ret;

	if (!cpuid)
		return error_set(err, "out of memory for CPUID");
	if (cpuid_set_vcpu_topology(cpuid, index, nr_vcpus)) {
		free(cpuid);
		return error_set(err, "cannot describe vCPU %u of %u in CPUID", index, nr_vcpus);
	}
	ret = ioctl(vcpu_fd, KVM_SET_CPUID2, cpuid);
	free(cpuid);
	if (ret < 0)
		return error_set(err, "KVM_SET_CPUID2 on vCPU %u: %s", index, strerror(errno));
	if (x86_setup_lapic(vcpu_fd, err))
		return -1;
	/* Other vCPUs wait for the guest's INIT/SIPI in the in-kernel LAPIC. */
	if (index == 0)
		return x86_setup_boot_cpu(vcpu_fd, mem, &x->boot, err);
	return 0;
}

int arch_vcpus_ready(struct arch_vm *x, struct error *err)
{
	(void)x;
	(void)err;
	return 0;
}

/* As QEMU does: the guest's watchdogs see PVCLOCK_GUEST_STOPPED and do not take the pause
 * for a lockup (EINVAL: the guest uses no kvmclock). */
void arch_vcpu_resumed(int vcpu_fd, unsigned index)
{
	if (ioctl(vcpu_fd, KVM_KVMCLOCK_CTRL, 0) && errno != EINVAL)
		log_debug("vCPU %u: KVM_KVMCLOCK_CTRL: %s", index, strerror(errno));
}

void arch_vcpu_describe(int vcpu_fd, char *buf, size_t len)
{
	struct kvm_regs regs;
	struct kvm_sregs sregs;

	buf[0] = 0;
	if (ioctl(vcpu_fd, KVM_GET_REGS, &regs) || ioctl(vcpu_fd, KVM_GET_SREGS, &sregs))
		return;
	snprintf(buf, len,
		 "rip=0x%llx rsp=0x%llx rax=0x%llx rflags=0x%llx cs=0x%x cr0=0x%llx cr3=0x%llx "
		 "cr4=0x%llx efer=0x%llx",
		 regs.rip, regs.rsp, regs.rax, regs.rflags, sregs.cs.selector, sregs.cr0, sregs.cr3,
		 sregs.cr4, sregs.efer);
}

void arch_vm_destroy(struct arch_vm *x)
{
	if (x)
		free(x->cpuid);
	free(x);
}
