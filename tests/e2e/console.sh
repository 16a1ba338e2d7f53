#!/usr/bin/env bash
# End-to-end: `vmspec console NAME` on a VM that `vmspec run` runs in the
# background as `vmspec up` runs its VMs (console to a file, stdin
# /dev/null), its guest a shell on ttyS0 (the shell scenario).  Clients
# run on pseudo-terminals (Python's pty module): the first gets the input
# (a typed command runs in the guest), a second at the same time is
# read-only (it sees the output, its keys never reach the guest), Ctrl-A d
# detaches with exit 0 while the VM runs on, the next client gets the
# input, `vmspec console NAME </dev/null` follows the output, a VM that is
# not running is exit 1, and `vmspec stop` ends the attached clients with
# exit 0.  VMSPEC_BIN points it at another build.
. "$(dirname "$0")/lib.sh"
guest_ensure || { echo "1..1"; tap_fail "test guest builds"; exit 0; }
e2e_need_kvm "$@"

VMSPEC=${VMSPEC_BIN:-$E2E_ROOT/build/vmspec}
# Sockets need a local filesystem (the sandbox's host files are on 9p).
export VMSPEC_RUNTIME_DIR
VMSPEC_RUNTIME_DIR=$(mktemp -d /dev/shm/vmspec-e2e.XXXXXX)
vm_pid=
e2e_cleanup() {
    if [ -n "$vm_pid" ] && kill -0 "$vm_pid" 2>/dev/null; then
        kill -9 "$vm_pid" 2>/dev/null
    fi
    rm -rf "$VMSPEC_RUNTIME_DIR"
}

tap_plan 7
name=con
log=$E2E_TMP/$name.log
spec=$E2E_TMP/$name.yaml
guest_spec_head "$name" "vmspec.scenario=shell" >"$spec"
"$VMSPEC" run --set "console=file:$log" "$spec" </dev/null \
    >"$E2E_TMP/run.out" 2>"$E2E_TMP/run.err" &
vm_pid=$!
if ! wait_for "$log" "VMSPEC: shell" 120; then
    for _ in 1 2 3 4 5 6 7; do
        tap_fail "the guest's shell starts" \
            "$(tail -n 15 "$log" | tr -d '\r')" "$(cat "$E2E_TMP/run.err")"
    done
    exit 0
fi

# The clients, one Python process; it prints one "PASS|description" or
# "FAIL|description|note" line per test, in order.
timeout -k 5 300 /usr/bin/python3 - "$VMSPEC" "$name" "$log" \
    >"$E2E_TMP/py.out" 2>"$E2E_TMP/py.err" <<'PY'
import os, pty, select, subprocess, sys, termios, time
vmspec, name, log = sys.argv[1:4]
clients = []
results = {}

class Client:
    """`vmspec console NAME` on a pseudo-terminal of its own."""
    def __init__(self):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.execv(vmspec, [vmspec, "console", name])
        self.out = b""
        self.status = None
        clients.append(self)

    def type(self, data):
        os.write(self.fd, data)

    def wait_for(self, text, secs):
        end = time.time() + secs
        while time.time() < end and text not in self.out:
            pump(0.1)
        return text in self.out

    def wait_exit(self, secs):
        end = time.time() + secs
        while time.time() < end and self.status is None:
            pump(0.1)
        return self.status

    def raw(self):
        return not (termios.tcgetattr(self.fd)[3] & termios.ICANON)

    def tail(self):
        return self.out[-600:].decode(errors="replace").replace("\r", "")

class Follower:
    """`vmspec console NAME </dev/null >FILE`: no terminal."""
    def __init__(self):
        self.p = subprocess.Popen([vmspec, "console", name],
                                  stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)
        os.set_blocking(self.p.stdout.fileno(), False)
        self.out = b""

def read_into(c):
    """One read of c's terminal; False at its end (EIO once c exited)."""
    try:
        data = os.read(c.fd, 65536)
    except OSError:
        return False
    c.out += data
    return bool(data)

def pump(secs):
    """Reads every client's output for up to secs; reaps the ones that
    exited (their output read to the end first)."""
    fds = [c.fd for c in clients if c.status is None]
    if follower:
        fds.append(follower.p.stdout.fileno())
    ready = select.select(fds, [], [], secs)[0] if fds else []
    for c in clients:
        if c.status is not None:
            continue
        if c.fd in ready:
            read_into(c)
        p, s = os.waitpid(c.pid, os.WNOHANG)
        if p:
            c.status = os.waitstatus_to_exitcode(s)
            os.set_blocking(c.fd, False)
            while read_into(c):
                pass
    if follower and follower.p.stdout.fileno() in ready:
        try:
            follower.out += follower.p.stdout.read() or b""
        except (BlockingIOError, ValueError):
            pass

def result(n, ok, desc, note=""):
    results[n] = (ok, desc, note)

def log_text():
    with open(log, "rb") as f:
        return f.read()

def vm_running():
    ps = subprocess.run([vmspec, "ps"], capture_output=True, text=True,
                        timeout=30).stdout
    return any(l.split()[:1] == [name] and "running" in l
               for l in ps.splitlines())

follower = None
connected = f"Connected to {name}'s console (Ctrl-A d detaches)".encode()
try:
    # 1. The first client gets the input.
    a = Client()
    ok = a.wait_for(b"Ctrl-A d detaches)", 20) and connected in a.out
    raw = ok and a.raw()
    if ok:
        a.type(b"echo hi-$((6*7))\r")
        ok = a.wait_for(b"hi-42", 60)
    result(1, ok and raw and b"hi-42" in log_text(),
           "the first client gets the input: a typed command runs in the "
           "guest, its output reaches the client and the log",
           f"raw={raw} output: {a.tail()}")

    # 2. A second client at the same time is read-only.
    b = Client()
    ok = b.wait_for(b"read-only", 20)
    b.type(b"echo ro-$((1+1))\r")
    time.sleep(1)
    a.type(b"echo done-$((2+3))\r")
    ok = a.wait_for(b"done-5", 60) and b.wait_for(b"done-5", 20) and ok
    leaked = b"ro-2" in a.out + b.out + log_text()
    result(2, ok and not leaked,
           "a second client is read-only: it sees the output, its keys "
           "never reach the guest",
           f"leaked={leaked} second client: {b.tail()}")

    # The follower attaches now (read-only) and is checked at the end.
    follower = Follower()

    # 3. Ctrl-A d detaches; the VM runs on.
    a.type(b"\x01d")
    status = a.wait_exit(20)
    restored = not a.raw()
    running = vm_running()
    result(3, status == 0 and restored and running and
           f"Detached from {name}'s console".encode() in a.out,
           "Ctrl-A d detaches: exit 0, terminal restored, the VM runs on",
           f"status={status} restored={restored} running={running} "
           f"output: {a.tail()}")

    # 4. The next client to attach gets the input.
    c = Client()
    ok = c.wait_for(b"Ctrl-A d detaches)", 20) and connected in c.out
    if ok:
        c.type(b"echo again-$((3*3))\r")
        ok = c.wait_for(b"again-9", 60) and b.wait_for(b"again-9", 20)
    result(4, ok, "after a detach the next client gets the input (the "
           "read-only one stays read-only and sees it)",
           f"output: {c.tail()}")

    # 5. A VM that is not running.
    nope = subprocess.run([vmspec, "console", "nosuch"], capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=30)
    result(5, nope.returncode == 1 and
           nope.stderr == "vmspec: no VM named nosuch is running\n",
           "a VM that is not running: exit 1 and a message",
           f"rc={nope.returncode} stderr={nope.stderr!r}")

    # 6, 7. Stopping the VM ends every client with exit 0.
    stop = subprocess.run([vmspec, "stop", name], capture_output=True,
                          text=True, timeout=90)
    closed = f"{name}'s console closed".encode()
    sb, sc = b.wait_exit(30), c.wait_exit(30)
    result(6, stop.returncode == 0 and sb == 0 and sc == 0 and
           closed in b.out and closed in c.out and not c.raw(),
           "vmspec stop while clients are attached: they exit 0, terminal "
           "restored, and say the console closed",
           f"stop={stop.returncode} {stop.stderr!r} status={sb},{sc} "
           f"output: {c.tail()}")
    try:
        fs = follower.p.wait(timeout=30)
    except subprocess.TimeoutExpired:
        fs = None
    pump(0.1)
    rest, err = follower.p.communicate(timeout=5) if fs is not None \
        else (b"", b"")
    follower.out += rest or b""
    result(7, fs == 0 and b"again-9" in follower.out and
           b"hi-42" not in follower.out,
           "vmspec console NAME </dev/null follows the output from when it "
           "attached until the VM stops, exit 0",
           f"status={fs} stderr={err!r} output: "
           f"{follower.out[-300:].decode(errors='replace')}")
except Exception as e:
    import traceback
    traceback.print_exc()
    results.setdefault(len(results) + 1, (False, "the clients run", repr(e)))
finally:
    for c in clients:
        if c.status is None:
            os.kill(c.pid, 9)
    if follower and follower.p.poll() is None:
        follower.p.kill()
    for n in range(1, 8):
        ok, desc, note = results.get(n, (False, f"test {n}", "not reached"))
        print(f"{'PASS' if ok else 'FAIL'}|{desc}|{note}".replace("\n",
                                                                  "\\n"))
PY
got=0
while IFS='|' read -r verdict desc note; do
    got=$((got + 1))
    if [ "$verdict" = PASS ]; then
        tap_ok "$desc"
    else
        tap_fail "$desc" "$note"
    fi
done <"$E2E_TMP/py.out"
for _ in $(seq $((got + 1)) 7); do
    tap_fail "the client script reports" "$(tail -n 20 "$E2E_TMP/py.err")"
done
if [ "$got" -lt 7 ] || grep -q '^FAIL' "$E2E_TMP/py.out"; then
    echo "# vmspec run's stderr:"
    sed 's/^/#   /' "$E2E_TMP/run.err"
    echo "# the console log's last lines:"
    tail -n 20 "$log" | tr -d '\r' | sed 's/^/#   /'
fi
# The VM was stopped in order: exit 143.
if kill -0 "$vm_pid" 2>/dev/null; then
    sleep 5
fi
wait "$vm_pid" 2>/dev/null
echo "# vmspec run exited $?"
