/*
 * vmspec logs NAME [-f] [--log-dir D]: a VM's console log, as the bytes
 * the guest wrote (like cat: it is the guest's console stream).
 *
 * The log is where the running VM's status says ("log", cmd/control.h),
 * else where RUNTIME/vmspec/NAME.log points (the link `vmspec run` leaves
 * to a file: console, kept after the VM ended), else D/NAME.log (`up`'s
 * default place, .vmspec/logs).  -f, with the VM running, goes on printing
 * what it writes until the VM exits (exit 0) or the user interrupts.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "cmd/control.h"
#include "cmd/output.h"
#include "machine/qom/error.h"
#include "machine/qom/vm.h"

/* How often -f looks whether the VM still runs where it has no pidfd
 * (before Linux 5.3) to wake it when the VM exits. */
#define FOLLOW_CHECK_MS 1000

typedef struct {
    char *path;                 /* the log to open */
    pid_t pid;                  /* the VM's, when it runs; else 0 */
} LogSource;

static void log_source_clear(LogSource *src)
{
    g_free(src->path);
}

/* The "pid" of a status reply; 0 when it has none. */
static pid_t reply_pid(GHashTable *st)
{
    const char *pid = st ? g_hash_table_lookup(st, "pid") : NULL;

    return pid ? (pid_t)strtol(pid, NULL, 10) : 0;
}

/* Where name's log is (the comment at the top).  False with an error
 * saying where it looked when there is none. */
static bool find_log(const char *name, const char *log_dir, LogSource *src,
                     GError **errp)
{
    g_autoptr(GHashTable) st = control_request(name, "status", NULL);
    g_autofree char *link = NULL, *fallback = NULL;
    const char *log;

    if (st) {
        log = g_hash_table_lookup(st, "log");
        if (!log) {
            g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_NOT_FOUND,
                        "no log for %s (it runs with its console not in a "
                        "file: see its spec's console)", name);
            return false;
        }
        src->path = g_strdup(log);
        src->pid = reply_pid(st);
        return true;
    }
    link = control_runtime_path(name, ".log", errp);
    if (!link) {
        return false;
    }
    fallback = g_strdup_printf("%s/%s.log", log_dir, name);
    /* A link whose log is gone falls through to D. */
    if (g_file_test(link, G_FILE_TEST_IS_REGULAR)) {
        src->path = g_steal_pointer(&link);
        return true;
    }
    if (g_file_test(fallback, G_FILE_TEST_IS_REGULAR)) {
        src->path = g_steal_pointer(&fallback);
        return true;
    }
    g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_NOT_FOUND,
                "no log for %s (not running; no log at %s or %s)", name,
                link, fallback);
    return false;
}

/* Copies what fd has from its offset on to stdout; false on a write
 * error (reported) or a read error (set). */
static bool copy_rest(int fd, const char *path, GError **errp)
{
    char buf[64 * 1024];
    ssize_t n;

    while ((n = read(fd, buf, sizeof(buf))) != 0) {
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_IO,
                        "reading %s: %s", path, g_strerror(errno));
            return false;
        }
        if (!cmd_write_stdout(buf, n)) {
            return false;
        }
    }
    return true;
}

/* A pidfd for the running VM, readable once it exits; -1 without one.
 * The pid came from the VM's reply: its socket answering with the same
 * pid after the pidfd is open shows the pidfd is the VM's, not a process
 * that got the pid after it.  *gone is set when the VM has exited. */
static int open_vm_pidfd(const char *name, pid_t pid, bool *gone)
{
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    g_autoptr(GHashTable) st = NULL;

    *gone = pidfd < 0 && errno == ESRCH;
    if (pidfd < 0) {
        return -1;
    }
    st = control_request(name, "status", NULL);
    if (reply_pid(st) != pid) {
        close(pidfd);
        *gone = true;
        return -1;
    }
    return pidfd;
}

/* Whether the VM named name with that pid still answers; for -f without a
 * pidfd. */
static bool vm_answers(const char *name, pid_t pid)
{
    g_autoptr(GHashTable) st = control_request(name, "status", NULL);

    return reply_pid(st) == pid;
}

/* -f: prints what is appended to fd's file (woken by inotify) until the
 * VM exits; then what is left.  False on an error (set, or reported). */
static bool follow(int fd, const LogSource *src, const char *name,
                   GError **errp)
{
    int notify = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    bool gone = false, ok = true;
    int pidfd;

    if (notify < 0 ||
        inotify_add_watch(notify, src->path, IN_MODIFY) < 0) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_IO,
                    "cannot watch %s: %s", src->path, g_strerror(errno));
        if (notify >= 0) {
            close(notify);
        }
        /* What there is, then the error. */
        copy_rest(fd, src->path, NULL);
        return false;
    }
    pidfd = open_vm_pidfd(name, src->pid, &gone);
    while (!gone && (ok = copy_rest(fd, src->path, errp))) {
        struct pollfd fds[2] = {
            { .fd = notify, .events = POLLIN },
            { .fd = pidfd, .events = POLLIN },
        };
        char events[4096];
        int ready = poll(fds, pidfd >= 0 ? 2 : 1,
                         pidfd >= 0 ? -1 : FOLLOW_CHECK_MS);

        if (ready < 0 && errno != EINTR) {
            break;
        }
        while (read(notify, events, sizeof(events)) > 0) {
            /* Only that the file grew matters. */
        }
        gone = pidfd >= 0 ? fds[1].revents != 0
                          : ready == 0 && !vm_answers(name, src->pid);
    }
    /* The VM has written all it will: the rest, and done. */
    ok = ok && copy_rest(fd, src->path, errp);
    if (pidfd >= 0) {
        close(pidfd);
    }
    close(notify);
    return ok;
}

int cmd_logs(int argc, char **argv)
{
    gboolean follow_it = FALSE;
    g_autofree char *log_dir = NULL;
    GOptionEntry entries[] = {
        { "follow", 'f', 0, G_OPTION_ARG_NONE, &follow_it,
          "Go on printing what a running VM writes, until it exits", NULL },
        { "log-dir", 0, 0, G_OPTION_ARG_FILENAME, &log_dir,
          "Where up put NAME.log (default .vmspec/logs)", "D" },
        G_OPTION_ENTRY_NULL,
    };
    g_autoptr(GError) err = NULL;
    LogSource src = { 0 };
    bool ok;
    int fd;

    if (!cmd_parse_options("logs", "NAME",
                           "Print a VM's console log (-f: and follow it).",
                           entries, &argc, &argv)) {
        return EXIT_USAGE;
    }
    if (argc != 2) {
        cmd_error("logs", "expected one NAME");
        return EXIT_USAGE;
    }
    /* The name makes file names: one a spec could not give is refused. */
    if (!vm_name_check(argv[1], &err)) {
        cmd_error("logs", "%s", err->message);
        return EXIT_USAGE;
    }
    if (!find_log(argv[1], log_dir ? log_dir : ".vmspec/logs", &src, &err)) {
        cmd_error(NULL, "%s", err->message);
        return EXIT_ERROR;
    }
    fd = open(src.path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        cmd_error(NULL, "cannot open %s: %s", src.path, g_strerror(errno));
        log_source_clear(&src);
        return EXIT_ERROR;
    }
    ok = follow_it && src.pid > 0 ? follow(fd, &src, argv[1], &err)
                                  : copy_rest(fd, src.path, &err);
    if (!ok && err) {
        cmd_error(NULL, "%s", err->message);
    }
    close(fd);
    log_source_clear(&src);
    return ok ? EXIT_OK : EXIT_ERROR;
}
