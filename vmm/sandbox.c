/* libcap-ng rather than raw capset(2): it knows every capability and the bounding set. */
#include "vmm/sandbox.h"

#include <cap-ng.h>
#include <errno.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

int sandbox_drop_thread_privileges(struct error *err)
{
	/* A thread other than main must name itself: capset() on the process id would be
	 * asking to change main's capabilities, which Linux refuses. */
	capng_setpid((int)gettid());
	if (capng_get_caps_process())
		return error_set(err, "cannot read this thread's capabilities (libcap-ng)");
	capng_clear(CAPNG_SELECT_ALL);
	/* The bounding set goes only with CAP_SETPCAP (an unprivileged tide has none to lose
	 * from it; no_new_privs below keeps exec from granting any). */
	if (capng_apply(CAPNG_SELECT_ALL) && capng_apply(CAPNG_SELECT_BOTH))
		return error_set(err, "cannot drop this thread's capabilities (libcap-ng)");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return error_set(err, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
	return 0;
}
