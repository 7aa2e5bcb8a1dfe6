/* Tide test guest: scenario table and TAP runner.
 *
 * The architecture's entry (x86: tg_main in pvh.c; arm64: arm64/boot.c) sets
 * up the console and tg_boot, prints the TAP header and calls tg_run().
 */
#include "tg.h"

#define DEFAULT_TESTS "memmap,pattern,pci"
#define MAX_NAME 64

/* To add a scenario: write scenario_NAME.c with
 *     enum tg_result scenario_NAME(void);
 * declare it in tg.h, list the file in meson.build, add a row here. */
static const struct tg_scenario scenarios[] = {
	{ "memmap", scenario_memmap, "print start_info/memory map; RAM present, image in RAM" },
	{ "pattern", scenario_pattern, "fill+verify RAM above the image (pattern_mb=, seed=)" },
	{ "pci", scenario_pci, "enumerate PCI bus 0, size BARs (expect_pci=VVVV:DDDD,...)" },
	{ "exit", scenario_exit, "write exitcode=N to port 0xf4 at once" },
	{ "highmem", scenario_highmem, "fill+verify highmem=ADDR[:SIZE] (extends the map)" },
	{ "reset", scenario_reset, "reset the VM (reset_via=kbd|cf9|triple)" },
	{ "input", scenario_input, "read a line from the serial port, compare to expect_input=" },
	{ "vmem_config", scenario_vmem_config, "virtio-mem-pci identity, caps, BARs, config" },
	{ "vmem_features", scenario_vmem_features, "virtio-mem feature negotiation (vmem_ui=)" },
	{ "vmem_plug", scenario_vmem_plug, "virtio-mem plug, pattern, unplug, replug reads 0" },
	{ "vmem_errors", scenario_vmem_errors, "virtio-mem request rules: ERROR/NACK/MIXED" },
	{ "vmem_unplug_all", scenario_vmem_unplug_all, "virtio-mem UNPLUG_ALL of two ranges" },
	{ "vmem_reset", scenario_vmem_reset, "virtio-mem device reset keeps plugs+contents" },
	{ "vmem_malformed", scenario_vmem_malformed, "virtio-mem queue violations -> NEEDS_RESET" },
	{ "vmem_rss", scenario_vmem_rss, "virtio-mem plug+touch, unplug (host RSS)" },
	{ "vmem_hostile", scenario_vmem_hostile, "virtio-mem: writes and reads of unplugged blocks" },
	{ "vmem_internal", scenario_vmem_internal, "virtio-mem: an access KVM cannot emulate" },
	{ "vmem_flood", scenario_vmem_flood, "virtio-mem: a queue kept full" },
	{ "vmem_fragment", scenario_vmem_fragment, "virtio-mem: every other block plugged" },
	{ "vmem_bench", scenario_vmem_bench, "virtio-mem PLUG/UNPLUG latency in TSC cycles" },
	{ "vmem_follow", scenario_vmem_follow, "virtio-mem driver following requested_size (QMP)" },
	{ "vmem_rings", scenario_vmem_rings, "virtio-mem rings+buffers in plugged memory" },
	{ "kvmclock", scenario_kvmclock, "kvmclock stands still while stopped (QMP stop/cont)" },
};

static const struct tg_scenario *lookup(const char *name)
{
	for (size_t i = 0; i < TG_ARRAY_SIZE(scenarios); i++)
		if (!strcmp(scenarios[i].name, name))
			return &scenarios[i];
	return NULL;
}

/* Iterate over the comma-separated list [*p, end): copies the next non-empty
 * item into name (truncated to MAX_NAME-1) and advances *p. */
static bool next_item(const char **p, const char *end, char *name)
{
	while (*p < end && **p == ',')
		(*p)++;
	if (*p >= end)
		return false;
	size_t n = 0;
	while (*p < end && **p != ',') {
		if (n < MAX_NAME - 1)
			name[n++] = **p;
		(*p)++;
	}
	name[n] = '\0';
	return true;
}

TG_NORETURN void tg_run(void)
{
	const char *list, *p, *end;
	size_t len;
	char name[MAX_NAME];
	unsigned total = 0, k = 0, pass = 0, fail = 0, skip = 0;

	list = cmdline_get("tests", &len);
	if (!list) {
		list = DEFAULT_TESTS;
		len = strlen(list);
	}
	end = list + len;
	for (p = list; next_item(&p, end, name);)
		total++;
	tg_printf("1..%u\n", total);

	for (p = list; next_item(&p, end, name);) {
		const struct tg_scenario *s = lookup(name);
		enum tg_result r;

		k++;
		if (!s) {
			tg_printf("# unknown scenario \"%s\"; known:", name);
			for (size_t i = 0; i < TG_ARRAY_SIZE(scenarios); i++)
				tg_printf(" %s", scenarios[i].name);
			tg_printf("\n");
			tg_printf("not ok %u - %s # unknown scenario\n", k, name);
			fail++;
			continue;
		}
		tg_printf("# --- %s: %s\n", s->name, s->help);
		r = s->run();
		if (r == TG_FAIL) {
			tg_printf("not ok %u - %s\n", k, s->name);
			fail++;
		} else if (r == TG_SKIP) {
			tg_printf("ok %u - %s # SKIP\n", k, s->name);
			skip++;
			pass++;
		} else {
			tg_printf("ok %u - %s\n", k, s->name);
			pass++;
		}
	}
	if (skip)
		tg_printf("# tide-testguest: skipped=%u (counted as pass)\n", skip);
	tg_printf("# tide-testguest: done pass=%u fail=%u\n", pass, fail);
	tg_exit(fail ? 1 : 0);
}
