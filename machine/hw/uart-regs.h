/*
 * The 16550A's register map: offsets from the UART's base and their bits
 * (National Semiconductor PC16550D data sheet; the names of Linux
 * include/uapi/linux/serial_reg.h).  For serial.c and its tests.
 */
#ifndef VMSPEC_HW_UART_REGS_H
#define VMSPEC_HW_UART_REGS_H

/* Register offsets (serial_reg.h). */
#define UART_RX     0       /* read: receive buffer (DLAB 0) */
#define UART_TX     0       /* write: transmit holding (DLAB 0) */
#define UART_DLL    0       /* divisor latch low (DLAB 1) */
#define UART_IER    1       /* interrupt enable (DLAB 0) */
#define UART_DLM    1       /* divisor latch high (DLAB 1) */
#define UART_IIR    2       /* read: interrupt identification */
#define UART_FCR    2       /* write: FIFO control */
#define UART_LCR    3
#define UART_MCR    4
#define UART_LSR    5
#define UART_MSR    6
#define UART_SCR    7
#define UART_REGS   8
/* The PC UART's crystal: divisor 1 is 115200 baud (1843200 / 16). */
#define SERIAL_CLOCK_HZ 1843200

#define UART_IER_RDI    0x01    /* received data available */
#define UART_IER_THRI   0x02    /* transmit holding register empty */
#define UART_IER_RLSI   0x04    /* receiver line status */
#define UART_IER_MSI    0x08    /* modem status */
#define UART_IER_MASK   0x0f    /* the 16550A has only these */

#define UART_IIR_NO_INT 0x01
#define UART_IIR_MSI    0x00
#define UART_IIR_THRI   0x02
#define UART_IIR_RDI    0x04
#define UART_IIR_FIFO   0xc0    /* both set: a 16550A with FIFOs on */

#define UART_FCR_ENABLE_FIFO    0x01
#define UART_FCR_CLEAR_RCVR     0x02
#define UART_FCR_CLEAR_XMIT     0x04
#define UART_FCR_KEEP           0xc9    /* enable, DMA mode, trigger */

#define UART_LCR_DLAB   0x80

#define UART_MCR_DTR    0x01
#define UART_MCR_RTS    0x02
#define UART_MCR_OUT1   0x04
#define UART_MCR_OUT2   0x08
#define UART_MCR_LOOP   0x10
#define UART_MCR_MASK   0x1f

#define UART_LSR_DR     0x01
#define UART_LSR_THRE   0x20
#define UART_LSR_TEMT   0x40

#define UART_MSR_DCTS   0x01
#define UART_MSR_DDSR   0x02
#define UART_MSR_TERI   0x04
#define UART_MSR_DDCD   0x08
#define UART_MSR_DELTAS 0x0f
#define UART_MSR_CTS    0x10
#define UART_MSR_DSR    0x20
#define UART_MSR_RI     0x40
#define UART_MSR_DCD    0x80
/* Outside loopback the far end is always there and ready. */
#define UART_MSR_IDLE   (UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS)

#endif
