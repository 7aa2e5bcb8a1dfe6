#include <check.h>
#include <elf.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/e820.h"
#include "arch/x86/elf.h"
#include "arch/x86/kernel_loader.h"
#include "arch/x86/layout.h"
#include "arch/x86/pvh.h"
#include "arch_test.h"
#include "util/size.h"

/* Synthetic kernel: two PT_LOADs, one PT_NOTE, one SHT_NOTE section over the same notes. */
#define SEG0_OFF 0x1000
#define SEG0_PADDR 0x200000
#define SEG0_FILESZ 0x1000
#define SEG0_MEMSZ 0x3000
#define SEG1_OFF 0x2000
#define SEG1_PADDR 0x400000
#define SEG1_SIZE 0x800
#define NOTES_OFF 0x400
#define SHDR_OFF 0x3000
#define ENTRY (SEG0_PADDR + 0x40)
#define PH_LOAD0 0
#define PH_NOTE 1
#define PH_LOAD1 2

static uint8_t image[SHDR_OFF + 2 * sizeof(Elf64_Shdr)];
static size_t image_len;
static size_t notes_len;
static size_t xen_desc_off; /* file offset of the PVH entry value */

static size_t put_note(size_t off, const char *name, uint32_t type, const void *desc,
		       uint32_t desc_len)
{
	Elf64_Nhdr nh = { .n_namesz = (uint32_t)strlen(name) + 1, .n_descsz = desc_len,
			  .n_type = type };
	size_t name_len = (nh.n_namesz + 3) & ~3u;

	memcpy(image + off, &nh, sizeof(nh));
	memcpy(image + off + sizeof(nh), name, nh.n_namesz);
	memcpy(image + off + sizeof(nh) + name_len, desc, desc_len);
	if (strcmp(name, "Xen") == 0)
		xen_desc_off = off + sizeof(nh) + name_len;
	return sizeof(nh) + name_len + ((desc_len + 3) & ~3u);
}

static void put_notes(uint32_t entry_size)
{
	static const uint8_t build_id[20] = { 0xab };
	uint64_t entry = ENTRY;
	size_t off = NOTES_OFF;

	off += put_note(off, "GNU", NT_GNU_BUILD_ID, build_id, sizeof(build_id));
	off += put_note(off, "Xen", 6, "linux", 6); /* XEN_ELFNOTE_GUEST_OS: not the entry */
	off += put_note(off, "Xen", XEN_ELFNOTE_PHYS32_ENTRY, &entry, entry_size);
	notes_len = off - NOTES_OFF;
}

static void make_elf64(void)
{
	Elf64_Ehdr eh = {
		.e_ident = { ELFMAG0, ELFMAG1, ELFMAG2, ELFMAG3, ELFCLASS64, ELFDATA2LSB, EV_CURRENT },
		.e_type = ET_EXEC,
		.e_machine = EM_X86_64,
		.e_version = EV_CURRENT,
		.e_entry = 0xffffffff81000000ULL,
		.e_phoff = sizeof(Elf64_Ehdr),
		.e_shoff = SHDR_OFF,
		.e_ehsize = sizeof(Elf64_Ehdr),
		.e_phentsize = sizeof(Elf64_Phdr),
		.e_phnum = 3,
		.e_shentsize = sizeof(Elf64_Shdr),
		.e_shnum = 2,
	};
	Elf64_Phdr ph[3] = {
		{ .p_type = PT_LOAD, .p_offset = SEG0_OFF, .p_paddr = SEG0_PADDR,
		  .p_vaddr = 0xffffffff81000000ULL, .p_filesz = SEG0_FILESZ, .p_memsz = SEG0_MEMSZ,
		  .p_align = 0x1000 },
		{ .p_type = PT_NOTE, .p_offset = NOTES_OFF, .p_align = 4 },
		{ .p_type = PT_LOAD, .p_offset = SEG1_OFF, .p_paddr = SEG1_PADDR,
		  .p_filesz = SEG1_SIZE, .p_memsz = SEG1_SIZE, .p_align = 0x1000 },
	};
	Elf64_Shdr sh[2] = {
		{ 0 },
		{ .sh_type = SHT_NOTE, .sh_offset = NOTES_OFF, .sh_addralign = 4 },
	};

	memset(image, 0, sizeof(image));
	put_notes(4);
	ph[PH_NOTE].p_filesz = notes_len;
	sh[1].sh_size = notes_len;
	memcpy(image, &eh, sizeof(eh));
	memcpy(image + eh.e_phoff, ph, sizeof(ph));
	memcpy(image + SHDR_OFF, sh, sizeof(sh));
	for (size_t i = 0; i < SEG0_FILESZ; i++)
		image[SEG0_OFF + i] = (uint8_t)(i + 1);
	memset(image + SEG1_OFF, 0x5a, SEG1_SIZE);
	image_len = sizeof(image);
}

static void make_elf32(void)
{
	Elf32_Ehdr eh = {
		.e_ident = { ELFMAG0, ELFMAG1, ELFMAG2, ELFMAG3, ELFCLASS32, ELFDATA2LSB, EV_CURRENT },
		.e_type = ET_EXEC,
		.e_machine = EM_386,
		.e_version = EV_CURRENT,
		.e_phoff = sizeof(Elf32_Ehdr),
		.e_ehsize = sizeof(Elf32_Ehdr),
		.e_phentsize = sizeof(Elf32_Phdr),
		.e_phnum = 2,
	};
	Elf32_Phdr ph[2] = {
		{ .p_type = PT_LOAD, .p_offset = SEG0_OFF, .p_paddr = SEG0_PADDR,
		  .p_filesz = SEG0_FILESZ, .p_memsz = SEG0_MEMSZ, .p_align = 0x1000 },
		{ .p_type = PT_NOTE, .p_offset = NOTES_OFF, .p_align = 4 },
	};

	memset(image, 0, sizeof(image));
	put_notes(4);
	ph[1].p_filesz = notes_len;
	memcpy(image, &eh, sizeof(eh));
	memcpy(image + eh.e_phoff, ph, sizeof(ph));
	for (size_t i = 0; i < SEG0_FILESZ; i++)
		image[SEG0_OFF + i] = (uint8_t)(i + 1);
	image_len = SEG0_OFF + SEG0_FILESZ;
}

static Elf64_Phdr *phdr(unsigned i)
{
	return (Elf64_Phdr *)(image + sizeof(Elf64_Ehdr)) + i;
}

static Elf64_Ehdr *ehdr(void)
{
	return (Elf64_Ehdr *)image;
}

struct vm {
	struct guest_mem mem;
	struct e820_table e820;
	uint8_t *ram;
};

static void vm_init(struct vm *vm, uint64_t ram)
{
	struct error err = { "" };

	vm->ram = test_mem_low(&vm->mem, ram);
	ck_assert_int_eq(e820_build(&vm->e820, ram, &err), 0);
}

static int load(struct vm *vm, const void *initrd, size_t initrd_len, const char *cmdline,
		struct boot_entry *out, struct error *err)
{
	return pvh_load(&vm->mem, image, image_len, initrd, initrd_len, cmdline, &vm->e820, out,
			err);
}

/* Loading must fail with a message containing what. */
static void expect_load_error(const char *what)
{
	struct vm vm;
	struct boot_entry entry;
	struct error err = { "" };

	vm_init(&vm, 16 * MiB);
	ck_assert_int_eq(load(&vm, NULL, 0, "", &entry, &err), -1);
	ck_assert_err_has(err, what);
	free(vm.ram);
}

START_TEST(probe_and_entry)
{
	struct error err = { "" };
	uint64_t entry = 0;

	make_elf64();
	ck_assert(elf_probe(image, image_len));
	ck_assert(!elf_probe(image, 3));
	ck_assert_int_eq(pvh_find_entry(image, image_len, &entry, &err), 0);
	ck_assert_uint_eq(entry, ENTRY);
}
END_TEST

START_TEST(entry_8_bytes)
{
	struct error err = { "" };
	uint64_t entry = 0;
	uint64_t high = 1ULL << 32;

	make_elf64();
	put_notes(8);
	phdr(PH_NOTE)->p_filesz = notes_len;
	ck_assert_int_eq(pvh_find_entry(image, image_len, &entry, &err), 0);
	ck_assert_uint_eq(entry, ENTRY);
	memcpy(image + xen_desc_off, &high, 8);
	ck_assert_int_eq(pvh_find_entry(image, image_len, &entry, &err), -1);
	ck_assert_err_has(err, "not a 32-bit address");
}
END_TEST

/* A note in an 8-byte-aligned note area: its desc and the next note start at the next
 * multiple of 8 from the area's start (as binutils lays out .note.gnu.property). */
static size_t put_note8(size_t off, const char *name, uint32_t type, const void *desc,
			uint32_t desc_len)
{
	Elf64_Nhdr nh = { .n_namesz = (uint32_t)strlen(name) + 1, .n_descsz = desc_len,
			  .n_type = type };
	size_t desc_off = (sizeof(nh) + nh.n_namesz + 7) & ~(size_t)7;

	memcpy(image + off, &nh, sizeof(nh));
	memcpy(image + off + sizeof(nh), name, nh.n_namesz);
	memcpy(image + off + desc_off, desc, desc_len);
	return (desc_off + desc_len + 7) & ~(size_t)7;
}

/* /bin/true's shape: an 8-aligned GNU property note (4-byte name: desc at 16, not 20). */
START_TEST(notes_in_an_8_byte_aligned_area)
{
	static const uint8_t property[16] = { 2, 0, 0, 0xc0, 4, 0, 0, 0, 1 };
	struct error err = { "" };
	uint64_t entry = ENTRY, found = 0;
	size_t off = NOTES_OFF;
	Elf64_Shdr *notes;

	make_elf64();
	memset(image + NOTES_OFF, 0, SEG0_OFF - NOTES_OFF);
	off += put_note8(off, "GNU", 5 /* NT_GNU_PROPERTY_TYPE_0 */, property, sizeof(property));
	off += put_note8(off, "Xen", XEN_ELFNOTE_PHYS32_ENTRY, &entry, 8);
	phdr(PH_NOTE)->p_filesz = off - NOTES_OFF;
	phdr(PH_NOTE)->p_align = 8;
	notes = (Elf64_Shdr *)(image + SHDR_OFF) + 1;
	notes->sh_size = off - NOTES_OFF;
	notes->sh_addralign = 8;
	ck_assert_msg(pvh_find_entry(image, image_len, &found, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(found, ENTRY);
}
END_TEST

START_TEST(entry_from_section_only)
{
	struct error err = { "" };
	uint64_t entry = 0;

	make_elf64();
	phdr(PH_NOTE)->p_type = PT_NULL;
	ck_assert_int_eq(pvh_find_entry(image, image_len, &entry, &err), 0);
	ck_assert_uint_eq(entry, ENTRY);
	/* A section table that lies outside the file is an error, not a silent miss. */
	ehdr()->e_shoff = image_len - 10;
	ck_assert_int_eq(pvh_find_entry(image, image_len, &entry, &err), -1);
	ck_assert_err_has(err, "section header table");
}
END_TEST

START_TEST(no_note)
{
	struct error err = { "" };
	uint64_t entry;

	make_elf64();
	phdr(PH_NOTE)->p_type = PT_NULL;
	ehdr()->e_shnum = 0;
	ck_assert_int_eq(pvh_find_entry(image, image_len, &entry, &err), -1);
	ck_assert_str_eq(err.msg, "ELF kernel has no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY)");
	expect_load_error("no PVH entry note");
}
END_TEST

START_TEST(note_with_bad_size)
{
	struct error err = { "" };
	uint64_t entry;
	uint32_t two = 2;

	make_elf64();
	/* Shrink the entry note's descsz to 2 (the note header sits 16 bytes before desc). */
	memcpy(image + xen_desc_off - 16 + 4, &two, 4);
	ck_assert_int_eq(pvh_find_entry(image, image_len, &entry, &err), -1);
	ck_assert_err_has(err, "2-byte value, expected 4 or 8");
}
END_TEST

START_TEST(note_past_its_area)
{
	struct error err = { "" };
	uint64_t entry;
	uint32_t huge = 0xfffffff0;

	make_elf64();
	memcpy(image + NOTES_OFF, &huge, 4); /* first note's namesz */
	ck_assert_int_eq(pvh_find_entry(image, image_len, &entry, &err), -1);
	ck_assert_err_has(err, "runs past the end");
	make_elf64();
	memcpy(image + NOTES_OFF + 4, &huge, 4); /* descsz */
	ck_assert_int_eq(pvh_find_entry(image, image_len, &entry, &err), -1);
	make_elf64();
	phdr(PH_NOTE)->p_filesz = image_len; /* note segment past the file */
	ck_assert_int_eq(pvh_find_entry(image, image_len, &entry, &err), -1);
	ck_assert_err_has(err, "outside the");
}
END_TEST

START_TEST(truncated)
{
	struct error err = { "" };
	struct boot_entry be;
	struct vm vm;
	uint64_t entry;

	make_elf64();
	ck_assert_int_eq(pvh_find_entry(image, 40, &entry, &err), -1);
	ck_assert_err_has(err, "truncated");
	/* Program headers cut off. */
	ck_assert_int_eq(pvh_find_entry(image, 100, &entry, &err), -1);
	ck_assert_err_has(err, "program header table");
	/* Every shorter length fails cleanly (ASan watches the reads). */
	vm_init(&vm, 16 * MiB);
	for (size_t len = 0; len < SEG1_OFF + SEG1_SIZE; len += 13)
		ck_assert_int_eq(pvh_load(&vm.mem, image, len, NULL, 0, "", &vm.e820, &be, &err), -1);
	free(vm.ram);
}
END_TEST

START_TEST(corrupted_headers)
{
	struct error err = { "" };
	uint64_t entry;

	make_elf64();
	ehdr()->e_phoff = 0xfffffffffffffff0ULL;
	ck_assert_int_eq(pvh_find_entry(image, image_len, &entry, &err), -1);
	ck_assert_err_has(err, "outside the");
	make_elf64();
	ehdr()->e_phnum = 0xfffe;
	ck_assert_int_eq(pvh_find_entry(image, image_len, &entry, &err), -1);
	make_elf64();
	ehdr()->e_phnum = 0;
	ck_assert_int_eq(pvh_find_entry(image, image_len, &entry, &err), -1);
	ck_assert_err_has(err, "no program headers");
	make_elf64();
	ehdr()->e_phentsize = 32;
	ck_assert_int_eq(pvh_find_entry(image, image_len, &entry, &err), -1);
	ck_assert_err_has(err, "entries are 32 bytes");
	make_elf64();
	ehdr()->e_machine = EM_AARCH64;
	ck_assert_int_eq(pvh_find_entry(image, image_len, &entry, &err), -1);
	ck_assert_err_has(err, "not x86-64");
	make_elf64();
	image[EI_DATA] = ELFDATA2MSB;
	ck_assert_int_eq(pvh_find_entry(image, image_len, &entry, &err), -1);
	ck_assert_err_has(err, "little-endian");
	make_elf64();
	image[EI_CLASS] = 7;
	ck_assert_int_eq(pvh_find_entry(image, image_len, &entry, &err), -1);
	ck_assert_err_has(err, "class");
}
END_TEST

START_TEST(segment_outside_file)
{
	make_elf64();
	phdr(PH_LOAD1)->p_offset = image_len - 0x10;
	expect_load_error("segment 2 (offset");
	make_elf64();
	phdr(PH_LOAD1)->p_offset = 0xffffffffffffff00ULL;
	expect_load_error("outside the");
	make_elf64();
	phdr(PH_LOAD0)->p_memsz = SEG0_FILESZ - 1;
	expect_load_error("more file bytes");
	make_elf64();
	phdr(PH_LOAD0)->p_paddr = 0xfffffffffffff000ULL;
	expect_load_error("wraps");
}
END_TEST

START_TEST(segment_outside_ram)
{
	make_elf64();
	phdr(PH_LOAD1)->p_paddr = 16 * MiB - 0x400; /* crosses the end of 16 MiB of RAM */
	expect_load_error("is not inside guest RAM");
	make_elf64();
	phdr(PH_LOAD1)->p_paddr = 0x7000; /* on top of start_info */
	expect_load_error("below 1 MiB");
}
END_TEST

START_TEST(entry_outside_segments)
{
	uint32_t bad = SEG1_PADDR + SEG1_SIZE;

	make_elf64();
	memcpy(image + xen_desc_off, &bad, 4);
	expect_load_error("outside the kernel's loadable segments");
}
END_TEST

static uint64_t rd64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

START_TEST(load_segments_and_start_info)
{
	struct vm vm;
	struct boot_entry entry;
	struct error err = { "" };
	struct hvm_start_info si;
	struct hvm_memmap_table_entry map[8];

	make_elf64();
	vm_init(&vm, 16 * MiB);
	memset(vm.ram + SEG0_PADDR, 0xee, SEG0_MEMSZ); /* bss must be zeroed */
	ck_assert_msg(load(&vm, NULL, 0, "console=ttyS0", &entry, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(entry.mode, BOOT_PVH32);
	ck_assert_uint_eq(entry.entry_gpa, ENTRY);
	ck_assert_uint_eq(entry.boot_info_gpa, LAYOUT_ZERO_PAGE);

	ck_assert_mem_eq(vm.ram + SEG0_PADDR, image + SEG0_OFF, SEG0_FILESZ);
	for (size_t i = SEG0_FILESZ; i < SEG0_MEMSZ; i++)
		ck_assert_uint_eq(vm.ram[SEG0_PADDR + i], 0);
	ck_assert_mem_eq(vm.ram + SEG1_PADDR, image + SEG1_OFF, SEG1_SIZE);

	memcpy(&si, vm.ram + LAYOUT_ZERO_PAGE, sizeof(si));
	ck_assert_uint_eq(si.magic, 0x336ec578);
	ck_assert_uint_eq(si.version, 1);
	ck_assert_uint_eq(si.nr_modules, 0);
	ck_assert_uint_eq(si.modlist_paddr, 0);
	ck_assert_uint_eq(si.cmdline_paddr, LAYOUT_CMDLINE);
	ck_assert_uint_eq(si.rsdp_paddr, 0);
	ck_assert_uint_eq(si.memmap_paddr, LAYOUT_PVH_MEMMAP);
	ck_assert_uint_eq(si.memmap_entries, vm.e820.nr);
	ck_assert_str_eq((const char *)vm.ram + LAYOUT_CMDLINE, "console=ttyS0");

	memcpy(map, vm.ram + LAYOUT_PVH_MEMMAP, vm.e820.nr * sizeof(map[0]));
	for (unsigned i = 0; i < vm.e820.nr; i++) {
		ck_assert_uint_eq(map[i].addr, vm.e820.entries[i].addr);
		ck_assert_uint_eq(map[i].size, vm.e820.entries[i].size);
		ck_assert_uint_eq(map[i].type, vm.e820.entries[i].type);
		ck_assert_uint_eq(map[i].reserved, 0);
	}
	free(vm.ram);
}
END_TEST

START_TEST(load_initrd)
{
	struct vm vm;
	struct boot_entry entry;
	struct error err = { "" };
	struct hvm_start_info si;
	size_t len = 1 * MiB + 3;
	uint8_t *initrd = malloc(len);
	const uint8_t *mod;

	ck_assert_ptr_nonnull(initrd);
	memset(initrd, 0x77, len);
	make_elf64();
	/* The second segment sits at the top of RAM: the initrd must go below it. */
	phdr(PH_LOAD1)->p_paddr = 16 * MiB - 0x1000;
	vm_init(&vm, 16 * MiB);
	ck_assert_msg(load(&vm, initrd, len, NULL, &entry, &err) == 0, "%s", err.msg);
	memcpy(&si, vm.ram + LAYOUT_ZERO_PAGE, sizeof(si));
	ck_assert_uint_eq(si.nr_modules, 1);
	ck_assert_uint_eq(si.modlist_paddr, PVH_MODLIST_GPA);
	mod = vm.ram + si.modlist_paddr;
	ck_assert_uint_eq(rd64(mod + 8), len);
	ck_assert_uint_eq(rd64(mod + 16), 0); /* no module command line */
	ck_assert_uint_eq(rd64(mod) % 4096, 0);
	ck_assert_uint_eq(rd64(mod) + len, 16 * MiB - 0x1000 - (4096 - 3));
	ck_assert_mem_eq(vm.ram + rd64(mod), initrd, len);
	ck_assert_uint_eq(vm.ram[LAYOUT_CMDLINE], 0); /* NULL command line = "" */
	free(vm.ram);

	/* Too big for the RAM left. */
	free(initrd);
	len = 15 * MiB;
	initrd = calloc(1, len);
	ck_assert_ptr_nonnull(initrd);
	vm_init(&vm, 16 * MiB);
	ck_assert_int_eq(load(&vm, initrd, len, NULL, &entry, &err), -1);
	ck_assert_err_has(err, "initrd");
	ck_assert_err_has(err, "does not fit");
	free(vm.ram);
	free(initrd);
}
END_TEST

START_TEST(elf32)
{
	struct vm vm;
	struct boot_entry entry;
	struct error err = { "" };

	make_elf32();
	vm_init(&vm, 16 * MiB);
	ck_assert_msg(load(&vm, NULL, 0, "", &entry, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(entry.mode, BOOT_PVH32);
	ck_assert_uint_eq(entry.entry_gpa, ENTRY);
	ck_assert_mem_eq(vm.ram + SEG0_PADDR, image + SEG0_OFF, SEG0_FILESZ);
	free(vm.ram);
}
END_TEST

START_TEST(dispatch_to_pvh)
{
	struct vm vm;
	struct boot_entry entry;
	struct error err = { "" };

	make_elf64();
	vm_init(&vm, 16 * MiB);
	ck_assert_int_eq(kernel_load_image(&vm.mem, image, image_len, NULL, 0, "", &vm.e820,
					   &entry, &err),
			 0);
	ck_assert_int_eq(entry.mode, BOOT_PVH32);
	ck_assert_uint_eq(entry.entry_gpa, ENTRY);
	free(vm.ram);
}
END_TEST

Suite *suite_main(void)
{
	Suite *s = suite_create("pvh");
	TCase *tc = tcase_create("pvh");

	tcase_add_test(tc, probe_and_entry);
	tcase_add_test(tc, entry_8_bytes);
	tcase_add_test(tc, entry_from_section_only);
	tcase_add_test(tc, notes_in_an_8_byte_aligned_area);
	tcase_add_test(tc, no_note);
	tcase_add_test(tc, note_with_bad_size);
	tcase_add_test(tc, note_past_its_area);
	tcase_add_test(tc, truncated);
	tcase_add_test(tc, corrupted_headers);
	tcase_add_test(tc, segment_outside_file);
	tcase_add_test(tc, segment_outside_ram);
	tcase_add_test(tc, entry_outside_segments);
	tcase_add_test(tc, load_segments_and_start_info);
	tcase_add_test(tc, load_initrd);
	tcase_add_test(tc, elf32);
	tcase_add_test(tc, dispatch_to_pvh);
	suite_add_tcase(s, tc);
	return s;
}
