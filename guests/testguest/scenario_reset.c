/* Scenario "reset": ask the platform to reset the VM.
 *
 * Option reset_via=kbd (default): i8042 command 0xFE to port 0x64 (pulse
 *   the CPU reset line), after waiting (bounded) for the input buffer;
 * reset_via=cf9: 0x06 to port 0xCF9 (PIIX/ICH reset control: hard reset);
 * reset_via=triple: a CPL3 `ud2` -> #UD, which has no gate -> triple fault.
 *
 * A VMM run with -no-reboot should exit (status 0 for QEMU/Tide); without
 * it the guest boots again from the start.  Only returns (and fails) when
 * nothing happened.
 */
#include "io.h"
#include "tg.h"

#define I8042_STATUS 0x64
#define I8042_CMD 0x64
#define I8042_STR_IBF 0x02
#define I8042_CMD_RESET 0xFE
#define RST_CNT 0xCF9

static bool is(const char *v, size_t len, const char *word)
{
	return len == strlen(word) && !memcmp(v, word, len);
}

enum tg_result scenario_reset(void)
{
	size_t len = 3;
	const char *via = cmdline_get("reset_via", &len);

	if (!via)
		via = "kbd";
	if (is(via, len, "kbd")) {
		tg_printf("# reset: i8042 command 0xfe to port 0x64\n");
		for (int i = 0; i < 100000 && (inb(I8042_STATUS) & I8042_STR_IBF); i++)
			cpu_relax();
		outb(I8042_CMD, I8042_CMD_RESET);
	} else if (is(via, len, "cf9")) {
		tg_printf("# reset: 0x06 to port 0xcf9\n");
		outb(RST_CNT, 0x02);
		outb(RST_CNT, 0x06);
	} else if (is(via, len, "triple")) {
		tg_printf("# reset: triple fault (ud2 at CPL3, no #UD gate)\n");
		__asm__ volatile("ud2");
	} else {
		tg_printf("# reset: unknown reset_via=\"%.*s\" (kbd, cf9, triple)\n", (int)len, via);
		return TG_FAIL;
	}
	/* The port write exits to the VMM synchronously; give it a moment
	 * anyway in case the reset is deferred. */
	for (int i = 0; i < 1000000; i++)
		cpu_relax();
	tg_printf("# reset: the VM is still running\n");
	return TG_FAIL;
}
