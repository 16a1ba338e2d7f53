/*
 * udp-echo PORT: the test guest's UDP service (busybox has no UDP server
 * applet: its nc has no -u).  Answers every datagram that reaches
 * 0.0.0.0:PORT with "echo:" and the datagram, to the sender's address and
 * port, until killed.  tests/guest/build links it into the initramfs as
 * /bin/udp-echo.
 *
 * No libc (-nostdlib -ffreestanding): a static glibc program would add
 * 300 KiB to the gzip'd initramfs every test boot unpacks; this is a page.
 * Raw system calls for x86_64 and aarch64, the guest's architectures.
 */
#include <asm/unistd.h>
#include <linux/in.h>
#include <linux/socket.h>

#include "syscall.h"

#define AF_INET 2       /* linux/socket.h: AF_INET = PF_INET */
#define SOCK_DGRAM 2

static void say(const char *s)
{
    long n = 0;

    while (s[n]) {
        n++;
    }
    sys6(__NR_write, 2, (long)s, n, 0, 0, 0);
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
    struct sockaddr_in addr = { .sin_family = AF_INET };
    char **argv = (char **)(sp + 1);
    static char buf[2048] = "echo:";
    long fd, port = 0;
    const char *p;

    for (p = sp[0] == 2 ? argv[1] : ""; *p >= '0' && *p <= '9'; p++) {
        port = port * 10 + (*p - '0');
    }
    if (*p || port < 1 || port > 65535) {
        say("usage: udp-echo PORT\n");
        sys6(__NR_exit_group, 2, 0, 0, 0, 0, 0);
    }
    addr.sin_port = __builtin_bswap16((unsigned short)port);
    fd = sys6(__NR_socket, AF_INET, SOCK_DGRAM, 0, 0, 0, 0);
    if (fd < 0 || sys6(__NR_bind, fd, (long)&addr, sizeof(addr), 0, 0, 0)) {
        say("udp-echo: cannot bind the port\n");
        sys6(__NR_exit_group, 1, 0, 0, 0, 0, 0);
    }
    for (;;) {
        struct sockaddr_in peer;
        int len = sizeof(peer);
        long n = sys6(__NR_recvfrom, fd, (long)(buf + 5), sizeof(buf) - 5, 0,
                      (long)&peer, (long)&len);

        if (n >= 0) {
            sys6(__NR_sendto, fd, (long)buf, n + 5, 0, (long)&peer, len);
        }
    }
}
