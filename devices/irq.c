#include "devices/irq.h"

#include "vmm/machine.h"

static void machine_line_set(void *opaque, unsigned gsi, int level)
{
	/* machine_irq_set() reports its own failures; a device cannot do better. */
	(void)machine_irq_set(opaque, gsi, level);
}

struct irq_line irq_line_for_machine(struct machine *m, unsigned gsi)
{
	return (struct irq_line){ .set = machine_line_set, .opaque = m, .gsi = gsi };
}
