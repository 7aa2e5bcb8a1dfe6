/*
 * Reset control register at port 0xCF9 (PIIX/ICH "RCR"): writing a value
 * with bit 2 (RST_CPU) set resets the machine. Linux tries it in its reboot
 * fallback chain. Bits 1 (SYS_RST) and 3 (FULL_RST) are plain storage.
 */
#ifndef TIDE_DEVICES_RESET_CF9_H
#define TIDE_DEVICES_RESET_CF9_H

#include <stdbool.h>
#include <stdint.h>

#include "util/error.h"

#define RESET_CF9_PORT 0xcf9
#define RESET_CF9_SYS_RST 0x02
#define RESET_CF9_RST_CPU 0x04
#define RESET_CF9_FULL_RST 0x08

struct reset_cf9;

struct reset_cf9 *reset_cf9_new(void (*reset)(void *opaque), void *reset_opaque);
void reset_cf9_free(struct reset_cf9 *rc);
/* io_handler_fn for the byte register at 0xCF9 (offset 0). */
void reset_cf9_io(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write);

/*
 * The board device "reset-cf9": port 0xCF9; a reset is the board's guest_reset. 0xCF9
 * sits inside CONFIG_ADDRESS, so on a machine with a PCI host bridge (created first) it
 * is served through pci_bus_set_legacy_port(); otherwise it is registered on the port bus.
 */

#endif
