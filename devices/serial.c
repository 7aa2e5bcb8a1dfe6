/*
 * 16550A UART. Transmission is instantaneous: THR and the transmitter are
 * always empty again by the time the guest looks, so LSR always shows
 * THRE|TEMT and a THR write re-arms the THR-empty interrupt at once.
 *
 * Interrupts follow QEMU's level model (IIR != "none" and MCR.OUT2 set, as
 * on a PC where OUT2 gates the IRQ buffer); a rising edge of that level is
 * sent as a pulse on the ISA GSI. Linux's handler loops until IIR reads
 * "none", so it never misses a condition that arises while it runs.
 */
#include "devices/serial.h"

#include <inttypes.h>

#include <linux/serial_reg.h>
#include <pthread.h>
#include <stdlib.h>

#include "util/log.h"
#include "devices/board.h"
#include "devices/device.h"
#include "devices/io_bus.h"

#define IIR_FIFO_BITS 0xc0 /* bits 7:6 read 11 when the FIFOs are enabled (16550A) */
#define FCR_STORED (UART_FCR_ENABLE_FIFO | UART_FCR_DMA_SELECT | UART_FCR_TRIGGER_MASK)
#define MSR_LINES (UART_MSR_DCD | UART_MSR_RI | UART_MSR_DSR | UART_MSR_CTS)

struct serial {
	pthread_mutex_t lock;
	struct irq_line irq;
	serial_output_fn output;
	void *output_opaque;

	uint8_t ier, iir, fcr, lcr, mcr, msr, scr, dll, dlm;
	uint8_t lsr_errors; /* OE/PE/FE/BI until LSR is read; DR/THRE/TEMT are computed */
	uint8_t rbr;	    /* last byte read, returned again when the FIFO is empty */
	bool thr_ipending;  /* THR-empty interrupt not yet acknowledged */
	bool irq_level;	    /* line level after the last update, for edge detection */

	uint8_t rx[SERIAL_RX_FIFO_SIZE];
	size_t rx_head, rx_count;

	/* set by serial_realize() for its cleanup */
	struct board *board;
	struct io_bus *bus; /* ports on a PC, MMIO on arm64 */
	uint64_t base;
};

static bool dlab(const struct serial *s)
{
	return s->lcr & UART_LCR_DLAB;
}

/* Recomputes IIR by priority and pulses the GSI when the line goes up. Locked. */
static void update_irq(struct serial *s)
{
	uint8_t id = UART_IIR_NO_INT;
	bool level;

	if ((s->ier & UART_IER_RLSI) && (s->lsr_errors & UART_LSR_BRK_ERROR_BITS))
		id = UART_IIR_RLSI;
	else if ((s->ier & UART_IER_RDI) && s->rx_count)
		id = UART_IIR_RDI;
	else if ((s->ier & UART_IER_THRI) && s->thr_ipending)
		id = UART_IIR_THRI;
	else if ((s->ier & UART_IER_MSI) && (s->msr & UART_MSR_ANY_DELTA))
		id = UART_IIR_MSI;
	s->iir = id | ((s->fcr & UART_FCR_ENABLE_FIFO) ? IIR_FIFO_BITS : 0);

	/* In loopback the OUT2 pin is forced inactive, which disconnects the IRQ on a PC. */
	level = id != UART_IIR_NO_INT && (s->mcr & UART_MCR_OUT2) && !(s->mcr & UART_MCR_LOOP);
	if (level && !s->irq_level)
		irq_line_pulse(&s->irq);
	s->irq_level = level;
}

/* Modem inputs: wired to the outputs in loopback, otherwise a cable that is always ready. */
static uint8_t modem_lines(const struct serial *s)
{
	uint8_t lines = 0;

	if (!(s->mcr & UART_MCR_LOOP))
		return UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS;
	if (s->mcr & UART_MCR_DTR)
		lines |= UART_MSR_DSR;
	if (s->mcr & UART_MCR_RTS)
		lines |= UART_MSR_CTS;
	if (s->mcr & UART_MCR_OUT1)
		lines |= UART_MSR_RI;
	if (s->mcr & UART_MCR_OUT2)
		lines |= UART_MSR_DCD;
	return lines;
}

static void update_msr(struct serial *s)
{
	uint8_t now = modem_lines(s), before = s->msr & MSR_LINES;
	uint8_t delta = s->msr & UART_MSR_ANY_DELTA;

	if ((now ^ before) & UART_MSR_CTS)
		delta |= UART_MSR_DCTS;
	if ((now ^ before) & UART_MSR_DSR)
		delta |= UART_MSR_DDSR;
	if ((now ^ before) & UART_MSR_DCD)
		delta |= UART_MSR_DDCD;
	if ((before & UART_MSR_RI) && !(now & UART_MSR_RI))
		delta |= UART_MSR_TERI;
	s->msr = now | delta;
}

/* Appends to the receive FIFO; returns how many bytes fitted. Locked. */
/* overrun: a full FIFO loses the rest (the loopback line); otherwise the sender keeps it. */
static size_t rx_push(struct serial *s, const uint8_t *buf, size_t len, bool overrun)
{
	size_t n = 0;

	for (; n < len && s->rx_count < SERIAL_RX_FIFO_SIZE; n++, s->rx_count++)
		s->rx[(s->rx_head + s->rx_count) % SERIAL_RX_FIFO_SIZE] = buf[n];
	if (n < len && overrun)
		s->lsr_errors |= UART_LSR_OE;
	return n;
}

static uint8_t read_reg(struct serial *s, unsigned reg)
{
	uint8_t v;

	switch (reg) {
	case UART_RX:
		if (dlab(s))
			return s->dll;
		if (s->rx_count) {
			s->rbr = s->rx[s->rx_head];
			s->rx_head = (s->rx_head + 1) % SERIAL_RX_FIFO_SIZE;
			s->rx_count--;
			update_irq(s);
		}
		return s->rbr;
	case UART_IER:
		return dlab(s) ? s->dlm : s->ier;
	case UART_IIR:
		v = s->iir;
		if ((v & UART_IIR_ID) == UART_IIR_THRI) {
			s->thr_ipending = false;
			update_irq(s);
		}
		return v;
	case UART_LCR:
		return s->lcr;
	case UART_MCR:
		return s->mcr;
	case UART_LSR:
		v = s->lsr_errors | UART_LSR_THRE | UART_LSR_TEMT | (s->rx_count ? UART_LSR_DR : 0);
		if (s->lsr_errors) {
			s->lsr_errors = 0;
			update_irq(s);
		}
		return v;
	case UART_MSR:
		v = s->msr;
		if (v & UART_MSR_ANY_DELTA) {
			s->msr &= ~UART_MSR_ANY_DELTA;
			update_irq(s);
		}
		return v;
	default: /* UART_SCR */
		return s->scr;
	}
}

/* Returns true with *out set when the write transmits a byte to the host. */
static bool write_reg(struct serial *s, unsigned reg, uint8_t v, uint8_t *out)
{
	uint8_t changed;

	switch (reg) {
	case UART_TX:
		if (dlab(s)) {
			s->dll = v;
			return false;
		}
		/* The write clears THR-empty; the byte leaves at once and sets it again. */
		if (s->mcr & UART_MCR_LOOP)
			rx_push(s, &v, 1, true);
		else
			*out = v;
		s->thr_ipending = true;
		update_irq(s);
		return !(s->mcr & UART_MCR_LOOP);
	case UART_IER:
		if (dlab(s)) {
			s->dlm = v;
			return false;
		}
		v &= 0x0f;
		changed = s->ier ^ v;
		s->ier = v;
		/* Enabling THRI while THR is empty raises it even if IIR acknowledged it (QEMU). */
		if (changed & UART_IER_THRI)
			s->thr_ipending = v & UART_IER_THRI;
		update_irq(s);
		return false;
	case UART_FCR:
		if ((v ^ s->fcr) & UART_FCR_ENABLE_FIFO)
			v |= UART_FCR_CLEAR_RCVR | UART_FCR_CLEAR_XMIT;
		if (v & UART_FCR_CLEAR_RCVR) {
			s->rx_head = s->rx_count = 0;
			s->lsr_errors &= ~UART_LSR_BI;
		}
		if (v & UART_FCR_CLEAR_XMIT)
			s->thr_ipending = true;
		s->fcr = v & FCR_STORED;
		update_irq(s);
		return false;
	case UART_LCR:
		s->lcr = v;
		return false;
	case UART_MCR:
		s->mcr = v & 0x1f;
		update_msr(s);
		update_irq(s);
		return false;
	case UART_LSR:
	case UART_MSR:
		return false; /* factory test registers: writes ignored */
	default: /* UART_SCR */
		s->scr = v;
		return false;
	}
}

void serial_io(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write)
{
	struct serial *s = opaque;
	uint8_t out[8];
	size_t nout = 0;

	pthread_mutex_lock(&s->lock);
	for (unsigned i = 0; i < len && i < sizeof(out); i++) {
		unsigned reg = (unsigned)(offset + i) % SERIAL_NR_PORTS;

		if (!is_write)
			data[i] = read_reg(s, reg);
		else if (write_reg(s, reg, data[i], &out[nout]))
			nout++;
	}
	pthread_mutex_unlock(&s->lock);
	/* Outside the lock: a slow terminal must not block the input thread's serial_receive(). */
	if (nout && s->output)
		s->output(s->output_opaque, out, nout);
}

static size_t receive(struct serial *s, const uint8_t *buf, size_t len, bool overrun)
{
	size_t n = 0;

	pthread_mutex_lock(&s->lock);
	/* In loopback the receiver is disconnected from the line. */
	if (!(s->mcr & UART_MCR_LOOP) && len) {
		n = rx_push(s, buf, len, overrun);
		update_irq(s);
	}
	pthread_mutex_unlock(&s->lock);
	return n;
}

size_t serial_receive(struct serial *s, const uint8_t *buf, size_t len)
{
	return receive(s, buf, len, true);
}

size_t serial_offer(struct serial *s, const uint8_t *buf, size_t len)
{
	return receive(s, buf, len, false);
}

struct serial *serial_new(struct irq_line irq, serial_output_fn output, void *output_opaque)
{
	struct serial *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	pthread_mutex_init(&s->lock, NULL);
	s->irq = irq;
	s->output = output;
	s->output_opaque = output_opaque;
	s->dll = 0x0c; /* 9600 baud, as a BIOS would leave it */
	s->lcr = UART_LCR_WLEN8;
	s->msr = modem_lines(s);
	s->thr_ipending = false;
	s->iir = UART_IIR_NO_INT;
	return s;
}

void serial_free(struct serial *s)
{
	if (!s)
		return;
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* --- on a board --- */

static void console_output(void *opaque, const uint8_t *buf, size_t len)
{
	struct board *b = opaque;

	b->ops->console_write(b, buf, len);
}

static size_t console_input(void *opaque, const uint8_t *buf, size_t len)
{
	return serial_offer(opaque, buf, len); /* the console keeps what does not fit */
}

static void serial_destroy(void *opaque)
{
	struct serial *s = opaque;

	/* Unsetting waits for a delivery in progress, so s is unused after it. */
	s->board->ops->console_set_receiver(s->board, NULL, NULL);
	io_bus_unregister(s->bus, s->base, s);
	serial_free(s);
}

/* At the place's port, or at its MMIO address (one byte per register, as reg-shift 0). */
static int serial_realize(struct board *b, void *config, struct error *err)
{
	const struct board_device_place *at = config;
	struct serial *s = serial_new(irq_line_for_board(b, at->gsi), console_output, b);

	if (!s)
		return error_set(err, "serial at 0x%" PRIx64 ": out of memory", at->base);
	s->board = b;
	s->bus = at->mmio ? b->mmio : b->pio;
	s->base = at->base;
	if (io_bus_register(s->bus, s->base, SERIAL_NR_PORTS, serial_io, s, "serial", err)) {
		serial_free(s);
		return -1;
	}
	if (b->ops->add_cleanup(b, serial_destroy, s)) {
		io_bus_unregister(s->bus, s->base, s);
		serial_free(s);
		return error_set(err, "serial at 0x%" PRIx64 ": cannot register its teardown",
				 at->base);
	}
	b->ops->console_set_receiver(b, console_input, s);
	return 0;
}

static const struct device_type serial_type = {
	.name = "isa-serial",
	.kind = TYPE_BOARD,
	.realize = serial_realize,
};
DEVICE_TYPE_REGISTER(serial_type)
