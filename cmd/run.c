/*
 * vmspec run SPEC: boot one VM in the foreground and exit with what the
 * guest did (DESIGN.md, "CLI"): 0 poweroff (or reboot with on_reboot:
 * exit), 1 spec or setup error, 3 guest crash or panic, 128+N after a
 * clean shutdown on signal N.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "machine/kvm/run.h"
#include "machine/qom/error.h"
#include "spec/loader.h"

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

static bool host_can_run(MachineState *ms, GError **errp)
{
    const char *arch = MACHINE_GET_CLASS(ms)->arch;
    struct utsname u;

    uname(&u);
    if (arch && strcmp(arch, u.machine) != 0) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_INVALID,
                    "machine type '%s' runs on %s hosts; this host is %s",
                    object_get_typename(OBJECT(ms)), arch, u.machine);
        return false;
    }
    return true;
}

/* Maps how the run ended to the exit status, telling the user why. */
static int exit_status(const MachineOutcome *out, const char *name)
{
    if (out->signal) {
        fprintf(stderr, "vmspec: %s: stopped by %s\n", name,
                strsignal(out->signal));
        return 128 + out->signal;
    }
    switch (out->reason) {
    case VM_EXIT_POWEROFF:
    case VM_EXIT_RESET:
        return EXIT_OK;
    case VM_EXIT_PANIC:
        fprintf(stderr, "vmspec: %s: the guest panicked%s%s\n", name,
                out->detail ? ": " : "", out->detail ? out->detail : "");
        return EXIT_GUEST_CRASH;
    case VM_EXIT_CRASH:
    case VM_EXIT_HALT:
        fprintf(stderr, "vmspec: %s: the guest crashed (%s)\n%s", name,
                vm_exit_reason_name(out->reason),
                out->detail ? out->detail : "");
        return EXIT_GUEST_CRASH;
    case VM_EXIT_ERROR:
        fprintf(stderr, "vmspec: %s: %s\n", name,
                out->detail ? out->detail : "the VM failed");
        return EXIT_ERROR;
    default:
        fprintf(stderr, "vmspec: %s: stopped (%s)\n", name,
                vm_exit_reason_name(out->reason));
        return 128 + SIGINT;
    }
}

int cmd_run(int argc, char **argv)
{
    g_auto(GStrv) sets = NULL;
    GOptionEntry entries[] = {
        { "set", 0, 0, G_OPTION_ARG_STRING_ARRAY, &sets,
          "Override a value (repeatable)", "KEY.PATH=VALUE" },
        G_OPTION_ENTRY_NULL,
    };
    g_autoptr(SpecDiags) diags = spec_diags_new();
    SpecLoadOptions opts = { .check_files = true };
    g_autoptr(Object) vm = NULL;
    MachineState *ms;
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
    opts.sets = (const char *const *)sets;
    vm = OBJECT(spec_load_vm(argv[1], &opts, diags));
    if (!vm) {
        cmd_print_diags(diags, false, stderr);
        return EXIT_ERROR;
    }
    ms = vm_get_machine(VM(vm));

    signal_fd = open_signal_fd(&set);
    for (;;) {
        g_autoptr(GError) err = NULL;
        MachineOutcome out;

        if (!host_can_run(ms, &err) || !machine_realize(ms, &err) ||
            !machine_run(ms, signal_fd, &out, &err)) {
            machine_unrealize(ms);
            fprintf(stderr, "vmspec: %s: %s\n", VM(vm)->name, err->message);
            status = EXIT_ERROR;
            break;
        }
        /* Devices flush and close here, before the status is decided. */
        machine_unrealize(ms);
        if (out.reason == VM_EXIT_RESET &&
            VM(vm)->on_reboot == VM_ON_REBOOT_RESTART) {
            machine_outcome_clear(&out);
            continue;
        }
        status = exit_status(&out, VM(vm)->name);
        machine_outcome_clear(&out);
        break;
    }
    close(signal_fd);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    return status;
}
