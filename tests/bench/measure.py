#!/usr/bin/python3
"""Runs one VMM command and measures it, for tests/bench/boot.sh.

  measure.py run --marker TEXT --ram-mib N -- CMD...
      Prints JSON: seconds from exec to the first output line holding TEXT
      (marker_s) and to the process's exit (exit_s), its exit status, and
      its resident memory apart from guest RAM (rss_kib, from
      /proc/PID/smaps when the marker appears: every mapping's Rss except
      the anonymous mappings at least as large as guest RAM).

  measure.py syscalls --marker TEXT -- CMD...
      Runs CMD under strace -f and prints JSON: the number of system calls
      made before the first KVM_RUN, and the seconds from execve to it.

  measure.py kvm-run -- CMD...
      The seconds from execve to the first KVM_RUN only (JSON), with strace
      stopping the processes at execve and ioctl alone (--seccomp-bpf), so
      that tracing costs little, also in the daemons CMD starts.
"""
import json
import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import time


def rss_apart_from_guest(pid, ram_kib):
    """Resident KiB of the process less its guest RAM.  Guest RAM is one
    anonymous mapping of at least ram_kib (QEMU), or a run of adjacent
    writable private mappings, anonymous or of files, of exactly ram_kib
    together (vmspec maps the kernel and initrd files over parts of it)."""
    try:
        with open(f"/proc/{pid}/smaps") as f:
            lines = f.read().splitlines()
    except OSError:
        return None

    vmas = []   # [start, end, anonymous, private_rw, size_kib, rss_kib]
    header = re.compile(r"^([0-9a-f]+)-([0-9a-f]+) ")
    for line in lines:
        m = header.match(line)
        if m:
            fields = line.split()
            vmas.append([int(m.group(1), 16), int(m.group(2), 16),
                         len(fields) < 6 or fields[5] in ("", "[heap]"),
                         fields[1].startswith("rw") and fields[1][3] == "p",
                         0, 0])
        elif vmas and line.startswith("Size:"):
            vmas[-1][4] = int(line.split()[1])
        elif vmas and line.startswith("Rss:"):
            vmas[-1][5] = int(line.split()[1])

    guest = set()
    for i, v in enumerate(vmas):
        if v[2] and v[4] >= ram_kib:
            guest.add(i)
            continue
        size, j = 0, i
        while (j < len(vmas) and vmas[j][3] and size < ram_kib and
               (j == i or vmas[j][0] == vmas[j - 1][1])):
            size += vmas[j][4]
            j += 1
        if size == ram_kib and any(vmas[k][2] for k in range(i, j)):
            guest.update(range(i, j))
    return sum(v[5] for i, v in enumerate(vmas) if i not in guest)


def run(marker, ram_mib, cmd, timeout=600):
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    buf = b""
    marker_s = rss = None
    deadline = start + timeout
    while True:
        if time.monotonic() > deadline:
            proc.kill()
            break
        r, _, _ = select.select([proc.stdout], [], [], 0.5)
        if not r:
            if proc.poll() is not None:
                break
            continue
        chunk = os.read(proc.stdout.fileno(), 65536)
        if not chunk:
            break
        buf += chunk
        if marker_s is None and marker.encode() in buf:
            marker_s = time.monotonic() - start
            rss = rss_apart_from_guest(proc.pid, ram_mib * 1024)
    rc = proc.wait()
    return {"marker_s": marker_s, "exit_s": time.monotonic() - start,
            "rc": rc, "rss_kib": rss}


def syscalls(marker, cmd, timeout=600, light=False):
    """Counts system calls up to the first KVM_RUN under strace -f, then
    kills the VMM: what comes after is the guest's business (and tracing a
    whole QEMU boot takes far too long).  light: only execve and ioctl are
    traced (the count is then of those)."""
    only = ["--seccomp-bpf", "-e", "trace=execve,ioctl"] if light else []
    with tempfile.TemporaryDirectory() as tmp:
        log = os.path.join(tmp, "strace")
        proc = subprocess.Popen(["strace", "-f", "-ttt", "-o", log] + only +
                                cmd,
                                stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL,
                                start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with open(log) as f:
                    if "KVM_RUN" in f.read():
                        break
            except OSError:
                pass
            time.sleep(0.2)
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
        count = 0
        first = kvm_run = None
        with open(log) as f:
            for line in f:
                parts = line.split(None, 2)
                if len(parts) < 3:
                    continue
                stamp, call = float(parts[1]), parts[2]
                if first is None:
                    first = stamp
                if "KVM_RUN" in call:
                    kvm_run = stamp
                    break
                # Resumptions, signals and exits are not new system calls.
                if call.startswith(("<...", "---", "+++")):
                    continue
                count += 1
    return {"syscalls": count, "to_kvm_run_s":
            (kvm_run - first) if kvm_run and first else None}


def main():
    mode = sys.argv[1]
    args = sys.argv[2:]
    sep = args.index("--")
    opts, cmd = args[:sep], args[sep + 1:]
    o = dict(zip(opts[::2], opts[1::2]))
    if mode == "run":
        result = run(o["--marker"], int(o["--ram-mib"]), cmd)
    elif mode == "kvm-run":
        result = syscalls(None, cmd, light=True)
    else:
        result = syscalls(o["--marker"], cmd)
    print(json.dumps(result))


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    main()
