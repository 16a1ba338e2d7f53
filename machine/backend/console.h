/*
 * The host side of a guest console: where the UART's output goes and where
 * its input comes from.  A console is named by a spec string:
 *
 *   "stdio"      output to stdout with write(2), unbuffered; input from
 *                stdin.  When stdin is a terminal it is put in raw mode
 *                (no echo, no line editing, no signals from Ctrl-C: those
 *                keys go to the guest) and Ctrl-A x asks the VM to stop;
 *                Ctrl-A Ctrl-A sends one Ctrl-A.  Output processing (OPOST)
 *                is kept as it was, as QEMU does, so that the VMM's own
 *                messages on the same terminal still end lines properly;
 *                the guest's "\r\n" then becomes "\r\r\n", which a
 *                terminal shows the same.  When stdin is not a terminal
 *                (CI, a pipe, /dev/null) it is read as plain bytes, without
 *                escapes, and end of file just means no more input: the VM
 *                keeps running.
 *   "file:PATH"  output to PATH, created or truncated when the console
 *                opens (each run's log is that run's only); no input.
 *                PATH is used as given (relative to the working directory).
 *   "none"       output discarded, no input.
 *
 * Input is read on a thread of the console's own that feeds the device
 * through two callbacks, with backpressure: the thread only reads as many
 * bytes as the device says it can take, and waits (without reading) while
 * the device is full until the device calls console_accept_input(); a
 * pipe's writer then blocks, nothing is dropped.  A terminal is the one
 * exception: it is always read, so that Ctrl-A x works even when the guest
 * reads nothing; up to 4 KiB of typeahead is held for the guest and more
 * is dropped, as a UART overrun would.  console_free() stops and joins
 * the thread.  Input already at end of file when it starts (stdin is
 * /dev/null, as under `vmspec up`) starts no thread at all, unless the
 * console serves a socket.
 *
 * The console socket (console_serve(), for `vmspec console NAME`): any
 * console kind can also be reached over a unix stream socket.  Each
 * client is first sent one line, CONSOLE_HELLO_RW if it has the input or
 * CONSOLE_HELLO_RO if not (or CONSOLE_HELLO_FULL, and closed, when
 * CONSOLE_MAX_CLIENTS are attached already); then every client gets the
 * guest's output from the time it attached, and the input holder's bytes
 * go to the guest as they are (the client does its own escapes), with the
 * backpressure above; the others' bytes are dropped.  The input is held
 * by the console's own input while it lasts (stdin, a terminal or an open
 * pipe, until end of file), else by the first client to attach while no
 * one holds it: when the holder detaches or shuts its sending side down
 * (end of its input), the next client to attach gets it; clients already
 * attached stay read-only, so that nobody's keys go to the guest
 * unannounced.  Output never waits for a client: one whose socket buffer
 * is full loses what does not fit (console_dropped_output()).
 */
#ifndef VMSPEC_BACKEND_CONSOLE_H
#define VMSPEC_BACKEND_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <termios.h>
#include <glib.h>

#include "machine/kvm/run-end.h"

/* The escape key: Ctrl-A, as in QEMU's -nographic / -serial mon:stdio. */
#define CONSOLE_ESCAPE_CHAR 0x01
/* After the escape key: quit (RUN_END_QUIT). */
#define CONSOLE_QUIT_CHAR 'x'
/* After the escape key, in `vmspec console`: detach, the VM runs on (as
 * in screen(1) and tmux(1)). */
#define CONSOLE_DETACH_CHAR 'd'

/* The console socket's name: DeviceContext.runtime_prefix and this. */
#define CONSOLE_SOCKET_SUFFIX ".console"
/* Clients attached at once; more are refused. */
#define CONSOLE_MAX_CLIENTS 8
/* The first line a client reads (see above).  All start with
 * CONSOLE_HELLO_PREFIX; what follows it on a refusal says why. */
#define CONSOLE_HELLO_PREFIX "vmspec-console "
#define CONSOLE_HELLO_RW CONSOLE_HELLO_PREFIX "rw\n"
#define CONSOLE_HELLO_RO CONSOLE_HELLO_PREFIX "ro\n"
#define CONSOLE_HELLO_FULL CONSOLE_HELLO_PREFIX \
    "full: " G_STRINGIFY(CONSOLE_MAX_CLIENTS) " clients are attached\n"
/* The longest first line a client need accept. */
#define CONSOLE_HELLO_MAX 128

typedef struct Console Console;

/*
 * How many input bytes the device can take now (0: full).  Called on the
 * console's input thread (and once from console_start_input()); the device
 * does its own locking.
 */
typedef size_t (*ConsoleCanReceiveFn)(void *opaque);
/* Offers len input bytes (len <= the last can_receive answer); returns how
 * many the device took (fewer if its room shrank meanwhile: the console
 * keeps the rest and offers them again).  Called on the input thread. */
typedef size_t (*ConsoleReceiveFn)(void *opaque, const uint8_t *buf,
                                   size_t len);

/* Checks a console spec string ("stdio", "none", "file:PATH" with a
 * non-empty PATH); the validator of the serial device's property. */
bool console_spec_check(const char *spec, GError **errp);

/*
 * Opens the console named by spec (see above).  A "file:" console's file
 * is truncated unless append (the machine's later boots in one run, after
 * a guest reboot, add to what the earlier ones wrote, as QEMU's file
 * chardev keeps one file across resets).  run_end (borrowed; may be NULL) is
 * where Ctrl-A x sends RUN_END_QUIT; it must outlive the console.
 * "stdio" on a terminal puts the terminal in raw mode now.  Caller owns
 * (console_free).  Main thread.
 */
Console *console_open(const char *spec, bool append, RunEnd *run_end,
                      GError **errp);

/*
 * A "stdio" console over other descriptors: input from in_fd (-1: none),
 * output to out_fd (-1: discarded).  The fds are borrowed: the caller keeps
 * them open until console_free() and closes them after.  A terminal in_fd
 * gets raw mode and the escape keys, as stdin would.  For owners that
 * multiplex consoles, and for tests (a pipe, a pseudo-terminal).
 */
Console *console_open_fds(int in_fd, int out_fd, RunEnd *run_end,
                          GError **errp);

/*
 * Also serves the console on a unix stream socket at path (see above),
 * created mode 0600: a stale socket file there (its VM died) is replaced,
 * one that someone listens on is VMSPEC_ERROR_BUSY.  console_free()
 * closes the clients and removes the file.  Before console_start_input(),
 * at most once.  Main thread.
 */
bool console_serve(Console *c, const char *path, GError **errp);

/* Output bytes lost so far by socket clients whose buffer was full (0
 * without a socket).  Any thread. */
uint64_t console_dropped_output(Console *c);

/*
 * Turns t (a terminal's settings) into the console's raw mode: bytes as
 * typed, no echo, no line editing, no signal keys, 8-bit, output
 * processing untouched (see above).  Public so that `vmspec console`'s
 * terminal behaves as `vmspec run`'s.
 */
void console_termios_make_raw(struct termios *t);

/*
 * Starts delivering input to the callbacks; a no-op for consoles without
 * input or socket.  Call once, after the device is ready to receive.
 * With a socket the thread always starts: it also serves the clients
 * (console_write() sends to them on the caller's thread).  can_receive
 * may be called once on the calling thread, here; otherwise the callbacks
 * run on the console's thread until console_free() returns.  Main thread.
 */
bool console_start_input(Console *c, ConsoleCanReceiveFn can_receive,
                         ConsoleReceiveFn receive, void *opaque,
                         GError **errp);

/* Tells the input thread that the device has room again (after it said 0).
 * Cheap (one eventfd write); any thread, also with the device lock held. */
void console_accept_input(Console *c);

/*
 * Writes guest output; blocks until written (a full pipe slows the guest
 * down rather than losing bytes).  Write errors (a closed pipe, a full
 * disk) drop the bytes: the guest cannot be told.  Then copies it to the
 * socket clients, if any, without blocking.  Any thread.
 */
void console_write(Console *c, const uint8_t *buf, size_t len);

/* True if this console put a terminal in raw mode and has not restored it
 * yet.  Any thread. */
bool console_is_raw(Console *c);

/*
 * Puts the terminal back as it was before console_open().  Idempotent and
 * async-signal-safe (an atomic flag and tcsetattr(3)), so an owner may call
 * it from a signal handler or an atexit-style exit path as well as from its
 * normal one; console_free() calls it too.  NULL is fine.  Any thread.
 */
void console_restore_terminal(Console *c);

/* Stops and joins the input thread, restores the terminal, closes what the
 * console opened (the socket's clients and its file too).  NULL is fine.
 * Main thread, once no thread calls console_write(). */
void console_free(Console *c);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(Console, console_free)

#endif
