/*
 * vmspec run SPEC: boot one VM in the foreground and exit with what the
 * guest did (the table in README.md, "Running a VM"): 0 poweroff (or
 * reboot with on_reboot: exit), 1 spec or setup error, 3 guest crash or
 * panic, 128+N after a clean shutdown on signal N.
 *
 * A file: console is also named by RUNTIME/vmspec/NAME.log, a symlink
 * replaced by each run and left when it ends, and by the status reply's
 * "log", for `vmspec logs`.  The hidden --ready-fd N is for `vmspec up`:
 * "ready\n" on fd N once the first boot's machine is realized and its
 * vCPUs run, then N is closed; a run that fails before never writes.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "cmd/control.h"
#include "cmd/output.h"
#include "cmd/ready.h"
#include "machine/kvm/run.h"
#include "machine/net/hostfwd.h"
#include "machine/qom/device.h"
#include "machine/qom/property.h"
#include "machine/virtio/net.h"
#include "spec/json.h"
#include "machine/qom/error.h"
#include "spec/loader.h"
#include "spec/provision-seed.h"
#include "spec/readfile.h"

/* The signals that stop a VM cleanly; blocked in every thread and read
 * from a signalfd by the main loop. */
static const int stop_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };

static int open_signal_fd(sigset_t *set)
{
    sigemptyset(set);
    for (size_t i = 0; i < G_N_ELEMENTS(stop_signals); i++) {
        sigaddset(set, stop_signals[i]);
    }
    /* Before any thread starts, so that vCPU and device threads inherit
     * the mask and only the signalfd sees these signals. */
    pthread_sigmask(SIG_BLOCK, set, NULL);
    return signalfd(-1, set, SFD_CLOEXEC);
}

/*
 * The host's architecture as uname(2) names it.  A binary runs only on the
 * architecture it was built for (under an emulator uname says the same),
 * so where that is known at build time the kernel need not be asked.
 */
static const char *host_arch(struct utsname *u)
{
#if defined(__x86_64__)
    return "x86_64";
#elif defined(__aarch64__)
    return "aarch64";
#else
    uname(u);
    return u->machine;
#endif
}

static bool host_can_run(MachineState *ms, GError **errp)
{
    const char *arch = MACHINE_GET_CLASS(ms)->arch;
    struct utsname u;
    const char *host = host_arch(&u);

    if (arch && strcmp(arch, host) != 0) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "machine type '%s' runs on %s hosts; this host is %s",
                    object_get_typename(OBJECT(ms)), arch, host);
        return false;
    }
    return true;
}

typedef struct {
    Vm *vm;
    MachineState *ms;
    char *spec_path;            /* absolute, or "-" for standard input */
    char *log_path;             /* a file: console, absolute; else NULL */
    gint64 started;             /* monotonic us */
    bool paused;
    ProvisionSeed *seed;        /* borrowed from vm; NULL: none */
    ReadyListener *ready;       /* the guest's report, when it sends one */
    int stop_signal;            /* set by "stop"/"kill": exit 128+N */
    GError *error;              /* a failed resume */
} RunState;

/* --- Forwards over the control socket ---------------------------------- */

/* The machine's user-mode NICs in tree order (borrowed objects). */
static GPtrArray *user_mode_nics(MachineState *ms)
{
    GPtrArray *nics = g_ptr_array_new();

    for (guint i = 0; i < OBJECT(ms)->children->len; i++) {
        DeviceState *dev = machine_device_child(ms, i);

        if (dev && object_dynamic_cast(OBJECT(dev), TYPE_VIRTIO_NET) &&
            virtio_net_is_user_mode(OBJECT(dev))) {
            g_ptr_array_add(nics, dev);
        }
    }
    return nics;
}

static char *nic_ids(GPtrArray *nics)
{
    GString *ids = g_string_new(NULL);

    for (guint i = 0; i < nics->len; i++) {
        g_string_append_printf(ids, "%s%s", i ? ", " : "",
                               DEVICE(nics->pdata[i])->id);
    }
    return g_string_free(ids, FALSE);
}

/* Appends `"forwards": {"ID": ["RULE", ...], ...}`, every user-mode NIC. */
static void append_forwards(MachineState *ms, GString *reply)
{
    g_autoptr(GPtrArray) nics = user_mode_nics(ms);

    g_string_append(reply, "\"forwards\": {");
    for (guint i = 0; i < nics->len; i++) {
        g_auto(GStrv) rules = virtio_net_list_forwards(nics->pdata[i]);

        if (i) {
            g_string_append(reply, ", ");
        }
        json_escape(reply, DEVICE(nics->pdata[i])->id);
        g_string_append(reply, ": [");
        for (size_t r = 0; rules && rules[r]; r++) {
            if (r) {
                g_string_append(reply, ", ");
            }
            json_escape(reply, rules[r]);
        }
        g_string_append_c(reply, ']');
    }
    g_string_append_c(reply, '}');
}

/* The user-mode NIC a request names in "nic", or the only one. */
static Object *request_nic(MachineState *ms, GHashTable *req, char **error)
{
    const char *id = g_hash_table_lookup(req, "nic");
    g_autoptr(GPtrArray) nics = user_mode_nics(ms);
    g_autofree char *ids = nic_ids(nics);

    if (!id) {
        if (nics->len == 1) {
            return nics->pdata[0];
        }
        *error = nics->len
            ? g_strdup_printf("the VM has %u user-mode NICs (%s): name one",
                              nics->len, ids)
            : g_strdup("the VM has no user-mode NIC (a nics: entry "
                       "without tap:)");
        return NULL;
    }
    for (guint i = 0; i < OBJECT(ms)->children->len; i++) {
        DeviceState *dev = machine_device_child(ms, i);

        if (!dev || !object_dynamic_cast(OBJECT(dev), TYPE_VIRTIO_NET) ||
            g_strcmp0(dev->id, id) != 0) {
            continue;
        }
        if (!virtio_net_is_user_mode(OBJECT(dev))) {
            *error = g_strdup_printf("NIC '%s' is on a tap: forwards are "
                                     "for user-mode NICs", id);
            return NULL;
        }
        return OBJECT(dev);
    }
    *error = g_strdup_printf("no NIC '%s' (user-mode NICs: %s)", id,
                             nics->len ? ids : "none");
    return NULL;
}

/* forward-add, forward-remove: replies with the NIC and the rule in full. */
static bool control_forward_change(MachineState *ms, GHashTable *req,
                                   bool add, GString *reply, char **error)
{
    const char *rule = g_hash_table_lookup(req, "rule");
    g_autoptr(GError) err = NULL;
    g_autofree char *full = NULL;
    Object *nic;
    HostFwd fwd;

    if (!rule) {
        *error = g_strdup("missing \"rule\"");
        return false;
    }
    nic = request_nic(ms, req, error);
    if (!nic) {
        return false;
    }
    if (!(add ? virtio_net_add_forward(nic, rule, &err)
              : virtio_net_remove_forward(nic, rule, &err))) {
        *error = g_strdup_printf("%s: %s", DEVICE(nic)->id, err->message);
        return false;
    }
    full = hostfwd_parse(rule, &fwd, NULL) ? hostfwd_format(&fwd)
                                           : g_strdup(rule);
    g_string_append(reply, "\"nic\": ");
    json_escape(reply, DEVICE(nic)->id);
    g_string_append(reply, ", \"forward\": ");
    json_escape(reply, full);
    return true;
}

/* `"provision": STATE, "provision_report": TEXT, "ssh_user": USER,
 * "ssh_identity": KEY, ` for a provisioned VM, each only when known. */
static void append_provision(const RunState *rs, GString *reply)
{
    const char *user, *key, *report = NULL;

    if (!rs->seed) {
        return;
    }
    if (rs->ready) {
        ProvisionState state = ready_listener_state(rs->ready, &report);

        g_string_append_printf(reply, "\"provision\": \"%s\", ",
                               provision_state_name(state));
    }
    if (report) {
        g_string_append(reply, "\"provision_report\": ");
        json_escape(reply, report);
        g_string_append(reply, ", ");
    }
    if ((user = provision_seed_user(rs->seed))) {
        g_string_append(reply, "\"ssh_user\": ");
        json_escape(reply, user);
        g_string_append(reply, ", ");
    }
    if ((key = provision_seed_identity(rs->seed))) {
        g_string_append(reply, "\"ssh_identity\": ");
        json_escape(reply, key);
        g_string_append(reply, ", ");
    }
}

/* The seed written, and the guest's report listened for. */
static bool prepare_provision(RunState *rs, GError **errp)
{
    g_autofree char *path = NULL, *suffix = NULL;

    if (!(rs->seed = provision_seed_of(rs->vm))) {
        return true;
    }
    if (!provision_seed_prepare(rs->seed, rs->vm, errp)) {
        g_prefix_error(errp, "provision: ");
        return false;
    }
    if (!provision_seed_reports(rs->seed)) {
        return true;
    }
    suffix = g_strdup_printf(".vsock_%u", PROVISION_READY_PORT);
    if (!(path = control_runtime_path(rs->vm->name, suffix, errp))) {
        return false;
    }
    rs->ready = ready_listener_new(path, errp);
    return rs->ready != NULL;
}

/* --- The control commands ------------------------------------------------ */

/* The members each command takes besides "cmd"; any other is an error. */
static const struct {
    const char *cmd;
    const char *args[3];
} control_commands[] = {
    { "status", { NULL } },
    { "pause", { NULL } },
    { "resume", { NULL } },
    { "stop", { NULL } },
    { "kill", { NULL } },
    { "forward-add", { "nic", "rule", NULL } },
    { "forward-remove", { "nic", "rule", NULL } },
    { "forward-list", { NULL } },
};

/* Whether cmd is known and req has no member it doesn't take. */
static bool check_request(const char *cmd, GHashTable *req, char **error)
{
    GHashTableIter it;
    const char *key;

    for (size_t i = 0; i < G_N_ELEMENTS(control_commands); i++) {
        const char *const *args = control_commands[i].args;

        if (strcmp(control_commands[i].cmd, cmd) != 0) {
            continue;
        }
        g_hash_table_iter_init(&it, req);
        while (g_hash_table_iter_next(&it, (gpointer *)&key, NULL)) {
            if (strcmp(key, "cmd") != 0 &&
                !g_strv_contains((const char *const *)args, key)) {
                *error = g_strdup_printf("'%s' takes no \"%s\"", cmd, key);
                return false;
            }
        }
        return true;
    }
    *error = g_strdup_printf("unknown command '%s' (status, pause, resume, "
                             "stop, kill, forward-add, forward-remove, "
                             "forward-list)", cmd);
    return false;
}

static bool control_command(void *opaque, const char *cmd, GHashTable *req,
                            GString *reply, char **error)
{
    RunState *rs = opaque;

    if (!check_request(cmd, req, error)) {
        return false;
    }
    if (strcmp(cmd, "status") == 0) {
        g_autofree char *mem = format_size(rs->ms->ram_size);

        g_string_append(reply, "\"name\": ");
        json_escape(reply, rs->vm->name);
        g_string_append_printf(reply, ", \"pid\": %d, \"state\": \"%s\", "
                               "\"uptime_s\": %.1f, \"spec\": ", getpid(),
                               rs->paused ? "paused" : "running",
                               (g_get_monotonic_time() - rs->started) / 1e6);
        json_escape(reply, rs->spec_path);
        g_string_append_printf(reply, ", \"cpus\": %" G_GINT64_FORMAT
                               ", \"memory\": \"%s\", ", rs->ms->cpus, mem);
        if (rs->log_path) {
            g_string_append(reply, "\"log\": ");
            json_escape(reply, rs->log_path);
            g_string_append(reply, ", ");
        }
        append_provision(rs, reply);
        append_forwards(rs->ms, reply);
        return true;
    }
    if (strcmp(cmd, "pause") == 0) {
        if (!rs->paused) {
            machine_stop_vcpus(rs->ms);
            rs->paused = true;
        }
        g_string_append(reply, "\"state\": \"paused\"");
        return true;
    }
    if (strcmp(cmd, "resume") == 0) {
        if (rs->paused && !machine_resume_vcpus(rs->ms, &rs->error)) {
            *error = g_strdup(rs->error->message);
            rs->stop_signal = SIGTERM;
            return false;
        }
        rs->paused = false;
        g_string_append(reply, "\"state\": \"running\"");
        return true;
    }
    if (strcmp(cmd, "stop") == 0 || strcmp(cmd, "kill") == 0) {
        rs->stop_signal = cmd[0] == 's' ? SIGTERM : SIGKILL;
        g_string_append_printf(reply, "\"state\": \"%s\"",
                               cmd[0] == 's' ? "stopping" : "killed");
        return true;
    }
    if (strcmp(cmd, "forward-list") == 0) {
        append_forwards(rs->ms, reply);
        return true;
    }
    return control_forward_change(rs->ms, req,
                                  strcmp(cmd, "forward-add") == 0, reply,
                                  error);
}

/* Runs the realized machine until the guest ends the run, a signal comes
 * or a control request stops it; returns the signal, or 0. */
static int run_loop(RunState *rs, int signal_fd, ControlServer *control)
{
    struct pollfd fds[2 + 1 + CONTROL_MAX_CLIENTS + 1 + READY_MAX_CLIENTS];

    for (;;) {
        int n = 2, n_control = 0, n_ready = 0;

        fds[0] = (struct pollfd){ .fd = run_end_fd(rs->ms->run_end),
                                  .events = POLLIN };
        fds[1] = (struct pollfd){ .fd = signal_fd, .events = POLLIN };
        if (control) {
            n_control = control_server_pollfds(control, fds + 2,
                                               1 + CONTROL_MAX_CLIENTS);
            n += n_control;
        }
        if (rs->ready) {
            n_ready = ready_listener_pollfds(rs->ready, fds + n,
                                             G_N_ELEMENTS(fds) - n);
            n += n_ready;
        }
        if (poll(fds, n, -1) < 0) {
            continue;
        }
        if (fds[0].revents) {
            return 0;
        }
        if (fds[1].revents) {
            struct signalfd_siginfo info;

            if (read(signal_fd, &info, sizeof(info)) == sizeof(info)) {
                return (int)info.ssi_signo;
            }
        }
        if (rs->ready) {
            ready_listener_dispatch(rs->ready, fds + 2 + n_control, n_ready);
        }
        if (control) {
            control_server_dispatch(control, fds + 2, n_control,
                                    control_command, rs);
        }
        if (rs->stop_signal) {
            return rs->stop_signal;
        }
    }
}

/* The console's file, absolute, or NULL when it is not a file: one. */
static char *console_log_path(const Vm *vm)
{
    if (!vm->console || !g_str_has_prefix(vm->console, "file:")) {
        return NULL;
    }
    return g_canonicalize_filename(vm->console + strlen("file:"), NULL);
}

/* Points RUNTIME/vmspec/NAME.log at this run's console file (replacing
 * the last run's link at once: a new link renamed over it), or removes
 * the link when the console is not a file, so that it never names an
 * older run's log as this one's. */
static bool link_console_log(const RunState *rs, GError **errp)
{
    g_autofree char *link = control_runtime_path(rs->vm->name, ".log", errp);
    g_autofree char *tmp = NULL;

    if (!link) {
        return false;
    }
    if (!rs->log_path) {
        if (unlink(link) < 0 && errno != ENOENT) {
            goto failed;
        }
        return true;
    }
    tmp = g_strdup_printf("%s.%d.tmp", link, getpid());
    unlink(tmp);
    if (symlink(rs->log_path, tmp) == 0 && rename(tmp, link) == 0) {
        return true;
    }
    unlink(tmp);
failed:
    g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_IO, "cannot link %s: %s",
                link, g_strerror(errno));
    return false;
}

/* --ready-fd: says the machine runs, once.  A reader gone by then must
 * not end the VM: SIGPIPE is blocked in this thread for the write, and
 * one it raised is taken off again. */
static void signal_ready(int fd)
{
    static const struct timespec no_wait = { 0 };
    sigset_t pipe_set, old;

    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    if (write(fd, "ready\n", 6) < 0 && errno == EPIPE &&
        !sigismember(&old, SIGPIPE)) {
        sigtimedwait(&pipe_set, NULL, &no_wait);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    close(fd);
}

/* Maps how the run ended to the exit status, telling the user why. */
static int exit_status(RunEndReason reason, const char *detail, int signal,
                       const char *name)
{
    if (signal) {
        fprintf(stderr, "vmspec: %s: stopped by %s\n", name,
                strsignal(signal));
        return 128 + signal;
    }
    switch (reason) {
    case RUN_END_POWEROFF:
    case RUN_END_RESET:
        return EXIT_OK;
    case RUN_END_PANIC:
        cmd_error(NULL, "%s: the guest panicked%s%s", name,
                  detail ? ": " : "", detail ? detail : "");
        return EXIT_GUEST_CRASH;
    case RUN_END_CRASH:
    case RUN_END_HALT:
        fprintf(stderr, "vmspec: %s: the guest crashed (%s)\n%s", name,
                run_end_reason_name(reason), detail ? detail : "");
        return EXIT_GUEST_CRASH;
    case RUN_END_ERROR:
        cmd_error(NULL, "%s: %s", name, detail ? detail : "the VM failed");
        return EXIT_ERROR;
    default:
        /* Ctrl-A x on the console: as if interrupted. */
        fprintf(stderr, "vmspec: %s: stopped (%s)\n", name,
                run_end_reason_name(reason));
        return 128 + SIGINT;
    }
}

int cmd_run(int argc, char **argv)
{
    g_auto(GStrv) sets = NULL;
    int ready_fd = -1;
    GOptionEntry entries[] = {
        CMD_OPTION_SET(sets),
        { "ready-fd", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_INT, &ready_fd,
          "Write \"ready\" to fd N once the VM runs (for vmspec up)", "N" },
        G_OPTION_ENTRY_NULL,
    };
    g_autoptr(Object) vm = NULL;
    g_autoptr(GError) err = NULL;
    ControlServer *control;
    RunState rs = { 0 };
    sigset_t set;
    int signal_fd, status;

    if (!cmd_parse_options("run", "SPEC",
                           "Boot the VM a spec describes, in the foreground.",
                           entries, &argc, &argv)) {
        return EXIT_USAGE;
    }
    if (argc != 2) {
        fprintf(stderr, "vmspec run: expected one SPEC\n");
        return EXIT_USAGE;
    }
    /* Close-on-exec: a daemon the VM starts must not hold it open, or a
     * run that fails would not show as EOF to the reader. */
    if (ready_fd >= 0 && fcntl(ready_fd, F_SETFD, FD_CLOEXEC) < 0) {
        cmd_error("run", "--ready-fd %d: %s", ready_fd, g_strerror(errno));
        return EXIT_USAGE;
    }
    vm = cmd_load_spec(argv[1], sets);
    if (!vm) {
        return EXIT_ERROR;
    }
    rs.vm = VM(vm);
    rs.ms = vm_get_machine(rs.vm);
    rs.spec_path = spec_path_is_stdin(argv[1])
        ? g_strdup("-") : g_canonicalize_filename(argv[1], NULL);
    rs.log_path = console_log_path(rs.vm);
    if (!host_can_run(rs.ms, &err) ||
        !(control = control_server_new(rs.vm->name, &err))) {
        cmd_error(NULL, "%s: %s", rs.vm->name, err->message);
        g_free(rs.spec_path);
        g_free(rs.log_path);
        return EXIT_ERROR;
    }
    if (!prepare_provision(&rs, &err)) {
        cmd_error(NULL, "%s: %s", rs.vm->name, err->message);
        control_server_free(control);
        g_free(rs.spec_path);
        g_free(rs.log_path);
        return EXIT_ERROR;
    }
    /* Only a convenience for `vmspec logs`: the VM runs without it. */
    if (!link_console_log(&rs, &err)) {
        cmd_error(NULL, "%s: %s", rs.vm->name, err->message);
        g_clear_error(&err);
    }

    rs.ms->runtime_prefix = control_server_runtime_prefix(control);
    signal_fd = open_signal_fd(&set);
    for (;;) {
        g_autofree char *detail = NULL;
        RunEndReason reason;
        int signal;

        rs.started = g_get_monotonic_time();
        rs.paused = false;
        if (rs.ready) {
            ready_listener_reset(rs.ready);
        }
        if (!machine_realize(rs.ms, &err) ||
            !machine_start_vcpus(rs.ms, &err)) {
            machine_unrealize(rs.ms);
            cmd_error(NULL, "%s: %s", rs.vm->name, err->message);
            status = EXIT_ERROR;
            break;
        }
        if (ready_fd >= 0) {
            signal_ready(ready_fd);
            ready_fd = -1;
        }
        signal = run_loop(&rs, signal_fd, control);
        machine_stop_vcpus(rs.ms);
        reason = run_end_get(rs.ms->run_end, &detail);
        /* Devices flush and close here, before the status is decided. */
        machine_unrealize(rs.ms);
        if (!signal && reason == RUN_END_RESET &&
            rs.vm->on_reboot == VM_ON_REBOOT_RESTART) {
            continue;
        }
        status = exit_status(reason, detail, signal, rs.vm->name);
        break;
    }
    ready_listener_free(rs.ready);
    control_server_free(control);
    close(signal_fd);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    g_clear_error(&rs.error);
    g_free(rs.spec_path);
    g_free(rs.log_path);
    return status;
}
