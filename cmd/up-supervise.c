/*
 * vmspec up's supervisor (cmd/up.h): each VM a `vmspec run` child in its
 * own session with its console and messages in its log, started when -j
 * allows, RUNNING once the child says on its --ready-fd that the machine
 * is realized and its vCPUs run, reaped when it ends.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "cmd/output.h"
#include "cmd/up.h"

extern char **environ;

/* The fd the child's --ready-fd names. */
#define CHILD_READY_FD 3

static const char *const state_names[] = {
    "queued", "starting", "running", "stopping", "exited", "skipped",
};

/* A pipe for the child's "ready": both ends close-on-exec (every other
 * child must not hold a write end, or a failed start would never show as
 * EOF), the write end off CHILD_READY_FD, which dup2() onto itself would
 * leave close-on-exec. */
static bool ready_pipe(int fds[2])
{
    if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0) {
        return false;
    }
    if (fds[1] == CHILD_READY_FD) {
        int moved = fcntl(fds[1], F_DUPFD_CLOEXEC, CHILD_READY_FD + 1);

        close(fds[1]);
        fds[1] = moved;
        if (moved < 0) {
            close(fds[0]);
            return false;
        }
    }
    return true;
}

static bool spawn_vm(UpVm *v, const char *self)
{
    g_autofree char *console = g_strdup_printf("console=file:%s",
                                               v->log_abs);
    g_autofree char *ready_arg = g_strdup_printf("%d", CHILD_READY_FD);
    char *argv[] = { (char *)self, "run", "--ready-fd", ready_arg, "--set",
                     console, v->spec_abs, NULL };
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t none;
    int ready[2];
    int rc;

    if (!ready_pipe(ready)) {
        rc = errno;
        goto failed;
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, v->log_abs,
                                     O_WRONLY | O_CREAT | O_TRUNC | O_APPEND,
                                     0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    posix_spawn_file_actions_adddup2(&fa, ready[1], CHILD_READY_FD);
    posix_spawnattr_init(&attr);
    /* Its own session: the terminal's Ctrl-C reaches only `up`, which
     * stops the VMs in order.  Signals blocked here are unblocked there. */
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID |
                                    POSIX_SPAWN_SETSIGMASK);
    rc = posix_spawn(&v->pid, self, &fa, &attr, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close(ready[1]);
    if (rc != 0) {
        close(ready[0]);
        goto failed;
    }
    v->ready_fd = ready[0];
    v->state = VM_STARTING;
    v->started = g_get_monotonic_time();
    return true;

failed:
    fprintf(stderr, "vmspec: %s: cannot start: %s\n", v->name,
            g_strerror(rc));
    v->state = VM_EXITED;
    v->status = EXIT_ERROR;
    return false;
}

static char *format_duration(gint64 us)
{
    return g_strdup_printf("%.1fs", us / 1e6);
}

static void print_row(GString *out, UpVm *v)
{
    gint64 end = v->ended ? v->ended : g_get_monotonic_time();
    g_autofree char *up = v->started ? format_duration(end - v->started)
                                     : g_strdup("-");
    g_autofree char *pid = v->pid ? g_strdup_printf("%d", v->pid)
                                  : g_strdup("-");
    g_autofree char *status = v->state == VM_EXITED
        ? g_strdup_printf("%d%s", v->status, v->timed_out ? " (timeout)" : "")
        : g_strdup("-");
    g_autofree char *log = cmd_escape(v->log);

    g_string_append_printf(out, "%-20s %-9s %8s %9s %6s  %s\n", v->name,
                           state_names[v->state], pid, up, status, log);
}

static void print_table(Up *up, FILE *out)
{
    g_autoptr(GString) s = g_string_new(NULL);

    g_string_append_printf(s, "%-20s %-9s %8s %9s %6s  %s\n", "NAME",
                           "STATE", "PID", "UPTIME", "EXIT", "LOG");
    for (guint i = 0; i < up->vms->len; i++) {
        print_row(s, up->vms->pdata[i]);
    }
    if (up->tty && up->drawn_lines) {
        /* Back to the top of the last table, and clear below. */
        fprintf(out, "\033[%uA\033[J", up->drawn_lines);
    }
    fputs(s->str, out);
    fflush(out);
    up->drawn_lines = up->vms->len + 1;
}

/* One line per state change when not on a terminal. */
static void report(Up *up, UpVm *v)
{
    if (up->tty) {
        return;
    }
    if (v->state == VM_EXITED) {
        g_autofree char *d = format_duration(v->ended - v->started);

        printf("%s: exited %d after %s%s\n", v->name, v->status, d,
               v->timed_out ? " (timeout)" : "");
    } else {
        printf("%s: %s (pid %d)\n", v->name, state_names[v->state], v->pid);
    }
    fflush(stdout);
}

static bool is_live(const UpVm *v)
{
    return v->state == VM_STARTING || v->state == VM_RUNNING ||
           v->state == VM_STOPPING;
}

static void signal_running(Up *up, int sig)
{
    for (guint i = 0; i < up->vms->len; i++) {
        UpVm *v = up->vms->pdata[i];

        if (is_live(v)) {
            kill(v->pid, sig);
            if (v->state != VM_STOPPING) {
                v->state = VM_STOPPING;
                report(up, v);
            }
        } else if (v->state == VM_QUEUED) {
            v->state = VM_SKIPPED;
        }
    }
}

/* Reads what v's child said on its ready pipe: "ready" makes it RUNNING
 * (the pipe is then done with); EOF, a child that failed or exited before,
 * closes the pipe too, and reap() sees its status. */
static void take_ready(Up *up, UpVm *v)
{
    char buf[16];
    ssize_t got = read(v->ready_fd, buf, sizeof(buf));

    if (got < 0 && (errno == EAGAIN || errno == EINTR)) {
        return;
    }
    if (got > 0 && v->state == VM_STARTING) {
        v->state = VM_RUNNING;
        v->ready = true;
        report(up, v);
    }
    close(v->ready_fd);
    v->ready_fd = -1;
}

static void read_ready(Up *up, const struct pollfd *fds, int n)
{
    for (int i = 0; i < n; i++) {
        for (guint j = 0; j < up->vms->len && fds[i].revents; j++) {
            UpVm *v = up->vms->pdata[j];

            if (v->ready_fd == fds[i].fd) {
                take_ready(up, v);
                break;
            }
        }
    }
}

static void reap(Up *up)
{
    int wstatus;
    pid_t pid;

    while ((pid = waitpid(-1, &wstatus, WNOHANG)) > 0) {
        for (guint i = 0; i < up->vms->len; i++) {
            UpVm *v = up->vms->pdata[i];

            if (v->pid == pid && v->state != VM_EXITED) {
                /* A "ready" written just before it ended still counts. */
                if (v->ready_fd >= 0) {
                    take_ready(up, v);
                }
                if (v->ready_fd >= 0) {
                    close(v->ready_fd);
                    v->ready_fd = -1;
                }
                v->state = VM_EXITED;
                v->ended = g_get_monotonic_time();
                v->status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus)
                                               : 128 + WTERMSIG(wstatus);
                report(up, v);
            }
        }
    }
}

static guint count_live(Up *up)
{
    guint n = 0;

    for (guint i = 0; i < up->vms->len; i++) {
        n += is_live(up->vms->pdata[i]);
    }
    return n;
}

static guint count(Up *up, UpState state)
{
    guint n = 0;

    for (guint i = 0; i < up->vms->len; i++) {
        n += ((UpVm *)up->vms->pdata[i])->state == state;
    }
    return n;
}

static void start_queued(Up *up, const char *self)
{
    for (guint i = 0; i < up->vms->len && !up->stop_requests; i++) {
        UpVm *v = up->vms->pdata[i];

        if (v->state == VM_QUEUED &&
            (up->jobs <= 0 || (int)count_live(up) < up->jobs)) {
            if (spawn_vm(v, self)) {
                report(up, v);
            }
        }
    }
}

/* --timeout: a VM past its time is stopped in order; 10 s later, killed. */
static void enforce_timeouts(Up *up)
{
    gint64 now = g_get_monotonic_time();

    for (guint i = 0; up->timeout_us && i < up->vms->len; i++) {
        UpVm *v = up->vms->pdata[i];
        gint64 age = now - v->started;

        if ((v->state == VM_STARTING || v->state == VM_RUNNING) &&
            age > up->timeout_us) {
            v->timed_out = true;
            v->state = VM_STOPPING;
            kill(v->pid, SIGTERM);
            report(up, v);
        } else if (v->state == VM_STOPPING && v->timed_out &&
                   age > up->timeout_us + 10 * G_USEC_PER_SEC) {
            kill(v->pid, SIGKILL);
        }
    }
}

/* The signalfd, then every ready pipe still open; returns how many. */
static int wait_fds(Up *up, int signal_fd, struct pollfd *fds)
{
    int n = 0;

    fds[n++] = (struct pollfd){ .fd = signal_fd, .events = POLLIN };
    for (guint i = 0; i < up->vms->len; i++) {
        UpVm *v = up->vms->pdata[i];

        if (v->ready_fd >= 0) {
            fds[n++] = (struct pollfd){ .fd = v->ready_fd, .events = POLLIN };
        }
    }
    return n;
}

static int print_summary(Up *up)
{
    guint ok = 0;

    /* The live table's last state, or a fresh table. */
    print_table(up, stdout);
    for (guint i = 0; i < up->vms->len; i++) {
        UpVm *v = up->vms->pdata[i];

        ok += v->state == VM_EXITED && v->status == 0;
    }
    printf("%u of %u VMs exited 0\n", ok, up->vms->len);
    fflush(stdout);
    return ok == up->vms->len ? EXIT_OK : EXIT_ERROR;
}

int up_supervise(Up *up, const char *self)
{
    g_autofree struct pollfd *fds = g_new(struct pollfd, up->vms->len + 1);
    sigset_t set;
    int sfd;

    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    sfd = signalfd(-1, &set, SFD_CLOEXEC);

    start_queued(up, self);
    up_report_progress(up);
    while (count_live(up) + count(up, VM_QUEUED) > 0) {
        int n = wait_fds(up, sfd, fds);

        if (up->tty) {
            print_table(up, stdout);
        }
        if (poll(fds, n, 1000) > 0) {
            struct signalfd_siginfo info;

            if (fds[0].revents &&
                read(sfd, &info, sizeof(info)) == sizeof(info) &&
                info.ssi_signo != SIGCHLD) {
                up->stop_requests++;
                signal_running(up, up->stop_requests > 1 ? SIGKILL : SIGTERM);
            }
            /* Before reap(): a child's "ready" counts even if it has
             * ended since. */
            read_ready(up, fds + 1, n - 1);
        }
        reap(up);
        enforce_timeouts(up);
        start_queued(up, self);
        up_report_progress(up);
    }
    close(sfd);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    return print_summary(up);
}
