/*
 * vsock-cat: the test guest's AF_VSOCK stream tool (busybox has no vsock
 * support in nc or socat).
 *
 *   vsock-cat connect CID PORT
 *       connects to CID:PORT (2 is the host, VMADDR_CID_HOST) and relays
 *       stdin -> socket and socket -> stdout until both directions end:
 *       EOF on stdin half-closes the socket (shutdown(SHUT_WR)), EOF on the
 *       socket ends the writing to stdout.  A failed connect prints
 *       "vsock-cat: connect CID:PORT: ENAME" on stderr and exits 1.
 *   vsock-cat listen PORT
 *       accepts one connection on PORT (any CID), relays the same way.
 *   vsock-cat listen -k [-u] PORT CMD [ARGS...]
 *       accepts connections on PORT forever; each one runs CMD (an absolute
 *       path) in a child, the connection its stdin and stdout (stderr is
 *       ours), environment PATH and HOME only: an inetd.  -u: CMD gets one
 *       end of an AF_UNIX socketpair instead, a child relaying between it
 *       and the connection, for programs that want a peer address libc
 *       can name: `dropbear -i` (2022.83) exits with "Failed lookup"
 *       where getnameinfo(3) knows no AF_VSOCK.
 *
 * Exit status: 0 when the relay ended with EOFs, 1 when a read or write
 * failed (said on stderr) or the socket could not be set up, 2 for usage.
 *
 * No libc (-nostdlib -ffreestanding, like udp-echo.c, which says why).
 * Raw system calls for x86_64 and aarch64: aarch64 has only the newer
 * calls (ppoll, dup3, clone, accept4), so both use those.
 */
#include <stddef.h>
#include <asm/unistd.h>
#include <linux/poll.h>
#include <linux/sched.h>
#include <linux/signal.h>

#include "syscall.h"

#define SYS(n, a, b, c) sys6(n, (long)(a), (long)(b), (long)(c), 0, 0, 0)

/* linux/socket.h and linux/vm_sockets.h need libc types; the values are
 * the kernel ABI's (include/linux/socket.h, uapi/linux/vm_sockets.h). */
#define AF_UNIX 1
#define AF_VSOCK 40
#define SOCK_STREAM 1
#define SOCK_CLOEXEC 02000000
#define SHUT_WR 1
#define VMADDR_CID_ANY 0xffffffffU
#define EINTR 4
#define EAGAIN 11

struct sockaddr_vm {
    unsigned short svm_family;
    unsigned short svm_reserved1;
    unsigned int svm_port;
    unsigned int svm_cid;
    unsigned char svm_flags;
    unsigned char svm_zero[3];
};

/* The kernel's struct sigaction (not glibc's): handler, flags, restorer,
 * mask.  Only SIG_IGN and SIG_DFL are set, so no restorer is needed. */
struct ksigaction {
    void *handler;
    unsigned long flags;
    void *restorer;
    unsigned long mask;
};

/* -ffreestanding: GCC may still emit calls to memset for struct inits. */
void *memset(void *d, int c, size_t n)
{
    volatile unsigned char *p = d;

    while (n--) {
        *p++ = (unsigned char)c;
    }
    return d;
}

static __attribute__((noreturn)) void quit(int status)
{
    for (;;) {
        SYS(__NR_exit_group, status, 0, 0);
    }
}

static int streq(const char *a, const char *b)
{
    while (*a && *a == *b) {
        a++, b++;
    }
    return *a == *b;
}

/* write_all FD BUF N: 0, or the -errno of the write that failed. */
static long write_all(int fd, const char *buf, long n)
{
    while (n > 0) {
        long w = SYS(__NR_write, fd, buf, n);

        if (w == -EINTR || w == -EAGAIN) {
            continue;
        }
        if (w < 0) {
            return w;
        }
        buf += w;
        n -= w;
    }
    return 0;
}

static const char *errname(long e)
{
    static const struct { int e; const char *name; } t[] = {
        { 1, "EPERM" }, { 2, "ENOENT" }, { 4, "EINTR" }, { 9, "EBADF" },
        { 11, "EAGAIN" }, { 12, "ENOMEM" }, { 13, "EACCES" }, { 14, "EFAULT" },
        { 19, "ENODEV" }, { 22, "EINVAL" }, { 32, "EPIPE" },
        { 97, "EAFNOSUPPORT" }, { 98, "EADDRINUSE" },
        { 99, "EADDRNOTAVAIL" }, { 101, "ENETUNREACH" },
        { 104, "ECONNRESET" }, { 107, "ENOTCONN" }, { 110, "ETIMEDOUT" },
        { 111, "ECONNREFUSED" }, { 113, "EHOSTUNREACH" },
    };
    unsigned i;

    for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        if (t[i].e == e) {
            return t[i].name;
        }
    }
    return NULL;
}

/* say ERR A B C D: "vsock-cat: ABCD: ENAME\n" on stderr in one write; the
 * errno's number when it has no name here, nothing after ABCD for ERR 0.
 * NULL parts are empty. */
static void say(long err, const char *a, const char *b, const char *c,
                const char *d)
{
    char line[256], num[24];
    const char *parts[7] = { "vsock-cat: ", a, b, c, d, NULL, NULL };
    long n = 0, i;

    if (err) {
        const char *name = errname(-err);
        unsigned long v = (unsigned long)-err;

        if (!name) {
            i = sizeof(num) - 1;
            num[i] = 0;
            do {
                num[--i] = (char)('0' + v % 10);
                v /= 10;
            } while (v);
            name = num + i;
        }
        parts[5] = ": ";
        parts[6] = name;
    }
    for (i = 0; i < 7; i++) {
        const char *p = parts[i];

        while (p && *p && n < (long)sizeof(line) - 1) {
            line[n++] = *p++;
        }
    }
    line[n++] = '\n';
    write_all(2, line, n);
}

static __attribute__((noreturn)) void usage(void)
{
    say(0, "usage: vsock-cat connect CID PORT | listen PORT | "
           "listen -k [-u] PORT CMD [ARGS...]", NULL, NULL, NULL);
    quit(2);
}

/* parse_u32 S: a decimal 0..2^32-1; exits through usage() when bad. */
static unsigned parse_u32(const char *s)
{
    unsigned long long v = 0;

    if (!s || !*s) {
        usage();
    }
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || (v = v * 10 + (*s - '0')) > 0xffffffffULL) {
            usage();
        }
    }
    return (unsigned)v;
}

static void set_signal(int sig, void *handler, unsigned long flags)
{
    struct ksigaction sa = { .handler = handler, .flags = flags };

    sys6(__NR_rt_sigaction, sig, (long)&sa, 0, sizeof(sa.mask), 0, 0);
}

/*
 * relay IN OUT S: IN -> S and S -> OUT, each until it ends: EOF on IN
 * sends the peer EOF through shutdown(SHUT_WR), EOF (or an error) on S
 * ends OUT's side (and passes the EOF on, if OUT is a socket); done when
 * both sides are.  Blocking writes: a peer that only writes while we wait
 * to write to it stalls both (as nc does).  Returns the exit status.
 */
static int relay(int in, int out, int s)
{
    static char buf[64 << 10];
    int in_open = 1, out_open = 1, status = 0;

    while (in_open || out_open) {
        struct pollfd p[2] = {
            { .fd = in_open ? in : -1, .events = POLLIN },
            { .fd = out_open ? s : -1, .events = POLLIN },
        };
        long n = sys6(__NR_ppoll, (long)p, 2, 0, 0, 0, 0), err;

        if (n == -EINTR) {
            continue;
        }
        if (n < 0) {
            say(n, "poll", NULL, NULL, NULL);
            return 1;
        }
        if (p[0].revents) {
            n = SYS(__NR_read, in, buf, sizeof(buf));
            if (n > 0) {
                if ((err = write_all(s, buf, n)) < 0) {
                    say(err, "write to the socket", NULL, NULL, NULL);
                    status = 1;
                    in_open = 0;
                }
            } else if (n != -EINTR && n != -EAGAIN) {
                if (n < 0) {
                    say(n, "read stdin", NULL, NULL, NULL);
                    status = 1;
                }
                in_open = 0;
                SYS(__NR_shutdown, s, SHUT_WR, 0);
            }
        }
        if (p[1].revents) {
            n = SYS(__NR_read, s, buf, sizeof(buf));
            if (n > 0) {
                if ((err = write_all(out, buf, n)) < 0) {
                    say(err, "write stdout", NULL, NULL, NULL);
                    status = 1;
                    out_open = 0;
                }
            } else if (n != -EINTR && n != -EAGAIN) {
                if (n < 0) {
                    say(n, "read the socket", NULL, NULL, NULL);
                    status = 1;
                }
                out_open = 0;
                SYS(__NR_shutdown, out, SHUT_WR, 0);    /* ENOTSOCK: fine */
            }
        }
    }
    return status;
}

static int vsock_socket(void)
{
    long s = SYS(__NR_socket, AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (s < 0) {
        say(s, "socket(AF_VSOCK)", NULL, NULL, NULL);
        quit(1);
    }
    return (int)s;
}

static __attribute__((noreturn)) void do_connect(char *cid, char *port)
{
    struct sockaddr_vm a = {
        .svm_family = AF_VSOCK,
        .svm_cid = parse_u32(cid),
        .svm_port = parse_u32(port),
    };
    int s = vsock_socket();
    long r;

    do {
        r = SYS(__NR_connect, s, &a, sizeof(a));
    } while (r == -EINTR);
    if (r < 0) {
        say(r, "connect ", cid, ":", port);
        quit(1);
    }
    quit(relay(0, 1, s));
}

/* listen_on PORT: a listening vsock socket on PORT, any CID. */
static int listen_on(unsigned port)
{
    struct sockaddr_vm a = {
        .svm_family = AF_VSOCK,
        .svm_cid = VMADDR_CID_ANY,
        .svm_port = port,
    };
    int s = vsock_socket();
    long r = SYS(__NR_bind, s, &a, sizeof(a));

    if (r < 0 || (r = SYS(__NR_listen, s, 16, 0)) < 0) {
        say(r, "bind/listen", NULL, NULL, NULL);
        quit(1);
    }
    return s;
}

static long accept_one(int s)
{
    long c;

    do {
        c = sys6(__NR_accept4, s, 0, 0, SOCK_CLOEXEC, 0, 0);
    } while (c == -EINTR);
    return c;
}

static char *envp[] = { "PATH=/bin:/sbin:/usr/bin:/usr/sbin", "HOME=/root",
                        NULL };

/* run_cmd FD ARGV: execs ARGV with FD as stdin and stdout. */
static __attribute__((noreturn)) void run_cmd(long fd, char **argv)
{
    long r;

    /* dup3 clears close-on-exec on the copies; the originals close. */
    if (SYS(__NR_dup3, fd, 0, 0) < 0 || SYS(__NR_dup3, fd, 1, 0) < 0) {
        quit(1);
    }
    r = SYS(__NR_execve, argv[0], argv, envp);
    say(r, "execve ", argv[0], NULL, NULL);
    quit(127);
}

/* via_unix C ARGV: runs ARGV on one end of an AF_UNIX socketpair and
 * relays between the other end and connection C; waits for ARGV. */
static __attribute__((noreturn)) void via_unix(long c, char **argv)
{
    int sp[2];
    long r = sys6(__NR_socketpair, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
                  (long)sp, 0, 0), pid;

    if (r < 0) {
        say(r, "socketpair", NULL, NULL, NULL);
        quit(1);
    }
    pid = sys6(__NR_clone, SIGCHLD, 0, 0, 0, 0, 0);
    if (pid == 0) {
        run_cmd(sp[1], argv);
    }
    if (pid < 0) {
        say(pid, "fork", NULL, NULL, NULL);
        quit(1);
    }
    SYS(__NR_close, sp[1], 0, 0);
    r = relay(sp[0], sp[0], (int)c);
    sys6(__NR_wait4, pid, 0, 0, 0, 0, 0);
    quit((int)r);
}

/* serve PORT UNIX ARGV: the inetd mode.  Children are reaped by the
 * kernel (SIGCHLD ignored with SA_NOCLDWAIT); the child restores the
 * default dispositions first, as ignored signals would stay ignored across
 * execve(2) and break a CMD that waits for its own children.  With UNIX,
 * CMD gets an AF_UNIX socket instead of the vsock connection (-u). */
static __attribute__((noreturn)) void serve(unsigned port, int unix_pair,
                                            char **argv)
{
    int s = listen_on(port);

    set_signal(SIGCHLD, SIG_IGN, SA_NOCLDWAIT);
    for (;;) {
        long c = accept_one(s), pid;

        if (c < 0) {
            say(c, "accept", NULL, NULL, NULL);
            continue;
        }
        pid = sys6(__NR_clone, SIGCHLD, 0, 0, 0, 0, 0);
        if (pid == 0) {
            set_signal(SIGCHLD, SIG_DFL, 0);
            if (unix_pair) {
                SYS(__NR_close, s, 0, 0);
                via_unix(c, argv);      /* keeps SIGPIPE ignored itself */
            }
            set_signal(SIGPIPE, SIG_DFL, 0);
            run_cmd(c, argv);
        }
        if (pid < 0) {
            say(pid, "fork", NULL, NULL, NULL);
        }
        SYS(__NR_close, c, 0, 0);
    }
}

/* The entry point: the stack holds argc, then argv. */
#if defined(__x86_64__)
__asm__(".globl _start\n_start:\n"
        "  xor %ebp, %ebp\n  mov %rsp, %rdi\n  and $-16, %rsp\n"
        "  call start_c\n  hlt\n");
#else
__asm__(".globl _start\n_start:\n  mov x0, sp\n  bl start_c\n");
#endif

__attribute__((used, noreturn)) void start_c(long *sp)
{
    long argc = sp[0];
    char **argv = (char **)(sp + 1);
    const char *mode = argc > 1 ? argv[1] : "";

    /* A peer that goes away must be an EPIPE, not the end of us. */
    set_signal(SIGPIPE, SIG_IGN, 0);
    if (streq(mode, "connect") && argc == 4) {
        do_connect(argv[2], argv[3]);
    }
    if (streq(mode, "listen") && argc == 3) {
        int s = listen_on(parse_u32(argv[2]));
        long c = accept_one(s);

        if (c < 0) {
            say(c, "accept", NULL, NULL, NULL);
            quit(1);
        }
        SYS(__NR_close, s, 0, 0);
        quit(relay(0, 1, (int)c));
    }
    if (streq(mode, "listen") && argc >= 5 && streq(argv[2], "-k")) {
        int u = streq(argv[3], "-u");

        if (argc >= 5 + u && argv[4 + u][0] == '/') {
            serve(parse_u32(argv[3 + u]), u, argv + 4 + u);
        }
    }
    usage();
}
