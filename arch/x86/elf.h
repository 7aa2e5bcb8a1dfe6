/*
 * Just enough ELF to load a kernel: the file header, program headers and
 * notes, every offset and size checked against the file before use.
 * ELF32 and ELF64, little-endian, x86 only.
 */
#ifndef TIDE_X86_ELF_H
#define TIDE_X86_ELF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

struct elf_file {
	const uint8_t *data;
	size_t len;
	bool is64;
	uint64_t phoff; /* program header table: inside the file */
	unsigned phnum;
	unsigned phentsize;
	uint64_t shoff; /* section header table: inside the file, or shnum = 0 */
	unsigned shnum;
	unsigned shentsize;
};

/* A program header, widened to 64 bits. offset + filesz lies inside the file. */
struct elf_segment {
	uint32_t type;
	uint64_t offset;
	uint64_t paddr;
	uint64_t filesz;
	uint64_t memsz;
	uint64_t align;
};

/* True when the image starts with the ELF magic. */
bool elf_probe(const void *image, size_t len);

/* Validates the ELF header and the header tables' placement in the file. */
int elf_open(struct elf_file *f, const void *image, size_t len, struct error *err);

/* Program header i (< phnum), checked: file range in the file, no wrap, PT_LOAD filesz <= memsz. */
int elf_segment(const struct elf_file *f, unsigned i, struct elf_segment *seg, struct error *err);

/*
 * Looks for a note named name with type in the PT_NOTE segments, then in the
 * SHT_NOTE sections. 1 = found (desc points into the file), 0 = absent,
 * -1 = a malformed note area (err set).
 */
int elf_find_note(const struct elf_file *f, const char *name, uint32_t type, const void **desc,
		  uint32_t *desc_len, struct error *err);

#endif
