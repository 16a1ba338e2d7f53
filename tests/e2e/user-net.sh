#!/usr/bin/env bash
# End-to-end: user-mode NICs (libslirp, no tap), with vmspec run by an
# unprivileged user (uid/gid 65534 through setpriv when run as root, as in
# the KVM sandbox; the sandbox's /dev/kvm is opened to that group the way a
# host's udev opens it to group kvm).  Two boots of the test guest
# (scenario `user-net`):
#   main: one NIC with host_loopback: true and forwards.  The guest gets
#     10.0.2.15 (router 10.0.2.2, DNS 10.0.2.3) from DHCP (busybox udhcpc);
#     the host fetches a guest greeting through a TCP forward and has a
#     datagram echoed through a UDP one; the guest fetches a greeting from
#     a host service on 127.0.0.1 at 10.0.2.2; `vmspec forward NAME add`
#     opens a forward at run time and `remove` closes it (when that command
#     exists); MB MiB (VMSPEC_USERNET_MB, 100) each way arrive with the same
#     SHA-256: host -> guest through a forward, guest -> host to a host
#     service at 10.0.2.2; the guest powers off, vmspec exits 0.
#   isolated: net0 with host_loopback: false (10.0.2.2 refuses the guest),
#     net1 with restrict: true (the guest's connection to the same host
#     service is blocked; a forward to the guest still works).
# Without a boot: a forward whose host port is taken fails `vmspec run`
# with exit 1, naming the address; two specs in one `vmspec up` directory
# forwarding the same host port are refused before anything starts.
# VMSPEC_BIN replaces build/vmspec; VMSPEC_USERNET_KEEP=DIR keeps the
# consoles and messages there.
. "$(dirname "$0")/lib.sh"
guest_ensure || { echo "1..1"; tap_fail "test guest builds"; exit 0; }
e2e_need_kvm "$@"

export PATH=$PATH:/usr/sbin:/sbin
VMSPEC=${VMSPEC_BIN:-$E2E_ROOT/build/vmspec}
MB=${VMSPEC_USERNET_MB:-100}
PY=/usr/bin/python3
# Host ports on 127.0.0.1: forwards to the guest's h2g sink (TCP 5001), its
# greetings (TCP 5003, 5004 added at run time, 5005 on the isolated boot)
# and UDP echo (53); the host's greeting and g2h sink services; two ports
# for the conflict checks.
P_H2G=15001 P_G3=15003 P_G4=15004 P_G5=15005 P_UDP=15053
P_GREET=15010 P_SINK=15011 P_BUSY=15020 P_DUP=15021
TESTS=14

skip_all() {
    tap_plan $TESTS
    for _ in $(seq 1 $TESTS); do
        tap_skip "user-mode networking" "$1"
    done
    exit 0
}

command -v setpriv >/dev/null || skip_all "no setpriv(1)"
[ -x "$PY" ] || skip_all "no $PY"
[ -x "$VMSPEC" ] || skip_all "no $VMSPEC"

# Everything the unprivileged user reads or writes, in /dev/shm: the
# sandbox's /tmp is 9p (slow, no unix sockets or FIFOs).
shm=$(mktemp -d /dev/shm/vmspec-usernet.XXXXXX) || skip_all "no /dev/shm"
chmod 0755 "$shm"
mkdir -p "$shm/run" "$shm/cache" "$shm/home"

pids=()
vm_pid=
e2e_cleanup() {
    local p
    [ -n "$vm_pid" ] && kill -KILL "$vm_pid" 2>/dev/null
    for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
    wait 2>/dev/null
    if [ -n "${VMSPEC_USERNET_KEEP:-}" ]; then
        mkdir -p "$VMSPEC_USERNET_KEEP"
        cp -r "$E2E_TMP"/. "$VMSPEC_USERNET_KEEP"/
        cp "$shm"/*.yaml "$shm"/*.log "$VMSPEC_USERNET_KEEP"/ 2>/dev/null
    fi
    rm -rf "$shm"
}

# "${AS_USER[@]}" CMD...: CMD as the unprivileged user, with its own
# runtime directory (control sockets), boot cache and home.  Not root: as
# we are.
AS_USER=(env HOME="$shm/home" XDG_RUNTIME_DIR="$shm/run"
         VMSPEC_RUNTIME_DIR="$shm/run" VMSPEC_CACHE_DIR="$shm/cache")
if [ "$(id -u)" -eq 0 ]; then
    chown 65534:65534 "$shm/run" "$shm/cache" "$shm/home"
    chmod 0700 "$shm/run"
    groups=--clear-groups
    if [ "$(stat -c %A /dev/kvm 2>/dev/null | cut -c5-6)" = rw ]; then
        groups=--groups=$(stat -c %g /dev/kvm)
    elif [ "${VMSPEC_SANDBOX:-}" = inside ]; then
        # The emulated machine's own devtmpfs (0600 root:root): give it
        # to the test user's group, as udev gives a host's to group kvm.
        chgrp 65534 /dev/kvm && chmod 0660 /dev/kvm
    fi
    AS_USER=(setpriv --reuid=65534 --regid=65534 "$groups" "${AS_USER[@]}")
fi
"${AS_USER[@]}" sh -c 'exec 3<>/dev/kvm' 2>/dev/null ||
    skip_all "the unprivileged user cannot open /dev/kvm"
"${AS_USER[@]}" test -r "$E2E_GUEST/initrd.cpio.gz" ||
    skip_all "the unprivileged user cannot read $E2E_GUEST"
vmspec() { "${AS_USER[@]}" "$VMSPEC" "$@"; }

has_forward=
"$VMSPEC" --help 2>&1 | grep -q '^ *forward ' && has_forward=1

# The host's side, in Python: services on 127.0.0.1 and the clients of
# the forwards.  Each prints one line.
cat >"$shm/un.py" <<'PY'
import hashlib, os, socket, sys, time
cmd, port = sys.argv[1], int(sys.argv[2])
arg = sys.argv[3] if len(sys.argv) > 3 else None

def listen(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(8)
    return s

def ready():
    open(arg + ".ready", "w").close()

def fetch(port):
    """What a connection to 127.0.0.1:port yields until EOF."""
    c = socket.create_connection(("127.0.0.1", port), timeout=30)
    data = b""
    while True:
        b = c.recv(65536)
        if not b:
            return data
        data += b

if cmd == "greet":          # each connection: counted in ARG, greeted
    s = listen(port)
    ready()
    while True:
        c, _ = s.accept()
        with open(arg, "a") as f:
            f.write("connection\n")
        c.sendall(b"hello from the host\n")
        c.close()
elif cmd == "hold":         # holds the port
    s = listen(port)
    ready()
    time.sleep(3600)
elif cmd == "sink":         # one connection: "bytes sha256" into ARG
    s = listen(port)
    ready()
    c, _ = s.accept()
    h, n = hashlib.sha256(), 0
    while True:
        b = c.recv(1 << 20)
        if not b:
            break
        h.update(b)
        n += len(b)
    c.close()
    with open(arg + ".tmp", "w") as f:
        f.write(f"{n} {h.hexdigest()}\n")
    os.rename(arg + ".tmp", arg)
elif cmd == "get":          # the first non-empty answer of 5 tries
    # slirp accepts at once and resets when the guest is not listening.
    for _ in range(5):
        try:
            data = fetch(port)
            if data:
                print(data.decode(errors="replace").strip())
                break
        except OSError:
            pass
        time.sleep(1)
    else:
        print("nothing")
elif cmd == "put":          # sends file ARG, waits for the peer's close
    c = socket.create_connection(("127.0.0.1", port), timeout=120)
    start = time.monotonic()
    with open(arg, "rb") as f:
        c.sendfile(f)
    c.shutdown(socket.SHUT_WR)
    while c.recv(65536):
        pass
    print(int((time.monotonic() - start) * 1000))
elif cmd == "udp":          # ARG in a datagram, the answer (5 tries)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    for _ in range(5):
        s.sendto(arg.encode(), ("127.0.0.1", port))
        try:
            print(s.recv(2048).decode(errors="replace"))
            break
        except socket.timeout:
            pass
    else:
        print("nothing")
elif cmd == "probe":        # "refused" or "open"
    try:
        socket.create_connection(("127.0.0.1", port), timeout=10).close()
        print("open")
    except ConnectionRefusedError:
        print("refused")
PY

# bg CMD... FILE: a host service in the background, once it listens
# (it makes FILE.ready then).
bg() {
    local ready=${*: -1}.ready
    "$@" &
    pids+=($!)
    for _ in $(seq 1 50); do
        [ -e "$ready" ] && return 0
        sleep 0.1
    done
    return 1
}

# phase WHAT: when, on stderr (the sandbox is slow; where did time go).
phase() { echo "user-net: ${SECONDS}s: $*" >&2; }

check() {
    local desc=$1
    shift
    if [ $# -eq 0 ]; then
        tap_ok "$desc"
    else
        tap_fail "$desc" "$@"
    fi
}

# spec FILE NAME MEMORY CMDLINE-EXTRA NICS-YAML...
spec() {
    local file=$1 name=$2 mem=$3 extra=$4 line
    shift 4
    {
        echo "vmspec: 1"
        echo "name: $name"
        echo "machine: {type: microvm, cpus: 1, memory: $mem}"
        echo "boot:"
        echo "  kernel: $E2E_GUEST/vmlinuz"
        echo "  initrd: $E2E_GUEST/initrd.cpio.gz"
        echo "  cmdline: console=ttyS0 quiet panic=-1 $extra"
        echo "nics:"
        for line in "$@"; do echo "$line"; done
        echo "console: stdio"
    } >"$file"
    chmod 0644 "$file"
}

# vm_tail NAME: the last lines of a boot's console and messages.
vm_tail() {
    tail -n 15 "$E2E_TMP/$1.out" | tr -d '\r'
    tail -n 5 "$E2E_TMP/$1.err"
}

tap_plan $TESTS

phase "the checks without a boot"
# 1-2. Without a boot: a taken host port; two specs wanting one port.
bg $PY "$shm/un.py" hold $P_BUSY "$shm/busy"
spec "$shm/busy.yaml" busy 128M "vmspec.scenario=poweroff" \
    "  - {id: net0, forward: [\"tcp::$P_BUSY-:22\"]}"
run_capture busy 120 "${AS_USER[@]}" "$VMSPEC" run "$shm/busy.yaml"
if [ "$(cat "$E2E_TMP/busy.rc")" = 1 ] &&
   grep -q "127.0.0.1:$P_BUSY" "$E2E_TMP/busy.err" &&
   ! grep -qa 'VMSPEC: booted' "$E2E_TMP/busy.out"; then
    check "a forward's host port in use: exit 1 before boot, naming 127.0.0.1:$P_BUSY"
else
    check "a forward's host port in use: exit 1, naming the address" \
        "exit $(cat "$E2E_TMP/busy.rc")" "$(vm_tail busy)"
fi
mkdir -m 0755 "$shm/dup"
for n in dup1 dup2; do
    spec "$shm/dup/$n.yaml" $n 128M "vmspec.scenario=poweroff" \
        "  - {id: net0, forward: [\"tcp:127.0.0.1:$P_DUP-:22\"]}"
done
run_capture dup 60 "${AS_USER[@]}" "$VMSPEC" up --log-dir "$shm/home/dup-logs" "$shm/dup"
if [ "$(cat "$E2E_TMP/dup.rc")" = 1 ] &&
   ! ls "$shm/home/dup-logs"/*.log >/dev/null 2>&1 &&
   grep -q "host port tcp:$P_DUP" "$E2E_TMP/dup.err"; then
    check "up: two specs forwarding one host port are refused before anything starts"
else
    check "up: two specs forwarding one host port are refused" \
        "exit $(cat "$E2E_TMP/dup.rc")" "$(cat "$E2E_TMP/dup.out")" \
        "$(cat "$E2E_TMP/dup.err")" "$(ls "$shm/home/dup-logs" 2>&1)"
fi

phase "the main boot"
# The main boot.
head -c $((MB * 1024 * 1024)) /dev/urandom >"$shm/h2g"
h2g_sum=$(sha256sum <"$shm/h2g" | cut -d' ' -f1)
touch "$shm/greet.log"
bg $PY "$shm/un.py" greet $P_GREET "$shm/greet.log"
bg $PY "$shm/un.py" sink $P_SINK "$shm/g2h"
rt=0
[ -n "$has_forward" ] && rt=1
spec "$shm/usernet.yaml" usernet $((MB + 256))M \
    "vmspec.scenario=user-net vmspec.un=main vmspec.un_mb=$MB vmspec.un_rt=$rt vmspec.un_host=$P_GREET vmspec.un_sink=$P_SINK" \
    "  - id: net0" \
    "    forward: [\"tcp::$P_H2G-:5001\", \"tcp:127.0.0.1:$P_G3-10.0.2.15:5003\", \"udp::$P_UDP-:53\"]" \
    "    host_loopback: true"
out=$E2E_TMP/main.out
timeout -k 5 400 "${AS_USER[@]}" "$VMSPEC" run "$shm/usernet.yaml" \
    </dev/null >"$out" 2>"$E2E_TMP/main.err" &
vm_pid=$!

# 3. DHCP
wait_for "$out" "VMSPEC: un-dhcp eth0" 240
got="ip=$(marker "$out" "un-dhcp eth0" ip) router=$(marker "$out" "un-dhcp eth0" router)"
got+=" dns=$(marker "$out" "un-dhcp eth0" dns)"
if [ "$got" = "ip=10.0.2.15 router=10.0.2.2 dns=10.0.2.3" ]; then
    check "DHCP gives the guest 10.0.2.15, router 10.0.2.2, DNS 10.0.2.3"
else
    check "DHCP gives the guest 10.0.2.15" "got: $got" "$(vm_tail main)"
fi

phase "forwards"
# 4-5. forwards to the guest: TCP, UDP
wait_for "$out" "VMSPEC: un-ready" 60
got=$($PY "$shm/un.py" get $P_G3)
if [ "$got" = "hello from the guest on 5003" ]; then
    check "a TCP forward reaches a guest service (127.0.0.1:$P_G3 -> :5003)"
else
    check "a TCP forward reaches a guest service" "got: '$got'" \
        "$(vm_tail main)"
fi
got=$($PY "$shm/un.py" udp $P_UDP "ping over udp")
if [ "$got" = "echo:ping over udp" ]; then
    check "a UDP forward reaches a guest service and back (:$P_UDP -> :53)"
else
    check "a UDP forward reaches a guest service and back" "got: '$got'"
fi

# 6. host_loopback: 10.0.2.2 is the host's 127.0.0.1
wait_for "$out" "VMSPEC: un-loopback" 60
got=$(marker "$out" un-loopback got)
if [ "$got" = hello_from_the_host ] && [ -s "$shm/greet.log" ]; then
    check "host_loopback: the guest reaches a service on the host's 127.0.0.1 at 10.0.2.2"
else
    check "host_loopback: the guest reaches the host's 127.0.0.1" \
        "$(grep -a 'VMSPEC: un-loopback' "$out")" \
        "host connections: $(wc -l <"$shm/greet.log")"
fi

# 7-8. vmspec forward add/remove
rule=tcp:127.0.0.1:$P_G4-10.0.2.15:5004
if [ -z "$has_forward" ]; then
    tap_skip "vmspec forward add opens a forward at run time" \
        "TODO: no 'vmspec forward' in this build"
    tap_skip "vmspec forward remove closes it" \
        "TODO: no 'vmspec forward' in this build"
else
    vmspec forward usernet add "$rule" >"$E2E_TMP/fadd.out" 2>&1
    add_rc=$?
    vmspec forward usernet list >"$E2E_TMP/flist.out" 2>&1
    got=$($PY "$shm/un.py" get $P_G4)
    if [ $add_rc -eq 0 ] && grep -qF "$rule" "$E2E_TMP/flist.out" &&
       [ "$got" = "hello from the guest on 5004" ]; then
        check "vmspec forward add opens a forward at run time ($rule)"
    else
        check "vmspec forward add opens a forward at run time" \
            "add: exit $add_rc $(cat "$E2E_TMP/fadd.out")" \
            "list: $(cat "$E2E_TMP/flist.out")" "got: '$got'"
    fi
    vmspec forward usernet remove "$rule" >"$E2E_TMP/frm.out" 2>&1
    rm_rc=$?
    vmspec forward usernet list >"$E2E_TMP/flist2.out" 2>&1
    got=$($PY "$shm/un.py" probe $P_G4)
    if [ $rm_rc -eq 0 ] && [ "$got" = refused ] &&
       ! grep -qF "$rule" "$E2E_TMP/flist2.out"; then
        check "vmspec forward remove closes it (host port refused)"
    else
        check "vmspec forward remove closes it" \
            "remove: exit $rm_rc $(cat "$E2E_TMP/frm.out")" \
            "list: $(cat "$E2E_TMP/flist2.out")" "probe: $got"
    fi
fi

phase "host -> guest"
# 9. host -> guest through a forward
h2g_ms=$($PY "$shm/un.py" put $P_H2G "$shm/h2g" 2>&1)
wait_for "$out" "VMSPEC: un-h2g" 120
got=$(marker "$out" un-h2g sha256)
if [ "$got" = "$h2g_sum" ]; then
    check "$MB MiB host -> guest through a forward arrive intact ($h2g_ms ms)"
else
    check "$MB MiB host -> guest through a forward arrive intact" \
        "sent $h2g_sum, got '$got'" "put: $h2g_ms" "$(vm_tail main)"
fi

phase "guest -> host"
# 10. guest -> host service at 10.0.2.2
wait_for "$out" "VMSPEC: un-g2h" 300
for _ in $(seq 1 20); do
    [ -e "$shm/g2h" ] && break
    sleep 0.5
done
want=$(marker "$out" un-g2h sha256)
read -r g2h_bytes g2h_sum <"$shm/g2h" 2>/dev/null
if [ "$(marker "$out" un-g2h rc)" = 0 ] && [ -n "$want" ] &&
   [ "$want" = "${g2h_sum:-}" ] &&
   [ "${g2h_bytes:-}" = $((MB * 1024 * 1024)) ]; then
    check "$MB MiB guest -> host (10.0.2.2) arrive intact ($(marker "$out" un-g2h ms) ms)"
else
    check "$MB MiB guest -> host (10.0.2.2) arrive intact" \
        "guest sent '$want', host got ${g2h_bytes:-?} bytes ${g2h_sum:-?}" \
        "$(grep -a 'VMSPEC: un-g2h' "$out")"
fi

phase "exit"
# 11. exit
wait_for "$out" "VMSPEC: un-done" 150
wait "$vm_pid"
rc=$?
vm_pid=
if [ $rc -eq 0 ] && grep -qa "VMSPEC: un-done" "$out"; then
    check "the guest powers off, vmspec (uid $("${AS_USER[@]}" id -u)) exits 0"
else
    check "the guest powers off, vmspec exits 0" "exit status $rc" \
        "$(vm_tail main)"
fi

phase "the isolated boot"
# 12-14. The isolated boot: no host loopback on net0; restrict on net1.
: >"$shm/greet.log"
spec "$shm/isolated.yaml" isolated 128M \
    "vmspec.scenario=user-net vmspec.un=isolated vmspec.un_host=$P_GREET" \
    "  - {id: net0, host_loopback: false}" \
    "  - id: net1" \
    "    restrict: true" \
    "    host_loopback: true" \
    "    forward: [\"tcp::$P_G5-:5005\"]"
out=$E2E_TMP/iso.out
timeout -k 5 300 "${AS_USER[@]}" "$VMSPEC" run "$shm/isolated.yaml" \
    </dev/null >"$out" 2>"$E2E_TMP/iso.err" &
vm_pid=$!
wait_for "$out" "VMSPEC: un-noloopback" 240
if [ "$(marker "$out" "un-dhcp eth0" ip)" = 10.0.2.15 ] &&
   [ "$(marker "$out" un-noloopback rc)" != 0 ] &&
   [ "$(marker "$out" un-noloopback got)" != hello_from_the_host ] &&
   [ ! -s "$shm/greet.log" ]; then
    check "host_loopback: false: 10.0.2.2 refuses the guest ($(marker "$out" un-noloopback got | tr _ ' '))"
else
    check "host_loopback: false: 10.0.2.2 refuses the guest" \
        "$(grep -a 'VMSPEC: un-' "$out")" \
        "host connections: $(wc -l <"$shm/greet.log")"
fi
wait_for "$out" "VMSPEC: un-isolated-ready" 120
if [ "$(marker "$out" "un-dhcp eth1" ip)" = 10.0.2.15 ] &&
   [ "$(marker "$out" un-restricted rc)" != 0 ] &&
   [ "$(marker "$out" un-restricted got)" != hello_from_the_host ] &&
   [ ! -s "$shm/greet.log" ]; then
    check "restrict: true blocks the guest's connection out, host_loopback or not ($(marker "$out" un-restricted got | tr _ ' '))"
else
    check "restrict: true blocks the guest's connections out" \
        "$(grep -a 'VMSPEC: un-' "$out")" \
        "host connections: $(wc -l <"$shm/greet.log")"
fi
got=$($PY "$shm/un.py" get $P_G5)
wait_for "$out" "VMSPEC: un-done" 60
wait "$vm_pid"
rc=$?
vm_pid=
if [ "$got" = "hello from the isolated guest" ] && [ $rc -eq 0 ]; then
    check "restrict: true: a forward still reaches the guest; exit 0"
else
    check "restrict: true: a forward still reaches the guest; exit 0" \
        "got: '$got', exit $rc" "$(vm_tail iso)"
fi
phase "done"
