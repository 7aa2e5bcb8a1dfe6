/*
 * -object secret,id=ID,(file=PATH|data=TEXT)[,format=raw|base64]: QEMU's secret object.
 * libvirt passes one on every domain's command line (its master key, for the secrets of
 * disks and the like). Tide has nothing that takes a secret yet; it reads the file once,
 * before it confines itself, keeps the bytes, and wipes them when it ends.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/device.h"
#include "util/opts.h"

#define SECRET_MAX 4096 /* a key, not a file of data */

struct secret {
	char *file;
	char *data;
	size_t len;
};

static void secret_free(void *config)
{
	struct secret *s = config;

	if (!s)
		return;
	if (s->data)
		explicit_bzero(s->data, s->len);
	free(s->data);
	free(s->file);
	free(s);
}

static void *secret_parse(struct opts *opts, struct error *err)
{
	const char *file = opts_take(opts, "file"), *data = opts_take(opts, "data");
	const char *format = opts_take(opts, "format");
	struct secret *s;

	if (!opts_take(opts, "id")) {
		error_set(err, "%s: secret needs id=ID", opts->option);
		return NULL;
	}
	if (format && strcmp(format, "raw") && strcmp(format, "base64")) {
		error_set(err, "%s: secret format must be raw or base64, not '%s'", opts->option,
			  format);
		return NULL;
	}
	if (!file == !data) {
		error_set(err, "%s: secret needs one of file=PATH and data=TEXT", opts->option);
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s || !(file ? (s->file = strdup(file)) : (s->data = strdup(data)))) {
		error_set(err, "%s: out of memory", opts->option);
		secret_free(s);
		return NULL;
	}
	s->len = data ? strlen(data) : 0;
	return s;
}

/* The file is read now: once tide has confined itself it can open nothing. */
static int secret_open(void *config, struct error *err)
{
	struct secret *s = config;
	ssize_t n;
	int fd;

	if (!s->file)
		return 0;
	fd = open(s->file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return error_set(err, "-object secret: %s: %s", s->file, strerror(errno));
	s->data = malloc(SECRET_MAX);
	if (!s->data) {
		close(fd);
		return error_set(err, "-object secret: out of memory");
	}
	do
		n = read(fd, s->data, SECRET_MAX);
	while (n < 0 && errno == EINTR);
	close(fd);
	if (n < 0)
		return error_set(err, "-object secret: %s: %s", s->file, strerror(errno));
	s->len = (size_t)n; /* what secret_free() wipes */
	if (n == SECRET_MAX)
		return error_set(err, "-object secret: %s is larger than a secret (%d bytes)",
				 s->file, SECRET_MAX);
	return 0;
}

static const struct type_property secret_props[] = {
	{ "file", "str", "the file that holds the secret" },
	{ "data", "str", "the secret itself" },
	{ "format", "QCryptoSecretFormat", "raw or base64" },
	{ NULL, NULL, NULL },
};

static const struct device_type secret_type = {
	.name = "secret",
	.kind = TYPE_OBJECT,
	.help = "id=ID,file=PATH|data=TEXT[,format=raw|base64]: a secret (read and kept; "
		"nothing in tide takes one yet)",
	.props = secret_props,
	.parse = secret_parse,
	.open = secret_open,
	.free_config = secret_free,
};
DEVICE_TYPE_REGISTER(secret_type)
