#include "util/size.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int suffix_shift(char c)
{
	static const char units[] = "BKMGTPE";
	const char *p = strchr(units, toupper((unsigned char)c));

	return (p && c) ? (int)(p - units) * 10 : -1;
}

int parse_u64(const char *str, uint64_t *out, struct error *err)
{
	char *end;
	unsigned long long v;

	if (!str || !*str || !isdigit((unsigned char)str[0]))
		return error_set(err, "'%s' is not a number", str ? str : "");
	errno = 0;
	v = strtoull(str, &end, 0);
	if (errno == ERANGE)
		return error_set(err, "'%s' is too large", str);
	if (*end)
		return error_set(err, "'%s' is not a number", str);
	*out = v;
	return 0;
}

int parse_size(const char *str, uint64_t default_unit, uint64_t *out, struct error *err)
{
	const char *p = str;
	uint64_t integer = 0, unit = default_unit;
	uint64_t frac_num = 0, frac_den = 1; /* fraction as frac_num / frac_den */
	bool hex = false, has_fraction = false;
	int digits = 0;

	if (!str || !*str)
		return error_set(err, "empty size");
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		hex = true;
		p += 2;
	}
	for (; hex ? isxdigit((unsigned char)*p) : isdigit((unsigned char)*p); p++, digits++) {
		unsigned d = isdigit((unsigned char)*p) ? (unsigned)(*p - '0')
						     : (unsigned)(tolower((unsigned char)*p) - 'a' + 10);
		uint64_t base = hex ? 16 : 10;

		if (integer > (UINT64_MAX - d) / base)
			return error_set(err, "size '%s' is too large", str);
		integer = integer * base + d;
	}
	if (!hex && *p == '.') {
		has_fraction = true;
		for (p++; isdigit((unsigned char)*p); p++, digits++) {
			/* More than 15 decimals would add nothing a byte count can show. */
			if (frac_den < 1000000000000000ULL) {
				frac_num = frac_num * 10 + (uint64_t)(*p - '0');
				frac_den *= 10;
			}
		}
	}
	if (digits == 0)
		return error_set(err, "size '%s' is not a number", str);
	if (*p) {
		int shift = suffix_shift(*p);

		if (shift < 0 || p[1])
			return error_set(err, "size '%s' has an invalid suffix (use K, M, G, T, P or E)",
					 str);
		if (hex)
			return error_set(err, "size '%s': a hexadecimal size takes no suffix", str);
		unit = 1ULL << shift;
	}
	if (has_fraction && unit == 1 && frac_num)
		return error_set(err, "size '%s' has a fraction of a byte", str);
	if (integer > UINT64_MAX / unit)
		return error_set(err, "size '%s' is too large", str);
	integer *= unit;
	if (frac_num) {
		/* unit <= 2^60 and frac_num < 10^15 < 2^50: the product fits 128 bits, and the
		 * result (below unit) fits 64. */
		uint64_t part = (uint64_t)((unsigned __int128)unit * frac_num / frac_den);

		if (integer > UINT64_MAX - part)
			return error_set(err, "size '%s' is too large", str);
		integer += part;
	}
	*out = integer;
	return 0;
}

const char *format_size(uint64_t size, char *buf, unsigned buflen)
{
	static const char *const names[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	unsigned i = 0;

	while (i < 6 && size >= (1ULL << (10 * (i + 1))) && size % (1ULL << (10 * (i + 1))) == 0)
		i++;
	snprintf(buf, buflen, "%" PRIu64 " %s", size >> (10 * i), names[i]);
	return buf;
}
