/*
 * The seccomp allow-lists, as groups of calls that serve one purpose; each kind of thread
 * takes the groups it needs. docs/security.md gives every call's reason, and a unit test
 * checks that it names every call listed here.
 *
 * Threads inherit their creator's filter and add their own, and the kernel applies both:
 * main creates the vCPU and prealloc threads (on every reset), so main's list holds what
 * those threads need as well.
 */
#include "vmm/sandbox_filters.h"

#include <errno.h>
#include <linux/kvm.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <termios.h>
#include <ucontext.h>
#include <unistd.h>

#include "util/kvm_compat.h"
#include "util/util.h"

struct allowed_call {
	int nr;
	const char *name;
	/* With values: only these values of argument arg (after & mask) are allowed. */
	unsigned arg;
	const unsigned long *values;
	const char *value_names; /* "NAME, NAME, ...", one per value */
	size_t nr_values;
	unsigned long mask;
	int fail_with; /* non-zero: the call fails with this errno instead (never runs) */
	bool own_process; /* only with argument 0 = tide's own process id (signals) */
};

#define CALL(call) { .nr = SCMP_SYS(call), .name = #call }
#define CALL_IF(call, argument, list, names, bits)                                                \
	{                                                                                          \
		.nr = SCMP_SYS(call), .name = #call, .arg = (argument), .values = (list),           \
		.value_names = (names), .nr_values = ARRAY_SIZE(list), .mask = (bits)                    \
	}
#define OWN_PROCESS(call) { .nr = SCMP_SYS(call), .name = #call, .arg = 0, .own_process = true }
#define IOCTLS(list, names) CALL_IF(ioctl, 1, list, names, 0xffffffffUL)
/* Calls that newer architectures (arm64) only have in their *at / p* form: glibc's poll(),
 * unlink() and getpgrp() make those there. */
#ifdef __NR_poll
#define CALL_POLL CALL(poll)
#define CALL_UNLINK CALL(unlink)
#define CALL_GETPGRP CALL(getpgrp)
#else
#define CALL_POLL CALL(ppoll)
#define CALL_UNLINK CALL(unlinkat)
#define CALL_GETPGRP CALL(getpgid)
#endif
/* Request numbers and their names: the names are the list's own text, split at commas. */
#define REQUESTS(group, ...)                                                                       \
	static const unsigned long group##_requests[] = { __VA_ARGS__ };                          \
	static const char group##_names[] = #__VA_ARGS__;

struct call_group {
	const struct allowed_call *calls;
	size_t nr_calls;
};

#define GROUP(list) { list, ARRAY_SIZE(list) }
#define MAX_GROUPS 8

static const unsigned long thread_prctls[] = { PR_SET_NAME, PR_SET_NO_NEW_PRIVS };
static const char thread_prctl_names[] = "PR_SET_NAME, PR_SET_NO_NEW_PRIVS";
static const unsigned long seccomp_ops[] = { SECCOMP_SET_MODE_FILTER };
static const char seccomp_op_names[] = "SECCOMP_SET_MODE_FILTER";

/* Only threads: clone without CLONE_THREAD (a new process) traps. */
static const unsigned long thread_flag[] = { CLONE_THREAD };
static const char thread_flag_names[] = "CLONE_THREAD";

/*
 * Every thread: memory (malloc), locks, signal masks, logging to stderr, clocks, exit.
 * After set-up tide opens nothing: openat fails with EACCES rather than trapping, because
 * glibc's malloc asks for /proc/sys/vm/overcommit_memory once on its own and copes.
 */
static const struct allowed_call common_calls[] = {
	CALL(brk), CALL(mmap), CALL(munmap), CALL(mprotect), CALL(madvise), CALL(mremap),
	CALL(futex), CALL(rt_sigprocmask), CALL(rt_sigreturn), CALL(write), CALL(close),
	CALL(clock_gettime), CALL(gettimeofday), CALL(clock_nanosleep), CALL(getpid),
	CALL(gettid), OWN_PROCESS(tgkill), CALL(sched_yield), CALL(restart_syscall), CALL(getrandom),
	CALL(sysinfo), CALL(exit), CALL(exit_group),
#if TIDE_SANITIZER_BUILD
	CALL(openat),
#else
	{ .nr = SCMP_SYS(openat), .name = "openat", .fail_with = EACCES },
#endif
};

/* Threads that start threads (pthread_create). clone3 passes its flags in memory, out of a
 * filter's reach: it fails with ENOSYS and glibc falls back to clone, whose flags are checked.
 * The new thread runs glibc's start (set_robust_list, rseq) under its creator's filter. */
static const struct allowed_call thread_start_calls[] = {
	CALL_IF(clone, 0, thread_flag, thread_flag_names, CLONE_THREAD),
	{ .nr = SCMP_SYS(clone3), .name = "clone3", .fail_with = ENOSYS },
	CALL(set_robust_list), CALL(rseq),
	/* The new thread names itself and adds its own filter, which only narrows this one. */
	CALL_IF(prctl, 0, thread_prctls, thread_prctl_names, ~0UL),
	CALL_IF(seccomp, 0, seccomp_ops, seccomp_op_names, ~0UL),
};

/* A vCPU running the guest: KVM_RUN and the registers it reads or sets on the way. */
#if defined(__x86_64__)
REQUESTS(vcpu, KVM_RUN, KVM_GET_REGS, KVM_SET_REGS, KVM_GET_SREGS, KVM_SET_SREGS,
	 KVM_KVMCLOCK_CTRL)
#else
REQUESTS(vcpu, KVM_RUN, KVM_GET_ONE_REG, KVM_SET_ONE_REG)
#endif
static const struct allowed_call vcpu_calls[] = {
	IOCTLS(vcpu_requests, vcpu_names),
};

/*
 * Device work at run time, on whichever thread a guest's access or a client's command lands:
 * interrupts, ioeventfds and MSI routes that move with the guest's programming, memslots of
 * plugged memory, the clock across stop and cont; giving unplugged memory back (fallocate)
 * with the backend's NUMA policy (mbind); eventfds (read).
 */
REQUESTS(device, KVM_IRQ_LINE, KVM_IRQFD, KVM_IOEVENTFD, KVM_SET_GSI_ROUTING,
	 KVM_SET_USER_MEMORY_REGION, KVM_SET_USER_MEMORY_REGION2, KVM_GET_CLOCK, KVM_SET_CLOCK,
	 KVM_CHECK_EXTENSION)
static const struct allowed_call device_calls[] = {
	IOCTLS(device_requests, device_names),
	CALL(read), CALL(fallocate), CALL(mbind),
};

/*
 * An event loop's thread (the I/O thread, the device worker): its io_uring (created before
 * the filters), and the timer of throttled MEMORY_DEVICE_SIZE_CHANGE events, which either
 * may arm (the device worker for the sizes its requests reach).
 */
static const struct allowed_call loop_calls[] = {
	CALL(io_uring_enter), CALL(timerfd_settime),
};

/* The I/O thread's own: the QMP socket. */
static const struct allowed_call io_calls[] = {
	CALL(accept4), CALL(recvfrom), CALL(sendto), CALL(sendmsg),
};

/* The console input thread: waits on stdin and its stop eventfd, reads, raises COM1's IRQ. */
REQUESTS(interrupt, KVM_IRQ_LINE)
static const struct allowed_call console_calls[] = {
	CALL_POLL, CALL(read), IOCTLS(interrupt_requests, interrupt_names),
};

/*
 * main: builds a machine (at start and on every reset) from the open /dev/kvm, waits for its
 * stop (signalfd, poll), tears it down; at exit restores the terminal, says goodbye to QMP
 * clients and removes the socket.
 */
#if defined(__x86_64__)
REQUESTS(build, KVM_CREATE_VM, KVM_CREATE_VCPU, KVM_GET_VCPU_MMAP_SIZE, KVM_GET_SUPPORTED_CPUID,
	 KVM_SET_CPUID2, KVM_CREATE_IRQCHIP, KVM_CREATE_PIT2, KVM_SET_TSS_ADDR,
	 KVM_SET_IDENTITY_MAP_ADDR, KVM_ENABLE_CAP, KVM_CREATE_GUEST_MEMFD, KVM_GET_LAPIC)
REQUESTS(build_more, KVM_SET_LAPIC)
#else /* arm64: the GIC and its ITS are KVM devices; vCPUs start from KVM_ARM_VCPU_INIT */
REQUESTS(build, KVM_CREATE_VM, KVM_CREATE_VCPU, KVM_GET_VCPU_MMAP_SIZE, KVM_ENABLE_CAP,
	 KVM_CREATE_GUEST_MEMFD, KVM_ARM_PREFERRED_TARGET, KVM_ARM_VCPU_INIT, KVM_CREATE_DEVICE)
REQUESTS(build_more, KVM_SET_DEVICE_ATTR)
#endif
REQUESTS(terminal, TCGETS, TCSETS, TCSETSW, TCSETSF, TIOCGPGRP)
static const struct allowed_call main_calls[] = {
	IOCTLS(build_requests, build_names), IOCTLS(build_more_requests, build_more_names),
	IOCTLS(terminal_requests, terminal_names),
	CALL(memfd_create), CALL(ftruncate), CALL(fcntl), CALL(eventfd2), CALL(signalfd4),
	CALL_POLL, CALL(rt_sigpending), CALL_GETPGRP, CALL_UNLINK, CALL(io_uring_enter),
	CALL(sendto), CALL(sendmsg), CALL(timerfd_settime),
};

/* A prealloc worker faults its share of a backend in (MADV_POPULATE_WRITE, in common). */

#if TIDE_SANITIZER_BUILD
/* ASan and UBSan builds only (the tests'): reports read /proc/self/maps and may run a
 * symbolizer; the leak check at exit stops the world from a ptrace()ing helper process. */
static const struct allowed_call sanitizer_calls[] = {
#ifdef __NR_open
	CALL(open),
#endif
#ifdef __NR_readlink
	CALL(readlink),
#endif
	CALL(readlinkat), CALL(newfstatat), CALL(fstat), CALL(lseek),
	CALL(getdents64), CALL(sigaltstack), CALL(prctl), CALL(ptrace), CALL(wait4),
#ifdef __NR_dup2
	CALL(dup2),
#else
	CALL(dup3),
#endif
	CALL(getppid), CALL(sched_getaffinity), CALL(rt_sigaction), CALL(pipe2),
	CALL(execve), CALL(clone), CALL(getrlimit), CALL(prlimit64), CALL(uname),
	CALL(process_vm_readv), CALL(kill),
};
#define SANITIZER_GROUP , GROUP(sanitizer_calls)
#else
#define SANITIZER_GROUP
#endif


static const struct call_group thread_groups[SANDBOX_NR_THREADS][MAX_GROUPS] = {
	[SANDBOX_MAIN] = { GROUP(common_calls), GROUP(thread_start_calls), GROUP(main_calls),
			   GROUP(device_calls), GROUP(vcpu_calls) SANITIZER_GROUP },
	[SANDBOX_VCPU] = { GROUP(common_calls), GROUP(vcpu_calls),
			   GROUP(device_calls) SANITIZER_GROUP },
	[SANDBOX_IO] = { GROUP(common_calls), GROUP(thread_start_calls), GROUP(loop_calls),
			 GROUP(io_calls), GROUP(device_calls) SANITIZER_GROUP },
	[SANDBOX_CONSOLE] = { GROUP(common_calls), GROUP(console_calls) SANITIZER_GROUP },
	[SANDBOX_PREALLOC] = { GROUP(common_calls) SANITIZER_GROUP },
	[SANDBOX_DEVICE] = { GROUP(common_calls), GROUP(loop_calls),
			     GROUP(device_calls) SANITIZER_GROUP },
};

static int add_call(scmp_filter_ctx ctx, const struct allowed_call *c)
{
	int ret = 0;

	if (c->fail_with)
		return seccomp_rule_add(ctx, SCMP_ACT_ERRNO((unsigned)c->fail_with), c->nr, 0);
	if (c->own_process)
		return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, c->nr, 1,
					SCMP_CMP(0, SCMP_CMP_EQ, (scmp_datum_t)getpid(), 0));
	if (!c->values)
		return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, c->nr, 0);
	for (size_t i = 0; i < c->nr_values && !ret; i++)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, c->nr, 1,
				       SCMP_CMP(c->arg, SCMP_CMP_MASKED_EQ, c->mask, c->values[i]));
	return ret;
}

int sandbox_filter_add_rules(scmp_filter_ctx ctx, enum sandbox_thread kind)
{
	for (size_t g = 0; g < MAX_GROUPS && thread_groups[kind][g].calls; g++) {
		const struct call_group *group = &thread_groups[kind][g];

		for (size_t i = 0; i < group->nr_calls; i++) {
			/* A call in two groups: libseccomp merges the same rule, or says EEXIST. */
			int ret = add_call(ctx, &group->calls[i]);

			if (ret && ret != -EEXIST)
				return ret;
		}
	}
	return 0;
}

int sandbox_filter_checked_argument(int nr)
{
	for (size_t k = 0; k < SANDBOX_NR_THREADS; k++) {
		for (size_t g = 0; g < MAX_GROUPS && thread_groups[k][g].calls; g++) {
			for (size_t i = 0; i < thread_groups[k][g].nr_calls; i++) {
				const struct allowed_call *c = &thread_groups[k][g].calls[i];

				if (c->nr == nr && (c->values || c->own_process))
					return (int)c->arg;
			}
		}
	}
	return -1;
}

unsigned long sandbox_trapped_argument(void *ucontext, unsigned index)
{
	const ucontext_t *uc = ucontext;

#if defined(__x86_64__)
	static const int regs[] = { REG_RDI, REG_RSI, REG_RDX, REG_R10, REG_R8, REG_R9 };

	return index < ARRAY_SIZE(regs) ? (unsigned long)uc->uc_mcontext.gregs[regs[index]] : 0;
#elif defined(__aarch64__)
	return index < 6 ? (unsigned long)uc->uc_mcontext.regs[index] : 0;
#else
	(void)uc;
	(void)index;
	return 0;
#endif
}

void sandbox_filter_foreach(enum sandbox_thread kind,
			    void (*fn)(const char *call, const char *argument, void *opaque),
			    void *opaque)
{
	for (size_t g = 0; g < MAX_GROUPS && thread_groups[kind][g].calls; g++) {
		const struct call_group *group = &thread_groups[kind][g];

		for (size_t i = 0; i < group->nr_calls; i++) {
			const struct allowed_call *c = &group->calls[i];

			const char *names = c->value_names;

			if (!c->values)
				fn(c->name, NULL, opaque);
			for (size_t v = 0; c->values && v < c->nr_values; v++) {
				char name[64];
				size_t len = strcspn(names, ",");

				snprintf(name, sizeof(name), "%.*s", (int)len, names);
				fn(c->name, name, opaque);
				names += len;
				names += strspn(names, ", \t\n");
			}
		}
	}
}
