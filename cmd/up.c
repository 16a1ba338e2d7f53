/*
 * vmspec up DIR|SPEC...: check every spec, then run each VM as its own
 * supervised `vmspec run` process (so one crashing VM cannot take the
 * others down), at most -j at a time, with its console in LOGDIR/NAME.log
 * (cmd/up-supervise.c); with -d in a background supervisor, up returning
 * once every VM runs or failed (cmd/up-detach.c).  Here: the command line
 * and the checks made before anything starts.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "cmd/output.h"
#include "cmd/up.h"
#include "spec/claims.h"
#include "spec/loader.h"
#include "spec/merge.h"

static void up_vm_free(UpVm *v)
{
    if (v->ready_fd >= 0) {
        close(v->ready_fd);
    }
    g_free(v->spec);
    g_free(v->spec_abs);
    g_free(v->name);
    g_free(v->log);
    g_free(v->log_abs);
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
        v->spec_abs = g_canonicalize_filename(v->spec, NULL);
        v->name = g_strdup(VM(vm)->name);
        v->log = g_strdup_printf("%s/%s.log", log_dir, v->name);
        v->log_abs = g_canonicalize_filename(v->log, NULL);
        v->ready_fd = -1;
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

int cmd_up(int argc, char **argv)
{
    int jobs = 0;
    g_autofree char *log_dir = NULL, *timeout = NULL, *wait = NULL;
    g_autofree char *wait_timeout = NULL;
    gboolean keep_going = FALSE, detach = FALSE;
    GOptionEntry entries[] = {
        { "detach", 'd', 0, G_OPTION_ARG_NONE, &detach,
          "Return once every VM runs; supervise them in the background "
          "(messages in D/up.log)", NULL },
        { "jobs", 'j', 0, G_OPTION_ARG_INT, &jobs,
          "Run at most N VMs at once (default: all)", "N" },
        { "log-dir", 0, 0, G_OPTION_ARG_FILENAME, &log_dir,
          "Where NAME.log consoles go (default .vmspec/logs)", "D" },
        { "timeout", 0, 0, G_OPTION_ARG_STRING, &timeout,
          "Stop a VM that runs longer (90, 90s, 5m, 1h)", "DUR" },
        { "keep-going", 0, 0, G_OPTION_ARG_NONE, &keep_going,
          "Skip invalid specs instead of starting nothing", NULL },
        { "wait", 0, 0, G_OPTION_ARG_STRING, &wait,
          "With -d: return once every VM is running (default) or ready "
          "(its provisioning finished)", "running|ready" },
        { "wait-timeout", 0, 0, G_OPTION_ARG_STRING, &wait_timeout,
          "With --wait ready: give up after DUR (default 30m)", "DUR" },
        G_OPTION_ENTRY_NULL,
    };
    Up up = { .vms = g_ptr_array_new_with_free_func((GDestroyNotify)
                                                    up_vm_free),
              .report_fd = -1 };
    g_autofree char *self = g_file_read_link("/proc/self/exe", NULL);
    int status;

    if (!cmd_parse_options("up", "DIR|SPEC...",
                           "Check every spec, then boot each VM as its own "
                           "supervised process; wait for all of them (with "
                           "-d, until they all run).",
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
    if ((wait && strcmp(wait, "running") != 0 &&
         strcmp(wait, "ready") != 0) || ((wait || wait_timeout) && !detach) ||
        (wait_timeout && !parse_duration(wait_timeout,
                                         &up.ready_timeout_us))) {
        fprintf(stderr, "vmspec up: --wait is running or ready, and goes "
                "with -d; --wait-timeout like 90s or 5m\n");
        g_ptr_array_unref(up.vms);
        return EXIT_USAGE;
    }
    up.wait_ready = wait && strcmp(wait, "ready") == 0;
    if (!wait_timeout) {
        up.ready_timeout_us = 30 * 60 * G_USEC_PER_SEC;
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
    if (detach) {
        /* The supervisor leaves the working directory: its paths are
         * absolute (the VMs' are: see load_specs()). */
        g_autofree char *abs_dir = g_canonicalize_filename(log_dir, NULL);

        status = up_detach(&up, self, abs_dir);
    } else {
        status = up_supervise(&up, self);
    }
    g_ptr_array_unref(up.vms);
    return status;
}
