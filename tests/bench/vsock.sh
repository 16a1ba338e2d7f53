#!/usr/bin/env bash
# Benchmark: virtio-vsock served by vmspec in user space (Firecracker's
# hybrid-vsock protocol over unix sockets, no root) against QEMU 7.2
# `-M microvm -device vhost-vsock-device` (the kernel's vhost-vsock, which
# needs /dev/vhost-vsock), in one run under real KVM (tests/kvm-sandbox
# when this host has none).  The same kernel, initrd and cmdline, 1 vCPU,
# 512 MiB; the guest's `vsock-bench` scenario serves a sink, a source and
# an accept-and-close port, and the host (tests/bench/vsock-peer.py) times
# MIB=${MIB:-256} MiB each way and ${CONNECTS:-50} connects, best of
# N=${N:-2} runs.  Then, vmspec only (the guest's `sshd` scenario, with a
# vsock device and a user-mode forward to port 22): 20 `vmspec ssh NAME --
# true` through vsock against 20 through the forward.  Prints ratios.
# VMSPEC_BIN replaces build/vmspec.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
. tests/bench/lib.bash
bench_under_kvm || export VMSPEC_BENCH_MIB=${MIB:-256} \
    VMSPEC_BENCH_N=${N:-2} VMSPEC_BENCH_CONNECTS=${CONNECTS:-50}
bench_enter_kvm 3000 bash "$0" "$@"
export PATH=$PATH:/usr/sbin:/sbin

MIB=${VMSPEC_BENCH_MIB:-${MIB:-256}}
N=${VMSPEC_BENCH_N:-${N:-2}}
CONNECTS=${VMSPEC_BENCH_CONNECTS:-${CONNECTS:-50}}
SSH_RUNS=20
G=$root/build/guest
VMSPEC=${VMSPEC_BIN:-$root/build/vmspec}
PEER=(python3 "$root/tests/bench/vsock-peer.py")
tmp=$(mktemp -d /dev/shm/vmspec-bench.XXXXXX)
export VMSPEC_RUNTIME_DIR=$tmp/rt
vm_pid=
cleanup() {
    [ -n "$vm_pid" ] && kill -KILL "$vm_pid" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

# The kernel's vhost-vsock for QEMU: the sandbox runs the test guest's
# kernel, whose modules are in build/guest.
if [ ! -c /dev/vhost-vsock ]; then
    modprobe -d "$G/kernel" vhost_vsock 2>/dev/null ||
        modprobe vhost_vsock 2>/dev/null || true
fi
if [ ! -c /dev/vhost-vsock ]; then
    echo "vsock benchmark: no /dev/vhost-vsock for QEMU (modprobe vhost_vsock)"
    exit 1
fi

CMDLINE="console=ttyS0 quiet panic=-1 vmspec.scenario=vsock-bench vmspec.vb_mib=$MIB"
cat >"$tmp/bench-vsock.yaml" <<EOF
vmspec: 1
name: bench-vsock
machine: {type: microvm, cpus: 1, memory: 512M}
boot:
  kernel: $G/vmlinuz
  initrd: $G/initrd.cpio.gz
  cmdline: $CMDLINE
console: file:$tmp/vm.log
devices: [{type: virtio-vsock, cid: 3}]
EOF
QEMU=(qemu-system-x86_64 -enable-kvm -M microvm -m 512 -smp 1
    -nodefaults -no-user-config -display none -no-reboot
    -serial "file:$tmp/vm.log" -kernel "$G/vmlinuz" -initrd "$G/initrd.cpio.gz"
    -append "$CMDLINE" -device vhost-vsock-device,guest-cid=3)

wait_for() {   # FILE STRING SECS
    for _ in $(seq 1 $(($3 * 2))); do
        grep -qaF -- "$2" "$1" 2>/dev/null && return 0
        kill -0 "$vm_pid" 2>/dev/null || return 1
        sleep 0.5
    done
    return 1
}

# run VMM: boots, measures N times, prints "h2g g2h connect" (MB/s, MB/s,
# ms) of the best run of each.
run() {
    local vmm=$1 peer
    rm -f "$tmp/vm.log"
    if [ "$vmm" = vmspec ]; then
        "$VMSPEC" run "$tmp/bench-vsock.yaml" </dev/null >"$tmp/vmm.out" 2>&1 &
        peer=(--unix "$VMSPEC_RUNTIME_DIR/vmspec/bench-vsock.vsock")
    else
        "${QEMU[@]}" </dev/null >"$tmp/vmm.out" 2>&1 &
        peer=(--cid 3)
    fi
    vm_pid=$!
    if ! wait_for "$tmp/vm.log" "VMSPEC: vsock-bench-ready" 180; then
        echo "vsock benchmark: $vmm did not come up" >&2
        tail -n 20 "$tmp/vm.log" "$tmp/vmm.out" >&2
        exit 1
    fi
    "${PEER[@]}" "${peer[@]}" --mib "$MIB" --runs "$N" --connects "$CONNECTS"
    kill -TERM "$vm_pid" 2>/dev/null
    wait "$vm_pid" 2>/dev/null || true
    vm_pid=
}

echo "vsock: $MIB MiB each way, $CONNECTS connects, best of $N, 1 vCPU, 512 MiB"
# No process substitution: the sandbox has no /dev/fd.
res=$(run vmspec)
read -r v_h2g v_g2h v_conn <<<"$res"
res=$(run qemu)
read -r q_h2g q_g2h q_conn <<<"$res"
ratio() { awk "BEGIN { printf \"%.2f\", $1 / $2 }"; }
printf '%-30s %12s %12s %14s\n' "" "h2g MB/s" "g2h MB/s" "connect ms"
printf '%-30s %12s %12s %14s\n' "vmspec (user space)" "$v_h2g" "$v_g2h" "$v_conn"
printf '%-30s %12s %12s %14s\n' "QEMU microvm + vhost-vsock" "$q_h2g" "$q_g2h" "$q_conn"
printf '%-30s %12s %12s %14s\n' "ratio (vmspec/QEMU)" "$(ratio "$v_h2g" "$q_h2g")x" \
    "$(ratio "$v_g2h" "$q_g2h")x" "$(ratio "$v_conn" "$q_conn")x"

# vmspec ssh: through vsock against through the user-mode forward.
ssh-keygen -q -t ed25519 -N '' -f "$tmp/key"
fport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$tmp/bench-ssh.yaml" <<EOF
vmspec: 1
name: bench-ssh
machine: {type: microvm, cpus: 1, memory: 512M}
boot:
  kernel: $G/vmlinuz
  initrd: $G/initrd.cpio.gz
  cmdline: console=ttyS0 quiet panic=-1 vmspec.scenario=sshd vmspec.ssh_key=$(cut -d' ' -f2 "$tmp/key.pub")
console: file:$tmp/vm.log
devices: [{type: virtio-vsock}]
nics: [{id: net0, forward: ["tcp::$fport-:22"]}]
EOF
rm -f "$tmp/vm.log"
"$VMSPEC" run "$tmp/bench-ssh.yaml" </dev/null >"$tmp/vmm.out" 2>&1 &
vm_pid=$!
wait_for "$tmp/vm.log" "VMSPEC: sshd-ready" 180 || {
    echo "vsock benchmark: the sshd guest did not come up" >&2; exit 1; }
ssh_opts=(-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
    -o LogLevel=ERROR -i "$tmp/key" -l root)
time_runs() {   # CMD...: seconds for SSH_RUNS runs
    local start end
    start=$(date +%s.%N)
    for _ in $(seq "$SSH_RUNS"); do "$@" </dev/null >/dev/null; done
    end=$(date +%s.%N)
    awk "BEGIN { printf \"%.2f\", $end - $start }"
}
t_vsock=$(time_runs "$VMSPEC" ssh -i "$tmp/key" -l root bench-ssh -- true)
t_fwd=$(time_runs ssh "${ssh_opts[@]}" -p "$fport" 127.0.0.1 true)
echo
printf '%-34s %10s %12s\n' "$SSH_RUNS x ssh -- true" "total s" "per run ms"
printf '%-34s %10s %12s\n' "vmspec ssh (vsock)" "$t_vsock" \
    "$(awk "BEGIN { printf \"%.0f\", $t_vsock * 1000 / $SSH_RUNS }")"
printf '%-34s %10s %12s\n' "ssh through the user-mode forward" "$t_fwd" \
    "$(awk "BEGIN { printf \"%.0f\", $t_fwd * 1000 / $SSH_RUNS }")"
printf '%-34s %10s\n' "ratio (vsock/forward)" "$(ratio "$t_vsock" "$t_fwd")x"
