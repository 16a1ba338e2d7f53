#!/usr/bin/env bash
# Benchmark: TCP through vmspec's virtio-net against QEMU microvm's
# virtio-net-device (userspace virtio, no vhost), in one run under real KVM
# (tests/kvm-sandbox when this host has none).  MB=${MB:-100}, 512 MiB,
# 1 vCPU, the same kernel, initrd and cmdline for both.  NET=tap, user or
# all (the default: both, tap only as root).
#   tap: through a tap (needs root).  The test guest's `net` scenario
#     receives MB MiB from the host (busybox nc, timed on the host) and
#     sends MB MiB back (timed in the guest).
#   user: user-mode networking, vmspec's NIC without a tap against QEMU's
#     -netdev user (the same libslirp), no root.  The `user-net-bench`
#     scenario gets its address by DHCP, receives MB MiB through a host
#     forward (timed on the host), sends MB MiB to the host's 127.0.0.1
#     at 10.0.2.2 (timed in the guest), then the host times 100 TCP
#     connects through a forward, each answered by the guest ("ok").
# Every transfer is checked by SHA-256.  VMSPEC_BIN replaces build/vmspec.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
. tests/bench/lib.bash
# VMSPEC_* reach the sandbox.
bench_under_kvm || export VMSPEC_BENCH_MB=${MB:-100} \
    VMSPEC_BENCH_NET=${NET:-all}
bench_enter_kvm 3000 bash "$0" "$@"
export PATH=$PATH:/usr/sbin:/sbin

MB=${VMSPEC_BENCH_MB:-${MB:-100}}
NET=${VMSPEC_BENCH_NET:-${NET:-all}}
CONNECTS=100
G=$root/build/guest
TAP=vmtap0
HOST_IP=10.0.2.1
GUEST_IP=10.0.2.15
# user mode: host ports of the forwards to the guest's TCP 5001 (rx) and
# 5003 (connects); the host's g2h listener (the guest's 10.0.2.2:5002).
P_RX=15001 P_CONN=15003 P_G2H=5002
tmp=$(mktemp -d)
# Data and FIFO in /dev/shm: the sandbox's /tmp is 9p (slow, no FIFOs).
shm=$(mktemp -d /dev/shm/vmspec-bench.XXXXXX)
nc_pid=
vm_pid=
tap_made=
cleanup() {
    [ -n "$nc_pid" ] && kill "$nc_pid" 2>/dev/null
    [ -n "$vm_pid" ] && kill -KILL "$vm_pid" 2>/dev/null
    [ -n "$tap_made" ] && ip link del "$TAP" 2>/dev/null
    rm -rf "$tmp" "$shm"
}
trap cleanup EXIT

case $NET in
    tap|user) modes=$NET ;;
    all) modes="tap user" ;;
    *) echo "net benchmark: NET must be tap, user or all"; exit 2 ;;
esac
if [ "$(id -u)" -ne 0 ]; then
    case $NET in
        tap) echo "net benchmark: needs root (a tap)"; exit 1 ;;
        all) echo "net benchmark: not root, so no tap part" >&2
             modes=user ;;
    esac
fi
if [[ $modes == *tap* ]]; then
    ip link show "$TAP" >/dev/null 2>&1 && {
        echo "net benchmark: $TAP exists already"; exit 1; }
    ip tuntap add "$TAP" mode tap
    tap_made=1
    ip addr add "$HOST_IP/24" dev "$TAP"
    ip link set "$TAP" up
fi

# The guest's commands, for either mode.
CMDLINE_tap="console=ttyS0 quiet panic=-1 vmspec.scenario=net vmspec.net_mb=$MB"
CMDLINE_user="console=ttyS0 quiet panic=-1 vmspec.scenario=user-net-bench"
CMDLINE_user+=" vmspec.net_mb=$MB"
for mode in tap user; do
    cmdline=CMDLINE_$mode
    {
        echo "vmspec: 1"
        echo "name: bench-$mode"
        echo "machine: {type: microvm, cpus: 1, memory: 512M}"
        echo "boot:"
        echo "  kernel: $G/vmlinuz"
        echo "  initrd: $G/initrd.cpio.gz"
        echo "  cmdline: ${!cmdline}"
        echo "nics:"
        if [ $mode = tap ]; then
            echo "  - {id: net0, tap: $TAP}"
        else
            echo "  - id: net0"
            echo "    forward: [\"tcp::$P_RX-:5001\", \"tcp::$P_CONN-:5003\"]"
            echo "    host_loopback: true"
        fi
        echo "console: stdio"
    } >"$tmp/bench-$mode.yaml"
done
VMSPEC=${VMSPEC_BIN:-$root/build/vmspec}
CMD_tap_vmspec=("$VMSPEC" run "$tmp/bench-tap.yaml")
CMD_user_vmspec=("$VMSPEC" run "$tmp/bench-user.yaml")
QEMU=(qemu-system-x86_64 -enable-kvm -M microvm -m 512 -smp 1
    -nodefaults -no-user-config -display none -serial stdio -no-reboot
    -kernel "$G/vmlinuz" -initrd "$G/initrd.cpio.gz")
CMD_tap_qemu_microvm=("${QEMU[@]}" -append "$CMDLINE_tap"
    -netdev "tap,id=n0,ifname=$TAP,script=no,downscript=no"
    -device virtio-net-device,netdev=n0)
# QEMU's hostfwd binds every address when the host address is left out;
# vmspec's binds 127.0.0.1: spelled out here, the same for both.
hostfwd=hostfwd=tcp:127.0.0.1:$P_RX-:5001,hostfwd=tcp:127.0.0.1:$P_CONN-:5003
CMD_user_qemu_microvm=("${QEMU[@]}" -append "$CMDLINE_user"
    -netdev "user,id=n0,$hostfwd" -device virtio-net-device,netdev=n0)

head -c $((MB * 1024 * 1024)) /dev/urandom >"$shm/h2g"
h2g_sum=$(sha256sum <"$shm/h2g" | cut -d' ' -f1)
mkfifo "$shm/hold"

# wait_for FILE STRING SECS: until FILE has STRING (or the VM ended).
wait_for() {
    for _ in $(seq 1 $(($3 * 2))); do
        grep -qaF -- "$2" "$1" 2>/dev/null && return 0
        kill -0 "$vm_pid" 2>/dev/null || { grep -qaF -- "$2" "$1"; return; }
        sleep 0.5
    done
    return 1
}

# connects PORT N: ms for N connections to 127.0.0.1:PORT, each read to
# the guest's close; fails unless every one says "ok".
connects() {
    /usr/bin/python3 - "$1" "$2" <<'PY'
import socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
start = time.monotonic()
for i in range(n):
    c = socket.create_connection(("127.0.0.1", port), timeout=30)
    data = b""
    while True:
        b = c.recv(64)
        if not b:
            break
        data += b
    c.close()
    if data != b"ok\n":
        sys.exit(f"connection {i + 1}: got {data!r}")
print(int((time.monotonic() - start) * 1000))
PY
}

# run_one MODE VMM: one boot, both transfers (and the connects, user
# mode); appends "MODE VMM h2g_ms g2h_ms [connects_ms]".
run_one() {
    local mode=$1 vmm=$2 out=$tmp/$1-$2.out start h2g_ms g2h_ms conn_ms=
    local got want p=
    [ "$mode" = user ] && p=unb-
    rm -f "$shm/g2h"
    busybox nc -l -p $P_G2H <>"$shm/hold" >"$shm/g2h" &
    nc_pid=$!
    local -n cmd=CMD_${mode}_${vmm//-/_}
    timeout -k 5 900 "${cmd[@]}" </dev/null >"$out" 2>&1 &
    vm_pid=$!
    if [ "$mode" = tap ]; then
        wait_for "$out" "VMSPEC: net-listening" 300
    else
        wait_for "$out" "VMSPEC: unb-listening" 300
    fi || {
        echo "$mode $vmm: the guest never listened"; tail -n 20 "$out"
        return 1; }
    start=$(date +%s%N)
    if [ "$mode" = tap ]; then
        busybox nc "$GUEST_IP" 5001 <"$shm/h2g"
    else
        busybox nc 127.0.0.1 $P_RX <"$shm/h2g"
    fi
    h2g_ms=$((($(date +%s%N) - start) / 1000000))
    wait_for "$out" "VMSPEC: ${p}tx-" 600 || {
        echo "$mode $vmm: the guest never sent"; tail -n 20 "$out"; return 1; }
    if [ "$mode" = user ]; then
        wait_for "$out" "VMSPEC: unb-serving" 60 &&
            conn_ms=$(connects $P_CONN $CONNECTS) || {
            echo "$mode $vmm: the connects failed"; tail -n 20 "$out"
            return 1; }
        kill "$vm_pid"
    fi
    wait "$vm_pid" || true
    vm_pid=
    wait "$nc_pid" 2>/dev/null || true
    nc_pid=
    got=$(bench_field "$out" "${p}rx bytes" sha256)
    [ "$got" = "$h2g_sum" ] || {
        echo "$mode $vmm: host->guest corrupted"; grep -a VMSPEC "$out"
        return 1; }
    want=$(bench_field "$out" "${p}tx bytes" sha256)
    got=$(sha256sum <"$shm/g2h" | cut -d' ' -f1)
    [ "$got" = "$want" ] || {
        echo "$mode $vmm: guest->host corrupted"; grep -a VMSPEC "$out"
        return 1; }
    g2h_ms=$(bench_field "$out" "${p}tx-done" ms)
    echo "$mode $vmm $h2g_ms $g2h_ms $conn_ms" >>"$tmp/results"
    echo "$mode $vmm: host->guest $h2g_ms ms, guest->host $g2h_ms ms" \
        "${conn_ms:+, $CONNECTS connects $conn_ms ms}" >&2
}

for mode in $modes; do
    for vmm in vmspec qemu-microvm; do
        run_one "$mode" "$vmm" || exit 1
    done
done

/usr/bin/python3 - "$tmp/results" "$MB" "$CONNECTS" <<'EOF'
import sys
mb, n = int(sys.argv[2]), int(sys.argv[3])
r = {}
for line in open(sys.argv[1]):
    mode, vmm, h2g, g2h, *conn = line.split()
    r.setdefault(mode, {})[vmm] = (mb / (int(h2g) / 1000),
                                   mb / (int(g2h) / 1000),
                                   int(conn[0]) if conn else None)
what = {"tap": "over a tap",
        "user": "user-mode (libslirp): in through a forward, out to 10.0.2.2"}
for mode in ("tap", "user"):
    if mode not in r:
        continue
    m, conn = r[mode], mode == "user"
    print(f"net benchmark ({mode}): {mb} MiB each way {what[mode]}, "
          "TCP (busybox nc), 1 vCPU")
    print(f"{'':14} {'host->guest':>12} {'guest->host':>12}" +
          (f" {str(n) + ' connects':>13}" if conn else ""))
    for vmm in ("vmspec", "qemu-microvm"):
        print(f"{vmm:14} {m[vmm][0]:8.1f} MB/s {m[vmm][1]:8.1f} MB/s" +
              (f" {m[vmm][2]:10d} ms" if conn else ""))
    v, q = m["vmspec"], m["qemu-microvm"]
    # Throughput vmspec/QEMU, connect time QEMU/vmspec: above 1 is vmspec
    # ahead either way.
    print(f"{'ratio':14} {v[0] / q[0]:10.2f}x {v[1] / q[1]:10.2f}x" +
          (f" {q[2] / v[2]:12.2f}x" if conn else ""))
EOF
