/*
 * Tide test guest, arm64 entry: the Linux Image header, the identity map and
 * the MMU, the exception vectors, then C (boot.c).
 *
 * Tide (and any arm64 Linux boot loader) starts us at the image's first byte
 * in EL1h with D, A, I, F masked, the MMU and the caches off and x0 = the
 * device tree.  The MMU must be on before C runs: with it off every data
 * access is Device-nGnRnE, where unaligned accesses and exclusives fault, and
 * the guest's non-cacheable view of RAM would not be coherent with the VMM's
 * cacheable one (the virtio rings).
 */

/* MAIR_EL1: attribute 0 = Device-nGnRE, attribute 1 = Normal write-back
 * (read/write-allocate, inner and outer). */
#define MAIR_VALUE	0xff04
#define ATTR_DEVICE	(0 << 2)
#define ATTR_NORMAL	(1 << 2)

/* Block and table descriptors (4 KiB granule). */
#define DESC_BLOCK	0x1
#define DESC_TABLE	0x3
#define DESC_AF		(1 << 10)
#define DESC_SH_INNER	(3 << 8)
#define DESC_PXN	(1 << 53)
#define DESC_UXN	(1 << 54)
/* EL1 read/write (AP = 00); devices never executable. */
#define BLOCK_NORMAL	(DESC_BLOCK | ATTR_NORMAL | DESC_SH_INNER | DESC_AF)
#define BLOCK_DEVICE	(DESC_BLOCK | ATTR_DEVICE | DESC_AF | DESC_PXN | DESC_UXN)

/* TCR_EL1: T0SZ = 16 (48-bit VA, the walk starts at level 0), TTBR0 walks
 * inner/outer write-back cacheable, inner shareable, 4 KiB granule; EPD1: no
 * TTBR1 walks.  IPS is copied from ID_AA64MMFR0_EL1.PARange at run time. */
#define TCR_VALUE	(16 | (1 << 8) | (1 << 10) | (3 << 12) | (0 << 14) | (1 << 23))
#define TCR_IPS_SHIFT	32

/* SCTLR_EL1: M (MMU), C (data cache), I (instruction cache); A (alignment
 * checks) and SA (stack alignment) off. */
#define SCTLR_M		(1 << 0)
#define SCTLR_A		(1 << 1)
#define SCTLR_C		(1 << 2)
#define SCTLR_SA	(1 << 3)
#define SCTLR_I		(1 << 12)

#define STACK_SIZE	0x10000

	.section .text.entry, "ax"
	.globl _start
_start:
	/* Documentation/arch/arm64/booting.rst, the 64-byte Image header. */
	b	primary			/* code0: executable */
	.long	0			/* code1 */
	.quad	0			/* text_offset: at the 2 MiB aligned RAM base */
	.quad	__image_size		/* image_size: the loaded image, .bss included */
	.quad	0xa			/* flags: little endian, 4 KiB pages, anywhere */
	.quad	0, 0, 0			/* res2-res4 */
	.ascii	"ARM\x64"		/* magic */
	.long	0			/* res5: no PE header */

primary:
	mov	x19, x0			/* the device tree, for boot.c */

	adr	x1, vectors
	msr	vbar_el1, x1

	/* Translation: the static tables below, TTBR0 only. */
	ldr	x1, =MAIR_VALUE
	msr	mair_el1, x1
	mrs	x2, id_aa64mmfr0_el1
	and	x2, x2, #0x7		/* PARange -> IPS */
	ldr	x1, =TCR_VALUE
	orr	x1, x1, x2, lsl #TCR_IPS_SHIFT
	msr	tcr_el1, x1
	adrp	x1, tg_pt_l0
	msr	ttbr0_el1, x1
	isb
	tlbi	vmalle1
	dsb	nsh
	isb
	mrs	x1, sctlr_el1
	orr	x1, x1, #SCTLR_M	/* one bit each: logical immediates are runs of ones */
	orr	x1, x1, #SCTLR_C
	orr	x1, x1, #SCTLR_I
	bic	x1, x1, #SCTLR_A
	bic	x1, x1, #SCTLR_SA
	msr	sctlr_el1, x1
	isb

	/* .bss (the stack is in it: cleared before first use). */
	ldr	x1, =__bss_start
	ldr	x2, =__bss_end
1:	cmp	x1, x2
	b.hs	2f
	stp	xzr, xzr, [x1], #16
	b	1b
2:	ldr	x1, =stack_top
	mov	sp, x1

	mov	x0, x19
	bl	tg_arm64_main		/* does not return */
3:	wfi
	b	3b

/*
 * Exception vectors: nothing is expected to trap (interrupts stay masked).
 * Every entry hands its number to tg_arm64_exception (boot.c), which prints
 * the syndrome and ends the VM.  The stack is whatever SP_EL1 was: good
 * enough for a report.
 */
	.macro	vector n
	.balign	0x80
	mov	x0, #\n
	b	exception
	.endm

	.balign	0x800
vectors:
	.irp	n, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
	vector	\n
	.endr

exception:
	mrs	x1, esr_el1
	mrs	x2, elr_el1
	mrs	x3, far_el1
	bl	tg_arm64_exception
4:	wfi
	b	4b

/*
 * The identity map, built at link time: level 0 entry 0 -> one level 1 table
 * of 1 GiB blocks for [0, 512 GiB).  [0, 1 GiB) holds the board's devices (GIC,
 * UART, the 32-bit PCI window, ECAM): Device-nGnRE.  [1, 2 GiB) has nothing
 * on Tide's board: unmapped.  From 2 GiB on is RAM and, after it, the
 * virtio-mem regions: Normal.  (Normal mappings of addresses with nothing
 * behind them are harmless: only real accesses reach stage 2.)  paging.c
 * adds level 1 tables for addresses above 512 GiB.
 */
	.section .data.pagetables, "aw"
	.balign	4096
	.globl	tg_pt_l0, tg_pt_l1
tg_pt_l0:
	.quad	tg_pt_l1 + DESC_TABLE
	.fill	511, 8, 0
tg_pt_l1:
	.quad	BLOCK_DEVICE
	.quad	0
	.set	gib, 2
	.rept	510
	.quad	(gib << 30) + BLOCK_NORMAL
	.set	gib, gib + 1
	.endr

	.section .bss.stack, "aw", %nobits
	.balign	16
	.space	STACK_SIZE
stack_top:
