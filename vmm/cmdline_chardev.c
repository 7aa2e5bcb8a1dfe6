/*
 * -add-fd, -chardev, -mon and -device isa-serial (vmm/cmdline_chardev.h). They may come
 * in any order, as in QEMU: each is recorded as it comes, and cmdline_resolve_chardevs()
 * joins them once the whole command line is read.
 */
#include "vmm/cmdline_chardev.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "util/opts.h"
#include "util/util.h"
#include "vmm/cmdline_internal.h"

#define FDSET_PREFIX "/dev/fdset/"
#define CMDLINE_MAX_FD 65536 /* main keeps the descriptors below it that options name */

/* An inherited descriptor: it must be open (a number alone says nothing). */
static int take_fd(struct opts *opts, const char *option, int *fd, struct error *err)
{
	uint64_t n;

	if (opts_take_u64(opts, "fd", &n, UINT64_MAX, err))
		return -1;
	if (n == UINT64_MAX)
		return error_set(err, "%s: needs fd=N", option);
	if (n < 3 || n >= CMDLINE_MAX_FD || fcntl((int)n, F_GETFD) < 0)
		return error_set(err, "%s: fd=%" PRIu64 " is not a descriptor tide was given", option,
				 n);
	*fd = (int)n;
	return 0;
}

/* -add-fd set=N,fd=M[,opaque=TEXT] */
static int opt_add_fd(struct cmdline_state *st, const char *arg, struct error *err)
{
	struct cmdline_chardevs *c = &st->cfg->chardevs;
	struct cmdline_fd *grown;
	struct opts opts;
	uint64_t set;
	int fd, ret = -1;

	if (opts_parse(&opts, "-add-fd", arg, NULL, err))
		return -1;
	(void)opts_take(&opts, "opaque"); /* the starter's note to itself */
	if (opts_take_u64(&opts, "set", &set, UINT64_MAX, err) ||
	    take_fd(&opts, "-add-fd", &fd, err) || opts_finish(&opts, "-add-fd", err))
		goto out;
	if (set == UINT64_MAX) {
		error_set(err, "-add-fd: needs set=N");
		goto out;
	}
	if (set > UINT32_MAX) {
		error_set(err, "-add-fd: set=%" PRIu64 " is out of range", set);
		goto out;
	}
	grown = realloc(c->fds, (c->nr_fds + 1) * sizeof(*grown));
	if (!grown) {
		error_set(err, "-add-fd: out of memory");
		goto out;
	}
	c->fds = grown;
	c->fds[c->nr_fds++] = (struct cmdline_fd){ (unsigned)set, fd };
	ret = 0;
out:
	opts_free(&opts);
	return ret;
}

static int parse_socket(struct opts *opts, struct cmdline_chardev *chr, struct error *err)
{
	bool server, wait;

	if (take_fd(opts, "-chardev socket", &chr->fd, err) ||
	    opts_take_bool(opts, "server", &server, false, err) ||
	    opts_take_bool(opts, "wait", &wait, true, err))
		return -1;
	if (!server || wait)
		return error_set(err, "-chardev socket: tide takes a socket it listens on without "
				      "waiting (fd=N,server=on,wait=off)");
	chr->socket = true;
	return 0;
}

static int parse_file(struct opts *opts, struct cmdline_chardev *chr, struct error *err)
{
	const char *path = opts_take(opts, "path");

	if (!path || !*path)
		return error_set(err, "-chardev file: needs path=PATH");
	if (opts_take_bool(opts, "append", &chr->append, false, err))
		return -1;
	chr->path = strdup(path);
	return chr->path ? 0 : error_set(err, "-chardev: out of memory");
}

static struct cmdline_chardev *lookup_chardev(struct cmdline_chardevs *c, const char *id)
{
	for (size_t i = 0; i < c->count; i++)
		if (!strcmp(c->list[i].id, id))
			return &c->list[i];
	return NULL;
}

/* -chardev socket,id=ID,fd=N,server=on,wait=off | file,id=ID,path=PATH[,append=on] */
static int opt_chardev(struct cmdline_state *st, const char *arg, struct error *err)
{
	struct cmdline_chardevs *c = &st->cfg->chardevs;
	struct cmdline_chardev chr = { .fd = -1 }, *grown;
	const char *backend, *id;
	struct opts opts;
	int ret = -1;

	if (opts_parse(&opts, "-chardev", arg, "backend", err))
		return -1;
	backend = opts_take(&opts, "backend");
	id = opts_take(&opts, "id");
	if (!id || !*id) {
		error_set(err, "-chardev: needs id=ID");
		goto out;
	}
	if (lookup_chardev(c, id)) {
		error_set(err, "-chardev: id '%s' is already in use", id);
		goto out;
	}
	if (backend && !strcmp(backend, "socket")) {
		if (parse_socket(&opts, &chr, err))
			goto out;
	} else if (backend && !strcmp(backend, "file")) {
		if (parse_file(&opts, &chr, err))
			goto out;
	} else {
		error_set(err, "-chardev: backend '%s' is not supported (socket with fd=, or file)",
			  backend ? backend : "");
		goto out;
	}
	if (opts_finish(&opts, "-chardev", err))
		goto out;
	grown = realloc(c->list, (c->count + 1) * sizeof(*grown));
	if (!grown || !(chr.id = strdup(id))) {
		error_set(err, "-chardev: out of memory");
		if (grown)
			c->list = grown;
		goto out;
	}
	c->list = grown;
	c->list[c->count++] = chr;
	chr.path = NULL; /* the list owns it now */
	ret = 0;
out:
	free(chr.path);
	opts_free(&opts);
	return ret;
}

/* -mon chardev=ID[,id=ID],mode=control: the QMP monitor (tide has no human monitor). */
static int opt_mon(struct cmdline_state *st, const char *arg, struct error *err)
{
	struct opts opts;
	const char *chardev, *mode;
	int ret = -1;

	if (opts_parse(&opts, "-mon", arg, "chardev", err))
		return -1;
	chardev = opts_take(&opts, "chardev");
	mode = opts_take(&opts, "mode");
	(void)opts_take(&opts, "id"); /* the monitor's own name: nothing refers to it */
	if (opts_finish(&opts, "-mon", err))
		goto out;
	if (!chardev || !*chardev) {
		error_set(err, "-mon: needs chardev=ID");
		goto out;
	}
	if (!mode || strcmp(mode, "control")) {
		error_set(err, "-mon: tide's monitor speaks QMP only (mode=control), not '%s'",
			  mode ? mode : "readline");
		goto out;
	}
	if (st->cfg->chardevs.monitor || st->cfg->has_qmp) {
		error_set(err, "-mon: tide serves one QMP monitor");
		goto out;
	}
	ret = opts_keep_string(&st->cfg->chardevs.monitor, chardev, "-mon", err);
out:
	opts_free(&opts);
	return ret;
}

int cmdline_serial_device(struct vm_config *cfg, struct opts *opts, struct error *err)
{
	const char *chardev = opts_take(opts, "chardev");
	uint64_t index;

	(void)opts_take(opts, "id"); /* the port has no QOM path of its own in tide */
	if (opts_take_u64(opts, "index", &index, 0, err) || opts_finish(opts, "isa-serial", err))
		return -1;
	if (index != 0)
		return error_set(err, "-device isa-serial: tide has one serial port (index=0)");
	if (!chardev || !*chardev)
		return error_set(err, "-device isa-serial: needs chardev=ID");
	if (cfg->chardevs.serial)
		return error_set(err, "-device isa-serial: tide has one serial port");
	return opts_keep_string(&cfg->chardevs.serial, chardev, "-device isa-serial", err);
}

static struct cmdline_chardev *find_chardev(struct cmdline_chardevs *c, const char *id,
					    const char *who, struct error *err)
{
	struct cmdline_chardev *chr = lookup_chardev(c, id);

	if (!chr)
		error_set(err, "%s: no -chardev with id '%s'", who, id);
	return chr;
}

/* /dev/fdset/N names the set's descriptor; tide writes the serial log to it. */
static int resolve_serial(struct vm_config *cfg, struct cmdline_chardev *chr, struct error *err)
{
	const char *digits;
	unsigned long set;

	if (chr->socket)
		return error_set(err, "-device isa-serial: chardev '%s' is a socket; the serial "
				      "port writes to a file",
				 chr->id);
	if (strncmp(chr->path, FDSET_PREFIX, strlen(FDSET_PREFIX))) {
		if (chr->append)
			return error_set(err, "-chardev file: append=on is supported for "
					      "/dev/fdset/N paths (tide truncates a file it opens)");
		cfg->serial = CHARDEV_FILE;
		cfg->serial_path = chr->path;
		return 0;
	}
	digits = chr->path + strlen(FDSET_PREFIX);
	if (!*digits || strspn(digits, "0123456789") != strlen(digits))
		return error_set(err, "-chardev file: %s is not /dev/fdset/N", chr->path);
	set = strtoul(digits, NULL, 10);
	for (size_t i = 0; i < cfg->chardevs.nr_fds; i++) {
		int fd = cfg->chardevs.fds[i].fd, mode;

		if (cfg->chardevs.fds[i].set != set)
			continue;
		mode = fcntl(fd, F_GETFL);
		if (mode < 0 || (mode & O_ACCMODE) == O_RDONLY)
			return error_set(err, "-chardev file: %s (fd %d) is not open for writing",
					 chr->path, fd);
		if (fd == cfg->qmp.listen_fd)
			return error_set(err, "-chardev file: fd %d is the QMP monitor's socket", fd);
		cfg->serial = CHARDEV_FILE;
		cfg->serial_fd = fd;
		return 0;
	}
	return error_set(err, "-chardev file: %s names no -add-fd set", chr->path);
}

int cmdline_resolve_chardevs(struct vm_config *cfg, struct error *err)
{
	struct cmdline_chardevs *c = &cfg->chardevs;
	struct cmdline_chardev *chr;

	if (c->monitor) {
		chr = find_chardev(c, c->monitor, "-mon", err);
		if (!chr)
			return -1;
		if (!chr->socket)
			return error_set(err, "-mon: chardev '%s' is not a socket", chr->id);
		cfg->has_qmp = true;
		cfg->qmp = (struct qmp_server_config){ .listen_fd = chr->fd, .wait = false };
	}
	if (c->serial) {
		chr = find_chardev(c, c->serial, "-device isa-serial", err);
		if (!chr || resolve_serial(cfg, chr, err))
			return -1;
	}
	return 0;
}

bool cmdline_keeps_fd(const struct vm_config *cfg, int fd)
{
	for (size_t i = 0; i < cfg->chardevs.nr_fds; i++)
		if (cfg->chardevs.fds[i].fd == fd)
			return true;
	for (size_t i = 0; i < cfg->chardevs.count; i++)
		if (cfg->chardevs.list[i].fd == fd)
			return true;
	return false;
}

void cmdline_chardevs_free(struct cmdline_chardevs *c)
{
	for (size_t i = 0; i < c->count; i++) {
		free(c->list[i].id);
		free(c->list[i].path);
	}
	free(c->list);
	free(c->fds);
	free(c->monitor);
	free(c->serial);
	*c = (struct cmdline_chardevs){ 0 };
}

static const struct cmdline_option options[] = {
	{ "add-fd", "set=N,fd=M[,opaque=TEXT]", "an open file tide was given, named /dev/fdset/N",
	  opt_add_fd },
	{ "chardev", "socket,id=ID,fd=N,server=on,wait=off|file,id=ID,path=PATH[,append=on]",
	  "a character device for -mon or -device isa-serial", opt_chardev },
	{ "mon", "chardev=ID,mode=control", "the QMP monitor on a -chardev socket", opt_mon },
};

const struct cmdline_table cmdline_chardev_table = { options, ARRAY_SIZE(options) };
