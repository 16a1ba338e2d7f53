/*
 * A backend daemon vmspec runs for a device (virtiofsd for a share,
 * qemu-storage-daemon for a qcow2 disk): started at realize, stopped and
 * reaped at unrealize, and never left behind.
 *
 *  - The child gets PR_SET_PDEATHSIG(SIGKILL, or death_signal) (checked
 *    against a parent that died before it took effect), so SIGKILL of
 *    vmspec ends it too.
 *    It is started from the thread that will stop it (the main thread).
 *  - Its stdin is /dev/null; stdout and stderr go to log_path (created
 *    0600, truncated), or where that is NULL to an anonymous memfd; the
 *    last DAEMON_LOG_KEEP bytes are read back from there for messages
 *    (no thread, no pipe that a chatty daemon could fill and block on).
 *  - Only the descriptors in pass_fds survive exec, as fds 3, 4, ... in
 *    that order (everything else is close-on-exec or closed).
 *  - readonly_path (optional): the child first enters a new mount
 *    namespace (needs CAP_SYS_ADMIN) where readonly_path is a read-only
 *    bind mount of itself, so nothing the daemon does writes below it
 *    (the kernel answers EROFS).
 *
 * Errors name the daemon by the name given ("virtiofsd for share src").
 * Main thread only, except daemon_exit_summary() and daemon_log_tail()
 * which any thread may call.
 */
#ifndef VMSPEC_BACKEND_DAEMON_H
#define VMSPEC_BACKEND_DAEMON_H

#include <stdbool.h>
#include <sys/types.h>
#include <glib.h>

#define DAEMON_LOG_KEEP 4096

typedef struct Daemon Daemon;

typedef struct DaemonOptions {
    const char *name;               /* for messages */
    const char *const *argv;        /* argv[0] is the program's path */
    const int *pass_fds;            /* become 3, 4, ... in the child */
    unsigned n_pass_fds;
    const char *readonly_path;      /* NULL: no mount namespace */
    const char *log_path;           /* NULL: a memfd */
    /* What the daemon gets when vmspec dies (PR_SET_PDEATHSIG): 0 for
     * SIGKILL; SIGTERM for one that must close its files cleanly. */
    int death_signal;
} DaemonOptions;

/* Starts the daemon.  Fails when argv[0] cannot be executed (the error
 * says so, with the errno the child's exec got), or fork/pipe fail. */
Daemon *daemon_start(const DaemonOptions *opts, GError **errp);

/* A unix socket listening at path, for a daemon to serve on (passed to
 * it in pass_fds): bound before it starts, so there is no wait for it to
 * come up and no window in which another process could bind the name.  A
 * stale file at path is replaced (the runtime directory is the user's
 * own).  Returns the fd, or -1 with an error. */
int daemon_listen_unix(const char *path, GError **errp);

/* Where a device's daemon keeps its socket and log: runtime_prefix
 * (DeviceContext.runtime_prefix, "RUNTIME/vmspec/NAME") when there is a
 * run; else (device tests) a name in a private temporary directory, made
 * once and put in *scratch_dir for the caller to rmdir when done.  New
 * string, or NULL with an error. */
char *daemon_runtime_prefix(const char *runtime_prefix, char **scratch_dir,
                            GError **errp);

/* argv as a shell would take it, for `vmspec plan`: words with
 * characters a shell treats specially single-quoted, the rest as they
 * are.  New string. */
char *daemon_describe_argv(const char *const *argv);

/* The child's pid (the daemon until it exits). */
pid_t daemon_pid(const Daemon *d);

/* True once the daemon has exited (reaps it if so, without blocking). */
bool daemon_exited(Daemon *d);

/* A line for messages: "exited with status 1", "was killed by signal 9
 * (SIGKILL)", "is running"; after an exit, plus ": LAST LINE OF ITS
 * OUTPUT" when it wrote any.  Returns a new string. */
char *daemon_exit_summary(Daemon *d);

/* The last bytes it wrote to stdout/stderr (new string, maybe ""). */
char *daemon_log_tail(Daemon *d);

/* Stops it: SIGTERM to its process group, waits up to timeout_ms for it
 * to exit, then SIGKILL, and reaps it and any children it left (vmspec is
 * their subreaper: daemon_start makes it one).  Idempotent.  Returns true
 * if it ended on SIGTERM (or had already exited). */
bool daemon_stop(Daemon *d, unsigned timeout_ms);

/* daemon_stop(d, 2000) if still running, then frees d.  NULL is allowed. */
void daemon_free(Daemon *d);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Daemon, daemon_free)

#endif
