/*
 * The host side of a virtio-net card: a Linux tap device
 * (Documentation/networking/tuntap.rst) opened with IFF_TAP | IFF_NO_PI |
 * IFF_VNET_HDR, so that every frame read or written is preceded by a
 * virtio-net header (struct virtio_net_hdr_v1, virtio 1.2, 5.1.6) and
 * checksum/segmentation offloads pass between guest and host untouched.
 *
 * tap_open() attaches to an existing tap of that name (a persistent one,
 * made by `ip tuntap add`), which is left in place at close; when no
 * interface has that name it creates one, brings its link up, and the tap
 * disappears when tap_close() closes the descriptor (it is not made
 * persistent).  Needs CAP_NET_ADMIN, or a persistent tap owned by the user.
 *
 * The descriptor is non-blocking and close-on-exec.  A Tap is used by one
 * thread at a time (the device's I/O thread once it runs).
 */
#ifndef VMSPEC_BACKEND_TAP_H
#define VMSPEC_BACKEND_TAP_H

#include <stdbool.h>
#include <glib.h>

/* The vnet header length vmspec uses: struct virtio_net_hdr_v1 (10 bytes
 * of virtio_net_hdr plus num_buffers), as VIRTIO_F_VERSION_1 requires
 * (virtio 1.2, 5.1.6 "Device Operation"). */
#define TAP_VNET_HDR_LEN 12

/* Offloads the guest can receive (TUNSETOFFLOAD's TUN_F_* bits, from the
 * virtio-net GUEST_* features it accepted). */
#define TAP_OFFLOAD_CSUM    0x01    /* TUN_F_CSUM: partial checksums */
#define TAP_OFFLOAD_TSO4    0x02    /* TUN_F_TSO4 */
#define TAP_OFFLOAD_TSO6    0x04    /* TUN_F_TSO6 */
#define TAP_OFFLOAD_TSO_ECN 0x08    /* TUN_F_TSO_ECN */
#define TAP_OFFLOAD_UFO     0x10    /* TUN_F_UFO */

typedef struct Tap Tap;

/* Checks an interface name as the kernel's dev_valid_name() does: 1 to 15
 * bytes (IFNAMSIZ - 1), not "." or "..", no '/', ':' or white space, and
 * no '%' (which would ask the kernel to pick a name).  errp names it. */
bool tap_name_check(const char *name, GError **errp);

/* Opens (attaching to, or creating) tap ifname with a 12-byte vnet header
 * and no offloads enabled yet.  Errors: "cannot open /dev/net/tun: ..."
 * when the tun driver is missing or not permitted; "tap NAME: ..." when
 * the interface exists but is not a tap, is in use by another process, or
 * cannot be created.  Returns a new Tap; tap_close() frees it.  Main
 * thread. */
Tap *tap_open(const char *ifname, GError **errp);

/* Closes the descriptor (which removes a tap that tap_open created) and
 * frees tap.  NULL is allowed. */
void tap_close(Tap *tap);

/* The non-blocking descriptor: read(2)/readv(2) return one frame with its
 * vnet header, write(2)/writev(2) send one.  Owned by tap. */
int tap_fd(const Tap *tap);

/* The interface name. */
const char *tap_name(const Tap *tap);

/* True when tap_open created the interface (it goes away at close). */
bool tap_created(const Tap *tap);

/* Enables exactly the TAP_OFFLOAD_* bits in offloads: the kernel then
 * hands over frames with partial checksums / GSO of those kinds.  TSO and
 * UFO need CSUM.  Any thread that owns tap. */
bool tap_set_offload(Tap *tap, unsigned offloads, GError **errp);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(Tap, tap_close)

#endif
