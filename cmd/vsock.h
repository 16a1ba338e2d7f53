/*
 * The host's end of a VM's hybrid vsock (machine/virtio/vsock.c), for
 * `vmspec vsock` and `vmspec ssh`.
 */
#ifndef VMSPEC_CMD_VSOCK_H
#define VMSPEC_CMD_VSOCK_H

#include <glib.h>

/* The hybrid-vsock socket of VM name (RUNTIME/vmspec/NAME.vsock), or
 * name itself when it is a path (has a '/').  New string, or NULL with an
 * error (not a valid VM name). */
char *vsock_socket_path(const char *name, GError **errp);

#endif
