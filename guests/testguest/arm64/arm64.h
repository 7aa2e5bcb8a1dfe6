/* Tide test guest, arm64: what the arm64 files share (boot.c defines them). */
#ifndef TG_ARM64_H
#define TG_ARM64_H

#include <stdint.h>
#include "tg.h"

/* From start.S, with the MMU on, .bss clear and x0 = the device tree. */
TG_NORETURN void tg_arm64_main(const uint8_t *fdt);
/* From start.S's exception vectors. */
TG_NORETURN void tg_arm64_exception(uint64_t n, uint64_t esr, uint64_t elr, uint64_t far);
/* PSCI SYSTEM_RESET (scenario reset). */
TG_NORETURN void tg_arm64_reset(void);

#endif
