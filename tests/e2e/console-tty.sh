#!/usr/bin/env bash
# `vmspec run` on a terminal (a pseudo-terminal from Python's pty module):
# the console puts it in raw mode while the VM runs, Ctrl-A x stops the VM
# (exit 130, like SIGINT), SIGTERM stops it (exit 143), and the terminal
# is restored both ways.  The guest runs a shell on ttyS0 (rdinit=/bin/sh)
# so that it keeps running until we stop it.  Needs /dev/kvm and the test
# guest (build/guest/); skips without them.
set -u
cd "$(dirname "$0")/../.."
vmspec=${VMSPEC:-build/vmspec}
py=/usr/bin/python3
echo "1..2"
if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ] || [ ! -f build/guest/vmlinuz ] ||
   [ ! -x "$vmspec" ] || [ ! -x "$py" ]; then
    echo "ok 1 # SKIP needs /dev/kvm, $vmspec and build/guest/vmlinuz"
    echo "ok 2 # SKIP needs /dev/kvm, $vmspec and build/guest/vmlinuz"
    exit 0
fi
spec=examples/hello.yaml
n=0
for how in ctrl-a-x sigterm; do
    n=$((n + 1))
    want=130
    [ "$how" = sigterm ] && want=143
    out=$(timeout 60 "$py" - "$vmspec" "$spec" "$how" <<'PY'
import os, pty, select, signal, sys, termios, time
vmspec, spec, how = sys.argv[1:4]
pid, fd = pty.fork()
if pid == 0:
    os.execv(vmspec, [vmspec, "run", spec, "--set",
                      "boot.cmdline=console=ttyS0 rdinit=/bin/sh"])
def lflag():
    return termios.tcgetattr(fd)[3]
# Wait for the console to take the terminal (raw: no ICANON).
end = time.time() + 20
while time.time() < end and lflag() & termios.ICANON:
    time.sleep(0.02)
raw = not (lflag() & termios.ICANON)
time.sleep(0.5)
if how == "sigterm":
    os.kill(pid, signal.SIGTERM)
else:
    os.write(fd, b"\x01x")
status = None
end = time.time() + 20
while time.time() < end and status is None:
    if select.select([fd], [], [], 0.1)[0]:
        try:
            os.read(fd, 65536)
        except OSError:
            pass
    p, s = os.waitpid(pid, os.WNOHANG)
    if p:
        status = os.waitstatus_to_exitcode(s)
restored = bool(lflag() & termios.ICANON) and bool(lflag() & termios.ECHO)
print(f"raw={raw} status={status} restored={restored}")
PY
)
    if [ "$out" = "raw=True status=$want restored=True" ]; then
        echo "ok $n - $how: raw while running, exit $want, terminal restored"
    else
        echo "not ok $n - $how: got '$out', want raw, exit $want, restored"
    fi
done
