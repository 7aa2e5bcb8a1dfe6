#include <check.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mm/backend.h"
#include "vmm/device.h"
#include "vmm/size.h"

static struct memory_backend *parse(const char *type, const char *str, struct error *err)
{
	const struct device_type *t = device_type_find(type, TYPE_OBJECT);
	struct opts opts;
	struct memory_backend *b;

	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(opts_parse(&opts, "-object", str, "qom-type", err), 0);
	opts_take(&opts, "qom-type");
	b = t->parse(&opts, err);
	if (b && opts_finish(&opts, type, err)) {
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

static void discard_gives_memory_back(const char *type, const char *props)
{
	struct error err = { "" };
	struct memory_backend *b = parse(type, props, &err);

	ck_assert_msg(b != NULL, "%s", err.msg);
	ck_assert_int_eq(memory_backend_map(b, &err), 0);
	memset(b->hva, 0xab, b->size);
	ck_assert_uint_eq(resident(b->hva, 256 * KiB), 64);
	ck_assert_int_eq(memory_backend_discard(b, 64 * KiB, 128 * KiB, &err), 0);
	ck_assert_uint_eq(resident(b->hva, 256 * KiB), 32);
	/* Discarded memory reads as zeros; the rest keeps its data. */
	for (size_t i = 0; i < b->size; i += 4096)
		ck_assert_uint_eq(b->hva[i], i >= 64 * KiB && i < 192 * KiB ? 0 : 0xab);
	ck_assert_int_eq(memory_backend_discard(b, 192 * KiB, 128 * KiB, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "outside"));
	memory_backend_free(b);
}

START_TEST(ram_private)
{
	discard_gives_memory_back("memory-backend-ram", "id=m,size=256K");
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
	ck_assert_ptr_null(parse("memory-backend-ram", "id=m,size=1G,prealloc=on", &err));
	ck_assert_str_eq(err.msg, "-object: memory-backend-ram has no property 'prealloc'");
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

Suite *suite_main(void)
{
	Suite *s = suite_create("backend");
	TCase *tc = tcase_create("backends");

	tcase_add_test(tc, ram_private);
	tcase_add_test(tc, ram_shared);
	tcase_add_test(tc, memfd_shared_by_default);
	tcase_add_test(tc, memfd_private);
	tcase_add_test(tc, property_errors);
	tcase_add_test(tc, large_unreserved_mapping_costs_nothing_until_touched);
	suite_add_tcase(s, tc);
	return s;
}
