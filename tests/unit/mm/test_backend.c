#include <check.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mm/backend.h"
#include "devices/device.h"
#include "util/size.h"

static struct memory_backend *parse(const char *type, const char *str, struct error *err)
{
	const struct device_type *t = device_type_find(type, TYPE_OBJECT);
	struct opts opts;
	struct memory_backend *b;

	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(opts_parse(&opts, "-object", str, "qom-type", err), 0);
	opts_take(&opts, "qom-type");
	b = t->parse(&opts, err);
	/* As tide does before it confines itself: the type opens its files once. */
	if (b && (opts_finish(&opts, type, err) || (t->open && t->open(b, err)))) {
		memory_backend_free(b);
		b = NULL;
	}
	opts_free(&opts);
	return b;
}

/* Pages of [p, p+len) resident in RAM. */
static size_t resident(void *p, size_t len)
{
	long page = sysconf(_SC_PAGESIZE);
	unsigned char vec[256];
	size_t n = 0;

	ck_assert_uint_le(len / (size_t)page, sizeof(vec));
	ck_assert_int_eq(mincore(p, len, vec), 0);
	for (size_t i = 0; i < len / (size_t)page; i++)
		n += vec[i] & 1;
	return n;
}

/* The VmFlags line of the mapping holding p, from /proc/self/smaps ("" when none). */
static const char *vm_flags_at(const void *p)
{
	static char flags[512];
	char line[512];
	bool inside = false;
	FILE *f = fopen("/proc/self/smaps", "r");

	ck_assert_ptr_nonnull(f);
	flags[0] = '\0';
	while (fgets(line, sizeof(line), f)) {
		unsigned long start, end;

		if (sscanf(line, "%lx-%lx ", &start, &end) == 2)
			inside = (unsigned long)p >= start && (unsigned long)p < end;
		else if (inside && strncmp(line, "VmFlags:", 8) == 0) {
			snprintf(flags, sizeof(flags), "%s", line + 8);
			break;
		}
	}
	fclose(f);
	return flags;
}

/* Whether the mapping holding p was advised MADV_HUGEPAGE (or the kernel has no THP). */
static bool thp_advised_at(const void *p)
{
	return access("/sys/kernel/mm/transparent_hugepage", F_OK) != 0 ||
	       strstr(vm_flags_at(p), " hg") != NULL;
}

static void discard_gives_memory_back(const char *type, const char *props)
{
	struct error err = { "" };
	struct memory_backend *b = parse(type, props, &err);

	ck_assert_msg(b != NULL, "%s", err.msg);
	ck_assert_int_eq(memory_backend_map(b, &err), 0);
	/* Asked for transparent huge pages, as QEMU asks for guest RAM. */
	ck_assert(thp_advised_at(b->hva));
	memset(b->hva, 0xab, b->size);
	ck_assert_uint_eq(resident(b->hva, 256 * KiB), 64);
	ck_assert_int_eq(memory_backend_discard(b, 64 * KiB, 128 * KiB, true, &err), 0);
	ck_assert_uint_eq(resident(b->hva, 256 * KiB), 32);
	/* Discarded memory reads as zeros; the rest keeps its data. */
	for (size_t i = 0; i < b->size; i += 4096)
		ck_assert_uint_eq(b->hva[i], i >= 64 * KiB && i < 192 * KiB ? 0 : 0xab);
	ck_assert_int_eq(memory_backend_discard(b, 192 * KiB, 128 * KiB, true, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "outside"));
	memory_backend_free(b);
}

START_TEST(ram_private)
{
	discard_gives_memory_back("memory-backend-ram", "id=m,size=256K");
}
END_TEST

/* Anonymous RAM starts on a huge-page boundary: a THP never straddles two virtio-mem blocks,
 * so one cannot back an unplugged block beside a plugged one. */
START_TEST(ram_is_huge_page_aligned)
{
	struct error err = { "" };

	for (int share = 0; share < 2; share++) {
		struct memory_backend *b = parse("memory-backend-ram",
						 share ? "id=m,size=6M,share=on" : "id=m,size=6M",
						 &err);

		ck_assert_msg(b != NULL, "%s", err.msg);
		ck_assert_int_eq(memory_backend_map(b, &err), 0);
		ck_assert_uint_eq((uintptr_t)b->hva % host_thp_size(), 0);
		memset(b->hva, 1, b->size); /* all of it is mapped, and only it (ASan, munmap) */
		memory_backend_free(b);
	}
	/* A size that the alignment would wrap around is refused, not mapped short. */
	struct memory_backend *b = parse("memory-backend-ram",
					 "id=m,size=18446744073709547520,reserve=off", &err);

	ck_assert_msg(b != NULL, "%s", err.msg);
	ck_assert_int_eq(memory_backend_map(b, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "cannot map"));
	memory_backend_free(b);
}
END_TEST

START_TEST(ram_shared)
{
	discard_gives_memory_back("memory-backend-ram", "id=m,size=256K,share=on");
}
END_TEST

START_TEST(memfd_shared_by_default)
{
	struct error err;
	struct memory_backend *b = parse("memory-backend-memfd", "id=m,size=256K", &err);

	ck_assert(b->share);
	memory_backend_free(b);
	discard_gives_memory_back("memory-backend-memfd", "id=m,size=256K");
}
END_TEST

START_TEST(memfd_private)
{
	discard_gives_memory_back("memory-backend-memfd", "id=m,size=256K,share=off,reserve=off");
}
END_TEST

START_TEST(property_errors)
{
	struct error err = { "" };

	ck_assert_ptr_null(parse("memory-backend-ram", "size=1G", &err));
	ck_assert_str_eq(err.msg, "-object: memory-backend-ram needs id=ID");
	ck_assert_ptr_null(parse("memory-backend-ram", "id=m", &err));
	ck_assert_str_eq(err.msg, "-object: memory-backend-ram needs size=SIZE");
	ck_assert_ptr_null(parse("memory-backend-ram", "id=m,size=0", &err));
	ck_assert_str_eq(err.msg,
			 "-object: memory-backend-ram size must be a non-zero multiple of 4096 bytes");
	ck_assert_ptr_null(parse("memory-backend-memfd", "id=m,size=1000", &err));
	ck_assert_ptr_null(parse("memory-backend-ram", "id=m,size=1G,reserve=maybe", &err));
	ck_assert_str_eq(err.msg, "-object: property 'reserve' must be on or off, not 'maybe'");
	ck_assert_ptr_null(parse("memory-backend-ram", "id=m,size=1G,colour=red", &err));
	ck_assert_str_eq(err.msg, "-object: memory-backend-ram has no property 'colour'");
	ck_assert_ptr_null(parse("memory-backend-ram", "id=m,size=1G,prealloc-threads=0", &err));
	ck_assert_str_eq(err.msg, "-object: prealloc-threads must be 1..64");
	ck_assert_ptr_null(parse("memory-backend-ram", "id=m,size=1G,policy=bind", &err));
	ck_assert_str_eq(err.msg, "-object: policy=bind needs host-nodes");
	ck_assert_ptr_null(parse("memory-backend-ram", "id=m,size=1G,host-nodes=0", &err));
	ck_assert_str_eq(err.msg, "-object: host-nodes must be empty for policy default, or you "
				  "should explicitly specify a policy other than default");
	ck_assert_ptr_null(parse("memory-backend-ram", "id=m,size=1G,host-nodes=0-63,policy=bind",
				 &err));
	ck_assert_ptr_nonnull(strstr(err.msg, "this host has no NUMA node"));
	ck_assert_ptr_null(parse("memory-backend-ram", "id=m,size=1G,host-nodes=x,policy=bind", &err));
	ck_assert_str_eq(err.msg, "-object: host-nodes 'x' is not N or N-M");
	ck_assert_ptr_null(parse("memory-backend-guest-memfd", "id=m,size=1G,share=off", &err));
	ck_assert_str_eq(err.msg, "-object: memory-backend-guest-memfd is always shared with KVM: "
				  "share=off is not possible");
	ck_assert_ptr_null(parse("memory-backend-ram", "id=m,size=1G,policy=local", &err));
	ck_assert_ptr_nonnull(strstr(err.msg, "property 'policy' must be default, preferred"));
}
END_TEST

/* prealloc with threads backs every page; policy=bind,host-nodes=0 is what the kernel holds. */
START_TEST(prealloc_and_numa_policy)
{
	struct error err = { "" };
	struct memory_backend *b =
		parse("memory-backend-ram",
		      "id=m,size=256K,prealloc=on,prealloc-threads=4,host-nodes=0,policy=bind,"
		      "merge=off,dump=off",
		      &err);
	unsigned long mask = 0;
	int mode = -1;

	ck_assert_msg(b != NULL, "%s", err.msg);
	ck_assert(!b->merge && !b->dump);
	ck_assert_int_eq(memory_backend_map(b, &err), 0);
	ck_assert_uint_eq(resident(b->hva, 256 * KiB), 64);
	ck_assert_int_eq(syscall(SYS_get_mempolicy, &mode, &mask, 8 * sizeof(mask), b->hva,
				 2 /* MPOL_F_ADDR: the policy of the mapping at that address */),
			 0);
	ck_assert_int_eq(mode, 2); /* MPOL_BIND */
	ck_assert_uint_eq(mask, 1);
	memory_backend_free(b);
}
END_TEST

START_TEST(large_unreserved_mapping_costs_nothing_until_touched)
{
	struct error err = { "" };
	struct memory_backend *b = parse("memory-backend-ram", "id=m,size=1T,reserve=off", &err);

	ck_assert_msg(b != NULL, "%s", err.msg);
	ck_assert_int_eq(memory_backend_map(b, &err), 0);
	ck_assert_uint_eq(resident(b->hva, 256 * KiB), 0);
	memory_backend_free(b);
}
END_TEST

/* ---- memory-backend-file ---- */

static char file_path[64];

/* A 256 KiB file filled with 0x5a, for the file backend. */
static void make_file(void)
{
	char data[4096];
	int fd;

	snprintf(file_path, sizeof(file_path), "/tmp/tide-unit-file-%d", (int)getpid());
	fd = open(file_path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
	ck_assert_int_ge(fd, 0);
	memset(data, 0x5a, sizeof(data));
	for (int i = 0; i < 64; i++)
		ck_assert_int_eq(write(fd, data, sizeof(data)), (ssize_t)sizeof(data));
	close(fd);
}

static void remove_file(void)
{
	unlink(file_path);
}

static struct memory_backend *file_backend(const char *props, struct error *err)
{
	char str[256];

	snprintf(str, sizeof(str), "id=m,size=256K,mem-path=%s%s%s", file_path, *props ? "," : "",
		 props);
	return parse("memory-backend-file", str, err);
}

/* The byte at offset in the file itself. */
static int file_byte(uint64_t offset)
{
	unsigned char c = 0;
	int fd = open(file_path, O_RDONLY);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, &c, 1, (off_t)offset), 1);
	close(fd);
	return c;
}

static long long file_blocks(void)
{
	struct stat st;

	ck_assert_int_eq(stat(file_path, &st), 0);
	return (long long)st.st_blocks;
}

/* Every share x readonly x rom combination, with QEMU's refusals. */
START_TEST(file_mode_matrix)
{
	static const char *const off_on[] = { "off", "on" };
	static const char *const rom_names[] = { "auto", "on", "off" };
	static const enum on_off_auto roms[] = { ON_OFF_AUTO_AUTO, ON_OFF_AUTO_ON, ON_OFF_AUTO_OFF };

	for (int share = 0; share < 2; share++) {
		for (int ro = 0; ro < 2; ro++) {
			for (int r = 0; r < 3; r++) {
				struct error err = { "" };
				bool rom = false;
				int ret = file_backend_check_modes(share, ro, roms[r], &rom, &err);
				bool is_rom = roms[r] == ON_OFF_AUTO_AUTO ? ro : roms[r] == ON_OFF_AUTO_ON;

				if (share && ro && !is_rom) {
					ck_assert_int_eq(ret, -1);
					ck_assert_str_eq(err.msg, "memory-backend-file: property 'rom' = "
								  "'off' is incompatible with 'readonly' "
								  "= 'on' and 'share' = 'on'");
				} else if (is_rom && !ro) {
					ck_assert_int_eq(ret, -1);
					ck_assert_str_eq(err.msg, "memory-backend-file: property 'rom' = "
								  "'on' is not supported with 'readonly' "
								  "= 'off'");
				} else {
					ck_assert_msg(ret == 0, "share=%s readonly=%s rom=%s: %s",
						      off_on[share], off_on[ro], rom_names[r], err.msg);
					ck_assert_int_eq(rom, is_rom);
				}
			}
		}
	}
}
END_TEST

START_TEST(file_errors_name_the_path)
{
	struct error err = { "" };
	char expected[256];

	ck_assert_ptr_null(parse("memory-backend-file", "id=m,size=256K", &err));
	ck_assert_str_eq(err.msg, "-object: memory-backend-file needs mem-path=PATH");
	ck_assert_ptr_null(parse("memory-backend-file", "id=m,size=256K,mem-path=/nonexistent/x",
				 &err));
	ck_assert_str_eq(err.msg,
			 "memory-backend-file: mem-path '/nonexistent/x': No such file or directory");
	ck_assert_ptr_null(parse("memory-backend-file", "id=m,size=256K,mem-path=/tmp", &err));
	ck_assert_str_eq(err.msg, "memory-backend-file: mem-path '/tmp' is a directory; tide maps a "
				  "file of at least size bytes");
	make_file();
	ck_assert_ptr_null(parse("memory-backend-file", "id=m,size=1M,mem-path=/dev/null", &err));
	ck_assert_str_eq(err.msg, "memory-backend-file: mem-path '/dev/null' is not a regular file");
	snprintf(expected, sizeof(expected),
		 "id=m,size=512K,mem-path=%s", file_path);
	ck_assert_ptr_null(parse("memory-backend-file", expected, &err));
	snprintf(expected, sizeof(expected),
		 "memory-backend-file: mem-path '%s' holds 262144 bytes, less than size=524288",
		 file_path);
	ck_assert_str_eq(err.msg, expected);
	ck_assert_ptr_null(file_backend("rom=maybe", &err));
	ck_assert_str_eq(err.msg, "-object: property 'rom' must be on, off or auto, not 'maybe'");
	ck_assert_ptr_null(file_backend("align=3K", &err));
	ck_assert_ptr_nonnull(strstr(err.msg, "align must be a power of two"));
	ck_assert_ptr_null(file_backend("share=on,readonly=on,rom=off", &err));
	ck_assert_ptr_nonnull(strstr(err.msg, "is incompatible with"));
	remove_file();
}
END_TEST

START_TEST(file_shared_discard_punches_the_file)
{
	struct error err = { "" };
	struct memory_backend *b;
	long long before;

	make_file();
	b = file_backend("share=on", &err);
	ck_assert_msg(b != NULL, "%s", err.msg);
	ck_assert_int_eq(memory_backend_map(b, &err), 0);
	ck_assert_uint_eq(b->hva[0], 0x5a); /* the file's contents */
	b->hva[0] = 0x11;
	before = file_blocks();
	ck_assert_int_eq(memory_backend_discard(b, 64 * KiB, 128 * KiB, true, &err), 0);
	ck_assert_int_lt(file_blocks(), before);
	ck_assert_uint_eq(b->hva[64 * KiB], 0);
	ck_assert_uint_eq(b->hva[0], 0x11);
	memory_backend_free(b);
	ck_assert_int_eq(file_byte(0), 0x11); /* shared: the guest's writes are the file's */
	ck_assert_int_eq(file_byte(64 * KiB), 0);
	remove_file();
}
END_TEST

/* Templating: share=off,readonly=on opens the file read-only; writes and discards stay private. */
START_TEST(file_private_template_is_never_written)
{
	struct error err = { "" };
	struct memory_backend *b;

	make_file();
	b = file_backend("share=off,readonly=on,rom=off", &err);
	ck_assert_msg(b != NULL, "%s", err.msg);
	ck_assert(!b->rom);
	ck_assert_int_eq(memory_backend_map(b, &err), 0);
	ck_assert_uint_eq(b->hva[4096], 0x5a);
	memset(b->hva, 0x77, 256 * KiB);
	ck_assert_int_eq(memory_backend_discard(b, 64 * KiB, 64 * KiB, true, &err), 0);
	ck_assert_uint_eq(b->hva[64 * KiB], 0); /* zeros, not the template again */
	/* The anonymous memory put in its place keeps the backend's settings. */
	ck_assert(thp_advised_at(b->hva + 64 * KiB));
	ck_assert_uint_eq(b->hva[128 * KiB], 0x77);
	/* An inaccessible range gets PROT_NONE zero memory: open it to look. */
	ck_assert_int_eq(memory_backend_discard(b, 128 * KiB, 64 * KiB, false, &err), 0);
	ck_assert_int_eq(mprotect(b->hva + 128 * KiB, 64 * KiB, PROT_READ), 0);
	ck_assert_uint_eq(b->hva[128 * KiB], 0);
	memory_backend_free(b);
	for (uint64_t off = 0; off < 256 * KiB; off += 4096)
		ck_assert_int_eq(file_byte(off), 0x5a);
	remove_file();
}
END_TEST

START_TEST(file_rom_and_align_and_discard_data)
{
	struct error err = { "" };
	struct memory_backend *b;

	make_file();
	b = file_backend("readonly=on", &err); /* rom=auto: read-only memory */
	ck_assert_msg(b != NULL, "%s", err.msg);
	ck_assert(b->rom);
	ck_assert_int_eq(memory_backend_map(b, &err), 0);
	ck_assert_uint_eq(b->hva[0], 0x5a);
	ck_assert_int_eq(memory_backend_discard(b, 0, 64 * KiB, true, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "read-only memory is never discarded"));
	memory_backend_free(b);
	b = file_backend("share=on,align=2M,discard-data=on", &err);
	ck_assert_msg(b != NULL, "%s", err.msg);
	ck_assert_int_eq(memory_backend_map(b, &err), 0);
	ck_assert_uint_eq((uintptr_t)b->hva % (2 * MiB), 0);
	memory_backend_unmap(b); /* a reset: the data stays */
	ck_assert_int_eq(file_byte(0), 0x5a);
	memory_backend_free(b); /* exit: discard-data=on punches it */
	ck_assert_int_eq(file_byte(0), 0);
	ck_assert_int_eq(file_blocks(), 0);
	remove_file();
}
END_TEST

START_TEST(memfd_seal_and_hugetlb_properties)
{
	struct error err = { "" };
	struct memory_backend *b = parse("memory-backend-memfd", "id=m,size=256K", &err);
	int seals;

	ck_assert_msg(b != NULL, "%s", err.msg);
	ck_assert_int_eq(memory_backend_map(b, &err), 0);
	seals = fcntl(b->fd, F_GET_SEALS);
	ck_assert_int_eq(seals & (F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL),
			 F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL);
	ck_assert_int_eq(ftruncate(b->fd, 512 * KiB), -1); /* sealed: its size stays */
	memory_backend_free(b);
	b = parse("memory-backend-memfd", "id=m,size=256K,seal=off", &err);
	ck_assert_msg(b != NULL, "%s", err.msg);
	ck_assert_int_eq(memory_backend_map(b, &err), 0);
	ck_assert_int_eq(fcntl(b->fd, F_GET_SEALS), F_SEAL_SEAL); /* sealing was never allowed */
	memory_backend_free(b);
	ck_assert_ptr_null(parse("memory-backend-memfd", "id=m,size=4M,hugetlbsize=2M", &err));
	ck_assert_str_eq(err.msg, "-object: memory-backend-memfd hugetlbsize needs hugetlb=on");
	/* Whatever its value: refused before it is read. */
	ck_assert_ptr_null(parse("memory-backend-memfd", "id=m,size=4M,hugetlbsize=0", &err));
	ck_assert_str_eq(err.msg, "-object: memory-backend-memfd hugetlbsize needs hugetlb=on");
	ck_assert_ptr_null(parse("memory-backend-memfd", "id=m,size=4M,hugetlbsize=junk", &err));
	ck_assert_str_eq(err.msg, "-object: memory-backend-memfd hugetlbsize needs hugetlb=on");
	/* An explicit 0 is no page size, not the host's default. */
	ck_assert_ptr_null(parse("memory-backend-memfd", "id=m,size=4M,hugetlb=on,hugetlbsize=0",
				 &err));
	ck_assert_str_eq(err.msg,
			 "-object: memory-backend-memfd hugetlb=on: this host offers no huge pages");
	ck_assert_ptr_null(parse("memory-backend-memfd", "id=m,size=3M,hugetlb=on,hugetlbsize=2M",
				 &err));
	ck_assert_str_eq(err.msg, "-object: memory-backend-memfd size 3145728 is not a multiple of "
				  "the huge page size 2097152");
	ck_assert_ptr_null(parse("memory-backend-memfd",
				 "id=m,size=16781312,hugetlb=on,hugetlbsize=2097664", &err));
	ck_assert_str_eq(err.msg, "-object: memory-backend-memfd hugetlbsize 2097664 is not a power "
				  "of two of at least 4 KiB");
	ck_assert_ptr_null(parse("memory-backend-memfd", "id=m,size=4M,hugetlb=on,hugetlbsize=8M",
				 &err));
	ck_assert_str_eq(err.msg, "-object: memory-backend-memfd hugetlbsize 8388608: the host has "
				  "no huge pages of that size");
	b = parse("memory-backend-memfd", "id=m,size=64G,hugetlb=on,hugetlbsize=2M", &err);
	ck_assert_msg(b != NULL, "%s", err.msg);
	ck_assert_uint_eq(b->page_size, 2 * MiB);
	/* Nobody has 32768 free 2 MiB pages here: the error says what is missing. */
	ck_assert_int_eq(memory_backend_map(b, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "need 32768 huge pages of 2048 KiB; the host has"));
	memory_backend_free(b);
}
END_TEST

Suite *suite_main(void)
{
	Suite *s = suite_create("backend");
	TCase *tc = tcase_create("backends");

	tcase_add_test(tc, ram_private);
	tcase_add_test(tc, ram_is_huge_page_aligned);
	tcase_add_test(tc, ram_shared);
	tcase_add_test(tc, memfd_shared_by_default);
	tcase_add_test(tc, memfd_private);
	tcase_add_test(tc, property_errors);
	tcase_add_test(tc, large_unreserved_mapping_costs_nothing_until_touched);
	tcase_add_test(tc, prealloc_and_numa_policy);
	tcase_add_test(tc, memfd_seal_and_hugetlb_properties);
	tcase_add_test(tc, file_mode_matrix);
	tcase_add_test(tc, file_errors_name_the_path);
	tcase_add_test(tc, file_shared_discard_punches_the_file);
	tcase_add_test(tc, file_private_template_is_never_written);
	tcase_add_test(tc, file_rom_and_align_and_discard_data);
	suite_add_tcase(s, tc);
	return s;
}
