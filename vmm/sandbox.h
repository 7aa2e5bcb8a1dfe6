/*
 * Least privilege. Once everything that needs the host's filesystem or a capability is
 * open (/dev/kvm, files, the QMP socket), and before any other thread exists, tide
 * confines itself for good: an optional chroot and user switch (-run-with), no capability
 * left in any set, PR_SET_NO_NEW_PRIVS. Threads created later inherit all of it. Each
 * thread then narrows the system calls it may make with its own seccomp filter
 * (vmm/sandbox_filters.c), unless -sandbox off.
 */
#ifndef TIDE_SANDBOX_H
#define TIDE_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "util/error.h"

struct sandbox_config {
	bool switch_user; /* -run-with user= / -runas */
	char *user_text;  /* as given, for messages (owned) */
	uid_t uid;
	gid_t gid;
	gid_t *groups; /* supplementary groups (owned) */
	size_t nr_groups;
	char *chroot_dir; /* -run-with chroot= / -chroot (owned), NULL: none */
	bool seccomp;     /* -sandbox on (tide's default) */
};

void sandbox_config_defaults(struct sandbox_config *sc);
void sandbox_config_free(struct sandbox_config *sc);
/* USER[:GROUP], each a name or a number; resolved now, while /etc/passwd is in view. */
int sandbox_parse_user(struct sandbox_config *sc, const char *text, struct error *err);
int sandbox_parse_chroot(struct sandbox_config *sc, const char *dir, struct error *err);
/* -sandbox on|off[,obsolete=deny][,elevateprivileges=deny][,spawn=deny][,resourcecontrol=deny] */
int sandbox_parse_option(struct sandbox_config *sc, const char *arg, struct error *err);

/*
 * Call with no other thread running (a user switch must reach every thread). Ends with
 * empty effective, permitted, inheritable, ambient and (where it may still be changed:
 * CAP_SETPCAP) bounding sets, and PR_SET_NO_NEW_PRIVS.
 */
int sandbox_confine_process(const struct sandbox_config *sc, struct error *err);

/* The kinds of thread, each with its own seccomp filter (docs/security.md). */
enum sandbox_thread {
	SANDBOX_MAIN,
	SANDBOX_VCPU,
	SANDBOX_IO,
	SANDBOX_CONSOLE,
	SANDBOX_PREALLOC,
	SANDBOX_DEVICE,
	SANDBOX_NR_THREADS
};

/* Installs the SIGSYS handler (before any thread starts) and enables the filters. */
int sandbox_seccomp_init(bool enabled, struct error *err);
/* The calling thread takes its kind's filter (nothing when seccomp is off). */
int sandbox_enter_thread(enum sandbox_thread kind, struct error *err);
/* sandbox_enter_thread(), and on failure a one-line message and _exit(1), for new threads. */
void sandbox_enter_thread_or_die(enum sandbox_thread kind);
const char *sandbox_thread_name(enum sandbox_thread kind);

#endif
