/*
 * vmspec up -d (cmd/up.h): the specs checked, up forks a supervisor that
 * runs the VMs as `up` does, and the foreground stays only until each VM
 * is running or has failed.
 *
 * The supervisor tells the foreground over a socket pair: one line per VM,
 * "INDEX running PID" or "INDEX exited STATUS" (INDEX into up->vms, which
 * both sides have from before the fork) as each gets there; once no VM is
 * starting any more, "INDEX queued 0" for each still queued behind -j
 * (which counts as done), and it closes its end.  A VM it never told of
 * means the supervisor ended first.  A
 * socket rather than a pipe for send(MSG_NOSIGNAL): a foreground that went
 * away (Ctrl-C, a closed terminal) costs the supervisor an EPIPE rather
 * than its life, without ignoring SIGPIPE process-wide, which the VMs
 * would inherit.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "cmd/output.h"
#include "cmd/up.h"

/* How much of a failed VM's log is read for the lines that explain it,
 * and how many lines are shown when none is vmspec's own message. */
#define FAILURE_TAIL_BYTES 8192
#define FAILURE_TAIL_LINES 5

/* The fd the supervisor keeps its end of the report socket on, once it
 * has closed what it inherited above stderr. */
#define SUPERVISOR_REPORT_FD 3

/* --- The supervisor ------------------------------------------------------- */

static bool send_report(Up *up, guint index, const char *what, int value)
{
    g_autofree char *line = g_strdup_printf("%u %s %d\n", index, what,
                                            value);

    return send(up->report_fd, line, strlen(line), MSG_NOSIGNAL) ==
           (ssize_t)strlen(line);
}

void up_report_progress(Up *up)
{
    bool starting = false, told = true;

    if (up->report_fd < 0) {
        return;
    }
    for (guint i = 0; i < up->vms->len && told; i++) {
        UpVm *v = up->vms->pdata[i];

        if (v->reported || v->state == VM_QUEUED ||
            v->state == VM_SKIPPED) {
            continue;
        }
        if (!v->ready && v->state != VM_EXITED) {
            starting = true;
            continue;
        }
        told = v->ready ? send_report(up, i, "running", v->pid)
                        : send_report(up, i, "exited", v->status);
        v->reported = told;
    }
    if (starting && told) {
        return;
    }
    for (guint i = 0; i < up->vms->len && told; i++) {
        UpVm *v = up->vms->pdata[i];

        if (!v->reported) {
            told = send_report(up, i, "queued", 0);
        }
    }
    /* Done, or no one to tell (the foreground went away). */
    close(up->report_fd);
    up->report_fd = -1;
}

/* Leaves the user's session and terminal: a session of its own, stdin
 * /dev/null, stdout and stderr to log_fd (closed then), the working
 * directory / (every path it uses is absolute), and no fd inherited from
 * up's caller but report_fd, which it moves to SUPERVISOR_REPORT_FD. */
static bool become_supervisor(int log_fd, int report_fd)
{
    int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

    if (setsid() < 0 || chdir("/") < 0 || null_fd < 0 ||
        dup2(null_fd, STDIN_FILENO) < 0 || dup2(log_fd, STDOUT_FILENO) < 0 ||
        dup2(log_fd, STDERR_FILENO) < 0) {
        return false;
    }
    if (null_fd > STDERR_FILENO) {
        close(null_fd);
    }
    if (log_fd > STDERR_FILENO) {
        close(log_fd);
    }
    if (report_fd != SUPERVISOR_REPORT_FD) {
        if (dup3(report_fd, SUPERVISOR_REPORT_FD, O_CLOEXEC) < 0) {
            return false;
        }
        close(report_fd);
    }
    /* Best effort (Linux 5.9): an fd the caller left open, a terminal
     * even, is not held for as long as the VMs run. */
    close_range(SUPERVISOR_REPORT_FD + 1, ~0U, 0);
    return true;
}

static void print_header(Up *up)
{
    g_autoptr(GDateTime) now = g_date_time_new_now_local();
    g_autofree char *when = g_date_time_format(now, "%Y-%m-%d %H:%M:%S");

    printf("vmspec up -d: supervisor pid %d, %s:", getpid(), when);
    for (guint i = 0; i < up->vms->len; i++) {
        printf(" %s", ((UpVm *)up->vms->pdata[i])->name);
    }
    printf("\n");
    fflush(stdout);
}

/* --- The foreground ------------------------------------------------------- */

/* The lines of the end of v's log that say why it failed: its last
 * "vmspec:" message, else its last few lines; escaped, as it is the
 * guest's output too. */
static void print_failure(const UpVm *v)
{
    g_autofree char *log = cmd_escape(v->log);
    char buf[FAILURE_TAIL_BYTES + 1];
    int fd = open(v->log, O_RDONLY | O_CLOEXEC);
    g_auto(GStrv) lines = NULL;
    struct stat st;
    ssize_t n = -1;
    int last = -1, shown = 0, first;

    if (fd >= 0 && fstat(fd, &st) == 0) {
        off_t from = st.st_size > FAILURE_TAIL_BYTES
            ? st.st_size - FAILURE_TAIL_BYTES : 0;

        n = pread(fd, buf, FAILURE_TAIL_BYTES, from);
    }
    if (fd >= 0) {
        close(fd);
    }
    if (n <= 0) {
        printf("  (nothing in its log %s)\n", log);
        return;
    }
    buf[n] = '\0';
    g_strdelimit(buf, "\r", '\n');
    lines = g_strsplit(buf, "\n", -1);
    for (int i = 0; lines[i]; i++) {
        if (g_str_has_prefix(lines[i], "vmspec:")) {
            last = i;
        }
    }
    first = last;
    if (last < 0) {
        /* The last lines with something in them. */
        for (first = (int)g_strv_length(lines) - 1; first > 0; first--) {
            shown += lines[first][0] != '\0';
            if (shown == FAILURE_TAIL_LINES) {
                break;
            }
        }
    }
    for (int i = first; lines[i] && (last < 0 || i == last); i++) {
        if (lines[i][0]) {
            g_autofree char *text = cmd_escape(lines[i]);

            printf("  %s\n", text);
        }
    }
}

/* One report line: prints what it says of its VM; false if it failed. */
static bool take_report(Up *up, const char *line)
{
    unsigned index;
    char what[16];
    int value;
    UpVm *v;
    g_autofree char *log = NULL;

    if (sscanf(line, "%u %15s %d", &index, what, &value) != 3 ||
        index >= up->vms->len) {
        return true;
    }
    v = up->vms->pdata[index];
    log = cmd_escape(v->log);
    if (strcmp(what, "running") == 0) {
        v->state = VM_RUNNING;
        printf("%s: running (pid %d), log %s\n", v->name, value, log);
        return true;
    }
    if (strcmp(what, "queued") == 0) {
        v->state = VM_QUEUED;
        printf("%s: queued (-j %d), log %s\n", v->name, up->jobs, log);
        return true;
    }
    v->state = VM_EXITED;
    printf("%s: failed: exit %d\n", v->name, value);
    print_failure(v);
    return false;
}

/* Reads the supervisor's reports until it closes the socket; then says
 * what it did not report.  Returns the foreground's exit status. */
static int await_start(Up *up, int fd, pid_t supervisor, const char *up_log)
{
    g_autoptr(GString) in = g_string_new(NULL);
    g_autofree char *up_log_shown = cmd_escape(up_log);
    bool ok = true, supervised = false;
    char buf[512];
    ssize_t n;
    char *nl;

    /* As the foreground sees them until told otherwise. */
    for (guint i = 0; i < up->vms->len; i++) {
        ((UpVm *)up->vms->pdata[i])->state = VM_STARTING;
    }
    while ((n = read(fd, buf, sizeof(buf))) != 0) {
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            break;
        }
        g_string_append_len(in, buf, n);
        while ((nl = memchr(in->str, '\n', in->len))) {
            *nl = '\0';
            ok &= take_report(up, in->str);
            fflush(stdout);
            g_string_erase(in, 0, nl - in->str + 1);
        }
    }
    close(fd);
    for (guint i = 0; i < up->vms->len; i++) {
        UpVm *v = up->vms->pdata[i];

        supervised |= v->state == VM_RUNNING || v->state == VM_QUEUED;
        if (v->state == VM_STARTING) {
            printf("%s: failed: the supervisor ended before it started "
                   "(see %s)\n", v->name, up_log_shown);
            ok = false;
        }
    }
    if (supervised) {
        printf("supervisor: pid %d, log %s\n", supervisor, up_log_shown);
    }
    return ok ? EXIT_OK : EXIT_ERROR;
}

int up_detach(Up *up, const char *self, const char *log_dir)
{
    g_autofree char *up_log = g_build_filename(log_dir, "up.log", NULL);
    int report[2], log_fd;
    pid_t pid;

    log_fd = open(up_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC |
                  O_NOCTTY, 0644);
    if (log_fd < 0) {
        cmd_error(NULL, "cannot open %s: %s", up_log, g_strerror(errno));
        return EXIT_ERROR;
    }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, report) < 0) {
        cmd_error(NULL, "cannot detach: %s", g_strerror(errno));
        close(log_fd);
        return EXIT_ERROR;
    }
    /* Nothing buffered is written twice. */
    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        cmd_error(NULL, "cannot detach: %s", g_strerror(errno));
        close(report[0]);
        close(report[1]);
        close(log_fd);
        return EXIT_ERROR;
    }
    if (pid == 0) {
        close(report[0]);
        if (!become_supervisor(log_fd, report[1])) {
            /* The foreground sees the socket close, no VM started. */
            _exit(EXIT_ERROR);
        }
        up->tty = false;
        up->report_fd = SUPERVISOR_REPORT_FD;
        /* Its messages name the logs as they are from its cwd, /. */
        for (guint i = 0; i < up->vms->len; i++) {
            UpVm *v = up->vms->pdata[i];

            g_free(v->log);
            v->log = g_strdup(v->log_abs);
        }
        print_header(up);
        return up_supervise(up, self);
    }
    close(report[1]);
    close(log_fd);
    if (await_start(up, report[0], pid, up_log) != EXIT_OK) {
        return EXIT_ERROR;
    }
    return up->wait_ready ? up_await_ready(up) : EXIT_OK;
}
