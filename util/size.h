/* Size and number parsing with QEMU's rules. */
#ifndef TIDE_SIZE_H
#define TIDE_SIZE_H

#include <stdint.h>

#include "util/error.h"

#define KiB (1ULL << 10)
#define MiB (1ULL << 20)
#define GiB (1ULL << 30)
#define TiB (1ULL << 40)

/*
 * Parses "1024", "512M", "1.5G", "2t", "0x1000" (QEMU's qemu_strtosz):
 * optional suffix B/K/M/G/T/P/E, case-insensitive, binary units. A number
 * without suffix is multiplied by default_unit (1 for bytes, MiB for -m).
 * Fractions need a suffix or default_unit > 1; hex takes no suffix.
 */
int parse_size(const char *str, uint64_t default_unit, uint64_t *out, struct error *err);
/* Decimal or 0x-hex unsigned integer, the whole string. */
int parse_u64(const char *str, uint64_t *out, struct error *err);
/* Formats a size for humans: "512 MiB", "1.5 GiB" style with exact bytes when odd. */
const char *format_size(uint64_t size, char *buf, unsigned buflen);

#endif
