/* Tide's guest-physical layout on x86 (see x86-boot.md section 2). */
#ifndef TIDE_X86_LAYOUT_H
#define TIDE_X86_LAYOUT_H

#define LAYOUT_GDT 0x500ULL
#define LAYOUT_ZERO_PAGE 0x7000ULL /* Linux boot_params, or PVH hvm_start_info */
#define LAYOUT_PVH_MEMMAP 0x7800ULL /* PVH memory map (follows start_info in the same page) */
#define LAYOUT_BOOT_STACK 0x8ff0ULL
#define LAYOUT_PML4 0x9000ULL
#define LAYOUT_PDPT 0xa000ULL
#define LAYOUT_PD 0xb000ULL /* four page directories: 0xb000-0xefff map 0-4 GiB */
#define LAYOUT_CMDLINE 0x20000ULL
#define LAYOUT_CMDLINE_MAX 0x10000ULL
#define LAYOUT_MPTABLE 0x9fc00ULL /* MP floating pointer + table, e820 reserved */
#define LAYOUT_EBDA_END 0xa0000ULL
#define LAYOUT_BIOS_START 0xf0000ULL /* reserved like a BIOS area, not RAM */
#define LAYOUT_HIGH_MEMORY 0x100000ULL /* 1 MiB: kernel load address */

#define LAYOUT_PCI_HOLE_START 0xc0000000ULL /* end of low RAM */
#define LAYOUT_MMIO32_START 0xc0000000ULL /* 32-bit BAR window */
#define LAYOUT_MMIO32_END 0xfec00000ULL /* exclusive */
#define LAYOUT_IOAPIC 0xfec00000ULL
#define LAYOUT_LAPIC 0xfee00000ULL
#define LAYOUT_KVM_IDENTITY_MAP 0xfffbc000ULL
#define LAYOUT_KVM_TSS 0xfffbd000ULL
#define LAYOUT_4G 0x100000000ULL /* RAM above the hole starts here */

#define LAYOUT_DEVICE_MEMORY_ALIGN (1ULL << 30) /* device memory (virtio-mem) area */

#endif
