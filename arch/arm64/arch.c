/*
 * arm64 behind arch/arch.h: a virt-like machine with the in-kernel GICv3 and its ITS,
 * PSCI 0.2 in KVM, the architected timer, a 16550 on MMIO, a generic ECAM PCI host, and a
 * Linux Image booted with a device tree built at start.
 */
#include "arch/arch.h"

#include <errno.h>
#include <inttypes.h>
#include <linux/kvm.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "arch/arm64/fdt.h"
#include "arch/arm64/gic.h"
#include "arch/arm64/image.h"
#include "arch/arm64/layout.h"
#include "util/log.h"
#include "util/util.h"

struct arch_vm {
	int vm_fd;
	unsigned ipa_bits;
	struct arm64_gic gic;
	struct kvm_vcpu_init vcpu_init; /* KVM's preferred target, with PSCI 0.2 */
	uint64_t entry;			/* kernel load address, PC of vCPU 0 */
	uint64_t fdt;			/* device tree address, x0 of vCPU 0 */
};

const struct arch_layout arch_layout = {
	/* RAM in one piece from 2 GiB: low_end == high_base says there is no hole. */
	.ram = { .base = ARM64_RAM_BASE, .low_end = UINT64_MAX, .high_base = UINT64_MAX },
	.mmio32_start = ARM64_MMIO32_START,
	.mmio32_end = ARM64_MMIO32_END,
	.device_memory_align = ARM64_DEVICE_MEMORY_ALIGN,
	.max_vcpus = ARM64_GIC_REDIST_MAX / ARM64_GIC_REDIST_PER_CPU,
	.max_vcpus_why = "the GIC's redistributor space holds",
	.machine_types = (const struct arch_machine_type[]){
		{ "virt-7.2", "virt", "virt-" },
		{ NULL, NULL, NULL },
	},
	.machine_description = "virt, an arm64 board without firmware",
	.qemu_target = "aarch64",
	.cpu_type = "host-arm-cpu",
	.has_device_tree = true,
};

static const struct arch_platform_device virt_devices[] = {
	{ "pci-host-ecam", { .base = ARM64_PCI_ECAM, .size = ARM64_PCI_ECAM_SIZE,
			     .window_base = ARM64_MMIO32_START,
			     .window_size = ARM64_MMIO32_END - ARM64_MMIO32_START } },
	{ "isa-serial", { .base = ARM64_UART, .size = 8, .gsi = ARM64_UART_SPI, .mmio = true } },
};

const struct arch_platform_device *arch_platform_devices(size_t *count)
{
	*count = ARRAY_SIZE(virt_devices);
	return virt_devices;
}

/* Board lines are SPIs: SPI n is GIC interrupt 32 + n. */
uint32_t arch_irq_line(unsigned gsi)
{
	return (KVM_ARM_IRQ_TYPE_SPI << KVM_ARM_IRQ_TYPE_SHIFT) | (32 + gsi);
}

/* irqfds on SPIs would go through these; MSIs need none (the ITS). */
unsigned arch_irqchip_routes(struct kvm_irq_routing_entry *e, unsigned max,
			     unsigned *first_msi_gsi)
{
	unsigned n = 0;

	for (unsigned spi = 0; spi < 32 && n < max; spi++)
		e[n++] = (struct kvm_irq_routing_entry){
			.gsi = spi,
			.type = KVM_IRQ_ROUTING_IRQCHIP,
			.u.irqchip = { .irqchip = 0, .pin = spi },
		};
	*first_msi_gsi = 32;
	return n;
}

void arch_probe_host(void)
{
}

int arch_check_kernel(const void *image, size_t len, struct error *err)
{
	struct arm64_image_info info;

	return arm64_image_parse(image, len, &info, err);
}

/* The largest guest-physical address size KVM offers, up to what tide needs. */
static unsigned ipa_bits(int kvm_fd)
{
	int max = ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_ARM_VM_IPA_SIZE);

	if (max <= 0)
		return ARM64_IPA_BITS_DEFAULT;
	return max < ARM64_IPA_BITS_MAX ? (unsigned)max : ARM64_IPA_BITS_MAX;
}

int arch_kvm_vm_type(int kvm_fd, struct error *err)
{
	int max = ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_ARM_VM_IPA_SIZE);

	(void)err;
	/* Without the capability only type 0 (40 bits) exists. */
	return max > 0 ? (int)KVM_VM_TYPE_ARM_IPA_SIZE(ipa_bits(kvm_fd)) : 0;
}

/* The 64-bit PCI window sits at the top of the IPA space; device memory stays below it. */
static uint64_t mmio64_base(const struct arch_vm *a)
{
	return (1ULL << a->ipa_bits) - ARM64_MMIO64_SIZE;
}

struct arch_vm *arch_vm_create(int kvm_fd, int vm_fd, const struct cpu_config *cpu,
			       struct arch_vm_facts *facts, struct error *err)
{
	struct arch_vm *a = calloc(1, sizeof(*a));

	if (!a) {
		error_set(err, "out of memory");
		return NULL;
	}
	a->vm_fd = vm_fd;
	a->gic.gic_fd = a->gic.its_fd = -1;
	a->ipa_bits = ipa_bits(kvm_fd);
	/* RAM from 2 GiB, device memory after it, and the 64 GiB window at the top. */
	if (a->ipa_bits < ARM64_IPA_BITS_DEFAULT) {
		error_set(err, "KVM offers a %u-bit guest-physical address space; tide's arm64 "
			       "machine needs %d bits",
			  a->ipa_bits, ARM64_IPA_BITS_DEFAULT);
		goto fail;
	}
	if (strcmp(cpu->model, "host") && strcmp(cpu->model, "max")) {
		error_set(err, "-cpu: tide runs the host's CPU on arm64 (host or max), not '%s'",
			  cpu->model);
		goto fail;
	}
	if (cpu->nr_adds || cpu->nr_drops) {
		error_set(err, "-cpu: features cannot be added or dropped on arm64");
		goto fail;
	}
	if (ioctl(vm_fd, KVM_ARM_PREFERRED_TARGET, &a->vcpu_init) < 0) {
		error_set(err, "KVM_ARM_PREFERRED_TARGET: %s", strerror(errno));
		goto fail;
	}
	a->vcpu_init.features[0] |= 1u << KVM_ARM_VCPU_PSCI_0_2;
	if (arm64_gic_create(&a->gic, vm_fd, arch_layout.max_vcpus, err))
		goto fail;
	facts->phys_addr_limit = mmio64_base(a);
	return a;
fail:
	arch_vm_destroy(a);
	return NULL;
}

static int write_fdt(struct arch_vm *a, struct guest_mem *mem, const struct boot_files *boot,
		     const struct arch_boot_config *cfg, const struct arm64_boot_layout *at,
		     struct error *err)
{
	const struct arm64_fdt_config fdt = {
		.nr_cpus = cfg->nr_vcpus,
		.ram = { { mem->regions[0].gpa, mem->ram_size } },
		.gic_dist = { ARM64_GIC_DIST, ARM64_GIC_DIST_SIZE },
		.gic_redist = { ARM64_GIC_REDIST, ARM64_GIC_REDIST_PER_CPU * arch_layout.max_vcpus },
		.gic_its = { ARM64_GIC_ITS, ARM64_GIC_ITS_SIZE },
		.uart = { ARM64_UART, ARM64_UART_SIZE },
		.uart_spi = ARM64_UART_SPI,
		.pci_ecam = { ARM64_PCI_ECAM, ARM64_PCI_ECAM_SIZE },
		.pci_mmio32 = { ARM64_MMIO32_START, ARM64_MMIO32_END - ARM64_MMIO32_START },
		.pci_mmio64 = { mmio64_base(a), ARM64_MMIO64_SIZE },
		.pci_intx_spi_base = ARM64_PCI_INTX_SPI,
		.bootargs = cfg->append,
		.initrd_start = at->initrd,
		.initrd_end = at->initrd_end,
	};
	void *blob;
	size_t len;
	int ret;

	(void)boot;
	if (arm64_fdt_build(&fdt, ARM64_FDT_MAX, &blob, &len, err))
		return error_prefix(err, "device tree");
	ret = guest_mem_write(mem, at->fdt, blob, len, err);
	/* write(), not pwrite(): the seccomp filters allow the one (the fd is fresh). */
	if (!ret && cfg->dumpdtb_fd >= 0) {
		ssize_t n = write(cfg->dumpdtb_fd, blob, len);

		if (n != (ssize_t)len)
			ret = error_set(err, "-machine dumpdtb: %s",
					n < 0 ? strerror(errno) : "short write");
	}
	free(blob);
	return ret;
}

int arch_vm_load_kernel(struct arch_vm *a, struct guest_mem *mem, const struct boot_files *boot,
			const struct arch_boot_config *cfg, struct error *err)
{
	struct arm64_image_info info;
	struct arm64_boot_layout at;

	if (ARM64_RAM_BASE + mem->ram_size > mmio64_base(a))
		return error_set(err, "-m: RAM would end at 0x%" PRIx64 ", above the 64-bit PCI "
				      "window at 0x%" PRIx64 " (KVM's guest-physical space has %u "
				      "bits)",
				 (uint64_t)(ARM64_RAM_BASE + mem->ram_size), mmio64_base(a), a->ipa_bits);
	if (arm64_image_parse(boot->kernel, boot->kernel_len, &info, err) ||
	    arm64_boot_layout(&info, boot->kernel_len, boot->initrd_len, ARM64_RAM_BASE,
			      mem->ram_size, &at, err) ||
	    guest_mem_write(mem, at.kernel, boot->kernel, boot->kernel_len, err))
		return error_prefix(err, "-kernel %s", cfg->kernel_name);
	if (boot->initrd && guest_mem_write(mem, at.initrd, boot->initrd, boot->initrd_len, err))
		return error_prefix(err, "-initrd");
	if (write_fdt(a, mem, boot, cfg, &at, err))
		return -1;
	a->entry = at.kernel;
	a->fdt = at.fdt;
	log_debug("arm64: kernel at 0x%" PRIx64 ", device tree at 0x%" PRIx64
		  ", initrd [0x%" PRIx64 ", 0x%" PRIx64 ")",
		  at.kernel, at.fdt, at.initrd, at.initrd_end);
	return 0;
}

#define CORE_REG(name)                                                                             \
	(KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE |                                     \
	 (offsetof(struct kvm_regs, name) / sizeof(uint32_t)))

static int set_core_reg(int vcpu_fd, uint64_t id, uint64_t value, const char *name,
			struct error *err)
{
	struct kvm_one_reg reg = { .id = id, .addr = (uintptr_t)&value };

	if (ioctl(vcpu_fd, KVM_SET_ONE_REG, &reg) < 0)
		return error_set(err, "KVM_SET_ONE_REG %s: %s", name, strerror(errno));
	return 0;
}

/* booting.rst: x0 = the tree, x1-x3 = 0, EL1h with all exceptions masked, at the entry. */
#define PSTATE_EL1H_MASKED (0x5 /* EL1h */ | 0x3c0 /* D, A, I, F */)

int arch_vcpu_setup(struct arch_vm *a, int vcpu_fd, unsigned index, unsigned nr_vcpus,
		    struct guest_mem *mem, struct error *err)
{
	struct kvm_vcpu_init init = a->vcpu_init;

	(void)nr_vcpus;
	(void)mem;
	/* Secondaries wait powered off until the guest's PSCI CPU_ON. */
	if (index > 0)
		init.features[0] |= 1u << KVM_ARM_VCPU_POWER_OFF;
	if (ioctl(vcpu_fd, KVM_ARM_VCPU_INIT, &init) < 0)
		return error_set(err, "KVM_ARM_VCPU_INIT on vCPU %u: %s", index, strerror(errno));
	if (index > 0)
		return 0;
	return set_core_reg(vcpu_fd, CORE_REG(regs.pstate), PSTATE_EL1H_MASKED, "pstate", err) ||
	       set_core_reg(vcpu_fd, CORE_REG(regs.pc), a->entry, "pc", err) ||
	       set_core_reg(vcpu_fd, CORE_REG(regs.regs[0]), a->fdt, "x0", err);
}

int arch_vcpus_ready(struct arch_vm *a, struct error *err)
{
	return arm64_gic_init(&a->gic, err);
}

/* arm64 has no kvmclock to tell. (The virtual counter runs on across a stop: saving and
 * restoring it, as QEMU does, is still to do.) */
void arch_vcpu_resumed(int vcpu_fd, unsigned index)
{
	(void)vcpu_fd;
	(void)index;
}

void arch_vcpu_describe(int vcpu_fd, char *buf, size_t len)
{
	uint64_t pc = 0, sp = 0, pstate = 0;
	struct kvm_one_reg regs[] = {
		{ CORE_REG(regs.pc), (uintptr_t)&pc },
		{ CORE_REG(sp_el1), (uintptr_t)&sp },
		{ CORE_REG(regs.pstate), (uintptr_t)&pstate },
	};

	buf[0] = 0;
	for (size_t i = 0; i < ARRAY_SIZE(regs); i++)
		if (ioctl(vcpu_fd, KVM_GET_ONE_REG, &regs[i]) < 0)
			return;
	snprintf(buf, len, "pc=0x%" PRIx64 " sp_el1=0x%" PRIx64 " pstate=0x%" PRIx64, pc, sp,
		 pstate);
}

void arch_vm_destroy(struct arch_vm *a)
{
	if (a)
		arm64_gic_destroy(&a->gic);
	free(a);
}
