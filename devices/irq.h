/*
 * An interrupt line as a device sees it: a callback that drives one GSI.
 * Device cores take a struct irq_line so unit tests can count edges without
 * KVM; irq_line_for_board() wires one to the board's irqchip.
 */
#ifndef TIDE_DEVICES_IRQ_H
#define TIDE_DEVICES_IRQ_H

struct board;

struct irq_line {
	void (*set)(void *opaque, unsigned gsi, int level); /* NULL: line not connected */
	void *opaque;
	unsigned gsi;
};

static inline void irq_line_set(const struct irq_line *line, int level)
{
	if (line->set)
		line->set(line->opaque, line->gsi, level);
}

/* Edge-triggered (ISA) interrupt: raise then lower. */
static inline void irq_line_pulse(const struct irq_line *line)
{
	irq_line_set(line, 1);
	irq_line_set(line, 0);
}

/* A line driving gsi through the board's irq_set. */
struct irq_line irq_line_for_board(struct board *b, unsigned gsi);

#endif
