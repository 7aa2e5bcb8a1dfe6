#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arch/x86/e820.h"
#include "arch/x86/kernel_loader.h"
#include "util/file.h"
#include "arch/arch.h"
#include "arch/x86/layout.h"
#include "arch_test.h"
#include "util/size.h"

static char dir[64];
static char path[256];

static void make_dir(void)
{
	strcpy(dir, "/tmp/tide-test-kl-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void remove_dir(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static const char *file(const char *name, const void *data, size_t len)
{
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
	return path;
}

/* The smallest bzImage the loader accepts (see test_bzimage.c for the fields). */
static uint8_t *make_bzimage(size_t *len)
{
	uint8_t *p;
	uint16_t v16;
	uint32_t v32;

	*len = 5 * 512 + 0x1000;
	p = calloc(1, *len);
	ck_assert_ptr_nonnull(p);
	p[0x1f1] = 4;
	v32 = 0x1000 / 16;
	memcpy(p + 0x1f4, &v32, 4);
	v16 = 0xaa55;
	memcpy(p + 0x1fe, &v16, 2);
	p[0x201] = 0x6a;
	memcpy(p + 0x202, "HdrS", 4);
	v16 = 0x020f;
	memcpy(p + 0x206, &v16, 2);
	p[0x211] = 1;
	v32 = 0x7fffffff;
	memcpy(p + 0x22c, &v32, 4);
	v32 = 0x200000;
	memcpy(p + 0x230, &v32, 4);
	p[0x234] = 1;
	p[0x236] = 1;
	v32 = 255;
	memcpy(p + 0x238, &v32, 4);
	v32 = 0x100000;
	memcpy(p + 0x260, &v32, 4);
	return p;
}

struct vm {
	struct guest_mem mem;
	struct e820_table e820;
	uint8_t *ram;
};

static void vm_init(struct vm *vm)
{
	struct error err = { "" };

	vm->ram = test_mem_low(&vm->mem, 32 * MiB);
	ck_assert_int_eq(e820_build(&vm->e820, 32 * MiB, &err), 0);
}

/* The start-up path: read and check -kernel/-initrd as tide does before any VM exists. */
static int read_boot(const char *kernel, const char *initrd, struct error *err)
{
	struct boot_files boot = { 0 };
	int ret = arch_read_boot_files(kernel, initrd, &boot, err);

	arch_free_boot_files(&boot);
	return ret;
}

START_TEST(missing_file)
{
	struct error err = { "" };
	char missing[128];

	snprintf(missing, sizeof(missing), "%s/nope", dir);
	ck_assert_int_eq(read_boot(missing, NULL, &err), -1);
	ck_assert_err_has(err, missing);
	ck_assert_err_has(err, "No such file");
}
END_TEST

START_TEST(directory_and_empty)
{
	struct error err = { "" };

	ck_assert_int_eq(read_boot(dir, NULL, &err), -1);
	ck_assert_err_has(err, dir);
	ck_assert_err_has(err, "is a directory");
	file("empty", "", 0);
	ck_assert_int_eq(read_boot(path, NULL, &err), -1);
	ck_assert_err_has(err, path);
	ck_assert_err_has(err, "file is empty");
	ck_assert_int_eq(read_boot("/dev/null", NULL, &err), -1);
	ck_assert_err_has(err, "/dev/null: not a regular file");
}
END_TEST

START_TEST(not_a_kernel)
{
	struct error err = { "" };
	char msg[400];

	file("junk", "#!/bin/sh\necho hello\n", 21);
	ck_assert_int_eq(read_boot(path, NULL, &err), -1);
	snprintf(msg, sizeof(msg), "-kernel %s: not a bzImage or an ELF kernel with a PVH note", path);
	ck_assert_str_eq(err.msg, msg);
}
END_TEST

START_TEST(loads_kernel_and_initrd)
{
	struct vm vm;
	struct boot_entry entry;
	struct error err = { "" };
	size_t len;
	uint8_t *kernel = make_bzimage(&len);
	char kpath[256];
	uint32_t rd_start, rd_size;

	vm_init(&vm);
	strcpy(kpath, file("bzImage", kernel, len));
	file("initrd", "INITRD-CONTENT", 14);
	{
		struct boot_files boot = { 0 };

		ck_assert_msg(arch_read_boot_files(kpath, path, &boot, &err) == 0, "%s", err.msg);
		ck_assert_msg(kernel_load_image(&vm.mem, boot.kernel, boot.kernel_len, boot.initrd,
						boot.initrd_len, "quiet",
						&vm.e820, &entry, &err) == 0,
			      "%s", err.msg);
		arch_free_boot_files(&boot);
	}
	ck_assert_int_eq(entry.mode, BOOT_LINUX64);
	ck_assert_str_eq((const char *)vm.ram + LAYOUT_CMDLINE, "quiet");
	memcpy(&rd_start, vm.ram + LAYOUT_ZERO_PAGE + 0x218, 4);
	memcpy(&rd_size, vm.ram + LAYOUT_ZERO_PAGE + 0x21c, 4);
	ck_assert_uint_eq(rd_size, 14);
	ck_assert_mem_eq(vm.ram + rd_start, "INITRD-CONTENT", 14);

	/* A bad initrd path is named in the error. */
	snprintf(path, sizeof(path), "%s/missing-initrd", dir);
	ck_assert_int_eq(read_boot(kpath, path, &err), -1);
	ck_assert_err_has(err, path);
	free(kernel);
	free(vm.ram);
}
END_TEST

START_TEST(read_file)
{
	struct error err = { "" };
	void *data = NULL;
	size_t len = 0;

	file("data", "abc", 3);
	ck_assert_int_eq(file_read_all(path, &data, &len, &err), 0);
	ck_assert_uint_eq(len, 3);
	ck_assert_mem_eq(data, "abc", 3);
	free(data);
}
END_TEST

Suite *suite_main(void)
{
	Suite *s = suite_create("kernel_loader");
	TCase *tc = tcase_create("kernel_loader");

	tcase_add_checked_fixture(tc, make_dir, remove_dir);
	tcase_add_test(tc, missing_file);
	tcase_add_test(tc, directory_and_empty);
	tcase_add_test(tc, not_a_kernel);
	tcase_add_test(tc, loads_kernel_and_initrd);
	tcase_add_test(tc, read_file);
	suite_add_tcase(s, tc);
	return s;
}
