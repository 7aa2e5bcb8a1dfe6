/*
 * Least privilege for the whole process: -run-with user=/chroot= (QEMU's spelling; -runas
 * and -chroot too), then no capability and no_new_privs. libcap-ng rather than raw
 * capset(2): it knows every capability and the bounding set.
 */
#include "vmm/sandbox.h"

#include <cap-ng.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/opts.h"
#include "util/util.h"

void sandbox_config_defaults(struct sandbox_config *sc)
{
	memset(sc, 0, sizeof(*sc));
	sc->seccomp = true;
}

void sandbox_config_free(struct sandbox_config *sc)
{
	free(sc->user_text);
	free(sc->groups);
	free(sc->chroot_dir);
	sandbox_config_defaults(sc);
}

/* A decimal id without sign or junk, below the kernel's "no id" value. */
static bool parse_id(const char *text, unsigned long *id)
{
	char *end;

	if (*text < '0' || *text > '9')
		return false;
	errno = 0;
	*id = strtoul(text, &end, 10);
	return !errno && !*end && *id < (unsigned long)(uid_t)-1;
}

static int resolve_group(const char *text, gid_t *gid, struct error *err)
{
	unsigned long id;
	struct group *gr;

	if (parse_id(text, &id)) {
		*gid = (gid_t)id;
		return 0;
	}
	errno = 0;
	gr = getgrnam(text);
	if (!gr)
		return error_set(err, "unknown group '%s'", text);
	*gid = gr->gr_gid;
	return 0;
}

/* The user's supplementary groups (as login would give them), from the group database. */
static int resolve_groups(struct sandbox_config *sc, const char *name, struct error *err)
{
	int n = 16;

	for (int tries = 0; tries < 8; tries++) {
		gid_t *list = malloc((size_t)n * sizeof(*list));
		int got = n;

		if (!list)
			return error_set(err, "out of memory");
		if (getgrouplist(name, sc->gid, list, &got) >= 0) {
			free(sc->groups);
			sc->groups = list;
			sc->nr_groups = (size_t)got;
			return 0;
		}
		free(list);
		if (got <= n || got > 65536)
			break;
		n = got;
	}
	return error_set(err, "cannot list the groups of user '%s'", name);
}

int sandbox_parse_user(struct sandbox_config *sc, const char *text, struct error *err)
{
	const char *colon = strchr(text, ':');
	char *user = strndup(text, colon ? (size_t)(colon - text) : strlen(text));
	struct passwd *pw = NULL;
	unsigned long id;
	int ret = -1;

	if (!user)
		return error_set(err, "out of memory");
	if (!*user || (colon && !colon[1])) {
		error_set(err, "user must be USER or USER:GROUP, not '%s'", text);
		goto out;
	}
	if (!parse_id(user, &id)) {
		pw = getpwnam(user);
		if (!pw) {
			error_set(err, "unknown user '%s'", user);
			goto out;
		}
		id = pw->pw_uid;
	}
	sc->uid = (uid_t)id;
	free(sc->groups);
	sc->groups = NULL;
	sc->nr_groups = 0;
	if (colon) {
		if (resolve_group(colon + 1, &sc->gid, err))
			goto out;
	} else if (pw) {
		sc->gid = pw->pw_gid;
	} else {
		pw = getpwuid(sc->uid);
		if (!pw) {
			error_set(err, "user %s has no entry in the user database: give USER:GROUP",
				  user);
			goto out;
		}
		sc->gid = pw->pw_gid;
	}
	/* A named user keeps the groups it belongs to; a bare number, none but its own. */
	if (pw && resolve_groups(sc, pw->pw_name, err))
		goto out;
	free(sc->user_text);
	sc->user_text = strdup(text);
	if (!sc->user_text) {
		error_set(err, "out of memory");
		goto out;
	}
	sc->switch_user = true;
	ret = 0;
out:
	free(user);
	return ret;
}

int sandbox_parse_chroot(struct sandbox_config *sc, const char *dir, struct error *err)
{
	struct stat st;

	if (!*dir)
		return error_set(err, "chroot needs a directory");
	if (stat(dir, &st) < 0)
		return error_set(err, "chroot directory '%s': %s", dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return error_set(err, "chroot directory '%s' is not a directory", dir);
	free(sc->chroot_dir);
	sc->chroot_dir = strdup(dir);
	if (!sc->chroot_dir)
		return error_set(err, "out of memory");
	return 0;
}

/*
 * QEMU's sub-options each allow a group of calls when set to "allow"; tide's filters are
 * fixed and never allow them, so "deny" (what libvirt passes) is accepted and "allow" is not.
 */
int sandbox_parse_option(struct sandbox_config *sc, const char *arg, struct error *err)
{
	static const char *const always_denied[] = { "obsolete", "elevateprivileges", "spawn",
						     "resourcecontrol" };
	struct opts opts;
	const char *enable;
	bool on;
	int ret = -1;

	if (opts_parse(&opts, "-sandbox", arg, "enable", err))
		return -1;
	enable = opts_take(&opts, "enable");
	if (!enable || (strcmp(enable, "on") && strcmp(enable, "off"))) {
		error_set(err, "-sandbox: must be on or off, not '%s'", enable ? enable : "");
		goto out;
	}
	on = !strcmp(enable, "on");
	for (size_t i = 0; i < ARRAY_SIZE(always_denied); i++) {
		const char *value = opts_take(&opts, always_denied[i]);

		if (value && strcmp(value, "deny")) {
			error_set(err, "-sandbox: %s=%s: tide's filters are fixed and always deny "
				       "these calls (docs/security.md)",
				  always_denied[i], value);
			goto out;
		}
	}
	if (opts_finish(&opts, "-sandbox", err))
		goto out;
	sc->seccomp = on;
	ret = 0;
out:
	opts_free(&opts);
	return ret;
}

/* The bounding set limits what exec could ever grant; it goes only with CAP_SETPCAP. */
static void drop_bounding_set(void)
{
	if (capng_get_caps_process())
		return;
	capng_clear(CAPNG_SELECT_BOUNDS);
	(void)capng_apply(CAPNG_SELECT_BOUNDS); /* an unprivileged tide has none to lose */
}

static int switch_user(const struct sandbox_config *sc, struct error *err)
{
	if (setgroups(sc->nr_groups, sc->groups) && (errno != EPERM || sc->nr_groups))
		return error_set(err, "user=%s: setgroups: %s", sc->user_text, strerror(errno));
	if (setresgid(sc->gid, sc->gid, sc->gid))
		return error_set(err, "user=%s: setresgid(%u): %s", sc->user_text,
				 (unsigned)sc->gid, strerror(errno));
	if (setresuid(sc->uid, sc->uid, sc->uid))
		return error_set(err, "user=%s: setresuid(%u): %s", sc->user_text,
				 (unsigned)sc->uid, strerror(errno));
	/* As QEMU does: make sure there is no way back. */
	if (sc->uid != 0 && setuid(0) == 0)
		return error_set(err, "user=%s: could become root again", sc->user_text);
	return 0;
}

int sandbox_confine_process(const struct sandbox_config *sc, struct error *err)
{
	if (sc->chroot_dir && (chroot(sc->chroot_dir) || chdir("/")))
		return error_set(err, "chroot=%s: %s", sc->chroot_dir, strerror(errno));
	drop_bounding_set();
	if (sc->switch_user && switch_user(sc, err))
		return -1;
	if (capng_get_caps_process())
		return error_set(err, "cannot read tide's capabilities (libcap-ng)");
	capng_clear(CAPNG_SELECT_BOTH);
	if (capng_apply(CAPNG_SELECT_BOTH))
		return error_set(err, "cannot drop tide's capabilities (libcap-ng)");
	/* Ambient capabilities need their permitted twin: gone with it, but say so. */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) && errno != EINVAL)
		return error_set(err, "PR_CAP_AMBIENT_CLEAR_ALL: %s", strerror(errno));
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return error_set(err, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
	return 0;
}
