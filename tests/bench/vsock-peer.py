#!/usr/bin/env python3
"""The host's side of tests/bench/vsock.sh: times the guest's vsock-bench
ports (tests/guest/scenarios/vsock-bench) through either VMM's host end.

--unix PATH   vmspec's hybrid vsock: a unix socket where "CONNECT PORT\\n"
              gets "OK HOSTPORT\\n" and then the stream (Firecracker's
              protocol)
--cid CID     the kernel's vhost-vsock: AF_VSOCK to the guest's CID

Prints one line, "H2G G2H CONNECT": MB/s host -> guest (MIB MiB into the
sink, until it answers "done"), MB/s guest -> host (the source's MIB MiB
to end of file), and the median connect-and-close time in ms, each the
best of --runs.
"""
import argparse
import socket
import statistics
import time

SINK, SOURCE, ACCEPT = 5100, 5101, 5102
CHUNK = 256 * 1024


def opener(args):
    if args.cid is not None:
        def vsock(port):
            s = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
            s.connect((args.cid, port))
            return s
        return vsock

    def hybrid(port):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(args.unix)
        s.sendall(b"CONNECT %d\n" % port)
        line = b""
        while not line.endswith(b"\n"):
            b = s.recv(1)
            if not b:
                raise ConnectionRefusedError("port %d refused" % port)
            line += b
        if not line.startswith(b"OK "):
            raise ConnectionRefusedError(line.decode(errors="replace"))
        return s
    return hybrid


def h2g(connect, mib):
    data = bytes(CHUNK)
    total = mib << 20
    start = time.monotonic()
    s = connect(SINK)
    sent = 0
    while sent < total:
        s.sendall(data)
        sent += len(data)
    s.shutdown(socket.SHUT_WR)
    reply = s.recv(64)
    end = time.monotonic()
    s.close()
    assert reply.startswith(b"done"), reply
    return total / (end - start) / 1e6


def g2h(connect, mib):
    start = time.monotonic()
    s = connect(SOURCE)
    got = 0
    while True:
        b = s.recv(CHUNK)
        if not b:
            break
        got += len(b)
    end = time.monotonic()
    s.close()
    assert got == mib << 20, got
    return got / (end - start) / 1e6


def connect_ms(connect, n):
    times = []
    for _ in range(n):
        start = time.monotonic()
        s = connect(ACCEPT)
        s.recv(1)          # the guest closes at once
        times.append((time.monotonic() - start) * 1000)
        s.close()
    return statistics.median(times)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--unix")
    p.add_argument("--cid", type=int)
    p.add_argument("--mib", type=int, default=256)
    p.add_argument("--runs", type=int, default=2)
    p.add_argument("--connects", type=int, default=50)
    args = p.parse_args()
    connect = opener(args)
    best_h2g = max(h2g(connect, args.mib) for _ in range(args.runs))
    best_g2h = max(g2h(connect, args.mib) for _ in range(args.runs))
    best_conn = min(connect_ms(connect, args.connects)
                    for _ in range(args.runs))
    print("%.1f %.1f %.2f" % (best_h2g, best_g2h, best_conn))


if __name__ == "__main__":
    main()
