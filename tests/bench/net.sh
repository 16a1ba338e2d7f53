#!/usr/bin/env bash
# Benchmark: TCP throughput through a tap, vmspec's virtio-net against QEMU
# microvm's virtio-net-device (userspace virtio, no vhost), in one run under
# real KVM (tests/kvm-sandbox when this host has none).  The test guest's
# `net` scenario receives MB MiB from the host (busybox nc, timed on the
# host) and sends MB MiB back (timed in the guest); both transfers are
# checked by SHA-256.  MB=${MB:-100}, 512 MiB, 1 vCPU, the same kernel,
# initrd and cmdline for both.  Needs root (a tap).
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
. tests/bench/lib.bash
bench_under_kvm || export VMSPEC_BENCH_MB=${MB:-100}    # VMSPEC_* reach the sandbox
bench_enter_kvm 3000 bash "$0" "$@"
export PATH=$PATH:/usr/sbin:/sbin

MB=${VMSPEC_BENCH_MB:-${MB:-100}}
G=$root/build/guest
TAP=vmtap0
HOST_IP=10.0.2.1
GUEST_IP=10.0.2.15
CMDLINE="console=ttyS0 quiet panic=-1 vmspec.scenario=net vmspec.net_mb=$MB"
tmp=$(mktemp -d)
# Data and FIFO in /dev/shm: the sandbox's /tmp is 9p (slow, no FIFOs).
shm=$(mktemp -d /dev/shm/vmspec-bench.XXXXXX)
nc_pid=
cleanup() {
    [ -n "$nc_pid" ] && kill "$nc_pid" 2>/dev/null
    ip link del "$TAP" 2>/dev/null
    rm -rf "$tmp" "$shm"
}
trap cleanup EXIT

[ "$(id -u)" -eq 0 ] || { echo "net benchmark: needs root (a tap)"; exit 1; }
ip link show "$TAP" >/dev/null 2>&1 && {
    echo "net benchmark: $TAP exists already"; exit 1; }
ip tuntap add "$TAP" mode tap
ip addr add "$HOST_IP/24" dev "$TAP"
ip link set "$TAP" up

cat >"$tmp/bench.yaml" <<SPEC
vmspec: 1
name: bench
machine: {type: microvm, cpus: 1, memory: 512M}
boot:
  kernel: $G/vmlinuz
  initrd: $G/initrd.cpio.gz
  cmdline: $CMDLINE
nics:
  - {id: net0, tap: $TAP}
console: stdio
SPEC
CMD_vmspec=("$root/build/vmspec" run "$tmp/bench.yaml")
CMD_qemu_microvm=(qemu-system-x86_64 -enable-kvm -M microvm -m 512 -smp 1
    -nodefaults -no-user-config -display none -serial stdio -no-reboot
    -kernel "$G/vmlinuz" -initrd "$G/initrd.cpio.gz" -append "$CMDLINE"
    -netdev "tap,id=n0,ifname=$TAP,script=no,downscript=no"
    -device virtio-net-device,netdev=n0)

head -c $((MB * 1024 * 1024)) /dev/urandom >"$shm/h2g"
h2g_sum=$(sha256sum <"$shm/h2g" | cut -d' ' -f1)
mkfifo "$shm/hold"

# wait_for FILE STRING SECS
wait_for() {
    local i
    for i in $(seq 1 $(($3 * 2))); do
        grep -qaF -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.5
    done
    return 1
}

# field FILE MARKER KEY: KEY=value on the guest's "VMSPEC: MARKER" line.
field() {
    grep -a "VMSPEC: $2" "$1" | tr -d '\r' | head -n 1 |
        sed -n "s/.* $3=\([^ ]*\).*/\1/p"
}

# run_one VMM: one boot, both transfers; appends "VMM h2g g2h" (MB/s).
run_one() {
    local vmm=$1 out=$tmp/$1.out start h2g_ms g2h_ms vm_pid got want
    rm -f "$shm/g2h"
    busybox nc -l -p 5002 <>"$shm/hold" >"$shm/g2h" &
    nc_pid=$!
    local -n cmd=CMD_${vmm//-/_}
    timeout -k 5 900 "${cmd[@]}" </dev/null >"$out" 2>&1 &
    vm_pid=$!
    wait_for "$out" "VMSPEC: net-listening" 300 || {
        echo "$vmm: the guest never listened"; tail -n 20 "$out"; return 1; }
    start=$(date +%s%N)
    busybox nc "$GUEST_IP" 5001 <"$shm/h2g"
    h2g_ms=$((($(date +%s%N) - start) / 1000000))
    wait_for "$out" "VMSPEC: tx-" 600 || {
        echo "$vmm: the guest never sent"; tail -n 20 "$out"; return 1; }
    wait "$vm_pid" || true
    wait "$nc_pid" 2>/dev/null || true
    nc_pid=
    got=$(field "$out" "rx bytes" sha256)
    [ "$got" = "$h2g_sum" ] || {
        echo "$vmm: host->guest corrupted"; grep -a VMSPEC "$out"; return 1; }
    want=$(field "$out" "tx bytes" sha256)
    got=$(sha256sum <"$shm/g2h" | cut -d' ' -f1)
    [ "$got" = "$want" ] || {
        echo "$vmm: guest->host corrupted"; grep -a VMSPEC "$out"; return 1; }
    g2h_ms=$(field "$out" tx-done ms)
    echo "$vmm $h2g_ms $g2h_ms" >>"$tmp/results"
    echo "$vmm: host->guest $h2g_ms ms, guest->host $g2h_ms ms" >&2
}

for vmm in vmspec qemu-microvm; do
    run_one "$vmm" || exit 1
done

/usr/bin/python3 - "$tmp/results" "$MB" <<'EOF'
import sys
mb = int(sys.argv[2])
r = {}
for line in open(sys.argv[1]):
    vmm, h2g, g2h = line.split()
    r[vmm] = (mb / (int(h2g) / 1000), mb / (int(g2h) / 1000))
print(f"net benchmark: {mb} MiB each way over a tap, TCP (busybox nc), "
      "1 vCPU")
print(f"{'':14} {'host->guest':>12} {'guest->host':>12}")
for vmm in ("vmspec", "qemu-microvm"):
    print(f"{vmm:14} {r[vmm][0]:8.1f} MB/s {r[vmm][1]:8.1f} MB/s")
v, q = r["vmspec"], r["qemu-microvm"]
print(f"{'ratio':14} {v[0] / q[0]:10.2f}x {v[1] / q[1]:10.2f}x")
EOF
