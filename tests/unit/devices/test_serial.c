#include <check.h>
#include <linux/serial_reg.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "devices/serial.h"
#include "devices/io_bus.h"

/* Fake interrupt line: counts rising edges and remembers the level. */
static unsigned edges;
static int line_level;
static unsigned line_gsi;

static void fake_set(void *opaque, unsigned gsi, int level)
{
	(void)opaque;
	line_gsi = gsi;
	if (level && !line_level)
		edges++;
	line_level = level;
}

static uint8_t out[4096];
static size_t out_len;

static void fake_output(void *opaque, const uint8_t *buf, size_t len)
{
	(void)opaque;
	ck_assert_uint_le(out_len + len, sizeof(out));
	memcpy(out + out_len, buf, len);
	out_len += len;
}

static struct serial *s;

static void setup(void)
{
	edges = 0;
	line_level = 0;
	out_len = 0;
	s = serial_new((struct irq_line){ fake_set, NULL, 4 }, fake_output, NULL);
	ck_assert_ptr_nonnull(s);
}

static void teardown(void)
{
	serial_free(s);
}

static uint8_t rd(unsigned reg)
{
	uint8_t v = 0xaa;

	serial_io(s, reg, &v, 1, false);
	return v;
}

static void wr(unsigned reg, uint8_t v)
{
	serial_io(s, reg, &v, 1, true);
}

static void rx(const char *str)
{
	ck_assert_uint_eq(serial_receive(s, (const uint8_t *)str, strlen(str)), strlen(str));
}

START_TEST(ier_holds_its_value)
{
	/* Linux's existence test: IER must read back what was written (low nibble only). */
	ck_assert_uint_eq(rd(UART_IER), 0);
	wr(UART_IER, 0x0f);
	ck_assert_uint_eq(rd(UART_IER) & 0x0f, 0x0f);
	wr(UART_IER, 0);
	ck_assert_uint_eq(rd(UART_IER), 0);
	wr(UART_IER, 0x45); /* bit 6 (XScale UUE) must not stick */
	ck_assert_uint_eq(rd(UART_IER), 0x05);
}
END_TEST

START_TEST(lcr_dlab_divisor_latch)
{
	wr(UART_IER, 0x03);
	wr(UART_LCR, UART_LCR_DLAB | UART_LCR_WLEN8);
	ck_assert_uint_eq(rd(UART_LCR), 0x83);
	wr(UART_DLL, 0x01);
	wr(UART_DLM, 0x02);
	ck_assert_uint_eq(rd(UART_DLL), 0x01);
	ck_assert_uint_eq(rd(UART_DLM), 0x02);
	ck_assert_uint_eq(out_len, 0); /* offset 0 with DLAB is not THR */
	wr(UART_LCR, UART_LCR_WLEN8);
	ck_assert_uint_eq(rd(UART_LCR), 0x03);
	ck_assert_uint_eq(rd(UART_IER), 0x03); /* IER untouched by the DLM write */
	wr(UART_LCR, UART_LCR_DLAB);
	ck_assert_uint_eq(rd(UART_DLL), 0x01);
	ck_assert_uint_eq(rd(UART_DLM), 0x02);
}
END_TEST

START_TEST(thr_goes_to_output_and_lsr)
{
	ck_assert_uint_eq(rd(UART_LSR), UART_LSR_THRE | UART_LSR_TEMT);
	wr(UART_TX, 'h');
	wr(UART_TX, 'i');
	ck_assert_uint_eq(out_len, 2);
	ck_assert(memcmp(out, "hi", 2) == 0);
	ck_assert_uint_eq(rd(UART_LSR), 0x60); /* always able to transmit */
	rx("x");
	ck_assert_uint_eq(rd(UART_LSR), 0x61);
	ck_assert_uint_eq(rd(UART_RX), 'x');
	ck_assert_uint_eq(rd(UART_LSR), 0x60);
	ck_assert_uint_eq(edges, 0); /* no interrupt enabled */
}
END_TEST

START_TEST(fifo_bits_in_iir)
{
	ck_assert_uint_eq(rd(UART_IIR), UART_IIR_NO_INT);
	wr(UART_FCR, UART_FCR_ENABLE_FIFO);
	ck_assert_uint_eq(rd(UART_IIR), 0xc1);
	wr(UART_FCR, 0);
	ck_assert_uint_eq(rd(UART_IIR), 0x01);
}
END_TEST

START_TEST(thr_empty_interrupt)
{
	wr(UART_MCR, UART_MCR_OUT2);
	wr(UART_FCR, UART_FCR_ENABLE_FIFO);
	wr(UART_IER, UART_IER_THRI); /* THR is empty: raises at once */
	ck_assert_uint_eq(edges, 1);
	ck_assert_uint_eq(line_gsi, 4);
	ck_assert_uint_eq(rd(UART_IIR), 0xc2);
	ck_assert_uint_eq(rd(UART_IIR), 0xc1); /* reading IIR acknowledged it */
	wr(UART_IER, UART_IER_THRI);	       /* no change: stays acknowledged */
	ck_assert_uint_eq(rd(UART_IIR), 0xc1);
	/* Linux's THRE test: toggling THRI re-raises it. */
	wr(UART_IER, 0);
	wr(UART_IER, UART_IER_THRI);
	ck_assert_uint_eq(rd(UART_IIR), 0xc2);
	ck_assert_uint_eq(edges, 2);
	/* A THR write clears it and, the byte leaving at once, THR is empty again: new edge. */
	wr(UART_TX, 'a');
	ck_assert_uint_eq(edges, 3);
	/* Writes while it is still pending (not acknowledged) make no further edges. */
	wr(UART_TX, 'b');
	wr(UART_TX, 'c');
	ck_assert_uint_eq(edges, 3);
	ck_assert_uint_eq(rd(UART_IIR), 0xc2);
	ck_assert_uint_eq(rd(UART_IIR), 0xc1);
	wr(UART_TX, 'd'); /* acknowledged in between: the next byte raises it again */
	ck_assert_uint_eq(edges, 4);
	ck_assert_uint_eq(rd(UART_IIR), 0xc2);
	/* IER.THRI off: nothing pending, no edge from writes. */
	wr(UART_IER, 0);
	ck_assert_uint_eq(rd(UART_IIR), 0xc1);
	wr(UART_TX, 'e');
	ck_assert_uint_eq(rd(UART_IIR), 0xc1);
	ck_assert_uint_eq(edges, 4);
	ck_assert_uint_eq(out_len, 5);
	ck_assert(memcmp(out, "abcde", 5) == 0);
}
END_TEST

START_TEST(iir_priority)
{
	uint8_t big[SERIAL_RX_FIFO_SIZE + 1];

	memset(big, 'z', sizeof(big));
	wr(UART_MCR, UART_MCR_OUT2);
	wr(UART_IER, 0x0f);
	ck_assert_uint_eq(rd(UART_IIR), UART_IIR_THRI);
	ck_assert_uint_eq(rd(UART_IIR), UART_IIR_NO_INT); /* acknowledged */
	wr(UART_TX, 'w');				  /* THR empty again */
	rx("a");
	ck_assert_uint_eq(rd(UART_IIR), UART_IIR_RDI); /* RX data over THR empty */
	/* Overrun: line status beats RX data. */
	ck_assert_uint_eq(serial_receive(s, big, sizeof(big)), SERIAL_RX_FIFO_SIZE - 1);
	ck_assert_uint_eq(rd(UART_IIR), UART_IIR_RLSI);
	ck_assert_uint_eq(rd(UART_LSR), UART_LSR_OE | UART_LSR_DR | 0x60);
	ck_assert_uint_eq(rd(UART_LSR), UART_LSR_DR | 0x60); /* read clears the error */
	ck_assert_uint_eq(rd(UART_IIR), UART_IIR_RDI);
	for (unsigned i = 0; i < SERIAL_RX_FIFO_SIZE; i++)
		ck_assert_uint_eq(rd(UART_RX), i == 0 ? 'a' : 'z');
	ck_assert_uint_eq(rd(UART_IIR), UART_IIR_THRI); /* still not acknowledged */
	ck_assert_uint_eq(rd(UART_IIR), UART_IIR_NO_INT);
	/* Modem status is last: entering loopback with DTR low drops DSR, a delta. */
	wr(UART_MCR, UART_MCR_OUT2 | UART_MCR_LOOP | UART_MCR_RTS);
	ck_assert_uint_eq(rd(UART_IIR), UART_IIR_MSI);
	ck_assert_uint_eq(rd(UART_MSR), 0x90 | UART_MSR_DDSR);
	ck_assert_uint_eq(rd(UART_IIR), UART_IIR_NO_INT); /* reading MSR cleared the deltas */
}
END_TEST

START_TEST(rx_data_interrupt_edges)
{
	wr(UART_MCR, UART_MCR_OUT2);
	wr(UART_IER, UART_IER_RDI);
	ck_assert_uint_eq(edges, 0);
	rx("abc");
	ck_assert_uint_eq(edges, 1);
	ck_assert_uint_eq(rd(UART_IIR), UART_IIR_RDI);
	rx("d"); /* already pending: no new edge */
	ck_assert_uint_eq(edges, 1);
	ck_assert_uint_eq(rd(UART_RX), 'a');
	ck_assert_uint_eq(rd(UART_RX), 'b');
	ck_assert_uint_eq(rd(UART_RX), 'c');
	ck_assert_uint_eq(rd(UART_LSR) & UART_LSR_DR, UART_LSR_DR);
	ck_assert_uint_eq(rd(UART_RX), 'd');
	ck_assert_uint_eq(rd(UART_LSR) & UART_LSR_DR, 0);
	ck_assert_uint_eq(rd(UART_IIR), UART_IIR_NO_INT);
	ck_assert_uint_eq(line_level, 0);
	rx("e");
	ck_assert_uint_eq(edges, 2);
	ck_assert_uint_eq(rd(UART_RX), 'e');
}
END_TEST

START_TEST(out2_gates_the_irq)
{
	wr(UART_IER, UART_IER_RDI);
	rx("a");
	ck_assert_uint_eq(rd(UART_IIR), UART_IIR_RDI); /* pending in IIR... */
	ck_assert_uint_eq(edges, 0);		       /* ...but OUT2 is low */
	wr(UART_MCR, UART_MCR_OUT2 | UART_MCR_DTR | UART_MCR_RTS);
	ck_assert_uint_eq(edges, 1);
	wr(UART_MCR, 0);
	wr(UART_MCR, UART_MCR_OUT2);
	ck_assert_uint_eq(edges, 2);
}
END_TEST

START_TEST(loopback)
{
	ck_assert_uint_eq(rd(UART_MSR) & 0xf0, UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS);
	/* Linux's loopback test. */
	wr(UART_MCR, UART_MCR_LOOP | UART_MCR_OUT2 | UART_MCR_RTS);
	ck_assert_uint_eq(rd(UART_MSR) & 0xf0, 0x90);
	wr(UART_MCR, UART_MCR_LOOP | UART_MCR_DTR | UART_MCR_OUT1);
	ck_assert_uint_eq(rd(UART_MSR) & 0xf0, UART_MSR_DSR | UART_MSR_RI);
	wr(UART_MCR, UART_MCR_LOOP);
	ck_assert_uint_eq(rd(UART_MSR), UART_MSR_TERI | UART_MSR_DDSR); /* RI fell, DSR fell */
	ck_assert_uint_eq(rd(UART_MSR), 0);
	/* THR bytes come back in RBR; nothing reaches the host, host input is cut off. */
	wr(UART_TX, 'q');
	ck_assert_uint_eq(out_len, 0);
	ck_assert_uint_eq(rd(UART_LSR) & UART_LSR_DR, UART_LSR_DR);
	ck_assert_uint_eq(rd(UART_RX), 'q');
	ck_assert_uint_eq(serial_receive(s, (const uint8_t *)"x", 1), 0);
	ck_assert_uint_eq(rd(UART_LSR) & UART_LSR_DR, 0);
	wr(UART_MCR, UART_MCR_OUT2);
	ck_assert_uint_eq(rd(UART_MSR) & 0xf0, 0xb0);
	wr(UART_TX, 'r');
	ck_assert_uint_eq(out_len, 1);
	ck_assert_uint_eq(out[0], 'r');
}
END_TEST

START_TEST(rx_fifo_depth_and_clear)
{
	static uint8_t data[3000];
	size_t n;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7);
	n = serial_receive(s, data, sizeof(data));
	ck_assert_uint_ge(n, 16);
	ck_assert_uint_eq(n, SERIAL_RX_FIFO_SIZE);
	for (size_t i = 0; i < n; i++)
		ck_assert_uint_eq(rd(UART_RX), data[i]);
	ck_assert_uint_eq(rd(UART_LSR) & UART_LSR_DR, 0);
	rx("abc");
	wr(UART_FCR, UART_FCR_ENABLE_FIFO); /* enabling the FIFOs resets them */
	ck_assert_uint_eq(rd(UART_LSR) & UART_LSR_DR, 0);
	rx("abc");
	wr(UART_FCR, UART_FCR_ENABLE_FIFO | UART_FCR_CLEAR_RCVR);
	ck_assert_uint_eq(rd(UART_LSR) & UART_LSR_DR, 0);
	ck_assert_uint_eq(rd(UART_IIR), 0xc1);
}
END_TEST

START_TEST(scratch_and_msr)
{
	wr(UART_SCR, 0x5a);
	ck_assert_uint_eq(rd(UART_SCR), 0x5a);
	wr(UART_MSR, 0x00); /* ignored */
	ck_assert_uint_eq(rd(UART_MSR), 0xb0);
	wr(UART_LSR, 0x00); /* ignored */
	ck_assert_uint_eq(rd(UART_LSR), 0x60);
}
END_TEST

START_TEST(unused_com_ports_read_ones)
{
	static const unsigned unused[] = { 0x2f8, 0x3e8, 0x2e8 }; /* COM2, COM3, COM4 */
	struct io_bus pio;
	struct error err;
	uint8_t v;

	io_bus_init(&pio, "pio");
	ck_assert_int_eq(io_bus_register(&pio, SERIAL_COM1_BASE, SERIAL_NR_PORTS, serial_io, s,
					 "serial", &err), 0);
	for (unsigned i = 0; i < 3; i++) {
		for (unsigned reg = 0; reg < 8; reg++) {
			v = 0;
			ck_assert(!io_bus_dispatch(&pio, unused[i] + reg, &v, 1, false));
			ck_assert_uint_eq(v, 0xff);
		}
	}
	v = 0;
	ck_assert(!io_bus_dispatch(&pio, 0x2f8 + UART_IER, &v, 1, false));
	ck_assert_uint_eq(v, 0xff); /* Linux's IER test fails at once: no UART there */
	ck_assert(io_bus_dispatch(&pio, SERIAL_COM1_BASE + UART_LSR, &v, 1, false));
	ck_assert_uint_eq(v, 0x60);
	v = 'k';
	ck_assert(io_bus_dispatch(&pio, SERIAL_COM1_BASE, &v, 1, true));
	ck_assert_uint_eq(out_len, 1);
	io_bus_destroy(&pio);
}
END_TEST

/* The input thread feeds the FIFO while a vCPU drains it: nothing lost, nothing reordered. */
#define STREAM_LEN 20000

static void *feeder(void *opaque)
{
	(void)opaque;
	for (unsigned i = 0; i < STREAM_LEN;) {
		uint8_t chunk[7];
		unsigned n = 0;

		for (; n < sizeof(chunk) && i + n < STREAM_LEN; n++)
			chunk[n] = (uint8_t)((i + n) % 251);
		/* a full FIFO takes fewer bytes; offer the rest again */
		i += (unsigned)serial_receive(s, chunk, n);
		rd(UART_SCR); /* give the reader a chance */
	}
	return NULL;
}

START_TEST(concurrent_receive_and_read)
{
	pthread_t t;
	unsigned got = 0;

	wr(UART_MCR, UART_MCR_OUT2);
	wr(UART_IER, UART_IER_RDI);
	ck_assert_int_eq(pthread_create(&t, NULL, feeder, NULL), 0);
	while (got < STREAM_LEN) {
		if (rd(UART_LSR) & UART_LSR_DR) {
			ck_assert_uint_eq(rd(UART_RX), got % 251);
			got++;
		}
	}
	pthread_join(t, NULL);
	ck_assert_uint_eq(rd(UART_LSR) & UART_LSR_DR, 0);
	ck_assert_uint_ge(edges, 1);
}
END_TEST

/* The console path: a full FIFO takes nothing more and reports no overrun (no byte was lost). */
START_TEST(offer_fills_without_overrun)
{
	static uint8_t big[SERIAL_RX_FIFO_SIZE + 10];

	memset(big, 'q', sizeof(big));
	ck_assert_uint_eq(serial_offer(s, big, sizeof(big)), SERIAL_RX_FIFO_SIZE);
	ck_assert_uint_eq(serial_offer(s, big, 5), 0);
	ck_assert_uint_eq(rd(UART_LSR), UART_LSR_DR | 0x60); /* no OE */
	ck_assert_uint_eq(rd(UART_RX), 'q');
	ck_assert_uint_eq(serial_offer(s, (const uint8_t *)"r", 1), 1); /* room again */
}
END_TEST

Suite *suite_main(void)
{
	Suite *suite = suite_create("serial");
	TCase *tc = tcase_create("16550a");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, ier_holds_its_value);
	tcase_add_test(tc, lcr_dlab_divisor_latch);
	tcase_add_test(tc, thr_goes_to_output_and_lsr);
	tcase_add_test(tc, fifo_bits_in_iir);
	tcase_add_test(tc, thr_empty_interrupt);
	tcase_add_test(tc, iir_priority);
	tcase_add_test(tc, rx_data_interrupt_edges);
	tcase_add_test(tc, out2_gates_the_irq);
	tcase_add_test(tc, loopback);
	tcase_add_test(tc, rx_fifo_depth_and_clear);
	tcase_add_test(tc, scratch_and_msr);
	tcase_add_test(tc, unused_com_ports_read_ones);
	tcase_add_test(tc, concurrent_receive_and_read);
	tcase_add_test(tc, offer_fills_without_overrun);
	suite_add_tcase(suite, tc);
	return suite;
}
