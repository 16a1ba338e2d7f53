/*
 * The console's socket server: the listening unix socket behind
 * console_serve() and the clients attached to it (`vmspec console NAME`).
 * Private to the console backend (console.c drives it from its input
 * thread and its console_write()); console.h describes what clients see.
 *
 * Threads: console_server_new() and _free() run on the main thread while
 * no other thread uses the server; console_server_pollfds() and
 * console_server_dispatch() on the console's input thread only, which
 * alone accepts and closes clients; console_server_write() on any thread
 * (vCPUs), concurrently with the input thread: a mutex guards the client
 * descriptors it sends on, and an atomic client count keeps it to one load
 * while nobody is attached.
 */
#ifndef VMSPEC_BACKEND_CONSOLE_SOCKET_H
#define VMSPEC_BACKEND_CONSOLE_SOCKET_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <glib.h>

#include "machine/backend/console.h"

typedef struct ConsoleServer ConsoleServer;

/* The pollfds console_server_pollfds() fills: the listening socket, then
 * one per client slot (fd -1 where the slot is free). */
#define CONSOLE_SERVER_POLLFDS (1 + CONSOLE_MAX_CLIENTS)

/* Binds and listens on path (mode 0600); a stale socket file there is
 * replaced, a live one is VMSPEC_ERROR_BUSY. */
ConsoleServer *console_server_new(const char *path, GError **errp);

/* Closes every client and the listening socket and removes the socket
 * file.  NULL is fine. */
void console_server_free(ConsoleServer *s);

/* Copies guest output to every client without blocking: a client whose
 * socket buffer is full loses what does not fit (counted). */
void console_server_write(ConsoleServer *s, const uint8_t *buf, size_t len);

/* Output bytes lost so far to clients that did not keep up. */
uint64_t console_server_dropped(ConsoleServer *s);

/*
 * Fills fds[0..CONSOLE_SERVER_POLLFDS) for the input thread's poll().
 * read_holder: whether the device can take input now; when false the
 * input holder is left unread (backpressure), and only its hangup is
 * watched.  Read-only clients are always read (their bytes are dropped).
 */
void console_server_pollfds(ConsoleServer *s, struct pollfd *fds,
                            bool read_holder);

/*
 * Handles what poll() reported on those fds: reads the clients (the input
 * holder's bytes into buf, at most max; the others' are dropped), closes
 * the ones that hung up, accepts new ones.  input_elsewhere: the console's
 * own input (a terminal) holds the input, so a new client is read-only.
 * Returns how many bytes it put in buf.
 */
size_t console_server_dispatch(ConsoleServer *s, const struct pollfd *fds,
                               bool input_elsewhere, uint8_t *buf,
                               size_t max);

#endif
