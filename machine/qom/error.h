/*
 * vmspec's GError domain.  Library code reports failures through
 * `GError **errp` with this domain; only cmd/ prints them.
 */
#ifndef VMSPEC_QOM_ERROR_H
#define VMSPEC_QOM_ERROR_H

#include <glib.h>

#define VMSPEC_ERROR vmspec_error_quark()

typedef enum {
    VMSPEC_ERROR_FAILED,        /* generic */
    VMSPEC_ERROR_INVALID,       /* a value the user wrote is wrong */
    VMSPEC_ERROR_NOT_FOUND,     /* a named type, property, file is missing */
    VMSPEC_ERROR_IO,            /* a host system call failed */
    VMSPEC_ERROR_KVM,           /* KVM refused or lacks something we need */
    VMSPEC_ERROR_BUSY,          /* a resource is held by someone else */
} VmspecError;

GQuark vmspec_error_quark(void);

#endif
