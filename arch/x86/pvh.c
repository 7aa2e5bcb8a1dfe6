#include "arch/x86/pvh.h"

#include <inttypes.h>
#include <elf.h>
#include <string.h>

#include "arch/x86/e820.h"
#include "arch/x86/elf.h"
#include "mm/guest_mem.h"

_Static_assert(sizeof(struct hvm_start_info) == 56, "hvm_start_info layout");
_Static_assert(sizeof(struct hvm_modlist_entry) == 32, "hvm_modlist_entry layout");
_Static_assert(sizeof(struct hvm_memmap_table_entry) == 24, "hvm_memmap_table_entry layout");
_Static_assert(PVH_MODLIST_GPA + sizeof(struct hvm_modlist_entry) <= LAYOUT_PVH_MEMMAP,
	       "PVH module list overlaps the memory map");

static int entry_from_file(const struct elf_file *f, uint64_t *entry, struct error *err)
{
	const void *desc;
	uint32_t desc_len;
	int found = elf_find_note(f, "Xen", XEN_ELFNOTE_PHYS32_ENTRY, &desc, &desc_len, err);

	if (found < 0)
		return -1;
	if (!found)
		return error_set(err, "ELF kernel has no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY)");
	if (desc_len == 4) {
		uint32_t v;

		memcpy(&v, desc, sizeof(v));
		*entry = v;
	} else if (desc_len == 8) {
		memcpy(entry, desc, sizeof(*entry));
	} else {
		return error_set(err, "PVH entry note has a %u-byte value, expected 4 or 8", desc_len);
	}
	if (*entry >= LAYOUT_4G)
		return error_set(err, "PVH entry 0x%" PRIx64 " is not a 32-bit address",
				 *entry);
	return 0;
}

int pvh_find_entry(const void *image, size_t len, uint64_t *entry, struct error *err)
{
	struct elf_file f;

	if (elf_open(&f, image, len, err))
		return -1;
	return entry_from_file(&f, entry, err);
}

/* Checks every PT_LOAD against guest RAM and records where they go. */
static int check_segments(const struct elf_file *f, const struct guest_mem *mem,
			  struct boot_range *busy, unsigned *nr_busy, struct error *err)
{
	*nr_busy = 0;
	for (unsigned i = 0; i < f->phnum; i++) {
		struct elf_segment seg;

		if (elf_segment(f, i, &seg, err))
			return -1;
		if (seg.type != PT_LOAD || seg.memsz == 0)
			continue;
		if (seg.paddr < LAYOUT_HIGH_MEMORY)
			return error_set(err, "ELF segment %u at 0x%" PRIx64 " overlaps "
				 "the boot area below 1 MiB",
					 i, seg.paddr);
		if (!guest_mem_ptr(mem, seg.paddr, seg.memsz))
			return error_set(err, "ELF segment %u [0x%" PRIx64 ", 0x%" PRIx64 ") is "
					      "not inside guest RAM",
					 i, seg.paddr, seg.paddr + seg.memsz);
		if (*nr_busy == PVH_MAX_SEGMENTS)
			return error_set(err, "ELF kernel has more than %d loadable segments",
					 PVH_MAX_SEGMENTS);
		busy[(*nr_busy)++] = (struct boot_range){ seg.paddr, seg.paddr + seg.memsz };
	}
	if (*nr_busy == 0)
		return error_set(err, "ELF kernel has no loadable segments");
	return 0;
}

static void load_segments(const struct elf_file *f, const struct guest_mem *mem)
{
	for (unsigned i = 0; i < f->phnum; i++) {
		struct elf_segment seg;
		uint8_t *dst;

		/* Both already passed check_segments(). */
		if (elf_segment(f, i, &seg, NULL) || seg.type != PT_LOAD || seg.memsz == 0)
			continue;
		dst = guest_mem_ptr(mem, seg.paddr, seg.memsz);
		memcpy(dst, f->data + seg.offset, seg.filesz);
		memset(dst + seg.filesz, 0, seg.memsz - seg.filesz);
	}
}

static bool inside_segments(uint64_t addr, const struct boot_range *busy, unsigned nr)
{
	for (unsigned i = 0; i < nr; i++)
		if (addr >= busy[i].start && addr < busy[i].end)
			return true;
	return false;
}

static int write_memmap(struct guest_mem *mem, const struct e820_table *e820,
			struct hvm_start_info *si, struct error *err)
{
	struct hvm_memmap_table_entry *map;

	if (e820->nr > PVH_MEMMAP_MAX)
		return error_set(err, "%u memory map entries do not fit the PVH map (at most %u)",
				 e820->nr, PVH_MEMMAP_MAX);
	map = guest_mem_ptr(mem, LAYOUT_PVH_MEMMAP, e820->nr * sizeof(*map));
	if (!map)
		return error_set(err, "PVH memory map at 0x%llx is not RAM", LAYOUT_PVH_MEMMAP);
	for (unsigned i = 0; i < e820->nr; i++) {
		const struct e820_entry *e = &e820->entries[i];
		struct hvm_memmap_table_entry m = { .addr = e->addr, .size = e->size, .type = e->type };

		memcpy(&map[i], &m, sizeof(m));
	}
	si->memmap_paddr = LAYOUT_PVH_MEMMAP;
	si->memmap_entries = e820->nr;
	return 0;
}

static int place_initrd(struct guest_mem *mem, const void *initrd, size_t initrd_len,
			const struct e820_table *e820, const struct boot_range *busy,
			unsigned nr_busy, struct hvm_start_info *si, struct error *err)
{
	struct hvm_modlist_entry mod = { .size = initrd_len };
	uint64_t low_end;

	if (boot_low_ram_end(e820, &low_end, err))
		return -1;
	if (boot_place_high(LAYOUT_HIGH_MEMORY, low_end, initrd_len, busy, nr_busy, &mod.paddr))
		return error_set(err, "initrd (%zu bytes) does not fit in low RAM "
				 "(below 0x%" PRIx64 ") next to the kernel",
				 initrd_len, low_end);
	if (guest_mem_write(mem, mod.paddr, initrd, initrd_len, err) ||
	    guest_mem_write(mem, PVH_MODLIST_GPA, &mod, sizeof(mod), err))
		return error_prefix(err, "initrd");
	si->nr_modules = 1;
	si->modlist_paddr = PVH_MODLIST_GPA;
	return 0;
}

int pvh_load(struct guest_mem *mem, const void *image, size_t len, const void *initrd,
	     size_t initrd_len, const char *cmdline, const struct e820_table *e820,
	     struct boot_entry *out, struct error *err)
{
	struct hvm_start_info si = {
		.magic = XEN_HVM_START_MAGIC_VALUE,
		.version = 1,
		.cmdline_paddr = LAYOUT_CMDLINE,
	};
	struct boot_range busy[PVH_MAX_SEGMENTS];
	unsigned nr_busy;
	struct elf_file f;
	uint64_t entry;
	void *page;

	if (elf_open(&f, image, len, err) || entry_from_file(&f, &entry, err) ||
	    check_segments(&f, mem, busy, &nr_busy, err))
		return -1;
	if (!inside_segments(entry, busy, nr_busy))
		return error_set(err, "PVH entry 0x%" PRIx64 " is outside the kernel's loadable "
				      "segments",
				 entry);
	page = guest_mem_ptr(mem, LAYOUT_ZERO_PAGE, 0x1000);
	if (!page)
		return error_set(err, "start_info page at 0x%llx is not RAM", LAYOUT_ZERO_PAGE);
	memset(page, 0, 0x1000);

	load_segments(&f, mem);
	if (write_memmap(mem, e820, &si, err) ||
	    boot_write_cmdline(mem, cmdline ? cmdline : "", UINT64_MAX, err))
		return -1;
	if (initrd_len &&
	    place_initrd(mem, initrd, initrd_len, e820, busy, nr_busy, &si, err))
		return -1;
	if (guest_mem_write(mem, LAYOUT_ZERO_PAGE, &si, sizeof(si), err))
		return -1;

	*out = (struct boot_entry){
		.mode = BOOT_PVH32,
		.entry_gpa = entry,
		.boot_info_gpa = LAYOUT_ZERO_PAGE,
	};
	return 0;
}
