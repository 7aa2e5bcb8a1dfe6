#include "arch/x86/kernel_loader.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arch/x86/bzimage.h"
#include "arch/x86/elf.h"
#include "arch/x86/pvh.h"

int kernel_read_file(const char *path, void **data, size_t *len, struct error *err)
{
	struct stat st;
	uint8_t *buf;
	size_t done = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return error_set(err, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st)) {
		error_set(err, "%s: %s", path, strerror(errno));
		goto fail_close;
	}
	if (S_ISDIR(st.st_mode)) {
		error_set(err, "%s: is a directory", path);
		goto fail_close;
	}
	if (!S_ISREG(st.st_mode)) {
		error_set(err, "%s: not a regular file", path);
		goto fail_close;
	}
	if (st.st_size == 0) {
		error_set(err, "%s: file is empty", path);
		goto fail_close;
	}
	buf = malloc((size_t)st.st_size);
	if (!buf) {
		error_set(err, "%s: out of memory for %lld bytes", path, (long long)st.st_size);
		goto fail_close;
	}
	while (done < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + done, (size_t)st.st_size - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			error_set(err, "%s: %s", path, n < 0 ? strerror(errno) : "file shrank while reading");
			free(buf);
			goto fail_close;
		}
		done += (size_t)n;
	}
	close(fd);
	*data = buf;
	*len = done;
	return 0;

fail_close:
	close(fd);
	return -1;
}

int kernel_load_image(struct guest_mem *mem, const void *kernel, size_t kernel_len,
		      const void *initrd, size_t initrd_len, const char *cmdline,
		      const struct e820_table *e820, struct boot_entry *out, struct error *err)
{
	if (bzimage_probe(kernel, kernel_len))
		return bzimage_load(mem, kernel, kernel_len, initrd, initrd_len, cmdline, e820, out,
				    err);
	if (elf_probe(kernel, kernel_len))
		return pvh_load(mem, kernel, kernel_len, initrd, initrd_len, cmdline, e820, out, err);
	return error_set(err, "not a bzImage or an ELF kernel with a PVH note");
}

int kernel_check_image(const void *image, size_t len, struct error *err)
{
	struct bzimage_info info;
	uint64_t entry;

	if (bzimage_probe(image, len))
		return bzimage_parse(image, len, &info, err);
	if (elf_probe(image, len))
		return pvh_find_entry(image, len, &entry, err);
	return error_set(err, "not a bzImage or an ELF kernel with a PVH note");
}
