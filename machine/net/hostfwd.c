/*
 * Host port forward rules (see hostfwd.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "machine/net/hostfwd.h"
#include "machine/qom/error.h"
#include "machine/qom/property.h"

static bool fail(GError **errp, const char *rule, const char *why)
{
    g_autofree char *shown = quote_value(rule);

    g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                "%s is not a forward: %s (PROTO:[HOSTADDR]:HOSTPORT-"
                "[GUESTADDR]:GUESTPORT, e.g. tcp:127.0.0.1:2222-:22)",
                shown, why);
    return false;
}

/* "ADDR:PORT" or ":PORT" (ADDR then def) into *addr and *port. */
static bool parse_end(const char *text, const char *def, struct in_addr *addr,
                      uint16_t *port, const char **why)
{
    const char *colon = strrchr(text, ':');
    g_autofree char *host = NULL;
    char *end;
    unsigned long n;

    if (!colon) {
        *why = "an address part is not ADDR:PORT";
        return false;
    }
    host = g_strndup(text, (gsize)(colon - text));
    if (inet_pton(AF_INET, *host ? host : def, addr) != 1) {
        *why = "an address is not a dotted IPv4 address";
        return false;
    }
    errno = 0;
    n = strtoul(colon + 1, &end, 10);
    if (!g_ascii_isdigit(colon[1]) || *end || errno || n < 1 || n > 65535) {
        *why = "a port is not a number from 1 to 65535";
        return false;
    }
    *port = (uint16_t)n;
    return true;
}

bool hostfwd_parse(const char *rule, HostFwd *out, GError **errp)
{
    const char *rest, *dash, *why = NULL;
    g_autofree char *host_part = NULL;
    HostFwd fwd = { 0 };

    if (g_str_has_prefix(rule, "tcp:")) {
        rest = rule + 4;
    } else if (g_str_has_prefix(rule, "udp:")) {
        fwd.udp = true;
        rest = rule + 4;
    } else {
        return fail(errp, rule, "it must start with tcp: or udp:");
    }
    dash = strchr(rest, '-');
    if (!dash || strchr(dash + 1, '-')) {
        return fail(errp, rule, "it needs one '-' between host and guest");
    }
    host_part = g_strndup(rest, (gsize)(dash - rest));
    if (!parse_end(host_part, "127.0.0.1", &fwd.host_addr, &fwd.host_port,
                   &why) ||
        !parse_end(dash + 1, HOSTFWD_GUEST_DEFAULT, &fwd.guest_addr,
                   &fwd.guest_port, &why)) {
        return fail(errp, rule, why);
    }
    *out = fwd;
    return true;
}

char *hostfwd_format(const HostFwd *fwd)
{
    char host[INET_ADDRSTRLEN], guest[INET_ADDRSTRLEN];

    inet_ntop(AF_INET, &fwd->host_addr, host, sizeof(host));
    inet_ntop(AF_INET, &fwd->guest_addr, guest, sizeof(guest));
    return g_strdup_printf("%s:%s:%u-%s:%u", fwd->udp ? "udp" : "tcp", host,
                           fwd->host_port, guest, fwd->guest_port);
}

bool hostfwd_same_host_port(const HostFwd *a, const HostFwd *b)
{
    return a->udp == b->udp && a->host_port == b->host_port &&
           (a->host_addr.s_addr == b->host_addr.s_addr ||
            a->host_addr.s_addr == htonl(INADDR_ANY) ||
            b->host_addr.s_addr == htonl(INADDR_ANY));
}
