/*
 * serial-8250 driven through the port-I/O bus as a vCPU would: Linux's
 * 8250 autoconfig probe, the divisor latch, transmission into a console
 * file, the THRE and RX interrupts (with their edges), and receiving from
 * a real console input thread fed through a pipe, with backpressure.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <libfdt.h>

#include "machine/backend/console.h"
#include "machine/fdt/builder.h"
#include "machine/kvm/iobus.h"
#include "machine/hw/serial.h"
#include "machine/qom/error.h"
#include "machine/qom/property.h"
#include "tests/unit/hw-test-machine.h"

#define BASE 0x3f8
#define IRQ 4

/* Register offsets and bits, from Linux include/uapi/linux/serial_reg.h. */
#define RX 0
#define TX 0
#define DLL 0
#define IER 1
#define DLM 1
#define IIR 2
#define FCR 2
#define EFR 2
#define LCR 3
#define MCR 4
#define LSR 5
#define MSR 6
#define SCR 7

typedef struct {
    HwTestMachine *m;
    DeviceState *dev;
    char *dir;
    char *out_path;
    int pipe_w;                 /* test writes console input here */
    int pipe_r;                 /* the console reads it */
} Fixture;

/* A UART whose output goes to a temp file (console file:PATH). */
static void fixture_file(Fixture *f, gconstpointer data)
{
    GError *err = NULL;
    g_autofree char *spec = NULL;

    f->dir = g_dir_make_tmp("test-serial-XXXXXX", &err);
    g_assert_no_error(err);
    f->out_path = g_build_filename(f->dir, "console.log", NULL);
    spec = g_strdup_printf("file:%s", f->out_path);
    f->m = hw_test_machine_new();
    f->dev = hw_test_add(f->m, TYPE_SERIAL_8250, "serial0");
    g_assert_true(object_property_set_str(OBJECT(f->dev), "console", spec,
                                          &err));
    g_assert_no_error(err);
    f->pipe_r = f->pipe_w = -1;
    hw_test_realize(f->dev);
}

/* A UART fed by a console reading a pipe (not a terminal: plain input). */
static void fixture_pipe(Fixture *f, gconstpointer data)
{
    GError *err = NULL;
    int fds[2];
    Console *c;

    g_assert_cmpint(pipe2(fds, O_CLOEXEC), ==, 0);
    f->pipe_r = fds[0];
    f->pipe_w = fds[1];
    f->m = hw_test_machine_new();
    f->dev = hw_test_add(f->m, TYPE_SERIAL_8250, "serial0");
    c = console_open_fds(f->pipe_r, -1, f->m->parent_obj.run_end, &err);
    g_assert_no_error(err);
    serial_set_console(f->dev, c);
    hw_test_realize(f->dev);
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
    object_unref(OBJECT(f->m));     /* unrealizes: joins the thread */
    if (f->pipe_r >= 0) {
        close(f->pipe_r);
        close(f->pipe_w);
    }
    if (f->out_path) {
        g_unlink(f->out_path);
        g_rmdir(f->dir);
    }
    g_free(f->out_path);
    g_free(f->dir);
}

static uint8_t in(Fixture *f, unsigned reg)
{
    return hw_inb(f->m, BASE + reg);
}

static void out(Fixture *f, unsigned reg, uint8_t v)
{
    hw_outb(f->m, BASE + reg, v);
}

/* Linux 8250_port.c autoconfig() and autoconfig_16550a(), in order: the
 * port must come out as a PORT_16550A. */
static void test_autoconfig(Fixture *f, gconstpointer data)
{
    uint8_t save, scratch2, scratch3;

    /* IER: only the low four bits exist. */
    save = in(f, IER);
    out(f, IER, 0);
    scratch2 = in(f, IER) & 0x0f;
    out(f, IER, 0x0f);
    scratch3 = in(f, IER) & 0x0f;
    out(f, IER, save);
    g_assert_cmphex(scratch2, ==, 0);
    g_assert_cmphex(scratch3, ==, 0x0f);

    /* Loopback: MSR mirrors MCR (RTS -> CTS, OUT2 -> DCD). */
    save = in(f, MCR);
    out(f, MCR, 0x10 | 0x0a);
    g_assert_cmphex(in(f, MSR) & 0xf0, ==, 0x90);
    out(f, MCR, 0x10 | 0x05);       /* DTR -> DSR, OUT1 -> RI */
    g_assert_cmphex(in(f, MSR) & 0xf0, ==, 0x60);
    out(f, MCR, save);
    g_assert_cmphex(in(f, MSR) & 0xf0, ==, 0xb0);   /* DCD DSR CTS */

    /* Scratch register. */
    out(f, SCR, 0xa5);
    g_assert_cmphex(in(f, SCR), ==, 0xa5);
    out(f, SCR, 0x5a);
    g_assert_cmphex(in(f, SCR), ==, 0x5a);

    /* Clear a possible EFR (same offset as FCR, behind LCR 0xbf), then
     * FIFO: IIR bits 7:6 both set once FCR enables it -> 16550A. */
    out(f, LCR, 0xbf);
    out(f, EFR, 0);
    out(f, LCR, 0);
    g_assert_cmphex(in(f, IIR) >> 6, ==, 0);        /* a 16450 until then */
    out(f, FCR, 0x01);
    g_assert_cmphex(in(f, IIR) >> 6, ==, 3);

    /* autoconfig_16550a: no EFR behind LCR 0x80 / 0xbf (IIR reads back,
     * nonzero), so not a 16650. */
    out(f, LCR, 0x80);
    g_assert_cmphex(in(f, EFR), !=, 0);
    out(f, LCR, 0xbf);
    g_assert_cmphex(in(f, EFR), !=, 0);
    /* Not a National Semiconductor SuperIO: "EXCR1" behind LCR 0xe0 (IIR
     * here) does not follow MCR's LOOP bit. */
    out(f, LCR, 0);
    uint8_t mcr = in(f, MCR);
    out(f, LCR, 0xe0);
    uint8_t excr1 = in(f, 2);
    g_assert_cmphex((excr1 ^ mcr) & 0x10, ==, 0);
    out(f, LCR, 0);
    out(f, MCR, mcr ^ 0x10);
    out(f, LCR, 0xe0);
    excr1 = in(f, 2);
    out(f, LCR, 0);
    out(f, MCR, mcr);
    g_assert_cmphex((excr1 ^ mcr) & 0x10, ==, 0);
    /* Not a TI16750: IIR >> 5 is 6, not 7, with FCR bit 5, DLAB or not. */
    out(f, FCR, 0x21);
    g_assert_cmphex(in(f, IIR) >> 5, ==, 6);
    out(f, FCR, 0x01);
    out(f, LCR, 0x80);
    out(f, FCR, 0x21);
    g_assert_cmphex(in(f, IIR) >> 5, ==, 6);
    out(f, FCR, 0x01);
    out(f, LCR, 0);
    /* Not an XScale: IER bit 6 (UUE) does not stick. */
    out(f, IER, 0x40);
    g_assert_cmphex(in(f, IER) & 0x40, ==, 0);
    out(f, IER, 0);

    /* Idle: transmitter empty, no data, no interrupt. */
    g_assert_cmphex(in(f, LSR), ==, 0x60);
    g_assert_cmphex(in(f, IIR), ==, 0xc1);
    g_assert_false(hw_irq_level(f->m, IRQ));
}

static void test_divisor_latch(Fixture *f, gconstpointer data)
{
    out(f, IER, 0x05);
    out(f, LCR, 0x83);              /* DLAB, 8N1 */
    out(f, DLL, 0x01);              /* 115200 baud */
    out(f, DLM, 0x02);
    g_assert_cmphex(in(f, DLL), ==, 0x01);
    g_assert_cmphex(in(f, DLM), ==, 0x02);
    g_assert_cmphex(in(f, LCR), ==, 0x83);
    out(f, LCR, 0x03);
    g_assert_cmphex(in(f, IER), ==, 0x05);  /* IER untouched */
    g_assert_cmphex(in(f, LCR), ==, 0x03);
    out(f, LCR, 0x83);
    g_assert_cmphex(in(f, DLM), ==, 0x02);
    out(f, LCR, 0x03);
}

static void test_transmit(Fixture *f, gconstpointer data)
{
    static const char msg[] = "Linux version 6.1\r\n";
    g_autofree char *text = NULL;
    GError *err = NULL;
    size_t len;

    for (size_t i = 0; i < strlen(msg); i++) {
        g_assert_cmphex(in(f, LSR) & 0x20, ==, 0x20);
        out(f, TX, (uint8_t)msg[i]);
    }
    /* In loopback the byte comes back instead of leaving. */
    out(f, MCR, 0x10);
    out(f, TX, 'Z');
    g_assert_cmphex(in(f, LSR) & 0x01, ==, 0x01);
    g_assert_cmphex(in(f, RX), ==, 'Z');
    g_assert_cmphex(in(f, LSR) & 0x01, ==, 0);
    out(f, MCR, 0);
    /* Unbuffered: already in the file. */
    g_assert_true(g_file_get_contents(f->out_path, &text, &len, &err));
    g_assert_no_error(err);
    g_assert_cmpstr(text, ==, msg);
}

/* A guest reboot with on_reboot: restart realizes the machine again: the
 * console file keeps the first boot's output (a crash before a reboot is
 * what one looks for), where a new run starts it afresh. */
static void test_reboot_appends(Fixture *f, gconstpointer data)
{
    g_autofree char *text = NULL;

    out(f, TX, '1');
    device_unrealize(f->dev);
    f->m->parent_obj.boots++;
    hw_test_realize(f->dev);
    out(f, TX, '2');
    g_assert_true(g_file_get_contents(f->out_path, &text, NULL, NULL));
    g_assert_cmpstr(text, ==, "12");
}

static void test_thre_interrupt(Fixture *f, gconstpointer data)
{
    out(f, FCR, 0x01);
    g_assert_false(hw_irq_level(f->m, IRQ));
    /* Enabling THRI with THR empty raises THRE at once. */
    out(f, IER, 0x02);
    g_assert_true(hw_irq_level(f->m, IRQ));
    g_assert_cmpuint(hw_irq_rising(f->m, IRQ), ==, 1);
    /* Reading IIR while it says THRE clears it. */
    g_assert_cmphex(in(f, IIR), ==, 0xc2);
    g_assert_false(hw_irq_level(f->m, IRQ));
    g_assert_cmphex(in(f, IIR), ==, 0xc1);
    /* Each byte sent makes THR empty again: a new edge. */
    out(f, TX, 'a');
    g_assert_true(hw_irq_level(f->m, IRQ));
    g_assert_cmpuint(hw_irq_rising(f->m, IRQ), ==, 2);
    out(f, TX, 'b');                /* pending again, still a new edge */
    g_assert_cmpuint(hw_irq_rising(f->m, IRQ), ==, 3);
    /* Disabling it drops the line; Linux's UART_BUG_THRE test: off, on,
     * and IIR must say THRE again. */
    out(f, IER, 0);
    g_assert_false(hw_irq_level(f->m, IRQ));
    out(f, IER, 0x02);
    g_assert_cmphex(in(f, IIR), ==, 0xc2);
    out(f, IER, 0);
    g_assert_cmphex(in(f, IIR), ==, 0xc1);
    g_assert_false(hw_irq_level(f->m, IRQ));
}

static void write_all(int fd, const void *buf, size_t len)
{
    g_assert_cmpint(write(fd, buf, len), ==, (ssize_t)len);
}

/* Waits up to 5 s for LSR.DR. */
static bool wait_data(Fixture *f)
{
    for (int i = 0; i < 5000; i++) {
        if (in(f, LSR) & 0x01) {
            return true;
        }
        g_usleep(1000);
    }
    return false;
}

static void test_receive(Fixture *f, gconstpointer data)
{
    char got[4] = { 0 };

    out(f, FCR, 0x07);              /* FIFO on, both cleared */
    out(f, IER, 0x01);              /* RX data available */
    g_assert_false(hw_irq_level(f->m, IRQ));
    write_all(f->pipe_w, "abc", 3);
    g_assert_true(hw_irq_wait(f->m, IRQ, true));
    g_assert_cmphex(in(f, IIR), ==, 0xc4);
    for (int i = 0; i < 3; i++) {
        g_assert_true(wait_data(f));
        got[i] = (char)in(f, RX);
    }
    g_assert_cmpstr(got, ==, "abc");
    g_assert_cmphex(in(f, LSR) & 0x01, ==, 0);
    g_assert_false(hw_irq_level(f->m, IRQ));
    g_assert_cmphex(in(f, IIR), ==, 0xc1);

    /* RX outranks THRE in IIR; the second source is a new edge. */
    out(f, IER, 0x03);
    unsigned edges = hw_irq_rising(f->m, IRQ);
    write_all(f->pipe_w, "d", 1);
    g_assert_true(wait_data(f));
    for (int i = 0; i < 5000 && hw_irq_rising(f->m, IRQ) == edges; i++) {
        g_usleep(1000);
    }
    g_assert_cmpuint(hw_irq_rising(f->m, IRQ), ==, edges + 1);
    g_assert_cmphex(in(f, IIR), ==, 0xc4);
    g_assert_cmphex(in(f, RX), ==, 'd');
    g_assert_cmphex(in(f, IIR), ==, 0xc2);
    g_assert_cmphex(in(f, IIR), ==, 0xc1);
    g_assert_false(hw_irq_level(f->m, IRQ));
    /* EOF on a pipe is no reason to stop the VM. */
    g_assert_cmpint(run_end_get(f->m->parent_obj.run_end, NULL), ==,
                    RUN_END_NONE);
}

static int pipe_unread(int fd)
{
    int n = -1;

    g_assert_cmpint(ioctl(fd, FIONREAD, &n), ==, 0);
    return n;
}

/* A full FIFO leaves the rest in the pipe; nothing is lost. */
static void test_backpressure(Fixture *f, gconstpointer data)
{
    enum { N = 100 };
    uint8_t buf[N];
    unsigned got = 0;

    for (unsigned i = 0; i < N; i++) {
        buf[i] = (uint8_t)(i * 7 + 1);
    }
    out(f, FCR, 0x01);
    write_all(f->pipe_w, buf, N);
    /* The console takes what fits in the 16-byte FIFO and stops. */
    for (int i = 0; i < 5000 && pipe_unread(f->pipe_r) > N - 16; i++) {
        g_usleep(1000);
    }
    g_usleep(50 * 1000);
    g_assert_cmpint(pipe_unread(f->pipe_r), ==, N - 16);

    while (got < N) {
        g_assert_true(wait_data(f));
        g_assert_cmphex(in(f, RX), ==, buf[got]);
        got++;
    }
    g_assert_cmpint(pipe_unread(f->pipe_r), ==, 0);
    g_assert_cmphex(in(f, LSR) & 0x01, ==, 0);

    /* With the FIFO off the receiver holds one byte. */
    out(f, FCR, 0x00);
    write_all(f->pipe_w, "xy", 2);
    g_assert_true(wait_data(f));
    g_usleep(50 * 1000);
    g_assert_cmpint(pipe_unread(f->pipe_r), ==, 1);
    g_assert_cmphex(in(f, RX), ==, 'x');
    g_assert_true(wait_data(f));
    g_assert_cmphex(in(f, RX), ==, 'y');
}

typedef struct {
    int fd;
    const uint8_t *buf;
    size_t len;
} Feeder;

/* Writes everything; blocks while the pipe is full (the console is not
 * reading because the FIFO is full). */
static gpointer feeder_thread(gpointer opaque)
{
    Feeder *fe = opaque;

    for (size_t off = 0; off < fe->len;) {
        ssize_t n = write(fe->fd, fe->buf + off, fe->len - off);

        g_assert_cmpint(n, >, 0);
        off += (size_t)n;
    }
    return NULL;
}

/*
 * A stream larger than the pipe: a writer thread blocks on the pipe, the
 * console thread refills the FIFO as the "vCPU" (this thread) drains it
 * the way Linux's interrupt handler does (IIR, then RBR while LSR.DR)
 * and transmits between batches.  Every byte arrives, in order.
 */
static void test_receive_stream(Fixture *f, gconstpointer data)
{
    enum { N = 256 * 1024 };
    g_autofree uint8_t *buf = g_malloc(N);
    Feeder fe = { .fd = f->pipe_w, .buf = buf, .len = N };
    GThread *writer;
    size_t got = 0;
    gint64 end = g_get_monotonic_time() + 60 * G_TIME_SPAN_SECOND;

    for (size_t i = 0; i < N; i++) {
        buf[i] = (uint8_t)(i ^ (i >> 8));
    }
    out(f, FCR, 0x07);
    out(f, IER, 0x03);
    writer = g_thread_new("feeder", feeder_thread, &fe);
    while (got < N) {
        g_assert_cmpint(g_get_monotonic_time(), <, end);
        (void)in(f, IIR);
        while (got < N && (in(f, LSR) & 0x01)) {
            uint8_t b = in(f, RX);

            if (b != buf[got]) {
                g_assert_cmphex(b, ==, buf[got]);
            }
            got++;
        }
        out(f, TX, 0);              /* console none: discarded */
    }
    g_thread_join(writer);
    g_assert_cmpint(pipe_unread(f->pipe_r), ==, 0);
}

/* MSR deltas raise the modem-status interrupt; reading MSR clears them. */
static void test_modem_status(Fixture *f, gconstpointer data)
{
    out(f, IER, 0x08);
    g_assert_false(hw_irq_level(f->m, IRQ));
    out(f, MCR, 0x10);              /* loopback, all outputs off */
    g_assert_true(hw_irq_level(f->m, IRQ));
    g_assert_cmphex(in(f, IIR), ==, 0x00);
    g_assert_cmphex(in(f, MSR), ==, 0x0b);  /* DCTS DDSR DDCD */
    g_assert_false(hw_irq_level(f->m, IRQ));
    g_assert_cmphex(in(f, IIR), ==, 0x01);
    out(f, MCR, 0);
}

static void test_properties(void)
{
    g_autoptr(Object) dev = object_new(TYPE_SERIAL_8250);
    GError *err = NULL;
    g_autofree char *iobase = object_property_get_str(dev, "iobase");
    g_autofree char *irq = object_property_get_str(dev, "irq");
    g_autofree char *console = object_property_get_str(dev, "console");

    g_assert_cmpstr(iobase, ==, "1016");
    g_assert_cmpstr(irq, ==, "4");
    g_assert_cmpstr(console, ==, "stdio");
    g_assert_null(DEVICE_GET_CLASS(dev)->spec_list);
    g_assert_false(object_property_set_str(dev, "console", "tcp:1", &err));
    g_assert_error(err, VMSPEC_ERROR, VMSPEC_ERROR_INVALID);
    g_clear_error(&err);
    g_assert_false(object_property_set_str(dev, "console", "file:", &err));
    g_clear_error(&err);
    g_assert_true(object_property_set_str(dev, "console", "none", &err));
    /* x86 GSIs and arm64 SPIs: up to the GIC's last SPI. */
    g_assert_true(object_property_set_str(dev, "irq", "987", &err));
    g_assert_false(object_property_set_str(dev, "irq", "988", &err));
    g_clear_error(&err);
}

/* arm64: the same registers on the MMIO bus, and its device tree node. */
static void test_mmio(void)
{
    g_autoptr(Object) m = OBJECT(hw_test_machine_new());
    DeviceState *dev = hw_test_add(HW_TEST_MACHINE(m), TYPE_SERIAL_8250,
                                   "serial0");
    MachineState *ms = MACHINE(m);
    const uint64_t base = 0x9000000;
    GError *err = NULL;
    FdtBuilder b;
    g_autoptr(GBytes) dtb = NULL;
    const void *fdt;
    const fdt32_t *cells;
    uint8_t v;
    int node, len;

    g_assert_true(object_property_set_str(OBJECT(dev), "console", "none",
                                          &err));
    g_assert_true(object_property_set_str(OBJECT(dev), "mmio", "0x9000000",
                                          &err));
    g_assert_true(object_property_set_str(OBJECT(dev), "irq", "1", &err));
    g_assert_no_error(err);
    hw_test_realize(dev);
    /* Nothing on the ports; scratch and LSR answer at the MMIO address. */
    g_assert_false(iobus_read(ms->pio_bus, BASE + LSR, &v, 1));
    v = 0x5a;
    g_assert_true(iobus_write(ms->mmio_bus, base + SCR, &v, 1));
    v = 0;
    g_assert_true(iobus_read(ms->mmio_bus, base + SCR, &v, 1));
    g_assert_cmphex(v, ==, 0x5a);
    g_assert_true(iobus_read(ms->mmio_bus, base + LSR, &v, 1));
    g_assert_cmphex(v & 0x60, ==, 0x60);    /* THRE | TEMT */

    fdt_builder_init(&b, 4096);
    fdt_builder_begin_node(&b, "");
    DEVICE_GET_CLASS(dev)->fdt_node(dev, &b);
    fdt_builder_end_node(&b);
    dtb = fdt_builder_finish(&b, &err);
    g_assert_no_error(err);
    fdt = g_bytes_get_data(dtb, NULL);
    node = fdt_path_offset(fdt, "/serial@9000000");
    g_assert_cmpint(node, >=, 0);
    g_assert_cmpstr(fdt_getprop(fdt, node, "compatible", NULL), ==,
                    "ns16550a");
    cells = fdt_getprop(fdt, node, "interrupts", &len);
    g_assert_cmpint(len, ==, 12);
    g_assert_cmpuint(fdt32_to_cpu(cells[0]), ==, 0);    /* SPI */
    g_assert_cmpuint(fdt32_to_cpu(cells[1]), ==, 1);
    cells = fdt_getprop(fdt, node, "reg", &len);
    g_assert_cmpint(len, ==, 16);
    g_assert_cmphex(fdt32_to_cpu(cells[1]), ==, base);
}

/* Two UARTs on the same ports: the second realize fails, naming both. */
static void test_port_conflict(void)
{
    g_autoptr(Object) m = OBJECT(hw_test_machine_new());
    DeviceState *a = hw_test_add(HW_TEST_MACHINE(m), TYPE_SERIAL_8250, "a");
    DeviceState *b = hw_test_add(HW_TEST_MACHINE(m), TYPE_SERIAL_8250, "b");
    GError *err = NULL;

    g_assert_true(object_property_set_str(OBJECT(a), "console", "none",
                                          &err));
    g_assert_true(object_property_set_str(OBJECT(b), "console", "none",
                                          &err));
    hw_test_realize(a);
    g_assert_false(device_realize(b, &err));
    g_assert_error(err, VMSPEC_ERROR, VMSPEC_ERROR_BUSY);
    g_clear_error(&err);
    g_assert_false(b->realized);
}

/* A fixture's setup or test, as g_test_add() takes them. */
typedef void (*FixtureFunc)(Fixture *f, gconstpointer data);

int main(int argc, char **argv)
{
    /* Each with the console it runs against: fixture_file or fixture_pipe. */
    static const struct {
        const char *path;
        FixtureFunc setup, test;
    } fixture_tests[] = {
        { "/serial/autoconfig", fixture_file, test_autoconfig },
        { "/serial/divisor-latch", fixture_file, test_divisor_latch },
        { "/serial/transmit", fixture_file, test_transmit },
        { "/serial/reboot-appends", fixture_file, test_reboot_appends },
        { "/serial/thre-interrupt", fixture_file, test_thre_interrupt },
        { "/serial/modem-status", fixture_file, test_modem_status },
        { "/serial/receive", fixture_pipe, test_receive },
        { "/serial/backpressure", fixture_pipe, test_backpressure },
        { "/serial/receive-stream", fixture_pipe, test_receive_stream },
    };

    g_test_init(&argc, &argv, NULL);
    g_assert_true(module_call_init(MODULE_INIT_QOM, NULL));
    for (size_t i = 0; i < G_N_ELEMENTS(fixture_tests); i++) {
        g_test_add(fixture_tests[i].path, Fixture, NULL,
                   fixture_tests[i].setup, fixture_tests[i].test,
                   fixture_teardown);
    }
    g_test_add_func("/serial/properties", test_properties);
    g_test_add_func("/serial/port-conflict", test_port_conflict);
    g_test_add_func("/serial/mmio", test_mmio);
    return g_test_run();
}
