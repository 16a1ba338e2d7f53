/*
 * QEMU-compatible image lock bytes (image-lock.h).
 */
#include "machine/backend/image-lock.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "machine/qom/error.h"

/* QEMU's block/file-posix.c: RAW_LOCK_PERM_BASE, RAW_LOCK_SHARED_BASE. */
#define LOCK_PERM_BASE      100
#define LOCK_DENY_BASE      200

/* QEMU's block permission bits (include/block/block-common.h). */
#define PERM_CONSISTENT_READ    (1u << 0)
#define PERM_WRITE              (1u << 1)
#define PERM_WRITE_UNCHANGED    (1u << 2)
#define PERM_RESIZE             (1u << 3)
#define PERM_BITS               4

typedef struct {
    unsigned uses;
    unsigned denies;
} LockPerms;

static LockPerms role_perms(ImageLockRole role)
{
    LockPerms p = {
        .uses = PERM_CONSISTENT_READ,
        .denies = PERM_WRITE | PERM_RESIZE,
    };

    if (role == IMAGE_LOCK_WRITER) {
        p.uses |= PERM_WRITE;
    }
    return p;
}

void image_lock_set_busy_error(GError **errp, const char *path)
{
    g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_BUSY,
                "disk image %s is in use by another VM (locked)", path);
}

static void set_lock_error(GError **errp, const char *path, int err)
{
    g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_IO,
                "cannot lock disk image %s: %s", path, g_strerror(err));
}

static int lock_byte(int fd, int type, off_t byte)
{
    struct flock fl = {
        .l_type = type,
        .l_whence = SEEK_SET,
        .l_start = byte,
        .l_len = 1,
    };

    return fcntl(fd, F_OFD_SETLK, &fl) == 0 ? 0 : errno;
}

/* 0 when no other open holds byte; EAGAIN when one does; else an errno. */
static int test_byte(int fd, off_t byte)
{
    struct flock fl = {
        .l_type = F_WRLCK,
        .l_whence = SEEK_SET,
        .l_start = byte,
        .l_len = 1,
    };

    if (fcntl(fd, F_OFD_GETLK, &fl) < 0) {
        return errno;
    }
    return fl.l_type == F_UNLCK ? 0 : EAGAIN;
}

/* Drops every lock byte fd holds. */
static void unlock_all(int fd)
{
    struct flock fl = {
        .l_type = F_UNLCK,
        .l_whence = SEEK_SET,
        .l_start = LOCK_PERM_BASE,
        .l_len = LOCK_DENY_BASE + PERM_BITS - LOCK_PERM_BASE,
    };

    (void)fcntl(fd, F_OFD_SETLK, &fl);
}

bool image_lock_test(int fd, const char *path, ImageLockRole role,
                     GError **errp)
{
    LockPerms p = role_perms(role);

    for (unsigned i = 0; i < PERM_BITS; i++) {
        int err = 0;

        /* Someone denies what we use, or uses what we deny. */
        if (p.uses & (1u << i)) {
            err = test_byte(fd, LOCK_DENY_BASE + i);
        }
        if (!err && (p.denies & (1u << i))) {
            err = test_byte(fd, LOCK_PERM_BASE + i);
        }
        if (err == EAGAIN) {
            image_lock_set_busy_error(errp, path);
            return false;
        }
        if (err) {
            set_lock_error(errp, path, err);
            return false;
        }
    }
    return true;
}

bool image_lock_take(int fd, const char *path, ImageLockRole role,
                     GError **errp)
{
    LockPerms p = role_perms(role);

    /* Take first, then test: of two users starting together, at least
     * one sees the other. */
    for (unsigned i = 0; i < PERM_BITS; i++) {
        int err = 0;

        if (p.uses & (1u << i)) {
            err = lock_byte(fd, F_RDLCK, LOCK_PERM_BASE + i);
        }
        if (!err && (p.denies & (1u << i))) {
            err = lock_byte(fd, F_RDLCK, LOCK_DENY_BASE + i);
        }
        if (err == EAGAIN || err == EACCES) {
            /* Someone holds a write lock on the byte (not QEMU's way, but
             * a conflict all the same). */
            unlock_all(fd);
            image_lock_set_busy_error(errp, path);
            return false;
        }
        if (err) {
            unlock_all(fd);
            set_lock_error(errp, path, err);
            return false;
        }
    }
    if (!image_lock_test(fd, path, role, errp)) {
        unlock_all(fd);
        return false;
    }
    return true;
}
