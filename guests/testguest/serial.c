/* Tide test guest: polled 16550 UART (x86: COM1 at port 0x3F8; arm64: MMIO,
 * see uart_in/uart_out in io.h). */
#include "io.h"
#include "tg.h"

#define UART_THR 0
#define UART_IER 1
#define UART_FCR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define LSR_DR 0x01
#define LSR_THRE 0x20

/* Bound on the LSR poll, so a missing/broken UART cannot hang the guest. */
#define THRE_SPINS 100000

void serial_init(void)
{
	/* No divisor programming: the DLAB dance is pointless on an emulated
	 * UART and a minimal VMM UART might treat the divisor write as data. */
	uart_out(UART_IER, 0x00);	/* no interrupts: we poll */
	uart_out(UART_LCR, 0x03);	/* 8N1 */
	uart_out(UART_FCR, 0x07);	/* enable + clear FIFOs */
	uart_out(UART_MCR, 0x03);	/* DTR | RTS */
}

static void serial_raw(char c)
{
	for (int i = 0; i < THRE_SPINS; i++) {
		if (uart_in(UART_LSR) & LSR_THRE)
			break;
		cpu_relax();
	}
	uart_out(UART_THR, (uint8_t)c);
}

/* Plain "\n" line ends (no "\r"): the output is meant for log files and
 * TAP parsers, not for a terminal. */
void serial_putc(char c)
{
	serial_raw(c);
}

int serial_try_getc(void)
{
	if (!(uart_in(UART_LSR) & LSR_DR))
		return -1;
	return uart_in(UART_THR);	/* RBR shares the offset with THR */
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
