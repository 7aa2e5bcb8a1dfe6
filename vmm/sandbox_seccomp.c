/*
 * seccomp, one filter per kind of thread (the lists: vmm/sandbox_filters.c). libseccomp
 * rather than hand-written BPF: it resolves names per architecture, orders the rules and
 * checks arguments (ioctl requests, clone flags) without an off-by-one in a jump offset.
 *
 * A forbidden call traps (SIGSYS): the handler writes one line naming the call and the
 * thread, and tide exits with status 159 (128 + SIGSYS, what a kill by SIGSYS would give),
 * never silently.
 */
#include <errno.h>
#include <seccomp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "util/log.h"
#include "vmm/sandbox.h"
#include "vmm/sandbox_filters.h"

#define EXIT_STATUS_SIGSYS (128 + SIGSYS)
/* Names of the calls by number, made before any filter: the handler may not allocate. */
#define MAX_SYSCALL_NR 512
#define SYSCALL_NAME_LEN 24

static char syscall_names[MAX_SYSCALL_NR][SYSCALL_NAME_LEN];
static atomic_bool filters_enabled;
static __thread enum sandbox_thread thread_kind = SANDBOX_MAIN;

static const char *const thread_names[SANDBOX_NR_THREADS] = {
	[SANDBOX_MAIN] = "main",
	[SANDBOX_VCPU] = "vCPU",
	[SANDBOX_IO] = "I/O",
	[SANDBOX_CONSOLE] = "console input",
	[SANDBOX_PREALLOC] = "prealloc worker",
	[SANDBOX_DEVICE] = "device worker",
};

/* What ps and top show for each thread (15 characters at most). */
static const char *const thread_comms[SANDBOX_NR_THREADS] = {
	[SANDBOX_MAIN] = NULL, /* keeps "tide" */
	[SANDBOX_VCPU] = "tide-vcpu",
	[SANDBOX_IO] = "tide-io",
	[SANDBOX_CONSOLE] = "tide-console",
	[SANDBOX_PREALLOC] = "tide-prealloc",
	[SANDBOX_DEVICE] = "tide-device",
};

const char *sandbox_thread_name(enum sandbox_thread kind)
{
	return kind < SANDBOX_NR_THREADS ? thread_names[kind] : "unknown";
}

/* Async-signal-safe formatting: the handler may run inside malloc or stdio. */
static size_t append(char *buf, size_t len, size_t cap, const char *s)
{
	while (*s && len + 1 < cap)
		buf[len++] = *s++;
	buf[len] = '\0';
	return len;
}

static size_t append_uint(char *buf, size_t len, size_t cap, unsigned long v, unsigned base)
{
	char digits[24];
	size_t n = 0;

	do {
		digits[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v && n < sizeof(digits));
	while (n && len + 1 < cap)
		buf[len++] = digits[--n];
	buf[len] = '\0';
	return len;
}

static void on_sigsys(int sig, siginfo_t *info, void *ucontext)
{
	char line[200];
	size_t len = 0;
	int nr = info->si_syscall;
	int argument = sandbox_filter_checked_argument(nr);

	(void)sig;
	len = append(line, len, sizeof(line), "tide: seccomp: the ");
	len = append(line, len, sizeof(line), sandbox_thread_name(thread_kind));
	len = append(line, len, sizeof(line), " thread made system call ");
	if (nr >= 0 && nr < MAX_SYSCALL_NR && syscall_names[nr][0])
		len = append(line, len, sizeof(line), syscall_names[nr]);
	else
		len = append(line, len, sizeof(line), "?");
	len = append(line, len, sizeof(line), " (");
	len = append_uint(line, len, sizeof(line), (unsigned long)(unsigned)nr, 10);
	len = append(line, len, sizeof(line), ")");
	if (argument >= 0) {
		/* The call is allowed with other arguments: name the one the rules look at. */
		len = append(line, len, sizeof(line), " with argument 0x");
		len = append_uint(line, len, sizeof(line),
				  sandbox_trapped_argument(ucontext, (unsigned)argument),
				  16);
	}
	len = append(line, len, sizeof(line), ", which its filter forbids; tide stops\n");
	(void)!write(STDERR_FILENO, line, len);
	_exit(EXIT_STATUS_SIGSYS);
}

int sandbox_seccomp_init(bool enabled, struct error *err)
{
	struct sigaction sa = { .sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO };
	uint32_t arch = seccomp_arch_native();

	atomic_store(&filters_enabled, enabled);
	if (!enabled)
		return 0;
	for (int nr = 0; nr < MAX_SYSCALL_NR; nr++) {
		char *name = seccomp_syscall_resolve_num_arch(arch, nr);

		if (name)
			snprintf(syscall_names[nr], SYSCALL_NAME_LEN, "%s", name);
		free(name);
	}
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL))
		return error_set(err, "cannot handle SIGSYS: %s", strerror(errno));
	return 0;
}

int sandbox_enter_thread(enum sandbox_thread kind, struct error *err)
{
	scmp_filter_ctx ctx;
	int ret;

	thread_kind = kind;
	if (thread_comms[kind])
		(void)prctl(PR_SET_NAME, thread_comms[kind], 0, 0, 0); /* cosmetic */
	if (!atomic_load(&filters_enabled))
		return 0;
#if TIDE_SANITIZER_BUILD
	/* LeakSanitizer's check at exit runs on main and stops the world from a helper process
	 * that would inherit main's filter (docs/security.md); release builds filter main. */
	if (kind == SANDBOX_MAIN)
		return 0;
#endif
	ctx = seccomp_init(SCMP_ACT_TRAP);
	if (!ctx)
		return error_set(err, "seccomp_init failed");
	ret = sandbox_filter_add_rules(ctx, kind);
	if (ret == 0)
		ret = seccomp_load(ctx);
	seccomp_release(ctx);
	if (ret)
		return error_set(err, "cannot install the %s thread's seccomp filter: %s",
				 sandbox_thread_name(kind), strerror(-ret));
	return 0;
}

void sandbox_enter_thread_or_die(enum sandbox_thread kind)
{
	struct error err;

	if (sandbox_enter_thread(kind, &err)) {
		log_error("%s", err.msg);
		_exit(1);
	}
}
