/*
 * Backend daemons on /bin/sh scripts: exit status, signal and output in
 * the summary and the log tail (memfd and log file); a missing program is
 * a GError with the path and the errno; pass_fds arrive as 3, 4, ... (a
 * source that is also a target included) and nothing else leaks; vmspec's
 * ignored and blocked signals do not carry over; daemon_stop kills one
 * that ignores SIGTERM; the daemon dies with the process that started it
 * (PR_SET_PDEATHSIG); readonly_path is read-only inside, untouched outside
 * (root only).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <glib.h>
#include <glib/gstdio.h>

#include "machine/backend/daemon.h"
#include "machine/qom/error.h"

/* Starts `sh -c script` with opts' other fields; asserts it started. */
static Daemon *start_sh(const char *script, DaemonOptions *opts)
{
    const char *argv[] = { "/bin/sh", "-c", script, NULL };
    DaemonOptions o = opts ? *opts : (DaemonOptions){ 0 };
    g_autoptr(GError) err = NULL;
    Daemon *d;

    o.name = "test daemon";
    o.argv = argv;
    d = daemon_start(&o, &err);
    g_assert_no_error(err);
    g_assert_nonnull(d);
    return d;
}

static void wait_exit(Daemon *d)
{
    for (int i = 0; i < 500 && !daemon_exited(d); i++) {
        g_usleep(10000);
    }
    g_assert_true(daemon_exited(d));
}

static void assert_summary(Daemon *d, const char *expected)
{
    g_autofree char *s = daemon_exit_summary(d);

    g_assert_cmpstr(s, ==, expected);
}

/* Waits (up to 5 s) until the daemon's script has printed "ready". */
static void wait_ready(Daemon *d)
{
    g_autofree char *tail = NULL;

    for (int i = 0; i < 500; i++) {
        g_free(tail);
        tail = daemon_log_tail(d);
        if (*tail) {
            break;
        }
        g_usleep(10000);
    }
    g_assert_cmpstr(tail, ==, "ready\n");
}

static void test_exit_status(void)
{
    g_autoptr(Daemon) d = start_sh("echo hello; echo 'bad\tthing\033' >&2; "
                                   "echo; exit 3", NULL);
    g_autofree char *tail = NULL;

    wait_exit(d);
    tail = daemon_log_tail(d);
    g_assert_cmpstr(tail, ==, "hello\nbad\tthing\033\n\n");
    assert_summary(d, "exited with status 3: bad thing?");
    g_assert_true(daemon_stop(d, 100));
    g_assert_true(daemon_stop(d, 100));
}

static void test_signal_and_quiet(void)
{
    g_autoptr(Daemon) killed = start_sh("echo bye; kill -9 $$", NULL);
    g_autoptr(Daemon) quiet = start_sh("exit 0", NULL);
    g_autofree char *tail = NULL;

    wait_exit(killed);
    assert_summary(killed, "was killed by signal 9 (SIGKILL)");
    wait_exit(quiet);
    assert_summary(quiet, "exited with status 0");
    tail = daemon_log_tail(quiet);
    g_assert_cmpstr(tail, ==, "");
}

/* The summary of an exited but unreaped daemon (any thread's view). */
static void test_summary_before_reap(void)
{
    g_autoptr(Daemon) d = start_sh("exit 7", NULL);
    siginfo_t info = { 0 };

    g_assert_cmpint(waitid(P_PID, daemon_pid(d), &info,
                           WEXITED | WNOWAIT), ==, 0);
    assert_summary(d, "exited with status 7");
    g_assert_true(daemon_exited(d));
    assert_summary(d, "exited with status 7");
}

/* The tail is the last DAEMON_LOG_KEEP bytes; a long last line is cut. */
static void test_long_output(void)
{
    g_autoptr(Daemon) d = start_sh("i=0; while [ $i -lt 300 ]; do "
                                   "printf '%050d\\n' $i; i=$((i+1)); done; "
                                   "printf '%0300d\\n' 7", NULL);
    g_autofree char *tail = NULL;
    g_autofree char *summary = NULL;

    wait_exit(d);
    tail = daemon_log_tail(d);
    g_assert_cmpuint(strlen(tail), ==, DAEMON_LOG_KEEP);
    g_assert_true(g_str_has_suffix(tail, "0007\n"));
    summary = daemon_exit_summary(d);
    g_assert_true(g_str_has_prefix(summary, "exited with status 0: 000"));
    g_assert_true(g_str_has_suffix(summary, "..."));
    g_assert_cmpuint(strlen(summary), <, 240);
}

/* Created 0600; an existing log is truncated. */
static void test_log_path(void)
{
    g_autofree char *dir = g_dir_make_tmp("test-daemon-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "log", NULL);
    DaemonOptions o = { .log_path = path };
    struct stat st;

    for (int round = 0; round < 2; round++) {
        g_autofree char *contents = NULL;
        g_autofree char *tail = NULL;
        Daemon *d = start_sh(round ? "echo again" : "echo to the file; "
                             "echo more more more", &o);

        wait_exit(d);
        tail = daemon_log_tail(d);
        daemon_free(d);
        g_assert_true(g_file_get_contents(path, &contents, NULL, NULL));
        g_assert_cmpstr(tail, ==, contents);
        g_assert_cmpstr(contents, ==, round ? "again\n"
                        : "to the file\nmore more more\n");
        g_assert_cmpint(stat(path, &st), ==, 0);
        g_assert_cmpint(st.st_mode & 0777, ==, 0600);
    }
    g_unlink(path);
    g_rmdir(dir);
}

static void test_missing_program(void)
{
    const char *argv[] = { "/nonexistent/virtiofsd", "--help", NULL };
    DaemonOptions o = { .name = "virtiofsd for share src", .argv = argv };
    int fds[] = { 1000 };
    g_autoptr(GError) err = NULL;
    g_autoptr(Daemon) d = daemon_start(&o, &err);

    g_assert_null(d);
    g_assert_error(err, VMSPEC_ERROR, VMSPEC_ERROR_NOT_FOUND);
    g_assert_cmpstr(err->message, ==,
                    "virtiofsd for share src: cannot run "
                    "/nonexistent/virtiofsd: No such file or directory");
    g_clear_error(&err);

    argv[0] = "/dev/null";
    d = daemon_start(&o, &err);
    g_assert_null(d);
    g_assert_error(err, VMSPEC_ERROR, VMSPEC_ERROR_IO);
    g_assert_cmpstr(err->message, ==, "virtiofsd for share src: cannot run "
                    "/dev/null: Permission denied");
    g_clear_error(&err);

    o.pass_fds = fds;
    o.n_pass_fds = 1;
    d = daemon_start(&o, &err);
    g_assert_null(d);
    g_assert_error(err, VMSPEC_ERROR, VMSPEC_ERROR_IO);
    g_assert_cmpstr(err->message, ==, "virtiofsd for share src: cannot "
                    "pass fd 1000: Bad file descriptor");
}

static void read_line(int fd, const char *expected)
{
    char buf[64];
    ssize_t n = read(fd, buf, sizeof(buf) - 1);

    g_assert_cmpint(n, >, 0);
    buf[n] = '\0';
    g_assert_cmpstr(buf, ==, expected);
}

/* A pipe whose ends are at fd 20 or above, out of the way of 3 and 4. */
static void high_pipe(int p[2], int flags)
{
    int low[2];

    g_assert_cmpint(pipe2(low, flags), ==, 0);
    for (int i = 0; i < 2; i++) {
        p[i] = fcntl(low[i], flags ? F_DUPFD_CLOEXEC : F_DUPFD, 20);
        g_assert_cmpint(p[i], >=, 20);
        close(low[i]);
    }
}

/* Pipes a (at fd 4 here) and b (at fd 3) passed as { 4, 3 }: each source
 * is the other's target.  An inheritable pipe at fd 50 is not passed. */
static void test_pass_fds(void)
{
    int a[2], b[2], c[2], saved[2];
    int fds[] = { 4, 3 };
    DaemonOptions o = { .pass_fds = fds, .n_pass_fds = 2 };
    Daemon *d;

    for (int i = 0; i < 2; i++) {
        saved[i] = fcntl(3 + i, F_DUPFD_CLOEXEC, 60);
    }
    high_pipe(a, O_CLOEXEC);
    high_pipe(b, O_CLOEXEC);
    high_pipe(c, 0);
    g_assert_cmpint(dup2(c[1], 50), ==, 50);
    g_assert_cmpint(dup2(b[1], 3), ==, 3);
    g_assert_cmpint(dup2(a[1], 4), ==, 4);

    d = start_sh("echo a >&3; echo b >&4; "
                 "for n in 0 1 2 3 4 5 6 20 21 22 23 24 25 50 60 61; do "
                 "[ -e /proc/self/fd/$n ] && printf '%s ' $n; done; echo",
                 &o);
    wait_exit(d);
    assert_summary(d, "exited with status 0: 0 1 2 3 4");
    daemon_free(d);
    read_line(a[0], "a\n");
    read_line(b[0], "b\n");

    for (int i = 0; i < 2; i++) {
        if (saved[i] >= 0) {
            dup2(saved[i], 3 + i);
            close(saved[i]);
        } else {
            close(3 + i);
        }
        close(a[i]);
        close(b[i]);
        close(c[i]);
    }
    close(50);
}

/* SIGPIPE ignored and SIGTERM blocked here: the daemon gets neither. */
static void test_signals_reset(void)
{
    struct sigaction ign = { .sa_handler = SIG_IGN }, old;
    sigset_t term, old_mask;
    g_autoptr(Daemon) piped = NULL;
    g_autoptr(Daemon) sleeper = NULL;

    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    sigaction(SIGPIPE, &ign, &old);
    sigprocmask(SIG_BLOCK, &term, &old_mask);
    piped = start_sh("kill -PIPE $$; exit 0", NULL);
    sleeper = start_sh("exec sleep 100", NULL);
    sigaction(SIGPIPE, &old, NULL);
    sigprocmask(SIG_SETMASK, &old_mask, NULL);

    wait_exit(piped);
    assert_summary(piped, "was killed by signal 13 (SIGPIPE)");
    assert_summary(sleeper, "is running");
    g_assert_true(daemon_stop(sleeper, 5000));
    assert_summary(sleeper, "was killed by signal 15 (SIGTERM)");
}

static void test_stop_kills(void)
{
    g_autoptr(Daemon) d = start_sh("trap '' TERM; echo ready; "
                                   "exec sleep 100", NULL);
    gint64 start;

    wait_ready(d);
    start = g_get_monotonic_time();
    g_assert_false(daemon_stop(d, 300));
    g_assert_cmpint(g_get_monotonic_time() - start, >=, 300 * 1000);
    g_assert_cmpint(g_get_monotonic_time() - start, <, 1500 * 1000);
    assert_summary(d, "was killed by signal 9 (SIGKILL)");
    g_assert_false(daemon_stop(d, 300));
    g_assert_cmpint(kill(daemon_pid(d), 0), ==, -1);
}

/* virtiofsd's shape: the process vmspec starts exits at once on SIGTERM,
 * leaving a child of its own (here one that ignores SIGTERM).  The child
 * goes too, reaped by vmspec, by daemon_stop's return. */
static void test_stop_reaps_children(void)
{
    g_autoptr(Daemon) d = start_sh("(trap '' TERM; exec sleep 100) & "
                                   "trap 'exit 0' TERM; echo ready; "
                                   "while :; do sleep 0.05; done", NULL);
    gint64 start;

    wait_ready(d);
    g_assert_cmpint(kill(-daemon_pid(d), 0), ==, 0);
    start = g_get_monotonic_time();
    g_assert_true(daemon_stop(d, 300));
    g_assert_cmpint(g_get_monotonic_time() - start, <, 1500 * 1000);
    /* No member of its process group is left, not even a zombie. */
    g_assert_cmpint(kill(-daemon_pid(d), 0), ==, -1);
    g_assert_cmpint(errno, ==, ESRCH);
}

static void test_free_stops(void)
{
    Daemon *d = start_sh("exec sleep 100", NULL);
    pid_t pid = daemon_pid(d);

    daemon_free(d);
    daemon_free(NULL);
    g_assert_cmpint(kill(pid, 0), ==, -1);
    g_assert_cmpint(errno, ==, ESRCH);
}

/* A process starts `sleep 100` and exits; as the subreaper here, the test
 * reaps the orphaned sleep and finds it killed by SIGKILL. */
static void test_parent_death(void)
{
    int p[2], status = 0;
    pid_t middle, daemon = 0, r = 0;

    g_assert_cmpint(prctl(PR_SET_CHILD_SUBREAPER, 1), ==, 0);
    g_assert_cmpint(pipe2(p, O_CLOEXEC), ==, 0);
    middle = fork();
    g_assert_cmpint(middle, >=, 0);
    if (middle == 0) {
        const char *argv[] = { "/bin/sleep", "100", NULL };
        DaemonOptions o = { .name = "sleep", .argv = argv };
        Daemon *d = daemon_start(&o, NULL);
        pid_t pid = d ? daemon_pid(d) : 0;

        _exit(write(p[1], &pid, sizeof(pid)) == sizeof(pid) ? 0 : 1);
    }
    close(p[1]);
    g_assert_cmpint(read(p[0], &daemon, sizeof(daemon)), ==, sizeof(daemon));
    close(p[0]);
    g_assert_cmpint(daemon, >, 0);
    g_assert_cmpint(waitpid(middle, &status, 0), ==, middle);
    for (int i = 0; i < 200 && r == 0; i++) {
        r = waitpid(daemon, &status, WNOHANG);
        if (r == 0) {
            g_usleep(10000);
        }
    }
    if (r == 0) {
        kill(daemon, SIGKILL);
        waitpid(daemon, NULL, 0);
    }
    prctl(PR_SET_CHILD_SUBREAPER, 0);
    g_assert_cmpint(r, ==, daemon);
    g_assert_true(WIFSIGNALED(status));
    g_assert_cmpint(WTERMSIG(status), ==, SIGKILL);
}

static void test_readonly_path(void)
{
    g_autofree char *dir = NULL;
    g_autofree char *in = NULL;
    g_autofree char *out = NULL;
    g_autofree char *missing = NULL;
    g_autofree char *script = NULL;
    g_autofree char *tail = NULL;
    g_autoptr(GError) err = NULL;
    const char *argv[] = { "/bin/true", NULL };
    DaemonOptions o = { .name = "ro", .argv = argv };
    Daemon *d;

    if (geteuid() != 0) {
        g_test_skip("needs root (a mount namespace)");
        return;
    }
    dir = g_dir_make_tmp("test-daemon-XXXXXX", NULL);
    in = g_build_filename(dir, "in", NULL);
    out = g_build_filename(dir, "f", NULL);
    missing = g_build_filename(dir, "missing", NULL);
    g_assert_true(g_file_set_contents(in, "inside\n", -1, NULL));

    o.readonly_path = dir;
    d = daemon_start(&o, &err);
    if (!d && g_str_has_suffix(err->message,
                               "(unshare): Operation not permitted")) {
        g_test_skip(err->message);
        goto out;
    }
    g_assert_no_error(err);
    daemon_free(d);

    script = g_strdup_printf("cat %s; echo x > %s", in, out);
    o.readonly_path = dir;
    d = start_sh(script, &o);
    wait_exit(d);
    tail = daemon_log_tail(d);
    g_assert_true(g_str_has_prefix(tail, "inside\n"));
    g_assert_nonnull(strstr(tail, "Read-only file system"));
    g_free(script);
    script = g_strdup_printf("exited with status 2: /bin/sh: 1: cannot "
                             "create %s: Read-only file system", out);
    assert_summary(d, script);
    daemon_free(d);
    g_assert_false(g_file_test(out, G_FILE_TEST_EXISTS));
    g_assert_true(g_file_set_contents(out, "host\n", -1, NULL));

    o.readonly_path = missing;
    d = daemon_start(&o, &err);
    g_assert_null(d);
    g_assert_error(err, VMSPEC_ERROR, VMSPEC_ERROR_NOT_FOUND);
    g_assert_true(g_str_has_suffix(err->message, "read-only (mount): "
                                   "No such file or directory"));
    g_unlink(out);
out:
    g_unlink(in);
    g_rmdir(dir);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/daemon/exit-status", test_exit_status);
    g_test_add_func("/daemon/signal-and-quiet", test_signal_and_quiet);
    g_test_add_func("/daemon/summary-before-reap", test_summary_before_reap);
    g_test_add_func("/daemon/long-output", test_long_output);
    g_test_add_func("/daemon/log-path", test_log_path);
    g_test_add_func("/daemon/missing-program", test_missing_program);
    g_test_add_func("/daemon/pass-fds", test_pass_fds);
    g_test_add_func("/daemon/signals-reset", test_signals_reset);
    g_test_add_func("/daemon/stop-kills", test_stop_kills);
    g_test_add_func("/daemon/stop-reaps-children", test_stop_reaps_children);
    g_test_add_func("/daemon/free-stops", test_free_stops);
    g_test_add_func("/daemon/parent-death", test_parent_death);
    g_test_add_func("/daemon/readonly-path", test_readonly_path);
    return g_test_run();
}
