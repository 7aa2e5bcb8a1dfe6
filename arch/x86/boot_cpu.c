#include "arch/x86/boot_cpu.h"

#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#include "arch/x86/layout.h"
#include "mm/guest_mem.h"

#define PAGE_SIZE 4096
#define PTE_PRESENT (1ULL << 0)
#define PTE_RW (1ULL << 1)
#define PTE_PS (1ULL << 7)
#define PD_COUNT 4 /* four page directories of 512 x 2 MiB = 4 GiB */

#define CR0_PE (1ULL << 0)
#define CR0_ET (1ULL << 4)
#define CR0_PG (1ULL << 31)
#define CR4_PAE (1ULL << 5)
#define EFER_LME (1ULL << 8)
#define EFER_LMA (1ULL << 10)
#define RFLAGS_RESERVED 2 /* bit 1 is always set; IF = 0 */

static int put_qwords(struct guest_mem *mem, uint64_t gpa, const uint64_t *q, unsigned n,
		      struct error *err)
{
	if (guest_mem_write(mem, gpa, q, n * sizeof(*q), err))
		return error_prefix(err, "boot tables");
	return 0;
}

static int write_gdt(struct guest_mem *mem, enum boot_mode mode, struct error *err)
{
	const uint64_t linux64[] = { 0, 0, GDT_CODE64, GDT_DATA };
	const uint64_t pvh32[] = { 0, 0, GDT_CODE32, GDT_DATA, GDT_TSS32 };

	if (mode == BOOT_LINUX64)
		return put_qwords(mem, LAYOUT_GDT, linux64, 4, err);
	return put_qwords(mem, LAYOUT_GDT, pvh32, 5, err);
}

static int write_page_tables(struct guest_mem *mem, struct error *err)
{
	uint64_t page[PAGE_SIZE / 8];

	memset(page, 0, sizeof(page));
	page[0] = LAYOUT_PDPT | PTE_PRESENT | PTE_RW;
	if (put_qwords(mem, LAYOUT_PML4, page, PAGE_SIZE / 8, err))
		return -1;

	memset(page, 0, sizeof(page));
	for (unsigned i = 0; i < PD_COUNT; i++)
		page[i] = (LAYOUT_PD + i * PAGE_SIZE) | PTE_PRESENT | PTE_RW;
	if (put_qwords(mem, LAYOUT_PDPT, page, PAGE_SIZE / 8, err))
		return -1;

	for (unsigned d = 0; d < PD_COUNT; d++) {
		for (unsigned i = 0; i < PAGE_SIZE / 8; i++) {
			uint64_t addr = ((uint64_t)d * 512 + i) << 21;

			page[i] = addr | PTE_PRESENT | PTE_RW | PTE_PS;
		}
		if (put_qwords(mem, LAYOUT_PD + d * PAGE_SIZE, page, PAGE_SIZE / 8, err))
			return -1;
	}
	return 0;
}

int x86_write_boot_tables(struct guest_mem *mem, enum boot_mode mode, struct error *err)
{
	if (mode != BOOT_LINUX64 && mode != BOOT_PVH32)
		return error_set(err, "unknown boot mode %d", (int)mode);
	if (write_gdt(mem, mode, err))
		return -1;
	return mode == BOOT_LINUX64 ? write_page_tables(mem, err) : 0;
}

struct kvm_segment x86_segment_from_desc(uint64_t desc, uint16_t selector)
{
	uint32_t limit = (uint32_t)((desc & 0xffff) | ((desc >> 32) & 0xf0000));
	uint8_t g = (desc >> 55) & 1;

	return (struct kvm_segment){
		.base = ((desc >> 16) & 0xffffff) | ((desc >> 56) << 24),
		.limit = g ? (limit << 12) | 0xfff : limit,
		.selector = selector,
		.type = (desc >> 40) & 0xf,
		.present = (desc >> 47) & 1,
		.dpl = (desc >> 45) & 3,
		.db = (desc >> 54) & 1,
		.s = (desc >> 44) & 1,
		.l = (desc >> 53) & 1,
		.g = g,
		.avl = (desc >> 52) & 1,
		.unusable = !((desc >> 47) & 1),
	};
}

void x86_boot_sregs(struct kvm_sregs *sregs, enum boot_mode mode)
{
	struct kvm_segment data = x86_segment_from_desc(GDT_DATA, BOOT_DS_SELECTOR);

	sregs->ds = sregs->es = sregs->fs = sregs->gs = sregs->ss = data;
	if (mode == BOOT_LINUX64) {
		sregs->cs = x86_segment_from_desc(GDT_CODE64, BOOT_CS_SELECTOR);
		sregs->gdt.base = LAYOUT_GDT;
		sregs->gdt.limit = 4 * 8 - 1;
		sregs->cr0 = CR0_PE | CR0_ET | CR0_PG;
		sregs->cr3 = LAYOUT_PML4;
		sregs->cr4 = CR4_PAE;
		sregs->efer = EFER_LME | EFER_LMA;
	} else {
		/* Xen PVH ABI: 32-bit protected mode, paging off, a valid TR for VMX. */
		sregs->cs = x86_segment_from_desc(GDT_CODE32, BOOT_CS_SELECTOR);
		sregs->tr = x86_segment_from_desc(GDT_TSS32, BOOT_TSS_SELECTOR);
		sregs->gdt.base = LAYOUT_GDT;
		sregs->gdt.limit = 5 * 8 - 1;
		sregs->cr0 = CR0_PE | CR0_ET;
		sregs->cr3 = 0;
		sregs->cr4 = 0;
		sregs->efer = 0;
	}
}

void x86_boot_regs(struct kvm_regs *regs, const struct boot_entry *entry)
{
	memset(regs, 0, sizeof(*regs));
	regs->rip = entry->entry_gpa;
	regs->rflags = RFLAGS_RESERVED;
	if (entry->mode == BOOT_LINUX64) {
		regs->rsi = entry->boot_info_gpa;
		regs->rsp = LAYOUT_BOOT_STACK;
	} else {
		regs->rbx = entry->boot_info_gpa;
	}
}

int x86_setup_boot_cpu(int vcpu_fd, struct guest_mem *mem, const struct boot_entry *entry,
		       struct error *err)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	if (x86_write_boot_tables(mem, entry->mode, err))
		return -1;
	if (ioctl(vcpu_fd, KVM_GET_SREGS, &sregs) < 0)
		return error_set(err, "KVM_GET_SREGS: %s", strerror(errno));
	x86_boot_sregs(&sregs, entry->mode);
	if (ioctl(vcpu_fd, KVM_SET_SREGS, &sregs) < 0)
		return error_set(err, "KVM_SET_SREGS: %s", strerror(errno));
	x86_boot_regs(&regs, entry);
	if (ioctl(vcpu_fd, KVM_SET_REGS, &regs) < 0)
		return error_set(err, "KVM_SET_REGS: %s", strerror(errno));
	return 0;
}

static void set_delivery_mode(struct kvm_lapic_state *lapic, unsigned reg, uint32_t mode)
{
	uint32_t v;

	memcpy(&v, lapic->regs + reg, sizeof(v));
	v = (v & ~(7u << 8)) | (mode << 8);
	memcpy(lapic->regs + reg, &v, sizeof(v));
}

void x86_lapic_set_lints(struct kvm_lapic_state *lapic)
{
	set_delivery_mode(lapic, LAPIC_LVT_LINT0, LAPIC_MODE_EXTINT);
	set_delivery_mode(lapic, LAPIC_LVT_LINT1, LAPIC_MODE_NMI);
}

int x86_setup_lapic(int vcpu_fd, struct error *err)
{
	struct kvm_lapic_state lapic;

	if (ioctl(vcpu_fd, KVM_GET_LAPIC, &lapic) < 0)
		return error_set(err, "KVM_GET_LAPIC: %s", strerror(errno));
	x86_lapic_set_lints(&lapic);
	if (ioctl(vcpu_fd, KVM_SET_LAPIC, &lapic) < 0)
		return error_set(err, "KVM_SET_LAPIC: %s", strerror(errno));
	return 0;
}
