/* Tide test guest, arm64: the scenarios that test x86 machinery.  They stay in
 * the table (main.c is shared) and answer SKIP with the reason. */
#include "arm64/arm64.h"
#include "tg.h"

static enum tg_result skip(const char *name, const char *why)
{
	tg_printf("# %s: not on arm64: %s\n", name, why);
	return TG_SKIP;
}

enum tg_result scenario_exit(void)
{
	return skip("exit", "no isa-debug-exit device (the guest ends with PSCI SYSTEM_OFF, "
			    "Tide's status 0, whatever exitcode= says)");
}

enum tg_result scenario_kvmclock(void)
{
	return skip("kvmclock", "kvmclock is an x86 paravirtual clock (MSRs); arm64 guests use "
				"the generic timer");
}

enum tg_result scenario_vmem_internal(void)
{
	return skip("vmem_internal", "it needs an x86 instruction (hlt) KVM's x86 emulator "
				     "cannot handle as MMIO; arm64's analogue (an access "
				     "without a valid syndrome, ESR_EL2.ISV = 0) is a "
				     "different path, not ported");
}

/* The PC's reset paths (i8042, 0xCF9, triple fault) do not exist: PSCI
 * SYSTEM_RESET is arm64's one way (-no-reboot makes Tide exit 0). */
enum tg_result scenario_reset(void)
{
	size_t len;

	if (cmdline_get("reset_via", &len))
		tg_printf("# reset: reset_via= ignored on arm64: PSCI SYSTEM_RESET\n");
	tg_printf("# reset: PSCI SYSTEM_RESET\n");
	tg_arm64_reset();
}
