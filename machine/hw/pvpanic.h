/*
 * pvpanic: the guest's panic notification port (see pvpanic.c).  The
 * machine creates it; PANICKED ends the run with RUN_END_PANIC.
 */
#ifndef VMSPEC_HW_PVPANIC_H
#define VMSPEC_HW_PVPANIC_H

#include "machine/qom/device.h"

#define TYPE_PVPANIC "pvpanic"

/* Event bits, Linux include/uapi/misc/pvpanic.h. */
#define PVPANIC_PANICKED        (1u << 0)
#define PVPANIC_CRASH_LOADED    (1u << 1)

/* How many times the guest reported CRASH_LOADED (it panicked and a kdump
 * kernel took over; the VM keeps running), for the owner to report.  Any
 * thread. */
unsigned pvpanic_crash_loaded_count(DeviceState *dev);

#endif
