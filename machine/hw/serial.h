/*
 * serial-8250: a 16550A-compatible UART on the machine's port-I/O bus,
 * the guest's console (Linux: console=ttyS0, driver 8250).
 *
 * Properties: iobase (default 0x3f8), irq (GSI, default 4), console
 * ("stdio" | "none" | "file:PATH", default "stdio"; see
 * machine/backend/console.h).  The machine creates it as its child (it is
 * not written in specs): object_new(TYPE_SERIAL_8250), set "console",
 * object_add_child(machine, "serial0", ...), then realize with the other
 * children.  Realize registers 8 ports on ms->pio_bus, opens the console
 * (raw mode on a terminal) and starts its input thread; the IRQ goes
 * through machine_set_irq().  Unrealize (or the last unref) stops the
 * input thread and restores the terminal.
 */
#ifndef VMSPEC_HW_SERIAL_H
#define VMSPEC_HW_SERIAL_H

#include "machine/backend/console.h"
#include "machine/qom/device.h"

#define TYPE_SERIAL_8250 "serial-8250"

/*
 * Gives the device a console backend to use instead of opening the one its
 * "console" property names; the device takes ownership (frees it on
 * unrealize or finalize).  For owners that build consoles themselves and
 * for tests.  Before realize; main thread.
 */
void serial_set_console(DeviceState *dev, Console *console);

#endif
