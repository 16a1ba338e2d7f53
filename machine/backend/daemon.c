/*
 * Backend daemons: fork + exec with a fixed descriptor plan, a log file or
 * memfd for their output, PR_SET_PDEATHSIG, and an optional read-only
 * mount namespace.  Everything the child needs is prepared before fork:
 * vmspec is multithreaded, so between fork and exec the child makes only
 * async-signal-safe calls (system calls, no malloc, no locks).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "machine/backend/daemon.h"
#include "machine/qom/error.h"

#define CLOSE_LOOP_MAX  (1 << 20) /* without close_range (Linux < 5.9) */
#define SUMMARY_MAX     200     /* characters of output in a summary */
#define POLL_STEP_MS    10      /* the wait loop's step without a pidfd */

struct Daemon {
    pid_t pid;
    int log_fd;         /* read back with pread */
    int pidfd;          /* -1 without pidfd_open (before Linux 5.3) */
    GMutex lock;        /* reaped, status: the summary reads them anywhere */
    bool reaped;
    int status;         /* waitpid's; -1 when someone else reaped it */
    bool killed;        /* daemon_stop had to SIGKILL it */
    bool group_done;    /* no child of vmspec's is left in its group;
                         * atomic (daemon_stop reads it unlocked) */
};

/* What failed in the child, sent through the report pipe before _exit. */
typedef enum {
    STEP_PRCTL, STEP_FDS, STEP_UNSHARE, STEP_MOUNT, STEP_EXEC,
} ChildStep;

typedef struct {
    int step, err;
} ChildReport;

/* Everything the child uses, ready before fork. */
typedef struct {
    pid_t parent;
    const DaemonOptions *opts;
    int devnull, log_w, report_w;
    int *moved;         /* n_pass_fds + 2 slots the child writes */
    long close_max;     /* the fallback close loop's bound */
} ChildPlan;

/* No handler is installed in the child, so no EINTR.  Should the write
 * fail, the parent sees it start and exit with status 126. */
static G_NORETURN void child_fail(int report_fd, ChildStep step)
{
    ChildReport r = { .step = step, .err = errno };

    _exit(write(report_fd, &r, sizeof(r)) == sizeof(r) ? 127 : 126);
}

/* Moves fd to the lowest free descriptor >= min (close-on-exec). */
static int child_move(int fd, int min, int report_fd)
{
    int moved = fcntl(fd, F_DUPFD_CLOEXEC, min);

    if (moved < 0) {
        child_fail(report_fd, STEP_FDS);
    }
    return moved;
}

/* In the child; only async-signal-safe calls.  Never returns. */
static G_NORETURN void child_run(const ChildPlan *p)
{
    const DaemonOptions *o = p->opts;
    int n = o->n_pass_fds, report = p->report_w;
    int *moved = p->moved;
    struct sigaction dfl = { .sa_handler = SIG_DFL };
    sigset_t none;

    if (prctl(PR_SET_PDEATHSIG,
              o->death_signal ? o->death_signal : SIGKILL) < 0) {
        child_fail(report, STEP_PRCTL);
    }
    if (getppid() != p->parent) {
        _exit(127);     /* vmspec died before that took effect */
    }
    /* Signals were all blocked around fork: no handler of vmspec's runs
     * here.  Dispositions to default (ignored ones survive exec), then
     * an empty mask. */
    for (int sig = 1; sig < NSIG; sig++) {
        sigaction(sig, &dfl, NULL);
    }
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    /* Its own session: Ctrl-C on vmspec's terminal is vmspec's to handle,
     * and vmspec stops the daemon when it is done with it. */
    setsid();

    if (o->readonly_path) {
        if (unshare(CLONE_NEWNS) < 0) {
            child_fail(report, STEP_UNSHARE);
        }
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
            mount(o->readonly_path, o->readonly_path, NULL,
                  MS_BIND | MS_REC, NULL) < 0 ||
            mount(NULL, o->readonly_path, NULL,
                  MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) < 0) {
            child_fail(report, STEP_MOUNT);
        }
    }

    /* Every descriptor the plan uses goes above 3..3+n first, so that a
     * source that is also a target is not clobbered; the report pipe then
     * sits at 3+n (close-on-exec) and everything above it is closed. */
    for (int i = 0; i < n; i++) {
        moved[i] = child_move(o->pass_fds[i], n + 4, report);
    }
    moved[n] = child_move(p->devnull, n + 4, report);
    moved[n + 1] = child_move(p->log_w, n + 4, report);
    if (report != n + 3) {
        if (dup3(report, n + 3, O_CLOEXEC) < 0) {
            child_fail(report, STEP_FDS);
        }
        report = n + 3;
    }
    if (dup2(moved[n], 0) < 0 || dup2(moved[n + 1], 1) < 0 ||
        dup2(moved[n + 1], 2) < 0) {
        child_fail(report, STEP_FDS);
    }
    for (int i = 0; i < n; i++) {
        if (dup2(moved[i], 3 + i) < 0) {    /* dup2 clears FD_CLOEXEC */
            child_fail(report, STEP_FDS);
        }
    }
    if (syscall(SYS_close_range, n + 4, ~0U, 0) < 0) {
        for (long fd = n + 4; fd < p->close_max; fd++) {
            close(fd);
        }
    }

    execv(o->argv[0], (char *const *)o->argv);
    child_fail(report, STEP_EXEC);
}

static void set_child_error(GError **errp, const DaemonOptions *o,
                            const ChildReport *r)
{
    g_autofree char *what = NULL;

    if (r->step == STEP_UNSHARE || r->step == STEP_MOUNT) {
        what = g_strdup_printf("cannot make %s read-only (%s)",
                               o->readonly_path,
                               r->step == STEP_UNSHARE ? "unshare" : "mount");
    } else if (r->step == STEP_EXEC) {
        what = g_strdup_printf("cannot run %s", o->argv[0]);
    } else {
        what = g_strdup(r->step == STEP_PRCTL ? "prctl(PR_SET_PDEATHSIG)"
                        : "cannot set up its descriptors");
    }
    g_set_error(errp, VMSPEC_ERROR, r->err == ENOENT ? VMSPEC_ERROR_NOT_FOUND
                : VMSPEC_ERROR_IO, "%s: %s: %s", o->name, what,
                g_strerror(r->err));
}

static void close_fd(int fd)
{
    if (fd >= 0) {
        close(fd);
    }
}

/* Opens the log: *log_w for the child's stdout and stderr, *log_r kept to
 * read it back (the same memfd where log_path is NULL). */
static bool open_log(const DaemonOptions *o, int *log_w, int *log_r,
                     GError **errp)
{
    if (!o->log_path) {
        *log_w = *log_r = memfd_create("daemon-log", MFD_CLOEXEC);
    } else {
        *log_w = open(o->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                      0600);
        *log_r = *log_w < 0 ? -1 : open(o->log_path, O_RDONLY | O_CLOEXEC);
    }
    if (*log_r < 0) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_IO,
                    "%s: cannot open log %s: %s", o->name,
                    o->log_path ? o->log_path : "(memfd)", g_strerror(errno));
        close_fd(*log_w);
        return false;
    }
    return true;
}

Daemon *daemon_start(const DaemonOptions *opts, GError **errp)
{
    ChildPlan plan = { .parent = getpid(), .opts = opts, .devnull = -1,
                       .log_w = -1, .report_w = -1 };
    g_autofree int *moved = g_new(int, opts->n_pass_fds + 2);
    long open_max = sysconf(_SC_OPEN_MAX);
    int log_r = -1, report[2] = { -1, -1 }, saved_errno;
    sigset_t all, old;
    ChildReport r;
    Daemon *d = NULL;
    ssize_t got;
    pid_t pid;

    g_assert(opts->name && opts->argv && opts->argv[0]);
    plan.moved = moved;
    plan.close_max = MIN(MAX(open_max, 1024), CLOSE_LOOP_MAX);
    for (unsigned i = 0; i < opts->n_pass_fds; i++) {
        if (fcntl(opts->pass_fds[i], F_GETFD) < 0) {
            g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_IO,
                        "%s: cannot pass fd %d: %s", opts->name,
                        opts->pass_fds[i], g_strerror(errno));
            return NULL;
        }
    }
    if (!open_log(opts, &plan.log_w, &log_r, errp)) {
        return NULL;
    }
    plan.devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (plan.devnull < 0 || pipe2(report, O_CLOEXEC) < 0) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_IO, "%s: %s: %s",
                    opts->name, plan.devnull < 0 ? "/dev/null" : "pipe",
                    g_strerror(errno));
        goto out;
    }
    plan.report_w = report[1];

    /* A daemon's own children (virtiofsd's server runs in a child of the
     * process vmspec starts, which leaves it behind when SIGTERM ends it)
     * become vmspec's when the daemon exits, so daemon_stop can reap them
     * too instead of leaving them to init.  A process attribute, set once
     * and for good. */
    (void)prctl(PR_SET_CHILD_SUBREAPER, 1);
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid = fork();
    if (pid == 0) {
        child_run(&plan);
    }
    saved_errno = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (pid < 0) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_IO, "%s: fork: %s",
                    opts->name, g_strerror(saved_errno));
        goto out;
    }

    close(report[1]);
    report[1] = -1;
    do {
        got = read(report[0], &r, sizeof(r));
    } while (got < 0 && errno == EINTR);
    if (got != 0) {
        /* A report: the child has _exited.  (A short one or a failed
         * read never happen; the child is killed then, to be sure.) */
        if (got != sizeof(r)) {
            r = (ChildReport){ .step = STEP_EXEC,
                               .err = got < 0 ? errno : EIO };
            kill(pid, SIGKILL);
        }
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
        }
        set_child_error(errp, opts, &r);
        goto out;
    }

    d = g_new0(Daemon, 1);
    d->pid = pid;
    d->log_fd = log_r;
    d->pidfd = syscall(SYS_pidfd_open, pid, 0);
    g_mutex_init(&d->lock);
out:
    close_fd(report[0]);
    close_fd(report[1]);
    close_fd(plan.devnull);
    if (plan.log_w != log_r) {
        close_fd(plan.log_w);
    }
    if (!d) {
        close_fd(log_r);
    }
    return d;
}

int daemon_listen_unix(const char *path, GError **errp)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    int fd;

    if (strlen(path) >= sizeof(addr.sun_path)) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "socket path %s is too long", path);
        return -1;
    }
    strcpy(addr.sun_path, path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_IO,
                    "cannot create a unix socket: %s", g_strerror(errno));
        return -1;
    }
    (void)unlink(path);
    if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
        listen(fd, 1) < 0) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_IO,
                    "cannot listen at %s: %s", path, g_strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

char *daemon_runtime_prefix(const char *runtime_prefix, char **scratch_dir,
                            GError **errp)
{
    if (runtime_prefix) {
        return g_strdup(runtime_prefix);
    }
    if (!*scratch_dir &&
        !(*scratch_dir = g_dir_make_tmp("vmspec-daemon-XXXXXX", errp))) {
        return NULL;
    }
    return g_build_filename(*scratch_dir, "vm", NULL);
}

char *daemon_describe_argv(const char *const *argv)
{
    GString *s = g_string_new(NULL);

    for (const char *const *a = argv; *a; a++) {
        g_autofree char *quoted = g_shell_quote(*a);

        g_string_append_printf(s, "%s%s", s->len ? " " : "",
                               strpbrk(*a, " '\"\\$`!*?{}") ? quoted : *a);
    }
    return g_string_free(s, false);
}

pid_t daemon_pid(const Daemon *d)
{
    return d->pid;
}

bool daemon_exited(Daemon *d)
{
    bool reaped;
    int status;
    pid_t r;

    g_mutex_lock(&d->lock);
    if (!d->reaped) {
        do {
            r = waitpid(d->pid, &status, WNOHANG);
        } while (r < 0 && errno == EINTR);
        if (r == d->pid || (r < 0 && errno == ECHILD)) {
            d->reaped = true;
            d->status = r < 0 ? -1 : status;
            /* Its orphans were made vmspec's before it could be reaped.
             * With none, the group's id is free for reuse from now on:
             * reap_group must not look for it again. */
            if (waitpid(-d->pid, &status, WNOHANG) < 0 && errno == ECHILD) {
                __atomic_store_n(&d->group_done, true, __ATOMIC_SEQ_CST);
            }
        }
    }
    reaped = d->reaped;
    g_mutex_unlock(&d->lock);
    return reaped;
}

/* Waits up to timeout_ms (-1: for ever) for the daemon to exit. */
static bool daemon_wait(Daemon *d, int timeout_ms)
{
    gint64 deadline = g_get_monotonic_time() +
                      (gint64)timeout_ms * G_TIME_SPAN_MILLISECOND;

    while (!daemon_exited(d)) {
        gint64 left = (deadline - g_get_monotonic_time()) /
                      G_TIME_SPAN_MILLISECOND;

        if (timeout_ms >= 0 && left <= 0) {
            return false;
        }
        if (d->pidfd >= 0) {
            struct pollfd pfd = { .fd = d->pidfd, .events = POLLIN };

            poll(&pfd, 1, timeout_ms < 0 ? -1 : (int)left + 1);
        } else {
            g_usleep(POLL_STEP_MS * G_TIME_SPAN_MILLISECOND);
        }
    }
    return true;
}

/*
 * Reaps what is left of the daemon's process group (its session, from
 * setsid in the child) after the daemon itself was reaped: its children,
 * orphaned to vmspec, the subreaper.  They get SIGTERM (unless termed:
 * the group had it already), and SIGKILL at deadline.  The group is
 * signalled only while waitpid shows unreaped
 * members of it (even zombies keep its id from reuse), and never looked
 * for again once it had none.
 */
static void reap_group(Daemon *d, gint64 deadline, bool termed)
{
    bool killed = false;

    while (!__atomic_load_n(&d->group_done, __ATOMIC_SEQ_CST)) {
        int status;
        pid_t r = waitpid(-d->pid, &status, WNOHANG);

        if (r > 0 || (r < 0 && errno == EINTR)) {
            continue;
        }
        if (r < 0) {
            /* ECHILD: none left */
            __atomic_store_n(&d->group_done, true, __ATOMIC_SEQ_CST);
            break;
        }
        if (!termed) {
            kill(-d->pid, SIGTERM);
            termed = true;
        } else if (!killed && g_get_monotonic_time() >= deadline) {
            kill(-d->pid, SIGKILL);
            killed = true;
        }
        g_usleep(POLL_STEP_MS * G_TIME_SPAN_MILLISECOND);
    }
}

bool daemon_stop(Daemon *d, unsigned timeout_ms)
{
    gint64 deadline = g_get_monotonic_time() +
                      (gint64)timeout_ms * G_TIME_SPAN_MILLISECOND;
    bool termed = false;

    if (!daemon_exited(d)) {
        /* Not reaped yet, so the pid, and the group it leads, are still
         * ours (maybe a zombie).  The whole group: a child of the daemon's
         * should end with it rather than after. */
        kill(-d->pid, SIGTERM);
        termed = true;
        if (!daemon_wait(d, (int)MIN(timeout_ms, (unsigned)G_MAXINT))) {
            d->killed = true;
            kill(-d->pid, SIGKILL);
            daemon_wait(d, -1);
        }
    }
    reap_group(d, deadline, termed);
    return !d->killed;
}

void daemon_free(Daemon *d)
{
    if (!d) {
        return;
    }
    daemon_stop(d, 2000);
    close_fd(d->pidfd);
    close_fd(d->log_fd);
    g_mutex_clear(&d->lock);
    g_free(d);
}

char *daemon_log_tail(Daemon *d)
{
    char *buf = g_malloc(DAEMON_LOG_KEEP + 1);
    struct stat st;
    off_t from = 0;
    size_t len = 0;
    ssize_t n;

    if (fstat(d->log_fd, &st) == 0 && st.st_size > DAEMON_LOG_KEEP) {
        from = st.st_size - DAEMON_LOG_KEEP;
    }
    /* Regular files and memfds: no EINTR, no short reads but at the end. */
    while (len < DAEMON_LOG_KEEP &&
           (n = pread(d->log_fd, buf + len, DAEMON_LOG_KEEP - len,
                      from + len)) > 0) {
        len += n;
    }
    buf[len] = '\0';
    for (char *nul; (nul = memchr(buf, '\0', len));) {
        *nul = '?';     /* a string to the end */
    }
    return buf;
}

/* The last non-blank line of the daemon's output, valid UTF-8 without
 * control characters, at most SUMMARY_MAX characters; NULL if none. */
static char *last_line(Daemon *d)
{
    g_autofree char *tail = daemon_log_tail(d);
    char *end = tail + strlen(tail), *start, *line;

    while (end > tail && g_ascii_isspace(end[-1])) {
        end--;
    }
    if (end == tail) {
        return NULL;
    }
    start = end;
    while (start > tail && start[-1] != '\n' && start[-1] != '\r') {
        start--;
    }
    line = g_utf8_make_valid(start, end - start);
    for (char *p = line; *p; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            *p = *p == '\t' ? ' ' : '?';
        }
    }
    if (g_utf8_strlen(line, -1) > SUMMARY_MAX) {
        char *cut = g_utf8_offset_to_pointer(line, SUMMARY_MAX);
        char *shorter = g_strdup_printf("%.*s...", (int)(cut - line), line);

        g_free(line);
        line = shorter;
    }
    return line;
}

char *daemon_exit_summary(Daemon *d)
{
    g_autofree char *what = NULL;
    g_autofree char *line = NULL;
    siginfo_t info = { 0 };
    int status = 0;
    bool ended;

    /* Reaping happens under the lock, so an unreaped child can be looked
     * at (WNOWAIT) from any thread without racing the main thread. */
    g_mutex_lock(&d->lock);
    ended = d->reaped;
    if (ended) {
        status = d->status;
    } else if (waitid(P_PID, d->pid, &info,
                      WEXITED | WNOHANG | WNOWAIT) == 0 &&
               info.si_pid == d->pid) {
        ended = true;
        status = info.si_code == CLD_EXITED ? W_EXITCODE(info.si_status, 0)
                                            : info.si_status;
    }
    g_mutex_unlock(&d->lock);

    if (!ended) {
        what = g_strdup("is running");
    } else if (status == -1) {
        what = g_strdup("has exited");
    } else if (WIFEXITED(status)) {
        what = g_strdup_printf("exited with status %d", WEXITSTATUS(status));
    } else {
        const char *abbrev = sigabbrev_np(WTERMSIG(status));

        what = g_strdup_printf("was killed by signal %d (SIG%s)",
                               WTERMSIG(status), abbrev ? abbrev : "?");
    }
    /* What a daemon wrote last explains an exit; before a signal it is
     * only whatever it happened to be doing. */
    if (ended && status != -1 && WIFEXITED(status)) {
        line = last_line(d);
    }
    return line ? g_strdup_printf("%s: %s", what, line) : g_steal_pointer(&what);
}
