/*
 * serial-8250: a 16550A UART (National Semiconductor PC16550D data sheet;
 * register use as in Linux drivers/tty/serial/8250/8250_port.c and the bit
 * names of include/uapi/linux/serial_reg.h).
 *
 * Transmission is instant: a byte written to THR goes straight to the
 * console, so THR and the transmitter are always empty (LSR THRE | TEMT)
 * and the THRE interrupt is pending again right after each write.  Input
 * bytes fill a 16-byte receive FIFO (1 byte with the FIFO off); the
 * console stops reading while it is full.  Received data raises the "RX
 * data available" interrupt at once (no trigger level, no timeout).
 *
 * The interrupt is an edge on the IOAPIC pin: the line goes high when an
 * enabled source becomes pending, low when none is, and each newly pending
 * source while the line is already high pulses it (low, then high) so
 * that the guest sees a new edge.
 *
 * Threading: vCPU threads call the register handlers, the console's input
 * thread calls the receive callbacks; one mutex guards the state.
 */
#include "machine/hw/serial.h"

#include <pthread.h>

#include "machine/fdt/builder.h"
#include "machine/hw/uart-regs.h"
#include "machine/kvm/iobus.h"
#include "machine/qom/context.h"
#include "machine/qom/error.h"
#include "machine/qom/property.h"
#include "machine/qom/resources.h"
#include "machine/x86/aml.h"

/* Receive FIFO depth of the 16550A. */
#define SERIAL_RX_FIFO  16

/* Interrupt sources, as a mask, for the edge logic. */
#define SRC_RDI     0x1
#define SRC_THRI    0x2
#define SRC_MSI     0x4

typedef struct Serial {
    DeviceState parent_obj;
    int64_t iobase;
    int64_t mmio_base;          /* 0: on the port I/O bus at iobase */
    int64_t irq;
    char *console_spec;

    const DeviceContext *ctx;
    Console *console;
    bool registered;

    /* Guards everything below.  A pthread mutex, not a GMutex, so that
     * ThreadSanitizer sees it. */
    pthread_mutex_t lock;
    uint8_t ier, lcr, mcr, msr, scr, fcr, dll, dlm;
    bool thr_ipending;          /* THRE interrupt latched */
    uint8_t rx[SERIAL_RX_FIFO];
    unsigned rx_head, rx_count;
    unsigned sources;           /* SRC_* pending and enabled */
    bool irq_level;
} Serial;

#define SERIAL(obj) OBJECT_CHECK(Serial, (obj), TYPE_SERIAL_8250)

/* The PC's COM1, where a UART is unless its machine says otherwise. */
#define SERIAL_COM1_PORT    0x3f8
#define SERIAL_COM1_IRQ     4

static const Property serial_props[] = {
    PROP_INT("iobase", Serial, iobase, SERIAL_COM1_PORT, 0,
             0x10000 - UART_REGS, "First of the UART's 8 I/O ports"),
    /* arm64 has no port I/O: the same registers, one byte apart
     * (reg-shift 0), at an MMIO address. */
    PROP_INT("mmio", Serial, mmio_base, 0, 0, (INT64_C(1) << 48) - UART_REGS,
             "MMIO address of the registers (0: port I/O at iobase)"),
    /* 987: the last GIC SPI (ID 1019) counted from 0. */
    PROP_INT("irq", Serial, irq, SERIAL_COM1_IRQ, 0, 987,
             "Interrupt line (x86: IOAPIC GSI; arm64: GIC SPI)"),
    PROP_STRING_CHECKED("console", Serial, console_spec, "stdio",
                        console_spec_check, "stdio|none|file:PATH",
                        "Where output goes and input comes from"),
    PROP_END,
};

/* --- State helpers (lock held) ------------------------------------------ */

static unsigned serial_rx_capacity(Serial *s)
{
    return (s->fcr & UART_FCR_ENABLE_FIFO) ? SERIAL_RX_FIFO : 1;
}

/* Bytes the receiver takes now: none in loopback, where the line is
 * disconnected from the outside. */
static unsigned serial_rx_room(Serial *s)
{
    if (s->mcr & UART_MCR_LOOP) {
        return 0;
    }
    return serial_rx_capacity(s) - s->rx_count;
}

static void serial_rx_push(Serial *s, uint8_t b)
{
    if (s->rx_count < serial_rx_capacity(s)) {
        s->rx[(s->rx_head + s->rx_count) % SERIAL_RX_FIFO] = b;
        s->rx_count++;
    }
}

static uint8_t serial_rx_pop(Serial *s)
{
    uint8_t b;

    if (s->rx_count == 0) {
        return 0;
    }
    b = s->rx[s->rx_head];
    s->rx_head = (s->rx_head + 1) % SERIAL_RX_FIFO;
    s->rx_count--;
    return b;
}

static void serial_rx_clear(Serial *s)
{
    s->rx_head = 0;
    s->rx_count = 0;
}

static unsigned serial_pending_sources(Serial *s)
{
    unsigned src = 0;

    if ((s->ier & UART_IER_RDI) && s->rx_count > 0) {
        src |= SRC_RDI;
    }
    if ((s->ier & UART_IER_THRI) && s->thr_ipending) {
        src |= SRC_THRI;
    }
    if ((s->ier & UART_IER_MSI) && (s->msr & UART_MSR_DELTAS)) {
        src |= SRC_MSI;
    }
    return src;
}

/* IIR: the highest-priority pending source (data sheet table 4). */
static uint8_t serial_iir(Serial *s)
{
    unsigned src = serial_pending_sources(s);
    uint8_t iir = (s->fcr & UART_FCR_ENABLE_FIFO) ? UART_IIR_FIFO : 0;

    if (src & SRC_RDI) {
        return iir | UART_IIR_RDI;
    }
    if (src & SRC_THRI) {
        return iir | UART_IIR_THRI;
    }
    if (src & SRC_MSI) {
        return iir | UART_IIR_MSI;
    }
    return iir | UART_IIR_NO_INT;
}

/* Drives the line after any change: a new edge for each new source. */
static void serial_update_irq(Serial *s)
{
    unsigned src = serial_pending_sources(s);
    unsigned fresh = src & ~s->sources;

    s->sources = src;
    if (!src) {
        if (s->irq_level) {
            s->irq_level = false;
            device_context_set_irq(s->ctx, (unsigned)DEVICE(s)->res.irq, false);
        }
        return;
    }
    if (fresh) {
        if (s->irq_level) {
            device_context_set_irq(s->ctx, (unsigned)DEVICE(s)->res.irq, false);
        }
        s->irq_level = true;
        device_context_set_irq(s->ctx, (unsigned)DEVICE(s)->res.irq, true);
    }
}

/* Modem status inputs: in loopback they mirror the MCR outputs (DTR->DSR,
 * RTS->CTS, OUT1->RI, OUT2->DCD), which Linux's autoconfig checks. */
static void serial_update_msr(Serial *s)
{
    uint8_t in = UART_MSR_IDLE;
    uint8_t old = s->msr;
    uint8_t changed;

    if (s->mcr & UART_MCR_LOOP) {
        in = ((s->mcr & UART_MCR_DTR) ? UART_MSR_DSR : 0) |
             ((s->mcr & UART_MCR_RTS) ? UART_MSR_CTS : 0) |
             ((s->mcr & UART_MCR_OUT1) ? UART_MSR_RI : 0) |
             ((s->mcr & UART_MCR_OUT2) ? UART_MSR_DCD : 0);
    }
    changed = (uint8_t)(old ^ in);
    s->msr = (uint8_t)((old & UART_MSR_DELTAS) | in);
    if (changed & UART_MSR_CTS) {
        s->msr |= UART_MSR_DCTS;
    }
    if (changed & UART_MSR_DSR) {
        s->msr |= UART_MSR_DDSR;
    }
    if ((old & UART_MSR_RI) && !(in & UART_MSR_RI)) {
        s->msr |= UART_MSR_TERI;   /* trailing edge of ring */
    }
    if (changed & UART_MSR_DCD) {
        s->msr |= UART_MSR_DDCD;
    }
}

/* --- Guest accesses ------------------------------------------------------ */

static uint64_t serial_read(void *opaque, uint64_t offset, unsigned size)
{
    Serial *s = opaque;
    bool was_full, wake;
    uint8_t v = 0;

    pthread_mutex_lock(&s->lock);
    was_full = serial_rx_room(s) == 0;
    switch (offset) {
    case UART_RX:
        v = (s->lcr & UART_LCR_DLAB) ? s->dll : serial_rx_pop(s);
        break;
    case UART_IER:
        v = (s->lcr & UART_LCR_DLAB) ? s->dlm : s->ier;
        break;
    case UART_IIR:
        v = serial_iir(s);
        /* Reading IIR while it reports THRE clears that interrupt. */
        if ((v & 0x0f) == UART_IIR_THRI) {
            s->thr_ipending = false;
        }
        break;
    case UART_LCR:
        v = s->lcr;
        break;
    case UART_MCR:
        v = s->mcr;
        break;
    case UART_LSR:
        v = UART_LSR_THRE | UART_LSR_TEMT |
            (s->rx_count > 0 ? UART_LSR_DR : 0);
        break;
    case UART_MSR:
        v = s->msr;
        s->msr &= (uint8_t)~UART_MSR_DELTAS;
        break;
    case UART_SCR:
        v = s->scr;
        break;
    }
    serial_update_irq(s);
    wake = was_full && serial_rx_room(s) > 0;
    pthread_mutex_unlock(&s->lock);
    if (wake) {
        console_accept_input(s->console);
    }
    return v;
}

static void serial_write(void *opaque, uint64_t offset, uint64_t value,
                         unsigned size)
{
    Serial *s = opaque;
    uint8_t v = (uint8_t)value;
    bool was_full, wake, transmit = false;

    pthread_mutex_lock(&s->lock);
    was_full = serial_rx_room(s) == 0;
    switch (offset) {
    case UART_TX:
        if (s->lcr & UART_LCR_DLAB) {
            s->dll = v;
            break;
        }
        if (s->mcr & UART_MCR_LOOP) {
            serial_rx_push(s, v);
        } else {
            transmit = true;
        }
        /* Sent at once: THR is empty again, a new THRE interrupt. */
        s->thr_ipending = false;
        serial_update_irq(s);
        s->thr_ipending = true;
        break;
    case UART_IER:
        if (s->lcr & UART_LCR_DLAB) {
            s->dlm = v;
            break;
        }
        /* Enabling THRI while THR is empty raises THRE (Linux's startup
         * checks this: UART_BUG_TXEN, UART_BUG_THRE). */
        if ((v & UART_IER_THRI) && !(s->ier & UART_IER_THRI)) {
            s->thr_ipending = true;
        }
        s->ier = v & UART_IER_MASK;
        break;
    case UART_FCR:
        if ((v ^ s->fcr) & UART_FCR_ENABLE_FIFO) {
            serial_rx_clear(s);    /* switching FIFOs resets them */
        }
        if (v & UART_FCR_CLEAR_RCVR) {
            serial_rx_clear(s);
        }
        s->fcr = v & UART_FCR_KEEP;
        break;
    case UART_LCR:
        s->lcr = v;
        break;
    case UART_MCR:
        s->mcr = v & UART_MCR_MASK;
        serial_update_msr(s);
        break;
    case UART_LSR:
    case UART_MSR:
        break;                      /* read-only (factory test) */
    case UART_SCR:
        s->scr = v;
        break;
    }
    serial_update_irq(s);
    wake = was_full && serial_rx_room(s) > 0;
    pthread_mutex_unlock(&s->lock);
    if (transmit) {
        console_write(s->console, &v, 1);
    }
    if (wake) {
        console_accept_input(s->console);
    }
}

/* --- Console input (console thread) -------------------------------------- */

static size_t serial_can_receive(void *opaque)
{
    Serial *s = opaque;
    size_t room;

    pthread_mutex_lock(&s->lock);
    room = serial_rx_room(s);
    pthread_mutex_unlock(&s->lock);
    return room;
}

static size_t serial_receive(void *opaque, const uint8_t *buf, size_t len)
{
    Serial *s = opaque;
    size_t n;

    pthread_mutex_lock(&s->lock);
    n = MIN(len, serial_rx_room(s));
    for (size_t i = 0; i < n; i++) {
        serial_rx_push(s, buf[i]);
    }
    serial_update_irq(s);
    pthread_mutex_unlock(&s->lock);
    return n;
}

/* --- Device -------------------------------------------------------------- */

void serial_set_console(DeviceState *dev, Console *console)
{
    Serial *s = SERIAL(dev);

    g_assert(!dev->realized);
    console_free(s->console);
    s->console = console;
}

static void serial_reset(Serial *s)
{
    s->ier = 0;
    s->lcr = 0;
    s->mcr = 0;
    s->msr = UART_MSR_IDLE;
    s->scr = 0;
    s->fcr = 0;
    s->dll = 12;                    /* 9600 baud from 1.8432 MHz */
    s->dlm = 0;
    s->thr_ipending = false;
    serial_rx_clear(s);
    s->sources = 0;
    s->irq_level = false;
}

static IoBus *serial_bus(Serial *s)
{
    return DEVICE(s)->res.mmio_size ? s->ctx->mmio_bus : s->ctx->pio_bus;
}

static uint64_t serial_addr(Serial *s)
{
    const DeviceResources *res = &DEVICE(s)->res;

    return res->mmio_size ? res->mmio_base : res->pio_base;
}

/* Where the machine placed the UART (its properties): registers and
 * interrupt line. */
static bool serial_assign_resources(DeviceState *dev, ResourceAllocator *alloc,
                                    GError **errp)
{
    Serial *s = SERIAL(dev);
    bool placed = s->mmio_base
        ? resource_take_fixed_mmio(alloc, &dev->res, (uint64_t)s->mmio_base,
                                   UART_REGS, errp)
        : resource_take_fixed_pio(alloc, &dev->res, (uint32_t)s->iobase,
                                  UART_REGS, errp);

    return placed &&
           resource_take_fixed_irq(alloc, &dev->res, (int)s->irq, errp);
}

static void serial_unrealize(DeviceState *dev)
{
    Serial *s = SERIAL(dev);

    if (s->registered) {
        iobus_unregister(serial_bus(s), serial_addr(s));
        s->registered = false;
    }
    /* Joins the input thread and restores the terminal. */
    console_free(s->console);
    s->console = NULL;
}

static bool serial_realize(DeviceState *dev, const DeviceContext *ctx,
                           GError **errp)
{
    Serial *s = SERIAL(dev);
    const char *name = dev->id ? dev->id : TYPE_SERIAL_8250;

    s->ctx = ctx;
    if (!serial_bus(s) || !ctx->run_end) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    dev->res.mmio_size ? "needs a machine with an MMIO bus"
                                 : "needs a machine with a port I/O bus");
        return false;
    }
    serial_reset(s);
    if (!s->console) {
        s->console = console_open(s->console_spec, ctx->rebooted,
                                  ctx->run_end, errp);
        if (!s->console) {
            return false;
        }
    }
    if (!iobus_register(serial_bus(s), serial_addr(s), UART_REGS,
                        name, serial_read, serial_write, s, errp)) {
        goto fail;
    }
    s->registered = true;
    /* `vmspec console NAME` attaches here, whatever the console kind.
     * Each boot of a run serves it afresh (a reboot unrealizes us, which
     * closes it and drops its clients). */
    if (ctx->runtime_prefix) {
        g_autofree char *path = g_strconcat(ctx->runtime_prefix,
                                            CONSOLE_SOCKET_SUFFIX, NULL);

        if (!console_serve(s->console, path, errp)) {
            goto fail;
        }
    }
    if (!console_start_input(s->console, serial_can_receive, serial_receive,
                             s, errp)) {
        goto fail;
    }
    return true;

fail:
    serial_unrealize(dev);
    return false;
}

/*
 * Device(COM1) in the DSDT.  A hardware-reduced ACPI guest wires the UART's
 * interrupt from here (Linux 8250_pnp matches PNP0501):
 * _CRS { IO(Decode16, base, base, 1, 8), Interrupt(edge, high, excl) }.
 */
static void serial_acpi_aml(DeviceState *dev, Aml *scope)
{
    /* The PC's COM1-COM4 ports; _UID is the COM number - 1. */
    static const uint16_t com_ports[] = { 0x3f8, 0x2f8, 0x3e8, 0x2e8 };
    uint16_t port = (uint16_t)dev->res.pio_base;
    unsigned uid = G_N_ELEMENTS(com_ports);
    char name[5];

    for (unsigned i = 0; i < G_N_ELEMENTS(com_ports); i++) {
        if (port == com_ports[i]) {
            uid = i;
        }
    }
    if (uid < G_N_ELEMENTS(com_ports)) {
        g_snprintf(name, sizeof(name), "COM%u", uid + 1);
    } else {
        /* Elsewhere: a name and _UID of its own from the port. */
        uid = port;
        g_snprintf(name, sizeof(name), "S%03X", (unsigned)port >> 4);
    }
    aml_device_begin(scope, name);
    aml_name_eisaid(scope, "_HID", "PNP0501");
    aml_name_int(scope, "_UID", uid);
    aml_name(scope, "_CRS");
    aml_resource_template_begin(scope);
    aml_io(scope, true, port, port, 1, UART_REGS);
    aml_interrupt(scope, AML_EDGE, AML_ACTIVE_HIGH, AML_EXCLUSIVE,
                  (uint32_t)dev->res.irq);
    aml_end(scope);
    aml_end(scope);
}

/*
 * The UART in the device tree, as Linux's of_serial driver reads it
 * (Documentation/devicetree/bindings/serial/8250.yaml): "ns16550a", byte
 * registers (reg-shift 0), the 1.8432 MHz clock that makes divisor 1 =
 * 115200 baud, a level-high SPI.
 */
static void serial_fdt_node(DeviceState *dev, FdtBuilder *b)
{
    if (!dev->res.mmio_size) {
        return;
    }
    fdt_builder_begin_node_at(b, "serial", dev->res.mmio_base);
    fdt_builder_prop_string(b, "compatible", "ns16550a");
    fdt_builder_prop_reg(b, dev->res.mmio_base, 0x1000);
    fdt_builder_prop_u32(b, "clock-frequency", SERIAL_CLOCK_HZ);
    fdt_builder_prop_spi(b, (uint32_t)dev->res.irq, FDT_IRQ_LEVEL_HIGH);
    fdt_builder_end_node(b);
}

static void serial_instance_init(Object *obj)
{
    pthread_mutex_init(&SERIAL(obj)->lock, NULL);
}

static void serial_instance_finalize(Object *obj)
{
    Serial *s = SERIAL(obj);

    console_free(s->console);      /* one set but never realized */
    pthread_mutex_destroy(&s->lock);
}

static void serial_class_init(ObjectClass *oc, const void *data)
{
    DeviceClass *dc = DEVICE_CLASS(oc);

    oc->props = serial_props;
    dc->spec_list = NULL;           /* created by the machine, not specs */
    dc->assign_resources = serial_assign_resources;
    dc->realize = serial_realize;
    dc->unrealize = serial_unrealize;
    dc->acpi_aml = serial_acpi_aml;
    dc->fdt_node = serial_fdt_node;
}

static const TypeInfo serial_info = {
    .name = TYPE_SERIAL_8250,
    .parent = TYPE_DEVICE,
    .description = "16550A UART (the console), created by the machine",
    .instance_size = sizeof(Serial),
    .instance_init = serial_instance_init,
    .instance_finalize = serial_instance_finalize,
    .class_init = serial_class_init,
};

static void serial_register_types(void)
{
    type_register_static(&serial_info);
}

type_init(serial_register_types)
