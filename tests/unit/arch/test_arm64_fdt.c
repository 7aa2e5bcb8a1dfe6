/* arch/arm64/fdt.c: the tree read back with libfdt, and decompiled by dtc when it is there. */
#include <check.h>
#include <libfdt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arch/arm64/fdt.h"
#include "arch_test.h"
#include "util/size.h"
#include "util/util.h"

#define DTC "/usr/bin/dtc"
#define MAX_LEN (64 * 1024)

/* Two vCPUs with an ITS, both PCI windows, bootargs and an initrd. */
static struct arm64_fdt_config full_config(void)
{
	return (struct arm64_fdt_config){
		.nr_cpus = 2,
		.ram = { { 0x80000000, 512 * MiB } },
		.gic_dist = { 0x08000000, 0x10000 },
		.gic_redist = { 0x080a0000, 2 * 0x20000 },
		.gic_its = { 0x08080000, 0x20000 },
		.uart = { 0x09000000, 0x1000 },
		.uart_spi = 1,
		.pci_ecam = { 0x3f000000, 0x1000000 },
		.pci_mmio32 = { 0x10000000, 0x2f000000 },
		.pci_mmio64 = { 0x7fc000000000, 0x4000000000 },
		.pci_intx_spi_base = 3,
		.bootargs = "console=ttyS0",
		.initrd_start = 0x88000000,
		.initrd_end = 0x88100000,
	};
}

static void *build(const struct arm64_fdt_config *cfg, size_t *len)
{
	struct error err = { "" };
	void *blob = NULL;

	ck_assert_msg(arm64_fdt_build(cfg, MAX_LEN, &blob, len, &err) == 0, "%s", err.msg);
	ck_assert_ptr_nonnull(blob);
	ck_assert_int_eq(fdt_check_header(blob), 0);
	ck_assert_uint_eq(fdt_totalsize(blob), *len);
	ck_assert_uint_le(*len, MAX_LEN);
	return blob;
}

static int node(const void *fdt, const char *path)
{
	int off = fdt_path_offset(fdt, path);

	ck_assert_msg(off >= 0, "%s: %s", path, fdt_strerror(off));
	return off;
}

static const void *prop(const void *fdt, const char *path, const char *name, int *len)
{
	const void *p = fdt_getprop(fdt, node(fdt, path), name, len);

	ck_assert_msg(p != NULL, "%s lacks %s", path, name);
	return p;
}

static bool has_prop(const void *fdt, const char *path, const char *name)
{
	return fdt_getprop(fdt, node(fdt, path), name, NULL) != NULL;
}

static void str_is(const void *fdt, const char *path, const char *name, const char *want)
{
	int len;
	const char *s = prop(fdt, path, name, &len);

	ck_assert_int_eq(len, (int)strlen(want) + 1);
	ck_assert_str_eq(s, want);
}

/* The property holds exactly these cells. */
static void cells_are(const void *fdt, const char *path, const char *name, const uint32_t *want,
		      int n)
{
	int len;
	const fdt32_t *c = prop(fdt, path, name, &len);

	ck_assert_int_eq(len, n * (int)sizeof(fdt32_t));
	for (int i = 0; i < n; i++)
		ck_assert_msg(fdt32_to_cpu(c[i]) == want[i], "%s/%s cell %d: %#x, want %#x", path,
			      name, i, fdt32_to_cpu(c[i]), want[i]);
}

static uint64_t u64_of(const void *fdt, const char *path, const char *name)
{
	int len;
	const void *p = prop(fdt, path, name, &len);

	ck_assert_int_eq(len, 8);
	return fdt64_ld(p);
}

START_TEST(full_tree)
{
	struct arm64_fdt_config cfg = full_config();
	size_t len;
	void *fdt = build(&cfg, &len);
	const uint32_t mem_reg[] = { 0, 0x80000000, 0, 0x20000000 };
	const uint32_t gic_reg[] = { 0, 0x08000000, 0, 0x10000, 0, 0x080a0000, 0, 0x40000 };
	const uint32_t its_reg[] = { 0, 0x08080000, 0, 0x20000 };
	const uint32_t uart_irq[] = { 0, 1, 1 };
	const uint32_t timer_irqs[] = { 1, 13, 4, 1, 14, 4, 1, 11, 4, 1, 10, 4 };
	const uint32_t bus_range[] = { 0, 15 };
	const uint32_t ranges[] = { 0x02000000, 0, 0x10000000, 0, 0x10000000, 0, 0x2f000000,
				    0x43000000, 0x7fc0, 0, 0x7fc0, 0, 0x40, 0 };
	const uint32_t map_mask[] = { 0x3800, 0, 0, 7 };
	uint32_t msi_map[] = { 0, 0, 0, 0x10000 };
	uint32_t map[32 * 10];
	uint32_t gic_phandle, its_phandle;
	int cpus, n = 0, i = 0, off;

	str_is(fdt, "/", "compatible", "linux,dummy-virt");
	str_is(fdt, "/", "model", "tide");
	ck_assert_uint_eq(fdt_address_cells(fdt, 0), 2);
	ck_assert_uint_eq(fdt_size_cells(fdt, 0), 2);

	cells_are(fdt, "/memory@80000000", "reg", mem_reg, 4);
	str_is(fdt, "/memory@80000000", "device_type", "memory");
	ck_assert_int_lt(fdt_path_offset(fdt, "/memory@0"), 0);

	cpus = node(fdt, "/cpus");
	fdt_for_each_subnode(off, fdt, cpus) {
		uint32_t reg = (uint32_t)n;

		ck_assert_int_eq(fdt_node_check_compatible(fdt, off, "arm,arm-v8"), 0);
		ck_assert_str_eq(fdt_getprop(fdt, off, "enable-method", NULL), "psci");
		ck_assert_int_eq(fdt32_ld(fdt_getprop(fdt, off, "reg", NULL)), reg);
		n++;
	}
	ck_assert_int_eq(n, 2);
	str_is(fdt, "/psci", "compatible", "arm,psci-0.2");
	str_is(fdt, "/psci", "method", "hvc");

	str_is(fdt, "/chosen", "bootargs", "console=ttyS0");
	str_is(fdt, "/chosen", "stdout-path", "/serial@9000000");
	ck_assert_uint_eq(u64_of(fdt, "/chosen", "linux,initrd-start"), 0x88000000);
	ck_assert_uint_eq(u64_of(fdt, "/chosen", "linux,initrd-end"), 0x88100000);

	/* The phandles the root, the PCI node and the GIC refer to are the ones defined. */
	gic_phandle = fdt_get_phandle(fdt, node(fdt, "/intc@8000000"));
	its_phandle = fdt_get_phandle(fdt, node(fdt, "/intc@8000000/its@8080000"));
	ck_assert_uint_ne(gic_phandle, 0);
	ck_assert_uint_ne(its_phandle, 0);
	ck_assert_uint_ne(gic_phandle, its_phandle);
	cells_are(fdt, "/", "interrupt-parent", &gic_phandle, 1);
	cells_are(fdt, "/intc@8000000", "reg", gic_reg, 8);
	ck_assert(has_prop(fdt, "/intc@8000000", "interrupt-controller"));
	ck_assert(has_prop(fdt, "/intc@8000000/its@8080000", "msi-controller"));
	cells_are(fdt, "/intc@8000000/its@8080000", "reg", its_reg, 4);
	cells_are(fdt, "/serial@9000000", "interrupts", uart_irq, 3);
	cells_are(fdt, "/timer", "interrupts", timer_irqs, 12);

	cells_are(fdt, "/pcie@3f000000", "bus-range", bus_range, 2);
	cells_are(fdt, "/pcie@3f000000", "ranges", ranges, 14);
	msi_map[1] = its_phandle;
	cells_are(fdt, "/pcie@3f000000", "msi-map", msi_map, 4);
	cells_are(fdt, "/pcie@3f000000", "interrupt-map-mask", map_mask, 4);
	/* Slot s pin p to SPI 3 + (s + p - 1) % 8: pin A of slot 1 is pin B of slot 0. */
	for (uint32_t slot = 0; slot < 8; slot++) {
		for (uint32_t pin = 1; pin <= 4; pin++) {
			const uint32_t e[] = { slot << 11, 0, 0, pin, gic_phandle, 0, 0, 0,
					       3 + (slot + pin - 1) % 8, 4 };

			memcpy(&map[i], e, sizeof(e));
			i += ARRAY_SIZE(e);
		}
	}
	cells_are(fdt, "/pcie@3f000000", "interrupt-map", map, i);
	free(fdt);
}
END_TEST

START_TEST(no_its_no_extras)
{
	struct arm64_fdt_config cfg = full_config();
	const uint32_t ranges[] = { 0x02000000, 0, 0x10000000, 0, 0x10000000, 0, 0x2f000000 };
	const uint32_t mem1_reg[] = { 1, 0, 0, 0x100000 };
	size_t len;
	void *fdt;

	cfg.nr_cpus = 1;
	cfg.ram[1] = (struct fdt_range){ 0x100000000, 1 * MiB };
	cfg.gic_its.size = 0;
	cfg.pci_mmio64.size = 0;
	cfg.bootargs = NULL;
	cfg.initrd_end = cfg.initrd_start;
	fdt = build(&cfg, &len);

	ck_assert_int_eq(fdt_first_subnode(fdt, node(fdt, "/intc@8000000")), -FDT_ERR_NOTFOUND);
	ck_assert(!has_prop(fdt, "/pcie@3f000000", "msi-map"));
	cells_are(fdt, "/pcie@3f000000", "ranges", ranges, 7);
	ck_assert(!has_prop(fdt, "/chosen", "bootargs"));
	ck_assert(!has_prop(fdt, "/chosen", "linux,initrd-start"));
	ck_assert(!has_prop(fdt, "/chosen", "linux,initrd-end"));
	str_is(fdt, "/chosen", "stdout-path", "/serial@9000000");
	node(fdt, "/cpus/cpu@0");
	ck_assert_int_lt(fdt_path_offset(fdt, "/cpus/cpu@1"), 0);
	node(fdt, "/memory@80000000");
	cells_are(fdt, "/memory@100000000", "reg", mem1_reg, 4);
	free(fdt);
}
END_TEST

/* Past 16 vCPUs KVM moves on to affinity level 1: vCPU 17 is MPIDR 0x101, and cpu@101. */
START_TEST(mpidr_past_16_cpus)
{
	struct arm64_fdt_config cfg = full_config();
	size_t len;
	void *fdt;
	int off;

	cfg.nr_cpus = 18;
	cfg.gic_redist.size = 18 * 0x20000;
	fdt = build(&cfg, &len);
	off = node(fdt, "/cpus/cpu@f");
	ck_assert_uint_eq(fdt32_ld(fdt_getprop(fdt, off, "reg", NULL)), 0xf);
	off = node(fdt, "/cpus/cpu@100");
	ck_assert_uint_eq(fdt32_ld(fdt_getprop(fdt, off, "reg", NULL)), 0x100);
	off = node(fdt, "/cpus/cpu@101");
	ck_assert_uint_eq(fdt32_ld(fdt_getprop(fdt, off, "reg", NULL)), 0x101);
	ck_assert_int_lt(fdt_path_offset(fdt, "/cpus/cpu@10"), 0);
	free(fdt);
}
END_TEST

/* Runs dtc on the blob; returns its stdout (malloc'd), its stderr in errbuf. */
static char *decompile(const void *fdt, size_t len, char *errbuf, size_t errlen)
{
	char dir[] = "/tmp/tide-test-fdt-XXXXXX", path[64], errpath[64], cmd[256];
	char *out = calloc(1, MAX_LEN * 8);
	size_t n;
	FILE *f;

	ck_assert_ptr_nonnull(out);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/tree.dtb", dir);
	snprintf(errpath, sizeof(errpath), "%s/stderr", dir);
	f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(fdt, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);

	snprintf(cmd, sizeof(cmd), DTC " -I dtb -O dts '%s' 2>'%s'", path, errpath);
	f = popen(cmd, "r");
	ck_assert_ptr_nonnull(f);
	n = fread(out, 1, MAX_LEN * 8 - 1, f);
	out[n] = '\0';
	ck_assert_int_eq(pclose(f), 0); /* exit status 0 */

	f = fopen(errpath, "r");
	ck_assert_ptr_nonnull(f);
	n = fread(errbuf, 1, errlen - 1, f);
	errbuf[n] = '\0';
	fclose(f);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
	return out;
}

START_TEST(dtc_reads_it)
{
	static const char *const want[] = {
		"compatible = \"pci-host-ecam-generic\";",
		"enable-method = \"psci\";",
		"method = \"hvc\";",
		"stdout-path = \"/serial@9000000\";",
		"compatible = \"arm,gic-v3-its\";",
		"msi-controller;",
		"bootargs = \"console=ttyS0\";",
		"linux,initrd-start = <0x00 0x88000000>;",
	};
	struct arm64_fdt_config cfg = full_config();
	char errs[4096];
	size_t len;
	void *fdt;
	char *dts;

	if (access(DTC, X_OK) != 0) {
		printf("dtc_reads_it: skipped, %s is not installed (device-tree-compiler)\n", DTC);
		return;
	}
	fdt = build(&cfg, &len);
	dts = decompile(fdt, len, errs, sizeof(errs));
	for (unsigned i = 0; i < ARRAY_SIZE(want); i++)
		ck_assert_msg(strstr(dts, want[i]), "dts lacks %s:\n%s", want[i], dts);
	/* dtc also checks the bindings it knows (pci, interrupt-map, unit addresses). */
	ck_assert_msg(errs[0] == '\0', "dtc warns:\n%s", errs);
	free(dts);
	free(fdt);
}
END_TEST

START_TEST(too_small)
{
	struct arm64_fdt_config cfg = full_config();
	struct error err = { "" };
	const size_t sizes[] = { 0, 40, 64, 512 };
	void *blob;
	size_t len, full;

	free(build(&cfg, &full));
	for (unsigned i = 0; i < ARRAY_SIZE(sizes); i++) {
		blob = NULL;
		err.msg[0] = '\0';
		ck_assert_int_eq(arm64_fdt_build(&cfg, sizes[i], &blob, &len, &err), -1);
		ck_assert_ptr_null(blob);
		ck_assert_err_has(err, "FDT_ERR_NOSPACE");
	}
	/* One byte short fails; the exact size fits. */
	ck_assert_int_eq(arm64_fdt_build(&cfg, full - 1, &blob, &len, &err), -1);
	ck_assert_int_eq(arm64_fdt_build(&cfg, full, &blob, &len, &err), 0);
	ck_assert_uint_eq(len, full);
	free(blob);
}
END_TEST

START_TEST(bad_config)
{
	struct arm64_fdt_config cfg = full_config();
	struct error err = { "" };
	void *blob = NULL;
	size_t len;

	cfg.nr_cpus = 0;
	ck_assert_int_eq(arm64_fdt_build(&cfg, MAX_LEN, &blob, &len, &err), -1);
	ck_assert_err_has(err, "no cpus");
	cfg = full_config();
	cfg.pci_ecam.size = 0x80000;
	ck_assert_int_eq(arm64_fdt_build(&cfg, MAX_LEN, &blob, &len, &err), -1);
	ck_assert_err_has(err, "ECAM");
	ck_assert_ptr_null(blob);
}
END_TEST

Suite *suite_main(void)
{
	Suite *s = suite_create("arm64_fdt");
	TCase *tc = tcase_create("arm64_fdt");

	tcase_add_test(tc, full_tree);
	tcase_add_test(tc, no_its_no_extras);
	tcase_add_test(tc, mpidr_past_16_cpus);
	tcase_add_test(tc, dtc_reads_it);
	tcase_add_test(tc, too_small);
	tcase_add_test(tc, bad_config);
	suite_add_tcase(s, tc);
	return s;
}
