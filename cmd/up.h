/*
 * vmspec up, shared by its three files: cmd/up.c checks the specs and
 * parses the command line, cmd/up-supervise.c runs the VMs as `vmspec run`
 * children and waits for them, cmd/up-detach.c (up -d) moves that
 * supervisor into the background and tells the foreground how the start
 * went.  Not an API for other commands.
 */
#ifndef VMSPEC_CMD_UP_H
#define VMSPEC_CMD_UP_H

#include <stdbool.h>
#include <sys/types.h>
#include <glib.h>

/* A VM's way through up.  STARTING: its `vmspec run` is spawned but its
 * machine is not yet realized with vCPUs running (the child writes
 * "ready" on its --ready-fd then: RUNNING).  A VM may be stopped, or end,
 * from STARTING as from RUNNING. */
typedef enum {
    VM_QUEUED, VM_STARTING, VM_RUNNING, VM_STOPPING, VM_EXITED, VM_SKIPPED,
} UpState;

typedef struct {
    char *spec;                 /* as given, for messages */
    char *spec_abs;             /* what the child runs: cwd need not stay */
    char *name;
    char *log;                  /* as shown: LOGDIR as given */
    char *log_abs;              /* the console file the child writes */
    UpState state;
    pid_t pid;
    int ready_fd;               /* read end of the child's --ready-fd, or -1 */
    bool ready;                 /* reached RUNNING (it may have ended since) */
    bool reported;              /* up -d: the foreground was told */
    int status;                 /* exit status, valid when EXITED */
    gint64 started, ended;      /* monotonic us */
    bool timed_out;
} UpVm;

typedef struct {
    GPtrArray *vms;             /* UpVm * */
    int jobs;
    gint64 timeout_us;          /* 0: none */
    bool tty;                   /* a live table rather than lines */
    int stop_requests;          /* Ctrl-C/SIGTERM seen */
    guint drawn_lines;
    int report_fd;              /* up -d: to the foreground, until every VM
                                 * started or failed; -1 otherwise */
    bool wait_ready;            /* up -d --wait ready */
    gint64 ready_timeout_us;    /* how long --wait ready waits */
} Up;

/* Starts the VMs (at most up->jobs at once) and supervises them until all
 * have exited: state changes as a table or lines on stdout, --timeout,
 * SIGINT/SIGTERM/SIGHUP stop them in order (a second one kills).  Prints
 * the summary; returns 0 when every VM exited 0, else 1. */
int up_supervise(Up *up, const char *self);

/* up -d: forks a supervisor (its own session, stdin /dev/null, stdout and
 * stderr appended to log_dir/up.log, cwd /) that runs up_supervise(), and
 * waits only until every VM is running or has failed, printing a line for
 * each (a failed one with the end of its log).  In the foreground returns
 * 0 if none failed, else 1; in the supervisor, up_supervise()'s status.
 * log_dir is absolute. */
int up_detach(Up *up, const char *self, const char *log_dir);

/* up -d --wait ready, in the foreground once every VM started: waits
 * until each running VM's guest reported its provisioning (a VM without
 * one is ready when it runs), printing a line per VM, for a failed one the
 * guest's report.  Returns 0 if every one is ready, else 1. */
int up_await_ready(Up *up);

/* Called by up_supervise() after each round of state changes: with up -d,
 * sends the foreground a line for each VM newly RUNNING or ended before
 * that, and closes the channel once no VM is still starting. */
void up_report_progress(Up *up);

#endif
