/*
 * Host port forwards of a user-mode NIC, in QEMU's hostfwd syntax
 * (qemu-options.hx, -netdev user,hostfwd=):
 *
 *     PROTO:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT
 *
 * PROTO is tcp or udp; addresses are dotted IPv4.  An omitted HOSTADDR is
 * 127.0.0.1 (not every address, as QEMU has it: a dev VM's ssh is not on
 * the LAN unless the spec says 0.0.0.0); an omitted GUESTADDR is the
 * guest's DHCP address (HOSTFWD_GUEST_DEFAULT).  Ports are 1..65535.
 */
#ifndef VMSPEC_NET_HOSTFWD_H
#define VMSPEC_NET_HOSTFWD_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <glib.h>

/* The guest's address on a user-mode network (QEMU's layout): 10.0.2.15,
 * the first DHCP lease; the host/gateway is .2 and the DNS server .3. */
#define USER_NET_NETWORK        "10.0.2.0"
#define USER_NET_NETMASK        "255.255.255.0"
#define USER_NET_HOST           "10.0.2.2"
#define USER_NET_DNS            "10.0.2.3"
#define HOSTFWD_GUEST_DEFAULT   "10.0.2.15"

typedef struct HostFwd {
    bool udp;
    struct in_addr host_addr;
    uint16_t host_port;
    struct in_addr guest_addr;
    uint16_t guest_port;
} HostFwd;

/* Parses rule; errp says what is wrong with it ("'tcp:2222-:22': ..."). */
bool hostfwd_parse(const char *rule, HostFwd *out, GError **errp);

/* The rule with every part filled in, as plan and ps show it:
 * "tcp:127.0.0.1:2222-10.0.2.15:22".  Caller frees. */
char *hostfwd_format(const HostFwd *fwd);

/* Whether two rules take the same host socket (protocol, address, port);
 * 0.0.0.0 takes every address's port. */
bool hostfwd_same_host_port(const HostFwd *a, const HostFwd *b);

#endif
