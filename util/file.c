/* Reading a whole regular file (kernels, initrds). */
#include "util/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int file_read_all(const char *path, void **data, size_t *len, struct error *err)
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
