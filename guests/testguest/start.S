/*
 * Tide test guest: PVH entry stub.
 *
 * Entered per the Xen PVH boot ABI: 32-bit protected mode, paging off,
 * flat 4 GiB code and data segments, interrupts off, %ebx = physical
 * address of struct hvm_start_info.
 *
 * Everything this file runs before the `iretq` executes at CPL0, and on the
 * kvm_pvm host every CPL0 instruction goes through KVM's instruction
 * emulator (about 3000x slower than native, and without xsave, cmpxchg16b,
 * x87 or int3).  So the CPL0 part is kept to a straight line of ~50 simple
 * instructions with no loops:
 *
 *   - the GDT and all page tables are fully pre-built at link time (no fill
 *     loop runs at CPL0);
 *   - CPUID 0x80000008 EAX (physical/linear address bits) is passed on to C
 *     (CPL3 code must not run CPUID itself: it may fault on kvm_pvm);
 *   - CPUID 0x80000001 EDX[26] (pdpe1gb) picks one of two pre-built page
 *     table sets:
 *       1 GiB pages: identity map of the first TG_MAP_1G_GIB GiB (1 TiB),
 *       2 MiB pages: identity map of the first TG_MAP_2M_GIB GiB (64 GiB);
 *     both map every page present, writable and user-accessible (U=1), so
 *     CPL3 code can reach all of guest-physical memory, including the page
 *     tables themselves (paging.c uses that to extend the map later);
 *   - PAE, EFER.LME, paging, far jump to 64-bit code, a stack, the TSS
 *     (RSP0) and the #GP gate, and `iretq` to CPL3 with IOPL=3
 *     (RFLAGS=0x3002, IF=0), so in/out work from CPL3 where IOPL is
 *     honoured; kvm_pvm ignores it and raises #GP, which tg_gp_handler
 *     turns into the port access at CPL0.
 *
 * Everything after that (bss clearing, C code, all tests) runs natively at
 * CPL3 and polls; the guest never takes an interrupt or system call.  The
 * IDT has the #GP gate only, so any other CPL3 fault ends deterministically
 * as a triple fault (VM shutdown).  C is entered as
 *     void tg_main(struct hvm_start_info *si, uint64_t cr3, uint32_t cpuid_80000008_eax);
 *
 * CPL0 hook for later: if a strong symbol `tg_cpl0_hook` is linked in, it is
 * called at CPL0 in 64-bit mode before the drop to CPL3 as
 *     void tg_cpl0_hook(struct hvm_start_info *si, uint64_t cr3);
 * (kernel stack of KSTACK_SIZE bytes, flat kernel segments 0x08/0x10, the
 * IDT with only the #GP gate).  A scenario that must see an interrupt (e.g.
 * MSI-X) can install its own IDT there and wait with `sti; hlt` at CPL0; if it returns, boot goes on
 * to CPL3 as usual.  Without the hook this costs three emulated instructions.
 */

#define KERNEL_CS	0x08
#define KERNEL_DS	0x10
#define USER_DS		0x18
#define USER_CS		0x20
#define TSS_SEL		0x28

#define PTE_TABLE	0x007		/* P | RW | US */
#define PTE_LARGE	0x087		/* P | RW | US | PS */

#define CR0_VAL		0x80010031	/* PG | WP | NE | ET | PE (CD/NW/TS/EM off) */
#define CR4_VAL		0x00000020	/* PAE */
#define MSR_EFER	0xC0000080
#define EFER_LME	0x00000100
#define USER_RFLAGS	0x3002		/* IOPL=3, IF=0, reserved bit 1 */

/* Identity-map coverage of the pre-built tables (see README.md). */
#define TG_MAP_1G_GIB	1024		/* 1 TiB with 1 GiB pages (2 PDPT pages) */
#define TG_MAP_2M_GIB	64		/* 64 GiB with 2 MiB pages (64 PD pages) */

#define KSTACK_SIZE	16384
#define USTACK_SIZE	65536

/* ------------------------------------------------------------------ */
/* Xen ELF note: XEN_ELFNOTE_PHYS32_ENTRY (18), 4-byte desc.          */
/* Kept 4-byte aligned (QEMU pads the name with the PT_NOTE p_align). */
/* ------------------------------------------------------------------ */
	.section .note.Xen, "a", @note
	.balign 4
	.long 2f - 1f			/* namesz */
	.long 4f - 3f			/* descsz */
	.long 18			/* XEN_ELFNOTE_PHYS32_ENTRY */
1:	.asciz "Xen"
2:	.balign 4
3:	.long pvh_start32
4:	.balign 4

/* ------------------------------------------------------------------ */
/* 32-bit entry (CPL0, emulated on kvm_pvm).                          */
/* ------------------------------------------------------------------ */
	.section .text.entry, "ax"
	.code32
	.globl pvh_start32
	.type pvh_start32, @function
pvh_start32:
	mov	%ebx, %edi			/* arg0: start_info (cpuid clobbers ebx) */
	lgdt	gdt_ptr
	lidt	idt_ptr				/* only #GP has a gate (port I/O, below) */
	mov	$0x80000008, %eax
	cpuid
	mov	%eax, %ebp			/* arg2: CPUID 0x80000008 EAX (phys bits) */
	mov	$0x80000001, %eax
	cpuid
	mov	$pml4_2m, %esi
	bt	$26, %edx			/* pdpe1gb */
	jnc	1f
	mov	$pml4_1g, %esi
1:	mov	%esi, %cr3			/* arg1: cr3 */
	mov	$CR4_VAL, %eax
	mov	%eax, %cr4
	mov	$MSR_EFER, %ecx
	mov	$EFER_LME, %eax
	xor	%edx, %edx
	wrmsr
	mov	$CR0_VAL, %eax
	mov	%eax, %cr0
	ljmp	$KERNEL_CS, $long64
	.size pvh_start32, . - pvh_start32

/* ------------------------------------------------------------------ */
/* 64-bit, still CPL0 (emulated).                                     */
/* ------------------------------------------------------------------ */
	.code64
long64:
	mov	$KERNEL_DS, %eax
	mov	%eax, %ds
	mov	%eax, %es
	mov	%eax, %ss
	mov	$kstack_top, %esp
	/*
	 * The TSS (for RSP0) and the #GP gate hold addresses the assembler
	 * cannot split into descriptor fields; patch them in (9 instructions).
	 */
	mov	$tss, %eax
	mov	%ax, gdt_tss + 2
	shr	$16, %eax
	mov	%al, gdt_tss + 4
	mov	%ah, gdt_tss + 7
	mov	$TSS_SEL, %ax
	ltr	%ax
	mov	$tg_gp_handler, %eax
	mov	%ax, idt + 13 * 16
	shr	$16, %eax
	mov	%ax, idt + 13 * 16 + 6

	.weak	tg_cpl0_hook
	mov	$tg_cpl0_hook, %eax		/* 0 unless someone links a hook in */
	test	%eax, %eax
	jz	2f
	push	%rdi
	push	%rsi
	call	*%rax
	pop	%rsi
	pop	%rdi
2:
	mov	%ebp, %edx
	push	$(USER_DS | 3)			/* SS */
	push	$ustack_top			/* RSP */
	push	$USER_RFLAGS			/* RFLAGS */
	push	$(USER_CS | 3)			/* CS */
	push	$user_entry			/* RIP */
	iretq

/* ------------------------------------------------------------------ */
/* #GP handler (CPL0, emulated): port I/O and wrmsr from CPL3.        */
/*                                                                     */
/* kvm_pvm runs guest CPL3 code as host user code, where in/out fault  */
/* whatever IOPL says; so an in/out at CPL3 raises #GP and this        */
/* handler performs it at CPL0 and skips the instruction.  It knows    */
/* exactly the encodings io.h emits: optional 0x66, then e4-e7 (imm8   */
/* port) or ec-ef (port in %dx); wrmsr (0f 30), which faults at CPL3   */
/* on every host; and hlt (f4), which it turns into an x87 load from   */
/* (%rdi) at CPL0.  Anything else ends the guest with a triple         */
/* fault.  On hosts that honour IOPL=3 it runs only for wrmsr.         */
/* ------------------------------------------------------------------ */
	.globl tg_gp_handler
tg_gp_handler:
	push	%rcx
	push	%rsi
	push	%rdi
	push	%rdx
	/* 0 rdx, 8 rdi, 16 rsi, 24 rcx, 32 error code, 40 rip, 48 cs */
	testb	$3, 48(%rsp)
	jz	gp_fatal			/* a #GP in CPL0 code: a bug */
	mov	40(%rsp), %rsi
	cmpw	$0x300f, (%rsi)			/* wrmsr (0f 30): privileged everywhere */
	je	gp_wrmsr
	cmpb	$0xf4, (%rsi)			/* hlt: an x87 load from (%rdi) at CPL0 */
	je	gp_x87_load
	xor	%edi, %edi
	cmpb	$0x66, (%rsi)
	jne	1f
	inc	%rsi
	inc	%edi				/* 16-bit operand */
1:	movzbl	(%rsi), %ecx
	inc	%rsi
	mov	%ecx, %edx
	and	$0xf4, %edx
	cmp	$0xe4, %edx			/* e4-e7 or ec-ef */
	jne	gp_fatal
	mov	(%rsp), %rdx			/* port in %dx ... */
	test	$8, %cl
	jnz	2f
	movzbl	(%rsi), %edx			/* ... or an imm8 */
	inc	%rsi
2:	mov	%rsi, 40(%rsp)			/* resume after the instruction */
	test	$2, %cl
	jz	4f
	test	$1, %cl				/* out */
	jz	3f
	test	%edi, %edi
	jnz	5f
	outl	%eax, %dx
	jmp	gp_done
5:	outw	%ax, %dx
	jmp	gp_done
3:	outb	%al, %dx
	jmp	gp_done
4:	test	$1, %cl				/* in */
	jz	6f
	test	%edi, %edi
	jnz	7f
	inl	%dx, %eax
	jmp	gp_done
7:	inw	%dx, %ax
	jmp	gp_done
6:	inb	%dx, %al
	jmp	gp_done
gp_wrmsr:
	add	$2, %rsi
	mov	%rsi, 40(%rsp)			/* resume after the instruction */
	mov	24(%rsp), %rcx			/* the MSR; %edx:%eax the value */
	mov	(%rsp), %rdx
	wrmsr
	jmp	gp_done
gp_x87_load:
	/* KVM's instruction emulator has no x87 loads: on memory that is not there (no
	 * memslot) this is a KVM internal error at CPL0 (at CPL3 KVM would inject #UD). */
	inc	%rsi
	mov	%rsi, 40(%rsp)			/* resume after the hlt */
	fninit
	fldl	(%rdi)
	fstp	%st(0)
gp_done:
	pop	%rdx
	pop	%rdi
	pop	%rsi
	pop	%rcx
	add	$8, %rsp			/* error code */
	iretq
gp_fatal:
	lidt	idt_null			/* no gates: the next fault is a triple fault */
	ud2

/* ------------------------------------------------------------------ */
/* CPL3 from here on: native speed.                                    */
/* ------------------------------------------------------------------ */
	.text
user_entry:
	mov	%rdi, %r12
	mov	%rsi, %r13
	mov	%rdx, %r14
	mov	$__bss_start, %edi		/* clear .bss (stacks included) */
	mov	$__bss_end, %ecx
	sub	%edi, %ecx
	xor	%eax, %eax
	rep stosb
	mov	%r12, %rdi
	mov	%r13, %rsi
	mov	%r14, %rdx
	call	tg_main				/* void tg_main(si, cr3, cpuid_80000008_eax) */
	mov	$1, %edi			/* returned: failure */
	call	tg_exit
3:	jmp	3b

/* ------------------------------------------------------------------ */
/* GDT: null, kernel code64, kernel data, user data (DPL3),            */
/* user code64 (DPL3) -- the syscall/sysret order.  Accessed bits are  */
/* pre-set so loading a selector never writes the GDT.  Then the TSS,  */
/* for the one CPL3 -> CPL0 transition there is: #GP on port I/O.      */
/* ------------------------------------------------------------------ */
	.section .data			/* written: TSS base and busy bit */
	.balign 16
gdt:
	.quad 0
	.quad 0x00AF9B000000FFFF		/* 0x08 kernel code64 */
	.quad 0x00CF93000000FFFF		/* 0x10 kernel data */
	.quad 0x00CFF3000000FFFF		/* 0x18 user data, DPL3 */
	.quad 0x00AFFB000000FFFF		/* 0x20 user code64, DPL3 */
gdt_tss:				/* 0x28 64-bit TSS; base patched at CPL0 */
	.quad 0x0000890000000000 + (tss_end - tss - 1)
	.quad 0
gdt_end:
	.balign 8
	.globl gdt_ptr
gdt_ptr:
	.word gdt_end - gdt - 1
	.quad gdt
	.balign 8
idt_null:				/* empty IDT: no gates at all */
	.word 0
	.quad 0
	.balign 8
idt_ptr:
	.word idt_end - idt - 1
	.quad idt

/*
 * IDT with one gate, #GP (13): interrupt gate, DPL0, selector 0x08; the
 * handler's offset is patched in at CPL0.  Every other vector is absent,
 * so any other exception still ends as a triple fault.  Writable data:
 * the CPU sets the TSS busy bit in the GDT on ltr, too.
 */
	.section .data
	.balign 16
idt:
	.fill 13 * 2, 8, 0
	.quad 0x00008E0000080000		/* #GP: present, interrupt gate, cs 0x08 */
	.quad 0
idt_end:
	.balign 16
tss:					/* 64-bit TSS: only RSP0 is used */
	.long 0
	.quad kstack_top			/* RSP0 */
	.fill 11, 8, 0
	.word 0
	.word tss_end - tss			/* I/O map base: none */
tss_end:

/* ------------------------------------------------------------------ */
/* Pre-built identity page tables (in .data so they are in the file).  */
/* ------------------------------------------------------------------ */
	.section .data.pagetables, "aw"
	.balign 4096
	.globl pml4_1g, pdpt_1g, pml4_2m, pdpt_2m, pd_2m

pml4_1g:
	.set .Lpt_i, 0
	.rept TG_MAP_1G_GIB / 512
	.quad pdpt_1g + .Lpt_i * 4096 + PTE_TABLE
	.set .Lpt_i, .Lpt_i + 1
	.endr
	.fill 512 - TG_MAP_1G_GIB / 512, 8, 0
pdpt_1g:
	.set .Lpt_i, 0
	.rept TG_MAP_1G_GIB
	.quad (.Lpt_i << 30) | PTE_LARGE
	.set .Lpt_i, .Lpt_i + 1
	.endr

pml4_2m:
	.quad pdpt_2m + PTE_TABLE
	.fill 511, 8, 0
pdpt_2m:
	.set .Lpt_i, 0
	.rept TG_MAP_2M_GIB
	.quad pd_2m + .Lpt_i * 4096 + PTE_TABLE
	.set .Lpt_i, .Lpt_i + 1
	.endr
	.fill 512 - TG_MAP_2M_GIB, 8, 0
pd_2m:
	.set .Lpt_i, 0
	.rept TG_MAP_2M_GIB * 512
	.quad (.Lpt_i << 21) | PTE_LARGE
	.set .Lpt_i, .Lpt_i + 1
	.endr

/* ------------------------------------------------------------------ */
/* Stacks (cleared with the rest of .bss at CPL3).                     */
/* ------------------------------------------------------------------ */
	.section .bss
	.balign 4096
kstack:
	.skip KSTACK_SIZE
kstack_top:
	.balign 4096
ustack:
	.skip USTACK_SIZE
	.globl ustack_top
ustack_top:

	.section .note.GNU-stack, "", @progbits
