/*
 * The host side of a user-mode virtio-net card: libslirp's TCP/IP stack
 * (the one QEMU's -netdev user and slirp4netns use), so a guest reaches
 * the network, and the host reaches the guest through forwards, with no
 * tap and no privilege.  QEMU's addressing: 10.0.2.0/24, host and gateway
 * 10.0.2.2, DNS 10.0.2.3 (answered from the host's resolvers), DHCP
 * handing out 10.0.2.15 (machine/net/hostfwd.h).
 *
 * Threads: the stack is driven by one thread, the NIC's I/O thread: it
 * watches user_net_fd() and calls user_net_dispatch() when it is readable
 * (sockets, timers and kicks are all behind that one descriptor), and
 * passes guest frames to user_net_input().  Frames for the guest come back
 * through the receive callback, on that thread, from inside those two
 * calls.  The forward calls may come from any thread (the control
 * socket): a lock keeps the stack to one caller at a time.
 */
#ifndef VMSPEC_BACKEND_USER_NET_H
#define VMSPEC_BACKEND_USER_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <glib.h>

#include "machine/net/hostfwd.h"

typedef struct UserNet UserNet;

typedef struct UserNetConfig {
    bool restrict_out;      /* the guest opens no connections out */
    bool host_loopback;     /* 10.0.2.2 reaches the host's 127.0.0.1 */
    /* The NIC's MAC, for messages only. */
    const char *name;
} UserNetConfig;

/* A frame (Ethernet, no virtio header) for the guest. */
typedef void (*UserNetReceive)(void *opaque, const uint8_t *frame,
                               size_t len);

UserNet *user_net_new(const UserNetConfig *cfg, UserNetReceive receive,
                      void *opaque, GError **errp);
void user_net_free(UserNet *net);

/* The descriptor to watch for EPOLLIN on the driving thread. */
int user_net_fd(UserNet *net);

/* Runs what is ready: socket events and expired timers. */
void user_net_dispatch(UserNet *net);

/* A frame from the guest (Ethernet, no virtio header).  Call
 * user_net_flush() after a batch of them: what slirp then wants to poll
 * is asked once, not once a frame. */
void user_net_input(UserNet *net, const uint8_t *frame, size_t len);
void user_net_flush(UserNet *net);

/* Adds or removes a forward; errp says why not ("127.0.0.1:2222 is in
 * use: Address already in use", "no forward tcp:127.0.0.1:2222"). */
bool user_net_add_forward(UserNet *net, const HostFwd *fwd, GError **errp);
bool user_net_remove_forward(UserNet *net, const HostFwd *fwd,
                             GError **errp);
/* The forwards in force, formatted (hostfwd_format()), in the order they
 * were added.  Caller frees (g_strfreev). */
char **user_net_list_forwards(UserNet *net);

#endif
