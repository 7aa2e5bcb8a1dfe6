/*
 * Minimal i8042 keyboard controller (x86-boot.md section 7, option B, as in
 * Firecracker): enough for Linux's probe to succeed quickly and for its
 * "reboot=k" path (command 0xFE on port 0x64) to reset the machine. No
 * keyboard or mouse behind it, no interrupts. Port 0x61 is not ours: KVM's
 * in-kernel PIT owns it (KVM_PIT_SPEAKER_DUMMY).
 */
#ifndef TIDE_DEVICES_I8042_H
#define TIDE_DEVICES_I8042_H

#include <stdbool.h>
#include <stdint.h>

#include "util/error.h"

#define I8042_DATA_PORT 0x60
#define I8042_CMD_PORT 0x64 /* reads: status, writes: command */

/* Status register bits */
#define I8042_STR_OBF 0x01     /* a reply byte waits in the output buffer */
#define I8042_STR_IBF 0x02     /* input buffer full: never, we take bytes at once */
#define I8042_STR_SYSFLAG 0x04 /* self-test passed */

/* Controller commands (port 0x64) */
#define I8042_CMD_READ_CTR 0x20
#define I8042_CMD_WRITE_CTR 0x60
#define I8042_CMD_AUX_DISABLE 0xa7
#define I8042_CMD_AUX_ENABLE 0xa8
#define I8042_CMD_AUX_TEST 0xa9
#define I8042_CMD_SELF_TEST 0xaa
#define I8042_CMD_KBD_TEST 0xab
#define I8042_CMD_KBD_DISABLE 0xad
#define I8042_CMD_KBD_ENABLE 0xae
#define I8042_CMD_READ_OUTPORT 0xd0
#define I8042_CMD_WRITE_OUTPORT 0xd1
#define I8042_CMD_RESET 0xfe /* pulse output port bit 0: CPU reset */

/* Output port bits */
#define I8042_OUTPORT_RESET 0x01 /* 0 = hold the CPU in reset */
#define I8042_OUTPORT_A20 0x02

struct i8042;

/* reset(opaque) is called, without the controller's lock, when the guest resets the CPU. */
struct i8042 *i8042_new(void (*reset)(void *opaque), void *reset_opaque);
void i8042_free(struct i8042 *kbc);

/* io_handler_fn for port 0x60 and for port 0x64 (each registered with length 1). */
void i8042_data_io(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write);
void i8042_cmd_io(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write);

/* The board device "i8042" takes ports 0x60 and 0x64; a reset is the board's guest_reset. */
#endif
