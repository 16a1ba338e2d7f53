/*
 * A disk image served by qemu-storage-daemon (QEMU's block layer as a
 * program, Debian's qemu-system-common) as a vhost-user-blk backend: how
 * vmspec reads formats other than raw without a driver of its own.
 *
 *  - The chain (image-chain.h) is read by vmspec, and the daemon gets one
 *    --blockdev per layer with its driver and its backing node named, so
 *    the daemon never probes a format or follows a backing name itself.
 *    Backing layers are read-only.
 *  - The export is vhost-user-blk on a unix socket vmspec binds before the
 *    daemon starts (RUNTIME/vmspec/NAME.disk-ID.sock, passed as fd 3), so
 *    a connect succeeds at once and the first request waits until the
 *    daemon serves; its output goes to NAME.disk-ID.log beside it.
 *  - Modes: writable (the image is written), read-only (the export is
 *    read-only: the driver sees VIRTIO_BLK_F_RO), snapshot (writes go to
 *    a throwaway qcow2 overlay in $TMPDIR, made with qemu-img, whose
 *    backing node is the image; unlinked once the daemon has it open, so
 *    nothing is left even if vmspec is killed afterwards).
 *  - Locks (image-lock.h): before the daemon starts, vmspec checks that
 *    no other process holds the image as the daemon is going to (so a
 *    conflict gets vmspec's message, not the daemon's), and for the life
 *    of the VM holds a reader's lock on every layer the daemon only
 *    reads, so that nobody writes a backing file under the overlay (QEMU
 *    itself lets others write backing files).  The daemon takes its own
 *    locks, which are compatible with these.  A lock failure the daemon
 *    reports is turned into the same "disk image PATH is in use by
 *    another VM (locked)" error.
 *  - Stop: SIGTERM, and up to STORAGE_DAEMON_STOP_TIMEOUT_MS for the
 *    daemon to finish the requests it has and flush the image; the daemon
 *    gets SIGTERM, too, should vmspec die (DaemonOptions.death_signal),
 *    so a SIGKILL of vmspec still closes the image cleanly.
 *
 * Main thread, except storage_daemon_state() (any thread).
 */
#ifndef VMSPEC_BACKEND_STORAGE_DAEMON_H
#define VMSPEC_BACKEND_STORAGE_DAEMON_H

#include <stdbool.h>
#include <glib.h>

#include "machine/backend/image-chain.h"

#define STORAGE_DAEMON_DEFAULT          "/usr/bin/qemu-storage-daemon"
#define STORAGE_DAEMON_STOP_TIMEOUT_MS  10000

typedef enum {
    STORAGE_EXPORT_WRITABLE,
    STORAGE_EXPORT_READONLY,
    STORAGE_EXPORT_SNAPSHOT,
} StorageExportMode;

typedef struct StorageDaemon StorageDaemon;

typedef struct StorageDaemonOptions {
    const char *name;           /* for messages: "disk 'root'" */
    const char *path;           /* the image */
    ImageFormat format;
    StorageExportMode mode;
    const char *socket_path;    /* where the export listens */
    const char *log_path;       /* the daemon's output */
} StorageDaemonOptions;

/* The daemon program: $VMSPEC_QEMU_STORAGE_DAEMON or the default. */
const char *storage_daemon_program(void);

/* The daemon's command line for chain (as `vmspec plan` shows it; fd 3 is
 * the socket), with overlay as the top writable layer in snapshot mode
 * (NULL there: a placeholder name). */
GStrv storage_daemon_argv(const ImageChain *chain, StorageExportMode mode,
                          const char *overlay);

/* Reads the chain, checks and takes the locks, makes the overlay, binds
 * the socket and starts the daemon.  Errors: the chain's (image-chain.h),
 * VMSPEC_ERROR_BUSY for a lock, NOT_FOUND for a missing program. */
StorageDaemon *storage_daemon_start(const StorageDaemonOptions *opts,
                                    GError **errp);

/* The device is connected: the daemon has every file open, the snapshot
 * overlay is unlinked.  NULL (no daemon) is allowed. */
void storage_daemon_serving(StorageDaemon *sd);

/* "qemu-storage-daemon exited with status 1: LAST LINE" ("... is
 * running" if it has not exited within a moment); NULL for a NULL sd.
 * Any thread. */
char *storage_daemon_state(StorageDaemon *sd);

/* Rewrites err (the device's connect error) as the lock conflict the
 * daemon reported, if that is why it exited; else leaves it.  NULL sd is
 * allowed. */
void storage_daemon_explain(StorageDaemon *sd, GError *err);

/* Stops the daemon (see above), drops the locks and the socket; frees
 * sd.  NULL is allowed. */
void storage_daemon_stop(StorageDaemon *sd);

#endif
