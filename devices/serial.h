/*
 * 16550A UART (x86-boot.md section 6): eight byte registers at base..base+7,
 * an edge interrupt on one ISA GSI. The core (serial_new/serial_io/
 * serial_receive) needs no KVM; the board device "isa-serial" wires it
 * to a machine at the place its architecture gives.
 */
#ifndef TIDE_DEVICES_SERIAL_H
#define TIDE_DEVICES_SERIAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/irq.h"
#include "util/error.h"

#define SERIAL_COM1_BASE 0x3f8 /* where a PC has its first UART */
#define SERIAL_NR_PORTS 8
/* Receive FIFO depth: larger than a real 16550A's 16 bytes so pasted input survives. */
#define SERIAL_RX_FIFO_SIZE 1024

struct serial;

/* Bytes the guest transmits; called without the UART's lock held. */
typedef void (*serial_output_fn)(void *opaque, const uint8_t *buf, size_t len);

struct serial *serial_new(struct irq_line irq, serial_output_fn output, void *output_opaque);
void serial_free(struct serial *s);

/* io_handler_fn for the 8 ports (offset 0-7); wider accesses are split into bytes. */
void serial_io(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write);

/*
 * Host input (from the chardev's input thread). Returns how many bytes fitted
 * in the receive FIFO; the rest are dropped and flagged as an overrun in LSR.
 */
size_t serial_receive(struct serial *s, const uint8_t *buf, size_t len);
/* Takes what fits in the RX FIFO without an overrun; the sender keeps the rest for later. */
size_t serial_offer(struct serial *s, const uint8_t *buf, size_t len);

/*
 * A UART at base/gsi whose output goes to m->console and which receives the
 * console's input. Torn down by a machine cleanup.
 */
#endif
