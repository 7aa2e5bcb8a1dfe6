/* Tide test guest: a tiny printf onto the serial port.
 *
 * Conversions: %s %c %d %i %u %x %X %p %%
 * Length modifiers: l, ll, z (h/hh accepted and ignored)
 * Flags: '-' (left-justify), '0' (zero-pad); width as digits or '*'.
 * No precision except that "%.*s"/"%.Ns" limits the string length.
 */
#include "tg.h"

struct out {
	int count;
};

static void put(struct out *o, char c)
{
	serial_putc(c);
	o->count++;
}

static void pad(struct out *o, char c, int n)
{
	while (n-- > 0)
		put(o, c);
}

static void emit_number(struct out *o, uint64_t v, bool neg, unsigned base,
			bool upper, int width, bool left, bool zero)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char buf[24];
	int n = 0, len;

	do {
		buf[n++] = digits[v % base];
		v /= base;
	} while (v);
	len = n + (neg ? 1 : 0);
	if (!left && !zero)
		pad(o, ' ', width - len);
	if (neg)
		put(o, '-');
	if (!left && zero)
		pad(o, '0', width - len);
	while (n)
		put(o, buf[--n]);
	if (left)
		pad(o, ' ', width - len);
}

int tg_vprintf(const char *fmt, va_list ap)
{
	struct out o = { 0 };

	for (; *fmt; fmt++) {
		bool left = false, zero = false;
		int width = 0, prec = -1, lng = 0;

		if (*fmt != '%') {
			put(&o, *fmt);
			continue;
		}
		fmt++;
		for (;; fmt++) {
			if (*fmt == '-')
				left = true;
			else if (*fmt == '0')
				zero = true;
			else
				break;
		}
		if (*fmt == '*') {
			width = va_arg(ap, int);
			if (width < 0) {
				left = true;
				width = -width;
			}
			fmt++;
		} else {
			while (*fmt >= '0' && *fmt <= '9')
				width = width * 10 + (*fmt++ - '0');
		}
		if (*fmt == '.') {
			fmt++;
			prec = 0;
			if (*fmt == '*') {
				prec = va_arg(ap, int);
				fmt++;
			} else {
				while (*fmt >= '0' && *fmt <= '9')
					prec = prec * 10 + (*fmt++ - '0');
			}
		}
		for (;; fmt++) {
			if (*fmt == 'l')
				lng++;
			else if (*fmt == 'z')
				lng = 2;
			else if (*fmt != 'h')
				break;
		}

		switch (*fmt) {
		case 'd':
		case 'i': {
			int64_t v = lng ? (lng > 1 ? va_arg(ap, long long) : va_arg(ap, long))
					: va_arg(ap, int);
			uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;

			emit_number(&o, u, v < 0, 10, false, width, left, zero);
			break;
		}
		case 'u':
		case 'x':
		case 'X': {
			uint64_t v = lng ? (lng > 1 ? va_arg(ap, unsigned long long)
						    : va_arg(ap, unsigned long))
					 : va_arg(ap, unsigned int);

			emit_number(&o, v, false, *fmt == 'u' ? 10 : 16, *fmt == 'X',
				    width, left, zero);
			break;
		}
		case 'p':
			put(&o, '0');
			put(&o, 'x');
			emit_number(&o, (uintptr_t)va_arg(ap, void *), false, 16, false,
				    width > 2 ? width - 2 : 0, left, zero);
			break;
		case 'c':
			if (!left)
				pad(&o, ' ', width - 1);
			put(&o, (char)va_arg(ap, int));
			if (left)
				pad(&o, ' ', width - 1);
			break;
		case 's': {
			const char *s = va_arg(ap, const char *);
			int len = 0;

			if (!s)
				s = "(null)";
			while (s[len] && (prec < 0 || len < prec))
				len++;
			if (!left)
				pad(&o, ' ', width - len);
			for (int i = 0; i < len; i++)
				put(&o, s[i]);
			if (left)
				pad(&o, ' ', width - len);
			break;
		}
		case '%':
			put(&o, '%');
			break;
		case '\0':
			return o.count;
		default:
			put(&o, '%');
			put(&o, *fmt);
			break;
		}
	}
	return o.count;
}

int tg_printf(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = tg_vprintf(fmt, ap);
	va_end(ap);
	return n;
}
