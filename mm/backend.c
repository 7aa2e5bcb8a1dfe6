#include "mm/backend.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmm/log.h"
#include "vmm/size.h"

int memory_backend_parse_common(struct memory_backend *b, struct opts *opts, bool share_default,
				struct error *err)
{
	long page = sysconf(_SC_PAGESIZE);

	const char *size = opts_take(opts, "size");

	if (!size)
		return error_set(err, "%s: %s needs size=SIZE", opts->option, b->type_name);
	if (parse_size(size, 1, &b->size, err))
		return error_prefix(err, "%s: property 'size'", opts->option);
	if (opts_take_bool(opts, "share", &b->share, share_default, err) ||
	    opts_take_bool(opts, "reserve", &b->reserve, true, err))
		return -1;
	b->page_size = (uint64_t)page;
	if (b->size == 0 || b->size % (uint64_t)page)
		return error_set(err, "%s: %s size must be a non-zero multiple of %ld bytes",
				 opts->option, b->type_name, page);
	return 0;
}

void *memory_backend_new(struct opts *opts, const struct memory_backend_ops *ops,
			 const char *type_name, bool share_default, struct error *err)
{
	struct memory_backend *b = calloc(1, sizeof(*b));

	if (!b) {
		error_set(err, "out of memory");
		return NULL;
	}
	b->ops = ops;
	b->type_name = type_name;
	b->fd = -1;
	if (!opts_take(opts, "id")) {
		error_set(err, "%s: %s needs id=ID", opts->option, type_name);
		free(b);
		return NULL;
	}
	if (memory_backend_parse_common(b, opts, share_default, err)) {
		free(b);
		return NULL;
	}
	return b;
}

void memory_backend_free(void *config)
{
	struct memory_backend *b = config;

	if (!b)
		return;
	memory_backend_unmap(b);
	if (b->ops->finalize)
		b->ops->finalize(b);
	free(b);
}

int backend_parse_onoffauto(const char *text, enum backend_onoffauto *out)
{
	static const struct {
		const char *name;
		enum backend_onoffauto value;
	} names[] = { { "on", BACKEND_ON }, { "off", BACKEND_OFF }, { "auto", BACKEND_AUTO } };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcmp(text, names[i].name)) {
			*out = names[i].value;
			return 0;
		}
	}
	return -1;
}

uint64_t host_thp_size(void)
{
	unsigned long long size = 0;
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size", "re");

	if (f) {
		if (fscanf(f, "%llu", &size) != 1)
			size = 0;
		fclose(f);
	}
	/* A power of two of at least a page, or the x86-64 value. */
	if (size < 4096 || (size & (size - 1)))
		size = 2ULL << 20;
	return size;
}

int memory_backend_map(struct memory_backend *b, struct error *err)
{
	if (b->hva)
		return 0;
	return b->ops->map(b, err);
}

int memory_backend_discard(struct memory_backend *b, uint64_t offset, uint64_t len,
			   bool accessible, struct error *err)
{
	if (!b->hva || len == 0 || offset > b->size || len > b->size - offset)
		return error_set(err, "discard 0x%llx+0x%llx is outside the %llu-byte backend",
				 (unsigned long long)offset, (unsigned long long)len,
				 (unsigned long long)b->size);
	if (b->rom)
		return error_set(err, "%s: read-only memory is never discarded", b->type_name);
	return b->ops->discard(b, offset, len, accessible, err);
}

void memory_backend_unmap(struct memory_backend *b)
{
	if (b->hva && b->ops->unmap)
		b->ops->unmap(b);
	if (b->hva && munmap(b->hva, b->size))
		log_warn("munmap of a %s: %s", b->type_name, strerror(errno));
	if (b->fd >= 0 && close(b->fd))
		log_warn("close of a %s: %s", b->type_name, strerror(errno));
	b->hva = NULL;
	b->fd = -1;
}

int memory_backend_realize(struct machine *m, void *config, struct error *err)
{
	(void)m;
	(void)config;
	(void)err;
	return 0;
}
