#include "devices/irq.h"

#include "devices/board.h"

static void board_line_set(void *opaque, unsigned gsi, int level)
{
	struct board *b = opaque;

	/* The board reports its own failures; a device cannot do better. */

	b->ops->irq_set(b, gsi, level);
}

struct irq_line irq_line_for_board(struct board *b, unsigned gsi)
{
	return (struct irq_line){ .set = board_line_set, .opaque = b, .gsi = gsi };
}
