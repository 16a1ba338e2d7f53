/*
 * Tap devices through /dev/net/tun (Documentation/networking/tuntap.rst).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/if_tun.h>

#include "machine/backend/tap.h"
#include "machine/qom/error.h"

#define TUN_DEVICE "/dev/net/tun"

struct Tap {
    int fd;
    char name[IFNAMSIZ];
    bool created;
};

bool tap_name_check(const char *name, GError **errp)
{
    size_t len = strlen(name);

    if (len == 0) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "the interface name is empty");
        return false;
    }
    if (len >= IFNAMSIZ) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "interface name '%s': at most %d characters",
                    name, IFNAMSIZ - 1);
        return false;
    }
    if (!strcmp(name, ".") || !strcmp(name, "..")) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "'%s' is not an interface name", name);
        return false;
    }
    for (const char *p = name; *p; p++) {
        if (*p == '/' || *p == ':' || *p == '%' || g_ascii_isspace(*p) ||
            (unsigned char)*p < 0x20 || *p == 0x7f) {
            g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                        "interface name '%s': no '%c' allowed",
                        name, g_ascii_isprint(*p) ? *p : '?');
            return false;
        }
    }
    return true;
}

/* TUNSETIFF on fd for tap name; extra adds IFF_TUN_EXCL.  -errno. */
static int tap_set_iff(int fd, const char *name, short extra)
{
    struct ifreq ifr;

    memset(&ifr, 0, sizeof(ifr));
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | extra;
    g_strlcpy(ifr.ifr_name, name, sizeof(ifr.ifr_name));
    return ioctl(fd, TUNSETIFF, &ifr) < 0 ? -errno : 0;
}

/* Sets IFF_UP on interface name (a tap we created, so that the host side
 * can be configured and carries traffic at once). */
static bool tap_link_up(const char *name, GError **errp)
{
    struct ifreq ifr;
    int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    bool ok = false;

    if (sock < 0) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_IO,
                    "tap %s: socket: %s", name, g_strerror(errno));
        return false;
    }
    memset(&ifr, 0, sizeof(ifr));
    g_strlcpy(ifr.ifr_name, name, sizeof(ifr.ifr_name));
    if (ioctl(sock, SIOCGIFFLAGS, &ifr) < 0) {
        goto fail;
    }
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(sock, SIOCSIFFLAGS, &ifr) < 0) {
        goto fail;
    }
    ok = true;
    goto out;
fail:
    g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_IO,
                "tap %s: cannot bring the link up: %s", name,
                g_strerror(errno));
out:
    close(sock);
    return ok;
}

Tap *tap_open(const char *ifname, GError **errp)
{
    g_autofree Tap *tap = NULL;
    unsigned features = 0;
    int hdr_len = TAP_VNET_HDR_LEN;
    int fd, err;

    if (!tap_name_check(ifname, errp)) {
        g_prefix_error(errp, "tap: ");
        return NULL;
    }
    fd = open(TUN_DEVICE, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        g_set_error(errp, VMSPEC_ERROR,
                    errno == ENOENT ? VMSPEC_ERROR_NOT_FOUND
                                    : VMSPEC_ERROR_IO,
                    "cannot open " TUN_DEVICE ": %s%s", g_strerror(errno),
                    errno == ENOENT ? " (is the tun module loaded?)" : "");
        return NULL;
    }
    if (ioctl(fd, TUNGETFEATURES, &features) < 0 ||
        !(features & IFF_VNET_HDR)) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_IO,
                    "tap %s: the tun driver has no IFF_VNET_HDR", ifname);
        goto fail;
    }

    tap = g_new0(Tap, 1);
    tap->fd = fd;
    g_strlcpy(tap->name, ifname, sizeof(tap->name));

    /*
     * IFF_TUN_EXCL makes TUNSETIFF fail with EBUSY when the name exists,
     * which tells us whether we create the interface (and own its
     * lifetime) or attach to someone else's.
     */
    err = tap_set_iff(fd, ifname, IFF_TUN_EXCL);
    if (err == 0) {
        tap->created = true;
    } else if (err == -EBUSY) {
        err = tap_set_iff(fd, ifname, 0);
    }
    if (err < 0) {
        const char *why;

        switch (-err) {
        case EBUSY:
            why = "in use by another process";
            break;
        case EINVAL:
            why = "exists and is not a tap (or is multi-queue)";
            break;
        case EPERM:
            why = "permission denied (needs CAP_NET_ADMIN, or a persistent "
                  "tap owned by this user)";
            break;
        default:
            why = g_strerror(-err);
            break;
        }
        g_set_error(errp, VMSPEC_ERROR,
                    err == -EBUSY ? VMSPEC_ERROR_BUSY : VMSPEC_ERROR_IO,
                    "tap %s: %s", ifname, why);
        goto fail;
    }
    if (ioctl(fd, TUNSETVNETHDRSZ, &hdr_len) < 0) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_IO,
                    "tap %s: TUNSETVNETHDRSZ: %s", ifname, g_strerror(errno));
        goto fail;
    }
    /* No offloads until the guest says what it takes. */
    if (ioctl(fd, TUNSETOFFLOAD, 0UL) < 0) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_IO,
                    "tap %s: TUNSETOFFLOAD: %s", ifname, g_strerror(errno));
        goto fail;
    }
    if (tap->created && !tap_link_up(ifname, errp)) {
        goto fail;
    }
    return g_steal_pointer(&tap);

fail:
    close(fd);
    return NULL;
}

void tap_close(Tap *tap)
{
    if (!tap) {
        return;
    }
    close(tap->fd);
    g_free(tap);
}

int tap_fd(const Tap *tap)
{
    return tap->fd;
}

const char *tap_name(const Tap *tap)
{
    return tap->name;
}

bool tap_created(const Tap *tap)
{
    return tap->created;
}

bool tap_set_offload(Tap *tap, unsigned offloads, GError **errp)
{
    unsigned long flags = 0;

    if (offloads & TAP_OFFLOAD_CSUM) {
        flags |= TUN_F_CSUM;
        if (offloads & TAP_OFFLOAD_TSO4) {
            flags |= TUN_F_TSO4;
        }
        if (offloads & TAP_OFFLOAD_TSO6) {
            flags |= TUN_F_TSO6;
        }
        if ((offloads & TAP_OFFLOAD_TSO_ECN) &&
            (flags & (TUN_F_TSO4 | TUN_F_TSO6))) {
            flags |= TUN_F_TSO_ECN;
        }
        if (offloads & TAP_OFFLOAD_UFO) {
            flags |= TUN_F_UFO;
        }
    }
    if (ioctl(tap->fd, TUNSETOFFLOAD, flags) < 0) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_IO,
                    "tap %s: TUNSETOFFLOAD 0x%lx: %s", tap->name, flags,
                    g_strerror(errno));
        return false;
    }
    return true;
}
