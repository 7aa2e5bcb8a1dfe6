#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "devices/virtio_mem_config.h"
#include "vmm/cmdline.h"
#include "util/size.h"

static const char *parse_error(const char *props)
{
	static struct error err;
	struct vmem_config vc;
	struct opts opts;

	err.msg[0] = '\0';
	ck_assert_int_eq(opts_parse(&opts, "-device", props, "driver", &err), 0);
	opts_take(&opts, "driver");
	ck_assert_int_eq(vmem_config_parse(&vc, &opts, &err), -1);
	opts_free(&opts);
	return err.msg;
}

START_TEST(defaults_and_properties)
{
	struct vmem_config vc;
	struct opts opts;
	struct error err = { "" };

	ck_assert_int_eq(opts_parse(&opts, "-device",
				    "virtio-mem-pci,id=vm0,memdev=mem0,requested-size=1G,block-size=4M,"
				    "memaddr=0x140000000,addr=0x5,unplugged-inaccessible=on,"
				    "dynamic-memslots=off,memslots=8",
				    "driver", &err), 0);
	opts_take(&opts, "driver");
	opts_take(&opts, "id");
	ck_assert_int_eq(vmem_config_parse(&vc, &opts, &err), 0);
	ck_assert_int_eq(opts_finish(&opts, "virtio-mem-pci", &err), 0);
	ck_assert_str_eq(vc.memdev, "mem0");
	ck_assert_uint_eq(vc.requested_size, GiB);
	ck_assert_uint_eq(vc.block_size, 4 * MiB);
	ck_assert_uint_eq(vc.memaddr, 0x140000000ULL);
	ck_assert_int_eq(vc.pci_slot, 5);
	ck_assert_int_eq(vc.unplugged_inaccessible, ON_OFF_AUTO_ON);
	ck_assert(!vc.dynamic_memslots);
	ck_assert_uint_eq(vc.memslots, 8);
	opts_free(&opts);

	ck_assert_int_eq(opts_parse(&opts, "-device", "virtio-mem-pci,memdev=m", "driver", &err), 0);
	opts_take(&opts, "driver");
	ck_assert_int_eq(vmem_config_parse(&vc, &opts, &err), 0);
	ck_assert_uint_eq(vc.block_size, 0); /* chosen with the backend, in vmem_config_resolve() */
	ck_assert_int_eq(vc.pci_slot, -1);
	ck_assert_int_eq(vc.unplugged_inaccessible, ON_OFF_AUTO_AUTO);
	ck_assert(vc.dynamic_memslots); /* Tide's default */
	opts_free(&opts);
}
END_TEST

START_TEST(per_device_errors)
{
	ck_assert_str_eq(parse_error("virtio-mem-pci"), "-device: virtio-mem-pci needs memdev=ID");
	ck_assert_str_eq(parse_error("virtio-mem-pci,memdev=m,block-size=3M"),
			 "-device: block-size 3145728 must be a power of two of at least 2097152 "
			 "(the THP size)");
	ck_assert_str_eq(parse_error("virtio-mem-pci,memdev=m,block-size=1M"),
			 "-device: block-size 1048576 must be a power of two of at least 2097152 "
			 "(the THP size)");
	ck_assert_str_eq(parse_error("virtio-mem-pci,memdev=m,requested-size=3M"),
			 "-device: requested-size 3145728 is not a multiple of block-size 2097152");
	ck_assert_str_eq(parse_error("virtio-mem-pci,memdev=m,memaddr=0x140100000"),
			 "-device: memaddr 0x140100000 must be aligned to 128 MiB and to block-size");
	ck_assert_str_eq(parse_error("virtio-mem-pci,memdev=m,memslots=0"),
			 "-device: memslots=0 is outside 1..1024");
	ck_assert_str_eq(parse_error("virtio-mem-pci,memdev=m,memslots=1025"),
			 "-device: memslots=1025 is outside 1..1024");
	ck_assert_str_eq(parse_error("virtio-mem-pci,memdev=m,unplugged-inaccessible=yes"),
			 "-device: property 'unplugged-inaccessible' must be on, off or auto, not "
			 "'yes'");
	ck_assert_str_eq(parse_error("virtio-mem-pci,memdev=m,addr=0"),
			 "-device: addr slot 0x0 is not in 1..0x1f (0 is the host bridge)");
	ck_assert_str_eq(parse_error("virtio-mem-pci,memdev=m,addr=4.1"),
			 "-device: addr function 1: only function 0 is supported");
	ck_assert_str_eq(parse_error("virtio-mem-pci,memdev=m,addr=zz"),
			 "-device: addr 'zz' is not SLOT or SLOT.FN");
	ck_assert_str_eq(parse_error("virtio-mem-pci,memdev=m,node=1"),
			 "-device: node=1: tide has one NUMA node (0)");
	ck_assert_ptr_nonnull(strstr(parse_error("virtio-mem-pci,memdev=m,dynamic-memslots=2"),
				     "dynamic-memslots"));
}
END_TEST

/* Builds the command line's backends, then resolves the given virtio-mem device strings. */
static int resolve(const char *mem, const char **objects, unsigned nobj, const char **devices,
		   unsigned ndev, struct vmem_config *vcs, struct error *err)
{
	char *argv[32] = { "tide", "-kernel", "k", "-m", (char *)mem };
	int argc = 5;
	struct vm_config cfg;
	struct vmem_config *ptrs[8];
	FILE *out = fopen("/dev/null", "w");
	int ret;

	for (unsigned i = 0; i < nobj; i++) {
		argv[argc++] = "-object";
		argv[argc++] = (char *)objects[i];
	}
	ck_assert_int_eq(cmdline_parse(argc, argv, &cfg, out, err), CMDLINE_RUN);
	fclose(out);
	for (unsigned i = 0; i < ndev; i++) {
		struct opts opts;

		ck_assert_int_eq(opts_parse(&opts, "-device", devices[i], "driver", err), 0);
		opts_take(&opts, "driver");
		ck_assert_int_eq(vmem_config_parse(&vcs[i], &opts, err), 0);
		opts_free(&opts);
		ptrs[i] = &vcs[i];
	}
	{
		const struct device_check_env env = {
			.instances = cfg.devices,
			.count = cfg.nr_devices,
			.device_area_start = cfg.device_area_start,
			.device_area_end = cfg.device_area_end,
		};

		ret = vmem_config_resolve(ptrs, ndev, &env, err);
	}
	cmdline_free(&cfg);
	return ret;
}

START_TEST(cross_checks)
{
	const char *objs[] = { "memory-backend-ram,id=a,size=4G", "memory-backend-memfd,id=b,size=2G",
			       "memory-backend-ram,id=c,size=3M" };
	struct vmem_config vcs[4];
	struct error err = { "" };

#if defined(__x86_64__)
	const uint64_t area = 4 * GiB; /* 1 GiB of RAM, below the hole: the area starts at 4 GiB */
	const uint64_t area_3584m = 5 * GiB; /* 3.5 GiB of RAM: 512 MiB above 4 GiB, aligned */
#else
	const uint64_t area = 3 * GiB; /* arm64: 1 GiB of RAM from 2 GiB */
	const uint64_t area_3584m = 6 * GiB; /* 2 + 3.5 GiB, 1 GiB aligned */
#endif
	char want[300];

	/* Two devices placed one after the other from where RAM ends. */
	const char *two[] = { "virtio-mem-pci,memdev=a,requested-size=1G", "virtio-mem-pci,memdev=b" };
	ck_assert_int_eq(resolve("1G,maxmem=7G", objs, 3, two, 2, vcs, &err), 0);
	ck_assert_uint_eq(vcs[0].memaddr, area);
	ck_assert_uint_eq(vcs[1].memaddr, area + 4 * GiB);
	ck_assert_uint_eq(vcs[1].size, 2 * GiB);
	ck_assert_uint_eq(vcs[0].block_size, host_thp_size()); /* the default, set here */

	ck_assert_int_eq(resolve("1G,maxmem=6G", objs, 3, two, 2, vcs, &err), -1);
	snprintf(want, sizeof(want),
		 "virtio-mem-pci: memdev 'b' (2147483648 bytes at %#" PRIx64 ") does not fit in "
		 "the device memory area %#" PRIx64 "-%#" PRIx64 " (raise -m maxmem)",
		 (uint64_t)(area + 4 * GiB), area, (uint64_t)(area + 5 * GiB));
	ck_assert_str_eq(err.msg, want);
	const char *unknown[] = { "virtio-mem-pci,memdev=zz" };
	ck_assert_int_eq(resolve("1G,maxmem=7G", objs, 3, unknown, 1, vcs, &err), -1);
	ck_assert_str_eq(err.msg, "virtio-mem-pci: memdev 'zz' is not a memory backend object");
	const char *twice[] = { "virtio-mem-pci,memdev=a", "virtio-mem-pci,memdev=a" };
	ck_assert_int_eq(resolve("1G,maxmem=20G", objs, 3, twice, 2, vcs, &err), -1);
	ck_assert_str_eq(err.msg, "virtio-mem-pci: memdev 'a' is used twice");
	const char *odd[] = { "virtio-mem-pci,memdev=c" };
	ck_assert_int_eq(resolve("1G,maxmem=7G", objs, 3, odd, 1, vcs, &err), -1);
	ck_assert_str_eq(err.msg, "virtio-mem-pci: memdev 'c' size 3145728 is not a multiple of "
				  "block-size 2097152");
	const char *big[] = { "virtio-mem-pci,memdev=b,requested-size=3G" };
	ck_assert_int_eq(resolve("1G,maxmem=7G", objs, 3, big, 1, vcs, &err), -1);
	ck_assert_str_eq(err.msg, "virtio-mem-pci: requested-size 3221225472 is above the size of "
				  "memdev 'b' (2147483648)");
	const char *overlap[] = { "virtio-mem-pci,memdev=a,memaddr=0x100000000",
				  "virtio-mem-pci,memdev=b,memaddr=0x180000000" };
	ck_assert_int_eq(resolve("1G,maxmem=20G", objs, 3, overlap, 2, vcs, &err), -1);
	ck_assert_str_eq(err.msg, "virtio-mem-pci: memaddr 0x180000000 overlaps memdev 'a'");
	const char *tiny_slots[] = { "virtio-mem-pci,memdev=b,memslots=32" };
	ck_assert_int_eq(resolve("1G,maxmem=7G", objs, 3, tiny_slots, 1, vcs, &err), -1);
	ck_assert_str_eq(err.msg, "virtio-mem-pci: memdev 'b': memslots=32 does not split "
				  "2147483648 bytes into equal slots of a multiple of 134217728 bytes");
	/* The memslot split is decided here, before KVM is opened. */
	const char *split[] = { "virtio-mem-pci,memdev=a", "virtio-mem-pci,memdev=b,memslots=2" };
	ck_assert_int_eq(resolve("1G,maxmem=7G", objs, 3, split, 2, vcs, &err), 0);
	ck_assert_uint_eq(vcs[0].slot_size, 128 * MiB);
	ck_assert_uint_eq(vcs[1].slot_size, GiB);
	const char *off_slots[] = { "virtio-mem-pci,memdev=b,dynamic-memslots=off,memslots=2" };
	ck_assert_int_eq(resolve("1G,maxmem=7G", objs, 3, off_slots, 1, vcs, &err), -1);
	ck_assert_str_eq(err.msg, "virtio-mem-pci: memdev 'b': memslots=2 needs dynamic-memslots=on "
				  "(off maps the region as one memslot)");
	const char *off[] = { "virtio-mem-pci,memdev=b,dynamic-memslots=off" };
	ck_assert_int_eq(resolve("1G,maxmem=7G", objs, 3, off, 1, vcs, &err), 0);
	ck_assert_uint_eq(vcs[0].slot_size, 2 * GiB);
	const char *objs130[] = { "memory-backend-ram,id=d,size=130M" };
	const char *unaligned[] = { "virtio-mem-pci,memdev=d" };
	ck_assert_int_eq(resolve("1G,maxmem=7G", objs130, 1, unaligned, 1, vcs, &err), -1);
	ck_assert_str_eq(err.msg, "virtio-mem-pci: memdev 'd': size 136314880 is not a multiple of "
				  "the 134217728-byte memslot granule");
	/* All devices together take at most 2048 memslots: the third is refused here. */
	const char *objs128[] = { "memory-backend-ram,id=x,size=128G",
				  "memory-backend-ram,id=y,size=128G",
				  "memory-backend-ram,id=z,size=128G" };
	const char *three[] = { "virtio-mem-pci,memdev=x,memslots=1024",
				"virtio-mem-pci,memdev=y,memslots=512",
				"virtio-mem-pci,memdev=z,memslots=512" };
	ck_assert_int_eq(resolve("1G,maxmem=400G", objs128, 3, three, 3, vcs, &err), 0);
	three[2] = "virtio-mem-pci,memdev=z,memslots=1024";
	ck_assert_int_eq(resolve("1G,maxmem=400G", objs128, 3, three, 3, vcs, &err), -1);
	ck_assert_str_eq(err.msg, "virtio-mem-pci z needs 1024 memslots but only 512 are left (at "
				  "most 2048 for all devices); use fewer or larger memslots "
				  "(memslots=N)");
	/* The area starts after RAM (x86: above 4 GiB), 1 GiB aligned. */
	const char *one[] = { "virtio-mem-pci,memdev=b" };
	ck_assert_int_eq(resolve("3584M,maxmem=8G", objs, 3, one, 1, vcs, &err), 0);
	ck_assert_uint_eq(vcs[0].memaddr, area_3584m);
}
END_TEST

START_TEST(block_size_against_thp_and_backend_pages)
{
	struct memory_backend huge = { .size = 4 * GiB, .page_size = GiB };
	struct memory_backend small = { .size = 4 * GiB, .page_size = 4096 };
	struct error err = { "" };

	ck_assert_int_eq(vmem_check_block_size(2 * MiB, 2 * MiB, &small, "s", &err), 0);
	ck_assert_int_eq(vmem_check_block_size(MiB, 2 * MiB, &small, "s", &err), -1);
	ck_assert_str_eq(err.msg, "virtio-mem-pci: block-size 1048576 must be a power of two of at "
				  "least 2097152 (the THP size)");
	/* A backend of 1 GiB pages (hugetlb): a block must hold whole pages. */
	ck_assert_int_eq(vmem_check_block_size(2 * MiB, 2 * MiB, &huge, "h", &err), -1);
	ck_assert_str_eq(err.msg, "virtio-mem-pci: block-size 2097152 is below the 1073741824-byte "
				  "pages of memdev 'h'");
	ck_assert_int_eq(vmem_check_block_size(GiB, 2 * MiB, &huge, "h", &err), 0);
	/* Without block-size=: QEMU's default, the larger of the two. */
	ck_assert_uint_eq(vmem_default_block_size(2 * MiB, &huge), GiB);
	ck_assert_uint_eq(vmem_default_block_size(2 * MiB, &small), 2 * MiB);
	ck_assert_uint_eq(host_thp_size() & (host_thp_size() - 1), 0);
	ck_assert_uint_ge(host_thp_size(), 4096);
}
END_TEST

Suite *suite_main(void)
{
	Suite *s = suite_create("virtio_mem_config");
	TCase *tc = tcase_create("properties");

	tcase_add_test(tc, defaults_and_properties);
	tcase_add_test(tc, per_device_errors);
	tcase_add_test(tc, cross_checks);
	tcase_add_test(tc, block_size_against_thp_and_backend_pages);
	suite_add_tcase(s, tc);
	return s;
}
