/*
 * What a device may use of its machine while it realizes and runs: guest
 * memory, the buses it sits on, its interrupt lines, the KVM VM for
 * ioeventfds and irqfds, and where to ask for the run to end.  The machine
 * fills one in before its devices realize (machine_realize_children) and
 * keeps it alive until they are unrealized; devices never reach up to the
 * machine itself.
 */
#ifndef VMSPEC_QOM_CONTEXT_H
#define VMSPEC_QOM_CONTEXT_H

#include <stdbool.h>

typedef struct GuestMem GuestMem;
typedef struct IoBus IoBus;
typedef struct KvmVm KvmVm;
typedef struct RunEnd RunEnd;

typedef struct DeviceContext {
    GuestMem *ram;              /* NULL: the machine has no RAM yet */
    IoBus *pio_bus;             /* port I/O; NULL where the arch has none */
    IoBus *mmio_bus;
    KvmVm *kvm;                 /* NULL in device unit tests */
    RunEnd *run_end;            /* where a device asks for the run to end */
    /* Drives interrupt line `line` (a DeviceResources.irq) high or low.
     * Any thread. */
    void (*set_irq)(void *opaque, unsigned line, bool level);
    void *irq_opaque;
    /* An earlier boot of this run came first (a guest reboot): a console
     * file is appended to, not truncated. */
    bool rebooted;
    /* Where the VM's own sockets and logs go: "RUNTIME/vmspec/NAME", to
     * which a device appends ".share-src.sock"; the directory exists and
     * is the user's alone.  NULL where there is no run (device tests):
     * a device that needs one makes a temporary directory. */
    const char *runtime_prefix;
} DeviceContext;

static inline void device_context_set_irq(const DeviceContext *ctx,
                                          unsigned line, bool level)
{
    ctx->set_irq(ctx->irq_opaque, line, level);
}

#endif
