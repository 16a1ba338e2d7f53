/*
 * vmspec up DIR|SPEC...: check every spec, then run each VM as its own
 * supervised `vmspec run` process (so one crashing VM cannot take the
 * others down), at most -j at a time, with its console in LOGDIR/NAME.log.
 * Ctrl-C or SIGTERM stops them all in order and waits; a second one kills.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "cmd/output.h"
#include "spec/claims.h"
#include "spec/loader.h"
#include "spec/merge.h"

extern char **environ;

typedef enum {
    VM_QUEUED, VM_RUNNING, VM_STOPPING, VM_EXITED, VM_SKIPPED,
} UpState;

static const char *const state_names[] = {
    "queued", "running", "stopping", "exited", "skipped",
};

typedef struct {
    char *spec;                 /* as given */
    char *name;
    char *log;
    UpState state;
    pid_t pid;
    int status;                 /* exit status, valid when EXITED */
    gint64 started, ended;      /* monotonic us */
    bool timed_out;
} UpVm;

typedef struct {
    GPtrArray *vms;             /* UpVm * */
    int jobs;
    gint64 timeout_us;          /* 0: none */
    bool tty;
    int stop_requests;          /* Ctrl-C/SIGTERM seen */
    guint drawn_lines;
} Up;

static void up_vm_free(UpVm *v)
{
    g_free(v->spec);
    g_free(v->name);
    g_free(v->log);
    g_free(v);
}

/* --- Checking the specs ------------------------------------------------ */

/* What the specs being started claim, checked as each VM is added. */
typedef struct {
    GHashTable *names;          /* VM name -> spec path */
    ClaimTable *table;
    GPtrArray *claims;          /* HostClaims *, kept for table */
} UpClaims;

/* The VM name stands for its control socket and log: one per name. */
static bool claim_name(UpClaims *c, const char *name, const char *spec)
{
    const char *first = g_hash_table_lookup(c->names, name);

    if (first) {
        fprintf(stderr, "vmspec: %s and %s both use the name %s\n", first,
                spec, name);
        return false;
    }
    g_hash_table_insert(c->names, g_strdup(name), g_strdup(spec));
    return true;
}

/* Host resources two VMs must not share, as their specs and devices
 * declare them (spec/claims.h): a file one writes and the other uses, a
 * tap, a MAC address.  The one spec's own clashes the loader has refused. */
static bool claim_resources(UpClaims *c, UpVm *v, Vm *vm,
                            const SpecNode *root)
{
    HostClaims *claims;
    bool ok = true;

    /* A second VM of one name would also share its log: one message. */
    if (!claim_name(c, v->name, v->spec)) {
        return false;
    }
    claims = host_claims_new();
    g_ptr_array_add(c->claims, claims);
    spec_collect_claims(vm, root, claims);
    for (guint i = 0; i < host_claims_len(claims); i++) {
        const HostClaim *claim = host_claims_get(claims, i);
        const char *owner = NULL;
        const HostClaim *first = claim->kind == HOST_CLAIM_GUEST_NAME
            ? NULL : claim_table_add(c->table, claim, v->name, &owner);
        g_autofree char *value = NULL;

        if (!first) {
            continue;
        }
        value = spec_claim_display(claim);
        fprintf(stderr, "vmspec: %s and %s both use %s %s (%s, %s)\n",
                owner, v->name,
                claim->writes || !first->writes ? claim->noun : first->noun,
                value, first->origin ? first->origin : first->noun,
                claim->origin ? claim->origin : claim->noun);
        ok = false;
    }
    return ok;
}

/* Loads the spec at path with its console where `up` will put it (the
 * child runs with the same --set), so that the log file is claimed too.
 * Returns the vm, and the merged tree in *root. */
static Vm *load_spec(const char *path, const char *log_dir,
                     SpecNode **root, SpecDiags *diags)
{
    SpecLoadOptions opts = { .check_files = true };
    const SpecNode *name;

    *root = spec_load_file(path, diags);
    if (!*root) {
        return NULL;
    }
    name = spec_node_map_get(*root, "name");
    if (name && name->kind == SPEC_NODE_SCALAR) {
        g_autofree char *log = g_strdup_printf("%s/%s.log", log_dir,
                                               name->scalar.text);
        g_autofree char *abs_log = g_canonicalize_filename(log, NULL);
        g_autofree char *set = g_strdup_printf("console=file:%s", abs_log);

        if (!spec_apply_set(*root, set, diags)) {
            return NULL;
        }
    }
    return spec_build_vm(*root, &opts, diags);
}

static bool load_specs(Up *up, char **args, int n, const char *log_dir,
                       bool keep_going)
{
    g_autoptr(ClaimTable) table = claim_table_new(NULL);
    UpClaims claims = {
        .names = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                       g_free),
        .table = table,
        .claims = g_ptr_array_new_with_free_func((GDestroyNotify)
                                                 host_claims_free),
    };
    g_autoptr(GPtrArray) specs = g_ptr_array_new_with_free_func(g_free);
    guint bad = 0;
    bool ok = true;

    for (int i = 0; i < n; i++) {
        if (g_file_test(args[i], G_FILE_TEST_IS_DIR)) {
            g_autoptr(GError) err = NULL;
            g_autoptr(GPtrArray) found = cmd_list_specs(args[i], &err);

            if (!found) {
                cmd_error(NULL, "%s", err->message);
                ok = false;
                goto out;
            }
            for (guint j = 0; j < found->len; j++) {
                g_ptr_array_add(specs, g_strdup(found->pdata[j]));
            }
        } else {
            g_ptr_array_add(specs, g_strdup(args[i]));
        }
    }
    for (guint i = 0; i < specs->len; i++) {
        g_autoptr(SpecDiags) diags = spec_diags_new();
        g_autoptr(SpecNode) root = NULL;
        g_autoptr(Object) vm = OBJECT(load_spec(specs->pdata[i], log_dir,
                                                &root, diags));
        UpVm *v;

        if (!vm) {
            cmd_print_diags(diags, false, stderr);
            bad++;
            continue;
        }
        v = g_new0(UpVm, 1);
        v->spec = g_strdup(specs->pdata[i]);
        v->name = g_strdup(VM(vm)->name);
        v->log = g_strdup_printf("%s/%s.log", log_dir, v->name);
        g_ptr_array_add(up->vms, v);
        ok &= claim_resources(&claims, v, VM(vm), root);
    }
    if (bad && !keep_going) {
        fprintf(stderr, "vmspec: %u of %u specs have errors; nothing "
                "started (--keep-going runs the others)\n", bad, specs->len);
        ok = false;
        goto out;
    }
    if (bad) {
        fprintf(stderr, "vmspec: skipping %u spec%s with errors\n", bad,
                bad == 1 ? "" : "s");
    }
    if (!ok) {
        fprintf(stderr, "vmspec: specs conflict; nothing started\n");
    }
    ok = ok && up->vms->len > 0;
out:
    /* The table borrows the claims: it goes first. */
    g_clear_pointer(&table, claim_table_free);
    g_ptr_array_unref(claims.claims);
    g_hash_table_unref(claims.names);
    return ok;
}

/* --- Children ---------------------------------------------------------- */

static bool spawn_vm(UpVm *v, const char *self)
{
    g_autofree char *console = NULL;
    g_autofree char *abs_log = g_canonicalize_filename(v->log, NULL);
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t none;
    int rc;

    console = g_strdup_printf("console=file:%s", abs_log);
    char *argv[] = { (char *)self, "run", "--set", console, v->spec, NULL };

    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, abs_log,
                                     O_WRONLY | O_CREAT | O_TRUNC | O_APPEND,
                                     0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
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
    if (rc != 0) {
        fprintf(stderr, "vmspec: %s: cannot start: %s\n", v->name,
                g_strerror(rc));
        v->state = VM_EXITED;
        v->status = EXIT_ERROR;
        return false;
    }
    v->state = VM_RUNNING;
    v->started = g_get_monotonic_time();
    return true;
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

    g_string_append_printf(out, "%-20s %-9s %8s %9s %6s  %s\n", v->name,
                           state_names[v->state], pid, up, status, v->log);
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

static void signal_running(Up *up, int sig)
{
    for (guint i = 0; i < up->vms->len; i++) {
        UpVm *v = up->vms->pdata[i];

        if (v->state == VM_RUNNING || v->state == VM_STOPPING) {
            kill(v->pid, sig);
            if (v->state == VM_RUNNING) {
                v->state = VM_STOPPING;
                report(up, v);
            }
        } else if (v->state == VM_QUEUED) {
            v->state = VM_SKIPPED;
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
                v->state = VM_EXITED;
                v->ended = g_get_monotonic_time();
                v->status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus)
                                               : 128 + WTERMSIG(wstatus);
                report(up, v);
            }
        }
    }
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
            (up->jobs <= 0 ||
             (int)(count(up, VM_RUNNING) + count(up, VM_STOPPING)) <
                 up->jobs)) {
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

        if (v->state == VM_RUNNING && age > up->timeout_us) {
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

static bool parse_duration(const char *s, gint64 *us)
{
    char *end;
    double v = g_ascii_strtod(s, &end);
    double unit = 1;

    if (end == s || v <= 0) {
        return false;
    }
    if (strcmp(end, "m") == 0) {
        unit = 60;
    } else if (strcmp(end, "h") == 0) {
        unit = 3600;
    } else if (*end && strcmp(end, "s") != 0) {
        return false;
    }
    *us = (gint64)(v * unit * G_USEC_PER_SEC);
    return true;
}

static int supervise(Up *up, const char *self)
{
    sigset_t set;
    int sfd, status = EXIT_OK;

    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    sfd = signalfd(-1, &set, SFD_CLOEXEC);

    start_queued(up, self);
    while (count(up, VM_RUNNING) + count(up, VM_STOPPING) +
           count(up, VM_QUEUED) > 0) {
        struct pollfd pfd = { .fd = sfd, .events = POLLIN };

        if (up->tty) {
            print_table(up, stdout);
        }
        if (poll(&pfd, 1, 1000) > 0) {
            struct signalfd_siginfo info;

            if (read(sfd, &info, sizeof(info)) == sizeof(info) &&
                info.ssi_signo != SIGCHLD) {
                up->stop_requests++;
                signal_running(up, up->stop_requests > 1 ? SIGKILL : SIGTERM);
            }
        }
        reap(up);
        enforce_timeouts(up);
        start_queued(up, self);
    }
    close(sfd);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);

    /* The summary: the live table's last state, or a fresh table. */
    print_table(up, stdout);
    {
        guint ok = 0;

        for (guint i = 0; i < up->vms->len; i++) {
            UpVm *v = up->vms->pdata[i];

            ok += v->state == VM_EXITED && v->status == 0;
        }
        printf("%u of %u VMs exited 0\n", ok, up->vms->len);
        if (ok != up->vms->len) {
            status = EXIT_ERROR;
        }
    }
    return status;
}

int cmd_up(int argc, char **argv)
{
    int jobs = 0;
    g_autofree char *log_dir = NULL, *timeout = NULL;
    gboolean keep_going = FALSE;
    GOptionEntry entries[] = {
        { "jobs", 'j', 0, G_OPTION_ARG_INT, &jobs,
          "Run at most N VMs at once (default: all)", "N" },
        { "log-dir", 0, 0, G_OPTION_ARG_FILENAME, &log_dir,
          "Where NAME.log consoles go (default .vmspec/logs)", "D" },
        { "timeout", 0, 0, G_OPTION_ARG_STRING, &timeout,
          "Stop a VM that runs longer (90, 90s, 5m, 1h)", "DUR" },
        { "keep-going", 0, 0, G_OPTION_ARG_NONE, &keep_going,
          "Skip invalid specs instead of starting nothing", NULL },
        G_OPTION_ENTRY_NULL,
    };
    Up up = { .vms = g_ptr_array_new_with_free_func((GDestroyNotify)
                                                    up_vm_free) };
    g_autofree char *self = g_file_read_link("/proc/self/exe", NULL);
    int status;

    if (!cmd_parse_options("up", "DIR|SPEC...",
                           "Check every spec, then boot each VM as its own "
                           "supervised process; wait for all of them.",
                           entries, &argc, &argv)) {
        g_ptr_array_unref(up.vms);
        return EXIT_USAGE;
    }
    if (argc < 2 || jobs < 0 ||
        (timeout && !parse_duration(timeout, &up.timeout_us))) {
        fprintf(stderr, "vmspec up: expected DIR or SPEC arguments, -j N >= "
                "0 and --timeout like 90s or 5m\n");
        g_ptr_array_unref(up.vms);
        return EXIT_USAGE;
    }
    up.jobs = jobs;
    up.tty = isatty(STDOUT_FILENO);
    if (!log_dir) {
        log_dir = g_strdup(".vmspec/logs");
    }
    if (g_mkdir_with_parents(log_dir, 0755) < 0) {
        cmd_error(NULL, "cannot create %s: %s", log_dir, g_strerror(errno));
        g_ptr_array_unref(up.vms);
        return EXIT_ERROR;
    }
    if (!load_specs(&up, argv + 1, argc - 1, log_dir, keep_going)) {
        g_ptr_array_unref(up.vms);
        return EXIT_ERROR;
    }
    status = supervise(&up, self);
    g_ptr_array_unref(up.vms);
    return status;
}
