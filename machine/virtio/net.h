/*
 * What the rest of vmspec may ask of a virtio-net card while its VM runs
 * (the control socket: `vmspec forward`, `vmspec ps`).
 */
#ifndef VMSPEC_VIRTIO_NET_H
#define VMSPEC_VIRTIO_NET_H

#include <stdbool.h>
#include <glib.h>

#include "machine/qom/object.h"

#define TYPE_VIRTIO_NET "virtio-net"

/* True for a user-mode NIC (one without a tap). */
bool virtio_net_is_user_mode(Object *nic);

/* Adds or removes a host forward (rule in machine/net/hostfwd.h's syntax)
 * on a user-mode NIC of a realized machine.  Any thread.  errp: a bad
 * rule, a tap NIC, a port in use, no such forward. */
bool virtio_net_add_forward(Object *nic, const char *rule, GError **errp);
bool virtio_net_remove_forward(Object *nic, const char *rule,
                               GError **errp);

/* Its forwards in force, formatted (NULL-terminated; empty for a tap NIC
 * or one not realized).  Caller frees (g_strfreev). */
char **virtio_net_list_forwards(Object *nic);

#endif
