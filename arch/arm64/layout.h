/* Tide's guest-physical layout on arm64: QEMU's virt machine where it has the same parts. */
#ifndef TIDE_ARM64_LAYOUT_H
#define TIDE_ARM64_LAYOUT_H

#define ARM64_GIC_DIST 0x08000000ULL
#define ARM64_GIC_DIST_SIZE 0x10000ULL
#define ARM64_GIC_ITS 0x08080000ULL
#define ARM64_GIC_ITS_SIZE 0x20000ULL
#define ARM64_GIC_REDIST 0x080a0000ULL
#define ARM64_GIC_REDIST_PER_CPU 0x20000ULL /* RD_base and SGI_base frames */
#define ARM64_GIC_REDIST_MAX 0xf60000ULL    /* up to the UART: 123 vCPUs */
#define ARM64_UART 0x09000000ULL
#define ARM64_UART_SIZE 0x1000ULL
#define ARM64_UART_SPI 1
#define ARM64_MMIO32_START 0x10000000ULL /* 32-bit PCI BAR window, [start, end) */
#define ARM64_MMIO32_END 0x3eff0000ULL
#define ARM64_PCI_ECAM 0x3f000000ULL
#define ARM64_PCI_ECAM_SIZE 0x1000000ULL /* 16 buses */
#define ARM64_PCI_INTX_SPI 16		  /* INTx: SPIs 16-23 (devices/pci.h's pci_intx_gsi) */
#define ARM64_RAM_BASE 0x80000000ULL	  /* 2 GiB, as on virt and most arm64 boards */
#define ARM64_MMIO64_SIZE (64ULL << 30)	  /* 64-bit BAR window at the top of the IPA space */

#define ARM64_DEVICE_MEMORY_ALIGN (1ULL << 30) /* device memory (virtio-mem) area */
#define ARM64_IPA_BITS_DEFAULT 40	       /* KVM's IPA size for VM type 0 */
#define ARM64_IPA_BITS_MAX 48		       /* enough for what tide places, and 4K pages reach it */

#endif
