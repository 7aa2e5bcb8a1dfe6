/* Scenario "input": read one line from the serial port (polled) and compare
 * it with expect_input=STRING.
 *
 * Prints "# input: waiting ..." before it starts polling, so a harness knows
 * when to type.  The line ends at CR or LF (leading CR/LF are skipped); at
 * most 255 bytes are kept.  Waits forever (the harness owns the timeout).
 * Without expect_input: SKIP.
 */
#include "io.h"
#include "tg.h"

#define MAX_LINE 256

enum tg_result scenario_input(void)
{
	static char line[MAX_LINE];
	size_t elen, n;
	const char *expect = cmdline_get("expect_input", &elen);

	if (!expect) {
		tg_printf("# input: no expect_input=STRING option\n");
		return TG_SKIP;
	}
	tg_printf("# input: waiting for a line on the serial port (expect \"%.*s\")\n", (int)elen,
		  expect);
	n = serial_read_line(line, sizeof(line));
	tg_printf("# input: got \"%s\"\n", line);
	return n == elen && !memcmp(line, expect, n) ? TG_PASS : TG_FAIL;
}
