/*
 * memory-backend-file: a file mapped as guest memory (QEMU's properties).
 *
 * share=on maps it MAP_SHARED: the guest writes the file, and unplugged memory
 * is punched out of it. share=off maps it MAP_PRIVATE: the file is only read
 * (with readonly=on it is opened read-only: VM templating, many VMs starting
 * from one memory image, each one's writes its own), and unplugged memory is
 * replaced by anonymous zero memory so that the file is never touched. A file on
 * hugetlbfs is mapped shared only, in the mount's huge pages.
 */
#include <inttypes.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <unistd.h>

#include "mm/backend.h"
#include "util/log.h"
#include "util/size.h"
#include "util/util.h"

#define TYPE_NAME "memory-backend-file"

struct file_backend {
	struct memory_backend b; /* first: the generic code sees a struct memory_backend */
	char *path;
	int path_fd; /* opened once before tide drops privileges; each map dups it */
	bool readonly;
	bool discard_data;
	uint64_t align;
	uint8_t *reservation; /* the aligned mapping's reservation (b.hva lies inside it) */
	uint64_t reservation_len;
};

static int file_map(struct memory_backend *b, struct error *err)
{
	struct file_backend *f = (struct file_backend *)b;
	int prot = b->rom ? PROT_READ : PROT_READ | PROT_WRITE;
	int flags = (b->share ? MAP_SHARED : MAP_PRIVATE) | MAP_FIXED;
	uint8_t *base, *aligned;
	void *p;

	/* Each machine closes its fd at teardown (memory_backend_unmap); the file stays open. */
	b->fd = fcntl(f->path_fd, F_DUPFD_CLOEXEC, 0);
	if (b->fd < 0)
		return error_set(err, TYPE_NAME ": mem-path '%s': %s", f->path, strerror(errno));
	if (!b->reserve)
		flags |= MAP_NORESERVE;
	/* Reserve room to place the mapping on an align boundary (QEMU's align=). */
	f->reservation_len = b->size + f->align;
	p = mmap(NULL, f->reservation_len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		 -1, 0);
	if (p == MAP_FAILED) {
		error_set(err, TYPE_NAME ": cannot reserve %" PRIu64 " bytes: %s",
			  f->reservation_len, strerror(errno));
		goto fail;
	}
	base = p;
	aligned = (uint8_t *)ALIGN_UP((uintptr_t)base, f->align);
	if (mmap(aligned, b->size, prot, flags, b->fd, 0) == MAP_FAILED) {
		/* hugetlbfs reserves every page of a shared mapping at mmap time. */
		error_set(err, TYPE_NAME ": cannot map mem-path '%s': %s%s", f->path, strerror(errno),
			  errno == ENOMEM && b->page_size > (uint64_t)sysconf(_SC_PAGESIZE)
				  ? " (too few free huge pages: raise /proc/sys/vm/nr_hugepages, or "
				    "reserve=off)"
				  : "");
		munmap(base, f->reservation_len);
		goto fail;
	}
	f->reservation = base;
	b->hva = aligned;
	return 0;
fail:
	close(b->fd);
	b->fd = -1;
	return -1;
}

static int file_discard(struct memory_backend *b, uint64_t offset, uint64_t len, bool accessible,
			struct error *err)
{
	void *p = b->hva + offset;

	if (b->share)
		return memory_backend_punch_hole(b, offset, len, err);
	/*
	 * A private mapping would show the file again after MADV_DONTNEED: put anonymous
	 * zero memory there instead (same place, same protection), and the file stays
	 * as it was (a template is never written).
	 */
	if (mmap(p, len, accessible ? PROT_READ | PROT_WRITE : PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | (b->reserve ? 0 : MAP_NORESERVE), -1,
		 0) == MAP_FAILED)
		return error_set(err, TYPE_NAME ": discard: %s", strerror(errno));
	/*
	 * A new mapping: it needs the backend's merge, dump and NUMA settings again. The
	 * discard itself has happened, so a failure here is only a warning: failing would
	 * make the caller plug these blocks again as if they still held their data.
	 */
	struct error settings;

	if (memory_backend_apply_settings(b, offset, len, &settings))
		log_warn("%s (discarded range 0x%" PRIx64 "+0x%" PRIx64 ")", settings.msg,
			 offset, len);
	return 0;
}

static void file_unmap(struct memory_backend *b)
{
	struct file_backend *f = (struct file_backend *)b;

	if (f->reservation && munmap(f->reservation, f->reservation_len))
		log_warn(TYPE_NAME ": munmap: %s", strerror(errno));
	f->reservation = NULL;
	b->hva = NULL; /* the generic unmap then only closes the fd */
}

/* discard-data=on: the file's contents are not needed after tide (QEMU punches them). */
static void file_finalize(struct memory_backend *b)
{
	struct file_backend *f = (struct file_backend *)b;

	if (f->path_fd >= 0 && f->discard_data && !f->readonly &&
	    fallocate(f->path_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, (off_t)b->size))
		log_warn(TYPE_NAME ": discard-data: %s: %s", f->path, strerror(errno));
	if (f->path_fd >= 0 && close(f->path_fd))
		log_warn(TYPE_NAME ": close of mem-path '%s': %s", f->path, strerror(errno));
	free(f->path);
}

/* Once, at start: what a reset maps again, even under -run-with chroot= or user=. */
static int file_open(struct memory_backend *b, struct error *err)
{
	struct file_backend *f = (struct file_backend *)b;

	f->path_fd = open(f->path, (f->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (f->path_fd < 0)
		return error_set(err, TYPE_NAME ": cannot open mem-path '%s': %s", f->path,
				 strerror(errno));
	return 0;
}

static const struct memory_backend_ops file_ops = {
	.map = file_map,
	.discard = file_discard,
	.unmap = file_unmap,
	.finalize = file_finalize,
	.open = file_open,
};

/*
 * share, readonly and rom as QEMU combines them: rom=auto follows readonly. A
 * shared writable mapping of a read-only file cannot work; rom=on needs
 * readonly=on (QEMU refuses it for now too).
 */
int file_backend_check_modes(bool share, bool readonly, enum on_off_auto rom,
			     bool *rom_out, struct error *err)
{
	bool is_rom = rom == ON_OFF_AUTO_AUTO ? readonly : rom == ON_OFF_AUTO_ON;

	if (share && readonly && !is_rom)
		return error_set(err, TYPE_NAME ": property 'rom' = 'off' is incompatible with "
					      "'readonly' = 'on' and 'share' = 'on'");
	if (is_rom && !readonly)
		return error_set(err, TYPE_NAME ": property 'rom' = 'on' is not supported with "
					      "'readonly' = 'off'");
	*rom_out = is_rom;
	return 0;
}

/*
 * A file on hugetlbfs: its huge pages are the backend's pages (block-size, alignment and
 * discards go by them). Only shared: a private range given back would have to be replaced
 * by anonymous memory, which has no huge pages to offer.
 */
static int take_huge_pages(struct file_backend *f, const struct statfs *fs, struct error *err)
{
	uint64_t page = (uint64_t)fs->f_bsize;

	if (!f->b.share)
		return error_set(err, TYPE_NAME ": mem-path '%s' is on hugetlbfs, where tide maps "
					      "files shared only: use share=on",
				 f->path);
	if (f->b.size % page)
		return error_set(err, TYPE_NAME ": size %" PRIu64 " is not a multiple of the "
						"%" PRIu64 " KiB huge "
					      "pages of mem-path '%s'",
				 f->b.size, (page >> 10),
				 f->path);
	f->b.page_size = page;
	if (f->align < page)
		f->align = page; /* hugetlbfs maps only at huge-page boundaries */
	return 0;
}

/* The file must be there, a regular file, large enough, and openable as the modes need. */
static int check_file(struct file_backend *f, struct error *err)
{
	struct statfs fs;
	struct stat st;

	if (stat(f->path, &st) < 0)
		return error_set(err, TYPE_NAME ": mem-path '%s': %s", f->path, strerror(errno));
	if (S_ISDIR(st.st_mode))
		return error_set(err, TYPE_NAME ": mem-path '%s' is a directory; tide maps a file "
					      "of at least size bytes",
				 f->path);
	if (!S_ISREG(st.st_mode))
		return error_set(err, TYPE_NAME ": mem-path '%s' is not a regular file", f->path);
	if (statfs(f->path, &fs) == 0 && fs.f_type == HUGETLBFS_MAGIC &&
	    take_huge_pages(f, &fs, err))
		return -1;
	if ((uint64_t)st.st_size < f->b.size)
		return error_set(err, TYPE_NAME ": mem-path '%s' holds %" PRIu64 " bytes, less "
					      "than size=%" PRIu64,
				 f->path, (uint64_t)st.st_size, f->b.size);
	if (access(f->path, f->readonly ? R_OK : R_OK | W_OK) < 0)
		return error_set(err, TYPE_NAME ": mem-path '%s': %s%s", f->path, strerror(errno),
				 f->readonly ? "" : " (readonly=on opens it read-only)");
	return 0;
}

struct memory_backend *memory_backend_file_new(const struct memory_backend_props *props,
					       const struct memory_backend_file_args *args,
					       struct error *err)
{
	struct file_backend *f;
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	bool rom;

	if (args->align && (args->align < page || !is_power_of_2(args->align))) {
		error_set(err, TYPE_NAME ": align must be a power of two of at least %" PRIu64, page);
		return NULL;
	}
	if (file_backend_check_modes(props->share, args->readonly, args->rom, &rom, err))
		return NULL;
	f = (struct file_backend *)memory_backend_alloc(props, &file_ops, TYPE_NAME, sizeof(*f),
							err);
	if (!f)
		return NULL;
	f->path_fd = -1;
	f->b.starts_with_data = true;
	f->b.rom = rom;
	f->readonly = args->readonly;
	f->discard_data = args->discard_data;
	f->align = args->align ? args->align : f->b.page_size;
	f->path = strdup(args->path);
	if (!f->path) {
		error_set(err, "out of memory");
		free(f);
		return NULL;
	}
	if (check_file(f, err)) {
		free(f->path);
		free(f);
		return NULL;
	}
	return &f->b;
}
