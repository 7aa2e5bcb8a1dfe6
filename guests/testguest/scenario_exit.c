/* Scenario "exit": write exitcode=N (default 0) to the isa-debug-exit port
 * 0xF4 right away, so the VMM exits with status (N << 1) | 1.  Only returns
 * (and fails) if the VM did not stop. */
#include "io.h"
#include "tg.h"

enum tg_result scenario_exit(void)
{
	uint64_t code = cmdline_get_u64("exitcode", 0);

	tg_printf("# exit: writing %llu to port 0xf4\n", (unsigned long long)code);
	outb(0xF4, (uint8_t)code);
	tg_printf("# exit: the VM is still running (no isa-debug-exit device?)\n");
	return TG_FAIL;
}
