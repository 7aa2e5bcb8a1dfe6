#include "arch/x86/elf.h"
#include "util/util.h"

#include <inttypes.h>
#include <elf.h>
#include <string.h>

bool elf_probe(const void *image, size_t len)
{
	return len >= SELFMAG && memcmp(image, ELFMAG, SELFMAG) == 0;
}

/* True when [off, off + size) lies inside a file of len bytes, without overflow. */
static bool in_file(uint64_t off, uint64_t size, size_t len)
{
	return off <= len && size <= len - off;
}

/* Places a table of num entries of entsize bytes at off; num 0 is an empty table. */
static int check_table(const char *what, uint64_t off, unsigned num, unsigned entsize,
		       unsigned want_entsize, size_t len, struct error *err)
{
	if (num == 0)
		return 0;
	if (entsize != want_entsize)
		return error_set(err, "ELF %s entries are %u bytes, expected %u", what, entsize,
				 want_entsize);
	if (!in_file(off, (uint64_t)num * entsize, len))
		return error_set(err, "ELF %s table (%u entries at offset 0x%" PRIx64 ") "
				 "lies outside the %zu-byte file",
				 what, num, off, len);
	return 0;
}

/* The header's table fields, widened; both tables must lie inside the file. */
static int take_tables(struct elf_file *f, uint64_t phoff, unsigned phnum, unsigned phentsize,
		       uint64_t shoff, unsigned shnum, unsigned shentsize, unsigned phdr_size,
		       unsigned shdr_size, struct error *err)
{
	f->phoff = phoff;
	f->phnum = phnum;
	f->phentsize = phentsize;
	f->shoff = shoff;
	f->shnum = shoff ? shnum : 0;
	f->shentsize = shentsize;
	if (check_table("program header", f->phoff, f->phnum, f->phentsize, phdr_size, f->len,
			err))
		return -1;
	return check_table("section header", f->shoff, f->shnum, f->shentsize, shdr_size, f->len,
			   err);
}

static int open64(struct elf_file *f, struct error *err)
{
	Elf64_Ehdr eh;

	if (f->len < sizeof(eh))
		return error_set(err, "ELF file is truncated: %zu bytes, the header needs %zu", f->len,
				 sizeof(eh));
	memcpy(&eh, f->data, sizeof(eh));
	if (eh.e_machine != EM_X86_64)
		return error_set(err, "ELF64 file is for machine %u, not x86-64", eh.e_machine);
	return take_tables(f, eh.e_phoff, eh.e_phnum, eh.e_phentsize, eh.e_shoff, eh.e_shnum,
			   eh.e_shentsize, sizeof(Elf64_Phdr), sizeof(Elf64_Shdr), err);
}

static int open32(struct elf_file *f, struct error *err)
{
	Elf32_Ehdr eh;

	if (f->len < sizeof(eh))
		return error_set(err, "ELF file is truncated: %zu bytes, the header needs %zu", f->len,
				 sizeof(eh));
	memcpy(&eh, f->data, sizeof(eh));
	if (eh.e_machine != EM_386 && eh.e_machine != EM_X86_64)
		return error_set(err, "ELF32 file is for machine %u, not x86", eh.e_machine);
	return take_tables(f, eh.e_phoff, eh.e_phnum, eh.e_phentsize, eh.e_shoff, eh.e_shnum,
			   eh.e_shentsize, sizeof(Elf32_Phdr), sizeof(Elf32_Shdr), err);
}

int elf_open(struct elf_file *f, const void *image, size_t len, struct error *err)
{
	const uint8_t *id = image;

	memset(f, 0, sizeof(*f));
	f->data = image;
	f->len = len;
	if (len < EI_NIDENT || !elf_probe(image, len))
		return error_set(err, "not an ELF file");
	if (id[EI_DATA] != ELFDATA2LSB)
		return error_set(err, "ELF file is not little-endian");
	if (id[EI_VERSION] != EV_CURRENT)
		return error_set(err, "ELF file has unknown version %u", id[EI_VERSION]);
	if (id[EI_CLASS] == ELFCLASS64)
		f->is64 = true;
	else if (id[EI_CLASS] != ELFCLASS32)
		return error_set(err, "ELF file has unknown class %u", id[EI_CLASS]);
	if (f->is64 ? open64(f, err) : open32(f, err))
		return -1;
	/* PN_XNUM (0xffff) would keep the real count in section 0: no kernel needs that. */
	if (f->phnum == PN_XNUM)
		return error_set(err, "ELF file uses extended program header numbering");
	if (f->phnum == 0)
		return error_set(err, "ELF file has no program headers");
	return 0;
}

int elf_segment(const struct elf_file *f, unsigned i, struct elf_segment *seg, struct error *err)
{
	const uint8_t *ph = f->data + f->phoff + (uint64_t)i * f->phentsize;

	if (i >= f->phnum)
		return error_set(err, "ELF program header %u does not exist", i);
	if (f->is64) {
		Elf64_Phdr p;

		memcpy(&p, ph, sizeof(p));
		*seg = (struct elf_segment){ p.p_type, p.p_offset, p.p_paddr, p.p_filesz, p.p_memsz,
					     p.p_align };
	} else {
		Elf32_Phdr p;

		memcpy(&p, ph, sizeof(p));
		*seg = (struct elf_segment){ p.p_type, p.p_offset, p.p_paddr, p.p_filesz, p.p_memsz,
					     p.p_align };
	}
	if (!in_file(seg->offset, seg->filesz, f->len))
		return error_set(err, "ELF segment %u (offset 0x%" PRIx64 ", %" PRIu64 " bytes) "
				 "lies outside the %zu-byte file",
				 i, seg->offset, seg->filesz,
				 f->len);
	if (seg->type == PT_LOAD && seg->filesz > seg->memsz)
		return error_set(err, "ELF segment %u has more file bytes (%" PRIu64 ") "
				 "than memory bytes (%" PRIu64 ")",
				 i, seg->filesz, seg->memsz);
	if (seg->memsz > UINT64_MAX - seg->paddr)
		return error_set(err, "ELF segment %u at 0x%" PRIx64 " wraps the address space", i,
				 seg->paddr);
	return 0;
}

/*
 * Walks the notes in [off, off + size) (already inside the file). Notes are
 * {u32 namesz, descsz, type; name; desc}; desc and the next note start at the next
 * multiple of align from the area's start (for align 8, as binutils lays out
 * .note.gnu.property, the 12-byte header plus name is what gets padded).
 */
static int scan_notes(const struct elf_file *f, uint64_t off, uint64_t size, uint64_t align,
		      const char *name, uint32_t type, const void **desc, uint32_t *desc_len,
		      struct error *err)
{
	uint64_t pos = 0;
	uint64_t want_namesz = strlen(name) + 1;

	while (size - pos >= sizeof(Elf64_Nhdr)) { /* Elf32_Nhdr has the same layout */
		Elf64_Nhdr nh;
		uint64_t name_off, desc_off, end;

		memcpy(&nh, f->data + off + pos, sizeof(nh));
		name_off = pos + sizeof(nh);
		/* Sizes are 32-bit, positions below 2^63: these sums do not overflow. */
		desc_off = ALIGN_UP((uint64_t)name_off + nh.n_namesz, align);
		end = ALIGN_UP((uint64_t)desc_off + nh.n_descsz, align);
		if (desc_off + nh.n_descsz > size)
			return error_set(err, "ELF note at offset 0x%" PRIx64 " runs past "
					 "the end of its note area",
					 (off + pos));
		if (nh.n_type == type && nh.n_namesz == want_namesz &&
		    memcmp(f->data + off + name_off, name, want_namesz) == 0) {
			*desc = f->data + off + desc_off;
			*desc_len = nh.n_descsz;
			return 1;
		}
		if (end >= size)
			break;
		pos = end;
	}
	return 0;
}

static int find_in_segments(const struct elf_file *f, const char *name, uint32_t type,
			    const void **desc, uint32_t *desc_len, struct error *err)
{
	for (unsigned i = 0; i < f->phnum; i++) {
		struct elf_segment seg;
		int found;

		if (elf_segment(f, i, &seg, err))
			return -1;
		if (seg.type != PT_NOTE)
			continue;
		found = scan_notes(f, seg.offset, seg.filesz, seg.align == 8 ? 8 : 4, name, type,
				   desc, desc_len, err);
		if (found)
			return found;
	}
	return 0;
}

static int find_in_sections(const struct elf_file *f, const char *name, uint32_t type,
			    const void **desc, uint32_t *desc_len, struct error *err)
{
	for (unsigned i = 0; i < f->shnum; i++) {
		const uint8_t *sh = f->data + f->shoff + (uint64_t)i * f->shentsize;
		uint64_t off, size, align;
		uint32_t sh_type;
		int found;

		if (f->is64) {
			Elf64_Shdr s;

			memcpy(&s, sh, sizeof(s));
			sh_type = s.sh_type, off = s.sh_offset, size = s.sh_size, align = s.sh_addralign;
		} else {
			Elf32_Shdr s;

			memcpy(&s, sh, sizeof(s));
			sh_type = s.sh_type, off = s.sh_offset, size = s.sh_size, align = s.sh_addralign;
		}
		if (sh_type != SHT_NOTE)
			continue;
		if (!in_file(off, size, f->len))
			return error_set(err, "ELF note section %u (offset 0x%" PRIx64 ", "
					      "%" PRIu64 " bytes) "
					 "lies outside the %zu-byte file",
					 i, off, size, f->len);
		found = scan_notes(f, off, size, align == 8 ? 8 : 4, name, type, desc, desc_len, err);
		if (found)
			return found;
	}
	return 0;
}

int elf_find_note(const struct elf_file *f, const char *name, uint32_t type, const void **desc,
		  uint32_t *desc_len, struct error *err)
{
	int found = find_in_segments(f, name, type, desc, desc_len, err);

	if (found)
		return found;
	return find_in_sections(f, name, type, desc, desc_len, err);
}
