/*
 * vmspec: the command-line entry point and subcommand table.
 */
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "cmd/cmd.h"
#include "cmd/output.h"
#include "machine/qom/module.h"
#include "spec/suggest.h"

static const Command commands[] = {
    { "run", "SPEC", "Boot the VM a spec describes", cmd_run },
    { "check", "SPEC|DIR...", "Validate specs; no KVM needed", cmd_check },
    { "plan", "SPEC", "Print the resolved object tree", cmd_plan },
    { "up", "DIR|SPEC...", "Boot many VMs and supervise them", cmd_up },
    { "ps", "", "List the running VMs", cmd_ps },
    { "stop", "NAME...|--all", "Stop running VMs", cmd_stop },
    { "logs", "NAME [-f]", "Print a VM's console log", cmd_logs },
    { "console", "NAME", "Attach to a running VM's serial console",
      cmd_console },
    { "forward", "NAME add|remove|list", "Change a running VM's host "
      "forwards", cmd_forward },
    { "ssh", "NAME [-- CMD...]", "Run ssh into a running VM", cmd_ssh },
    { "ssh-config", "[NAME...]", "Print OpenSSH Host blocks for running VMs",
      cmd_ssh_config },
    { "vsock", "NAME PORT", "Connect stdin/stdout to a guest's vsock port",
      cmd_vsock },
    { "types", "", "List the registered types as a tree", cmd_types },
    { "describe", "TYPE", "Show a type's properties", cmd_describe },
    { "schema", "", "Print the JSON Schema for specs", cmd_schema },
};

static void print_usage(FILE *out)
{
    fprintf(out,
            "Usage: vmspec COMMAND [OPTIONS] [ARGS]\n"
            "\n"
            "A declarative VM runner: YAML specs in, KVM virtual machines out.\n"
            "\n"
            "Commands:\n");
    for (size_t i = 0; i < G_N_ELEMENTS(commands); i++) {
        g_autofree char *synopsis =
            g_strdup_printf("%s %s", commands[i].name, commands[i].args);

        fprintf(out, "  %-28s %s\n", synopsis, commands[i].summary);
    }
    fprintf(out,
            "\n"
            "Options:\n"
            "  -h, --help                   Show this help\n"
            "  -V, --version                Show the version\n"
            "\n"
            "Run 'vmspec COMMAND --help' for a command's options.\n");
}

/* GOption leaves the "--" that ends the options in argv when an argument
 * after it starts with '-' (g_option_context_parse()): the first "--" is
 * that separator, not an argument, for every command (`vmspec check --
 * -odd.yaml`, `vmspec stop -- -vm`). */
static void drop_separator(int *argc, char **argv)
{
    for (int i = 1; i < *argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            memmove(&argv[i], &argv[i + 1],
                    (size_t)(*argc - i) * sizeof(*argv));
            (*argc)--;
            return;
        }
    }
}

gboolean cmd_parse_options(const char *name, const char *args,
                           const char *summary, GOptionEntry *entries,
                           int *argc, char ***argv)
{
    g_autofree char *prgname = g_strdup_printf("vmspec %s", name);
    g_autoptr(GOptionContext) ctx = g_option_context_new(args);
    g_autoptr(GError) err = NULL;

    /* "Usage: vmspec describe [OPTION…] TYPE" */
    g_set_prgname(prgname);
    g_option_context_set_summary(ctx, summary);
    if (entries) {
        g_option_context_add_main_entries(ctx, entries, NULL);
    }
    if (!g_option_context_parse(ctx, argc, argv, &err)) {
        /* GLib's message quotes the offending argument. */
        cmd_error(name, "%s", err->message);
        fprintf(stderr, "Try 'vmspec %s --help'.\n", name);
        return FALSE;
    }
    drop_separator(argc, *argv);
    return TRUE;
}

/*
 * Every thread vmspec starts (vCPUs, device I/O, the console) runs short,
 * shallow loops.  glibc's default 8 MiB stacks are 2 MiB-aligned, so with
 * transparent huge pages set to "always" each touched stack costs a 2 MiB
 * page: 256 KiB stacks keep the VMM's own memory small.
 */
#define THREAD_STACK_SIZE (256 * 1024)

static void set_thread_stack_size(void)
{
    pthread_attr_t attr;

    if (pthread_attr_init(&attr) == 0) {
        pthread_attr_setstacksize(&attr, THREAD_STACK_SIZE);
        pthread_setattr_default_np(&attr);
        pthread_attr_destroy(&attr);
    }
}

/*
 * One malloc arena for the whole process.  glibc gives each new thread
 * that allocates an arena of its own (until there are 8 per core), each a
 * fresh 64 MiB reservation (a 128 MiB mmap trimmed to alignment, then
 * mprotect: four system calls) whose touched pages and free chunks stay
 * resident.  vmspec's threads allocate rarely and little: vCPU
 * threads on the exits that end a run, device threads a request's
 * bookkeeping; their small allocations come from glibc's per-thread cache
 * (tcache) without the lock anyway.  Contention is not worth an arena per
 * thread.  No system call; a hint (ASan's allocator ignores it).
 */
static void limit_malloc_arenas(void)
{
    (void)mallopt(M_ARENA_MAX, 1);
}

int main(int argc, char **argv)
{
    const char *name;
    GError *err = NULL;

    cmd_check_std_streams_at_exit();
    set_thread_stack_size();
    limit_malloc_arenas();

    if (argc < 2) {
        print_usage(stderr);
        return EXIT_USAGE;
    }
    name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 ||
        strcmp(name, "help") == 0) {
        print_usage(stdout);
        return EXIT_OK;
    }
    if (strcmp(name, "--version") == 0 || strcmp(name, "-V") == 0) {
        printf("vmspec %s\n", VMSPEC_VERSION);
        return EXIT_OK;
    }
    if (!module_call_init(MODULE_INIT_QOM, &err)) {
        cmd_error(NULL, "%s", err->message);
        g_error_free(err);
        return EXIT_ERROR;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(commands); i++) {
        if (strcmp(commands[i].name, name) == 0) {
            /* The subcommand sees itself as argv[0]. */
            return commands[i].run(argc - 1, argv + 1);
        }
    }

    {
        const char *names[G_N_ELEMENTS(commands)];
        g_autofree char *hint = NULL;

        for (size_t i = 0; i < G_N_ELEMENTS(commands); i++) {
            names[i] = commands[i].name;
        }
        hint = spec_suggest_hint(name, names, G_N_ELEMENTS(commands));
        cmd_error(NULL, "unknown command '%s'%s", name, hint);
        fputs("Try 'vmspec --help'.\n", stderr);
    }
    return EXIT_USAGE;
}
