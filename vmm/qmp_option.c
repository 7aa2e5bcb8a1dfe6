#include "vmm/qmp_option.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "util/opts.h"

/*
 * QEMU's legacy bare flags "server" and "nowait" as key=value elements (",,"
 * is an escaped comma inside an element and is copied as it is). A new string.
 */
static char *spell_out_flags(const char *in)
{
	size_t len = strlen(in), o = 0;
	char *out = malloc(len * 2 + 16);
	const char *p = in;

	if (!out)
		return NULL;
	while (*p) {
		const char *e = p;
		size_t n;

		while (*e && !(*e == ',' && e[1] != ',')) /* up to a single comma */
			e += *e == ',' ? 2 : 1;
		n = (size_t)(e - p);
		if (p != in && n == 6 && !strncmp(p, "server", 6))
			o += (size_t)sprintf(out + o, "server=on");
		else if (p != in && n == 6 && !strncmp(p, "nowait", 6))
			o += (size_t)sprintf(out + o, "wait=off");
		else {
			memcpy(out + o, p, n);
			o += n;
		}
		if (*e == ',')
			out[o++] = *e++;
		p = e;
	}
	out[o] = '\0';
	return out;
}

int qmp_server_parse(const char *arg, struct qmp_server_config *cfg, struct error *err)
{
	struct opts opts;
	const char *path;
	char *spelled;
	bool server;
	int ret = -1;

	*cfg = (struct qmp_server_config){ .wait = true, .listen_fd = -1 }; /* QEMU waits */
	if (strncmp(arg, "unix:", 5) != 0)
		return error_set(err, "-qmp: '%s': tide offers only unix:PATH,server=on[,wait=off]",
				 arg);
	if (arg[5] == '\0' || (arg[5] == ',' && arg[6] != ','))
		return error_set(err, "-qmp: unix: needs a socket path");
	spelled = spell_out_flags(arg + 5);
	if (!spelled)
		return error_set(err, "-qmp: out of memory");
	ret = opts_parse(&opts, "-qmp", spelled, "path", err);
	free(spelled);
	if (ret)
		return -1;
	ret = -1;
	path = opts_take(&opts, "path");
	if (opts_take_bool(&opts, "server", &server, false, err) ||
	    opts_take_bool(&opts, "wait", &cfg->wait, true, err) ||
	    opts_finish(&opts, "the QMP socket", err))
		goto out;
	if (!path || !*path) {
		error_set(err, "-qmp: unix: needs a socket path");
		goto out;
	}
	if (!server) {
		error_set(err, "-qmp: tide listens for QMP clients and never connects out: "
			       "add server=on");
		goto out;
	}
	if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		error_set(err, "-qmp: socket path '%s' is longer than a unix socket allows (%zu)",
			  path, sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
		goto out;
	}
	cfg->path = strdup(path);
	if (!cfg->path) {
		error_set(err, "-qmp: out of memory");
		goto out;
	}
	ret = 0;
out:
	opts_free(&opts);
	return ret;
}
