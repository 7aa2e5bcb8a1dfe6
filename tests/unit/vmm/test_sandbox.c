/*
 * The sandbox: option parsing, and each thread's seccomp filter installed in a child
 * process, where a forbidden call must end the child with the one-line message.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmm/sandbox.h"
#include "vmm/sandbox_filters.h"

#define EXIT_SIGSYS (128 + SIGSYS)

struct child_result {
	int status;
	char output[512];
};

/* Runs fn in a child whose stderr is captured; returns its exit status and what it wrote. */
static struct child_result run_child(void (*fn)(void))
{
	struct child_result r = { .status = -1 };
	int pipe_fds[2];
	size_t len = 0;
	ssize_t n;
	pid_t pid;

	ck_assert_int_eq(pipe(pipe_fds), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(pipe_fds[1], STDERR_FILENO);
		close(pipe_fds[0]);
		fn();
		_exit(0);
	}
	close(pipe_fds[1]);
	while ((n = read(pipe_fds[0], r.output + len, sizeof(r.output) - 1 - len)) > 0)
		len += (size_t)n;
	r.output[len] = '\0';
	close(pipe_fds[0]);
	ck_assert_int_eq(waitpid(pid, &r.status, 0), pid);
	return r;
}

static void enter(enum sandbox_thread kind)
{
	struct error err;

	if (sandbox_seccomp_init(true, &err) || sandbox_enter_thread(kind, &err)) {
		fprintf(stderr, "setup: %s\n", err.msg);
		_exit(2);
	}
}

static void console_thread_opens_a_socket(void)
{
	enter(SANDBOX_CONSOLE);
	(void)socket(AF_INET, SOCK_STREAM, 0);
	_exit(0); /* not reached: the filter ends the process */
}

START_TEST(forbidden_call_ends_tide_with_one_line)
{
	struct child_result r = run_child(console_thread_opens_a_socket);

	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == EXIT_SIGSYS,
		      "status %#x, output: %s", r.status, r.output);
	char expected[200];

	snprintf(expected, sizeof(expected),
		 "tide: seccomp: the console input thread made system call socket (%d), which its "
		 "filter forbids; tide stops\n",
		 (int)SYS_socket);
	ck_assert_str_eq(r.output, expected);
}
END_TEST

static void vcpu_thread_creates_a_vm(void)
{
	enter(SANDBOX_VCPU);
	(void)ioctl(-1, KVM_CREATE_VM, 0);
	_exit(0);
}

START_TEST(forbidden_ioctl_request_is_named)
{
	struct child_result r = run_child(vcpu_thread_creates_a_vm);
	char expected[200];

	snprintf(expected, sizeof(expected),
		 "tide: seccomp: the vCPU thread made system call ioctl (%d) with argument %#lx, "
		 "which its filter forbids; tide stops\n",
		 (int)SYS_ioctl, (unsigned long)KVM_CREATE_VM);
	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == EXIT_SIGSYS,
		      "status %#x, output: %s", r.status, r.output);
	ck_assert_str_eq(r.output, expected);
}
END_TEST

/* Allowed: the ioctl goes to the kernel (and fails on a bad fd), and the child goes on. */
static void vcpu_thread_runs(void)
{
	enter(SANDBOX_VCPU);
	if (ioctl(-1, KVM_RUN, 0) == -1 && errno == EBADF)
		_exit(7);
	_exit(3);
}

START_TEST(allowed_ioctl_request_reaches_the_kernel)
{
	struct child_result r = run_child(vcpu_thread_runs);

	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 7, "status %#x: %s",
		      r.status, r.output);
}
END_TEST

#if !TIDE_SANITIZER_BUILD /* the sanitizers' leak check starts a process */
static void *nothing(void *arg)
{
	return arg;
}

/* clone3 fails with ENOSYS, glibc falls back to clone with CLONE_THREAD: threads start. */
static void io_thread_starts_a_thread_but_not_a_process(void)
{
	pthread_t t;

	/* As in tide, a thread starts before any filter: glibc installs its thread signal
	 * handlers (rt_sigaction) on the first pthread_create only. */
	if (pthread_create(&t, NULL, nothing, NULL) || pthread_join(t, NULL))
		_exit(4);
	enter(SANDBOX_IO);
	if (pthread_create(&t, NULL, nothing, NULL) || pthread_join(t, NULL))
		_exit(4);
	(void)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0); /* fork: traps */
	_exit(5);
}

START_TEST(threads_start_but_processes_do_not)
{
	struct child_result r = run_child(io_thread_starts_a_thread_but_not_a_process);

	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == EXIT_SIGSYS,
		      "status %#x, output: %s", r.status, r.output);
	char expected[100];

	snprintf(expected, sizeof(expected),
		 "the I/O thread made system call clone (%d) with argument 0x11,", (int)SYS_clone);
	ck_assert_msg(strstr(r.output, expected), "%s", r.output);
}
END_TEST

static void prealloc_worker_execs(void)
{
	char *argv[] = { "/bin/true", NULL };

	enter(SANDBOX_PREALLOC);
	execv(argv[0], argv);
	_exit(6);
}

START_TEST(no_thread_may_exec)
{
	struct child_result r = run_child(prealloc_worker_execs);

	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == EXIT_SIGSYS,
		      "status %#x, output: %s", r.status, r.output);
	ck_assert_ptr_nonnull(strstr(r.output, "prealloc worker thread made system call execve"));
}
END_TEST
#endif

/* What no thread may do, whatever its kind: each probe runs in its own child. */
static enum sandbox_thread probed_kind;

static void probe_socket(void)
{
	enter(probed_kind);
	(void)socket(AF_UNIX, SOCK_STREAM, 0);
	_exit(0);
}

static void probe_signal_other_process(void)
{
	pid_t parent = getppid();

	enter(probed_kind);
	(void)syscall(SYS_tgkill, parent, parent, 0);
	_exit(0);
}

#if !TIDE_SANITIZER_BUILD
static void probe_open(void)
{
	enter(probed_kind);
	/* Fails without trapping: glibc's malloc opens a /proc file on its own and copes. */
	_exit(open("/etc/passwd", O_RDONLY) == -1 && errno == EACCES ? 10 : 11);
}
#endif

START_TEST(no_thread_opens_files_makes_sockets_or_signals_others)
{
	/* Sanitizer builds leave main unfiltered for the leak check (docs/security.md). */
	for (int kind = TIDE_SANITIZER_BUILD ? 1 : 0; kind < SANDBOX_NR_THREADS; kind++) {
		struct child_result r;

		probed_kind = kind;
		r = run_child(probe_socket);
		ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == EXIT_SIGSYS,
			      "%s: socket: %#x %s", sandbox_thread_name(kind), r.status, r.output);
		ck_assert_ptr_nonnull(strstr(r.output, "made system call socket"));
		r = run_child(probe_signal_other_process);
		ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == EXIT_SIGSYS,
			      "%s: tgkill: %#x %s", sandbox_thread_name(kind), r.status, r.output);
		ck_assert_msg(strstr(r.output, "made system call tgkill"), "%s", r.output);
#if !TIDE_SANITIZER_BUILD /* sanitizer reports read /proc/self/maps */
		r = run_child(probe_open);
		ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 10,
			      "%s: open: %#x %s", sandbox_thread_name(kind), r.status, r.output);
#endif
	}
}
END_TEST

static void sandbox_off_allows_everything(void)
{
	struct error err;

	if (sandbox_seccomp_init(false, &err) || sandbox_enter_thread(SANDBOX_PREALLOC, &err))
		_exit(2);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	_exit(fd >= 0 ? 8 : 9);
}

START_TEST(sandbox_off_installs_no_filter)
{
	struct child_result r = run_child(sandbox_off_allows_everything);

	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 8, "status %#x: %s",
		      r.status, r.output);
}
END_TEST

/* docs/security.md gives the reason for every call a filter allows: it names each one. */
struct doc_check {
	const char *doc;
	char missing[1024];
};

static void check_documented(const char *call, const char *argument, void *opaque)
{
	struct doc_check *c = opaque;
	const char *name = argument ? argument : call;
	char quoted[80];

	snprintf(quoted, sizeof(quoted), "`%s`", name);
	if (!strstr(c->doc, quoted) && strlen(c->missing) + strlen(name) + 2 < sizeof(c->missing)) {
		strcat(c->missing, " ");
		strcat(c->missing, name);
	}
}

START_TEST(security_doc_names_every_allowed_call)
{
	static char doc[65536];
	FILE *f = fopen(TIDE_SOURCE_ROOT "/docs/security.md", "r");
	struct doc_check check = { .doc = doc };
	size_t n;

	ck_assert_ptr_nonnull(f);
	n = fread(doc, 1, sizeof(doc) - 1, f);
	doc[n] = '\0';
	fclose(f);
	for (int kind = 0; kind < SANDBOX_NR_THREADS; kind++)
		sandbox_filter_foreach(kind, check_documented, &check);
	ck_assert_msg(!check.missing[0], "docs/security.md does not name:%s", check.missing);
}
END_TEST

START_TEST(sandbox_option)
{
	struct sandbox_config sc;
	struct error err;

	sandbox_config_defaults(&sc);
	ck_assert(sc.seccomp);
	ck_assert_int_eq(sandbox_parse_option(&sc, "off", &err), 0);
	ck_assert(!sc.seccomp);
	/* What libvirt passes. */
	ck_assert_int_eq(sandbox_parse_option(&sc, "on,obsolete=deny,elevateprivileges=deny,"
						   "spawn=deny,resourcecontrol=deny",
					      &err),
			 0);
	ck_assert(sc.seccomp);
	ck_assert_int_eq(sandbox_parse_option(&sc, "on,spawn=allow", &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "spawn=allow"));
	ck_assert_int_eq(sandbox_parse_option(&sc, "maybe", &err), -1);
	ck_assert_str_eq(err.msg, "-sandbox: must be on or off, not 'maybe'");
	ck_assert_int_eq(sandbox_parse_option(&sc, "on,colour=blue", &err), -1);
	sandbox_config_free(&sc);
}
END_TEST

START_TEST(run_with_user)
{
	struct sandbox_config sc;
	struct error err;

	sandbox_config_defaults(&sc);
	ck_assert_int_eq(sandbox_parse_user(&sc, "root", &err), 0);
	ck_assert(sc.switch_user);
	ck_assert_uint_eq(sc.uid, 0);
	ck_assert_uint_eq(sc.gid, 0);
	ck_assert_int_eq(sandbox_parse_user(&sc, "12345:23456", &err), 0);
	ck_assert_uint_eq(sc.uid, 12345);
	ck_assert_uint_eq(sc.gid, 23456);
	ck_assert_uint_eq(sc.nr_groups, 0);
	ck_assert_int_eq(sandbox_parse_user(&sc, "no-such-user-here", &err), -1);
	ck_assert_str_eq(err.msg, "unknown user 'no-such-user-here'");
	ck_assert_int_eq(sandbox_parse_user(&sc, "root:no-such-group-here", &err), -1);
	ck_assert_str_eq(err.msg, "unknown group 'no-such-group-here'");
	ck_assert_int_eq(sandbox_parse_user(&sc, "root:", &err), -1);
	ck_assert_int_eq(sandbox_parse_user(&sc, "", &err), -1);
	ck_assert_int_eq(sandbox_parse_user(&sc, "4294967295", &err), -1); /* (uid_t)-1 */
	ck_assert_int_eq(sandbox_parse_chroot(&sc, "/no/such/dir", &err), -1);
	ck_assert_int_eq(sandbox_parse_chroot(&sc, "/etc/passwd", &err), -1);
	ck_assert_int_eq(sandbox_parse_chroot(&sc, "/", &err), 0);
	ck_assert_str_eq(sc.chroot_dir, "/");
	sandbox_config_free(&sc);
}
END_TEST

Suite *suite_main(void)
{
	Suite *s = suite_create("sandbox");
	TCase *filters = tcase_create("seccomp");
	TCase *options = tcase_create("options");

	tcase_add_test(filters, forbidden_call_ends_tide_with_one_line);
	tcase_add_test(filters, forbidden_ioctl_request_is_named);
	tcase_add_test(filters, allowed_ioctl_request_reaches_the_kernel);
#if !TIDE_SANITIZER_BUILD /* the sanitizers' leak check needs both (docs/security.md) */
	tcase_add_test(filters, threads_start_but_processes_do_not);
	tcase_add_test(filters, no_thread_may_exec);
#endif
	tcase_add_test(filters, sandbox_off_installs_no_filter);
	tcase_add_test(filters, no_thread_opens_files_makes_sockets_or_signals_others);
	tcase_add_test(filters, security_doc_names_every_allowed_call);
	suite_add_tcase(s, filters);
	tcase_add_test(options, sandbox_option);
	tcase_add_test(options, run_with_user);
	suite_add_tcase(s, options);
	return s;
}
