/* Tide test guest: polled 16550 UART at 0x3F8 (COM1). */
#include "io.h"
#include "tg.h"

#define COM1 0x3F8
#define UART_THR (COM1 + 0)
#define UART_IER (COM1 + 1)
#define UART_FCR (COM1 + 2)
#define UART_LCR (COM1 + 3)
#define UART_MCR (COM1 + 4)
#define UART_LSR (COM1 + 5)
#define LSR_DR 0x01
#define LSR_THRE 0x20

/* Bound on the LSR poll, so a missing/broken UART cannot hang the guest. */
#define THRE_SPINS 100000

void serial_init(void)
{
	/* No divisor programming: the DLAB dance is pointless on an emulated
	 * UART and a minimal VMM UART might treat the divisor write as data. */
	outb(UART_IER, 0x00);	/* no interrupts: we poll */
	outb(UART_LCR, 0x03);	/* 8N1 */
	outb(UART_FCR, 0x07);	/* enable + clear FIFOs */
	outb(UART_MCR, 0x03);	/* DTR | RTS */
}

static void serial_raw(char c)
{
	for (int i = 0; i < THRE_SPINS; i++) {
		if (inb(UART_LSR) & LSR_THRE)
			break;
		cpu_relax();
	}
	outb(UART_THR, (uint8_t)c);
}

/* Plain "\n" line ends (no "\r"): the output is meant for log files and
 * TAP parsers, not for a terminal. */
void serial_putc(char c)
{
	serial_raw(c);
}

int serial_try_getc(void)
{
	if (!(inb(UART_LSR) & LSR_DR))
		return -1;
	return inb(UART_THR);	/* RBR shares the offset with THR */
}

size_t serial_read_line(char *buf, size_t cap)
{
	size_t n = 0;

	for (;;) {
		int c = serial_try_getc();

		if (c < 0) {
			cpu_relax();
			continue;
		}
		if (c == '\r' || c == '\n') {
			if (n)
				break;
			continue; /* leading line ends: a harness may send CR LF */
		}
		if (n + 1 < cap)
			buf[n] = (char)c;
		n++;
	}
	if (cap)
		buf[n < cap ? n : cap - 1] = '\0';
	return n < cap ? n : cap - 1;
}
